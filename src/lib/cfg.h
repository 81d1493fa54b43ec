/* SPDX-License-Identifier: Apache-2.0 */
/* lib/cfg.h: table-driven `key = value` configuration (STYLE.md §15).
 * Syntax: one key = value per line, key and value trimmed, lines starting with '#' (or ';' when
 * CFG_SEMICOLON_COMMENTS) are comments, a value may be double-quoted with \" and \\ escapes.
 * Each table row names its type, bounds, default and the offset of its field in the target struct.
 * Does not log: problems are reported through the callbacks / errbuf. */
#ifndef SLIPWAY_CFG_H
#define SLIPWAY_CFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum cfg_type {
	CFG_STRING,  /* char * (malloc'd; freed by cfg_release) */
	CFG_INT,     /* int64_t within [min, max] */
	CFG_SECONDS, /* int64_t seconds within [min, max] */
	CFG_MS,      /* int64_t milliseconds from a decimal number of seconds, bounds in ms */
	CFG_SIZE,    /* uint64_t bytes with K/M/G, bounds in bytes */
	CFG_BOOL,    /* bool */
	CFG_IGNORED, /* accepted and ignored (legacy upstream keys) */
};

struct cfg_entry {
	const char *key;
	enum cfg_type type;
	int64_t min, max;
	const char *def; /* default as text (NULL = empty string / 0 / false) */
	size_t offset;
	const char *help;
};

enum {
	CFG_STRICT_UNKNOWN = 1 << 0, /* unknown key is an error (server) instead of a warning (agent) */
	CFG_STRICT_REPEAT = 1 << 1,  /* repeated key is an error instead of a warning */
	CFG_SEMICOLON_COMMENTS = 1 << 2,
};

/* Called for non-fatal problems (unknown or repeated key in non-strict mode). */
typedef void (*cfg_warn_fn)(const char *file, unsigned line, const char *msg, void *userdata);

/* Apply every default of the table to obj. Returns 0 or a negative errno (bad default: a bug). */
int cfg_apply_defaults(const struct cfg_entry *table, size_t n, void *obj);
/* Set one key ('-' and '_' interchangeable). Returns 0, -ENOENT (unknown key), -EINVAL/-ERANGE
 * (bad value; errbuf says why). An empty value means the default. */
int cfg_set(const struct cfg_entry *table, size_t n, void *obj, const char *key, const char *value, char *errbuf,
	    size_t errsize);
/* Load a file. On error errbuf holds "file:line: reason" and a negative errno is returned
 * (-ENOENT when the file itself is missing). */
int cfg_load_file(const struct cfg_entry *table, size_t n, void *obj, const char *path, unsigned flags,
		  cfg_warn_fn warn, void *userdata, char *errbuf, size_t errsize);
/* Frees the CFG_STRING fields. */
void cfg_release(const struct cfg_entry *table, size_t n, void *obj);
const struct cfg_entry *cfg_find(const struct cfg_entry *table, size_t n, const char *key);
/* Parse one "key = value" line. Returns 1 with key/value pointing into line (modified in place),
 * 0 for a blank or comment line, -EINVAL for a line without '=' or a bad quoted value. */
int cfg_split_line(char *line, unsigned flags, char **ret_key, char **ret_value);

#endif
