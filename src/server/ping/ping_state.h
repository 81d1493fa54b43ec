/* SPDX-License-Identifier: Apache-2.0 */
/* ping/ping_state.h: the ping pipeline's process state, shared by the files of ping/ only (api/ping.c sees
 * ping/pipeline.h). Created lazily by the first ping (ping_state_get(), ping/state.c); it installs the server hooks
 * flush_heartbeats, ping_shutdown and pending_last_seen.
 *
 * Who owns what: heartbeat.c the heartbeat cache (struct hb_entry) and its flush; idle.c the §5.10 idle repeats;
 * hold.c the long-poll waiters and the wake events; run.c one run of §5.1 steps 3-8 with admission; answer.c the
 * answer of §5.8; serve.c the whole ping as api/ping.c calls it; pool.c the threads that run pings; commit.c the
 * group commit of its writes; state.c creation, the event/flush thread, the write lock and the early refusal of
 * full stages. */
#ifndef SLIPWAY_SERVER_PING_PING_STATE_H
#define SLIPWAY_SERVER_PING_PING_STATE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "engine.h"
#include "http/http.h"
#include "pipeline.h"
#include "store_ping.h"
#include "wire.h"

struct waiter;
struct ping_job;

/* §5.7 early refusal: a stage found full by admission is remembered for a moment so that waiting hosts do not
 * all take the database write lock only to be refused. It only ever refuses (never admits) and is forgotten when
 * a slot is released here, or on a SLOT or ENV event of the stage. */
#define PING_FULL_SLOTS 256
#define PING_FULL_MS 1000
struct full_stage {
	char env_id[ENGINE_ID_SIZE];
	int64_t until_mono_ms;
};

#define PING_HB_STRIPES 64
/* the heartbeat cache's buckets: a power of two, a multiple of PING_HB_STRIPES (a bucket's stripe is then that of
 * its hosts' hash whatever the size); fourfold when it holds more hosts than buckets (ping_hb_grow()): 4,096 at
 * first (32 KB), 1,048,576 at 1,000,000 hosts (8 MB, chains of about one) */
#define PING_HB_BUCKETS_MIN ((size_t)1 << 12)
#define PING_HB_BUCKETS_MAX ((size_t)1 << 24)
/* wake-event sequence per env, by hash slot (a collision only invalidates more than needed) */
#define PING_ENV_SEQ_SLOTS 4096
/* PostgreSQL: no answer is repeated from memory unless the wake listener proved this recently that it has every
 * notification committed up to then (the staleness bound of docs/operations.md) */
#define PING_LISTEN_STALE_MS STORE_LISTEN_STALE_MS
/* the idle index (ping_idle_repeat_body()): sets of 8 slots by body hash; a set that overflows costs a parse
 * (measured: a repeat found after parsing costs about twice one found before). It doubles while more than half of
 * it is taken: 24 KB at first, 384 KB at 5,000 hosts, 48 MB at 1,000,000 (2 slots per host: 48 of the bytes the
 * server keeps per host), 96 MB at most. Sets of 4 an eighth full took four times that memory. */
#define PING_IDLE_SLOTS_MIN ((size_t)1 << 10)
#define PING_IDLE_SLOTS_MAX ((size_t)1 << 22)
/* A host's database record and membership are re-read, and its idle answer is recomputed, at the latest this long
 * after the last time they were (between half of it and all of it, by host: the hosts of a fleet that started
 * together do not all run in full in the same minute ten minutes later). A safety net only: every change the
 * answer depends on is a wake event or a write of this process, and the janitor acts only on silent hosts (see
 * ping_idle_repeat()). It must stay well above the agents' ping interval (60 s): an answer that expired before the
 * next ping would make every idle ping of a 1,000,000-host fleet a full run. */
#define PING_HB_VERIFY_MS (600 * 1000)
static inline int64_t ping_verify_ms(uint64_t host_hash)
{
	return PING_HB_VERIFY_MS / 2 + (int64_t)(host_hash % (PING_HB_VERIFY_MS / 2));
}

