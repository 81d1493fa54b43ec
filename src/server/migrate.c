/* SPDX-License-Identifier: Apache-2.0 */
/* migrate.c: `slipway-server migrate --from sqlite:PATH --to POSTGRES-DSN [--force]` (issue 8, PROTOCOL §10):
 * copies every table of a SQLite installation into a PostgreSQL database and verifies the copy.
 *
 * The target schema is created or upgraded through the store (store_open runs the backend's migrations);
 * both schema versions must then be equal. The copy itself is a plain table copy with the raw drivers: the
 * source is read in one read transaction (a consistent snapshot even while a server writes; the source is
 * opened read-only and its lock file is not taken), each table streamed with COPY FROM STDIN in rowid order
 * (so creation-order `seq` values and identities carry over), identity sequences moved past the copied
 * values, all in one target transaction. A non-empty target is refused unless --force (then its tables
 * are truncated in that same transaction). Verification: per table, the row count and a checksum on both
 * sides — SHA-256 over the sorted SHA-256 digests of each row's COPY text line (PostgreSQL's own
 * `COPY (SELECT …) TO STDOUT` for the target, the identical encoding of the SQLite values for the source),
 * so the checksum does not depend on either database's row order or collation. Exit 0 when every table
 * matches, 1 on any error or mismatch, 2 on bad usage. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sqlite3.h>
#ifdef WITH_POSTGRES
#include <libpq-fe.h>
#endif

#include "buf.h"
#include "dsn.h"
#include "hash.h"
#include "migrate.h"
#include "store.h"
#include "util.h"
#include "banned.h"

#define MIGRATE_MAX_TABLES 64
#define MIGRATE_MAX_COLUMNS 128

static void migrate_usage(FILE *f)
{
	fprintf(f, "usage: slipway-server migrate --from sqlite:PATH --to POSTGRES-DSN [--force]\n"
		   "  Copies every table of a SQLite installation into a PostgreSQL database (schema created or\n"
		   "  upgraded first) and verifies each table by row count and SHA-256 checksum. A non-empty\n"
		   "  target is refused unless --force, which replaces its contents.\n");
}

#ifdef WITH_POSTGRES

/* Row checksums of one table: the hex SHA-256 of every row line; sorted and hashed at the end. */
struct row_sums {
	char (*hex)[SHA256_HEX_LEN + 1];
	size_t n, cap;
};

static int row_sums_add(struct row_sums *s, const char *line, size_t len)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 256;
		void *p = realloc(s->hex, cap * sizeof(*s->hex));
		if (!p)
			return -ENOMEM;
		s->hex = p;
		s->cap = cap;
	}
	return sha256_hex(line, len, s->hex[s->n++]);
}

static int cmp_hex(const void *a, const void *b)
{
	return memcmp(a, b, SHA256_HEX_LEN);
}

/* Sorts the row digests and writes the table checksum; releases the digests. */
static int row_sums_final(struct row_sums *s, char out[SHA256_HEX_LEN + 1])
{
	struct sha256_ctx c;
	int r;

	if (s->n)
		qsort(s->hex, s->n, sizeof(*s->hex), cmp_hex);
	r = sha256_init(&c);
	for (size_t i = 0; r >= 0 && i < s->n; i++)
		r = sha256_update(&c, s->hex[i], SHA256_HEX_LEN);
	if (r >= 0)
		r = sha256_final_hex(&c, out);
	else
		sha256_release(&c);
	free(s->hex);
	s->hex = NULL;
	s->n = s->cap = 0;
	return r;
}

/* One value in PostgreSQL's COPY text format (what COPY TO STDOUT prints for a text value). */
static int copy_escape(struct buf *b, const unsigned char *v, size_t n)
{
	int r = 0;

	for (size_t i = 0; r >= 0 && i < n; i++) {
		switch (v[i]) {
		case '\\':
			r = buf_append(b, "\\\\", 2);
			break;
		case '\b':
			r = buf_append(b, "\\b", 2);
			break;
		case '\f':
			r = buf_append(b, "\\f", 2);
			break;
		case '\n':
			r = buf_append(b, "\\n", 2);
			break;
		case '\r':
			r = buf_append(b, "\\r", 2);
			break;
		case '\t':
			r = buf_append(b, "\\t", 2);
			break;
		case '\v':
			r = buf_append(b, "\\v", 2);
			break;
		default:
			r = buf_appendc(b, (char)v[i]);
		}
	}
	return r;
}

