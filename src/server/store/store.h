/* SPDX-License-Identifier: Apache-2.0 */
/* store/store.h: the one storage interface of the server (DESIGN §4.3, STYLE §8).
 *
 * Implemented once on the SQL driver layer (db.h: SQLite and PostgreSQL drivers), one file per resource
 * (store_<resource>.c, mirroring api/). Entities go in and out as jansson objects whose keys are
 * the wire field names of PROTOCOL §3 (a row maps to a JSON object one to one), so api/ passes them
 * through without re-spelling fields.
 *
 * Conventions for every function: returns 0 (or a documented positive value) on success, or a
 * negative errno: -ENOENT no such row, -EEXIST unique violation, -EBUSY the row is still referenced
 * (delete refused), -EAGAIN database busy / serialization failure, -EIO anything else. ret_ outputs
 * are the caller's (json_decref) and are untouched on failure. No function logs above debug; the
 * text of the last database error of the calling thread is store_errmsg(s).
 *
 * Concurrency: a store is shared by all threads. Both drivers
 * take connections from a pool (db_pool_size: a call holds one while it runs, a transaction to its end; opened on
 * first use, closed at store_free).
 * SQLite: WAL mode, 5 s busy timeout, multi-row changes in BEGIN IMMEDIATE transactions, so writers
 * serialise in the database, never in process memory. PostgreSQL (several replicas on one database):
 * the same transactions take one transaction-scoped advisory lock, deploy creation and admission also
 * the per-stage lock "DEPLOY-<envId>" (§5.7), worker_claim reads and records the last run under that
 * lock (once per period across replicas, §8), a lost connection is re-established on next use, and
 * the token lookup is never cached. */
#ifndef SLIPWAY_STORE_H
#define SLIPWAY_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

struct buf;

/* The store handle (opaque): one per process, shared by every thread. */
struct store;

/* kinds of per-stage configuration documents (env_configs) */
enum store_config_kind {
	STORE_CONFIG_SCRIPT,
	STORE_CONFIG_AGENT,
	STORE_CONFIG_METRICS,
	STORE_CONFIG_ALARMS,
	STORE_CONFIG_WEBHOOKS,
	STORE_CONFIG_ANALYSIS, /* the Prometheus analysis of the stage's deploys */
	_STORE_CONFIG_MAX,
};
const char *store_config_kind_name(enum store_config_kind k);

enum store_capacity_op {
	STORE_CAPACITY_REPLACE,
	STORE_CAPACITY_ADD,
	STORE_CAPACITY_REMOVE,
};

/* What a capacity change may take in (store_capacity_change). */
enum store_claim {
	STORE_CLAIM_OWN,  /* names the env already holds */
	STORE_CLAIM_FREE, /* and names no env holds */
	STORE_CLAIM_ANY,  /* and names other envs hold */
};
struct store_claim_refusal {
	char name[136]; /* the host or group refused */
	char env[72];   /* the env holding it, "" when none does */
};

/* Build query of GET /v1/builds (§4.2). NULL / -1 = unset. limit <= 0 means "no paging" (at most
 * 5000, the before/after range form). */
struct build_query {
	const char *commit, *name, *branch;
	int64_t before, after;
	int64_t offset, limit;
};

/* Deploy creation request (§7.1). Strings are borrowed. */
struct deploy_create {
	const char *env_id;
	const char *build_id;
	int type;                 /* DEPLOY_TYPE_* */
	const char *alias;        /* ROLLBACK: id of the deploy returned to */
	const char *from_deploy_id;
	const char *operator_name;
	const char *description;
	int delivery_type;        /* ENV_TYPE_* to store as stageType, or -1 */
	bool reset_schedule;      /* REGULAR and RESTART: schedule := RUNNING session 1 */
	const char *history_change; /* configChange JSON text of the Env Action history entry */
	int64_t now;
};

/* Counts of §7.3 for one deploy of one stage. */
struct deploy_counts {
	int64_t total, succeeded, failed;
	int64_t schedule_progress; /* rows with deployId = D and (SERVING_BUILD or paused) */
	int64_t rows_on_deploy;    /* rows with deployId = D */
};

/* Agent state actions of §4.6 (host actions, agent PUTs). */
enum store_agent_action {
	STORE_AGENT_PAUSE,  /* PAUSED_BY_USER, releases the slot */
	STORE_AGENT_RESET,  /* RESET, clears removed */
	STORE_AGENT_NORMAL, /* NORMAL (RESET on a removed or STOP row) */
};

