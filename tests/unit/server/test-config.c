/* SPDX-License-Identifier: Apache-2.0 */
/* tests/unit/server/test-config.c: settings from file and flags (PROTOCOL §10). */
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

#include "http/http.h"
#include "server.h"

/* argv is const in the tests; the parser takes char ** like main() */
static int load(struct server_config *cfg, int argc, const char *const *argv, char *err, size_t errsize)
{
	bool check = false, help = false;
	char *copy[16];
	int r;

	assert_true(argc < 16);
	for (int i = 0; i < argc; i++)
		copy[i] = strdup(argv[i]);
	copy[argc] = NULL;
	memset(cfg, 0, sizeof(*cfg));
	r = server_config_load(cfg, argc, copy, &check, &help, err, errsize);
	for (int i = 0; i < argc; i++)
		free(copy[i]);
	return r;
}

static char *write_file(const char *text)
{
	static char path[64];
	int fd;

	strcpy(path, "/tmp/slipway-test-cfg-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static void test_defaults(void **state)
{
	struct server_config cfg;
	char err[256] = "";
	const char *argv[] = { "slipway-server", NULL };

	(void)state;
	assert_int_equal(load(&cfg, 1, argv, err, sizeof(err)), 0);
	assert_string_equal(cfg.listen, "127.0.0.1:8080");
	assert_int_equal(cfg.max_body_bytes, 1024 * 1024);
	assert_int_equal(cfg.max_ping_body_bytes, 4 * 1024 * 1024);
	assert_int_equal(cfg.max_connections, 16384);
	assert_int_equal(cfg.per_ip_connection_limit, 256);
	assert_int_equal(cfg.request_read_timeout, 10);
	assert_int_equal(cfg.transition_period, 30);
	assert_int_equal(cfg.event_poll_period_ms, 500);
	assert_int_equal(cfg.host_unreachable_after, 150);
	assert_string_equal(cfg.anonymous_role, "NONE");
	assert_false(cfg.public_metrics);
	assert_int_equal(server_config_validate(&cfg, err, sizeof(err)), 0);
	server_config_release(&cfg);
}

static void test_connection_settings(void **state)
{
	struct server_config cfg;
	char err[256] = "";
	const char *old_name[] = { "slipway-server", "--set", "max_connections_per_ip=7", "request_read_timeout=0", NULL };
	const char *bad_url[] = { "slipway-server", "--public_url", "https://deploy.example.com/board", NULL };
	const char *good_url[] = { "slipway-server", "--public_url", "https://Deploy.example.com:8443/", NULL };

	(void)state;
	assert_int_equal(load(&cfg, 4, old_name, err, sizeof(err)), 0);
	assert_int_equal(cfg.per_ip_connection_limit, 7); /* the old name sets the new setting */
	assert_int_equal(cfg.request_read_timeout, 0);
	server_config_release(&cfg);
	/* public_url is the HTTP layer's to check */
	assert_int_equal(load(&cfg, 3, bad_url, err, sizeof(err)), 0);
	assert_int_equal(http_config_validate(&cfg, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "public_url"));
	server_config_release(&cfg);
	assert_int_equal(load(&cfg, 3, good_url, err, sizeof(err)), 0);
	assert_int_equal(http_config_validate(&cfg, err, sizeof(err)), 0);
	server_config_release(&cfg);
}

static void test_overload_settings(void **state)
{
	struct server_config cfg;
	char err[256] = "";
	const char *dflt[] = { "slipway-server", NULL };
	const char *set[] = { "slipway-server", "--set", "overload_connections=12000", "overload_retry_after=9", NULL };
	const char *low[] = { "slipway-server", "--set", "overload_connections=10000", NULL };
	const char *high[] = { "slipway-server", "--set", "overload_connections=16385", NULL };

	(void)state;
	/* default: halfway from max_held_pings (10000) to max_connections (16384) */
	assert_int_equal(load(&cfg, 1, dflt, err, sizeof(err)), 0);
	assert_int_equal(server_config_validate(&cfg, err, sizeof(err)), 0);
	assert_int_equal(server_overload_connections(&cfg), 13192);
	assert_int_equal(cfg.overload_retry_after, 5);
	server_config_release(&cfg);
	assert_int_equal(load(&cfg, 4, set, err, sizeof(err)), 0);
	assert_int_equal(server_config_validate(&cfg, err, sizeof(err)), 0);
	assert_int_equal(server_overload_connections(&cfg), 12000);
	assert_int_equal(cfg.overload_retry_after, 9);
	server_config_release(&cfg);
	/* held pings alone must not overload the server, and the threshold lies below the hard limit */
	assert_int_equal(load(&cfg, 3, low, err, sizeof(err)), 0);
	assert_int_equal(server_config_validate(&cfg, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "overload_connections"));
	server_config_release(&cfg);
	assert_int_equal(load(&cfg, 3, high, err, sizeof(err)), 0);
	assert_int_equal(server_config_validate(&cfg, err, sizeof(err)), -EINVAL);
	server_config_release(&cfg);
}

static void test_flags_win_over_file(void **state)
{
	struct server_config cfg;
	char err[256] = "";
	char *path = write_file("# comment\nlisten = 0.0.0.0:9000\nevent_poll_period = 0.25\njanitor_period = 5\n");
	const char *argv[] = { "slipway-server", "--config", path, "--listen", "127.0.0.1:0", "--set", "janitor-period=7",
			 "public_metrics=true", "--max_body_bytes=2M", NULL };

	(void)state;
	assert_int_equal(load(&cfg, 9, argv, err, sizeof(err)), 0);
	assert_string_equal(cfg.listen, "127.0.0.1:0");
	assert_int_equal(cfg.event_poll_period_ms, 250);
	assert_int_equal(cfg.janitor_period, 7);
	assert_true(cfg.public_metrics);
	assert_int_equal(cfg.max_body_bytes, 2 * 1024 * 1024);
	server_config_release(&cfg);
	unlink(path);
}

static void test_file_errors_name_the_line(void **state)
{
	struct server_config cfg;
	char err[512] = "";
	char *path = write_file("listen = 127.0.0.1:1\nnope = 1\n");
	const char *argv[] = { "slipway-server", "--config", path, NULL };

	(void)state;
	assert_int_equal(load(&cfg, 3, argv, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, ":2:"));
	server_config_release(&cfg);
	unlink(path);

	path = write_file("janitor_period = 1\njanitor_period = 2\n");
	argv[2] = path;
	assert_int_equal(load(&cfg, 3, argv, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, ":2:"));
	server_config_release(&cfg);
	unlink(path);

	path = write_file("max_connections = many\n");
	argv[2] = path;
	assert_int_equal(load(&cfg, 3, argv, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, ":1:"));
	server_config_release(&cfg);
	unlink(path);
}

static void test_bad_flags_and_validation(void **state)
{
	struct server_config cfg;
	char err[256] = "";
	const char *a1[] = { "slipway-server", "--bogus", "1", NULL };
	const char *a2[] = { "slipway-server", "--set", "noequals", NULL };
	const char *a3[] = { "slipway-server", "--set", "tls_cert=a.pem", NULL };
	const char *a4[] = { "slipway-server", "--anonymous-role", "GOD", NULL };
	const char *a5[] = { "slipway-server", "--max-held-pings", "20000", NULL };
	const char *a6[] = { "slipway-server", "--listen", "nowhere", NULL };
	const char *a7[] = { "slipway-server", "--retention-at", "25:00", NULL };

	(void)state;
	assert_int_equal(load(&cfg, 3, a1, err, sizeof(err)), -EINVAL);
	server_config_release(&cfg);
	assert_int_equal(load(&cfg, 3, a2, err, sizeof(err)), -EINVAL);
	server_config_release(&cfg);
	const char *const *bad[] = { a3, a4, a5, a6, a7 };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(load(&cfg, 3, bad[i], err, sizeof(err)), 0);
		assert_int_equal(server_config_validate(&cfg, err, sizeof(err)), -EINVAL);
		server_config_release(&cfg);
	}
}

static void test_listen_parse(void **state)
{
	char host[64];
	int port;

	(void)state;
	assert_int_equal(server_parse_listen("127.0.0.1:0", host, sizeof(host), &port), 0);
	assert_string_equal(host, "127.0.0.1");
	assert_int_equal(port, 0);
	assert_int_equal(server_parse_listen("[::1]:8080", host, sizeof(host), &port), 0);
	assert_string_equal(host, "::1");
	assert_int_equal(port, 8080);
	assert_true(server_parse_listen("host:70000", host, sizeof(host), &port) < 0);
	assert_true(server_parse_listen(":80", host, sizeof(host), &port) < 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_connection_settings),
		cmocka_unit_test(test_overload_settings),
		cmocka_unit_test(test_flags_win_over_file),
		cmocka_unit_test(test_file_errors_name_the_line),
		cmocka_unit_test(test_bad_flags_and_validation),
		cmocka_unit_test(test_listen_parse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
