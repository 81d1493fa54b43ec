/* SPDX-License-Identifier: Apache-2.0 */
/* store/store_events.c: the wake events (§5.11) every change writes and the ping path polls: the one event API
 * (store.h), and the in-transaction write every resource uses (store_sql.h). On PostgreSQL each event is also
 * announced with NOTIFY on STORE_WAKE_CHANNEL in the transaction that writes it (so other replicas' listeners,
 * store/pg_listen.c, learn of it when it commits, never before), and so are a ping's write of a host's rows
 * (store_tx_host_written()) and a write to the tokens table (store_tx_tokens_written()); the payload is one JSON
 * object, read back by store_event_from_payload().
 * SQL is static text with placeholders only (store_sql.h); does not log. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "jsonutil.h"
#include "store_sql.h"
#include "util.h"
#include "banned.h"

/* PostgreSQL: how long a gap in the sequence may be an insert still being committed (store_event_poll) */
#define EVENT_GAP_WAIT_MS 1000

static const char sql_event_add[] = "INSERT INTO events(kind, envId, hostId, name, createdAt) VALUES(?,?,?,?,?)";
/* PostgreSQL: the insert and its NOTIFY in one statement (one round trip); delivered at commit */
static const char sql_event_add_notify[] =
	"WITH e AS (INSERT INTO events(kind, envId, hostId, name, createdAt) VALUES(?,?,?,?,?) "
	"RETURNING seq, kind, envId, hostId, name) "
	"SELECT e.seq, pg_notify('" STORE_WAKE_CHANNEL "', json_build_object('seq', e.seq, 'kind', e.kind, "
	"'envId', e.envId, 'hostId', e.hostId, 'name', e.name)::text) FROM e";
/* a ping's write of a host's rows: no event row, the payload built like the events' */
static const char sql_notify_host[] =
	"SELECT 1 FROM pg_notify('" STORE_WAKE_CHANNEL "', json_build_object('kind', 'HOST', 'hostId', ?::text)::text)";
/* a write to the tokens table: no event row either */
static const char sql_notify_tokens[] =
	"SELECT 1 FROM pg_notify('" STORE_WAKE_CHANNEL "', '{\"kind\": \"" STORE_NOTIFY_TOKENS "\"}')";
static const char sql_event_poll[] =
	"SELECT seq, kind, envId, hostId, name, createdAt FROM events WHERE seq > ? ORDER BY seq LIMIT ?";
static const char sql_event_last[] = "SELECT COALESCE(MAX(seq), 0) FROM events";
static const char sql_event_purge[] = "DELETE FROM events WHERE createdAt < ?";

static const char sql_event_constrained[] = "SELECT count(*) FROM deploy_constraints WHERE envId = ?";

int store_tx_event(struct db_conn *c, const char *kind, const char *env_id, const char *host_id, const char *name)
{
	int64_t constrained = 0;
	int r;

	/* a released slot wakes a couple of the stage's held pings; under a deploy constraint they may be of a tag
	 * value that must wait, so the stage's held pings are all woken (an ENV event) and admission picks */
	if (env_id && streq(kind, "SLOT")) {
		r = db_int(c, sql_event_constrained, &constrained, "s", env_id);
		if (r < 0)
			return r;
		if (constrained > 0)
			kind = "ENV";
	}
	if (db_dialect(c) == DB_PG) {
		int64_t seq;

		return db_int(c, sql_event_add_notify, &seq, "ssssi", kind, env_id, host_id, name, (int64_t)now_ms());
	}
	r = db_exec(c, sql_event_add, "ssssi", kind, env_id, host_id, name, (int64_t)now_ms());
	return r < 0 ? r : 0;
}

int store_tx_host_written(struct db_conn *c, const char *host_id)
{
	int64_t one;
	int r;

	if (db_dialect(c) != DB_PG)
		return 0;
	r = db_int(c, sql_notify_host, &one, "s", host_id);
	return r < 0 ? r : 0;
}

int store_tx_tokens_written(struct db_conn *c)
{
	int64_t one;
	int r;

	if (db_dialect(c) != DB_PG)
		return 0;
	r = db_int(c, sql_notify_tokens, &one, NULL);
	return r < 0 ? r : 0;
}

/* The field at key into dst (absent or null: empty); -EINVAL when it is not a string that fits. */
static int copy_field(const json_t *o, const char *key, char *dst, size_t size)
{
	const char *v;
	int r = json_get_string(o, key, size - 1, &v);

	if (r == -ENOENT) {
		dst[0] = 0;
		return 0;
	}
	return r < 0 ? -EINVAL : str_copy(dst, size, v);
}

int store_event_from_payload(const char *payload, struct store_event *ret)
{
	json_t *o = NULL;
	int64_t seq = 0;
	int r;

	r = json_parse_bounded(payload, strlen(payload), &o, NULL, 0);
	if (r < 0)
		return -EINVAL;
	r = json_is_object(o) ? json_get_int(o, "seq", 1, INT64_MAX, &seq) : -EINVAL;
	if (r == -ENOENT)
		r = 0; /* a ping's write of a host's rows: no event row */
	if (r == 0)
		r = copy_field(o, "kind", ret->kind, sizeof(ret->kind));
	if (r == 0 && !ret->kind[0])
		r = -EINVAL;
	if (r == 0)
		r = copy_field(o, "envId", ret->env_id, sizeof(ret->env_id));
	if (r == 0)
		r = copy_field(o, "hostId", ret->host_id, sizeof(ret->host_id));
	if (r == 0)
		r = copy_field(o, "name", ret->name, sizeof(ret->name));
	json_decref(o);
	if (r < 0)
		return -EINVAL;
	ret->seq = seq;
	return 0;
}

int store_event_add(struct store *s, const char *kind, const char *env_id, const char *host_id, const char *name)
{
	CONN_OR_FAIL(c, s);
	return store_tx_event(c, kind, env_id, host_id, name);
}

struct poll_ctx {
	int64_t prev, now;
	bool pg;
};

static int event_read(struct db_stmt *st, void *elem, void *ctx)
{
	struct store_event *ev = elem;
	struct poll_ctx *p = ctx;
	int64_t seq = db_col_int64(st, 0);

	/* PostgreSQL: sequence numbers are taken at insert but become visible at commit, so a gap may be an event
	 * still being committed by another replica; stop before a fresh gap (a rolled-back insert leaves a gap for
	 * good: it is skipped once the next event is EVENT_GAP_WAIT_MS old) */
	if (p->pg && seq != p->prev + 1 && db_col_int64(st, 5) > p->now - EVENT_GAP_WAIT_MS)
		return DB_STOP;
	ev->seq = p->prev = seq;
	db_col_copy(st, 1, ev->kind, sizeof(ev->kind));
	db_col_copy(st, 2, ev->env_id, sizeof(ev->env_id));
	db_col_copy(st, 3, ev->host_id, sizeof(ev->host_id));
	db_col_copy(st, 4, ev->name, sizeof(ev->name));
	return 0;
}

int store_event_poll(struct store *s, int64_t after, struct store_event *ev, size_t max)
{
	struct db_vec out = { .v = ev, .cap = max, .size = sizeof(*ev), .fixed = true };
	struct poll_ctx p = { .prev = after, .now = now_ms() };
	int r;
	CONN_OR_FAIL(c, s);

	p.pg = db_dialect(c) == DB_PG;
	r = db_collect(c, sql_event_poll, &out, event_read, &p, "ii", after, (int64_t)max);
	return r < 0 ? r : (int)out.n;
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
