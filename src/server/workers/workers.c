/* SPDX-License-Identifier: Apache-2.0 */
/* workers/workers.c: worker threads and their schedule (period, first-run delay). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "deploy.h"
#include "log.h"
#include "sleep.h"
#include "util.h"
#include "workers.h"
#include "banned.h"

struct worker {
	struct server *srv;
	enum server_worker kind;
	int (*run)(struct server *srv);
	int64_t first_delay_ms;
	pthread_t thread;
	bool started;
};

/* The periodic workers of this file (the ping path runs WORKER_HEARTBEAT and WORKER_EVENTS). */
static const struct {
	enum server_worker kind;
	int (*run)(struct server *srv);
} periodic[] = {
	{ WORKER_TRANSITION, transition_worker_run },
	{ WORKER_JANITOR, janitor_worker_run },
	{ WORKER_RETENTION, retention_worker_run },
	{ WORKER_PROMOTE, promote_worker_run },
};

static pthread_mutex_t stop_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t stop_cond; /* on the monotonic clock: made once by init_stop_cond() */
static pthread_once_t stop_cond_once = PTHREAD_ONCE_INIT;
static int stop_cond_r;
static bool stop_flag;
static struct worker workers[ELEMENTSOF(periodic)];

static int64_t period_ms(struct server *srv, enum server_worker kind)
{
	switch (kind) {
	case WORKER_TRANSITION:
		return srv->cfg.transition_period * 1000;
	case WORKER_JANITOR:
		return srv->cfg.janitor_period * 1000;
	case WORKER_PROMOTE:
		return srv->cfg.promote_period * 1000;
	case WORKER_RETENTION: {
		if (srv->cfg.retention_period > 0)
			return srv->cfg.retention_period * 1000;
		/* next retention_at (UTC) */
		int64_t now = now_ms(), day = 86400000;
		int hh = (srv->cfg.retention_at[0] - '0') * 10 + (srv->cfg.retention_at[1] - '0');
		int mm = (srv->cfg.retention_at[3] - '0') * 10 + (srv->cfg.retention_at[4] - '0');
		int64_t at = now - now % day + ((int64_t)hh * 60 + mm) * 60000;
		if (at <= now)
			at += day;
		return at - now;
	}
	default:
		return 30000;
	}
}

static void *worker_main(void *p)
{
	struct worker *w = p;
	struct server *srv = w->srv;
	int64_t delay = w->first_delay_ms;

	while (!sleep_or_stop(&stop_lock, &stop_cond, &stop_flag, delay)) {
		int r = w->run(srv);
		if (r < 0) {
			METRIC_INC(srv, worker_runs_failed[w->kind]);
		} else {
			METRIC_INC(srv, worker_runs_ok[w->kind]);
			__atomic_store_n(&srv->metrics.worker_last_success_ms[w->kind], now_ms(), __ATOMIC_RELAXED);
		}
		delay = period_ms(srv, w->kind);
	}
	return NULL;
}

/* The first run: soon after startup, but not before the service has settled. */
static int64_t first_delay_ms(struct server *srv, enum server_worker kind)
{
	int64_t ms;

	switch (kind) {
	case WORKER_TRANSITION:
		ms = srv->cfg.transition_period * 1000;
		return ms < 10000 ? ms : 10000;
	case WORKER_PROMOTE:
		ms = srv->cfg.promote_period * 1000;
		return ms < 20000 ? ms : 20000;
	default:
		return period_ms(srv, kind);
	}
}

static void init_stop_cond(void)
{
	stop_cond_r = sleep_cond_init(&stop_cond);
}

int workers_start(struct server *srv)
{
	int r;

	(void)pthread_once(&stop_cond_once, init_stop_cond);
	if (stop_cond_r < 0)
		return stop_cond_r;
	stop_flag = false;
	for (size_t i = 0; i < ELEMENTSOF(workers); i++) {
		workers[i] = (struct worker){ .srv = srv, .kind = periodic[i].kind, .run = periodic[i].run,
					      .first_delay_ms = first_delay_ms(srv, periodic[i].kind) };
		r = pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]);
		if (r != 0) {
			workers_stop(srv);
			return -r;
		}
		workers[i].started = true;
	}
	return 0;
}

