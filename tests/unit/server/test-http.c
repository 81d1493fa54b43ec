/* SPDX-License-Identifier: Apache-2.0 */
/* tests/unit/server/test-http.c: route matching (literal precedence, 405, trailing '/', params)
 * and query parsing (booleans, repeated keys, bounded integers). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "enums.h"
#include "http/http.h"

static int h_a(struct req *r)
{
	(void)r;
	return 0;
}

static const struct route routes[] = {
	{ "GET", "/v1/envs/{id}", h_a, ROLE_READER, SCOPE_ANY, false },
	{ "GET", "/v1/envs/names", h_a, ROLE_READER, SCOPE_ANY, false },
	{ "GET", "/v1/envs/{env}/{stage}", h_a, ROLE_READER, SCOPE_ANY, false },
	{ "PUT", "/v1/envs/{env}/{stage}", h_a, ROLE_OPERATOR, SCOPE_ENV, false },
	{ "GET", "/v1/envs/{env}/{stage}/agents/{hostId}", h_a, ROLE_READER, SCOPE_ANY, false },
	{ "PUT", "/v1/envs/{env}/{stage}/agents/{hostId}", h_a, ROLE_OPERATOR, SCOPE_ENV, false },
	{ "GET", "/v1/envs/{env}/{stage}/agents/count", h_a, ROLE_READER, SCOPE_ANY, false },
	{ "POST", "/v1/hosts/active", h_a, ROLE_READER, SCOPE_ANY, false },
	{ "GET", "/v1/hosts/{hostName}", h_a, ROLE_READER, SCOPE_ANY, false },
	{ "DELETE", "/v1/hosts/{hostId}", h_a, ROLE_OPERATOR, SCOPE_SYSTEM, false },
	{ "POST", "/v1/builds", h_a, ROLE_PUBLISHER, SCOPE_ANY, false },
};

static struct router *rt;

static int setup(void **state)
{
	(void)state;
	if (router_new(&rt) < 0)
		return -1;
	return router_add(rt, routes, sizeof(routes) / sizeof(routes[0]));
}

static int teardown(void **state)
{
	(void)state;
	router_free(rt);
	return 0;
}

static const struct route *match(const char *method, const char *path, int expect, struct route_match *m)
{
	int r = router_match(rt, method, path, m);
	assert_int_equal(r, expect);
	return r == 0 ? m->route : NULL;
}

static const char *param(struct route_match *m, const char *name)
{
	for (size_t i = 0; i < m->n_params; i++)
		if (strcmp(m->names[i], name) == 0)
			return m->values[i];
	return NULL;
}

static void test_literal_precedence(void **state)
{
	static struct route_match m;
	(void)state;
	assert_ptr_equal(match("GET", "/v1/envs/names", 0, &m), &routes[1]);
	assert_ptr_equal(match("GET", "/v1/envs/abc", 0, &m), &routes[0]);
	assert_string_equal(param(&m, "id"), "abc");
	assert_ptr_equal(match("GET", "/v1/envs/web/prod/agents/count", 0, &m), &routes[6]);
	assert_ptr_equal(match("GET", "/v1/envs/web/prod/agents/i-1", 0, &m), &routes[4]);
	assert_string_equal(param(&m, "env"), "web");
	assert_string_equal(param(&m, "stage"), "prod");
	assert_string_equal(param(&m, "hostId"), "i-1");
	/* the literal wins even if it lacks the method: 405 */
	match("PUT", "/v1/envs/web/prod/agents/count", -EOPNOTSUPP, &m);
	match("GET", "/v1/hosts/active", -EOPNOTSUPP, &m);
	assert_ptr_equal(match("GET", "/v1/hosts/web-1", 0, &m), &routes[8]);
	assert_ptr_equal(match("DELETE", "/v1/hosts/i-1", 0, &m), &routes[9]);
	assert_string_equal(param(&m, "hostId"), "i-1");
	/* a parameterless route's own path (matched without walking the table): no parameter left from the match
	 * before, the route's index for its counters, HEAD served by GET, another method 405 */
	assert_ptr_equal(match("GET", "/v1/envs/names", 0, &m), &routes[1]);
	assert_int_equal(m.n_params, 0);
	assert_int_equal(m.index, 1);
	assert_ptr_equal(match("HEAD", "/v1/envs/names", 0, &m), &routes[1]);
	match("POST", "/v1/envs/names", -EOPNOTSUPP, &m);
	assert_ptr_equal(match("post", "/v1/builds", 0, &m), &routes[10]);
	assert_int_equal(m.index, 10);
}

