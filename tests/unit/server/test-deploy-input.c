/* SPDX-License-Identifier: Apache-2.0 */
/* tests/unit/server/test-deploy-input.c: the deploy-route input validators (api/deploy_input.h,
 * PROTOCOL §4.5, §7.1, §7.2): valid inputs are accepted into the right struct, every invalid one
 * is refused with -EINVAL naming the field and saying why. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "deploy_input.h"
#include "enums.h"
#include "jsonutil.h"

/* A query from "k=v" strings, NULL-terminated. */
static struct query *query_of(const char *first, ...)
{
	static struct query q;
	va_list ap;

	query_release(&q);
	memset(&q, 0, sizeof(q));
	va_start(ap, first);
	for (const char *kv = first; kv; kv = va_arg(ap, const char *)) {
		char key[64];
		const char *eq = strchr(kv, '=');
		assert_non_null(eq);
		snprintf(key, sizeof(key), "%.*s", (int)(eq - kv), kv);
		assert_int_equal(query_add(&q, key, eq + 1), 0);
	}
	va_end(ap);
	return &q;
}

static json_t *parse(const char *s)
{
	json_t *j = NULL;
	assert_int_equal(json_parse_bounded(s, strlen(s), &j, NULL, 0), 0);
	return j;
}

static void expect_error(int r, const struct deploy_input_error *e, const char *field, const char *message)
{
	assert_int_equal(r, -EINVAL);
	assert_string_equal(e->field, field);
	if (!strstr(e->message, message))
		fail_msg("message '%s' does not contain '%s'", e->message, message);
}

static void test_create_valid(void **state)
{
	struct deploy_create_input in;
	struct deploy_input_error e;
	(void)state;

	assert_int_equal(deploy_input_create(query_of("buildId=b1", NULL), ENV_TYPE_DEFAULT, &in, &e), 0);
	assert_string_equal(in.build_id, "b1");
	assert_null(in.description);
	assert_int_equal(in.delivery_type, -1);
	assert_false(in.force);

	assert_int_equal(deploy_input_create(query_of("buildId=b2", "description=ship it", "force=TRUE",
						      "deliveryType=staging", NULL),
					     ENV_TYPE_DEFAULT, &in, &e),
			 0);
	assert_string_equal(in.build_id, "b2");
	assert_string_equal(in.description, "ship it");
	assert_true(in.force);
	assert_int_equal(in.delivery_type, ENV_TYPE_STAGING);

	/* the stage's own type is no change */
	assert_int_equal(deploy_input_create(query_of("buildId=b", "deliveryType=PRODUCTION", NULL), ENV_TYPE_PRODUCTION,
					     &in, &e),
			 0);
	assert_int_equal(in.delivery_type, -1);
	/* a production stage may become another production type */
	assert_int_equal(deploy_input_create(query_of("buildId=b", "deliveryType=CANARY", NULL), ENV_TYPE_PRODUCTION,
					     &in, &e),
			 0);
	assert_int_equal(in.delivery_type, ENV_TYPE_CANARY);
	/* 2048 characters are fine, and UTF-8 */
	char d[2048 + 16];
	memset(d, 'x', sizeof(d));
	memcpy(d, "description=", 12);
	d[12 + 2048] = 0;
	assert_int_equal(deploy_input_create(query_of("buildId=b", d, NULL), -1, &in, &e), 0);
	assert_int_equal(strlen(in.description), 2048);
	assert_int_equal(deploy_input_create(query_of("buildId=b", "description=d\xc3\xa9ploy", NULL), -1, &in, &e), 0);
}

static void test_create_invalid(void **state)
{
	struct deploy_create_input in;
	struct deploy_input_error e;
	char d[2049 + 16];
	(void)state;

	expect_error(deploy_input_create(query_of("description=x", NULL), -1, &in, &e), &e, "buildId",
		     "buildId is required");
	expect_error(deploy_input_create(query_of("buildId=", NULL), -1, &in, &e), &e, "buildId", "buildId is required");
	expect_error(deploy_input_create(query_of("buildId=b", "force=maybe", NULL), -1, &in, &e), &e, "force",
		     "force must be true or false");
	expect_error(deploy_input_create(query_of("buildId=b", "deliveryType=NOPE", NULL), -1, &in, &e), &e,
		     "deliveryType", "unknown deliveryType 'NOPE'");
	expect_error(deploy_input_create(query_of("buildId=b", "deliveryType=DEFAULT", NULL), -1, &in, &e), &e,
		     "deliveryType", "DEFAULT cannot be set explicitly");
	expect_error(deploy_input_create(query_of("buildId=b", "deliveryType=DEV", NULL), ENV_TYPE_PRODUCTION, &in, &e),
		     &e, "deliveryType", "a production stage cannot become DEV");
	memset(d, 'x', sizeof(d));
	memcpy(d, "description=", 12);
	d[12 + 2049] = 0;
	expect_error(deploy_input_create(query_of("buildId=b", d, NULL), -1, &in, &e), &e, "description",
		     "description is longer than 2048 characters");
	expect_error(deploy_input_create(query_of("buildId=b", "description=\xff", NULL), -1, &in, &e), &e,
		     "description", "description must be valid UTF-8");
	/* a value that is not UTF-8 is not echoed into the (JSON) message */
	expect_error(deploy_input_create(query_of("buildId=b", "deliveryType=\xfe\xff", NULL), -1, &in, &e), &e,
		     "deliveryType", "unknown deliveryType '(not UTF-8)'");
}

