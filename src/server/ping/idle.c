/* SPDX-License-Identifier: Apache-2.0 */
/* ping/idle.c: idle repeats (PROTOCOL §5.10, see ping_state.h): an idle ping repeated byte for byte by its host is
 * answered NOOP from memory while nothing that could change its answer has happened.
 *
 * Why this is safe with several replicas on one PostgreSQL database. A remembered answer is the answer of a full
 * run that read the database after the tick it keeps was read. It could only become wrong through a committed
 * change it did not see, and every such change is NOTIFYed in its own transaction: a wake event (an API change,
 * a released slot: the same events a held ping waits for, so a repeat is never staler than a held ping), or a
 * ping of the same host on another replica that wrote its rows (agent rows, admission, heartbeat record,
 * membership, tags: store_tx_host_written()). A ping that writes nothing leaves the database as it found it and
 * cannot change the answer; a host whose report changes sends another body, which is not a repeat. PostgreSQL
 * delivers a notification after its commit, so it is handled (ping_event_ends(), a new tick) after any run that
 * missed the change had read its tick, and that run's memory is over; ticks are this process's own order of
 * handling, so notifications that commit out of sequence order end memories just the same. Nothing committed
 * before the listener's last probe was sent is undelivered (store.h), so while that probe is at most
 * PING_LISTEN_STALE_MS old, a repeat misses no change committed more than PING_LISTEN_STALE_MS ago; otherwise
 * (a listener down, reconnecting or stalled) nothing is repeated, and a listener that fails or comes back forgets
 * every memory (notifications may have been missed). The only changes made by time alone are the janitor's: it
 * announces a host it marks UNREACHABLE (HOST) and the slots it releases (SLOT) like any other change; a host it
 * may have removed runs in full (ping_silent()). Every answer is recomputed within ping_verify_ms() whatever
 * happens. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "ping_state.h"
#include "server.h"
#include "util.h"
#include "banned.h"

/* The idle index maps a remembered body, by hash, to its host's entry, so that a repeat is recognised before the
 * body is parsed. A slot holds the entry pointer and the host's hash: the pointer is only followed after the
 * entry was found in that host's bucket under its stripe lock. Set-associative: a body hash picks a set of
 * IDLE_WAYS slots and may sit in any of them (a set that overflows costs a parse of the body it turned away). The
 * hash is FNV-1a with a finaliser: the low bits of plain FNV-1a over bodies that differ only in a host's name and
 * end alike repeat far more often than chance (a quarter of 5,000 bench bodies shared a slot of 65,536). It doubles
 * while more than half of its slots are taken, from PING_IDLE_SLOTS_MIN to PING_IDLE_SLOTS_MAX, so a small fleet
 * keeps a small index and a 1,000,000-host fleet finds its bodies (sets of 8 half full turn away ~1 % of them). A
 * body's lock is that of its set's stripe whatever the size (the number of sets is a power of two of at least
 * PING_HB_STRIPES); the array and its size are read and written only under such a lock, and growing takes them
 * all. Lock order: a heartbeat stripe, then an index stripe; the index lock is never held while taking a heartbeat
 * stripe, nor two of them but by idle_index_grow(), in order. */
#define IDLE_WAYS 8

