/* SPDX-License-Identifier: Apache-2.0 */
/* store/store_sql.c: store.h on the SQL driver layer (db.h), for SQLite and PostgreSQL alike.
 *
 * SQL is static text with placeholders only; where the dialects differ a statement is a pair of texts
 * (struct dsql, chosen by the connection's dialect with SQL()). Multi-row changes run in write transactions
 * (db_begin): on SQLite BEGIN IMMEDIATE takes the database write lock, which is what "lock the stage row"
 * means there (one server process per file, PROTOCOL §10); on PostgreSQL the same transactions take one
 * transaction-scoped advisory lock (DB_LOCK_GLOBAL), so every replica sees the same serial order of
 * multi-row changes (§5.7, §8). Does not log. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "enums.h"
#include "jsonutil.h"
#include "store.h"
#include "util.h"
#include "banned.h"

struct store_sql {
	struct store base;
	struct db *db;
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

static struct db_conn *conn_get(struct store *s)
{
	return db_conn(container_of(s, struct store_sql, base)->db);
}

#define CONN_OR_FAIL(c, s)                                                                                             \
	struct db_conn *c = conn_get(s);                                                                               \
	if (!c)                                                                                                        \
		return -EIO
/* ---- common writes inside transactions ------------------------------------------------------- */

static const char sql_event_add[] = "INSERT INTO events(kind, envId, hostId, name, createdAt) VALUES(?,?,?,?,?)";

static int ev_add(struct db_conn *c, const char *kind, const char *env_id, const char *host_id, const char *name)
{
	int r = db_exec(c, sql_event_add, "ssssi", kind, env_id, host_id, name, (int64_t)now_ms());
	return r < 0 ? r : 0;
}

static const char sql_hist_add[] = "INSERT INTO config_history(id, changeId, createTime, operator, type, configChange) "
				   "VALUES(?,?,?,?,?,?)";

static int hist_add(struct db_conn *c, const json_t *h)
{
	int r;
	if (!h)
		return 0;
	r = db_exec(c, sql_hist_add, "jjjjjj", json_object_get(h, "id"), json_object_get(h, "changeId"),
		   json_object_get(h, "createTime"), json_object_get(h, "operator"), json_object_get(h, "type"),
		   json_object_get(h, "configChange"));
	return r < 0 ? r : 0;
}

static int hist_simple(struct db_conn *c, const char *env_id, const char *operator_name, const char *type,
		       const char *change)
{
	char id[ID_LEN + 1];
	json_t *h;
	int r;

	r = id_generate(id);
	if (r < 0)
		return r;
	h = json_pack("{s:s,s:s,s:I,s:s?,s:s,s:s?}", "id", env_id, "changeId", id, "createTime", (json_int_t)now_ms(),
		      "operator", operator_name, "type", type, "configChange", change);
	if (!h)
		return -ENOMEM;
	r = hist_add(c, h);
	json_decref(h);
	return r;
}

/* ---- open / close / meta --------------------------------------------------------------------- */

static const char sql_meta_get[] = "SELECT version FROM schema_meta";

static void ss_close(struct store *s)
{
	struct store_sql *ss = container_of(s, struct store_sql, base);

	db_free(ss->db);
	free(ss);
}

static const struct store_ops *ops_of(struct db_conn *c);

static int ss_open(const char *dsn, struct store **ret)
{
	struct store_sql *ss;
	struct db_conn *c;
	int r;

	ss = calloc(1, sizeof(*ss));
	if (!ss)
		return -ENOMEM;
	r = db_open(dsn, &ss->db);
	if (r < 0) {
		free(ss);
		return r == -EPROTONOSUPPORT ? -EINVAL : r;
	}
	c = db_conn(ss->db);
	if (!c) {
		ss_close(&ss->base);
		return -EIO;
	}
	ss->base.ops = ops_of(c);
	r = db_migrate(c);
	if (r < 0) {
		ss_close(&ss->base);
		return r;
	}
	*ret = &ss->base;
	return 0;
}

static const char *ss_errmsg(struct store *s)
{
	return db_errmsg(container_of(s, struct store_sql, base)->db);
}

static const char sql_health[] = "SELECT 1";

static int ss_health(struct store *s)
{
	int64_t v;
	CONN_OR_FAIL(c, s);
	return db_int(c, sql_health, &v, NULL);
}

static int ss_schema_version(struct store *s, int *ret)
{
	int64_t v;
	int r;
	CONN_OR_FAIL(c, s);
	r = db_int(c, sql_meta_get, &v, NULL);
	if (r < 0)
		return r;
	*ret = (int)v;
	return 0;
}

/* ---- tokens ---------------------------------------------------------------------------------- */

static const char sql_token_count[] = "SELECT count(*) FROM tokens";
static const char sql_token_insert[] =
	"INSERT INTO tokens(id, name, resource, type, role, expireDate, tokenHash, createDate) VALUES(?,?,?,?,?,?,?,?)";
static const char sql_token_by_hash[] =
	"SELECT id, name, resource, type, role, expireDate, createDate FROM tokens WHERE tokenHash = ?";

static int ss_token_bootstrap(struct store *s, const json_t *t)
{
	int64_t n;
	int r;
	CONN_OR_FAIL(c, s);

	r = db_begin(c, DB_LOCK_GLOBAL);
	if (r < 0)
		return r;
	r = db_int(c, sql_token_count, &n, NULL);
	if (r >= 0 && n == 0) {
		r = db_exec(c, sql_token_insert, "jjjjjjjj", json_object_get(t, "id"), json_object_get(t, "name"),
			   json_object_get(t, "resource"), json_object_get(t, "type"), json_object_get(t, "role"),
			   json_object_get(t, "expireDate"), json_object_get(t, "tokenHash"),
			   json_object_get(t, "createDate"));
		if (r >= 0)
			r = 1;
	} else if (r >= 0)
		r = 0;
	return db_end(c, r);
}

static int ss_token_get_by_hash(struct store *s, const char *hash, json_t **ret)
{
	CONN_OR_FAIL(c, s);
	return db_row(c, sql_token_by_hash, ret, "s", hash);
}

/* ---- security (§4.10): token CRUD and user/group role bindings -------------------------------- */

static const char sql_token_list[] = "SELECT id, name, resource, type, role, expireDate, createDate FROM tokens "
				     "WHERE type = ? AND resource = ? ORDER BY name";
static const char sql_token_get[] = "SELECT id, name, resource, type, role, expireDate, createDate FROM tokens "
				    "WHERE type = ? AND resource = ? AND name = ?";
static const char sql_token_update[] =
	"UPDATE tokens SET role = ?, expireDate = ? WHERE type = ? AND resource = ? AND name = ?";
static const char sql_token_delete[] = "DELETE FROM tokens WHERE type = ? AND resource = ? AND name = ?";
static const char sql_binding_list[] =
	"SELECT name, resource, type, role FROM user_roles WHERE kind = ? AND type = ? AND resource = ? ORDER BY name";
static const char sql_binding_get[] =
	"SELECT name, resource, type, role FROM user_roles WHERE kind = ? AND type = ? AND resource = ? AND name = ?";
static const char sql_binding_of[] =
	"SELECT name, resource, type, role FROM user_roles WHERE kind = ? AND name = ? ORDER BY type, resource";
static const char sql_binding_insert[] = "INSERT INTO user_roles(kind, name, resource, type, role) VALUES(?,?,?,?,?)";
static const char sql_binding_update[] =
	"UPDATE user_roles SET role = ? WHERE kind = ? AND type = ? AND resource = ? AND name = ?";
static const char sql_binding_delete[] =
	"DELETE FROM user_roles WHERE kind = ? AND type = ? AND resource = ? AND name = ?";

static int ss_token_list(struct store *s, const char *type, const char *resource, json_t **ret)
{
	CONN_OR_FAIL(c, s);
	return db_list(c, false, sql_token_list, ret, "ss", type, resource);
}

static int ss_token_get(struct store *s, const char *type, const char *resource, const char *name, json_t **ret)
{
	CONN_OR_FAIL(c, s);
	return db_row(c, sql_token_get, ret, "sss", type, resource, name);
}

static int ss_token_insert(struct store *s, const json_t *t)
{
	int r;
	CONN_OR_FAIL(c, s);
	r = db_exec(c, sql_token_insert, "jjjjjjjj", json_object_get(t, "id"), json_object_get(t, "name"),
		   json_object_get(t, "resource"), json_object_get(t, "type"), json_object_get(t, "role"),
		   json_object_get(t, "expireDate"), json_object_get(t, "tokenHash"), json_object_get(t, "createDate"));
	return r < 0 ? r : 0;
}

static int ss_token_update(struct store *s, const json_t *t)
{
	int r;
	CONN_OR_FAIL(c, s);
	r = db_exec(c, sql_token_update, "jjjjj", json_object_get(t, "role"), json_object_get(t, "expireDate"),
		   json_object_get(t, "type"), json_object_get(t, "resource"), json_object_get(t, "name"));
	if (r < 0)
		return r;
	return r == 0 ? -ENOENT : 0;
}

static int ss_token_delete(struct store *s, const char *type, const char *resource, const char *name)
{
	int r;
	CONN_OR_FAIL(c, s);
	r = db_exec(c, sql_token_delete, "sss", type, resource, name);
	if (r < 0)
		return r;
	return r == 0 ? -ENOENT : 0;
}

static int ss_binding_list(struct store *s, const char *kind, const char *type, const char *resource,
			       json_t **ret)
{
	CONN_OR_FAIL(c, s);
	return db_list(c, false, sql_binding_list, ret, "sss", kind, type, resource);
}

static int ss_binding_get(struct store *s, const char *kind, const char *type, const char *resource,
			      const char *name, json_t **ret)
{
	CONN_OR_FAIL(c, s);
	return db_row(c, sql_binding_get, ret, "ssss", kind, type, resource, name);
}

static int ss_binding_of(struct store *s, const char *kind, const char *name, json_t **ret)
{
	CONN_OR_FAIL(c, s);
	return db_list(c, false, sql_binding_of, ret, "ss", kind, name);
}

static int ss_binding_insert(struct store *s, const char *kind, const json_t *b)
{
	int r;
	CONN_OR_FAIL(c, s);
	r = db_exec(c, sql_binding_insert, "sjjjj", kind, json_object_get(b, "name"), json_object_get(b, "resource"),
		   json_object_get(b, "type"), json_object_get(b, "role"));
	return r < 0 ? r : 0;
}

static int ss_binding_update(struct store *s, const char *kind, const json_t *b)
{
	int r;
	CONN_OR_FAIL(c, s);
	r = db_exec(c, sql_binding_update, "jsjjj", json_object_get(b, "role"), kind, json_object_get(b, "type"),
		   json_object_get(b, "resource"), json_object_get(b, "name"));
	if (r < 0)
		return r;
	return r == 0 ? -ENOENT : 0;
}

static int ss_binding_delete(struct store *s, const char *kind, const char *type, const char *resource,
				 const char *name)
{
	int r;
	CONN_OR_FAIL(c, s);
	r = db_exec(c, sql_binding_delete, "ssss", kind, type, resource, name);
	if (r < 0)
		return r;
	return r == 0 ? -ENOENT : 0;
}

/* ---- builds ---------------------------------------------------------------------------------- */

#define BUILD_COLS                                                                                                     \
	"id, name, artifactUrl, type, repo, branch, \"commit\", commitShort, commitInfo, commitDate, publishInfo, "   \
	"publishDate, publisher, artifactSha256, artifactSignature"
static const char *const build_cols[] = { "id",          "name",        "artifactUrl", "type",       "repo",
					   "branch",      "commit",      "commitShort", "commitInfo", "commitDate",
					   "publishInfo", "publishDate", "publisher",   "artifactSha256",
					   "artifactSignature" };
