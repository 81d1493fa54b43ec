/* SPDX-License-Identifier: Apache-2.0 */
/* cli/http.c: libcurl transport of the CLI. FAILONERROR stays off: a 4xx/5xx answer carries a JSON
 * error body whose message is what the user needs to see (PROTOCOL §1.6). No redirects. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "buf.h"
#include "http.h"
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

#define SETOPT(h, opt, val)                                                                                            \
	do {                                                                                                           \
		if (curl_easy_setopt((h), (opt), (val)) != CURLE_OK) {                                                 \
			r = -EINVAL;                                                                                   \
			goto out;                                                                                      \
		}                                                                                                      \
	} while (0)

static int curl_errno(CURLcode cc)
{
	switch (cc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_GOT_NOTHING:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
		return -ECONNREFUSED;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	case CURLE_WRITE_ERROR:
	case CURLE_FILESIZE_EXCEEDED:
		return -EBADMSG;
	default:
		return -EINVAL;
	}
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

int http_request(struct cli *c, const char *method, const char *url, const json_t *body, json_t **ret_json)
{
	char errbuf[CURL_ERROR_SIZE] = "", ua[64], *auth = NULL, *payload = NULL;
	struct curl_slist *headers = NULL, *h;
	json_t *j = NULL;
	struct buf resp;
	CURL *curl = NULL;
	CURLcode cc;
	long status = 0;
	int r;

	buf_init(&resp, HTTP_MAX_RESPONSE_BYTES);
	r = cli_resolve(c);
	if (r < 0)
		goto out;
	curl = curl_easy_init();
	if (!curl) {
		r = -ENOMEM;
		goto out;
	}
	snprintf(ua, sizeof(ua), "slipway-cli/%s", SLIPWAY_VERSION);
	if (!(h = curl_slist_append(headers, "Accept: application/json"))) {
		r = -ENOMEM;
		goto out;
	}
	headers = h;
	if (body) {
		payload = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
		if (!payload || !(h = curl_slist_append(headers, "Content-Type: application/json"))) {
			r = -ENOMEM;
			goto out;
		}
		headers = h;
	}
	if (c->token) {
		if (asprintf(&auth, "Authorization: token %s", c->token) < 0) {
			auth = NULL;
			r = -ENOMEM;
			goto out;
		}
		if (!(h = curl_slist_append(headers, auth))) {
			r = -ENOMEM;
			goto out;
		}
		headers = h;
	}

	SETOPT(curl, CURLOPT_URL, url);
	SETOPT(curl, CURLOPT_ERRORBUFFER, errbuf);
	SETOPT(curl, CURLOPT_NOSIGNAL, 1L);
	SETOPT(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	SETOPT(curl, CURLOPT_FOLLOWLOCATION, 0L);
	SETOPT(curl, CURLOPT_SSL_VERIFYPEER, c->insecure ? 0L : 1L);
	SETOPT(curl, CURLOPT_SSL_VERIFYHOST, c->insecure ? 0L : 2L);
	if (c->ca_file)
		SETOPT(curl, CURLOPT_CAINFO, c->ca_file);
	SETOPT(curl, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	SETOPT(curl, CURLOPT_TIMEOUT_MS, (long)c->timeout_ms);
	SETOPT(curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)HTTP_MAX_RESPONSE_BYTES);
	SETOPT(curl, CURLOPT_USERAGENT, ua);
	SETOPT(curl, CURLOPT_HTTPHEADER, headers);
	SETOPT(curl, CURLOPT_CUSTOMREQUEST, method);
	SETOPT(curl, CURLOPT_WRITEFUNCTION, on_body);
	SETOPT(curl, CURLOPT_WRITEDATA, &resp);
	if (payload) {
		SETOPT(curl, CURLOPT_POSTFIELDS, payload);
		SETOPT(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(payload));
	} else if (streq(method, "PUT") || streq(method, "POST")) {
		SETOPT(curl, CURLOPT_POSTFIELDS, "");
		SETOPT(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
	}
	if (streq(method, "GET"))
		SETOPT(curl, CURLOPT_HTTPGET, 1L);

	cc = curl_easy_perform(curl);
	if (cc != CURLE_OK) {
		r = curl_errno(cc);
		cli_fail(c, r, "%s %s: %s", method, url, errbuf[0] ? errbuf : curl_easy_strerror(cc));
		goto out;
	}
	(void)curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
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
