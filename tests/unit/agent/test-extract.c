/* SPDX-License-Identifier: Apache-2.0 */
/* tests/unit/agent/test-extract.c: the archive path checker (AGENT.md §8.6) as a table, the
 * limits at max and max+1, mode sanitising, and a real extraction of a tiny tar. */
#include <archive.h>
#include <archive_entry.h>
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
#include "extract.h"
#include "util.h"
#include "banned.h"

static const struct {
	const char *in, *want; /* want NULL = rejected */
	int r;
} NORM[] = {
	{ "a/b", "a/b", 0 },
	{ "./a/b", "a/b", 0 },
	{ "././a//b/./c/", "a/b/c", 0 },
	{ "a/", "a", 0 },
	{ ".", NULL, -ENOENT },
	{ "./", NULL, -ENOENT },
	{ "", NULL, -EINVAL },
	{ "/etc/passwd", NULL, -EINVAL },
	{ "../x", NULL, -EINVAL },
	{ "a/../b", NULL, -EINVAL },
	{ "a/..", NULL, -EINVAL },
	{ "..a/b..", "..a/b..", 0 },
};

static void test_normalize(void **state)
{
	char out[EXTRACT_PATH_MAX + 1];
	const char *why;

	(void)state;
	for (size_t i = 0; i < ELEMENTSOF(NORM); i++) {
		int r = extract_normalize_path(NORM[i].in, out, sizeof(out), &why);
		if (r != NORM[i].r)
			fail_msg("'%s': got %d want %d", NORM[i].in, r, NORM[i].r);
		if (NORM[i].want)
			assert_string_equal(out, NORM[i].want);
	}
	assert_int_equal(extract_normalize_path(NULL, out, sizeof(out), &why), -EINVAL);
}

static void test_limits(void **state)
{
	char name[EXTRACT_PATH_MAX + 2], out[EXTRACT_PATH_MAX + 1];
	const char *why;
	size_t o = 0;

	(void)state;
	/* depth 64 ok, 65 rejected */
	for (int i = 0; i < 64; i++) {
		name[o++] = 'd';
		name[o++] = '/';
	}
	name[o - 1] = '\0';
	assert_int_equal(extract_normalize_path(name, out, sizeof(out), &why), 0);
	name[o - 1] = '/';
	name[o++] = 'd';
	name[o] = '\0';
	assert_int_equal(extract_normalize_path(name, out, sizeof(out), &why), -EINVAL);
	assert_string_equal(why, "path too deep");
	/* length 4096 ok, 4097 rejected */
	memset(name, 'a', EXTRACT_PATH_MAX);
	for (int i = 200; i < EXTRACT_PATH_MAX; i += 201)
		name[i] = '/';
	name[EXTRACT_PATH_MAX] = '\0';
	assert_int_equal(extract_normalize_path(name, out, sizeof(out), &why), 0);
	name[EXTRACT_PATH_MAX] = 'a';
	name[EXTRACT_PATH_MAX + 1] = '\0';
	assert_int_equal(extract_normalize_path(name, out, sizeof(out), &why), -EINVAL);
	assert_string_equal(why, "path too long");
}

static const struct {
	const char *entry, *target;
	int r;
} LINKS[] = {
	{ "l", "a/b", 0 },
	{ "a/l", "../b", 0 },
	{ "a/l", "..", 0 },
	{ "a/b/l", "../../c", 0 },
	{ "a/l", "../../c", -EINVAL },
	{ "l", "..", -EINVAL },
	{ "l", "/etc", -EINVAL },
	{ "l", "", -EINVAL },
	{ "a/l", "x/../..", -EINVAL },
	{ "a/l", "d/..", -EINVAL }, /* ".." after a name: d may itself be a link */
	{ "l", "./a/./b", 0 },
	{ "l", ".", 0 },
};

static void test_symlinks(void **state)
{
	(void)state;
	for (size_t i = 0; i < ELEMENTSOF(LINKS); i++) {
		int r = extract_check_symlink_target(LINKS[i].entry, LINKS[i].target);
		if (r != LINKS[i].r)
			fail_msg("'%s' -> '%s': got %d want %d", LINKS[i].entry, LINKS[i].target, r, LINKS[i].r);
	}
}

