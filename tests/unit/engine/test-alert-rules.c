/* SPDX-License-Identifier: Apache-2.0 */
/* tests/unit/engine/test-alert-rules.c: the answer to an external alert (upstream's alerts resource), as a table
 * of named cases. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "alert_rules.h"
#include "enums.h"

#pragma GCC diagnostic ignored "-Woverride-init"

#define NOW 1800000000000LL
/* a fresh alert about a deploy that started a minute ago and is SUCCEEDING on a NORMAL stage */
#define OK .triggered = true, .triggered_ms = NOW - 1000, .now_ms = NOW, .window_s = 600, .has_deploy = true, \
	   .deploy_start_ms = NOW - 60000, .deploy_state = DEPLOY_STATE_SUCCEEDING, .env_state = ENV_STATE_NORMAL

struct alert_case {
	const char *name;
	struct engine_alert_facts in;
	enum engine_alert_verdict want;
	int status;
};

static const struct alert_case cases[] = {
	{ "fresh alert, succeeding deploy", { OK }, ENGINE_ALERT_ACT, 200 },
	{ "failing deploy", { OK, .deploy_state = DEPLOY_STATE_FAILING }, ENGINE_ALERT_ACT, 200 },
	{ "not triggered", { OK, .triggered = false }, ENGINE_ALERT_NOT_TRIGGERED, 304 },
	{ "not triggered wins over no deploy", { OK, .triggered = false, .has_deploy = false },
	  ENGINE_ALERT_NOT_TRIGGERED, 304 },
	{ "triggered 5 minutes ago exactly", { OK, .triggered_ms = NOW - ENGINE_ALERT_FRESH_MS }, ENGINE_ALERT_ACT, 200 },
	{ "triggered over 5 minutes ago", { OK, .triggered_ms = NOW - ENGINE_ALERT_FRESH_MS - 1 }, ENGINE_ALERT_STALE,
	  304 },
	{ "no deploy", { OK, .has_deploy = false }, ENGINE_ALERT_NO_DEPLOY, 204 },
	{ "deploy started at the window's edge", { OK, .deploy_start_ms = NOW - 600000 }, ENGINE_ALERT_ACT, 200 },
	{ "deploy started before the window", { OK, .deploy_start_ms = NOW - 600001 }, ENGINE_ALERT_OUTSIDE_WINDOW,
	  200 },
	{ "running deploy", { OK, .deploy_state = DEPLOY_STATE_RUNNING }, ENGINE_ALERT_DEPLOY_SETTLED, 200 },
	{ "succeeded deploy", { OK, .deploy_state = DEPLOY_STATE_SUCCEEDED }, ENGINE_ALERT_DEPLOY_SETTLED, 200 },
	{ "paused stage", { OK, .env_state = ENV_STATE_PAUSED }, ENGINE_ALERT_STAGE_NOT_NORMAL, 200 },
	{ "disabled stage", { OK, .env_disabled = true }, ENGINE_ALERT_STAGE_NOT_NORMAL, 200 },
};

static void test_alert_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum engine_alert_verdict v = engine_alert_decide(&cases[i].in);
		if (v != cases[i].want || engine_alert_status(v) != cases[i].status)
			fail_msg("case '%s': verdict %d status %d, want %d %d", cases[i].name, (int)v,
				 engine_alert_status(v), (int)cases[i].want, cases[i].status);
		assert_non_null(engine_alert_reason(v));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alert_cases),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
