/* SPDX-License-Identifier: Apache-2.0 */
/* tests/unit/agent/test-tail.c: the UTF-8-safe output tail (AGENT.md §10.6). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fs.h"
#include "tail.h"

static void check(const char *in, size_t len, size_t max, const char *want)
{
	char *out = NULL;

	assert_int_equal(tail_sanitize(in, len, max, &out), 0);
	assert_string_equal(out, want);
	assert_true(strlen(out) <= max);
	free(out);
}

static void test_ascii(void **state)
{
	(void)state;
	check("hello\n", 6, 100, "hello\n");
	check("hello\n", 6, 6, "hello\n");   /* exactly max */
	check("hello\n", 6, 5, "ello\n");    /* max + 1: nothing dropped from the end */
	check("", 0, 10, "");
}

static void test_cut_character_dropped(void **state)
{
	(void)state;
	/* "é" = C3 A9; cutting after C3 leaves a continuation byte first */
	check("caf\xc3\xa9!", 6, 2, "!");
	check("caf\xc3\xa9!", 6, 3, "\xc3\xa9!");
	/* 4-byte character cut in the middle */
	check("a\xf0\x9f\x98\x80z", 6, 3, "z");
}

static void test_invalid_and_nul(void **state)
{
	(void)state;
	check("a\xff" "b", 3, 100, "a\xef\xbf\xbd" "b");
	check("a\0b", 3, 100, "ab");
	check("\xc3(", 2, 100, "\xef\xbf\xbd(");
	/* overlong encoding and surrogate are invalid */
	check("\xc0\xaf", 2, 100, "\xef\xbf\xbd\xef\xbf\xbd");
	check("\xed\xa0\x80", 3, 100, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
}

static void test_growth_trimmed_from_front(void **state)
{
	(void)state;
	/* 4 invalid bytes become 12 bytes; with max 4 only whole characters from the end survive */
	check("\xff\xff\xff\xff", 4, 4, "\xef\xbf\xbd");
	check("\xff\xffz", 3, 4, "\xef\xbf\xbdz");
}

static void test_read_file(void **state)
{
	char path[] = "/tmp/slipway-tail-XXXXXX", *out = NULL;
	int fd = mkstemp(path);
	(void)state;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, "=== header ===\nline1\nline2\n", 27), 27);
	close(fd);
	assert_int_equal(tail_read_file(path, 15, 100, &out), 0);
	assert_string_equal(out, "line1\nline2\n");
	free(out);
	assert_int_equal(tail_read_file(path, 15, 6, &out), 0);
	assert_string_equal(out, "line2\n");
	free(out);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ascii),
		cmocka_unit_test(test_cut_character_dropped),
		cmocka_unit_test(test_invalid_and_nul),
		cmocka_unit_test(test_growth_trimmed_from_front),
		cmocka_unit_test(test_read_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
