/* SPDX-License-Identifier: Apache-2.0 */
/* ping/heartbeat.c: the heartbeat cache (PROTOCOL §5.1 step 2, §8.5): lastSeen kept in memory and flushed in
 * batches so an idle ping writes nothing, the per-host ping sequence, the group-membership cache, and eviction of
 * silent hosts. A chained hash table with one mutex per stripe of buckets. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "log.h"
#include "ping_state.h"
#include "server.h"
#include "util.h"
#include "banned.h"

uint64_t ping_hash_str(uint64_t h, const char *s)
{
	static const char sep = 0x1f; /* a separator, so ("ab","c") and ("a","bc") differ */

	if (!s)
		s = "";
	h = hash_fnv1a(h, s, strlen(s));
	return hash_fnv1a(h, &sep, 1);
}

uint64_t ping_host_hash(const char *host_id)
{
	return ping_hash_str(HASH_FNV1A_BASIS, host_id);
}

/* Caller holds the stripe lock. NULL on OOM. */
struct hb_entry *ping_hb_get_or_add(struct ping_state *ps, const char *host_id, uint64_t h)
{
	struct hb_entry *e = ping_hb_find(ps, host_id, h);
	size_t b = h & (ps->n_buckets - 1);

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
	__atomic_add_fetch(&ps->hb_count, 1, __ATOMIC_RELAXED);
	return e;
}

/* Grow the cache's buckets fourfold while it holds more hosts than buckets, so chains stay about one long (a
 * lookup at 1,000,000 hosts walked ~4 with a fixed 262,144): a new array, every entry moved to its bucket in it,
 * under every stripe lock taken in order. Called with no lock held. */
static void hb_grow(struct ping_state *ps)
{
	size_t n = __atomic_load_n(&ps->n_buckets_seen, __ATOMIC_RELAXED);
	struct hb_entry **v, **unused;

	if (n >= PING_HB_BUCKETS_MAX || __atomic_load_n(&ps->hb_count, __ATOMIC_RELAXED) <= n)
		return;
	v = calloc(n * 4, sizeof(*v));
	if (!v)
		return; /* stays as it is: longer chains */
	for (size_t i = 0; i < PING_HB_STRIPES; i++)
		pthread_mutex_lock(&ps->stripes[i]);
	if (ps->n_buckets != n) { /* another thread grew it meanwhile */
		unused = v;
	} else {
		unused = ps->buckets;
		for (size_t b = 0; b < n; b++)
			for (struct hb_entry *e = unused[b], *next; e; e = next) {
				size_t to = e->hash & (n * 4 - 1);

				next = e->next;
				e->next = v[to];
				v[to] = e;
			}
		ps->buckets = v;
		ps->n_buckets = n * 4;
		__atomic_store_n(&ps->n_buckets_seen, n * 4, __ATOMIC_RELAXED);
		__atomic_store_n(&ps->srv->metrics.ping_hb_buckets, (uint64_t)n * 4, __ATOMIC_RELAXED);
	}
	for (size_t i = PING_HB_STRIPES; i-- > 0;)
		pthread_mutex_unlock(&ps->stripes[i]);
	free(unused);
}

/* The entry of host_id, or NULL. Entries are freed only by ping_evict_silent(), which holds wlock: the pointer is
 * valid while the caller holds wlock (the waiter code); nothing else keeps one. */
struct hb_entry *ping_hb_lookup(struct ping_state *ps, const char *host_id)
{
	pthread_mutex_t *m;
	struct hb_entry *e;

	e = ping_hb_lock(ps, host_id, &m);
	pthread_mutex_unlock(m);
	return e;
}