static void test_modes(void **state)
{
	(void)state;
	assert_int_equal(extract_sanitize_mode(04755, false), 0755);
	assert_int_equal(extract_sanitize_mode(02777, false), 0755);
	assert_int_equal(extract_sanitize_mode(01777, true), 0755);
	assert_int_equal(extract_sanitize_mode(0, true), 0700);
	assert_int_equal(extract_sanitize_mode(0666, false), 0644);
	assert_int_equal(extract_sanitize_mode(0100644, false), 0644);
}

static void add(struct archive *a, const char *name, unsigned type, const char *data, const char *link)
{
	struct archive_entry *e = archive_entry_new();
	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, type);
	archive_entry_set_perm(e, 0644);
	if (link && type == AE_IFLNK)
		archive_entry_set_symlink(e, link);
	else if (link)
		archive_entry_set_hardlink(e, link);
	archive_entry_set_size(e, data ? (la_int64_t)strlen(data) : 0);
	assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
	if (data)
		assert_int_equal(archive_write_data(a, data, strlen(data)), (la_ssize_t)strlen(data));
	archive_entry_free(e);
}

static int extract_in(const char *dir, const char *tarpath, uint64_t max_entries, uint64_t max_bytes, char *err,
		      size_t errsz)
{
	struct extract_limits lim = { max_entries, max_bytes };
	int cwd = open(".", O_RDONLY | O_DIRECTORY), fd, r;

	assert_true(cwd >= 0);
	fd = open(tarpath, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(chdir(dir), 0);
	r = extract_archive_fd(fd, &lim, NULL, NULL, err, errsz);
	assert_int_equal(fchdir(cwd), 0);
	close(fd);
	close(cwd);
	return r;
}

static void test_extract(void **state)
{
	char base[] = "/tmp/test-extract-XXXXXX", tarpath[256], tree[256], path[512], err[512];
	struct archive *a;
	struct stat st;

	(void)state;
	assert_non_null(mkdtemp(base));
	str_printf(tarpath, sizeof(tarpath), "%s/a.tar", base);
	a = archive_write_new();
	archive_write_set_format_pax_restricted(a);
	assert_int_equal(archive_write_open_filename(a, tarpath), ARCHIVE_OK);
	add(a, "./", AE_IFDIR, NULL, NULL);
	add(a, "bin/run", AE_IFREG, "#!/bin/sh\n", NULL);
	add(a, "bin/alias", AE_IFREG, NULL, "bin/run");
	add(a, "lib/l", AE_IFLNK, NULL, "../bin/run");
	archive_write_close(a);
	archive_write_free(a);

	str_printf(tree, sizeof(tree), "%s/t1", base);
	assert_int_equal(mkdir(tree, 0755), 0);
	assert_int_equal(extract_in(tree, tarpath, 4, 20, err, sizeof(err)), 0);
	str_printf(path, sizeof(path), "%s/lib/l", tree);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	/* entries: max ok, max-1 rejected; bytes: 10 ok, 9 rejected */
	str_printf(tree, sizeof(tree), "%s/t2", base);
	assert_int_equal(mkdir(tree, 0755), 0);
	assert_int_equal(extract_in(tree, tarpath, 3, 20, err, sizeof(err)), -EFBIG);
	assert_non_null(strstr(err, "max_archive_entries"));
	str_printf(tree, sizeof(tree), "%s/t3", base);
	assert_int_equal(mkdir(tree, 0755), 0);
	assert_int_equal(extract_in(tree, tarpath, 4, 10, err, sizeof(err)), 0);
	str_printf(tree, sizeof(tree), "%s/t4", base);
	assert_int_equal(mkdir(tree, 0755), 0);
	assert_int_equal(extract_in(tree, tarpath, 4, 9, err, sizeof(err)), -EFBIG);
	assert_non_null(strstr(err, "max_extracted_bytes"));
	/* not an archive */
	str_printf(tree, sizeof(tree), "%s/t5", base);
	assert_int_equal(mkdir(tree, 0755), 0);
	str_printf(path, sizeof(path), "%s/junk", base);
	{
		int fd = open(path, O_WRONLY | O_CREAT, 0644);
		assert_int_equal(write(fd, "hello world, no archive here\n", 29), 29);
		close(fd);
	}
	assert_int_equal(extract_in(tree, path, 10, 10, err, sizeof(err)), -EPROTONOSUPPORT);
	assert_non_null(strstr(err, "unsupported artifact format"));
	assert_int_equal(download_remove_tree(base), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_normalize), cmocka_unit_test(test_limits), cmocka_unit_test(test_symlinks),
		cmocka_unit_test(test_modes),	  cmocka_unit_test(test_extract),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
