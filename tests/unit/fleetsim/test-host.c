/* SPDX-License-Identifier: Apache-2.0 */
/* tests/unit/fleetsim/test-host.c: the simulated host's state machine: every opCode, the deploy path, failure
 * injection at a stage, the jittered schedule (interval, long-poll, backoff, Retry-After) and its report. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "enums.h"
#include "host.h"
#include "util.h"
#include "banned.h"

static char ENV1[] = "envid1", ENV2[] = "envid2", NAME1[] = "web", NAME2[] = "api", DEP1[] = "dep1",
	    DEP2[] = "dep2", TERMINATE[] = "Terminate", OTHER[] = "SOMETHING";

static const struct sim_config CFG = {
	.interval_ms = 10000,
	.wait_s = 0,
	.script_ms = 500,
	.fail_rate = 0,
	.fail_stage = -1,
	.backoff_ms = 2000,
	.backoff_max_ms = 60000,
};

struct fixture {
	struct sim_host h;
	struct sim_config c;
	struct sim_strings t;
	struct sim_rng rng;
	int64_t now;
};

static int setup(void **state)
{
	static struct fixture f;

	memset(&f, 0, sizeof(f));
	f.c = CFG;
	f.rng.s = 42;
	f.now = 1000000;
	sim_host_init(&f.h, &f.c, &f.rng, f.now);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	sim_strings_release(&f->t);
	return 0;
}

/* Send a ping and answer it with (op, goal of env/deploy/stage). Returns the event. */
static enum sim_event answer(struct fixture *f, int op, char *env_id, char *env_name, char *deploy_id, int stage,
			     bool held)
{
	struct deploy_goal g;
	struct ping_response resp = { .op_code = op, .goal = NULL };
	enum sim_event ev = SIM_EV_NONE;

	deploy_goal_init(&g);
	g.env_id = env_id;
	g.env_name = env_name;
	g.deploy_id = deploy_id;
	g.deploy_stage = stage;
	if (env_id || env_name)
		resp.goal = &g;
	(void)sim_host_ping_start(&f->h, &f->c);
	assert_int_equal(f->h.phase, SIM_PINGING);
	assert_int_equal(sim_host_on_answer(&f->h, &f->c, &f->t, &f->rng, &resp, held, f->now, &ev), 0);
	return ev;
}

static void assert_report(struct fixture *f, const char *env_id, const char *deploy_id, int stage, int status,
			  int fail_count)
{
	struct ping_report rep;

	assert_true(sim_host_report(&f->h, &f->t, &rep));
	assert_string_equal(rep.env_id, env_id);
	assert_string_equal(rep.deploy_id, deploy_id);
	assert_int_equal(rep.deploy_stage, stage);
	assert_int_equal(rep.agent_status, status);
	assert_int_equal(rep.fail_count, fail_count);
	if (status == AGENT_STATUS_SCRIPT_FAILED) {
		assert_int_not_equal(rep.error_code, 0);
		assert_non_null(rep.error_message);
	} else {
		assert_int_equal(rep.error_code, 0);
		assert_null(rep.error_message);
	}
}

static void test_start_and_idle_schedule(void **state)
{
	struct fixture *f = *state;
	struct ping_report rep;
	int64_t lo = INT64_MAX, hi = 0;

	assert_int_equal(f->h.phase, SIM_IDLE);
	assert_in_range(f->h.due_ms, f->now, f->now + CFG.interval_ms);
	assert_false(sim_host_report(&f->h, &f->t, &rep)); /* a new host reports no env */
	/* NOOP to an idle ping without long-poll: the next one after the interval ±10 % */
	for (int i = 0; i < 2000; i++) {
		assert_int_equal(answer(f, OP_CODE_NOOP, NULL, NULL, NULL, 0, false), SIM_EV_NONE);
		assert_int_equal(f->h.phase, SIM_IDLE);
		assert_in_range(f->h.due_ms - f->now, 9000, 11000);
		lo = f->h.due_ms - f->now < lo ? f->h.due_ms - f->now : lo;
		hi = f->h.due_ms - f->now > hi ? f->h.due_ms - f->now : hi;
	}
	/* jittered: the waits spread over the whole window */
	assert_true(lo < 9200 && hi > 10800);
	/* WAIT is an idle answer too */
	assert_int_equal(answer(f, OP_CODE_WAIT, ENV1, NAME1, DEP1, DEPLOY_STAGE_PRE_DOWNLOAD, false), SIM_EV_NONE);
	assert_int_equal(f->h.phase, SIM_IDLE);
	assert_false(sim_host_report(&f->h, &f->t, &rep));
}

