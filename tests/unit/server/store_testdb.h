/* SPDX-License-Identifier: Apache-2.0 */
/* tests/unit/server/store_testdb.h: throwaway databases for the store tests. SQLite: a file in a temporary
 * directory. PostgreSQL: a fresh, uniquely named database created on the server named by the base DSN in
 * SLIPWAY_TEST_PG_DSN (e.g. postgresql://postgres@127.0.0.1:55432, see scripts/pg-test.sh) and dropped after.
 * Without SLIPWAY_TEST_PG_DSN the PostgreSQL variants are skipped, except under CI=true, where they fail. */
#ifndef SLIPWAY_TESTS_STORE_TESTDB_H
#define SLIPWAY_TESTS_STORE_TESTDB_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>
#ifdef WITH_POSTGRES
#include <libpq-fe.h>
#endif

struct testdb {
	bool pg;
	char dir[64];
	char path[128];  /* SQLite file */
	char name[64];   /* PostgreSQL database */
	char dsn[512];
};

/* 1: run the PostgreSQL variants; 0: skip them; -1: CI without a DSN (fail). */
static inline int testdb_pg_wanted(void)
{
	const char *base = getenv("SLIPWAY_TEST_PG_DSN"), *ci = getenv("CI");

#ifdef WITH_POSTGRES
	if (base && *base)
		return 1;
#else
	(void)base;
#endif
	if (ci && strcmp(ci, "true") == 0) {
		fprintf(stderr, "CI=true but SLIPWAY_TEST_PG_DSN is not set: the PostgreSQL store tests cannot run\n");
		return -1;
	}
	fprintf(stderr, "SLIPWAY_TEST_PG_DSN not set: PostgreSQL store tests skipped\n");
	return 0;
}

/* Run one statement on the maintenance database of the base DSN. */
static inline int testdb_pg_admin(const char *sql)
{
#ifndef WITH_POSTGRES
	(void)sql;
	return -1;
#else
	char dsn[512];
	PGconn *c;
	PGresult *res;
	int r = 0;

	(void)snprintf(dsn, sizeof(dsn), "%s/postgres", getenv("SLIPWAY_TEST_PG_DSN"));
	c = PQconnectdb(dsn);
	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "cannot connect to '%s': %s", dsn, PQerrorMessage(c));
		PQfinish(c);
		return -1;
	}
	res = PQexec(c, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK) {
		fprintf(stderr, "%s: %s", sql, PQerrorMessage(c));
		r = -1;
	}
	PQclear(res);
	PQfinish(c);
	return r;
#endif
}

static inline int testdb_create(struct testdb *t, bool pg)
{
	static int seq;

	memset(t, 0, sizeof(*t));
	t->pg = pg;
	if (pg) {
		char q[128];

		(void)snprintf(t->name, sizeof(t->name), "slipway_t_%d_%d", (int)getpid(), seq++);
		(void)snprintf(q, sizeof(q), "CREATE DATABASE %s", t->name);
		if (testdb_pg_admin(q) < 0)
			return -1;
		(void)snprintf(t->dsn, sizeof(t->dsn), "%s/%s", getenv("SLIPWAY_TEST_PG_DSN"), t->name);
		return 0;
	}
	(void)snprintf(t->dir, sizeof(t->dir), "/tmp/slipway-store-XXXXXX");
	if (!mkdtemp(t->dir))
		return -1;
	(void)snprintf(t->path, sizeof(t->path), "%s/t%d.db", t->dir, seq++);
	(void)snprintf(t->dsn, sizeof(t->dsn), "sqlite:%s", t->path);
	return 0;
}

