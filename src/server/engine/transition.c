/* SPDX-License-Identifier: Apache-2.0 */
/* engine/transition.c: the state transition of a deploy (PROTOCOL §7.3) and the deploy schedule advance (§8.1),
 * computed from counts the I/O layer gathered. Pure: no I/O, no clock; the caller does the compare-and-set write. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "engine.h"
#include "parse.h"
#include "util.h"
#include "banned.h"

void engine_transition_count_row(struct transition_counts *c, const struct agent_row *row, const char *deploy_id)
{
	bool on_deploy = deploy_id && deploy_id[0] && streq(row->deploy_id, deploy_id);

	if (on_deploy)
		c->on_deploy++;
	if (row->removed)
		return;
	if (row->state != AGENT_STATE_UNREACHABLE && row->state != AGENT_STATE_DELETE)
		c->total++;
	if (!on_deploy)
		return;
	if ((row->deploy_stage == DEPLOY_STAGE_SERVING_BUILD || row->deploy_stage == DEPLOY_STAGE_STOPPED) &&
	    row->state != AGENT_STATE_PAUSED_BY_USER && row->state != AGENT_STATE_PAUSED_BY_SYSTEM &&
	    row->state != AGENT_STATE_UNREACHABLE)
		c->succeeded++;
	if (row->state == AGENT_STATE_PAUSED_BY_SYSTEM)
		c->failed++;
	/* removed rows have left the rollout (§6), so the schedule does not count them either */
	if (row->deploy_stage == DEPLOY_STAGE_SERVING_BUILD || row->state == AGENT_STATE_PAUSED_BY_USER ||
	    row->state == AGENT_STATE_PAUSED_BY_SYSTEM)
		c->schedule_done++;
}

/* The k-th (1-based) cooldown in minutes; -EINVAL when absent or malformed. */
static int cooldown_minutes(const char *list, int k, int64_t *ret)
{
	char tok[32];

	if (str_csv_entry(list, k, tok, sizeof(tok)) < 0)
		return -EINVAL;
	return parse_i64(tok, -1000000, 1000000, ret) < 0 ? -EINVAL : 0;
}

/* §8.1 schedule advance; fills the schedule_* fields of ret. */
static void schedule_advance(const struct schedule_view *s, const struct transition_counts *c, int64_t now_ms,
			     struct transition_result *ret)
{
	int64_t cool;
	int limit;

	ret->schedule_state = s->state;
	ret->schedule_current = s->current_session;
	ret->schedule_start = s->state_start_time;
	if (s->state == SCHEDULE_STATE_RUNNING) {
		if (engine_schedule_session_hosts(s->host_numbers, s->current_session, c->total, &limit) < 0)
			return;
		if (c->schedule_done >= limit) {
			ret->schedule_state = SCHEDULE_STATE_COOLING_DOWN;
			ret->schedule_start = now_ms;
			ret->schedule_changed = true;
		}
	} else if (s->state == SCHEDULE_STATE_COOLING_DOWN) {
		if (cooldown_minutes(s->cooldown_times, s->current_session, &cool) < 0 || cool < 0)
			return; /* a negative cooldown waits for the override endpoint */
		if (now_ms - s->state_start_time < cool * 60000)
			return;
		if (s->current_session >= s->total_sessions)
			ret->schedule_state = SCHEDULE_STATE_FINAL;
		else {
			ret->schedule_state = SCHEDULE_STATE_RUNNING;
			ret->schedule_current = s->current_session + 1;
		}
		ret->schedule_start = now_ms;
		ret->schedule_changed = true;
	}
}

void engine_finalise_deploy(int state, int acceptance_status, int *ret_state, int *ret_acceptance_status)
{
	if (state == DEPLOY_STATE_RUNNING || state == DEPLOY_STATE_FAILING)
		*ret_state = DEPLOY_STATE_ABORTED;
	else if (state == DEPLOY_STATE_SUCCEEDING)
		*ret_state = DEPLOY_STATE_SUCCEEDED;
	else
		*ret_state = state;
	if (acceptance_status_is_final(acceptance_status))
		*ret_acceptance_status = acceptance_status;
	else
		*ret_acceptance_status = ACCEPTANCE_STATUS_TERMINATED;
}

