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
			  const json_t *names, const json_t *history)
{
	json_t *old = NULL, *v;
	size_t i;
	int r = 0;
	TX_OR_FAIL(c, s);

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
