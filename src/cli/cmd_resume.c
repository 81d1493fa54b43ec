/* SPDX-License-Identifier: Apache-2.0 */
/* cli/cmd_resume.c: `slipway resume ENV/STAGE`: the RESUME deploy action (envState of the stage). */
#include <errno.h>
#include <stdio.h>

#include "cmd.h"
#include "deploy.h"
#include "banned.h"

static const char usage[] = "usage: slipway resume ENV/STAGE [--description TEXT] [--json]\n"
			    "\n"
			    "Let a paused ENV/STAGE continue its deploy.\n"
			    "  --description T   recorded in the stage's history\n";

int cmd_resume(struct cli *c, int argc, char **argv)
{
	struct deploy_args a;
	json_t *deploy = NULL;
	int r;

	r = deploy_args_parse(c, "resume", DEPLOY_OPT_DESCRIPTION, usage, argc, argv, &a);
	if (r != 0)
		return r > 0 ? 0 : r;
	r = deploy_action(c, &a, "RESUME", NULL, &deploy);
	if (r < 0)
		return r;
	if (c->json)
		r = cli_print_json(c, deploy ? deploy : json_null());
	else
		fprintf(c->out, "%s/%s %s\n", a.env, a.stage, "resumed");
	json_decref(deploy);
	return r;
}
