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

struct buf;
/* Writers of JSON text byte-identical to json_dumps(..., JSON_COMPACT | JSON_ENCODE_ANY), for replies built
 * without a DOM. json_append_value appends the dump of v; json_append_stringn the string s[0..len) quoted and
 * escaped as jansson does (plain ASCII copied directly, anything else through jansson): -EILSEQ when s is not
 * UTF-8 (json_stringn refuses it too); json_append_int an integer. 0, or -ENOMEM / -EMSGSIZE (b unchanged
 * only for -EILSEQ). */
int json_append_value(struct buf *b, const json_t *v);
int json_append_stringn(struct buf *b, const char *s, size_t len);
int json_append_int(struct buf *b, json_int_t v);

/* Field getters for objects read from the wire. Absent or null → -ENOENT (output untouched);
 * wrong type → -EINVAL; string longer than max → -E2BIG. */
int json_get_string(const json_t *obj, const char *key, size_t max, const char **ret);
int json_get_int(const json_t *obj, const char *key, int64_t min, int64_t max, int64_t *ret);
int json_get_bool(const json_t *obj, const char *key, bool *ret);

/* Field readers for objects the program built or the store returned, whose shape is known: the string at key
 * (NULL when absent or not a string), the integer at key (0 when absent or not an integer). */
static inline const char *json_str(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

static inline int64_t json_int(const json_t *obj, const char *key)
{
	return json_integer_value(json_object_get(obj, key));
}

#endif
