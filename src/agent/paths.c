/* SPDX-License-Identifier: Apache-2.0 */
/* agent/paths.c: comma lists and realpath-based containment (see paths.h). */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "paths.h"
#include "util.h"
#include "banned.h"

bool clist_any(const char *list, clist_fn fn, const void *ctx)
{
	const char *p = list;

	if (!p)
		return false;
	while (*p) {
		const char *s, *e;

		while (*p == ',')
			p++;
		s = p;
		while (*p && *p != ',')
			p++;
		e = p;
		while (s < e && isspace((unsigned char)*s))
			s++;
		while (e > s && isspace((unsigned char)e[-1]))
			e--;
		if (e > s && fn(s, (size_t)(e - s), ctx))
			return true;
	}
	return false;
}

static bool item_any(const char *item, size_t n, const void *ctx)
{
	(void)item;
	(void)n;
	(void)ctx;
	return true;
}

bool clist_is_empty(const char *list)
{
	return !clist_any(list, item_any, NULL);
}

static bool item_equals(const char *item, size_t n, const void *ctx)
{
	const char *s = ctx;
	return strlen(s) == n && memcmp(item, s, n) == 0;
}

bool clist_contains(const char *list, const char *s)
{
	return clist_any(list, item_equals, s);
}

struct bad_item {
	char *out;
	size_t outsz;
};

static bool item_relative(const char *item, size_t n, const void *ctx)
{
	const struct bad_item *b = ctx;

	if (item[0] == '/')
		return false;
	if (b->out && b->outsz) {
		size_t k = n < b->outsz - 1 ? n : b->outsz - 1;
		memcpy(b->out, item, k);
		b->out[k] = '\0';
	}
	return true;
}

bool clist_all_absolute(const char *list, char *ret_bad, size_t badsz)
{
	struct bad_item b = { ret_bad, badsz };
	return !clist_any(list, item_relative, &b);
}

bool path_real_is_inside(const char *real, const char *dir, bool allow_equal)
{
	char rdir[PATH_MAX];
	size_t n;

	if (!real || real[0] != '/' || !dir || !*dir || !realpath(dir, rdir))
		return false;
	n = strlen(rdir);
	if (n == 1) /* "/" contains every other absolute path */
		return allow_equal || real[1] != '\0';
	if (strncmp(real, rdir, n) != 0)
		return false;
	return real[n] == '/' || (allow_equal && real[n] == '\0');
}

static bool dir_item_contains(const char *item, size_t n, const void *ctx)
{
	char dir[PATH_MAX];

	if (n >= sizeof(dir) || item[0] != '/')
		return false;
	memcpy(dir, item, n);
	dir[n] = '\0';
	return path_real_is_inside(ctx, dir, false);
}

bool path_real_is_inside_any(const char *real, const char *dir_list)
{
	return clist_any(dir_list, dir_item_contains, real);
}

int path_resolve_parent(const char *path, char *ret, size_t retsz)
{
	char parent[PATH_MAX], real[PATH_MAX];
	const char *slash, *base;
	struct stat st;

	if (!path || path[0] != '/' || strlen(path) >= sizeof(parent))
		return -EINVAL;
	slash = strrchr(path, '/');
	base = slash + 1;
	if (!*base || streq(base, ".") || streq(base, ".."))
		return -EINVAL;
	memcpy(parent, path, (size_t)(slash - path));
	parent[slash - path] = '\0';
	if (!realpath(*parent ? parent : "/", real))
		return -errno;
	if (stat(real, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	return str_printf(ret, retsz, "%s/%s", streq(real, "/") ? "" : real, base);
}
