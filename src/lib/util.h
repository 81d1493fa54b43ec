/* SPDX-License-Identifier: Apache-2.0 */
/* lib/util.h: time, ids, small string helpers and name checks. Does not log. */
#ifndef SLIPWAY_UTIL_H
#define SLIPWAY_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))
#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

static inline bool streq(const char *a, const char *b)
{
	return strcmp(a, b) == 0;
}
static inline bool streq_ptr(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}
static inline bool startswith(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Wall clock, epoch milliseconds (display, database). */
int64_t now_ms(void);
/* Monotonic milliseconds (timeouts, deadlines), and microseconds. */
int64_t mono_ms(void);
int64_t mono_us(void);
/* "2026-01-01T00:05:00Z" (or with .mmm when with_ms); returns out. */
char *fmt_rfc3339(int64_t ms, char *out, size_t size);

/* Copy src into dst[size]; -ENAMETOOLONG (dst emptied) when it does not fit. */
int str_copy(char *dst, size_t size, const char *src);
int str_printf(char *dst, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Random bytes from getrandom(2); -EIO on failure. */
int random_bytes(void *p, size_t n);
/* Uniform random in [0, n) (n > 0). */
uint64_t random_u64(uint64_t n);

#define ID_LEN 22
/* PROTOCOL §1.1: UUIDv4 as URL-safe base64 without padding, 22 chars; leading '_' -> 'x', '-' -> 'X'. */
int id_generate(char out[ID_LEN + 1]);
/* 32 random bytes as URL-safe base64 without padding (43 chars). */
#define TOKEN_LEN 43
int token_generate(char out[TOKEN_LEN + 1]);

/* True iff every byte of s is alphanumeric or in extra, and min <= strlen(s) <= max. */
/* The k-th (1-based) entry of the comma-separated list, without surrounding spaces, into ret[size]; -EINVAL when
 * list has no such entry or it is empty or too long. */
int str_csv_entry(const char *list, int k, char *ret, size_t size);
bool str_charset_ok(const char *s, const char *extra, size_t min, size_t max);

#endif
