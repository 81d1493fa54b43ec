/* SPDX-License-Identifier: Apache-2.0 */
/* cli/cmd_promote.c: `slipway promote ENV/STAGE --from STAGE [--wait]`: a PROMOTE action whose
 * fromDeployId is the current deploy of the source stage of the same env. */
#include <errno.h>
#include <stdio.h>

#include "cmd.h"
#include "deploy.h"
#include "http.h"
#include "jsonutil.h"
#include "util.h"
#include "banned.h"

static const char usage[] =
    "usage: slipway promote ENV/STAGE --from STAGE [--description TEXT] [--force]\n"
    "                       " DEPLOY_WAIT_USAGE " [--json]\n"
    "\n"
    "Deploy the build that ENV/FROM currently runs to ENV/STAGE and print the new deploy's id.\n"
    "  --from STAGE      source stage of the same env (ENV/STAGE is accepted too)\n"
    "  --description T   deploy description\n"
    "  --force           promote even a build tagged BAD_BUILD\n"
    DEPLOY_WAIT_HELP;

int cmd_promote(struct cli *c, int argc, char **argv)
{
	struct deploy_args a;
	json_t *src = NULL, *deploy = NULL;
	const char *from_id = NULL;
	int r;

	r = deploy_args_parse(c, "promote",
			      DEPLOY_OPT_FROM | DEPLOY_OPT_DESCRIPTION | DEPLOY_OPT_FORCE | DEPLOY_OPT_WAIT, usage,
			      argc, argv, &a);
	if (r != 0)
		return r > 0 ? 0 : r;
	r = http_requestf(c, "GET", NULL, NULL, &src, "/v1/envs/%s/%s/deploys/current", a.env, a.from_stage);
	if (r < 0)
		return r;
	if (json_get_string(src, "id", 64, &from_id) < 0) {
		json_decref(src);
		return cli_fail(c, -EBADMSG, "the current deploy of %s/%s has no id", a.env, a.from_stage);
	}
	r = deploy_action(c, &a, "PROMOTE", from_id, &deploy);
	json_decref(src);
	if (r < 0)
		return r;
	return deploy_report(c, &a, deploy);
}
