/* SPDX-License-Identifier: Apache-2.0 */
/* tests/unit/engine/test-outcome.c: the outcome of a deploy (engine/outcome.c), as a table of named cases. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "engine.h"
#include "enums.h"
#include "outcome.h"

#define S(x) DEPLOY_STATE_##x
#define T(x) DEPLOY_TYPE_##x
#define O(x) DEPLOY_OUTCOME_##x

struct outcome_case {
	const char *name;
	struct deploy_outcome_facts in;
	int want;
};

static const struct outcome_case cases[] = {
	{ "current and running", { S(RUNNING), 3, 0, -1, -1 }, O(RUNNING) },
	{ "current, running with a failed host", { S(RUNNING), 3, 1, -1, -1 }, O(RUNNING) },
	{ "current and failing", { S(FAILING), 3, 2, -1, -1 }, O(FAILED) },
	{ "current and succeeding", { S(SUCCEEDING), 3, 0, -1, -1 }, O(SUCCEEDED) },
	{ "succeeding with no host", { S(SUCCEEDING), 0, 0, -1, -1 }, O(NO_HOSTS) },
	{ "succeeded, then replaced", { S(SUCCEEDED), 3, 0, S(SUCCEEDING), T(REGULAR) }, O(SUCCEEDED) },
	{ "succeeded with no host, then replaced", { S(SUCCEEDED), 0, 0, S(SUCCEEDING), T(REGULAR) }, O(NO_HOSTS) },
	{ "succeeded, rolled back by hand", { S(SUCCEEDED), 3, 0, S(SUCCEEDING), T(ROLLBACK) }, O(SUCCEEDED) },
	{ "succeeded with a failed host, rolled back", { S(SUCCEEDED), 3, 1, S(SUCCEEDING), T(ROLLBACK) },
	  O(ROLLED_BACK) },
	{ "failing, rolled back", { S(ABORTED), 3, 2, S(FAILING), T(ROLLBACK) }, O(ROLLED_BACK) },
	{ "failing with no failed count yet, rolled back", { S(ABORTED), 3, 0, S(FAILING), T(ROLLBACK) },
	  O(ROLLED_BACK) },
	{ "running with a failed host, rolled back", { S(ABORTED), 3, 1, S(RUNNING), T(ROLLBACK) }, O(ROLLED_BACK) },
	{ "running, rolled back without failures", { S(ABORTED), 3, 0, S(RUNNING), T(ROLLBACK) }, O(REPLACED) },
	{ "failing, replaced by a regular deploy", { S(ABORTED), 3, 2, S(FAILING), T(REGULAR) }, O(FAILED) },
	{ "running, replaced by a regular deploy", { S(ABORTED), 3, 0, S(RUNNING), T(REGULAR) }, O(REPLACED) },
	{ "running with a failed host, replaced", { S(ABORTED), 3, 1, S(RUNNING), T(RESTART) }, O(REPLACED) },
	{ "aborted before the state was recorded, failed hosts, replaced", { S(ABORTED), 3, 1, -1, T(REGULAR) },
	  O(FAILED) },
	{ "aborted before the state was recorded, replaced", { S(ABORTED), 3, 0, -1, T(HOTFIX) }, O(REPLACED) },
	{ "aborted before the state was recorded, rolled back", { S(ABORTED), 3, 1, -1, T(ROLLBACK) },
	  O(ROLLED_BACK) },
};

static void test_outcomes(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int got = engine_deploy_outcome(&cases[i].in);

		if (got != cases[i].want)
			fail_msg("%s: %s (want %s)", cases[i].name, deploy_outcome_to_string(got),
				 deploy_outcome_to_string(cases[i].want));
	}
}

/* the wire names are the contract's */
static void test_names(void **state)
{
	static const char *const names[] = { "RUNNING", "SUCCEEDED", "FAILED", "ROLLED_BACK", "REPLACED", "NO_HOSTS" };

	(void)state;
	for (int i = 0; i < (int)(sizeof(names) / sizeof(names[0])); i++) {
		assert_string_equal(deploy_outcome_to_string(i), names[i]);
		assert_int_equal(deploy_outcome_from_string(names[i]), i);
	}
	assert_null(deploy_outcome_to_string(6));
}

/* a host's error is over when it finished a deploy: serving (or stopped) with SUCCEEDED */
static void test_clears_error(void **state)
{
	struct agent_row row = { .deploy_stage = DEPLOY_STAGE_SERVING_BUILD, .status = AGENT_STATUS_SUCCEEDED };

	(void)state;
	assert_true(engine_row_clears_error(&row));
	row.deploy_stage = DEPLOY_STAGE_STOPPED;
	assert_true(engine_row_clears_error(&row));
	row.deploy_stage = DEPLOY_STAGE_DOWNLOADING;
	assert_false(engine_row_clears_error(&row));
	row.deploy_stage = DEPLOY_STAGE_SERVING_BUILD;
	row.status = AGENT_STATUS_SCRIPT_FAILED;
	assert_false(engine_row_clears_error(&row));
	row.status = AGENT_STATUS_UNKNOWN;
	assert_false(engine_row_clears_error(&row));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_outcomes),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_clears_error),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