static void test_methods_and_paths(void **state)
{
	static struct route_match m;
	(void)state;
	assert_ptr_equal(match("PUT", "/v1/envs/web/prod", 0, &m), &routes[3]);
	assert_ptr_equal(match("HEAD", "/v1/envs/web/prod", 0, &m), &routes[2]);
	match("DELETE", "/v1/envs/web/prod", -EOPNOTSUPP, &m);
	match("GET", "/v1/nothing", -ENOENT, &m);
	match("GET", "/v1/envs/web/prod/extra/x/y", -ENOENT, &m);
	assert_ptr_equal(match("POST", "/v1/builds/", 0, &m), &routes[10]);
	assert_ptr_equal(match("POST", "//v1//builds", 0, &m), &routes[10]);
	match("GET", "/", -ENOENT, &m);
	match("GET", "/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o", -ENOENT, &m);
}

static void test_query(void **state)
{
	struct query q = { 0 };
	json_t *list = NULL;
	int64_t v = 0;
	bool b = false;

	(void)state;
	assert_int_equal(query_add(&q, "envId", "A"), 0);
	assert_int_equal(query_add(&q, "envId", "B"), 0);
	assert_int_equal(query_add(&q, "force", "True"), 0);
	assert_int_equal(query_add(&q, "x", "FALSE"), 0);
	assert_int_equal(query_add(&q, "bad", "yes"), 0);
	assert_int_equal(query_add(&q, "n", "42"), 0);
	assert_int_equal(query_add(&q, "neg", "-1"), 0);
	assert_string_equal(query_get(&q, "envId"), "A");
	assert_null(query_get(&q, "missing"));
	assert_int_equal(query_list(&q, "envId", &list), 0);
	assert_int_equal(json_array_size(list), 2);
	assert_string_equal(json_string_value(json_array_get(list, 1)), "B");
	json_decref(list);
	assert_int_equal(query_list(&q, "none", &list), 0);
	assert_int_equal(json_array_size(list), 0);
	json_decref(list);
	assert_int_equal(query_bool(&q, "force", false, &b), 0);
	assert_true(b);
	assert_int_equal(query_bool(&q, "x", true, &b), 0);
	assert_false(b);
	assert_int_equal(query_bool(&q, "missing", true, &b), 0);
	assert_true(b);
	assert_int_equal(query_bool(&q, "bad", false, &b), -EINVAL);
	assert_int_equal(query_int(&q, "n", 0, 100, 5, &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(query_int(&q, "missing", 0, 100, 5, &v), 0);
	assert_int_equal(v, 5);
	assert_true(query_int(&q, "neg", 0, 100, 5, &v) < 0);
	assert_true(query_int(&q, "n", 0, 10, 5, &v) < 0);
	query_release(&q);
}

static void test_principal(void **state)
{
#define P(k, n, ro, st, res) { .kind = (k), .name = (n), .role = (ro), .scope_type = (st), .resource = (res) }
	struct principal sys = P(PRINCIPAL_TOKEN, "a", ROLE_OPERATOR, SCOPE_TYPE_SYSTEM, "*");
	struct principal env = P(PRINCIPAL_TOKEN, "b", ROLE_OPERATOR, SCOPE_TYPE_ENV, "web");
	struct principal pub = P(PRINCIPAL_ANONYMOUS, "anonymous", ROLE_PUBLISHER, SCOPE_TYPE_SYSTEM, "*");
	struct principal none = P(PRINCIPAL_NONE, "", -1, SCOPE_TYPE_SYSTEM, "");
	struct principal user = P(PRINCIPAL_USER, "alice", ROLE_READER, SCOPE_TYPE_SYSTEM, "*");
	struct principal_binding ub[] = {
		{ .role = ROLE_OPERATOR, .scope_type = SCOPE_TYPE_ENV, .resource = "web" },
		{ .role = ROLE_PUBLISHER, .scope_type = SCOPE_TYPE_SYSTEM, .resource = "*", .group = true },
	};
#undef P

	(void)state;
	assert_true(principal_allows(&sys, ROLE_OPERATOR, SCOPE_SYSTEM, NULL));
	assert_true(principal_allows(&sys, ROLE_PINGER, SCOPE_ENV, "x"));
	assert_false(principal_allows(&sys, ROLE_ADMIN, SCOPE_ANY, NULL));
	assert_true(principal_allows(&env, ROLE_OPERATOR, SCOPE_ENV, "web"));
	assert_false(principal_allows(&env, ROLE_OPERATOR, SCOPE_ENV, "api"));
	assert_false(principal_allows(&env, ROLE_OPERATOR, SCOPE_SYSTEM, NULL));
	assert_true(principal_allows(&env, ROLE_READER, SCOPE_ANY, NULL));
	assert_true(principal_allows(&pub, ROLE_PUBLISHER, SCOPE_ANY, NULL));
	assert_false(principal_allows(&pub, ROLE_PINGER, SCOPE_SYSTEM, NULL));
	assert_false(principal_allows(&none, ROLE_READER, SCOPE_ANY, NULL));
	/* users (§9.5): default role at SYSTEM scope, own and group bindings */
	assert_true(principal_allows(&user, ROLE_READER, SCOPE_SYSTEM, NULL));
	assert_false(principal_allows(&user, ROLE_OPERATOR, SCOPE_ENV, "web"));
	assert_true(principal_allows(&user, ROLE_OPERATOR, SCOPE_NEW_ENV, NULL));
	user.bindings = ub;
	user.n_bindings = sizeof(ub) / sizeof(ub[0]);
	assert_true(principal_allows(&user, ROLE_OPERATOR, SCOPE_ENV, "web"));
	assert_true(principal_allows(&user, ROLE_OPERATOR, SCOPE_ENV, "WEB"));
	assert_false(principal_allows(&user, ROLE_OPERATOR, SCOPE_ENV, "api"));
	assert_false(principal_allows(&user, ROLE_OPERATOR, SCOPE_SYSTEM, NULL));
	assert_true(principal_allows(&user, ROLE_PUBLISHER, SCOPE_SYSTEM, NULL));
	assert_false(principal_allows(&user, ROLE_PINGER, SCOPE_SYSTEM, NULL));
	assert_false(principal_allows(&user, ROLE_ADMIN, SCOPE_ANY, NULL));
	assert_true(principal_allows(&none, ROLE_ADMIN, SCOPE_PUBLIC, NULL));
}

static void test_errno_status(void **state)
{
	(void)state;
	assert_int_equal(http_status_from_errno(-ENOENT), 404);
	assert_int_equal(http_status_from_errno(-EEXIST), 409);
	assert_int_equal(http_status_from_errno(-EBUSY), 409);
	assert_int_equal(http_status_from_errno(-EINVAL), 400);
	assert_int_equal(http_status_from_errno(-EBADMSG), 400);
	assert_int_equal(http_status_from_errno(-EACCES), 403);
	assert_int_equal(http_status_from_errno(-EMSGSIZE), 413);
	assert_int_equal(http_status_from_errno(-EAGAIN), 503);
	assert_int_equal(http_status_from_errno(-EIO), 500);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_literal_precedence), cmocka_unit_test(test_methods_and_paths),
		cmocka_unit_test(test_query),              cmocka_unit_test(test_principal),
		cmocka_unit_test(test_errno_status),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
