/* SPDX-License-Identifier: Apache-2.0 */
/* store/db_sqlite.c: the SQLite driver of db.h. Pooled connections (db.c) in WAL mode, busy_timeout 5 s,
 * synchronous NORMAL (an acknowledged write survives a process crash). Prepared statements are cached per
 * connection, keyed by the address of the static SQL text; a cache entry is the cursor. Write transactions are
 * BEGIN IMMEDIATE: SQLite takes the database write lock at BEGIN (one server process per file, PROTOCOL §10),
 * so the advisory lock key of db_begin is not needed. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sqlite3.h>

#include "db_driver.h"
#include "util.h"
#include "banned.h"

#define STMT_CACHE_MAX 224

struct sq_stmt {
	struct db_stmt base;
	const char *sql;
	sqlite3_stmt *st;
};

struct sq_conn {
	struct db_conn base;
	sqlite3 *db;
	struct sq_stmt *cache[STMT_CACHE_MAX];
	size_t n_cache;
};

/* Once per process, before the first connection: no memory statistics. SQLite counts every allocation under one
 * global mutex while they are on (the default), and Debian's build has no lookaside allocator, so each value a
 * statement reads or writes is a malloc: in a rollout the pool threads took that mutex over a hundred times a deploy
 * step (bench/RESULTS.md, session 12). The server reads none of those statistics (nor sets a soft heap limit, which
 * needs them). */
