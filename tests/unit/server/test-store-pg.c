/* SPDX-License-Identifier: Apache-2.0 */
/* tests/unit/server/test-store-pg.c: the PostgreSQL-specific parts of the store (db_pg.c and the replica rules of
 * the store_*.c files): placeholder rewrite, camelCase restoration, boolean columns, reconnect after the server drops the
 * connection, and two store handles on one database (two replicas): worker_claim grants one claim per period,
 * token_bootstrap inserts once; every token write is notified, and the token cache is used only while the listener is
 * fresh. Needs SLIPWAY_TEST_PG_DSN (see store_testdb.h). */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "db.h"
#include "store.h"
#include "store_ping.h"
#include "util.h"
#include "store_testdb.h"

#ifdef WITH_POSTGRES
#include "db_driver.h"

static void test_rewrite(void **state)
{
	char *out = NULL;
	int n = 0;

	(void)state;
	assert_int_equal(db_pg_rewrite("SELECT '?', ?, \"a?b\", ?3, ? FROM t WHERE x = 'it''s ?'", &out, &n), 0);
	assert_string_equal(out, "SELECT '?', $1, \"a?b\", $3, $4 FROM t WHERE x = 'it''s ?'");
	assert_int_equal(n, 4);
	free(out);
	assert_int_equal(db_pg_rewrite("UPDATE t SET a = ?2 WHERE b = ?1 AND c = ?2", &out, &n), 0);
	assert_string_equal(out, "UPDATE t SET a = $2 WHERE b = $1 AND c = $2");
	assert_int_equal(n, 2);
	free(out);
	assert_int_equal(db_pg_rewrite("SELECT ?99", &out, &n), -EINVAL);
}

struct pgfx {
	struct testdb db;
	struct store *s;
};

