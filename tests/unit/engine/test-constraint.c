/* SPDX-License-Identifier: Apache-2.0 */
/* tests/unit/engine/test-constraint.c: the deploy constraint's admission rule (issue 17): rollout order of tag
 * values, ALL_GROUPS_IN_PARALLEL and GROUP_BY_GROUP over counted groups, the untagged group, parked hosts, a tag
 * changing mid-deploy, and a simulated rollout through engine_admission_decide(). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "engine.h"
#include "util.h"

#define G(v, occ, pend) { .value = (v), .occupied = (occ), .pending = (pend) }

static const char *const order_ca[] = { "c", "a" };

static void test_order(void **state)
{
	struct constraint_view plain = { .present = true, .type = CONSTRAINT_TYPE_GROUP_BY_GROUP, .max_parallel = 1 };
	struct constraint_view listed = plain;

	listed.order = order_ca;
	listed.n_order = 2;
	assert_true(engine_constraint_order_cmp(&plain, "a", "b") < 0);
	assert_true(engine_constraint_order_cmp(&plain, "b", "a") > 0);
	assert_true(engine_constraint_order_cmp(&plain, "B", "a") < 0); /* byte order */
	assert_int_equal(engine_constraint_order_cmp(&plain, "a", "a"), 0);
	assert_true(engine_constraint_order_cmp(&plain, "zz", NULL) < 0); /* untagged last */
	assert_true(engine_constraint_order_cmp(&plain, NULL, "a") > 0);
	assert_int_equal(engine_constraint_order_cmp(&plain, NULL, NULL), 0);
	/* constraintOrder first, in its order, then the rest ascending, untagged last */
	assert_true(engine_constraint_order_cmp(&listed, "c", "a") < 0);
	assert_true(engine_constraint_order_cmp(&listed, "a", "b") < 0);
	assert_true(engine_constraint_order_cmp(&listed, "c", "b") < 0);
	assert_true(engine_constraint_order_cmp(&listed, "b", "d") < 0);
	assert_true(engine_constraint_order_cmp(&listed, "d", NULL) < 0);
}

