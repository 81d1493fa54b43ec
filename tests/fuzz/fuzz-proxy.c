/* fuzz-needs: server */
/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz-proxy: the trusted_proxies matcher (PROTOCOL §9.1: addresses and CIDRs, comma- or
 * space-separated) on arbitrary lists, against IPv4, IPv6 and v4-mapped peers. A list that names
 * the peer exactly must match; "0.0.0.0/0" appended must match every IPv4 peer. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "http/http.h"
#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_in v4 = { .sin_family = AF_INET };
	struct sockaddr_in6 v6 = { .sin6_family = AF_INET6 }, mapped = { .sin6_family = AF_INET6 };
	char *list, *more;

	list = malloc(size + 1);
	more = malloc(size + 64);
	if (!list || !more)
		abort();
	memcpy(list, data, size);
	list[size] = 0;
	CHECK(inet_pton(AF_INET, "10.1.2.3", &v4.sin_addr) == 1);
	CHECK(inet_pton(AF_INET6, "::1", &v6.sin6_addr) == 1);
	CHECK(inet_pton(AF_INET6, "::ffff:10.1.2.3", &mapped.sin6_addr) == 1);
	(void)http_proxy_trusted(list, (const struct sockaddr *)&v4);
	(void)http_proxy_trusted(list, (const struct sockaddr *)&v6);
	/* the v4-mapped form of an address is the address */
	CHECK(http_proxy_trusted(list, (const struct sockaddr *)&v4) ==
	      http_proxy_trusted(list, (const struct sockaddr *)&mapped));
	(void)snprintf(more, size + 64, "%s 0.0.0.0/0,10.1.2.3", list);
	CHECK(http_proxy_trusted(more, (const struct sockaddr *)&v4));
	free(list);
	free(more);
	return 0;
}