static int setup(void **state)
{
	struct pgfx *f = calloc(1, sizeof(*f));

	if (!f || testdb_create(&f->db, true) < 0 || store_open(f->db.dsn, &f->s) < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct pgfx *f = *state;

	store_free(f->s);
	testdb_destroy(&f->db);
	free(f);
	return 0;
}

static const char sql_names[] = "SELECT hostId, envId, holdsSlot, firstDeploy, lastErrno, 1 AS someFlag__bool, "
				"0 AS otherFlag__bool, 7 AS mixedCase FROM agents WHERE hostId = ?";
static const char sql_seed[] = "INSERT INTO agents(hostId, hostName, envId, startDate, lastUpdateDate, holdsSlot, "
			       "firstDeploy, lastErrno) VALUES(?, ?, ?, ?, ?, ?, ?, ?)";

static void test_names_and_booleans(void **state)
{
	struct pgfx *f = *state;
	struct db *d = NULL;
	struct db_conn *c;
	json_t *row = NULL;

	assert_int_equal(db_open(f->db.dsn, &d), 0);
	c = db_conn(d);
	assert_non_null(c);
	assert_int_equal(db_dialect(c), DB_PG);
	assert_int_equal(db_exec(c, sql_seed, "sssiibbi", "h1", "h1", "E1", (int64_t)1, (int64_t)2, 1, 0, (int64_t)5), 1);
	assert_int_equal(db_row(c, sql_names, &row, "s", "h1"), 0);
	assert_string_equal(json_string_value(json_object_get(row, "hostId")), "h1");
	assert_string_equal(json_string_value(json_object_get(row, "envId")), "E1");
	assert_true(json_is_true(json_object_get(row, "holdsSlot")));
	assert_true(json_is_false(json_object_get(row, "firstDeploy")));
	assert_true(json_is_integer(json_object_get(row, "lastErrno")));
	assert_int_equal(json_integer_value(json_object_get(row, "lastErrno")), 5);
	assert_true(json_is_true(json_object_get(row, "someFlag")));
	assert_true(json_is_false(json_object_get(row, "otherFlag")));
	assert_int_equal(json_integer_value(json_object_get(row, "mixedCase")), 7);
	assert_null(json_object_get(row, "hostid"));
	json_decref(row);
	db_free(d);
}

static const char sql_pid[] = "SELECT pg_backend_pid()";

static void test_reconnect(void **state)
{
	struct pgfx *f = *state;
	struct db *d = NULL;
	struct db_conn *c;
	int64_t pid = 0, pid2 = 0, v = 0;
	char q[256];
	int r;

	assert_int_equal(db_open(f->db.dsn, &d), 0);
	c = db_conn(d);
	assert_non_null(c);
	assert_int_equal(db_int(c, sql_pid, &pid, NULL), 0);
	(void)snprintf(q, sizeof(q), "SELECT pg_terminate_backend(%lld)", (long long)pid);
	assert_int_equal(testdb_pg_admin(q), 0);
	/* a read outside a transaction notices the dropped connection, reconnects and runs again */
	r = db_int(c, sql_pid, &pid2, NULL);
	assert_int_equal(r, 0);
	assert_int_not_equal(pid, pid2);
	/* a write on a dropped connection fails once (it may have committed), the next use reconnects */
	(void)snprintf(q, sizeof(q), "SELECT pg_terminate_backend(%lld)", (long long)pid2);
	assert_int_equal(testdb_pg_admin(q), 0);
	r = db_exec(c, sql_seed, "sssiibbi", "h2", "h2", "E1", (int64_t)1, (int64_t)2, 0, 0, (int64_t)0);
	assert_true(r == 1 || r == -EIO);
	if (r < 0) {
		c = db_conn(d);
		assert_non_null(c);
		assert_int_equal(db_exec(c, sql_seed, "sssiibbi", "h2", "h2", "E1", (int64_t)1, (int64_t)2, 0, 0,
					 (int64_t)0), 1);
	}
	/* the store keeps working the same way (its prepared statements are re-created) */
	assert_int_equal(store_health(f->s), 0);
	assert_int_equal(store_event_last_seq(f->s, &v), 0);
	db_free(d);
}

struct claimer {
	struct store *s;
	pthread_barrier_t *bar;
	int granted[20];
	int errors;
};

static void *claim_worker(void *arg)
{
	struct claimer *cl = arg;

	for (int k = 0; k < 20; k++) {
		int r;

		pthread_barrier_wait(cl->bar);
		do
			r = store_worker_claim(cl->s, "JANITOR", 1000000 + (int64_t)k * 20000, 10000);
		while (r == -EAGAIN);
		if (r < 0)
			cl->errors++;
		cl->granted[k] = r > 0;
	}
	return NULL;
}

static void test_two_replicas_claim(void **state)
{
	struct pgfx *f = *state;
	struct store *s2 = NULL;
	pthread_barrier_t bar;
	struct claimer cl[2];
	pthread_t th[2];

	assert_int_equal(store_open(f->db.dsn, &s2), 0);
	pthread_barrier_init(&bar, NULL, 2);
	cl[0] = (struct claimer){ .s = f->s, .bar = &bar };
	cl[1] = (struct claimer){ .s = s2, .bar = &bar };
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&th[i], NULL, claim_worker, &cl[i]), 0);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	for (int k = 0; k < 20; k++)
		assert_int_equal(cl[0].granted[k] + cl[1].granted[k], 1);
	assert_int_equal(cl[0].errors + cl[1].errors, 0);
	/* within the period nobody gets it again */
	assert_int_equal(store_worker_claim(s2, "JANITOR", 1000000 + 19 * 20000 + 5000, 10000), 0);
	pthread_barrier_destroy(&bar);
	store_free(s2);
}

struct booter {
	struct store *s;
	pthread_barrier_t *bar;
	const char *id;
	int r;
};

static void *boot_worker(void *arg)
{
	struct booter *b = arg;
	json_t *t = json_pack("{s:s,s:s,s:s,s:s,s:s,s:n,s:s,s:I}", "id", b->id, "name", "bootstrap-admin", "resource",
			      "*", "type", "SYSTEM", "role", "ADMIN", "expireDate", "tokenHash", b->id, "createDate",
			      (json_int_t)1);

	pthread_barrier_wait(b->bar);
	do
		b->r = store_token_bootstrap(b->s, t);
	while (b->r == -EAGAIN);
	json_decref(t);
	return NULL;
}

