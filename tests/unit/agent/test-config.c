/* SPDX-License-Identifier: Apache-2.0 */
/* tests/unit/agent/test-config.c: config parsing, ranges, defaults and the agentConfigs whitelist (§2). */
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

#include "config.h"
#include "fs.h"
#include "paths.h"

static char path[] = "/tmp/slipway-agent-conf-XXXXXX";

static int load(const char *text, struct agent_config *c, char *err, size_t errsz)
{
	int fd = mkstemp(path), r;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	assert_int_equal(agent_config_init(c), 0);
	r = agent_config_load(c, path, true, err, errsz);
	if (r == 0)
		r = agent_config_finish(c, true, err, errsz);
	unlink(path);
	strcpy(path, "/tmp/slipway-agent-conf-XXXXXX");
	return r;
}

static void test_defaults_and_values(void **state)
{
	struct agent_config c;
	char err[512] = "";
	(void)state;

	assert_int_equal(load("# comment\n; also a comment\n\nserver_url = https://a.example/, http://b.example/x\n"
			      "process_timeout = 86400\nmax_retry = 1\nlong_poll_wait = 60\nlog_max_bytes = 1M\n"
			      "tls_verify = off\nstate_dir = \"/var/tmp/s\"\nunknown_key = 1\nmax_retry = 5\n",
			      &c, err, sizeof(err)),
			 0);
	assert_int_equal(c.n_server_urls, 2);
	assert_string_equal(c.server_urls[0], "https://a.example");
	assert_string_equal(c.server_urls[1], "http://b.example/x");
	assert_int_equal(c.process_timeout_s, 86400);
	assert_int_equal(c.max_retry, 5); /* repeated: last wins */
	assert_int_equal(c.long_poll_wait_s, 60);
	assert_int_equal(c.log_max_bytes, 1024 * 1024);
	assert_false(c.tls_verify);
	assert_string_equal(c.state_dir, "/var/tmp/s");
	assert_string_equal(c.host_info_file, "/var/tmp/s/host_info");
	assert_string_equal(c.metrics_file, "/var/tmp/s/slipway_agent.prom");
	assert_int_equal(c.termination_timeout_s, 30);
	assert_int_equal(c.ping_interval_s, 30);
	assert_true(c.long_poll);
	assert_int_equal(c.max_tail_bytes, 10240);
	assert_int_equal(c.max_artifact_bytes, 4ULL << 30);
	agent_config_release(&c);
}

/* The directory allow-lists hold absolute paths only (a relative one would depend on the cwd). */
static void test_path_lists(void **state)
{
	struct agent_config c;
	char err[512] = "";
	(void)state;

	assert_int_equal(load("server_url = http://x\n", &c, err, sizeof(err)), 0);
	assert_true(clist_is_empty(c.allowed_target_roots));
	assert_true(clist_is_empty(c.download_allow_file_dirs)); /* empty: file:// refused */
	agent_config_release(&c);
	assert_int_equal(load("server_url = http://x\nallowed_target_roots = /srv/www, /opt/app\n"
			      "download_allow_file_dirs = /srv/artifacts\n", &c, err, sizeof(err)),
			 0);
	assert_string_equal(c.allowed_target_roots, "/srv/www, /opt/app");
	agent_config_release(&c);
	assert_true(load("server_url = http://x\nallowed_target_roots = /srv/www, www\n", &c, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "allowed_target_roots: 'www'"));
	agent_config_release(&c);
	assert_true(load("server_url = http://x\ndownload_allow_file_dirs = artifacts\n", &c, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "download_allow_file_dirs"));
	agent_config_release(&c);
}

static void test_ranges(void **state)
{
	struct agent_config c;
	char err[512] = "";
	(void)state;

	assert_true(load("server_url = http://x\nprocess_timeout = 86401\n", &c, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, ":2:"));
	agent_config_release(&c);
	assert_true(load("server_url = http://x\nprocess_timeout = 0\n", &c, err, sizeof(err)) < 0);
	agent_config_release(&c);
	assert_true(load("server_url = http://x\nlong_poll_wait = 61\n", &c, err, sizeof(err)) < 0);
	agent_config_release(&c);
	assert_int_equal(load("server_url = http://x\nmax_retry = 100\n", &c, err, sizeof(err)), 0);
	agent_config_release(&c);
	assert_true(load("server_url = http://x\nmax_retry = 101\n", &c, err, sizeof(err)) < 0);
	agent_config_release(&c);
	assert_true(load("server_url = http://x\nlong_poll = maybe\n", &c, err, sizeof(err)) < 0);
	agent_config_release(&c);
	assert_true(load("server_url = http://x\nno equals sign here\n", &c, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, ":2:"));
	agent_config_release(&c);
	/* an empty value means the default */
	assert_int_equal(load("server_url = http://x\nmax_retry =\n", &c, err, sizeof(err)), 0);
	assert_int_equal(c.max_retry, 3);
	agent_config_release(&c);
	/* server_url is required, and must be http(s) */
	assert_true(load("max_retry = 2\n", &c, err, sizeof(err)) < 0);
	agent_config_release(&c);
	assert_true(load("server_url = ftp://x\n", &c, err, sizeof(err)) < 0);
	agent_config_release(&c);
	assert_true(load("server_url = http://x\nstate_dir = relative\n", &c, err, sizeof(err)) < 0);
	agent_config_release(&c);
}

