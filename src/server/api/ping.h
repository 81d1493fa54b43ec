/* SPDX-License-Identifier: Apache-2.0 */
/* api/ping.h: the ping path's process state shared by api/ping.c (the endpoint and pipeline) and
 * api/ping_state.c (the in-memory heartbeat cache, the long-poll waiters and the thread that polls wake events
 * and flushes heartbeats). Created lazily by the first ping (ping_state_get()); it installs the server hooks
 * flush_heartbeats, ping_shutdown and pending_last_seen. */
#ifndef SLIPWAY_SERVER_API_PING_H
#define SLIPWAY_SERVER_API_PING_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "engine.h"
#include "http/http.h"
#include "store_ping.h"
#include "wire.h"

struct hb_entry;
struct waiter;

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
/* wake-event sequence per env, by hash slot (a collision only invalidates more than needed) */
#define PING_ENV_SEQ_SLOTS 4096
/* the longest an idle answer is repeated from memory: a long-poll hold's limit (§5.11) */
#define PING_IDLE_MAX_MS (60 * 1000)
/* the idle index (ping_idle_repeat_body()): direct-mapped by body hash; a collision only costs a parse */
#define PING_IDLE_SLOTS (1u << 18)
struct idle_slot {
	uint64_t body_hash;
	uint64_t host_hash;
	struct hb_entry *e;
};
struct ping_state {
	struct server *srv;
	struct store_ping *store;
	/* heartbeat cache: chained hash table, one mutex per stripe of buckets */
	struct hb_entry **buckets;
	size_t n_buckets;
	pthread_mutex_t stripes[PING_HB_STRIPES];
	/* long-poll waiters, oldest first; hb_entry->waiter points at a host's waiter (under wlock) */
	pthread_mutex_t wlock;
	struct waiter *w_head, *w_tail;
	size_t n_waiters;
	bool stopping;
	pthread_mutex_t full_lock;
	struct full_stage full[PING_FULL_SLOTS];
	/* this process's ping-path write transactions, one at a time (see ping_write_lock()) */
	pthread_mutex_t write_lock;
	bool single_writer; /* SQLite: the mutex is used */
	/* the event / flush thread */
	pthread_t thread;
	bool thread_started;
	pthread_mutex_t tlock;
	pthread_cond_t tcond;
	bool thread_stop;
	int64_t event_seq; /* the last wake event handled (atomic: read by request threads) */
	/* §5.10 idle repeats (ping_idle_repeat()): the sequence of the last event that may change answers of hosts
	 * relevant to an env (ENV, SLOT, CAPACITY), by slot; of the last event that may change any host's answer
	 * (CAPACITY: it may map hosts newly) */
	int64_t env_seq[PING_ENV_SEQ_SLOTS];
	int64_t all_seq;
	bool idle_repeats; /* enabled (SQLite: one server process per database) */
	struct idle_slot *idle_index;
	pthread_mutex_t idle_locks[PING_HB_STRIPES];
	int64_t last_flush_mono_ms;
	int64_t last_purge_mono_ms;
};

/* The process's ping state, created on first use (NULL on failure, logged once). */
struct ping_state *ping_state_get(struct server *srv);

/* §5.1 step 2: record the heartbeat; synchronous insert/update only when the record is new or an attribute
 * changed, else lastSeen in memory. *ret_seq = this ping's per-host sequence number. */
int ping_heartbeat_record(struct ping_state *ps, const struct ping_request *pr, int64_t now, uint64_t *ret_seq);
/* Only refresh lastSeen in memory (a held ping at answer time). */
void ping_heartbeat_touch(struct ping_state *ps, const char *host_id, int64_t now);
/* true iff host_id's newest ping is seq. */
bool ping_heartbeat_is_newest(struct ping_state *ps, const char *host_id, uint64_t seq);
/* true when the host's membership was synced with exactly this key recently (cache); record it. */
bool ping_membership_cached(struct ping_state *ps, const char *host_id, uint64_t key);
void ping_membership_remember(struct ping_state *ps, const char *host_id, uint64_t key);