static void test_two_replicas_bootstrap(void **state)
{
	struct pgfx *f = *state;
	struct store *s2 = NULL;
	pthread_barrier_t bar;
	struct booter b[2];
	pthread_t th[2];

	assert_int_equal(store_open(f->db.dsn, &s2), 0);
	pthread_barrier_init(&bar, NULL, 2);
	b[0] = (struct booter){ .s = f->s, .bar = &bar, .id = "tok-a" };
	b[1] = (struct booter){ .s = s2, .bar = &bar, .id = "tok-b" };
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&th[i], NULL, boot_worker, &b[i]), 0);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	assert_true(b[0].r >= 0 && b[1].r >= 0);
	assert_int_equal(b[0].r + b[1].r, 1);
	assert_int_equal(testdb_int(&f->db, "SELECT count(*) FROM tokens"), 1);
	pthread_barrier_destroy(&bar);
	store_free(s2);
}

static void test_event_gap(void **state)
{
	struct pgfx *f = *state;
	struct store *p = f->s;
	struct store_event ev[8];
	char q[256];

	/* seq 2 is missing: another replica may still be committing it */
	(void)snprintf(q, sizeof(q), "INSERT INTO events(seq, kind, envId, createdAt) VALUES(1, 'ENV', 'E1', 1), "
		       "(3, 'ENV', 'E3', %lld)", (long long)now_ms());
	assert_int_equal(testdb_exec(&f->db, q), 0);
	assert_int_equal(store_event_poll(p, 0, ev, 8), 1);
	assert_int_equal(ev[0].seq, 1);
	assert_int_equal(store_event_poll(p, 1, ev, 8), 0);
	/* it committed: both are delivered in order */
	assert_int_equal(testdb_exec(&f->db, "INSERT INTO events(seq, kind, envId, createdAt) VALUES(2, 'ENV', 'E2', 2)"), 0);
	assert_int_equal(store_event_poll(p, 1, ev, 8), 2);
	assert_int_equal(ev[0].seq, 2);
	assert_int_equal(ev[1].seq, 3);
	/* a gap that stays (a rolled-back insert) is skipped once the next event is a second old */
	assert_int_equal(testdb_exec(&f->db, "INSERT INTO events(seq, kind, envId, createdAt) VALUES(5, 'ENV', 'E5', 5)"), 0);
	assert_int_equal(store_event_poll(p, 3, ev, 8), 1);
	assert_int_equal(ev[0].seq, 5);
}

struct opener {
	const char *dsn;
	pthread_barrier_t *bar;
	struct store *s;
	int r;
};

static void *open_worker(void *arg)
{
	struct opener *o = arg;

	pthread_barrier_wait(o->bar);
	o->r = store_open(o->dsn, &o->s);
	return NULL;
}

/* two servers starting at once on an empty database: the migration runs once, both open */
static void test_migrate_concurrently(void **state)
{
	struct testdb db;
	pthread_barrier_t bar;
	struct opener o[3];
	pthread_t th[3];
	int v[3] = { 0 };

	(void)state;
	assert_int_equal(testdb_create(&db, true), 0);
	pthread_barrier_init(&bar, NULL, 3);
	for (int i = 0; i < 3; i++) {
		o[i] = (struct opener){ .dsn = db.dsn, .bar = &bar };
		assert_int_equal(pthread_create(&th[i], NULL, open_worker, &o[i]), 0);
	}
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(o[i].r, 0);
		assert_int_equal(store_schema_version(o[i].s, &v[i]), 0);
		assert_true(v[i] >= 1);
		assert_int_equal(v[i], v[0]);
	}
	assert_int_equal(testdb_int(&db, "SELECT count(*) FROM schema_meta"), 1);
	for (int i = 0; i < 3; i++)
		store_free(o[i].s);
	pthread_barrier_destroy(&bar);
	testdb_destroy(&db);
}

