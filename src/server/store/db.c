/* SPDX-License-Identifier: Apache-2.0 */
/* store/db.c: the driver-independent half of db.h: the connection pool, bind formats, rows as JSON,
 * transactions and migrations. The drivers (db_sqlite.c, db_pg.c) implement struct db_driver. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "db_driver.h"
#include "store_schema.h"
#include "hash.h"
#include "jsonutil.h"
#include "util.h"
#include "banned.h"

#define DB_MAX_PARAMS 64

static const struct db_driver *const drivers[] = {
	&db_sqlite_driver,
#ifdef WITH_POSTGRES
	&db_pg_driver,
#endif
};

bool db_dsn_supported(const char *dsn)
{
	for (size_t i = 0; i < ELEMENTSOF(drivers); i++)
		if (drivers[i]->accepts(dsn))
			return true;
	return false;
}

/* What a thread has of one database: the connection it holds, and the last error of one it gave back. */
struct db_thread {
	struct db_conn *c;
	char errmsg[sizeof(((struct db_conn *)NULL)->errmsg)];
};

/* Back to the pool (d->lock held). */
static void pool_push(struct db *d, struct db_conn *c)
{
	c->next_idle = d->idle;
	d->idle = c;
	pthread_cond_signal(&d->freed);
}

static void thread_exit(void *p)
{
	struct db_thread *t = p;
	struct db_conn *c = t->c;

	if (c) {
		if (c->in_tx)
			db_rollback(c);
		c->depth = 0;
		pthread_mutex_lock(&c->owner->lock);
		pool_push(c->owner, c);
		pthread_mutex_unlock(&c->owner->lock);
	}
	free(t);
}

int db_open(const char *dsn, struct db **ret)
{
	const struct db_driver *drv = NULL;
	pthread_condattr_t ca;
	struct db *d;

	for (size_t i = 0; dsn && i < ELEMENTSOF(drivers) && !drv; i++)
		if (drivers[i]->accepts(dsn))
			drv = drivers[i];
	if (!drv)
		return -EPROTONOSUPPORT;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->drv = drv;
	d->pool_size = DB_POOL_SIZE_DEFAULT;
	d->dsn = strdup(dsn);
	if (!d->dsn || pthread_key_create(&d->key, thread_exit) != 0) {
		free(d->dsn);
		free(d);
		return -ENOMEM;
	}
	pthread_mutex_init(&d->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&d->freed, &ca);
	pthread_condattr_destroy(&ca);
	*ret = d;
	return 0;
}

void db_set_pool_size(struct db *d, int pool_size)
{
	pthread_mutex_lock(&d->lock);
	d->pool_size = pool_size > 0 ? pool_size : 1;
	pthread_mutex_unlock(&d->lock);
}

void db_free(struct db *d)
{
	struct db_conn *c, *next;

	if (!d)
		return;
	/* threads that used the database have exited or will never use it again */
	free(pthread_getspecific(d->key));
	(void)pthread_key_delete(d->key);
	for (c = d->conns; c; c = next) {
		next = c->next;
		d->drv->disconnect(c);
	}
	pthread_cond_destroy(&d->freed);
	pthread_mutex_destroy(&d->lock);
	free(d->dsn);
	free(d);
}

/* An idle connection, a new one while fewer than pool_size are open, or the first given back within
 * DB_POOL_WAIT_MS; NULL otherwise. */