/* One host in the heartbeat cache. Fields are under the host's stripe lock, `waiter` under ps->wlock. */
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
	struct waiter *waiter;
	/* the remembered idle ping (ping_idle_remember()) */
	char *idle_body;
	size_t idle_len;
	int64_t idle_seq;
	uint64_t idle_gen;
	int64_t idle_mono_ms;
	char (*idle_envs)[ENGINE_ID_SIZE];
	size_t n_idle_envs;
	int64_t host_event_seq; /* the last HOST event of this host */
	uint64_t idle_hash;     /* the body's hash: its slot in the idle index */
	uint64_t full_seq;      /* seq of the host's last ping that ran in full */
	uint64_t idle_ping_seq; /* seq of the ping that left the idle memory */
	bool deploying;         /* the host's last full run answered a goal or left it holding a slot (note_deploying()) */
};

struct idle_slot {
	uint64_t body_hash;
	uint64_t host_hash;
	struct hb_entry *e;
};

/* The run pool resumes the requests of finished runs together (pool.c): when this many are done, or when the first
 * of them has waited PING_POOL_RESUME_NS_PER_HELD for every held ping (libmicrohttpd's walk of them on a round that
 * resumes any costs ~20 ns each: the walks then cost at most ~4 % of a core), at most PING_POOL_RESUME_MAX_US */
#define PING_POOL_RESUME_BATCH 64
#define PING_POOL_RESUME_NS_PER_HELD 500
#define PING_POOL_RESUME_MAX_US 10000

