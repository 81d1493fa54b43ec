/* SPDX-License-Identifier: Apache-2.0 */
/* api/ping_state.c: the ping path's in-memory state (PROTOCOL §5.1 step 2, §5.11, §8.5): the heartbeat cache
 * (lastSeen kept in memory and flushed in batches, so an idle ping writes nothing), the per-host ping sequence,
 * the long-poll waiters, and one thread that polls the wake-event table, answers expired waiters and flushes
 * heartbeats. No thread is held per waiter: held requests are suspended libmicrohttpd connections. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "ping.h"
#include "server.h"
#include "sleep.h"
#include "util.h"
#include "banned.h"

#define HB_BUCKETS (1u << 18)
/* the database record is re-read after this long, so rows removed by the janitor are re-created */
#define HB_VERIFY_MS (120 * 1000)
#define EVENT_BATCH 256
#define EVENT_KEEP_MS (5 * 60 * 1000)

struct hb_entry {
	struct hb_entry *next;
	uint64_t hash;
	char host_id[ENGINE_ID_SIZE];
	uint64_t attr_key;
	int64_t verified_mono_ms;
	uint64_t member_key;
	int64_t member_mono_ms;
	int64_t last_seen;
	int64_t flushed_seen;
	uint64_t seq;
	struct waiter *waiter; /* under ps->wlock */
	/* the remembered idle ping (ping_idle_remember()) */
	char *idle_body;
	size_t idle_len;
	int64_t idle_seq;
	uint64_t idle_gen;
	int64_t idle_mono_ms;
	char (*idle_envs)[ENGINE_ID_SIZE];
	size_t n_idle_envs;
	int64_t host_event_seq; /* the last HOST event of this host */
	uint64_t idle_hash;     /* body_hash(idle_body): its slot in the idle index */
	uint64_t full_seq;      /* seq of the host's last ping that ran in full */
	uint64_t idle_ping_seq; /* seq of the ping that left the idle memory */
};

static struct ping_state *the_state;
static pthread_mutex_t the_state_lock = PTHREAD_MUTEX_INITIALIZER;

static uint64_t fnv1a(uint64_t h, const char *s)
{
	if (!s)
		s = "";
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	/* a separator, so ("ab","c") and ("a","bc") differ */
	h ^= 0x1f;
	h *= 1099511628211ULL;
	return h;
}

#define FNV_BASIS 14695981039346656037ULL

static pthread_mutex_t *stripe_of(struct ping_state *ps, uint64_t h)
{
	return &ps->stripes[(h % ps->n_buckets) % PING_HB_STRIPES];
}

/* Caller holds the stripe lock. */
static struct hb_entry *hb_find(struct ping_state *ps, const char *host_id, uint64_t h)
{
	for (struct hb_entry *e = ps->buckets[h % ps->n_buckets]; e; e = e->next)
		if (e->hash == h && streq(e->host_id, host_id))
			return e;
	return NULL;
}

/* The idle index maps a remembered body, by hash, to its host's entry, so that a repeat is recognised before the
 * body is parsed. A slot holds the entry pointer and the host's hash: the pointer is only followed after the
 * entry was found in that host's bucket under its stripe lock. Lock order: a heartbeat stripe, then an index
 * stripe; the index lock is never held while taking a heartbeat stripe. */
