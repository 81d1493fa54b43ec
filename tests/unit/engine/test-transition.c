/* SPDX-License-Identifier: Apache-2.0 */
/* tests/unit/engine/test-transition.c: the deploy state transition (§7.3) and the schedule advance (§8.1), as
 * tables of named cases. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "engine.h"

/* table rows start from defaults (DEF) and override some fields */
#pragma GCC diagnostic ignored "-Woverride-init"

#define NOW 1000000000LL
#define MIN (60 * 1000LL)

struct tcase {
	const char *name;
	int state;          /* D.state */
	int64_t last_update_ago_ms;
	int success_total;
	int fail_total;
	int total;
	bool success_date_set;
	int acceptance;
	int acceptance_type;
	int threshold;
	int stuck_s;
	int policy;
	int env_state;
	bool not_current;
	int type;
	int S, F, T;
	int sched_state;    /* -1: no schedule */
	/* expectations */
	bool want_write;
	int want_state;
	bool want_first_succ;
	int want_acc;
	bool want_keep_lud;
	bool want_now_failing;
	bool want_auto_rollback;
	bool want_finalise;
};

#define DEF .threshold = 10000, .stuck_s = 600, .acceptance = ACCEPTANCE_STATUS_PENDING_DEPLOY, .sched_state = -1, \
	    .acceptance_type = ACCEPTANCE_TYPE_AUTO, .env_state = ENV_STATE_NORMAL, .type = DEPLOY_TYPE_REGULAR

