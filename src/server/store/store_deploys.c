/* SPDX-License-Identifier: Apache-2.0 */
/* store/store_deploys.c: deploys (§7.1, §7.3).
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

#define DEPLOY_COLS                                                                                                    \
	"d.id, d.alias, d.envId, d.buildId, d.type, d.state, d.startDate, d.operator, d.lastUpdateDate, "             \
	"d.description, d.successTotal, d.failTotal, d.total, d.successDate, d.acceptanceStatus, d.fromDeployId, "    \
	"d.replacedByDeployId, d.rollbackFromDeployId, d.replacedState, "                                              \
	"(SELECT r.type FROM deploys r WHERE r.id = d.replacedByDeployId) AS replacedByType, "                         \
	"COALESCE((SELECT a.analysisStatus FROM deploy_analysis a WHERE a.deployId = d.id), 'NONE') AS analysisStatus"
static const char sql_deploy_get[] = "SELECT " DEPLOY_COLS " FROM deploys d WHERE d.id = ?";
static const char sql_deploy_env_lock[] = "SELECT deployId FROM envs WHERE id = ?";
static const char sql_deploy_total[] = "SELECT count(*) FROM agents WHERE envId = ? AND state NOT IN "
				       "('UNREACHABLE', 'DELETE') AND removed = 0";
static const char sql_deploy_insert[] =
	"INSERT INTO deploys(id, alias, envId, buildId, type, state, startDate, operator, lastUpdateDate, "
	"description, successTotal, failTotal, total, successDate, acceptanceStatus, fromDeployId, rollbackFromDeployId) "
	"VALUES(?, ?, ?, ?, ?, 'RUNNING', ?, ?, ?, ?, 0, 0, ?, NULL, 'PENDING_DEPLOY', ?, ?)";
static const char sql_deploy_point_env[] =
	"UPDATE envs SET deployId = ?1, deployType = ?2, stageType = COALESCE(?3, stageType), "
	"version = version + 1 WHERE id = ?4";
#define DEPLOY_FINALIZE                                                                                                \
	"state = CASE state WHEN 'SUCCEEDING' THEN 'SUCCEEDED' WHEN 'RUNNING' THEN 'ABORTED' "                         \
	"WHEN 'FAILING' THEN 'ABORTED' ELSE state END, acceptanceStatus = CASE WHEN acceptanceStatus IN "             \
	"('ACCEPTED', 'REJECTED', 'TERMINATED') THEN acceptanceStatus ELSE 'TERMINATED' END"
static const char sql_deploy_finalize[] = "UPDATE deploys SET " DEPLOY_FINALIZE " WHERE id = ?";
/* the replaced deploy keeps its replacement and the state it had (the SET expressions read the old row) */
static const char sql_deploy_replace[] =
	"UPDATE deploys SET replacedByDeployId = ?2, replacedState = state, " DEPLOY_FINALIZE " WHERE id = ?1";
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
/* the stage's counts (STAGE_AGENT_COUNTS), not its rows: the transition's read costs the same at any stage size */
static const char sql_deploy_counts[] =
	"SELECT "
	"COALESCE(SUM(CASE WHEN x.state NOT IN ('UNREACHABLE', 'DELETE') AND x.removed = 0 THEN x.n ELSE 0 END), 0) AS t, "
	"COALESCE(SUM(CASE WHEN x.deployId = ?2 AND x.deployStage IN ('SERVING_BUILD', 'STOPPED') AND x.state NOT IN "
	"('PAUSED_BY_USER', 'PAUSED_BY_SYSTEM', 'UNREACHABLE') AND x.removed = 0 THEN x.n ELSE 0 END), 0) AS s, "
	"COALESCE(SUM(CASE WHEN x.deployId = ?2 AND x.state = 'PAUSED_BY_SYSTEM' AND x.removed = 0 THEN x.n ELSE 0 END), "
	"0) AS f, "
	"COALESCE(SUM(CASE WHEN x.deployId = ?2 AND (x.deployStage = 'SERVING_BUILD' OR x.state IN ('PAUSED_BY_USER', "
	"'PAUSED_BY_SYSTEM')) THEN x.n ELSE 0 END), 0) AS p, "
	"COALESCE(SUM(CASE WHEN x.deployId = ?2 THEN x.n ELSE 0 END), 0) AS n FROM " STAGE_AGENT_COUNTS;
