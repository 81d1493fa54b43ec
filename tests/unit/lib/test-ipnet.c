/* SPDX-License-Identifier: Apache-2.0 */
/* tests/unit/lib/test-ipnet.c: address classes (every boundary of every restricted range, mapped
 * and compatible forms), CIDR parsing and membership, network lists. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ipnet.h"

static const char *restricted(const char *text)
{
	struct ipnet_addr a;

	assert_int_equal(ipnet_addr_parse(text, &a), 0);
	return ipnet_addr_restricted(&a);
}

static void test_classes(void **state)
{
	static const struct {
		const char *addr, *want; /* want NULL: reachable by default */
	} rows[] = {
		{ "8.8.8.8", NULL },
		{ "0.0.0.0", "unspecified" },
		{ "0.255.255.255", "unspecified" },
		{ "1.0.0.0", NULL },
		{ "9.255.255.255", NULL },
		{ "10.0.0.0", "private" },
		{ "10.255.255.255", "private" },
		{ "11.0.0.0", NULL },
		{ "100.63.255.255", NULL },
		{ "100.64.0.0", "private" },
		{ "100.127.255.255", "private" },
		{ "100.128.0.0", NULL },
		{ "126.255.255.255", NULL },
		{ "127.0.0.1", "loopback" },
		{ "127.255.255.254", "loopback" },
		{ "128.0.0.0", NULL },
		{ "169.253.255.255", NULL },
		{ "169.254.169.254", "link-local" },
		{ "169.255.0.0", NULL },
		{ "172.15.255.255", NULL },
		{ "172.16.0.0", "private" },
		{ "172.31.255.255", "private" },
		{ "172.32.0.0", NULL },
		{ "192.0.0.1", "reserved" },
		{ "192.0.2.1", NULL },
		{ "192.167.255.255", NULL },
		{ "192.168.0.1", "private" },
		{ "192.169.0.0", NULL },
		{ "198.18.0.1", "reserved" },
		{ "198.20.0.0", NULL },
		{ "223.255.255.255", NULL },
		{ "224.0.0.1", "multicast" },
		{ "239.255.255.255", "multicast" },
		{ "240.0.0.1", "reserved" },
		{ "255.255.255.255", "reserved" },
		{ "::", "unspecified" },
		{ "::1", "loopback" },
		{ "::2", "unspecified" },            /* ::0.0.0.2, in 0.0.0.0/8 */
		{ "::127.0.0.1", "loopback" },     /* IPv4-compatible */
		{ "::8.8.8.8", "reserved" },       /* compatible form: never a real destination */
		{ "::ffff:127.0.0.1", "loopback" }, /* IPv4-mapped */
		{ "::ffff:169.254.169.254", "link-local" },
		{ "::ffff:8.8.8.8", NULL },
		{ "64:ff9b::a9fe:a9fe", "link-local" }, /* NAT64 of 169.254.169.254 */
		{ "64:ff9b::808:808", NULL },
		{ "64:ff9b:1::1", "private" },
		{ "2002:7f00:1::", "loopback" }, /* 6to4 of 127.0.0.1 */
		{ "2002:808:808::", NULL },
		{ "2001:4860:4860::8888", NULL },
		{ "fbff:ffff::", NULL },
		{ "fc00::", "private" },
		{ "fdff:ffff::1", "private" },
		{ "fe7f::1", NULL },
		{ "fe80::", "link-local" },
		{ "febf:ffff::", "link-local" },
		{ "fec0::1", "private" },
		{ "ff02::1", "multicast" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const char *got = restricted(rows[i].addr);
		if (rows[i].want == NULL ? got != NULL : (got == NULL || strcmp(got, rows[i].want) != 0))
			fail_msg("%s: got %s, want %s", rows[i].addr, got ? got : "(reachable)",
				 rows[i].want ? rows[i].want : "(reachable)");
	}
}

static void test_addr_forms(void **state)
{
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6 };
	struct sockaddr_in s4 = { .sin_family = AF_INET };
	struct sockaddr sa = { .sa_family = AF_UNIX };
	struct ipnet_addr a, b;
	char text[64];

	(void)state;
	assert_int_equal(ipnet_addr_parse("::ffff:10.1.2.3", &a), 0);
	assert_int_equal(a.family, AF_INET);
	assert_string_equal(ipnet_addr_to_string(&a, text, sizeof(text)), "10.1.2.3");
	assert_int_equal(inet_pton(AF_INET6, "::ffff:10.1.2.3", &s6.sin6_addr), 1);
	assert_int_equal(ipnet_addr_from_sockaddr((struct sockaddr *)&s6, &b), 0);
	assert_int_equal(b.family, AF_INET);
	assert_memory_equal(a.bytes, b.bytes, 4);
	assert_int_equal(inet_pton(AF_INET, "10.1.2.3", &s4.sin_addr), 1);
	assert_int_equal(ipnet_addr_from_sockaddr((struct sockaddr *)&s4, &b), 0);
	assert_memory_equal(a.bytes, b.bytes, 4);
	assert_int_equal(ipnet_addr_from_sockaddr(&sa, &b), -EAFNOSUPPORT);
	assert_int_equal(ipnet_addr_parse("[::1]", &a), -EINVAL);
	assert_int_equal(ipnet_addr_parse("localhost", &a), -EINVAL);
	assert_int_equal(ipnet_addr_parse("127.1", &a), -EINVAL); /* inet_pton: dotted quads only */
	assert_int_equal(ipnet_addr_parse("", &a), -EINVAL);
	assert_int_equal(ipnet_addr_parse(NULL, &a), -EINVAL);
}

