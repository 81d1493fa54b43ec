/* SPDX-License-Identifier: Apache-2.0 */
/* tests/unit/cli/test-failures.c: naming failing hosts (cli/failures.c) and the failed names of the progress view. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "deploy.h"
#include "failures.h"

static void test_tail(void **state)
{
	(void)state;
	assert_string_equal(failures_tail("a\nb\nc\nd\n", 2), "c\nd\n");
	assert_string_equal(failures_tail("a\nb\nc\nd", 2), "c\nd");
	assert_string_equal(failures_tail("a\nb", 5), "a\nb");
	assert_string_equal(failures_tail("", 5), "");
	assert_string_equal(failures_tail("only one line\n\n", 1), "only one line\n\n");
}

static void test_agent_failed(void **state)
{
	json_t *a = json_pack("{s:s,s:s,s:s}", "deployId", "D1", "state", "NORMAL", "status", "SUCCEEDED");

	(void)state;
	assert_false(failures_agent_failed(a, "D1"));
	json_object_set_new(a, "status", json_string("UNKNOWN"));
	assert_false(failures_agent_failed(a, "D1"));
	json_object_set_new(a, "status", json_string("SCRIPT_FAILED"));
	assert_true(failures_agent_failed(a, "D1"));
	assert_true(failures_agent_failed(a, NULL));
	assert_false(failures_agent_failed(a, "D2")); /* another deploy's failure */
	json_object_set_new(a, "status", json_string("UNKNOWN"));
	json_object_set_new(a, "state", json_string("PAUSED_BY_SYSTEM")); /* parked by the failure policy */
	assert_true(failures_agent_failed(a, "D1"));
	json_decref(a);
}

static void test_format_host(void **state)
{
	json_t *a = json_pack("{s:s,s:s,s:s,s:i}", "hostName", "web-1", "deployStage", "RESTARTING", "status",
			      "SCRIPT_FAILED", "lastErrno", 3);
	char line[128];

	(void)state;
	failures_format_host(a, line, sizeof(line));
	assert_string_equal(line, "web-1: RESTARTING failed (SCRIPT_FAILED, exit 3)");
	json_decref(a);
}

/* many failing hosts: the names are cut with "..." and never overflow */
static void test_failed_names_cut(void **state)
{
	json_t *deploy = json_pack("{s:s,s:s,s:i,s:i,s:i}", "id", "D1", "state", "FAILING", "successTotal", 0,
				   "failTotal", 60, "total", 60);
	json_t *agents = json_array();
	struct progress_read p = { .deploy = deploy, .failing = agents };
	struct progress_view v;
	char name[64];

	(void)state;
	for (int i = 0; i < 60; i++) {
		snprintf(name, sizeof(name), "host-with-a-long-name-%02d", i);
		json_array_append_new(agents, json_pack("{s:s,s:s,s:s,s:s}", "hostName", name, "deployId", "D1",
							"deployStage", "STAGING", "status", "TOO_MANY_RETRY"));
	}
	p.summary = json_pack("{s:s,s:[{s:b,s:s,s:s,s:s,s:b,s:i}]}", "deployId", "D1", "counts", "onDeploy", 1,
			      "deployStage", "STAGING", "state", "NORMAL", "status", "TOO_MANY_RETRY", "removed", 0, "n",
			      60);
	assert_int_equal(progress_view_from_json(&p, &v), 0);
	assert_int_equal(v.failing, 60);
	assert_true(strncmp(v.failed_hosts, "host-with-a-long-name-00, host-with-a-long-name-01", 50) == 0);
	assert_true(strlen(v.failed_hosts) < sizeof(v.failed_hosts));
	assert_string_equal(v.failed_hosts + strlen(v.failed_hosts) - 3, "...");
	progress_read_release(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tail),
		cmocka_unit_test(test_agent_failed),
		cmocka_unit_test(test_format_host),
		cmocka_unit_test(test_failed_names_cut),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