struct table {
	char name[128];                    /* source spelling */
	char pgname[128];                  /* target spelling */
	char *cols[MIGRATE_MAX_COLUMNS];   /* source column names (schema order) */
	char *pgcols[MIGRATE_MAX_COLUMNS]; /* the matching target column names */
	bool serial[MIGRATE_MAX_COLUMNS];  /* target column is an identity / serial */
	size_t n_cols;
	bool has_rowid;
	int64_t rows_src, rows_dst;
	char sum_src[SHA256_HEX_LEN + 1], sum_dst[SHA256_HEX_LEN + 1];
};

static void tables_free(struct table *t, size_t n)
{
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < t[i].n_cols; j++) {
			free(t[i].cols[j]);
			free(t[i].pgcols[j]);
		}
}

/* "name" for SQLite (double quotes doubled). */
static int sqlite_ident(struct buf *b, const char *name)
{
	int r = buf_appendc(b, '"');
	for (const char *p = name; r >= 0 && *p; p++)
		r = *p == '"' ? buf_append(b, "\"\"", 2) : buf_appendc(b, *p);
	return r < 0 ? r : buf_appendc(b, '"');
}

/* The source's tables (minus SQLite's own and schema_meta) and their columns, in a read transaction. */
static int source_tables(sqlite3 *db, struct table *t, size_t *ret_n)
{
	static const char sql_tables[] = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE "
					 "'sqlite\\_%' ESCAPE '\\' AND name <> 'schema_meta' ORDER BY name";
	sqlite3_stmt *st = NULL;
	size_t n = 0;
	int r = 0, rc;

	if (sqlite3_prepare_v2(db, sql_tables, -1, &st, NULL) != SQLITE_OK)
		return -EIO;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == MIGRATE_MAX_TABLES) {
			r = -E2BIG;
			break;
		}
		memset(&t[n], 0, sizeof(t[n]));
		r = str_copy(t[n].name, sizeof(t[n].name), (const char *)sqlite3_column_text(st, 0));
		if (r < 0)
			break;
		n++;
	}
	if (r >= 0 && rc != SQLITE_DONE && rc != SQLITE_ROW)
		r = -EIO;
	sqlite3_finalize(st);
	for (size_t i = 0; r >= 0 && i < n; i++) {
		struct buf q;
		buf_init(&q, 4096);
		r = buf_appends(&q, "PRAGMA table_info(");
		if (r >= 0)
			r = sqlite_ident(&q, t[i].name);
		if (r >= 0)
			r = buf_appendc(&q, ')');
		/* the statement is built from a table name read from sqlite_master, quoted */
		if (r >= 0 && sqlite3_prepare_v2(db, q.p, -1, &st, NULL) != SQLITE_OK)
			r = -EIO;
		buf_release(&q);
		while (r >= 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
			if (t[i].n_cols == MIGRATE_MAX_COLUMNS) {
				r = -E2BIG;
				break;
			}
			t[i].cols[t[i].n_cols] = strdup((const char *)sqlite3_column_text(st, 1));
			if (!t[i].cols[t[i].n_cols])
				r = -ENOMEM;
			else
				t[i].n_cols++;
		}
		if (st)
			sqlite3_finalize(st);
		st = NULL;
		if (r >= 0) {
			buf_init(&q, 4096);
			r = buf_appends(&q, "SELECT rowid FROM ");
			if (r >= 0)
				r = sqlite_ident(&q, t[i].name);
			if (r >= 0)
				r = buf_appends(&q, " LIMIT 0");
			t[i].has_rowid = r >= 0 && sqlite3_prepare_v2(db, q.p, -1, &st, NULL) == SQLITE_OK;
			if (st)
				sqlite3_finalize(st);
			st = NULL;
			buf_release(&q);
		}
	}
	*ret_n = n;
	return r;
}