/* One page of a host list in host name order: at most `limit` rows whose hostName sorts after `after` (NULL: from
 * the first); `failing` keeps only the rows of failing hosts (status neither SUCCEEDED nor UNKNOWN, or state
 * UNREACHABLE or PAUSED_BY_SYSTEM; the stage's agent list only). A NULL page (or limit 0): the whole list. */
struct store_page {
	const char *after;
	int64_t limit;
	bool failing;
};

/* What agents/count counts (§4.6). */
enum store_agent_count {
	STORE_COUNT_SERVING,
	STORE_COUNT_SERVING_AND_NORMAL,
	STORE_COUNT_FIRST_DEPLOY,
	STORE_COUNT_FAILED_FIRST_DEPLOY,
};

/* Open the backend named by the DSN (`sqlite:PATH`; with WITH_POSTGRES a libpq URI `postgresql://`,
 * `postgres://` or a keyword/value string such as `host=... dbname=...`),
 * creating/migrating the schema. Returns -EPROTONOSUPPORT for an unknown scheme. Does not log. */
int store_open(const char *dsn, struct store **ret);
/* Closes every connection. NULL-safe. */
void store_free(struct store *s);
/* At most n database connections (a pool: each call takes one and gives it back when it returns; a caller waits up
 * to 5 s for a free one, then fails -EIO). Default 16. */
void store_set_pool_size(struct store *s, int n);
const char *store_errmsg(struct store *s);
/* A cheap query: 0 if the database answers. */
int store_health(struct store *s);
int store_schema_version(struct store *s, int *ret);

/* Insert the bootstrap token row if (and only if) the token table is empty, in one transaction.
 * Returns 1 inserted, 0 the table already had tokens. token keys: id, name, resource, type, role,
 * expireDate (null = never), tokenHash, createDate. */
int store_token_bootstrap(struct store *s, const json_t *token);
/* The token row (as above, without tokenHash) whose hash matches; -ENOENT. The row may be shared with the
 * store's token cache: read it only (json_decref() it when done). */
int store_token_get_by_hash(struct store *s, const char *hash_hex, json_t **ret);
/* The token cache (store_tokens.c): a lookup's answer is reused for at most a second, never after a write to the
 * tokens table. On SQLite (one process per database) the write empties it at once. On PostgreSQL each token write
 * is NOTIFYed (kind STORE_NOTIFY_TOKENS) in its transaction; the wake listener's owner empties the cache on that
 * notification, and a cached answer is used only while store_token_cache_fresh() was told within
 * STORE_LISTEN_STALE_MS that every notification committed before `since_mono_ms` has been handled (INT64_MIN / 2:
 * none is known to have been, e.g. the listener is down; the initial state). So a token revoked through any replica
 * is refused everywhere within STORE_LISTEN_STALE_MS. */
void store_token_cache_invalidate(void);
void store_token_cache_fresh(struct store *s, int64_t since_mono_ms);

/* ---- security (§4.10): tokens and user/group role bindings ----
 * type is "ENV" or "SYSTEM", resource an env name or "*". Token rows are as for
 * store_token_bootstrap; lists and gets never return tokenHash. */
int store_token_list(struct store *s, const char *type, const char *resource, json_t **ret);
int store_token_get(struct store *s, const char *type, const char *resource, const char *name, json_t **ret);
/* -EEXIST for a duplicate (type, resource, name) (or hash). */
int store_token_insert(struct store *s, const json_t *token);
/* Set role and expireDate (null = never) of the token named by token's type/resource/name; -ENOENT. */
int store_token_update(struct store *s, const json_t *token);
int store_token_delete(struct store *s, const char *type, const char *resource, const char *name);
/* Role bindings (UserRole: name, resource, type, role); kind is "USER" or "GROUP". */
int store_binding_list(struct store *s, const char *kind, const char *type, const char *resource, json_t **ret);
int store_binding_get(struct store *s, const char *kind, const char *type, const char *resource, const char *name,
		      json_t **ret);
/* Every binding of one user or group, at any scope. */
int store_binding_of(struct store *s, const char *kind, const char *name, json_t **ret);
int store_binding_insert(struct store *s, const char *kind, const json_t *binding);
/* Set role of the binding named by binding's type/resource/name; -ENOENT. */
int store_binding_update(struct store *s, const char *kind, const json_t *binding);
int store_binding_delete(struct store *s, const char *kind, const char *type, const char *resource, const char *name);

