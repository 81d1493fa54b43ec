/* SPDX-License-Identifier: Apache-2.0 */
/* store/store_ping.h: the storage calls of the ping hot path (PROTOCOL §5.1-§5.11), typed (no JSON) so that an
 * idle ping costs two indexed reads and no write. Kept apart from store.h (the ping path is owned separately).
 *
 * The ping store is its own handle on the same database as struct store (opened after store_open() created or
 * migrated the schema) with its own pool of connections (db.h; SQLite: WAL, busy timeout 5 s). Every agent-row write is
 * conditional on the row's version column (§5.1 step 8). Admission runs in one write transaction that serialises
 * it per stage across replicas (§5.7 exactness): BEGIN IMMEDIATE on SQLite, pg_advisory_xact_lock of
 * "DEPLOY-<envId>" on PostgreSQL (5 s lock_timeout → -EAGAIN).
 *
 * Conventions: 0 / negative errno (-ENOENT no row, -EAGAIN busy, -EIO other database errors, -ENOMEM). Outputs are
 * the caller's and untouched on failure. Nothing here logs. */
#ifndef SLIPWAY_STORE_PING_H
#define SLIPWAY_STORE_PING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "engine.h"
#include "wire.h"

struct store_ping;

/* dsn: as store_open(). -EPROTONOSUPPORT for a DSN no compiled-in backend takes. */
int store_ping_open(const char *dsn, struct store_ping **ret);
void store_ping_free(struct store_ping *p);
/* At most n database connections for the ping path (db_set_pool_size). */
void store_ping_set_pool_size(struct store_ping *p, int n);

/* ---- heartbeat record (§3.5) ---- */
#define HB_FIELD_SIZE 257
struct heartbeat {
	char host_id[ENGINE_ID_SIZE];
	char host_name[ENGINE_NAME_SIZE];
	char ip[HB_FIELD_SIZE];
	char agent_version[HB_FIELD_SIZE];
	char autoscaling_group[HB_FIELD_SIZE];
	char availability_zone[HB_FIELD_SIZE];
	int64_t create_date;
	int64_t last_seen;
};
int store_ping_heartbeat_get(struct store_ping *p, const char *host_id, struct heartbeat *ret);
struct heartbeat_seen {
	char host_id[ENGINE_ID_SIZE];
	int64_t last_seen;
};
/* UPDATE ... lastSeen = max(lastSeen, ?) per host: one transaction on SQLite; on PostgreSQL one statement per
 * chunk of 2,000 hosts that locks their rows in hostId order first (replicas flushing overlapping hosts never
 * deadlock). lastSeen never moves backwards. */
int store_ping_heartbeat_flush(struct store_ping *p, const struct heartbeat_seen *v, size_t n);

/* ---- host tags (issue 17) ---- */
struct host_tag {
	const char *name;
	const char *value;
};
/* Whether the host's stored tags (or the host name stored with them) differ from tags (sorted by name, names
 * unique): a read only, so that a caller takes the write lock only when something is to be written. */
int store_ping_tags_differ(struct store_ping *p, const char *host_id, const char *host_name,
			   const struct host_tag *tags, size_t n_tags, bool *ret_differ);

/* ---- a host's own rows: heartbeat record, tags, group membership (§5.1 steps 2-3) ---- */
/* What a ping says of its host, for store_ping_host_write(). hb: the record to insert, or whose attributes and
 * lastSeen to update (never moving lastSeen backwards); NULL: not written. tags: the tags to sync (sorted by name,
 * names unique); NULL: not touched. groups: the memberships to sync (the caller's NULL placeholder when the host
 * reports none); NULL: not touched (and for store_ping_membership_differs, n_groups = 0). */
struct host_rows {
	const char *host_id;
	const char *host_name;
	const struct heartbeat *hb;
	const struct host_tag *tags;
	size_t n_tags;
	const char *ip;
	const char *account_id;
	char *const *groups;
	size_t n_groups;
	int64_t now;
};
#define HOST_ROWS_HB 1
#define HOST_ROWS_TAGS 2
#define HOST_ROWS_GROUPS 4
/* Write what h names in one transaction: the membership (its Host rows made equal to groups: rows in
 * PENDING_TERMINATE*, TERMINATING never touched) and the tags re-read inside it and written only where they
 * differ, the heartbeat record as given. Returns the HOST_ROWS_* bits of what it wrote (0: nothing differed), or a
 * negative errno (nothing written). */
int store_ping_host_write(struct store_ping *p, const struct host_rows *h);
/* Whether store_ping_host_write() would change the host's Host rows for h->groups: a read only. */
int store_ping_membership_differs(struct store_ping *p, const struct host_rows *h, bool *ret_differ);

/* ---- env resolution and rows (§5.2, §5.1 steps 4-5) ---- */
/* Every stage (struct resolved_env: engine.h) whose host capacity has host_name (tier 1) or whose group capacity
 * has one of groups (tier 2); a stage may appear in both tiers. *ret is malloc'd (free()). */
int store_ping_capacity_envs(struct store_ping *p, const char *host_name, char *const *groups, size_t n_groups,
			     struct resolved_env **ret, size_t *ret_n);
