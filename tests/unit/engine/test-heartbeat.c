/* SPDX-License-Identifier: Apache-2.0 */
/* tests/unit/engine/test-heartbeat.c: the heartbeat flush's skip rule (§8.5, engine/heartbeat.c): the window, and a
 * simulation of a host, the flush and the janitor showing that a host is marked UNREACHABLE at exactly the moment it
 * was before the skip, with fewer writes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "engine.h"

static void test_window(void **state)
{
	(void)state;
	/* defaults: host_unreachable_after 150 s, heartbeat_flush_period 10 s */
	assert_int_equal(engine_heartbeat_skip_ms(150000, 10000), 65000);
	assert_int_equal(engine_heartbeat_skip_ms(6000, 1000), 2000);
	/* too short to skip anything: every new value is written, as before */
	assert_int_equal(engine_heartbeat_skip_ms(2000, 1000), 0);
	assert_int_equal(engine_heartbeat_skip_ms(1000, 10000), 0);
}

static void test_due(void **state)
{
	(void)state;
	assert_false(engine_heartbeat_flush_due(100000, 90000, 90000, 0));    /* nothing new */
	assert_false(engine_heartbeat_flush_due(100000, 80000, 90000, 0));    /* older than stored */
	assert_true(engine_heartbeat_flush_due(100000, 95000, 90000, 0));     /* no skip: new is written */
	assert_false(engine_heartbeat_flush_due(100000, 95000, 90000, 65000)); /* stored 10 s ago: skipped */
	assert_true(engine_heartbeat_flush_due(155000, 150000, 90000, 65000)); /* stored 65 s ago: written */
	assert_true(engine_heartbeat_flush_due(100000, 95000, 0, 65000));     /* never stored: written */
}

struct sim {
	int64_t unreachable_ms, flush_ms, janitor_ms, ping_ms, stop_ms, skip_ms;
	/* out */
	int64_t marked_at, writes, max_age_while_pinging;
};

/* A host pings every ping_ms from 0 until stop_ms (its last ping is the last multiple before it); the flush runs
 * every flush_ms (phase 30 ms), the janitor every janitor_ms (phase 70 ms) and marks the host when the stored
 * lastSeen is older than unreachable_ms (the store's rule: lastSeen < now - host_unreachable_after). */
static void run(struct sim *s)
{
	int64_t last_seen = 0, stored = 0;

	s->marked_at = -1;
	s->writes = 0;
	s->max_age_while_pinging = 0;
	for (int64_t t = 0; t < s->stop_ms + 4 * s->unreachable_ms; t += 10) {
		if (t < s->stop_ms && t % s->ping_ms == 0)
			last_seen = t;
		if (t % s->flush_ms == 30 && engine_heartbeat_flush_due(t, last_seen, stored, s->skip_ms)) {
			stored = last_seen;
			s->writes++;
		}
		if (t < s->stop_ms && t > s->ping_ms && t - stored > s->max_age_while_pinging)
			s->max_age_while_pinging = t - stored;
		if (t % s->janitor_ms == 70 && stored < t - s->unreachable_ms) {
			s->marked_at = t;
			return;
		}
	}
}

static void test_unreachable_at_the_same_moment(void **state)
{
	static const struct {
		int64_t unreachable_ms, flush_ms, janitor_ms, ping_ms;
	} cases[] = {
		{ 150000, 10000, 30000, 25000 }, /* defaults, long-poll agents (held 25 s) */
		{ 150000, 10000, 30000, 60000 }, /* a 60 s interval */
		{ 150000, 10000, 30000, 1000 },
		{ 150000, 1000, 1000, 300 },
		{ 6000, 1000, 1000, 300 },     /* the integration test's settings */
		{ 6000, 1000, 1000, 2500 },
		{ 2000, 1000, 1000, 300 },     /* no skip window */
		{ 600000, 60000, 60000, 25000 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		for (int64_t stop = 1000; stop < 400000; stop += 37310) {
			struct sim before = { cases[i].unreachable_ms, cases[i].flush_ms, cases[i].janitor_ms,
					      cases[i].ping_ms, stop, 0, 0, 0, 0 };
			struct sim after = before;

			after.skip_ms = engine_heartbeat_skip_ms(cases[i].unreachable_ms, cases[i].flush_ms);
			run(&before);
			run(&after);
			assert_true(before.marked_at > 0);
			/* exactly when it was marked without the skip */
			assert_int_equal(after.marked_at, before.marked_at);
			/* while the host pings, the stored value stays younger than host_unreachable_after (never marked) */
			assert_true(after.max_age_while_pinging < cases[i].unreachable_ms);
			assert_true(after.writes <= before.writes);
		}
}

static void test_fewer_writes(void **state)
{
	/* defaults, long-poll: a value every 25 s; over an hour the flush wrote each one (about 144), now one about every
	 * 50 s (the stored value is the last ping before the window ends) */
	struct sim before = { 150000, 10000, 30000, 25000, 3600000, 0, 0, 0, 0 };
	struct sim after = before;

	(void)state;
	after.skip_ms = engine_heartbeat_skip_ms(150000, 10000);
	run(&before);
	run(&after);
	print_message("an hour of long-poll pings: %lld writes before, %lld with the skip\n", (long long)before.writes,
		      (long long)after.writes);
	assert_true(before.writes >= 140);
	assert_true(after.writes * 10 < before.writes * 6);
	assert_true(after.max_age_while_pinging <= 75000 + 25000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_window),
		cmocka_unit_test(test_due),
		cmocka_unit_test(test_unreachable_at_the_same_moment),
		cmocka_unit_test(test_fewer_writes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
