/* SPDX-License-Identifier: Apache-2.0 */
/* tests/unit/server/test-store.c: contract tests of store.h, run against every backend compiled
 * in (SQLite always; PostgreSQL when SLIPWAY_TEST_PG_DSN names a server, see store_testdb.h). */
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

#include "buf.h"
#include "db.h"
#include "store.h"
#include "store_testdb.h"
#include "util.h"

static struct testdb cur;

static int setup_on(void **state, bool pg)
{
	struct store *s = NULL;

	if (testdb_create(&cur, pg) < 0)
		return -1;
	if (store_open(cur.dsn, &s) < 0) {
		testdb_destroy(&cur);
		return -1;
	}
	*state = s;
	return 0;
}

static int setup(void **state)
{
	return setup_on(state, false);
}

static int setup_pg(void **state)
{
	return setup_on(state, true);
}

static int teardown(void **state)
{
	store_free(*state);
	testdb_destroy(&cur);
	return 0;
}

static json_t *env_obj(const char *id, const char *env, const char *stage)
{
	return testdb_stage_obj(id, env, stage, NULL);
}

static json_t *build_obj(const char *id, const char *name)
{
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:I}", "id", id, "name", name, "artifactUrl", "https://a/b",
			 "repo", "r", "branch", "main", "commit", "abcdef1234", "commitShort", "abcdef1", "commitDate",
			 (json_int_t)1000, "publishDate", (json_int_t)2000);
}

static void test_schema_and_tokens(void **state)
{
	struct store *s = *state;
	json_t *t, *row = NULL;
	int v = 0;

	assert_int_equal(store_health(s), 0);
	assert_int_equal(store_schema_version(s, &v), 0);
	assert_true(v >= 1);
	t = json_pack("{s:s,s:s,s:s,s:s,s:s,s:n,s:s,s:I}", "id", "t1", "name", "bootstrap-admin", "resource", "*",
		      "type", "SYSTEM", "role", "ADMIN", "expireDate", "tokenHash", "abc", "createDate", (json_int_t)1);
	assert_int_equal(store_token_bootstrap(s, t), 1);
	assert_int_equal(store_token_bootstrap(s, t), 0);
	json_decref(t);
	assert_int_equal(store_token_get_by_hash(s, "abc", &row), 0);
	assert_string_equal(json_string_value(json_object_get(row, "role")), "ADMIN");
	assert_null(json_object_get(row, "tokenHash"));
	json_decref(row);
	assert_int_equal(store_token_get_by_hash(s, "nope", &row), -ENOENT);
}

static void test_builds(void **state)
{
	struct store *s = *state;
	json_t *b = build_obj("b1_abcdef1", "web"), *got = NULL, *list = NULL;
	struct build_query q = { .name = "web", .before = -1, .after = -1, .limit = 10 };

	assert_int_equal(store_build_insert(s, b), 0);
	assert_int_equal(store_build_insert(s, b), -EEXIST);
	assert_int_equal(store_build_get(s, "b1_abcdef1", &got), 0);
	assert_true(json_equal(json_object_get(got, "commit"), json_object_get(b, "commit")));
	assert_true(json_is_null(json_object_get(got, "artifactSha256")));
	json_decref(got);
	assert_int_equal(store_build_get(s, "zz", &got), -ENOENT);
	assert_int_equal(store_build_list(s, &q, &list), 0);
	assert_int_equal(json_array_size(list), 1);
	json_decref(list);
	assert_int_equal(store_build_delete(s, "b1_abcdef1"), 0);
	assert_int_equal(store_build_delete(s, "b1_abcdef1"), -ENOENT);
	json_decref(b);
}

