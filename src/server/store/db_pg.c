/* SPDX-License-Identifier: Apache-2.0 */
/* store/db_pg.c: the PostgreSQL driver of db.h (libpq). Pooled connections (db.c); the DSN (a libpq URI or a
 * keyword/value string) is passed to libpq unchanged.
 *
 * Statements are named prepared statements cached per connection, keyed by the address of the static SQL text
 * like the SQLite cache. `?` and `?N` placeholders are rewritten to `$N` once, at prepare time (a `?` inside a
 * string literal or a quoted identifier is left alone). Parameters travel as text; integers bound with the i/z/b
 * formats are declared bigint, everything else is typed by its context.
 *
 * Results: PostgreSQL folds unquoted identifiers to lower case, so result column names come back lower-cased;
 * they are restored from the identifiers of the statement's SQL text and of the schema (column names and
 * `AS alias`es). SMALLINT columns (the schema's booleans) read as JSON booleans.
 *
 * Errors: SQLSTATE 23505 → -EEXIST, 40001 / 40P01 / 55P03 → -EAGAIN, a lost connection → -EIO and the next
 * use of the connection resets it (PQreset) and forgets the prepared statements. Every session has a 5 s
 * lock_timeout, the counterpart of SQLite's busy timeout. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libpq-fe.h>

#include "db_driver.h"
#include "store_schema.h"
#include "parse.h"
#include "util.h"
#include "banned.h"

#define PG_STMT_CACHE_MAX 256
#define PG_MAX_PARAMS 64

/* type OIDs (pg_type.h is a server header) */
#define OID_BOOL 16
#define OID_INT8 20
#define OID_INT2 21
#define OID_INT4 23
#define OID_OID 26
#define OID_FLOAT4 700
#define OID_FLOAT8 701
#define OID_NUMERIC 1700

struct pg_stmt {
	struct db_stmt base;
	const char *sql;
	char name[24];
	int n_params;
	PGresult *res;
	int row, n_rows;
	int n_cols;
	char **names; /* restored column names, built from the first result */
	bool pinned;  /* queued in the running pipeline: not evicted from the cache */
};

struct pg_conn {
	struct db_conn base;
	PGconn *pg;
	struct pg_stmt *cache[PG_STMT_CACHE_MAX];
	size_t n_cache;
	unsigned next_id;
};

/* ---- identifier case restoration ---- */

struct ident {
	char lower[64];
	char orig[64];
};

static struct ident *schema_idents;
static size_t n_schema_idents;
static pthread_once_t schema_idents_once = PTHREAD_ONCE_INIT;

/* Calls fn for every identifier-like word of sql (outside string literals) that has an upper-case letter. */
static void idents_scan(const char *sql, size_t len, void (*fn)(const char *w, size_t n, void *u), void *u)
{
	size_t i = 0;

	while (i < len) {
		char ch = sql[i];

		if (ch == '\'') {
			for (i++; i < len && sql[i] != '\''; i++)
				;
			i++;
		} else if (ch == '-' && i + 1 < len && sql[i + 1] == '-') {
			while (i < len && sql[i] != '\n')
				i++;
		} else if (isalpha((unsigned char)ch) || ch == '_') {
			size_t start = i;
			bool upper = false;

			while (i < len && (isalnum((unsigned char)sql[i]) || sql[i] == '_')) {
				if (isupper((unsigned char)sql[i]))
					upper = true;
				i++;
			}
			if (upper && i - start < sizeof(((struct ident *)NULL)->orig))
				fn(sql + start, i - start, u);
		} else
			i++;
	}
}

static void schema_ident_add(const char *w, size_t n, void *u)
{
	size_t *cap = u;
	struct ident *id;

	for (size_t i = 0; i < n_schema_idents; i++)
		if (strlen(schema_idents[i].orig) == n && memcmp(schema_idents[i].orig, w, n) == 0)
			return;
	if (n_schema_idents == *cap) {
		size_t nc = *cap ? *cap * 2 : 128;
		struct ident *ni = realloc(schema_idents, nc * sizeof(*ni));
		if (!ni)
			return;
		schema_idents = ni;
		*cap = nc;
	}
	id = &schema_idents[n_schema_idents++];
	memcpy(id->orig, w, n);
	id->orig[n] = 0;
	for (size_t i = 0; i <= n; i++)
		id->lower[i] = (char)tolower((unsigned char)id->orig[i]);
}