static void test_migrate_twice(void **state)
{
	struct pgfx *f = *state;
	struct store *s2 = NULL;
	int v1 = 0, v2 = 0;

	/* a second server on a migrated database finds the schema current */
	assert_int_equal(store_open(f->db.dsn, &s2), 0);
	assert_int_equal(store_schema_version(f->s, &v1), 0);
	assert_int_equal(store_schema_version(s2, &v2), 0);
	assert_true(v1 >= 1);
	assert_int_equal(v1, v2);
	store_free(s2);
}
/* ---- the token cache across replicas ---- */

#define HASH_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

static json_t *token_obj(const char *id, const char *resource, const char *type, const char *hash)
{
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:n,s:s,s:I}", "id", id, "name", id, "resource", resource, "type", type,
			 "role", "READER", "expireDate", "tokenHash", hash, "createDate", (json_int_t)1);
}

static int lookup(struct store *s, const char *hash)
{
	json_t *row = NULL;
	int r = store_token_get_by_hash(s, hash, &row);

	json_decref(row);
	return r;
}

/* On PostgreSQL a lookup is answered from the cache only while the listener has proved itself fresh. The token is
 * deleted behind the store's back (no notification) to see whether the cache answered. */
static void test_token_cache_needs_a_fresh_listener(void **state)
{
	struct pgfx *f = *state;
	json_t *t = token_obj("t1", "*", "SYSTEM", HASH_A);
	static const char sql_put[] = "INSERT INTO tokens(id, name, resource, type, role, tokenHash, createDate) "
				      "VALUES('t1', 't1', '*', 'SYSTEM', 'READER', '" HASH_A "', 1)";

	assert_int_equal(store_token_insert(f->s, t), 0);
	/* never told fresh (no listener): every lookup reads the table */
	assert_int_equal(lookup(f->s, HASH_A), 0);
	assert_int_equal(testdb_exec(&f->db, "DELETE FROM tokens"), 0);
	assert_int_equal(lookup(f->s, HASH_A), -ENOENT);
	/* fresh: the answer is cached */
	assert_int_equal(testdb_exec(&f->db, sql_put), 0);
	store_token_cache_fresh(f->s, mono_ms());
	assert_int_equal(lookup(f->s, HASH_A), 0);
	assert_int_equal(testdb_exec(&f->db, "DELETE FROM tokens"), 0);
	assert_int_equal(lookup(f->s, HASH_A), 0);
	/* a notification handled (the invalidation): read again */
	store_token_cache_invalidate();
	assert_int_equal(lookup(f->s, HASH_A), -ENOENT);
	assert_int_equal(testdb_exec(&f->db, sql_put), 0);
	assert_int_equal(lookup(f->s, HASH_A), 0);
	assert_int_equal(testdb_exec(&f->db, "DELETE FROM tokens"), 0);
	/* the listener's last word is too old, or it is down: the cache is not used */
	store_token_cache_fresh(f->s, mono_ms() - STORE_LISTEN_STALE_MS);
	assert_int_equal(lookup(f->s, HASH_A), -ENOENT);
	assert_int_equal(testdb_exec(&f->db, sql_put), 0);
	store_token_cache_fresh(f->s, mono_ms());
	assert_int_equal(lookup(f->s, HASH_A), 0);
	assert_int_equal(testdb_exec(&f->db, "DELETE FROM tokens"), 0);
	store_token_cache_fresh(f->s, INT64_MIN / 2);
	assert_int_equal(lookup(f->s, HASH_A), -ENOENT);
	json_decref(t);
}

struct token_notes {
	pthread_mutex_t lock;
	int tokens, others;
	bool up;
};

static void note_event(void *arg, const struct store_event *ev)
{
	struct token_notes *n = arg;

	pthread_mutex_lock(&n->lock);
	if (strcmp(ev->kind, STORE_NOTIFY_TOKENS) == 0)
		n->tokens++;
	else
		n->others++;
	pthread_mutex_unlock(&n->lock);
}

static void note_fresh(void *arg, int64_t since)
{
	struct token_notes *n = arg;

	(void)since;
	pthread_mutex_lock(&n->lock);
	n->up = true;
	pthread_mutex_unlock(&n->lock);
}