struct ping_state {
	struct server *srv;
	struct store_ping *store;
	/* heartbeat cache: chained hash table, one mutex per stripe of buckets; buckets and n_buckets are read under any
	 * stripe lock and changed under all of them (ping_hb_grow()) */
	struct hb_entry **buckets;
	size_t n_buckets;
	size_t n_buckets_seen; /* atomic: n_buckets, for a look without the locks */
	size_t hb_count;       /* atomic: entries */
	pthread_mutex_t stripes[PING_HB_STRIPES];
	/* long-poll waiters, oldest first; hb_entry->waiter points at a host's waiter (under wlock) */
	pthread_mutex_t wlock;
	struct waiter *w_head, *w_tail;
	size_t n_waiters;
	/* the waiters whose last run was refused an install, oldest refusal first (sprev/snext): a released slot
	 * wakes some of them, and finds them without a walk of every waiter (under wlock) */
	struct waiter *s_head, *s_tail;
	bool stopping;
	/* woken held pings waiting for their turn to re-run, oldest wake first (struct waiter's pprev/pnext), and the
	 * woken ones resumed and not yet answered or held again: at most the setting wake_batch of them (0: no
	 * limit), so that a wake of many held pings does not queue everyone else's pings behind their runs (hold.c,
	 * under wlock) */
	struct waiter *p_head, *p_tail;
	size_t n_pending, n_running;
	/* the rate woken pings re-ran at over the last second or so (atomic; ping_wake_backlog()) */
	uint64_t wake_runs_done, rate_runs_done;
	int64_t rate_mono_ms;
	int64_t wake_rate;
	pthread_mutex_t full_lock;
	struct full_stage full[PING_FULL_SLOTS];
	/* this process's ping-path write transactions, one at a time (see ping_write_lock()) */
	pthread_mutex_t write_lock;
	bool single_writer; /* SQLite: the mutex is used */
	/* group commit (commit.c): the jobs queued for the next leader, and whether a leader is running a group; under
	 * gc_lock; the leader waits on gc_cond for the runs under way (each queued thread waits on its own job) */
	pthread_mutex_t gc_lock;
	pthread_cond_t gc_cond;
	struct ping_job *gc_head, *gc_tail;
	size_t gc_n;         /* jobs queued */
	long gc_expected;    /* runs under way that may queue a job (ping_write_expect()) */
	bool gc_leading;
	bool gc_waiting;     /* a leader waits for them */
	/* the event / flush thread; tcond waits on CLOCK_MONOTONIC */
	pthread_t thread;
	bool thread_started;
	pthread_mutex_t tlock;
	pthread_cond_t tcond;
	bool thread_stop;
	int64_t event_seq; /* the last wake event polled from the table */
	bool poll_now;     /* under tlock: a notification came, poll the events without waiting for the period */
	/* §5.10 idle repeats (ping_idle_repeat()): every wake event handled, polled or notified, takes the next tick
	 * (idle_tick, atomic); a remembered answer keeps the tick read before its run. By slot, the tick of the last
	 * event that may change answers of hosts relevant to an env (ENV, SLOT, CAPACITY); the tick of the last event
	 * that may change any host's answer (CAPACITY: it may map hosts newly, and "forget everything") */
	int64_t idle_tick;
	int64_t env_seq[PING_ENV_SEQ_SLOTS];
	int64_t all_seq;
	bool idle_repeats; /* enabled: SQLite, or PostgreSQL with the wake listener */
	/* PostgreSQL: the wake listener (store_listener_start()); listen_fresh_ms (atomic, monotonic): every
	 * notification committed before it has been handled; an answer is repeated only while it is at most
	 * PING_LISTEN_STALE_MS old */
	struct store_listener *listener;
	bool listening; /* a listener was started (set once, before the first ping is served) */
	int64_t listen_fresh_ms;
	struct idle_slot *idle_index; /* idle_slots of them (a power of two); both under the idle locks (idle.c) */
	size_t idle_slots;
	size_t idle_slots_seen; /* atomic: idle_slots, for a look without the locks */
	size_t idle_used;       /* atomic: slots taken */
	pthread_mutex_t idle_locks[PING_HB_STRIPES];
	int64_t last_flush_mono_ms;
	int64_t last_purge_mono_ms;
	/* the run pool (pool.c): queued runs, oldest first, under pool_lock; pool_on (atomic) while it takes runs */
	pthread_mutex_t pool_lock;
	pthread_cond_t pool_cond;
	struct ping_task *pool_head, *pool_tail;
	size_t pool_queued;
	pthread_t *pool_threads;
	size_t pool_n_threads;
	bool pool_on;
	/* runs done whose requests the resumer thread resumes together (pool.c), the first of them done at
	 * pool_done_since_us (monotonic); pool_done_cond wakes the resumer */
	struct req *pool_done[PING_POOL_RESUME_BATCH];
	size_t pool_n_done;
	int64_t pool_done_since_us;
	pthread_cond_t pool_done_cond;
	pthread_t pool_resumer;
	bool pool_resumer_stop;
};

/* ---- the heartbeat cache (heartbeat.c) ---- */

/* The hash of a string for the cache's tables (FNV-1a with a terminator, so ("ab","c") and ("a","bc") differ). */
uint64_t ping_hash_str(uint64_t h, const char *s);
uint64_t ping_host_hash(const char *host_id);
static inline pthread_mutex_t *ping_stripe_of(struct ping_state *ps, uint64_t h)
{
	return &ps->stripes[h % PING_HB_STRIPES];
}
/* Caller holds the stripe lock. */
static inline struct hb_entry *ping_hb_find(struct ping_state *ps, const char *host_id, uint64_t h)
{
	for (struct hb_entry *e = ps->buckets[h & (ps->n_buckets - 1)]; e; e = e->next)
		if (e->hash == h && strcmp(e->host_id, host_id) == 0)
			return e;
	return NULL;
}
/* Lock host_id's stripe (*ret_lock, for the caller to unlock) and find its entry (NULL: none). */
static inline struct hb_entry *ping_hb_lock(struct ping_state *ps, const char *host_id, pthread_mutex_t **ret_lock)
{
	uint64_t h = ping_host_hash(host_id);

	*ret_lock = ping_stripe_of(ps, h);
	pthread_mutex_lock(*ret_lock);
	return ping_hb_find(ps, host_id, h);
}
/* Has e's host been silent long enough at now (its previous ping at e->last_seen) that the janitor may have
 * removed its rows? Half of host_expire (the stored lastSeen lags the remembered one by less than that): the
 * removal is announced to the stages the host was in, not to the host. Marking a host UNREACHABLE is announced to
 * the host itself (a HOST event), so a silence shorter than that needs no rule: a host that the server was only
 * slow to hear from keeps its idle answer. Caller holds the stripe lock. */
