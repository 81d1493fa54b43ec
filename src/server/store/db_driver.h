/* SPDX-License-Identifier: Apache-2.0 */
/* store/db_driver.h: what a driver of db.h provides (db_sqlite.c, db_pg.c); db.c does the rest (threads,
 * bind formats, rows as JSON, transactions). Private to src/server/store. */
#ifndef SLIPWAY_STORE_DB_DRIVER_H
#define SLIPWAY_STORE_DB_DRIVER_H

#include <pthread.h>

#include "db.h"

/* One bound parameter: kind 's' text (s, len), 'I' integer (typed: bigint on PostgreSQL), 'N' NULL of that
 * type, 'i' integer from a
 * JSON value (typed by its context), 'd' double, 'n' NULL. */
struct db_param {
	char kind;
	const char *s;
	size_t len;
	int64_t i;
	double d;
};

enum db_col_type {
	DB_COL_NULL,
	DB_COL_INT,
	DB_COL_REAL,
	DB_COL_TEXT,
	DB_COL_BOOL,
};

/* One read queued by db_batch_collect(): its statement, its parameters (texts copied into owned) and where its
 * rows go. */
#define DB_BATCH_PARAMS 4
struct db_batch_item {
	const char *sql;
	struct db_param p[DB_BATCH_PARAMS];
	char *owned[DB_BATCH_PARAMS];
	size_t n;
	struct db_vec *out;
	size_t out_n0; /* out->n when queued: a retried batch starts from there again */
	db_read_fn read;
	void *ctx;
};

/* Base of a driver's connection. */
struct db_conn {
	struct db *owner;
	struct db_conn *next;      /* every open connection (db.conns) */
	struct db_conn *next_idle; /* the pool's idle ones (db.idle) */
	int depth;                 /* db_conn() calls of the holding thread not yet given back */
	bool in_tx;                /* inside db_begin .. db_end: stays with its thread */
	enum db_dialect dialect;
	char errmsg[256];
	struct db_batch_item batch[DB_BATCH_MAX];
	size_t n_batch;
	bool batch_failed; /* a read could not be queued: db_batch_run fails */
};

/* Base of a driver's cursor. */
struct db_stmt {
	struct db_conn *conn;
};

struct db_driver {
	enum db_dialect dialect;
	bool (*accepts)(const char *dsn);
	int (*connect)(struct db *d, struct db_conn **ret);
	void (*disconnect)(struct db_conn *c);
	/* before every use of a thread's connection: reconnect when it was lost (may be NULL) */
	int (*check)(struct db_conn *c);
	int (*query)(struct db_conn *c, const char *sql, const struct db_param *p, size_t n, struct db_stmt **ret);
	int (*next)(struct db_stmt *st);
	void (*done)(struct db_stmt *st);
	/* rows changed by the statement just run to completion */
	int (*changes)(struct db_stmt *st);
	int (*ncols)(struct db_stmt *st);
	const char *(*col_name)(struct db_stmt *st, int i);
	enum db_col_type (*col_type)(struct db_stmt *st, int i);
	int64_t (*col_int64)(struct db_stmt *st, int i);
	double (*col_double)(struct db_stmt *st, int i);
	const char *(*col_text)(struct db_stmt *st, int i);
	size_t (*col_bytes)(struct db_stmt *st, int i);
	int (*script)(struct db_conn *c, const char *sql);
	int (*begin)(struct db_conn *c, int64_t lock_key);
	/* Run the queued reads items[0..n-1] as one read transaction, calling each() with the cursor of every
	 * item's result in order (each() releases it with db_done). NULL: db.c runs them one after the other
	 * inside BEGIN ... COMMIT. */
	int (*batch)(struct db_conn *c, struct db_batch_item *items, size_t n,
		     int (*each)(struct db_stmt *st, struct db_batch_item *it));
};

struct db {
	const struct db_driver *drv;
	char *dsn;
	pthread_key_t key; /* the calling thread's struct db_thread (db.c) */
	pthread_mutex_t lock;
	pthread_cond_t freed; /* a connection went back to the pool */
	struct db_conn *conns, *idle;
	int n_open, pool_size;
	char open_errmsg[256];
};

extern const struct db_driver db_sqlite_driver;
#ifdef WITH_POSTGRES
extern const struct db_driver db_pg_driver;
/* `?` / `?N` → `$N` outside string literals and quoted identifiers; *ret malloc'd, *ret_n = number of
 * parameters; -EINVAL for a placeholder number out of range. */
int db_pg_rewrite(const char *sql, char **ret, int *ret_n);
#endif

#endif
