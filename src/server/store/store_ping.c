/* SPDX-License-Identifier: Apache-2.0 */
/* store/store_ping.c: store_ping.h, the ping hot path's typed queries, on the SQL driver layer (db.h: SQLite and
 * PostgreSQL). Connections, statement caches and transactions are db.h's; admission locks its stage (§5.7).
 * SQL is static text with placeholders only. Does not log. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#include "db.h"
#include "enums.h"
#include "jsonutil.h"
#include "store_ping.h"
#include "store_sql.h"
#include "util.h"
#include "banned.h"

struct store_ping {
	struct db *db;
};


int store_ping_open(const char *dsn, struct store_ping **ret)
{
	struct store_ping *p;
	int r;

	if (!dsn || !db_dsn_supported(dsn))
		return -EPROTONOSUPPORT;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	r = db_open(dsn, &p->db);
	if (r < 0) {
		free(p);
		return r;
	}
	*ret = p;
	return 0;
}

void store_ping_set_pool_size(struct store_ping *p, int n)
{
	db_set_pool_size(p->db, n);
}

void store_ping_free(struct store_ping *p)
{
	if (!p)
		return;
	db_free(p->db);
	free(p);
}

static int col_enum(struct db_stmt *st, int i, int (*from)(const char *), int def)
{
	const char *t = db_col_text(st, i);
	int v;

	if (!t)
		return def;
	v = from(t);
	return v < 0 ? def : v;
}


/* ---- heartbeat ---- */

static const char sql_hb_get[] = "SELECT hostId, hostName, ip, agentVersion, autoscalingGroup, availabilityZone, "
				 "createDate, lastSeen FROM heartbeats WHERE hostId = ?";

static int hb_read(struct db_stmt *st, void *elem, void *ctx)
{
	struct heartbeat *hb = elem;

	db_col_copy(st, 0, hb->host_id, sizeof(hb->host_id));
	db_col_copy(st, 1, hb->host_name, sizeof(hb->host_name));
	db_col_copy(st, 2, hb->ip, sizeof(hb->ip));
	db_col_copy(st, 3, hb->agent_version, sizeof(hb->agent_version));
	db_col_copy(st, 4, hb->autoscaling_group, sizeof(hb->autoscaling_group));
	db_col_copy(st, 5, hb->availability_zone, sizeof(hb->availability_zone));
	hb->create_date = db_col_int64(st, 6);
	hb->last_seen = db_col_int64(st, 7);
	return 0;
}

int store_ping_heartbeat_get(struct store_ping *p, const char *host_id, struct heartbeat *ret)
{
	struct heartbeat hb = { 0 };
	int r;
	CONN_OR_FAIL(c, p);

	r = db_one(c, sql_hb_get, hb_read, &hb, NULL, "s", host_id);
	if (r < 0)
		return r;
	*ret = hb;
	return 0;
}

#define HB_PUT                                                                                                         \
	"INSERT INTO heartbeats(hostId, hostName, ip, agentVersion, autoscalingGroup, availabilityZone, createDate, "  \
	"lastSeen) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT(hostId) DO UPDATE SET hostName = ?2, ip = ?3, "  \
	"agentVersion = ?4, autoscalingGroup = ?5, availabilityZone = ?6, "
static const struct dsql sql_hb_put = {
	HB_PUT "lastSeen = max(lastSeen, ?8)",
	HB_PUT "lastSeen = GREATEST(heartbeats.lastSeen, ?8)",
};

static const char *nz(const char *s)
{
	return s && s[0] ? s : NULL;
}

static const char sql_hb_seen[] = "UPDATE heartbeats SET lastSeen = max(lastSeen, ?2) WHERE hostId = ?1";
/* PostgreSQL: a chunk of hosts in one statement. The rows are locked first in hostId order (the one order every
 * multi-row write of heartbeats takes, see store_workers.c), so replicas flushing overlapping hosts, and the
 * janitor deleting expired ones, wait for each other instead of deadlocking. */
static const char sql_hb_seen_pg[] =
	"WITH u AS (SELECT e->>0 AS h, (e->>1)::bigint AS s FROM json_array_elements(?::json) e), "
	"l AS MATERIALIZED (SELECT hostId FROM heartbeats WHERE hostId IN (SELECT h FROM u) ORDER BY hostId FOR UPDATE) "
	"UPDATE heartbeats SET lastSeen = GREATEST(heartbeats.lastSeen, u.s) FROM u "
	"WHERE heartbeats.hostId = u.h AND heartbeats.hostId IN (SELECT hostId FROM l)";
#define HB_FLUSH_CHUNK 2000

/* v[0..n-1] as the JSON text [[hostId, lastSeen], ...] */
static int hb_chunk_json(const struct heartbeat_seen *v, size_t n, char **ret)
{
	json_t *a = json_array();

	if (!a)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (json_array_append_new(a, json_pack("[sI]", v[i].host_id, (json_int_t)v[i].last_seen)) < 0) {
			json_decref(a);
			return -ENOMEM;
		}
	*ret = json_dumps(a, JSON_COMPACT);
	json_decref(a);
	return *ret ? 0 : -ENOMEM;
}

