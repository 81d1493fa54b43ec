/* SPDX-License-Identifier: Apache-2.0 */
/* tests/unit/agent/test-script.c: script environment assembly (AGENT.md §10.2) and script lookup (§10.1). */
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

#include "fs.h"
#include "script.h"
#include "wire.h"

static void test_env_basic(void **state)
{
	const char *base[] = { "PATH=/bin", "FIRST_DEPLOY=stale", "COMPUTE_ENV_TYPE=stale", "KEEP=1", NULL };
	json_t *vars = json_pack("{s:s, s:s, s:s, s:s}", "PORT", "8080", "bad-name", "x", "DEPLOY_ID", "override",
				 "9LEAD", "x");
	char id[] = "b1", commit[] = "abc", name[] = "web", repo[] = "", url[] = "file:///a";
	struct build b = { .id = id, .commit = commit, .name = name, .repo = repo, .artifact_url = url };
	struct script_env_params p = {
		.deploy_id = "d1", .stage = "RESTARTING", .op_code = "ROLLBACK", .env_name = "web",
		.stage_name = "prod", .stage_type = "DEFAULT", .first_deploy = false, .is_docker = true,
		.target = "/t/web", .script_variables = vars, .build = &b, .builds_dir_env = "/b/web",
	};
	char **env = NULL;
	(void)state;

	assert_int_equal(script_env_build(base, &p, &env), 0);
	assert_string_equal(script_env_get(env, "PATH"), "/bin");
	assert_string_equal(script_env_get(env, "KEEP"), "1");
	assert_string_equal(script_env_get(env, "DEPLOY_ID"), "override"); /* script variables win */
	assert_string_equal(script_env_get(env, "DEPLOY_STEP"), "RESTARTING");
	assert_string_equal(script_env_get(env, "OPCODE"), "ROLLBACK");
	assert_string_equal(script_env_get(env, "DEPLOY_TYPE"), "ROLLBACK");
	assert_string_equal(script_env_get(env, "ENV_NAME"), "web");
	assert_string_equal(script_env_get(env, "STAGE_NAME"), "prod");
	assert_string_equal(script_env_get(env, "COMPUTE_ENV_TYPE"), "PRODUCTION");
	assert_null(script_env_get(env, "FIRST_DEPLOY")); /* unset, even when inherited */
	assert_string_equal(script_env_get(env, "IS_DOCKER"), "True");
	assert_string_equal(script_env_get(env, "TARGET"), "/t/web");
	assert_string_equal(script_env_get(env, "PORT"), "8080");
	assert_null(script_env_get(env, "bad-name"));
	assert_null(script_env_get(env, "9LEAD"));
	assert_string_equal(script_env_get(env, "BUILD_ID"), "b1");
	assert_string_equal(script_env_get(env, "BUILD_COMMIT"), "abc");
	assert_string_equal(script_env_get(env, "BUILD_URL"), "file:///a");
	assert_null(script_env_get(env, "BUILD_REPO")); /* empty: not set */
	assert_null(script_env_get(env, "BUILD_BRANCH"));
	assert_string_equal(script_env_get(env, "BUILDS_DIR"), "/b/web");
	script_env_free(env);
	json_decref(vars);
}

static void count_refused(const char *name, void *userdata)
{
	char *seen = userdata; /* 256 bytes */
	size_t l = strlen(seen);

	(void)snprintf(seen + l, 256 - l, "%s,", name);
}

/* A refused name delivered anyway (an older server stored it) never reaches the environment; the
 * callback hears of each one, and the agent's own value of the name is kept. */
static void test_env_refused(void **state)
{
	const char *base[] = { "PATH=/agent/bin", NULL };
	json_t *vars = json_pack("{s:s, s:s, s:s, s:s, s:s}", "BASH_ENV", "/tmp/evil", "PATH", "/tmp", "LD_PRELOAD",
				 "/tmp/x.so", "PORT", "8080", "PYTHONPATH", "/tmp");
	char seen[256] = "";
	struct script_env_params p = { .deploy_id = "d", .stage = "RESTARTING", .env_name = "web", .target = "/t",
				       .script_variables = vars, .refused = count_refused, .refused_userdata = seen };
	char **env = NULL;
	(void)state;

	assert_int_equal(script_env_build(base, &p, &env), 0);
	assert_null(script_env_get(env, "BASH_ENV"));
	assert_null(script_env_get(env, "LD_PRELOAD"));
	assert_null(script_env_get(env, "PYTHONPATH"));
	assert_string_equal(script_env_get(env, "PATH"), "/agent/bin");
	assert_string_equal(script_env_get(env, "PORT"), "8080");
	assert_non_null(strstr(seen, "BASH_ENV,"));
	assert_non_null(strstr(seen, "PATH,"));
	assert_non_null(strstr(seen, "LD_PRELOAD,"));
	assert_non_null(strstr(seen, "PYTHONPATH,"));
	assert_null(strstr(seen, "PORT"));
	script_env_free(env);
	json_decref(vars);
}

