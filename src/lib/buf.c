/* SPDX-License-Identifier: Apache-2.0 */
/* lib/buf.c: bounded growable string (see buf.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "banned.h"

static char buf_empty[1];

void buf_init(struct buf *b, size_t max)
{
	b->p = buf_empty;
	b->len = 0;
	b->alloc = 0;
	b->max = max;
}

void buf_release(struct buf *b)
{
	if (b->alloc)
		free(b->p);
	buf_init(b, b->max);
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	b->p[0] = '\0';
	if (!b->alloc)
		b->p = buf_empty;
}

static int grow(struct buf *b, size_t extra)
{
	size_t need, n;
	char *p;

	if (extra > b->max || b->len > b->max - extra)
		return -EMSGSIZE;
	need = b->len + extra + 1;
	if (need <= b->alloc)
		return 0;
	n = b->alloc ? b->alloc : 64;
	while (n < need) {
		if (n > ((size_t)-1) / 2)
			return -ENOMEM;
		n *= 2;
	}
	p = b->alloc ? realloc(b->p, n) : malloc(n);
	if (!p)
		return -ENOMEM;
	if (!b->alloc)
		p[0] = '\0';
	b->p = p;
	b->alloc = n;
	return 0;
}

int buf_append(struct buf *b, const void *data, size_t n)
{
	int r = grow(b, n);
	if (r < 0)
		return r;
	if (n)
		memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

int buf_appends(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int buf_appendc(struct buf *b, char c)
{
	return buf_append(b, &c, 1);
}

int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list aq;
	int n, r;

	va_copy(aq, ap);
	n = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	if (n < 0)
		return -EINVAL;
	r = grow(b, (size_t)n);
	if (r < 0)
		return r;
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return r;
}

void buf_tail(struct buf *b, size_t n)
{
	if (b->len <= n)
		return;
	memmove(b->p, b->p + (b->len - n), n);
	b->len = n;
	b->p[n] = '\0';
}

char *buf_detach(struct buf *b)
{
	char *p;

	if (!b->alloc)
		p = strdup("");
	else
		p = b->p;
	buf_init(b, b->max);
	return p;
}
