/* SPDX-License-Identifier: Apache-2.0 */
/* store/store.c: opening and closing the store, its health and schema version, and the config history writes
 * shared by every resource (store_sql.h). The resources' SQL lives in store_<resource>.c. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store_sql.h"
#include "util.h"
#include "banned.h"

static const char *const config_kind_names[_STORE_CONFIG_MAX] = {
	[STORE_CONFIG_SCRIPT] = "script", [STORE_CONFIG_AGENT] = "agent", [STORE_CONFIG_METRICS] = "metrics",
	[STORE_CONFIG_ALARMS] = "alarms", [STORE_CONFIG_WEBHOOKS] = "webhooks", [STORE_CONFIG_ANALYSIS] = "analysis",
};

const char *store_config_kind_name(enum store_config_kind k)
{
	if ((int)k < 0 || k >= _STORE_CONFIG_MAX)
		return NULL;
	return config_kind_names[k];
}

/* ---- open / close / meta --------------------------------------------------------------------- */

static const char sql_meta_get[] = "SELECT version FROM schema_meta";
static const char sql_health[] = "SELECT 1";

/* A DSN whose scheme names a backend: a driver refusing it means the rest of it is wrong (-EINVAL). */
static bool scheme_known(const char *dsn)
{
#ifdef WITH_POSTGRES
	if (startswith(dsn, "postgresql://") || startswith(dsn, "postgres://"))
		return true;
#endif
	return startswith(dsn, "sqlite:");
}

int store_open(const char *dsn, struct store **ret)
{
	struct store *s;
	struct db_conn *c;
	int r;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	r = db_open(dsn, &s->db);
	if (r < 0) {
		free(s);
		return r == -EPROTONOSUPPORT && dsn && scheme_known(dsn) ? -EINVAL : r;
	}
	c = db_conn(s->db);
	r = c ? db_migrate(c) : -EIO;
	if (r < 0) {
		store_free(s);
		return r;
	}
	s->dialect = db_dialect(c);
	s->token_fresh_ms = INT64_MIN / 2; /* no listener has said anything yet */
	db_conn_put(&c);
	*ret = s;
	return 0;
}

void store_free(struct store *s)
{
	if (!s)
		return;
	db_free(s->db);
	free(s);
}

void store_set_pool_size(struct store *s, int n)
{
	db_set_pool_size(s->db, n);
}

const char *store_errmsg(struct store *s)
{
	return db_errmsg(s->db);
}

int store_health(struct store *s)
{
	int64_t v;
	CONN_OR_FAIL(c, s);
	return db_int(c, sql_health, &v, NULL);
}

int store_schema_version(struct store *s, int *ret)
{
	int64_t v;
	int r;
	CONN_OR_FAIL(c, s);
	r = db_int(c, sql_meta_get, &v, NULL);
	if (r < 0)
		return r;
	*ret = (int)v;
	return 0;
}

/* ---- config history, written by most resources inside their transactions ---------------------- */

static const char sql_hist_add[] = "INSERT INTO config_history(id, changeId, createTime, operator, type, configChange) "
				   "VALUES(?,?,?,?,?,?)";

int store_tx_history(struct db_conn *c, const json_t *h)
{
	int r;
	if (!h)
		return 0;
	r = db_exec(c, sql_hist_add, "jjjjjj", json_object_get(h, "id"), json_object_get(h, "changeId"),
		   json_object_get(h, "createTime"), json_object_get(h, "operator"), json_object_get(h, "type"),
		   json_object_get(h, "configChange"));
	return r < 0 ? r : 0;
}

int store_tx_history_simple(struct db_conn *c, const char *env_id, const char *operator_name, const char *type,
			    const char *change)
{
	char id[ID_LEN + 1];
	json_t *h;
	int r;

	r = id_generate(id);
	if (r < 0)
		return r;
	h = json_pack("{s:s,s:s,s:I,s:s?,s:s,s:s?}", "id", env_id, "changeId", id, "createTime", (json_int_t)now_ms(),
		      "operator", operator_name, "type", type, "configChange", change);
	if (!h)
		return -ENOMEM;
	r = store_tx_history(c, h);
	json_decref(h);
	return r;
}


int store_history_add(struct store *s, const json_t *h)
{
	CONN_OR_FAIL(c, s);
	return store_tx_history(c, h);
}
