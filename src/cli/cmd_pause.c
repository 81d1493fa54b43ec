/* SPDX-License-Identifier: Apache-2.0 */
/* cli/cmd_pause.c: `slipway pause ENV/STAGE` and `slipway resume ENV/STAGE`: the PAUSE and RESUME deploy
 * actions (envState of the stage). */
#include "cmd.h"
#include "deploy.h"
#include "banned.h"

static const char pause_usage[] = "usage: slipway pause ENV/STAGE [--description TEXT] [--json]\n"
				  "\n"
				  "Freeze ENV/STAGE: hosts get no new goals until 'slipway resume'.\n"
				  "  --description T   recorded in the stage's history\n";

static const char resume_usage[] = "usage: slipway resume ENV/STAGE [--description TEXT] [--json]\n"
				   "\n"
				   "Let a paused ENV/STAGE continue its deploy.\n"
				   "  --description T   recorded in the stage's history\n";

int cmd_pause(struct cli *c, int argc, char **argv)
{
	static const struct action_command ac = { "pause", "PAUSE", DEPLOY_OPT_DESCRIPTION, pause_usage, "paused" };

	return deploy_action_command(c, &ac, argc, argv);
}

int cmd_resume(struct cli *c, int argc, char **argv)
{
	static const struct action_command ac = { "resume", "RESUME", DEPLOY_OPT_DESCRIPTION, resume_usage,
						  "resumed" };

	return deploy_action_command(c, &ac, argc, argv);
}