static int sqlite_version(sqlite3 *db, int64_t *ret)
{
	sqlite3_stmt *st = NULL;
	int r = -ENOENT;

	if (sqlite3_prepare_v2(db, "SELECT version FROM schema_meta", -1, &st, NULL) != SQLITE_OK)
		return -ENOENT;
	if (sqlite3_step(st) == SQLITE_ROW) {
		*ret = sqlite3_column_int64(st, 0);
		r = 0;
	}
	sqlite3_finalize(st);
	return r;
}

static int pg_ok(PGconn *pg, PGresult *res, ExecStatusType want, const char *what)
{
	int r = 0;

	if (PQresultStatus(res) != want) {
		fprintf(stderr, "migrate: %s: %s", what, PQerrorMessage(pg));
		r = -EIO;
	}
	PQclear(res);
	return r;
}

static int pg_cmd(PGconn *pg, const char *sql, const char *what)
{
	return pg_ok(pg, PQexec(pg, sql), PGRES_COMMAND_OK, what);
}

/* Appends the target's identifier (as libpq quotes it). */
static int pg_ident(PGconn *pg, struct buf *b, const char *name)
{
	char *q = PQescapeIdentifier(pg, name, strlen(name));
	int r;

	if (!q)
		return -ENOMEM;
	r = buf_appends(b, q);
	PQfreemem(q);
	return r;
}

/* Maps each source column to the target's column of the same name (case-insensitively: PostgreSQL folds
 * unquoted names); every source column must exist in the target. */
static int target_columns(PGconn *pg, struct table *t)
{
	static const char sql[] = "SELECT column_name, (is_identity = 'YES' OR column_default LIKE 'nextval(%'), "
				  "table_name "
				  "FROM information_schema.columns WHERE table_schema = current_schema() AND "
				  "lower(table_name) = lower($1) ORDER BY ordinal_position";
	const char *params[1] = { t->name };
	PGresult *res = PQexecParams(pg, sql, 1, NULL, params, NULL, NULL, 0);
	int r = 0, rows;

	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		fprintf(stderr, "migrate: reading the target's columns of %s: %s", t->name, PQerrorMessage(pg));
		PQclear(res);
		return -EIO;
	}
	rows = PQntuples(res);
	if (rows == 0) {
		fprintf(stderr, "migrate: the target has no table %s\n", t->name);
		r = -ENOENT;
	} else
		r = str_copy(t->pgname, sizeof(t->pgname), PQgetvalue(res, 0, 2));
	for (size_t j = 0; r >= 0 && j < t->n_cols; j++) {
		for (int k = 0; k < rows; k++)
			if (strcasecmp(PQgetvalue(res, k, 0), t->cols[j]) == 0) {
				t->pgcols[j] = strdup(PQgetvalue(res, k, 0));
				t->serial[j] = streq(PQgetvalue(res, k, 1), "t");
				if (!t->pgcols[j])
					r = -ENOMEM;
				break;
			}
		if (r >= 0 && !t->pgcols[j]) {
			fprintf(stderr, "migrate: the target's table %s has no column %s\n", t->name, t->cols[j]);
			r = -ENOENT;
		}
	}
	PQclear(res);
	return r;
}

/* " (c1, c2, …)" in target spelling. */
static int pg_column_list(PGconn *pg, struct buf *b, const struct table *t)
{
	int r = buf_appends(b, " (");
	for (size_t j = 0; r >= 0 && j < t->n_cols; j++) {
		if (j)
			r = buf_appends(b, ", ");
		if (r >= 0)
			r = pg_ident(pg, b, t->pgcols[j]);
	}
	return r < 0 ? r : buf_appendc(b, ')');
}

