/* SPDX-License-Identifier: Apache-2.0 */
/* tests/unit/agent/test-state.c: state.json round trip, unknown keys, recovery, forget, reports, import. */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "enums.h"
#include "fs.h"
#include "state.h"

static char dir[64];

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/slipway-state-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	return nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void write_state(const char *text)
{
	char p[128];
	snprintf(p, sizeof(p), "%s/state.json", dir);
	assert_int_equal(fs_write_atomic_path(p, text, strlen(text), 0600), 0);
}

static void test_round_trip(void **state)
{
	struct state_file st;
	json_t *e;
	char *corrupt = NULL, p[128];
	struct stat sb;
	(void)state;

	write_state("{\"version\": 1, \"futureKey\": [1, 2], \"envs\": {}, \"forgotten\": {}}");
	assert_int_equal(state_load(dir, &st, &corrupt), 0);
	assert_null(corrupt);
	e = state_env_ensure(&st, "web");
	assert_non_null(e);
	entry_set_str(e, "envId", "E1");
	entry_set_str(e, "deployStage", "RESTARTING");
	entry_set_str(e, "status", "SCRIPT_FAILED");
	entry_set_int(e, "errorCode", 3);
	entry_set_str(e, "errorMessage", "boom");
	entry_set_int(e, "failCount", 2);
	json_object_set_new(e, "entryFuture", json_true());
	assert_int_equal(state_save(&st), 0);
	state_release(&st);

	snprintf(p, sizeof(p), "%s/state.json", dir);
	assert_int_equal(stat(p, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(state_load(dir, &st, &corrupt), 0);
	assert_non_null(json_object_get(st.root, "futureKey")); /* unknown keys preserved */
	e = state_env(&st, "web");
	assert_non_null(e);
	assert_true(entry_bool(e, "entryFuture"));
	assert_string_equal(entry_str(e, "errorMessage"), "boom");
	assert_int_equal(entry_int(e, "failCount"), 2);
	state_release(&st);
}

static void test_corrupt_and_truncated(void **state)
{
	struct state_file st;
	char *corrupt = NULL;
	DIR *d;
	struct dirent *de;
	int found = 0;
	(void)state;

	write_state("{\"version\": 1, \"envs\": {\"web\": {\"envId\": ");
	assert_int_equal(state_load(dir, &st, &corrupt), 0);
	assert_non_null(corrupt);
	assert_non_null(strstr(corrupt, "state.json.corrupt-"));
	free(corrupt);
	assert_int_equal(json_object_size(state_envs(&st)), 0);
	state_release(&st);
	d = opendir(dir);
	while ((de = readdir(d)))
		if (strncmp(de->d_name, "state.json.corrupt-", 19) == 0) {
			found++;
			unlinkat(dirfd(d), de->d_name, 0);
		}
	closedir(d);
	assert_int_equal(found, 1);

	/* wrong types are invalid too */
	write_state("{\"version\": 1, \"envs\": []}");
	assert_int_equal(state_load(dir, &st, &corrupt), 0);
	assert_non_null(corrupt);
	free(corrupt);
	state_release(&st);

	/* a newer version is refused, not discarded */
	write_state("{\"version\": 2, \"envs\": {}}");
	assert_int_equal(state_load(dir, &st, &corrupt), -EPROTONOSUPPORT);
}

static void test_reports_and_forget(void **state)
{
	struct state_file st;
	struct ping_report *reps = NULL;
	struct report_override ov = { .env_name = "api", .agent_status = AGENT_STATUS_SCRIPT_FAILED, .error_code = 7,
				      .error_message = "tail", .fail_count = 1 };
	size_t n = 0;
	char p[128];
	json_t *e;
	(void)state;

	snprintf(p, sizeof(p), "%s/state.json", dir);
	unlink(p);
	assert_int_equal(state_load(dir, &st, NULL), 0);
	e = state_env_ensure(&st, "web");
	entry_set_str(e, "envId", "E-web");
	entry_set_str(e, "deployStage", "SERVING_BUILD");
	entry_set_str(e, "status", "SUCCEEDED");
	entry_set_str(e, "errorMessage", "ignored for SUCCEEDED");
	entry_set_str(e, "targetBuildId", "b1");
	e = state_env_ensure(&st, "api");
	entry_set_str(e, "envId", "E-api");
	entry_set_str(e, "deployStage", "RESTARTING");
	entry_set_str(e, "status", "UNKNOWN");

	assert_int_equal(state_reports(&st, &ov, &reps, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(reps[0].env_id, "E-api"); /* env-name order */
	assert_int_equal(reps[0].agent_status, AGENT_STATUS_SCRIPT_FAILED);
	assert_int_equal(reps[0].error_code, 7);
	assert_string_equal(reps[0].error_message, "tail");
	assert_int_equal(reps[1].deploy_stage, DEPLOY_STAGE_SERVING_BUILD);
	assert_null(reps[1].error_message);
	for (size_t i = 0; i < n; i++)
		ping_report_release(&reps[i]);
	free(reps);

	/* DELETE lookup: by envId, else by name only when the envId matches or is null */
	assert_string_equal(state_find_for_delete(&st, "E-web", "other"), "web");
	assert_null(state_find_for_delete(&st, "E-other", "web"));
	assert_null(state_find_for_delete(&st, "E-none", "ghost"));
	assert_int_equal(state_forget(&st, "web", 1234), 0);
	assert_null(state_env(&st, "web"));
	e = json_object_get(state_forgotten(&st), "web");
	assert_non_null(e);
	assert_string_equal(entry_str(e, "targetBuildId"), "b1");
	assert_int_equal(entry_int(e, "forgottenAt"), 1234);
	assert_int_equal(state_forget(&st, "web", 1), -ENOENT);
	/* taken back from forgotten by a new goal */
	e = state_env_ensure(&st, "web");
	assert_string_equal(entry_str(e, "targetBuildId"), "b1");
	assert_null(json_object_get(state_forgotten(&st), "web"));
	state_release(&st);
}

static void test_import_upstream(void **state)
{
	struct state_file st;
	char p[128];
	const char *text = "{\"web\": {\"report\": {\"envId\": \"E1\", \"deployId\": \"D1\", \"deployStage\": "
			   "\"SERVING_BUILD\", \"status\": \"SUCCEEDED\", \"errorCode\": 0, \"failCount\": 0}, "
			   "\"build_info\": {\"build_id\": \"B1\", \"build_commit\": \"abc\", \"build_url\": "
			   "\"https://a/b.tgz\"}, \"script_variables\": {\"P\": \"1\"}, \"runtime_config\": "
			   "{\"max_retry\": \"2\"}, \"op_code\": \"DEPLOY\", \"first_deploy\": false}}";
	size_t n = 0;
	json_t *e;
	(void)state;

	snprintf(p, sizeof(p), "%s/env_status", dir);
	assert_int_equal(fs_write_atomic_path(p, text, strlen(text), 0644), 0);
	snprintf(p, sizeof(p), "%s/state.json", dir);
	unlink(p);
	assert_int_equal(state_load(dir, &st, NULL), 0);
	snprintf(p, sizeof(p), "%s/env_status", dir);
	assert_int_equal(state_import_upstream(&st, p, &n), 0);
	assert_int_equal(n, 1);
	e = state_env(&st, "web");
	assert_string_equal(entry_str(e, "deployId"), "D1");
	assert_string_equal(entry_str(e, "opCode"), "DEPLOY");
	assert_string_equal(json_string_value(json_object_get(json_object_get(e, "build"), "artifactUrl")),
			    "https://a/b.tgz");
	assert_string_equal(json_string_value(json_object_get(json_object_get(e, "agentConfigs"), "max_retry")),
			    "2");
	state_release(&st);
	unlink(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_corrupt_and_truncated),
		cmocka_unit_test(test_reports_and_forget),
		cmocka_unit_test(test_import_upstream),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
