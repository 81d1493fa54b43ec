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

static void test_resolve_target(void **state)
{
	char out[4096], err[256];

	(void)state;
	assert_int_equal(stage_resolve_target("/srv/current", "web", NULL, "/var/lib/s", "/var/lib/b", out, sizeof(out),
					      err, sizeof(err)),
			 0);
	assert_string_equal(out, "/srv/current/web");
	assert_int_equal(stage_resolve_target("/srv/current", "web", "/tmp/app", "/var/lib/s", "/var/lib/b", out,
					      sizeof(out), err, sizeof(err)),
			 0);
	assert_string_equal(out, "/tmp/app");
	static const char *const bad[] = { "tmp/app", "/tmp/app/", "/tmp/./app", "/tmp/../app", "/", "//tmp/app",
					   "/var/lib/s/x", "/var/lib/b", "/nonexistent-dir/app" };
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		int r = stage_resolve_target("/srv/current", "web", bad[i], "/var/lib/s", "/var/lib/b", out,
					     sizeof(out), err, sizeof(err));
		if (r != -EINVAL)
			fail_msg("target '%s' accepted", bad[i]);
		assert_non_null(strstr(err, "target"));
	}
	assert_int_equal(stage_resolve_target("/srv", "web", "rel", "/s", "/b", out, sizeof(out), NULL, 0), -EINVAL);
	assert_int_equal(stage_resolve_target("/srv", "../x", NULL, "/s", "/b", out, sizeof(out), err, sizeof(err)),
			 -EINVAL);
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
		cmocka_unit_test(test_resolve_target),
		cmocka_unit_test(test_stage),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