static void test_env_defaults(void **state)
{
	const char *base[] = { "HOME=/root", NULL };
	struct script_env_params p = { .deploy_id = "d", .stage = "STOPPING", .op_code = "STOP", .env_name = "web",
				       .first_deploy = true, .target = "/t", .user_name = "app",
				       .user_home = "/home/app", .user_shell = "/bin/bash" };
	char **env = NULL;
	(void)state;

	assert_int_equal(script_env_build(base, &p, &env), 0);
	assert_string_equal(script_env_get(env, "PATH"),
			    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	assert_string_equal(script_env_get(env, "DEPLOY_TYPE"), "STOP");
	assert_string_equal(script_env_get(env, "FIRST_DEPLOY"), "True");
	assert_null(script_env_get(env, "COMPUTE_ENV_TYPE"));
	assert_null(script_env_get(env, "STAGE_NAME"));
	assert_null(script_env_get(env, "BUILD_ID"));
	assert_string_equal(script_env_get(env, "HOME"), "/home/app");
	assert_string_equal(script_env_get(env, "USER"), "app");
	assert_string_equal(script_env_get(env, "LOGNAME"), "app");
	assert_string_equal(script_env_get(env, "SHELL"), "/bin/bash");
	script_env_free(env);

	p.op_code = "RESTART";
	p.stage_type = "CANARY";
	assert_int_equal(script_env_build(base, &p, &env), 0);
	assert_string_equal(script_env_get(env, "DEPLOY_TYPE"), "RESTART");
	assert_string_equal(script_env_get(env, "COMPUTE_ENV_TYPE"), "CANARY");
	script_env_free(env);
	p.op_code = "DEPLOY";
	assert_int_equal(script_env_build(base, &p, &env), 0);
	assert_string_equal(script_env_get(env, "DEPLOY_TYPE"), "REGULAR");
	script_env_free(env);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void test_find(void **state)
{
	char root[] = "/tmp/slipway-script-XXXXXX", p[512], got[512], dir[512], want[512];
	struct stat st;
	(void)state;

	assert_non_null(mkdtemp(root));
	snprintf(p, sizeof(p), "%s/tree/teletraan", root);
	assert_int_equal(fs_mkdir_p(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/target", root);
	assert_int_equal(symlink("tree", p), 0);
	/* missing TARGET → no dir */
	snprintf(p, sizeof(p), "%s/nothing", root);
	assert_int_equal(script_find(p, "web", "RESTARTING", got, sizeof(got), dir, sizeof(dir)), SCRIPT_NO_DIR);
	snprintf(p, sizeof(p), "%s/target", root);
	assert_int_equal(script_find(p, "web", "RESTARTING", got, sizeof(got), dir, sizeof(dir)), SCRIPT_NO_SCRIPT);
	/* a script without the execute bit gets it */
	snprintf(want, sizeof(want), "%s/tree/teletraan/RESTARTING", root);
	assert_int_equal(fs_write_atomic_path(want, "#!/bin/sh\n", 10, 0644), 0);
	assert_int_equal(script_find(p, "web", "RESTARTING", got, sizeof(got), dir, sizeof(dir)), SCRIPT_FOUND);
	assert_string_equal(got, want);
	assert_int_equal(stat(want, &st), 0);
	assert_true(st.st_mode & S_IXUSR);
	/* the per-env directory replaces the generic one as a whole */
	snprintf(want, sizeof(want), "%s/tree/teletraan/web", root);
	assert_int_equal(fs_mkdir_p(want, 0755), 0);
	assert_int_equal(script_find(p, "web", "RESTARTING", got, sizeof(got), dir, sizeof(dir)), SCRIPT_NO_SCRIPT);
	assert_int_equal(script_find(p, "api", "RESTARTING", got, sizeof(got), dir, sizeof(dir)), SCRIPT_FOUND);
	/* a script that escapes the tree through a symlink is refused */
	snprintf(want, sizeof(want), "%s/tree/teletraan/web/RESTARTING", root);
	assert_int_equal(symlink("/bin/true", want), 0);
	assert_int_equal(script_find(p, "web", "RESTARTING", got, sizeof(got), dir, sizeof(dir)), -EPERM);
	assert_int_equal(nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_env_basic),
		cmocka_unit_test(test_env_refused),
		cmocka_unit_test(test_env_defaults),
		cmocka_unit_test(test_find),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