/* The existing stages among ids (unknown ids are skipped). */
int store_ping_envs_by_ids(struct store_ping *p, const char *const *ids, size_t n, struct env_view **ret,
			   size_t *ret_n);
int store_ping_env_by_id(struct store_ping *p, const char *id, struct env_view *ret);
int store_ping_agent_rows(struct store_ping *p, const char *host_id, struct agent_row **ret, size_t *ret_n);
/* store_ping_agent_rows() and store_ping_capacity_envs() together, in one read transaction (on PostgreSQL one
 * round trip: a pipeline). On success both outputs are malloc'd (free()); on failure neither is set. */
int store_ping_host_load(struct store_ping *p, const char *host_id, const char *host_name, char *const *groups,
			 size_t n_groups, struct agent_row **ret_rows, size_t *ret_n_rows, struct resolved_env **ret_envs,
			 size_t *ret_n_envs);

/* ---- persisting a decision (§5.1 step 8) ---- */
struct ping_write {
	const struct engine_write *w;
	const char *error_message; /* non-NULL, non-empty: upsert AgentError */
	bool clear_error;          /* delete the AgentError (the host succeeded; engine_row_clears_error) */
	bool old_holds_slot;       /* the stored row occupied a slot (§5.7; a SLOT event when it no longer does) */
	bool applied;              /* out: the conditional write took effect */
};
struct ping_delete {
	const struct engine_delete *d;
	bool old_holds_slot;
	bool applied;
};
/* One transaction: deletes (with their AgentError rows), then conditional writes and AgentError upserts, then
 * SLOT events for released slots and deleted rows. A write whose condition fails is skipped (applied false).
 * Inserts only happen for existing envs. Returns the number of applied writes and deletes. */
int store_ping_persist(struct store_ping *p, const char *host_id, struct ping_write *writes, size_t n_writes,
		       struct ping_delete *deletes, size_t n_deletes);

/* ---- admission (§5.7) ---- */
/* In one BEGIN IMMEDIATE transaction: read the stage's admission facts (its current deploy, width, schedule and row
 * counts), let engine_admission_decide() judge them, and when it admits write row (the admitted bean)
 * conditionally (insert when insert, else version = expect_version). Returns 1 admitted, 0 refused
 * (including a lost condition), -EAGAIN when the critical section could not be entered in time, other errors.
 * *ret_full (may be NULL) is set true when the refusal was occupied >= threshold. */
int store_ping_admit(struct store_ping *p, const struct agent_row *row, bool insert, int64_t expect_version,
		     int max_parallel_threshold, bool *ret_full);

/* ---- group commit: the writes of many pings in one transaction ----
 * A job is one store_ping_admit() or store_ping_persist() call: its inputs as for those, result and the outputs
 * (full, the applied flags) set by store_ping_group(). */
enum store_ping_job_kind {
	STORE_PING_JOB_ADMIT,
	STORE_PING_JOB_PERSIST,
};
struct store_ping_job {
	enum store_ping_job_kind kind;
	/* admit */
	const struct agent_row *row;
	bool insert;
	int64_t expect_version;
	int max_parallel_threshold;
	bool full; /* out */
	/* persist */
	const char *host_id;
	struct ping_write *writes;
	size_t n_writes;
	struct ping_delete *deletes;
	size_t n_deletes;
	int result; /* out: what the job's own call would have returned */
};
/* Run the n jobs (*jobs[0..n-1]) in order in ONE write transaction, each inside a savepoint, so that a job's error (or a refused
 * admission) rolls back only that job. An admission reads its stage's slot counts inside the transaction, after
 * every job before it, so a group never exceeds a width. On PostgreSQL the transaction first takes the stage
 * lock of every admission among the jobs (store_stage_lock_key(), in key order) and holds them to the commit.
 * Returns 0 when the transaction committed (each job's outcome in its result), or a negative errno: nothing of any
 * job was written (every applied flag false) and no result is valid; the caller may run the jobs one by one. */
int store_ping_group(struct store_ping *p, struct store_ping_job *const *jobs, size_t n);

/* ---- answer attachments (§5.8) ----
 * What an install goal's answer attaches: the stage's agent configs always, and what `needs` asks for (the Build of
 * deploy_id, the stage's signingKey, its script configs), read together: with more than one read, as one read
 * transaction (db_batch_run(): on PostgreSQL one pipeline, one round trip). A configuration document or key not
 * stored is NULL; a Build asked for that does not exist fails with -ENOENT. On failure *ret is untouched; on
 * success release it with store_ping_attachments_release(). */
struct store_ping_attachments {
	json_t *agent_config;  /* a JSON object, or NULL */
	json_t *script_config; /* a JSON object, or NULL */
	char *signing_key;
	struct build build; /* when needs->build */
};
int store_ping_attachments_read(struct store_ping *p, const char *env_id, const char *deploy_id,
				const struct engine_goal_needs *needs, struct store_ping_attachments *ret);
void store_ping_attachments_release(struct store_ping_attachments *a);

/* Wake events (§5.11) are store.h's (store_event_*). */

#endif
