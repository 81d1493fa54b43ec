/* SPDX-License-Identifier: Apache-2.0 */
/* tests/unit/server/test-worker-locks.c: the lock discipline of the periodic workers (PROTOCOL §8):
 * two "replicas" (two server contexts with their own store handle on one database) run the
 * auto-promoter, the janitor and retention at the same time, period after period, and each unit
 * (PROMOTE-<envId>, JANITOR, RETENTION) runs exactly once per period across them; the promoter's
 * deploys are not duplicated. Run on a fresh SQLite database, and on a fresh PostgreSQL database
 * when SLIPWAY_TEST_PG_DSN names a server (store_testdb.h). */
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

#include "server.h"
#include "store.h"
#include "store_testdb.h"
#include "util.h"
#include "workers.h"

#define REPLICAS 2
#define PERIODS 6
#define STAGES 3
#define PERIOD_S 30
#define PERIOD_MS (PERIOD_S * 1000)

/* The database both replicas share. */
static struct testdb db;

struct replica {
	struct server srv;
	int index;
	pthread_t thread;
	/* results per period */
	int janitor[PERIODS], retention[PERIODS];
	json_t *promoted[PERIODS]; /* unit names */
	int errors;
};

static struct replica replicas[REPLICAS];
static pthread_barrier_t barrier;
static int64_t t0;
static char env_ids[STAGES][ID_LEN + 1];

static void replica_init(struct replica *rep, int index)
{
	memset(rep, 0, sizeof(*rep));
	rep->index = index;
	rep->srv.cfg.promote_period = PERIOD_S;
	rep->srv.cfg.janitor_period = PERIOD_S;
	rep->srv.cfg.retention_period = PERIOD_S;
	rep->srv.cfg.host_unreachable_after = 150;
	rep->srv.cfg.unreachable_slot_release = 600;
	rep->srv.cfg.host_expire = 86400;
	rep->srv.cfg.build_retention_count = 1000;
	rep->srv.cfg.build_retention_days = 180;
	assert_int_equal(store_open(db.dsn, &rep->srv.store), 0);
}

static json_t *env_obj(const char *id, const char *stage)
{
	return testdb_stage_obj(id, "locks", stage, "lockapp");
}

static int setup_on(bool pg)
{
	struct store *s;
	json_t *b;
	char bid[ID_LEN + 1];

	if (testdb_create(&db, pg) < 0)
		return -1;
	t0 = now_ms();
	for (int i = 0; i < REPLICAS; i++)
		replica_init(&replicas[i], i);
	s = replicas[0].srv.store;
	/* three stages promoting from BUILD, and one build to promote */
	for (int i = 0; i < STAGES; i++) {
		char stage[16];
		json_t *e, *p;
		assert_int_equal(id_generate(env_ids[i]), 0);
		snprintf(stage, sizeof(stage), "stage%d", i);
		e = env_obj(env_ids[i], stage);
		assert_int_equal(store_env_insert(s, e, NULL), 0);
		json_decref(e);
		p = json_pack("{s:s,s:s,s:s,s:i,s:n,s:i,s:s,s:s,s:s,s:I}", "envId", env_ids[i], "type", "AUTO",
			      "predStage", "BUILD", "queueSize", 1, "schedule", "delay", 0, "disablePolicy", "AUTO",
			      "failPolicy", "CONTINUE", "lastOperator", "test", "lastUpdate", (json_int_t)t0);
		assert_int_equal(store_promote_put(s, p, NULL), 0);
		json_decref(p);
	}
	assert_int_equal(id_generate(bid), 0);
	b = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:I}", "id", bid, "name", "lockapp", "artifactUrl",
		      "https://a/b.tar.gz", "repo", "r", "branch", "master", "commit", "abcdef1234", "commitShort",
		      "abcdef1", "commitDate", (json_int_t)(t0 - 120000), "publishDate", (json_int_t)(t0 - 60000));
	assert_int_equal(store_build_insert(s, b), 0);
	json_decref(b);
	return 0;
}

static int setup(void **state)
{
	(void)state;
	return setup_on(false);
}

static int setup_pg(void **state)
{
	(void)state;
	return setup_on(true);
}

static int teardown(void **state)
{
	(void)state;
	for (int i = 0; i < REPLICAS; i++) {
		store_free(replicas[i].srv.store);
		for (int k = 0; k < PERIODS; k++)
			json_decref(replicas[i].promoted[k]);
	}
	testdb_destroy(&db);
	return 0;
}

/* Where in period k replica r wakes up: both early in the period (the replicas share the period
 * but not the phase), a different order in every period. */
static int64_t wake_time(int k, int r, int pass)
{
	return t0 + (int64_t)k * PERIOD_MS + (((k * 7 + r * 13 + pass * 5) % 10) * PERIOD_MS) / 40;
}

static void *replica_main(void *p)
{
	struct replica *rep = p;
	struct server *srv = &rep->srv;

	for (int k = 0; k < PERIODS; k++) {
		rep->promoted[k] = json_array();
		(void)pthread_barrier_wait(&barrier);
		/* a replica may even run twice in a period (a slow pass, a restart): still once */
		for (int pass = 0; pass < 2; pass++) {
			int r;
			r = promote_worker_pass(srv, wake_time(k, rep->index, pass), rep->promoted[k]);
			if (r < 0)
				rep->errors++;
			r = janitor_worker_pass(srv, wake_time(k, rep->index, pass));
			if (r < 0)
				rep->errors++;
			else
				rep->janitor[k] += r;
			r = retention_worker_pass(srv, wake_time(k, rep->index, pass));
			if (r < 0)
				rep->errors++;
			else
				rep->retention[k] += r;
		}
	}
	return NULL;
}

