/* SPDX-License-Identifier: Apache-2.0 */
/* lib/cfg.c: the key = value parser shared by server and agent configuration. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "parse.h"
#include "util.h"
#include "banned.h"

static bool key_eq(const char *a, const char *b)
{
	for (; *a && *b; a++, b++) {
		char x = *a == '-' ? '_' : (char)tolower((unsigned char)*a);
		char y = *b == '-' ? '_' : (char)tolower((unsigned char)*b);
		if (x != y)
			return false;
	}
	return *a == *b;
}

const struct cfg_entry *cfg_find(const struct cfg_entry *table, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (key_eq(table[i].key, key))
			return &table[i];
	return NULL;
}

static int set_entry(const struct cfg_entry *e, void *obj, const char *value, char *errbuf, size_t errsize)
{
	char *field = (char *)obj + e->offset;
	int r = 0;

	if (!value || !*value)
		value = e->def ? e->def : "";
	switch (e->type) {
	case CFG_STRING: {
		char *dup = strdup(value), **p = (char **)field;
		if (!dup)
			return -ENOMEM;
		free(*p);
		*p = dup;
		return 0;
	}
	case CFG_INT:
	case CFG_SECONDS: {
		int64_t v;
		r = parse_i64(*value ? value : "0", e->min, e->max, &v);
		if (r == 0)
			*(int64_t *)field = v;
		break;
	}
	case CFG_MS: {
		int64_t v;
		r = parse_seconds_ms(*value ? value : "0", e->min, e->max, &v);
		if (r == 0)
			*(int64_t *)field = v;
		break;
	}
	case CFG_SIZE: {
		uint64_t v;
		r = parse_size(*value ? value : "0", (uint64_t)e->min, (uint64_t)e->max, &v);
		if (r == 0)
			*(uint64_t *)field = v;
		break;
	}
	case CFG_BOOL: {
		bool v;
		r = parse_bool(*value ? value : "false", &v);
		if (r == 0)
			*(bool *)field = v;
		break;
	}
	case CFG_IGNORED:
		return 0;
	}
	if (r < 0 && errbuf) {
		switch (e->type) {
		case CFG_BOOL:
			snprintf(errbuf, errsize, "invalid value '%s' for '%s': expected true or false", value, e->key);
			break;
		case CFG_MS:
			snprintf(errbuf, errsize, "invalid value '%s' for '%s': expected seconds in %g..%g", value,
				 e->key, (double)e->min / 1000, (double)e->max / 1000);
			break;
		default:
			snprintf(errbuf, errsize, "invalid value '%s' for '%s': expected %s in %lld..%lld", value,
				 e->key, e->type == CFG_SIZE ? "a size" : "an integer", (long long)e->min,
				 (long long)e->max);
		}
	}
	return r;
}

int cfg_apply_defaults(const struct cfg_entry *table, size_t n, void *obj)
{
	for (size_t i = 0; i < n; i++) {
		int r = set_entry(&table[i], obj, NULL, NULL, 0);
		if (r < 0)
			return r;
	}
	return 0;
}

int cfg_set(const struct cfg_entry *table, size_t n, void *obj, const char *key, const char *value, char *errbuf,
	    size_t errsize)
{
	const struct cfg_entry *e = cfg_find(table, n, key);

	if (!e) {
		if (errbuf)
			snprintf(errbuf, errsize, "unknown key '%s'", key);
		return -ENOENT;
	}
	return set_entry(e, obj, value, errbuf, errsize);
}

void cfg_release(const struct cfg_entry *table, size_t n, void *obj)
{
	for (size_t i = 0; i < n; i++)
		if (table[i].type == CFG_STRING) {
			char **p = (char **)((char *)obj + table[i].offset);
			free(*p);
			*p = NULL;
		}
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

int cfg_split_line(char *line, unsigned flags, char **ret_key, char **ret_value)
{
	char *s = trim(line), *eq, *key, *value;

	if (!*s || *s == '#' || ((flags & CFG_SEMICOLON_COMMENTS) && *s == ';'))
		return 0;
	eq = strchr(s, '=');
	if (!eq)
		return -EINVAL;
	*eq = '\0';
	key = trim(s);
	value = trim(eq + 1);
	if (!*key)
		return -EINVAL;
	if (*value == '"') {
		char *w = value, *r = value + 1;
		for (;; r++) {
			if (!*r)
				return -EINVAL; /* unterminated */
			if (*r == '\\' && (r[1] == '"' || r[1] == '\\')) {
				*w++ = *++r;
				continue;
			}
			if (*r == '"')
				break;
			*w++ = *r;
		}
		if (*trim(r + 1))
			return -EINVAL; /* bytes after the closing quote */
		*w = '\0';
	}
	*ret_key = key;
	*ret_value = value;
	return 1;
}

int cfg_load_file(const struct cfg_entry *table, size_t n, void *obj, const char *path, unsigned flags,
		  cfg_warn_fn warn, void *userdata, char *errbuf, size_t errsize)
{
	char line[16384], msg[512];
	bool *seen = NULL;
	unsigned lineno = 0;
	FILE *f;
	int r = 0;

	f = fopen(path, "re");
	if (!f) {
		r = -errno;
		snprintf(errbuf, errsize, "%s: %s", path, strerror(errno));
		return r;
	}
	seen = calloc(n ? n : 1, sizeof(*seen));
	if (!seen) {
		fclose(f);
		return -ENOMEM;
	}
	while (fgets(line, sizeof(line), f)) {
		char *key, *value;
		const struct cfg_entry *e;

		lineno++;
		if (!strchr(line, '\n') && !feof(f)) {
			snprintf(errbuf, errsize, "%s:%u: line too long", path, lineno);
			r = -EINVAL;
			break;
		}
		r = cfg_split_line(line, flags, &key, &value);
		if (r == 0)
			continue;
		if (r < 0) {
			snprintf(errbuf, errsize, "%s:%u: expected 'key = value'", path, lineno);
			break;
		}
		r = 0;
		e = cfg_find(table, n, key);
		if (!e) {
			if (flags & CFG_STRICT_UNKNOWN) {
				snprintf(errbuf, errsize, "%s:%u: unknown key '%s'", path, lineno, key);
				r = -EINVAL;
				break;
			}
			if (warn) {
				snprintf(msg, sizeof(msg), "unknown key '%s', ignoring", key);
				warn(path, lineno, msg, userdata);
			}
			continue;
		}
		if (seen[e - table]) {
			if (flags & CFG_STRICT_REPEAT) {
				snprintf(errbuf, errsize, "%s:%u: repeated key '%s'", path, lineno, e->key);
				r = -EINVAL;
				break;
			}
			if (warn) {
				snprintf(msg, sizeof(msg), "repeated key '%s', the last value wins", e->key);
				warn(path, lineno, msg, userdata);
			}
		}
		seen[e - table] = true;
		r = set_entry(e, obj, value, msg, sizeof(msg));
		if (r < 0) {
			snprintf(errbuf, errsize, "%s:%u: %s", path, lineno, msg);
			r = -EINVAL;
			break;
		}
	}
	free(seen);
	fclose(f);
	return r;
}
