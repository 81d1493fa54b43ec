/* SPDX-License-Identifier: Apache-2.0 */
/* tests/unit/agent/test-stage.c: TARGET rules (§7.3) and the staging flip (§9). */
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
#include "stage.h"
#include "util.h"
#include "banned.h"

static void test_resolve_target_lexical(void **state)
{
	struct target_policy tp = { .target_dir = "/srv/current", .state_dir = "/var/lib/s", .builds_dir = "/var/lib/b" };
	char out[4096], err[256];

	(void)state;
	assert_int_equal(stage_resolve_target(&tp, "web", NULL, out, sizeof(out), err, sizeof(err)), 0);
	assert_string_equal(out, "/srv/current/web");
	static const char *const bad[] = { "tmp/app", "/tmp/app/", "/tmp/./app", "/tmp/../app", "/", "//tmp/app",
					   "/var/lib/s/x", "/var/lib/b", "/nonexistent-dir/app" };
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		int r = stage_resolve_target(&tp, "web", bad[i], out, sizeof(out), err, sizeof(err));
		if (r != -EINVAL)
			fail_msg("target '%s' accepted", bad[i]);
		assert_non_null(strstr(err, "target"));
	}
	assert_int_equal(stage_resolve_target(&tp, "web", "rel", out, sizeof(out), NULL, 0), -EINVAL);
	assert_int_equal(stage_resolve_target(&tp, "../x", NULL, out, sizeof(out), err, sizeof(err)), -EINVAL);
}

static void mkdirf(const char *base, const char *sub)
{
	char path[4096];
	str_printf(path, sizeof(path), "%s/%s", base, sub);
	assert_int_equal(fs_mkdir_p(path, 0755), 0);
}

/* A server-sent target stays below target_dir or allowed_target_roots, with symlinks resolved. */
static void test_resolve_target_roots(void **state)
{
	char dir[64], cur[128], roots[300], st[128], bl[128], path[4096], out[4096], err[512];
	struct target_policy tp;

	(void)state;
	str_copy(dir, sizeof(dir), "/tmp/test-target-XXXXXX");
	assert_non_null(mkdtemp(dir));
	mkdirf(dir, "current/app");
	mkdirf(dir, "roots/a/srv");
	mkdirf(dir, "roots/b");
	mkdirf(dir, "outside");
	mkdirf(dir, "state");
	mkdirf(dir, "builds/web");
	str_printf(cur, sizeof(cur), "%s/current", dir);
	str_printf(roots, sizeof(roots), " %s/roots/a , %s/roots/b", dir, dir);
	str_printf(st, sizeof(st), "%s/state", dir);
	str_printf(bl, sizeof(bl), "%s/builds", dir);
	tp = (struct target_policy){ .target_dir = cur, .allowed_target_roots = NULL, .state_dir = st, .builds_dir = bl };
	/* symlinks: current/out → outside, current/sub → roots/a, roots/a/state → state */
	str_printf(path, sizeof(path), "%s/outside", dir);
	str_printf(out, sizeof(out), "%s/current/out", dir);
	assert_int_equal(symlink(path, out), 0);
	str_printf(path, sizeof(path), "%s/roots/a", dir);
	str_printf(out, sizeof(out), "%s/current/sub", dir);
	assert_int_equal(symlink(path, out), 0);
	str_printf(out, sizeof(out), "%s/roots/a/state", dir);
	assert_int_equal(symlink(st, out), 0);

	/* below target_dir: fine (also one level deeper) */
	str_printf(path, sizeof(path), "%s/current/app/web", dir);
	assert_int_equal(stage_resolve_target(&tp, "web", path, out, sizeof(out), err, sizeof(err)), 0);
	assert_string_equal(out, path);
	/* target_dir itself, a sibling, a symlinked escape: refused */
	assert_int_equal(stage_resolve_target(&tp, "web", cur, out, sizeof(out), err, sizeof(err)), -EPERM);
	str_printf(path, sizeof(path), "%s/outside/web", dir);
	assert_int_equal(stage_resolve_target(&tp, "web", path, out, sizeof(out), err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "allowed_target_roots"));
	assert_false(stage_target_allowed(&tp, path));
	str_printf(path, sizeof(path), "%s/current/out/web", dir);
	assert_int_equal(stage_resolve_target(&tp, "web", path, out, sizeof(out), err, sizeof(err)), -EPERM);
	str_printf(path, sizeof(path), "%s/roots/a/web", dir);
	assert_int_equal(stage_resolve_target(&tp, "web", path, out, sizeof(out), err, sizeof(err)), -EPERM);
	/* the roots open up; a symlink into a root is fine, one from a root into state_dir is not */
	tp.allowed_target_roots = roots;
	assert_int_equal(stage_resolve_target(&tp, "web", path, out, sizeof(out), err, sizeof(err)), 0);
	assert_true(stage_target_allowed(&tp, path));
	str_printf(path, sizeof(path), "%s/roots/b/web", dir);
	assert_int_equal(stage_resolve_target(&tp, "web", path, out, sizeof(out), err, sizeof(err)), 0);
	str_printf(path, sizeof(path), "%s/current/sub/srv", dir);
	assert_int_equal(stage_resolve_target(&tp, "web", path, out, sizeof(out), err, sizeof(err)), 0);
	str_printf(path, sizeof(path), "%s/roots/a/state/x", dir);
	assert_int_equal(stage_resolve_target(&tp, "web", path, out, sizeof(out), err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "state_dir"));
	str_printf(path, sizeof(path), "%s/outside/web", dir);
	assert_int_equal(stage_resolve_target(&tp, "web", path, out, sizeof(out), err, sizeof(err)), -EPERM);
	/* a root that does not exist contains nothing */
	tp.allowed_target_roots = "/nonexistent-root-xyz";
	str_printf(path, sizeof(path), "%s/roots/a/web", dir);
	assert_int_equal(stage_resolve_target(&tp, "web", path, out, sizeof(out), err, sizeof(err)), -EPERM);
	assert_int_equal(download_remove_tree(dir), 0);
}

