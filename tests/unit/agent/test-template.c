/* SPDX-License-Identifier: Apache-2.0 */
/* tests/unit/agent/test-template.c: every placeholder form of AGENT.md §9.1, one-pass rendering,
 * the tree walk (pristine copy, .tmpl stripping, modes, symlink refusal). */
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
#include "template.h"
#include "util.h"
#include "banned.h"

static const struct template_var VARS[] = {
	{ "foo", "bar" },
	{ "Wh-O", "who" },
	{ "loop", "${TELETRAAN_foo}" },
	{ "empty", "" },
	{ "foo_bar", "FB" },
};

static const struct {
	const char *name, *in, *want;
} CASES[] = {
	{ "dollar brace", "${TELETRAAN_foo}", "bar" },
	{ "brace dollar", "{$TELETRAAN_foo}", "bar" },
	{ "default unused", "${TELETRAAN_foo:zz}", "bar" },
	{ "default used", "${TELETRAAN_baz:qux}", "qux" },
	{ "default empty", "${TELETRAAN_baz:}", "" },
	{ "brace dollar default", "{$TELETRAAN_baz:d e}", "d e" },
	{ "default ends at first brace", "${TELETRAAN_baz:a}b}", "ab}" },
	{ "default no newline", "${TELETRAAN_baz:a\nb}", "${TELETRAAN_baz:a\nb}" },
	{ "unknown braced unchanged", "${TELETRAAN_baz}", "${TELETRAAN_baz}" },
	{ "unknown brace dollar unchanged", "{$TELETRAAN_baz}", "{$TELETRAAN_baz}" },
	{ "dollar name brace", "$TELETRAAN_{foo}", "bar" },
	{ "dollar name brace unknown", "$TELETRAAN_{baz}", "$TELETRAAN_{baz}" },
	{ "bare", "x=$TELETRAAN_foo;", "x=bar;" },
	{ "bare longest run", "$TELETRAAN_foo_bar", "FB" },
	{ "bare no fallback to shorter", "$TELETRAAN_foo_baz", "$TELETRAAN_foo_baz" },
	{ "bare dash key", "$TELETRAAN_Wh-O!", "who!" },
	{ "bare must start alpha", "$TELETRAAN_1foo", "$TELETRAAN_1foo" },
	{ "braced may start digit", "${TELETRAAN_1}", "${TELETRAAN_1}" },
	{ "escape", "$TELETRAAN_$TELETRAAN_foo", "$TELETRAAN_foo" },
	{ "one pass", "${TELETRAAN_loop}", "${TELETRAAN_foo}" },
	{ "unclosed", "${TELETRAAN_foo", "${TELETRAAN_foo" },
	{ "unclosed then bare", "${TELETRAAN_foo $TELETRAAN_foo", "${TELETRAAN_foo bar" },
	{ "bad char in braces", "${TELETRAAN_fo.o}", "${TELETRAAN_fo.o}" },
	{ "empty key", "${TELETRAAN_}", "${TELETRAAN_}" },
	{ "known empty value", "[${TELETRAAN_empty:d}]", "[]" },
	{ "lowercase prefix is text", "${teletraan_foo}", "${teletraan_foo}" },
	{ "plain dollars", "$HOME {x} $ {", "$HOME {x} $ {" },
	{ "several", "a${TELETRAAN_foo}b$TELETRAAN_foo c{$TELETRAAN_Wh-O}", "abarbbar cwho" },
	{ "prefix at end", "$TELETRAAN_", "$TELETRAAN_" },
};

static void test_render_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < ELEMENTSOF(CASES); i++) {
		struct buf out;
		buf_init(&out, 4096);
		assert_int_equal(template_render(CASES[i].in, strlen(CASES[i].in), VARS, ELEMENTSOF(VARS), &out), 0);
		if (!streq(out.p, CASES[i].want))
			fail_msg("case '%s': got '%s', want '%s'", CASES[i].name, out.p, CASES[i].want);
		buf_release(&out);
	}
}