static void schema_idents_build(void)
{
	size_t cap = 0;

	for (const struct store_schema_file *f = store_pg_schema_files; f->path; f++)
		idents_scan((const char *)f->data, f->len, schema_ident_add, &cap);
}

struct ident_find {
	const char *lower;
	size_t n;
	char found[64];
};

static void ident_match(const char *w, size_t n, void *u)
{
	struct ident_find *f = u;

	if (f->found[0] || n != f->n || strncasecmp(w, f->lower, n) != 0)
		return;
	memcpy(f->found, w, n);
	f->found[n] = 0;
}

/* The original spelling of a folded column name: from the statement's text, else the schema, else as is. */
static char *name_restore(const char *sql, const char *folded)
{
	struct ident_find f = { .lower = folded, .n = strlen(folded) };

	idents_scan(sql, strlen(sql), ident_match, &f);
	if (f.found[0])
		return strdup(f.found);
	(void)pthread_once(&schema_idents_once, schema_idents_build);
	for (size_t i = 0; i < n_schema_idents; i++)
		if (streq(schema_idents[i].lower, folded))
			return strdup(schema_idents[i].orig);
	return strdup(folded);
}

/* ---- placeholders ---- */

int db_pg_rewrite(const char *sql, char **ret, int *ret_n)
{
	size_t len = strlen(sql), o = 0;
	char *out = malloc(len * 4 + 1);
	int max = 0;

	if (!out)
		return -ENOMEM;
	for (size_t i = 0; i < len;) {
		char ch = sql[i];

		if (ch == '\'' || ch == '"') {
			out[o++] = sql[i++];
			while (i < len && sql[i] != ch)
				out[o++] = sql[i++];
			if (i < len)
				out[o++] = sql[i++];
		} else if (ch == '?') {
			int k;

			i++;
			if (isdigit((unsigned char)sql[i])) {
				k = 0;
				while (isdigit((unsigned char)sql[i]) && k < 1000)
					k = k * 10 + (sql[i++] - '0');
			} else
				k = max + 1;
			if (k < 1 || k > PG_MAX_PARAMS) {
				free(out);
				return -EINVAL;
			}
			if (k > max)
				max = k;
			o += (size_t)snprintf(out + o, 8, "$%d", k);
		} else
			out[o++] = sql[i++];
	}
	out[o] = 0;
	*ret = out;
	*ret_n = max;
	return 0;
}

/* ---- connections ---- */

static bool pg_accepts(const char *dsn)
{
	return startswith(dsn, "postgresql://") || startswith(dsn, "postgres://") ||
	       (!startswith(dsn, "sqlite:") && !strstr(dsn, "://") && strchr(dsn, '='));
}

static void notice_ignore(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

static void stmt_free(struct pg_stmt *e)
{
	PQclear(e->res);
	if (e->names)
		for (int i = 0; i < e->n_cols; i++)
			free(e->names[i]);
	free(e->names);
	free(e);
}

static void cache_clear(struct pg_conn *c)
{
	for (size_t i = 0; i < c->n_cache; i++)
		stmt_free(c->cache[i]);
	c->n_cache = 0;
}

static void pg_disconnect(struct db_conn *conn)
{
	struct pg_conn *c = container_of(conn, struct pg_conn, base);

	cache_clear(c);
	PQfinish(c->pg);
	free(c);
}

static const char sql_session[] = "SET lock_timeout = '5s'";

static int session_setup(struct pg_conn *c)
{
	PGresult *res;
	int r = 0;

	PQsetNoticeProcessor(c->pg, notice_ignore, NULL);
	res = PQexec(c->pg, sql_session);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		(void)str_printf(c->base.errmsg, sizeof(c->base.errmsg), "%s", PQerrorMessage(c->pg));
		r = -EIO;
	}
	PQclear(res);
	return r;
}

static void strip_newline(char *s)
{
	size_t n = strlen(s);

	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' '))
		s[--n] = 0;
}