static void test_admits_table(void **state)
{
	static const struct constraint_group two[] = { G("a", 1, 3), G("b", 2, 4) };
	static const struct constraint_group first_done[] = { G("a", 0, 0), G("b", 0, 5), G("c", 0, 5) };
	static const struct constraint_group with_untagged[] = { G(NULL, 0, 2), G("a", 0, 0), G("b", 1, 1) };
	static const struct constraint_group untagged_only[] = { G(NULL, 0, 2), G("a", 0, 0) };
	static const struct constraint_group parked[] = { G("a", 1, 0), G("b", 0, 3) }; /* a: a HALTed host */
	static const struct constraint_group moved[] = { G("a", 0, 0), G("b", 1, 2) };  /* tag a→b mid-deploy */
	static const struct constraint_group listed[] = { G("a", 0, 2), G("b", 0, 2), G("c", 0, 2) };
	static const struct {
		const char *name;
		int type, max;
		const char *const *order;
		size_t n_order;
		const char *host;
		const struct constraint_group *g;
		size_t n;
		bool want;
	} t[] = {
		{ "parallel: room in a", CONSTRAINT_TYPE_ALL_GROUPS_IN_PARALLEL, 2, NULL, 0, "a", two, 2, true },
		{ "parallel: b full", CONSTRAINT_TYPE_ALL_GROUPS_IN_PARALLEL, 2, NULL, 0, "b", two, 2, false },
		{ "parallel: max 1, a full", CONSTRAINT_TYPE_ALL_GROUPS_IN_PARALLEL, 1, NULL, 0, "a", two, 2, false },
		{ "parallel: a value with no rows", CONSTRAINT_TYPE_ALL_GROUPS_IN_PARALLEL, 1, NULL, 0, "z", two, 2, true },
		{ "parallel: untagged own group", CONSTRAINT_TYPE_ALL_GROUPS_IN_PARALLEL, 1, NULL, 0, NULL, with_untagged,
		  3, true },
		{ "group: a first", CONSTRAINT_TYPE_GROUP_BY_GROUP, 2, NULL, 0, "a", two, 2, true },
		{ "group: b waits for a", CONSTRAINT_TYPE_GROUP_BY_GROUP, 5, NULL, 0, "b", two, 2, false },
		{ "group: a done, b next", CONSTRAINT_TYPE_GROUP_BY_GROUP, 1, NULL, 0, "b", first_done, 3, true },
		{ "group: a done, c after b", CONSTRAINT_TYPE_GROUP_BY_GROUP, 1, NULL, 0, "c", first_done, 3, false },
		{ "group: maxParallel within the group", CONSTRAINT_TYPE_GROUP_BY_GROUP, 1, NULL, 0, "b", moved, 2, false },
		{ "group: untagged wait for b", CONSTRAINT_TYPE_GROUP_BY_GROUP, 5, NULL, 0, NULL, with_untagged, 3, false },
		{ "group: untagged last", CONSTRAINT_TYPE_GROUP_BY_GROUP, 5, NULL, 0, NULL, untagged_only, 2, true },
		{ "group: parked host does not hold b back", CONSTRAINT_TYPE_GROUP_BY_GROUP, 1, NULL, 0, "b", parked, 2,
		  true },
		{ "group: tag moved a→b: b is current", CONSTRAINT_TYPE_GROUP_BY_GROUP, 2, NULL, 0, "b", moved, 2, true },
		{ "group: tag moved: nothing left of a", CONSTRAINT_TYPE_GROUP_BY_GROUP, 2, NULL, 0, "a", moved, 2, false },
		{ "group: constraintOrder c first", CONSTRAINT_TYPE_GROUP_BY_GROUP, 1, order_ca, 2, "c", listed, 3, true },
		{ "group: constraintOrder a waits", CONSTRAINT_TYPE_GROUP_BY_GROUP, 1, order_ca, 2, "a", listed, 3, false },
		{ "group: unlisted b after listed", CONSTRAINT_TYPE_GROUP_BY_GROUP, 1, order_ca, 2, "b", listed, 3, false },
	};

	for (size_t i = 0; i < ELEMENTSOF(t); i++) {
		struct constraint_view c = { .present = true, .type = t[i].type, .max_parallel = t[i].max,
					     .order = t[i].order, .n_order = t[i].n_order };
		bool got = engine_constraint_admits(&c, t[i].host, t[i].g, t[i].n);

		if (got != t[i].want)
			fail_msg("%s: got %d want %d", t[i].name, got, t[i].want);
	}
	/* no constraint admits anything */
	assert_true(engine_constraint_admits(&(struct constraint_view){ 0 }, "b", two, 2));
}

/* ---- a simulated rollout: 3 zones of 4 hosts and 2 untagged, every host asks each round, in a scrambled
 * order; an admitted host finishes (SERVING_BUILD) `work` rounds later. ---- */

#define N_SIM 14

struct sim_host {
	const char *zone;
	int left;  /* rounds until SERVING_BUILD, -1 not started */
	bool done;
	int finished_round;
};

static void sim_groups(const struct sim_host *h, struct constraint_group *g, size_t *n, int *occupied)
{
	*n = 0;
	*occupied = 0;
	for (size_t i = 0; i < N_SIM; i++) {
		size_t k;

		for (k = 0; k < *n; k++)
			if ((!g[k].value && !h[i].zone) || (g[k].value && h[i].zone && streq(g[k].value, h[i].zone)))
				break;
		if (k == *n)
			g[(*n)++] = (struct constraint_group){ .value = h[i].zone };
		g[k].occupied += h[i].left > 0;
		g[k].pending += !h[i].done;
		*occupied += h[i].left > 0;
	}
}

static int simulate(int type, int max_zone, int max_stage, const char *const *order, size_t n_order,
		    struct sim_host *h, int *max_seen_zone)
{
	static const char *zones[N_SIM] = { "b", "a", "c", "a", NULL, "b", "c", "a", "b", "c", NULL, "a", "b", "c" };
	int round;

