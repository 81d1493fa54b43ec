/* SPDX-License-Identifier: Apache-2.0 */
/* ping/state.c: the ping pipeline's process state (ping_state.h): its creation on the first ping, the one thread
 * that polls wake events, answers expired waiters, flushes heartbeats and purges old events (it waits on
 * CLOCK_MONOTONIC, so a stepped wall clock never stalls it), on PostgreSQL the wake listener that tells it of
 * events committed by any replica (and the store's token cache of token writes), shutdown, the write lock, and
 * the early refusal of full stages. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "dsn.h"
#include "hash.h"
#include "log.h"
#include "ping_state.h"
#include "server.h"
#include "sleep.h"
#include "util.h"
#include "banned.h"

#define EVENT_KEEP_MS (5 * 60 * 1000)
#define PURGE_PERIOD_MS (60 * 1000)

static struct ping_state *the_state;
static pthread_mutex_t the_state_lock = PTHREAD_MUTEX_INITIALIZER;

void ping_write_lock(struct ping_state *ps)
{
	if (ps->single_writer)
		pthread_mutex_lock(&ps->write_lock);
}

void ping_write_unlock(struct ping_state *ps)
{
	if (ps->single_writer)
		pthread_mutex_unlock(&ps->write_lock);
}

/* ---- early refusal of full stages (§5.7: refuse from a cache, never admit from one) ---- */

static struct full_stage *full_slot(struct ping_state *ps, const char *env_id)
{
	return &ps->full[ping_hash_str(HASH_FNV1A_BASIS, env_id) % PING_FULL_SLOTS];
}

bool ping_stage_known_full(struct ping_state *ps, const char *env_id)
{
	struct full_stage *f = full_slot(ps, env_id);
	bool full;

	pthread_mutex_lock(&ps->full_lock);
	full = streq(f->env_id, env_id) && mono_ms() < f->until_mono_ms;
	pthread_mutex_unlock(&ps->full_lock);
	return full;
}

void ping_stage_mark_full(struct ping_state *ps, const char *env_id)
{
	struct full_stage *f = full_slot(ps, env_id);

	pthread_mutex_lock(&ps->full_lock);
	if (str_copy(f->env_id, sizeof(f->env_id), env_id) == 0)
		f->until_mono_ms = mono_ms() + PING_FULL_MS;
	pthread_mutex_unlock(&ps->full_lock);
}

void ping_stage_forget_full(struct ping_state *ps, const char *env_id)
{
	struct full_stage *f = full_slot(ps, env_id);

	pthread_mutex_lock(&ps->full_lock);
	if (streq(f->env_id, env_id))
		f->until_mono_ms = 0;
	pthread_mutex_unlock(&ps->full_lock);
}

/* One round of the thread's periodic work, the event poll and expiry aside. */
static void thread_housekeeping(struct ping_state *ps, int64_t flush_ms)
{
	int64_t now = mono_ms();
	int r;

	if (now - ps->last_flush_mono_ms >= flush_ms) {
		r = ping_flush_heartbeats(ps, false);
		if (r < 0)
			(void)server_db_error(ps->srv, r, "flushing heartbeats");
		ps->last_flush_mono_ms = now;
	}
	if (now - ps->last_purge_mono_ms >= PURGE_PERIOD_MS) {
		ping_write_lock(ps);
		r = store_event_purge(ps->srv->store, now_ms() - EVENT_KEEP_MS);
		ping_write_unlock(ps);
		if (r < 0)
			(void)server_db_error(ps->srv, r, "purging wake events");
		ping_evict_silent(ps, now_ms());
		ps->last_purge_mono_ms = now;
	}
}

static void poll_soon(struct ping_state *ps)
{
	pthread_mutex_lock(&ps->tlock);
	ps->poll_now = true;
	pthread_cond_signal(&ps->tcond);
	pthread_mutex_unlock(&ps->tlock);
}

/* ---- the wake listener (PostgreSQL): events of every replica as they commit ---- */

/* A notification: what it ends is ended now; a held ping it concerns wakes on the poll it asks for (the table
 * poll alone wakes held pings, so none is woken twice). A ping's write of a host's rows has no event row. */
