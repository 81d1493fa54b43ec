/* SPDX-License-Identifier: Apache-2.0 */
/* api/system.c: /healthz, /metrics (Prometheus text, §10) and /v1/system/version. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "buf.h"
#include "enums.h"
#include "util.h"
#include "banned.h"

#ifndef SLIPWAY_VERSION
#define SLIPWAY_VERSION "0.0.0"
#endif
#ifndef SLIPWAY_COMMIT
#define SLIPWAY_COMMIT "unknown"
#endif

static int healthz(struct req *r)
{
	json_t *warnings = json_array();
	int k, schema = 0;

	if (!warnings)
		return -ENOMEM;
	if (r->srv->anonymous_role >= 0) {
		char w[128];
		(void)str_printf(w, sizeof(w), "anonymous_role is %s", role_to_string(r->srv->anonymous_role));
		(void)json_array_append_new(warnings, json_string(w));
	}
	k = store_health(r->srv->store);
	if (k >= 0)
		k = store_schema_version(r->srv->store, &schema);
	if (k < 0)
		return http_reply_json(r, 503, json_pack("{s:s,s:s,s:o}", "status", "error", "db", "error", "warnings",
							 warnings));
	return http_reply_json(r, 200, json_pack("{s:s,s:s,s:o}", "status", "ok", "db", "ok", "warnings", warnings));
}

static int version(struct req *r)
{
	int schema = 0;
	(void)store_schema_version(r->srv->store, &schema);
	return http_reply_json(r, 200,
			       json_pack("{s:s,s:s,s:s,s:s,s:i,s:b}", "name", "slipway", "version", SLIPWAY_VERSION,
					 "apiVersion", "v1", "commit", SLIPWAY_COMMIT, "schemaVersion", schema,
					 "longPoll", 1));
}

#define LD(x) ((unsigned long long)__atomic_load_n(&(x), __ATOMIC_RELAXED))

static int metrics(struct req *r)
{
	struct server *srv = r->srv;
	struct server_metrics *m = &srv->metrics;
	struct buf out;
	json_t *stats = NULL;
	int k = 0;

	if (!srv->cfg.public_metrics) {
		k = http_authenticate(r);
		if (k < 0)
			return k;
		k = http_require(r, ROLE_READER, SCOPE_ANY, NULL);
		if (k < 0)
			return k;
	}
	buf_init(&out, 16 << 20);
	k |= http_metrics_append(srv, &out);
	k |= buf_appends(&out, "# TYPE slipway_pings_total counter\n");
	for (int i = 0; i < _OP_CODE_MAX; i++)
		k |= buf_printf(&out, "slipway_pings_total{opcode=\"%s\"} %llu\n", op_code_to_string(i),
				LD(m->pings_by_opcode[i]));
	k |= buf_printf(&out, "# TYPE slipway_pings_held gauge\nslipway_pings_held %llu\n", LD(m->pings_held));
	k |= buf_printf(&out, "# TYPE slipway_pings_overloaded_total counter\nslipway_pings_overloaded_total %llu\n",
			LD(m->pings_overloaded));
	k |= buf_printf(&out,
			"# TYPE slipway_ping_wakes_pending gauge\nslipway_ping_wakes_pending %llu\n"
			"# TYPE slipway_ping_wakes_running gauge\nslipway_ping_wakes_running %llu\n"
			"# TYPE slipway_ping_wakes_running_peak gauge\nslipway_ping_wakes_running_peak %llu\n",
			LD(m->ping_wakes_pending), LD(m->ping_wakes_running), LD(m->ping_wakes_running_peak));
	k |= buf_printf(&out,
			"# TYPE slipway_ping_wakes_total counter\nslipway_ping_wakes_total %llu\n"
			"# TYPE slipway_ping_slot_wakes_total counter\nslipway_ping_slot_wakes_total %llu\n"
			"# TYPE slipway_ping_event_seq gauge\nslipway_ping_event_seq %llu\n",
			LD(m->ping_wakes), LD(m->ping_slot_wakes), LD(m->ping_event_seq));
	k |= buf_printf(&out, "# TYPE slipway_http_connections gauge\nslipway_http_connections %lld\n",
			(long long)http_connections_open());
	k |= buf_printf(&out, "# TYPE slipway_heartbeats_flushed_total counter\nslipway_heartbeats_flushed_total %llu\n",
			LD(m->heartbeats_flushed));
	k |= buf_printf(&out, "# TYPE slipway_ping_writes_total counter\nslipway_ping_writes_total %llu\n",
			LD(m->ping_writes));
	k |= buf_printf(&out,
			"# TYPE slipway_ping_write_jobs_total counter\nslipway_ping_write_jobs_total %llu\n"
			"# TYPE slipway_ping_write_commits_total counter\nslipway_ping_write_commits_total %llu\n",
			LD(m->ping_write_jobs), LD(m->ping_write_commits));
	k |= buf_printf(&out,
			"# TYPE slipway_ping_runs_queued gauge\nslipway_ping_runs_queued %llu\n"
			"# TYPE slipway_ping_pool_runs_total counter\nslipway_ping_pool_runs_total %llu\n",
			LD(m->ping_runs_queued), LD(m->ping_pool_runs));
	k |= buf_printf(&out, "# TYPE slipway_ping_idle_repeats_total counter\nslipway_ping_idle_repeats_total %llu\n",
			LD(m->ping_idle_repeats));
	k |= buf_printf(&out,
			"# TYPE slipway_ping_idle_repeats_unparsed_total counter\n"
			"slipway_ping_idle_repeats_unparsed_total %llu\n"
			"# TYPE slipway_ping_idle_index_slots gauge\nslipway_ping_idle_index_slots %llu\n"
			"# TYPE slipway_ping_heartbeat_buckets gauge\nslipway_ping_heartbeat_buckets %llu\n",
			LD(m->ping_idle_repeats_unparsed), LD(m->ping_idle_index_slots), LD(m->ping_hb_buckets));
	k |= buf_printf(&out,
			"# TYPE slipway_admissions_total counter\nslipway_admissions_total{result=\"admitted\"} %llu\n"
			"slipway_admissions_total{result=\"refused\"} %llu\n",
			LD(m->admissions_admitted), LD(m->admissions_refused));
	k |= buf_appends(&out, "# TYPE slipway_deploys_created_total counter\n");
	for (int i = 0; i < _DEPLOY_TYPE_MAX; i++)
		k |= buf_printf(&out, "slipway_deploys_created_total{type=\"%s\"} %llu\n", deploy_type_to_string(i),
				LD(m->deploys_created[i]));
	k |= buf_appends(&out, "# TYPE slipway_deploy_transitions_total counter\n");
	for (int i = 0; i < _DEPLOY_STATE_MAX; i++)
		k |= buf_printf(&out, "slipway_deploy_transitions_total{to=\"%s\"} %llu\n", deploy_state_to_string(i),
				LD(m->transitions_to[i]));
	if (store_stats(srv->store, &stats) >= 0) {
		json_t *d = json_object_get(stats, "deploys"), *h = json_object_get(stats, "hosts");
		k |= buf_appends(&out, "# TYPE slipway_deploys gauge\n");
		for (int i = 0; i < _DEPLOY_STATE_MAX; i++)
			k |= buf_printf(&out, "slipway_deploys{state=\"%s\"} %lld\n", deploy_state_to_string(i),
					(long long)json_integer_value(json_object_get(d, deploy_state_to_string(i))));
		k |= buf_printf(&out,
				"# TYPE slipway_hosts gauge\nslipway_hosts{state=\"reachable\"} %lld\n"
				"slipway_hosts{state=\"unreachable\"} %lld\n",
				(long long)json_integer_value(json_object_get(h, "reachable")),
				(long long)json_integer_value(json_object_get(h, "unreachable")));
		json_decref(stats);
	} else
		(void)server_db_error(srv, -EIO, "cannot read metrics gauges");
	k |= buf_appends(&out, "# TYPE slipway_worker_runs_total counter\n");
	for (int w = 0; w < _WORKER_MAX; w++)
		k |= buf_printf(&out,
				"slipway_worker_runs_total{worker=\"%s\",result=\"ok\"} %llu\n"
				"slipway_worker_runs_total{worker=\"%s\",result=\"failed\"} %llu\n",
				server_worker_name(w), LD(m->worker_runs_ok[w]), server_worker_name(w),
				LD(m->worker_runs_failed[w]));
	k |= buf_appends(&out, "# TYPE slipway_worker_last_success_timestamp_seconds gauge\n");
	for (int w = 0; w < _WORKER_MAX; w++)
		k |= buf_printf(&out, "slipway_worker_last_success_timestamp_seconds{worker=\"%s\"} %.3f\n",
				server_worker_name(w), (double)__atomic_load_n(&m->worker_last_success_ms[w],
									       __ATOMIC_RELAXED) / 1000.0);
	k |= buf_printf(&out,
			"# TYPE slipway_webhook_calls_total counter\nslipway_webhook_calls_total{result=\"ok\"} %llu\n"
			"slipway_webhook_calls_total{result=\"failed\"} %llu\n"
			"slipway_webhook_calls_total{result=\"dropped\"} %llu\n",
			LD(m->webhook_ok), LD(m->webhook_failed), LD(m->webhook_dropped));
	k |= buf_appends(&out, "# TYPE slipway_notifications_total counter\n");
	for (int c = 0; c < 2; c++)
		k |= buf_printf(&out,
				"slipway_notifications_total{channel=\"%s\",result=\"ok\"} %llu\n"
				"slipway_notifications_total{channel=\"%s\",result=\"failed\"} %llu\n"
				"slipway_notifications_total{channel=\"%s\",result=\"dropped\"} %llu\n",
				c ? "mail" : "chat", LD(m->notify_ok[c]), c ? "mail" : "chat", LD(m->notify_failed[c]),
				c ? "mail" : "chat", LD(m->notify_dropped[c]));
	k |= buf_printf(&out, "# TYPE slipway_db_errors_total counter\nslipway_db_errors_total %llu\n",
			LD(m->db_errors));
	k |= buf_printf(&out, "# TYPE slipway_build_info gauge\nslipway_build_info{version=\"%s\",commit=\"%s\"} 1\n",
			SLIPWAY_VERSION, SLIPWAY_COMMIT);
	if (k < 0) {
		buf_release(&out);
		return -ENOMEM;
	}
	k = http_reply_data(r, 200, "text/plain; version=0.0.4; charset=utf-8", out.p, out.len);
	buf_release(&out);
	return k;
}

const struct route api_system_routes[] = {
	{ "GET", "/healthz", healthz, ROLE_READER, SCOPE_PUBLIC, false },
	{ "GET", "/metrics", metrics, ROLE_READER, SCOPE_PUBLIC, false },
	{ "GET", "/v1/system/version", version, ROLE_READER, SCOPE_PUBLIC, false },
};
const size_t api_system_routes_count = ELEMENTSOF(api_system_routes);