static void test_envs_and_capacity(void **state)
{
	struct store *s = *state;
	json_t *e = env_obj("e1", "web", "prod"), *e2 = env_obj("e2", "WEB", "canary"), *e3 = env_obj("e3", "web", "PROD");
	json_t *got = NULL, *list = NULL, *names;

	assert_int_equal(store_env_insert(s, e, NULL), 0);
	assert_int_equal(store_env_insert(s, e, NULL), -EEXIST);
	assert_int_equal(store_env_insert(s, e2, NULL), -EEXIST);
	assert_int_equal(store_env_insert(s, e3, NULL), -EEXIST);
	assert_int_equal(store_env_get(s, "web", "prod", &got), 0);
	assert_int_equal(json_integer_value(json_object_get(got, "maxParallel")), 1);
	assert_true(json_is_false(json_object_get(got, "isDocker")));
	(void)json_object_set_new(got, "maxParallel", json_integer(7));
	assert_int_equal(store_env_update(s, got, NULL, false), 0);
	json_decref(got);
	assert_int_equal(store_env_get_by_id(s, "e1", &got), 0);
	assert_int_equal(json_integer_value(json_object_get(got, "maxParallel")), 7);
	json_decref(got);
	names = json_pack("[s,s]", "g1", "g2");
	assert_int_equal(store_capacity_change(s, "e1", "GROUP", STORE_CAPACITY_REPLACE, names, NULL, STORE_CLAIM_ANY, NULL), 0);
	json_decref(names);
	assert_int_equal(store_capacity_get(s, "e1", "GROUP", &list), 0);
	assert_int_equal(json_array_size(list), 2);
	json_decref(list);
	assert_int_equal(store_env_list(s, NULL, NULL, "g2", &list), 0);
	assert_int_equal(json_array_size(list), 1);
	json_decref(list);
	assert_int_equal(store_env_delete(s, "e1"), -EBUSY);
	names = json_array();
	assert_int_equal(store_capacity_change(s, "e1", "GROUP", STORE_CAPACITY_REPLACE, names, NULL, STORE_CLAIM_ANY, NULL), 0);
	json_decref(names);
	assert_int_equal(store_env_delete(s, "e1"), 0);
	assert_int_equal(store_env_get(s, "web", "prod", &got), -ENOENT);
	json_decref(e);
	json_decref(e2);
	json_decref(e3);
}

/* An env is a boundary around hosts: what a capacity change may take in (store.h). */
static int change1(struct store *s, const char *env_id, const char *type, enum store_capacity_op op, const char *name,
		   enum store_claim c, struct store_claim_refusal *why)
{
	json_t *n = json_string(name);
	int r = store_capacity_change(s, env_id, type, op, n, NULL, c, why);

	json_decref(n);
	return r;
}

static int claim(struct store *s, const char *env_id, const char *type, const char *name, enum store_claim c,
		 struct store_claim_refusal *why)
{
	return change1(s, env_id, type, STORE_CAPACITY_ADD, name, c, why);
}