static const char sql_build_insert[] = "INSERT INTO builds(" BUILD_COLS ") VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
static const char sql_build_get[] = "SELECT " BUILD_COLS " FROM builds WHERE id = ?";
static const char sql_build_list[] =
	"SELECT " BUILD_COLS " FROM builds WHERE (substr(\"commit\", 1, 7) = substr(?1, 1, 7) OR ?1 IS NULL) "
	"AND (name = ?2 OR ?2 IS NULL) AND (branch = ?3 OR ?3 IS NULL) AND (publishDate <= ?4 OR ?4 IS NULL) "
	"AND (publishDate > ?5 OR ?5 IS NULL) ORDER BY publishDate DESC, seq DESC LIMIT ?6 OFFSET ?7";
#define BUILD_NAMES(INSTR)                                                                                             \
	"SELECT DISTINCT name FROM builds WHERE (" INSTR "(name, ?1) > 0 OR ?1 IS NULL) ORDER BY name ASC LIMIT ?2 "    \
	"OFFSET ?3"
static const struct dsql sql_build_names = { BUILD_NAMES("instr"), BUILD_NAMES("strpos") };
static const char sql_build_branches[] = "SELECT DISTINCT branch FROM builds WHERE name = ? ORDER BY branch";
static const char sql_build_refs[] = "SELECT count(*) FROM deploys WHERE buildId = ?";
static const char sql_build_delete[] = "DELETE FROM builds WHERE id = ?";

static int ss_build_insert(struct store *s, const json_t *b)
{
	int r;
	CONN_OR_FAIL(c, s);
	r = db_exec_cols(c, sql_build_insert, build_cols, ELEMENTSOF(build_cols), b, NULL);
	return r < 0 ? r : 0;
}

static int ss_build_get(struct store *s, const char *id, json_t **ret)
{
	CONN_OR_FAIL(c, s);
	return db_row(c, sql_build_get, ret, "s", id);
}

static int ss_build_list(struct store *s, const struct build_query *q, json_t **ret)
{
	int64_t limit = q->limit > 0 ? q->limit : 5000, offset = q->limit > 0 ? q->offset : 0;
	CONN_OR_FAIL(c, s);

	if (q->before >= 0 && q->after >= 0)
		return db_list(c, false, sql_build_list, ret, "sssiiii", q->commit, q->name, q->branch, q->before,
			      q->after, limit, offset);
	if (q->before >= 0)
		return db_list(c, false, sql_build_list, ret, "sssinii", q->commit, q->name, q->branch, q->before,
			      limit, offset);
	if (q->after >= 0)
		return db_list(c, false, sql_build_list, ret, "sssniii", q->commit, q->name, q->branch, q->after,
			      limit, offset);
	return db_list(c, false, sql_build_list, ret, "sssnnii", q->commit, q->name, q->branch, limit, offset);
}

static int ss_build_names(struct store *s, const char *filter, int64_t offset, int64_t limit, json_t **ret)
{
	CONN_OR_FAIL(c, s);
	return db_list(c, true, SQL(c, sql_build_names), ret, "sii", filter, limit, offset);
}

static int ss_build_branches(struct store *s, const char *name, json_t **ret)
{
	CONN_OR_FAIL(c, s);
	return db_list(c, true, sql_build_branches, ret, "s", name);
}

static int ss_build_delete(struct store *s, const char *id)
{
	int64_t n;
	int r;
	CONN_OR_FAIL(c, s);

	r = db_begin(c, DB_LOCK_GLOBAL);
	if (r < 0)
		return r;
	r = db_int(c, sql_build_refs, &n, "s", id);
	if (r >= 0 && n > 0)
		r = -EBUSY;
	if (r >= 0) {
		r = db_exec(c, sql_build_delete, "s", id);
		if (r == 0)
			r = -ENOENT;
	}
	return db_end(c, r < 0 ? r : 0);
}

/* ---- envs ------------------------------------------------------------------------------------ */

#define ENV_COLS_MUTABLE                                                                                               \
	"description, buildName, branch, chatroom, emailRecipients, watchRecipients, groupMentionRecipients, "        \
	"notifyAuthors, maxParallel, maxParallelPct, priority, systemPriority, stuckThreshold, successThreshold, "    \
	"acceptanceType, maxDeployNum, maxDeployDay, isDocker, stageType, lastOperator, lastUpdate, failurePolicy, "  \
	"signingKey, overridePolicy, clusterName, maxParallelRp, deployConstraintId, externalId, projectName, "       \
	"terminationLimit, allowPrivateBuild, ensureTrustedBuild, isSOX, useEntitlements"
static const char *const env_cols[] = {
	"id",                 "envName",        "stageName",         "envState",       "state",
	"deployId",           "deployType",     "description",       "buildName",      "branch",
	"chatroom",           "emailRecipients", "watchRecipients",  "groupMentionRecipients",
	"notifyAuthors",      "maxParallel",    "maxParallelPct",    "priority",       "systemPriority",
	"stuckThreshold",     "successThreshold", "acceptanceType",  "maxDeployNum",   "maxDeployDay",
	"isDocker",           "stageType",      "lastOperator",      "lastUpdate",     "failurePolicy",
	"signingKey",         "overridePolicy", "clusterName",       "maxParallelRp",  "deployConstraintId",
	"externalId",         "projectName",    "terminationLimit",  "allowPrivateBuild", "ensureTrustedBuild",
	"isSOX",              "useEntitlements",
};
static const char sql_env_insert[] =
	"INSERT INTO envs(id, envName, stageName, envState, state, deployId, deployType, " ENV_COLS_MUTABLE
	") VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
static const char sql_env_update[] =
	"UPDATE envs SET (" ENV_COLS_MUTABLE ") = (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?), "
	"version = version + 1 WHERE id = ?";
#define ENV_SELECT                                                                                                     \
	"SELECT e.id, e.envName, e.stageName, e.envState, e.state, e.deployId, e.deployType, " ENV_COLS_MUTABLE ", "  \
	"(SELECT x.id FROM env_configs x WHERE x.envId = e.id AND x.kind = 'agent') AS advancedConfigId, "            \
	"(SELECT x.id FROM env_configs x WHERE x.envId = e.id AND x.kind = 'script') AS scriptConfigId, "             \
	"(SELECT x.id FROM env_configs x WHERE x.envId = e.id AND x.kind = 'webhooks') AS webhooksConfigId, "         \
	"(SELECT x.id FROM env_configs x WHERE x.envId = e.id AND x.kind = 'metrics') AS metricsConfigId, "           \
	"(SELECT x.id FROM env_configs x WHERE x.envId = e.id AND x.kind = 'alarms') AS alarmConfigId, "              \
	"(SELECT x.id FROM schedules x WHERE x.envId = e.id) AS scheduleId FROM envs e "
static const char sql_env_get[] = ENV_SELECT "WHERE e.envName = ? AND e.stageName = ?";
static const char sql_env_get_id[] = ENV_SELECT "WHERE e.id = ?";
static const char sql_env_list_name[] =
	ENV_SELECT "WHERE e.envName = ?1 AND (e.stageType = ?2 OR ?2 IS NULL) ORDER BY e.stageName";
static const char sql_env_list_group[] =
	ENV_SELECT "WHERE e.id IN (SELECT envId FROM capacity WHERE type = 'GROUP' AND name = ?) "
		   "ORDER BY e.envName, e.stageName";
static const char sql_env_list_all[] = ENV_SELECT "ORDER BY e.envName, e.stageName";
#define ENV_NAMES(INSTR)                                                                                               \
	"SELECT DISTINCT envName FROM envs WHERE (" INSTR "(envName, ?1) > 0 OR ?1 IS NULL) ORDER BY envName "         \
	"LIMIT ?2 OFFSET ?3"
static const struct dsql sql_env_names = { ENV_NAMES("instr"), ENV_NAMES("strpos") };
static const struct dsql sql_env_collide = {
	"SELECT count(*) FROM envs WHERE (envName = ?1 COLLATE NOCASE AND envName <> ?1) OR "
	"(envName = ?1 AND stageName = ?2 COLLATE NOCASE)",
	"SELECT count(*) FROM envs WHERE (lower(envName) = lower(?1) AND envName <> ?1) OR "
	"(envName = ?1 AND lower(stageName) = lower(?2))",
};
static const char sql_env_release_parked_envs[] =
	"UPDATE agents SET holdsSlot = 0, version = version + 1 WHERE envId = ? AND state = 'PAUSED_BY_SYSTEM' "
	"AND holdsSlot = 1";
static const char sql_env_cap_count[] = "SELECT count(*) FROM capacity WHERE envId = ?";
static const char sql_env_agent_count[] = "SELECT count(*) FROM agents WHERE envId = ?";
static const char sql_env_delete[] = "DELETE FROM envs WHERE id = ?";
static const char sql_env_delete_configs[] = "DELETE FROM env_configs WHERE envId = ?";
static const char sql_env_delete_history[] = "DELETE FROM config_history WHERE id = ?";
static const char sql_env_delete_promote[] = "DELETE FROM promotes WHERE envId = ?";
static const char sql_env_delete_schedule[] = "DELETE FROM schedules WHERE envId = ?";
static const char sql_env_name_of[] = "SELECT envName FROM envs WHERE id = ?";
static const char sql_env_stage_count[] = "SELECT count(*) FROM envs WHERE envName = ?";
/* the env's own principals go with its last stage: a later env of the same name starts with none */
static const char sql_env_delete_tokens[] = "DELETE FROM tokens WHERE type = 'ENV' AND lower(resource) = lower(?)";
static const char sql_env_delete_bindings[] =
	"DELETE FROM user_roles WHERE type = 'ENV' AND lower(resource) = lower(?)";
static const char sql_env_set_state[] = "UPDATE envs SET envState = ?, version = version + 1 WHERE id = ?";
static const char sql_env_resume_deploy[] =
	"UPDATE deploys SET lastUpdateDate = ?1 WHERE id = (SELECT deployId FROM envs WHERE id = ?2)";
static const char sql_history_list[] = "SELECT id, changeId, createTime, operator, type, configChange FROM "
				       "config_history WHERE id = ? ORDER BY createTime DESC, seq DESC LIMIT ? OFFSET ?";

static int ss_env_insert(struct store *s, const json_t *env, const json_t *history)
{
	int64_t n;
	int r;
	CONN_OR_FAIL(c, s);

	r = db_begin(c, DB_LOCK_GLOBAL);
	if (r < 0)
		return r;
	r = db_int(c, SQL(c, sql_env_collide), &n, "jj", json_object_get(env, "envName"), json_object_get(env, "stageName"));
	if (r >= 0 && n > 0)
		r = -EEXIST;
	if (r >= 0)
		r = db_exec_cols(c, sql_env_insert, env_cols, ELEMENTSOF(env_cols), env, NULL);
	if (r >= 0)
		r = hist_add(c, history);
	return db_end(c, r < 0 ? r : 0);
}

static int ss_env_get(struct store *s, const char *env_name, const char *stage_name, json_t **ret)
{
	CONN_OR_FAIL(c, s);
	return db_row(c, sql_env_get, ret, "ss", env_name, stage_name);
}

static int ss_env_get_by_id(struct store *s, const char *id, json_t **ret)
{
	CONN_OR_FAIL(c, s);
	return db_row(c, sql_env_get_id, ret, "s", id);
}

static int ss_env_list(struct store *s, const char *env_name, const char *stage_type, const char *group,
			   json_t **ret)
{
	CONN_OR_FAIL(c, s);
	if (env_name)
		return db_list(c, false, sql_env_list_name, ret, "ss", env_name, stage_type);
	if (group)
		return db_list(c, false, sql_env_list_group, ret, "s", group);
	return db_list(c, false, sql_env_list_all, ret, NULL);
}

static int ss_env_names(struct store *s, const char *filter, int64_t offset, int64_t limit, json_t **ret)
{
	CONN_OR_FAIL(c, s);
	return db_list(c, true, SQL(c, sql_env_names), ret, "sii", filter, limit, offset);
}