static void test_action_valid(void **state)
{
	struct deploy_action_input in;
	struct deploy_input_error e;
	(void)state;

	assert_int_equal(deploy_input_action(query_of("actionType=promote", "fromDeployId=d1", "force=true",
						      "toDeployId=ignored", NULL),
					     &in, &e),
			 0);
	assert_int_equal(in.action, DEPLOY_ACTION_PROMOTE);
	assert_string_equal(in.from_deploy_id, "d1");
	assert_null(in.to_deploy_id);
	assert_true(in.force);

	assert_int_equal(deploy_input_action(query_of("actionType=ROLLBACK", NULL), &in, &e), 0);
	assert_int_equal(in.action, DEPLOY_ACTION_ROLLBACK);
	assert_null(in.to_deploy_id);
	assert_int_equal(deploy_input_action(query_of("actionType=ROLLBACK", "toDeployId=d0", "description=back",
						      NULL),
					     &in, &e),
			 0);
	assert_string_equal(in.to_deploy_id, "d0");
	assert_string_equal(in.description, "back");

	static const struct {
		const char *q;
		enum deploy_action a;
	} simple[] = { { "actionType=RESTART", DEPLOY_ACTION_RESTART },
		       { "actionType=Pause", DEPLOY_ACTION_PAUSE },
		       { "actionType=resume", DEPLOY_ACTION_RESUME } };
	for (size_t i = 0; i < sizeof(simple) / sizeof(simple[0]); i++) {
		assert_int_equal(deploy_input_action(query_of(simple[i].q, "fromDeployId=x", NULL), &in, &e), 0);
		assert_int_equal(in.action, simple[i].a);
		assert_null(in.from_deploy_id);
		assert_null(in.to_deploy_id);
	}
	for (int a = 0; a < _DEPLOY_ACTION_MAX; a++)
		assert_int_equal(deploy_action_from_string(deploy_action_to_string(a)), a);
	assert_null(deploy_action_to_string(_DEPLOY_ACTION_MAX));
}

static void test_action_invalid(void **state)
{
	struct deploy_action_input in;
	struct deploy_input_error e;
	(void)state;

	expect_error(deploy_input_action(query_of("description=x", NULL), &in, &e), &e, "actionType",
		     "actionType is required");
	expect_error(deploy_input_action(query_of("actionType=JUMP", NULL), &in, &e), &e, "actionType",
		     "unknown actionType 'JUMP'");
	expect_error(deploy_input_action(query_of("actionType=PROMOTE", NULL), &in, &e), &e, "fromDeployId",
		     "fromDeployId is required for PROMOTE");
	expect_error(deploy_input_action(query_of("actionType=PROMOTE", "fromDeployId=", NULL), &in, &e), &e,
		     "fromDeployId", "fromDeployId is required for PROMOTE");
	expect_error(deploy_input_action(query_of("actionType=RESTART", "force=yes", NULL), &in, &e), &e, "force",
		     "force must be true or false");
	expect_error(deploy_input_action(query_of("actionType=PAUSE", "description=\xc3", NULL), &in, &e), &e,
		     "description", "valid UTF-8");
}

