/* SPDX-License-Identifier: Apache-2.0 */
/* store/store_envs.c: stages (envs) and their config history (§4.3).
 * SQL is static text with placeholders only (store_sql.h); does not log. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enums.h"
#include "jsonutil.h"
#include "store_sql.h"
#include "util.h"
#include "banned.h"

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
static const char sql_env_name_of[] = "SELECT envName FROM envs WHERE id = ?";
static const char sql_env_stage_count[] = "SELECT count(*) FROM envs WHERE envName = ?";
/* the env's own principals go with its last stage: a later env of the same name starts with none */
static const char sql_env_delete_tokens[] = "DELETE FROM tokens WHERE type = 'ENV' AND lower(resource) = lower(?)";
static const char sql_env_delete_bindings[] =
	"DELETE FROM user_roles WHERE type = 'ENV' AND lower(resource) = lower(?)";
static const char sql_env_delete_configs[] = "DELETE FROM env_configs WHERE envId = ?";
static const char sql_env_delete_history[] = "DELETE FROM config_history WHERE id = ?";
static const char sql_env_delete_promote[] = "DELETE FROM promotes WHERE envId = ?";
static const char sql_env_delete_schedule[] = "DELETE FROM schedules WHERE envId = ?";
static const char sql_env_delete_constraint[] = "DELETE FROM deploy_constraints WHERE envId = ?";
static const char sql_env_set_state[] = "UPDATE envs SET envState = ?, version = version + 1 WHERE id = ?";
static const char sql_env_resume_deploy[] =
	"UPDATE deploys SET lastUpdateDate = ?1 WHERE id = (SELECT deployId FROM envs WHERE id = ?2)";
static const char sql_history_list[] = "SELECT id, changeId, createTime, operator, type, configChange FROM "
				       "config_history WHERE id = ? ORDER BY createTime DESC, seq DESC LIMIT ? OFFSET ?";

/* The insert of a new stage inside a transaction: -EEXIST when its names collide with a stage's. */
static int env_insert_tx(struct db_conn *c, const json_t *env)
{
	int64_t n;
	int r;

	r = db_int(c, SQL(c, sql_env_collide), &n, "jj", json_object_get(env, "envName"), json_object_get(env, "stageName"));
	if (r >= 0 && n > 0)
		r = -EEXIST;
	if (r >= 0)
		r = db_exec_cols(c, sql_env_insert, env_cols, ELEMENTSOF(env_cols), env, NULL);
	return r;
}

int store_env_insert(struct store *s, const json_t *env, const json_t *history)
{
	int r;
	TX_OR_FAIL(c, s);

	r = env_insert_tx(c, env);
	if (r >= 0)
		r = store_tx_history(c, history);
	return db_end(c, r < 0 ? r : 0);
}

/* ---- clone: a new stage with another stage's configuration ---- */

static const char sql_clone_capacity[] =
	"INSERT INTO capacity(envId, type, name) SELECT ?1, type, name FROM capacity WHERE envId = ?2";
static const char sql_clone_capacity_names[] = "SELECT name FROM capacity WHERE envId = ?";
static const char sql_clone_config[] = "INSERT INTO env_configs(envId, kind, id, value) SELECT ?1, kind, ?3, value "
				       "FROM env_configs WHERE envId = ?2 AND kind = ?4";
/* an AUTO promote config would deploy to the clone: it arrives MANUAL */
static const char sql_clone_promote[] =
	"INSERT INTO promotes(envId, type, predStage, queueSize, schedule, delay, disablePolicy, failPolicy, "
	"lastOperator, lastUpdate) SELECT ?1, 'MANUAL', predStage, queueSize, schedule, delay, disablePolicy, "
	"failPolicy, ?3, ?4 FROM promotes WHERE envId = ?2";
static const char sql_clone_schedule[] =
	"INSERT INTO schedules(id, envId, totalSessions, cooldownTimes, hostNumbers, currentSession, state, "
	"stateStartTime) SELECT ?3, ?1, totalSessions, cooldownTimes, hostNumbers, 0, 'NOT_STARTED', ?4 "
	"FROM schedules WHERE envId = ?2";
static const char sql_clone_constraint[] =
	"INSERT INTO deploy_constraints(id, envId, constraintKey, maxParallel, constraintType, constraintOrder, state, "
	"startDate, lastUpdate) SELECT ?3, ?1, constraintKey, maxParallel, constraintType, constraintOrder, "
	"'FINISHED', ?4, ?4 FROM deploy_constraints WHERE envId = ?2";

/* The copies of the per-stage configuration rows of from_id for to_id (each with its own new id). */
static int clone_rows_tx(struct db_conn *c, const char *to_id, const char *from_id, const char *operator_name,
			 int64_t now)
{
	char id[ID_LEN + 1];
	int r = 0;

	for (int k = 0; k < _STORE_CONFIG_MAX && r >= 0; k++) {
		r = id_generate(id);
		if (r >= 0)
			r = db_exec(c, sql_clone_config, "ssss", to_id, from_id, id, store_config_kind_name(k));
	}
	if (r >= 0)
		r = db_exec(c, sql_clone_promote, "sssi", to_id, from_id, operator_name, now);
	if (r >= 0 && (r = id_generate(id)) >= 0)
		r = db_exec(c, sql_clone_schedule, "sssi", to_id, from_id, id, now);
	if (r >= 0 && (r = id_generate(id)) >= 0)
		r = db_exec(c, sql_clone_constraint, "sssi", to_id, from_id, id, now);
	return r;
}

