/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz-route: fuzz-needs: server. Route matching over the server's real route table (input
 * "METHOD /path"), the query helpers and the cron parser fed with the same bytes. */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cron.h"
#include "http/http.h"
#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct router *rt;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct route_match m;
	struct query q = { 0 };
	struct cron c;
	char *s, *sp, err[128];
	int64_t next, v;
	bool b;

	if (!rt) {
		if (router_new(&rt) < 0 || api_register_routes(rt) < 0)
			abort();
	}
	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = 0;
	sp = strchr(s, ' ');
	if (sp) {
		*sp = 0;
		int r = router_match(rt, s, sp + 1, &m);
		assert(r == 0 || r == -ENOENT || r == -EOPNOTSUPP || r == -ENAMETOOLONG);
		if (r == 0) {
			assert(m.route && m.n_params <= ROUTE_MAX_PARAMS);
			for (size_t i = 0; i < m.n_params; i++)
				assert(m.values[i] && !strchr(m.values[i], '/'));
		}
		(void)query_add(&q, s, sp + 1);
		(void)query_bool(&q, s, false, &b);
		(void)query_int(&q, s, -5, 5, 0, &v);
		query_release(&q);
		*sp = ' ';
	}
	if (cron_parse(s, &c, err, sizeof(err)) == 0)
		(void)cron_next(&c, 1767225600000LL, &next);
	free(s);
	return 0;
}