static uint64_t body_hash(const char *b, size_t n)
{
	uint64_t h = FNV_BASIS;

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)b[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static struct idle_slot *idle_slot_of(struct ping_state *ps, uint64_t bh, pthread_mutex_t **ret_lock)
{
	size_t i = bh % PING_IDLE_SLOTS;

	*ret_lock = &ps->idle_locks[i % PING_HB_STRIPES];
	return &ps->idle_index[i];
}

/* Caller holds e's stripe lock. */
static void idle_index_drop(struct ping_state *ps, struct hb_entry *e)
{
	pthread_mutex_t *l;
	struct idle_slot *sl;

	sl = idle_slot_of(ps, e->idle_hash, &l); /* the last slot e was put in (a forgotten body's too) */
	pthread_mutex_lock(l);
	if (sl->e == e)
		*sl = (struct idle_slot){ 0 };
	pthread_mutex_unlock(l);
}

/* Caller holds the stripe lock (or owns e). */
static void idle_forget(struct hb_entry *e)
{
	free(e->idle_body);
	free(e->idle_envs);
	e->idle_body = NULL;
	e->idle_envs = NULL;
	e->idle_len = 0;
	e->n_idle_envs = 0;
}

/* Caller holds the stripe lock. NULL on OOM. */
static struct hb_entry *hb_get_or_add(struct ping_state *ps, const char *host_id, uint64_t h)
{
	struct hb_entry *e = hb_find(ps, host_id, h);
	size_t b = h % ps->n_buckets;

	if (e)
		return e;
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	if (str_copy(e->host_id, sizeof(e->host_id), host_id) < 0) {
		free(e);
		return NULL;
	}
	e->hash = h;
	e->next = ps->buckets[b];
	ps->buckets[b] = e;
	return e;
}

/* The entry of host_id, or NULL. Entries are freed only by evict_silent(), which holds wlock: the pointer is
 * valid while the caller holds wlock (the waiter code); nothing else keeps one. */
static struct hb_entry *hb_lookup(struct ping_state *ps, const char *host_id)
{
	uint64_t h = fnv1a(FNV_BASIS, host_id);
	pthread_mutex_t *m = stripe_of(ps, h);
	struct hb_entry *e;

	pthread_mutex_lock(m);
	e = hb_find(ps, host_id, h);
	pthread_mutex_unlock(m);
	return e;
}

static bool same(const char *stored, const char *want)
{
	return streq(stored, want ? want : "");
}

static void fill_copy(char *dst, size_t size, const char *src)
{
	size_t n;

	if (!src) {
		dst[0] = 0;
		return;
	}
	n = strlen(src);
	if (n >= size)
		n = size - 1;
	memcpy(dst, src, n);
	dst[n] = 0;
}

int ping_heartbeat_record(struct ping_state *ps, const struct ping_request *pr, int64_t now, uint64_t *ret_seq)
{
	const char *host_name = pr->host_name ? pr->host_name : pr->host_id;
	uint64_t h = fnv1a(FNV_BASIS, pr->host_id), key, seq;
	pthread_mutex_t *m = stripe_of(ps, h);
	int64_t mono = mono_ms();
	struct heartbeat hb;
	struct hb_entry *e;
	bool wrote = false;
	int r;

	key = fnv1a(FNV_BASIS, host_name);
	key = fnv1a(key, pr->host_ip);
	key = fnv1a(key, pr->agent_version);
	key = fnv1a(key, pr->autoscaling_group);
	key = fnv1a(key, pr->availability_zone);

	pthread_mutex_lock(m);
	e = hb_find(ps, pr->host_id, h);
	if (e && e->attr_key == key && mono - e->verified_mono_ms < HB_VERIFY_MS) {
		/* the idle path: memory only */
		if (now > e->last_seen)
			e->last_seen = now;
		*ret_seq = e->full_seq = ++e->seq;
		pthread_mutex_unlock(m);
		return 0;
	}
	pthread_mutex_unlock(m);

	r = store_ping_heartbeat_get(ps->store, pr->host_id, &hb);
	if (r < 0 && r != -ENOENT)
		return r;
	if (r == -ENOENT || !streq(hb.host_name, host_name) || !same(hb.ip, pr->host_ip) ||
	    !same(hb.agent_version, pr->agent_version) || !same(hb.autoscaling_group, pr->autoscaling_group) ||
	    !same(hb.availability_zone, pr->availability_zone)) {
		if (r == -ENOENT)
			hb.create_date = now;
		fill_copy(hb.host_id, sizeof(hb.host_id), pr->host_id);
		fill_copy(hb.host_name, sizeof(hb.host_name), host_name);
		fill_copy(hb.ip, sizeof(hb.ip), pr->host_ip);
		fill_copy(hb.agent_version, sizeof(hb.agent_version), pr->agent_version);
		fill_copy(hb.autoscaling_group, sizeof(hb.autoscaling_group), pr->autoscaling_group);
		fill_copy(hb.availability_zone, sizeof(hb.availability_zone), pr->availability_zone);
		hb.last_seen = now;
		ping_write_lock(ps);
		r = store_ping_heartbeat_put(ps->store, &hb);
		ping_write_unlock(ps);
		if (r < 0)
			return r;
		wrote = true;
	}

	pthread_mutex_lock(m);
	e = hb_get_or_add(ps, pr->host_id, h);
	if (!e) {
		pthread_mutex_unlock(m);
		return -ENOMEM;
	}
	e->attr_key = key;
	e->verified_mono_ms = mono;
	if (now > e->last_seen)
		e->last_seen = now;
	if (wrote && now > e->flushed_seen)
		e->flushed_seen = now;
	seq = e->full_seq = ++e->seq;
	pthread_mutex_unlock(m);
	*ret_seq = seq;
	return 0;
}

void ping_heartbeat_touch(struct ping_state *ps, const char *host_id, int64_t now)
{
	uint64_t h = fnv1a(FNV_BASIS, host_id);
	pthread_mutex_t *m = stripe_of(ps, h);
	struct hb_entry *e;

	pthread_mutex_lock(m);
	e = hb_find(ps, host_id, h);
	if (e && now > e->last_seen)
		e->last_seen = now;
	pthread_mutex_unlock(m);
}

bool ping_heartbeat_is_newest(struct ping_state *ps, const char *host_id, uint64_t seq)
{
	uint64_t h = fnv1a(FNV_BASIS, host_id);
	pthread_mutex_t *m = stripe_of(ps, h);
	struct hb_entry *e;
	bool newest;

	pthread_mutex_lock(m);
	e = hb_find(ps, host_id, h);
	newest = e && e->seq == seq;
	pthread_mutex_unlock(m);
	return newest;
}

bool ping_membership_cached(struct ping_state *ps, const char *host_id, uint64_t key)
{
	uint64_t h = fnv1a(FNV_BASIS, host_id);
	pthread_mutex_t *m = stripe_of(ps, h);
	struct hb_entry *e;
	bool cached;

	pthread_mutex_lock(m);
	e = hb_find(ps, host_id, h);
	cached = e && e->member_key == key && mono_ms() - e->member_mono_ms < HB_VERIFY_MS;
	pthread_mutex_unlock(m);
	return cached;
}

void ping_membership_remember(struct ping_state *ps, const char *host_id, uint64_t key)
{
	uint64_t h = fnv1a(FNV_BASIS, host_id);
	pthread_mutex_t *m = stripe_of(ps, h);
	struct hb_entry *e;

	pthread_mutex_lock(m);
	e = hb_get_or_add(ps, host_id, h);
	if (e) {
		e->member_key = key;
		e->member_mono_ms = mono_ms();
	}
	pthread_mutex_unlock(m);
}

/* A HOST event: the host's next ping re-reads its membership and runs in full. */
static void forget_host(struct ping_state *ps, const char *host_id, int64_t seq)
{
	uint64_t h = fnv1a(FNV_BASIS, host_id);
	pthread_mutex_t *m = stripe_of(ps, h);
	struct hb_entry *e;

	pthread_mutex_lock(m);
	e = hb_find(ps, host_id, h);
	if (e) {
		e->member_key = 0; /* no membership hashes to 0 in practice: the next ping syncs */
		if (seq > e->host_event_seq)
			e->host_event_seq = seq;
	}
	pthread_mutex_unlock(m);
}

/* ---- idle repeats (§5.10, see ping.h) ---- */

static int64_t *env_seq_slot(struct ping_state *ps, const char *env_id)
{
	return &ps->env_seq[fnv1a(FNV_BASIS, env_id) % PING_ENV_SEQ_SLOTS];
}

static void seq_raise(int64_t *p, int64_t seq)
{
	int64_t cur = __atomic_load_n(p, __ATOMIC_RELAXED);

	while (cur < seq && !__atomic_compare_exchange_n(p, &cur, seq, false, __ATOMIC_RELEASE, __ATOMIC_RELAXED))
		;
}

int64_t ping_idle_seq(struct ping_state *ps)
{
	return __atomic_load_n(&ps->event_seq, __ATOMIC_ACQUIRE);
}

static int64_t idle_max_ms(struct ping_state *ps)
{
	/* a host silent for half of host_unreachable_after runs in full (the janitor may have marked its rows) */
	int64_t m = ps->srv->cfg.host_unreachable_after * 1000 / 2;

	return m < PING_IDLE_MAX_MS ? m : PING_IDLE_MAX_MS;
}

void ping_idle_remember(struct ping_state *ps, const char *host_id, uint64_t ping_seq, const char *body, size_t len,
			int64_t seq, uint64_t write_gen, const char (*envs)[ENGINE_ID_SIZE], size_t n_envs)
{
	uint64_t h = fnv1a(FNV_BASIS, host_id);
	pthread_mutex_t *m = stripe_of(ps, h);
	char *b = malloc(len ? len : 1);
	char (*ev)[ENGINE_ID_SIZE] = n_envs ? malloc(n_envs * sizeof(*ev)) : NULL;
	struct hb_entry *e;

	if (!b || (n_envs && !ev)) {
		free(b);
		free(ev);
		return; /* not remembered: the next ping runs in full */
	}
	memcpy(b, body, len);
	if (n_envs)
		memcpy(ev, envs, n_envs * sizeof(*ev));
	pthread_mutex_lock(m);
	e = hb_find(ps, host_id, h);
	if (e && e->full_seq == ping_seq) { /* no other ping of the host ran in full meanwhile */
		pthread_mutex_t *l;
		struct idle_slot *sl;

		idle_forget(e);
		e->idle_ping_seq = ping_seq;
		e->idle_hash = body_hash(body, len);
		sl = idle_slot_of(ps, e->idle_hash, &l);
		pthread_mutex_lock(l);
		*sl = (struct idle_slot){ .body_hash = e->idle_hash, .host_hash = h, .e = e };
		pthread_mutex_unlock(l);
		e->idle_body = b;
		e->idle_len = len;
		e->idle_seq = seq;
		e->idle_gen = write_gen;
		e->idle_mono_ms = mono_ms();
		e->idle_envs = ev;
		e->n_idle_envs = n_envs;
		b = NULL;
		ev = NULL;
	}
	pthread_mutex_unlock(m);
	free(b);
	free(ev);
}

/* Caller holds the stripe lock of e. */
static bool idle_valid(struct ping_state *ps, const struct hb_entry *e, const char *body, size_t len, int64_t mono)
{
	if (!e->idle_body || e->idle_ping_seq != e->full_seq || e->idle_len != len ||
	    memcmp(e->idle_body, body, len) != 0)
		return false;
	if (mono - e->idle_mono_ms >= idle_max_ms(ps) || mono - e->verified_mono_ms >= HB_VERIFY_MS ||
	    e->member_key == 0 || mono - e->member_mono_ms >= HB_VERIFY_MS)
		return false;
	if (e->host_event_seq > e->idle_seq || __atomic_load_n(&ps->all_seq, __ATOMIC_ACQUIRE) > e->idle_seq ||
	    http_write_generation() != e->idle_gen)
		return false;
	for (size_t i = 0; i < e->n_idle_envs; i++)
		if (__atomic_load_n(env_seq_slot(ps, e->idle_envs[i]), __ATOMIC_ACQUIRE) > e->idle_seq)
			return false;
	return true;
}

bool ping_idle_repeat_body(struct ping_state *ps, const char *body, size_t len, int64_t now,
			   char ret_host_id[ENGINE_ID_SIZE])
{
	uint64_t bh = body_hash(body, len);
	pthread_mutex_t *l, *m;
	struct idle_slot *sl, copy;
	struct hb_entry *e;
	bool ok = false;

	if (!ps->idle_repeats)
		return false;
	sl = idle_slot_of(ps, bh, &l);
	pthread_mutex_lock(l);
	copy = *sl;
	pthread_mutex_unlock(l);
	if (!copy.e || copy.body_hash != bh)
		return false;
	m = stripe_of(ps, copy.host_hash);
	pthread_mutex_lock(m);
	for (e = ps->buckets[copy.host_hash % ps->n_buckets]; e; e = e->next)
		if (e == copy.e)
			break; /* still alive: the pointer may be followed */
	if (e && idle_valid(ps, e, body, len, mono_ms())) {
		if (now > e->last_seen)
			e->last_seen = now;
		e->seq++;
		memcpy(ret_host_id, e->host_id, ENGINE_ID_SIZE);
		ok = true;
	}
	pthread_mutex_unlock(m);
	return ok;
}

bool ping_idle_repeat(struct ping_state *ps, const char *host_id, const char *body, size_t len, bool allow,
		      int64_t now, uint64_t *ret_seq)
{
	uint64_t h = fnv1a(FNV_BASIS, host_id);
	pthread_mutex_t *m = stripe_of(ps, h);
	struct hb_entry *e;
	bool ok;

	pthread_mutex_lock(m);
	e = hb_find(ps, host_id, h);
	ok = allow && ps->idle_repeats && e && idle_valid(ps, e, body, len, mono_ms());
	if (ok) {
		/* the heartbeat's idle path (same body: same attributes) */
		if (now > e->last_seen)
			e->last_seen = now;
		*ret_seq = ++e->seq;
	} else if (e && e->idle_body)
		idle_forget(e);
	pthread_mutex_unlock(m);
	return ok;
}

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
	return &ps->full[fnv1a(FNV_BASIS, env_id) % PING_FULL_SLOTS];
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

/* ---- heartbeat flush (§8.5) ---- */

static int seen_cmp(const void *a, const void *b)
{
	return strcmp(((const struct heartbeat_seen *)a)->host_id, ((const struct heartbeat_seen *)b)->host_id);
}

static int flush_heartbeats(struct ping_state *ps)
{
	struct heartbeat_seen *v = NULL;
	size_t n = 0, cap = 0;
	int r = 0;

	for (size_t s = 0; s < PING_HB_STRIPES; s++) {
		pthread_mutex_lock(&ps->stripes[s]);
		for (size_t b = s; b < ps->n_buckets; b += PING_HB_STRIPES)
			for (struct hb_entry *e = ps->buckets[b]; e; e = e->next) {
				if (e->last_seen <= e->flushed_seen)
					continue;
				if (n == cap) {
					size_t nc = cap ? cap * 2 : 1024;
					struct heartbeat_seen *nv = realloc(v, nc * sizeof(*nv));
					if (!nv) {
						r = -ENOMEM;
						break;
					}
					v = nv;
					cap = nc;
				}
				memcpy(v[n].host_id, e->host_id, sizeof(v[n].host_id));
				v[n].last_seen = e->last_seen;
				n++;
			}
		pthread_mutex_unlock(&ps->stripes[s]);
	}
	if (r >= 0 && n > 0) {
		/* in key order: consecutive updates touch the same index and table pages */
		qsort(v, n, sizeof(*v), seen_cmp);
		ping_write_lock(ps);
		r = store_ping_heartbeat_flush(ps->store, v, n);
		ping_write_unlock(ps);
	}
	if (r >= 0) {
		for (size_t i = 0; i < n; i++) {
			uint64_t h = fnv1a(FNV_BASIS, v[i].host_id);
			pthread_mutex_t *m = stripe_of(ps, h);
			struct hb_entry *e;

			pthread_mutex_lock(m);
			e = hb_find(ps, v[i].host_id, h);
			if (e && v[i].last_seen > e->flushed_seen)
				e->flushed_seen = v[i].last_seen;
			pthread_mutex_unlock(m);
		}
	}
	free(v);
	return r < 0 ? r : (int)n;
}

/* Drop cache entries of hosts silent for longer than host_expire (at least 10 minutes, far beyond any held ping),
 * whose lastSeen is already in the database, so a fleet's churn does not grow the cache forever. */
static void evict_silent(struct ping_state *ps, int64_t now)
{
	int64_t keep_ms = ps->srv->cfg.host_expire * 1000;

	if (keep_ms < 600 * 1000)
		keep_ms = 600 * 1000;
	pthread_mutex_lock(&ps->wlock); /* e->waiter is read under it, and waiter code holds it across lookups */
	for (size_t s = 0; s < PING_HB_STRIPES; s++) {
		pthread_mutex_lock(&ps->stripes[s]);
		for (size_t b = s; b < ps->n_buckets; b += PING_HB_STRIPES)
			for (struct hb_entry **pp = &ps->buckets[b]; *pp;) {
				struct hb_entry *e = *pp;

				if (e->last_seen < now - keep_ms && e->last_seen <= e->flushed_seen && !e->waiter) {
					*pp = e->next;
					idle_index_drop(ps, e);
					idle_forget(e);
					free(e);
				} else
					pp = &e->next;
			}
		pthread_mutex_unlock(&ps->stripes[s]);
	}
	pthread_mutex_unlock(&ps->wlock);
}

static int hook_flush(struct server *srv)
{
	struct ping_state *ps = srv->ping_state;
	int r;

	if (!ps)
		return 0;
	r = flush_heartbeats(ps);
	if (r < 0)
		return server_db_error(srv, r, "flushing heartbeats");
	return 0;
}

static int64_t hook_pending_last_seen(struct server *srv, const char *host_id)
{
	struct ping_state *ps = srv->ping_state;
	struct hb_entry *e;
	pthread_mutex_t *m;
	int64_t v = 0;
	uint64_t h;

	if (!ps || !host_id)
		return 0;
	h = fnv1a(FNV_BASIS, host_id);
	m = stripe_of(ps, h);
	pthread_mutex_lock(m);
	e = hb_find(ps, host_id, h);
	if (e)
		v = e->last_seen;
	pthread_mutex_unlock(m);
	return v;
}

/* ---- waiters (§5.11) ---- */

static void held_gauge(struct ping_state *ps)
{
	__atomic_store_n(&ps->srv->metrics.pings_held, (uint64_t)ps->n_waiters, __ATOMIC_RELAXED);
}

/* Caller holds wlock. Mark w woken (or cancelled); returns true when the caller must resume it. */
static bool wake_locked(struct waiter *w, bool cancel)
{
	if (cancel)
		w->cancel = true;
	else
		w->woken = true;
	if (!w->waiting)
		return false; /* its handler is running: it sees the flag when it tries to hold again */
	w->waiting = false;
	return true;
}

void ping_waiter_cancel_host(struct ping_state *ps, const char *host_id)
{
	struct req *resume = NULL;
	struct hb_entry *e;

	/* lock order: wlock, then a stripe (inside hb_lookup); evict_silent() holds wlock too */
	pthread_mutex_lock(&ps->wlock);
	e = hb_lookup(ps, host_id);
	if (e && e->waiter) {
		struct waiter *w = e->waiter;

		e->waiter = NULL;
		if (wake_locked(w, true))
			resume = w->req;
	}
	pthread_mutex_unlock(&ps->wlock);
	if (resume)
		http_resume(resume);
}

int ping_waiter_hold(struct ping_state *ps, struct waiter *w)
{
	struct hb_entry *e;
	bool resume_now;

	pthread_mutex_lock(&ps->wlock);
	e = hb_lookup(ps, w->host_id);
	if (ps->stopping || (int64_t)ps->n_waiters >= ps->srv->cfg.max_held_pings) {
		pthread_mutex_unlock(&ps->wlock);
		return -EBUSY;
	}
	w->prev = ps->w_tail;
	w->next = NULL;
	if (ps->w_tail)
		ps->w_tail->next = w;
	else
		ps->w_head = w;
	ps->w_tail = w;
	ps->n_waiters++;
	if (e)
		e->waiter = w;
	w->waiting = false;
	held_gauge(ps);
	pthread_mutex_unlock(&ps->wlock);

	/* suspend first, then become wakeable: nobody resumes a connection that is not suspended */
	http_suspend(w->req);
	pthread_mutex_lock(&ps->wlock);
	resume_now = w->cancel || w->woken || ps->stopping;
	if (!resume_now)
		w->waiting = true;
	pthread_mutex_unlock(&ps->wlock);
	if (resume_now)
		http_resume(w->req);
	return 0;
}

void ping_waiter_rehold(struct ping_state *ps, struct waiter *w)
{
	bool resume_now;

	http_suspend(w->req);
	pthread_mutex_lock(&ps->wlock);
	resume_now = w->cancel || w->woken || ps->stopping;
	if (!resume_now)
		w->waiting = true;
	pthread_mutex_unlock(&ps->wlock);
	if (resume_now)
		http_resume(w->req);
}

void ping_waiter_flags(struct ping_state *ps, struct waiter *w, bool *ret_cancel, bool *ret_woken)
{
	pthread_mutex_lock(&ps->wlock);
	*ret_cancel = w->cancel || ps->stopping;
	*ret_woken = w->woken;
	w->woken = false;
	pthread_mutex_unlock(&ps->wlock);
}

void ping_waiter_set_envs(struct waiter *w, char (*envs)[ENGINE_ID_SIZE], size_t n)
{
	free(w->envs);
	w->envs = envs;
	w->n_envs = n;
}

void ping_waiter_done(struct ping_state *ps, struct waiter *w)
{
	struct hb_entry *e;

	pthread_mutex_lock(&ps->wlock);
	e = hb_lookup(ps, w->host_id);
	if (w->prev)
		w->prev->next = w->next;
	else
		ps->w_head = w->next;
	if (w->next)
		w->next->prev = w->prev;
	else
		ps->w_tail = w->prev;
	ps->n_waiters--;
	if (e && e->waiter == w)
		e->waiter = NULL;
	held_gauge(ps);
	pthread_mutex_unlock(&ps->wlock);
	ping_request_free(w->request);
	free(w->envs);
	free(w);
}

static bool waiter_has_env(const struct waiter *w, const char *env_id)
{
	for (size_t i = 0; i < w->n_envs; i++)
		if (streq(w->envs[i], env_id))
			return true;
	return false;
}

static bool waiter_has_name(const struct waiter *w, const char *name)
{
	const struct ping_request *pr = w->request;

	if (streq(w->host_id, name) || (pr->host_name && streq(pr->host_name, name)))
		return true;
	for (size_t i = 0; i < pr->n_groups; i++)
		if (streq(pr->groups[i], name))
			return true;
	return false;
}

struct resume_list {
	struct req **v;
	size_t n, cap;
};

static void resume_add(struct resume_list *l, struct req *r)
{
	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 64;
		struct req **nv = realloc(l->v, nc * sizeof(*nv));
		if (!nv) {
			/* cannot remember it: resume right away (we hold wlock, resume does not need it) */
			http_resume(r);
			return;
		}
		l->v = nv;
		l->cap = nc;
	}
	l->v[l->n++] = r;
}

