/* SPDX-License-Identifier: Apache-2.0 */
/* test-auth: the trusted_proxies matcher (PROTOCOL §9.1) and route scope names. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "http/http.h"
#include "banned.h"

static bool trusted4(const char *list, const char *ip)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	assert_int_equal(inet_pton(AF_INET, ip, &a.sin_addr), 1);
	return http_proxy_trusted(list, (const struct sockaddr *)&a);
}

static bool trusted6(const char *list, const char *ip)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6 };
	assert_int_equal(inet_pton(AF_INET6, ip, &a.sin6_addr), 1);
	return http_proxy_trusted(list, (const struct sockaddr *)&a);
}

static void test_proxy_lists(void **state)
{
	(void)state;
	assert_true(trusted4("127.0.0.1", "127.0.0.1"));
	assert_false(trusted4("127.0.0.1", "127.0.0.2"));
	assert_true(trusted4("10.0.0.0/8", "10.255.1.2"));
	assert_false(trusted4("10.0.0.0/8", "11.0.0.1"));
	assert_true(trusted4("192.168.1.0/24, 10.1.2.3", "10.1.2.3"));
	assert_true(trusted4("192.168.1.0/24 10.1.2.3", "192.168.1.77"));
	assert_true(trusted4("0.0.0.0/0", "8.8.8.8"));
	assert_true(trusted4("10.1.2.0/31", "10.1.2.1"));
	assert_false(trusted4("10.1.2.0/31", "10.1.2.2"));
	/* malformed entries never match, and do not spoil the rest */
	assert_false(trusted4("10.1.2.3/33", "10.1.2.3"));
	assert_false(trusted4("10.1.2.3/-1", "10.1.2.3"));
	assert_false(trusted4("/8", "10.1.2.3"));
	assert_false(trusted4("host.example", "10.1.2.3"));
	assert_true(trusted4("junk, 10.1.2.3", "10.1.2.3"));
	assert_false(trusted4("", "127.0.0.1"));
	assert_false(trusted4(NULL, "127.0.0.1"));
	/* IPv6, and v4-mapped addresses count as their IPv4 form */
	assert_true(trusted6("::1", "::1"));
	assert_false(trusted6("127.0.0.1", "::1"));
	assert_true(trusted6("fd00::/8", "fd12:3456::1"));
	assert_false(trusted6("fd00::/8", "fe80::1"));
	assert_true(trusted6("127.0.0.1", "::ffff:127.0.0.1"));
	assert_false(trusted6("::ffff:127.0.0.1", "::ffff:127.0.0.2"));
}

static void test_scope_names(void **state)
{
	(void)state;
	assert_string_equal(route_scope_to_string(SCOPE_PUBLIC), "PUBLIC");
	assert_string_equal(route_scope_to_string(SCOPE_ENV), "ENV");
	assert_string_equal(route_scope_to_string(SCOPE_NEW_ENV), "NEW_ENV");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_proxy_lists),
		cmocka_unit_test(test_scope_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