static const struct tcase cases[] = {
	{ "T=0 succeeds and is accepted", DEF, .state = DEPLOY_STATE_RUNNING, .T = 0, .want_write = true,
	  .want_state = DEPLOY_STATE_SUCCEEDING, .want_first_succ = true, .want_acc = ACCEPTANCE_STATUS_ACCEPTED },
	{ "all serving -> SUCCEEDING", DEF, .state = DEPLOY_STATE_RUNNING, .S = 10, .T = 10, .want_write = true,
	  .want_state = DEPLOY_STATE_SUCCEEDING, .want_first_succ = true, .want_acc = ACCEPTANCE_STATUS_ACCEPTED },
	{ "manual acceptance -> OUTSTANDING", DEF, .state = DEPLOY_STATE_RUNNING, .S = 10, .T = 10,
	  .acceptance_type = ACCEPTANCE_TYPE_MANUAL, .want_write = true, .want_state = DEPLOY_STATE_SUCCEEDING,
	  .want_first_succ = true, .want_acc = ACCEPTANCE_STATUS_OUTSTANDING },
	{ "acceptance PUT kept", DEF, .state = DEPLOY_STATE_RUNNING, .S = 10, .T = 10,
	  .acceptance_type = ACCEPTANCE_TYPE_MANUAL, .acceptance = ACCEPTANCE_STATUS_REJECTED, .want_write = true,
	  .want_state = DEPLOY_STATE_SUCCEEDING, .want_first_succ = true, .want_acc = ACCEPTANCE_STATUS_REJECTED },
	{ "second SUCCEEDING is not first", DEF, .state = DEPLOY_STATE_SUCCEEDING, .success_date_set = true,
	  .success_total = 10, .total = 10, .S = 10, .T = 10, .acceptance = ACCEPTANCE_STATUS_ACCEPTED,
	  .want_write = false, .want_state = DEPLOY_STATE_SUCCEEDING, .want_acc = ACCEPTANCE_STATUS_ACCEPTED },
	{ "95% threshold met by 19/20", DEF, .state = DEPLOY_STATE_RUNNING, .threshold = 9500, .S = 19, .F = 1,
	  .T = 20, .want_write = true, .want_state = DEPLOY_STATE_SUCCEEDING, .want_first_succ = true,
	  .want_acc = ACCEPTANCE_STATUS_ACCEPTED },
	{ "one parked host at 100% -> FAILING", DEF, .state = DEPLOY_STATE_RUNNING, .S = 3, .F = 1, .T = 10,
	  .want_write = true, .want_state = DEPLOY_STATE_FAILING, .want_now_failing = true,
	  .want_acc = ACCEPTANCE_STATUS_PENDING_DEPLOY },
	{ "FAILING under ROLLBACK asks for auto-rollback", DEF, .state = DEPLOY_STATE_RUNNING, .S = 3, .F = 1,
	  .T = 10, .policy = FAILURE_POLICY_ROLLBACK, .want_write = true, .want_state = DEPLOY_STATE_FAILING,
	  .want_now_failing = true, .want_auto_rollback = true, .want_acc = ACCEPTANCE_STATUS_PENDING_DEPLOY },
	{ "already FAILING: no new failing", DEF, .state = DEPLOY_STATE_FAILING, .S = 3, .F = 2, .T = 10,
	  .success_total = 3, .fail_total = 1, .total = 10, .policy = FAILURE_POLICY_ROLLBACK, .want_write = true,
	  .want_state = DEPLOY_STATE_FAILING, .want_acc = ACCEPTANCE_STATUS_PENDING_DEPLOY },
	{ "95%: 1 of 20 failed is tolerated", DEF, .state = DEPLOY_STATE_RUNNING, .threshold = 9500, .S = 5,
	  .F = 1, .T = 20, .want_write = true, .want_state = DEPLOY_STATE_RUNNING,
	  .want_acc = ACCEPTANCE_STATUS_PENDING_DEPLOY },
	{ "progress -> RUNNING with new totals", DEF, .state = DEPLOY_STATE_RUNNING, .success_total = 2,
	  .total = 10, .S = 3, .T = 10, .last_update_ago_ms = 3600000, .want_write = true,
	  .want_state = DEPLOY_STATE_RUNNING, .want_acc = ACCEPTANCE_STATUS_PENDING_DEPLOY },
	{ "no change -> no write", DEF, .state = DEPLOY_STATE_RUNNING, .success_total = 2, .total = 10, .S = 2,
	  .T = 10, .last_update_ago_ms = 1000, .want_write = false, .want_state = DEPLOY_STATE_RUNNING,
	  .want_acc = ACCEPTANCE_STATUS_PENDING_DEPLOY },
	{ "stuck -> FAILING keeping lastUpdateDate", DEF, .state = DEPLOY_STATE_RUNNING, .success_total = 2,
	  .total = 10, .S = 2, .T = 10, .last_update_ago_ms = 600 * 1000, .want_write = true,
	  .want_state = DEPLOY_STATE_FAILING, .want_keep_lud = true, .want_now_failing = true,
	  .want_acc = ACCEPTANCE_STATUS_PENDING_DEPLOY },
	{ "just under stuck threshold", DEF, .state = DEPLOY_STATE_RUNNING, .success_total = 2, .total = 10,
	  .S = 2, .T = 10, .last_update_ago_ms = 600 * 1000 - 1, .want_write = false,
	  .want_state = DEPLOY_STATE_RUNNING, .want_acc = ACCEPTANCE_STATUS_PENDING_DEPLOY },
	{ "stuck while cooling down keeps state", DEF, .state = DEPLOY_STATE_RUNNING, .success_total = 2,
	  .total = 10, .S = 2, .T = 10, .last_update_ago_ms = 3600000, .sched_state = SCHEDULE_STATE_COOLING_DOWN,
	  .want_write = false, .want_state = DEPLOY_STATE_RUNNING, .want_acc = ACCEPTANCE_STATUS_PENDING_DEPLOY },
	{ "SUCCEEDING -> RUNNING when new hosts join", DEF, .state = DEPLOY_STATE_SUCCEEDING,
	  .success_date_set = true, .success_total = 10, .total = 10, .S = 10, .T = 12,
	  .acceptance = ACCEPTANCE_STATUS_ACCEPTED, .last_update_ago_ms = 600 * 1000, .want_write = true,
	  .want_state = DEPLOY_STATE_RUNNING, .want_acc = ACCEPTANCE_STATUS_ACCEPTED },
	{ "FAILING recovers on progress", DEF, .state = DEPLOY_STATE_FAILING, .success_total = 2, .total = 10,
	  .S = 3, .T = 10, .last_update_ago_ms = 3600000, .want_write = true, .want_state = DEPLOY_STATE_RUNNING,
	  .want_acc = ACCEPTANCE_STATUS_PENDING_DEPLOY },
	{ "paused stage is frozen", DEF, .state = DEPLOY_STATE_RUNNING, .env_state = ENV_STATE_PAUSED, .S = 10,
	  .T = 10, .want_write = false, .want_state = DEPLOY_STATE_RUNNING,
	  .want_acc = ACCEPTANCE_STATUS_PENDING_DEPLOY },
	{ "disabled stage is frozen", DEF, .state = DEPLOY_STATE_RUNNING, .env_state = ENV_STATE_DISABLED,
	  .S = 10, .T = 10, .want_write = false, .want_state = DEPLOY_STATE_RUNNING,
	  .want_acc = ACCEPTANCE_STATUS_PENDING_DEPLOY },
	{ "final deploy untouched", DEF, .state = DEPLOY_STATE_SUCCEEDED, .S = 1, .T = 10, .want_write = false,
	  .want_state = DEPLOY_STATE_SUCCEEDED, .want_acc = ACCEPTANCE_STATUS_PENDING_DEPLOY },
	{ "not current RUNNING -> ABORTED", DEF, .state = DEPLOY_STATE_RUNNING, .not_current = true,
	  .want_finalise = true, .want_state = DEPLOY_STATE_ABORTED, .want_acc = ACCEPTANCE_STATUS_TERMINATED },
	{ "not current SUCCEEDING -> SUCCEEDED", DEF, .state = DEPLOY_STATE_SUCCEEDING, .not_current = true,
	  .acceptance = ACCEPTANCE_STATUS_ACCEPTED, .want_finalise = true, .want_state = DEPLOY_STATE_SUCCEEDED,
	  .want_acc = ACCEPTANCE_STATUS_ACCEPTED },
	{ "threshold 0: empty success succeeds", DEF, .state = DEPLOY_STATE_RUNNING, .threshold = 0, .S = 0,
	  .F = 5, .T = 5, .want_write = true, .want_state = DEPLOY_STATE_SUCCEEDING, .want_first_succ = true,
	  .want_acc = ACCEPTANCE_STATUS_ACCEPTED },
};

