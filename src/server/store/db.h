/* SPDX-License-Identifier: Apache-2.0 */
/* store/db.h: the SQL driver layer under the stores (the store_*.c files): a pool of connections (a thread holds
 * one per call), prepared statements cached per connection (keyed by the address of the static SQL text), `?` / `?N`
 * placeholders, transactions, rows as JSON objects and a typed cursor. Two drivers: SQLite (db_sqlite.c) and
 * PostgreSQL (db_pg.c, with WITH_POSTGRES).
 *
 * Errors follow store.h: -EEXIST unique violation, -EAGAIN busy / serialization failure / deadlock / lock
 * timeout, -ENOMEM, -EIO anything else (also a lost connection; the next use of the thread's connection
 * reconnects). db_errmsg() has the text of the calling thread's last error.
 *
 * Bind formats: s = const char * (NULL binds NULL), i = int64_t, z = int64_t where 0 binds NULL, b = int
 * (bool, bound as 0/1), j = const json_t * (scalars as such, arrays/objects as JSON text), n = NULL (no
 * argument consumed).
 *
 * Result rows as JSON (db_row, db_list): keys are the column names (camelCase as written in the schema and the
 * SQL text, on PostgreSQL too); boolean columns (SQLite BOOLEAN, PostgreSQL SMALLINT) and columns aliased with
 * the suffix "__bool" become JSON booleans (the suffix is dropped). */
#ifndef SLIPWAY_STORE_DB_H
#define SLIPWAY_STORE_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

enum db_dialect {
	DB_SQLITE,
	DB_PG,
};

struct buf;
struct db;
struct db_conn;
struct db_stmt;

/* dsn: "sqlite:PATH", or a PostgreSQL connection string (postgresql://, postgres://, key=value). The schema
 * is not touched (see db_migrate). -EPROTONOSUPPORT for a DSN no compiled-in driver takes. */
int db_open(const char *dsn, struct db **ret);
void db_free(struct db *d);
/* The connection pool: at most pool_size connections are open (DB_POOL_SIZE_DEFAULT until set; set it before
 * the first db_conn()). A thread takes one with db_conn() and gives it back with db_conn_put(); nested db_conn()
 * calls of one thread get the same connection (counted), and a connection inside a transaction stays with its
 * thread until db_end(). When every connection is taken, db_conn() waits up to DB_POOL_WAIT_MS for one. */
#define DB_POOL_SIZE_DEFAULT 16
#define DB_POOL_WAIT_MS 5000
void db_set_pool_size(struct db *d, int pool_size);
/* The calling thread's connection (opened on first use, reconnected after a lost connection); NULL on
 * failure (db_errmsg says why). */
struct db_conn *db_conn(struct db *d);
/* Give back the connection *pc of a db_conn() (NULL: nothing); usable as __attribute__((cleanup)). */
void db_conn_put(struct db_conn **pc);
const char *db_errmsg(struct db *d);
enum db_dialect db_dialect(const struct db_conn *c);
/* Is dsn one a driver takes? */
bool db_dsn_supported(const char *dsn);

/* Create or upgrade the schema (the embedded files of the dialect), recorded in schema_meta; on PostgreSQL
 * under an advisory lock so that servers starting at once do not race. */
int db_migrate(struct db_conn *c);

/* Execute; the number of changed rows. */
int db_exec(struct db_conn *c, const char *sql, const char *fmt, ...);
/* First row as an object; -ENOENT without a row. */
int db_row(struct db_conn *c, const char *sql, json_t **ret, const char *fmt, ...);
/* Every row: as objects (first_col false) or the first column's values (first_col true). */
int db_list(struct db_conn *c, bool first_col, const char *sql, json_t **ret, const char *fmt, ...);
/* db_list's rows (objects) appended to out as the JSON text json_dumps(..., JSON_COMPACT) gives for them,
 * without building the objects (for large replies). On error out is left as it was. */
