/* SPDX-License-Identifier: Apache-2.0 */
/* agent/decide.c: see decide.h. */
#include <strings.h>

#include "decide.h"
#include "enums.h"
#include "util.h"
#include "banned.h"

bool decide_has_work(const struct ping_response *resp)
{
	if (!resp->goal)
		return false;
	return resp->op_code != OP_CODE_NOOP && resp->op_code != OP_CODE_WAIT;
}

bool decide_is_delete(const struct ping_response *resp)
{
	if (resp->op_code == OP_CODE_DELETE)
		return true;
	return resp->op_code < 0 && resp->op_code_raw && strcasecmp(resp->op_code_raw, "TERMINATE") == 0;
}

bool decide_plan_changed(const struct step_origin *o, const struct ping_response *resp)
{
	const struct deploy_goal *g = resp->goal;

	if (decide_is_delete(resp))
		return true;
	if (resp->op_code == OP_CODE_STOP && o->op_code != OP_CODE_STOP)
		return true;
	if (!decide_has_work(resp))
		return false;
	return !streq_ptr(g->env_id, o->env_id) || !streq_ptr(g->deploy_id, o->deploy_id) ||
	       g->deploy_stage != o->deploy_stage;
}

int64_t retry_backoff_ms(const struct step_limits *l, int fail_count)
{
	int64_t b = l->backoff_s;

	for (int i = 1; i < fail_count && b < l->backoff_max_s; i++)
		b *= l->backoff_factor;
	if (b > l->backoff_max_s)
		b = l->backoff_max_s;
	return b * 1000;
}

bool retry_exhausted(const struct step_limits *l, int fail_count)
{
	return fail_count >= l->max_retry;
}

int retry_attempt_code(const struct proc_result *pres, int zero_code)
{
	if (pres->status == PROC_SIGNALED)
		return -pres->code;
	return pres->code ? pres->code : zero_code;
}

struct ping_backoff ping_backoff_retry_after(int64_t retry_after_ms, int64_t base_ms, int64_t max_ms)
{
	int64_t lo = retry_after_ms > 0 ? retry_after_ms : 0, spread = lo / 2 > 1000 ? lo / 2 : 1000;
	struct ping_backoff r;

	if (max_ms < 1000)
		max_ms = 1000;
	if (lo > max_ms)
		lo = max_ms;
	r.wait_min_ms = lo;
	r.wait_max_ms = lo + spread > max_ms ? max_ms : lo + spread;
	r.next_base_ms = base_ms;
	return r;
}

struct ping_backoff ping_backoff_after_failure(int64_t base_ms, int64_t factor, int64_t max_ms)
{
	int64_t b = base_ms > 0 ? base_ms : 1000;
	struct ping_backoff r = { .wait_min_ms = b / 2, .wait_max_ms = b, .next_base_ms = b * factor };

	if (r.next_base_ms > max_ms)
		r.next_base_ms = max_ms;
	return r;
}
