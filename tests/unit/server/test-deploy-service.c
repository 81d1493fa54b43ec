/* SPDX-License-Identifier: Apache-2.0 */
/* tests/unit/server/test-deploy-service.c: the deploy service (deploy/deploy.h) on a fresh SQLite database: what
 * it refuses and how (kind and field, for api/ to turn into a status), what it creates, and the events it emits
 * to the listeners of deploy/events.h (only for deploys it created). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "deploy.h"
#include "enums.h"
#include "events.h"
#include "server.h"
#include "store.h"
#include "store_testdb.h"
#include "util.h"

static struct testdb db;
static struct server srv;
static char stage_id[ID_LEN + 1], other_stage_id[ID_LEN + 1];
static char good_id[ID_LEN + 1], other_name_id[ID_LEN + 1], bad_id[ID_LEN + 1];

/* what the listener saw */
static int n_events[_DEPLOY_EVENT_MAX];
static char last_deploy[ID_LEN + 1], last_build[ID_LEN + 1];

static void listener(struct server *s, const struct deploy_event *ev)
{
	assert_ptr_equal(s, &srv);
	n_events[ev->kind]++;
	(void)str_copy(last_deploy, sizeof(last_deploy), json_string_value(json_object_get(ev->deploy, "id")));
	(void)str_copy(last_build, sizeof(last_build), json_string_value(json_object_get(ev->build, "id")));
}

static void insert_stage(char id[ID_LEN + 1], const char *stage)
{
	json_t *e;

	assert_int_equal(id_generate(id), 0);
	e = testdb_stage_obj(id, "svc", stage, "webapp");
	assert_non_null(e);
	assert_int_equal(store_env_insert(srv.store, e, NULL), 0);
	json_decref(e);
}

static json_t *insert_build(char id[ID_LEN + 1], const char *name, const char *commit, int64_t commit_date)
{
	json_t *b;

	assert_int_equal(id_generate(id), 0);
	b = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:I}", "id", id, "name", name, "artifactUrl",
		      "https://a/b.tar.gz", "repo", "r", "branch", "main", "commit", commit, "commitShort", "abcdef1",
		      "commitDate", (json_int_t)commit_date, "publishDate", (json_int_t)commit_date + 1000);
	assert_non_null(b);
	assert_int_equal(store_build_insert(srv.store, b), 0);
	return b;
}

static int setup(void **state)
{
	int64_t now = now_ms();
	json_t *bad, *tag;
	char tag_id[ID_LEN + 1], *meta;

	(void)state;
	if (testdb_create(&db, false) < 0)
		return -1;
	memset(&srv, 0, sizeof(srv));
	assert_int_equal(store_open(db.dsn, &srv.store), 0);
	assert_int_equal(deploy_events_listen(&srv, listener), 0);
	insert_stage(stage_id, "prod");
	insert_stage(other_stage_id, "canary");
	json_decref(insert_build(good_id, "webapp", "c1000000001", now - 300000));
	json_decref(insert_build(other_name_id, "otherapp", "c2000000002", now - 200000));
	bad = insert_build(bad_id, "webapp", "c3000000003", now - 100000);
	/* BAD_BUILD on the newest commit of the branch: the good build is older and stays untagged */
	meta = json_dumps(bad, JSON_COMPACT);
	assert_int_equal(id_generate(tag_id), 0);
	tag = json_pack("{s:s,s:s,s:s,s:s,s:s,s:I,s:s,s:s}", "id", tag_id, "value", "BAD_BUILD", "targetType", "BUILD",
			"targetId", "webapp", "operator", "test", "createdDate", (json_int_t)now, "comments", "broken",
			"metaInfo", meta);
	assert_int_equal(store_tag_insert(srv.store, tag), 0);
	free(meta);
	json_decref(tag);
	json_decref(bad);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	store_free(srv.store);
	testdb_destroy(&db);
	return 0;
}

static json_t *stage(const char *id)
{
	json_t *e = NULL;

	assert_int_equal(store_env_get_by_id(srv.store, id, &e), 0);
	return e;
}

static const struct deploy_order by_test = { .operator_name = "test" };
static const struct deploy_order forced = { .operator_name = "test", .force = true };

struct refusal_case {
	const char *name;
	const char **build_id;
	const struct deploy_order *order;
	enum deploy_refusal_kind kind;
	const char *field;
	const char *message_has;
};

static const char *unknown_id = "nosuchbuild";
static const char *bad_format_id = "no/such build";
static const char *other_name_ptr = other_name_id;
static const char *bad_ptr = bad_id;

static const struct refusal_case refusal_cases[] = {
	{ "unknown build", &unknown_id, &by_test, DEPLOY_REFUSED_NOT_FOUND, "buildId", "not found" },
	{ "malformed build id", &bad_format_id, &by_test, DEPLOY_REFUSED_NOT_FOUND, "buildId", "not found" },
	{ "another build name", &other_name_ptr, &by_test, DEPLOY_REFUSED_INVALID, "buildId", "named 'otherapp'" },
	{ "another build name, forced", &other_name_ptr, &forced, DEPLOY_REFUSED_INVALID, "buildId", "otherapp" },
	{ "BAD_BUILD", &bad_ptr, &by_test, DEPLOY_REFUSED_CONFLICT, "", "tagged BAD_BUILD" },
};

