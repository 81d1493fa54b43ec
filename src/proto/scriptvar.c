/* SPDX-License-Identifier: Apache-2.0 */
/* proto/scriptvar.c: the refused script variable names (docs/deploy-scripts.md lists them, and a unit test
 * keeps that list complete). */
#include <string.h>

#include "scriptvar.h"
#include "util.h"
#include "banned.h"

const char *const scriptvar_refused[] = {
	/* shells: startup files, options, tracing, word splitting, command and function lookup */
	"BASH_ENV", "ENV", "SHELLOPTS", "BASHOPTS", "PS4", "IFS", "PATH", "CDPATH", "GLOBIGNORE", "FPATH", "ZDOTDIR",
	"BASH_*", /* bash's own names: BASH_FUNC_* (exported functions), BASH_XTRACEFD, BASH_LOADABLES_PATH, ... */
	/* the dynamic loader and the C library (glibc's list of variables it ignores for setuid programs) */
	"LD_*", "GCONV_PATH", "GETCONF_DIR", "GLIBC_TUNABLES", "HOSTALIASES", "LOCALDOMAIN", "RES_OPTIONS",
	"RESOLV_HOST_CONF", "LOCPATH", "NLSPATH", "NIS_PATH", "MALLOC_TRACE",
	/* interpreters and runtimes: module paths, startup code, injected options */
	"PYTHON*", "PERL5*", "PERLLIB", "RUBY*", "NODE_OPTIONS", "NODE_PATH", "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS",
	"JDK_JAVA_OPTIONS", "CLASSPATH", "LUA_INIT*", "LUA_PATH*", "LUA_CPATH*", "PHPRC", "PHP_INI_SCAN_DIR",
	"OPENSSL_CONF", "OPENSSL_ENGINES", "OPENSSL_MODULES",
	NULL,
};

bool scriptvar_is_refused(const char *name)
{
	if (!name)
		return true;
	for (size_t i = 0; scriptvar_refused[i]; i++) {
		const char *pat = scriptvar_refused[i];
		size_t l = strlen(pat);

		if (l > 0 && pat[l - 1] == '*' ? strncmp(name, pat, l - 1) == 0 : streq(name, pat))
			return true;
	}
	return false;
}
