/* SPDX-License-Identifier: Apache-2.0 */
/* proto/names.c: PROTOCOL.md §1.5 patterns on top of str_charset_ok(). */
#include <string.h>
#include <strings.h>

#include "names.h"
#include "util.h"
#include "banned.h"

/* "." and ".." would be path components with a meaning of their own */
static bool not_dots(const char *s)
{
	return !streq(s, ".") && !streq(s, "..");
}

bool env_name_is_valid(const char *s)
{
	return s && str_charset_ok(s, "_-", 1, 64);
}

bool stage_name_is_reserved(const char *s)
{
	return s && (streq(s, "token_roles") || streq(s, "user_roles"));
}

bool principal_name_is_reserved(const char *s)
{
	return s && (strcasecmp(s, PRINCIPAL_NAME_ANONYMOUS) == 0 || strcasecmp(s, PRINCIPAL_NAME_BOOTSTRAP) == 0);
}

bool build_name_is_valid(const char *s)
{
	return s && str_charset_ok(s, "_./-", 1, 64) && not_dots(s);
}

bool branch_is_valid(const char *s)
{
	return s && str_charset_ok(s, "_:.,/-", 0, 64);
}

bool chatroom_is_valid(const char *s)
{
	return s && str_charset_ok(s, "_ #,-", 0, 128);
}

bool commit_is_valid(const char *s)
{
	return s && str_charset_ok(s, "_-", 1, 64);
}

bool host_name_is_valid(const char *s)
{
	return s && str_charset_ok(s, "._-", 1, 64) && not_dots(s);
}

bool group_name_is_valid(const char *s)
{
	return s && str_charset_ok(s, "._:-", 1, 128) && not_dots(s);
}

bool id_is_valid(const char *s)
{
	return s && str_charset_ok(s, "_-", 1, 30);
}

bool principal_name_is_valid(const char *s)
{
	return s && str_charset_ok(s, "._@-", 1, 64) && not_dots(s);
}

bool tag_key_is_valid(const char *s)
{
	return s && str_charset_ok(s, ":_.-", 1, 64);
}