int store_ping_heartbeat_flush(struct store_ping *p, const struct heartbeat_seen *v, size_t n)
{
	int r = 0;

	if (n == 0)
		return 0;
	CONN_OR_FAIL(c, p);
	if (db_dialect(c) == DB_PG) {
		/* one statement (its own transaction) per chunk: row locks are held for one chunk at a time */
		for (size_t i = 0; i < n && r >= 0; i += HB_FLUSH_CHUNK) {
			char *txt;

			r = hb_chunk_json(v + i, n - i < HB_FLUSH_CHUNK ? n - i : HB_FLUSH_CHUNK, &txt);
			if (r < 0)
				break;
			r = db_exec(c, sql_hb_seen_pg, "s", txt);
			free(txt);
		}
		return r < 0 ? r : 0;
	}
	r = db_begin(c, 0);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n && r >= 0; i++)
		r = db_exec(c, sql_hb_seen, "si", v[i].host_id, v[i].last_seen);
	return db_end(c, r < 0 ? r : 0);
}

/* ---- membership ---- */

/* in groupName order: the membership transaction changes the rows in the global order (store_sql.h) */
static const char sql_hosts_of[] =
	"SELECT groupName, state, ip, accountId, hostName FROM hosts WHERE hostId = ? ORDER BY groupName";
static const char sql_host_insert[] =
	"INSERT INTO hosts(hostName, groupName, ip, hostId, accountId, createDate, lastUpdateDate, state, canRetire) "
	"VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?6, 'ACTIVE', 0) ON CONFLICT(hostId, groupName) DO NOTHING";
static const char sql_host_update[] =
	"UPDATE hosts SET hostName = ?3, ip = ?4, accountId = ?5, state = 'ACTIVE', lastUpdateDate = ?6 "
	"WHERE hostId = ?1 AND groupName = ?2 AND state NOT IN ('PENDING_TERMINATE', 'PENDING_TERMINATE_NO_REPLACE', "
	"'TERMINATING')";
static const char sql_host_delete[] =
	"DELETE FROM hosts WHERE hostId = ?1 AND groupName = ?2 AND state NOT IN ('PENDING_TERMINATE', "
	"'PENDING_TERMINATE_NO_REPLACE', 'TERMINATING')";

struct host_group {
	char group[136];
	int state;
	char ip[HB_FIELD_SIZE];
	char account_id[HB_FIELD_SIZE];
	char host_name[ENGINE_NAME_SIZE];
	bool reported;
};

static bool protected_state(int st)
{
	return st == HOST_STATE_PENDING_TERMINATE || st == HOST_STATE_PENDING_TERMINATE_NO_REPLACE ||
	       st == HOST_STATE_TERMINATING;
}

static bool str_same(const char *stored, const char *want)
{
	return streq(stored, want ? want : "");
}

static int host_group_read(struct db_stmt *st, void *elem, void *ctx)
{
	struct host_group *h = elem;

	db_col_copy(st, 0, h->group, sizeof(h->group));
	h->state = col_enum(st, 1, host_state_from_string, HOST_STATE_ACTIVE);
	db_col_copy(st, 2, h->ip, sizeof(h->ip));
	db_col_copy(st, 3, h->account_id, sizeof(h->account_id));
	db_col_copy(st, 4, h->host_name, sizeof(h->host_name));
	return 0;
}

/* a reported Host row whose attributes differ from the ping's (or still PROVISIONED): it is updated */
static bool host_group_stale(const struct host_group *h, const char *host_name, const char *ip,
			     const char *account_id)
{
	return h->state == HOST_STATE_PROVISIONED || !str_same(h->ip, ip) || !str_same(h->account_id, account_id) ||
	       !streq(h->host_name, host_name);
}

/* What a host's membership sync would change: its stored Host rows and which of groups they lack. */
struct membership_plan {
	struct host_group *have;
	size_t n_have;
	bool *group_present;
	bool need;
};

static void membership_plan_free(struct membership_plan *mp)
{
	free(mp->have);
	free(mp->group_present);
}

static int membership_plan(struct db_conn *c, const struct host_rows *h, struct membership_plan *mp)
{
	struct db_vec hv = { .size = sizeof(struct host_group) };
	int r;

	*mp = (struct membership_plan){ 0 };
	r = db_collect(c, sql_hosts_of, &hv, host_group_read, NULL, "s", h->host_id);
	mp->have = hv.v;
	mp->n_have = hv.n;
	if (r < 0)
		return r;
	mp->group_present = calloc(h->n_groups + 1, sizeof(bool));
	if (!mp->group_present)
		return -ENOMEM;
	for (size_t i = 0; i < mp->n_have; i++) {
		struct host_group *hg = &mp->have[i];

		for (size_t g = 0; g < h->n_groups; g++)
			if (streq(hg->group, h->groups[g])) {
				hg->reported = true;
				mp->group_present[g] = true;
			}
		if (!protected_state(hg->state) &&
		    (!hg->reported || host_group_stale(hg, h->host_name, h->ip, h->account_id)))
			mp->need = true;
	}
	for (size_t g = 0; g < h->n_groups; g++)
		if (!mp->group_present[g])
			mp->need = true;
	return 0;
}

