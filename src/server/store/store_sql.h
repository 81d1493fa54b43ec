/* SPDX-License-Identifier: Apache-2.0 */
/* store/store_sql.h: what the store_<resource>.c files share (private to src/server/store).
 *
 * store.h is implemented once, on the SQL driver layer (db.h), for SQLite and PostgreSQL alike: the backend
 * split is the db_driver (db_sqlite.c, db_pg.c), not the store. One file per resource, mirroring src/server/api/.
 *
 * SQL is static text with placeholders only; where the dialects differ a statement is a pair of texts (struct
 * dsql, chosen by the connection's dialect with SQL()). Multi-row changes run in write transactions (db_begin):
 * on SQLite BEGIN IMMEDIATE takes the database write lock, which is what "lock the stage row" means there (one
 * server process per file, PROTOCOL §10); on PostgreSQL the same transactions take one transaction-scoped
 * advisory lock (DB_LOCK_GLOBAL), so every replica sees the same serial order of multi-row changes (§5.7, §8).
 * Nothing here logs. */
#ifndef SLIPWAY_STORE_SQL_H
#define SLIPWAY_STORE_SQL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "db.h"
#include "engine.h"
#include "store.h"

/* The store handle: the driver layer's database (a pool of connections) and its dialect. */
struct store {
	struct db *db;
	enum db_dialect dialect;
	/* PostgreSQL (atomic, monotonic ms): every token write committed before it has been notified to this process
	 * (store_token_cache_fresh()); the token cache is used only while it is recent (store_tokens.c) */
	int64_t token_fresh_ms;
};

/* a statement whose text differs between the dialects */
struct dsql {
	const char *sqlite, *pg;
};
#define SQL(c, d) (db_dialect(c) == DB_PG ? (d).pg : (d).sqlite)
/* the elements of a JSON array parameter as a table with one text column `value` */
#define JE_SQ(p) "json_each(" p ")"
#define JE_PG(p) "json_array_elements_text(" p "::json)"
/* a statement written once as a macro of JE: one text per dialect */
#define DSQL_JE(M) { M(JE_SQ), M(JE_PG) }

/* Row locks in one global order, so that writers that take no advisory lock (a ping's writes) and the multi-row
 * writes under DB_LOCK_GLOBAL wait for each other instead of deadlocking on PostgreSQL: tables in the order agents,
 * agent_errors, hosts, heartbeats; within a table by key (agents by hostId then envId, hosts by hostId then
 * groupName, heartbeats by hostId). A multi-row write first selects the rows it is about to change in that order,
 * FOR UPDATE on PostgreSQL (SQLite's write transaction excludes every other writer: the same SELECT without it).
 * ORDER_* is the order, DSQL_LOCKING(text, ORDER_*, table) the statement. */
#define ORDER_AGENTS " ORDER BY hostId, envId"
#define ORDER_HOSTS " ORDER BY hostId, groupName"
#define ORDER_HEARTBEATS " ORDER BY hostId"
#define DSQL_LOCKING(text, order, table) { text order, text order " FOR UPDATE OF " table }
#define DSQL_JE_LOCKING(M, order, table) { M(JE_SQ) order, M(JE_PG) order " FOR UPDATE OF " table }

/* The calling thread's connection from the pool, given back when the calling function returns (or kept by its
 * thread while a transaction is open); or return -EIO from the calling function. */
#define CONN_OR_FAIL(c, s)                                                                                             \
	struct db_conn *c __attribute__((cleanup(db_conn_put))) = db_conn((s)->db);                                    \
	if (!c)                                                                                                        \
		return -EIO
/* The same, inside a write transaction (db_begin(c, DB_LOCK_GLOBAL)) that the function ends with db_end(). */
#define TX_OR_FAIL(c, s)                                                                                               \
	CONN_OR_FAIL(c, s);                                                                                            \
	do {                                                                                                           \
		int tx_r_ = db_begin(c, DB_LOCK_GLOBAL);                                                               \
		if (tx_r_ < 0)                                                                                         \
			return tx_r_;                                                                                  \
	} while (0)

/* ---- the counts admission reads (store_counts.c) ---- */

/* The advisory lock of a stage's admission (§5.7: one critical section per stage across replicas). */
int64_t store_stage_lock_key(const char *env_id);
/* Fold at most max_rows (0: all) of the stage's committed count deltas into its counts, inside the caller's
 * transaction holding the stage's lock (PostgreSQL; nothing on SQLite): the rows folded, or a negative errno. */
int store_tx_counts_fold(struct db_conn *c, const char *env_id, int64_t max_rows);
/* The janitor folds a stage's deltas in transactions of at most this many rows (the stage lock is held that long). */
#define STORE_FOLD_CHUNK 10000
/* A stage's (?1) agent rows counted by deployId ('' for none), deployStage, state, status, removed and firstDeploy
 * (schema: agent_counts), as the table `x` with those columns and n: the counts kept by the triggers on agents plus,
 * on PostgreSQL, the committed deltas not folded yet (empty on SQLite), read in one statement (one snapshot). Group
 * by what is wanted and SUM(x.n); a group whose sum is 0 has no row. */