static int ss_env_update(struct store *s, const json_t *env, const json_t *history, bool release_parked)
{
	const char *id = json_string_value(json_object_get(env, "id"));
	int r;
	CONN_OR_FAIL(c, s);

	if (!id)
		return -EINVAL;
	r = db_begin(c, DB_LOCK_GLOBAL);
	if (r < 0)
		return r;
	/* env_cols[7..] are the mutable columns, in ENV_COLS_MUTABLE order */
	r = db_exec_cols(c, sql_env_update, env_cols + 7, ELEMENTSOF(env_cols) - 7, env, id);
	if (r == 0)
		r = -ENOENT;
	if (r >= 0 && release_parked) {
		r = db_exec(c, sql_env_release_parked_envs, "s", id);
		if (r > 0)
			r = ev_add(c, "SLOT", id, NULL, NULL);
	}
	if (r >= 0)
		r = hist_add(c, history);
	if (r >= 0)
		r = ev_add(c, "ENV", id, NULL, NULL);
	return db_end(c, r < 0 ? r : 0);
}

static int ss_env_delete(struct store *s, const char *id)
{
	static const char *const cleanup[] = { sql_env_delete_configs, sql_env_delete_history, sql_env_delete_promote,
					       sql_env_delete_schedule };
	json_t *row = NULL, *name;
	int64_t n1 = 0, n2 = 0, left = 0;
	int r;
	CONN_OR_FAIL(c, s);

	r = db_begin(c, DB_LOCK_GLOBAL);
	if (r < 0)
		return r;
	r = db_row(c, sql_env_name_of, &row, "s", id);
	name = json_object_get(row, "envName");
	if (r >= 0)
		r = db_int(c, sql_env_cap_count, &n1, "s", id);
	if (r >= 0)
		r = db_int(c, sql_env_agent_count, &n2, "s", id);
	if (r >= 0 && (n1 > 0 || n2 > 0))
		r = -EBUSY;
	if (r >= 0)
		r = db_exec(c, sql_env_delete, "s", id);
	for (size_t i = 0; r >= 0 && i < ELEMENTSOF(cleanup); i++)
		r = db_exec(c, cleanup[i], "s", id);
	if (r >= 0)
		r = db_int(c, sql_env_stage_count, &left, "j", name);
	if (r >= 0 && left == 0)
		r = db_exec(c, sql_env_delete_tokens, "j", name);
	if (r >= 0 && left == 0)
		r = db_exec(c, sql_env_delete_bindings, "j", name);
	json_decref(row);
	return db_end(c, r < 0 ? r : 0);
}

static int ss_env_set_state(struct store *s, const char *id, const char *env_state, bool resume_now,
				const json_t *history)
{
	int r;
	CONN_OR_FAIL(c, s);

	r = db_begin(c, DB_LOCK_GLOBAL);
	if (r < 0)
		return r;
	r = db_exec(c, sql_env_set_state, "ss", env_state, id);
	if (r == 0)
		r = -ENOENT;
	if (r >= 0 && resume_now)
		r = db_exec(c, sql_env_resume_deploy, "is", (int64_t)now_ms(), id);
	if (r >= 0)
		r = hist_add(c, history);
	if (r >= 0)
		r = ev_add(c, "ENV", id, NULL, NULL);
	return db_end(c, r < 0 ? r : 0);
}

static int ss_history_list(struct store *s, const char *env_id, int64_t offset, int64_t limit, json_t **ret)
{
	CONN_OR_FAIL(c, s);
	return db_list(c, false, sql_history_list, ret, "sii", env_id, limit, offset);
}

/* ---- capacity -------------------------------------------------------------------------------- */

static const char sql_cap_get[] = "SELECT name FROM capacity WHERE envId = ? AND type = ? ORDER BY name";
static const char sql_cap_clear[] = "DELETE FROM capacity WHERE envId = ? AND type = ?";
static const char sql_cap_add[] = "INSERT INTO capacity(envId, type, name) VALUES(?,?,?) ON CONFLICT DO NOTHING";
static const char sql_cap_remove[] = "DELETE FROM capacity WHERE envId = ? AND type = ? AND name = ?";

/* (name, envName) for every env whose capacity reaches one of the names ?1 (a JSON array): directly, or
 * a host through one of its groups, a group through one of its hosts (store.h, store_capacity_change) */
#define CAP_HOLDERS_HOST(JE)                                                                                           \
	"SELECT n.value AS name, e.envName FROM " JE("?1") " n JOIN capacity c ON c.type = 'HOST' AND "                \
	"c.name = n.value JOIN envs e ON e.id = c.envId UNION SELECT n.value AS name, e.envName FROM " JE("?1")        \
	" n JOIN hosts h ON h.hostName = n.value JOIN capacity c ON c.type = 'GROUP' AND c.name = h.groupName "        \
	"JOIN envs e ON e.id = c.envId"
#define CAP_HOLDERS_GROUP(JE)                                                                                          \
	"SELECT n.value AS name, e.envName FROM " JE("?1") " n JOIN capacity c ON c.type = 'GROUP' AND "               \
	"c.name = n.value JOIN envs e ON e.id = c.envId UNION SELECT n.value AS name, e.envName FROM " JE("?1")        \
	" n JOIN hosts h ON h.groupName = n.value JOIN capacity c ON c.type = 'HOST' AND c.name = h.hostName "         \
	"JOIN envs e ON e.id = c.envId"
static const struct dsql sql_cap_holders_host = DSQL_JE(CAP_HOLDERS_HOST);
static const struct dsql sql_cap_holders_group = DSQL_JE(CAP_HOLDERS_GROUP);

/* name → the first env other than own holding it, or true when own holds it (own wins) */
static int cap_holder_map(const json_t *rows, const char *own, json_t **ret)
{
	json_t *map = json_object(), *row;
	size_t i;

	if (!map)
		return -ENOMEM;
	json_array_foreach(rows, i, row) {
		const char *name = json_string_value(json_object_get(row, "name"));
		json_t *env = json_object_get(row, "envName"), *cur;
		if (!name || !json_is_string(env))
			continue;
		cur = json_object_get(map, name);
		if (streq(json_string_value(env), own))
			(void)json_object_set_new(map, name, json_true());
		else if (!cur)
			(void)json_object_set(map, name, env);
	}
	*ret = map;
	return 0;
}

static int cap_holders(struct db_conn *c, const char *type, const json_t *list, json_t **ret)
{
	return db_list(c, false, SQL(c, streq(type, "HOST") ? sql_cap_holders_host : sql_cap_holders_group), ret, "j",
		       list);
}

/* May env_name take names (a string or an array) of type into its capacity under claim? */
static int cap_claim_check(struct db_conn *c, const char *env_name, const char *type, const json_t *names,
			   enum store_claim claim, struct store_claim_refusal *refused)
{
	json_t *list, *rows = NULL, *map = NULL, *v;
	size_t i;
	int r;

	if (claim == STORE_CLAIM_ANY)
		return 0;
	list = json_is_array(names) ? json_incref((json_t *)names) : json_pack("[O]", names);
	if (!list)
		return -ENOMEM;
	r = cap_holders(c, type, list, &rows);
	if (r >= 0)
		r = cap_holder_map(rows, env_name, &map);
	json_array_foreach(list, i, v) {
		json_t *held = r >= 0 ? json_object_get(map, json_string_value(v)) : NULL;
		if (r < 0 || json_is_true(held) || (!held && claim == STORE_CLAIM_FREE))
			continue;
		if (refused) {
			(void)str_copy(refused->name, sizeof(refused->name), json_string_value(v));
			(void)str_copy(refused->env, sizeof(refused->env), held ? json_string_value(held) : "");
		}
		r = -EACCES;
		break;
	}
	json_decref(list);
	json_decref(rows);
	json_decref(map);
	return r;
}

static int cap_claim_check_env(struct db_conn *c, const char *env_id, const char *type, const json_t *names,
			       enum store_claim claim, struct store_claim_refusal *refused)
{
	json_t *own = NULL;
	int r;

	if (claim == STORE_CLAIM_ANY)
		return 0;
	r = db_row(c, sql_env_name_of, &own, "s", env_id);
	if (r >= 0)
		r = cap_claim_check(c, json_string_value(json_object_get(own, "envName")), type, names, claim, refused);
	json_decref(own);
	return r;
}

/* Putting host into group gives every env holding the group the host: each must be free to take it. */
static int host_group_check(struct db_conn *c, const json_t *host, const json_t *group, enum store_claim claim,
			    struct store_claim_refusal *refused)
{
	json_t *list, *rows = NULL, *row;
	size_t i;
	int r;

	if (claim == STORE_CLAIM_ANY)
		return 0;
	list = json_pack("[O]", group);
	if (!list)
		return -ENOMEM;
	r = cap_holders(c, "GROUP", list, &rows);
	json_array_foreach(rows, i, row) if (r >= 0) r = cap_claim_check(
		c, json_string_value(json_object_get(row, "envName")), "HOST", host, STORE_CLAIM_FREE, refused);
	json_decref(list);
	json_decref(rows);
	return r;
}

static int cap_event(struct db_conn *c, const char *env_id, const json_t *name)
{
	return ev_add(c, "CAPACITY", env_id, NULL, json_string_value(name));
}

static int ss_capacity_get(struct store *s, const char *env_id, const char *type, json_t **ret)
{
	CONN_OR_FAIL(c, s);
	return db_list(c, true, sql_cap_get, ret, "ss", env_id, type);
}

static int ss_capacity_change(struct store *s, const char *env_id, const char *type, enum store_capacity_op op,
				  const json_t *names, const json_t *history, enum store_claim claim,
				  struct store_claim_refusal *refused)
{
	json_t *old = NULL, *v;
	size_t i;
	int r;
	CONN_OR_FAIL(c, s);

	r = db_begin(c, DB_LOCK_GLOBAL);
	if (r < 0)
		return r;
	if (op != STORE_CAPACITY_REMOVE) {
		r = cap_claim_check_env(c, env_id, type, names, claim, refused);
		if (r < 0)
			return db_end(c, r);
	}
	switch (op) {
	case STORE_CAPACITY_REPLACE:
		r = db_list(c, true, sql_cap_get, &old, "ss", env_id, type);
		if (r >= 0)
			r = db_exec(c, sql_cap_clear, "ss", env_id, type);
		json_array_foreach(old, i, v) if (r >= 0) r = cap_event(c, env_id, v);
		json_array_foreach(names, i, v) {
			if (r >= 0)
				r = db_exec(c, sql_cap_add, "ssj", env_id, type, v);
			if (r >= 0)
				r = cap_event(c, env_id, v);
		}
		break;
	case STORE_CAPACITY_ADD:
		r = db_exec(c, sql_cap_add, "ssj", env_id, type, names);
		if (r >= 0)
			r = cap_event(c, env_id, names);
		break;
	case STORE_CAPACITY_REMOVE:
		r = db_exec(c, sql_cap_remove, "ssj", env_id, type, names);
		if (r >= 0)
			r = cap_event(c, env_id, names);
		break;
	}
	json_decref(old);
	if (r >= 0)
		r = hist_add(c, history);
	return db_end(c, r < 0 ? r : 0);
}

/* ---- configs --------------------------------------------------------------------------------- */

static const char sql_config_get[] = "SELECT value FROM env_configs WHERE envId = ? AND kind = ?";
static const char sql_config_put[] =
	"INSERT INTO env_configs(envId, kind, id, value) VALUES(?1, ?2, ?3, ?4) "
	"ON CONFLICT(envId, kind) DO UPDATE SET value = excluded.value";

