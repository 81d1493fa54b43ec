/* SPDX-License-Identifier: Apache-2.0 */
/* tests/unit/agent/test-decide.c: the agent's decisions: work in an answer, plan changes (§10.5), and the
 * retry policy of steps (§10.3) and failed pings. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "decide.h"
#include "enums.h"
#include "util.h"
#include "banned.h"

static char E1[] = "E1", E2[] = "E2", D1[] = "D1", D2[] = "D2", SOMETHING[] = "SOMETHING",
	    TERMINATE[] = "terminate";

static struct deploy_goal goal(char *env_id, char *deploy_id, int stage)
{
	struct deploy_goal g;

	deploy_goal_init(&g);
	g.env_id = env_id;
	g.deploy_id = deploy_id;
	g.deploy_stage = stage;
	return g;
}

static void test_work_and_delete(void **state)
{
	struct deploy_goal g = goal(E1, D1, DEPLOY_STAGE_RESTARTING);
	struct ping_response r = { .op_code = OP_CODE_DEPLOY, .goal = &g };

	(void)state;
	assert_true(decide_has_work(&r));
	r.op_code = OP_CODE_NOOP;
	assert_false(decide_has_work(&r));
	r.op_code = OP_CODE_WAIT;
	assert_false(decide_has_work(&r));
	r.op_code = OP_CODE_DEPLOY;
	r.goal = NULL;
	assert_false(decide_has_work(&r));
	/* an unknown opCode with a goal is work (run like DEPLOY) */
	r = (struct ping_response){ .op_code = -EINVAL, .op_code_raw = SOMETHING, .goal = &g };
	assert_true(decide_has_work(&r));
	assert_false(decide_is_delete(&r));
	r.op_code_raw = TERMINATE; /* upstream's TERMINATE, any case */
	assert_true(decide_is_delete(&r));
	r = (struct ping_response){ .op_code = OP_CODE_DELETE };
	assert_true(decide_is_delete(&r));
}

static void test_plan_changed(void **state)
{
	struct step_origin o = { .env_id = E1, .deploy_id = D1, .deploy_stage = DEPLOY_STAGE_RESTARTING,
				 .op_code = OP_CODE_DEPLOY };
	struct deploy_goal same = goal(E1, D1, DEPLOY_STAGE_RESTARTING);
	struct deploy_goal other_deploy = goal(E1, D2, DEPLOY_STAGE_RESTARTING);
	struct deploy_goal other_env = goal(E2, D1, DEPLOY_STAGE_RESTARTING);
	struct deploy_goal other_stage = goal(E1, D1, DEPLOY_STAGE_POST_RESTART);
	struct ping_response r = { .op_code = OP_CODE_DEPLOY, .goal = &same };

	(void)state;
	assert_false(decide_plan_changed(&o, &r)); /* the heartbeat's answer repeats the goal */
	r.goal = &other_deploy;
	assert_true(decide_plan_changed(&o, &r));
	r.goal = &other_env;
	assert_true(decide_plan_changed(&o, &r));
	r.goal = &other_stage;
	assert_true(decide_plan_changed(&o, &r));
	/* NOOP and WAIT never abort, whatever goal they carry */
	r = (struct ping_response){ .op_code = OP_CODE_NOOP, .goal = NULL };
	assert_false(decide_plan_changed(&o, &r));
	r = (struct ping_response){ .op_code = OP_CODE_WAIT, .goal = &other_deploy };
	assert_false(decide_plan_changed(&o, &r));
	/* DELETE always does; STOP does unless the step is a STOP itself */
	r = (struct ping_response){ .op_code = OP_CODE_DELETE, .goal = NULL };
	assert_true(decide_plan_changed(&o, &r));
	r = (struct ping_response){ .op_code = OP_CODE_STOP, .goal = &same };
	assert_true(decide_plan_changed(&o, &r));
	o.op_code = OP_CODE_STOP;
	assert_false(decide_plan_changed(&o, &r));
	/* a missing env id on either side is a change only when the other has one */
	o.env_id = NULL;
	r = (struct ping_response){ .op_code = OP_CODE_STOP, .goal = &same };
	assert_true(decide_plan_changed(&o, &r));
}