static void test_long_poll(void **state)
{
	struct fixture *f = *state;

	f->c.wait_s = 30;
	/* an idle ping asks for the wait; the server held it: re-ping within a second */
	assert_int_equal(sim_host_ping_start(&f->h, &f->c), 30);
	assert_int_equal(sim_host_on_answer(&f->h, &f->c, &f->t, &f->rng,
					    &(struct ping_response){ .op_code = OP_CODE_NOOP }, true, f->now,
					    &(enum sim_event){ 0 }),
			 0);
	assert_in_range(f->h.due_ms - f->now, 0, 1000);
	/* answered early (the server does not hold): polling mode, the interval */
	answer(f, OP_CODE_NOOP, NULL, NULL, NULL, 0, false);
	assert_in_range(f->h.due_ms - f->now, 9000, 11000);
	/* a report ping never carries the wait */
	answer(f, OP_CODE_DEPLOY, ENV1, NAME1, DEP1, DEPLOY_STAGE_PRE_DOWNLOAD, false);
	sim_host_script_done(&f->h, f->now + 500);
	assert_int_equal(sim_host_ping_start(&f->h, &f->c), 0);
}

static void test_deploy_path(void **state)
{
	struct fixture *f = *state;
	int stage = DEPLOY_STAGE_PRE_DOWNLOAD;

	/* every stage of the path: run for script_ms, report SUCCEEDED at once, get the next stage */
	for (int n = 0; n < 8; n++) {
		assert_int_equal(answer(f, OP_CODE_DEPLOY, ENV1, NAME1, DEP1, stage, false), SIM_EV_GOAL);
		assert_int_equal(f->h.phase, SIM_RUNNING);
		assert_int_equal(f->h.due_ms, f->now + 500);
		assert_report(f, ENV1, DEP1, stage, AGENT_STATUS_UNKNOWN, 0); /* a heartbeat would say UNKNOWN */
		f->now += 500;
		sim_host_script_done(&f->h, f->now);
		assert_int_equal(f->h.phase, SIM_REPORT);
		assert_int_equal(f->h.due_ms, f->now);
		assert_report(f, ENV1, DEP1, stage, AGENT_STATUS_SUCCEEDED, 0);
		if (stage != DEPLOY_STAGE_SERVING_BUILD)
			stage = deploy_stage_next(stage);
	}
	assert_int_equal(stage, DEPLOY_STAGE_SERVING_BUILD);
	/* the NOOP after SERVING_BUILD ends the pass; the report stays */
	answer(f, OP_CODE_NOOP, NULL, NULL, NULL, 0, false);
	assert_int_equal(f->h.phase, SIM_IDLE);
	assert_report(f, ENV1, DEP1, DEPLOY_STAGE_SERVING_BUILD, AGENT_STATUS_SUCCEEDED, 0);
	/* strings are interned, not copied per host */
	assert_int_equal(f->t.n, 2 + 0 + 1); /* envid1, web, dep1 */
}

static void test_other_opcodes_run_the_stage(void **state)
{
	struct fixture *f = *state;
	const int ops[] = { OP_CODE_RESTART, OP_CODE_ROLLBACK, OP_CODE_STOP, -EINVAL };
	const int stages[] = { DEPLOY_STAGE_RESTARTING, DEPLOY_STAGE_DOWNLOADING, DEPLOY_STAGE_STOPPING,
			       DEPLOY_STAGE_STAGING };

	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		struct deploy_goal g;
		struct ping_response resp = { .op_code = ops[i], .op_code_raw = ops[i] < 0 ? OTHER : NULL, .goal = &g };
		enum sim_event ev;

		deploy_goal_init(&g);
		g.env_id = ENV1;
		g.env_name = NAME1;
		g.deploy_id = DEP2;
		g.deploy_stage = stages[i];
		(void)sim_host_ping_start(&f->h, &f->c);
		assert_int_equal(sim_host_on_answer(&f->h, &f->c, &f->t, &f->rng, &resp, false, f->now, &ev), 0);
		assert_int_equal(ev, SIM_EV_GOAL);
		assert_int_equal(f->h.phase, SIM_RUNNING);
		sim_host_script_done(&f->h, f->now);
		assert_report(f, ENV1, DEP2, stages[i], AGENT_STATUS_SUCCEEDED, 0);
	}
}