#define STAGE_AGENT_COUNTS                                                                                             \
	"(SELECT deployId, deployStage, state, status, removed, firstDeploy, n FROM agent_counts WHERE envId = ?1 "   \
	"UNION ALL SELECT deployId, deployStage, state, status, removed, firstDeploy, n FROM agent_count_deltas "     \
	"WHERE envId = ?1) x"

/* ---- writes shared by several resources, inside the caller's transaction (0 or a negative errno) ---- */

/* A wake event (§5.11) stamped now (store_events.c). */
int store_tx_event(struct db_conn *c, const char *kind, const char *env_id, const char *host_id, const char *name);
/* A ping wrote host_id's rows (heartbeat, membership, tags, agent rows): on PostgreSQL a NOTIFY of kind HOST without
 * an event row, so other replicas forget what they remember of the host (store_events.c); nothing on SQLite. */
int store_tx_host_written(struct db_conn *c, const char *host_id);
/* A read on the caller's connection (store_hosts.c): the numbers of progress's missingHosts (HOST capacity names that never pinged) and provisioningHosts (live hosts
 * of the stage's capacity without an agent row in it: a walk of the capacity's hosts; not counted when ret_provisioning is NULL). */
int store_tx_progress_counts(struct db_conn *c, const char *env_id, int64_t *ret_missing, int64_t *ret_provisioning);
/* A config history entry (keys of the wire object); NULL h writes nothing (store.c). */
int store_tx_history(struct db_conn *c, const json_t *h);
/* A history entry of env_id with a fresh changeId, stamped now (store.c). */
int store_tx_history_simple(struct db_conn *c, const char *env_id, const char *operator_name, const char *type,
			    const char *change);
/* Events and history for agent rows about to change (rows {hostId, envId, holdsSlot}): HOST per host, SLOT per
 * row that holds a slot (when frees_slot), `Host Action` history per env (store_agents.c). */
int store_tx_agent_effects(struct db_conn *c, const json_t *affected, bool frees_slot, const char *action,
			   const char *operator_name);
/* May the envs holding group take host into their capacity (store_host_register)? -EACCES with *refused
 * filled when not (store_capacity.c). */
int store_tx_host_joins_group(struct db_conn *c, const json_t *host, const json_t *group, enum store_claim claim,
			      struct store_claim_refusal *refused);
/* What admission reads of a constrained stage (store_constraints.c): the constraint, the candidate host's value of
 * its tag, the stage's rows counted by that value (struct constraint_group, engine.h) and the stage's totals
 * (the sums over the groups, so a constrained stage is counted in one pass too). */
struct constraint_read {
	struct constraint_view view;
	char *key;
	char **order;       /* view.order */
	char *host_value;   /* NULL: the host does not have the tag */
	struct constraint_group *groups;
	size_t n_groups;
	int64_t occupied, existing, on_deploy, total;
};
void store_constraint_read_release(struct constraint_read *cr);
/* Inside the admission transaction: 0 the stage has no constraint (*ret untouched), 1 read, or an error. */
int store_tx_constraint_read(struct db_conn *c, const char *env_id, const char *host_id, const char *deploy_id,
			     struct constraint_read *ret);
struct host_tag;
/* Inside the caller's write transaction (store_ping_host_write()): make the host's stored tags equal tags, re-reading
 * them first; 1 when it wrote, 0 when nothing differed (store_constraints.c). */
int store_tx_tags_sync(struct db_conn *c, const char *host_id, const char *host_name, const struct host_tag *tags,
		       size_t n_tags, int64_t now);
/* Whether the host's stored tags (or the host name stored with them) differ from tags: a read, no write. */
int store_tx_tags_differ(struct db_conn *c, const char *host_id, const char *host_name, const struct host_tag *tags,
			 size_t n_tags, bool *ret_differ);
/* Inside store_deploy_create's transaction (store_deploy_record.c): the stage's config snapshot of the new deploy,
 * and the agent rows on the deploy it replaces (replaced_id, may be NULL) as that deploy's host results. */
int store_tx_deploy_record(struct db_conn *c, const char *env_id, const char *deploy_id, const char *replaced_id,
			   int64_t now);
/* Inside the retention transaction: snapshots and host results of deleted deploys, and host results beyond the
 * STORE_DEPLOY_RESULTS_MAX_DEPLOYS newest deploys of each stage. */
int store_tx_deploy_record_prune(struct db_conn *c);
/* A write to the tokens table: on PostgreSQL a NOTIFY of kind STORE_NOTIFY_TOKENS, so that every replica empties
 * its token cache when the transaction commits (store_events.c); nothing on SQLite. */
int store_tx_tokens_written(struct db_conn *c);

#endif