static void test_transition_table(void **state)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct tcase *t = &cases[i];
		struct deploy_view d = {
			.type = t->type, .state = t->state, .last_update_date = NOW - t->last_update_ago_ms,
			.success_date = t->success_date_set ? NOW - 1000 : 0, .success_total = t->success_total,
			.fail_total = t->fail_total, .total = t->total, .acceptance_status = t->acceptance,
		};
		struct transition_settings set = {
			.is_current = !t->not_current, .env_state = t->env_state, .success_threshold = t->threshold,
			.stuck_threshold_s = t->stuck_s, .acceptance_type = t->acceptance_type,
			.failure_policy = t->policy,
		};
		struct schedule_view sched = {
			.present = t->sched_state >= 0, .state = t->sched_state, .current_session = 1,
			.total_sessions = 2, .cooldown_times = "-1,-1", .host_numbers = "100,100",
			.state_start_time = NOW,
		};
		struct transition_counts c = { .total = t->T, .succeeded = t->S, .failed = t->F };
		struct transition_result res;

		printf("case: %s\n", t->name);
		assert_int_equal(engine_transition(&d, &set, &sched, &c, NOW, &res), 0);
		assert_int_equal(res.write, t->want_write);
		assert_int_equal(res.state, t->want_state);
		assert_int_equal(res.first_succeeding, t->want_first_succ);
		assert_int_equal(res.acceptance_status, t->want_acc);
		assert_int_equal(res.now_failing, t->want_now_failing);
		assert_int_equal(res.auto_rollback, t->want_auto_rollback);
		assert_int_equal(res.finalise, t->want_finalise);
		if (res.write) {
			assert_int_equal(res.success_total, t->S);
			assert_int_equal(res.fail_total, t->F);
			assert_int_equal(res.total, t->T);
			if (t->want_keep_lud)
				assert_true(res.last_update_date == d.last_update_date);
			else
				assert_true(res.last_update_date == NOW);
		}
		if (res.first_succeeding)
			assert_true(res.success_date == NOW);
	}
}