static const char sql_deploy_cas[] =
	"UPDATE deploys SET state = ?2, successTotal = ?3, failTotal = ?4, total = ?5, lastUpdateDate = ?6, "
	"successDate = ?7, acceptanceStatus = ?8 WHERE id = ?1 AND state = ?9";
static const char sql_deploy_append_desc[] =
	"UPDATE deploys SET description = substr(COALESCE(description, '') || ?2, 1, 2048) WHERE id = ?1";

int store_deploy_create(struct store *s, const struct deploy_create *d, json_t **ret)
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
	r = db_exec(c, sql_deploy_insert, "sssssisisiss", id, d->alias, d->env_id, d->build_id,
		   deploy_type_to_string(d->type), d->now, d->operator_name, d->now, d->description, total,
		   d->from_deploy_id, d->type == DEPLOY_TYPE_ROLLBACK ? prev : NULL);
	if (r < 0)
		goto out;
	r = db_exec(c, sql_deploy_point_env, "ssss", id, deploy_type_to_string(d->type),
		   d->delivery_type >= 0 ? env_type_to_string(d->delivery_type) : NULL, d->env_id);
	if (r < 0)
		goto out;
	if (prev) {
		r = db_exec(c, sql_deploy_replace, "ss", prev, id);
		if (r < 0)
			goto out;
	}
	/* the config it runs with, and the per-host results of the deploy it replaces */
	r = store_tx_deploy_record(c, d->env_id, id, prev, d->now);
	if (r < 0)
		goto out;
	if (!streq_ptr(d->operator_name, "AutoPromoter")) {
		r = db_exec(c, sql_deploy_promote_off, "si", d->env_id, d->now);
		if (r > 0)
			r = store_tx_history_simple(c, d->env_id, d->operator_name, "Env Promote Config",
					"{\"type\":\"MANUAL\",\"reason\":\"deploy\"}");
		if (r < 0)
			goto out;
	}
	if (d->reset_schedule) {
		r = db_exec(c, sql_deploy_schedule_reset, "si", d->env_id, d->now);
		if (r < 0)
			goto out;
	}
	r = store_tx_history_simple(c, d->env_id, d->operator_name, "Env Action", d->history_change);
	if (r < 0)
		goto out;
	r = store_tx_event(c, "ENV", d->env_id, NULL, NULL);
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

int store_deploy_get(struct store *s, const char *id, json_t **ret)
{
	CONN_OR_FAIL(c, s);
	return db_row(c, sql_deploy_get, ret, "s", id);
}

int store_deploy_list(struct store *s, const json_t *q, json_t **ret)
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

int store_deploy_set_acceptance(struct store *s, const char *id, const char *status, const char *description,
				int64_t now)
{
	int r;
	CONN_OR_FAIL(c, s);
	r = db_exec(c, sql_deploy_accept, "sssi", id, status, description, now);
	if (r < 0)
		return r;
	return r == 0 ? -ENOENT : 0;
}

int store_deploy_count_since(struct store *s, int64_t since, int64_t *ret)
{
	CONN_OR_FAIL(c, s);
	return db_int(c, sql_deploy_since, ret, "i", since);
}

int store_deploy_list_succeeded(struct store *s, const char *env_id, json_t **ret)
{
	CONN_OR_FAIL(c, s);
	return db_list(c, false, sql_deploy_succeeded, ret, "s", env_id);
}

int store_deploy_counts(struct store *s, const char *env_id, const char *deploy_id, struct deploy_counts *ret)
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

int store_deploy_cas(struct store *s, const json_t *d, const char *old_state)
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

int store_deploy_finalize(struct store *s, const char *id)
{
	int r;
	CONN_OR_FAIL(c, s);
	r = db_exec(c, sql_deploy_finalize, "s", id);
	return r < 0 ? r : 0;
}

int store_deploy_append_description(struct store *s, const char *id, const char *text)
{
	int r;
	CONN_OR_FAIL(c, s);
	r = db_exec(c, sql_deploy_append_desc, "ss", id, text);
	return r < 0 ? r : 0;
}
