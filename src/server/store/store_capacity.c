/* SPDX-License-Identifier: Apache-2.0 */
/* store/store_capacity.c: capacity of a stage: hosts and groups (§4.4).
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

static const char sql_cap_get[] = "SELECT name FROM capacity WHERE envId = ? AND type = ? ORDER BY name";
static const char sql_cap_clear[] = "DELETE FROM capacity WHERE envId = ? AND type = ?";
static const char sql_cap_add[] = "INSERT INTO capacity(envId, type, name) VALUES(?,?,?) ON CONFLICT DO NOTHING";
static const char sql_cap_remove[] = "DELETE FROM capacity WHERE envId = ? AND type = ? AND name = ?";

static const char sql_env_name_of[] = "SELECT envName FROM envs WHERE id = ?";

/* ---- claims: an env is a boundary around hosts (store.h) ---- */

/* (name, envName) for every env whose capacity reaches one of the names ?1 (a JSON array): directly, or
 * a host through one of its groups, a group through one of its hosts */
#define CAP_HOLDERS_HOST(JE)                                                                                           \
	"SELECT c.name AS name, e.envName FROM capacity c JOIN envs e ON e.id = c.envId WHERE c.type = 'HOST' AND "     \
	"c.name IN (SELECT value FROM " JE("?1") ") UNION SELECT h.hostName AS name, e.envName FROM hosts h JOIN "      \
	"capacity c ON c.type = 'GROUP' AND c.name = h.groupName JOIN envs e ON e.id = c.envId WHERE h.hostName IN "    \
	"(SELECT value FROM " JE("?1") ")"
#define CAP_HOLDERS_GROUP(JE)                                                                                          \
	"SELECT c.name AS name, e.envName FROM capacity c JOIN envs e ON e.id = c.envId WHERE c.type = 'GROUP' AND "    \
	"c.name IN (SELECT value FROM " JE("?1") ") UNION SELECT h.groupName AS name, e.envName FROM hosts h JOIN "     \
	"capacity c ON c.type = 'HOST' AND c.name = h.hostName JOIN envs e ON e.id = c.envId WHERE h.groupName IN "     \
	"(SELECT value FROM " JE("?1") ")"
static const struct dsql sql_cap_holders_host = DSQL_JE(CAP_HOLDERS_HOST);
static const struct dsql sql_cap_holders_group = DSQL_JE(CAP_HOLDERS_GROUP);

static int cap_holders(struct db_conn *c, const char *type, const json_t *list, json_t **ret)
{
	return db_list(c, false, SQL(c, streq(type, "HOST") ? sql_cap_holders_host : sql_cap_holders_group), ret, "j",
		       list);
}

/* name → the first env other than own holding it, or true when own holds it (own wins) */
static int cap_holder_map(const json_t *rows, const char *own, json_t **ret)
{
	json_t *map = json_object(), *row;
	size_t i;

	if (!map)
		return -ENOMEM;
	json_array_foreach(rows, i, row) {
		const char *name = json_string_value(json_object_get(row, "name"));
		json_t *env = json_object_get(row, "envName");
		if (!name || !json_is_string(env))
			continue;
		if (streq(json_string_value(env), own))
			(void)json_object_set_new(map, name, json_true());
		else if (!json_object_get(map, name))
			(void)json_object_set(map, name, env);
	}
	*ret = map;
	return 0;
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
	list = json_is_array(names) ? json_deep_copy(names) : json_pack("[O]", names);
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

int store_tx_host_joins_group(struct db_conn *c, const json_t *host, const json_t *group, enum store_claim claim,
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

/* ---- reads and writes ---- */

static int cap_event(struct db_conn *c, const char *env_id, const json_t *name)
{
	return store_tx_event(c, "CAPACITY", env_id, NULL, json_string_value(name));
}

int store_capacity_get(struct store *s, const char *env_id, const char *type, json_t **ret)
{
	CONN_OR_FAIL(c, s);
	return db_list(c, true, sql_cap_get, ret, "ss", env_id, type);
}

int store_capacity_change(struct store *s, const char *env_id, const char *type, enum store_capacity_op op,
			  const json_t *names, const json_t *history, enum store_claim claim,
			  struct store_claim_refusal *refused)
{
	json_t *old = NULL, *v;
	size_t i;
	int r = 0;
	TX_OR_FAIL(c, s);

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
		r = store_tx_history(c, history);
	return db_end(c, r < 0 ? r : 0);
}