static int pg_connect(struct db *d, struct db_conn **ret)
{
	struct pg_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->pg = PQconnectdb(d->dsn);
	if (!c->pg || PQstatus(c->pg) != CONNECTION_OK || session_setup(c) < 0) {
		(void)str_printf(d->open_errmsg, sizeof(d->open_errmsg), "cannot connect to PostgreSQL: %s",
				 c->pg ? PQerrorMessage(c->pg) : "out of memory");
		strip_newline(d->open_errmsg);
		PQfinish(c->pg);
		free(c);
		return -EIO;
	}
	*ret = &c->base;
	return 0;
}

/* A lost connection is reset before its next use; its prepared statements are gone with it. */
static int pg_check(struct db_conn *conn)
{
	struct pg_conn *c = container_of(conn, struct pg_conn, base);

	if (PQstatus(c->pg) == CONNECTION_OK)
		return 0;
	cache_clear(c);
	PQreset(c->pg);
	if (PQstatus(c->pg) != CONNECTION_OK || session_setup(c) < 0) {
		(void)str_printf(c->base.errmsg, sizeof(c->base.errmsg), "cannot reconnect to PostgreSQL: %s",
				 PQerrorMessage(c->pg));
		strip_newline(c->base.errmsg);
		return -EIO;
	}
	return 0;
}

/* Map a failed result (NULL: no result at all) to an errno, keeping the message. */
static int map_result(struct pg_conn *c, PGresult *res)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	(void)str_printf(c->base.errmsg, sizeof(c->base.errmsg), "%s",
			 res && PQresultErrorMessage(res)[0] ? PQresultErrorMessage(res) : PQerrorMessage(c->pg));
	strip_newline(c->base.errmsg);
	if (!res)
		return -ENOMEM;
	if (!state)
		return -EIO;
	if (streq(state, "23505"))
		return -EEXIST;
	if (startswith(state, "23"))
		return -EINVAL;
	if (streq(state, "40001") || streq(state, "40P01") || streq(state, "55P03"))
		return -EAGAIN;
	return -EIO;
}

static int prep(struct pg_conn *c, const char *sql, const struct db_param *p, size_t n, struct pg_stmt **ret)
{
	Oid types[PG_MAX_PARAMS] = { 0 };
	struct pg_stmt *e;
	PGresult *res;
	char *text;
	int r, n_params;

	for (size_t i = 0; i < c->n_cache; i++)
		if (c->cache[i]->sql == sql) {
			*ret = c->cache[i];
			return 0;
		}
	r = db_pg_rewrite(sql, &text, &n_params);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n && i < PG_MAX_PARAMS; i++)
		if (p[i].kind == 'I' || p[i].kind == 'N')
			types[i] = OID_INT8;
		else if (p[i].kind == 'd')
			types[i] = OID_FLOAT8;
	e = calloc(1, sizeof(*e));
	if (!e) {
		free(text);
		return -ENOMEM;
	}
	e->base.conn = &c->base;
	e->sql = sql;
	e->n_params = n_params;
	(void)snprintf(e->name, sizeof(e->name), "s%u", c->next_id++);
	res = PQprepare(c->pg, e->name, text, n_params, types);
	free(text);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		r = map_result(c, res);
		PQclear(res);
		free(e);
		return r;
	}
	PQclear(res);
	if (c->n_cache == PG_STMT_CACHE_MAX) {
		/* cache full: forget the oldest statement not queued in a pipeline (its server side stays until the
		 * session ends) */
		size_t k = 0;

		while (c->cache[k]->pinned)
			k++;
		stmt_free(c->cache[k]);
		memmove(&c->cache[k], &c->cache[k + 1], sizeof(c->cache[0]) * (PG_STMT_CACHE_MAX - 1 - k));
		c->n_cache--;
	}
	c->cache[c->n_cache++] = e;
	*ret = e;
	return 0;
}

/* The texts of parameters p[0..n-1] (numbers printed into nums). */
static void param_values(const struct db_param *p, size_t n, const char **values, char (*nums)[32])
{
	for (size_t i = 0; i < n; i++) {
		switch (p[i].kind) {
		case 's':
			/* text parameters are NUL-terminated C strings (JSON strings with NUL are rejected upstream) */
			values[i] = p[i].s;
			break;
		case 'i':
		case 'I':
			(void)snprintf(nums[i], sizeof(nums[i]), "%" PRId64, p[i].i);
			values[i] = nums[i];
			break;
		case 'd':
			(void)snprintf(nums[i], sizeof(nums[i]), "%.17g", p[i].d);
			values[i] = nums[i];
			break;
		default:
			values[i] = NULL;
			break;
		}
	}
}

