/* SPDX-License-Identifier: Apache-2.0 */
/* http/metrics.c: the HTTP metrics: requests by route and status code, a latency histogram by route
 * (unmatched requests count as route "other"), and connections cut by the read deadline. Counters are
 * atomic increments in the route's route_stats; /metrics reads them as Prometheus text. */
#include <errno.h>

#include "buf.h"
#include "internal.h"
#include "util.h"
#include "banned.h"

static const double latency_buckets[N_LATENCY_BUCKETS] = { 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
							    0.5,   1,     2.5,  5,     10,   30,  60 };

void http_metrics_record(struct server *srv, const struct req *r, int64_t us)
{
	size_t idx = r->match.route ? r->match.index : router_size(srv->router), b;
	struct route_stats *st = router_stats(srv->router, idx);

	if (r->status >= 100 && r->status < 600)
		__atomic_add_fetch(&st->by_code[r->status], 1, __ATOMIC_RELAXED);
	for (b = 0; b < N_LATENCY_BUCKETS; b++)
		if ((double)us / 1e6 <= latency_buckets[b])
			break;
	__atomic_add_fetch(&st->latency[b], 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&st->latency_sum_us, (uint64_t)us, __ATOMIC_RELAXED);
	__atomic_add_fetch(&st->latency_count, 1, __ATOMIC_RELAXED);
}

/* The label of route i: route="GET /v1/envs/{env}/{stage}", or route="other". */
static void route_label(const struct router *rt, size_t i, char *label, size_t size)
{
	const struct route *route = router_route(rt, i);

	if (route)
		(void)str_printf(label, size, "route=\"%s %s\"", route->method, route->pattern);
	else
		(void)str_copy(label, size, "route=\"other\"");
}

static int append_counts(struct router *rt, struct buf *out)
{
	int k = 0;

	k |= buf_appends(out, "# HELP slipway_http_requests_total HTTP requests by route and status code.\n"
			      "# TYPE slipway_http_requests_total counter\n");
	for (size_t i = 0; i <= router_size(rt); i++) {
		char label[300];
		route_label(rt, i, label, sizeof(label));
		for (int code = 100; code < 600; code++) {
			uint64_t v = __atomic_load_n(&router_stats(rt, i)->by_code[code], __ATOMIC_RELAXED);
			if (v)
				k |= buf_printf(out, "slipway_http_requests_total{%s,code=\"%d\"} %llu\n", label, code,
						(unsigned long long)v);
		}
	}
	return k;
}

static int append_latencies(struct router *rt, struct buf *out)
{
	int k = 0;

	k |= buf_appends(out, "# HELP slipway_http_request_duration_seconds HTTP request latency by route.\n"
			      "# TYPE slipway_http_request_duration_seconds histogram\n");
	for (size_t i = 0; i <= router_size(rt); i++) {
		struct route_stats *st = router_stats(rt, i);
		uint64_t cum = 0, count = __atomic_load_n(&st->latency_count, __ATOMIC_RELAXED);
		char label[300];
		if (!count)
			continue;
		route_label(rt, i, label, sizeof(label));
		for (size_t b = 0; b < N_LATENCY_BUCKETS; b++) {
			cum += __atomic_load_n(&st->latency[b], __ATOMIC_RELAXED);
			k |= buf_printf(out, "slipway_http_request_duration_seconds_bucket{%s,le=\"%g\"} %llu\n", label,
					latency_buckets[b], (unsigned long long)cum);
		}
		cum += __atomic_load_n(&st->latency[N_LATENCY_BUCKETS], __ATOMIC_RELAXED);
		k |= buf_printf(out, "slipway_http_request_duration_seconds_bucket{%s,le=\"+Inf\"} %llu\n", label,
				(unsigned long long)cum);
		k |= buf_printf(out, "slipway_http_request_duration_seconds_sum{%s} %.6f\n", label,
				(double)__atomic_load_n(&st->latency_sum_us, __ATOMIC_RELAXED) / 1e6);
		k |= buf_printf(out, "slipway_http_request_duration_seconds_count{%s} %llu\n", label,
				(unsigned long long)count);
	}
	return k;
}

int http_metrics_append(struct server *srv, struct buf *out)
{
	int k = 0;

	k |= append_counts(srv->router, out);
	k |= append_latencies(srv->router, out);
	k |= buf_printf(out, "# HELP slipway_http_read_deadline_closed_total Connections closed because a request "
			     "did not arrive within request_read_timeout.\n"
			     "# TYPE slipway_http_read_deadline_closed_total counter\n"
			     "slipway_http_read_deadline_closed_total %llu\n",
			(unsigned long long)http_deadline_closed());
	return k < 0 ? -ENOMEM : 0;
}