	*max_seen_zone = 0;
	for (size_t i = 0; i < N_SIM; i++)
		h[i] = (struct sim_host){ .zone = zones[i], .left = -1, .finished_round = -1 };
	for (round = 0; round < 200; round++) {
		bool all = true;

		for (size_t i = 0; i < N_SIM; i++)
			if (h[i].left > 0 && --h[i].left == 0) {
				h[i].done = true;
				h[i].finished_round = round;
			}
		for (size_t step = 0; step < N_SIM; step++) {
			size_t i = (step * 5 + (size_t)round) % N_SIM; /* 5 is prime to 14: a permutation */
			struct constraint_group g[N_SIM];
			size_t n;
			int occ;
			struct admission_facts f = { .stage_exists = true, .deploy_id = "D", .max_parallel = max_stage,
						     .existing = N_SIM, .total = N_SIM };

			if (h[i].left >= 0)
				continue;
			sim_groups(h, g, &n, &occ);
			f.occupied = occ;
			f.constraint = (struct constraint_view){ .present = true, .type = type, .max_parallel = max_zone,
								 .order = order, .n_order = n_order };
			f.host_value = h[i].zone;
			f.groups = g;
			f.n_groups = n;
			if (engine_admission_decide(&f, "D", 10000) == ADMISSION_ADMIT)
				h[i].left = 2;
			sim_groups(h, g, &n, &occ);
			for (size_t k = 0; k < n; k++)
				if (g[k].occupied > *max_seen_zone)
					*max_seen_zone = g[k].occupied;
			assert_true(occ <= max_stage);
		}
		for (size_t i = 0; i < N_SIM; i++)
			all = all && h[i].done;
		if (all)
			return round;
	}
	fail_msg("the rollout did not finish");
	return -1;
}

/* the last round a host of zone finished, and the first round one started (approximated by finish - 2) */
static void zone_span(const struct sim_host *h, const char *zone, int *first, int *last)
{
	*first = 1000;
	*last = -1;
	for (size_t i = 0; i < N_SIM; i++) {
		if (!((!zone && !h[i].zone) || (zone && h[i].zone && streq(zone, h[i].zone))))
			continue;
		if (h[i].finished_round - 2 < *first)
			*first = h[i].finished_round - 2;
		if (h[i].finished_round > *last)
			*last = h[i].finished_round;
	}
}

static void assert_zone_order(const struct sim_host *h, const char *const *zones, size_t n)
{
	for (size_t k = 0; k + 1 < n; k++) {
		int f1, l1, f2, l2;

		zone_span(h, zones[k], &f1, &l1);
		zone_span(h, zones[k + 1], &f2, &l2);
		if (f2 < l1)
			fail_msg("zone %s started (round %d) before %s finished (round %d)", zones[k + 1] ? zones[k + 1] : "-",
				 f2, zones[k] ? zones[k] : "-", l1);
	}
}

static void test_simulated_rollout(void **state)
{
	static const char *const abc[] = { "a", "b", "c", NULL };
	static const char *const cab[] = { "c", "a", "b", NULL };
	struct sim_host h[N_SIM];
	int max_zone;

	/* ALL_GROUPS_IN_PARALLEL 2 with a wide stage: never more than 2 of a zone, and zones deploy together */
	simulate(CONSTRAINT_TYPE_ALL_GROUPS_IN_PARALLEL, 2, 10, NULL, 0, h, &max_zone);
	assert_int_equal(max_zone, 2);
	/* the stage's own maxParallel still applies on top */
	simulate(CONSTRAINT_TYPE_ALL_GROUPS_IN_PARALLEL, 2, 3, NULL, 0, h, &max_zone);
	assert_true(max_zone <= 2);
	/* GROUP_BY_GROUP 3: a, b, c, then the untagged, each finished before the next starts */
	simulate(CONSTRAINT_TYPE_GROUP_BY_GROUP, 3, 10, NULL, 0, h, &max_zone);
	assert_int_equal(max_zone, 3);
	assert_zone_order(h, abc, 4);
	/* constraintOrder c, a: then b, then the untagged */
	simulate(CONSTRAINT_TYPE_GROUP_BY_GROUP, 4, 10, order_ca, 2, h, &max_zone);
	assert_int_equal(max_zone, 4);
	assert_zone_order(h, cab, 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order),
		cmocka_unit_test(test_admits_table),
		cmocka_unit_test(test_simulated_rollout),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