/* res (taken) becomes e's cursor, or the error it carries is returned (res cleared). */
static int stmt_result(struct pg_conn *c, struct pg_stmt *e, PGresult *res)
{
	int r;

	if (PQresultStatus(res) != PGRES_TUPLES_OK && PQresultStatus(res) != PGRES_COMMAND_OK) {
		r = map_result(c, res);
		PQclear(res);
		return r;
	}
	e->res = res;
	e->row = -1;
	e->n_rows = PQntuples(res);
	if (!e->names && PQnfields(res) > 0) {
		int nf = PQnfields(res);

		e->names = calloc((size_t)nf, sizeof(char *));
		if (!e->names)
			return -ENOMEM;
		e->n_cols = nf;
		for (int i = 0; i < nf; i++)
			if (!(e->names[i] = name_restore(e->sql, PQfname(res, i))))
				return -ENOMEM;
	}
	return 0;
}

static int query_once(struct pg_conn *c, const char *sql, const struct db_param *p, size_t n, struct db_stmt **ret)
{
	const char *values[PG_MAX_PARAMS];
	char nums[PG_MAX_PARAMS][32];
	struct pg_stmt *e = NULL;
	PGresult *res;
	int r;

	if (n > PG_MAX_PARAMS)
		return -E2BIG;
	r = prep(c, sql, p, n, &e);
	if (r < 0)
		return r;
	if ((int)n != e->n_params) {
		(void)str_printf(c->base.errmsg, sizeof(c->base.errmsg), "statement takes %d parameters, %zu bound",
				 e->n_params, n);
		return -EINVAL;
	}
	param_values(p, n, values, nums);
	PQclear(e->res);
	e->res = NULL;
	res = PQexecPrepared(c->pg, e->name, (int)n, values, NULL, NULL, 0);
	r = stmt_result(c, e, res);
	if (r < 0)
		return r;
	*ret = &e->base;
	return 0;
}

static int pg_check(struct db_conn *conn);

/* A connection found dead when a read (or BEGIN) outside a transaction fails is re-established and the statement
 * run once more, so a database restart costs no error at all for the next request. Writes are not repeated: the
 * lost one may have committed. */
static int pg_query(struct db_conn *conn, const char *sql, const struct db_param *p, size_t n, struct db_stmt **ret)
{
	struct pg_conn *c = container_of(conn, struct pg_conn, base);
	bool idle = PQtransactionStatus(c->pg) == PQTRANS_IDLE;
	int r = query_once(c, sql, p, n, ret);

	if (r < 0 && idle && PQstatus(c->pg) == CONNECTION_BAD && (startswith(sql, "SELECT") || streq(sql, "BEGIN")) &&
	    pg_check(conn) >= 0)
		r = query_once(c, sql, p, n, ret);
	return r;
}

/* ---- batched reads: one pipeline, one round trip, one implicit transaction ---- */

typedef int (*batch_each_fn)(struct db_stmt *st, struct db_batch_item *it);

/* one statement after the other (libpq or server without pipeline mode) */
static int batch_serial(struct pg_conn *c, struct db_batch_item *items, size_t n, batch_each_fn each)
{
	struct db_stmt *st;
	int r = 0;

	for (size_t i = 0; i < n && r >= 0; i++) {
		r = query_once(c, items[i].sql, items[i].p, items[i].n, &st);
		if (r >= 0)
			r = each(st, &items[i]);
	}
	return r;
}

#ifdef LIBPQ_HAS_PIPELINING
static int pipe_error(struct pg_conn *c, const char *what)
{
	(void)str_printf(c->base.errmsg, sizeof(c->base.errmsg), "%s: %s", what, PQerrorMessage(c->pg));
	strip_newline(c->base.errmsg);
	return -EIO;
}

