/* SPDX-License-Identifier: Apache-2.0 */
/* engine/outcome.c: the outcome of a deploy, and the end of a host's error (outcome.h). */
#include <stdbool.h>

#include "engine.h"
#include "enums.h"
#include "outcome.h"
#include "banned.h"

static int succeeded(const struct deploy_outcome_facts *f)
{
	return f->total == 0 ? DEPLOY_OUTCOME_NO_HOSTS : DEPLOY_OUTCOME_SUCCEEDED;
}

int engine_deploy_outcome(const struct deploy_outcome_facts *f)
{
	/* the state it ended in: the one recorded when it was replaced, else its own (finalised rows lose FAILING) */
	int end = f->replaced_state >= 0 ? f->replaced_state : f->state;
	bool failing = end == DEPLOY_STATE_FAILING || (end == DEPLOY_STATE_ABORTED && f->fail_total > 0);

	if (f->replaced_by == DEPLOY_TYPE_ROLLBACK && (failing || f->fail_total > 0))
		return DEPLOY_OUTCOME_ROLLED_BACK;
	switch (end) {
	case DEPLOY_STATE_RUNNING:
		return f->replaced_by >= 0 ? DEPLOY_OUTCOME_REPLACED : DEPLOY_OUTCOME_RUNNING;
	case DEPLOY_STATE_SUCCEEDING:
	case DEPLOY_STATE_SUCCEEDED:
		return succeeded(f);
	default:
		return failing ? DEPLOY_OUTCOME_FAILED : DEPLOY_OUTCOME_REPLACED;
	}
}

bool engine_row_clears_error(const struct agent_row *row)
{
	return row->status == AGENT_STATUS_SUCCEEDED &&
	       (row->deploy_stage == DEPLOY_STAGE_SERVING_BUILD || row->deploy_stage == DEPLOY_STAGE_STOPPED);
}