void workers_stop(struct server *srv)
{
	(void)srv;
	pthread_mutex_lock(&stop_lock);
	stop_flag = true;
	pthread_cond_broadcast(&stop_cond);
	pthread_mutex_unlock(&stop_lock);
	for (size_t i = 0; i < ELEMENTSOF(workers); i++)
		if (workers[i].started) {
			pthread_join(workers[i].thread, NULL);
			workers[i].started = false;
		}
}

int transition_worker_run(struct server *srv)
{
	json_t *ids = NULL, *id;
	size_t i;
	int r, failed = 0;

	r = store_env_list_transition(srv->store, &ids);
	if (r < 0)
		return server_db_error(srv, r, "transition worker: cannot list stages");
	json_array_foreach(ids, i, id) {
		json_t *env = NULL;
		if (srv->stopping)
			break;
		r = store_env_get_by_id(srv->store, json_string_value(id), &env);
		if (r == -ENOENT)
			continue;
		if (r < 0) {
			failed = server_db_error(srv, r, "transition worker: cannot read stage");
			continue;
		}
		r = deploy_transition_run(srv, env);
		if (r < 0)
			failed = r;
		json_decref(env);
	}
	json_decref(ids);
	return failed;
}

int worker_claim_unit(struct server *srv, const char *unit, int64_t now, int64_t period_ms)
{
	int r = store_worker_claim(srv->store, unit, now, period_ms / 2);
	if (r < 0)
		return server_db_error(srv, r, "worker: cannot claim a unit of work");
	if (r > 0)
		log_debug("worker unit %s claimed", unit);
	return r;
}

int janitor_worker_run(struct server *srv)
{
	int r = janitor_worker_pass(srv, now_ms());
	return r < 0 ? r : 0;
}

/* The count deltas (PostgreSQL) a janitor pass folds at most: a 1,000,000-host first deploy leaves about two per
 * host, folded within a few passes. */
#define JANITOR_FOLD_MAX_ROWS 200000

int janitor_worker_pass(struct server *srv, int64_t now)
{
	int64_t n = 0;
	int r;

	r = worker_claim_unit(srv, "JANITOR", now, srv->cfg.janitor_period * 1000);
	if (r <= 0)
		return r;
	/* the ping path keeps recent lastSeen values in memory: write them first */
	if (srv->flush_heartbeats)
		(void)srv->flush_heartbeats(srv);
	r = store_janitor_unreachable(srv->store, now - srv->cfg.host_unreachable_after * 1000, now, &n);
	if (r < 0)
		return server_db_error(srv, r, "janitor: cannot mark unreachable hosts");
	if (n > 0)
		log_info("janitor: %lld agent rows turned UNREACHABLE", (long long)n);
	r = store_janitor_release_slots(
		srv->store, now - (srv->cfg.host_unreachable_after + srv->cfg.unreachable_slot_release) * 1000, now, &n);
	if (r < 0)
		return server_db_error(srv, r, "janitor: cannot release slots");
	if (n > 0)
		log_info("janitor: released %lld slots of unreachable hosts", (long long)n);
	r = store_janitor_expire(srv->store, now - srv->cfg.host_expire * 1000, &n);
	if (r < 0)
		return server_db_error(srv, r, "janitor: cannot expire hosts");
	if (n > 0)
		log_info("janitor: removed %lld expired hosts", (long long)n);
	r = store_event_purge(srv->store, now - 5 * 60 * 1000);
	if (r < 0)
		return server_db_error(srv, r, "janitor: cannot purge wake events");
	r = store_janitor_fold_counts(srv->store, JANITOR_FOLD_MAX_ROWS, &n);
	if (r < 0)
		return server_db_error(srv, r, "janitor: cannot fold stage counts");
	return 1;
}

int retention_worker_run(struct server *srv)
{
	int r = retention_worker_pass(srv, now_ms());
	return r < 0 ? r : 0;
}

int retention_worker_pass(struct server *srv, int64_t now)
{
	int r;

	/* daily at retention_at, or every retention_period s (§8.4) */
	r = worker_claim_unit(srv, "RETENTION", now,
			      srv->cfg.retention_period > 0 ? srv->cfg.retention_period * 1000 : 24 * 3600 * 1000);
	if (r <= 0)
		return r;
	r = store_retention_run(srv->store, now, srv->cfg.build_retention_count, srv->cfg.build_retention_days);
	if (r < 0)
		return server_db_error(srv, r, "retention: cannot delete old data");
	return 1;
}