static void sq_configure(void)
{
	(void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

static bool sq_accepts(const char *dsn)
{
	return startswith(dsn, "sqlite:") && dsn[7];
}

static void sq_disconnect(struct db_conn *conn)
{
	struct sq_conn *c = container_of(conn, struct sq_conn, base);

	for (size_t i = 0; i < c->n_cache; i++) {
		sqlite3_finalize(c->cache[i]->st);
		free(c->cache[i]);
	}
	sqlite3_close(c->db);
	free(c);
}

static int sq_connect(struct db *d, struct db_conn **ret)
{
	const char *path = d->dsn + strlen("sqlite:");
	static pthread_once_t configured = PTHREAD_ONCE_INIT;
	struct sq_conn *c = calloc(1, sizeof(*c));
	int rc;

	if (!c)
		return -ENOMEM;
	(void)pthread_once(&configured, sq_configure);
	rc = sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		(void)str_printf(d->open_errmsg, sizeof(d->open_errmsg), "cannot open '%s': %s", path,
				 c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
		sqlite3_close(c->db);
		free(c);
		return -EIO;
	}
	sqlite3_busy_timeout(c->db, 5000);
	sqlite3_extended_result_codes(c->db, 1);
	(void)sqlite3_exec(c->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=OFF;",
			   NULL, NULL, NULL);
	*ret = &c->base;
	return 0;
}

static int map_rc(struct sq_conn *c, int rc)
{
	if (rc == SQLITE_OK || rc == SQLITE_DONE || rc == SQLITE_ROW)
		return 0;
	(void)str_printf(c->base.errmsg, sizeof(c->base.errmsg), "%s", sqlite3_errmsg(c->db));
	switch (rc & 0xff) {
	case SQLITE_CONSTRAINT:
		if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
			return -EEXIST;
		return -EINVAL;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EAGAIN;
	case SQLITE_NOMEM:
		return -ENOMEM;
	default:
		return -EIO;
	}
}

static int prep(struct sq_conn *c, const char *sql, struct sq_stmt **ret)
{
	struct sq_stmt *e;
	sqlite3_stmt *st = NULL;
	int rc;

	for (size_t i = 0; i < c->n_cache; i++)
		if (c->cache[i]->sql == sql) {
			e = c->cache[i];
			sqlite3_reset(e->st);
			sqlite3_clear_bindings(e->st);
			*ret = e;
			return 0;
		}
	rc = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
	if (rc != SQLITE_OK)
		return map_rc(c, rc);
	e = calloc(1, sizeof(*e));
	if (!e) {
		sqlite3_finalize(st);
		return -ENOMEM;
	}
	e->base.conn = &c->base;
	e->sql = sql;
	e->st = st;
	if (c->n_cache == STMT_CACHE_MAX) {
		/* cache full: evict the oldest entry */
		sqlite3_finalize(c->cache[0]->st);
		free(c->cache[0]);
		memmove(&c->cache[0], &c->cache[1], sizeof(c->cache[0]) * (STMT_CACHE_MAX - 1));
		c->n_cache--;
	}
	c->cache[c->n_cache++] = e;
	*ret = e;
	return 0;
}

static int sq_query(struct db_conn *conn, const char *sql, const struct db_param *p, size_t n, struct db_stmt **ret)
{
	struct sq_conn *c = container_of(conn, struct sq_conn, base);
	struct sq_stmt *e = NULL;
	int r, rc = SQLITE_OK;

	r = prep(c, sql, &e);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n && rc == SQLITE_OK; i++) {
		int k = (int)i + 1;

		switch (p[i].kind) {
		case 's':
			rc = sqlite3_bind_text(e->st, k, p[i].s, (int)p[i].len, SQLITE_TRANSIENT);
			break;
		case 'i':
		case 'I':
			rc = sqlite3_bind_int64(e->st, k, p[i].i);
			break;
		case 'd':
			rc = sqlite3_bind_double(e->st, k, p[i].d);
			break;
		default:
			rc = sqlite3_bind_null(e->st, k);
			break;
		}
	}
	if (rc != SQLITE_OK) {
		r = map_rc(c, rc);
		sqlite3_reset(e->st);
		return r;
	}
	*ret = &e->base;
	return 0;
}

#define SQ(st) container_of(st, struct sq_stmt, base)
#define SQC(st) container_of((st)->conn, struct sq_conn, base)

static int sq_next(struct db_stmt *st)
{
	int rc = sqlite3_step(SQ(st)->st);

	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return map_rc(SQC(st), rc);
}

static void sq_done(struct db_stmt *st)
{
	sqlite3_reset(SQ(st)->st);
}

static int sq_changes(struct db_stmt *st)
{
	return sqlite3_changes(SQC(st)->db);
}

static int sq_ncols(struct db_stmt *st)
{
	return sqlite3_column_count(SQ(st)->st);
}

static const char *sq_col_name(struct db_stmt *st, int i)
{
	return sqlite3_column_name(SQ(st)->st, i);
}

static enum db_col_type sq_col_type(struct db_stmt *st, int i)
{
	sqlite3_stmt *s = SQ(st)->st;

	switch (sqlite3_column_type(s, i)) {
	case SQLITE_NULL:
		return DB_COL_NULL;
	case SQLITE_INTEGER: {
		const char *decl = sqlite3_column_decltype(s, i);
		return decl && strcasecmp(decl, "BOOLEAN") == 0 ? DB_COL_BOOL : DB_COL_INT;
	}
	case SQLITE_FLOAT:
		return DB_COL_REAL;
	default:
		return DB_COL_TEXT;
	}
}

static int64_t sq_col_int64(struct db_stmt *st, int i)
{
	return sqlite3_column_int64(SQ(st)->st, i);
}

static double sq_col_double(struct db_stmt *st, int i)
{
	return sqlite3_column_double(SQ(st)->st, i);
}

static const char *sq_col_text(struct db_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(SQ(st)->st, i);
}

static size_t sq_col_bytes(struct db_stmt *st, int i)
{
	return (size_t)sqlite3_column_bytes(SQ(st)->st, i);
}

static int sq_script(struct db_conn *conn, const char *sql)
{
	struct sq_conn *c = container_of(conn, struct sq_conn, base);

	return map_rc(c, sqlite3_exec(c->db, sql, NULL, NULL, NULL));
}

static const char sql_begin[] = "BEGIN IMMEDIATE";

static int sq_begin(struct db_conn *c, int64_t lock_key)
{
	int r = db_exec(c, sql_begin, NULL);

	(void)lock_key;
	return r < 0 ? r : 0;
}

const struct db_driver db_sqlite_driver = {
	.dialect = DB_SQLITE,
	.accepts = sq_accepts,
	.connect = sq_connect,
	.disconnect = sq_disconnect,
	.query = sq_query,
	.next = sq_next,
	.done = sq_done,
	.changes = sq_changes,
	.ncols = sq_ncols,
	.col_name = sq_col_name,
	.col_type = sq_col_type,
	.col_int64 = sq_col_int64,
	.col_double = sq_col_double,
	.col_text = sq_col_text,
	.col_bytes = sq_col_bytes,
	.script = sq_script,
	.begin = sq_begin,
};