static void note_state(void *arg, bool up, const char *why)
{
	(void)arg;
	(void)up;
	(void)why;
}

/* Wait (at most 10 s) until the listener counted `want` token notifications; the count then. */
static int tokens_noted(struct token_notes *n, int want)
{
	int64_t deadline = mono_ms() + 10000;
	int got;

	for (;;) {
		pthread_mutex_lock(&n->lock);
		got = n->tokens;
		pthread_mutex_unlock(&n->lock);
		if (got >= want || mono_ms() > deadline)
			return got;
		(void)usleep(10000);
	}
}

/* Every write to the tokens table is notified: a bootstrap, a create, a role change, a delete, and the deletion of
 * an env's last stage, which takes the env's tokens with it. */
static void test_token_writes_notify(void **state)
{
	struct pgfx *f = *state;
	struct token_notes n = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct store_listener_ops ops = { .event = note_event, .fresh = note_fresh, .state = note_state, .arg = &n };
	struct store_listener *l = NULL;
	json_t *boot = token_obj("t0", "*", "SYSTEM", "b0");
	json_t *t = token_obj("t1", "*", "SYSTEM", "b1");
	json_t *te = token_obj("t2", "web", "ENV", "b2");
	json_t *e = testdb_stage_obj("E1", "web", "prod", NULL);
	bool up = false;

	assert_int_equal(store_listener_start(f->db.dsn, &ops, &l), 0);
	for (int64_t deadline = mono_ms() + 10000; !up && mono_ms() < deadline; (void)usleep(10000)) {
		pthread_mutex_lock(&n.lock);
		up = n.up;
		pthread_mutex_unlock(&n.lock);
	}
	assert_true(up);
	assert_int_equal(store_token_bootstrap(f->s, boot), 1);
	assert_int_equal(tokens_noted(&n, 1), 1);
	assert_int_equal(store_token_insert(f->s, t), 0);
	assert_int_equal(tokens_noted(&n, 2), 2);
	assert_int_equal(json_object_set_new(t, "role", json_string("ADMIN")), 0);
	assert_int_equal(store_token_update(f->s, t), 0);
	assert_int_equal(tokens_noted(&n, 3), 3);
	assert_int_equal(store_token_delete(f->s, "SYSTEM", "*", "t1"), 0);
	assert_int_equal(tokens_noted(&n, 4), 4);
	assert_int_equal(store_env_insert(f->s, e, NULL), 0);
	assert_int_equal(store_token_insert(f->s, te), 0);
	assert_int_equal(tokens_noted(&n, 5), 5);
	assert_int_equal(store_env_delete(f->s, "E1"), 0);
	assert_int_equal(tokens_noted(&n, 6), 6);
	assert_int_equal(testdb_int(&f->db, "SELECT count(*) FROM tokens"), 1);
	store_listener_stop(l);
	json_decref(boot);
	json_decref(t);
	json_decref(te);
	json_decref(e);
}
#endif

int main(void)
{
#ifdef WITH_POSTGRES
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rewrite),
		cmocka_unit_test_setup_teardown(test_names_and_booleans, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reconnect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_replicas_claim, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_replicas_bootstrap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_event_gap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrate_twice, setup, teardown),
		cmocka_unit_test(test_migrate_concurrently),
		cmocka_unit_test_setup_teardown(test_token_cache_needs_a_fresh_listener, setup, teardown),
		cmocka_unit_test_setup_teardown(test_token_writes_notify, setup, teardown),
	};
	int pg = testdb_pg_wanted();

	if (pg < 0)
		return 1;
	if (pg == 0) {
		const struct CMUnitTest offline[] = { cmocka_unit_test(test_rewrite) };
		return cmocka_run_group_tests_name("postgresql (offline)", offline, NULL, NULL);
	}
	return cmocka_run_group_tests_name("postgresql", tests, NULL, NULL);
#else
	fprintf(stderr, "built without WITH_POSTGRES: nothing to test\n");
	return 0;
#endif
}