bool ping_silent(const struct ping_state *ps, const struct hb_entry *e, int64_t now);
/* Caller holds the stripe lock. NULL on OOM. */
struct hb_entry *ping_hb_get_or_add(struct ping_state *ps, const char *host_id, uint64_t h);
/* The entry of host_id, or NULL. Entries are freed only by ping_evict_silent(), which holds wlock: the pointer is
 * valid while the caller holds wlock (the waiter code); nothing else keeps one. */
struct hb_entry *ping_hb_lookup(struct ping_state *ps, const char *host_id);

/* §5.1 step 2: record the heartbeat; lastSeen in memory, except on the verifying path (a host new to this process,
 * an attribute changed, or PING_HB_VERIFY_MS since the last check), which reads the host's heartbeat record, tags
 * and group membership (step 3, unless cached) outside the ping write lock and writes what differs in one
 * transaction. *ret_seq = this ping's per-host sequence number. Returns 1 when the membership was checked now, 0
 * otherwise, or a negative errno. */
int ping_heartbeat_record(struct ping_state *ps, const struct ping_request *pr, int64_t now, uint64_t *ret_seq);
/* The key of the host's membership as pr reports it (for the cache below), with the groups to sync: pr's, or the
 * one placeholder group "NULL" when it reports none. */
uint64_t ping_membership_key(const struct ping_request *pr, char *const **ret_groups, size_t *ret_n_groups);
/* store_ping_host_write() under the ping write lock, counted as a ping write when it wrote. */
int ping_host_rows_write(struct ping_state *ps, const struct host_rows *h);
/* Only refresh lastSeen in memory (a held ping at answer time). */
void ping_heartbeat_touch(struct ping_state *ps, const char *host_id, int64_t now);
/* true iff host_id's newest ping is seq. */
bool ping_heartbeat_is_newest(struct ping_state *ps, const char *host_id, uint64_t seq);
/* true when the host's membership was synced with exactly this key recently (cache); record it. */
bool ping_membership_cached(struct ping_state *ps, const char *host_id, uint64_t key);
void ping_membership_remember(struct ping_state *ps, const char *host_id, uint64_t key);
/* A HOST event: the host's next ping re-reads its heartbeat record and membership and runs in full (tick:
 * ping_idle_tick()). */
void ping_forget_host(struct ping_state *ps, const char *host_id, int64_t tick);
/* §8.5: write the pending lastSeen values (all: also those the skip rule lets wait, engine_heartbeat_skip_ms());
 * returns how many, or a negative errno. */
int ping_flush_heartbeats(struct ping_state *ps, bool all);
/* Drop entries of hosts silent far longer than any held ping whose lastSeen is already in the database. */
void ping_evict_silent(struct ping_state *ps, int64_t now);
/* The server hooks flush_heartbeats and pending_last_seen. */
int ping_hook_flush(struct server *srv);
int64_t ping_hook_pending_last_seen(struct server *srv, const char *host_id);