/* Builds (§3.2, §4.2). build is a complete Build object (id generated by the caller). */
int store_build_insert(struct store *s, const json_t *build);
int store_build_get(struct store *s, const char *id, json_t **ret);
int store_build_list(struct store *s, const struct build_query *q, json_t **ret);
/* Distinct names containing filter (NULL = all), ascending. */
int store_build_names(struct store *s, const char *filter, int64_t offset, int64_t limit, json_t **ret);
int store_build_branches(struct store *s, const char *name, json_t **ret);
/* -EBUSY when a deploy references the build. */
int store_build_delete(struct store *s, const char *id);

/* Env stages (§3.1). env_insert: -EEXIST when the pair exists or collides in letter case (§3.1).
 * history: a ConfigHistory object written in the same transaction (NULL = none). */
int store_env_insert(struct store *s, const json_t *env, const json_t *history);
/* A new stage (env, with its new id) with the configuration of stage from_id, in one transaction: its script,
 * agent, metrics, alarms and webhook configs, its promote config (as MANUAL), deploy schedule (not started) and
 * deploy constraint, and its capacity when `capacity`; never a deploy. -EEXIST when the names are taken. */
int store_env_clone(struct store *s, const json_t *env, const char *from_id, bool capacity, const json_t *history);
int store_env_get(struct store *s, const char *env_name, const char *stage_name, json_t **ret);
int store_env_get_by_id(struct store *s, const char *id, json_t **ret);
/* env_name set: its stages (optionally of stage_type); else group set: stages whose group capacity
 * has it; else all. */
int store_env_list(struct store *s, const char *env_name, const char *stage_type, const char *group, json_t **ret);
int store_env_names(struct store *s, const char *filter, int64_t offset, int64_t limit, json_t **ret);
/* Write every mutable column of env (a full EnvStage, by id); release_parked: the policy became
 * CONTINUE, release the slots of PAUSED_BY_SYSTEM rows (and emit SLOT). Emits ENV. -ENOENT. */
int store_env_update(struct store *s, const json_t *env, const json_t *history, bool release_parked);
/* -EBUSY when the stage has capacity or agent rows; deletes its configs, history, promote, schedule. */
/* Deleting an env's last stage also deletes the env's tokens and role bindings (type ENV). */
int store_env_delete(struct store *s, const char *id);
/* PAUSE / RESUME (envState); resume_now: the current deploy's lastUpdateDate := now. Emits ENV. */
int store_env_set_state(struct store *s, const char *id, const char *env_state, bool resume_now,
			const json_t *history);
int store_history_list(struct store *s, const char *env_id, int64_t offset, int64_t limit, json_t **ret);

/* Capacity (§4.4): type "GROUP" or "HOST"; names is an array of strings (op REPLACE) or a string.
 * An env is a boundary around hosts: an env holds a name when the capacity of one of its stages has
 * it, or has a group the host is in (HOST), or a host of the group (GROUP; group membership as the
 * hosts reported it). Before writing, every name the change adds is checked against claim: a name
 * the env already holds always passes; one no env holds needs STORE_CLAIM_FREE; one another env
 * holds needs STORE_CLAIM_ANY. Otherwise nothing is written, -EACCES is returned and *refused (when
 * not NULL) names the first refused name and the other env ("" when the name is unclaimed). */
int store_capacity_get(struct store *s, const char *env_id, const char *type, json_t **ret);
int store_capacity_change(struct store *s, const char *env_id, const char *type, enum store_capacity_op op,
			  const json_t *names, const json_t *history, enum store_claim claim,
			  struct store_claim_refusal *refused);

/* Configuration documents (§4.8): -ENOENT when none stored. config_put replaces (emits ENV). */
int store_config_get(struct store *s, const char *env_id, enum store_config_kind kind, json_t **ret);
int store_config_put(struct store *s, const char *env_id, enum store_config_kind kind, const json_t *value,
		     const json_t *history);

/* Deploys (§7.1): one transaction locking the stage row: insert, point the stage at it, finalise
 * the previous deploy, disable auto-promote (unless AutoPromoter), reset the schedule, write
 * history, emit ENV. *ret = the new Deploy. */
