/* SPDX-License-Identifier: Apache-2.0 */
/* agent/decide.h: the agent's decisions, kept apart from acting on them: does a ping answer carry work,
 * does it change the plan of a running step (AGENT.md §10.5), and the retry policy of steps (§10.3) and
 * of failed pings (§5.4). Pure: no I/O, no clock, no logging. */
#ifndef SLIPWAY_AGENT_DECIDE_H
#define SLIPWAY_AGENT_DECIDE_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "proc.h"
#include "wire.h"

/* What started a step, to detect a changed plan (§10.5). Strings borrowed. */
struct step_origin {
	const char *env_id;
	const char *deploy_id;
	int deploy_stage;
	int op_code;
};

/* Does the answer name a stage to run (a goal, and not NOOP or WAIT)? */
bool decide_has_work(const struct ping_response *resp);
/* Is it a DELETE (or the upstream TERMINATE)? */
bool decide_is_delete(const struct ping_response *resp);
/* §10.5: does the answer abort the step started by o? A DELETE does; a STOP does unless the step is a
 * STOP; work for another env, deploy or stage does; a NOOP, WAIT (or a failed ping) never does. */
bool decide_plan_changed(const struct step_origin *o, const struct ping_response *resp);

/* §10.3: the wait before the attempt that follows fail_count failures (>= 1): backoff, times
 * backoff_factor per further failure, capped at backoff_max. Milliseconds. */
int64_t retry_backoff_ms(const struct step_limits *l, int fail_count);
/* After fail_count failures, is the step out of attempts (max_retry counts the first)? */
bool retry_exhausted(const struct step_limits *l, int fail_count);
/* The error code a failed attempt reports: the exit code, minus the signal number when killed; an
 * exit code of 0 from a failed attempt (e.g. a helper that died before writing its verdict) becomes
 * zero_code. */
int retry_attempt_code(const struct proc_result *pres, int zero_code);

/* §5.4: a failed pass waits uniformly between half and all of base (at least 1 s); the base then grows
 * by factor up to max. The range of the next wait and the next base, in milliseconds. */
struct ping_backoff {
	int64_t wait_min_ms, wait_max_ms;
	int64_t next_base_ms;
};
struct ping_backoff ping_backoff_after_failure(int64_t base_ms, int64_t factor, int64_t max_ms);
/* Every server failed and one answered 503 with Retry-After (retry_after_ms, the shortest): wait uniformly between
 * that and half as much again, at least one second more (so a fleet told the same value comes back spread out;
 * 0, a server that is stopping, is 0-1 s), never above max_ms. next_base_ms is base_ms: the failure backoff does
 * not grow. */
struct ping_backoff ping_backoff_retry_after(int64_t retry_after_ms, int64_t base_ms, int64_t max_ms);

#endif
