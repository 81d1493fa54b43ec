/* SPDX-License-Identifier: Apache-2.0 */
/* cli/cmd_rollback.c: `slipway rollback ENV/STAGE [--to DEPLOY_ID] [--wait]`. */
#include <errno.h>
#include <stdio.h>

#include "cmd.h"
#include "deploy.h"
#include "banned.h"

static const char usage[] =
    "usage: slipway rollback ENV/STAGE [--to DEPLOY_ID] [--description TEXT] [--force]\n"
    "                        " DEPLOY_WAIT_USAGE " [--json]\n"
    "\n"
    "Return ENV/STAGE to an earlier deploy's build and print the rollback deploy's id.\n"
    "  --to DEPLOY_ID    the deploy to return to (default: the newest earlier SUCCEEDED deploy)\n"
    "  --description T   deploy description\n"
    "  --force           roll back even to a build tagged BAD_BUILD\n"
    DEPLOY_WAIT_HELP;

int cmd_rollback(struct cli *c, int argc, char **argv)
{
	struct deploy_args a;
	json_t *deploy = NULL;
	int r;

	r = deploy_args_parse(c, "rollback",
			      DEPLOY_OPT_TO | DEPLOY_OPT_DESCRIPTION | DEPLOY_OPT_FORCE | DEPLOY_OPT_WAIT, usage, argc,
			      argv, &a);
	if (r != 0)
		return r > 0 ? 0 : r;
	r = deploy_action(c, &a, "ROLLBACK", NULL, &deploy);
	if (r < 0)
		return r;
	return deploy_report(c, &a, deploy);
}