bool ping_silent(const struct ping_state *ps, const struct hb_entry *e, int64_t now)
{
	return now - e->last_seen >= ps->srv->cfg.host_expire * 1000 / 2;
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

/* The host's tags as a ping reports them: its ec2Tags (sorted by name) with its availabilityZone under the name
 * "availabilityZone" (the field wins over an ec2Tags entry of that name). ret has room for PING_MAX_TAGS + 1. */
static size_t host_tags(const struct ping_request *pr, struct host_tag *ret)
{
	const char *az = pr->availability_zone && pr->availability_zone[0] ? pr->availability_zone : NULL;
	size_t n = 0;
	bool az_done = !az;

	for (size_t i = 0; i < pr->n_tags; i++) {
		int c = az_done ? -1 : strcmp(pr->tags[i].key, PING_TAG_AVAILABILITY_ZONE);

		if (c > 0 || c == 0) {
			ret[n++] = (struct host_tag){ PING_TAG_AVAILABILITY_ZONE, az };
			az_done = true;
			if (c == 0)
				continue;
		}
		ret[n++] = (struct host_tag){ pr->tags[i].key, pr->tags[i].value };
	}
	if (!az_done)
		ret[n++] = (struct host_tag){ PING_TAG_AVAILABILITY_ZONE, az };
	return n;
}

/* What the heartbeat record and the host's tags are made of: a change makes the ping take the verifying path. */
static uint64_t attr_key(const struct ping_request *pr, const char *host_name)
{
	uint64_t key = ping_hash_str(HASH_FNV1A_BASIS, host_name);

	key = ping_hash_str(key, pr->host_ip);
	key = ping_hash_str(key, pr->agent_version);
	key = ping_hash_str(key, pr->autoscaling_group);
	key = ping_hash_str(key, pr->availability_zone);
	for (size_t i = 0; i < pr->n_tags; i++) {
		key = ping_hash_str(key, pr->tags[i].key);
		key = ping_hash_str(key, pr->tags[i].value);
	}
	return key;
}

static const char *const null_group[] = { "NULL" };

uint64_t ping_membership_key(const struct ping_request *pr, char *const **ret_groups, size_t *ret_n_groups)
{
	char *const *groups = pr->n_groups ? pr->groups : (char *const *)null_group;
	size_t n_groups = pr->n_groups ? pr->n_groups : 1;
	/* the cache holds the last key synced */
	uint64_t h = ping_hash_str(HASH_FNV1A_BASIS, pr->host_name ? pr->host_name : pr->host_id);

	h = ping_hash_str(h, pr->host_ip);
	h = ping_hash_str(h, pr->account_id);
	h = ping_hash_str(h, "|");
	for (size_t i = 0; i < n_groups; i++)
		h = ping_hash_str(h, groups[i]);
	*ret_groups = groups;
	*ret_n_groups = n_groups;
	return h;
}

int ping_host_rows_write(struct ping_state *ps, const struct host_rows *h)
{
	int r;

	ping_write_lock(ps);
	r = store_ping_host_write(ps->store, h);
	ping_write_unlock(ps);
	if (r > 0)
		METRIC_INC(ps->srv, ping_writes);
	return r;
}

static bool heartbeat_differs(const struct heartbeat *hb, const struct ping_request *pr, const char *host_name)
{
	return !streq(hb->host_name, host_name) || !same(hb->ip, pr->host_ip) ||
	       !same(hb->agent_version, pr->agent_version) || !same(hb->autoscaling_group, pr->autoscaling_group) ||
	       !same(hb->availability_zone, pr->availability_zone);
}

/* The verifying path (a host's first ping, then one every ping_verify_ms() (5-10 minutes by host), and the next
 * after a HOST event or a changed attribute): the host's heartbeat record, tags and (unless cached) group
 * membership are read outside the ping write lock, and whatever differs is written in one transaction under one
 * take of it. *ret_wrote_hb: the record was written. Returns 1 when the membership was checked now, 0 when it was
 * cached, or a negative errno (nothing remembered: the next ping verifies again). */
static int verify_host(struct ping_state *ps, const struct ping_request *pr, const char *host_name, int64_t now,
		       bool *ret_wrote_hb)
{
	struct host_tag tags[PING_MAX_TAGS + 1];
	struct host_rows w = { .host_id = pr->host_id, .host_name = host_name, .ip = pr->host_ip,
			       .account_id = pr->account_id, .now = now };
	size_t n_tags = host_tags(pr, tags);
	char *const *groups;
	bool differ = false, check_groups;
	struct heartbeat hb;
	uint64_t mkey;
	int r;

	mkey = ping_membership_key(pr, &groups, &w.n_groups);
	check_groups = !ping_membership_cached(ps, pr->host_id, mkey);
	r = store_ping_tags_differ(ps->store, pr->host_id, host_name, tags, n_tags, &differ);
	if (r < 0)
		return r;
	if (differ) {
		w.tags = tags;
		w.n_tags = n_tags;
	}
	if (check_groups) {
		w.groups = groups;
		r = store_ping_membership_differs(ps->store, &w, &differ);
		if (r < 0)
			return r;
		if (!differ)
			w.groups = NULL;
	}
	r = store_ping_heartbeat_get(ps->store, pr->host_id, &hb);
	if (r < 0 && r != -ENOENT)
		return r;
	if (r == -ENOENT || heartbeat_differs(&hb, pr, host_name)) {
		if (r == -ENOENT)
			hb.create_date = now;
		fill_copy(hb.host_id, sizeof(hb.host_id), pr->host_id);
		fill_copy(hb.host_name, sizeof(hb.host_name), host_name);
		fill_copy(hb.ip, sizeof(hb.ip), pr->host_ip);
		fill_copy(hb.agent_version, sizeof(hb.agent_version), pr->agent_version);
		fill_copy(hb.autoscaling_group, sizeof(hb.autoscaling_group), pr->autoscaling_group);
		fill_copy(hb.availability_zone, sizeof(hb.availability_zone), pr->availability_zone);
		hb.last_seen = now;
		w.hb = &hb;
	}
	if (w.hb || w.tags || w.groups) {
		r = ping_host_rows_write(ps, &w);
		if (r < 0)
			return r;
	}
	if (check_groups)
		ping_membership_remember(ps, pr->host_id, mkey);
	*ret_wrote_hb = w.hb != NULL;
	return check_groups;
}

int ping_heartbeat_record(struct ping_state *ps, const struct ping_request *pr, int64_t now, uint64_t *ret_seq)
{
	const char *host_name = pr->host_name ? pr->host_name : pr->host_id;
	uint64_t h = ping_host_hash(pr->host_id), key, seq;
	pthread_mutex_t *m = ping_stripe_of(ps, h);
	int64_t mono = mono_ms();
	struct hb_entry *e;
	bool wrote = false;
	int r;

	key = attr_key(pr, host_name);

	pthread_mutex_lock(m);
	e = ping_hb_find(ps, pr->host_id, h);
	if (e && e->attr_key == key && mono - e->verified_mono_ms < ping_verify_ms(h) && !ping_silent(ps, e, now)) {
		/* the idle path: memory only */
		if (now > e->last_seen)
			e->last_seen = now;
		*ret_seq = e->full_seq = ++e->seq;
		pthread_mutex_unlock(m);
		return 0;
	}
	pthread_mutex_unlock(m);

	r = verify_host(ps, pr, host_name, now, &wrote);
	if (r < 0)
		return r;

	pthread_mutex_lock(m);
	e = ping_hb_get_or_add(ps, pr->host_id, h);
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
	hb_grow(ps);
	return r;
}

void ping_heartbeat_touch(struct ping_state *ps, const char *host_id, int64_t now)
{
	pthread_mutex_t *m;
	struct hb_entry *e;

	e = ping_hb_lock(ps, host_id, &m);
	if (e && now > e->last_seen)
		e->last_seen = now;
	pthread_mutex_unlock(m);
}

bool ping_heartbeat_is_newest(struct ping_state *ps, const char *host_id, uint64_t seq)
{
	pthread_mutex_t *m;
	struct hb_entry *e;
	bool newest;

	e = ping_hb_lock(ps, host_id, &m);
	newest = e && e->seq == seq;
	pthread_mutex_unlock(m);
	return newest;
}

bool ping_membership_cached(struct ping_state *ps, const char *host_id, uint64_t key)
{
	pthread_mutex_t *m;
	struct hb_entry *e;
	bool cached;

	e = ping_hb_lock(ps, host_id, &m);
	cached = e && e->member_key == key && mono_ms() - e->member_mono_ms < ping_verify_ms(e->hash);
	pthread_mutex_unlock(m);
	return cached;
}

void ping_membership_remember(struct ping_state *ps, const char *host_id, uint64_t key)
{
	uint64_t h = ping_host_hash(host_id);
	pthread_mutex_t *m = ping_stripe_of(ps, h);
	struct hb_entry *e;

	pthread_mutex_lock(m);
	e = ping_hb_get_or_add(ps, host_id, h);
	if (e) {
		e->member_key = key;
		e->member_mono_ms = mono_ms();
	}
	pthread_mutex_unlock(m);
}

/* A HOST event: the host's next ping re-reads its heartbeat record and membership and runs in full. */
void ping_forget_host(struct ping_state *ps, const char *host_id, int64_t tick)
{
	pthread_mutex_t *m;
	struct hb_entry *e;

	e = ping_hb_lock(ps, host_id, &m);
	if (e) {
		e->member_key = 0; /* no membership hashes to 0 in practice: the next ping syncs */
		/* another replica's ping may have written the record (its attributes) */
		e->verified_mono_ms = mono_ms() - PING_HB_VERIFY_MS;
		if (tick > e->host_event_seq)
			e->host_event_seq = tick;
	}
	pthread_mutex_unlock(m);
}

/* ---- heartbeat flush (§8.5) ---- */

static int seen_cmp(const void *a, const void *b)
{
	return strcmp(((const struct heartbeat_seen *)a)->host_id, ((const struct heartbeat_seen *)b)->host_id);
}

int ping_flush_heartbeats(struct ping_state *ps, bool all)
{
	struct heartbeat_seen *v = NULL;
	size_t n = 0, cap = 0;
	/* §8.5: a host whose stored lastSeen is recent enough waits (engine_heartbeat_skip_ms()); at shutdown all go */
	int64_t now = now_ms(), skip_ms = all ? 0
					     : engine_heartbeat_skip_ms(ps->srv->cfg.host_unreachable_after * 1000,
									ps->srv->cfg.heartbeat_flush_period * 1000);
	int r = 0;

	for (size_t s = 0; s < PING_HB_STRIPES; s++) {
		pthread_mutex_lock(&ps->stripes[s]);
		for (size_t b = s; b < ps->n_buckets; b += PING_HB_STRIPES)
			for (struct hb_entry *e = ps->buckets[b]; e; e = e->next) {
				if (!engine_heartbeat_flush_due(now, e->last_seen, e->flushed_seen, skip_ms))
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
		__atomic_add_fetch(&ps->srv->metrics.heartbeats_flushed, (uint64_t)n, __ATOMIC_RELAXED);
		for (size_t i = 0; i < n; i++) {
			pthread_mutex_t *m;
			struct hb_entry *e = ping_hb_lock(ps, v[i].host_id, &m);

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
void ping_evict_silent(struct ping_state *ps, int64_t now)
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
					ping_idle_drop(ps, e);
					free(e);
					__atomic_sub_fetch(&ps->hb_count, 1, __ATOMIC_RELAXED);
				} else
					pp = &e->next;
			}
		pthread_mutex_unlock(&ps->stripes[s]);
	}
	pthread_mutex_unlock(&ps->wlock);
}

int ping_hook_flush(struct server *srv)
{
	struct ping_state *ps = srv->ping_state;
	int r;

	if (!ps)
		return 0;
	/* the janitor's flush skips like the thread's (the skip keeps its marks exact); a stopping server writes all */
	r = ping_flush_heartbeats(ps, __atomic_load_n(&ps->stopping, __ATOMIC_ACQUIRE));
	if (r < 0)
		return server_db_error(srv, r, "flushing heartbeats");
	return 0;
}

int64_t ping_hook_pending_last_seen(struct server *srv, const char *host_id)
{
	struct ping_state *ps = srv->ping_state;
	struct hb_entry *e;
	pthread_mutex_t *m;
	int64_t v = 0;

	if (!ps || !host_id)
		return 0;
	e = ping_hb_lock(ps, host_id, &m);
	if (e)
		v = e->last_seen;
	pthread_mutex_unlock(m);
	return v;
}
