/* SPDX-License-Identifier: Apache-2.0 */
/* tests/unit/engine/test-cron.c: cron parsing and next-fire computation (PROTOCOL §8.2). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cron.h"

/* 2026-01-01T00:00:00Z is a Thursday */
#define JAN1_2026 1767225600000LL

static int64_t next(const char *expr, int64_t after)
{
	struct cron c;
	char err[128];
	int64_t t = -1;
	assert_int_equal(cron_parse(expr, &c, err, sizeof(err)), 0);
	assert_int_equal(cron_next(&c, after, &t), 0);
	return t;
}

static void test_parse_errors(void **state)
{
	static const char *const bad[] = {
		"* * * * *",	     "0 0 12 * * ? 2026 x", "0 0 12 L * ?",	  "0 0 12 ? * 6#3", "0 0 12 15W * ?",
		"0 0 12 1 * MON",   "60 * * * * ?",	    "0 0 24 * * ?",	  "0 0 0 0 * ?",    "0 0 0 ? 13 *",
		"0 0 0 ? * 8",	     "0 0 0 ? * FOO",	    "0 0 0 ? * */0",	  "0 5-1 * * * ?",  "",
	};
	struct cron c;
	char err[128];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(cron_parse(bad[i], &c, err, sizeof(err)), -EINVAL);
	assert_int_equal(cron_parse("0 0/15 9-17 ? * MON-FRI", &c, err, sizeof(err)), 0);
	assert_int_equal(cron_parse("0 0 12 * JAN,jul ? 2026-2030", &c, err, sizeof(err)), 0);
	/* month and weekday names that contain L or W are names, not Quartz specials */
	assert_int_equal(cron_parse("0 0 12 ? JUL,APR MON-WED", &c, err, sizeof(err)), 0);
	assert_int_equal(cron_parse("0 0 12 ? JUL wed", &c, err, sizeof(err)), 0);
	assert_int_equal(cron_parse("0 0 12 LW * ?", &c, err, sizeof(err)), -EINVAL);
	assert_int_equal(cron_parse("0 0 12 ? * 5L", &c, err, sizeof(err)), -EINVAL);
	assert_int_equal(cron_parse("0 0 12 ? * L", &c, err, sizeof(err)), -EINVAL);
	assert_int_equal(cron_parse("0 0 12 ? * WEDL", &c, err, sizeof(err)), -EINVAL);
	/* both day fields restricted */
	assert_int_equal(cron_parse("0 0 12 1 * 2", &c, err, sizeof(err)), -EINVAL);
	/* a range with a step, '?' alone in the day-of-month field */
	assert_int_equal(cron_parse("0 10-50/20 * ? * *", &c, err, sizeof(err)), 0);
}

static void test_next(void **state)
{
	(void)state;
	/* every minute at second 0 */
	assert_int_equal(next("0 * * * * ?", JAN1_2026 + 1), JAN1_2026 + 60000);
	assert_int_equal(next("0 * * * * ?", JAN1_2026), JAN1_2026);
	/* 12:30 daily */
	assert_int_equal(next("0 30 12 * * ?", JAN1_2026), JAN1_2026 + (12 * 3600 + 30 * 60) * 1000LL);
	/* Mondays at 09:00: 2026-01-05 */
	assert_int_equal(next("0 0 9 ? * MON", JAN1_2026), JAN1_2026 + (4 * 86400 + 9 * 3600) * 1000LL);
	assert_int_equal(next("0 0 9 ? * 2", JAN1_2026), JAN1_2026 + (4 * 86400 + 9 * 3600) * 1000LL);
	/* the 15th of March */
	assert_int_equal(next("0 0 0 15 MAR ?", JAN1_2026), 1773532800000LL);
	/* steps */
	assert_int_equal(next("*/20 * * * * ?", JAN1_2026 + 21000), JAN1_2026 + 40000);
	assert_int_equal(next("5/20 * * * * ?", JAN1_2026 + 26000), JAN1_2026 + 45000);
	/* a range with a step: minutes 10, 30, 50 */
	assert_int_equal(next("0 10-50/20 * ? * *", JAN1_2026 + 11 * 60000), JAN1_2026 + 30 * 60000);
	/* Wednesdays in July 2026: the 1st is a Wednesday */
	assert_int_equal(next("0 0 0 ? JUL WED", JAN1_2026), 1782864000000LL);
	/* a year in the past never fires */
	{
		struct cron c;
		char err[64];
		int64_t t;
		assert_int_equal(cron_parse("0 0 0 1 1 ? 2020", &c, err, sizeof(err)), 0);
		assert_int_equal(cron_next(&c, JAN1_2026, &t), -ENOENT);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_next),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