static void test_capacity_claims(void **state)
{
	struct store *s = *state;
	struct store_claim_refusal why;
	json_t *a = env_obj("ea", "teama", "prod"), *a2 = env_obj("ea2", "teama", "dev"), *b = env_obj("eb", "teamb", "prod");
	json_t *h = json_pack("{s:s,s:s,s:s}", "hostName", "a-host-1", "groupName", "a-group", "hostId", "i-a1");
	json_t *names, *list = NULL, *h2;

	assert_int_equal(store_env_insert(s, a, NULL), 0);
	assert_int_equal(store_env_insert(s, a2, NULL), 0);
	assert_int_equal(store_env_insert(s, b, NULL), 0);
	assert_int_equal(store_host_register(s, h, STORE_CLAIM_ANY, NULL), 0);
	/* unclaimed: the env's ADMIN (FREE) takes it in, an OPERATOR (OWN) cannot */
	assert_int_equal(claim(s, "ea", "GROUP", "a-group", STORE_CLAIM_OWN, &why), -EACCES);
	assert_string_equal(why.name, "a-group");
	assert_string_equal(why.env, "");
	assert_int_equal(claim(s, "ea", "GROUP", "a-group", STORE_CLAIM_FREE, &why), 0);
	/* held by the same env (another stage): an OPERATOR may add it; a host of the group too */
	assert_int_equal(claim(s, "ea2", "GROUP", "a-group", STORE_CLAIM_OWN, &why), 0);
	assert_int_equal(claim(s, "ea2", "HOST", "a-host-1", STORE_CLAIM_OWN, &why), 0);
	/* another env's group, its host (through the group) or the host directly: only ANY */
	assert_int_equal(claim(s, "eb", "GROUP", "a-group", STORE_CLAIM_FREE, &why), -EACCES);
	assert_string_equal(why.env, "teama");
	memset(&why, 0, sizeof(why));
	assert_int_equal(claim(s, "eb", "HOST", "a-host-1", STORE_CLAIM_FREE, &why), -EACCES);
	assert_string_equal(why.name, "a-host-1");
	assert_string_equal(why.env, "teama");
	/* a group is held through its hosts as well */
	assert_int_equal(claim(s, "ea", "HOST", "a-host-1", STORE_CLAIM_FREE, NULL), 0);
	assert_int_equal(change1(s, "ea", "GROUP", STORE_CAPACITY_REMOVE, "a-group", STORE_CLAIM_OWN, NULL), 0);
	assert_int_equal(change1(s, "ea2", "GROUP", STORE_CAPACITY_REMOVE, "a-group", STORE_CLAIM_OWN, NULL), 0);
	assert_int_equal(claim(s, "eb", "GROUP", "a-group", STORE_CLAIM_FREE, &why), -EACCES);
	assert_string_equal(why.env, "teama");
	/* putting another env's host into a group the env holds gives it the host: refused too */
	assert_int_equal(claim(s, "eb", "GROUP", "b-group", STORE_CLAIM_FREE, NULL), 0);
	h2 = json_pack("{s:s,s:s,s:s}", "hostName", "a-host-1", "groupName", "b-group", "hostId", "i-a1");
	assert_int_equal(store_host_register(s, h2, STORE_CLAIM_FREE, &why), -EACCES);
	assert_string_equal(why.name, "a-host-1");
	assert_string_equal(why.env, "teama");
	assert_int_equal(store_host_register(s, h2, STORE_CLAIM_ANY, NULL), 0);
	assert_int_equal(change1(s, "eb", "GROUP", STORE_CAPACITY_REMOVE, "b-group", STORE_CLAIM_OWN, NULL), 0);
	json_decref(h2);
	/* a replace with one forbidden name writes nothing */
	names = json_pack("[s,s]", "b-group", "a-host-1");
	assert_int_equal(store_capacity_change(s, "eb", "HOST", STORE_CAPACITY_REPLACE, names, NULL, STORE_CLAIM_FREE,
					       &why), -EACCES);
	assert_string_equal(why.name, "a-host-1");
	assert_int_equal(store_capacity_get(s, "eb", "HOST", &list), 0);
	assert_int_equal(json_array_size(list), 0);
	json_decref(list);
	assert_int_equal(store_capacity_change(s, "eb", "HOST", STORE_CAPACITY_REPLACE, names, NULL, STORE_CLAIM_ANY,
					       NULL), 0);
	json_decref(names);
	json_decref(a);
	json_decref(a2);
	json_decref(b);
	json_decref(h);
}