bool engine_auto_rollback_allowed(int deploy_type)
{
	return deploy_type != DEPLOY_TYPE_ROLLBACK && deploy_type != DEPLOY_TYPE_RESTART;
}

int engine_transition(const struct deploy_view *d, const struct transition_settings *set,
		      const struct schedule_view *schedule, const struct transition_counts *counts, int64_t now_ms,
		      struct transition_result *ret)
{
	struct transition_result res;
	int64_t S, F, T, th;
	bool keep_last_update = false;
	int state;

	if (!d || !set || !counts || !ret)
		return -EINVAL;
	res = (struct transition_result){
		.old_state = d->state,
		.state = d->state,
		.success_total = d->success_total,
		.fail_total = d->fail_total,
		.total = d->total,
		.last_update_date = d->last_update_date,
		.success_date = d->success_date,
		.acceptance_status = d->acceptance_status,
	};
	if (set->env_state != ENV_STATE_NORMAL || !deploy_state_is_active(d->state)) {
		/* a paused stage's deploy is frozen (ours); a final deploy needs nothing */
		*ret = res;
		return 0;
	}
	if (!set->is_current) {
		res.finalise = true;
		engine_finalise_deploy(d->state, d->acceptance_status, &res.state, &res.acceptance_status);
		*ret = res;
		return 0;
	}
	if (schedule && schedule->present)
		schedule_advance(schedule, counts, now_ms, &res);

	S = counts->succeeded;
	F = counts->failed;
	T = counts->total;
	th = set->success_threshold;
	if (th < 0)
		th = 0;
	if (th > 10000)
		th = 10000;

	if (S * 10000 >= th * T)
		state = DEPLOY_STATE_SUCCEEDING;
	else if (F * 10000 > (10000 - th) * T)
		state = DEPLOY_STATE_FAILING;
	else if (S <= d->success_total && now_ms - d->last_update_date >= (int64_t)set->stuck_threshold_s * 1000) {
		if (d->state == DEPLOY_STATE_SUCCEEDING)
			state = DEPLOY_STATE_RUNNING; /* new hosts joined */
		else if (res.schedule_state == SCHEDULE_STATE_COOLING_DOWN && schedule && schedule->present)
			state = d->state;
		else {
			state = DEPLOY_STATE_FAILING;
			keep_last_update = true; /* stays FAILING until real progress */
		}
	} else
		state = DEPLOY_STATE_RUNNING;

	res.state = state;
	res.success_total = (int)S;
	res.fail_total = (int)F;
	res.total = (int)T;
	if (state == DEPLOY_STATE_SUCCEEDING && d->success_date == 0) {
		res.first_succeeding = true;
		res.success_date = now_ms;
		if (d->acceptance_status != ACCEPTANCE_STATUS_ACCEPTED &&
		    d->acceptance_status != ACCEPTANCE_STATUS_REJECTED)
			res.acceptance_status = set->acceptance_type == ACCEPTANCE_TYPE_AUTO ? ACCEPTANCE_STATUS_ACCEPTED
											 : ACCEPTANCE_STATUS_OUTSTANDING;
	}
	res.write = state != d->state || S != d->success_total || F != d->fail_total || T != d->total ||
		    res.first_succeeding;
	if (res.write && !keep_last_update)
		res.last_update_date = now_ms;
	res.now_failing = res.write && state == DEPLOY_STATE_FAILING && d->state != DEPLOY_STATE_FAILING;
	res.auto_rollback = res.now_failing && set->failure_policy == FAILURE_POLICY_ROLLBACK;
	*ret = res;
	return 0;
}