static int target_rows(PGconn *pg, const struct table *t, bool *ret_any)
{
	struct buf q;
	PGresult *res;
	int r;

	buf_init(&q, 4096);
	r = buf_appends(&q, "SELECT EXISTS (SELECT 1 FROM ");
	if (r >= 0)
		r = pg_ident(pg, &q, t->pgname);
	if (r >= 0)
		r = buf_appendc(&q, ')');
	if (r < 0) {
		buf_release(&q);
		return r;
	}
	res = PQexec(pg, q.p);
	buf_release(&q);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		fprintf(stderr, "migrate: reading %s in the target: %s", t->name, PQerrorMessage(pg));
		PQclear(res);
		return -EIO;
	}
	*ret_any = streq(PQgetvalue(res, 0, 0), "t");
	PQclear(res);
	return 0;
}

/* Streams one table from SQLite into COPY … FROM STDIN, summing the source rows on the way. */
static int copy_table(sqlite3 *db, PGconn *pg, struct table *t)
{
	struct row_sums sums = { 0 };
	struct buf q, line;
	sqlite3_stmt *st = NULL;
	PGresult *res;
	int r, rc;

	buf_init(&q, 64 * 1024);
	buf_init(&line, BUF_UNBOUNDED);
	r = buf_appends(&q, "SELECT ");
	for (size_t j = 0; r >= 0 && j < t->n_cols; j++) {
		if (j)
			r = buf_appends(&q, ", ");
		if (r >= 0)
			r = sqlite_ident(&q, t->cols[j]);
	}
	if (r >= 0)
		r = buf_appends(&q, " FROM ");
	if (r >= 0)
		r = sqlite_ident(&q, t->name);
	if (r >= 0 && t->has_rowid)
		r = buf_appends(&q, " ORDER BY rowid");
	if (r >= 0 && sqlite3_prepare_v2(db, q.p, -1, &st, NULL) != SQLITE_OK) {
		fprintf(stderr, "migrate: reading %s: %s\n", t->name, sqlite3_errmsg(db));
		r = -EIO;
	}
	if (r < 0)
		goto out;

	buf_reset(&q);
	r = buf_appends(&q, "COPY ");
	if (r >= 0)
		r = pg_ident(pg, &q, t->pgname);
	if (r >= 0)
		r = pg_column_list(pg, &q, t);
	if (r >= 0)
		r = buf_appends(&q, " FROM STDIN");
	if (r < 0)
		goto out;
	r = pg_ok(pg, PQexec(pg, q.p), PGRES_COPY_IN, "COPY");
	if (r < 0)
		goto out;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		buf_reset(&line);
		for (size_t j = 0; r >= 0 && j < t->n_cols; j++) {
			if (j)
				r = buf_appendc(&line, '\t');
			if (r < 0)
				break;
			if (sqlite3_column_type(st, (int)j) == SQLITE_NULL)
				r = buf_append(&line, "\\N", 2);
			else {
				const unsigned char *v = sqlite3_column_text(st, (int)j);
				r = v ? copy_escape(&line, v, (size_t)sqlite3_column_bytes(st, (int)j)) : -ENOMEM;
			}
		}
		if (r >= 0)
			r = buf_appendc(&line, '\n');
		if (r >= 0)
			r = row_sums_add(&sums, line.p, line.len);
		if (r >= 0 && PQputCopyData(pg, line.p, (int)line.len) != 1) {
			fprintf(stderr, "migrate: COPY %s: %s", t->name, PQerrorMessage(pg));
			r = -EIO;
		}
		if (r < 0)
			break;
		t->rows_src++;
	}
	if (r >= 0 && rc != SQLITE_DONE) {
		fprintf(stderr, "migrate: reading %s: %s\n", t->name, sqlite3_errmsg(db));
		r = -EIO;
	}
	if (PQputCopyEnd(pg, r < 0 ? "aborted" : NULL) != 1 && r >= 0) {
		fprintf(stderr, "migrate: COPY %s: %s", t->name, PQerrorMessage(pg));
		r = -EIO;
	}
	while ((res = PQgetResult(pg))) {
		if (PQresultStatus(res) != PGRES_COMMAND_OK && r >= 0) {
			fprintf(stderr, "migrate: COPY %s: %s", t->name, PQerrorMessage(pg));
			r = -EIO;
		}
		PQclear(res);
	}
	if (r >= 0)
		r = row_sums_final(&sums, t->sum_src);