static void test_transition_stuck_stays_failing(void **state)
{
	/* after rule 3 made it FAILING with the old lastUpdateDate, the next run changes nothing */
	struct deploy_view d = { .type = DEPLOY_TYPE_REGULAR, .state = DEPLOY_STATE_FAILING,
				 .last_update_date = NOW - 700000, .success_total = 2, .total = 10,
				 .acceptance_status = ACCEPTANCE_STATUS_PENDING_DEPLOY };
	struct transition_settings set = { .is_current = true, .env_state = ENV_STATE_NORMAL,
					   .success_threshold = 10000, .stuck_threshold_s = 600 };
	struct transition_counts c = { .total = 10, .succeeded = 2 };
	struct transition_result res;

	assert_int_equal(engine_transition(&d, &set, NULL, &c, NOW + 30000, &res), 0);
	assert_false(res.write);
	assert_int_equal(res.state, DEPLOY_STATE_FAILING);
	assert_false(res.now_failing);
}

static void test_count_rows(void **state)
{
	struct agent_row rows[] = {
		{ .deploy_id = "D", .deploy_stage = DEPLOY_STAGE_SERVING_BUILD, .state = AGENT_STATE_NORMAL },
		{ .deploy_id = "D", .deploy_stage = DEPLOY_STAGE_STOPPED, .state = AGENT_STATE_STOP },
		{ .deploy_id = "D", .deploy_stage = DEPLOY_STAGE_SERVING_BUILD, .state = AGENT_STATE_PAUSED_BY_SYSTEM },
		{ .deploy_id = "D", .deploy_stage = DEPLOY_STAGE_SERVING_BUILD, .state = AGENT_STATE_PAUSED_BY_USER },
		{ .deploy_id = "D", .deploy_stage = DEPLOY_STAGE_SERVING_BUILD, .state = AGENT_STATE_UNREACHABLE },
		{ .deploy_id = "D", .deploy_stage = DEPLOY_STAGE_STAGING, .state = AGENT_STATE_NORMAL },
		{ .deploy_id = "D", .deploy_stage = DEPLOY_STAGE_SERVING_BUILD, .state = AGENT_STATE_NORMAL,
		  .removed = true },
		{ .deploy_id = "D", .deploy_stage = DEPLOY_STAGE_STOPPING, .state = AGENT_STATE_STOP, .removed = true },
		{ .deploy_id = "OLD", .deploy_stage = DEPLOY_STAGE_SERVING_BUILD, .state = AGENT_STATE_NORMAL },
		{ .deploy_id = "D", .deploy_stage = DEPLOY_STAGE_STAGING, .state = AGENT_STATE_DELETE },
	};
	struct transition_counts c = { 0 };

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		engine_transition_count_row(&c, &rows[i], "D");
	assert_int_equal(c.total, 6); /* 10 minus UNREACHABLE, DELETE and 2 removed */
	assert_int_equal(c.succeeded, 2);  /* serving NORMAL + STOPPED */
	assert_int_equal(c.failed, 1);
	assert_int_equal(c.schedule_done, 4); /* serving normal, paused sys, paused user, unreachable serving */
	assert_int_equal(c.on_deploy, 9);
}

