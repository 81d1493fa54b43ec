/* SPDX-License-Identifier: Apache-2.0 */
/* store/store_tags.c: tags, and enabling/disabling stages (which writes a tag) (§4.3, §4.9).
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

int store_tag_insert(struct store *s, const json_t *t)
{
	int r;
	CONN_OR_FAIL(c, s);
	r = db_exec_cols(c, sql_tag_insert, tag_cols, ELEMENTSOF(tag_cols), t, NULL);
	return r < 0 ? r : 0;
}

int store_tag_list_target(struct store *s, const char *target_id, int64_t limit, json_t **ret)
{
	CONN_OR_FAIL(c, s);
	return db_list(c, false, sql_tag_list_target, ret, "si", target_id, limit);
}

int store_tag_get(struct store *s, const char *id, json_t **ret)
{
	CONN_OR_FAIL(c, s);
	return db_row(c, sql_tag_get, ret, "s", id);
}

int store_tag_delete(struct store *s, const char *id)
{
	int r;
	CONN_OR_FAIL(c, s);
	r = db_exec(c, sql_tag_delete, "s", id);
	if (r < 0)
		return r;
	return r == 0 ? -ENOENT : 0;
}

int store_tag_list_value(struct store *s, const char *value, int64_t limit, json_t **ret)
{
	CONN_OR_FAIL(c, s);
	return db_list(c, false, sql_tag_list_value, ret, "si", value, limit);
}

int store_env_set_enabled(struct store *s, const char *id, const char *state, const json_t *tag,
			  const char *operator_name, const char *change)
{
	json_t *ids = NULL, *v;
	size_t i;
	int r = 0;
	TX_OR_FAIL(c, s);

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
			r = store_tx_history_simple(c, json_string_value(v), operator_name, "Env Action", change);
		if (r >= 0)
			r = store_tx_event(c, "ENV", json_string_value(v), NULL, NULL);
	}
	if (r >= 0 && tag) {
		r = db_exec_cols(c, sql_tag_insert, tag_cols, ELEMENTSOF(tag_cols), tag, NULL);
	}
	json_decref(ids);
	return db_end(c, r < 0 ? r : 0);
}