static void test_render_binary_and_cap(void **state)
{
	const char in[] = "a\0b${TELETRAAN_foo}\xff";
	struct buf out;

	(void)state;
	buf_init(&out, 4096);
	assert_int_equal(template_render(in, sizeof(in) - 1, VARS, ELEMENTSOF(VARS), &out), 0);
	assert_int_equal(out.len, 7);
	assert_memory_equal(out.p, "a\0bbar\xff", 7);
	buf_release(&out);
	buf_init(&out, 2);
	assert_int_equal(template_render("${TELETRAAN_foo}", 16, VARS, ELEMENTSOF(VARS), &out), -EMSGSIZE);
	buf_release(&out);
}

static void put(const char *root, const char *rel, const char *data, mode_t mode)
{
	char path[4096];
	str_printf(path, sizeof(path), "%s/%s", root, rel);
	assert_int_equal(fs_write_atomic_path(path, data, strlen(data), mode), 0);
}

static char *get(const char *root, const char *rel)
{
	char path[4096], *data = NULL;
	size_t len;
	str_printf(path, sizeof(path), "%s/%s", root, rel);
	if (fs_read_file(path, 1 << 20, &data, &len) < 0)
		return NULL;
	return data;
}

static void mk(const char *root, const char *rel)
{
	char path[4096];
	str_printf(path, sizeof(path), "%s/%s", root, rel);
	assert_int_equal(mkdir(path, 0755), 0);
}

static void test_render_tree(void **state)
{
	char root[] = "/tmp/test-template-XXXXXX", err[512], path[4096], *s;
	struct template_var vars[] = { { "port", "8080" } };
	struct stat st;

	(void)state;
	assert_non_null(mkdtemp(root));
	/* no teletraan at all: nothing to do */
	assert_int_equal(template_render_tree(root, vars, 1, err, sizeof(err)), 0);
	mk(root, "teletraan");
	mk(root, "teletraan/conf.tmpl");
	put(root, "teletraan/conf.tmpl/app.yml.tmpl", "port: ${TELETRAAN_port}\n", 0640);
	put(root, "teletraan/RESTARTING.tmpl", "#!/bin/sh\nexec app --port $TELETRAAN_port\n", 0755);
	put(root, "teletraan/plain.txt", "${TELETRAAN_port}", 0644);
	str_printf(path, sizeof(path), "%s/teletraan/link", root);
	assert_int_equal(symlink("plain.txt", path), 0);
	assert_int_equal(template_render_tree(root, vars, 1, err, sizeof(err)), 0);
	/* the pristine copy exists with links as links */
	s = get(root, "teletraan_template/conf.tmpl/app.yml.tmpl");
	assert_non_null(s);
	assert_string_equal(s, "port: ${TELETRAAN_port}\n");
	free(s);
	str_printf(path, sizeof(path), "%s/teletraan_template/link", root);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	/* rendered with .tmpl stripped from every component, modes kept, non-templates untouched */
	s = get(root, "teletraan/conf/app.yml");
	assert_non_null(s);
	assert_string_equal(s, "port: 8080\n");
	free(s);
	str_printf(path, sizeof(path), "%s/teletraan/conf/app.yml", root);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	s = get(root, "teletraan/RESTARTING");
	assert_string_equal(s, "#!/bin/sh\nexec app --port 8080\n");
	free(s);
	str_printf(path, sizeof(path), "%s/teletraan/RESTARTING", root);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0755);
	s = get(root, "teletraan/plain.txt");
	assert_string_equal(s, "${TELETRAAN_port}");
	free(s);

	/* re-render from the pristine copy with new values */
	vars[0].value = "9090";
	assert_int_equal(template_render_tree(root, vars, 1, err, sizeof(err)), 0);
	s = get(root, "teletraan/conf/app.yml");
	assert_string_equal(s, "port: 9090\n");
	free(s);

	/* an output path that is a symlink is replaced, never written through */
	put(root, "victim", "keep", 0644);
	str_printf(path, sizeof(path), "%s/teletraan/RESTARTING", root);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(symlink("../victim", path), 0);
	assert_int_equal(template_render_tree(root, vars, 1, err, sizeof(err)), 0);
	s = get(root, "victim");
	assert_string_equal(s, "keep");
	free(s);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));

	/* a symlinked directory component fails the step */
	str_printf(path, sizeof(path), "%s/teletraan/conf", root);
	assert_int_equal(download_remove_tree(path), 0);
	mk(root, "elsewhere");
	assert_int_equal(symlink("../elsewhere", path), 0);
	assert_true(template_render_tree(root, vars, 1, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "symbolic link"));
	assert_null(get(root, "elsewhere/app.yml"));

	assert_int_equal(download_remove_tree(root), 0);
}

