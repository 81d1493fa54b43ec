/* SPDX-License-Identifier: Apache-2.0 */
/* engine/admission.c: which rows occupy a rollout slot, the rollout width, and the deploy schedule's session
 * arithmetic (PROTOCOL §5.7, §8.1), and the admission decision over what the store read in its transaction. Pure:
 * no I/O, no clock. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "engine.h"
#include "parse.h"
#include "util.h"
#include "banned.h"

bool engine_row_occupies_slot(const struct agent_row *row)
{
	if (row->holds_slot)
		return true;
	return row->state == AGENT_STATE_STOP && row->deploy_stage == DEPLOY_STAGE_STOPPING && !row->removed;
}

bool engine_row_counts_existing(const struct agent_row *row)
{
	return !row->first_deploy && !row->removed;
}

int engine_threshold(int existing, int max_parallel, int max_parallel_pct, int max_parallel_threshold)
{
	int64_t width;

	if (existing < 0)
		existing = 0;
	if (max_parallel < 0)
		max_parallel = 0;
	if (max_parallel_pct < 0)
		max_parallel_pct = 0;

	if (max_parallel_pct > 0 && max_parallel > 0) {
		width = (int64_t)existing * max_parallel_pct / 100;
		if (max_parallel < width)
			width = max_parallel;
	} else if (max_parallel_pct > 0)
		width = (int64_t)existing * max_parallel_pct / 100;
	else if (max_parallel > 0)
		width = max_parallel;
	else
		width = 1;

	/* clamp to existing first, then to at least 1: the threshold is never 0 (PROTOCOL §11 item 24) */
	if (width > existing)
		width = existing;
	if (width < 1)
		width = 1;
	if (max_parallel_threshold > 0 && width > max_parallel_threshold)
		width = max_parallel_threshold;
	return (int)width;
}

bool engine_admission_allows(int occupied, int existing, int max_parallel, int max_parallel_pct,
			     int max_parallel_threshold)
{
	return occupied < engine_threshold(existing, max_parallel, max_parallel_pct, max_parallel_threshold);
}

/* One hostNumbers entry: a count, or N% of total (rounded up). */
static int session_entry(const char *list, int k, int total, int64_t *ret)
{
	char tok[32];
	int64_t v;
	size_t len;
	int r;

	r = str_csv_entry(list, k, tok, sizeof(tok));
	if (r < 0)
		return r;
	len = strlen(tok);
	if (tok[len - 1] == '%') {
		tok[len - 1] = 0;
		r = parse_i64(tok, 0, 100, &v);
		if (r < 0)
			return -EINVAL;
		*ret = (v * (int64_t)total + 99) / 100;
		return 1; /* a share of the whole stage */
	}
	r = parse_i64(tok, 0, 1000000, &v);
	if (r < 0)
		return -EINVAL;
	*ret = v;
	return 0;
}

int engine_schedule_session_hosts(const char *host_numbers, int k, int total, int *ret)
{
	int64_t v, sum = 0;
	int r;

	if (total < 0)
		total = 0;
	r = session_entry(host_numbers, k, total, &v);
	if (r < 0)
		return r;
	if (r == 1) {
		*ret = (int)v;
		return 0;
	}
	/* plain numbers are cumulative: the sum of entries 1..k */
	for (int i = 1; i <= k; i++) {
		r = session_entry(host_numbers, i, total, &v);
		if (r < 0)
			return r;
		sum += v;
	}
	if (sum > INT32_MAX)
		sum = INT32_MAX;
	*ret = (int)sum;
	return 0;
}

bool engine_schedule_admits(const struct schedule_view *s, int rows_on_deploy, int total)
{
	int limit;

	if (!s || !s->present)
		return true;
	switch (s->state) {
	case SCHEDULE_STATE_COOLING_DOWN:
		return false;
	case SCHEDULE_STATE_RUNNING:
		if (engine_schedule_session_hosts(s->host_numbers, s->current_session, total, &limit) < 0)
			return false;
		return rows_on_deploy < limit;
	default:
		return true;
	}
}

enum admission_result engine_admission_decide(const struct admission_facts *f, const char *deploy_id,
					      int max_parallel_threshold)
{
	const char *cur = f->deploy_id ? f->deploy_id : "";

	if (!f->stage_exists || !deploy_id || !streq(cur, deploy_id))
		return ADMISSION_REFUSE_STALE;
	if (!engine_schedule_admits(&f->schedule, f->on_deploy, f->total))
		return ADMISSION_REFUSE_SCHEDULE;
	if (!engine_admission_allows(f->occupied, f->existing, f->max_parallel, f->max_parallel_pct,
				     max_parallel_threshold))
		return ADMISSION_REFUSE_FULL;
	if (!engine_constraint_admits(&f->constraint, f->host_value, f->groups, f->n_groups))
		return ADMISSION_REFUSE_CONSTRAINT;
	return ADMISSION_ADMIT;
}
