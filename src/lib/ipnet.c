/* SPDX-License-Identifier: Apache-2.0 */
/* lib/ipnet.c: addresses, CIDR networks and the address classes outgoing calls avoid. Pure: the
 * libc converters inet_pton/inet_ntop only, no resolution, no logging. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ipnet.h"
#include "parse.h"
#include "util.h"
#include "banned.h"

static const unsigned char v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

static void addr_v4(struct ipnet_addr *a, const unsigned char *b4)
{
	memset(a, 0, sizeof(*a));
	a->family = AF_INET;
	memcpy(a->bytes, b4, 4);
}

static void addr_v6(struct ipnet_addr *a, const unsigned char *b16)
{
	if (memcmp(b16, v4mapped, sizeof(v4mapped)) == 0) {
		addr_v4(a, b16 + 12);
		return;
	}
	a->family = AF_INET6;
	memcpy(a->bytes, b16, 16);
}

int ipnet_addr_parse(const char *s, struct ipnet_addr *ret)
{
	unsigned char b[16];

	if (!s)
		return -EINVAL;
	if (inet_pton(AF_INET, s, b) == 1)
		addr_v4(ret, b);
	else if (inet_pton(AF_INET6, s, b) == 1)
		addr_v6(ret, b);
	else
		return -EINVAL;
	return 0;
}

int ipnet_addr_from_sockaddr(const struct sockaddr *sa, struct ipnet_addr *ret)
{
	if (!sa)
		return -EINVAL;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)sa;
		addr_v4(ret, (const unsigned char *)&s4->sin_addr);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)sa;
		addr_v6(ret, s6->sin6_addr.s6_addr);
	} else
		return -EAFNOSUPPORT;
	return 0;
}

const char *ipnet_addr_to_string(const struct ipnet_addr *a, char *out, size_t size)
{
	if (!inet_ntop(a->family, a->bytes, out, (socklen_t)size))
		(void)str_copy(out, size, "?");
	return out;
}

/* Does b (bits bytes, big-endian) start with the prefix bits of net? */
static bool prefix_eq(const unsigned char *b, const unsigned char *net, unsigned bits)
{
	unsigned whole = bits / 8, rest = bits % 8;

	if (memcmp(b, net, whole) != 0)
		return false;
	if (rest == 0)
		return true;
	unsigned char m = (unsigned char)(0xffu << (8 - rest));
	return (b[whole] & m) == (net[whole] & m);
}

static const char *v4_restricted(const unsigned char *b)
{
	static const struct {
		unsigned char net[4];
		unsigned bits;
		const char *what;
	} table[] = {
		{ { 0, 0, 0, 0 }, 8, "unspecified" },      /* "this network"; 0.0.0.0 reaches the host itself */
		{ { 10, 0, 0, 0 }, 8, "private" },         /* RFC 1918 */
		{ { 100, 64, 0, 0 }, 10, "private" },      /* shared address space (carrier-grade NAT) */
		{ { 127, 0, 0, 0 }, 8, "loopback" },
		{ { 169, 254, 0, 0 }, 16, "link-local" },  /* cloud metadata lives here */
		{ { 172, 16, 0, 0 }, 12, "private" },      /* RFC 1918 */
		{ { 192, 0, 0, 0 }, 24, "reserved" },      /* IETF protocol assignments */
		{ { 192, 168, 0, 0 }, 16, "private" },     /* RFC 1918 */
		{ { 198, 18, 0, 0 }, 15, "reserved" },     /* benchmarking: often used for internal networks */
		{ { 224, 0, 0, 0 }, 4, "multicast" },
		{ { 240, 0, 0, 0 }, 4, "reserved" },       /* incl. the broadcast address */
	};

	for (size_t i = 0; i < ELEMENTSOF(table); i++)
		if (prefix_eq(b, table[i].net, table[i].bits))
			return table[i].what;
	return NULL;
}

