/* SPDX-License-Identifier: Apache-2.0 */
/* tests/unit/engine/test-promote.c: the auto-promoter's decisions (§8.2): the gate on the current deploy and its
 * failPolicy, the window candidates are read from, and the pick among them, as tables of named cases. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cron.h"
#include "enums.h"
#include "promote.h"

#define MIN (60 * 1000LL)
#define T10 1767261600000LL /* 2026-01-01 10:00:00 UTC, a fire of HOURLY */
#define HOURLY "0 0 * * * ?"

struct gate_case {
	const char *name;
	bool has_current;
	int state, acceptance, fail_policy;
	enum engine_promote_gate want;
};

static const struct gate_case gate_cases[] = {
	{ "no current deploy", false, -EINVAL, -EINVAL, PROMOTE_FAIL_POLICY_DISABLE, ENGINE_PROMOTE_LOOK },
	{ "running, not accepted yet", true, DEPLOY_STATE_RUNNING, ACCEPTANCE_STATUS_PENDING_DEPLOY,
	  PROMOTE_FAIL_POLICY_CONTINUE, ENGINE_PROMOTE_WAIT },
	{ "succeeding, outstanding", true, DEPLOY_STATE_SUCCEEDING, ACCEPTANCE_STATUS_OUTSTANDING,
	  PROMOTE_FAIL_POLICY_ROLLBACK, ENGINE_PROMOTE_WAIT },
	{ "succeeded and accepted", true, DEPLOY_STATE_SUCCEEDED, ACCEPTANCE_STATUS_ACCEPTED,
	  PROMOTE_FAIL_POLICY_ROLLBACK, ENGINE_PROMOTE_LOOK },
	{ "terminated is final", true, DEPLOY_STATE_ABORTED, ACCEPTANCE_STATUS_TERMINATED, PROMOTE_FAIL_POLICY_DISABLE,
	  ENGINE_PROMOTE_LOOK },
	{ "failing under CONTINUE", true, DEPLOY_STATE_FAILING, ACCEPTANCE_STATUS_OUTSTANDING,
	  PROMOTE_FAIL_POLICY_CONTINUE, ENGINE_PROMOTE_LOOK },
	{ "failing under DISABLE", true, DEPLOY_STATE_FAILING, ACCEPTANCE_STATUS_OUTSTANDING,
	  PROMOTE_FAIL_POLICY_DISABLE, ENGINE_PROMOTE_DISABLE },
	{ "failing under ROLLBACK", true, DEPLOY_STATE_FAILING, ACCEPTANCE_STATUS_PENDING_DEPLOY,
	  PROMOTE_FAIL_POLICY_ROLLBACK, ENGINE_PROMOTE_ROLLBACK },
	{ "rejected under ROLLBACK", true, DEPLOY_STATE_SUCCEEDED, ACCEPTANCE_STATUS_REJECTED,
	  PROMOTE_FAIL_POLICY_ROLLBACK, ENGINE_PROMOTE_ROLLBACK },
	{ "rejected under CONTINUE", true, DEPLOY_STATE_SUCCEEDED, ACCEPTANCE_STATUS_REJECTED,
	  PROMOTE_FAIL_POLICY_CONTINUE, ENGINE_PROMOTE_LOOK },
	{ "rejected, policy unreadable: disable", true, DEPLOY_STATE_SUCCEEDED, ACCEPTANCE_STATUS_REJECTED, -EINVAL,
	  ENGINE_PROMOTE_DISABLE },
};

static void test_gate(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(gate_cases) / sizeof(gate_cases[0]); i++) {
		const struct gate_case *c = &gate_cases[i];
		enum engine_promote_gate got = engine_promote_gate(c->has_current, c->state, c->acceptance,
								   c->fail_policy);
		if (got != c->want)
			fail_msg("%s: gate %d, want %d", c->name, got, c->want);
	}
}

struct window_case {
	const char *name;
	bool from_build, hourly;
	int64_t delay_ms, start, now;
	bool want;
	int64_t after, before;
};

