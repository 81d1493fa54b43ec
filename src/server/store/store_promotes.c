/* SPDX-License-Identifier: Apache-2.0 */
/* store/store_promotes.c: promote configs and deploy schedules (§4.5).
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


int store_promote_get(struct store *s, const char *env_id, json_t **ret)
{
	CONN_OR_FAIL(c, s);
	return db_row(c, sql_promote_get, ret, "s", env_id);
}

int store_promote_put(struct store *s, const json_t *p, const json_t *history)
{
	int r;
	TX_OR_FAIL(c, s);

	r = db_exec_cols(c, sql_promote_put, promote_cols, ELEMENTSOF(promote_cols), p, NULL);
	if (r >= 0)
		r = store_tx_history(c, history);
	return db_end(c, r < 0 ? r : 0);
}

int store_schedule_get(struct store *s, const char *env_id, json_t **ret)
{
	CONN_OR_FAIL(c, s);
	return db_row(c, sql_schedule_get, ret, "s", env_id);
}

int store_schedule_put(struct store *s, const json_t *sch)
{
	int r;
	TX_OR_FAIL(c, s);

	r = db_exec_cols(c, sql_schedule_put, schedule_cols, ELEMENTSOF(schedule_cols), sch, NULL);
	if (r >= 0)
		r = store_tx_event(c, "ENV", json_string_value(json_object_get(sch, "envId")), NULL, NULL);
	return db_end(c, r < 0 ? r : 0);
}

static const char sql_promote_list_auto[] =
	"SELECT envId, type, predStage, queueSize, schedule, delay, disablePolicy, failPolicy, lastOperator, "
	"lastUpdate FROM promotes WHERE type = 'AUTO' AND predStage IS NOT NULL ORDER BY random()";

int store_promote_list_auto(struct store *s, json_t **ret)
{
	CONN_OR_FAIL(c, s);
	return db_list(c, false, sql_promote_list_auto, ret, NULL);
}

static const char sql_schedule_delete[] = "DELETE FROM schedules WHERE envId = ?";

int store_schedule_delete(struct store *s, const char *env_id)
{
	int r;
	TX_OR_FAIL(c, s);

	r = db_exec(c, sql_schedule_delete, "s", env_id);
	if (r == 0)
		r = -ENOENT;
	if (r >= 0)
		r = store_tx_event(c, "ENV", env_id, NULL, NULL);
	return db_end(c, r < 0 ? r : 0);
}
