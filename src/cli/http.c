/* SPDX-License-Identifier: Apache-2.0 */
/* cli/http.c: libcurl transport of the CLI. FAILONERROR stays off: a 4xx/5xx answer carries a JSON
 * error body whose message is what the user needs to see (PROTOCOL §1.6). No redirects. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "http.h"
#include "httpclient.h"
#include "jsonutil.h"
#include "util.h"
#include "banned.h"

int url_query_add(struct url_query *q, const char *key, const char *value)
{
	if (!value)
		return 0;
	if (q->n >= URL_QUERY_MAX)
		return -E2BIG;
	q->items[q->n].key = key;
	q->items[q->n].value = value;
	q->n++;
	return 0;
}

static int append_escaped(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	int r = 0;

	for (; *s && r >= 0; s++) {
		unsigned char ch = (unsigned char)*s;

		if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' ||
		    ch == '.' || ch == '_' || ch == '~')
			r = buf_appendc(b, (char)ch);
		else {
			char e[3] = {'%', hex[ch >> 4], hex[ch & 15]};
			r = buf_append(b, e, 3);
		}
	}
	return r;
}

char *url_escape(const char *s)
{
	struct buf b;

	buf_init(&b, BUF_UNBOUNDED);
	if (append_escaped(&b, s) < 0) {
		buf_release(&b);
		return NULL;
	}
	return buf_detach(&b);
}

static int url_vbuild(const char *server, const struct url_query *q, char **ret, const char *fmt, va_list ap)
{
	struct buf b;
	char *s;
	int r;

	buf_init(&b, BUF_UNBOUNDED);
	r = buf_appends(&b, server);
	for (const char *p = fmt; r >= 0 && *p; p++) {
		if (*p != '%') {
			r = buf_appendc(&b, *p);
			continue;
		}
		if (p[1] != 's') {
			r = -EINVAL;
			break;
		}
		p++;
		r = append_escaped(&b, va_arg(ap, const char *));
	}
	for (size_t i = 0; q && r >= 0 && i < q->n; i++) {
		r = buf_appendc(&b, i == 0 ? '?' : '&');
		if (r >= 0)
			r = append_escaped(&b, q->items[i].key);
		if (r >= 0)
			r = buf_appendc(&b, '=');
		if (r >= 0)
			r = append_escaped(&b, q->items[i].value);
	}
	if (r < 0) {
		buf_release(&b);
		return r == -EMSGSIZE ? -ENOMEM : r;
	}
	s = buf_detach(&b);
	if (!s)
		return -ENOMEM;
	*ret = s;
	return 0;
}

int url_build(const char *server, const struct url_query *q, char **ret, const char *path_fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, path_fmt);
	r = url_vbuild(server, q, ret, path_fmt, ap);
	va_end(ap);
	return r;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct buf *b = userdata;
	size_t n = size * nmemb;

	if (buf_append(b, data, n) < 0)
		return 0; /* makes curl fail with CURLE_WRITE_ERROR */
	return n;
}

/* The server's error body: {"code", "message", "field"}; anything else is shown raw (capped). */
static void record_http_error(struct cli *c, long status, const struct buf *body)
{
	json_t *j = NULL;
	const char *msg = NULL, *field = NULL;

	c->http_status = status;
	if (body->len > 0 && json_parse_bounded(body->p, body->len, &j, NULL, 0) == 0 && json_is_object(j)) {
		(void)json_get_string(j, "message", 4096, &msg);
		(void)json_get_string(j, "field", 256, &field);
	}
	if (msg && field)
		cli_fail(c, 0, "%s (field '%s', HTTP %ld)", msg, field, status);
	else if (msg)
		cli_fail(c, 0, "%s (HTTP %ld)", msg, status);
	else if (body->len > 0 && status < 500)
		cli_fail(c, 0, "HTTP %ld: %.200s", status, body->p);
	else
		cli_fail(c, 0, "the server answered HTTP %ld", status);
	json_decref(j);
}

/* The request headers: JSON in, JSON out, and the token. *ret and *ret_auth (the token line, wiped
 * before it is freed) are the caller's. */