/* Inside the caller's write transaction: the membership read again and synced; 1 when it wrote. */
static int membership_tx(struct db_conn *c, const struct host_rows *h)
{
	struct membership_plan mp;
	int r;

	r = membership_plan(c, h, &mp);
	if (r < 0 || !mp.need)
		goto out;
	for (size_t i = 0; i < mp.n_have && r >= 0; i++) {
		const struct host_group *hg = &mp.have[i];

		if (protected_state(hg->state))
			continue;
		if (!hg->reported)
			r = db_exec(c, sql_host_delete, "ss", h->host_id, hg->group);
		else if (host_group_stale(hg, h->host_name, h->ip, h->account_id))
			r = db_exec(c, sql_host_update, "sssssi", h->host_id, hg->group, h->host_name, nz(h->ip),
				    nz(h->account_id), h->now);
	}
	for (size_t g = 0; g < h->n_groups && r >= 0; g++)
		if (!mp.group_present[g])
			r = db_exec(c, sql_host_insert, "sssssi", h->host_name, h->groups[g], nz(h->ip), h->host_id,
				    nz(h->account_id), h->now);
	if (r >= 0)
		r = 1;
out:
	membership_plan_free(&mp);
	return r;
}

int store_ping_membership_differs(struct store_ping *p, const struct host_rows *h, bool *ret_differ)
{
	struct membership_plan mp;
	int r;
	CONN_OR_FAIL(c, p);

	r = membership_plan(c, h, &mp);
	if (r >= 0)
		*ret_differ = mp.need;
	membership_plan_free(&mp);
	return r < 0 ? r : 0;
}

int store_ping_host_write(struct store_ping *p, const struct host_rows *h)
{
	int r, wrote = 0;
	CONN_OR_FAIL(c, p);

	r = db_begin(c, 0);
	if (r < 0)
		return r;
	/* in the global order of row locks (store_sql.h): hosts, heartbeats; host_tags only the ping path writes */
	if (h->groups) {
		r = membership_tx(c, h);
		if (r > 0)
			wrote |= HOST_ROWS_GROUPS;
	}
	if (r >= 0 && h->hb) {
		r = db_exec(c, SQL(c, sql_hb_put), "ssssssii", h->hb->host_id, h->hb->host_name, nz(h->hb->ip),
			    nz(h->hb->agent_version), nz(h->hb->autoscaling_group), nz(h->hb->availability_zone),
			    h->hb->create_date, h->hb->last_seen);
		wrote |= HOST_ROWS_HB;
	}
	if (r >= 0 && h->tags) {
		r = store_tx_tags_sync(c, h->host_id, h->host_name, h->tags, h->n_tags, h->now);
		if (r > 0)
			wrote |= HOST_ROWS_TAGS;
	}
	/* PostgreSQL: with the NOTIFY of the host's write (other replicas re-read the host) */
	if (r >= 0 && wrote)
		r = store_tx_host_written(c, h->host_id);
	return db_end(c, r < 0 ? r : wrote);
}

/* ---- envs ---- */

#define ENV_COLS                                                                                                       \
	"e.id, e.envName, e.stageName, e.stageType, e.deployId, e.deployType, d.alias, e.envState, e.priority, "       \
	"e.systemPriority, e.failurePolicy, e.isDocker, e.signingKey IS NOT NULL, e.maxParallel, e.maxParallelPct"
#define ENV_FROM " FROM envs e LEFT JOIN deploys d ON d.id = e.deployId "

static int env_read(struct db_stmt *st, void *elem, void *ctx)
{
	struct env_view *e = elem;
	db_col_copy(st, 0, e->id, sizeof(e->id));
	db_col_copy(st, 1, e->env_name, sizeof(e->env_name));
	db_col_copy(st, 2, e->stage_name, sizeof(e->stage_name));
	e->stage_type = col_enum(st, 3, env_type_from_string, ENV_TYPE_DEFAULT);
	db_col_copy(st, 4, e->deploy_id, sizeof(e->deploy_id));
	e->deploy_type = col_enum(st, 5, deploy_type_from_string, -1);
	db_col_copy(st, 6, e->deploy_alias, sizeof(e->deploy_alias));
	e->env_state = col_enum(st, 7, env_state_from_string, ENV_STATE_NORMAL);
	e->priority = col_enum(st, 8, deploy_priority_from_string, DEPLOY_PRIORITY_NORMAL);
	e->system_priority = db_col_null(st, 9) ? 0 : db_col_int(st, 9);
	if (e->system_priority < 0)
		e->system_priority = 0;
	e->failure_policy = col_enum(st, 10, failure_policy_from_string, FAILURE_POLICY_HALT);
	e->is_docker = db_col_int(st, 11) != 0;
	e->has_signing_key = db_col_int(st, 12) != 0;
	e->max_parallel = db_col_int(st, 13);
	e->max_parallel_pct = db_col_int(st, 14);
	if (!e->deploy_id[0])
		e->deploy_type = -1;
	return 0;
}

/* two plain indexed lookups (one per reported group for tier 2): cheaper than one UNION over json_each */
static const char sql_capacity_host[] =
	"SELECT " ENV_COLS ENV_FROM "JOIN capacity c ON c.envId = e.id WHERE c.type = 'HOST' AND c.name = ?";
static const char sql_capacity_group[] =
	"SELECT " ENV_COLS ENV_FROM "JOIN capacity c ON c.envId = e.id WHERE c.type = 'GROUP' AND c.name = ?";

/* a resolved_env row: the stage view, then the tier (ctx) */
static int resolved_read(struct db_stmt *st, void *elem, void *ctx)
{
	struct resolved_env *re = elem;

	re->tier = *(const int *)ctx;
	return env_read(st, &re->view, NULL);
}