static void on_notify(void *arg, const struct store_event *ev)
{
	struct ping_state *ps = arg;

	if (streq(ev->kind, STORE_NOTIFY_TOKENS)) {
		store_token_cache_invalidate(); /* a token write: no answer of a ping depends on it */
		return;
	}
	ping_event_ends(ps, ev);
	if (ev->seq > 0)
		poll_soon(ps);
}

static void on_fresh(void *arg, int64_t since_mono_ms)
{
	struct ping_state *ps = arg;

	__atomic_store_n(&ps->listen_fresh_ms, since_mono_ms, __ATOMIC_RELEASE);
	store_token_cache_fresh(ps->srv->store, since_mono_ms);
}

static void on_listen_state(void *arg, bool up, const char *why)
{
	struct ping_state *ps = arg;
	static bool warned;

	/* down: nothing is repeated and no token lookup cached until it is back; up: notifications may have been
	 * missed meanwhile */
	if (!up) {
		__atomic_store_n(&ps->listen_fresh_ms, INT64_MIN / 2, __ATOMIC_RELEASE);
		store_token_cache_fresh(ps->srv->store, INT64_MIN / 2);
	}
	ping_idle_forget_all(ps);
	store_token_cache_invalidate();
	if (up) {
		if (warned)
			log_info("ping: the wake listener is back");
		warned = false;
		poll_soon(ps); /* events committed before LISTEN */
	} else if (!warned) {
		log_warn("ping: the wake listener is down (%s): idle pings run in full until it is back", why);
		warned = true;
	}
}

static void listener_start(struct ping_state *ps)
{
	struct store_listener_ops ops = { .event = on_notify, .fresh = on_fresh, .state = on_listen_state, .arg = ps };
	int r;

	ps->listen_fresh_ms = INT64_MIN / 2;
	r = store_listener_start(ps->srv->cfg.db, &ops, &ps->listener);
	if (r < 0) {
		ps->listener = NULL;
		(void)log_warn_errno(r, "ping: cannot start the wake listener: idle pings run in full");
	}
}

static void *ping_thread(void *arg)
{
	struct ping_state *ps = arg;
	int64_t period = ps->srv->cfg.event_poll_period_ms > 0 ? ps->srv->cfg.event_poll_period_ms : 500;
	int64_t flush_ms = ps->srv->cfg.heartbeat_flush_period * 1000;

	/* deadlines need a finer tick than a long poll period */
	if (period > 250)
		period = 250;
	/* tcond measures CLOCK_MONOTONIC (sleep_cond_init): a wall clock stepped backwards never stalls the thread */
	while (!sleep_or_wake(&ps->tlock, &ps->tcond, &ps->thread_stop, &ps->poll_now, period)) {
		ping_poll_events(ps);
		ping_expire_waiters(ps);
		thread_housekeeping(ps, flush_ms);
	}
	return NULL;
}

static void hook_shutdown(struct server *srv)
{
	struct ping_state *ps = srv->ping_state;

	if (!ps)
		return;
	/* runs not begun are answered 503 as the held pings are; then no new ping waits for a thread (they run on
	 * their HTTP thread while the daemon drains) */
	ping_pool_stop(ps);
	ping_waiters_stop(ps);
	store_listener_stop(ps->listener);
	ps->listener = NULL;
	__atomic_store_n(&ps->listen_fresh_ms, INT64_MIN / 2, __ATOMIC_RELEASE);
	store_token_cache_fresh(srv->store, INT64_MIN / 2);
	pthread_mutex_lock(&ps->tlock);
	ps->thread_stop = true;
	pthread_cond_signal(&ps->tcond);
	pthread_mutex_unlock(&ps->tlock);
	if (ps->thread_started) {
		pthread_join(ps->thread, NULL);
		ps->thread_started = false;
	}
	(void)ping_hook_flush(srv);
}

struct ping_state *ping_state_get(struct server *srv)
{
	struct ping_state *ps;
	int r;