static void test_start_refused(void **state)
{
	json_t *env = stage(stage_id);

	(void)state;
	for (size_t i = 0; i < sizeof(refusal_cases) / sizeof(refusal_cases[0]); i++) {
		const struct refusal_case *c = &refusal_cases[i];
		struct deploy_refusal f = { 0 };
		json_t *dep = NULL;
		int r = deploy_start(&srv, env, *c->build_id, -1, c->order, &dep, &f);

		if (r != -ECANCELED || f.kind != c->kind || strcmp(f.field, c->field) != 0 ||
		    !strstr(f.message, c->message_has))
			fail_msg("%s: r %d kind %d field '%s' message '%s'", c->name, r, f.kind, f.field, f.message);
		assert_null(dep);
	}
	assert_int_equal(n_events[DEPLOY_EVENT_CREATED], 0);
	json_decref(env);
}

static void test_start_and_restart(void **state)
{
	struct deploy_refusal f;
	json_t *env = stage(stage_id), *dep = NULL, *again = NULL;

	(void)state;
	/* nothing to restart yet */
	assert_int_equal(deploy_restart(&srv, env, &by_test, &dep, &f), -ECANCELED);
	assert_int_equal(f.kind, DEPLOY_REFUSED_CONFLICT);
	assert_int_equal(deploy_start(&srv, env, good_id, -1, &by_test, &dep, &f), 0);
	assert_string_equal(json_string_value(json_object_get(dep, "buildId")), good_id);
	assert_string_equal(json_string_value(json_object_get(dep, "type")), "REGULAR");
	assert_int_equal(n_events[DEPLOY_EVENT_CREATED], 1);
	assert_string_equal(last_deploy, json_string_value(json_object_get(dep, "id")));
	assert_string_equal(last_build, good_id);
	json_decref(env);
	env = stage(stage_id);
	assert_string_equal(json_string_value(json_object_get(env, "deployId")), json_string_value(json_object_get(dep, "id")));
	/* RESTART redeploys the current build */
	assert_int_equal(deploy_restart(&srv, env, &by_test, &again, &f), 0);
	assert_string_equal(json_string_value(json_object_get(again, "type")), "RESTART");
	assert_string_equal(json_string_value(json_object_get(again, "buildId")), good_id);
	assert_int_equal(n_events[DEPLOY_EVENT_CREATED], 2);
	json_decref(dep);
	json_decref(again);
	json_decref(env);
}

static void test_forced_bad_build(void **state)
{
	struct deploy_refusal f;
	json_t *env = stage(stage_id), *dep = NULL;
	int before = n_events[DEPLOY_EVENT_CREATED];

	(void)state;
	assert_int_equal(deploy_start(&srv, env, bad_id, -1, &forced, &dep, &f), 0);
	assert_string_equal(json_string_value(json_object_get(dep, "buildId")), bad_id);
	assert_int_equal(n_events[DEPLOY_EVENT_CREATED], before + 1);
	json_decref(dep);
	json_decref(env);
}

static void test_build_allowed(void **state)
{
	json_t *env = stage(stage_id), *good = NULL, *bad = NULL, *other = NULL;

	(void)state;
	assert_int_equal(store_build_get(srv.store, good_id, &good), 0);
	assert_int_equal(store_build_get(srv.store, bad_id, &bad), 0);
	assert_int_equal(store_build_get(srv.store, other_name_id, &other), 0);
	assert_true(deploy_build_allowed(&srv, env, good, DEPLOY_TYPE_REGULAR));
	assert_false(deploy_build_allowed(&srv, env, bad, DEPLOY_TYPE_REGULAR));
	assert_false(deploy_build_allowed(&srv, env, bad, DEPLOY_TYPE_ROLLBACK));
	assert_false(deploy_build_allowed(&srv, env, other, DEPLOY_TYPE_REGULAR));
	assert_true(deploy_build_allowed(&srv, env, other, DEPLOY_TYPE_ROLLBACK));
	assert_true(deploy_build_is_bad(&srv, bad, NULL));
	assert_false(deploy_build_is_bad(&srv, good, NULL));
	json_decref(good);
	json_decref(bad);
	json_decref(other);
	json_decref(env);
}

static void test_rollback_and_promote_refused(void **state)
{
	struct deploy_refusal f;
	json_t *env = stage(stage_id), *other = stage(other_stage_id), *dep = NULL;

	(void)state;
	/* no SUCCEEDED deploy yet */
	assert_int_equal(deploy_rollback(&srv, env, NULL, &by_test, &dep, &f), -ECANCELED);
	assert_int_equal(f.kind, DEPLOY_REFUSED_CONFLICT);
	assert_non_null(strstr(f.message, "nothing to roll back to"));
	/* a deploy of another stage */
	assert_int_equal(deploy_rollback(&srv, other, json_string_value(json_object_get(env, "deployId")), &by_test,
					 &dep, &f),
			 -ECANCELED);
	assert_int_equal(f.kind, DEPLOY_REFUSED_INVALID);
	assert_string_equal(f.field, "toDeployId");
	assert_int_equal(deploy_promote(&srv, env, "nosuchdeploy", &by_test, &dep, &f), -ECANCELED);
	assert_int_equal(f.kind, DEPLOY_REFUSED_NOT_FOUND);
	assert_string_equal(f.field, "fromDeployId");
	assert_null(dep);
	json_decref(env);
	json_decref(other);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_start_refused),
		cmocka_unit_test(test_start_and_restart),
		cmocka_unit_test(test_forced_bad_build),
		cmocka_unit_test(test_build_allowed),
		cmocka_unit_test(test_rollback_and_promote_refused),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
