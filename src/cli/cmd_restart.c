/* SPDX-License-Identifier: Apache-2.0 */
/* cli/cmd_restart.c: `slipway restart ENV/STAGE [--wait]`: a new RESTART deploy of the current
 * build; every host walks all stages again. */
#include "cmd.h"
#include "deploy.h"
#include "banned.h"

static const char usage[] =
    "usage: slipway restart ENV/STAGE [--description TEXT] " DEPLOY_WAIT_USAGE " [--json]\n"
    "\n"
    "Restart the current build of ENV/STAGE on every host (a RESTART deploy); prints its id.\n"
    "  --description T   deploy description\n"
    DEPLOY_WAIT_HELP;

int cmd_restart(struct cli *c, int argc, char **argv)
{
	static const struct action_command ac = { "restart", "RESTART", DEPLOY_OPT_DESCRIPTION | DEPLOY_OPT_WAIT, usage, NULL };

	return deploy_action_command(c, &ac, argc, argv);
}