out:
	free(sums.hex);
	if (st)
		sqlite3_finalize(st);
	buf_release(&q);
	buf_release(&line);
	return r;
}

/* Moves the identity / serial sequences of copied columns past the copied values. */
static int reset_sequences(PGconn *pg, const struct table *t)
{
	int r = 0;

	for (size_t j = 0; r >= 0 && j < t->n_cols; j++) {
		struct buf q;
		char *lit_t, *lit_c;
		if (!t->serial[j])
			continue;
		lit_t = PQescapeLiteral(pg, t->pgname, strlen(t->pgname));
		lit_c = PQescapeLiteral(pg, t->pgcols[j], strlen(t->pgcols[j]));
		buf_init(&q, 4096);
		r = lit_t && lit_c ? 0 : -ENOMEM;
		if (r >= 0)
			r = buf_printf(&q, "SELECT setval(pg_get_serial_sequence(%s, %s), COALESCE(max(", lit_t, lit_c);
		if (r >= 0)
			r = pg_ident(pg, &q, t->pgcols[j]);
		if (r >= 0)
			r = buf_appends(&q, "), 0) + 1, false) FROM ");
		if (r >= 0)
			r = pg_ident(pg, &q, t->pgname);
		if (r >= 0)
			r = pg_ok(pg, PQexec(pg, q.p), PGRES_TUPLES_OK, "resetting a sequence");
		PQfreemem(lit_t);
		PQfreemem(lit_c);
		buf_release(&q);
	}
	return r;
}

/* Counts and sums one table of the target with COPY (SELECT …) TO STDOUT. */
static int verify_table(PGconn *pg, struct table *t)
{
	struct row_sums sums = { 0 };
	struct buf q;
	PGresult *res;
	char *row;
	int r, n;

	buf_init(&q, 64 * 1024);
	r = buf_appends(&q, "COPY (SELECT ");
	for (size_t j = 0; r >= 0 && j < t->n_cols; j++) {
		if (j)
			r = buf_appends(&q, ", ");
		if (r >= 0)
			r = pg_ident(pg, &q, t->pgcols[j]);
	}
	if (r >= 0)
		r = buf_appends(&q, " FROM ");
	if (r >= 0)
		r = pg_ident(pg, &q, t->pgname);
	if (r >= 0)
		r = buf_appends(&q, ") TO STDOUT");
	if (r >= 0)
		r = pg_ok(pg, PQexec(pg, q.p), PGRES_COPY_OUT, "COPY TO");
	buf_release(&q);
	if (r < 0)
		return r;
	t->rows_dst = 0;
	while ((n = PQgetCopyData(pg, &row, 0)) > 0) {
		if (r >= 0)
			r = row_sums_add(&sums, row, (size_t)n);
		PQfreemem(row);
		t->rows_dst++;
	}
	if (n == -2) {
		fprintf(stderr, "migrate: COPY %s TO STDOUT: %s", t->name, PQerrorMessage(pg));
		r = -EIO;
	}
	while ((res = PQgetResult(pg))) {
		if (PQresultStatus(res) != PGRES_COMMAND_OK && r >= 0) {
			fprintf(stderr, "migrate: COPY %s TO STDOUT: %s", t->name, PQerrorMessage(pg));
			r = -EIO;
		}
		PQclear(res);
	}
	if (r >= 0)
		r = row_sums_final(&sums, t->sum_dst);
	free(sums.hex);
	return r;
}

/* The source's schema version must be the one this server creates (or upgrades) on the target: 0, or an error
 * after saying why. *ret_version is the schema version of both. */