static struct db_conn *pool_take(struct db *d)
{
	struct timespec until;
	struct db_conn *c = NULL;
	bool open_new = false;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += DB_POOL_WAIT_MS / 1000;
	pthread_mutex_lock(&d->lock);
	while (!d->idle && d->n_open >= d->pool_size)
		if (pthread_cond_timedwait(&d->freed, &d->lock, &until) != 0)
			break;
	if (d->idle) {
		c = d->idle;
		d->idle = c->next_idle;
	} else if (d->n_open < d->pool_size) {
		d->n_open++; /* reserved while connecting */
		open_new = true;
	} else
		(void)str_printf(d->open_errmsg, sizeof(d->open_errmsg),
				 "all %d database connections busy for %d ms (db_pool_size)", d->pool_size,
				 DB_POOL_WAIT_MS);
	pthread_mutex_unlock(&d->lock);
	if (!open_new)
		return c;
	if (d->drv->connect(d, &c) < 0) {
		pthread_mutex_lock(&d->lock);
		d->n_open--;
		pthread_cond_signal(&d->freed);
		pthread_mutex_unlock(&d->lock);
		return NULL;
	}
	c->owner = d;
	c->dialect = d->drv->dialect;
	pthread_mutex_lock(&d->lock);
	c->next = d->conns;
	d->conns = c;
	pthread_mutex_unlock(&d->lock);
	return c;
}

static struct db_thread *thread_of(struct db *d)
{
	struct db_thread *t = pthread_getspecific(d->key);

	if (t)
		return t;
	t = calloc(1, sizeof(*t));
	if (t && pthread_setspecific(d->key, t) != 0) {
		free(t);
		t = NULL;
	}
	return t;
}

struct db_conn *db_conn(struct db *d)
{
	struct db_thread *t = thread_of(d);
	struct db_conn *c;

	if (!t)
		return NULL;
	if (!t->c) {
		c = pool_take(d);
		if (!c) {
			t->errmsg[0] = 0; /* db_errmsg: the pool's or the connect's message */
			return NULL;
		}
		c->depth = 0;
		c->errmsg[0] = 0;
		t->c = c;
	}
	c = t->c;
	if (d->drv->check && d->drv->check(c) < 0) {
		if (c->depth == 0)
			db_conn_put(&c);
		return NULL;
	}
	c->depth++;
	return c;
}

void db_conn_put(struct db_conn **pc)
{
	struct db_conn *c = *pc;
	struct db_thread *t;
	struct db *d;

	if (!c)
		return;
	d = c->owner;
	if (c->depth > 0)
		c->depth--;
	if (c->depth > 0 || c->in_tx)
		return;
	t = pthread_getspecific(d->key);
	if (t && t->c == c) {
		memcpy(t->errmsg, c->errmsg, sizeof(t->errmsg));
		t->c = NULL;
	}
	pthread_mutex_lock(&d->lock);
	pool_push(d, c);
	pthread_mutex_unlock(&d->lock);
}

const char *db_errmsg(struct db *d)
{
	struct db_thread *t = pthread_getspecific(d->key);
	const char *own = t && t->c ? t->c->errmsg : t ? t->errmsg : "";

	if (!own[0])
		return d->open_errmsg[0] ? d->open_errmsg : "no error";
	return own;
}

enum db_dialect db_dialect(const struct db_conn *c)
{
	return c->dialect;
}

/* ---- binding ---- */

struct params {
	struct db_param p[DB_MAX_PARAMS];
	char *owned[DB_MAX_PARAMS];
	size_t n, n_owned;
};

static void params_free(struct params *ps)
{
	for (size_t i = 0; i < ps->n_owned; i++)
		free(ps->owned[i]);
}

static int param_json(struct params *ps, struct db_param *p, const json_t *v)
{
	char *txt;

	if (!v || json_is_null(v))
		p->kind = 'n';
	else if (json_is_string(v)) {
		p->kind = 's';
		p->s = json_string_value(v);
		p->len = json_string_length(v);
	} else if (json_is_integer(v)) {
		p->kind = 'i';
		p->i = json_integer_value(v);
	} else if (json_is_boolean(v)) {
		p->kind = 'i';
		p->i = json_is_true(v) ? 1 : 0;
	} else if (json_is_real(v)) {
		p->kind = 'd';
		p->d = json_real_value(v);
	} else {
		txt = json_dumps(v, JSON_COMPACT);
		if (!txt)
			return -ENOMEM;
		ps->owned[ps->n_owned++] = txt;
		p->kind = 's';
		p->s = txt;
		p->len = strlen(txt);
	}
	return 0;
}