static void test_overrides(void **state)
{
	struct agent_config c;
	struct step_limits l;
	const char *target = NULL;
	char err[512];
	json_t *ac = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:s}", "process_timeout", "900", "max_retry", "0",
			       "state_dir", "/evil", "termination_timeout", "abc", "target", "/srv/web",
			       "heartbeat_interval", 5, "max_tail_bytes", "65537");
	(void)state;

	assert_int_equal(load("server_url = http://x\n", &c, err, sizeof(err)), 0);
	agent_config_step_limits(&c, ac, &l, &target);
	assert_int_equal(l.process_timeout_s, 900);
	assert_int_equal(l.max_retry, 3);              /* out of range: configured value */
	assert_int_equal(l.termination_timeout_s, 30); /* not an integer */
	assert_int_equal(l.heartbeat_interval_s, 5);
	assert_int_equal(l.max_tail_bytes, 10240);
	assert_string_equal(target, "/srv/web");
	assert_string_equal(c.state_dir, "/var/lib/slipway/agent"); /* never overridable */
	agent_config_step_limits(&c, NULL, &l, &target);
	assert_int_equal(l.process_timeout_s, 1800);
	assert_null(target);
	json_decref(ac);
	agent_config_release(&c);
}

/* upstream's INI file: [default_config] keys mapped to ours, our keys accepted, the rest ignored. */
static void test_upstream_ini(void **state)
{
	struct agent_config c;
	char err[512] = "";
	(void)state;

	assert_int_equal(load("# upstream deploy-agent\n\n[default_config]\n"
			      "teletraan_service_url = http://teletraan.example:8080\n"
			      "teletraan_service_version = v1\nteletraan_service_token = sekret\n"
			      "deploy_agent_dir = /var/tmp/deployd\nbuilds_dir = /var/tmp/deployd/builds\n"
			      "log_directory = /var/tmp/deployd/logs\ntarget_default_dir = /var/tmp/deployd/target\n"
			      "daemon_sleep_time = 45\nmax_retry = 4\nnum_builds_to_retain = 5\n"
			      "process_timeout: 600\nlog_level = WARNING\naws_access_key_id = AKID\n"
			      "aws_secret_access_key = SECRET\nminimum_log_level = x\ntags = zone=a\n"
			      "[other]\nfoo = bar\n",
			      &c, err, sizeof(err)),
			 0);
	assert_true(c.upstream_ini);
	assert_int_equal(c.n_server_urls, 1);
	assert_string_equal(c.server_urls[0], "http://teletraan.example:8080");
	assert_string_equal(c.token, "sekret");
	assert_string_equal(c.state_dir, "/var/tmp/deployd");
	assert_string_equal(c.host_info_file, "/var/tmp/deployd/host_info");
	assert_string_equal(c.builds_dir, "/var/tmp/deployd/builds");
	assert_string_equal(c.log_dir, "/var/tmp/deployd/logs");
	assert_string_equal(c.target_dir, "/var/tmp/deployd/target");
	assert_int_equal(c.ping_interval_s, 45);
	assert_int_equal(c.max_retry, 4);
	assert_int_equal(c.keep_builds, 5);
	assert_int_equal(c.process_timeout_s, 600);
	assert_string_equal(c.log_level, "warn");
	assert_string_equal(c.s3_access_key_id, "AKID");
	assert_string_equal(c.s3_secret_access_key, "SECRET");
	assert_string_equal(c.tags, "zone=a");
	assert_true(!c.import_env_status || !*c.import_env_status); /* no env_status in deploy_agent_dir */
	agent_config_release(&c);

	/* a bad value names the line; an unsupported API version is refused */
	assert_int_equal(load("[default_config]\nteletraan_service_url = http://x\nnum_builds_to_retain = 0\n", &c, err,
			      sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, ":3:"));
	agent_config_release(&c);
	assert_int_equal(load("[default_config]\nteletraan_service_version = v2\n", &c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "only v1"));
	agent_config_release(&c);
	/* a key = value file is not INI, even with a ; comment first */
	assert_int_equal(load("; c\nserver_url = http://x\n", &c, err, sizeof(err)), 0);
	assert_false(c.upstream_ini);
	agent_config_release(&c);
}

/* With upstream's file, an env_status in deploy_agent_dir is imported on the first start. */
static void test_upstream_env_status_default(void **state)
{
	char dir[] = "/tmp/slipway-agent-deployd-XXXXXX", text[512], file[600];
	struct agent_config c;
	char err[512] = "";
	(void)state;

	assert_non_null(mkdtemp(dir));
	snprintf(file, sizeof(file), "%s/env_status", dir);
	assert_int_equal(fs_write_atomic_path(file, "{}", 2, 0600), 0);
	snprintf(text, sizeof(text), "[default_config]\nteletraan_service_url = http://x\ndeploy_agent_dir = %s\n", dir);
	assert_int_equal(load(text, &c, err, sizeof(err)), 0);
	assert_string_equal(c.import_env_status, file);
	agent_config_release(&c);
	unlink(file);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_and_values),
		cmocka_unit_test(test_ranges),
		cmocka_unit_test(test_path_lists),
		cmocka_unit_test(test_overrides),
		cmocka_unit_test(test_upstream_ini),
		cmocka_unit_test(test_upstream_env_status_default),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