static void test_step_retry_policy(void **state)
{
	struct step_limits l = { .max_retry = 3, .backoff_s = 2, .backoff_factor = 3, .backoff_max_s = 10 };
	struct proc_result pr;

	(void)state;
	assert_int_equal(retry_backoff_ms(&l, 1), 2000);
	assert_int_equal(retry_backoff_ms(&l, 2), 6000);
	assert_int_equal(retry_backoff_ms(&l, 3), 10000); /* 18 s capped */
	assert_int_equal(retry_backoff_ms(&l, 50), 10000);
	l.backoff_s = 0;
	assert_int_equal(retry_backoff_ms(&l, 4), 0);
	assert_false(retry_exhausted(&l, 1));
	assert_false(retry_exhausted(&l, 2));
	assert_true(retry_exhausted(&l, 3));
	l.max_retry = 1;
	assert_true(retry_exhausted(&l, 1));

	pr = (struct proc_result){ .status = PROC_EXITED, .code = 7 };
	assert_int_equal(retry_attempt_code(&pr, 1), 7);
	pr = (struct proc_result){ .status = PROC_SIGNALED, .code = 9 };
	assert_int_equal(retry_attempt_code(&pr, 1), -9);
	pr = (struct proc_result){ .status = PROC_EXEC_FAILED, .code = 127 };
	assert_int_equal(retry_attempt_code(&pr, 1), 127);
	pr = (struct proc_result){ .status = PROC_EXITED, .code = 0 };
	assert_int_equal(retry_attempt_code(&pr, 1), 1);
}

static void test_ping_backoff(void **state)
{
	struct ping_backoff b;

	(void)state;
	b = ping_backoff_after_failure(2000, 2, 60000);
	assert_int_equal(b.wait_min_ms, 1000);
	assert_int_equal(b.wait_max_ms, 2000);
	assert_int_equal(b.next_base_ms, 4000);
	b = ping_backoff_after_failure(40000, 2, 60000);
	assert_int_equal(b.next_base_ms, 60000);
	b = ping_backoff_after_failure(0, 2, 60000); /* backoff = 0 still waits about a second */
	assert_int_equal(b.wait_min_ms, 500);
	assert_int_equal(b.wait_max_ms, 1000);
	assert_int_equal(b.next_base_ms, 2000);
}

static void test_ping_retry_after(void **state)
{
	struct ping_backoff b;

	(void)state;
	/* Retry-After: 0, a server that is stopping: again within a second; the failure backoff does not grow */
	b = ping_backoff_retry_after(0, 8000, 60000);
	assert_int_equal(b.wait_min_ms, 0);
	assert_int_equal(b.wait_max_ms, 1000);
	assert_int_equal(b.next_base_ms, 8000);
	/* an overloaded server's 10 s: at least that, spread over half as much again */
	b = ping_backoff_retry_after(10000, 2000, 60000);
	assert_int_equal(b.wait_min_ms, 10000);
	assert_int_equal(b.wait_max_ms, 15000);
	assert_int_equal(b.next_base_ms, 2000);
	/* a short one is spread over at least a second */
	b = ping_backoff_retry_after(1000, 2000, 60000);
	assert_int_equal(b.wait_min_ms, 1000);
	assert_int_equal(b.wait_max_ms, 2000);
	/* never more than backoff_max */
	b = ping_backoff_retry_after(3600000, 2000, 60000);
	assert_int_equal(b.wait_min_ms, 60000);
	assert_int_equal(b.wait_max_ms, 60000);
	b = ping_backoff_retry_after(50000, 2000, 60000);
	assert_int_equal(b.wait_min_ms, 50000);
	assert_int_equal(b.wait_max_ms, 60000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_work_and_delete),
		cmocka_unit_test(test_plan_changed),
		cmocka_unit_test(test_step_retry_policy),
		cmocka_unit_test(test_ping_backoff),
		cmocka_unit_test(test_ping_retry_after),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
