/* SPDX-License-Identifier: Apache-2.0 */
/* store/store_agents.c: agent rows and host actions (§3.4, §4.6).
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

#define AGENT_COLS                                                                                                     \
	"a.hostId, a.hostName, a.envId, a.deployId, a.deployStage, a.state, a.status, a.startDate, "                  \
	"a.lastUpdateDate, a.lastOperator, a.lastErrno, a.failCount, a.firstDeploy, a.firstDeployDate, "              \
	"a.stageStartDate, a.containerHealthStatus, a.holdsSlot, a.removed"
static const char sql_agent_list_env[] = "SELECT " AGENT_COLS " FROM agents a WHERE a.envId = ? ORDER BY a.hostName";
/* a page in name order after a host name (the index agents_env_name: O(page), not O(stage)) */
static const char sql_agent_page_env[] = "SELECT " AGENT_COLS " FROM agents a WHERE a.envId = ?1 AND "
					 "a.hostName > COALESCE(?2, '') ORDER BY a.hostName LIMIT ?3";
/* the failing hosts of a page (the board's drill-down) */
static const char sql_agent_page_failing[] =
	"SELECT " AGENT_COLS " FROM agents a WHERE a.envId = ?1 AND a.hostName > COALESCE(?2, '') AND "
	"(a.status NOT IN ('SUCCEEDED', 'UNKNOWN') OR a.state IN ('UNREACHABLE', 'PAUSED_BY_SYSTEM')) "
	"ORDER BY a.hostName LIMIT ?3";
static const char sql_agent_list_name[] = "SELECT " AGENT_COLS " FROM agents a WHERE a.hostName = ? ORDER BY a.envId";
static const char sql_agent_list_deploy[] =
	"SELECT " AGENT_COLS " FROM agents a WHERE a.envId = ? AND a.deployId = ? ORDER BY a.hostName";
static const char sql_agent_page_deploy[] =
	"SELECT " AGENT_COLS " FROM agents a WHERE a.envId = ?1 AND a.deployId = ?2 AND a.hostName > COALESCE(?3, '') "
	"ORDER BY a.hostName LIMIT ?4";
static const char sql_agent_list_id[] = "SELECT " AGENT_COLS " FROM agents a WHERE a.hostId = ? ORDER BY a.envId";
static const char sql_agent_error[] =
	"SELECT hostId, hostName, envId, errorMessage FROM agent_errors WHERE envId = ? AND hostName = ?";
static const char sql_agent_error_list[] =
	"SELECT e.hostId, e.hostName, a.deployId, a.deployStage, a.state, a.status, a.lastErrno, a.failCount, "
	"a.lastUpdateDate, e.errorMessage FROM agent_errors e CROSS JOIN agents a WHERE a.hostId = e.hostId AND "
	"a.envId = e.envId AND e.envId = ?1 AND a.status NOT IN ('SUCCEEDED', 'UNKNOWN') ORDER BY e.hostName LIMIT ?2";
#define SQL_AGENT_AFFECTED(JE)                                                                                         \
	"SELECT hostId, envId, holdsSlot FROM agents WHERE hostId IN (SELECT value FROM " JE("?1") ") "                \
	"AND (envId = ?2 OR ?2 IS NULL)"
static const struct dsql sql_agent_affected = DSQL_JE_LOCKING(SQL_AGENT_AFFECTED, ORDER_AGENTS, "agents");
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
/* agents/count and the summary read the stage's counts (STAGE_AGENT_COUNTS), not its rows */
static const char sql_agent_count[] =
	"SELECT COALESCE(SUM(x.n), 0) FROM " STAGE_AGENT_COUNTS " WHERE CASE ?2 "
	"WHEN 0 THEN x.deployStage = 'SERVING_BUILD' "
	"WHEN 1 THEN x.deployStage = 'SERVING_BUILD' AND x.state = 'NORMAL' "
	"WHEN 2 THEN x.firstDeploy = 1 AND x.deployStage <> 'SERVING_BUILD' "
	"ELSE x.firstDeploy = 1 AND x.deployStage <> 'SERVING_BUILD' AND x.status NOT IN ('SUCCEEDED', 'UNKNOWN') END";