static void test_delete(void **state)
{
	struct fixture *f = *state;
	struct ping_report rep;
	struct ping_response resp = { .op_code = -EINVAL, .op_code_raw = TERMINATE };
	struct deploy_goal g;
	enum sim_event ev;

	answer(f, OP_CODE_DEPLOY, ENV1, NAME1, DEP1, DEPLOY_STAGE_PRE_DOWNLOAD, false);
	sim_host_script_done(&f->h, f->now);
	/* a DELETE for an env the host does not have: ignored, but the agent pings again at once */
	assert_int_equal(answer(f, OP_CODE_DELETE, ENV2, NAME2, NULL, DEPLOY_STAGE_UNKNOWN, false), SIM_EV_DELETE);
	assert_int_equal(f->h.phase, SIM_REPORT);
	assert_report(f, ENV1, DEP1, DEPLOY_STAGE_PRE_DOWNLOAD, AGENT_STATUS_SUCCEEDED, 0);
	/* DELETE naming the env (by id): forgotten, the next ping reports nothing */
	assert_int_equal(answer(f, OP_CODE_DELETE, ENV1, NULL, NULL, DEPLOY_STAGE_UNKNOWN, false), SIM_EV_DELETE);
	assert_int_equal(f->h.phase, SIM_REPORT);
	assert_int_equal(f->h.due_ms, f->now);
	assert_false(sim_host_report(&f->h, &f->t, &rep));
	/* upstream's TERMINATE (any case) naming the env by name */
	answer(f, OP_CODE_DEPLOY, ENV1, NAME1, DEP1, DEPLOY_STAGE_PRE_DOWNLOAD, false);
	deploy_goal_init(&g);
	g.env_name = NAME1;
	resp.goal = &g;
	(void)sim_host_ping_start(&f->h, &f->c);
	assert_int_equal(sim_host_on_answer(&f->h, &f->c, &f->t, &f->rng, &resp, false, f->now, &ev), 0);
	assert_int_equal(ev, SIM_EV_DELETE);
	assert_false(sim_host_report(&f->h, &f->t, &rep));
	/* a DELETE without a goal is no work: the pass ends */
	resp = (struct ping_response){ .op_code = OP_CODE_DELETE };
	(void)sim_host_ping_start(&f->h, &f->c);
	assert_int_equal(sim_host_on_answer(&f->h, &f->c, &f->t, &f->rng, &resp, false, f->now, &ev), 0);
	assert_int_equal(ev, SIM_EV_NONE);
	assert_int_equal(f->h.phase, SIM_IDLE);
}

/* --serving: the host reports the deploy it serves from its first ping, and a later deploy's goal replaces it */
static void test_starts_serving(void **state)
{
	struct fixture *f = *state;
	struct ping_report rep;

	sim_host_set_serving(&f->h, sim_intern(&f->t, ENV1), sim_intern(&f->t, DEP1));
	assert_int_equal(f->h.phase, SIM_IDLE);
	assert_report(f, ENV1, DEP1, DEPLOY_STAGE_SERVING_BUILD, AGENT_STATUS_SUCCEEDED, 0);
	assert_null(sim_host_report(&f->h, &f->t, &rep) ? rep.deploy_alias : NULL);
	assert_int_equal(answer(f, OP_CODE_NOOP, NULL, NULL, NULL, 0, false), SIM_EV_NONE);
	assert_report(f, ENV1, DEP1, DEPLOY_STAGE_SERVING_BUILD, AGENT_STATUS_SUCCEEDED, 0);
	assert_int_equal(answer(f, OP_CODE_DEPLOY, ENV1, NAME1, DEP2, DEPLOY_STAGE_PRE_DOWNLOAD, false), SIM_EV_GOAL);
	sim_host_script_done(&f->h, f->now);
	assert_report(f, ENV1, DEP2, DEPLOY_STAGE_PRE_DOWNLOAD, AGENT_STATUS_SUCCEEDED, 0);
	/* a DELETE naming the env by id forgets it */
	sim_host_set_serving(&f->h, sim_intern(&f->t, ENV2), sim_intern(&f->t, DEP2));
	assert_int_equal(answer(f, OP_CODE_DELETE, ENV2, NULL, NULL, DEPLOY_STAGE_UNKNOWN, false), SIM_EV_DELETE);
	assert_false(sim_host_report(&f->h, &f->t, &rep));
}

static void test_ignored_goals(void **state)
{
	struct fixture *f = *state;

	/* no envName, or a deployStage this build does not know: the agent logs and ends the pass */
	assert_int_equal(answer(f, OP_CODE_DEPLOY, ENV1, NULL, DEP1, DEPLOY_STAGE_PRE_DOWNLOAD, false), SIM_EV_IGNORED);
	assert_int_equal(f->h.phase, SIM_IDLE);
	assert_int_equal(answer(f, OP_CODE_DEPLOY, ENV1, NAME1, DEP1, -EINVAL, false), SIM_EV_IGNORED);
	assert_int_equal(f->h.phase, SIM_IDLE);
}