int store_deploy_create(struct store *s, const struct deploy_create *c, json_t **ret);
int store_deploy_get(struct store *s, const char *id, json_t **ret);
/* query: object with optional arrays envId, operator, deployType, deployState, acceptanceStatus,
 * buildId and scalars repo, branch, commitDate, before, after, offset, limit, oldestFirst.
 * *ret = {"deploys": [...], "total": n}. */
int store_deploy_list(struct store *s, const json_t *query, json_t **ret);
int store_deploy_set_acceptance(struct store *s, const char *id, const char *status, const char *description,
				int64_t now);
int store_deploy_count_since(struct store *s, int64_t since, int64_t *ret);
/* Newest first, at most 5000: SUCCEEDED deploys of the stage whose build still exists, each with
 * its build under "build". */
int store_deploy_list_succeeded(struct store *s, const char *env_id, json_t **ret);
int store_deploy_counts(struct store *s, const char *env_id, const char *deploy_id, struct deploy_counts *ret);
/* Compare-and-set write of state, successTotal, failTotal, total, lastUpdateDate, successDate,
 * acceptanceStatus of deploy (by id) where state = old_state. Returns 1 written, 0 lost. */
int store_deploy_cas(struct store *s, const json_t *deploy, const char *old_state);
/* RUNNING/FAILING → ABORTED, SUCCEEDING → SUCCEEDED, non-final acceptance → TERMINATED. */
int store_deploy_finalize(struct store *s, const char *id);
int store_deploy_append_description(struct store *s, const char *id, const char *text);

/* What a deploy ran with and what it did (store_deploy_record.c), written when deploys are created: the stage's
 * config at the deploy's creation, *ret = {deployId, envId, createDate, scriptConfigs, agentConfigs (objects or
 * null), rollout: {maxParallel, maxParallelPct, failurePolicy, stuckThreshold, successThreshold, acceptanceType},
 * constraint: {constraintKey, maxParallel, constraintType, constraintOrder} or null, schedule: {hostNumbers,
 * cooldownTimes} or null}; -ENOENT for a deploy created before schema version 5. */
int store_deploy_config_get(struct store *s, const char *deploy_id, json_t **ret);
/* The host results recorded when the deploy was replaced (at most STORE_DEPLOY_RESULTS_MAX_HOSTS, failed hosts
 * first): agent-row fields plus errorMessage (the error's last 1,024 bytes, failed hosts only) and recordDate;
 * by host name; [] when none were recorded. Kept for the STORE_DEPLOY_RESULTS_MAX_DEPLOYS newest deploys of a
 * stage. */
int store_deploy_host_results(struct store *s, const char *deploy_id, const struct store_page *pg, json_t **ret);
#define STORE_DEPLOY_RESULTS_MAX_HOSTS 10000
#define STORE_DEPLOY_RESULTS_MAX_DEPLOYS 100

/* Agents (§3.4, §4.6). */
int store_agent_list_env(struct store *s, const char *env_id, json_t **ret);
/* The stage's agent rows appended to out as compact JSON text (byte for byte json_dumps(list, JSON_COMPACT)),
 * without building the objects: the board's 10,000-host progress reply. A page reads the index on stage and
 * host name (O(page) at any stage size; with `failing`, the rows walked until the page is full). */
int store_agent_list_env_text(struct store *s, const char *env_id, const struct store_page *pg, struct buf *out);
/* The agent rows of env_id that are on deploy_id (hosts that moved on to a later deploy are not among them),
 * all or one page. */
int store_agent_list_deploy(struct store *s, const char *env_id, const char *deploy_id, const struct store_page *pg,
			    json_t **ret);
/* The stage's agent rows counted by what the board shows of a host: {"deployId", "total", "counts":
 * [{onDeploy, deployStage, state, status, removed, n}]} (onDeploy: the row is on deploy_id, which may be NULL),
 * plus the number of never-pinged HOST capacity names (missingHosts) and, when provisioning (else null), of live
 * hosts of the stage's capacity without an agent row (provisioningHosts: a walk of the capacity's hosts). The counts
 * are kept per stage (schema agent_counts): the read does not grow with the stage, nor does the answer. */
