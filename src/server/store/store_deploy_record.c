/* SPDX-License-Identifier: Apache-2.0 */
/* store/store_deploy_record.c: what a deploy ran with and what it did, kept after the stage moved on: the stage's
 * configuration snapshot taken when the deploy is created (deploy_configs) and the per-host results recorded when
 * another deploy replaces it (deploy_host_results). Both are written by store_deploy_create's transaction, so the
 * ping path writes nothing more; retention deletes them with their deploy.
 * SQL is static text with placeholders only (store_sql.h); does not log. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonutil.h"
#include "store_sql.h"
#include "util.h"
#include "banned.h"

static const char sql_config_snapshot[] =
	"INSERT INTO deploy_configs(deployId, envId, createDate, scriptConfigs, agentConfigs, maxParallel, "
	"maxParallelPct, failurePolicy, stuckThreshold, successThreshold, acceptanceType, constraintKey, "
	"constraintMaxParallel, constraintType, constraintOrder, scheduleHostNumbers, scheduleCooldownTimes) "
	"SELECT ?1, e.id, ?3, (SELECT value FROM env_configs WHERE envId = e.id AND kind = 'script'), "
	"(SELECT value FROM env_configs WHERE envId = e.id AND kind = 'agent'), e.maxParallel, e.maxParallelPct, "
	"e.failurePolicy, e.stuckThreshold, e.successThreshold, e.acceptanceType, c.constraintKey, c.maxParallel, "
	"c.constraintType, c.constraintOrder, s.hostNumbers, s.cooldownTimes FROM envs e "
	"LEFT JOIN deploy_constraints c ON c.envId = e.id LEFT JOIN schedules s ON s.envId = e.id WHERE e.id = ?2";
/* failed hosts first, then by name; the error's last bytes (the lines that name the failure), read only for the
 * rows kept */
#define RESULTS_RECORD(TAIL)                                                                                           \
	"INSERT INTO deploy_host_results(deployId, hostId, hostName, envId, deployStage, state, status, lastErrno, "   \
	"failCount, startDate, lastUpdateDate, errorMessage, recordDate) SELECT a.deployId, a.hostId, a.hostName, "    \
	"a.envId, a.deployStage, a.state, a.status, a.lastErrno, a.failCount, a.startDate, a.lastUpdateDate, "         \
	"CASE WHEN a.status IN ('SUCCEEDED', 'UNKNOWN') THEN NULL ELSE (SELECT " TAIL " FROM agent_errors e WHERE "    \
	"e.hostId = a.hostId AND e.envId = a.envId) END, ?3 FROM (SELECT * FROM agents WHERE envId = ?1 AND "         \
	"deployId = ?2 ORDER BY CASE WHEN status IN ('SUCCEEDED', 'UNKNOWN') THEN 1 ELSE 0 END, hostName LIMIT ?4) a"
static const struct dsql sql_results_record = { RESULTS_RECORD("substr(e.errorMessage, -1024)"),
						RESULTS_RECORD("right(e.errorMessage, 1024)") };
static const char sql_config_get[] = "SELECT * FROM deploy_configs WHERE deployId = ?";
static const char sql_results_get[] =
	"SELECT hostId, hostName, envId, deployId, deployStage, state, status, lastErrno, failCount, startDate, "
	"lastUpdateDate, errorMessage, recordDate FROM deploy_host_results WHERE deployId = ?1 AND "
	"hostName > COALESCE(?2, '') ORDER BY hostName LIMIT ?3";
static const char sql_prune_configs[] =
	"DELETE FROM deploy_configs WHERE NOT EXISTS (SELECT 1 FROM deploys d WHERE d.id = deploy_configs.deployId)";
static const char sql_prune_results[] =
	"DELETE FROM deploy_host_results WHERE NOT EXISTS (SELECT 1 FROM deploys d WHERE d.id = "
	"deploy_host_results.deployId) OR deployId IN (SELECT x.id FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY "
	"envId ORDER BY startDate DESC, seq DESC) AS rn FROM deploys) x WHERE x.rn > ?1)";