int store_ping_capacity_envs(struct store_ping *p, const char *host_name, char *const *groups, size_t n_groups,
			     struct resolved_env **ret, size_t *ret_n)
{
	static const int tier1 = 1, tier2 = 2;
	struct db_vec out = { .size = sizeof(struct resolved_env) };
	int r;
	CONN_OR_FAIL(c, p);

	r = db_collect(c, sql_capacity_host, &out, resolved_read, (void *)&tier1, "s", host_name);
	for (size_t i = 0; i < n_groups && r >= 0; i++)
		r = db_collect(c, sql_capacity_group, &out, resolved_read, (void *)&tier2, "s", groups[i]);
	if (r < 0) {
		free(out.v);
		return r;
	}
	*ret = out.v;
	*ret_n = out.n;
	return 0;
}

static const char sql_env_by_id[] = "SELECT " ENV_COLS ENV_FROM "WHERE e.id = ?";

int store_ping_env_by_id(struct store_ping *p, const char *id, struct env_view *ret)
{
	struct env_view e = { 0 };
	int r;
	CONN_OR_FAIL(c, p);

	r = db_one(c, sql_env_by_id, env_read, &e, NULL, "s", id);
	if (r < 0)
		return r;
	*ret = e;
	return 0;
}

int store_ping_envs_by_ids(struct store_ping *p, const char *const *ids, size_t n, struct env_view **ret,
			   size_t *ret_n)
{
	struct env_view *out;
	size_t m = 0;
	int r;

	out = calloc(n ? n : 1, sizeof(*out));
	if (!out)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		r = store_ping_env_by_id(p, ids[i], &out[m]);
		if (r == -ENOENT)
			continue;
		if (r < 0) {
			free(out);
			return r;
		}
		m++;
	}
	*ret = out;
	*ret_n = m;
	return 0;
}

/* ---- agent rows ---- */

#define AGENT_COLS                                                                                                     \
	"hostId, hostName, envId, deployId, deployStage, state, status, startDate, lastUpdateDate, lastOperator, "      \
	"lastErrno, failCount, firstDeploy, firstDeployDate, stageStartDate, containerHealthStatus, holdsSlot, "       \
	"removed, version"

static int agent_row_read(struct db_stmt *st, void *elem, void *ctx)
{
	struct agent_row *a = elem;

	db_col_copy(st, 0, a->host_id, sizeof(a->host_id));
	db_col_copy(st, 1, a->host_name, sizeof(a->host_name));
	db_col_copy(st, 2, a->env_id, sizeof(a->env_id));
	db_col_copy(st, 3, a->deploy_id, sizeof(a->deploy_id));
	a->deploy_stage = col_enum(st, 4, deploy_stage_from_string, DEPLOY_STAGE_UNKNOWN);
	a->state = col_enum(st, 5, agent_state_from_string, AGENT_STATE_NORMAL);
	a->status = col_enum(st, 6, agent_status_from_string, AGENT_STATUS_UNKNOWN);
	a->start_date = db_col_int64(st, 7);
	a->last_update_date = db_col_int64(st, 8);
	db_col_copy(st, 9, a->last_operator, sizeof(a->last_operator));
	a->last_errno = db_col_int(st, 10);
	a->fail_count = db_col_int(st, 11);
	a->first_deploy = db_col_int(st, 12) != 0;
	a->first_deploy_date = db_col_int64(st, 13);
	a->stage_start_date = db_col_int64(st, 14);
	db_col_copy(st, 15, a->container_health_status, sizeof(a->container_health_status));
	a->holds_slot = db_col_int(st, 16) != 0;
	a->removed = db_col_int(st, 17) != 0;
	a->version = db_col_int64(st, 18);
	return 0;
}

static const char sql_agent_rows[] = "SELECT " AGENT_COLS " FROM agents WHERE hostId = ?";

int store_ping_agent_rows(struct store_ping *p, const char *host_id, struct agent_row **ret, size_t *ret_n)
{
	struct db_vec out = { .size = sizeof(struct agent_row) };
	int r;
	CONN_OR_FAIL(c, p);

	r = db_collect(c, sql_agent_rows, &out, agent_row_read, NULL, "s", host_id);
	if (r < 0) {
		free(out.v);
		return r;
	}
	*ret = out.v;
	*ret_n = out.n;
	return 0;
}

int store_ping_host_load(struct store_ping *p, const char *host_id, const char *host_name, char *const *groups,
			 size_t n_groups, struct agent_row **ret_rows, size_t *ret_n_rows, struct resolved_env **ret_envs,
			 size_t *ret_n_envs)
{
	static const int tier1 = 1, tier2 = 2;
	struct db_vec rows = { .size = sizeof(struct agent_row) }, envs = { .size = sizeof(struct resolved_env) };
	int r;

	if (n_groups + 2 > DB_BATCH_MAX) {
		/* more groups than one batch takes: the reads one by one */
		r = store_ping_agent_rows(p, host_id, ret_rows, ret_n_rows);
		if (r < 0)
			return r;
		r = store_ping_capacity_envs(p, host_name, groups, n_groups, ret_envs, ret_n_envs);
		if (r < 0)
			free(*ret_rows);
		return r;
	}
	CONN_OR_FAIL(c, p);
	r = db_batch_collect(c, sql_agent_rows, &rows, agent_row_read, NULL, "s", host_id);
	if (r >= 0)
		r = db_batch_collect(c, sql_capacity_host, &envs, resolved_read, (void *)&tier1, "s", host_name);
	for (size_t i = 0; i < n_groups && r >= 0; i++)
		r = db_batch_collect(c, sql_capacity_group, &envs, resolved_read, (void *)&tier2, "s", groups[i]);
	r = db_batch_run(c); /* also after a failed queueing: it empties the queue and fails */
	if (r < 0) {
		free(rows.v);
		free(envs.v);
		return r;
	}
	*ret_rows = rows.v;
	*ret_n_rows = rows.n;
	*ret_envs = envs.v;
	*ret_n_envs = envs.n;
	return 0;
}

