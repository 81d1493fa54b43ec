/* SPDX-License-Identifier: Apache-2.0 */
/* engine/outcome.h: what became of a deploy (its read-only `outcome` field), derived from its state, its counts
 * and, once another deploy replaced it, the state it had then and the type of the deploy that replaced it. PURE:
 * the store keeps those facts, api/ asks this file and writes the field. And when a host's last error is over. */
#ifndef SLIPWAY_ENGINE_OUTCOME_H
#define SLIPWAY_ENGINE_OUTCOME_H

#include <stdbool.h>
#include <stdint.h>

struct deploy_outcome_facts {
	int state;          /* enum deploy_state now */
	int64_t total;      /* hosts the deploy counted */
	int64_t fail_total; /* hosts that failed it */
	int replaced_state; /* enum deploy_state when it was replaced, -1 = not replaced or not recorded */
	int replaced_by;    /* enum deploy_type of the deploy that replaced it, -1 = not replaced */
};

/* enum deploy_outcome: RUNNING while it runs; SUCCEEDED, or NO_HOSTS when it succeeded with no host; FAILED when it
 * is (or was, when replaced) FAILING; ROLLED_BACK when a ROLLBACK deploy replaced it while it had failed hosts or
 * was FAILING; REPLACED when another deploy replaced it before it succeeded, not failing. */
int engine_deploy_outcome(const struct deploy_outcome_facts *f);

struct agent_row;
/* Whether a host's stored error (AgentError) is over once its row is written as `row`: the host finished a deploy
 * (SERVING_BUILD, or STOPPED for a stop) with status SUCCEEDED. */
bool engine_row_clears_error(const struct agent_row *row);

#endif
