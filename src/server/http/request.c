/* SPDX-License-Identifier: Apache-2.0 */
/* http/request.c: what a handler reads from its request: path parameters, query (repeated keys kept),
 * headers and the JSON body; the per-request arena (freed with the request); and the error a handler
 * records with http_fail(), with the mapping between statuses and negative errnos. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "internal.h"
#include "jsonutil.h"
#include "parse.h"
#include "util.h"
#include "banned.h"

int query_add(struct query *q, const char *key, const char *value)
{
	char *k, *v;

	if (q->n == q->alloc) {
		size_t na = q->alloc ? q->alloc * 2 : 8;
		char **nk = realloc(q->keys, na * sizeof(char *));
		if (!nk)
			return -ENOMEM;
		q->keys = nk;
		char **nv = realloc(q->values, na * sizeof(char *));
		if (!nv)
			return -ENOMEM;
		q->values = nv;
		q->alloc = na;
	}
	k = strdup(key);
	v = strdup(value ? value : "");
	if (!k || !v) {
		free(k);
		free(v);
		return -ENOMEM;
	}
	q->keys[q->n] = k;
	q->values[q->n] = v;
	q->n++;
	return 0;
}

void query_release(struct query *q)
{
	for (size_t i = 0; i < q->n; i++) {
		free(q->keys[i]);
		free(q->values[i]);
	}
	free(q->keys);
	free(q->values);
	*q = (struct query){ 0 };
}

const char *query_get(const struct query *q, const char *key)
{
	for (size_t i = 0; i < q->n; i++)
		if (streq(q->keys[i], key))
			return q->values[i];
	return NULL;
}

int query_list(const struct query *q, const char *key, json_t **ret)
{
	json_t *a = json_array();

	if (!a)
		return -ENOMEM;
	for (size_t i = 0; i < q->n; i++)
		if (streq(q->keys[i], key) && json_array_append_new(a, json_string(q->values[i])) < 0) {
			json_decref(a);
			return -ENOMEM;
		}
	*ret = a;
	return 0;
}

int query_bool(const struct query *q, const char *key, bool def, bool *ret)
{
	const char *v = query_get(q, key);

	if (!v) {
		*ret = def;
		return 0;
	}
	if (strcasecmp(v, "true") == 0)
		*ret = true;
	else if (strcasecmp(v, "false") == 0)
		*ret = false;
	else
		return -EINVAL;
	return 0;
}

int query_int(const struct query *q, const char *key, int64_t min, int64_t max, int64_t def, int64_t *ret)
{
	const char *v = query_get(q, key);

	if (!v) {
		*ret = def;
		return 0;
	}
	return parse_i64(v, min, max, ret);
}

struct arena_block {
	struct arena_block *next;
	max_align_t data[];
};

void *req_alloc(struct req *r, size_t size)
{
	struct arena_block *b = calloc(1, sizeof(*b) + size);
	if (!b)
		return NULL;
	b->next = r->arena;
	r->arena = b;
	return b->data;
}

char *req_strdup(struct req *r, const char *s)
{
	size_t l = strlen(s);
	char *p = req_alloc(r, l + 1);
	if (p)
		memcpy(p, s, l + 1);
	return p;
}

void req_free(struct req *r)
{
	query_release(&r->query);
	while (r->arena) {
		struct arena_block *n = r->arena->next;
		free(r->arena);
		r->arena = n;
	}
	free(r->body);
	free(r);
}

void req_drop_body(struct req *r)
{
	free(r->body);
	r->body = NULL;
	r->body_len = r->body_alloc = 0;
}

const char *req_param(struct req *r, const char *name)
{
	for (size_t i = 0; i < r->match.n_params; i++)
		if (streq(r->match.names[i], name))
			return r->match.values[i];
	return NULL;
}

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	(void)kind;
	return query_add(cls, key, value) < 0 ? MHD_NO : MHD_YES;
}

const struct query *req_query(struct req *r)
{
	if (!r->query_loaded) {
		r->query_loaded = true;
		if (r->conn)
			(void)MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, collect_arg, &r->query);
	}
	return &r->query;
}

const char *req_header(struct req *r, const char *name)
{
	return r->conn ? MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name) : NULL;
}

int req_json(struct req *r, json_t **ret)
{
	char err[160];
	int k;

	if (!r->body || r->body_len == 0)
		return -ENODATA;
	k = json_parse_bounded(r->body, r->body_len, ret, err, sizeof(err));
	if (k < 0)
		return http_fail(r, 400, NULL, "malformed JSON body: %s", err);
	return 0;
}

/* One form-encoded value: '+' is a space, then libcurl decodes the %XX escapes. */
static int form_decode(const char *s, size_t len, char **ret)
{
	char *plus = strndup(s, len), *dec;
	int n = 0;

	if (!plus)
		return -ENOMEM;
	for (char *p = plus; *p; p++)
		if (*p == '+')
			*p = ' ';
	dec = curl_easy_unescape(NULL, plus, 0, &n);
	free(plus);
	if (!dec)
		return -ENOMEM;
	if (memchr(dec, '\0', (size_t)n)) {
		curl_free(dec);
		return -EINVAL;
	}
	*ret = strdup(dec);
	curl_free(dec);
	return *ret ? 0 : -ENOMEM;
}