/* Caller holds wlock. */
static void wake_for_event(struct ping_state *ps, const struct store_event *ev, struct resume_list *l)
{
	int slot_budget = 2;

	if (streq(ev->kind, "HOST")) {
		for (struct waiter *w = ps->w_head; w; w = w->next)
			if (streq(w->host_id, ev->host_id) && wake_locked(w, false))
				resume_add(l, w->req);
		return;
	}
	for (struct waiter *w = ps->w_head; w; w = w->next) {
		bool match;

		if (streq(ev->kind, "ENV"))
			match = waiter_has_env(w, ev->env_id);
		else if (streq(ev->kind, "SLOT")) {
			/* at most 2 waiters per released slot, oldest first */
			if (slot_budget == 0)
				break;
			match = waiter_has_env(w, ev->env_id) && !w->woken && !w->cancel;
			if (match)
				slot_budget--;
		} else if (streq(ev->kind, "CAPACITY"))
			match = waiter_has_env(w, ev->env_id) || (ev->name[0] && waiter_has_name(w, ev->name));
		else
			match = false;
		if (match && wake_locked(w, false))
			resume_add(l, w->req);
	}
}

static void poll_events(struct ping_state *ps)
{
	struct store_event ev[EVENT_BATCH];
	struct resume_list l = { 0 };
	int n;

	for (;;) {
		n = store_event_poll(ps->srv->store, ps->event_seq, ev, EVENT_BATCH);
		if (n < 0) {
			(void)server_db_error(ps->srv, n, "polling wake events");
			break;
		}
		if (n == 0)
			break;
		/* an API change to a host's rows: its next ping re-reads its membership; a released slot or a changed
		 * stage (maxParallel, a new deploy): admission must look again before the woken waiters run. Idle
		 * repeats of the hosts the event would wake end (before event_seq moves past it, see ping.h). */
		for (int i = 0; i < n; i++) {
			bool host = streq(ev[i].kind, "HOST");

			if (host && ev[i].host_id[0])
				forget_host(ps, ev[i].host_id, ev[i].seq);
			else if (host || !ev[i].env_id[0] ||
				 !(streq(ev[i].kind, "ENV") || streq(ev[i].kind, "SLOT") ||
				   (streq(ev[i].kind, "CAPACITY") && !ev[i].name[0])))
				seq_raise(&ps->all_seq, ev[i].seq); /* a name, no env, or an unknown kind: everyone */
			if (ev[i].env_id[0] && !host) {
				ping_stage_forget_full(ps, ev[i].env_id);
				seq_raise(env_seq_slot(ps, ev[i].env_id), ev[i].seq);
			}
		}
		pthread_mutex_lock(&ps->wlock);
		for (int i = 0; i < n; i++)
			wake_for_event(ps, &ev[i], &l);
		pthread_mutex_unlock(&ps->wlock);
		__atomic_store_n(&ps->event_seq, ev[n - 1].seq, __ATOMIC_RELEASE);
		if (n < EVENT_BATCH)
			break;
	}
	for (size_t i = 0; i < l.n; i++)
		http_resume(l.v[i]);
	free(l.v);
}