int store_agent_summary(struct store *s, const char *env_id, const char *deploy_id, bool provisioning, json_t **ret);
/* By host name, or by host id when host_name is NULL. */
int store_agent_list_host(struct store *s, const char *host_name, const char *host_id, json_t **ret);
int store_agent_error_get(struct store *s, const char *env_id, const char *host_name, json_t **ret);
/* The recorded errors of the hosts of env_id whose last result failed, with the agent row's deployId,
 * deployStage, state, status, lastErrno, failCount and lastUpdateDate; by host name, at most limit rows. */
int store_agent_error_list(struct store *s, const char *env_id, int64_t limit, json_t **ret);
/* Apply a host action to the rows of the given host ids (array) in env_id (NULL = every env).
 * Writes `Host Action` history per env and HOST events (+SLOT when a slot is released).
 * Returns the number of rows changed. */
int store_agent_action(struct store *s, const char *env_id, const json_t *host_ids, enum store_agent_action a,
		       const char *operator_name, int64_t now);
int store_agent_reset_failed(struct store *s, const char *env_id, const char *deploy_id, const char *operator_name,
			     int64_t now);
int store_agent_count(struct store *s, const char *env_id, enum store_agent_count what, int64_t *ret);
int store_agent_total(struct store *s, const char *env_id, int64_t *ret);
int store_agent_host_count(struct store *s, int64_t *ret);

/* Hosts (§3.5, §4.7). Host objects carry lastSeen / agentVersion from the heartbeat record. */
/* The host records of the stage's capacity (one per host and group), by name; host_name: only that host's; else
 * all, or with pg->limit the rows of at most that many host names after pg->after. */
int store_host_list_env(struct store *s, const char *env_id, const char *host_name, const struct store_page *pg,
			json_t **ret);
int store_host_list(struct store *s, const char *host_name, const char *host_id, json_t **ret);
/* Host search by name: names after q->after (NULL: from the start) that start with (prefix) or contain q->text,
 * in name order, at most q->limit; rows {hostName, lastSeen (null: never pinged), stages (agent rows)}. */
#define STORE_HOST_SEARCH_MAX_TEXT 64
struct host_search {
	const char *text; /* 1..STORE_HOST_SEARCH_MAX_TEXT bytes */
	bool prefix;
	const char *after;
	int64_t limit;
};
int store_host_search(struct store *s, const struct host_search *q, json_t **ret);
/* Stop flow (§5.9). env_id set: every host must have a row in it (else -ENOENT, nothing changed). */
int store_host_stop(struct store *s, const char *env_id, const json_t *host_ids, bool replace,
		    const char *operator_name, int64_t now);
/* Put a host into a group (a Host: hostName, hostId, groupName, ...). Every env holding the group gains
 * the host, so each must be free to take it (store_capacity_change) unless claim is STORE_CLAIM_ANY:
 * else -EACCES with *refused naming the host and the env that holds it. */
int store_host_register(struct store *s, const json_t *host, enum store_claim claim,
			struct store_claim_refusal *refused);
int store_host_update(struct store *s, const char *host_id, const json_t *patch, int64_t now);
int store_host_active(struct store *s, const json_t *host_ids, json_t **ret);
/* DeployProgress lists (§3.5): missingHosts, provisioningHosts, removedHosts; each at most `limit` entries in
 * name order (limit 0: all of them). */
int store_progress_lists(struct store *s, const char *env_id, int64_t limit, json_t **ret_missing,
			 json_t **ret_provisioning, json_t **ret_removed);

/* Tags, promote configs, schedules. */
int store_tag_insert(struct store *s, const json_t *tag);
/* Newest first (createdDate, then creation order). */
int store_tag_list_target(struct store *s, const char *target_id, int64_t limit, json_t **ret);
int store_tag_get(struct store *s, const char *id, json_t **ret);
int store_tag_delete(struct store *s, const char *id);
/* Tags with this value, newest first. */
int store_tag_list_value(struct store *s, const char *value, int64_t limit, json_t **ret);
/* ENABLE/DISABLE (§4.3): set `state` of stage id (NULL = every stage), insert the tag and write
 * `Env Action` history per stage, in one transaction. */
int store_env_set_enabled(struct store *s, const char *id, const char *state, const json_t *tag,
			  const char *operator_name, const char *change);