static void test_host_actions(void **state)
{
	struct deploy_input_error e;
	enum store_agent_action a;
	json_t *j;
	(void)state;

	assert_int_equal(deploy_input_host_action(query_of("actionType=paused_by_user", NULL), &a, &e), 0);
	assert_int_equal(a, STORE_AGENT_PAUSE);
	assert_int_equal(deploy_input_host_action(query_of("actionType=RESET", NULL), &a, &e), 0);
	assert_int_equal(a, STORE_AGENT_RESET);
	assert_int_equal(deploy_input_host_action(query_of("actionType=NORMAL", NULL), &a, &e), 0);
	assert_int_equal(a, STORE_AGENT_NORMAL);
	expect_error(deploy_input_host_action(query_of("actionType=STOP", NULL), &a, &e), &e, "actionType",
		     "actionType must be PAUSED_BY_USER, RESET or NORMAL");
	expect_error(deploy_input_host_action(query_of("x=y", NULL), &a, &e), &e, "actionType", "actionType must be");

	j = parse("[\"i-1\", \"web-2.example.com\"]");
	assert_int_equal(deploy_input_host_ids(j, &e), 0);
	json_decref(j);
	j = parse("[]");
	assert_int_equal(deploy_input_host_ids(j, &e), 0);
	json_decref(j);
	expect_error(deploy_input_host_ids(NULL, &e), &e, "", "a JSON array of host ids is required");
	j = parse("{\"hosts\": []}");
	expect_error(deploy_input_host_ids(j, &e), &e, "", "the body must be a JSON array of host ids");
	json_decref(j);
	j = parse("[\"i-1\", 7]");
	expect_error(deploy_input_host_ids(j, &e), &e, "[1]", "invalid host id");
	json_decref(j);
	j = parse("[\"i-1\", \"bad host\"]");
	expect_error(deploy_input_host_ids(j, &e), &e, "[1]", "invalid host id");
	json_decref(j);
	j = json_array();
	for (int i = 0; i <= DEPLOY_INPUT_HOST_IDS_MAX; i++)
		assert_int_equal(json_array_append_new(j, json_string("i-1")), 0);
	expect_error(deploy_input_host_ids(j, &e), &e, "", "at most 10000 host ids");
	json_decref(j);
}

static void test_accept(void **state)
{
	struct deploy_accept_input in;
	struct deploy_input_error e;
	json_t *j;
	(void)state;

	j = parse("{\"acceptanceStatus\": \"ACCEPTED\", \"description\": \"tests passed\", \"state\": \"FAILING\"}");
	assert_int_equal(deploy_input_accept(j, &in, &e), 0);
	assert_int_equal(in.acceptance_status, ACCEPTANCE_STATUS_ACCEPTED);
	assert_string_equal(in.description, "tests passed");
	json_decref(j);
	j = parse("{\"acceptanceStatus\": \"rejected\", \"description\": null}");
	assert_int_equal(deploy_input_accept(j, &in, &e), 0);
	assert_int_equal(in.acceptance_status, ACCEPTANCE_STATUS_REJECTED);
	assert_null(in.description);
	json_decref(j);

	static const struct {
		const char *body, *field, *message;
	} bad[] = {
		{ "[]", "", "the body must be a JSON object" },
		{ "{}", "acceptanceStatus", "acceptanceStatus is required" },
		{ "{\"description\": \"x\"}", "acceptanceStatus", "acceptanceStatus is required" },
		{ "{\"acceptanceStatus\": \"PENDING_DEPLOY\"}", "acceptanceStatus",
		  "must be ACCEPTED or REJECTED, not 'PENDING_DEPLOY'" },
		{ "{\"acceptanceStatus\": \"OUTSTANDING\"}", "acceptanceStatus", "must be ACCEPTED or REJECTED" },
		{ "{\"acceptanceStatus\": \"NOPE\"}", "acceptanceStatus", "must be ACCEPTED or REJECTED" },
		{ "{\"acceptanceStatus\": 1}", "acceptanceStatus", "acceptanceStatus must be a string" },
		{ "{\"acceptanceStatus\": \"ACCEPTED\", \"description\": 5}", "description",
		  "description must be a string" },
		{ "{\"acceptanceStatus\": \"ACCEPTED\", \"description\": \"a\\u0000b\"}", "description",
		  "must not contain NUL" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		j = parse(bad[i].body);
		expect_error(deploy_input_accept(j, &in, &e), &e, bad[i].field, bad[i].message);
		json_decref(j);
	}
	expect_error(deploy_input_accept(NULL, &in, &e), &e, "", "a JSON body is required");
	/* description: 2048 characters at most */
	char d[2050];
	memset(d, 'y', sizeof(d) - 1);
	d[sizeof(d) - 1] = 0;
	j = json_pack("{s:s,s:s}", "acceptanceStatus", "ACCEPTED", "description", d);
	expect_error(deploy_input_accept(j, &in, &e), &e, "description", "description is longer than 2048 characters");
	(void)json_object_set_new(j, "description", json_stringn(d, 2048));
	assert_int_equal(deploy_input_accept(j, &in, &e), 0);
	json_decref(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_valid),  cmocka_unit_test(test_create_invalid),
		cmocka_unit_test(test_action_valid),  cmocka_unit_test(test_action_invalid),
		cmocka_unit_test(test_host_actions),  cmocka_unit_test(test_accept),
	};
	int r = cmocka_run_group_tests(tests, NULL, NULL);
	query_release(query_of(NULL));
	return r;
}
