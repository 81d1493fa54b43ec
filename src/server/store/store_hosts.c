/* SPDX-License-Identifier: Apache-2.0 */
/* store/store_hosts.c: hosts, the stop flow and deploy progress lists (§3.5, §4.7, §5.9).
 * SQL is static text with placeholders only (store_sql.h); does not log. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enums.h"
#include "jsonutil.h"
#include "store_sql.h"
#include "util.h"
#include "banned.h"

#define HOST_COLS                                                                                                      \
	"h.hostName, h.groupName, h.ip, h.hostId, h.accountId, h.createDate, h.lastUpdateDate, h.state, h.canRetire, " \
	"CASE WHEN h.state IN ('PENDING_TERMINATE', 'PENDING_TERMINATE_NO_REPLACE') THEN 1 ELSE 0 END "               \
	"AS pendingTerminate__bool, hb.lastSeen, hb.agentVersion"
#define HOST_IN_ENV_OF(A)                                                                                              \
	"(" A ".hostName IN (SELECT name FROM capacity WHERE envId = ?1 AND type = 'HOST') OR " A ".groupName IN "    \
	"(SELECT name FROM capacity WHERE envId = ?1 AND type = 'GROUP'))"
#define HOST_IN_ENV HOST_IN_ENV_OF("h")
static const char sql_host_list_env[] = "SELECT " HOST_COLS " FROM hosts h LEFT JOIN heartbeats hb ON hb.hostId = "
					"h.hostId WHERE " HOST_IN_ENV " AND (h.hostName = ?2 OR ?2 IS NULL) "
					"ORDER BY h.hostName, h.groupName";
/* a page: every row of the first ?3 host names of the stage after ?2 (the host records walked in name order) */
static const char sql_host_page_env[] =
	"SELECT " HOST_COLS " FROM hosts h LEFT JOIN heartbeats hb ON hb.hostId = h.hostId WHERE " HOST_IN_ENV
	" AND h.hostName IN (SELECT DISTINCT h2.hostName FROM hosts h2 WHERE " HOST_IN_ENV_OF("h2")
	" AND h2.hostName > COALESCE(?2, '') ORDER BY h2.hostName LIMIT ?3) ORDER BY h.hostName, h.groupName";
static const char sql_host_list_name[] = "SELECT " HOST_COLS " FROM hosts h LEFT JOIN heartbeats hb ON hb.hostId = "
					 "h.hostId WHERE h.hostName = ? ORDER BY h.groupName";
static const char sql_host_list_id[] = "SELECT " HOST_COLS " FROM hosts h LEFT JOIN heartbeats hb ON hb.hostId = "
				       "h.hostId WHERE h.hostId = ? ORDER BY h.groupName";
#define SQL_HOST_MISSING_IN_ENV(JE)                                                                                    \
	"SELECT value FROM " JE("?1") " WHERE value NOT IN (SELECT hostId FROM agents WHERE envId = ?2)"
static const struct dsql sql_host_missing_in_env = DSQL_JE(SQL_HOST_MISSING_IN_ENV);
#define SQL_HOST_STOP_ROWS(JE)                                                                                         \
	"SELECT hostId, envId, holdsSlot FROM agents WHERE hostId IN (SELECT value FROM " JE("?1") ")"
static const struct dsql sql_host_stop_rows = DSQL_JE_LOCKING(SQL_HOST_STOP_ROWS, ORDER_AGENTS, "agents");
#define SQL_HOST_STOP_LOCK_HOSTS(JE) "SELECT hostId FROM hosts WHERE hostId IN (SELECT value FROM " JE("?1") ")"
static const struct dsql sql_host_stop_lock_hosts = DSQL_JE_LOCKING(SQL_HOST_STOP_LOCK_HOSTS, ORDER_HOSTS, "hosts");
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
/* the lists of progress, each cut to ?2 entries (the whole list: INT64_MAX) */
#define PROGRESS_MISSING_FROM                                                                                          \
	" FROM capacity WHERE envId = ?1 AND type = 'HOST' AND NOT EXISTS (SELECT 1 FROM heartbeats hb WHERE "          \
	"hb.hostName = capacity.name)"