static int same_schema(sqlite3 *db, const char *from, const char *to, int *ret_version)
{
	struct store *store = NULL;
	int64_t src_version = 0;
	int dst_version = 0, r;
	char dsn[DSN_REDACTED_MAX];

	r = sqlite_version(db, &src_version);
	if (r < 0) {
		fprintf(stderr, "migrate: %s is not a slipway database (no schema_meta)\n", from);
		return r;
	}
	/* create or upgrade the target's schema the way a server would */
	r = store_open(to, &store);
	if (r < 0) {
		fprintf(stderr, "migrate: cannot open the target database '%s' (%s)\n", dsn_redact(to, dsn, sizeof(dsn)),
			strerror(-r));
		return r;
	}
	r = store_schema_version(store, &dst_version);
	store_free(store);
	if (r < 0) {
		fprintf(stderr, "migrate: cannot read the target's schema version\n");
		return r;
	}
	if (src_version != dst_version) {
		fprintf(stderr,
			"migrate: the source has schema version %lld, this slipway-server's is %d: %s\n",
			(long long)src_version, dst_version,
			src_version < dst_version ? "start this slipway-server once on the source to upgrade it"
						  : "use the slipway-server release that wrote the source");
		return -EPROTO;
	}
	*ret_version = dst_version;
	return 0;
}

/* Without --force every target table must be empty: 0, or an error after saying why. */
static int target_empty(PGconn *pg, struct table *tables, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		bool any = false;
		int r = target_rows(pg, &tables[i], &any);

		if (r < 0)
			return r;
		if (any) {
			fprintf(stderr, "migrate: the target is not empty (table %s has rows); --force replaces "
					"its contents\n",
				tables[i].name);
			return -ENOTEMPTY;
		}
	}
	return 0;
}

/* One target transaction: empty the tables (force), copy every table, reset the sequences. On failure nothing
 * was written to the target. */
static int copy_all(sqlite3 *db, PGconn *pg, struct table *tables, size_t n, bool force)
{
	int r = pg_cmd(pg, "BEGIN", "BEGIN");

	if (r >= 0 && force) {
		struct buf q;
		buf_init(&q, 64 * 1024);
		r = buf_appends(&q, "TRUNCATE ");
		for (size_t i = 0; r >= 0 && i < n; i++) {
			if (i)
				r = buf_appends(&q, ", ");
			if (r >= 0)
				r = pg_ident(pg, &q, tables[i].pgname);
		}
		if (r >= 0)
			r = pg_cmd(pg, q.p, "TRUNCATE");
		buf_release(&q);
	}
	for (size_t i = 0; r >= 0 && i < n; i++) {
		r = copy_table(db, pg, &tables[i]);
		if (r >= 0)
			r = reset_sequences(pg, &tables[i]);
	}
	/* the admission, agent, host tag and host counts came with the source; the deltas the target's triggers wrote
	 * while agents and host tags were copied would count those rows a second time */
	if (r >= 0)
		r = pg_cmd(pg, "DELETE FROM count_deltas", "DELETE");
	if (r >= 0)
		r = pg_cmd(pg, "DELETE FROM agent_count_deltas", "DELETE");
	if (r >= 0)
		r = pg_cmd(pg, "DELETE FROM host_tag_count_deltas", "DELETE");
	if (r >= 0)
		r = pg_cmd(pg, "DELETE FROM agent_host_count_deltas", "DELETE");
	if (r < 0) {
		(void)pg_cmd(pg, "ROLLBACK", "ROLLBACK");
		fprintf(stderr, "migrate: copy failed, nothing was written to the target\n");
		return r;
	}
	return pg_cmd(pg, "COMMIT", "COMMIT");
}

/* Compare what the target now holds with the source, table by table (printed): 0 when all match. */
static int verify_all(PGconn *pg, struct table *tables, size_t n, int version)
{
	int64_t total = 0;
	int r, bad = 0;

	printf("%-16s %10s %10s  %-64s  %s\n", "table", "source", "target", "sha256 (source)", "check");
	for (size_t i = 0; i < n; i++) {
		struct table *t = &tables[i];
		bool same;
		r = verify_table(pg, t);
		if (r < 0)
			return r;
		same = t->rows_src == t->rows_dst && streq(t->sum_src, t->sum_dst);
		printf("%-16s %10lld %10lld  %s  %s\n", t->name, (long long)t->rows_src, (long long)t->rows_dst,
		       t->sum_src, same ? "ok" : "MISMATCH");
		if (!same) {
			printf("%-16s %10s %10s  %s  (target)\n", "", "", "", t->sum_dst);
			bad++;
		}
		total += t->rows_src;
	}
	if (bad) {
		fprintf(stderr, "migrate: %d of %zu tables differ between source and target\n", bad, n);
		return -EBADMSG;
	}
	printf("migrate: copied and verified %zu tables, %lld rows (schema version %d)\n", n, (long long)total,
	       version);
	return 0;
}