int store_tx_deploy_record(struct db_conn *c, const char *env_id, const char *deploy_id, const char *replaced_id,
			   int64_t now)
{
	int r;

	r = db_exec(c, sql_config_snapshot, "ssi", deploy_id, env_id, now);
	if (r < 0 || !replaced_id)
		return r < 0 ? r : 0;
	r = db_exec(c, SQL(c, sql_results_record), "ssii", env_id, replaced_id, now,
		    (int64_t)STORE_DEPLOY_RESULTS_MAX_HOSTS);
	return r < 0 ? r : 0;
}

int store_tx_deploy_record_prune(struct db_conn *c)
{
	int r;

	r = db_exec(c, sql_prune_configs, NULL);
	if (r >= 0)
		r = db_exec(c, sql_prune_results, "i", (int64_t)STORE_DEPLOY_RESULTS_MAX_DEPLOYS);
	return r < 0 ? r : 0;
}

/* A column holding a JSON document as text, parsed in place (NULL stays null; text that does not parse stays
 * a string). */
static void parse_json_column(json_t *row, const char *key)
{
	const char *text = json_string_value(json_object_get(row, key));
	json_t *v;

	if (!text)
		return;
	v = json_loads(text, JSON_DECODE_ANY, NULL);
	if (v)
		(void)json_object_set_new(row, key, v);
}

/* Move the columns named keys[i] of row into a new object under name (null when every one of them is null). */
static int nest(json_t *row, const char *name, const char *const keys[], const char *const as[], size_t n)
{
	json_t *o = json_object();
	bool any = false;

	if (!o)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		json_t *v = json_object_get(row, keys[i]);
		if (v && !json_is_null(v))
			any = true;
		if (json_object_set(o, as[i], v ? v : json_null()) < 0) {
			json_decref(o);
			return -ENOMEM;
		}
		(void)json_object_del(row, keys[i]);
	}
	if (!any) {
		json_decref(o);
		o = json_null();
	}
	return json_object_set_new(row, name, o) < 0 ? -ENOMEM : 0;
}

int store_deploy_config_get(struct store *s, const char *deploy_id, json_t **ret)
{
	static const char *const rollout[] = { "maxParallel", "maxParallelPct", "failurePolicy", "stuckThreshold",
					       "successThreshold", "acceptanceType" };
	static const char *const constraint[] = { "constraintKey", "constraintMaxParallel", "constraintType",
						  "constraintOrder" };
	static const char *const constraint_as[] = { "constraintKey", "maxParallel", "constraintType",
						     "constraintOrder" };
	static const char *const schedule[] = { "scheduleHostNumbers", "scheduleCooldownTimes" };
	static const char *const schedule_as[] = { "hostNumbers", "cooldownTimes" };
	json_t *row = NULL;
	int r;
	CONN_OR_FAIL(c, s);

	r = db_row(c, sql_config_get, &row, "s", deploy_id);
	if (r < 0)
		return r;
	parse_json_column(row, "scriptConfigs");
	parse_json_column(row, "agentConfigs");
	parse_json_column(row, "constraintOrder");
	r = nest(row, "rollout", rollout, rollout, ELEMENTSOF(rollout));
	if (r >= 0)
		r = nest(row, "constraint", constraint, constraint_as, ELEMENTSOF(constraint));
	if (r >= 0)
		r = nest(row, "schedule", schedule, schedule_as, ELEMENTSOF(schedule));
	if (r < 0) {
		json_decref(row);
		return r;
	}
	*ret = row;
	return 0;
}

int store_deploy_host_results(struct store *s, const char *deploy_id, const struct store_page *pg, json_t **ret)
{
	bool paged = pg && pg->limit > 0;
	CONN_OR_FAIL(c, s);
	return db_list(c, false, sql_results_get, ret, "ssi", deploy_id, paged ? pg->after : NULL,
		       paged ? pg->limit : INT64_MAX);
}
