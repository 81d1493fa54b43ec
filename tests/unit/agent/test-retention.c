/* SPDX-License-Identifier: Apache-2.0 */
/* tests/unit/agent/test-retention.c: the §14 choice and a run over a real builds_dir. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "download.h"
#include "fs.h"
#include "retention.h"
#include "util.h"
#include "banned.h"

static void test_choose(void **state)
{
	struct retention_build b[] = {
		{ .id = "b1", .complete = true, .completed_at_ms = 1 },
		{ .id = "b2", .complete = true, .completed_at_ms = 2 },
		{ .id = "b3", .complete = true, .completed_at_ms = 3 },
		{ .id = "b4", .complete = true, .completed_at_ms = 4 },
		{ .id = "b0", .complete = true, .completed_at_ms = 0, .is_protected = true },
		{ .id = "bx", .complete = false },
		{ .id = "by", .complete = false, .is_protected = true },
	};

	(void)state;
	retention_choose(b, ELEMENTSOF(b), false, 2);
	assert_false(b[0].keep);
	assert_false(b[1].keep);
	assert_true(b[2].keep);
	assert_true(b[3].keep);
	assert_true(b[4].keep); /* protected, does not use a slot */
	assert_false(b[5].keep);
	assert_true(b[6].keep);
	/* forgotten: only protected */
	retention_choose(b, ELEMENTSOF(b), true, 2);
	for (size_t i = 0; i < ELEMENTSOF(b); i++)
		assert_int_equal(b[i].keep, b[i].is_protected);
	/* keep 0 */
	retention_choose(b, ELEMENTSOF(b), false, 0);
	assert_false(b[3].keep);
	assert_true(b[4].keep);
}

static char base[64];

static void mkbuild(const char *env, const char *id, int64_t at, bool marker)
{
	char path[4096], data[256];
	str_printf(path, sizeof(path), "%s/builds/%s/%s", base, env, id);
	assert_int_equal(fs_mkdir_p(path, 0755), 0);
	str_printf(path, sizeof(path), "%s/builds/%s/%s/file", base, env, id);
	assert_int_equal(fs_write_atomic_path(path, "x", 1, 0644), 0);
	if (!marker)
		return;
	str_printf(path, sizeof(path), "%s/builds/%s/%s.extracted", base, env, id);
	str_printf(data, sizeof(data),
		   "{\"buildId\":\"%s\",\"sha256\":\"%064d\",\"signatureKey\":null,\"completedAt\":%lld}", id, 0,
		   (long long)at);
	assert_int_equal(fs_write_atomic_path(path, data, strlen(data), 0644), 0);
}

static bool exists(const char *rel)
{
	char path[4096];
	struct stat st;
	str_printf(path, sizeof(path), "%s/%s", base, rel);
	return lstat(path, &st) == 0;
}

static void link_target(const char *env, const char *id)
{
	char path[4096], dst[4096];
	str_printf(path, sizeof(path), "%s/current/%s", base, env);
	str_printf(dst, sizeof(dst), "%s/builds/%s/%s", base, env, id);
	(void)unlink(path);
	assert_int_equal(symlink(dst, path), 0);
}