int db_list_text(struct db_conn *c, const char *sql, struct buf *out, const char *fmt, ...);
/* First column of the first row as an integer (NULL reads as 0); -ENOENT without a row. */
int db_int(struct db_conn *c, const char *sql, int64_t *ret, const char *fmt, ...);
/* Execute with params bound from obj's keys cols[0..n-1] (then extra_id, if set); changed rows. */
int db_exec_cols(struct db_conn *c, const char *sql, const char *const cols[], size_t n, const json_t *obj,
		 const char *extra_id);
/* Several statements of plain text, no parameters, not cached. */
int db_script(struct db_conn *c, const char *sql);

/* Transactions. db_begin: a write transaction (SQLite BEGIN IMMEDIATE: the database write lock; PostgreSQL
 * BEGIN plus a transaction-scoped advisory lock on lock_key when lock_key != 0; see db_lock_key).
 * db_end(c, r): commit when r >= 0 (returning r, or the commit's error), else roll back (returning r). */
int db_begin(struct db_conn *c, int64_t lock_key);
int db_end(struct db_conn *c, int r);
void db_rollback(struct db_conn *c);
/* Inside a transaction: also take the transaction-scoped advisory lock key (PostgreSQL; a no-op on SQLite,
 * whose write transaction already excludes every other writer). */
int db_lock(struct db_conn *c, int64_t key);
/* The advisory lock key of a lock name (the same on every replica). */
int64_t db_lock_key(const char *name);
/* One global key serialising the multi-row write transactions (the SQLite behaviour). */
#define DB_LOCK_GLOBAL 0x534c495057415931LL

/* The cursor a db_read_fn reads (the calls below run the query): db_next() → 1 row, 0 done, < 0 error;
 * columns of the current row by index; db_done() releases the cursor. */
int db_next(struct db_stmt *st);
void db_done(struct db_stmt *st);
bool db_col_null(struct db_stmt *st, int i);
int64_t db_col_int64(struct db_stmt *st, int i);
int db_col_int(struct db_stmt *st, int i);
/* NULL for SQL NULL; valid until the next db_next/db_done. */
const char *db_col_text(struct db_stmt *st, int i);
/* Copy text (NULL → "") truncated to size. */
void db_col_copy(struct db_stmt *st, int i, char *dst, size_t size);

/* Typed rows. A db_read_fn reads the current row of st into elem: 0 keeps it, DB_STOP ends the
 * reading without keeping it, a negative errno fails. */
typedef int (*db_read_fn)(struct db_stmt *st, void *elem, void *ctx);
#define DB_STOP 1
/* The first row of sql read into elem; -ENOENT without a row (elem untouched). Errors of read are returned (elem
 * may then hold what read left: the caller releases it). */
int db_one(struct db_conn *c, const char *sql, db_read_fn read, void *elem, void *ctx, const char *fmt, ...);
/* A growing array of elements of `size` bytes: v[0..n-1] read, room for cap. With fixed set, v is the caller's
 * array of cap elements and reading stops when it is full. Otherwise v is malloc'd (the caller frees it, also
 * after an error). */
struct db_vec {
	void *v;
	size_t n, cap, size;
	bool fixed;
};
/* Every row of sql appended to out through read (stopping at DB_STOP or when a fixed out is full). */
int db_collect(struct db_conn *c, const char *sql, struct db_vec *out, db_read_fn read, void *ctx, const char *fmt,
	       ...);

/* Reads that belong together (a ping's): db_batch_collect() queues a db_collect() (out, read and ctx must stay
 * valid until db_batch_run(); the parameters are copied, at most DB_BATCH_PARAMS, formats s, i, z and n) and
 * db_batch_run() runs every queued read as one read transaction: on PostgreSQL in one pipeline, one round trip
 * (libpq pipeline mode; without it, libpq < 14 or a server < 14, one statement after the other), on SQLite inside
 * one deferred transaction. Not inside a transaction of the caller's. At most DB_BATCH_MAX reads are queued (more
 * fail db_batch_run with -E2BIG). db_batch_run() always empties the queue; on error the vecs may hold rows (the
 * caller frees them as after db_collect). */
#define DB_BATCH_MAX 16
int db_batch_collect(struct db_conn *c, const char *sql, struct db_vec *out, db_read_fn read, void *ctx,
		     const char *fmt, ...);
int db_batch_run(struct db_conn *c);

#endif