/* Hosts and groups of the copied capacity now map to the new stage too: their held pings look again. */
static int clone_capacity_events_tx(struct db_conn *c, const char *to_id)
{
	json_t *rows = NULL, *row;
	size_t i;
	int r = db_list(c, false, sql_clone_capacity_names, &rows, "s", to_id);

	json_array_foreach(rows, i, row) if (r >= 0) r = store_tx_event(c, "CAPACITY", to_id, NULL,
									  json_string_value(json_object_get(row, "name")));
	json_decref(rows);
	return r;
}

int store_env_clone(struct store *s, const json_t *env, const char *from_id, bool capacity, const json_t *history)
{
	const char *to_id = json_string_value(json_object_get(env, "id"));
	int r;
	TX_OR_FAIL(c, s);

	r = env_insert_tx(c, env);
	if (r >= 0 && capacity)
		r = db_exec(c, sql_clone_capacity, "ss", to_id, from_id);
	if (r >= 0)
		r = clone_rows_tx(c, to_id, from_id, json_string_value(json_object_get(env, "lastOperator")),
				  json_integer_value(json_object_get(env, "lastUpdate")));
	if (r >= 0)
		r = store_tx_history(c, history);
	if (r >= 0 && capacity)
		r = clone_capacity_events_tx(c, to_id);
	return db_end(c, r < 0 ? r : 0);
}

int store_env_get(struct store *s, const char *env_name, const char *stage_name, json_t **ret)
{
	CONN_OR_FAIL(c, s);
	return db_row(c, sql_env_get, ret, "ss", env_name, stage_name);
}

int store_env_get_by_id(struct store *s, const char *id, json_t **ret)
{
	CONN_OR_FAIL(c, s);
	return db_row(c, sql_env_get_id, ret, "s", id);
}

int store_env_list(struct store *s, const char *env_name, const char *stage_type, const char *group,
		   json_t **ret)
{
	CONN_OR_FAIL(c, s);
	if (env_name)
		return db_list(c, false, sql_env_list_name, ret, "ss", env_name, stage_type);
	if (group)
		return db_list(c, false, sql_env_list_group, ret, "s", group);
	return db_list(c, false, sql_env_list_all, ret, NULL);
}

int store_env_names(struct store *s, const char *filter, int64_t offset, int64_t limit, json_t **ret)
{
	CONN_OR_FAIL(c, s);
	return db_list(c, true, SQL(c, sql_env_names), ret, "sii", filter, limit, offset);
}

int store_env_update(struct store *s, const json_t *env, const json_t *history, bool release_parked)
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
			r = store_tx_event(c, "SLOT", id, NULL, NULL);
	}
	if (r >= 0)
		r = store_tx_history(c, history);
	if (r >= 0)
		r = store_tx_event(c, "ENV", id, NULL, NULL);
	return db_end(c, r < 0 ? r : 0);
}

int store_env_delete(struct store *s, const char *id)
{
	static const char *const cleanup[] = { sql_env_delete_configs, sql_env_delete_history, sql_env_delete_promote,
					       sql_env_delete_schedule, sql_env_delete_constraint };
	json_t *row = NULL, *name;
	int64_t n1 = 0, n2 = 0, left = 0;
	int r;
	TX_OR_FAIL(c, s);

	r = db_row(c, sql_env_name_of, &row, "s", id); /* -ENOENT: no such stage */
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
	if (r > 0 && left == 0)
		r = store_tx_tokens_written(c);
	if (r >= 0 && left == 0)
		r = db_exec(c, sql_env_delete_bindings, "j", name);
	json_decref(row);
	r = db_end(c, r < 0 ? r : 0);
	store_token_cache_invalidate();
	return r;
}

int store_env_set_state(struct store *s, const char *id, const char *env_state, bool resume_now,
			const json_t *history)
{
	int r;
	TX_OR_FAIL(c, s);

	r = db_exec(c, sql_env_set_state, "ss", env_state, id);
	if (r == 0)
		r = -ENOENT;
	if (r >= 0 && resume_now)
		r = db_exec(c, sql_env_resume_deploy, "is", (int64_t)now_ms(), id);
	if (r >= 0)
		r = store_tx_history(c, history);
	if (r >= 0)
		r = store_tx_event(c, "ENV", id, NULL, NULL);
	return db_end(c, r < 0 ? r : 0);
}

int store_history_list(struct store *s, const char *env_id, int64_t offset, int64_t limit, json_t **ret)
{
	CONN_OR_FAIL(c, s);
	return db_list(c, false, sql_history_list, ret, "sii", env_id, limit, offset);
}