int req_form(struct req *r, struct query *ret)
{
	const char *p = r->body, *end = r->body + r->body_len;
	int k = 0;

	*ret = (struct query){ 0 };
	if (!r->body || r->body_len == 0)
		return -ENODATA;
	while (p < end && k >= 0) {
		const char *amp = memchr(p, '&', (size_t)(end - p)), *eq;
		char *key = NULL, *value = NULL;

		if (!amp)
			amp = end;
		eq = memchr(p, '=', (size_t)(amp - p));
		if (amp > p) {
			k = form_decode(p, (size_t)((eq ? eq : amp) - p), &key);
			if (k >= 0)
				k = form_decode(eq ? eq + 1 : amp, eq ? (size_t)(amp - eq - 1) : 0, &value);
			if (k >= 0)
				k = query_add(ret, key, value);
		}
		free(key);
		free(value);
		p = amp + 1;
	}
	if (k < 0) {
		query_release(ret);
		return k == -ENOMEM ? k : http_fail(r, 400, NULL, "malformed form body");
	}
	return 0;
}

int http_status_from_errno(int r)
{
	switch (-r) {
	case ENOENT:
		return 404;
	case EEXIST:
	case EBUSY:
		return 409;
	case EINVAL:
	case EBADMSG:
	case ENODATA:
	case E2BIG:
	case ERANGE:
		return 400;
	case EACCES:
		return 403;
	case EPERM:
		return 401;
	case EMSGSIZE:
		return 413;
	case EAGAIN:
		return 503;
	case EOPNOTSUPP:
		return 405;
	default:
		return 500;
	}
}

static int errno_from_status(int status)
{
	switch (status) {
	case 400:
		return -EINVAL;
	case 401:
		return -EPERM;
	case 403:
		return -EACCES;
	case 404:
		return -ENOENT;
	case 405:
		return -EOPNOTSUPP;
	case 409:
		return -EEXIST;
	case 413:
		return -EMSGSIZE;
	case 503:
		return -EAGAIN;
	default:
		return -EIO;
	}
}

static int retry_later(struct req *r, int retry_after_s, bool close, const char *message)
{
	if (!r->err_status) {
		r->retry_after = true;
		r->retry_after_s = retry_after_s < 0 ? 0 : retry_after_s;
		r->close_after = close;
	}
	return http_fail(r, 503, NULL, "%s", message);
}

int http_unavailable(struct req *r, int retry_after_s, const char *message)
{
	return retry_later(r, retry_after_s, true, message);
}

int http_busy(struct req *r, int retry_after_s, const char *message)
{
	return retry_later(r, retry_after_s, false, message);
}

int http_fail(struct req *r, int status, const char *field, const char *fmt, ...)
{
	va_list ap;

	if (!r->err_status) {
		r->err_status = status;
		va_start(ap, fmt);
		(void)vsnprintf(r->err_message, sizeof(r->err_message), fmt, ap);
		va_end(ap);
		(void)str_copy(r->err_field, sizeof(r->err_field), field ? field : "");
	}
	return errno_from_status(status);
}
