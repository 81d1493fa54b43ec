/* SPDX-License-Identifier: Apache-2.0 */
/* store/store_workers.c: what the background workers read and write: transitions, run claims, janitor, retention
 * and the /metrics gauges (§8).
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

static const char sql_env_transition[] = "SELECT id FROM envs WHERE deployId IS NOT NULL AND envState = 'NORMAL' "
					 "ORDER BY random()";
static const char sql_worker_last[] = "SELECT lastRun FROM worker_runs WHERE name = ?";
static const char sql_worker_set[] =
	"INSERT INTO worker_runs(name, lastRun) VALUES(?, ?) ON CONFLICT(name) DO UPDATE SET lastRun = excluded.lastRun";
static const struct dsql sql_jan_unreachable_rows = DSQL_LOCKING(
	"SELECT hostId, envId, holdsSlot FROM agents WHERE state = 'NORMAL' AND hostId IN "
	"(SELECT hostId FROM heartbeats WHERE lastSeen < ?1)", ORDER_AGENTS, "agents");
static const char sql_jan_unreachable[] =
	"UPDATE agents SET state = 'UNREACHABLE', lastUpdateDate = ?2, lastOperator = 'system', version = version + 1 "
	"WHERE state = 'NORMAL' AND hostId IN (SELECT hostId FROM heartbeats WHERE lastSeen < ?1)";
static const struct dsql sql_jan_release_rows = DSQL_LOCKING(
	"SELECT hostId, envId FROM agents WHERE state = 'UNREACHABLE' AND holdsSlot = 1 AND hostId IN "
	"(SELECT hostId FROM heartbeats WHERE lastSeen < ?1)", ORDER_AGENTS, "agents");
static const char sql_jan_release[] =
	"UPDATE agents SET holdsSlot = 0, version = version + 1 WHERE state = 'UNREACHABLE' AND holdsSlot = 1 AND "
	"hostId IN (SELECT hostId FROM heartbeats WHERE lastSeen < ?1)";
/* PostgreSQL: the rows the expiry deletes, locked in the global order first (store_sql.h) */
static const struct dsql sql_jan_expire_lock_agents = DSQL_LOCKING(
	"SELECT hostId FROM agents WHERE hostId IN (SELECT hostId FROM heartbeats WHERE lastSeen < ?1)", ORDER_AGENTS,
	"agents");
static const struct dsql sql_jan_expire_lock_errors = DSQL_LOCKING(
	"SELECT hostId FROM agent_errors WHERE hostId IN (SELECT hostId FROM heartbeats WHERE lastSeen < ?1)",
	ORDER_AGENTS, "agent_errors");
static const struct dsql sql_jan_expire_lock_hosts = DSQL_LOCKING(
	"SELECT hostId FROM hosts WHERE hostId IN (SELECT hostId FROM heartbeats WHERE lastSeen < ?1)", ORDER_HOSTS,
	"hosts");
static const struct dsql sql_jan_expire_lock_hb =
	DSQL_LOCKING("SELECT hostId FROM heartbeats WHERE lastSeen < ?1", ORDER_HEARTBEATS, "heartbeats");
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

int store_env_list_transition(struct store *s, json_t **ret)
{
	CONN_OR_FAIL(c, s);
	return db_list(c, true, sql_env_transition, ret, NULL);
}

int store_worker_claim(struct store *s, const char *unit, int64_t now, int64_t min_interval_ms)
{
	int64_t last = 0;
	int r;
	TX_OR_FAIL(c, s);

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

static int slot_events(struct db_conn *c, const json_t *rows, bool only_holders)
{
	json_t *row;
	size_t i;
	int r = 0;

	json_array_foreach(rows, i, row) {
		if (only_holders && !json_is_true(json_object_get(row, "holdsSlot")))
			continue;
		r = store_tx_event(c, "SLOT", json_string_value(json_object_get(row, "envId")),
			   json_string_value(json_object_get(row, "hostId")), NULL);
		if (r < 0)
			break;
	}
	return r;
}

int store_janitor_unreachable(struct store *s, int64_t silent_before, int64_t now, int64_t *ret_changed)
{
	json_t *rows = NULL, *row;
	size_t i;
	int r, n = 0;
	TX_OR_FAIL(c, s);

	r = db_list(c, false, SQL(c, sql_jan_unreachable_rows), &rows, "i", silent_before);
	if (r >= 0)
		r = n = db_exec(c, sql_jan_unreachable, "ii", silent_before, now);
	json_array_foreach(rows, i, row) if (r >= 0) r = store_tx_event(c, "HOST", json_string_value(json_object_get(row, "envId")),
								  json_string_value(json_object_get(row, "hostId")), NULL);
	json_decref(rows);
	r = db_end(c, r < 0 ? r : 0);
	if (r < 0)
		return r;
	*ret_changed = n;
	return 0;
}

int store_janitor_release_slots(struct store *s, int64_t silent_before, int64_t now, int64_t *ret_changed)
{
	json_t *rows = NULL;
	int r, n = 0;
	CONN_OR_FAIL(c, s);

	(void)now;
	r = db_begin(c, DB_LOCK_GLOBAL);
	if (r < 0)
		return r;
	r = db_list(c, false, SQL(c, sql_jan_release_rows), &rows, "i", silent_before);
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

int store_janitor_expire(struct store *s, int64_t silent_before, int64_t *ret_deleted)
{
	static const char *const dels[] = { sql_jan_expire_agents, sql_jan_expire_errors, sql_jan_expire_hosts,
					    sql_jan_expire_hb, sql_jan_expire_unseen };
	static const struct dsql *const locks[] = { &sql_jan_expire_lock_agents, &sql_jan_expire_lock_errors,
						     &sql_jan_expire_lock_hosts, &sql_jan_expire_lock_hb };
	json_t *envs = NULL, *v;
	size_t i;
	int r, n = 0;
	TX_OR_FAIL(c, s);

	r = db_list(c, true, sql_jan_expire_rows, &envs, "i", silent_before);
	for (i = 0; r >= 0 && db_dialect(c) == DB_PG && i < ELEMENTSOF(locks); i++)
		r = db_exec(c, SQL(c, *locks[i]), "i", silent_before);
	for (i = 0; r >= 0 && i < ELEMENTSOF(dels); i++) {
		r = db_exec(c, dels[i], "i", silent_before);
		if (r > 0 && i == 3)
			n = r;
	}
	json_array_foreach(envs, i, v) if (r >= 0) r = store_tx_event(c, "SLOT", json_string_value(v), NULL, NULL);
	json_decref(envs);
	r = db_end(c, r < 0 ? r : 0);
	if (r < 0)
		return r;
	*ret_deleted = n;
	return 0;
}

int store_retention_run(struct store *s, int64_t now, int64_t build_keep, int64_t build_days)
{
	int r;
	TX_OR_FAIL(c, s);

	r = db_exec(c, sql_ret_deploys, "i", now);
	if (r >= 0)
		r = db_exec(c, sql_ret_builds, "iii", now, build_keep, build_days);
	if (r >= 0)
		r = db_exec(c, sql_ret_history, NULL);
	if (r >= 0)
		r = store_tx_deploy_record_prune(c);
	return db_end(c, r < 0 ? r : 0);
}

int store_stats(struct store *s, json_t **ret)
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