static uint64_t body_hash(const char *body, size_t len)
{
	uint64_t h = hash_fnv1a(HASH_FNV1A_BASIS, body, len);

	/* the finaliser of MurmurHash3: every bit of h reaches the low bits the index uses */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

static pthread_mutex_t *idle_lock_of(struct ping_state *ps, uint64_t bh)
{
	return &ps->idle_locks[(bh / IDLE_WAYS) % PING_HB_STRIPES];
}

/* The first slot of bh's set in an index of n slots. */
static struct idle_slot *idle_set_in(struct idle_slot *index, size_t n, uint64_t bh)
{
	return &index[bh & (n - 1) & ~(uint64_t)(IDLE_WAYS - 1)];
}

/* Caller holds idle_lock_of(bh): the slot of bh's set that holds e (any body), or NULL. */
static struct idle_slot *idle_slot_of(struct ping_state *ps, uint64_t bh, const struct hb_entry *e)
{
	struct idle_slot *set = idle_set_in(ps->idle_index, ps->idle_slots, bh);

	for (size_t i = 0; i < IDLE_WAYS; i++)
		if (set[i].e == e)
			return &set[i];
	return NULL;
}

/* Put sl in the set of an index of n slots: in its own slot, else a free one, else (evict: true) in place of the
 * way the body hash picks. Returns 1 when a free slot was taken, 0 when not, -1 when the set was full and evict
 * false. */
static int idle_set_put(struct idle_slot *index, size_t n, const struct idle_slot *sl, bool evict)
{
	struct idle_slot *set = idle_set_in(index, n, sl->body_hash), *free_slot = NULL;

	for (size_t i = 0; i < IDLE_WAYS; i++) {
		if (set[i].e == sl->e) {
			set[i] = *sl;
			return 0;
		}
		if (!set[i].e && !free_slot)
			free_slot = &set[i];
	}
	if (free_slot) {
		*free_slot = *sl;
		return 1;
	}
	if (!evict)
		return -1;
	set[(sl->body_hash >> 32) % IDLE_WAYS] = *sl;
	return 0;
}

/* Caller holds idle_lock_of(e->idle_hash) and e's stripe lock. */
static void idle_slot_put(struct ping_state *ps, struct hb_entry *e)
{
	struct idle_slot sl = { .body_hash = e->idle_hash, .host_hash = e->hash, .e = e };

	if (idle_set_put(ps->idle_index, ps->idle_slots, &sl, true) > 0)
		__atomic_add_fetch(&ps->idle_used, 1, __ATOMIC_RELAXED);
}

/* Double the index when more than half of its slots are taken (a new array, every slot moved to its
 * set in it, one that finds its set full dropped). Called with no lock held. */
static void idle_index_grow(struct ping_state *ps)
{
	size_t n = __atomic_load_n(&ps->idle_slots_seen, __ATOMIC_RELAXED), used = 0;
	struct idle_slot *v, *unused;

	if (n >= PING_IDLE_SLOTS_MAX || __atomic_load_n(&ps->idle_used, __ATOMIC_RELAXED) <= n / 2)
		return;
	v = calloc(n * 2, sizeof(*v));
	if (!v)
		return; /* stays as it is: more collisions, more parses */
	for (size_t i = 0; i < PING_HB_STRIPES; i++)
		pthread_mutex_lock(&ps->idle_locks[i]);
	if (ps->idle_slots != n) { /* another thread grew it meanwhile */
		unused = v;
	} else {
		unused = ps->idle_index;
		for (size_t i = 0; i < n; i++)
			if (unused[i].e && idle_set_put(v, n * 2, &unused[i], false) > 0)
				used++;
		ps->idle_index = v;
		ps->idle_slots = n * 2;
		__atomic_store_n(&ps->idle_slots_seen, n * 2, __ATOMIC_RELAXED);
		__atomic_store_n(&ps->idle_used, used, __ATOMIC_RELAXED);
		__atomic_store_n(&ps->srv->metrics.ping_idle_index_slots, (uint64_t)n * 2, __ATOMIC_RELAXED);
	}
	for (size_t i = PING_HB_STRIPES; i-- > 0;)
		pthread_mutex_unlock(&ps->idle_locks[i]);
	free(unused);
}

/* Caller holds e's stripe lock. */
static void idle_index_drop(struct ping_state *ps, struct hb_entry *e)
{
	pthread_mutex_t *l = idle_lock_of(ps, e->idle_hash); /* the last body e was put in for (a forgotten one's too) */
	struct idle_slot *sl;

	pthread_mutex_lock(l);
	sl = idle_slot_of(ps, e->idle_hash, e);
	if (sl) {
		*sl = (struct idle_slot){ 0 };
		__atomic_sub_fetch(&ps->idle_used, 1, __ATOMIC_RELAXED);
	}
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

static int64_t *env_seq_slot(struct ping_state *ps, const char *env_id)
{
	return &ps->env_seq[ping_hash_str(HASH_FNV1A_BASIS, env_id) % PING_ENV_SEQ_SLOTS];
}

static void seq_raise(int64_t *p, int64_t seq)
{
	int64_t cur = __atomic_load_n(p, __ATOMIC_RELAXED);

	while (cur < seq && !__atomic_compare_exchange_n(p, &cur, seq, false, __ATOMIC_RELEASE, __ATOMIC_RELAXED))
		;
}

int64_t ping_idle_seq(struct ping_state *ps)
{
	return __atomic_load_n(&ps->idle_tick, __ATOMIC_SEQ_CST);
}

int64_t ping_idle_tick(struct ping_state *ps)
{
	return __atomic_add_fetch(&ps->idle_tick, 1, __ATOMIC_SEQ_CST);
}

void ping_idle_forget_all(struct ping_state *ps)
{
	ping_idle_all_event(ps, ping_idle_tick(ps));
}

/* PostgreSQL: the wake listener has every notification committed up to at most PING_LISTEN_STALE_MS ago */
static bool listener_fresh(struct ping_state *ps, int64_t mono)
{
	return !ps->listening || mono - __atomic_load_n(&ps->listen_fresh_ms, __ATOMIC_ACQUIRE) < PING_LISTEN_STALE_MS;
}


void ping_idle_remember(struct ping_state *ps, const char *host_id, uint64_t ping_seq, const char *body, size_t len,
			int64_t seq, uint64_t write_gen, const char (*envs)[ENGINE_ID_SIZE], size_t n_envs)
{
	uint64_t h = ping_host_hash(host_id);
	pthread_mutex_t *m = ping_stripe_of(ps, h);
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
	e = ping_hb_find(ps, host_id, h);
	if (e && e->full_seq == ping_seq) { /* no other ping of the host ran in full meanwhile */
		pthread_mutex_t *l;

		idle_forget(e);
		idle_index_drop(ps, e); /* the slot of its last body, if it still has one */
		e->idle_ping_seq = ping_seq;
		e->idle_hash = body_hash(body, len);
		l = idle_lock_of(ps, e->idle_hash);
		pthread_mutex_lock(l);
		idle_slot_put(ps, e);
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
	idle_index_grow(ps);
}

/* Caller holds the stripe lock of e. now: the ping's time (e->last_seen is still the previous ping's). */
static bool idle_valid(struct ping_state *ps, const struct hb_entry *e, const char *body, size_t len, int64_t now,
		       int64_t mono)
{
	int64_t verify = ping_verify_ms(e->hash);

	if (!e->idle_body || e->idle_ping_seq != e->full_seq || e->idle_len != len ||
	    memcmp(e->idle_body, body, len) != 0)
		return false;
	if (ping_silent(ps, e, now) || mono - e->idle_mono_ms >= verify || mono - e->verified_mono_ms >= verify ||
	    e->member_key == 0 || mono - e->member_mono_ms >= verify || !listener_fresh(ps, mono))
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
	struct idle_slot copy = { 0 }, *set;
	struct hb_entry *e;
	bool ok = false;

	if (!ps->idle_repeats)
		return false;
	l = idle_lock_of(ps, bh);
	pthread_mutex_lock(l);
	set = idle_set_in(ps->idle_index, ps->idle_slots, bh);
	for (size_t i = 0; i < IDLE_WAYS; i++)
		if (set[i].e && set[i].body_hash == bh) {
			copy = set[i];
			break;
		}
	pthread_mutex_unlock(l);
	if (!copy.e)
		return false;
	m = ping_stripe_of(ps, copy.host_hash);
	pthread_mutex_lock(m);
	for (e = ps->buckets[copy.host_hash & (ps->n_buckets - 1)]; e; e = e->next)
		if (e == copy.e)
			break; /* still alive: the pointer may be followed */
	if (e && idle_valid(ps, e, body, len, now, mono_ms())) {
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
	pthread_mutex_t *m;
	struct hb_entry *e;
	bool ok;

	e = ping_hb_lock(ps, host_id, &m);
	ok = allow && ps->idle_repeats && e && idle_valid(ps, e, body, len, now, mono_ms());
	if (ok) {
		/* the heartbeat's idle path (same body: same attributes) */
		pthread_mutex_t *l = idle_lock_of(ps, e->idle_hash);

		if (now > e->last_seen)
			e->last_seen = now;
		*ret_seq = ++e->seq;
		/* found by its host, not its body (a collision took the slot, or the index grew): put it back */
		pthread_mutex_lock(l);
		if (!idle_slot_of(ps, e->idle_hash, e))
			idle_slot_put(ps, e);
		pthread_mutex_unlock(l);
	} else if (e && e->idle_body)
		idle_forget(e);
	pthread_mutex_unlock(m);
	return ok;
}

void ping_idle_drop(struct ping_state *ps, struct hb_entry *e)
{
	idle_index_drop(ps, e);
	idle_forget(e);
}

void ping_idle_env_event(struct ping_state *ps, const char *env_id, int64_t tick)
{
	seq_raise(env_seq_slot(ps, env_id), tick);
}

void ping_idle_all_event(struct ping_state *ps, int64_t tick)
{
	seq_raise(&ps->all_seq, tick);
}