#define PROGRESS_PROVISIONING_FROM                                                                                     \
	" FROM hosts h JOIN heartbeats hb ON hb.hostId = h.hostId WHERE " HOST_IN_ENV                                 \
	" AND h.hostId NOT IN (SELECT hostId FROM agents WHERE envId = ?1)"
static const char sql_progress_missing[] = "SELECT name" PROGRESS_MISSING_FROM " ORDER BY name LIMIT ?2";
static const char sql_progress_provisioning[] =
	"SELECT " HOST_COLS PROGRESS_PROVISIONING_FROM " ORDER BY h.hostName, h.groupName LIMIT ?2";
static const char sql_progress_removed[] = "SELECT hostName FROM agents WHERE envId = ?1 AND removed = 1 ORDER BY "
					   "hostName LIMIT ?2";
static const char sql_progress_missing_count[] = "SELECT count(*)" PROGRESS_MISSING_FROM;
static const char sql_progress_provisioning_count[] = "SELECT count(DISTINCT h.hostId)" PROGRESS_PROVISIONING_FROM;

/* Host search (GET /v1/hosts): the distinct names of heartbeats (hosts that pinged) and host records, in name
 * order, after a cursor. Each side walks its name index in order and stops after `limit` matches: a prefix reads
 * a range of the index (on PostgreSQL the "C"-collation indexes of schema 5, so the database's collation does not
 * matter); a substring is tested on the names walked, which may read the whole index when few names match. */
#define HOST_SEARCH_SIDE(T, WHERE, C, AFTER, LIM)                                                                      \
	"SELECT hostName FROM (SELECT DISTINCT hostName" C " AS hostName FROM " T " WHERE " WHERE " AND hostName" C  \
	" > " AFTER " ORDER BY 1 LIMIT " LIM ") "
#define HOST_SEARCH(WHERE, C, AFTER, LIM)                                                                              \
	"SELECT n.hostName, (SELECT max(hb.lastSeen) FROM heartbeats hb WHERE hb.hostName = n.hostName) AS lastSeen, " \
	"(SELECT count(*) FROM agents a WHERE a.hostName = n.hostName) AS stages FROM ("                               \
	HOST_SEARCH_SIDE("heartbeats", WHERE, C, AFTER, LIM) "x UNION "                                                \
	HOST_SEARCH_SIDE("hosts", WHERE, C, AFTER, LIM) "y) n ORDER BY 1 LIMIT " LIM
#define PG_C " COLLATE \"C\""
static const struct dsql sql_host_search_prefix = {
	HOST_SEARCH("hostName >= ?1 AND hostName < ?2", "", "?3", "?4"),
	HOST_SEARCH("hostName" PG_C " >= ?1 AND hostName" PG_C " < ?2", PG_C, "?3", "?4"),
};
static const struct dsql sql_host_search_contains = {
	HOST_SEARCH("instr(hostName, ?1) > 0", "", "?2", "?3"),
	HOST_SEARCH("strpos(hostName, ?1) > 0", PG_C, "?2", "?3"),
};

int store_host_search(struct store *s, const struct host_search *q, json_t **ret)
{
	char upper[STORE_HOST_SEARCH_MAX_TEXT + 2];
	const char *after = q->after ? q->after : "";
	CONN_OR_FAIL(c, s);

	if (!q->prefix)
		return db_list(c, false, SQL(c, sql_host_search_contains), ret, "ssi", q->text, after, q->limit);
	/* host names are ASCII letters, digits, '.', '_' and '-', all below '~': [text, text + "~") is the prefix */
	if (str_printf(upper, sizeof(upper), "%s~", q->text) < 0)
		return -EINVAL;
	return db_list(c, false, SQL(c, sql_host_search_prefix), ret, "sssi", q->text, upper, after, q->limit);
}

int store_host_list_env(struct store *s, const char *env_id, const char *host_name, const struct store_page *pg,
			json_t **ret)
{
	CONN_OR_FAIL(c, s);
	if (!host_name && pg && pg->limit > 0)
		return db_list(c, false, sql_host_page_env, ret, "ssi", env_id, pg->after, pg->limit);
	return db_list(c, false, sql_host_list_env, ret, "ss", env_id, host_name);
}

