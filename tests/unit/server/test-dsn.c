/* SPDX-License-Identifier: Apache-2.0 */
/* tests/unit/server/test-dsn.c: database connection strings as logs show them (store/dsn.c): never a password, in
 * either PostgreSQL form, and what is shown still names the database. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dsn.h"

#define SECRET "s3cretpw"

static void test_sqlite_as_is(void **state)
{
	char buf[DSN_REDACTED_MAX];

	(void)state;
	assert_string_equal(dsn_redact("sqlite:var/slipway.db", buf, sizeof(buf)), "sqlite:var/slipway.db");
	assert_string_equal(dsn_redact(NULL, buf, sizeof(buf)), "(none)");
	/* cut to the buffer, never past it */
	assert_string_equal(dsn_redact("sqlite:abcdef", buf, 8), "sqlite:");
}

#ifdef WITH_POSTGRES
static void test_postgres_table(void **state)
{
	static const struct {
		const char *name, *dsn;
		const char *want; /* exact result, or NULL */
		const char *shows[3]; /* substrings it must still show */
	} t[] = {
		{ "URL with user:password", "postgresql://postgres:" SECRET "@127.0.0.1:55440/slip",
		  "user=postgres password=*** dbname=slip host=127.0.0.1 port=55440", { NULL } },
		{ "postgres:// scheme", "postgres://app:" SECRET "@db.example/prod", NULL,
		  { "user=app", "password=***", "host=db.example" } },
		{ "percent-encoded password", "postgresql://app:" SECRET "%40%2F@h/d", NULL,
		  { "password=***", "host=h", "dbname=d" } },
		{ "password in the query", "postgresql://app@h/d?password=" SECRET "&sslmode=disable", NULL,
		  { "password=***", "sslmode=disable", "user=app" } },
		{ "sslpassword in the query", "postgresql://h/d?sslpassword=" SECRET, NULL, { "sslpassword=***", "host=h" } },
		{ "key=value", "host=127.0.0.1 port=55440 user=postgres password=" SECRET " dbname=slip",
		  "user=postgres password=*** dbname=slip host=127.0.0.1 port=55440", { NULL } },
		{ "key=value, quoted password", "host=h password='" SECRET " with \\' space' dbname=d", NULL,
		  { "password=***", "dbname=d" } },
		{ "key = value with spaces", "host = h password = " SECRET, NULL, { "password=***", "host=h" } },
		{ "no password", "postgresql://app@h:5433/d", "user=app dbname=d host=h port=5433", { NULL } },
		{ "a value that needs quotes", "host=h application_name='a b'", "host=h application_name='a b'",
		  { NULL } },
		{ "does not parse", "host=h password=" SECRET " bogus", "(a PostgreSQL connection string that does not parse)",
		  { NULL } },
		{ "bad URL", "postgresql://app:" SECRET "@h:notaport/d?nosuchoption=1",
		  "(a PostgreSQL connection string that does not parse)", { NULL } },
	};
	char buf[DSN_REDACTED_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		const char *got = dsn_redact(t[i].dsn, buf, sizeof(buf));

		if (strstr(got, SECRET))
			fail_msg("%s: the password shows: %s", t[i].name, got);
		if (t[i].want && strcmp(got, t[i].want) != 0)
			fail_msg("%s: got '%s' want '%s'", t[i].name, got, t[i].want);
		for (size_t j = 0; j < 3 && t[i].shows[j]; j++)
			if (!strstr(got, t[i].shows[j]))
				fail_msg("%s: '%s' does not show %s", t[i].name, got, t[i].shows[j]);
	}
}

static void test_postgres_cut(void **state)
{
	char buf[40];
	const char *got;

	(void)state;
	/* a buffer too small for the whole string: a prefix of the redacted form, the secret never shows */
	got = dsn_redact("postgresql://postgres:" SECRET "@127.0.0.1:55440/slip", buf, sizeof(buf));
	assert_non_null(strstr(got, "user=postgres"));
	assert_null(strstr(got, SECRET));
	assert_true(strlen(got) < sizeof(buf));
}
#endif

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sqlite_as_is),
#ifdef WITH_POSTGRES
		cmocka_unit_test(test_postgres_table),
		cmocka_unit_test(test_postgres_cut),
#endif
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
