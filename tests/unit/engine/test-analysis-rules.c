/* SPDX-License-Identifier: Apache-2.0 */
/* tests/unit/engine/test-analysis-rules.c: the Prometheus analysis rules: verdicts, counting, phases and the
 * placeholders of a query. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "analysis_rules.h"
#include "enums.h"

static void test_judge_and_count(void **state)
{
	json_t *q = json_pack("{s:s,s:f,s:f}", "name", "e", "min", 0.1, "max", 0.5);
	json_t *open_max = json_pack("{s:s,s:f,s:n}", "name", "e", "min", 0.1, "max");

	(void)state;
	assert_int_equal(engine_analysis_judge(q, true, 0.1, false), ENGINE_ANALYSIS_PASS);
	assert_int_equal(engine_analysis_judge(q, true, 0.5, false), ENGINE_ANALYSIS_PASS);
	assert_int_equal(engine_analysis_judge(q, true, 0.51, false), ENGINE_ANALYSIS_FAIL);
	assert_int_equal(engine_analysis_judge(q, true, 0.09, false), ENGINE_ANALYSIS_FAIL);
	assert_int_equal(engine_analysis_judge(open_max, true, 1e9, false), ENGINE_ANALYSIS_PASS);
	assert_int_equal(engine_analysis_judge(q, false, 0, false), ENGINE_ANALYSIS_NO_DATA);
	assert_int_equal(engine_analysis_judge(q, true, NAN, false), ENGINE_ANALYSIS_NO_DATA);
	assert_int_equal(engine_analysis_judge(q, false, 0, true), ENGINE_ANALYSIS_FAIL);
	assert_int_equal(engine_analysis_count(2, ENGINE_ANALYSIS_FAIL), 3);
	assert_int_equal(engine_analysis_count(2, ENGINE_ANALYSIS_NO_DATA), 2);
	assert_int_equal(engine_analysis_count(2, ENGINE_ANALYSIS_PASS), 0);
	assert_string_equal(engine_analysis_verdict_name(ENGINE_ANALYSIS_NO_DATA), "NO_DATA");
	json_decref(q);
	json_decref(open_max);
}

static void test_phase(void **state)
{
	(void)state;
	assert_int_equal(engine_analysis_phase(DEPLOY_STATE_RUNNING, 0, 60, 1000), ENGINE_ANALYSIS_EVALUATE);
	assert_int_equal(engine_analysis_phase(DEPLOY_STATE_FAILING, 0, 60, 1000), ENGINE_ANALYSIS_EVALUATE);
	assert_int_equal(engine_analysis_phase(DEPLOY_STATE_SUCCEEDING, 1000, 60, 60999), ENGINE_ANALYSIS_EVALUATE);
	assert_int_equal(engine_analysis_phase(DEPLOY_STATE_SUCCEEDING, 1000, 60, 61000), ENGINE_ANALYSIS_DONE);
	assert_int_equal(engine_analysis_phase(DEPLOY_STATE_SUCCEEDED, 1000, 60, 2000), ENGINE_ANALYSIS_IDLE);
	assert_int_equal(engine_analysis_phase(DEPLOY_STATE_ABORTED, 0, 60, 2000), ENGINE_ANALYSIS_IDLE);
}

static void test_substitute(void **state)
{
	const char *const v[5] = { "web", "prod", "B1", "D1", NULL };
	char *s = engine_analysis_substitute("x{e=\"${ENV}\",s=\"${STAGE}\",b=\"${BUILD_ID}\",d=\"${DEPLOY_ID}\","
					     "c=\"${COMMIT}\"} ${OTHER} $", v);

	(void)state;
	assert_string_equal(s, "x{e=\"web\",s=\"prod\",b=\"B1\",d=\"D1\",c=\"\"} ${OTHER} $");
	free(s);
}

static void test_check_defaults(void **state)
{
	json_t *in = json_pack("{s:[{s:s,s:s,s:i}]}", "queries", "name", "e", "query", "up", "max", 1), *out = NULL;
	char field[64], msg[256];

	(void)state;
	assert_int_equal(engine_analysis_check(in, &out, field, sizeof(field), msg, sizeof(msg)), 0);
	assert_int_equal(json_integer_value(json_object_get(out, "intervalSeconds")), 60);
	assert_true(json_is_null(json_object_get(json_array_get(json_object_get(out, "queries"), 0), "min")));
	json_decref(out);
	json_decref(in);
	in = json_pack("{s:[{s:s,s:s,s:i,s:i}]}", "queries", "name", "e", "query", "up", "min", 2, "max", 1);
	assert_int_equal(engine_analysis_check(in, &out, field, sizeof(field), msg, sizeof(msg)), -EINVAL);
	assert_string_equal(field, "queries[0].min");
	json_decref(in);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_judge_and_count),
		cmocka_unit_test(test_phase),
		cmocka_unit_test(test_substitute),
		cmocka_unit_test(test_check_defaults),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