/* The last stage of an env takes the env's tokens and role bindings with it. */
static void test_env_delete_principals(void **state)
{
	struct store *s = *state;
	json_t *a = env_obj("ea", "teama", "prod"), *a2 = env_obj("ea2", "teama", "dev"), *o = env_obj("eo", "other", "prod");
	json_t *t = json_pack("{s:s,s:s,s:s,s:s,s:s,s:n,s:s,s:I}", "id", "t1", "name", "ci", "resource", "teama", "type",
			      "ENV", "role", "PUBLISHER", "expireDate", "tokenHash", "h1", "createDate", (json_int_t)1);
	json_t *t2 = json_pack("{s:s,s:s,s:s,s:s,s:s,s:n,s:s,s:I}", "id", "t2", "name", "ci", "resource", "other", "type",
			       "ENV", "role", "PUBLISHER", "expireDate", "tokenHash", "h2", "createDate", (json_int_t)1);
	json_t *u = json_pack("{s:s,s:s,s:s,s:s}", "name", "alice", "resource", "teama", "type", "ENV", "role", "ADMIN");
	json_t *list = NULL;

	assert_int_equal(store_env_insert(s, a, NULL), 0);
	assert_int_equal(store_env_insert(s, a2, NULL), 0);
	assert_int_equal(store_env_insert(s, o, NULL), 0);
	assert_int_equal(store_token_insert(s, t), 0);
	assert_int_equal(store_token_insert(s, t2), 0);
	assert_int_equal(store_binding_insert(s, "USER", u), 0);
	assert_int_equal(store_binding_insert(s, "GROUP", u), 0);
	assert_int_equal(store_env_delete(s, "ea"), 0);
	assert_int_equal(store_token_get_by_hash(s, "h1", &list), 0); /* a stage is left */
	json_decref(list);
	assert_int_equal(store_env_delete(s, "ea2"), 0);
	assert_int_equal(store_token_get_by_hash(s, "h1", &list), -ENOENT);
	assert_int_equal(store_binding_of(s, "USER", "alice", &list), 0);
	assert_int_equal(json_array_size(list), 0);
	json_decref(list);
	assert_int_equal(store_binding_of(s, "GROUP", "alice", &list), 0);
	assert_int_equal(json_array_size(list), 0);
	json_decref(list);
	assert_int_equal(store_token_get_by_hash(s, "h2", &list), 0); /* other envs keep theirs */
	json_decref(list);
	assert_int_equal(store_env_delete(s, "ea2"), -ENOENT);
	json_decref(a);
	json_decref(a2);
	json_decref(o);
	json_decref(t);
	json_decref(t2);
	json_decref(u);
}