static int ss_config_get(struct store *s, const char *env_id, enum store_config_kind kind, json_t **ret)
{
	json_t *row = NULL, *v;
	int r;
	CONN_OR_FAIL(c, s);

	r = db_row(c, sql_config_get, &row, "ss", env_id, store_config_kind_name(kind));
	if (r < 0)
		return r;
	r = json_parse_bounded(json_string_value(json_object_get(row, "value")),
			       json_string_length(json_object_get(row, "value")), &v, NULL, 0);
	json_decref(row);
	if (r < 0)
		return -EIO;
	*ret = v;
	return 0;
}

static int ss_config_put(struct store *s, const char *env_id, enum store_config_kind kind, const json_t *value,
			     const json_t *history)
{
	char id[ID_LEN + 1];
	int r;
	CONN_OR_FAIL(c, s);

	r = id_generate(id);
	if (r < 0)
		return r;
	r = db_begin(c, DB_LOCK_GLOBAL);
	if (r < 0)
		return r;
	r = db_exec(c, sql_config_put, "sssj", env_id, store_config_kind_name(kind), id, value);
	if (r >= 0)
		r = hist_add(c, history);
	if (r >= 0)
		r = ev_add(c, "ENV", env_id, NULL, NULL);
	return db_end(c, r < 0 ? r : 0);
}

/* ---- deploys --------------------------------------------------------------------------------- */

#define DEPLOY_COLS                                                                                                    \
	"d.id, d.alias, d.envId, d.buildId, d.type, d.state, d.startDate, d.operator, d.lastUpdateDate, "             \
	"d.description, d.successTotal, d.failTotal, d.total, d.successDate, d.acceptanceStatus, d.fromDeployId"
static const char sql_deploy_get[] = "SELECT " DEPLOY_COLS " FROM deploys d WHERE d.id = ?";
static const char sql_deploy_env_lock[] = "SELECT deployId FROM envs WHERE id = ?";
static const char sql_deploy_total[] = "SELECT count(*) FROM agents WHERE envId = ? AND state NOT IN "
				       "('UNREACHABLE', 'DELETE') AND removed = 0";
static const char sql_deploy_insert[] =
	"INSERT INTO deploys(id, alias, envId, buildId, type, state, startDate, operator, lastUpdateDate, "
	"description, successTotal, failTotal, total, successDate, acceptanceStatus, fromDeployId) "
	"VALUES(?, ?, ?, ?, ?, 'RUNNING', ?, ?, ?, ?, 0, 0, ?, NULL, 'PENDING_DEPLOY', ?)";
static const char sql_deploy_point_env[] =
	"UPDATE envs SET deployId = ?1, deployType = ?2, stageType = COALESCE(?3, stageType), "
	"version = version + 1 WHERE id = ?4";
static const char sql_deploy_finalize[] =
	"UPDATE deploys SET state = CASE state WHEN 'SUCCEEDING' THEN 'SUCCEEDED' WHEN 'RUNNING' THEN 'ABORTED' "
	"WHEN 'FAILING' THEN 'ABORTED' ELSE state END, acceptanceStatus = CASE WHEN acceptanceStatus IN "
	"('ACCEPTED', 'REJECTED', 'TERMINATED') THEN acceptanceStatus ELSE 'TERMINATED' END WHERE id = ?";
static const char sql_deploy_promote_off[] = "UPDATE promotes SET type = 'MANUAL', lastUpdate = ?2 WHERE envId = ?1 "
					     "AND type = 'AUTO' AND disablePolicy = 'AUTO'";
static const char sql_deploy_schedule_reset[] =
	"UPDATE schedules SET state = 'RUNNING', currentSession = 1, stateStartTime = ?2 WHERE envId = ?1";
#define DEPLOY_WHERE(JE)                                                                                               \
	"FROM deploys d LEFT JOIN builds b ON b.id = d.buildId WHERE "                                                 \
	"(d.envId IN (SELECT value FROM " JE("?1") ") OR ?1 IS NULL) "                                                 \
	"AND (d.operator IN (SELECT value FROM " JE("?2") ") OR ?2 IS NULL) "                                          \
	"AND (d.type IN (SELECT value FROM " JE("?3") ") OR ?3 IS NULL) "                                              \
	"AND (d.state IN (SELECT value FROM " JE("?4") ") OR ?4 IS NULL) "                                             \
	"AND (d.acceptanceStatus IN (SELECT value FROM " JE("?5") ") OR ?5 IS NULL) "                                  \
	"AND (d.buildId IN (SELECT value FROM " JE("?6") ") OR ?6 IS NULL) "                                           \
	"AND (b.repo = ?7 OR ?7 IS NULL) AND (b.branch = ?8 OR ?8 IS NULL) AND (b.commitDate >= ?9 OR ?9 IS NULL) "    \
	"AND (d.startDate <= ?10 OR ?10 IS NULL) AND (d.startDate >= ?11 OR ?11 IS NULL) "
#define DEPLOY_LIST(JE)                                                                                                \
	"SELECT " DEPLOY_COLS " " DEPLOY_WHERE(JE)                                                                     \
	"ORDER BY CASE WHEN ?12 THEN d.startDate END ASC, CASE WHEN ?12 THEN d.seq END ASC, "                          \
	"d.startDate DESC, d.seq DESC LIMIT ?13 OFFSET ?14"
static const struct dsql sql_deploy_list = DSQL_JE(DEPLOY_LIST);
#define DEPLOY_COUNT(JE) "SELECT count(*) " DEPLOY_WHERE(JE)
static const struct dsql sql_deploy_count = DSQL_JE(DEPLOY_COUNT);
static const char sql_deploy_accept[] =
	"UPDATE deploys SET acceptanceStatus = ?2, description = COALESCE(?3, description), lastUpdateDate = ?4 "
	"WHERE id = ?1";
static const char sql_deploy_since[] = "SELECT count(*) FROM deploys WHERE startDate >= ?";
static const char sql_deploy_succeeded[] =
	"SELECT " DEPLOY_COLS " FROM deploys d JOIN builds b ON b.id = d.buildId WHERE d.envId = ? AND "
	"d.state = 'SUCCEEDED' ORDER BY d.startDate DESC, d.seq DESC LIMIT 5000";
static const char sql_deploy_counts[] =
	"SELECT "
	"COALESCE(SUM(CASE WHEN state NOT IN ('UNREACHABLE', 'DELETE') AND removed = 0 THEN 1 ELSE 0 END), 0) AS t, "
	"COALESCE(SUM(CASE WHEN deployId = ?2 AND deployStage IN ('SERVING_BUILD', 'STOPPED') AND state NOT IN "
	"('PAUSED_BY_USER', 'PAUSED_BY_SYSTEM', 'UNREACHABLE') AND removed = 0 THEN 1 ELSE 0 END), 0) AS s, "
	"COALESCE(SUM(CASE WHEN deployId = ?2 AND state = 'PAUSED_BY_SYSTEM' AND removed = 0 THEN 1 ELSE 0 END), 0) AS f, "
	"COALESCE(SUM(CASE WHEN deployId = ?2 AND (deployStage = 'SERVING_BUILD' OR state IN ('PAUSED_BY_USER', "
	"'PAUSED_BY_SYSTEM')) THEN 1 ELSE 0 END), 0) AS p, "
	"COALESCE(SUM(CASE WHEN deployId = ?2 THEN 1 ELSE 0 END), 0) AS n FROM agents WHERE envId = ?1";
static const char sql_deploy_cas[] =
	"UPDATE deploys SET state = ?2, successTotal = ?3, failTotal = ?4, total = ?5, lastUpdateDate = ?6, "
	"successDate = ?7, acceptanceStatus = ?8 WHERE id = ?1 AND state = ?9";
static const char sql_deploy_append_desc[] =
	"UPDATE deploys SET description = substr(COALESCE(description, '') || ?2, 1, 2048) WHERE id = ?1";

static int ss_deploy_create(struct store *s, const struct deploy_create *d, json_t **ret)
{
	char id[ID_LEN + 1], lock_name[ID_LEN + 64];
	json_t *env = NULL, *dep = NULL;
	const char *prev;
	int64_t total = 0;
	int r;
	CONN_OR_FAIL(c, s);

	r = id_generate(id);
	if (r < 0)
		return r;
	r = db_begin(c, DB_LOCK_GLOBAL);
	if (r < 0)
		return r;
	/* §5.7: serialise with admission into this stage on every replica (a no-op on SQLite) */
	(void)snprintf(lock_name, sizeof(lock_name), "DEPLOY-%s", d->env_id);
	r = db_lock(c, db_lock_key(lock_name));
	if (r < 0)
		goto out;
	r = db_row(c, sql_deploy_env_lock, &env, "s", d->env_id);
	if (r < 0)
		goto out;
	prev = json_string_value(json_object_get(env, "deployId"));
	r = db_int(c, sql_deploy_total, &total, "s", d->env_id);
	if (r < 0)
		goto out;
	r = db_exec(c, sql_deploy_insert, "sssssisisis", id, d->alias, d->env_id, d->build_id,
		   deploy_type_to_string(d->type), d->now, d->operator_name, d->now, d->description, total,
		   d->from_deploy_id);
	if (r < 0)
		goto out;
	r = db_exec(c, sql_deploy_point_env, "ssss", id, deploy_type_to_string(d->type),
		   d->delivery_type >= 0 ? env_type_to_string(d->delivery_type) : NULL, d->env_id);
	if (r < 0)
		goto out;
	if (prev) {
		r = db_exec(c, sql_deploy_finalize, "s", prev);
		if (r < 0)
			goto out;
	}
	if (!streq_ptr(d->operator_name, "AutoPromoter")) {
		r = db_exec(c, sql_deploy_promote_off, "si", d->env_id, d->now);
		if (r > 0)
			r = hist_simple(c, d->env_id, d->operator_name, "Env Promote Config",
					"{\"type\":\"MANUAL\",\"reason\":\"deploy\"}");
		if (r < 0)
			goto out;
	}
	if (d->reset_schedule) {
		r = db_exec(c, sql_deploy_schedule_reset, "si", d->env_id, d->now);
		if (r < 0)
			goto out;
	}
	r = hist_simple(c, d->env_id, d->operator_name, "Env Action", d->history_change);
	if (r < 0)
		goto out;
	r = ev_add(c, "ENV", d->env_id, NULL, NULL);
	if (r < 0)
		goto out;
	r = db_row(c, sql_deploy_get, &dep, "s", id);
out:
	json_decref(env);
	r = db_end(c, r < 0 ? r : 0);
	if (r < 0) {
		json_decref(dep);
		return r;
	}
	*ret = dep;
	return 0;
}

static int ss_deploy_get(struct store *s, const char *id, json_t **ret)
{
	CONN_OR_FAIL(c, s);
	return db_row(c, sql_deploy_get, ret, "s", id);
}

static int ss_deploy_list(struct store *s, const json_t *q, json_t **ret)
{
	json_t *list = NULL, *res;
	int64_t total = 0;
	int r;
	CONN_OR_FAIL(c, s);

#define Q(k) json_object_get(q, k)
	r = db_list(c, false, SQL(c, sql_deploy_list), &list, "jjjjjjjjjjjjjj", Q("envId"), Q("operator"), Q("deployType"),
		   Q("deployState"), Q("acceptanceStatus"), Q("buildId"), Q("repo"), Q("branch"), Q("commitDate"),
		   Q("before"), Q("after"), Q("oldestFirst"), Q("limit"), Q("offset"));
	if (r < 0)
		return r;
	r = db_int(c, SQL(c, sql_deploy_count), &total, "jjjjjjjjjjj", Q("envId"), Q("operator"), Q("deployType"),
		  Q("deployState"), Q("acceptanceStatus"), Q("buildId"), Q("repo"), Q("branch"), Q("commitDate"),
		  Q("before"), Q("after"));
#undef Q
	if (r < 0) {
		json_decref(list);
		return r;
	}
	res = json_pack("{s:o,s:I}", "deploys", list, "total", (json_int_t)total);
	if (!res)
		return -ENOMEM;
	*ret = res;
	return 0;
}

