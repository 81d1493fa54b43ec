/* SPDX-License-Identifier: Apache-2.0 */
/* tests/unit/proto/test-scriptvar.c: the refused script variable names: exact entries, prefix entries,
 * near misses that stay allowed, and docs/deploy-scripts.md naming every entry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fs.h"
#include "scriptvar.h"
#include "util.h"

static void test_refused(void **state)
{
	const char *refused[] = {
		"BASH_ENV", "ENV", "SHELLOPTS", "BASHOPTS", "PS4", "IFS", "PATH", "LD_PRELOAD", "LD_LIBRARY_PATH",
		"LD_AUDIT", "LD_", "PYTHONPATH", "PYTHONSTARTUP", "PYTHONHOME", "PERL5LIB", "PERL5OPT", "PERLLIB",
		"RUBYOPT", "RUBYLIB", "NODE_OPTIONS", "JAVA_TOOL_OPTIONS", "GCONV_PATH", "HOSTALIASES", "LOCALDOMAIN",
		"RES_OPTIONS", "BASH_FUNC_ls%%", "BASH_XTRACEFD", "BASH_LOADABLES_PATH", "CDPATH", "ZDOTDIR",
		"GLIBC_TUNABLES", "_JAVA_OPTIONS", "LUA_INIT", "LUA_INIT_5_4", "OPENSSL_CONF", NULL,
	};
	(void)state;

	for (size_t i = 0; refused[i]; i++) {
		if (!scriptvar_is_refused(refused[i]))
			fail_msg("'%s' should be refused", refused[i]);
	}
	assert_true(scriptvar_is_refused(NULL));
}

static void test_allowed(void **state)
{
	/* the environment is case-sensitive: only the exact spelling changes behaviour */
	const char *allowed[] = {
		"PORT", "GREETING", "path", "Path", "ENV_NAME", "ENVIRONMENT", "MY_PATH", "PATHS", "XPATH", "IFS_X",
		"BASH", "LD", "PYTHO", "NODE_ENV", "PERL", "PERL_X", "RUBOCOP", "JAVA_OPTS", "PS1", "PS40", "LUA_VERSION",
		"ld_preload", "bash_env", "", NULL,
	};
	(void)state;

	for (size_t i = 0; allowed[i]; i++) {
		if (scriptvar_is_refused(allowed[i]))
			fail_msg("'%s' should be allowed", allowed[i]);
	}
}

/* Every entry appears in the user documentation as `NAME` (prefix entries with their star). */
static void test_documented(void **state)
{
	const char *src = getenv("SLIPWAY_SOURCE_DIR");
	char path[4096], needle[128], *doc = NULL;
	size_t len = 0;
	(void)state;

	if (!src)
		skip();
	assert_int_equal(str_printf(path, sizeof(path), "%s/docs/deploy-scripts.md", src), 0);
	assert_int_equal(fs_read_file(path, 1 << 20, &doc, &len), 0);
	for (size_t i = 0; scriptvar_refused[i]; i++) {
		assert_int_equal(str_printf(needle, sizeof(needle), "`%s`", scriptvar_refused[i]), 0);
		if (!strstr(doc, needle))
			fail_msg("docs/deploy-scripts.md does not list %s", needle);
	}
	free(doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_allowed),
		cmocka_unit_test(test_documented),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