/* ---- §5.10 idle repeats (idle.c) ----
 * An idle ping whose full run answered NOOP without any candidate or write is remembered (request body, relevant
 * envs, the wake-event sequence read before the run). The same host sending the same body again is answered NOOP
 * from memory while no wake event that would wake a held ping of it (§5.11: ENV, SLOT or CAPACITY of a relevant
 * env, CAPACITY naming anything, HOST of the host) has arrived since, for at most ping_verify_ms(), and never after
 * a silence after which the janitor may have removed its rows (ping_silent()): the answer a long-poll waiter
 * registered after that run would still be holding, or would get again when its hold ends (no decision of a ping
 * depends on the clock; the janitor's marks, the only change made by time alone, are HOST and SLOT events). An
 * API request of this process that may have written ends every idle memory at once (http_write_generation(), read
 * with ping_idle_seq() before the run), so a client never sees an idle repeat older
 * than its own change. ping_seq is the ping's own sequence (ping_heartbeat_record()): the memory is kept only while
 * no other ping of the host ran in full.
 * Replicas on one PostgreSQL database each see only some of a host's events and pings. They learn of the others'
 * from the wake listener (state.c, store/pg_listen.c): every wake event and every ping's write of a host's rows
 * (heartbeat record, membership, tags, agent rows) is NOTIFYed in its own transaction and handled here on
 * arrival, before the table poll sees it (see idle.c for why that is enough); while the listener is down or has
 * not proved itself fresh within PING_LISTEN_STALE_MS, nothing is repeated, and a lost or regained connection
 * forgets every remembered answer. */
int64_t ping_idle_seq(struct ping_state *ps);
void ping_idle_remember(struct ping_state *ps, const char *host_id, uint64_t ping_seq, const char *body, size_t len,
			int64_t seq, uint64_t write_gen, const char (*envs)[ENGINE_ID_SIZE], size_t n_envs);
/* true (and the heartbeat recorded, *ret_seq = the ping's sequence) when allow is set and body repeats host_id's
 * remembered idle ping and nothing relevant happened since; false: run the ping in full (the memory is forgotten
 * unless it is still valid, so a ping that may write never leaves a stale one behind). */
bool ping_idle_repeat(struct ping_state *ps, const char *host_id, const char *body, size_t len, bool allow,
		      int64_t now, uint64_t *ret_seq);
/* The same before parsing: finds the host by the body (a repeat is byte-identical to a body that was valid).
 * true: heartbeat recorded, ret_host_id is the host (its held ping, if any, is the caller's to cancel). */
bool ping_idle_repeat_body(struct ping_state *ps, const char *body, size_t len, int64_t now,
			   char ret_host_id[ENGINE_ID_SIZE]);
/* Caller holds e's stripe lock: forget e's idle memory and its place in the idle index. */
void ping_idle_drop(struct ping_state *ps, struct hb_entry *e);
/* A wake event of env_id (ENV, SLOT, CAPACITY) / one that may change any host's answer ends the idle memories it
 * concerns (tick: ping_idle_tick()). */
void ping_idle_env_event(struct ping_state *ps, const char *env_id, int64_t tick);
void ping_idle_all_event(struct ping_state *ps, int64_t tick);
/* The next tick of a handled event (larger than any ping_idle_seq() read before). */
int64_t ping_idle_tick(struct ping_state *ps);
/* Forget every remembered answer (the wake listener lost or regained its connection). */
void ping_idle_forget_all(struct ping_state *ps);
/* What a wake event ends, polled or notified (hold.c): the idle answers it concerns, the host's cached membership
 * (HOST) and the early-refusal memory of its stage. */
void ping_event_ends(struct ping_state *ps, const struct store_event *ev);

/* ---- the write lock and the early refusal (state.c) ---- */

/* SQLite admits one writer at a time; a connection that finds the write lock taken backs off in SQLite's busy
 * handler, which sleeps 1, 2, 5 ... up to 100 ms per retry, so N pings writing at once wait for each other's
 * sleeps, not for each other's transactions (hundreds of ms per ping during a rollout). The ping path therefore
 * queues its write transactions (admission, persistence, heartbeat and membership writes, the heartbeat flush)
 * on this mutex; SQLite's lock still arbitrates against other connections and processes. Only with SQLite
 * (PostgreSQL admits concurrent writers; admission locks per stage there). */
void ping_write_lock(struct ping_state *ps);
void ping_write_unlock(struct ping_state *ps);