static void expire_waiters(struct ping_state *ps)
{
	struct resume_list l = { 0 };
	int64_t now = mono_ms();

	pthread_mutex_lock(&ps->wlock);
	for (struct waiter *w = ps->w_head; w; w = w->next)
		if (w->waiting && now >= w->deadline_mono_ms) {
			w->waiting = false;
			resume_add(&l, w->req);
		}
	pthread_mutex_unlock(&ps->wlock);
	for (size_t i = 0; i < l.n; i++)
		http_resume(l.v[i]);
	free(l.v);
}

static void *ping_thread(void *arg)
{
	struct ping_state *ps = arg;
	int64_t period = ps->srv->cfg.event_poll_period_ms > 0 ? ps->srv->cfg.event_poll_period_ms : 500;
	int64_t flush_ms = ps->srv->cfg.heartbeat_flush_period * 1000;

	/* deadlines need a finer tick than a long poll period */
	if (period > 250)
		period = 250;
	while (!sleep_or_stop(&ps->tlock, &ps->tcond, &ps->thread_stop, period)) {
		int64_t now;

		poll_events(ps);
		expire_waiters(ps);
		now = mono_ms();
		if (now - ps->last_flush_mono_ms >= flush_ms) {
			int r = flush_heartbeats(ps);

			if (r < 0)
				(void)server_db_error(ps->srv, r, "flushing heartbeats");
			ps->last_flush_mono_ms = now;
		}
		if (now - ps->last_purge_mono_ms >= 60 * 1000) {
			int r;

			ping_write_lock(ps);
			r = store_event_purge(ps->srv->store, now_ms() - EVENT_KEEP_MS);
			ping_write_unlock(ps);

			if (r < 0)
				(void)server_db_error(ps->srv, r, "purging wake events");
			evict_silent(ps, now_ms());
			ps->last_purge_mono_ms = now;
		}
	}
	return NULL;
}

