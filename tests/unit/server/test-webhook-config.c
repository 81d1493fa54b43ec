/* SPDX-License-Identifier: Apache-2.0 */
/* tests/unit/server/test-webhook-config.c: the EnvWebHook validator with its destination and
 * header rules, the header splitter, and the URL origin written to logs. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "webhook_config.h"

static struct ipnet allowed[2];
static struct webhook_policy pol = { allowed, 2, "X-Forwarded-User", "X-Forwarded-Groups" };

static int setup(void **state)
{
	(void)state;
	assert_int_equal(ipnet_parse("10.20.0.0/16", &allowed[0]), 0);
	assert_int_equal(ipnet_parse("fd00:1::/32", &allowed[1]), 0);
	return 0;
}

/* Validate text; returns the error (0 on success) with field/msg, the stored form in *ret. */
static int validate(const char *text, json_t **ret, char *field, char *msg)
{
	json_error_t jerr;
	json_t *in = json_loads(text, 0, &jerr), *out = NULL;
	int r;

	assert_non_null(in);
	field[0] = msg[0] = 0;
	r = webhook_config_validate(in, &pol, &out, field, 128, msg, 256);
	json_decref(in);
	if (ret && r == 0)
		*ret = out;
	else
		json_decref(out);
	return r;
}

static void expect_bad(const char *text, const char *want_field, const char *want_in_msg)
{
	char field[128], msg[256];
	json_t *out = (json_t *)0x1;

	assert_int_equal(validate(text, &out, field, msg), -EINVAL);
	assert_ptr_equal(out, (json_t *)0x1); /* untouched on failure */
	assert_string_equal(field, want_field);
	if (!strstr(msg, want_in_msg))
		fail_msg("message '%s' lacks '%s'", msg, want_in_msg);
}

static void test_stored_form(void **state)
{
	char field[128], msg[256];
	json_t *out = NULL, *h;

	(void)state;
	assert_int_equal(validate("{\"preDeployHooks\":[{\"url\":\"https://h.example/x\",\"method\":\"put\","
				  "\"headers\":\"X-A: 1;; X-B:$TELETRAAN_DEPLOY_ID\"}],\"extra\":1}",
				  &out, field, msg),
			 0);
	h = json_array_get(json_object_get(out, "preDeployHooks"), 0);
	assert_string_equal(json_string_value(json_object_get(h, "method")), "PUT");
	assert_true(json_is_null(json_object_get(h, "body")));
	assert_int_equal(json_array_size(json_object_get(out, "postDeployHooks")), 0);
	assert_null(json_object_get(out, "extra"));
	json_decref(out);
	/* an allowed internal network, a name (judged when called), a URL that does not parse here */
	assert_int_equal(validate("{\"postDeployHooks\":[{\"url\":\"http://10.20.1.1:8080/\"},"
				  "{\"url\":\"http://[fd00:1::5]/\"},{\"url\":\"http://localhost/\"},"
				  "{\"url\":\"http://$TELETRAAN_ENV_NAME.internal/\"},{\"url\":\"example.com/x\"}]}",
				  NULL, field, msg),
			 0);
}

