/* SPDX-License-Identifier: Apache-2.0 */
/* cli/cmd_restart.c: `slipway restart ENV/STAGE [--wait]`: a new RESTART deploy of the current
 * build; every host walks all stages again. */
#include <errno.h>
#include <stdio.h>

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
	struct deploy_args a;
	json_t *deploy = NULL;
	int r;

	r = deploy_args_parse(c, "restart", DEPLOY_OPT_DESCRIPTION | DEPLOY_OPT_WAIT, usage, argc, argv, &a);
	if (r != 0)
		return r > 0 ? 0 : r;
	r = deploy_action(c, &a, "RESTART", NULL, &deploy);
	if (r < 0)
		return r;
	return deploy_report(c, &a, deploy);
}
