/* SPDX-License-Identifier: Apache-2.0 */
/* tests/unit/cli/test-cli.c: the CLI's argument parsing, URL building, configuration precedence,
 * exit-code mapping and progress summary (no network). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli.h"
#include "cmd.h"
#include "deploy.h"
#include "http.h"
#include "jsonutil.h"
#include "util.h"

/* A cli handle whose output goes to a memory stream, with no environment influence. */
struct fixture {
	struct cli c;
	char *out;
	size_t out_len;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	unsetenv("SLIPWAY_SERVER");
	unsetenv("SLIPWAY_TOKEN");
	setenv("XDG_CONFIG_HOME", "/nonexistent-slipway-test", 1);
	cli_init(&f->c);
	f->c.out = open_memstream(&f->out, &f->out_len);
	assert_non_null(f->c.out);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	fclose(f->c.out);
	free(f->out);
	cli_release(&f->c);
	free(f);
	return 0;
}

/* argv from a space-separated string (modifiable copies; freed by argv_free) */
static int make_argv(const char *s, char ***ret)
{
	char *copy = strdup(s), *save = NULL, *tok;
	char **argv = calloc(64, sizeof(char *));
	int n = 0;

	assert_non_null(copy);
	assert_non_null(argv);
	for (tok = strtok_r(copy, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
		argv[n++] = strdup(tok);
	free(copy);
	*ret = argv;
	return n;
}

static void argv_free(char **argv)
{
	for (int i = 0; argv[i]; i++)
		free(argv[i]);
	free(argv);
}

static int parse_deploy(struct cli *c, unsigned allowed, const char *cmdline, struct deploy_args *a)
{
	char **argv;
	int argc = make_argv(cmdline, &argv), r;

	r = deploy_args_parse(c, argv[0], allowed, "USAGE\n", argc, argv, a);
	/* borrowed strings: copy what the tests look at before freeing argv */
	if (r == 0) {
		static char build[64], to[64], from[64], desc[128];

		if (a->build_id) {
			snprintf(build, sizeof(build), "%s", a->build_id);
			a->build_id = build;
		}
		if (a->to_deploy_id) {
			snprintf(to, sizeof(to), "%s", a->to_deploy_id);
			a->to_deploy_id = to;
		}
		if (a->from_stage) {
			snprintf(from, sizeof(from), "%s", a->from_stage);
			a->from_stage = from;
		}
		if (a->description) {
			snprintf(desc, sizeof(desc), "%s", a->description);
			a->description = desc;
		}
		a->branch = NULL;
	}
	argv_free(argv);
	return r;
}

#define DEPLOY_ALLOWED (DEPLOY_OPT_BUILD | DEPLOY_OPT_DESCRIPTION | DEPLOY_OPT_FORCE | DEPLOY_OPT_WAIT)

static void test_deploy_args(void **state)
{
	struct fixture *f = *state;
	struct deploy_args a;

	assert_int_equal(parse_deploy(&f->c, DEPLOY_ALLOWED, "deploy web/prod --build B1 --wait --timeout 30", &a), 0);
	assert_string_equal(a.env, "web");
	assert_string_equal(a.stage, "prod");
	assert_string_equal(a.build_id, "B1");
	assert_true(a.wait);
	assert_int_equal(a.timeout_s, 30);
	assert_int_equal(a.interval_ms, 2000);
	assert_false(a.latest);

	/* options before the target, and the common options anywhere */
	assert_int_equal(parse_deploy(&f->c, DEPLOY_ALLOWED,
				      "deploy --latest --force --interval 0.5 --server http://x:1 web-2/can_ary --json",
				      &a),
			 0);
	assert_true(a.latest);
	assert_true(a.force);
	assert_int_equal(a.interval_ms, 500);
	assert_string_equal(a.stage, "can_ary");
	assert_string_equal(f->c.arg_server, "http://x:1");
	assert_true(f->c.json);
}

static void expect_usage(struct fixture *f, unsigned allowed, const char *cmdline)
{
	struct deploy_args a;

	f->c.usage_error = false;
	assert_int_equal(parse_deploy(&f->c, allowed, cmdline, &a), -EINVAL);
	assert_true(f->c.usage_error);
	assert_int_equal(cli_exit_code(&f->c, -EINVAL), CLI_EXIT_USAGE);
	assert_true(f->c.errmsg[0] != 0);
}

static void test_deploy_args_errors(void **state)
{
	struct fixture *f = *state;

	expect_usage(f, DEPLOY_ALLOWED, "deploy web/prod");		       /* neither --build nor --latest */
	expect_usage(f, DEPLOY_ALLOWED, "deploy web/prod --build B --latest"); /* both */
	expect_usage(f, DEPLOY_ALLOWED, "deploy --build B");		       /* no target */
	expect_usage(f, DEPLOY_ALLOWED, "deploy web --build B");	       /* not ENV/STAGE */
	expect_usage(f, DEPLOY_ALLOWED, "deploy web/prod/x --build B");
	expect_usage(f, DEPLOY_ALLOWED, "deploy /prod --build B");
	expect_usage(f, DEPLOY_ALLOWED, "deploy web/ --build B");
	expect_usage(f, DEPLOY_ALLOWED, "deploy we.b/prod --build B");
	expect_usage(f, DEPLOY_ALLOWED, "deploy web/prod other/stage --build B"); /* two targets */
	expect_usage(f, DEPLOY_ALLOWED, "deploy web/prod --build B --from x");	  /* not allowed here */
	expect_usage(f, DEPLOY_ALLOWED, "deploy web/prod --build B --bogus");
	expect_usage(f, DEPLOY_ALLOWED, "deploy web/prod --build");		  /* missing value */
	expect_usage(f, DEPLOY_ALLOWED, "deploy web/prod --build B --timeout 0"); /* range */
	expect_usage(f, DEPLOY_ALLOWED, "deploy web/prod --build B --timeout 10s");
	expect_usage(f, DEPLOY_ALLOWED, "deploy web/prod --build B --interval 0.01");
	expect_usage(f, DEPLOY_ALLOWED, "deploy web/prod --branch main --build B");    /* --branch needs --latest */
	expect_usage(f, DEPLOY_OPT_FROM | DEPLOY_OPT_WAIT, "promote web/prod --wait"); /* --from required */
	expect_usage(f, DEPLOY_OPT_FROM, "promote web/prod --from other/stage");       /* another env */
	expect_usage(f, DEPLOY_OPT_FROM, "promote web/prod --from web/b.d");
	expect_usage(f, DEPLOY_OPT_DESCRIPTION, "pause web/prod --wait");
}

static void test_promote_rollback_args(void **state)
{
	struct fixture *f = *state;
	struct deploy_args a;

	assert_int_equal(
	    parse_deploy(&f->c, DEPLOY_OPT_FROM | DEPLOY_OPT_WAIT, "promote web/prod --from canary --wait", &a), 0);
	assert_string_equal(a.from_stage, "canary");
	assert_true(a.wait);
	assert_int_equal(parse_deploy(&f->c, DEPLOY_OPT_FROM, "promote web/prod --from web/canary", &a), 0);
	assert_string_equal(a.from_stage, "canary");
	assert_int_equal(parse_deploy(&f->c, DEPLOY_OPT_TO | DEPLOY_OPT_DESCRIPTION,
				      "rollback web/prod --to D123 --description back", &a),
			 0);
	assert_string_equal(a.to_deploy_id, "D123");
	assert_string_equal(a.description, "back");
	assert_int_equal(parse_deploy(&f->c, DEPLOY_OPT_WATCH, "status web/prod --watch --timeout 5", &a), 0);
	assert_true(a.wait);
}

static void test_deploy_args_help(void **state)
{
	struct fixture *f = *state;
	struct deploy_args a;

	assert_int_equal(parse_deploy(&f->c, DEPLOY_ALLOWED, "deploy --help", &a), 1);
	fflush(f->c.out);
	assert_string_equal(f->out, "USAGE\n");
}

static void test_url_build(void **state)
{
	struct url_query q = {};
	char *url = NULL, *e;

	assert_int_equal(url_build("http://h:1", NULL, &url, "/v1/envs/%s/%s/deploys", "web", "prod"), 0);
	assert_string_equal(url, "http://h:1/v1/envs/web/prod/deploys");
	free(url);

	/* a segment can never add a path component or a query */
	assert_int_equal(url_build("http://h", NULL, &url, "/v1/builds/%s", "../a/b?c=d#e"), 0);
	assert_string_equal(url, "http://h/v1/builds/..%2Fa%2Fb%3Fc%3Dd%23e");
	free(url);

	assert_int_equal(url_query_add(&q, "buildId", "B 1&x=y"), 0);
	assert_int_equal(url_query_add(&q, "description", NULL), 0); /* skipped */
	assert_int_equal(url_query_add(&q, "force", "true"), 0);
	assert_int_equal(url_build("https://h", &q, &url, "/v1/envs/%s/%s/deploys", "a", "b"), 0);
	assert_string_equal(url, "https://h/v1/envs/a/b/deploys?buildId=B%201%26x%3Dy&force=true");
	free(url);

	assert_int_equal(url_build("http://h", NULL, &url, "/bad/%d", 5), -EINVAL);

	e = url_escape("é~-._ /");
	assert_string_equal(e, "%C3%A9~-._%20%2F");
	free(e);

	memset(&q, 0, sizeof(q));
	for (int i = 0; i < URL_QUERY_MAX; i++)
		assert_int_equal(url_query_add(&q, "k", "v"), 0);
	assert_int_equal(url_query_add(&q, "k", "v"), -E2BIG);
}

static void test_env_stage(void **state)
{
	char env[65], stage[65];
	char long_name[80];

	assert_int_equal(cli_parse_env_stage("web/prod", env, stage), 0);
	assert_string_equal(env, "web");
	assert_string_equal(stage, "prod");
	assert_int_equal(cli_parse_env_stage("web", env, stage), -EINVAL);
	assert_int_equal(cli_parse_env_stage("/prod", env, stage), -EINVAL);
	assert_int_equal(cli_parse_env_stage("web/", env, stage), -EINVAL);
	assert_int_equal(cli_parse_env_stage("a/b/c", env, stage), -EINVAL);
	assert_int_equal(cli_parse_env_stage(NULL, env, stage), -EINVAL);
	memset(long_name, 'a', 64);
	snprintf(long_name + 64, sizeof(long_name) - 64, "/s");
	assert_int_equal(cli_parse_env_stage(long_name, env, stage), 0); /* 64: the maximum */
	memset(long_name, 'a', 65);
	snprintf(long_name + 65, sizeof(long_name) - 65, "/s");
	assert_int_equal(cli_parse_env_stage(long_name, env, stage), -EINVAL);
}

static void test_exit_codes(void **state)
{
	struct fixture *f = *state;
	static const struct {
		long status;
		int code;
	} http[] = {
	    {400, CLI_EXIT_REJECTED}, {401, CLI_EXIT_NOPERM}, {403, CLI_EXIT_NOPERM},	{404, CLI_EXIT_NOT_FOUND},
	    {409, CLI_EXIT_CONFLICT}, {500, CLI_EXIT_SERVER}, {503, CLI_EXIT_TEMPFAIL},
	};

	assert_int_equal(cli_exit_code(&f->c, 0), 0);
	assert_int_equal(cli_exit_code(&f->c, CLI_RESULT_DEPLOY_FAILED), 1);
	assert_int_equal(cli_exit_code(&f->c, CLI_RESULT_DEPLOY_ABORTED), 2);
	for (size_t i = 0; i < ELEMENTSOF(http); i++) {
		f->c.http_status = http[i].status;
		assert_int_equal(cli_exit_code(&f->c, -EREMOTEIO), http[i].code);
	}
	assert_int_equal(cli_exit_code(&f->c, -ECONNREFUSED), CLI_EXIT_UNAVAILABLE);
	assert_int_equal(cli_exit_code(&f->c, -ETIMEDOUT), CLI_EXIT_TEMPFAIL);
	assert_int_equal(cli_exit_code(&f->c, -EBADMSG), CLI_EXIT_PROTOCOL);
	assert_int_equal(cli_exit_code(&f->c, -ENOEXEC), CLI_EXIT_CONFIG);
	assert_int_equal(cli_exit_code(&f->c, -ENOENT), CLI_EXIT_NOINPUT);
	assert_int_equal(cli_exit_code(&f->c, -ENODATA), CLI_EXIT_NOT_FOUND);
	assert_int_equal(cli_exit_code(&f->c, -EIO), CLI_EXIT_IOERR);
}

static void test_resolve_precedence(void **state)
{
	struct fixture *f = *state;
	char dir[] = "/tmp/slipway-cli-test-XXXXXX", path[256];
	FILE *cfg;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/config", dir);
	cfg = fopen(path, "w");
	assert_non_null(cfg);
	fprintf(cfg, "# test\nserver = http://from-config:1/\ntoken = cfgtoken\ntimeout = 5\n");
	fclose(cfg);

	/* config file only */
	f->c.arg_config = strdup(path);
	assert_int_equal(cli_resolve(&f->c), 0);
	assert_string_equal(f->c.server, "http://from-config:1"); /* trailing '/' dropped */
	assert_string_equal(f->c.token, "cfgtoken");
	assert_int_equal(f->c.timeout_ms, 5000);

	/* environment beats the file */
	f->c.resolved = false;
	setenv("SLIPWAY_SERVER", "http://from-env:2", 1);
	setenv("SLIPWAY_TOKEN", "envtoken", 1);
	assert_int_equal(cli_resolve(&f->c), 0);
	assert_string_equal(f->c.server, "http://from-env:2");
	assert_string_equal(f->c.token, "envtoken");

	/* flags beat both */
	f->c.resolved = false;
	f->c.arg_server = strdup("https://from-flag:3");
	f->c.arg_token = strdup("flagtoken");
	assert_int_equal(cli_resolve(&f->c), 0);
	assert_string_equal(f->c.server, "https://from-flag:3");
	assert_string_equal(f->c.token, "flagtoken");
	unsetenv("SLIPWAY_SERVER");
	unsetenv("SLIPWAY_TOKEN");

	/* a bad server scheme is a usage error */
	f->c.resolved = false;
	free(f->c.arg_server);
	f->c.arg_server = strdup("ftp://x");
	assert_int_equal(cli_resolve(&f->c), -EINVAL);
	assert_int_equal(cli_exit_code(&f->c, -EINVAL), CLI_EXIT_USAGE);

	/* a bad config value names file:line and maps to EX_CONFIG */
	cfg = fopen(path, "w");
	assert_non_null(cfg);
	fprintf(cfg, "timeout = forever\n");
	fclose(cfg);
	f->c.resolved = false;
	f->c.usage_error = false;
	free(f->c.arg_server);
	f->c.arg_server = strdup("http://x");
	assert_int_equal(cli_resolve(&f->c), -ENOEXEC);
	assert_int_equal(cli_exit_code(&f->c, -ENOEXEC), CLI_EXIT_CONFIG);
	assert_non_null(strstr(f->c.errmsg, ":1"));

	/* an explicit --config that does not exist is an error too */
	unlink(path);
	f->c.resolved = false;
	assert_int_equal(cli_resolve(&f->c), -ENOEXEC);
	rmdir(dir);
}

static void test_resolve_no_server(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(cli_resolve(&f->c), -EINVAL);
	assert_true(f->c.usage_error);
	assert_non_null(strstr(f->c.errmsg, "no server"));
}

static void test_progress_view(void **state)
{
	struct progress_view v;
	struct progress_read p = {};
	char line[512];

	p.deploy = json_pack("{s:s, s:s, s:i, s:i, s:i}", "id", "D1", "state", "RUNNING", "successTotal", 2,
			     "failTotal", 1, "total", 5);
	/* the stage's summary: groups of rows; one on another deploy; the failing hosts' page names them */
	p.summary = json_pack("{s:s, s:[{s:b,s:s,s:s,s:s,s:b,s:i}, {s:b,s:s,s:s,s:s,s:b,s:i}, {s:b,s:s,s:s,s:s,s:b,s:i},"
			      " {s:b,s:s,s:s,s:s,s:b,s:i}], s:i, s:n}",
			      "deployId", "D1", "counts", "onDeploy", 1, "deployStage", "SERVING_BUILD", "state", "NORMAL",
			      "status", "SUCCEEDED", "removed", 0, "n", 2, "onDeploy", 1, "deployStage", "RESTARTING",
			      "state", "NORMAL", "status", "SCRIPT_FAILED", "removed", 0, "n", 1, "onDeploy", 1,
			      "deployStage", "PRE_DOWNLOAD", "state", "NORMAL", "status", "UNKNOWN", "removed", 0, "n", 1,
			      "onDeploy", 0, "deployStage", "SERVING_BUILD", "state", "NORMAL", "status", "SUCCEEDED",
			      "removed", 0, "n", 1, "missingHosts", 1, "provisioningHosts");
	p.failing = json_pack("[{s:s,s:s,s:s,s:s,s:s}]", "hostName", "web-03", "deployId", "D1", "deployStage",
			      "RESTARTING", "state", "NORMAL", "status", "SCRIPT_FAILED");
	assert_non_null(p.deploy);
	assert_non_null(p.summary);
	assert_non_null(p.failing);
	assert_int_equal(progress_view_from_json(&p, &v), 0);
	assert_string_equal(v.deploy_id, "D1");
	assert_int_equal(v.stage_counts[DEPLOY_STAGE_SERVING_BUILD], 2);
	assert_int_equal(v.stage_counts[DEPLOY_STAGE_RESTARTING], 1);
	assert_int_equal(v.stage_counts[DEPLOY_STAGE_PRE_DOWNLOAD], 1);
	assert_int_equal(v.other, 1);
	assert_int_equal(v.failing, 1);
	assert_int_equal(v.missing, 1);
	assert_int_equal(v.provisioning, 0);
	progress_format_line(&v, line, sizeof(line));
	assert_string_equal(line, "deploy D1 RUNNING: 2/5 hosts done, 1 failed; PRE_DOWNLOAD 1, RESTARTING 1, "
				  "SERVING_BUILD 2, not started 1, missing 1; failed: web-03");
	progress_format_bar(&v, 10, line, sizeof(line));
	assert_string_equal(line, "[####......] 2/5 RUNNING  PRE_DOWNLOAD 1, RESTARTING 1, SERVING_BUILD 2, "
				  "not started 1, missing 1  failed: web-03");

	/* hosts about to join are shown (the summary counts them when asked) */
	json_object_set_new(p.summary, "provisioningHosts", json_integer(1));
	assert_int_equal(progress_view_from_json(&p, &v), 0);
	assert_int_equal(v.provisioning, 1);
	progress_format_line(&v, line, sizeof(line));
	assert_non_null(strstr(line, "not started 1, joining 1, missing 1"));

	/* a summary of another deploy (a new one was created between the reads): its rows are not this deploy's */
	json_object_set_new(p.summary, "deployId", json_string("D2"));
	assert_int_equal(progress_view_from_json(&p, &v), 0);
	assert_int_equal(v.other, 5);
	assert_int_equal(v.stage_counts[DEPLOY_STAGE_SERVING_BUILD], 0);
	json_object_set_new(p.summary, "deployId", json_string("D1"));

	/* empty stage that succeeded: the bar is full */
	json_object_set_new(p.deploy, "state", json_string("SUCCEEDING"));
	json_object_set_new(p.deploy, "total", json_integer(0));
	json_object_set_new(p.deploy, "successTotal", json_integer(0));
	/* but agents on the deploy that its total (0, from its last transition) does not count yet are joining */
	assert_int_equal(progress_view_from_json(&p, &v), 0);
	assert_int_equal(v.provisioning, 1 + 4);
	{
		struct progress_read none = { .deploy = p.deploy };

		assert_int_equal(progress_view_from_json(&none, &v), 0);
	}
	progress_format_bar(&v, 4, line, sizeof(line));
	assert_string_equal(line, "[....] no hosts SUCCEEDING");
	progress_format_line(&v, line, sizeof(line));
	assert_string_equal(line, "deploy D1 SUCCEEDING: no hosts in the stage");

	/* a deploy without id/state is a malformed answer */
	json_object_del(p.deploy, "id");
	assert_int_equal(progress_view_from_json(&p, &v), -EBADMSG);
	progress_read_release(&p);
}

static void test_deploy_state_result(void **state)
{
	assert_int_equal(deploy_state_result("SUCCEEDED"), 0);
	assert_int_equal(deploy_state_result("succeeding"), 0);
	assert_int_equal(deploy_state_result("FAILING"), CLI_RESULT_DEPLOY_FAILED);
	assert_int_equal(deploy_state_result("ABORTED"), CLI_RESULT_DEPLOY_ABORTED);
	assert_int_equal(deploy_state_result("RUNNING"), -EAGAIN);
	assert_int_equal(deploy_state_result(NULL), -EAGAIN);
}

static void test_dispatch(void **state)
{
	struct fixture *f = *state;
	char **argv;
	int argc;

	assert_non_null(cmd_find(cli_commands, cli_n_commands, "deploy"));
	assert_ptr_equal(cmd_find(cli_commands, cli_n_commands, "deploy")->fn, cmd_deploy);
	assert_null(cmd_find(cli_commands, cli_n_commands, "deploi"));

	argc = make_argv("env frobnicate", &argv);
	assert_int_equal(cmd_env(&f->c, argc, argv), -EINVAL);
	assert_true(f->c.usage_error);
	assert_non_null(strstr(f->c.errmsg, "frobnicate"));
	argv_free(argv);

	/* --help of a nested command prints its usage and succeeds without a server */
	f->c.usage_error = false;
	argc = make_argv("env capacity add --help", &argv);
	assert_int_equal(cmd_env(&f->c, argc, argv), 0);
	fflush(f->c.out);
	assert_non_null(strstr(f->out, "usage: slipway env capacity"));
	argv_free(argv);

	f->c.help = false;
	argc = make_argv("build publish --name web --repo r --branch b --commit c --artifact-url ftp://x", &argv);
	f->c.arg_server = strdup("http://127.0.0.1:1");
	assert_int_equal(cmd_build(&f->c, argc, argv), -EINVAL); /* validated locally, no request */
	assert_non_null(strstr(f->c.errmsg, "--artifact-url"));
	argv_free(argv);

	argc = make_argv("build publish --name web --repo r --branch b --commit c --artifact-url http://x/y "
			 "--artifact /nonexistent/file",
			 &argv);
	f->c.usage_error = false;
	assert_int_equal(cmd_build(&f->c, argc, argv), -ENOENT);
	assert_int_equal(cli_exit_code(&f->c, -ENOENT), CLI_EXIT_NOINPUT);
	argv_free(argv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_deploy_args, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_deploy_args_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_promote_rollback_args, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_deploy_args_help, setup, teardown),
	    cmocka_unit_test(test_url_build),
	    cmocka_unit_test(test_env_stage),
	    cmocka_unit_test_setup_teardown(test_exit_codes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_resolve_precedence, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_resolve_no_server, setup, teardown),
	    cmocka_unit_test(test_progress_view),
	    cmocka_unit_test(test_deploy_state_result),
	    cmocka_unit_test_setup_teardown(test_dispatch, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