static void test_failure_at_a_stage(void **state)
{
	struct fixture *f = *state;
	int stage = DEPLOY_STAGE_PRE_DOWNLOAD;

	f->c.fail_rate = 1.0;
	f->c.fail_stage = DEPLOY_STAGE_STAGING;
	for (; stage != DEPLOY_STAGE_STAGING; stage = deploy_stage_next(stage)) {
		answer(f, OP_CODE_DEPLOY, ENV1, NAME1, DEP1, stage, false);
		sim_host_script_done(&f->h, f->now);
		assert_report(f, ENV1, DEP1, stage, AGENT_STATUS_SUCCEEDED, 0);
	}
	answer(f, OP_CODE_DEPLOY, ENV1, NAME1, DEP1, DEPLOY_STAGE_STAGING, false);
	sim_host_script_done(&f->h, f->now);
	assert_report(f, ENV1, DEP1, DEPLOY_STAGE_STAGING, AGENT_STATUS_SCRIPT_FAILED, 1);
	/* the server asks for the same stage again: it fails again, the count goes on */
	answer(f, OP_CODE_DEPLOY, ENV1, NAME1, DEP1, DEPLOY_STAGE_STAGING, false);
	sim_host_script_done(&f->h, f->now);
	assert_report(f, ENV1, DEP1, DEPLOY_STAGE_STAGING, AGENT_STATUS_SCRIPT_FAILED, 2);
	/* another deploy's stage starts a new count; a rate of 0 never fails */
	f->c.fail_rate = 0;
	answer(f, OP_CODE_DEPLOY, ENV1, NAME1, DEP2, DEPLOY_STAGE_STAGING, false);
	sim_host_script_done(&f->h, f->now);
	assert_report(f, ENV1, DEP2, DEPLOY_STAGE_STAGING, AGENT_STATUS_SUCCEEDED, 0);
}

static void test_failure_rate(void **state)
{
	struct fixture *f = *state;
	int failed = 0;

	f->c.fail_rate = 0.25;
	f->c.fail_stage = -1; /* any stage */
	for (int i = 0; i < 4000; i++) {
		answer(f, OP_CODE_DEPLOY, ENV1, NAME1, DEP1, DEPLOY_STAGE_RESTARTING, false);
		sim_host_script_done(&f->h, f->now);
		failed += f->h.status == AGENT_STATUS_SCRIPT_FAILED;
	}
	assert_in_range(failed, 850, 1150);
}

static void test_ping_failure_backoff(void **state)
{
	struct fixture *f = *state;
	int64_t bases[] = { 2000, 4000, 8000, 16000, 32000, 60000, 60000 };

	answer(f, OP_CODE_DEPLOY, ENV1, NAME1, DEP1, DEPLOY_STAGE_PRE_DOWNLOAD, false);
	sim_host_script_done(&f->h, f->now);
	for (size_t i = 0; i < sizeof(bases) / sizeof(bases[0]); i++) {
		(void)sim_host_ping_start(&f->h, &f->c);
		sim_host_on_failure(&f->h, &f->c, &f->rng, -1, f->now);
		assert_int_equal(f->h.phase, SIM_IDLE);
		assert_in_range(f->h.due_ms - f->now, bases[i] / 2, bases[i]);
	}
	/* the result waits in the next idle ping's report */
	assert_report(f, ENV1, DEP1, DEPLOY_STAGE_PRE_DOWNLOAD, AGENT_STATUS_SUCCEEDED, 0);
	/* an overloaded server's Retry-After is honoured, spread over half of it again */
	(void)sim_host_ping_start(&f->h, &f->c);
	sim_host_on_failure(&f->h, &f->c, &f->rng, 7, f->now);
	assert_in_range(f->h.due_ms - f->now, 7000, 10500);
	/* Retry-After: 0 (a stopping server): again within a second */
	(void)sim_host_ping_start(&f->h, &f->c);
	sim_host_on_failure(&f->h, &f->c, &f->rng, 0, f->now);
	assert_in_range(f->h.due_ms - f->now, 0, 1000);
	/* an answer resets the backoff */
	answer(f, OP_CODE_NOOP, NULL, NULL, NULL, 0, false);
	(void)sim_host_ping_start(&f->h, &f->c);
	sim_host_on_failure(&f->h, &f->c, &f->rng, -1, f->now);
	assert_in_range(f->h.due_ms - f->now, 1000, 2000);
}

static void test_intern_and_size(void **state)
{
	struct fixture *f = *state;
	uint32_t a = sim_intern(&f->t, "x"), b = sim_intern(&f->t, "y");

	assert_int_equal(sim_intern(&f->t, "x"), a);
	assert_int_not_equal(a, b);
	assert_string_equal(sim_string(&f->t, b), "y");
	assert_null(sim_string(&f->t, SIM_NONE));
	assert_int_equal(sim_intern(&f->t, NULL), SIM_NONE);
	/* the per-host budget: a million hosts in well under 1 KB each */
	assert_true(sizeof(struct sim_host) <= 48);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_start_and_idle_schedule, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_poll, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deploy_path, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_opcodes_run_the_stage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ignored_goals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_starts_serving, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failure_at_a_stage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failure_rate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ping_failure_backoff, setup, teardown),
		cmocka_unit_test_setup_teardown(test_intern_and_size, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
