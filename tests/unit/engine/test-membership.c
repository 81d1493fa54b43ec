/* SPDX-License-Identifier: Apache-2.0 */
/* tests/unit/engine/test-membership.c: which stage of each env a host belongs to (§5.2 tie-breaks, the ties worth
 * a log line) and which other stages a ping must load (engine/membership.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine.h"
#include "util.h"

#define MAX_CAND 6

/* A candidate "id:env/stage:tier", e.g. "s1:web/prod:2". */
struct cand_spec {
	const char *id, *env, *stage;
	int tier;
};

static void cand_init(struct resolved_env *c, const struct cand_spec *s)
{
	memset(c, 0, sizeof(*c));
	assert_int_equal(str_copy(c->view.id, sizeof(c->view.id), s->id), 0);
	assert_int_equal(str_copy(c->view.env_name, sizeof(c->view.env_name), s->env), 0);
	assert_int_equal(str_copy(c->view.stage_name, sizeof(c->view.stage_name), s->stage), 0);
	c->tier = s->tier;
}

static void test_resolve_table(void **state)
{
	static const struct {
		const char *name;
		struct cand_spec cand[MAX_CAND];
		const char *rows[MAX_CAND];   /* env ids the host has rows for */
		const char *want[MAX_CAND];   /* resolved stage ids, in order of first appearance of their env */
		const char *used[MAX_CAND];   /* conflicts logged: the stage used ... */
		const char *other[MAX_CAND];  /* ... over this one */
	} t[] = {
		{ "none", { { NULL } }, { NULL }, { NULL }, { NULL }, { NULL } },
		{ "one stage", { { "s1", "web", "prod", 2 } }, { NULL }, { "s1" }, { NULL }, { NULL } },
		{ "two envs, one stage each",
		  { { "s1", "web", "prod", 2 }, { "s2", "api", "prod", 1 } }, { NULL }, { "s1", "s2" }, { NULL },
		  { NULL } },
		{ "same stage through both capacities: no conflict",
		  { { "s1", "web", "prod", 2 }, { "s1", "web", "prod", 1 } }, { NULL }, { "s1" }, { NULL }, { NULL } },
		{ "host capacity beats group capacity, no conflict",
		  { { "s1", "web", "canary", 2 }, { "s2", "web", "prod", 1 } }, { NULL }, { "s2" }, { NULL }, { NULL } },
		{ "host capacity first, group second: silent",
		  { { "s2", "web", "prod", 1 }, { "s1", "web", "canary", 2 } }, { NULL }, { "s2" }, { NULL }, { NULL } },
		{ "same tier: the stage with a row",
		  { { "s1", "web", "canary", 2 }, { "s2", "web", "prod", 2 } }, { "s2" }, { "s2" }, { "s2" }, { "s1" } },
		{ "same tier, no rows: smallest stageName",
		  { { "s2", "web", "prod", 2 }, { "s1", "web", "canary", 2 } }, { NULL }, { "s1" }, { "s1" }, { "s2" } },
		{ "same tier, no rows, smallest first",
		  { { "s1", "web", "canary", 2 }, { "s2", "web", "prod", 2 } }, { NULL }, { "s1" }, { "s1" }, { "s2" } },
		{ "tier beats the row",
		  { { "s1", "web", "canary", 2 }, { "s2", "web", "prod", 1 } }, { "s1" }, { "s2" }, { NULL }, { NULL } },
		{ "row beats stageName in tier 1",
		  { { "s1", "web", "alpha", 1 }, { "s2", "web", "beta", 1 } }, { "s2" }, { "s2" }, { "s2" }, { "s1" } },
		{ "three stages of one env",
		  { { "s3", "web", "zeta", 2 }, { "s2", "web", "beta", 2 }, { "s1", "web", "alpha", 2 } }, { NULL },
		  { "s1" }, { "s2", "s1" }, { "s3", "s2" } },
		{ "two envs with ties each",
		  { { "a2", "api", "b", 2 }, { "w1", "web", "x", 2 }, { "a1", "api", "a", 2 }, { "w2", "web", "y", 1 } },
		  { NULL }, { "a1", "w2" }, { "a1" }, { "a2" } },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct resolved_env cand[MAX_CAND];
		struct agent_row rows[MAX_CAND];
		struct engine_stage_conflict *conf = NULL;
		struct env_view *envs = NULL;
		size_t n = 0, n_rows = 0, n_envs = 0, n_conf = 0, n_want = 0, n_used = 0;

		memset(rows, 0, sizeof(rows));
		for (; n < MAX_CAND && t[i].cand[n].id; n++)
			cand_init(&cand[n], &t[i].cand[n]);
		for (; n_rows < MAX_CAND && t[i].rows[n_rows]; n_rows++)
			assert_int_equal(str_copy(rows[n_rows].env_id, sizeof(rows[n_rows].env_id), t[i].rows[n_rows]), 0);
		while (n_want < MAX_CAND && t[i].want[n_want])
			n_want++;
		while (n_used < MAX_CAND && t[i].used[n_used])
			n_used++;

		assert_int_equal(engine_resolve_envs(cand, n, rows, n_rows, &envs, &n_envs, &conf, &n_conf), 0);
		if (n_envs != n_want)
			fail_msg("%s: %zu stages, want %zu", t[i].name, n_envs, n_want);
		for (size_t j = 0; j < n_envs; j++)
			if (!streq(envs[j].id, t[i].want[j]))
				fail_msg("%s: stage %zu is %s, want %s", t[i].name, j, envs[j].id, t[i].want[j]);
		if (n_conf != n_used)
			fail_msg("%s: %zu conflicts, want %zu", t[i].name, n_conf, n_used);
		for (size_t j = 0; j < n_conf; j++)
			if (!streq(conf[j].used->view.id, t[i].used[j]) || !streq(conf[j].other->view.id, t[i].other[j]))
				fail_msg("%s: conflict %zu is %s over %s, want %s over %s", t[i].name, j,
					 conf[j].used->view.id, conf[j].other->view.id, t[i].used[j], t[i].other[j]);
		assert_true(n_conf > 0 || conf == NULL);
		free(envs);
		free(conf);

		/* without a conflict list: the same stages */
		assert_int_equal(engine_resolve_envs(cand, n, rows, n_rows, &envs, &n_envs, NULL, NULL), 0);
		assert_int_equal(n_envs, n_want);
		free(envs);
	}
}