static const struct window_case window_cases[] = {
	{ "build: from the current build's publishDate", true, false, 0, 1000, 5000, true, 1000, 4999 },
	{ "build: delay keeps the newest out", true, false, 2000, 1000, 5000, true, 1000, 2999 },
	{ "build: nothing old enough", true, false, 4001, 1000, 5000, false, 0, 0 },
	{ "build: end at start still looks", true, false, 4000, 1000, 5000, true, 1000, 999 },
	{ "stage: after the source deploy", false, false, 0, 1000, 5000, true, 1001, 4999 },
	{ "stage: one ms past the source is too soon", false, false, 0, 1000, 1001, false, 0, 0 },
	{ "stage: two ms past the source", false, false, 0, 1000, 1002, true, 1001, 1001 },
	{ "no current deploy: from the epoch", true, false, MIN, 0, 5 * MIN, true, 0, 4 * MIN - 1 },
	{ "schedule: inside the 2-minute window", true, true, 0, 0, T10 + MIN, true, 0, T10 + MIN - 1 },
	{ "schedule: at the fire", false, true, 0, 0, T10, true, 1, T10 - 1 },
	{ "schedule: window closed", true, true, 0, 0, T10 + 2 * MIN, false, 0, 0 },
};

static void test_window(void **state)
{
	struct cron hourly;
	char err[128];

	(void)state;
	assert_int_equal(cron_parse(HOURLY, &hourly, err, sizeof(err)), 0);
	for (size_t i = 0; i < sizeof(window_cases) / sizeof(window_cases[0]); i++) {
		const struct window_case *c = &window_cases[i];
		struct engine_promote_config cfg = { .from_build = c->from_build, .queue_size = 1,
						     .delay_ms = c->delay_ms, .schedule = c->hourly ? &hourly : NULL };
		int64_t after = -7, before = -7;
		bool got = engine_promote_window(&cfg, c->start, c->now, &after, &before);

		if (got != c->want)
			fail_msg("%s: window %d, want %d", c->name, got, c->want);
		if (got && (after != c->after || before != c->before))
			fail_msg("%s: [%lld, %lld], want [%lld, %lld]", c->name, (long long)after, (long long)before,
				 (long long)c->after, (long long)c->before);
		if (!got && (after != -7 || before != -7))
			fail_msg("%s: outputs written on a closed window", c->name);
	}
}

struct pick_case {
	const char *name;
	int64_t queue_size, delay_ms;
	bool hourly;
	int64_t stamps[4];
	size_t n;
	int64_t now, want;
};

static const struct pick_case pick_cases[] = {
	{ "no candidate", 1, 0, false, { 0 }, 0, T10, -1 },
	{ "the newest", 1, 0, false, { 3, 2, 1 }, 3, T10, 0 },
	{ "queue of 3: the third newest", 3, 0, false, { 4, 3, 2, 1 }, 4, T10, 2 },
	{ "queue not full yet", 3, 0, false, { 2, 1 }, 2, T10, -1 },
	{ "queue size 0 picks nothing", 0, 0, false, { 2, 1 }, 2, T10, -1 },
	{ "schedule: the newest whose next fire passed", 1, 0, true, { T10 + 30 * MIN, T10 - 30 * MIN, T10 - 90 * MIN },
	  3, T10 + MIN, 1 },
	{ "schedule: the newest at the fire itself", 1, 0, true, { T10, T10 - 30 * MIN }, 2, T10 + MIN, 0 },
	{ "schedule with delay", 1, 60 * MIN, true, { T10 - 30 * MIN, T10 - 90 * MIN }, 2, T10 + MIN, 1 },
	{ "schedule: none has a passed fire", 1, 0, true, { T10 + 30 * MIN, T10 + 5 * MIN }, 2, T10 + 10 * MIN, -1 },
	{ "schedule: queue not full", 3, 0, true, { T10 - 30 * MIN, T10 - 90 * MIN }, 2, T10 + MIN, -1 },
	{ "schedule: a full queue may pick the newest", 2, 0, true, { T10 - 30 * MIN, T10 - 90 * MIN }, 2, T10 + MIN,
	  0 },
};

static void test_pick(void **state)
{
	struct cron hourly;
	char err[128];

	(void)state;
	assert_int_equal(cron_parse(HOURLY, &hourly, err, sizeof(err)), 0);
	for (size_t i = 0; i < sizeof(pick_cases) / sizeof(pick_cases[0]); i++) {
		const struct pick_case *c = &pick_cases[i];
		struct engine_promote_config cfg = { .from_build = true, .queue_size = c->queue_size,
						     .delay_ms = c->delay_ms, .schedule = c->hourly ? &hourly : NULL };
		int64_t got = engine_promote_pick(&cfg, c->stamps, c->n, c->now);

		if (got != c->want)
			fail_msg("%s: pick %lld, want %lld", c->name, (long long)got, (long long)c->want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gate),
		cmocka_unit_test(test_window),
		cmocka_unit_test(test_pick),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
