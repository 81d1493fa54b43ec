/* SPDX-License-Identifier: Apache-2.0 */
/* store/store_configs.c: per-stage configuration documents (§4.8).
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

static const char sql_config_get[] = "SELECT value FROM env_configs WHERE envId = ? AND kind = ?";
static const char sql_config_put[] =
	"INSERT INTO env_configs(envId, kind, id, value) VALUES(?1, ?2, ?3, ?4) "
	"ON CONFLICT(envId, kind) DO UPDATE SET value = excluded.value";

int store_config_get(struct store *s, const char *env_id, enum store_config_kind kind, json_t **ret)
{
	json_t *row = NULL, *v;
	int r;
	CONN_OR_FAIL(c, s);

	r = db_row(c, sql_config_get, &row, "ss", env_id, store_config_kind_name(kind));
	if (r < 0)
		return r;
	r = json_parse_bounded(json_string_value(json_object_get(row, "value")),
			       json_string_length(json_object_get(row, "value")), &v, NULL, 0);
	json_decref(row);
	if (r < 0)
		return -EIO;
	*ret = v;
	return 0;
}

int store_config_put(struct store *s, const char *env_id, enum store_config_kind kind, const json_t *value,
		     const json_t *history)
{
	char id[ID_LEN + 1];
	int r;
	CONN_OR_FAIL(c, s);

	r = id_generate(id);
	if (r < 0)
		return r;
	r = db_begin(c, DB_LOCK_GLOBAL);
	if (r < 0)
		return r;
	r = db_exec(c, sql_config_put, "sssj", env_id, store_config_kind_name(kind), id, value);
	if (r >= 0)
		r = store_tx_history(c, history);
	if (r >= 0)
		r = store_tx_event(c, "ENV", env_id, NULL, NULL);
	return db_end(c, r < 0 ? r : 0);
}
