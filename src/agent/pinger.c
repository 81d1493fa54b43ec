/* SPDX-License-Identifier: Apache-2.0 */
/* agent/pinger.c: the agent's only HTTP client for the deploy service; one libcurl handle kept across pings
 * (its connections reused), set up by lib/httpclient. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "buf.h"
#include "httpclient.h"
#include "jsonutil.h"
#include "log.h"
#include "parse.h"
#include "pinger.h"
#include "util.h"
#include "banned.h"

#define PING_MAX_ANSWER_BYTES (4 * 1024 * 1024)

int pinger_init(struct pinger *p, const struct agent_config *cfg)
{
	memset(p, 0, sizeof(*p));
	p->cfg = cfg;
	p->curl = curl_easy_init();
	if (!p->curl)
		return -ENOMEM;
	snprintf(p->user_agent, sizeof(p->user_agent), "slipway-agent/%s", SLIPWAY_VERSION);
	return 0;
}

void pinger_release(struct pinger *p)
{
	if (p->curl)
		curl_easy_cleanup(p->curl);
	p->curl = NULL;
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct buf *b = userdata;
	size_t n = size * nmemb;

	if (buf_append(b, ptr, n) < 0)
		return 0; /* aborts the transfer: answer too large */
	return n;
}

static int on_progress(void *clientp, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	volatile sig_atomic_t *cancel = clientp;
	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return cancel && *cancel ? 1 : 0;
}

enum attempt_result {
	ATTEMPT_OK,
	ATTEMPT_FAILOVER, /* try the next URL */
	ATTEMPT_FATAL,    /* 4xx: do not fail over */
	ATTEMPT_CANCELED,
};

/* The Retry-After of a 503 in seconds (delta-seconds only: an HTTP-date is not honoured), or -1. */
static int64_t retry_after_s(CURL *curl)
{
	struct curl_header *h = NULL;
	int64_t v;

	if (curl_easy_header(curl, "Retry-After", 0, CURLH_HEADER, -1, &h) != CURLHE_OK || !h || !h->value)
		return -1;
	if (parse_i64(h->value, 0, INT32_MAX, &v) < 0)
		return -1;
	return v;
}

/* A 5xx answer: fail over. A 503 with Retry-After is the server asking for a pause (overload) or, with 0, telling
 * the agent to ask another server now (it is stopping): *ret_retry_after_s records it. */
static void server_unavailable(CURL *curl, const char *base, long status, int64_t *ret_retry_after_s)
{
	int64_t ra = status == 503 ? retry_after_s(curl) : -1;

	*ret_retry_after_s = ra;
	if (ra == 0)
		log_info("server '%s' is shutting down, asking the next one", base);
	else if (ra > 0)
		log_warn("server '%s' is overloaded (HTTP %ld), it asks to retry in %lld s", base, status, (long long)ra);
	else
		log_warn("ping to '%s' failed: HTTP %ld", base, status);
}

