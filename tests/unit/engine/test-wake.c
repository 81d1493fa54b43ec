/* SPDX-License-Identifier: Apache-2.0 */
/* tests/unit/engine/test-wake.c: which held pings a wake event concerns (§5.11) and which remembered idle answers it
 * ends (§5.10) (engine/wake.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "engine.h"

static void test_kind(void **state)
{
	(void)state;
	assert_int_equal(engine_wake_kind("ENV"), WAKE_KIND_ENV);
	assert_int_equal(engine_wake_kind("SLOT"), WAKE_KIND_SLOT);
	assert_int_equal(engine_wake_kind("HOST"), WAKE_KIND_HOST);
	assert_int_equal(engine_wake_kind("CAPACITY"), WAKE_KIND_CAPACITY);
	assert_int_equal(engine_wake_kind("env"), WAKE_KIND_OTHER);
	assert_int_equal(engine_wake_kind(""), WAKE_KIND_OTHER);
	assert_int_equal(engine_wake_kind("NEW_KIND"), WAKE_KIND_OTHER);
	assert_int_equal(engine_wake_kind(NULL), WAKE_KIND_OTHER);
}

static void test_concerns_table(void **state)
{
	/* the held ping: host h1 (name web-1, groups g-web and g-all), relevant stages e1 and e2; `refused`: the same
	 * ping whose last run was refused an install (only such a one has a use for a released slot) */
	static char g_web[] = "g-web", g_all[] = "g-all";
	static char *groups[] = { g_web, g_all };
	static const char envs[][ENGINE_ID_SIZE] = { "e1", "e2" };
	const struct wake_target t = { .host_id = "h1", .host_name = "web-1", .groups = groups, .n_groups = 2,
				       .envs = envs, .n_envs = 2 };
	const struct wake_target bare = { .host_id = "h1" };
	struct wake_target refused = t;
	static const struct {
		const char *name;
		int kind;
		const char *env_id, *host_id, *ev_name;
		bool want, want_bare, want_refused;
	} c[] = {
		{ "HOST of the host", WAKE_KIND_HOST, "", "h1", "", true, true, true },
		{ "HOST of another host", WAKE_KIND_HOST, "", "h2", "", false, false, false },
		{ "HOST without a host", WAKE_KIND_HOST, "e1", "", "", false, false, false },
		{ "ENV of a relevant stage", WAKE_KIND_ENV, "e2", "", "", true, false, true },
		{ "ENV of another stage", WAKE_KIND_ENV, "e3", "", "", false, false, false },
		{ "ENV without a stage", WAKE_KIND_ENV, "", "h1", "", false, false, false },
		{ "SLOT of a relevant stage", WAKE_KIND_SLOT, "e1", "", "", false, false, true },
		{ "SLOT of another stage", WAKE_KIND_SLOT, "e3", "", "", false, false, false },
		{ "CAPACITY of a relevant stage", WAKE_KIND_CAPACITY, "e1", "", "", true, false, true },
		{ "CAPACITY naming the host name", WAKE_KIND_CAPACITY, "e3", "", "web-1", true, false, true },
		{ "CAPACITY naming the host id", WAKE_KIND_CAPACITY, "e3", "", "h1", true, true, true },
		{ "CAPACITY naming a group", WAKE_KIND_CAPACITY, "e3", "", "g-all", true, false, true },
		{ "CAPACITY naming nothing of it", WAKE_KIND_CAPACITY, "e3", "", "g-db", false, false, false },
		{ "CAPACITY, a name only", WAKE_KIND_CAPACITY, "", "", "g-web", true, false, true },
		{ "an unknown kind", WAKE_KIND_OTHER, "e1", "h1", "web-1", false, false, false },
	};

	(void)state;
	refused.refused = true;
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct wake_event ev = { .kind = c[i].kind, .env_id = c[i].env_id, .host_id = c[i].host_id,
					 .name = c[i].ev_name };

		if (engine_wake_concerns(&ev, &refused) != c[i].want_refused)
			fail_msg("%s (its last run refused an install): concerns %d, want %d", c[i].name,
				 !c[i].want_refused, c[i].want_refused);
		if (engine_wake_concerns(&ev, &t) != c[i].want)
			fail_msg("%s: concerns %d, want %d", c[i].name, !c[i].want, c[i].want);
		if (engine_wake_concerns(&ev, &bare) != c[i].want_bare)
			fail_msg("%s (no names, no stages): concerns %d, want %d", c[i].name, !c[i].want_bare,
				 c[i].want_bare);
	}
}

static void test_ends_table(void **state)
{
	enum { H = WAKE_ENDS_HOST, E = WAKE_ENDS_ENV, A = WAKE_ENDS_ALL };
	static const struct {
		const char *name;
		int kind;
		const char *env_id, *host_id, *ev_name;
		unsigned want;
	} c[] = {
		{ "HOST: the host only", WAKE_KIND_HOST, "", "h1", "", H },
		{ "HOST with a stage: still the host only", WAKE_KIND_HOST, "e1", "h1", "", H },
		{ "HOST without a host: everyone", WAKE_KIND_HOST, "", "", "", A },
		{ "ENV: the stage", WAKE_KIND_ENV, "e1", "", "", E },
		{ "SLOT: the stage", WAKE_KIND_SLOT, "e1", "", "", E },
		{ "CAPACITY of a stage: the stage", WAKE_KIND_CAPACITY, "e1", "", "", E },
		{ "CAPACITY with a name: everyone and the stage", WAKE_KIND_CAPACITY, "e1", "", "g-web", A | E },
		{ "CAPACITY, a name only: everyone", WAKE_KIND_CAPACITY, "", "", "g-web", A },
		{ "ENV without a stage: everyone", WAKE_KIND_ENV, "", "", "", A },
		{ "an unknown kind with a stage: everyone and the stage", WAKE_KIND_OTHER, "e1", "", "", A | E },
		{ "an unknown kind: everyone", WAKE_KIND_OTHER, "", "h1", "", A },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct wake_event ev = { .kind = c[i].kind, .env_id = c[i].env_id, .host_id = c[i].host_id,
					 .name = c[i].ev_name };
		unsigned got = engine_wake_ends(&ev);

		if (got != c[i].want)
			fail_msg("%s: ends %#x, want %#x", c[i].name, got, c[i].want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kind),
		cmocka_unit_test(test_concerns_table),
		cmocka_unit_test(test_ends_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
