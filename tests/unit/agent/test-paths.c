/* SPDX-License-Identifier: Apache-2.0 */
/* tests/unit/agent/test-paths.c: comma lists and realpath containment of server-sent paths. */
#include <errno.h>
#include <limits.h>
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
#include "paths.h"
#include "util.h"
#include "banned.h"

static void test_clist(void **state)
{
	char bad[64];

	(void)state;
	assert_true(clist_is_empty(NULL));
	assert_true(clist_is_empty(""));
	assert_true(clist_is_empty(" , ,, "));
	assert_false(clist_is_empty(" x "));
	assert_true(clist_contains(" a, bb ,c", "bb"));
	assert_false(clist_contains(" a, bb ,c", "b"));
	assert_false(clist_contains(NULL, "a"));
	assert_true(clist_all_absolute(NULL, bad, sizeof(bad)));
	assert_true(clist_all_absolute(" /a , /b/c", bad, sizeof(bad)));
	assert_false(clist_all_absolute("/a, rel/dir ,/b", bad, sizeof(bad)));
	assert_string_equal(bad, "rel/dir");
}

static void test_inside(void **state)
{
	char dir[64], sub[128], link[128], other[128], real[PATH_MAX], list[512];

	(void)state;
	str_copy(dir, sizeof(dir), "/tmp/test-paths-XXXXXX");
	assert_non_null(mkdtemp(dir));
	str_printf(sub, sizeof(sub), "%s/allowed/sub", dir);
	assert_int_equal(fs_mkdir_p(sub, 0755), 0);
	str_printf(other, sizeof(other), "%s/allowed-not", dir);
	assert_int_equal(fs_mkdir_p(other, 0755), 0);
	str_printf(link, sizeof(link), "%s/link", dir);
	str_printf(sub, sizeof(sub), "%s/allowed", dir);
	assert_int_equal(symlink(sub, link), 0);

	/* prefix without a component boundary is not inside */
	assert_non_null(realpath(other, real));
	assert_false(path_real_is_inside(real, sub, false));
	/* a directory reached through a symlink counts by its real location */
	str_printf(list, sizeof(list), "%s/allowed/sub", dir);
	assert_non_null(realpath(list, real));
	assert_true(path_real_is_inside(real, link, false));
	assert_true(path_real_is_inside(real, sub, false));
	assert_false(path_real_is_inside(real, real, false));
	assert_true(path_real_is_inside(real, real, true));
	assert_false(path_real_is_inside(real, "/nonexistent-xyz", false));
	assert_false(path_real_is_inside("relative", sub, false));
	assert_true(path_real_is_inside(real, "/", false));
	assert_false(path_real_is_inside("/", "/", false));
	/* lists: relative items never contain anything */
	str_printf(list, sizeof(list), "relative, %s ,%s", other, link);
	assert_true(path_real_is_inside_any(real, list));
	assert_false(path_real_is_inside_any(real, "allowed"));
	assert_false(path_real_is_inside_any(real, ""));
	assert_int_equal(download_remove_tree(dir), 0);
}

static void test_resolve_parent(void **state)
{
	char dir[64], link[128], path[256], out[PATH_MAX], want[PATH_MAX];

	(void)state;
	str_copy(dir, sizeof(dir), "/tmp/test-paths-XXXXXX");
	assert_non_null(mkdtemp(dir));
	str_printf(path, sizeof(path), "%s/real", dir);
	assert_int_equal(fs_mkdir_p(path, 0755), 0);
	str_printf(link, sizeof(link), "%s/link", dir);
	assert_int_equal(symlink(path, link), 0);

	str_printf(path, sizeof(path), "%s/link/app", dir);
	assert_int_equal(path_resolve_parent(path, out, sizeof(out)), 0);
	assert_non_null(realpath(dir, want));
	str_printf(path, sizeof(path), "%s/real/app", want);
	assert_string_equal(out, path);
	/* the last component is kept as given, even when it is a symlink itself */
	assert_int_equal(path_resolve_parent(link, out, sizeof(out)), 0);
	str_printf(path, sizeof(path), "%s/link", want);
	assert_string_equal(out, path);
	assert_int_equal(path_resolve_parent("/app", out, sizeof(out)), 0);
	assert_string_equal(out, "/app");
	str_printf(path, sizeof(path), "%s/missing/app", dir);
	assert_int_equal(path_resolve_parent(path, out, sizeof(out)), -ENOENT);
	assert_int_equal(path_resolve_parent("rel/app", out, sizeof(out)), -EINVAL);
	assert_int_equal(path_resolve_parent("/tmp/..", out, sizeof(out)), -EINVAL);
	assert_int_equal(path_resolve_parent("/tmp/", out, sizeof(out)), -EINVAL);
	assert_int_equal(download_remove_tree(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clist),
		cmocka_unit_test(test_inside),
		cmocka_unit_test(test_resolve_parent),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
