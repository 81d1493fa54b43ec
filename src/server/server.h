/* SPDX-License-Identifier: Apache-2.0 */
/* server.h: the server-wide context (settings of PROTOCOL §10, the store, the HTTP daemon,
 * metrics) shared by http/, api/ and workers/. One instance per process, created by main.c. */
#ifndef SLIPWAY_SERVER_H
#define SLIPWAY_SERVER_H

#include <pthread.h>
#include <regex.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "enums.h"
#include "store.h"

struct server_config {
	char *listen, *port_file, *db;
	int64_t max_parallel_threshold, host_unreachable_after, unreachable_slot_release, host_expire;
	int64_t max_held_pings;
	int64_t wake_batch; /* ours: woken held pings re-run at once, the others wait their turn (0 = no limit) */
	bool wake_serve_reports; /* ours: while they wait, pings that move a deploy on are not refused */
	int64_t ping_run_threads; /* ours: the run pool's threads (ping/pool.c), 0: pings run on the HTTP threads */
	char *artifact_url_allow, *default_scm, *scm_link_template, *anonymous_role, *default_user_role;
	char *trusted_user_header, *trusted_groups_header, *trusted_proxies, *admin_token_file;
	bool public_metrics;
	bool env_self_service; /* any signed-in user creates an env (and becomes its ADMIN) */
	int64_t build_retention_count, build_retention_days;
	char *log_level;
	uint64_t max_body_bytes, max_ping_body_bytes, http_connection_memory;
	int64_t max_connections, per_ip_connection_limit, connection_timeout, request_read_timeout, http_threads;
	int64_t db_pool_size;
	int64_t overload_connections, overload_retry_after; /* a ping past this many open connections: 503 */
	char *public_url; /* the origin browsers use (CSRF check of proxy users), empty: the request's Host */
	char *tls_cert, *tls_key;
	int64_t transition_period, promote_period, janitor_period, heartbeat_flush_period;
	int64_t event_poll_period_ms;
	char *retention_at;
	int64_t retention_period;
	int64_t webhook_queue_size; /* ours: webhook jobs waiting at most (§7.5 says 1000) */
	char *webhook_allowed_networks; /* CIDRs hooks may reach although internal (default none) */
	/* notifications (workers/notify.c) and the deploy analysis (workers/analysis.c); admin-set, trusted */
	char *chat_webhook_url, *smtp_url, *smtp_from, *smtp_user, *smtp_password_file, *board_url;
	char *prometheus_url;
};

/* The open connections past which a ping is answered 503 with Retry-After (overload_connections, or halfway from
 * max_held_pings to max_connections when it is 0). */
int64_t server_overload_connections(const struct server_config *cfg);

/* Parse argv (and the --config file it names) into cfg: defaults, then the file, then flags.
 * *ret_check / *ret_help report --check / --help. On error errbuf says why (file:line for the
 * file) and -EINVAL is returned. cfg must be zeroed; release it with server_config_release. */
int server_config_load(struct server_config *cfg, int argc, char **argv, bool *ret_check, bool *ret_help,
		       char *errbuf, size_t errsize);
/* Cross-field checks (TLS pair, roles, listen address, regexes, ...). */
int server_config_validate(const struct server_config *cfg, char *errbuf, size_t errsize);
void server_config_release(struct server_config *cfg);
void server_config_usage(void);
/* Split "host:port" (port 0..65535). */
int server_parse_listen(const char *listen, char *host, size_t host_size, int *ret_port);

enum server_worker {
	WORKER_TRANSITION,
	WORKER_PROMOTE,
	WORKER_JANITOR,
	WORKER_RETENTION,
	WORKER_HEARTBEAT,
	WORKER_EVENTS,
	_WORKER_MAX,
};

/* Counters for /metrics that are not per route (atomic increments). */
struct server_metrics {
	uint64_t pings_by_opcode[_OP_CODE_MAX];
	uint64_t pings_held, ping_writes, ping_idle_repeats, admissions_admitted, admissions_refused;
	uint64_t ping_idle_repeats_unparsed; /* of ping_idle_repeats, those found by their body before any parsing */
	uint64_t ping_idle_index_slots;      /* the idle index's size (ping/idle.c) */
	uint64_t ping_hb_buckets;            /* the heartbeat cache's buckets (ping/heartbeat.c) */
	uint64_t pings_overloaded; /* answered 503 with Retry-After: past overload_connections */
	/* woken held pings queued for their turn / re-running now (at most wake_batch) / the most ever re-running */
	uint64_t ping_wakes_pending, ping_wakes_running, ping_wakes_running_peak;
	uint64_t ping_wakes, ping_slot_wakes; /* held pings woken by an event; of them, by a released slot */
	uint64_t ping_event_seq;              /* the last wake event this replica read (ping/hold.c) */
	uint64_t heartbeats_flushed; /* lastSeen values written by the heartbeat flush */
	/* the ping path's admissions and agent-row writes (jobs) and the transactions that committed them (ping/commit.c) */
	uint64_t ping_write_jobs, ping_write_commits;
	uint64_t ping_runs_queued; /* pings waiting for a thread of the run pool (ping/pool.c) */
	uint64_t ping_pool_runs;   /* runs done by the run pool */
	uint64_t deploys_created[_DEPLOY_TYPE_MAX];
	uint64_t transitions_to[_DEPLOY_STATE_MAX];
	uint64_t webhook_ok, webhook_failed, webhook_dropped;
	uint64_t notify_ok[2], notify_failed[2], notify_dropped[2]; /* [0] chat, [1] mail */
	uint64_t db_errors;
	uint64_t worker_runs_ok[_WORKER_MAX], worker_runs_failed[_WORKER_MAX];
	int64_t worker_last_success_ms[_WORKER_MAX];
};
const char *server_worker_name(enum server_worker w);

struct MHD_Daemon;
struct router;
struct deploy_event;

#define SERVER_DEPLOY_LISTENERS_MAX 4

struct server {
	struct server_config cfg;
	struct store *store;
	struct MHD_Daemon *mhd;
	struct router *router;
	int anonymous_role;     /* ROLE_* or -1 for NONE */
	int default_user_role;  /* ROLE_* */
	regex_t *url_allow;
	size_t n_url_allow;
	char bound[128];        /* host:port actually bound */
	volatile sig_atomic_t stopping;
	struct server_metrics metrics;
	/* per-deploy serialisation of §7.3 (SQLite: one process per database, so process mutexes) */
	pthread_mutex_t transition_locks[64];
	/* Hooks set by the ping pipeline (ping/state.c) on the first ping; NULL until then.
	 * flush_heartbeats: write pending in-memory lastSeen values now (janitor, shutdown).
	 * ping_shutdown: answer every held ping 503 with Retry-After: 0 before the daemon stops.
	 * pending_last_seen: the newest in-memory lastSeen of a host, 0 when none pending. */
	int (*flush_heartbeats)(struct server *srv);
	void (*ping_shutdown)(struct server *srv);
	int64_t (*pending_last_seen)(struct server *srv, const char *host_id);
	void *ping_state;
	/* Listeners of deploy events (deploy/events.h), registered by main.c at startup. */
	void (*deploy_listeners[SERVER_DEPLOY_LISTENERS_MAX])(struct server *srv, const struct deploy_event *ev);
	size_t n_deploy_listeners;
};

#define METRIC_INC(srv, field) __atomic_add_fetch(&(srv)->metrics.field, 1, __ATOMIC_RELAXED)

/* Record a database error (counted in slipway_db_errors_total) and log it once. Returns r. */
int server_db_error(struct server *srv, int r, const char *what);

#endif