static int ss_deploy_set_acceptance(struct store *s, const char *id, const char *status, const char *description,
					int64_t now)
{
	int r;
	CONN_OR_FAIL(c, s);
	r = db_exec(c, sql_deploy_accept, "sssi", id, status, description, now);
	if (r < 0)
		return r;
	return r == 0 ? -ENOENT : 0;
}

static int ss_deploy_count_since(struct store *s, int64_t since, int64_t *ret)
{
	CONN_OR_FAIL(c, s);
	return db_int(c, sql_deploy_since, ret, "i", since);
}

static int ss_deploy_list_succeeded(struct store *s, const char *env_id, json_t **ret)
{
	CONN_OR_FAIL(c, s);
	return db_list(c, false, sql_deploy_succeeded, ret, "s", env_id);
}

static int ss_deploy_counts(struct store *s, const char *env_id, const char *deploy_id, struct deploy_counts *ret)
{
	json_t *row = NULL;
	int r;
	CONN_OR_FAIL(c, s);

	r = db_row(c, sql_deploy_counts, &row, "ss", env_id, deploy_id);
	if (r < 0)
		return r;
	*ret = (struct deploy_counts){
		.total = json_integer_value(json_object_get(row, "t")),
		.succeeded = json_integer_value(json_object_get(row, "s")),
		.failed = json_integer_value(json_object_get(row, "f")),
		.schedule_progress = json_integer_value(json_object_get(row, "p")),
		.rows_on_deploy = json_integer_value(json_object_get(row, "n")),
	};
	json_decref(row);
	return 0;
}

static int ss_deploy_cas(struct store *s, const json_t *d, const char *old_state)
{
	int r;
	CONN_OR_FAIL(c, s);
#define D(k) json_object_get(d, k)
	r = db_exec(c, sql_deploy_cas, "jjjjjjjjs", D("id"), D("state"), D("successTotal"), D("failTotal"), D("total"),
		   D("lastUpdateDate"), D("successDate"), D("acceptanceStatus"), old_state);
#undef D
	if (r < 0)
		return r;
	return r > 0 ? 1 : 0;
}

static int ss_deploy_finalize(struct store *s, const char *id)
{
	int r;
	CONN_OR_FAIL(c, s);
	r = db_exec(c, sql_deploy_finalize, "s", id);
	return r < 0 ? r : 0;
}

static int ss_deploy_append_description(struct store *s, const char *id, const char *text)
{
	int r;
	CONN_OR_FAIL(c, s);
	r = db_exec(c, sql_deploy_append_desc, "ss", id, text);
	return r < 0 ? r : 0;
}

/* ---- agents ---------------------------------------------------------------------------------- */

#define AGENT_COLS                                                                                                     \
	"a.hostId, a.hostName, a.envId, a.deployId, a.deployStage, a.state, a.status, a.startDate, "                  \
	"a.lastUpdateDate, a.lastOperator, a.lastErrno, a.failCount, a.firstDeploy, a.firstDeployDate, "              \
	"a.stageStartDate, a.containerHealthStatus, a.holdsSlot, a.removed"
static const char sql_agent_list_env[] = "SELECT " AGENT_COLS " FROM agents a WHERE a.envId = ? ORDER BY a.hostName";
static const char sql_agent_list_name[] = "SELECT " AGENT_COLS " FROM agents a WHERE a.hostName = ? ORDER BY a.envId";
static const char sql_agent_list_id[] = "SELECT " AGENT_COLS " FROM agents a WHERE a.hostId = ? ORDER BY a.envId";
static const char sql_agent_error[] =
	"SELECT hostId, hostName, envId, errorMessage FROM agent_errors WHERE envId = ? AND hostName = ?";
#define SQL_AGENT_AFFECTED(JE)                                                                                         \
	"SELECT hostId, envId, holdsSlot FROM agents WHERE hostId IN (SELECT value FROM " JE("?1") ") "                \
	"AND (envId = ?2 OR ?2 IS NULL)"
static const struct dsql sql_agent_affected = DSQL_JE(SQL_AGENT_AFFECTED);
#define SQL_AGENT_PAUSE(JE)                                                                                            \
	"UPDATE agents SET state = 'PAUSED_BY_USER', holdsSlot = 0, lastUpdateDate = ?3, lastOperator = ?4, "          \
	"version = version + 1 WHERE hostId IN (SELECT value FROM " JE("?1") ") AND (envId = ?2 OR ?2 IS NULL)"
static const struct dsql sql_agent_pause = DSQL_JE(SQL_AGENT_PAUSE);
#define SQL_AGENT_RESET(JE)                                                                                            \
	"UPDATE agents SET state = 'RESET', removed = 0, lastUpdateDate = ?3, lastOperator = ?4, "                     \
	"version = version + 1 WHERE hostId IN (SELECT value FROM " JE("?1") ") AND (envId = ?2 OR ?2 IS NULL)"
static const struct dsql sql_agent_reset = DSQL_JE(SQL_AGENT_RESET);
#define SQL_AGENT_NORMAL(JE)                                                                                           \
	"UPDATE agents SET state = CASE WHEN removed = 1 OR state = 'STOP' THEN 'RESET' ELSE 'NORMAL' END, "           \
	"removed = 0, lastUpdateDate = ?3, lastOperator = ?4, version = version + 1 "                                  \
	"WHERE hostId IN (SELECT value FROM " JE("?1") ") AND (envId = ?2 OR ?2 IS NULL)"
static const struct dsql sql_agent_normal = DSQL_JE(SQL_AGENT_NORMAL);
static const char sql_agent_reset_failed[] =
	"UPDATE agents SET state = 'RESET', removed = 0, lastUpdateDate = ?3, lastOperator = ?4, version = version + 1 "
	"WHERE envId = ?1 AND ((deployId = ?2 AND status NOT IN ('SUCCEEDED', 'UNKNOWN') AND state <> 'RESET') "
	"OR removed = 1)";
static const char sql_agent_count[] =
	"SELECT count(*) FROM agents WHERE envId = ?1 AND CASE ?2 "
	"WHEN 0 THEN deployStage = 'SERVING_BUILD' "
	"WHEN 1 THEN deployStage = 'SERVING_BUILD' AND state = 'NORMAL' "
	"WHEN 2 THEN firstDeploy = 1 AND deployStage <> 'SERVING_BUILD' "
	"ELSE firstDeploy = 1 AND deployStage <> 'SERVING_BUILD' AND status NOT IN ('SUCCEEDED', 'UNKNOWN') END";
static const char sql_agent_total[] = "SELECT count(*) FROM agents WHERE envId = ?";
static const char sql_agent_hosts[] = "SELECT count(DISTINCT hostId) FROM agents";

static int ss_agent_list_env(struct store *s, const char *env_id, json_t **ret)
{
	CONN_OR_FAIL(c, s);
	return db_list(c, false, sql_agent_list_env, ret, "s", env_id);
}

static int ss_agent_list_env_text(struct store *s, const char *env_id, struct buf *out)
{
	CONN_OR_FAIL(c, s);
	return db_list_text(c, sql_agent_list_env, out, "s", env_id);
}

static int ss_agent_list_host(struct store *s, const char *host_name, const char *host_id, json_t **ret)
{
	CONN_OR_FAIL(c, s);
	if (host_name)
		return db_list(c, false, sql_agent_list_name, ret, "s", host_name);
	return db_list(c, false, sql_agent_list_id, ret, "s", host_id);
}

static int ss_agent_error_get(struct store *s, const char *env_id, const char *host_name, json_t **ret)
{
	CONN_OR_FAIL(c, s);
	return db_row(c, sql_agent_error, ret, "ss", env_id, host_name);
}

/* Events and history for rows about to change: HOST per host, SLOT per env where a slot is freed
 * (when frees_slot), `Host Action` history per env. */
static int agent_side_effects(struct db_conn *c, const json_t *affected, bool frees_slot, const char *action,
			      const char *operator_name)
{
	json_t *envs = json_object(), *hosts = json_object(), *row, *v;
	const char *k;
	size_t i;
	int r = 0;

	if (!envs || !hosts) {
		r = -ENOMEM;
		goto out;
	}
	json_array_foreach(affected, i, row) {
		const char *env_id = json_string_value(json_object_get(row, "envId"));
		const char *host_id = json_string_value(json_object_get(row, "hostId"));
		json_t *list = json_object_get(envs, env_id);
		if (!list) {
			list = json_array();
			if (!list || json_object_set_new(envs, env_id, list) < 0) {
				r = -ENOMEM;
				goto out;
			}
		}
		(void)json_array_append_new(list, json_string(host_id));
		if (!json_object_get(hosts, host_id)) {
			(void)json_object_set_new(hosts, host_id, json_true());
			r = ev_add(c, "HOST", env_id, host_id, NULL);
			if (r < 0)
				goto out;
		}
		if (frees_slot && json_is_true(json_object_get(row, "holdsSlot"))) {
			r = ev_add(c, "SLOT", env_id, host_id, NULL);
			if (r < 0)
				goto out;
		}
	}
	json_object_foreach(envs, k, v) {
		json_t *chg = json_pack("{s:s,s:O}", "action", action, "hostIds", v);
		char *txt = chg ? json_dumps(chg, JSON_COMPACT) : NULL;
		json_decref(chg);
		if (!txt) {
			r = -ENOMEM;
			goto out;
		}
		r = hist_simple(c, k, operator_name, "Host Action", txt);
		free(txt);
		if (r < 0)
			goto out;
	}
out:
	json_decref(envs);
	json_decref(hosts);
	return r;
}

static int ss_agent_action(struct store *s, const char *env_id, const json_t *host_ids, enum store_agent_action a,
			       const char *operator_name, int64_t now)
{
	static const char *const action_names[] = { "PAUSED_BY_USER", "RESET", "NORMAL" };
	static const struct dsql *const sqls[] = { &sql_agent_pause, &sql_agent_reset, &sql_agent_normal };
	json_t *affected = NULL;
	int r, n = 0;
	CONN_OR_FAIL(c, s);

	r = db_begin(c, DB_LOCK_GLOBAL);
	if (r < 0)
		return r;
	r = db_list(c, false, SQL(c, sql_agent_affected), &affected, "js", host_ids, env_id);
	if (r >= 0)
		r = n = db_exec(c, SQL(c, *sqls[a]), "jsis", host_ids, env_id, now, operator_name);
	if (r >= 0)
		r = agent_side_effects(c, affected, a == STORE_AGENT_PAUSE, action_names[a], operator_name);
	json_decref(affected);
	r = db_end(c, r < 0 ? r : 0);
	return r < 0 ? r : n;
}

static const char sql_agent_failed_rows[] =
	"SELECT hostId, envId, holdsSlot FROM agents WHERE envId = ?1 AND ((deployId = ?2 AND status NOT IN "
	"('SUCCEEDED', 'UNKNOWN') AND state <> 'RESET') OR removed = 1)";

static int ss_agent_reset_failed(struct store *s, const char *env_id, const char *deploy_id,
				     const char *operator_name, int64_t now)
{
	json_t *affected = NULL;
	int r;
	CONN_OR_FAIL(c, s);

	r = db_begin(c, DB_LOCK_GLOBAL);
	if (r < 0)
		return r;
	r = db_list(c, false, sql_agent_failed_rows, &affected, "ss", env_id, deploy_id);
	if (r >= 0)
		r = db_exec(c, sql_agent_reset_failed, "ssis", env_id, deploy_id, now, operator_name);
	if (r >= 0 && json_array_size(affected) > 0)
		r = agent_side_effects(c, affected, false, "RESET", operator_name);
	json_decref(affected);
	return db_end(c, r < 0 ? r : 0);
}

static int ss_agent_count(struct store *s, const char *env_id, enum store_agent_count what, int64_t *ret)
{
	CONN_OR_FAIL(c, s);
	return db_int(c, sql_agent_count, ret, "si", env_id, (int64_t)what);
}

