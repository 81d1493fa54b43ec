/* SPDX-License-Identifier: Apache-2.0 */
/* tests/unit/engine/test-deploy-rules.c: the build rules of deploy creation (§7.1) and the effective tag of a build
 * (§4.9), as tables of named cases. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "deploy_rules.h"
#include "enums.h"

/* table rows start from defaults (OK: a signed build of the stage's name, untagged) and override some fields */
#pragma GCC diagnostic ignored "-Woverride-init"

struct rule_case {
	const char *name;
	struct engine_deploy_check in;
	bool reads_tag;
	enum engine_deploy_verdict want;
};

#define OK .type = DEPLOY_TYPE_REGULAR, .stage_build_name = "web", .build_name = "web", .stage_signed = true, \
	   .build_signed = true

static const struct rule_case rule_cases[] = {
	{ "regular of the stage's build", { OK }, true, ENGINE_DEPLOY_ALLOWED },
	{ "regular of another build name", { OK, .build_name = "api" }, true, ENGINE_DEPLOY_WRONG_NAME },
	{ "regular with no build name", { OK, .build_name = NULL }, true, ENGINE_DEPLOY_WRONG_NAME },
	{ "name is checked before the signature", { OK, .build_name = "api", .build_signed = false }, true,
	  ENGINE_DEPLOY_WRONG_NAME },
	{ "unsigned build on a signing stage", { OK, .build_signed = false }, true, ENGINE_DEPLOY_UNSIGNED },
	{ "unsigned build on a stage without a key", { OK, .stage_signed = false, .build_signed = false }, true,
	  ENGINE_DEPLOY_ALLOWED },
	{ "signature is checked before the tag", { OK, .build_signed = false, .build_bad = true }, true,
	  ENGINE_DEPLOY_UNSIGNED },
	{ "BAD_BUILD refused", { OK, .build_bad = true }, true, ENGINE_DEPLOY_BAD_BUILD },
	{ "BAD_BUILD forced", { OK, .build_bad = true, .force = true }, false, ENGINE_DEPLOY_ALLOWED },
	{ "force does not lift the name rule", { OK, .build_name = "api", .force = true }, false,
	  ENGINE_DEPLOY_WRONG_NAME },
	{ "force does not lift the signature rule", { OK, .build_signed = false, .force = true }, false,
	  ENGINE_DEPLOY_UNSIGNED },
	{ "rollback to another build name", { OK, .type = DEPLOY_TYPE_ROLLBACK, .build_name = "api" }, true,
	  ENGINE_DEPLOY_ALLOWED },
	{ "rollback of an unsigned build", { OK, .type = DEPLOY_TYPE_ROLLBACK, .build_signed = false }, true,
	  ENGINE_DEPLOY_UNSIGNED },
	{ "rollback to a BAD_BUILD", { OK, .type = DEPLOY_TYPE_ROLLBACK, .build_bad = true }, true,
	  ENGINE_DEPLOY_BAD_BUILD },
	{ "rollback to a BAD_BUILD forced", { OK, .type = DEPLOY_TYPE_ROLLBACK, .build_bad = true, .force = true },
	  false, ENGINE_DEPLOY_ALLOWED },
	{ "restart checks nothing",
	  { OK, .type = DEPLOY_TYPE_RESTART, .build_name = "api", .build_signed = false, .build_bad = true }, false,
	  ENGINE_DEPLOY_ALLOWED },
	{ "hotfix keeps only signature and tag rules", { OK, .type = DEPLOY_TYPE_HOTFIX, .build_name = "api" }, true,
	  ENGINE_DEPLOY_ALLOWED },
};

static void test_rules(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rule_cases) / sizeof(rule_cases[0]); i++) {
		const struct rule_case *c = &rule_cases[i];
		enum engine_deploy_verdict got = engine_deploy_check_build(&c->in);

		if (got != c->want || engine_deploy_reads_tag(c->in.type, c->in.force) != c->reads_tag)
			fail_msg("%s: verdict %d (want %d), reads tag %d (want %d)", c->name, got, c->want,
				 engine_deploy_reads_tag(c->in.type, c->in.force), c->reads_tag);
	}
}