static void test_deploys_and_agents(void **state)
{
	struct store *s = *state;
	json_t *e = env_obj("e1", "web", "prod"), *b = build_obj("b1_abcdef1", "web"), *d1 = NULL, *d2 = NULL, *got = NULL;
	struct store_event ev[16];
	json_t *ids;
	struct deploy_counts dc;
	struct deploy_create c = { .env_id = "e1", .build_id = "b1_abcdef1", .type = 0, .operator_name = "me",
				   .delivery_type = -1, .history_change = "{}", .now = 5 };
	int64_t last = 0, n = 0;

	assert_int_equal(store_env_insert(s, e, NULL), 0);
	assert_int_equal(store_build_insert(s, b), 0);
	assert_int_equal(store_event_last_seq(s, &last), 0);
	assert_int_equal(store_deploy_create(s, &c, &d1), 0);
	assert_int_equal(store_deploy_create(s, &c, &d2), 0);
	assert_int_equal(store_deploy_get(s, json_string_value(json_object_get(d1, "id")), &got), 0);
	assert_string_equal(json_string_value(json_object_get(got, "state")), "ABORTED");
	assert_string_equal(json_string_value(json_object_get(got, "acceptanceStatus")), "TERMINATED");
	json_decref(got);
	assert_int_equal(store_build_delete(s, "b1_abcdef1"), -EBUSY);
	assert_true(store_event_poll(s, last, ev, ELEMENTSOF(ev)) >= 2);
	assert_string_equal(ev[0].kind, "ENV");
	assert_string_equal(ev[0].env_id, "e1");
	assert_int_equal(store_deploy_counts(s, "e1", json_string_value(json_object_get(d2, "id")), &dc), 0);
	assert_int_equal(dc.total, 0);
	/* compare-and-set */
	(void)json_object_set_new(d2, "state", json_string("SUCCEEDING"));
	assert_int_equal(store_deploy_cas(s, d2, "RUNNING"), 1);
	assert_int_equal(store_deploy_cas(s, d2, "RUNNING"), 0);
	/* agent actions on no rows */
	ids = json_pack("[s]", "h1");
	assert_int_equal(store_agent_action(s, "e1", ids, STORE_AGENT_PAUSE, "me", 1), 0);
	json_decref(ids);
	assert_int_equal(store_agent_total(s, "e1", &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(store_worker_claim(s, "JANITOR", 1000, 500), 1);
	assert_int_equal(store_worker_claim(s, "JANITOR", 1200, 500), 0);
	assert_int_equal(store_worker_claim(s, "JANITOR", 1600, 500), 1);
	assert_int_equal(store_janitor_unreachable(s, 0, 1, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(store_config_get(s, "e1", STORE_CONFIG_SCRIPT, &got), -ENOENT);
	got = json_pack("{s:s}", "A", "1");
	assert_int_equal(store_config_put(s, "e1", STORE_CONFIG_SCRIPT, got, NULL), 0);
	json_decref(got);
	assert_int_equal(store_config_get(s, "e1", STORE_CONFIG_SCRIPT, &got), 0);
	assert_string_equal(json_string_value(json_object_get(got, "A")), "1");
	json_decref(got);
	json_decref(d1);
	json_decref(d2);
	json_decref(e);
	json_decref(b);
}

static const char sql_agent_put[] =
	"INSERT INTO agents(hostId, hostName, envId, deployId, deployStage, state, status, startDate, lastUpdateDate, "
	"lastOperator, lastErrno, failCount, firstDeploy, firstDeployDate, stageStartDate, containerHealthStatus, "
	"holdsSlot, removed) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";

/* the text list is byte for byte the dump of the DOM list, for awkward values and NULLs too */
static void test_agent_list_text(void **state)
{
	struct store *s = *state;
	struct db *d = NULL;
	struct db_conn *c;
	json_t *list = NULL, *page;
	struct buf out;
	char *want;

	assert_int_equal(db_open(cur.dsn, &d), 0);
	c = db_conn(d);
	assert_non_null(c);
	assert_int_equal(db_exec(c, sql_agent_put, "sssssssiisiibzzsbb", "h1", "host-1", "e1", "d1", "SERVING_BUILD",
				 "NORMAL", "SUCCEEDED", (int64_t)1, (int64_t)2, "op \"x\"\\/\n\t\x01",
				 (int64_t)-3, (int64_t)4, 1, (int64_t)5, (int64_t)6, "caf\xc3\xa9 \xe2\x82\xac", 1, 0),
			 1);
	assert_int_equal(db_exec(c, sql_agent_put, "sssnsssiisiibzzsbb", "h2", "host-0", "e1", "DOWNLOADING", "RESET",
				 "UNKNOWN", (int64_t)7, (int64_t)INT64_MAX, (const char *)NULL, (int64_t)0, (int64_t)0, 0,
				 (int64_t)0, (int64_t)0, "", 0, 1),
			 1);
	assert_int_equal(db_exec(c, sql_agent_put, "sssssssiisiibzzsbb", "h3", "host-2", "e2", "d1", "SERVING_BUILD",
				 "NORMAL", "SUCCEEDED", (int64_t)1, (int64_t)2, "", (int64_t)0, (int64_t)0, 0, (int64_t)0,
				 (int64_t)0, "", 0, 0),
			 1);
	db_free(d);

	buf_init(&out, BUF_UNBOUNDED);
	assert_int_equal(store_agent_list_env(s, "e1", &list), 0);
	assert_int_equal(json_array_size(list), 2);
	assert_int_equal(store_agent_list_env_text(s, "e1", NULL, &out), 0);
	want = json_dumps(list, JSON_COMPACT | JSON_ENCODE_ANY);
	assert_string_equal(out.p, want);
	free(want);
	/* pages in host name order: the first row alone, then the rest after its name */
	out.len = 0;
	assert_int_equal(store_agent_list_env_text(s, "e1", &(struct store_page){ .limit = 1 }, &out), 0);
	page = json_pack("[O]", json_array_get(list, 0));
	want = json_dumps(page, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(page);
	assert_string_equal(out.p, want);
	free(want);
	out.len = 0;
	assert_int_equal(store_agent_list_env_text(s, "e1", &(struct store_page){ .after = "host-0", .limit = 5 }, &out), 0);
	page = json_pack("[O]", json_array_get(list, 1));
	want = json_dumps(page, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(page);
	assert_string_equal(out.p, want);
	free(want);
	json_decref(list);
	/* appends; an empty list */
	assert_int_equal(store_agent_list_env_text(s, "none", NULL, &out), 0);
	assert_int_equal(out.p[out.len - 2], '[');
	assert_int_equal(out.p[out.len - 1], ']');
	buf_release(&out);
}

struct pool_taker {
	struct db *d;
	struct db_conn *got;
	int done; /* set (atomically) once db_conn() returned */
};

static void *pool_take_thread(void *arg)
{
	struct pool_taker *t = arg;
	struct db_conn *c = db_conn(t->d);

	t->got = c;
	__atomic_store_n(&t->done, 1, __ATOMIC_SEQ_CST);
	db_conn_put(&c);
	return NULL;
}

/* db_pool_size 1: nested calls of a thread share the connection; another thread waits until it is given back (not
 * while a transaction is open), then gets that same connection */
static void test_pool(void **state)
{
	struct pool_taker t = { 0 };
	struct db_conn *c, *again;
	pthread_t th;

	(void)state;
	assert_int_equal(db_open(cur.dsn, &t.d), 0);
	db_set_pool_size(t.d, 1);
	c = db_conn(t.d);
	assert_non_null(c);
	again = db_conn(t.d);
	assert_ptr_equal(again, c);
	db_conn_put(&again);
	assert_int_equal(db_begin(c, 0), 0);
	db_conn_put(&c); /* in a transaction: still this thread's */
	assert_int_equal(pthread_create(&th, NULL, pool_take_thread, &t), 0);
	for (int i = 0; i < 20; i++) {
		assert_int_equal(__atomic_load_n(&t.done, __ATOMIC_SEQ_CST), 0);
		usleep(10000);
	}
	c = db_conn(t.d); /* the same connection, still in its transaction */
	assert_int_equal(db_end(c, 0), 0);
	db_conn_put(&c); /* given back: the other thread gets it */
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(t.done, 1);
	assert_non_null(t.got);
	db_free(t.d);
}

/* the config snapshot at creation, the host results recorded when a deploy is replaced, the host search */
static void test_deploy_record_and_host_search(void **state)
{
	struct store *s = *state;
	json_t *e = env_obj("e1", "web", "prod"), *b = build_obj("b1_abcdef1", "web"), *d1 = NULL, *d2 = NULL, *got = NULL;
	struct deploy_create c = { .env_id = "e1", .build_id = "b1_abcdef1", .type = 0, .operator_name = "me",
				   .delivery_type = -1, .history_change = "{}", .now = 5 };
	struct host_search q = { .text = "st-", .limit = 10 };
	const char *id1;

	assert_int_equal(store_env_insert(s, e, NULL), 0);
	assert_int_equal(store_build_insert(s, b), 0);
	got = json_pack("{s:s}", "PORT", "8080");
	assert_int_equal(store_config_put(s, "e1", STORE_CONFIG_SCRIPT, got, NULL), 0);
	json_decref(got);
	assert_int_equal(store_deploy_create(s, &c, &d1), 0);
	id1 = json_string_value(json_object_get(d1, "id"));
	assert_int_equal(testdb_exec(&cur, "INSERT INTO agents(hostId, hostName, envId, deployId, deployStage, state, "
					   "status, startDate, lastUpdateDate) SELECT 'h' || hostName, hostName, 'e1', "
					   "deployId, 'SERVING_BUILD', 'NORMAL', 'SUCCEEDED', 1, 2 FROM (SELECT 'host-1' "
					   "AS hostName UNION ALL SELECT 'host-2') n, (SELECT id AS deployId FROM deploys) d"),
			 0);
	assert_int_equal(testdb_exec(&cur, "UPDATE agents SET status = 'SCRIPT_FAILED', lastErrno = 2 WHERE hostName = "
					   "'host-2'"),
			 0);
	assert_int_equal(testdb_exec(&cur, "INSERT INTO agent_errors(hostId, hostName, envId, errorMessage) VALUES("
					   "'hhost-2', 'host-2', 'e1', 'ERROR: boom')"),
			 0);
	assert_int_equal(store_deploy_create(s, &c, &d2), 0);

	assert_int_equal(store_deploy_config_get(s, id1, &got), 0);
	assert_string_equal(json_string_value(json_object_get(json_object_get(got, "scriptConfigs"), "PORT")), "8080");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(got, "rollout"), "maxParallel")), 1);
	assert_true(json_is_null(json_object_get(got, "constraint")));
	json_decref(got);
	assert_int_equal(store_deploy_host_results(s, id1, NULL, &got), 0);
	assert_int_equal(json_array_size(got), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(got, 1), "status")), "SCRIPT_FAILED");
	assert_string_equal(json_string_value(json_object_get(json_array_get(got, 1), "errorMessage")), "ERROR: boom");
	assert_true(json_is_null(json_object_get(json_array_get(got, 0), "errorMessage")));
	json_decref(got);
	assert_int_equal(store_deploy_host_results(s, json_string_value(json_object_get(d2, "id")), NULL, &got), 0);
	assert_int_equal(json_array_size(got), 0);
	json_decref(got);
	assert_int_equal(store_deploy_config_get(s, "nosuch", &got), -ENOENT);

	/* host search: names of heartbeats and host records, by substring or prefix, after a cursor */
	assert_int_equal(testdb_exec(&cur, "INSERT INTO heartbeats(hostId, hostName, createDate, lastSeen) VALUES"
					   "('h1', 'host-1', 1, 7), ('h2', 'host-2', 1, 8), ('h3', 'web-host-3', 1, 9)"),
			 0);
	assert_int_equal(testdb_exec(&cur, "INSERT INTO hosts(hostName, groupName, hostId, createDate, "
					   "lastUpdateDate) VALUES('host-4', 'g', 'h4', 1, 1), ('host-1', 'g', 'h1', 1, 1)"),
			 0);
	assert_int_equal(store_host_search(s, &q, &got), 0);
	assert_int_equal(json_array_size(got), 4);
	assert_string_equal(json_string_value(json_object_get(json_array_get(got, 0), "hostName")), "host-1");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(got, 0), "stages")), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(got, 3), "hostName")), "web-host-3");
	assert_true(json_is_null(json_object_get(json_array_get(got, 2), "lastSeen")));
	json_decref(got);
	q = (struct host_search){ .text = "host-", .prefix = true, .after = "host-1", .limit = 2 };
	assert_int_equal(store_host_search(s, &q, &got), 0);
	assert_int_equal(json_array_size(got), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(got, 0), "hostName")), "host-2");
	assert_string_equal(json_string_value(json_object_get(json_array_get(got, 1), "hostName")), "host-4");
	json_decref(got);
	json_decref(d1);
	json_decref(d2);
	json_decref(e);
	json_decref(b);
}