static int count_unit(int k, const char *unit)
{
	int n = 0;
	for (int r = 0; r < REPLICAS; r++) {
		json_t *v;
		size_t i;
		json_array_foreach(replicas[r].promoted[k], i, v) n += streq(json_string_value(v), unit);
	}
	return n;
}

static void test_each_unit_once_per_period(void **state)
{
	(void)state;

	assert_int_equal(pthread_barrier_init(&barrier, NULL, REPLICAS), 0);
	for (int r = 0; r < REPLICAS; r++)
		assert_int_equal(pthread_create(&replicas[r].thread, NULL, replica_main, &replicas[r]), 0);
	for (int r = 0; r < REPLICAS; r++)
		assert_int_equal(pthread_join(replicas[r].thread, NULL), 0);
	pthread_barrier_destroy(&barrier);

	for (int r = 0; r < REPLICAS; r++)
		assert_int_equal(replicas[r].errors, 0);
	for (int k = 0; k < PERIODS; k++) {
		int janitor = 0, retention = 0, promoted = 0;
		for (int r = 0; r < REPLICAS; r++) {
			janitor += replicas[r].janitor[k];
			retention += replicas[r].retention[k];
			promoted += (int)json_array_size(replicas[r].promoted[k]);
		}
		if (janitor != 1 || retention != 1 || promoted != STAGES)
			fail_msg("period %d: JANITOR ran %d times, RETENTION %d, PROMOTE units %d (want 1, 1, %d)", k,
				 janitor, retention, promoted, STAGES);
		for (int i = 0; i < STAGES; i++) {
			char unit[128];
			snprintf(unit, sizeof(unit), "PROMOTE-%s", env_ids[i]);
			if (count_unit(k, unit) != 1)
				fail_msg("period %d: %s ran %d times", k, unit, count_unit(k, unit));
		}
	}
	/* the promoter's work happened once: one AutoPromoter deploy per stage */
	for (int i = 0; i < STAGES; i++) {
		json_t *q = json_pack("{s:[s],s:b,s:i,s:i}", "envId", env_ids[i], "oldestFirst", 0, "limit", 100, "offset",
				      0),
		       *res = NULL;
		assert_int_equal(store_deploy_list(replicas[1].srv.store, q, &res), 0);
		assert_int_equal(json_integer_value(json_object_get(res, "total")), 1);
		assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(res, "deploys"), 0),
								      "operator")),
				    "AutoPromoter");
		json_decref(q);
		json_decref(res);
	}
}

/* Both replicas claim the same units at the same instant, over and over: one wins each time. */
struct race {
	struct replica *rep;
	int wins[4];
};

static void *race_main(void *p)
{
	struct race *race = p;
	static const char *const units[] = { "RACE-A", "RACE-B", "RACE-C", "RACE-D" };

	for (int round = 0; round < 20; round++) {
		(void)pthread_barrier_wait(&barrier);
		for (int u = 0; u < 4; u++) {
			int r = worker_claim_unit(&race->rep->srv, units[u], t0 + (int64_t)round * PERIOD_MS,
						  PERIOD_MS);
			if (r > 0)
				race->wins[u]++;
		}
	}
	return NULL;
}

static void test_simultaneous_claims(void **state)
{
	struct race races[REPLICAS] = { { &replicas[0], { 0 } }, { &replicas[1], { 0 } } };
	pthread_t threads[REPLICAS];
	(void)state;

	assert_int_equal(pthread_barrier_init(&barrier, NULL, REPLICAS), 0);
	for (int r = 0; r < REPLICAS; r++)
		assert_int_equal(pthread_create(&threads[r], NULL, race_main, &races[r]), 0);
	for (int r = 0; r < REPLICAS; r++)
		assert_int_equal(pthread_join(threads[r], NULL), 0);
	pthread_barrier_destroy(&barrier);
	for (int u = 0; u < 4; u++)
		assert_int_equal(races[0].wins[u] + races[1].wins[u], 20);
	/* a claim within half a period of the last run is refused, after it is granted */
	assert_int_equal(worker_claim_unit(&replicas[0].srv, "RACE-A", t0 + 19 * (int64_t)PERIOD_MS + PERIOD_MS / 2 - 1,
					   PERIOD_MS),
			 0);
	assert_int_equal(
		worker_claim_unit(&replicas[1].srv, "RACE-A", t0 + 19 * (int64_t)PERIOD_MS + PERIOD_MS / 2, PERIOD_MS),
		1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_each_unit_once_per_period, setup, teardown),
		cmocka_unit_test_setup_teardown(test_simultaneous_claims, setup, teardown),
	};
	const struct CMUnitTest pg_tests[] = {
		cmocka_unit_test_setup_teardown(test_each_unit_once_per_period, setup_pg, teardown),
		cmocka_unit_test_setup_teardown(test_simultaneous_claims, setup_pg, teardown),
	};
	int r = cmocka_run_group_tests_name("sqlite", tests, NULL, NULL);
	int pg = testdb_pg_wanted();

	if (pg < 0)
		return 1;
	if (pg > 0)
		r += cmocka_run_group_tests_name("postgresql", pg_tests, NULL, NULL);
	return r;
}