/* effective tag: the build B is commit "c5" on repo r, branch main, committed at 500 */
#define B { .commit = "c5", .repo = "r", .branch = "main", .commit_date = 500 }
#define TAG(c, rp, br, cd, created) { { .commit = c, .repo = rp, .branch = br, .commit_date = cd }, created }

struct tag_case {
	const char *name;
	struct engine_build_tag tags[6];
	size_t n;
	int want; /* index, or -1 for none */
};

static const struct tag_case tag_cases[] = {
	{ "no tags", { { { 0 }, 0 } }, 0, -1 },
	{ "tag on the build itself", { TAG("c5", "r", "main", 500, 10) }, 1, 0 },
	{ "tag on an older build of the branch", { TAG("c3", "r", "main", 300, 10) }, 1, 0 },
	{ "tag on a newer build does not apply", { TAG("c7", "r", "main", 700, 10) }, 1, -1 },
	{ "tag on another branch does not apply", { TAG("c3", "r", "dev", 300, 10) }, 1, -1 },
	{ "tag on another repo does not apply", { TAG("c3", "q", "main", 300, 10) }, 1, -1 },
	{ "same commit on another branch applies", { TAG("c5", "q", "dev", 500, 10) }, 1, 0 },
	{ "tag without a tagged build is ignored", { TAG(NULL, "r", "main", 100, 10) }, 1, -1 },
	{ "newest commit wins", { TAG("c2", "r", "main", 200, 90), TAG("c4", "r", "main", 400, 10) }, 2, 1 },
	{ "same commit date: the newer tag wins",
	  { TAG("c4", "r", "main", 400, 10), TAG("c4b", "r", "main", 400, 20) }, 2, 1 },
	{ "full tie: input order", { TAG("c4", "r", "main", 400, 10), TAG("c4b", "r", "main", 400, 10) }, 2, 0 },
	{ "newest tag of a commit decides", { TAG("c4", "r", "main", 400, 10), TAG("c4", "r", "main", 400, 20) }, 2,
	  1 },
	{ "a newer commit elsewhere does not hide an older one",
	  { TAG("c4", "r", "dev", 400, 10), TAG("c3", "r", "main", 300, 10) }, 2, 1 },
	{ "an older tag of a decided commit is skipped",
	  { TAG("c4", "q", "dev", 400, 20), TAG("c4", "r", "main", 400, 10) }, 2, -1 },
};

static void test_effective_tag(void **state)
{
	const struct engine_build_ref build = B;

	(void)state;
	for (size_t i = 0; i < sizeof(tag_cases) / sizeof(tag_cases[0]); i++) {
		const struct tag_case *c = &tag_cases[i];
		size_t got = 99;
		int r = engine_build_effective_tag(&build, c->tags, c->n, &got);

		if (c->want < 0 && r != -ENOENT)
			fail_msg("%s: r %d index %zu, want -ENOENT", c->name, r, got);
		if (c->want >= 0 && (r != 0 || got != (size_t)c->want))
			fail_msg("%s: r %d index %zu, want index %d", c->name, r, got, c->want);
	}
}

/* index untouched when no tag applies */
static void test_effective_tag_keeps_output(void **state)
{
	const struct engine_build_ref build = B;
	const struct engine_build_tag t[] = { TAG("c9", "r", "main", 900, 1) };
	size_t idx = 42;

	(void)state;
	assert_int_equal(engine_build_effective_tag(&build, t, 1, &idx), -ENOENT);
	assert_int_equal(idx, 42);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rules),
		cmocka_unit_test(test_effective_tag),
		cmocka_unit_test(test_effective_tag_keeps_output),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