int store_host_list(struct store *s, const char *host_name, const char *host_id, json_t **ret)
{
	CONN_OR_FAIL(c, s);
	if (host_name)
		return db_list(c, false, sql_host_list_name, ret, "s", host_name);
	return db_list(c, false, sql_host_list_id, ret, "s", host_id);
}

int store_host_stop(struct store *s, const char *env_id, const json_t *host_ids, bool replace,
		    const char *operator_name, int64_t now)
{
	json_t *missing = NULL, *affected = NULL;
	int r = 0;
	TX_OR_FAIL(c, s);

	if (env_id) {
		r = db_list(c, true, SQL(c, sql_host_missing_in_env), &missing, "js", host_ids, env_id);
		if (r >= 0 && json_array_size(missing) > 0)
			r = -ENOENT;
	}
	if (r >= 0)
		r = db_list(c, false, SQL(c, sql_host_stop_rows), &affected, "j", host_ids);
	if (r >= 0)
		r = db_exec(c, SQL(c, sql_host_stop_agents), "jis", host_ids, now, operator_name);
	if (r >= 0 && db_dialect(c) == DB_PG)
		r = db_exec(c, SQL(c, sql_host_stop_lock_hosts), "j", host_ids);
	if (r >= 0)
		r = db_exec(c, SQL(c, sql_host_stop_hosts), "jsi", host_ids,
			   replace ? "PENDING_TERMINATE" : "PENDING_TERMINATE_NO_REPLACE", now);
	if (r >= 0)
		r = store_tx_agent_effects(c, affected, true, "STOP", operator_name);
	json_decref(missing);
	json_decref(affected);
	return db_end(c, r < 0 ? r : 0);
}

int store_host_register(struct store *s, const json_t *h, enum store_claim claim, struct store_claim_refusal *refused)
{
	int r;
	CONN_OR_FAIL(c, s);

	r = db_begin(c, DB_LOCK_GLOBAL);
	if (r < 0)
		return r;
	r = store_tx_host_joins_group(c, json_object_get(h, "hostName"), json_object_get(h, "groupName"), claim,
				      refused);
	if (r >= 0)
		r = db_exec(c, sql_host_register, "jjjjji", json_object_get(h, "hostName"),
			    json_object_get(h, "groupName"), json_object_get(h, "ip"), json_object_get(h, "hostId"),
			    json_object_get(h, "accountId"), (int64_t)now_ms());
	return db_end(c, r < 0 ? r : 0);
}

int store_host_update(struct store *s, const char *host_id, const json_t *p, int64_t now)
{
	int r;
	CONN_OR_FAIL(c, s);
	r = db_exec(c, sql_host_update, "sjjji", host_id, json_object_get(p, "ip"), json_object_get(p, "state"),
		   json_object_get(p, "accountId"), now);
	if (r < 0)
		return r;
	return r == 0 ? -ENOENT : 0;
}

int store_host_active(struct store *s, const json_t *host_ids, json_t **ret)
{
	CONN_OR_FAIL(c, s);
	return db_list(c, true, SQL(c, sql_host_active), ret, "j", host_ids);
}

int store_tx_progress_counts(struct db_conn *c, const char *env_id, int64_t *ret_missing, int64_t *ret_provisioning)
{
	int r = db_int(c, sql_progress_missing_count, ret_missing, "s", env_id);

	if (r >= 0 && ret_provisioning)
		r = db_int(c, sql_progress_provisioning_count, ret_provisioning, "s", env_id);
	return r < 0 ? r : 0;
}

int store_progress_lists(struct store *s, const char *env_id, int64_t limit, json_t **ret_missing,
			 json_t **ret_provisioning, json_t **ret_removed)
{
	json_t *m = NULL, *p = NULL, *rm = NULL;
	int r;
	CONN_OR_FAIL(c, s);

	if (limit <= 0)
		limit = INT64_MAX;
	r = db_list(c, true, sql_progress_missing, &m, "si", env_id, limit);
	if (r >= 0 && ret_provisioning)
		r = db_list(c, false, sql_progress_provisioning, &p, "si", env_id, limit);
	if (r >= 0 && ret_removed)
		r = db_list(c, true, sql_progress_removed, &rm, "si", env_id, limit);
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