/* The results of the n queued statements, in order, then the Sync's; each() reads a successful one. */
static int pipe_read(struct pg_conn *c, struct pg_stmt **e, struct db_batch_item *items, size_t n, size_t n_sent,
		     batch_each_fn each, int r)
{
	PGresult *res;

	for (size_t i = 0; i < n_sent; i++) {
		res = PQgetResult(c->pg);
		if (!res)
			return r < 0 ? r : pipe_error(c, "pipeline");
		PQclear(PQgetResult(c->pg)); /* the NULL that ends the statement's results */
		if (r < 0) {
			PQclear(res);
			continue;
		}
		r = stmt_result(c, e[i], res);
		if (r >= 0)
			r = each(&e[i]->base, &items[i]);
	}
	/* up to the Sync's result (NULLs between statements, or a broken connection, end nothing else) */
	for (size_t k = 0; k < 2 * n + 8; k++) {
		ExecStatusType st;

		res = PQgetResult(c->pg);
		if (!res) {
			if (PQstatus(c->pg) == CONNECTION_BAD)
				break;
			continue;
		}
		st = PQresultStatus(res);
		PQclear(res);
		if (st == PGRES_PIPELINE_SYNC)
			break;
	}
	return r;
}

static int batch_pipeline(struct pg_conn *c, struct pg_stmt **e, struct db_batch_item *items, size_t n,
			  batch_each_fn each)
{
	const char *values[DB_BATCH_PARAMS];
	char nums[DB_BATCH_PARAMS][32];
	size_t sent = 0;
	int r = 0;

	if (!PQenterPipelineMode(c->pg))
		return pipe_error(c, "pipeline mode");
	for (; sent < n; sent++) {
		param_values(items[sent].p, items[sent].n, values, nums);
		PQclear(e[sent]->res);
		e[sent]->res = NULL;
		if (!PQsendQueryPrepared(c->pg, e[sent]->name, (int)items[sent].n, values, NULL, NULL, 0)) {
			r = pipe_error(c, "pipeline");
			break;
		}
	}
	if (!PQpipelineSync(c->pg) && r >= 0)
		r = pipe_error(c, "pipeline");
	r = pipe_read(c, e, items, n, sent, each, r);
	if (!PQexitPipelineMode(c->pg)) {
		if (r >= 0)
			r = pipe_error(c, "pipeline");
		if (PQstatus(c->pg) == CONNECTION_BAD)
			return r; /* pg_check resets it before its next use */
		/* results left over on a live session: its state is unknown, start a new one */
		PQreset(c->pg);
		cache_clear(c);
		if (PQstatus(c->pg) == CONNECTION_OK)
			(void)session_setup(c);
	}
	return r;
}
#endif

static int batch_once(struct pg_conn *c, struct db_batch_item *items, size_t n, batch_each_fn each)
{
	struct pg_stmt *e[DB_BATCH_MAX];
	int r = 0;

	if (PQserverVersion(c->pg) < 140000 || n > DB_BATCH_MAX)
		return batch_serial(c, items, n, each);
#ifdef LIBPQ_HAS_PIPELINING
	/* prepared before the pipeline (once per connection); pinned so that preparing one cannot evict another */
	for (size_t i = 0; i < n && r >= 0; i++) {
		r = prep(c, items[i].sql, items[i].p, items[i].n, &e[i]);
		if (r >= 0 && (int)items[i].n != e[i]->n_params)
			r = -EINVAL;
		if (r >= 0)
			e[i]->pinned = true;
	}
	for (size_t i = 0; i < c->n_cache; i++)
		c->cache[i]->pinned = false;
	if (r >= 0)
		r = batch_pipeline(c, e, items, n, each);
	return r;
#else
	(void)e;
	(void)r;
	return batch_serial(c, items, n, each);
#endif
}

/* As pg_query: a connection found dead before anything was read is re-established and the batch run once more. */
static int pg_batch(struct db_conn *conn, struct db_batch_item *items, size_t n, batch_each_fn each)
{
	struct pg_conn *c = container_of(conn, struct pg_conn, base);
	bool idle = PQtransactionStatus(c->pg) == PQTRANS_IDLE, untouched = true;
	int r = batch_once(c, items, n, each);

	for (size_t i = 0; i < n; i++)
		untouched = untouched && items[i].out->n == items[i].out_n0;
	if (r < 0 && idle && untouched && PQstatus(c->pg) == CONNECTION_BAD && pg_check(conn) >= 0)
		r = batch_once(c, items, n, each);
	return r;
}

#define PGS(st) container_of(st, struct pg_stmt, base)