/* ---- persisting ---- */

static const char sql_agent_insert[] =
	"INSERT INTO agents(" AGENT_COLS ") SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, "
	"?16, ?17, ?18, 1 WHERE EXISTS (SELECT 1 FROM envs WHERE id = ?3) ON CONFLICT(hostId, envId) DO NOTHING";
static const char sql_agent_update[] =
	"UPDATE agents SET hostName = ?2, deployId = ?4, deployStage = ?5, state = ?6, status = ?7, startDate = ?8, "
	"lastUpdateDate = ?9, lastOperator = ?10, lastErrno = ?11, failCount = ?12, firstDeploy = ?13, "
	"firstDeployDate = ?14, stageStartDate = ?15, containerHealthStatus = ?16, holdsSlot = ?17, removed = ?18, "
	"version = version + 1 WHERE hostId = ?1 AND envId = ?3 AND version = ?19";
static const char sql_agent_delete[] = "DELETE FROM agents WHERE hostId = ?1 AND envId = ?2 AND version = ?3";
static const char sql_agent_error_delete[] = "DELETE FROM agent_errors WHERE hostId = ?1 AND envId = ?2";
static const char sql_agent_error_upsert[] =
	"INSERT INTO agent_errors(hostId, hostName, envId, errorMessage) VALUES(?1, ?2, ?3, ?4) "
	"ON CONFLICT(hostId, envId) DO UPDATE SET hostName = ?2, errorMessage = ?4";

/* The 18 row columns of an insert/update (and the version for an update). */
static int write_row(struct db_conn *c, const struct agent_row *a, bool insert, int64_t expect_version)
{
	const char *host_name = a->host_name[0] ? a->host_name : a->host_id;
	const char *deploy_id = a->deploy_id[0] ? a->deploy_id : NULL;
	const char *op = a->last_operator[0] ? a->last_operator : "system";

	if (insert)
		return db_exec(c, sql_agent_insert, "sssssssiisiibzisbb", a->host_id, host_name, a->env_id, deploy_id,
			       deploy_stage_to_string(a->deploy_stage), agent_state_to_string(a->state),
			       agent_status_to_string(a->status), a->start_date, a->last_update_date, op,
			       (int64_t)a->last_errno, (int64_t)a->fail_count, (int)a->first_deploy, a->first_deploy_date,
			       a->stage_start_date, a->container_health_status, (int)a->holds_slot, (int)a->removed);
	return db_exec(c, sql_agent_update, "sssssssiisiibzisbbi", a->host_id, host_name, a->env_id, deploy_id,
		       deploy_stage_to_string(a->deploy_stage), agent_state_to_string(a->state),
		       agent_status_to_string(a->status), a->start_date, a->last_update_date, op,
		       (int64_t)a->last_errno, (int64_t)a->fail_count, (int)a->first_deploy, a->first_deploy_date,
		       a->stage_start_date, a->container_health_status, (int)a->holds_slot, (int)a->removed,
		       expect_version);
}

/* PostgreSQL: the host's rows locked in the global order (store_sql.h) before a transaction changes several of them.
 * It takes no advisory lock, so without this a host action or the janitor changing the same rows in another order
 * under DB_LOCK_GLOBAL could deadlock with it. */
static const char sql_agent_lock_host[] = "SELECT envId FROM agents WHERE hostId = ? ORDER BY envId FOR UPDATE";

static void persist_unapply(struct ping_write *writes, size_t n_writes, struct ping_delete *deletes,
			    size_t n_deletes)
{
	for (size_t i = 0; i < n_writes; i++)
		writes[i].applied = false;
	for (size_t i = 0; i < n_deletes; i++)
		deletes[i].applied = false;
}

/* store_ping_persist() inside the caller's transaction: the number of applied writes and deletes, or an error. */
static int persist_tx(struct db_conn *c, const char *host_id, struct ping_write *writes, size_t n_writes,
		      struct ping_delete *deletes, size_t n_deletes)
{
	int r = 0, applied = 0;