static int ss_agent_total(struct store *s, const char *env_id, int64_t *ret)
{
	CONN_OR_FAIL(c, s);
	return db_int(c, sql_agent_total, ret, "s", env_id);
}

static int ss_agent_host_count(struct store *s, int64_t *ret)
{
	CONN_OR_FAIL(c, s);
	return db_int(c, sql_agent_hosts, ret, NULL);
}

/* ---- hosts ----------------------------------------------------------------------------------- */

#define HOST_COLS                                                                                                      \
	"h.hostName, h.groupName, h.ip, h.hostId, h.accountId, h.createDate, h.lastUpdateDate, h.state, h.canRetire, " \
	"CASE WHEN h.state IN ('PENDING_TERMINATE', 'PENDING_TERMINATE_NO_REPLACE') THEN 1 ELSE 0 END "               \
	"AS pendingTerminate__bool, hb.lastSeen, hb.agentVersion"
#define HOST_IN_ENV                                                                                                    \
	"(h.hostName IN (SELECT name FROM capacity WHERE envId = ?1 AND type = 'HOST') OR h.groupName IN "           \
	"(SELECT name FROM capacity WHERE envId = ?1 AND type = 'GROUP'))"
static const char sql_host_list_env[] = "SELECT " HOST_COLS " FROM hosts h LEFT JOIN heartbeats hb ON hb.hostId = "
					"h.hostId WHERE " HOST_IN_ENV " AND (h.hostName = ?2 OR ?2 IS NULL) "
					"ORDER BY h.hostName, h.groupName";
static const char sql_host_list_name[] = "SELECT " HOST_COLS " FROM hosts h LEFT JOIN heartbeats hb ON hb.hostId = "
					 "h.hostId WHERE h.hostName = ? ORDER BY h.groupName";
static const char sql_host_list_id[] = "SELECT " HOST_COLS " FROM hosts h LEFT JOIN heartbeats hb ON hb.hostId = "
				       "h.hostId WHERE h.hostId = ? ORDER BY h.groupName";
#define SQL_HOST_MISSING_IN_ENV(JE)                                                                                    \
	"SELECT value FROM " JE("?1") " WHERE value NOT IN (SELECT hostId FROM agents WHERE envId = ?2)"
static const struct dsql sql_host_missing_in_env = DSQL_JE(SQL_HOST_MISSING_IN_ENV);
#define SQL_HOST_STOP_ROWS(JE)                                                                                         \
	"SELECT hostId, envId, holdsSlot FROM agents WHERE hostId IN (SELECT value FROM " JE("?1") ")"
static const struct dsql sql_host_stop_rows = DSQL_JE(SQL_HOST_STOP_ROWS);
#define SQL_HOST_STOP_AGENTS(JE)                                                                                       \
	"UPDATE agents SET state = 'STOP', holdsSlot = 0, lastUpdateDate = ?2, lastOperator = ?3, "                    \
	"version = version + 1 WHERE hostId IN (SELECT value FROM " JE("?1") ")"
static const struct dsql sql_host_stop_agents = DSQL_JE(SQL_HOST_STOP_AGENTS);
#define SQL_HOST_STOP_HOSTS(JE)                                                                                        \
	"UPDATE hosts SET state = ?2, lastUpdateDate = ?3 WHERE hostId IN "                                            \
	"(SELECT value FROM " JE("?1") ")"
static const struct dsql sql_host_stop_hosts = DSQL_JE(SQL_HOST_STOP_HOSTS);
static const char sql_host_register[] =
	"INSERT INTO hosts(hostName, groupName, ip, hostId, accountId, createDate, lastUpdateDate, state, canRetire) "
	"VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?6, 'PROVISIONED', 0) ON CONFLICT(hostId, groupName) DO UPDATE SET "
	"hostName = excluded.hostName, ip = COALESCE(excluded.ip, hosts.ip), "
	"accountId = COALESCE(excluded.accountId, hosts.accountId), lastUpdateDate = excluded.lastUpdateDate";
static const char sql_host_update[] =
	"UPDATE hosts SET ip = COALESCE(?2, ip), state = COALESCE(?3, state), accountId = COALESCE(?4, accountId), "
	"lastUpdateDate = ?5 WHERE hostId = ?1";
#define SQL_HOST_ACTIVE(JE)                                                                                            \
	"SELECT DISTINCT hostId FROM hosts WHERE state = 'ACTIVE' AND hostId IN "                                      \
	"(SELECT value FROM " JE("?1") ") ORDER BY hostId"
static const struct dsql sql_host_active = DSQL_JE(SQL_HOST_ACTIVE);
static const char sql_progress_missing[] =
	"SELECT name FROM capacity WHERE envId = ? AND type = 'HOST' AND name NOT IN (SELECT hostName FROM "
	"heartbeats) ORDER BY name";
static const char sql_progress_provisioning[] =
	"SELECT " HOST_COLS " FROM hosts h JOIN heartbeats hb ON hb.hostId = h.hostId WHERE " HOST_IN_ENV
	" AND h.hostId NOT IN (SELECT hostId FROM agents WHERE envId = ?1) ORDER BY h.hostName, h.groupName";
static const char sql_progress_removed[] = "SELECT hostName FROM agents WHERE envId = ? AND removed = 1 ORDER BY "
					   "hostName";

static int ss_host_list_env(struct store *s, const char *env_id, const char *host_name, json_t **ret)
{
	CONN_OR_FAIL(c, s);
	return db_list(c, false, sql_host_list_env, ret, "ss", env_id, host_name);
}

static int ss_host_list(struct store *s, const char *host_name, const char *host_id, json_t **ret)
{
	CONN_OR_FAIL(c, s);
	if (host_name)
		return db_list(c, false, sql_host_list_name, ret, "s", host_name);
	return db_list(c, false, sql_host_list_id, ret, "s", host_id);
}

static int ss_host_stop(struct store *s, const char *env_id, const json_t *host_ids, bool replace,
			    const char *operator_name, int64_t now)
{
	json_t *missing = NULL, *affected = NULL;
	int r;
	CONN_OR_FAIL(c, s);

	r = db_begin(c, DB_LOCK_GLOBAL);
	if (r < 0)
		return r;
	if (env_id) {
		r = db_list(c, true, SQL(c, sql_host_missing_in_env), &missing, "js", host_ids, env_id);
		if (r >= 0 && json_array_size(missing) > 0)
			r = -ENOENT;
	}
	if (r >= 0)
		r = db_list(c, false, SQL(c, sql_host_stop_rows), &affected, "j", host_ids);
	if (r >= 0)
		r = db_exec(c, SQL(c, sql_host_stop_agents), "jis", host_ids, now, operator_name);
	if (r >= 0)
		r = db_exec(c, SQL(c, sql_host_stop_hosts), "jsi", host_ids,
			   replace ? "PENDING_TERMINATE" : "PENDING_TERMINATE_NO_REPLACE", now);
	if (r >= 0)
		r = agent_side_effects(c, affected, true, "STOP", operator_name);
	json_decref(missing);
	json_decref(affected);
	return db_end(c, r < 0 ? r : 0);
}

static int ss_host_register(struct store *s, const json_t *h, enum store_claim claim,
			    struct store_claim_refusal *refused)
{
	int r;
	CONN_OR_FAIL(c, s);

	r = db_begin(c, DB_LOCK_GLOBAL);
	if (r < 0)
		return r;
	r = host_group_check(c, json_object_get(h, "hostName"), json_object_get(h, "groupName"), claim, refused);
	if (r >= 0)
		r = db_exec(c, sql_host_register, "jjjjji", json_object_get(h, "hostName"),
			    json_object_get(h, "groupName"), json_object_get(h, "ip"), json_object_get(h, "hostId"),
			    json_object_get(h, "accountId"), (int64_t)now_ms());
	return db_end(c, r < 0 ? r : 0);
}

static int ss_host_update(struct store *s, const char *host_id, const json_t *p, int64_t now)
{
	int r;
	CONN_OR_FAIL(c, s);
	r = db_exec(c, sql_host_update, "sjjji", host_id, json_object_get(p, "ip"), json_object_get(p, "state"),
		   json_object_get(p, "accountId"), now);
	if (r < 0)
		return r;
	return r == 0 ? -ENOENT : 0;
}

static int ss_host_active(struct store *s, const json_t *host_ids, json_t **ret)
{
	CONN_OR_FAIL(c, s);
	return db_list(c, true, SQL(c, sql_host_active), ret, "j", host_ids);
}

static int ss_progress_lists(struct store *s, const char *env_id, json_t **ret_missing,
				 json_t **ret_provisioning, json_t **ret_removed)
{
	json_t *m = NULL, *p = NULL, *rm = NULL;
	int r;
	CONN_OR_FAIL(c, s);

	r = db_list(c, true, sql_progress_missing, &m, "s", env_id);
	if (r >= 0 && ret_provisioning)
		r = db_list(c, false, sql_progress_provisioning, &p, "s", env_id);
	if (r >= 0 && ret_removed)
		r = db_list(c, true, sql_progress_removed, &rm, "s", env_id);
	if (r < 0) {
		json_decref(m);
		json_decref(p);
		json_decref(rm);
		return r;
	}
	*ret_missing = m;
	if (ret_provisioning)
		*ret_provisioning = p;
	if (ret_removed)
		*ret_removed = rm;
	return 0;
}

/* ---- tags, promotes, schedules --------------------------------------------------------------- */

static const char *const tag_cols[] = { "id",          "value",    "targetType", "targetId",
					"operator",    "createdDate", "comments", "metaInfo" };
static const char sql_tag_insert[] =
	"INSERT INTO tags(id, value, targetType, targetId, operator, createdDate, comments, metaInfo) "
	"VALUES(?,?,?,?,?,?,?,?)";
static const char sql_tag_list_target[] =
	"SELECT id, value, targetType, targetId, operator, createdDate, comments, metaInfo FROM tags "
	"WHERE targetId = ? ORDER BY createdDate DESC, seq DESC LIMIT ?";
static const char sql_tag_get[] = "SELECT id, value, targetType, targetId, operator, createdDate, comments, metaInfo "
				  "FROM tags WHERE id = ?";
static const char sql_tag_delete[] = "DELETE FROM tags WHERE id = ?";
static const char sql_tag_list_value[] =
	"SELECT id, value, targetType, targetId, operator, createdDate, comments, metaInfo FROM tags "
	"WHERE value = ? ORDER BY createdDate DESC, seq DESC LIMIT ?";
static const char sql_env_ids_all[] = "SELECT id FROM envs ORDER BY envName, stageName";
static const char sql_env_set_enabled[] = "UPDATE envs SET state = ?2, version = version + 1 WHERE id = ?1";
static const char sql_promote_get[] = "SELECT envId, type, predStage, queueSize, schedule, delay, disablePolicy, "
				      "failPolicy, lastOperator, lastUpdate FROM promotes WHERE envId = ?";
static const char *const promote_cols[] = { "envId", "type",          "predStage",  "queueSize",    "schedule",
					    "delay", "disablePolicy", "failPolicy", "lastOperator", "lastUpdate" };
static const char sql_promote_put[] =
	"INSERT INTO promotes(envId, type, predStage, queueSize, schedule, delay, disablePolicy, "
	"failPolicy, lastOperator, lastUpdate) VALUES(?,?,?,?,?,?,?,?,?,?) ON CONFLICT(envId) DO UPDATE SET "
	"type = excluded.type, predStage = excluded.predStage, queueSize = excluded.queueSize, "
	"schedule = excluded.schedule, delay = excluded.delay, disablePolicy = excluded.disablePolicy, "
	"failPolicy = excluded.failPolicy, lastOperator = excluded.lastOperator, lastUpdate = excluded.lastUpdate";
static const char sql_schedule_get[] = "SELECT id, totalSessions, cooldownTimes, hostNumbers, currentSession, state, "
				       "stateStartTime FROM schedules WHERE envId = ?";