static const char sql_agent_summary[] =
	"SELECT CASE WHEN x.deployId = ?2 THEN 1 ELSE 0 END AS onDeploy__bool, x.deployStage, x.state, x.status, "
	"x.removed AS removed__bool, SUM(x.n) AS n FROM " STAGE_AGENT_COUNTS " "
	"GROUP BY CASE WHEN x.deployId = ?2 THEN 1 ELSE 0 END, x.deployStage, x.state, x.status, x.removed "
	"HAVING SUM(x.n) <> 0";
static const char sql_agent_total[] = "SELECT COALESCE(SUM(x.n), 0) FROM " STAGE_AGENT_COUNTS;
/* the kept count of distinct hosts with agent rows (schema 011), plus the deltas not folded yet (PostgreSQL) */
static const char sql_agent_hosts[] = "SELECT COALESCE((SELECT SUM(n) FROM agent_host_count), 0) + "
				      "COALESCE((SELECT SUM(n) FROM agent_host_count_deltas), 0)";

int store_agent_list_env(struct store *s, const char *env_id, json_t **ret)
{
	CONN_OR_FAIL(c, s);
	return db_list(c, false, sql_agent_list_env, ret, "s", env_id);
}

int store_agent_list_env_text(struct store *s, const char *env_id, const struct store_page *pg, struct buf *out)
{
	CONN_OR_FAIL(c, s);
	if (pg && pg->limit > 0)
		return db_list_text(c, pg->failing ? sql_agent_page_failing : sql_agent_page_env, out, "ssi", env_id,
				    pg->after, pg->limit);
	return db_list_text(c, sql_agent_list_env, out, "s", env_id);
}

int store_agent_list_deploy(struct store *s, const char *env_id, const char *deploy_id, const struct store_page *pg,
			    json_t **ret)
{
	CONN_OR_FAIL(c, s);
	if (pg && pg->limit > 0)
		return db_list(c, false, sql_agent_page_deploy, ret, "sssi", env_id, deploy_id, pg->after, pg->limit);
	return db_list(c, false, sql_agent_list_deploy, ret, "ss", env_id, deploy_id);
}

int store_agent_summary(struct store *s, const char *env_id, const char *deploy_id, bool provisioning, json_t **ret)
{
	json_t *counts = NULL, *row;
	int64_t total = 0, missing = 0, prov = -1;
	size_t i;
	int r;
	CONN_OR_FAIL(c, s);

	/* two statements, two snapshots (PostgreSQL): a host's first agent row may commit between them. The hosts
	 * without a row are counted first, so such a host is counted by one or both, never by neither (a client that
	 * waits for provisioning hosts would otherwise see an empty stage while the host's first goal is under way) */
	r = store_tx_progress_counts(c, env_id, &missing, provisioning ? &prov : NULL);
	if (r >= 0)
		r = db_list(c, false, sql_agent_summary, &counts, "ss", env_id, deploy_id);
	if (r < 0) {
		json_decref(counts);
		return r;
	}
	json_array_foreach(counts, i, row)
		total += json_integer_value(json_object_get(row, "n"));
	*ret = json_pack("{s:s?,s:I,s:o,s:I,s:o}", "deployId", deploy_id, "total", (json_int_t)total, "counts", counts,
			 "missingHosts", (json_int_t)missing, "provisioningHosts",
			 prov >= 0 ? json_integer((json_int_t)prov) : json_null());
	return *ret ? 0 : -ENOMEM;
}

int store_agent_list_host(struct store *s, const char *host_name, const char *host_id, json_t **ret)
{
	CONN_OR_FAIL(c, s);
	if (host_name)
		return db_list(c, false, sql_agent_list_name, ret, "s", host_name);
	return db_list(c, false, sql_agent_list_id, ret, "s", host_id);
}