static int pg_next(struct db_stmt *st)
{
	struct pg_stmt *e = PGS(st);

	if (!e->res || e->row + 1 >= e->n_rows)
		return 0;
	e->row++;
	return 1;
}

static void pg_done(struct db_stmt *st)
{
	struct pg_stmt *e = PGS(st);

	PQclear(e->res);
	e->res = NULL;
}

static int pg_changes(struct db_stmt *st)
{
	const char *t = PGS(st)->res ? PQcmdTuples(PGS(st)->res) : "";
	int64_t v = 0;

	if (t[0] && parse_i64(t, 0, INT32_MAX, &v) < 0)
		return 0;
	return (int)v;
}

static int pg_ncols(struct db_stmt *st)
{
	return PGS(st)->res ? PQnfields(PGS(st)->res) : 0;
}

static const char *pg_col_name(struct db_stmt *st, int i)
{
	struct pg_stmt *e = PGS(st);

	return e->names && i < e->n_cols ? e->names[i] : PQfname(e->res, i);
}

static enum db_col_type pg_col_type(struct db_stmt *st, int i)
{
	struct pg_stmt *e = PGS(st);

	if (PQgetisnull(e->res, e->row, i))
		return DB_COL_NULL;
	switch (PQftype(e->res, i)) {
	case OID_BOOL:
	case OID_INT2:
		return DB_COL_BOOL;
	case OID_INT4:
	case OID_INT8:
	case OID_OID:
		return DB_COL_INT;
	case OID_FLOAT4:
	case OID_FLOAT8:
		return DB_COL_REAL;
	case OID_NUMERIC:
		return strpbrk(PQgetvalue(e->res, e->row, i), ".eE") ? DB_COL_REAL : DB_COL_INT;
	default:
		return DB_COL_TEXT;
	}
}

static int64_t pg_col_int64(struct db_stmt *st, int i)
{
	struct pg_stmt *e = PGS(st);
	const char *t;
	int64_t v;

	if (PQgetisnull(e->res, e->row, i))
		return 0;
	t = PQgetvalue(e->res, e->row, i);
	if (PQftype(e->res, i) == OID_BOOL)
		return t[0] == 't';
	if (parse_i64(t, INT64_MIN, INT64_MAX, &v) < 0)
		return (int64_t)strtod(t, NULL); /* a NUMERIC with a fraction */
	return v;
}

static double pg_col_double(struct db_stmt *st, int i)
{
	struct pg_stmt *e = PGS(st);

	return strtod(PQgetvalue(e->res, e->row, i), NULL);
}

static const char *pg_col_text(struct db_stmt *st, int i)
{
	struct pg_stmt *e = PGS(st);

	if (PQgetisnull(e->res, e->row, i))
		return NULL;
	return PQgetvalue(e->res, e->row, i);
}

static size_t pg_col_bytes(struct db_stmt *st, int i)
{
	struct pg_stmt *e = PGS(st);

	return (size_t)PQgetlength(e->res, e->row, i);
}

static int pg_script(struct db_conn *conn, const char *sql)
{
	struct pg_conn *c = container_of(conn, struct pg_conn, base);
	PGresult *res = PQexec(c->pg, sql);
	int r = 0;

	if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
		r = map_result(c, res);
	PQclear(res);
	return r;
}

static const char sql_begin[] = "BEGIN";
static int pg_begin(struct db_conn *c, int64_t lock_key)
{
	int r = db_exec(c, sql_begin, NULL);

	if (r >= 0 && lock_key != 0) {
		r = db_lock(c, lock_key);
		if (r < 0)
			db_rollback(c);
	}
	return r < 0 ? r : 0;
}

const struct db_driver db_pg_driver = {
	.dialect = DB_PG,
	.accepts = pg_accepts,
	.connect = pg_connect,
	.disconnect = pg_disconnect,
	.check = pg_check,
	.query = pg_query,
	.next = pg_next,
	.done = pg_done,
	.changes = pg_changes,
	.ncols = pg_ncols,
	.col_name = pg_col_name,
	.col_type = pg_col_type,
	.col_int64 = pg_col_int64,
	.col_double = pg_col_double,
	.col_text = pg_col_text,
	.col_bytes = pg_col_bytes,
	.script = pg_script,
	.begin = pg_begin,
	.batch = pg_batch,
};