static const char *const schedule_cols[] = { "id",          "envId",          "totalSessions", "cooldownTimes",
					     "hostNumbers", "currentSession", "state",         "stateStartTime" };
static const char sql_schedule_put[] =
	"INSERT INTO schedules(id, envId, totalSessions, cooldownTimes, hostNumbers, currentSession, state, "
	"stateStartTime) VALUES(?,?,?,?,?,?,?,?) ON CONFLICT(envId) DO UPDATE SET id = excluded.id, "
	"totalSessions = excluded.totalSessions, cooldownTimes = excluded.cooldownTimes, "
	"hostNumbers = excluded.hostNumbers, currentSession = excluded.currentSession, state = excluded.state, "
	"stateStartTime = excluded.stateStartTime";

static int ss_tag_insert(struct store *s, const json_t *t)
{
	int r;
	CONN_OR_FAIL(c, s);
	r = db_exec_cols(c, sql_tag_insert, tag_cols, ELEMENTSOF(tag_cols), t, NULL);
	return r < 0 ? r : 0;
}

static int ss_tag_list_target(struct store *s, const char *target_id, int64_t limit, json_t **ret)
{
	CONN_OR_FAIL(c, s);
	return db_list(c, false, sql_tag_list_target, ret, "si", target_id, limit);
}

static int ss_tag_get(struct store *s, const char *id, json_t **ret)
{
	CONN_OR_FAIL(c, s);
	return db_row(c, sql_tag_get, ret, "s", id);
}

static int ss_tag_delete(struct store *s, const char *id)
{
	int r;
	CONN_OR_FAIL(c, s);
	r = db_exec(c, sql_tag_delete, "s", id);
	if (r < 0)
		return r;
	return r == 0 ? -ENOENT : 0;
}

static int ss_tag_list_value(struct store *s, const char *value, int64_t limit, json_t **ret)
{
	CONN_OR_FAIL(c, s);
	return db_list(c, false, sql_tag_list_value, ret, "si", value, limit);
}

static int ss_env_set_enabled(struct store *s, const char *id, const char *state, const json_t *tag,
				  const char *operator_name, const char *change)
{
	json_t *ids = NULL, *v;
	size_t i;
	int r;
	CONN_OR_FAIL(c, s);

	r = db_begin(c, DB_LOCK_GLOBAL);
	if (r < 0)
		return r;
	if (id)
		ids = json_pack("[s]", id);
	else
		r = db_list(c, true, sql_env_ids_all, &ids, NULL);
	if (r >= 0 && !ids)
		r = -ENOMEM;
	json_array_foreach(ids, i, v) {
		if (r < 0)
			break;
		r = db_exec(c, sql_env_set_enabled, "ss", json_string_value(v), state);
		if (r == 0 && id)
			r = -ENOENT;
		if (r >= 0)
			r = hist_simple(c, json_string_value(v), operator_name, "Env Action", change);
		if (r >= 0)
			r = ev_add(c, "ENV", json_string_value(v), NULL, NULL);
	}
	if (r >= 0 && tag) {
		r = db_exec_cols(c, sql_tag_insert, tag_cols, ELEMENTSOF(tag_cols), tag, NULL);
	}
	json_decref(ids);
	return db_end(c, r < 0 ? r : 0);
}

static int ss_promote_get(struct store *s, const char *env_id, json_t **ret)
{
	CONN_OR_FAIL(c, s);
	return db_row(c, sql_promote_get, ret, "s", env_id);
}

static int ss_promote_put(struct store *s, const json_t *p, const json_t *history)
{
	int r;
	CONN_OR_FAIL(c, s);
	r = db_begin(c, DB_LOCK_GLOBAL);
	if (r < 0)
		return r;
	r = db_exec_cols(c, sql_promote_put, promote_cols, ELEMENTSOF(promote_cols), p, NULL);
	if (r >= 0)
		r = hist_add(c, history);
	return db_end(c, r < 0 ? r : 0);
}

static int ss_schedule_get(struct store *s, const char *env_id, json_t **ret)
{
	CONN_OR_FAIL(c, s);
	return db_row(c, sql_schedule_get, ret, "s", env_id);
}

static int ss_schedule_put(struct store *s, const json_t *sch)
{
	int r;
	CONN_OR_FAIL(c, s);
	r = db_begin(c, DB_LOCK_GLOBAL);
	if (r < 0)
		return r;
	r = db_exec_cols(c, sql_schedule_put, schedule_cols, ELEMENTSOF(schedule_cols), sch, NULL);
	if (r >= 0)
		r = ev_add(c, "ENV", json_string_value(json_object_get(sch, "envId")), NULL, NULL);
	return db_end(c, r < 0 ? r : 0);
}

static const char sql_promote_list_auto[] =
	"SELECT envId, type, predStage, queueSize, schedule, delay, disablePolicy, failPolicy, lastOperator, "
	"lastUpdate FROM promotes WHERE type = 'AUTO' AND predStage IS NOT NULL ORDER BY random()";

static int ss_promote_list_auto(struct store *s, json_t **ret)
{
	CONN_OR_FAIL(c, s);
	return db_list(c, false, sql_promote_list_auto, ret, NULL);
}

static const char sql_schedule_delete[] = "DELETE FROM schedules WHERE envId = ?";

static int ss_schedule_delete(struct store *s, const char *env_id)
{
	int r;
	CONN_OR_FAIL(c, s);
	r = db_begin(c, DB_LOCK_GLOBAL);
	if (r < 0)
		return r;
	r = db_exec(c, sql_schedule_delete, "s", env_id);
	if (r == 0)
		r = -ENOENT;
	if (r >= 0)
		r = ev_add(c, "ENV", env_id, NULL, NULL);
	return db_end(c, r < 0 ? r : 0);
}

static int ss_history_add(struct store *s, const json_t *h)
{
	CONN_OR_FAIL(c, s);
	return hist_add(c, h);
}

/* ---- events ---------------------------------------------------------------------------------- */

static const char sql_event_poll[] =
	"SELECT seq, kind, envId, hostId, name, createdAt FROM events WHERE seq > ? ORDER BY seq LIMIT ?";
static const char sql_event_last[] = "SELECT COALESCE(MAX(seq), 0) FROM events";
static const char sql_event_purge[] = "DELETE FROM events WHERE createdAt < ?";

static int ss_event_add(struct store *s, const char *kind, const char *env_id, const char *host_id,
			    const char *name)
{
	CONN_OR_FAIL(c, s);
	return ev_add(c, kind, env_id, host_id, name);
}

static int ss_event_poll(struct store *s, int64_t after_seq, int64_t limit, json_t **ret)
{
	CONN_OR_FAIL(c, s);
	return db_list(c, false, sql_event_poll, ret, "ii", after_seq, limit);
}

static int ss_event_last_seq(struct store *s, int64_t *ret)
{
	CONN_OR_FAIL(c, s);
	return db_int(c, sql_event_last, ret, NULL);
}

static int ss_event_purge(struct store *s, int64_t before)
{
	int r;
	CONN_OR_FAIL(c, s);
	r = db_exec(c, sql_event_purge, "i", before);
	return r < 0 ? r : 0;
}

/* ---- workers --------------------------------------------------------------------------------- */

static const char sql_env_transition[] = "SELECT id FROM envs WHERE deployId IS NOT NULL AND envState = 'NORMAL' "
					 "ORDER BY random()";
static const char sql_worker_last[] = "SELECT lastRun FROM worker_runs WHERE name = ?";
static const char sql_worker_set[] =
	"INSERT INTO worker_runs(name, lastRun) VALUES(?, ?) ON CONFLICT(name) DO UPDATE SET lastRun = excluded.lastRun";
static const char sql_hb_last_seen[] = "SELECT lastSeen FROM heartbeats WHERE hostId = ?";
static const char sql_jan_unreachable_rows[] =
	"SELECT hostId, envId, holdsSlot FROM agents WHERE state = 'NORMAL' AND hostId IN "
	"(SELECT hostId FROM heartbeats WHERE lastSeen < ?1)";
static const char sql_jan_unreachable[] =
	"UPDATE agents SET state = 'UNREACHABLE', lastUpdateDate = ?2, lastOperator = 'system', version = version + 1 "
	"WHERE state = 'NORMAL' AND hostId IN (SELECT hostId FROM heartbeats WHERE lastSeen < ?1)";
static const char sql_jan_release_rows[] =
	"SELECT hostId, envId FROM agents WHERE state = 'UNREACHABLE' AND holdsSlot = 1 AND hostId IN "
	"(SELECT hostId FROM heartbeats WHERE lastSeen < ?1)";
static const char sql_jan_release[] =
	"UPDATE agents SET holdsSlot = 0, version = version + 1 WHERE state = 'UNREACHABLE' AND holdsSlot = 1 AND "
	"hostId IN (SELECT hostId FROM heartbeats WHERE lastSeen < ?1)";
static const char sql_jan_expire_rows[] =
	"SELECT DISTINCT envId FROM agents WHERE hostId IN (SELECT hostId FROM heartbeats WHERE lastSeen < ?1)";
static const char sql_jan_expire_agents[] =
	"DELETE FROM agents WHERE hostId IN (SELECT hostId FROM heartbeats WHERE lastSeen < ?1)";
static const char sql_jan_expire_errors[] =
	"DELETE FROM agent_errors WHERE hostId IN (SELECT hostId FROM heartbeats WHERE lastSeen < ?1)";
static const char sql_jan_expire_hosts[] =
	"DELETE FROM hosts WHERE hostId IN (SELECT hostId FROM heartbeats WHERE lastSeen < ?1)";
static const char sql_jan_expire_hb[] = "DELETE FROM heartbeats WHERE lastSeen < ?1";
static const char sql_jan_expire_unseen[] =
	"DELETE FROM hosts WHERE createDate < ?1 AND hostId NOT IN (SELECT hostId FROM heartbeats)";
/* §8.4: per stage, among the deploys older than maxDeployDay that are not current, the oldest
 * (count - maxDeployNum), count being all deploys of the stage. */
static const char sql_ret_deploys[] =
	"DELETE FROM deploys WHERE id IN (SELECT x.id FROM (SELECT d.id, e.maxDeployNum, ROW_NUMBER() OVER "
	"(PARTITION BY d.envId ORDER BY d.startDate ASC, d.seq ASC) AS rn, (SELECT count(*) FROM deploys y "
	"WHERE y.envId = d.envId) AS cnt FROM deploys d JOIN envs e ON e.id = d.envId WHERE d.lastUpdateDate < "
	"?1 - e.maxDeployDay * 86400000 AND d.id IS DISTINCT FROM e.deployId) x WHERE x.rn <= x.cnt - x.maxDeployNum)";
/* §8.4: per build name, the oldest builds published more than build_days ago that no deploy
 * references, at most (count - build_keep) of them. */
static const char sql_ret_builds[] =
	"DELETE FROM builds WHERE id IN (SELECT x.id FROM (SELECT b.id, ROW_NUMBER() OVER (PARTITION BY b.name "
	"ORDER BY b.publishDate ASC, b.seq ASC) AS rn, (SELECT count(*) FROM builds y WHERE y.name = b.name) AS cnt "
	"FROM builds b WHERE b.publishDate < ?1 - ?3 * 86400000 AND NOT EXISTS (SELECT 1 FROM deploys d WHERE "
	"d.buildId = b.id)) x WHERE x.rn <= x.cnt - ?2)";
static const char sql_ret_history[] =
	"DELETE FROM config_history WHERE seq IN (SELECT x.seq FROM (SELECT seq, ROW_NUMBER() OVER (PARTITION BY id "
	"ORDER BY createTime DESC, seq DESC) AS rn FROM config_history) x WHERE x.rn > 1000)";
static const char sql_stats_deploys[] =
	"SELECT d.state AS k, count(*) AS n FROM envs e JOIN deploys d ON d.id = e.deployId GROUP BY d.state";