	persist_unapply(writes, n_writes, deletes, n_deletes);
	/* one row (and its AgentError) cannot close a cycle: only several rows need the order */
	if (n_writes + n_deletes > 1 && db_dialect(c) == DB_PG)
		r = db_exec(c, sql_agent_lock_host, "s", host_id);
	for (size_t i = 0; i < n_deletes && r >= 0; i++) {
		r = db_exec(c, sql_agent_delete, "ssi", host_id, deletes[i].d->env_id, deletes[i].d->expect_version);
		if (r <= 0)
			continue;
		deletes[i].applied = true;
		applied++;
		r = db_exec(c, sql_agent_error_delete, "ss", host_id, deletes[i].d->env_id);
	}
	for (size_t i = 0; i < n_writes && r >= 0; i++) {
		const struct engine_write *w = writes[i].w;

		r = write_row(c, &w->row, w->insert, w->expect_version);
		if (r <= 0)
			continue;
		writes[i].applied = true;
		applied++;
		if (writes[i].error_message && writes[i].error_message[0]) {
			r = db_exec(c, sql_agent_error_upsert, "ssss", w->row.host_id,
				 w->row.host_name[0] ? w->row.host_name : w->row.host_id, w->row.env_id,
				 writes[i].error_message);
		}
		else if (writes[i].clear_error)
			r = db_exec(c, sql_agent_error_delete, "ss", w->row.host_id, w->row.env_id);
	}
	/* SLOT wake events: a released slot or a deleted row (§5.11) */
	for (size_t i = 0; i < n_writes && r >= 0; i++)
		if (writes[i].applied && writes[i].old_holds_slot && !engine_row_occupies_slot(&writes[i].w->row))
			r = store_tx_event(c, "SLOT", writes[i].w->row.env_id, NULL, NULL);
	for (size_t i = 0; i < n_deletes && r >= 0; i++)
		if (deletes[i].applied)
			r = store_tx_event(c, "SLOT", deletes[i].d->env_id, NULL, NULL);
	if (r >= 0 && applied > 0)
		r = store_tx_host_written(c, host_id);
	return r < 0 ? r : applied;
}

int store_ping_persist(struct store_ping *p, const char *host_id, struct ping_write *writes, size_t n_writes,
		       struct ping_delete *deletes, size_t n_deletes)
{
	int r;

	if (n_writes == 0 && n_deletes == 0)
		return 0;
	CONN_OR_FAIL(c, p);
	r = db_begin(c, 0);
	if (r < 0)
		return r;
	r = db_end(c, persist_tx(c, host_id, writes, n_writes, deletes, n_deletes));
	if (r < 0)
		persist_unapply(writes, n_writes, deletes, n_deletes);
	return r;
}

/* ---- host tags ---- */

int store_ping_tags_differ(struct store_ping *p, const char *host_id, const char *host_name,
			   const struct host_tag *tags, size_t n_tags, bool *ret_differ)
{
	CONN_OR_FAIL(c, p);
	return store_tx_tags_differ(c, host_id, host_name, tags, n_tags, ret_differ);
}

/* ---- admission ---- */

static const char sql_adm_env[] = "SELECT deployId, maxParallel, maxParallelPct FROM envs WHERE id = ?";
static const char sql_adm_sched[] =
	"SELECT state, currentSession, totalSessions, cooldownTimes, hostNumbers, stateStartTime FROM schedules "
	"WHERE envId = ?";
/* The counts of §5.7 without scanning the stage: kept per stage and per deploy by triggers on agents (schema
 * version 8). On PostgreSQL the triggers append deltas, folded here under the stage lock; on SQLite they update
 * the counts directly and there is nothing to fold. */
static const char sql_adm_counts[] =
	"SELECT s.occupied, s.existing, COALESCE((SELECT n FROM deploy_counts WHERE envId = ?1 AND deployId = ?2), 0), "
	"s.total FROM stage_counts s WHERE s.envId = ?1";
/* what admission reads under the stage lock */
struct admission {
	char deploy_id[ENGINE_ID_SIZE];
	int max_parallel, max_pct;
	struct schedule_view sched;
	char cooldown[HB_FIELD_SIZE], hosts[HB_FIELD_SIZE];
	int64_t occupied, existing, on_deploy, total;
	struct constraint_read cons; /* cons.view.present: the stage has a deploy constraint */
};

static int adm_env_read(struct db_stmt *st, void *elem, void *ctx)
{
	struct admission *a = elem;

	db_col_copy(st, 0, a->deploy_id, sizeof(a->deploy_id));
	a->max_parallel = db_col_int(st, 1);
	a->max_pct = db_col_int(st, 2);
	return 0;
}

static int adm_sched_read(struct db_stmt *st, void *elem, void *ctx)
{
	struct admission *a = elem;

	a->sched.present = true;
	a->sched.state = col_enum(st, 0, schedule_state_from_string, SCHEDULE_STATE_NOT_STARTED);
	a->sched.current_session = db_col_int(st, 1);
	a->sched.total_sessions = db_col_int(st, 2);
	db_col_copy(st, 3, a->cooldown, sizeof(a->cooldown));
	db_col_copy(st, 4, a->hosts, sizeof(a->hosts));
	a->sched.cooldown_times = a->cooldown;
	a->sched.host_numbers = a->hosts;
	a->sched.state_start_time = db_col_int64(st, 5);
	return 0;
}

static int adm_counts_read(struct db_stmt *st, void *elem, void *ctx)
{
	struct admission *a = elem;

	a->occupied = db_col_int64(st, 0);
	a->existing = db_col_int64(st, 1);
	a->on_deploy = db_col_int64(st, 2);
	a->total = db_col_int64(st, 3);
	return 0;
}

/* Read the stage's admission inputs (the caller holds the stage lock): 1 read, 0 the stage is gone or has moved
 * to another deploy than row's (refuse: the next ping decides again), or an error. */
