/* SPDX-License-Identifier: Apache-2.0 */
/* lib/buf.h: the one bounded, growable string. p is never NULL and always NUL-terminated;
 * the cap (max bytes of content) is fixed at init and appends past it fail with -EMSGSIZE
 * (leaving the buffer unchanged). Does not log. */
#ifndef SLIPWAY_BUF_H
#define SLIPWAY_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char *p;      /* never NULL; "" until something is appended */
	size_t len;   /* bytes of content, excluding the NUL */
	size_t alloc; /* bytes allocated for p (0 while p points at the static "") */
	size_t max;   /* cap on len */
};

#define BUF_UNBOUNDED ((size_t)-1 / 2)

/* Sets up an empty buffer capped at max bytes. Allocates nothing. */
void buf_init(struct buf *b, size_t max);
/* Frees the contents; b may be re-used after buf_init. */
void buf_release(struct buf *b);
/* Empties the buffer, keeping its allocation and cap. */
void buf_reset(struct buf *b);
/* Returns 0, -EMSGSIZE past the cap, -ENOMEM. */
int buf_append(struct buf *b, const void *data, size_t n);
int buf_appends(struct buf *b, const char *s);
int buf_appendc(struct buf *b, char c);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Keeps only the last n bytes of the content. */
void buf_tail(struct buf *b, size_t n);
/* Takes the string out (caller frees; never NULL unless -ENOMEM, then NULL); b is left empty. */
char *buf_detach(struct buf *b);

#endif