	ps = __atomic_load_n(&the_state, __ATOMIC_ACQUIRE);
	if (ps)
		return ps;
	pthread_mutex_lock(&the_state_lock);
	ps = the_state;
	if (ps)
		goto out;
	ps = calloc(1, sizeof(*ps));
	if (!ps)
		goto out;
	ps->srv = srv;
	ps->n_buckets = ps->n_buckets_seen = PING_HB_BUCKETS_MIN;
	srv->metrics.ping_hb_buckets = PING_HB_BUCKETS_MIN;
	ps->buckets = calloc(ps->n_buckets, sizeof(*ps->buckets));
	ps->idle_slots = ps->idle_slots_seen = PING_IDLE_SLOTS_MIN;
	srv->metrics.ping_idle_index_slots = PING_IDLE_SLOTS_MIN;
	ps->idle_index = calloc(ps->idle_slots, sizeof(*ps->idle_index));
	if (!ps->buckets || !ps->idle_index)
		goto fail;
	r = store_ping_open(srv->cfg.db, &ps->store);
	if (r < 0) {
		char dsn[DSN_REDACTED_MAX];

		(void)log_error_errno(r, "ping: cannot open the database '%s'", dsn_redact(srv->cfg.db, dsn, sizeof(dsn)));
		goto fail;
	}
	store_ping_set_pool_size(ps->store, (int)srv->cfg.db_pool_size);
	r = store_event_last_seq(srv->store, &ps->event_seq);
	if (r < 0) {
		(void)server_db_error(srv, r, "reading the wake event sequence");
		goto fail;
	}
	srv->metrics.ping_event_seq = (uint64_t)ps->event_seq;
	for (size_t i = 0; i < PING_HB_STRIPES; i++) {
		pthread_mutex_init(&ps->stripes[i], NULL);
		pthread_mutex_init(&ps->idle_locks[i], NULL);
	}
	pthread_mutex_init(&ps->wlock, NULL);
	pthread_mutex_init(&ps->full_lock, NULL);
	pthread_mutex_init(&ps->write_lock, NULL);
	pthread_mutex_init(&ps->gc_lock, NULL);
	r = sleep_cond_init(&ps->gc_cond); /* the leader's wait measures CLOCK_MONOTONIC */
	if (r < 0) {
		(void)log_error_errno(r, "ping: cannot set up the group commit's clock");
		goto fail;
	}
	pthread_mutex_init(&ps->tlock, NULL);
	r = sleep_cond_init(&ps->tcond);
	if (r < 0) {
		(void)log_error_errno(r, "ping: cannot set up the wake-event thread's clock");
		goto fail;
	}
	ps->last_flush_mono_ms = mono_ms();
	ps->last_purge_mono_ms = mono_ms();
	/* one server process per SQLite file: this process sees every ping of a host, and SQLite has one writer
	 * (see ping_state.h); PostgreSQL takes concurrent writers and replicas, which learn of each other's changes
	 * through the wake listener */
	ps->single_writer = startswith(srv->cfg.db, "sqlite:");
	if (!ps->single_writer)
		listener_start(ps);
	ps->listening = ps->listener != NULL;
	ps->idle_repeats = ps->single_writer || ps->listening;
	if (srv->cfg.ping_run_threads > 0 && ping_pool_start(ps, (size_t)srv->cfg.ping_run_threads) < 0)
		goto fail;
	if (pthread_create(&ps->thread, NULL, ping_thread, ps) != 0) {
		log_error("ping: cannot start the wake-event thread");
		goto fail;
	}
	ps->thread_started = true;
	srv->ping_state = ps;
	srv->flush_heartbeats = ping_hook_flush;
	srv->pending_last_seen = ping_hook_pending_last_seen;
	srv->ping_shutdown = hook_shutdown;
	__atomic_store_n(&the_state, ps, __ATOMIC_RELEASE);
	goto out;
fail:
	ping_pool_stop(ps);
	store_listener_stop(ps->listener);
	store_ping_free(ps->store);
	free(ps->buckets);
	free(ps->idle_index);
	free(ps);
	ps = NULL;
out:
	pthread_mutex_unlock(&the_state_lock);
	return ps;
}
