/* SPDX-License-Identifier: Apache-2.0 */
/* store/dsn.c: DSNs for logs, without their passwords (dsn.h). libpq parses PostgreSQL connection strings (both the
 * URL and the key=value form), so what is hidden is exactly what libpq would use as a secret. */
#include <stdbool.h>
#include <string.h>

#ifdef WITH_POSTGRES
#include <libpq-fe.h>
#endif

#include "buf.h"
#include "dsn.h"
#include "util.h"
#include "banned.h"

static const char *put(const char *s, char *buf, size_t size)
{
	size_t n = strlen(s);

	if (size == 0)
		return buf;
	if (n >= size)
		n = size - 1;
	memcpy(buf, s, n);
	buf[n] = 0;
	return buf;
}

#ifdef WITH_POSTGRES
/* key=value, the value quoted as libpq reads it when it is empty or holds a space, a quote or a backslash */
static int append_option(struct buf *b, const PQconninfoOption *o)
{
	bool secret = o->dispchar && o->dispchar[0] == '*';
	const char *v = secret ? "***" : o->val;
	int r = 0;

	if (b->len > 0)
		r |= buf_appendc(b, ' ');
	r |= buf_printf(b, "%s=", o->keyword);
	if (v[0] && !strpbrk(v, " \t\n\r\f\v'\\"))
		return r | buf_appends(b, v);
	r |= buf_appendc(b, '\'');
	for (const char *p = v; *p; p++) {
		if (*p == '\'' || *p == '\\')
			r |= buf_appendc(b, '\\');
		r |= buf_appendc(b, *p);
	}
	return r | buf_appendc(b, '\'');
}

static const char *redact_pg(const char *dsn, char *buf, size_t size)
{
	PQconninfoOption *opts;
	char *err = NULL;
	struct buf b;
	int r = 0;

	opts = PQconninfoParse(dsn, &err);
	if (!opts) {
		/* libpq's message may quote the string: not shown either */
		PQfreemem(err);
		return put("(a PostgreSQL connection string that does not parse)", buf, size);
	}
	buf_init(&b, size > 0 ? size - 1 : 0);
	for (const PQconninfoOption *o = opts; o->keyword && r >= 0; o++)
		if (o->val)
			r = append_option(&b, o);
	PQconninfoFree(opts);
	/* cut at the cap: every secret is already "***", so a prefix reveals nothing */
	put(b.p, buf, size);
	buf_release(&b);
	return buf;
}
#endif

const char *dsn_redact(const char *dsn, char *buf, size_t size)
{
	if (!dsn)
		return put("(none)", buf, size);
	if (startswith(dsn, "sqlite:"))
		return put(dsn, buf, size); /* a file path: no secret */
#ifdef WITH_POSTGRES
	return redact_pg(dsn, buf, size);
#else
	return put("(a connection string, not shown)", buf, size);
#endif
}
