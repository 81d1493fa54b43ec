/* SPDX-License-Identifier: Apache-2.0 */
/* lib/ipnet.h: IPv4/IPv6 addresses and CIDR networks: parsing, membership, and the classes of
 * addresses an outgoing call must not reach (loopback, link-local, private, ...). Pure: no I/O,
 * no name resolution. Does not log. */
#ifndef SLIPWAY_IPNET_H
#define SLIPWAY_IPNET_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

/* One address. An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is stored as the IPv4 address it
 * maps: the kernel connects to that very address. */
struct ipnet_addr {
	int family; /* AF_INET or AF_INET6 */
	unsigned char bytes[16];
};

/* A network "address/prefix"; a bare address is a /32 or /128. Host bits may be set. */
struct ipnet {
	struct ipnet_addr addr;
	unsigned prefix;
};

/* The textual address s (dotted quad, or IPv6 without brackets or zone). -EINVAL otherwise. */
int ipnet_addr_parse(const char *s, struct ipnet_addr *ret);
/* The address of sa (AF_INET or AF_INET6). -EAFNOSUPPORT for other families. */
int ipnet_addr_from_sockaddr(const struct sockaddr *sa, struct ipnet_addr *ret);
/* Text for logs into out[size] (at least INET6_ADDRSTRLEN); returns out ("?" when it cannot). */
const char *ipnet_addr_to_string(const struct ipnet_addr *a, char *out, size_t size);
/* NULL for an address a call may reach by default; otherwise what it is: "loopback", "link-local",
 * "private", "unspecified", "multicast" or "reserved". IPv4-compatible (::a.b.c.d), NAT64
 * (64:ff9b::/96) and 6to4 (2002::/16) forms are judged by the IPv4 address they carry. */
const char *ipnet_addr_restricted(const struct ipnet_addr *a);

/* "addr" or "addr/prefix". -EINVAL on anything else (the prefix is bounded by the family). */
int ipnet_parse(const char *s, struct ipnet *ret);
bool ipnet_contains(const struct ipnet *net, const struct ipnet_addr *a);
/* A list of networks separated by commas and/or blanks (empty or NULL: none). On success
 * *ret_nets (free()) and *ret_n are the caller's. -EINVAL on the first bad entry, whose text
 * goes to bad[bad_size] when bad is not NULL; -ENOMEM. */
int ipnet_list_parse(const char *list, struct ipnet **ret_nets, size_t *ret_n, char *bad, size_t bad_size);
bool ipnet_list_contains(const struct ipnet *nets, size_t n, const struct ipnet_addr *a);

#endif