static int admission_read(struct db_conn *c, const struct agent_row *row, struct admission *a)
{
	int r;

	r = db_one(c, sql_adm_env, adm_env_read, a, NULL, "s", row->env_id);
	if (r == -ENOENT || (r >= 0 && !streq(a->deploy_id, row->deploy_id)))
		return 0;
	if (r >= 0)
		r = db_one(c, sql_adm_sched, adm_sched_read, a, NULL, "s", row->env_id);
	if (r >= 0 || r == -ENOENT)
		r = store_tx_constraint_read(c, row->env_id, row->host_id, row->deploy_id, &a->cons);
	if (r > 0) {
		/* a constrained stage: the counts are the sums over its groups (one pass either way) */
		a->occupied = a->cons.occupied;
		a->existing = a->cons.existing;
		a->on_deploy = a->cons.on_deploy;
		a->total = a->cons.total;
		return 1;
	}
	if (r >= 0)
		r = store_tx_counts_fold(c, row->env_id, 0);
	if (r >= 0)
		r = db_one(c, sql_adm_counts, adm_counts_read, a, NULL, "ss", row->env_id, row->deploy_id);
	return r < 0 && r != -ENOENT ? r : 1;
}

/* store_ping_admit() inside the caller's transaction, which holds the stage's lock: 1 admitted (the row written), 0
 * refused (nothing written), or an error (the caller rolls back what it wrote). */
static int admit_tx(struct db_conn *c, const struct agent_row *row, bool insert, int64_t expect_version,
		    int max_parallel_threshold, bool *ret_full)
{
	struct admission a = { .max_parallel = 1 };
	struct admission_facts f;
	enum admission_result verdict;
	int r;

	r = admission_read(c, row, &a);
	if (r <= 0)
		goto out;
	r = 0;
	f = (struct admission_facts){ .stage_exists = true, .deploy_id = a.deploy_id, .max_parallel = a.max_parallel,
				      .max_parallel_pct = a.max_pct, .schedule = a.sched, .occupied = (int)a.occupied,
				      .existing = (int)a.existing, .on_deploy = (int)a.on_deploy, .total = (int)a.total,
				      .constraint = a.cons.view, .host_value = a.cons.host_value, .groups = a.cons.groups,
				      .n_groups = a.cons.n_groups };
	verdict = engine_admission_decide(&f, row->deploy_id, max_parallel_threshold);
	if (verdict == ADMISSION_REFUSE_FULL && ret_full)
		*ret_full = true;
	if (verdict != ADMISSION_ADMIT)
		goto out;
	r = write_row(c, row, insert, expect_version);
	if (r <= 0)
		goto out; /* a lost condition refuses */
	r = store_tx_host_written(c, row->host_id);
	if (r >= 0)
		r = 1;
out:
	store_constraint_read_release(&a.cons);
	return r;
}

int store_ping_admit(struct store_ping *p, const struct agent_row *row, bool insert, int64_t expect_version,
		     int max_parallel_threshold, bool *ret_full)
{
	int r;

	if (ret_full)
		*ret_full = false;
	CONN_OR_FAIL(c, p);
	r = db_begin(c, store_stage_lock_key(row->env_id));
	if (r < 0)
		return r;
	r = admit_tx(c, row, insert, expect_version, max_parallel_threshold, ret_full);
	if (r <= 0) {
		/* refusals write nothing: roll back */
		db_rollback(c);
		return r;
	}
	return db_end(c, r);
}

/* ---- group commit ---- */

static int job_run(struct db_conn *c, struct store_ping_job *j)
{
	if (j->kind == STORE_PING_JOB_ADMIT) {
		j->full = false;
		return admit_tx(c, j->row, j->insert, j->expect_version, j->max_parallel_threshold, &j->full);
	}
	if (j->n_writes == 0 && j->n_deletes == 0)
		return 0;
	return persist_tx(c, j->host_id, j->writes, j->n_writes, j->deletes, j->n_deletes);
}