static void hook_shutdown(struct server *srv)
{
	struct ping_state *ps = srv->ping_state;
	struct resume_list l = { 0 };

	if (!ps)
		return;
	/* libmicrohttpd needs every suspended connection resumed before the daemon stops: answer all NOOP */
	pthread_mutex_lock(&ps->wlock);
	ps->stopping = true;
	for (struct waiter *w = ps->w_head; w; w = w->next)
		if (wake_locked(w, true))
			resume_add(&l, w->req);
	pthread_mutex_unlock(&ps->wlock);
	for (size_t i = 0; i < l.n; i++)
		http_resume(l.v[i]);
	free(l.v);

	pthread_mutex_lock(&ps->tlock);
	ps->thread_stop = true;
	pthread_cond_signal(&ps->tcond);
	pthread_mutex_unlock(&ps->tlock);
	if (ps->thread_started) {
		pthread_join(ps->thread, NULL);
		ps->thread_started = false;
	}
	(void)hook_flush(srv);
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
	ps->n_buckets = HB_BUCKETS;
	ps->buckets = calloc(ps->n_buckets, sizeof(*ps->buckets));
	ps->idle_index = calloc(PING_IDLE_SLOTS, sizeof(*ps->idle_index));
	if (!ps->buckets || !ps->idle_index)
		goto fail;
	r = store_ping_open(srv->cfg.db, &ps->store);
	if (r < 0) {
		(void)log_error_errno(r, "ping: cannot open the database '%s'", srv->cfg.db);
		goto fail;
	}
	r = store_event_last_seq(srv->store, &ps->event_seq);
	if (r < 0) {
		(void)server_db_error(srv, r, "reading the wake event sequence");
		goto fail;
	}
	for (size_t i = 0; i < PING_HB_STRIPES; i++) {
		pthread_mutex_init(&ps->stripes[i], NULL);
		pthread_mutex_init(&ps->idle_locks[i], NULL);
	}
	pthread_mutex_init(&ps->wlock, NULL);
	pthread_mutex_init(&ps->full_lock, NULL);
	pthread_mutex_init(&ps->write_lock, NULL);
	pthread_mutex_init(&ps->tlock, NULL);
	if (sleep_cond_init(&ps->tcond) < 0) /* monotonic: a wall clock stepped back does not stall the thread */
		goto fail;
	ps->last_flush_mono_ms = mono_ms();
	ps->last_purge_mono_ms = mono_ms();
	/* one server process per SQLite file: this process sees every ping of a host, and SQLite has one writer
	 * (see ping.h); PostgreSQL takes concurrent writers and replicas */
	ps->idle_repeats = startswith(srv->cfg.db, "sqlite:");
	ps->single_writer = ps->idle_repeats;
	if (pthread_create(&ps->thread, NULL, ping_thread, ps) != 0) {
		log_error("ping: cannot start the wake-event thread");
		goto fail;
	}
	ps->thread_started = true;
	srv->ping_state = ps;
	srv->flush_heartbeats = hook_flush;
	srv->pending_last_seen = hook_pending_last_seen;
	srv->ping_shutdown = hook_shutdown;
	__atomic_store_n(&the_state, ps, __ATOMIC_RELEASE);
	goto out;
fail:
	store_ping_free(ps->store);
	free(ps->buckets);
	free(ps->idle_index);
	free(ps);
	ps = NULL;
out:
	pthread_mutex_unlock(&the_state_lock);
	return ps;
}