/* ---- group commit (commit.c) ----
 * An admission or a ping's agent-row writes (a store_ping_admit() or store_ping_persist() call as a job): queued,
 * then run by one leader thread together with every other job queued meanwhile, in one transaction with a
 * savepoint per job (store_ping_group()), under the write lock. Returns once the job's transaction committed (or
 * failed): the job's result, as its own call would have returned it. */
#define PING_GROUP_MAX 256
int ping_write_job(struct ping_state *ps, struct store_ping_job *job);
/* A run that may queue jobs starts (+1) or knows it will queue no more (-1): a leader waits at most this long for
 * such runs before it commits without them. */
#define PING_GROUP_WAIT_US 1000
void ping_write_expect(struct ping_state *ps, int delta);

/* The early-refusal memory (see struct full_stage). */
bool ping_stage_known_full(struct ping_state *ps, const char *env_id);
void ping_stage_mark_full(struct ping_state *ps, const char *env_id);
void ping_stage_forget_full(struct ping_state *ps, const char *env_id);

/* ---- held pings (hold.c, §5.11) ---- */

/* What a run tells its caller besides the answer. */
struct ping_run_out {
	char (*relevant)[ENGINE_ID_SIZE]; /* the relevant env ids (owned by the caller) */
	size_t n_relevant;
	bool idle;    /* the answer is NOOP with no candidate and nothing written or deleted (§5.10) */
	bool refused; /* the answer is NOOP though the host has an install to do: it was refused a slot (§5.7) */
};

struct waiter {
	struct waiter *prev, *next;
	struct waiter *pprev, *pnext; /* in the queue of woken waiters waiting for their turn (pending) */
	struct req *req;
	struct ping_request *request; /* owned */
	char host_id[ENGINE_ID_SIZE];
	char (*envs)[ENGINE_ID_SIZE]; /* relevant env ids */
	size_t n_envs;
	int64_t deadline_mono_ms;
	uint64_t seq;
	bool waiting; /* suspended and wakeable; false while its handler runs */
	bool cancel;  /* answer NOOP without re-running */
	bool woken;
	bool pending; /* woken, suspended, queued for its turn (ps->p_head) */
	bool running; /* woken and resumed for its re-run: counted in ps->n_running until answered or held again */
	bool refused; /* its last run was refused an install: a released slot may wake it (ps->s_head) */
	struct waiter *sprev, *snext; /* among the refused ones, while refused */
	int64_t run_mono_ms;
};

/* Answer NOOP at once the waiter held for host_id, if any (§5.1 step 1). */
void ping_waiter_cancel_host(struct ping_state *ps, const char *host_id);
/* Register w (suspends the request first); refused: its run was refused an install. Returns -EBUSY when
 * max_held_pings waiters exist, -ESHUTDOWN when the server is stopping (w untouched). */
int ping_waiter_hold(struct ping_state *ps, struct waiter *w, bool refused);
/* Re-suspend a waiter whose re-run answered NOOP before its deadline. */
void ping_waiter_rehold(struct ping_state *ps, struct waiter *w);
/* Take the waiter's flags (clearing woken) when its handler runs again after a resume; *ret_stopping: the cancel is
 * the server's shutdown. */
void ping_waiter_flags(struct ping_state *ps, struct waiter *w, bool *ret_cancel, bool *ret_woken, bool *ret_stopping);
/* Unregister (on answer) and free w. */
void ping_waiter_done(struct ping_state *ps, struct waiter *w);
/* What its last run found: the relevant env ids (taken from out) and whether it was refused an install. */
void ping_waiter_set_run(struct ping_state *ps, struct waiter *w, struct ping_run_out *out);
/* The thread's rounds: read new wake events and wake the waiters they concern (at most wake_batch re-run at once,
 * the others in the order they were woken as those finish); resume expired waiters. */
void ping_poll_events(struct ping_state *ps);
void ping_expire_waiters(struct ping_state *ps);
/* Shutdown: every waiter is resumed (its ping_resume() returns -ESHUTDOWN) and no new one is held. */
void ping_waiters_stop(struct ping_state *ps);