static char base[64];

static void mkbuild(const char *id)
{
	char path[4096], data[256];
	str_printf(path, sizeof(path), "%s/builds/web/%s/teletraan", base, id);
	assert_int_equal(fs_mkdir_p(path, 0755), 0);
	str_printf(path, sizeof(path), "%s/builds/web/%s/teletraan/app.conf.tmpl", base, id);
	assert_int_equal(fs_write_atomic_path(path, "id=${TELETRAAN_x:none}", 22, 0644), 0);
	str_printf(path, sizeof(path), "%s/builds/web/%s.extracted", base, id);
	str_printf(data, sizeof(data), "{\"buildId\":\"%s\",\"sha256\":\"%064d\",\"signatureKey\":null,\"completedAt\":1}",
		   id, 0);
	assert_int_equal(fs_write_atomic_path(path, data, strlen(data), 0644), 0);
}

static void test_stage(void **state)
{
	char builds[128], target[128], link[4096], want[4096], err[256], path[4096], *s;
	struct template_var vars[] = { { "x", "42" } };
	struct stage_params p = { .env_name = "web", .vars = vars, .n_vars = 1 };
	size_t len;
	ssize_t k;

	(void)state;
	str_copy(base, sizeof(base), "/tmp/test-stage-XXXXXX");
	assert_non_null(mkdtemp(base));
	str_printf(builds, sizeof(builds), "%s/builds", base);
	str_printf(target, sizeof(target), "%s/web", base);
	p.builds_dir = builds;
	p.target = target;

	p.build_id = "b1";
	assert_int_equal(stage_build(&p, err, sizeof(err)), -ENOENT);
	assert_string_equal(err, "build b1 is not downloaded");
	p.build_id = NULL;
	assert_int_equal(stage_build(&p, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "goal has no build");

	mkbuild("b1");
	mkbuild("b2");
	p.build_id = "b1";
	assert_int_equal(stage_build(&p, err, sizeof(err)), 1);
	k = readlink(target, link, sizeof(link) - 1);
	assert_true(k > 0);
	link[k] = '\0';
	str_printf(want, sizeof(want), "%s/web/b1", builds);
	assert_string_equal(link, want);
	str_printf(path, sizeof(path), "%s/teletraan/app.conf", target);
	assert_int_equal(fs_read_file(path, 100, &s, &len), 0);
	assert_string_equal(s, "id=42");
	free(s);
	/* same build again: re-render only */
	vars[0].value = "43";
	assert_int_equal(stage_build(&p, err, sizeof(err)), 0);
	assert_int_equal(fs_read_file(path, 100, &s, &len), 0);
	assert_string_equal(s, "id=43");
	free(s);
	/* flip to b2, with a stale tmp link around */
	str_printf(path, sizeof(path), "%s.slipway-tmp", target);
	assert_int_equal(symlink("/nowhere", path), 0);
	p.build_id = "b2";
	assert_int_equal(stage_build(&p, err, sizeof(err)), 1);
	k = readlink(target, link, sizeof(link) - 1);
	link[k] = '\0';
	str_printf(want, sizeof(want), "%s/web/b2", builds);
	assert_string_equal(link, want);
	assert_int_equal(access(path, F_OK), -1);
	/* TARGET that is a real directory is refused and left alone */
	assert_int_equal(unlink(target), 0);
	assert_int_equal(mkdir(target, 0755), 0);
	assert_int_equal(stage_build(&p, err, sizeof(err)), -EEXIST);
	assert_string_equal(err, "TARGET exists and is not a symlink");
	assert_int_equal(rmdir(target), 0);
	/* run_as our own user: no chown needed, works */
	p.run_as = "root";
	if (geteuid() == 0)
		assert_int_equal(stage_build(&p, err, sizeof(err)), 1);
	p.run_as = "no-such-user-xyz";
	assert_true(stage_build(&p, err, sizeof(err)) < 0);
	assert_int_equal(stage_remove_stale_tmp(target), 0);
	assert_int_equal(download_remove_tree(base), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resolve_target_lexical),
		cmocka_unit_test(test_resolve_target_roots),
		cmocka_unit_test(test_stage),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