static int migrate_run(const char *from, const char *to, bool force)
{
	static struct table tables[MIGRATE_MAX_TABLES];
	sqlite3 *db = NULL;
	PGconn *pg = NULL;
	size_t n = 0;
	int version = 0, r;
	bool in_read = false;
	char dsn[DSN_REDACTED_MAX];

	if (sqlite3_open_v2(from + 7, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		fprintf(stderr, "migrate: cannot open %s: %s\n", from, db ? sqlite3_errmsg(db) : "out of memory");
		r = -EIO;
		goto out;
	}
	sqlite3_busy_timeout(db, 5000);
	r = same_schema(db, from, to, &version);
	if (r < 0)
		goto out;

	pg = PQconnectdb(to);
	if (!pg || PQstatus(pg) != CONNECTION_OK) {
		fprintf(stderr, "migrate: cannot connect to the target '%s': %s", dsn_redact(to, dsn, sizeof(dsn)),
			pg ? PQerrorMessage(pg) : "out of memory\n");
		r = -EIO;
		goto out;
	}

	/* one read transaction on the source: every table from the same snapshot */
	if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
		fprintf(stderr, "migrate: %s: %s\n", from, sqlite3_errmsg(db));
		r = -EIO;
		goto out;
	}
	in_read = true;
	r = source_tables(db, tables, &n);
	if (r < 0) {
		fprintf(stderr, "migrate: cannot read the source's tables: %s\n", strerror(-r));
		goto out;
	}
	for (size_t i = 0; r >= 0 && i < n; i++)
		r = target_columns(pg, &tables[i]);
	if (r >= 0 && !force)
		r = target_empty(pg, tables, n);
	if (r >= 0)
		r = copy_all(db, pg, tables, n, force);
	if (r < 0)
		goto out;
	(void)sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	in_read = false;
	r = verify_all(pg, tables, n, version);
out:
	if (in_read)
		(void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	tables_free(tables, n);
	if (pg)
		PQfinish(pg);
	sqlite3_close(db);
	return r;
}

#else

static int migrate_run(const char *from, const char *to, bool force)
{
	(void)from;
	(void)to;
	(void)force;
	fprintf(stderr, "migrate: this slipway-server was built without PostgreSQL support (WITH_POSTGRES=OFF)\n");
	return -EPROTONOSUPPORT;
}

#endif

int migrate_main(int argc, char **argv)
{
	const char *from = NULL, *to = NULL;
	bool force = false;

	for (int i = 1; i < argc; i++) {
		if (streq(argv[i], "--from") && i + 1 < argc)
			from = argv[++i];
		else if (streq(argv[i], "--to") && i + 1 < argc)
			to = argv[++i];
		else if (startswith(argv[i], "--from="))
			from = argv[i] + 7;
		else if (startswith(argv[i], "--to="))
			to = argv[i] + 5;
		else if (streq(argv[i], "--force"))
			force = true;
		else if (streq(argv[i], "-h") || streq(argv[i], "--help")) {
			migrate_usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "slipway-server migrate: unexpected argument '%s'\n", argv[i]);
			migrate_usage(stderr);
			return 2;
		}
	}
	if (!from || !to) {
		migrate_usage(stderr);
		return 2;
	}
	if (!startswith(from, "sqlite:") || !from[7]) {
		fprintf(stderr, "slipway-server migrate: --from must be sqlite:PATH\n");
		return 2;
	}
	if (startswith(to, "sqlite:")) {
		fprintf(stderr, "slipway-server migrate: --to must be a PostgreSQL connection string\n");
		return 2;
	}
	return migrate_run(from, to, force) < 0 ? 1 : 0;
}
