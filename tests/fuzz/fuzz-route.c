/* fuzz-needs: server */
/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz-route: the server's route matching over the real route table (PROTOCOL §4: literal
 * segments win, 405 for a known path without the method, trailing '/', long paths) and the
 * trusted_proxies matcher (§9.1). Input: byte 0 picks the method, the rest is the path; the same
 * bytes are also tried as a trusted_proxies list. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "http.h"
#include "banned.h"

/* assert() may be compiled out (NDEBUG); a fuzz check must always run */
#define CHECK(x)                                                                                                       \
	do {                                                                                                           \
		if (!(x))                                                                                              \
			abort();                                                                                       \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct router *router;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const methods[] = { "GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS", "" };
	struct route_match *m;
	struct sockaddr_in v4 = { .sin_family = AF_INET };
	struct sockaddr_in6 v6 = { .sin6_family = AF_INET6 };
	char *path;
	int k;

	if (!router) {
		if (router_new(&router) < 0 || api_register_routes(router) < 0)
			abort();
	}
	if (size < 1)
		return 0;
	path = malloc(size);
	m = malloc(sizeof(*m));
	if (!path || !m)
		abort();
	memcpy(path, data + 1, size - 1);
	path[size - 1] = 0;
	k = router_match(router, methods[data[0] & 7], path, m);
	if (k == 0) {
		CHECK(m->route);
		CHECK(m->n_params <= ROUTE_MAX_PARAMS);
		for (size_t i = 0; i < m->n_params; i++) {
			CHECK(m->values[i] && !strchr(m->values[i], '/'));
			CHECK(m->names[i] && *m->names[i]);
		}
	} else
		CHECK(k == -ENOENT || k == -EOPNOTSUPP || k == -ENAMETOOLONG || k == -EINVAL);
	inet_pton(AF_INET, "10.1.2.3", &v4.sin_addr);
	inet_pton(AF_INET6, "::1", &v6.sin6_addr);
	(void)http_proxy_trusted(path, (const struct sockaddr *)&v4);
	(void)http_proxy_trusted(path, (const struct sockaddr *)&v6);
	free(path);
	free(m);
	return 0;
}