int store_agent_error_get(struct store *s, const char *env_id, const char *host_name, json_t **ret)
{
	CONN_OR_FAIL(c, s);
	return db_row(c, sql_agent_error, ret, "ss", env_id, host_name);
}

int store_agent_error_list(struct store *s, const char *env_id, int64_t limit, json_t **ret)
{
	CONN_OR_FAIL(c, s);
	return db_list(c, false, sql_agent_error_list, ret, "si", env_id, limit);
}

/* Events and history for rows about to change: HOST per host, SLOT per env where a slot is freed
 * (when frees_slot), `Host Action` history per env. */
int store_tx_agent_effects(struct db_conn *c, const json_t *affected, bool frees_slot, const char *action,
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
			r = store_tx_event(c, "HOST", env_id, host_id, NULL);
			if (r < 0)
				goto out;
		}
		if (frees_slot && json_is_true(json_object_get(row, "holdsSlot"))) {
			r = store_tx_event(c, "SLOT", env_id, host_id, NULL);
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
		r = store_tx_history_simple(c, k, operator_name, "Host Action", txt);
		free(txt);
		if (r < 0)
			goto out;
	}
out:
	json_decref(envs);
	json_decref(hosts);
	return r;
}

int store_agent_action(struct store *s, const char *env_id, const json_t *host_ids, enum store_agent_action a,
		       const char *operator_name, int64_t now)
{
	static const char *const action_names[] = { "PAUSED_BY_USER", "RESET", "NORMAL" };
	static const struct dsql *const sqls[] = { &sql_agent_pause, &sql_agent_reset, &sql_agent_normal };
	json_t *affected = NULL;
	int r, n = 0;
	TX_OR_FAIL(c, s);

	r = db_list(c, false, SQL(c, sql_agent_affected), &affected, "js", host_ids, env_id);
	if (r >= 0)
		r = n = db_exec(c, SQL(c, *sqls[a]), "jsis", host_ids, env_id, now, operator_name);
	if (r >= 0)
		r = store_tx_agent_effects(c, affected, a == STORE_AGENT_PAUSE, action_names[a], operator_name);
	json_decref(affected);
	r = db_end(c, r < 0 ? r : 0);
	return r < 0 ? r : n;
}

static const struct dsql sql_agent_failed_rows = DSQL_LOCKING(
	"SELECT hostId, envId, holdsSlot FROM agents WHERE envId = ?1 AND ((deployId = ?2 AND status NOT IN "
	"('SUCCEEDED', 'UNKNOWN') AND state <> 'RESET') OR removed = 1)", ORDER_AGENTS, "agents");

int store_agent_reset_failed(struct store *s, const char *env_id, const char *deploy_id,
			     const char *operator_name, int64_t now)
{
	json_t *affected = NULL;
	int r;
	TX_OR_FAIL(c, s);

	r = db_list(c, false, SQL(c, sql_agent_failed_rows), &affected, "ss", env_id, deploy_id);
	if (r >= 0)
		r = db_exec(c, sql_agent_reset_failed, "ssis", env_id, deploy_id, now, operator_name);
	if (r >= 0 && json_array_size(affected) > 0)
		r = store_tx_agent_effects(c, affected, false, "RESET", operator_name);
	json_decref(affected);
	return db_end(c, r < 0 ? r : 0);
}

int store_agent_count(struct store *s, const char *env_id, enum store_agent_count what, int64_t *ret)
{
	CONN_OR_FAIL(c, s);
	return db_int(c, sql_agent_count, ret, "si", env_id, (int64_t)what);
}

int store_agent_total(struct store *s, const char *env_id, int64_t *ret)
{
	CONN_OR_FAIL(c, s);
	return db_int(c, sql_agent_total, ret, "s", env_id);
}

int store_agent_host_count(struct store *s, int64_t *ret)
{
	CONN_OR_FAIL(c, s);
	return db_int(c, sql_agent_hosts, ret, NULL);
}