const char *ipnet_addr_restricted(const struct ipnet_addr *a)
{
	static const unsigned char zero[16], nat64[12] = { 0, 0x64, 0xff, 0x9b };
	static const unsigned char nat64_local[6] = { 0, 0x64, 0xff, 0x9b, 0, 1 };
	const unsigned char *b = a->bytes;
	const char *what;

	if (a->family == AF_INET)
		return v4_restricted(b);
	if (a->family != AF_INET6)
		return "reserved";
	if (memcmp(b, zero, 15) == 0 && b[15] <= 1)
		return b[15] ? "loopback" : "unspecified";
	if (memcmp(b, zero, 12) == 0) /* IPv4-compatible: deprecated, never a legitimate destination */
		return (what = v4_restricted(b + 12)) ? what : "reserved";
	if (memcmp(b, nat64, sizeof(nat64)) == 0)
		return v4_restricted(b + 12);
	if (memcmp(b, nat64_local, sizeof(nat64_local)) == 0)
		return "private";
	if (b[0] == 0x20 && b[1] == 0x02) /* 6to4 */
		return v4_restricted(b + 2);
	if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
		return "link-local"; /* fe80::/10 */
	if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0)
		return "private"; /* fec0::/10, the old site-local */
	if ((b[0] & 0xfe) == 0xfc)
		return "private"; /* fc00::/7, unique local */
	if (b[0] == 0xff)
		return "multicast";
	return NULL;
}

int ipnet_parse(const char *s, struct ipnet *ret)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *slash;
	struct ipnet n = { 0 };
	int64_t bits;
	int r;

	if (!s)
		return -EINVAL;
	slash = strchr(s, '/');
	if (slash) {
		if ((size_t)(slash - s) >= sizeof(host))
			return -EINVAL;
		memcpy(host, s, (size_t)(slash - s));
		host[slash - s] = 0;
	} else if (str_copy(host, sizeof(host), s) < 0)
		return -EINVAL;
	/* a network is written in its own family: "::ffff:10.0.0.0/104" stays IPv6 */
	if (inet_pton(AF_INET, host, n.addr.bytes) == 1)
		n.addr.family = AF_INET;
	else if (inet_pton(AF_INET6, host, n.addr.bytes) == 1)
		n.addr.family = AF_INET6;
	else
		return -EINVAL;
	n.prefix = n.addr.family == AF_INET ? 32 : 128;
	if (slash) {
		r = parse_i64(slash + 1, 0, n.prefix, &bits);
		if (r < 0)
			return -EINVAL;
		n.prefix = (unsigned)bits;
	}
	if (n.addr.family == AF_INET6 && n.prefix >= 96 && memcmp(n.addr.bytes, v4mapped, 12) == 0) {
		/* the mapped range of an IPv4 network is that network (addresses are stored unmapped) */
		memmove(n.addr.bytes, n.addr.bytes + 12, 4);
		n.addr.family = AF_INET;
		n.prefix -= 96;
	}
	*ret = n;
	return 0;
}

bool ipnet_contains(const struct ipnet *net, const struct ipnet_addr *a)
{
	return net->addr.family == a->family && prefix_eq(a->bytes, net->addr.bytes, net->prefix);
}

int ipnet_list_parse(const char *list, struct ipnet **ret_nets, size_t *ret_n, char *bad, size_t bad_size)
{
	struct ipnet *nets = NULL;
	char *copy = NULL, *save = NULL;
	size_t n = 0;
	int r = 0;

	if (list && *list) {
		copy = strdup(list);
		if (!copy)
			return -ENOMEM;
		for (char *t = strtok_r(copy, ", \t", &save); t; t = strtok_r(NULL, ", \t", &save)) {
			struct ipnet *grown = reallocarray(nets, n + 1, sizeof(*nets));
			if (!grown) {
				r = -ENOMEM;
				goto out;
			}
			nets = grown;
			r = ipnet_parse(t, &nets[n]);
			if (r < 0) {
				if (bad)
					(void)str_printf(bad, bad_size, "%.64s", t);
				goto out;
			}
			n++;
		}
	}
	*ret_nets = nets;
	*ret_n = n;
	nets = NULL;
out:
	free(nets);
	free(copy);
	return r;
}

bool ipnet_list_contains(const struct ipnet *nets, size_t n, const struct ipnet_addr *a)
{
	for (size_t i = 0; i < n; i++)
		if (ipnet_contains(&nets[i], a))
			return true;
	return false;
}