int store_promote_get(struct store *s, const char *env_id, json_t **ret);
int store_promote_put(struct store *s, const json_t *promote, const json_t *history);
int store_schedule_get(struct store *s, const char *env_id, json_t **ret);
/* Upsert (keys of DeploySchedule plus envId); emits ENV. */
int store_schedule_put(struct store *s, const json_t *schedule);
/* -ENOENT when the stage has none; emits ENV. */
int store_schedule_delete(struct store *s, const char *env_id);
/* Promote configs of type AUTO with a predStage, in random order. */
int store_promote_list_auto(struct store *s, json_t **ret);
/* ---- zone-aware rollouts (store_constraints.c) ----
 * A stage's deploy constraint: {id, envId, constraintKey, maxParallel, constraintType, constraintOrder (JSON text
 * of an array, or null), state, startDate, lastUpdate}; -ENOENT when the stage has none. */
int store_constraint_get(struct store *s, const char *env_id, json_t **ret);
/* Create or replace the stage's constraint (keeping id and startDate of one it replaces), write history and an
 * ENV event, in one transaction. */
int store_constraint_put(struct store *s, const json_t *constraint, const json_t *history);
/* Delete it (-ENOENT when none), with history and an ENV event. */
int store_constraint_delete(struct store *s, const char *env_id, const json_t *history);
/* The tags of the hosts that have an agent row on the stage, as [{hostId, hostName, tagName, tagValue}] ordered
 * by tagName, tagValue, hostName; tag_name NULL = every tag. */
int store_host_tags_list(struct store *s, const char *env_id, const char *tag_name, json_t **ret);
/* A page of them: the tags (only tag_name's, when not NULL) of the stage's first pg->limit hosts after pg->after
 * (agent rows in name order), ordered by host name and tag name; *ret_next (malloc'd) the page's last host name when
 * the page holds pg->limit hosts, else NULL. */
int store_host_tags_page(struct store *s, const char *env_id, const char *tag_name, const struct store_page *pg,
			 json_t **ret, char **ret_next);
/* The stage's hosts counted by their value of tag_name (schema host_tag_counts, kept by triggers: O(values), not
 * O(hosts)): {"tagName", "values": {value: hosts}, "untagged": the stage's hosts without the tag} and, when deploy_id
 * is not NULL, {"deployId", "onDeploy": {value: hosts on the deploy}, "serving": {value: hosts on it at
 * SERVING_BUILD}, "untaggedOnDeploy", "untaggedServing"}. A host counts while it has an agent row on the stage. */
int store_host_tag_counts(struct store *s, const char *env_id, const char *tag_name, const char *deploy_id,
			  json_t **ret);
/* A page of the stage's hosts whose tag_name is value: [{hostId, hostName, tagName, tagValue}] of the first
 * pg->limit after the host name pg->after (NULL: from the start), in host name order; *ret_next (malloc'd) the
 * page's last host name when it holds pg->limit hosts, else NULL. */
int store_host_tags_value_page(struct store *s, const char *env_id, const char *tag_name, const char *value,
			       const struct store_page *pg, json_t **ret, char **ret_next);
/* The tags of one host (host: its name or id) that has an agent row on the stage, as store_host_tags_list's objects
 * ordered by tagName; [] when it has none there. */
int store_host_tags_of_host(struct store *s, const char *env_id, const char *host, json_t **ret);
/* Forget tag_name on the stage's hosts (their pings bring it back when the ping path re-checks their tags); the
 * count deleted. */
int store_host_tags_delete(struct store *s, const char *env_id, const char *tag_name);

/* A config history entry on its own. */
int store_history_add(struct store *s, const json_t *history);

/* ---- wake events (§5.11): the one event API ----
 * Every change that may alter what a ping is answered writes an event in its own transaction (kind "ENV",
 * "SLOT", "HOST" or "CAPACITY", with the stage, host or capacity name concerned); the ping path polls them and
 * wakes the held pings they concern. */
struct store_event {
	int64_t seq;
	char kind[16];
	char env_id[65];
	char host_id[65];
	char name[257];
};
/* An event stamped now, on its own. */
int store_event_add(struct store *s, const char *kind, const char *env_id, const char *host_id, const char *name);
/* At most max events with seq > after, oldest first, into ev[]; returns the count. On PostgreSQL it stops before
 * a gap in the sequence younger than a second (an insert another replica is still committing). */
int store_event_poll(struct store *s, int64_t after, struct store_event *ev, size_t max);
int store_event_last_seq(struct store *s, int64_t *ret);
/* Delete events created before `before` (ms). */
int store_event_purge(struct store *s, int64_t before);