static int params_from(struct params *ps, const char *fmt, va_list ap)
{
	ps->n = ps->n_owned = 0;
	for (const char *f = fmt ? fmt : ""; *f; f++) {
		struct db_param *p;
		int r;

		if (ps->n == DB_MAX_PARAMS) {
			params_free(ps);
			return -E2BIG;
		}
		p = &ps->p[ps->n++];
		switch (*f) {
		case 's':
			p->s = va_arg(ap, const char *);
			p->kind = p->s ? 's' : 'n';
			p->len = p->s ? strlen(p->s) : 0;
			break;
		case 'i':
			p->kind = 'I';
			p->i = va_arg(ap, int64_t);
			break;
		case 'z':
			p->i = va_arg(ap, int64_t);
			p->kind = p->i ? 'I' : 'N';
			break;
		case 'b':
			p->kind = 'I';
			p->i = va_arg(ap, int) ? 1 : 0;
			break;
		case 'j':
			r = param_json(ps, p, va_arg(ap, const json_t *));
			if (r < 0) {
				params_free(ps);
				return r;
			}
			break;
		case 'n':
			p->kind = 'n';
			break;
		default:
			params_free(ps);
			return -EINVAL;
		}
	}
	return 0;
}

static int queryv(struct db_conn *c, const char *sql, struct db_stmt **ret, const char *fmt, va_list ap)
{
	struct params ps;
	int r;

	r = params_from(&ps, fmt, ap);
	if (r < 0)
		return r;
	r = c->owner->drv->query(c, sql, ps.p, ps.n, ret);
	params_free(&ps);
	return r;
}

/* Inside a variadic function whose last named parameter is fmt: runs sql with fmt's parameters into the
 * cursor st, or returns the error. */
#define QUERY_OR_RETURN(c, sql, st, fmt)                                                                               \
	do {                                                                                                           \
		va_list ap_;                                                                                           \
		int r_;                                                                                                \
		va_start(ap_, fmt);                                                                                    \
		r_ = queryv((c), (sql), &(st), (fmt), ap_);                                                            \
		va_end(ap_);                                                                                           \
		if (r_ < 0)                                                                                            \
			return r_;                                                                                     \
	} while (0)

int db_next(struct db_stmt *st)
{
	return st->conn->owner->drv->next(st);
}

void db_done(struct db_stmt *st)
{
	if (st)
		st->conn->owner->drv->done(st);
}

bool db_col_null(struct db_stmt *st, int i)
{
	return st->conn->owner->drv->col_type(st, i) == DB_COL_NULL;
}

int64_t db_col_int64(struct db_stmt *st, int i)
{
	return st->conn->owner->drv->col_int64(st, i);
}

int db_col_int(struct db_stmt *st, int i)
{
	return (int)st->conn->owner->drv->col_int64(st, i);
}

const char *db_col_text(struct db_stmt *st, int i)
{
	return st->conn->owner->drv->col_text(st, i);
}

void db_col_copy(struct db_stmt *st, int i, char *dst, size_t size)
{
	const char *t = db_col_text(st, i);
	size_t n;

	if (!t) {
		dst[0] = 0;
		return;
	}
	n = st->conn->owner->drv->col_bytes(st, i);
	if (n >= size)
		n = size - 1;
	memcpy(dst, t, n);
	dst[n] = 0;
}

/* ---- typed rows: one row, or every row into a growing array ---- */

/* The first row of st through read (-ENOENT without one); st is done. */
static int first_row(struct db_stmt *st, db_read_fn read, void *elem, void *ctx)
{
	int r = db_next(st);

	if (r > 0)
		r = read(st, elem, ctx);
	else if (r == 0)
		r = -ENOENT;
	db_done(st);
	return r < 0 ? r : 0;
}

int db_one(struct db_conn *c, const char *sql, db_read_fn read, void *elem, void *ctx, const char *fmt, ...)
{
	struct db_stmt *st;

	QUERY_OR_RETURN(c, sql, st, fmt);
	return first_row(st, read, elem, ctx);
}

