/* SPDX-License-Identifier: Apache-2.0 */
/* engine/promote.c: the auto-promoter's decisions (see promote.h). */
#include "enums.h"
#include "promote.h"
#include "banned.h"

enum engine_promote_gate engine_promote_gate(bool has_current, int state, int acceptance, int fail_policy)
{
	bool failing = state == DEPLOY_STATE_FAILING, rejected = acceptance == ACCEPTANCE_STATUS_REJECTED;

	if (!has_current)
		return ENGINE_PROMOTE_LOOK;
	if (!failing && !acceptance_status_is_final(acceptance))
		return ENGINE_PROMOTE_WAIT; /* not replaceable yet */
	if (!(failing || rejected) || fail_policy == PROMOTE_FAIL_POLICY_CONTINUE)
		return ENGINE_PROMOTE_LOOK;
	return fail_policy == PROMOTE_FAIL_POLICY_ROLLBACK ? ENGINE_PROMOTE_ROLLBACK : ENGINE_PROMOTE_DISABLE;
}

/* Is now inside a window [fire, fire + ENGINE_PROMOTE_WINDOW_MS) of the schedule? */
static bool in_window(const struct cron *c, int64_t now)
{
	int64_t fire;

	return cron_next(c, now - ENGINE_PROMOTE_WINDOW_MS + 1, &fire) == 0 && fire <= now;
}

bool engine_promote_window(const struct engine_promote_config *cfg, int64_t start, int64_t now, int64_t *ret_after,
			   int64_t *ret_before)
{
	int64_t end = now - cfg->delay_ms;

	/* a build published at start may be the one deployed; a deploy that started then is the current's source */
	if (cfg->from_build ? end < start : end <= start + 1)
		return false;
	if (cfg->schedule && !in_window(cfg->schedule, now))
		return false;
	*ret_after = cfg->from_build ? start : start + 1;
	*ret_before = end - 1;
	return true;
}

int64_t engine_promote_pick(const struct engine_promote_config *cfg, const int64_t *stamps, size_t n, int64_t now)
{
	int64_t fire;

	if (cfg->queue_size < 1 || (int64_t)n < cfg->queue_size)
		return -1;
	if (!cfg->schedule)
		return cfg->queue_size - 1;
	/* with a schedule: the first fire at or after (stamp + delay) must be <= now */
	for (size_t i = 0; i < n; i++)
		if (cron_next(cfg->schedule, stamps[i] + cfg->delay_ms, &fire) == 0 && fire <= now)
			return (int64_t)i;
	return -1;
}
