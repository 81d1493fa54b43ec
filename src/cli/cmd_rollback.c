/* SPDX-License-Identifier: Apache-2.0 */
/* cli/cmd_rollback.c: `slipway rollback ENV/STAGE [--to DEPLOY_ID] [--wait]`. */
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
	static const struct action_command ac = { "rollback", "ROLLBACK", DEPLOY_OPT_TO | DEPLOY_OPT_DESCRIPTION | DEPLOY_OPT_FORCE | DEPLOY_OPT_WAIT, usage, NULL };

	return deploy_action_command(c, &ac, argc, argv);
}