/* room for one more element of out (grown by doubling unless fixed); NULL when full or out of memory */
static void *vec_slot(struct db_vec *out, int *err)
{
	if (out->n == out->cap) {
		size_t nc = out->cap ? out->cap * 2 : 4;
		void *nv;

		if (out->fixed)
			return NULL;
		nv = reallocarray(out->v, nc, out->size);
		if (!nv) {
			*err = -ENOMEM;
			return NULL;
		}
		out->v = nv;
		out->cap = nc;
	}
	return memset((char *)out->v + out->n * out->size, 0, out->size);
}

/* Every row of st appended to out through read; st is done. */
static int collect_rows(struct db_stmt *st, struct db_vec *out, db_read_fn read, void *ctx)
{
	void *elem;
	int r;

	while ((r = db_next(st)) > 0) {
		elem = vec_slot(out, &r);
		if (!elem)
			break;
		r = read(st, elem, ctx);
		if (r != 0)
			break;
		out->n++;
	}
	db_done(st);
	return r < 0 ? r : 0;
}

int db_collect(struct db_conn *c, const char *sql, struct db_vec *out, db_read_fn read, void *ctx, const char *fmt,
	       ...)
{
	struct db_stmt *st;

	QUERY_OR_RETURN(c, sql, st, fmt);
	return collect_rows(st, out, read, ctx);
}

/* ---- batched reads ---- */

static void batch_clear(struct db_conn *c)
{
	for (size_t i = 0; i < c->n_batch; i++)
		for (size_t k = 0; k < c->batch[i].n; k++)
			free(c->batch[i].owned[k]);
	c->n_batch = 0;
	c->batch_failed = false;
}

/* it's parameters from fmt (s, i, z, n), texts copied */
static int batch_params(struct db_batch_item *it, const char *fmt, va_list ap)
{
	for (const char *f = fmt ? fmt : ""; *f; f++) {
		struct db_param *p;
		const char *s;

		if (it->n == DB_BATCH_PARAMS)
			return -E2BIG;
		p = &it->p[it->n];
		it->owned[it->n++] = NULL;
		switch (*f) {
		case 's':
			s = va_arg(ap, const char *);
			*p = (struct db_param){ .kind = s ? 's' : 'n' };
			if (!s)
				break;
			if (!(it->owned[it->n - 1] = strdup(s)))
				return -ENOMEM;
			p->s = it->owned[it->n - 1];
			p->len = strlen(s);
			break;
		case 'i':
			*p = (struct db_param){ .kind = 'I', .i = va_arg(ap, int64_t) };
			break;
		case 'z':
			*p = (struct db_param){ .i = va_arg(ap, int64_t) };
			p->kind = p->i ? 'I' : 'N';
			break;
		case 'n':
			*p = (struct db_param){ .kind = 'n' };
			break;
		default:
			return -EINVAL;
		}
	}
	return 0;
}

int db_batch_collect(struct db_conn *c, const char *sql, struct db_vec *out, db_read_fn read, void *ctx,
		     const char *fmt, ...)
{
	struct db_batch_item *it;
	va_list ap;
	int r;

	if (c->n_batch == DB_BATCH_MAX) {
		c->batch_failed = true;
		return -E2BIG;
	}
	it = &c->batch[c->n_batch++];
	*it = (struct db_batch_item){ .sql = sql, .out = out, .out_n0 = out->n, .read = read, .ctx = ctx };
	va_start(ap, fmt);
	r = batch_params(it, fmt, ap);
	va_end(ap);
	if (r < 0)
		c->batch_failed = true;
	return r;
}

static int batch_each(struct db_stmt *st, struct db_batch_item *it)
{
	return collect_rows(st, it->out, it->read, it->ctx);
}

static const char sql_read_begin[] = "BEGIN"; /* SQLite: deferred, a read transaction until something writes */

