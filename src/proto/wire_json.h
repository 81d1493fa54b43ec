/* SPDX-License-Identifier: Apache-2.0 */
/* proto/wire_json.h: the JSON helpers shared by wire.c and wire_ping.c (private to src/proto). Errors are negative
 * errno values; wire_err() records the field and message of a validation error and returns -EINVAL. */
#ifndef SLIPWAY_PROTO_WIRE_JSON_H
#define SLIPWAY_PROTO_WIRE_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "wire.h"

typedef int (*wire_enum_from_fn)(const char *s);
typedef const char *(*wire_enum_to_fn)(int v);

void wire_free_str(char **p);
int wire_dup_str(const char *s, char **ret);
int wire_err(struct proto_error *err, const char *field, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
bool wire_has_control(const char *s);
/* A string member, strictly: a string of at most max_chars characters without NUL (required: present). */
int wire_get_str_strict(const json_t *obj, const char *key, const char *field, size_t max_chars, bool required,
			char **ret, struct proto_error *err);
int wire_set_str(json_t *obj, const char *key, const char *value);
int wire_set_new(json_t *obj, const char *key, json_t *v);
int wire_set_enum(json_t *obj, const char *key, wire_enum_to_fn to, int value, const char *raw);

#endif
