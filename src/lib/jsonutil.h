/* SPDX-License-Identifier: Apache-2.0 */
/* lib/jsonutil.h: jansson helpers shared by every JSON reader. Does not log. */
#ifndef SLIPWAY_JSONUTIL_H
#define SLIPWAY_JSONUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define JSON_MAX_DEPTH 32

/* Nesting depth of j (a scalar is 1). */
int json_depth(const json_t *j);
/* json_loadb with JSON_REJECT_DUPLICATES, then the depth check. -EBADMSG on bad JSON or too deep;
 * errbuf (may be NULL) receives a short reason. */
int json_parse_bounded(const char *data, size_t len, json_t **ret, char *errbuf, size_t errsize);
/* Dump compactly; caller frees. NULL on -ENOMEM. */
char *json_dump_compact(const json_t *j);

/* Field getters for objects read from the wire. Absent or null → -ENOENT (output untouched);
 * wrong type → -EINVAL; string longer than max → -E2BIG. */
int json_get_string(const json_t *obj, const char *key, size_t max, const char **ret);
int json_get_int(const json_t *obj, const char *key, int64_t min, int64_t max, int64_t *ret);
int json_get_bool(const json_t *obj, const char *key, bool *ret);
/* set obj[key] = string or null */
int json_set_string_or_null(json_t *obj, const char *key, const char *value);

#endif