static void test_unresolved_ids(void **state)
{
	static const char long_id[] = "0123456789012345678901234567890123456789012345678901234567890123456789";
	struct engine_report reps[5] = {
		{ .env_id = "e1" }, { .env_id = "x1" }, { .env_id = "" }, { .env_id = NULL }, { .env_id = long_id },
	};
	struct agent_row rows[3];
	struct env_view envs[1];
	const char *ids[8];
	size_t n;

	memset(rows, 0, sizeof(rows));
	memset(envs, 0, sizeof(envs));
	(void)str_copy(envs[0].id, sizeof(envs[0].id), "e1");
	(void)str_copy(rows[0].env_id, sizeof(rows[0].env_id), "x1"); /* named by a report too: once */
	(void)str_copy(rows[1].env_id, sizeof(rows[1].env_id), "x2");
	(void)str_copy(rows[2].env_id, sizeof(rows[2].env_id), "e1"); /* resolved: not loaded again */

	n = engine_unresolved_env_ids(reps, 5, rows, 3, envs, 1, ids);
	assert_int_equal(n, 2);
	assert_string_equal(ids[0], "x1");
	assert_string_equal(ids[1], "x2");
	assert_int_equal(engine_unresolved_env_ids(NULL, 0, NULL, 0, envs, 1, ids), 0);
	assert_int_equal(engine_unresolved_env_ids(reps, 2, NULL, 0, NULL, 0, ids), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resolve_table),
		cmocka_unit_test(test_unresolved_ids),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