int db_batch_run(struct db_conn *c)
{
	const struct db_driver *drv = c->owner->drv;
	struct db_stmt *st;
	int r;

	if (c->batch_failed) {
		batch_clear(c);
		return -E2BIG;
	}
	if (c->n_batch == 0)
		return 0;
	if (drv->batch) {
		r = drv->batch(c, c->batch, c->n_batch, batch_each);
		batch_clear(c);
		return r;
	}
	r = db_exec(c, sql_read_begin, NULL);
	for (size_t i = 0; i < c->n_batch && r >= 0; i++) {
		r = drv->query(c, c->batch[i].sql, c->batch[i].p, c->batch[i].n, &st);
		if (r >= 0)
			r = batch_each(st, &c->batch[i]);
	}
	r = db_end(c, r < 0 ? r : 0);
	batch_clear(c);
	return r;
}

/* ---- rows as JSON ---- */

static json_t *column_json(struct db_stmt *st, int i, bool as_bool)
{
	const struct db_driver *drv = st->conn->owner->drv;

	switch (drv->col_type(st, i)) {
	case DB_COL_NULL:
		return json_null();
	case DB_COL_BOOL:
		return json_boolean(drv->col_int64(st, i) != 0);
	case DB_COL_INT:
		if (as_bool)
			return json_boolean(drv->col_int64(st, i) != 0);
		return json_integer(drv->col_int64(st, i));
	case DB_COL_REAL:
		return json_real(drv->col_double(st, i));
	default:
		return json_stringn(drv->col_text(st, i), drv->col_bytes(st, i));
	}
}

/* The key of column i: its name, or the name without a "__bool" suffix copied into key (*ret_bool set); NULL
 * for a column left out (a suffixed name too long for key). */
static const char *column_key(struct db_stmt *st, int i, char key[static 64], bool *ret_bool)
{
	const char *name = st->conn->owner->drv->col_name(st, i);
	size_t l = strlen(name);

	*ret_bool = false;
	if (l <= 6 || !streq(name + l - 6, "__bool"))
		return name;
	*ret_bool = true;
	if (l - 6 >= 64)
		return NULL;
	memcpy(key, name, l - 6);
	key[l - 6] = 0;
	return key;
}