static int request_headers(const struct cli *c, bool with_body, struct curl_slist **ret, char **ret_auth)
{
	/* appending to a non-empty list returns its head, or NULL (the list untouched) on OOM */
	struct curl_slist *headers = curl_slist_append(NULL, "Accept: application/json");
	char *auth = NULL;
	bool ok = headers != NULL;

	if (ok && with_body)
		ok = curl_slist_append(headers, "Content-Type: application/json") != NULL;
	if (ok && c->token) {
		if (asprintf(&auth, "Authorization: token %s", c->token) < 0)
			auth = NULL;
		ok = auth && curl_slist_append(headers, auth) != NULL;
	}
	if (!ok) {
		curl_slist_free_all(headers);
		if (auth) {
			explicit_bzero(auth, strlen(auth));
			free(auth);
		}
		return -ENOMEM;
	}
	*ret = headers;
	*ret_auth = auth;
	return 0;
}

int http_request(struct cli *c, const char *method, const char *url, const json_t *body, json_t **ret_json)
{
	char errbuf[CURL_ERROR_SIZE] = "", ua[64], *auth = NULL, *payload = NULL;
	struct curl_slist *headers = NULL;
	struct httpclient_request req;
	json_t *j = NULL;
	struct buf resp;
	CURL *curl = NULL;
	long status = 0;
	int r;

	buf_init(&resp, HTTP_MAX_RESPONSE_BYTES);
	r = cli_resolve(c);
	if (r < 0)
		goto out;
	snprintf(ua, sizeof(ua), "slipway-cli/%s", SLIPWAY_VERSION);
	if (body && !(payload = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY))) {
		r = -ENOMEM;
		goto out;
	}
	r = request_headers(c, payload != NULL, &headers, &auth);
	if (r < 0)
		goto out;
	req = (struct httpclient_request){
		.url = url,
		.method = method,
		.body = payload,
		.headers = headers,
		.user_agent = ua,
		.timeout_ms = (long)c->timeout_ms,
		.max_answer_bytes = (curl_off_t)HTTP_MAX_RESPONSE_BYTES,
		.insecure = c->insecure,
		.ca_file = c->ca_file,
		.write_fn = on_body,
		.write_data = &resp,
	};
	r = httpclient_new(&req, errbuf, &curl);
	if (r >= 0)
		r = httpclient_perform(curl, errbuf, &status);
	if (r < 0) {
		if (r == -EMSGSIZE)
			r = -EBADMSG; /* an answer over HTTP_MAX_RESPONSE_BYTES is none the server gives */
		cli_fail(c, r, "%s %s: %s", method, url, errbuf[0] ? errbuf : strerror(-r));
		goto out;
	}
	if (status < 200 || status >= 300) {
		record_http_error(c, status, &resp);
		r = -EREMOTEIO;
		goto out;
	}
	if (resp.len > 0) {
		r = json_parse_bounded(resp.p, resp.len, &j, NULL, 0);
		if (r < 0) {
			cli_fail(c, r, "%s %s: the answer is not JSON", method, url);
			goto out;
		}
	}
	if (ret_json) {
		*ret_json = j;
		j = NULL;
	}
	r = 0;
out:
	json_decref(j);
	curl_easy_cleanup(curl);
	curl_slist_free_all(headers);
	free(payload);
	if (auth) {
		explicit_bzero(auth, strlen(auth));
		free(auth);
	}
	buf_release(&resp);
	return r;
}

int http_requestf(struct cli *c, const char *method, const struct url_query *q, const json_t *body, json_t **ret_json,
		  const char *path_fmt, ...)
{
	char *url = NULL;
	va_list ap;
	int r;

	r = cli_resolve(c);
	if (r < 0)
		return r;
	va_start(ap, path_fmt);
	r = url_vbuild(c->server, q, &url, path_fmt, ap);
	va_end(ap);
	if (r < 0)
		return r;
	r = http_request(c, method, url, body, ret_json);
	free(url);
	return r;
}