static const char sql_stats_unreachable[] =
	"SELECT count(DISTINCT hostId) FROM agents WHERE state = 'UNREACHABLE'";
static const char sql_stats_hosts[] = "SELECT count(*) FROM heartbeats";

static int ss_env_list_transition(struct store *s, json_t **ret)
{
	CONN_OR_FAIL(c, s);
	return db_list(c, true, sql_env_transition, ret, NULL);
}

static int ss_worker_claim(struct store *s, const char *unit, int64_t now, int64_t min_interval_ms)
{
	int64_t last = 0;
	int r;
	CONN_OR_FAIL(c, s);

	r = db_begin(c, DB_LOCK_GLOBAL);
	if (r < 0)
		return r;
	r = db_int(c, sql_worker_last, &last, "s", unit);
	if (r == -ENOENT) {
		last = INT64_MIN / 2;
		r = 0;
	}
	if (r >= 0) {
		if (now - last < min_interval_ms)
			r = 0;
		else {
			r = db_exec(c, sql_worker_set, "si", unit, now);
			if (r >= 0)
				r = 1;
		}
	}
	return db_end(c, r);
}

static int ss_heartbeat_last_seen(struct store *s, const char *host_id, int64_t *ret)
{
	CONN_OR_FAIL(c, s);
	return db_int(c, sql_hb_last_seen, ret, "s", host_id);
}

static int slot_events(struct db_conn *c, const json_t *rows, bool only_holders)
{
	json_t *row;
	size_t i;
	int r = 0;

	json_array_foreach(rows, i, row) {
		if (only_holders && !json_is_true(json_object_get(row, "holdsSlot")))
			continue;
		r = ev_add(c, "SLOT", json_string_value(json_object_get(row, "envId")),
			   json_string_value(json_object_get(row, "hostId")), NULL);
		if (r < 0)
			break;
	}
	return r;
}

static int ss_janitor_unreachable(struct store *s, int64_t silent_before, int64_t now, int64_t *ret_changed)
{
	json_t *rows = NULL, *row;
	size_t i;
	int r, n = 0;
	CONN_OR_FAIL(c, s);

	r = db_begin(c, DB_LOCK_GLOBAL);
	if (r < 0)
		return r;
	r = db_list(c, false, sql_jan_unreachable_rows, &rows, "i", silent_before);
	if (r >= 0)
		r = n = db_exec(c, sql_jan_unreachable, "ii", silent_before, now);
	json_array_foreach(rows, i, row) if (r >= 0) r = ev_add(c, "HOST", json_string_value(json_object_get(row, "envId")),
								  json_string_value(json_object_get(row, "hostId")), NULL);
	json_decref(rows);
	r = db_end(c, r < 0 ? r : 0);
	if (r < 0)
		return r;
	*ret_changed = n;
	return 0;
}

static int ss_janitor_release_slots(struct store *s, int64_t silent_before, int64_t now, int64_t *ret_changed)
{
	json_t *rows = NULL;
	int r, n = 0;
	CONN_OR_FAIL(c, s);

	(void)now;
	r = db_begin(c, DB_LOCK_GLOBAL);
	if (r < 0)
		return r;
	r = db_list(c, false, sql_jan_release_rows, &rows, "i", silent_before);
	if (r >= 0)
		r = n = db_exec(c, sql_jan_release, "i", silent_before);
	if (r >= 0)
		r = slot_events(c, rows, false);
	json_decref(rows);
	r = db_end(c, r < 0 ? r : 0);
	if (r < 0)
		return r;
	*ret_changed = n;
	return 0;
}

static int ss_janitor_expire(struct store *s, int64_t silent_before, int64_t *ret_deleted)
{
	static const char *const dels[] = { sql_jan_expire_agents, sql_jan_expire_errors, sql_jan_expire_hosts,
					    sql_jan_expire_hb, sql_jan_expire_unseen };
	json_t *envs = NULL, *v;
	size_t i;
	int r, n = 0;
	CONN_OR_FAIL(c, s);

	r = db_begin(c, DB_LOCK_GLOBAL);
	if (r < 0)
		return r;
	r = db_list(c, true, sql_jan_expire_rows, &envs, "i", silent_before);
	for (i = 0; r >= 0 && i < ELEMENTSOF(dels); i++) {
		r = db_exec(c, dels[i], "i", silent_before);
		if (r > 0 && i == 3)
			n = r;
	}
	json_array_foreach(envs, i, v) if (r >= 0) r = ev_add(c, "SLOT", json_string_value(v), NULL, NULL);
	json_decref(envs);
	r = db_end(c, r < 0 ? r : 0);
	if (r < 0)
		return r;
	*ret_deleted = n;
	return 0;
}

static int ss_retention_run(struct store *s, int64_t now, int64_t build_keep, int64_t build_days)
{
	int r;
	CONN_OR_FAIL(c, s);

	r = db_begin(c, DB_LOCK_GLOBAL);
	if (r < 0)
		return r;
	r = db_exec(c, sql_ret_deploys, "i", now);
	if (r >= 0)
		r = db_exec(c, sql_ret_builds, "iii", now, build_keep, build_days);
	if (r >= 0)
		r = db_exec(c, sql_ret_history, NULL);
	return db_end(c, r < 0 ? r : 0);
}

static int ss_stats(struct store *s, json_t **ret)
{
	json_t *rows = NULL, *row, *deploys = NULL, *res;
	int64_t unreachable = 0, hosts = 0;
	size_t i;
	int r;
	CONN_OR_FAIL(c, s);

	r = db_list(c, false, sql_stats_deploys, &rows, NULL);
	if (r >= 0)
		r = db_int(c, sql_stats_unreachable, &unreachable, NULL);
	if (r >= 0)
		r = db_int(c, sql_stats_hosts, &hosts, NULL);
	if (r < 0) {
		json_decref(rows);
		return r;
	}
	deploys = json_object();
	json_array_foreach(rows, i, row)
		(void)json_object_set(deploys, json_string_value(json_object_get(row, "k")), json_object_get(row, "n"));
	json_decref(rows);
	res = json_pack("{s:o,s:{s:I,s:I}}", "deploys", deploys, "hosts", "reachable",
			(json_int_t)(hosts > unreachable ? hosts - unreachable : 0), "unreachable",
			(json_int_t)unreachable);
	if (!res)
		return -ENOMEM;
	*ret = res;
	return 0;
}

#define STORE_SQL_OPS(NAME)                                                                                    \
	{                                                                                                      \
		.name = NAME,                                                                                  \
		.version = STORE_OPS_VERSION,                                                                 \
		.open = ss_open,                                                                              \
		.close = ss_close,                                                                            \
		.errmsg = ss_errmsg,                                                                          \
		.health = ss_health,                                                                          \
		.schema_version = ss_schema_version,                                                          \
		.token_bootstrap = ss_token_bootstrap,                                                        \
		.token_get_by_hash = ss_token_get_by_hash,                                                    \
		/* security (§4.10) */                                                                        \
		.token_list = ss_token_list,                                                                  \
		.token_get = ss_token_get,                                                                    \
		.token_insert = ss_token_insert,                                                              \
		.token_update = ss_token_update,                                                              \
		.token_delete = ss_token_delete,                                                              \
		.binding_list = ss_binding_list,                                                              \
		.binding_get = ss_binding_get,                                                                \
		.binding_of = ss_binding_of,                                                                  \
		.binding_insert = ss_binding_insert,                                                          \
		.binding_update = ss_binding_update,                                                          \
		.binding_delete = ss_binding_delete,                                                          \
		.build_insert = ss_build_insert,                                                              \
		.build_get = ss_build_get,                                                                    \
		.build_list = ss_build_list,                                                                  \
		.build_names = ss_build_names,                                                                \
		.build_branches = ss_build_branches,                                                          \
		.build_delete = ss_build_delete,                                                              \
		.env_insert = ss_env_insert,                                                                  \
		.env_get = ss_env_get,                                                                        \
		.env_get_by_id = ss_env_get_by_id,                                                            \
		.env_list = ss_env_list,                                                                      \
		.env_names = ss_env_names,                                                                    \
		.env_update = ss_env_update,                                                                  \
		.env_delete = ss_env_delete,                                                                  \
		.env_set_state = ss_env_set_state,                                                            \
		.history_list = ss_history_list,                                                              \
		.capacity_get = ss_capacity_get,                                                              \
		.capacity_change = ss_capacity_change,                                                        \
		.config_get = ss_config_get,                                                                  \
		.config_put = ss_config_put,                                                                  \
		.deploy_create = ss_deploy_create,                                                            \
		.deploy_get = ss_deploy_get,                                                                  \
		.deploy_list = ss_deploy_list,                                                                \
		.deploy_set_acceptance = ss_deploy_set_acceptance,                                            \
		.deploy_count_since = ss_deploy_count_since,                                                  \
		.deploy_list_succeeded = ss_deploy_list_succeeded,                                            \
		.deploy_counts = ss_deploy_counts,                                                            \
		.deploy_cas = ss_deploy_cas,                                                                  \
		.deploy_finalize = ss_deploy_finalize,                                                        \
		.deploy_append_description = ss_deploy_append_description,                                    \
		.agent_list_env = ss_agent_list_env,                                                          \
		.agent_list_env_text = ss_agent_list_env_text,                                                \
		.agent_list_host = ss_agent_list_host,                                                        \
		.agent_error_get = ss_agent_error_get,                                                        \
		.agent_action = ss_agent_action,                                                              \
		.agent_reset_failed = ss_agent_reset_failed,                                                  \
		.agent_count = ss_agent_count,                                                                \
		.agent_total = ss_agent_total,                                                                \
		.agent_host_count = ss_agent_host_count,                                                      \
		.host_list_env = ss_host_list_env,                                                            \
		.host_list = ss_host_list,                                                                    \
		.host_stop = ss_host_stop,                                                                    \
		.host_register = ss_host_register,                                                            \
		.host_update = ss_host_update,                                                                \
		.host_active = ss_host_active,                                                                \
		.progress_lists = ss_progress_lists,                                                          \
		.tag_insert = ss_tag_insert,                                                                  \
		.tag_list_target = ss_tag_list_target,                                                        \
		.tag_get = ss_tag_get,                                                                        \
		.tag_delete = ss_tag_delete,                                                                  \
		.tag_list_value = ss_tag_list_value,                                                          \
		.env_set_enabled = ss_env_set_enabled,                                                        \
		.promote_get = ss_promote_get,                                                                \
		.promote_put = ss_promote_put,                                                                \
		.schedule_get = ss_schedule_get,                                                              \
		.schedule_put = ss_schedule_put,                                                              \
		.schedule_delete = ss_schedule_delete,                                                        \
		.promote_list_auto = ss_promote_list_auto,                                                    \
		.history_add = ss_history_add,                                                                \
		.event_add = ss_event_add,                                                                    \
		.event_poll = ss_event_poll,                                                                  \
		.event_last_seq = ss_event_last_seq,                                                          \
		.event_purge = ss_event_purge,                                                                \
		.env_list_transition = ss_env_list_transition,                                                \
		.worker_claim = ss_worker_claim,                                                              \
		.heartbeat_last_seen = ss_heartbeat_last_seen,                                                \
		.janitor_unreachable = ss_janitor_unreachable,                                                \
		.janitor_release_slots = ss_janitor_release_slots,                                            \
		.janitor_expire = ss_janitor_expire,                                                          \
		.retention_run = ss_retention_run,                                                            \
		.stats = ss_stats,                                                                            \
	}

const struct store_ops store_sqlite_ops = STORE_SQL_OPS("sqlite");
const struct store_ops store_pg_ops = STORE_SQL_OPS("postgresql");

static const struct store_ops *ops_of(struct db_conn *c)
{
	return db_dialect(c) == DB_PG ? &store_pg_ops : &store_sqlite_ops;
}
