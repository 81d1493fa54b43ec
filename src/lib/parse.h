/* SPDX-License-Identifier: Apache-2.0 */
/* lib/parse.h: bounded number parsing. Reject empty input, leading space, a stray sign,
 * trailing bytes and overflow; return -EINVAL or -ERANGE and leave *ret untouched. Do not log. */
#ifndef SLIPWAY_PARSE_H
#define SLIPWAY_PARSE_H

#include <stdbool.h>
#include <stdint.h>

int parse_i64(const char *s, int64_t min, int64_t max, int64_t *ret);
int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *ret);
int parse_int(const char *s, int min, int max, int *ret);
/* true/false, yes/no, on/off, 1/0 (case-insensitive). */
int parse_bool(const char *s, bool *ret);
/* Bytes with an optional K, M or G suffix (x1024). */
int parse_size(const char *s, uint64_t min, uint64_t max, uint64_t *ret);
/* A non-negative decimal like "0.5" or "30" into milliseconds. */
int parse_seconds_ms(const char *s, int64_t min_ms, int64_t max_ms, int64_t *ret_ms);

/* An RFC 3339 timestamp ("2026-12-06T08:15:46.123456789Z", or with a +hh:mm / -hh:mm offset) as epoch ms. */
int parse_rfc3339_ms(const char *s, int64_t *ret_ms);

#endif