static void test_refusals(void **state)
{
	char many[2048] = "{\"preDeployHooks\":[";

	(void)state;
	expect_bad("[]", "", "JSON object");
	expect_bad("{\"preDeployHooks\":{}}", "preDeployHooks", "array");
	for (int i = 0; i < 21; i++)
		strcat(many, i ? ",{\"url\":\"https://h.example/\"}" : "{\"url\":\"https://h.example/\"}");
	strcat(many, "]}");
	expect_bad(many, "preDeployHooks", "at most 20");
	expect_bad("{\"postDeployHooks\":[1]}", "postDeployHooks[0]", "object");
	expect_bad("{\"postDeployHooks\":[{\"url\":\"https://h.example/\",\"method\":\"PATCH\"}]}",
		   "postDeployHooks[0].method", "GET, POST");
	expect_bad("{\"postDeployHooks\":[{\"body\":\"x\"}]}", "postDeployHooks[0].url", "required");
	expect_bad("{\"postDeployHooks\":[{\"url\":7}]}", "postDeployHooks[0].url", "string");
	expect_bad("{\"preDeployHooks\":[{\"url\":\"http://127.0.0.1:8080/v1/system/user_roles\"}]}",
		   "preDeployHooks[0].url", "127.0.0.1 is loopback");
	expect_bad("{\"preDeployHooks\":[{\"url\":\"http://[::ffff:169.254.169.254]/\"}]}", "preDeployHooks[0].url",
		   "169.254.169.254 is link-local");
	expect_bad("{\"preDeployHooks\":[{\"url\":\"http://10.21.0.1/\"}]}", "preDeployHooks[0].url", "private");
	expect_bad("{\"preDeployHooks\":[{\"url\":\"https://h.example/\",\"headers\":\"A: 1; x-forwarded-user: bob\"}]}",
		   "preDeployHooks[0].headers", "X-Forwarded-User");
	expect_bad("{\"preDeployHooks\":[{\"url\":\"https://h.example/\",\"headers\":\"COOKIE: a=b\"}]}",
		   "preDeployHooks[0].headers", "'Cookie'");
	expect_bad("{\"preDeployHooks\":[{\"url\":\"https://h.example/\",\"headers\":\"A: 1\\r\\nHost: x\"}]}",
		   "preDeployHooks[0].headers", "control character");
	expect_bad("{\"preDeployHooks\":[{\"url\":\"https://h.example/\",\"headers\":\"A B: 1\"}]}",
		   "preDeployHooks[0].headers", "not an HTTP token");
}

struct seen {
	char text[256];
};

static int collect(const char *name, const char *value, void *ud)
{
	struct seen *s = ud;
	size_t l = strlen(s->text);

	(void)snprintf(s->text + l, sizeof(s->text) - l, "[%s=%s]", name, value);
	return strcmp(name, "stop") == 0 ? -EPERM : 0;
}

static void test_headers(void **state)
{
	struct seen s = { "" };
	char msg[256];

	(void)state;
	assert_int_equal(webhook_config_foreach_header(" A : 1 ;;no colon; :v; B:\t2\t;C:", collect, &s), 0);
	assert_string_equal(s.text, "[A=1][B=2][C=]");
	s.text[0] = 0;
	assert_int_equal(webhook_config_foreach_header("A:1;stop:2;C:3", collect, &s), -EPERM);
	assert_string_equal(s.text, "[A=1][stop=2]");
	assert_int_equal(webhook_config_foreach_header(NULL, collect, &s), 0);
	assert_int_equal(webhook_config_check_header("X-Deploy", "a\tb", &pol, msg, sizeof(msg)), 0);
	assert_int_equal(webhook_config_check_header("authorization", "x", &pol, msg, sizeof(msg)), -EPERM);
	assert_int_equal(webhook_config_check_header("HOST", "x", &pol, msg, sizeof(msg)), -EPERM);
	assert_int_equal(webhook_config_check_header("x-forwarded-groups", "x", &pol, msg, sizeof(msg)), -EPERM);
	assert_int_equal(webhook_config_check_header("X-A", "\x7f", &pol, msg, sizeof(msg)), -EINVAL);
	/* without trusted header settings, those names are ordinary */
	struct webhook_policy open = { NULL, 0, NULL, "" };
	assert_int_equal(webhook_config_check_header("X-Forwarded-User", "x", &open, msg, sizeof(msg)), 0);
	assert_int_equal(webhook_config_check_header("Cookie", "x", &open, msg, sizeof(msg)), -EPERM);
}

static void test_url_origin(void **state)
{
	static const char *const rows[][2] = {
		{ "https://u:secret@h.example:8443/p/a?token=abc#f", "https://h.example:8443" },
		{ "http://h.example/x?k=v", "http://h.example" },
		{ "http://[::1]:99/x", "http://[::1]:99" },
		{ "ftp://nope/x", "ftp://nope" },
		{ "example.com/x?token=abc", "(invalid URL)" },
		{ "", "(invalid URL)" },
	};
	char out[128], tiny[8];

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		assert_string_equal(webhook_config_url_origin(rows[i][0], out, sizeof(out)), rows[i][1]);
	assert_string_equal(webhook_config_url_origin(NULL, out, sizeof(out)), "(invalid URL)");
	assert_string_equal(webhook_config_url_origin("https://long.example/", tiny, sizeof(tiny)), "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stored_form),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_headers),
		cmocka_unit_test(test_url_origin),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
