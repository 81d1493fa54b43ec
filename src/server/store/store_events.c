/* SPDX-License-Identifier: Apache-2.0 */
/* store/store_events.c: the wake events (§5.11) every change writes and the ping path polls.
 * SQL is static text with placeholders only (store_sql.h); does not log. */
#include <errno.h>

#include "store_sql.h"
#include "util.h"
#include "banned.h"

static const char sql_event_add[] = "INSERT INTO events(kind, envId, hostId, name, createdAt) VALUES(?,?,?,?,?)";

int store_tx_event(struct db_conn *c, const char *kind, const char *env_id, const char *host_id, const char *name)
{
	int r = db_exec(c, sql_event_add, "ssssi", kind, env_id, host_id, name, (int64_t)now_ms());
	return r < 0 ? r : 0;
}

static const char sql_event_poll[] =
	"SELECT seq, kind, envId, hostId, name, createdAt FROM events WHERE seq > ? ORDER BY seq LIMIT ?";
static const char sql_event_last[] = "SELECT COALESCE(MAX(seq), 0) FROM events";
static const char sql_event_purge[] = "DELETE FROM events WHERE createdAt < ?";

int store_event_add(struct store *s, const char *kind, const char *env_id, const char *host_id,
		    const char *name)
{
	CONN_OR_FAIL(c, s);
	return store_tx_event(c, kind, env_id, host_id, name);
}

int store_event_poll(struct store *s, int64_t after_seq, int64_t limit, json_t **ret)
{
	CONN_OR_FAIL(c, s);
	return db_list(c, false, sql_event_poll, ret, "ii", after_seq, limit);
}

int store_event_last_seq(struct store *s, int64_t *ret)
{
	CONN_OR_FAIL(c, s);
	return db_int(c, sql_event_last, ret, NULL);
}

int store_event_purge(struct store *s, int64_t before)
{
	int r;
	CONN_OR_FAIL(c, s);
	r = db_exec(c, sql_event_purge, "i", before);
	return r < 0 ? r : 0;
}