static int lock_key_cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* PostgreSQL: the stage locks of every admission among jobs, taken at once in key order (two replicas' groups
 * never wait for each other's stages in opposite orders); on SQLite the write transaction is the lock. */
static int group_stage_locks(struct db_conn *c, struct store_ping_job *const *jobs, size_t n)
{
	int64_t *keys;
	size_t n_keys = 0;
	int r = 0;

	if (db_dialect(c) != DB_PG)
		return 0;
	keys = malloc((n ? n : 1) * sizeof(*keys));
	if (!keys)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (jobs[i]->kind == STORE_PING_JOB_ADMIT)
			keys[n_keys++] = store_stage_lock_key(jobs[i]->row->env_id);
	qsort(keys, n_keys, sizeof(*keys), lock_key_cmp);
	for (size_t i = 0; i < n_keys && r >= 0; i++)
		if (i == 0 || keys[i] != keys[i - 1])
			r = db_lock(c, keys[i]);
	free(keys);
	return r;
}

static const char sql_savepoint[] = "SAVEPOINT ping_job";
static const char sql_savepoint_release[] = "RELEASE SAVEPOINT ping_job";
static const char sql_savepoint_rollback[] = "ROLLBACK TO SAVEPOINT ping_job";

int store_ping_group(struct store_ping *p, struct store_ping_job *const *jobs, size_t n)
{
	int r;

	CONN_OR_FAIL(c, p);
	r = db_begin(c, 0);
	if (r < 0)
		return r;
	r = group_stage_locks(c, jobs, n);
	for (size_t i = 0; i < n && r >= 0; i++) {
		struct store_ping_job *j = jobs[i];

		r = db_exec(c, sql_savepoint, NULL);
		if (r < 0)
			break;
		j->result = job_run(c, j);
		/* a refused admission wrote nothing, a failed job may have written part: either goes */
		if (j->result < 0 || (j->kind == STORE_PING_JOB_ADMIT && j->result == 0))
			r = db_exec(c, sql_savepoint_rollback, NULL);
		if (r >= 0)
			r = db_exec(c, sql_savepoint_release, NULL);
		if (j->result < 0 && j->kind == STORE_PING_JOB_PERSIST)
			persist_unapply(j->writes, j->n_writes, j->deletes, j->n_deletes);
	}
	r = db_end(c, r < 0 ? r : 0);
	if (r < 0) {
		for (size_t i = 0; i < n; i++)
			if (jobs[i]->kind == STORE_PING_JOB_PERSIST)
				persist_unapply(jobs[i]->writes, jobs[i]->n_writes, jobs[i]->deletes, jobs[i]->n_deletes);
	}
	return r < 0 ? r : 0;
}

/* ---- attachments ---- */

static const char sql_deploy_build[] =
	"SELECT b.id, b.name, b.artifactUrl, b.type, b.repo, b.branch, b.\"commit\", b.commitShort, b.commitInfo, "
	"b.publishInfo, b.publisher, b.artifactSha256, b.artifactSignature, b.commitDate, b.publishDate "
	"FROM deploys d JOIN builds b ON b.id = d.buildId WHERE d.id = ?";

static int col_dup(struct db_stmt *st, int i, char **ret)
{
	const char *t = db_col_text(st, i);

	*ret = NULL;
	if (!t)
		return 0;
	*ret = strdup((const char *)t);
	return *ret ? 0 : -ENOMEM;
}

static int build_read(struct db_stmt *st, void *elem, void *ctx)
{
	struct build *b = elem;
	char **f[] = { &b->id, &b->name, &b->artifact_url, &b->type, &b->repo, &b->branch, &b->commit,
		       &b->commit_short, &b->commit_info, &b->publish_info, &b->publisher, &b->artifact_sha256,
		       &b->artifact_signature };
	int r = 0;

	for (size_t i = 0; i < ELEMENTSOF(f) && r >= 0; i++)
		r = col_dup(st, (int)i, f[i]);
	b->commit_date = db_col_int64(st, 13);
	b->publish_date = db_col_int64(st, 14);
	return r;
}

static const char sql_env_config[] = "SELECT value FROM env_configs WHERE envId = ? AND kind = ?";

static int json_object_read(struct db_stmt *st, void *elem, void *ctx)
{
	const char *t = db_col_text(st, 0);
	json_t **j = elem;

	*j = t ? json_loads(t, 0, NULL) : NULL;
	return *j && json_is_object(*j) ? 0 : -EIO;
}

static const char sql_signing_key[] = "SELECT signingKey FROM envs WHERE id = ?";

static int text_read(struct db_stmt *st, void *elem, void *ctx)
{
	return col_dup(st, 0, elem); /* NULL: none */
}

void store_ping_attachments_release(struct store_ping_attachments *a)
{
	json_decref(a->agent_config);
	json_decref(a->script_config);
	free(a->signing_key);
	build_release(&a->build);
	*a = (struct store_ping_attachments){ 0 };
}

int store_ping_attachments_read(struct store_ping *p, const char *env_id, const char *deploy_id,
				const struct engine_goal_needs *needs, struct store_ping_attachments *ret)
{
	struct store_ping_attachments a = { 0 };
	struct db_vec agent = { .v = &a.agent_config, .cap = 1, .size = sizeof(a.agent_config), .fixed = true };
	struct db_vec script = { .v = &a.script_config, .cap = 1, .size = sizeof(a.script_config), .fixed = true };
	struct db_vec key = { .v = &a.signing_key, .cap = 1, .size = sizeof(a.signing_key), .fixed = true };
	struct db_vec build = { .v = &a.build, .cap = 1, .size = sizeof(a.build), .fixed = true };
	int r;
	CONN_OR_FAIL(c, p);

	if (!needs->build && !needs->signing_key && !needs->script_variables) {
		/* most goals: one statement, no transaction around it */
		r = db_one(c, sql_env_config, json_object_read, &a.agent_config, NULL, "ss", env_id, "agent");
		if (r == -ENOENT)
			r = 0;
		goto out;
	}
	r = db_batch_collect(c, sql_env_config, &agent, json_object_read, NULL, "ss", env_id, "agent");
	if (r >= 0 && needs->script_variables)
		r = db_batch_collect(c, sql_env_config, &script, json_object_read, NULL, "ss", env_id, "script");
	if (r >= 0 && needs->signing_key)
		r = db_batch_collect(c, sql_signing_key, &key, text_read, NULL, "s", env_id);
	if (r >= 0 && needs->build)
		r = db_batch_collect(c, sql_deploy_build, &build, build_read, NULL, "s", deploy_id);
	r = db_batch_run(c); /* also after a failed queueing: it empties the queue and fails */
	if (r >= 0 && needs->build && build.n == 0)
		r = -ENOENT;
out:
	if (r < 0) {
		store_ping_attachments_release(&a);
		return r;
	}
	*ret = a;
	return 0;
}