static json_t *row_json(struct db_stmt *st)
{
	const struct db_driver *drv = st->conn->owner->drv;
	json_t *o = json_object();
	int n = drv->ncols(st);

	if (!o)
		return NULL;
	for (int i = 0; i < n; i++) {
		const char *name;
		bool as_bool;
		char key[64];

		name = column_key(st, i, key, &as_bool);
		if (!name)
			continue;
		if (json_object_set_new(o, name, column_json(st, i, as_bool)) < 0) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

/* column_json's value as JSON text */
static int column_text(struct db_stmt *st, int i, bool as_bool, struct buf *out)
{
	const struct db_driver *drv = st->conn->owner->drv;
	json_t *v;
	int r;

	switch (drv->col_type(st, i)) {
	case DB_COL_NULL:
		return buf_append(out, "null", 4);
	case DB_COL_BOOL:
		as_bool = true;
		/* fall through */
	case DB_COL_INT:
		if (as_bool)
			return drv->col_int64(st, i) != 0 ? buf_append(out, "true", 4) : buf_append(out, "false", 5);
		return json_append_int(out, (json_int_t)drv->col_int64(st, i));
	case DB_COL_REAL:
		v = json_real(drv->col_double(st, i));
		if (!v)
			return -ENOMEM;
		r = json_append_value(out, v);
		json_decref(v);
		return r;
	default:
		return json_append_stringn(out, drv->col_text(st, i), drv->col_bytes(st, i));
	}
}

/* row_json's object as JSON text (the column names are distinct) */
static int row_text(struct db_stmt *st, struct buf *out)
{
	int n = st->conn->owner->drv->ncols(st), r;
	bool first = true;

	r = buf_appendc(out, '{');
	for (int i = 0; i < n && r >= 0; i++) {
		const char *name;
		bool as_bool;
		char key[64];

		name = column_key(st, i, key, &as_bool);
		if (!name)
			continue;
		if (!first)
			r = buf_appendc(out, ',');
		first = false;
		if (r >= 0)
			r = json_append_stringn(out, name, strlen(name));
		if (r >= 0)
			r = buf_appendc(out, ':');
		if (r >= 0)
			r = column_text(st, i, as_bool, out);
	}
	if (r >= 0)
		r = buf_appendc(out, '}');
	return r;
}

/* Run st to completion; the changed rows. */
static int run(struct db_stmt *st)
{
	int r;

	while ((r = db_next(st)) > 0)
		;
	if (r >= 0)
		r = st->conn->owner->drv->changes(st);
	db_done(st);
	return r;
}

int db_exec(struct db_conn *c, const char *sql, const char *fmt, ...)
{
	struct db_stmt *st;

	QUERY_OR_RETURN(c, sql, st, fmt);
	return run(st);
}

static int read_row_json(struct db_stmt *st, void *elem, void *ctx)
{
	json_t *o = row_json(st);

	(void)ctx;
	if (!o)
		return -ENOMEM;
	*(json_t **)elem = o;
	return 0;
}

int db_row(struct db_conn *c, const char *sql, json_t **ret, const char *fmt, ...)
{
	struct db_stmt *st;

	QUERY_OR_RETURN(c, sql, st, fmt);
	return first_row(st, read_row_json, ret, NULL);
}

int db_list(struct db_conn *c, bool first_col, const char *sql, json_t **ret, const char *fmt, ...)
{
	struct db_stmt *st;
	json_t *a;
	int r;

	QUERY_OR_RETURN(c, sql, st, fmt);
	a = json_array();
	if (!a) {
		db_done(st);
		return -ENOMEM;
	}
	while ((r = db_next(st)) > 0) {
		json_t *v = first_col ? column_json(st, 0, false) : row_json(st);
		if (!v || json_array_append_new(a, v) < 0) {
			r = -ENOMEM;
			break;
		}
	}
	db_done(st);
	if (r < 0) {
		json_decref(a);
		return r;
	}
	*ret = a;
	return 0;
}

int db_list_text(struct db_conn *c, const char *sql, struct buf *out, const char *fmt, ...)
{
	struct db_stmt *st;
	size_t start = out->len;
	bool first = true;
	int r;

	QUERY_OR_RETURN(c, sql, st, fmt);
	r = buf_appendc(out, '[');
	while (r >= 0 && (r = db_next(st)) > 0) {
		if (!first)
			r = buf_appendc(out, ',');
		first = false;
		if (r >= 0)
			r = row_text(st, out);
	}
	if (r >= 0)
		r = buf_appendc(out, ']');
	db_done(st);
	if (r < 0) {
		if (out->alloc) {
			out->len = start;
			out->p[start] = 0;
		}
		return r;
	}
	return 0;
}

static int read_int64(struct db_stmt *st, void *elem, void *ctx)
{
	(void)ctx;
	*(int64_t *)elem = db_col_int64(st, 0);
	return 0;
}

int db_int(struct db_conn *c, const char *sql, int64_t *ret, const char *fmt, ...)
{
	struct db_stmt *st;

	QUERY_OR_RETURN(c, sql, st, fmt);
	return first_row(st, read_int64, ret, NULL);
}

int db_exec_cols(struct db_conn *c, const char *sql, const char *const cols[], size_t n, const json_t *obj,
		 const char *extra_id)
{
	struct db_stmt *st;
	struct params ps = { .n = 0 };
	int r = 0;

	if (n + 1 > DB_MAX_PARAMS)
		return -E2BIG;
	for (size_t i = 0; i < n && r >= 0; i++)
		r = param_json(&ps, &ps.p[ps.n++], json_object_get(obj, cols[i]));
	if (r >= 0 && extra_id)
		ps.p[ps.n++] = (struct db_param){ .kind = 's', .s = extra_id, .len = strlen(extra_id) };
	if (r >= 0)
		r = c->owner->drv->query(c, sql, ps.p, ps.n, &st);
	params_free(&ps);
	if (r < 0)
		return r;
	return run(st);
}

int db_script(struct db_conn *c, const char *sql)
{
	return c->owner->drv->script(c, sql);
}

/* ---- transactions ---- */

static const char sql_commit[] = "COMMIT";
static const char sql_rollback[] = "ROLLBACK";

int db_begin(struct db_conn *c, int64_t lock_key)
{
	int r = c->owner->drv->begin(c, lock_key);

	c->in_tx = r >= 0;
	return r;
}

void db_rollback(struct db_conn *c)
{
	char saved[sizeof(c->errmsg)];

	memcpy(saved, c->errmsg, sizeof(saved));
	(void)db_exec(c, sql_rollback, NULL);
	memcpy(c->errmsg, saved, sizeof(saved));
	c->in_tx = false;
}

int db_end(struct db_conn *c, int r)
{
	int k;

	if (r < 0) {
		db_rollback(c);
		return r;
	}
	k = db_exec(c, sql_commit, NULL);
	if (k < 0) {
		db_rollback(c);
		return k;
	}
	c->in_tx = false;
	return r;
}

static const char sql_xact_lock[] = "SELECT pg_advisory_xact_lock(?)";

int db_lock(struct db_conn *c, int64_t key)
{
	int r;

	if (c->dialect != DB_PG)
		return 0;
	r = db_exec(c, sql_xact_lock, "i", key);
	return r < 0 ? r : 0;
}

int64_t db_lock_key(const char *name)
{
	return hash_lock_key(name);
}

/* ---- migrations ---- */

static const char sql_meta_create[] = "CREATE TABLE IF NOT EXISTS schema_meta(version INTEGER NOT NULL)";
static const char sql_meta_get[] = "SELECT version FROM schema_meta";
static const char sql_meta_insert[] = "INSERT INTO schema_meta(version) VALUES(0)";
static const char sql_meta_set[] = "UPDATE schema_meta SET version = ?";
static const char sql_pg_lock[] = "SELECT pg_advisory_lock(?)";
static const char sql_pg_unlock[] = "SELECT pg_advisory_unlock(?)";

static int migrate_locked(struct db_conn *c, const struct store_schema_file *files)
{
	int64_t version = 0;
	int r, n = 0;

	r = db_exec(c, sql_meta_create, NULL);
	if (r < 0)
		return r;
	r = db_begin(c, 0);
	if (r < 0)
		return r;
	r = db_int(c, sql_meta_get, &version, NULL);
	if (r == -ENOENT)
		r = db_exec(c, sql_meta_insert, NULL);
	if (r < 0)
		return db_end(c, r);
	for (const struct store_schema_file *f = files; f->path; f++) {
		char *sql;

		n++;
		if (n <= version)
			continue;
		sql = strndup((const char *)f->data, f->len);
		if (!sql)
			return db_end(c, -ENOMEM);
		r = db_script(c, sql);
		free(sql);
		if (r < 0)
			return db_end(c, r);
		r = db_exec(c, sql_meta_set, "i", (int64_t)n);
		if (r < 0)
			return db_end(c, r);
	}
	return db_end(c, 0);
}

int db_migrate(struct db_conn *c)
{
#ifdef WITH_POSTGRES
	int64_t key = db_lock_key("SLIPWAY-MIGRATE");
	int r, k;

	if (c->dialect == DB_SQLITE)
		return migrate_locked(c, store_schema_files);
	r = db_exec(c, sql_pg_lock, "i", key);
	if (r < 0)
		return r;
	r = migrate_locked(c, store_pg_schema_files);
	k = db_exec(c, sql_pg_unlock, "i", key);
	return r < 0 ? r : k < 0 ? k : 0;
#else
	(void)sql_pg_lock;
	(void)sql_pg_unlock;
	return migrate_locked(c, store_schema_files);
#endif
}