/* ---- the wake listener (PostgreSQL, store/pg_listen.c) ----
 * Every wake event is announced with NOTIFY on STORE_WAKE_CHANNEL in the transaction that writes it, and so is a
 * ping's write of a host's rows (kind "HOST", seq 0, no event row). A process listens on one connection of its own
 * (application_name "STORE_LISTENER_APP:<pid>", not from the pool) served by a thread of the listener: event() gets each
 * notification in commit order; fresh(since) says that every notification committed before the monotonic time
 * `since` (ms) has been handed to event() (a round trip on the listening connection every STORE_LISTEN_PROBE_MS);
 * state(up) says the connection is listening, state(down, why) that it failed (it reconnects with a backoff of
 * 0.1 s doubling to 2 s, and says up again). The callbacks run on the listener's thread and must not block. */
#define STORE_WAKE_CHANNEL "slipway_wake"
#define STORE_LISTENER_APP "slipway-listener"
#define STORE_LISTEN_PROBE_MS 250
/* what is remembered because of the listener (idle answers, cached tokens) is used only while its last fresh() is
 * at most this old: the staleness bound of docs/operations.md */
#define STORE_LISTEN_STALE_MS 1000
/* the kind of a token write's notification (no event row, seq 0): it ends no idle answer, only the token cache */
#define STORE_NOTIFY_TOKENS "TOKENS"
struct store_listener;
struct store_listener_ops {
	void (*event)(void *arg, const struct store_event *ev);
	void (*fresh)(void *arg, int64_t since_mono_ms);
	void (*state)(void *arg, bool up, const char *why);
	void *arg;
};
/* -EPROTONOSUPPORT for a SQLite DSN (one process per database: nothing to listen to) or without PostgreSQL. */
int store_listener_start(const char *dsn, const struct store_listener_ops *ops, struct store_listener **ret);
/* Stop the thread and close the connection (NULL: nothing). */
void store_listener_stop(struct store_listener *l);
/* The event a notification's payload describes; -EINVAL when it is not one. */
int store_event_from_payload(const char *payload, struct store_event *ret);

/* Workers. env_list_transition: stages with a current deploy and envState NORMAL, with the deploy
 * under "deploy". worker_claim: 1 when unit may run now (its last run is older than
 * min_interval_ms; the run time is recorded), 0 otherwise. */
int store_env_list_transition(struct store *s, json_t **ret);
int store_worker_claim(struct store *s, const char *unit, int64_t now, int64_t min_interval_ms);
/* The janitor calls the queries below with thresholds; in-memory pending heartbeats are flushed
 * by the ping path before (see workers/janitor.c). */
int store_janitor_unreachable(struct store *s, int64_t silent_before, int64_t now, int64_t *ret_changed);
int store_janitor_release_slots(struct store *s, int64_t silent_before, int64_t now, int64_t *ret_changed);
int store_janitor_expire(struct store *s, int64_t silent_before, int64_t *ret_deleted);
/* Fold at most max_rows of the count deltas that agent writes leave on PostgreSQL into the stages' counts, under
 * each stage's admission lock, so a stage that sees no admission does not accumulate them; and the deltas of the
 * summary's counts (agent_counts), which only the janitor folds; nothing on SQLite. */
int store_janitor_fold_counts(struct store *s, int64_t max_rows, int64_t *ret_folded);
int store_retention_run(struct store *s, int64_t now, int64_t build_keep, int64_t build_days);
/* The Prometheus analysis of deploys (store_analysis.c). analysis_get: {deployId, envId, analysisStatus,
 * failCounts (an object: query name → consecutive out-of-bounds count), lastUpdate}; -ENOENT when the deploy
 * was never analysed. analysis_record: in one transaction, set the status and counts and append evals (an array
 * of {time, query, value (number or null), verdict}; NULL: none), with an ENV wake event when evals are given.
 * analysis_evals: the newest limit evaluations, newest first. */
int store_analysis_get(struct store *s, const char *deploy_id, json_t **ret);
int store_analysis_record(struct store *s, const char *deploy_id, const char *env_id, const char *status,
			  const json_t *counts, const json_t *evals, int64_t now);
int store_analysis_evals(struct store *s, const char *deploy_id, int64_t limit, json_t **ret);

/* Gauges for /metrics: {"deploys": {STATE: n}, "hosts": {"reachable": n, "unreachable": n}}. */
int store_stats(struct store *s, json_t **ret);

#endif