/* teletraan/ without a template is not copied (nothing would ever be rendered from it); one template anywhere
 * below it (not behind a link) is enough for the pristine copy. */
static void test_copy_only_with_templates(void **state)
{
	char root[] = "/tmp/test-template-XXXXXX", err[512], path[4096], *s;
	struct template_var vars[] = { { "port", "8080" } };
	struct stat st;

	(void)state;
	assert_non_null(mkdtemp(root));
	mk(root, "teletraan");
	mk(root, "teletraan/conf");
	mk(root, "elsewhere");
	put(root, "elsewhere/app.yml.tmpl", "port: ${TELETRAAN_port}\n", 0644);
	put(root, "teletraan/RESTARTING", "#!/bin/sh\n", 0755);
	put(root, "teletraan/conf/.tmpl", "not a template: no name before the suffix", 0644);
	mk(root, "teletraan/conf/dir.tmpl");
	str_printf(path, sizeof(path), "%s/teletraan/linked", root);
	assert_int_equal(symlink("../elsewhere", path), 0);
	assert_int_equal(template_render_tree(root, vars, 1, err, sizeof(err)), 0);
	str_printf(path, sizeof(path), "%s/teletraan_template", root);
	assert_int_equal(lstat(path, &st), -1);
	assert_int_equal(errno, ENOENT);
	s = get(root, "teletraan/RESTARTING");
	assert_string_equal(s, "#!/bin/sh\n");
	free(s);

	put(root, "teletraan/conf/dir.tmpl/app.yml.tmpl", "port: ${TELETRAAN_port}\n", 0644);
	assert_int_equal(template_render_tree(root, vars, 1, err, sizeof(err)), 0);
	s = get(root, "teletraan_template/conf/dir.tmpl/app.yml.tmpl");
	assert_non_null(s);
	free(s);
	s = get(root, "teletraan/conf/dir/app.yml");
	assert_non_null(s);
	assert_string_equal(s, "port: 8080\n");
	free(s);
	assert_int_equal(download_remove_tree(root), 0);
}

static void test_open_beneath(void **state)
{
	char root[] = "/tmp/test-beneath-XXXXXX", path[4096];
	int dfd, fd;

	(void)state;
	assert_non_null(mkdtemp(root));
	mk(root, "a");
	put(root, "a/f", "x", 0644);
	str_printf(path, sizeof(path), "%s/l", root);
	assert_int_equal(symlink("a", path), 0);
	dfd = open(root, O_RDONLY | O_DIRECTORY);
	fd = template_open_beneath(dfd, "a/f", O_RDONLY, 0);
	assert_true(fd >= 0);
	close(fd);
	assert_true(template_open_beneath(dfd, "l/f", O_RDONLY, 0) < 0);
	assert_true(template_open_beneath(dfd, "../x", O_RDONLY, 0) < 0);
	assert_true(template_open_beneath(dfd, "/etc/passwd", O_RDONLY, 0) < 0);
	close(dfd);
	assert_int_equal(download_remove_tree(root), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_render_cases),
		cmocka_unit_test(test_render_binary_and_cap),
		cmocka_unit_test(test_render_tree),
		cmocka_unit_test(test_copy_only_with_templates),
		cmocka_unit_test(test_open_beneath),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