/* ---- the run pool (pool.c) ----
 * With ping_run_threads > 0, the runs that may write and wait for a group commit happen on one of those threads
 * while their connections wait suspended: a ping that moves a deploy on (ping_moves_a_deploy(): a report of a step
 * under way, a host with a goal or a slot) and a woken held ping's re-run (queued straight from its wake, its
 * connection still suspended). The HTTP threads do not wait for those commits, so the runs under way (and the
 * groups they commit in) are not bounded by the few HTTP threads. Other pings (idle and long-poll pings, which
 * mostly read) run on their HTTP thread as before: a trip through the pool costs a suspend and a resume, and
 * libmicrohttpd walks every suspended connection of its thread (the held pings) on each round that resumes one.
 * The resumed handler answers or holds the ping (serve.c). */
#define PING_TASK_KIND 0x70696e67 /* req->handler_kind of a request whose handler_data is a struct ping_task */
/* What became of a woken held ping's turn on the pool (the checks ping_resume() makes before a re-run) */
enum ping_woken_outcome {
	PING_WOKEN_NOT_RUN, /* the pool stopped first */
	PING_WOKEN_RAN,     /* re-run: the task's result and answer */
	PING_WOKEN_STOP,    /* the server is stopping */
	PING_WOKEN_NOOP,    /* answer NOOP now (cancelled, or past its deadline), refreshing lastSeen */
	PING_WOKEN_STALE,   /* answer NOOP: a newer ping of the host acts for it */
	PING_WOKEN_REHOLD,  /* not woken after all: hold it again */
};
struct ping_task {
	struct ping_task *next;
	struct req *req;
	struct ping_request *request; /* a new ping's (owned), or the woken waiter's */
	struct waiter *w;             /* a woken held ping's re-run; NULL: a new ping */
	int64_t wait_s;
	enum ping_woken_outcome outcome;
	/* the run's results (ping_task_run()) */
	int result;
	int64_t now, idle_seq;
	uint64_t seq, idle_gen;
	struct ping_response resp;
	struct ping_run_out out;
};
/* Does the pool take runs (on, and not stopping)? A hint without its lock: ping_pool_submit() decides. */
static inline bool ping_pool_on(struct ping_state *ps)
{
	return __atomic_load_n(&ps->pool_on, __ATOMIC_ACQUIRE);
}
/* Start the pool's threads (n > 0). */
int ping_pool_start(struct ping_state *ps, size_t n);
/* Queue t's run: t->req is suspended (unless it is already: suspend false) and resumed once the run is done (or,
 * when the pool stops first, with t->result = -ESHUTDOWN). -ESHUTDOWN: the pool takes no runs (off, or stopping):
 * nothing was suspended or queued. */
int ping_pool_submit(struct ping_state *ps, struct ping_task *t, bool suspend);
/* A woken waiter's turn (hold.c, its request suspended): queue its re-run on the pool. < 0: not queued (the caller
 * resumes the request, and the handler re-runs it). */
int ping_woken_queue(struct ping_state *ps, struct waiter *w);
/* Stop taking runs; queued ones are resumed with -ESHUTDOWN, running ones finish; the threads are joined. */
void ping_pool_stop(struct ping_state *ps);
/* The run itself, on a pool thread (serve.c). */
void ping_task_run(struct ping_state *ps, struct ping_task *t);

/* ---- one run of §5.1 steps 3-8 (run.c) and the answer (answer.c) ---- */

/* verbose: the membership was checked by this ping (its stage conflicts are logged). */
int ping_run(struct ping_state *ps, const struct ping_request *pr, int64_t now, bool verbose,
	     struct ping_response *resp, struct ping_run_out *ret);
/* §5.8: the answer for the chosen install candidate, or the DELETE for an uninstall candidate. */
int ping_answer_install(struct ping_state *ps, const struct engine_candidate *c, struct ping_response *resp);
int ping_answer_delete(struct ping_state *ps, const struct engine_candidate *c, struct ping_response *resp);

#endif