/* §5.10 idle repeats. An idle ping whose full run answered NOOP without any candidate or write is remembered
 * (request body, relevant envs, the wake-event sequence read before the run). The same host sending the same
 * body again is answered NOOP from memory while no wake event that would wake a held ping of it (§5.11: ENV,
 * SLOT or CAPACITY of a relevant env, CAPACITY naming anything, HOST of the host) has arrived since, for at most
 * PING_IDLE_MAX_MS, and never after a silence the janitor could act on: exactly the answer a long-poll waiter
 * registered after that run would still be holding. An API request of this process that may have written ends
 * every idle memory at once (http_write_generation(), read with ping_idle_seq() before the run), so a client
 * never sees an idle repeat older than its own change. ping_idle_seq() is read before the run; ping_seq is the ping's
 * own sequence (ping_heartbeat_record()): the memory is kept only while no other ping of the host ran in full. */
int64_t ping_idle_seq(struct ping_state *ps);
void ping_idle_remember(struct ping_state *ps, const char *host_id, uint64_t ping_seq, const char *body, size_t len,
			int64_t seq, uint64_t write_gen, const char (*envs)[ENGINE_ID_SIZE], size_t n_envs);
/* true (and the heartbeat recorded, *ret_seq = the ping's sequence) when allow is set and body repeats host_id's
 * remembered idle ping and nothing relevant happened since; false: run the ping in full (the memory is forgotten
 * unless it is still valid, so a ping that may write never leaves a stale one behind). Only with a SQLite
 * database: replicas sharing a database (PostgreSQL) may each see only some pings of a host, and another
 * replica's ping may write the host's rows without a wake event. */
bool ping_idle_repeat(struct ping_state *ps, const char *host_id, const char *body, size_t len, bool allow,
		      int64_t now, uint64_t *ret_seq);
/* The same before parsing: finds the host by the body (a repeat is byte-identical to a body that was valid).
 * true: heartbeat recorded, ret_host_id is the host (its held ping, if any, is the caller's to cancel). */
bool ping_idle_repeat_body(struct ping_state *ps, const char *body, size_t len, int64_t now,
			   char ret_host_id[ENGINE_ID_SIZE]);

/* SQLite admits one writer at a time; a connection that finds the write lock taken backs off in SQLite's busy
 * handler, which sleeps 1, 2, 5 ... up to 100 ms per retry, so N pings writing at once wait for each other's
 * sleeps, not for each other's transactions (hundreds of ms per ping during a rollout). The ping path therefore
 * queues its write transactions (admission, persistence, heartbeat and membership writes, the heartbeat flush)
 * on this mutex; SQLite's lock still arbitrates against other connections and processes. Only with SQLite
 * (PostgreSQL admits concurrent writers; admission locks per stage there). */
void ping_write_lock(struct ping_state *ps);
void ping_write_unlock(struct ping_state *ps);

/* The early-refusal memory (see struct full_stage). */
bool ping_stage_known_full(struct ping_state *ps, const char *env_id);
void ping_stage_mark_full(struct ping_state *ps, const char *env_id);
void ping_stage_forget_full(struct ping_state *ps, const char *env_id);

/* A held ping (§5.11). */
struct waiter {
	struct waiter *prev, *next;
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
};

/* Answer NOOP at once the waiter held for host_id, if any (§5.1 step 1). */
void ping_waiter_cancel_host(struct ping_state *ps, const char *host_id);
/* Register w (suspends the request first). Returns -EBUSY when max_held_pings waiters exist (w untouched). */
int ping_waiter_hold(struct ping_state *ps, struct waiter *w);
/* Re-suspend a waiter whose re-run answered NOOP before its deadline. */
void ping_waiter_rehold(struct ping_state *ps, struct waiter *w);
/* Take the waiter's flags (clearing woken) when its handler runs again after a resume. */
void ping_waiter_flags(struct ping_state *ps, struct waiter *w, bool *ret_cancel, bool *ret_woken);
/* Unregister (on answer) and free w. */
void ping_waiter_done(struct ping_state *ps, struct waiter *w);
/* Replace the waiter's relevant env ids (takes envs). */
void ping_waiter_set_envs(struct waiter *w, char (*envs)[ENGINE_ID_SIZE], size_t n);

#endif