static void test_run(void **state)
{
	char builds[128], current[128], tweb[128], told[128], outside[128], path[4096];
	struct retention_stats st;

	(void)state;
	str_copy(base, sizeof(base), "/tmp/test-retention-XXXXXX");
	assert_non_null(mkdtemp(base));
	str_printf(builds, sizeof(builds), "%s/builds", base);
	str_printf(current, sizeof(current), "%s/current", base);
	str_printf(tweb, sizeof(tweb), "%s/current/web", base);
	str_printf(told, sizeof(told), "%s/current/old", base);
	assert_int_equal(fs_mkdir_p(current, 0755), 0);

	/* live env web: b1..b6, target b2 (old), previous b1, in-flight b6, keep 2 */
	for (int i = 1; i <= 5; i++) {
		char id[8];
		str_printf(id, sizeof(id), "b%d", i);
		mkbuild("web", id, i, true);
	}
	mkbuild("web", "b6", 0, false);  /* in flight, incomplete */
	mkbuild("web", "b7", 0, false);  /* stale incomplete */
	mkbuild("web", ".tmp-b8-abc", 0, false);
	mkbuild("web", ".tmp-b9-run", 0, false);
	mkbuild("web", ".trash-b1-x", 0, false);
	str_printf(path, sizeof(path), "%s/builds/web/b5.extracted.tmp.0123456789ab", base); /* never renamed */
	assert_int_equal(fs_write_atomic_path(path, "{", 1, 0644), 0);
	link_target("web", "b2");
	/* a symlink inside a build pointing outside must not be followed on delete */
	str_printf(outside, sizeof(outside), "%s/outside", base);
	assert_int_equal(mkdir(outside, 0755), 0);
	str_printf(path, sizeof(path), "%s/outside/precious", base);
	assert_int_equal(fs_write_atomic_path(path, "p", 1, 0644), 0);
	str_printf(path, sizeof(path), "%s/builds/web/b3/escape", base);
	assert_int_equal(symlink(outside, path), 0);

	/* forgotten env old: target still points at o2 */
	mkbuild("old", "o1", 1, true);
	mkbuild("old", "o2", 2, true);
	link_target("old", "o2");
	/* forgotten env gone: target removed, only builds left */
	mkbuild("gone", "g1", 1, true);
	/* unknown env dir */
	mkbuild("stray", "s1", 1, true);

	struct retention_env envs[] = {
		{ .env_name = "web", .target = tweb, .target_build_id = "b2", .previous_build_id = "b1",
		  .inflight_build_id = "b6", .running_tmp = ".tmp-b9-run" },
		{ .env_name = "old", .forgotten = true, .target = told, .target_build_id = "o2" },
		{ .env_name = "gone", .forgotten = true, .target = "/nonexistent/gone", .target_build_id = "g1" },
		{ .env_name = "vanished", .forgotten = true, .target = "/nonexistent/v" },
	};
	struct retention_params p = { .builds_dir = builds, .target_dir = current, .keep_builds = 2, .envs = envs,
				      .n_envs = ELEMENTSOF(envs) };
	assert_int_equal(retention_run(&p, &st), 0);
	assert_int_equal(st.first_error, 0);
	assert_int_equal(st.unknown_dirs, 1);
	/* web: protected b1 b2 b6, newest 2 complete b5 b4; b3 deleted (marker first), b7 and tmp/trash gone */
	assert_true(exists("builds/web/b1") && exists("builds/web/b1.extracted"));
	assert_true(exists("builds/web/b2"));
	assert_false(exists("builds/web/b3"));
	assert_false(exists("builds/web/b3.extracted"));
	assert_true(exists("builds/web/b4") && exists("builds/web/b5"));
	assert_true(exists("builds/web/b6"));
	assert_false(exists("builds/web/b7"));
	assert_false(exists("builds/web/.tmp-b8-abc"));
	assert_true(exists("builds/web/.tmp-b9-run"));
	assert_false(exists("builds/web/.trash-b1-x"));
	assert_false(exists("builds/web/b5.extracted.tmp.0123456789ab"));
	assert_true(exists("builds/web/b5.extracted"));
	assert_true(exists("outside/precious"));
	/* old: only what TARGET points at */
	assert_false(exists("builds/old/o1"));
	assert_true(exists("builds/old/o2"));
	assert_false(envs[1].drop_forgotten);
	/* gone: everything deleted, record dropped; vanished: dropped too */
	assert_false(exists("builds/gone"));
	assert_true(envs[2].drop_forgotten);
	assert_true(envs[3].drop_forgotten);
	/* stray untouched */
	assert_true(exists("builds/stray/s1"));
	assert_false(envs[0].drop_forgotten);

	/* remove old's link: the next run deletes o2 and drops the record */
	assert_int_equal(unlink(told), 0);
	assert_int_equal(retention_run(&p, &st), 0);
	assert_false(exists("builds/old"));
	assert_true(envs[1].drop_forgotten);

	assert_int_equal(download_remove_tree(base), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_choose),
		cmocka_unit_test(test_run),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