static void test_schedule(void **state)
{
	struct deploy_view d = { .type = DEPLOY_TYPE_REGULAR, .state = DEPLOY_STATE_RUNNING,
				 .last_update_date = NOW, .acceptance_status = ACCEPTANCE_STATUS_PENDING_DEPLOY };
	struct transition_settings set = { .is_current = true, .env_state = ENV_STATE_NORMAL,
					   .success_threshold = 10000, .stuck_threshold_s = 600 };
	struct schedule_view s = { .present = true, .state = SCHEDULE_STATE_RUNNING, .current_session = 1,
				   .total_sessions = 2, .cooldown_times = "5,-1", .host_numbers = "2,3",
				   .state_start_time = NOW - 1000 };
	struct transition_counts c = { .total = 10, .schedule_done = 1 };
	struct transition_result res;
	int v = 0;

	/* session hosts: plain numbers are cumulative, N% is a share of the whole stage rounded up */
	assert_int_equal(engine_schedule_session_hosts("2,3", 1, 10, &v), 0);
	assert_int_equal(v, 2);
	assert_int_equal(engine_schedule_session_hosts("2,3", 2, 10, &v), 0);
	assert_int_equal(v, 5);
	assert_int_equal(engine_schedule_session_hosts("2, 15%", 2, 10, &v), 0);
	assert_int_equal(v, 2);
	assert_int_equal(engine_schedule_session_hosts("100%", 1, 7, &v), 0);
	assert_int_equal(v, 7);
	assert_int_equal(engine_schedule_session_hosts("2,3", 3, 10, &v), -EINVAL);
	assert_int_equal(engine_schedule_session_hosts("x", 1, 10, &v), -EINVAL);
	assert_int_equal(engine_schedule_session_hosts("101%", 1, 10, &v), -EINVAL);

	/* RUNNING below the session count: unchanged */
	assert_int_equal(engine_transition(&d, &set, &s, &c, NOW, &res), 0);
	assert_false(res.schedule_changed);
	/* reached: COOLING_DOWN */
	c.schedule_done = 2;
	assert_int_equal(engine_transition(&d, &set, &s, &c, NOW, &res), 0);
	assert_true(res.schedule_changed);
	assert_int_equal(res.schedule_state, SCHEDULE_STATE_COOLING_DOWN);
	assert_true(res.schedule_start == NOW);
	/* cooling down 5 min: not yet, then RUNNING session 2 */
	s.state = SCHEDULE_STATE_COOLING_DOWN;
	s.state_start_time = NOW - 5 * MIN + 1;
	assert_int_equal(engine_transition(&d, &set, &s, &c, NOW, &res), 0);
	assert_false(res.schedule_changed);
	s.state_start_time = NOW - 5 * MIN;
	assert_int_equal(engine_transition(&d, &set, &s, &c, NOW, &res), 0);
	assert_true(res.schedule_changed);
	assert_int_equal(res.schedule_state, SCHEDULE_STATE_RUNNING);
	assert_int_equal(res.schedule_current, 2);
	/* session 2's cooldown is negative: waits for the override */
	s.current_session = 2;
	s.state_start_time = NOW - 1000 * MIN;
	assert_int_equal(engine_transition(&d, &set, &s, &c, NOW, &res), 0);
	assert_false(res.schedule_changed);
	/* last session with a positive cooldown -> FINAL */
	s.cooldown_times = "5,0";
	assert_int_equal(engine_transition(&d, &set, &s, &c, NOW, &res), 0);
	assert_true(res.schedule_changed);
	assert_int_equal(res.schedule_state, SCHEDULE_STATE_FINAL);

	/* admission gate */
	s.state = SCHEDULE_STATE_COOLING_DOWN;
	assert_false(engine_schedule_admits(&s, 0, 10));
	s.state = SCHEDULE_STATE_RUNNING;
	s.current_session = 1;
	s.host_numbers = "2,3";
	assert_true(engine_schedule_admits(&s, 1, 10));
	assert_false(engine_schedule_admits(&s, 2, 10));
	s.state = SCHEDULE_STATE_FINAL;
	assert_true(engine_schedule_admits(&s, 100, 10));
	s.state = SCHEDULE_STATE_NOT_STARTED;
	assert_true(engine_schedule_admits(&s, 100, 10));
	assert_true(engine_schedule_admits(NULL, 100, 10));
}

static void test_finalise(void **state)
{
	int st, acc;

	engine_finalise_deploy(DEPLOY_STATE_FAILING, ACCEPTANCE_STATUS_OUTSTANDING, &st, &acc);
	assert_int_equal(st, DEPLOY_STATE_ABORTED);
	assert_int_equal(acc, ACCEPTANCE_STATUS_TERMINATED);
	engine_finalise_deploy(DEPLOY_STATE_SUCCEEDING, ACCEPTANCE_STATUS_REJECTED, &st, &acc);
	assert_int_equal(st, DEPLOY_STATE_SUCCEEDED);
	assert_int_equal(acc, ACCEPTANCE_STATUS_REJECTED);
	assert_false(engine_auto_rollback_allowed(DEPLOY_TYPE_ROLLBACK));
	assert_false(engine_auto_rollback_allowed(DEPLOY_TYPE_RESTART));
	assert_true(engine_auto_rollback_allowed(DEPLOY_TYPE_REGULAR));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_transition_table),
		cmocka_unit_test(test_transition_stuck_stays_failing),
		cmocka_unit_test(test_count_rows),
		cmocka_unit_test(test_schedule),
		cmocka_unit_test(test_finalise),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