static bool in(const char *net, const char *addr)
{
	struct ipnet n;
	struct ipnet_addr a;

	assert_int_equal(ipnet_parse(net, &n), 0);
	assert_int_equal(ipnet_addr_parse(addr, &a), 0);
	return ipnet_contains(&n, &a);
}

static void test_cidr(void **state)
{
	struct ipnet n;

	(void)state;
	assert_true(in("127.0.0.0/8", "127.255.255.255"));
	assert_false(in("127.0.0.0/8", "128.0.0.0"));
	assert_true(in("127.0.0.1/8", "127.9.9.9")); /* host bits are ignored */
	assert_true(in("10.0.0.1", "10.0.0.1"));
	assert_false(in("10.0.0.1", "10.0.0.2"));
	assert_true(in("10.0.0.0/31", "10.0.0.1"));
	assert_false(in("10.0.0.0/31", "10.0.0.2"));
	assert_true(in("0.0.0.0/0", "8.8.8.8"));
	assert_false(in("0.0.0.0/0", "::1")); /* families never mix */
	assert_true(in("::/0", "::1"));
	assert_false(in("::/0", "8.8.8.8"));
	assert_true(in("fd00::/8", "fdff::1"));
	assert_false(in("fd00::/8", "fe00::1"));
	assert_true(in("fe80::/10", "febf::1"));
	assert_false(in("fe80::/10", "fec0::1"));
	assert_true(in("2001:db8::/127", "2001:db8::1"));
	assert_false(in("2001:db8::/127", "2001:db8::2"));
	/* a mapped address is its IPv4 address, for networks written either way */
	assert_true(in("127.0.0.0/8", "::ffff:127.0.0.2"));
	assert_true(in("::ffff:127.0.0.0/104", "127.0.0.2"));
	assert_false(in("::ffff:127.0.0.0/104", "128.0.0.2"));
	/* limits: the prefix of each family at max and max + 1 */
	assert_int_equal(ipnet_parse("10.0.0.0/32", &n), 0);
	assert_int_equal(n.prefix, 32);
	assert_int_equal(ipnet_parse("10.0.0.0/33", &n), -EINVAL);
	assert_int_equal(ipnet_parse("::/128", &n), 0);
	assert_int_equal(ipnet_parse("::/129", &n), -EINVAL);
	assert_int_equal(ipnet_parse("10.0.0.0/", &n), -EINVAL);
	assert_int_equal(ipnet_parse("10.0.0.0/-1", &n), -EINVAL);
	assert_int_equal(ipnet_parse("10.0.0.0/ 8", &n), -EINVAL);
	assert_int_equal(ipnet_parse("10.0.0.0/8/8", &n), -EINVAL);
	assert_int_equal(ipnet_parse("10.0.0/8", &n), -EINVAL);
	assert_int_equal(ipnet_parse("localhost/8", &n), -EINVAL);
	assert_int_equal(ipnet_parse("", &n), -EINVAL);
}

static void test_list(void **state)
{
	struct ipnet *nets = NULL;
	struct ipnet_addr a;
	size_t n = 99;
	char bad[80] = "";

	(void)state;
	assert_int_equal(ipnet_list_parse(NULL, &nets, &n, bad, sizeof(bad)), 0);
	assert_int_equal(n, 0);
	assert_null(nets);
	assert_int_equal(ipnet_list_parse(" , ", &nets, &n, bad, sizeof(bad)), 0);
	assert_int_equal(n, 0);
	assert_int_equal(ipnet_list_parse("10.0.0.0/8, 127.0.0.1\tfd00::/8,,192.168.0.0/16", &nets, &n, bad,
					  sizeof(bad)),
			 0);
	assert_int_equal(n, 4);
	assert_int_equal(ipnet_addr_parse("fd12::1", &a), 0);
	assert_true(ipnet_list_contains(nets, n, &a));
	assert_int_equal(ipnet_addr_parse("127.0.0.2", &a), 0);
	assert_false(ipnet_list_contains(nets, n, &a));
	assert_int_equal(ipnet_addr_parse("192.168.7.7", &a), 0);
	assert_true(ipnet_list_contains(nets, n, &a));
	free(nets);
	nets = NULL;
	n = 99;
	/* a bad entry fails the whole list and is named; the outputs stay untouched */
	assert_int_equal(ipnet_list_parse("10.0.0.0/8,10.0.0.0/33", &nets, &n, bad, sizeof(bad)), -EINVAL);
	assert_string_equal(bad, "10.0.0.0/33");
	assert_null(nets);
	assert_int_equal(n, 99);
	assert_false(ipnet_list_contains(NULL, 0, &a));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classes),
		cmocka_unit_test(test_addr_forms),
		cmocka_unit_test(test_cidr),
		cmocka_unit_test(test_list),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