/* Drop the database (call after every handle on it is closed). */
static inline void testdb_destroy(struct testdb *t)
{
	static const char *const suffixes[] = { "", "-wal", "-shm", ".lock" };
	char p[256];

	if (t->pg) {
		(void)snprintf(p, sizeof(p), "DROP DATABASE IF EXISTS %s WITH (FORCE)", t->name);
		(void)testdb_pg_admin(p);
		return;
	}
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		(void)snprintf(p, sizeof(p), "%s%s", t->path, suffixes[i]);
		(void)unlink(p);
	}
	(void)rmdir(t->dir);
}

/* Run SQL text (several statements allowed) on the database with a connection of its own; 0 or -1
 * (message on stderr). */
static inline int testdb_exec(const struct testdb *t, const char *q)
{
	int r = 0;

	if (t->pg) {
#ifdef WITH_POSTGRES
		PGconn *c = PQconnectdb(t->dsn);
		PGresult *res = PQexec(c, q);

		if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK) {
			fprintf(stderr, "%s: %s", q, PQerrorMessage(c));
			r = -1;
		}
		PQclear(res);
		PQfinish(c);
#else
		r = -1;
#endif
	} else {
		sqlite3 *db = NULL;
		char *err = NULL;

		if (sqlite3_open(t->path, &db) != SQLITE_OK)
			r = -1;
		sqlite3_busy_timeout(db, 5000);
		if (r == 0 && sqlite3_exec(db, q, NULL, NULL, &err) != SQLITE_OK) {
			fprintf(stderr, "%s: %s\n", q, err);
			r = -1;
		}
		sqlite3_free(err);
		sqlite3_close(db);
	}
	return r;
}

/* First column of the first row as an integer; -1 without a row or on error. */
static inline int64_t testdb_int(const struct testdb *t, const char *q)
{
	int64_t v = -1;

	if (t->pg) {
#ifdef WITH_POSTGRES
		PGconn *c = PQconnectdb(t->dsn);
		PGresult *res = PQexec(c, q);

		if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) > 0 && !PQgetisnull(res, 0, 0)) {
			const char *s = PQgetvalue(res, 0, 0);
			v = s[0] == 't' ? 1 : s[0] == 'f' ? 0 : (int64_t)strtod(s, NULL);
		} else if (PQresultStatus(res) != PGRES_TUPLES_OK)
			fprintf(stderr, "%s: %s", q, PQerrorMessage(c));
		PQclear(res);
		PQfinish(c);
#endif
	} else {
		sqlite3 *db = NULL;
		sqlite3_stmt *st = NULL;

		if (sqlite3_open(t->path, &db) == SQLITE_OK && sqlite3_prepare_v2(db, q, -1, &st, NULL) == SQLITE_OK &&
		    sqlite3_step(st) == SQLITE_ROW)
			v = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
		sqlite3_close(db);
	}
	return v;
}

/* A complete EnvStage to insert (state NORMAL, one host at a time, HALT on failure); build_name NULL leaves
 * buildName out. NULL on OOM. */
static inline json_t *testdb_stage_obj(const char *id, const char *env, const char *stage, const char *build_name)
{
	json_t *e = json_pack(
		"{s:s,s:s,s:s,s:s,s:s,s:s,s:b,s:i,s:i,s:s,s:i,s:i,s:s,s:i,s:i,s:b,s:s,s:s,s:b,s:b,s:b,s:b}", "id", id,
		"envName", env, "stageName", stage, "envState", "NORMAL", "state", "NORMAL", "description", "d",
		"notifyAuthors", 0, "maxParallel", 1, "maxParallelPct", 0, "priority", "NORMAL", "stuckThreshold", 600,
		"successThreshold", 10000, "acceptanceType", "AUTO", "maxDeployNum", 5000, "maxDeployDay", 365, "isDocker",
		0, "stageType", "DEFAULT", "failurePolicy", "HALT", "allowPrivateBuild", 0, "ensureTrustedBuild", 0, "isSOX",
		0, "useEntitlements", 0);

	if (e && build_name && json_object_set_new(e, "buildName", json_string(build_name)) < 0) {
		json_decref(e);
		return NULL;
	}
	return e;
}

#endif