static void test_unknown_scheme(void **state)
{
	struct store *s = NULL;
	(void)state;
	assert_int_equal(store_open("mysql://x", &s), -EPROTONOSUPPORT);
	assert_null(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_schema_and_tokens, setup, teardown),
		cmocka_unit_test_setup_teardown(test_builds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_envs_and_capacity, setup, teardown),
		cmocka_unit_test_setup_teardown(test_capacity_claims, setup, teardown),
		cmocka_unit_test_setup_teardown(test_env_delete_principals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deploys_and_agents, setup, teardown),
		cmocka_unit_test_setup_teardown(test_agent_list_text, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pool, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deploy_record_and_host_search, setup, teardown),
		cmocka_unit_test(test_unknown_scheme),
	};
	const struct CMUnitTest pg_tests[] = {
		cmocka_unit_test_setup_teardown(test_schema_and_tokens, setup_pg, teardown),
		cmocka_unit_test_setup_teardown(test_builds, setup_pg, teardown),
		cmocka_unit_test_setup_teardown(test_envs_and_capacity, setup_pg, teardown),
		cmocka_unit_test_setup_teardown(test_capacity_claims, setup_pg, teardown),
		cmocka_unit_test_setup_teardown(test_env_delete_principals, setup_pg, teardown),
		cmocka_unit_test_setup_teardown(test_deploys_and_agents, setup_pg, teardown),
		cmocka_unit_test_setup_teardown(test_agent_list_text, setup_pg, teardown),
		cmocka_unit_test_setup_teardown(test_pool, setup_pg, teardown),
		cmocka_unit_test_setup_teardown(test_deploy_record_and_host_search, setup_pg, teardown),
	};
	int r = cmocka_run_group_tests_name("sqlite", tests, NULL, NULL);
	int pg = testdb_pg_wanted();

	if (pg < 0)
		return 1;
	if (pg > 0)
		r += cmocka_run_group_tests_name("postgresql", pg_tests, NULL, NULL);
	return r;
}