static enum attempt_result attempt(struct pinger *p, const char *base, const char *body, int wait_s,
				   volatile sig_atomic_t *cancel, struct ping_response *ret, int64_t *ret_retry_after_s)
{
	CURL *curl = p->curl;
	struct httpclient_request req;
	struct curl_slist *headers = NULL;
	struct buf answer;
	char url[2048], errbuf[CURL_ERROR_SIZE] = "", auth[4200];
	long status = 0;
	json_t *j = NULL;
	enum attempt_result res = ATTEMPT_FAILOVER;
	int r;

	buf_init(&answer, PING_MAX_ANSWER_BYTES);
	if (wait_s > 0)
		snprintf(url, sizeof(url), "%s/v1/system/ping?wait=%d", base, wait_s);
	else
		snprintf(url, sizeof(url), "%s/v1/system/ping", base);
	headers = curl_slist_append(headers, "Content-Type: application/json");
	headers = curl_slist_append(headers, "Accept: application/json");
	if (p->cfg->token && *p->cfg->token) {
		snprintf(auth, sizeof(auth), "Authorization: token %s", p->cfg->token);
		headers = curl_slist_append(headers, auth);
	}
	if (!headers)
		goto out;
	req = (struct httpclient_request){
		.url = url,
		.method = "POST",
		.body = body,
		.headers = headers,
		.user_agent = p->user_agent,
		.connect_timeout_ms = (long)(p->cfg->http_timeout_s * 1000),
		.timeout_ms = (long)((p->cfg->http_timeout_s + (wait_s > 0 ? wait_s : 0)) * 1000),
		.max_answer_bytes = PING_MAX_ANSWER_BYTES,
		.insecure = !p->cfg->tls_verify,
		.ca_file = p->cfg->ca_file && *p->cfg->ca_file ? p->cfg->ca_file : NULL,
		.write_fn = on_body,
		.write_data = &answer,
		.progress_fn = on_progress,
		.progress_data = (void *)cancel,
	};
	if (httpclient_setup(curl, &req, errbuf) < 0) {
		log_warn("cannot set up the ping request to '%s'", base);
		goto out;
	}
	r = httpclient_perform(curl, errbuf, &status);
	if (r == -ECANCELED) {
		res = ATTEMPT_CANCELED;
		goto out;
	}
	if (r < 0) {
		log_warn("ping to '%s' failed: %s", base, errbuf);
		goto out;
	}
	if (status >= 500) {
		server_unavailable(curl, base, status, ret_retry_after_s);
		goto out;
	}
	if (status < 200 || (status >= 300 && status < 400)) {
		log_warn("ping to '%s' failed: HTTP %ld", base, status);
		goto out;
	}
	if (status >= 400) {
		const char *msg = NULL;
		if (json_parse_bounded(answer.p, answer.len, &j, NULL, 0) == 0)
			(void)json_get_string(j, "message", 512, &msg);
		log_error("ping to '%s' refused: HTTP %ld: %.512s", base, status, msg ? msg : "(no message)");
		res = ATTEMPT_FATAL;
		goto out;
	}
	ping_response_init(ret);
	if (answer.len == 0) {
		res = ATTEMPT_OK; /* empty 2xx body = NOOP */
		goto out;
	}
	if (json_parse_bounded(answer.p, answer.len, &j, NULL, 0) < 0 || ping_response_from_json(j, ret) < 0) {
		log_warn("ping to '%s' returned an unparsable answer", base);
		goto out;
	}
	res = ATTEMPT_OK;
out:
	json_decref(j);
	curl_slist_free_all(headers);
	buf_release(&answer);
	return res;
}

int pinger_ping(struct pinger *p, const char *body, int wait_s, volatile sig_atomic_t *cancel,
		struct ping_response *ret)
{
	size_t n = p->cfg->n_server_urls;
	int64_t asked_s = -1; /* the shortest Retry-After among the servers that failed */

	p->retry_after_ms = -1;
	if (n == 0)
		return -EINVAL;
	for (size_t k = 0; k < n; k++) {
		size_t i = (p->last_good + k) % n;
		int64_t ra = -1;
		enum attempt_result res = attempt(p, p->cfg->server_urls[i], body, wait_s, cancel, ret, &ra);

		if (ra >= 0 && (asked_s < 0 || ra < asked_s))
			asked_s = ra;
		switch (res) {
		case ATTEMPT_OK:
			p->last_good = i;
			return 0;
		case ATTEMPT_CANCELED:
			return -ECANCELED;
		case ATTEMPT_FATAL:
			return -EREMOTEIO;
		case ATTEMPT_FAILOVER:
			break;
		}
		if (cancel && *cancel)
			return -ECANCELED;
	}
	if (asked_s >= 0) {
		p->retry_after_ms = asked_s * 1000;
		return -EAGAIN;
	}
	return -EHOSTUNREACH;
}
