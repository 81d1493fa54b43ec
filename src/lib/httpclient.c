/* SPDX-License-Identifier: Apache-2.0 */
/* lib/httpclient.c: checked libcurl set-up and curl code → errno (see the header). Follows no
 * redirect: a caller that must follow one (the agent's artifact download) reads the Location and
 * checks it before asking again. */
#include <errno.h>
#include <string.h>

#include "httpclient.h"
#include "util.h"
#include "banned.h"

int httpclient_errno(CURLcode cc)
{
	switch (cc) {
	case CURLE_OK:
		return 0;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_GOT_NOTHING:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
		return -ECONNREFUSED;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_WRITE_ERROR:
	case CURLE_FILESIZE_EXCEEDED:
		return -EMSGSIZE;
	case CURLE_HTTP_RETURNED_ERROR:
		return -EREMOTEIO;
	case CURLE_ABORTED_BY_CALLBACK:
		return -ECANCELED;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_BAD_FUNCTION_ARGUMENT:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
		return -EINVAL;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	default:
		return -EIO;
	}
}

static size_t discard(char *data, size_t size, size_t nmemb, void *userdata)
{
	(void)data;
	(void)userdata;
	return size * nmemb;
}

/* Inside the set-up functions below: a refused option ends the set-up with -EINVAL. */
#define SET(h, opt, val)                                                                                               \
	do {                                                                                                           \
		if (httpclient_setopt((h), (opt), (val)) < 0)                                                          \
			return -EINVAL;                                                                                \
	} while (0)

/* GET asks without a body. POST and PUT send body, or an empty one (so a Content-Length goes out);
 * other methods send body when there is one. */
static int set_method(CURL *h, const struct httpclient_request *req)
{
	const char *m = req->method ? req->method : "GET";

	if (streq(m, "GET")) {
		SET(h, CURLOPT_HTTPGET, 1L);
		return 0;
	}
	if (req->body || streq(m, "POST") || streq(m, "PUT")) {
		const char *body = req->body ? req->body : "";
		size_t len = req->body && req->body_len ? req->body_len : strlen(body);
		SET(h, CURLOPT_POSTFIELDS, body);
		SET(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	}
	SET(h, CURLOPT_CUSTOMREQUEST, m);
	return 0;
}

static int set_transfer(CURL *h, const struct httpclient_request *req, char *errbuf)
{
	SET(h, CURLOPT_URL, req->url);
	SET(h, CURLOPT_ERRORBUFFER, errbuf);
	SET(h, CURLOPT_NOSIGNAL, 1L);
	SET(h, CURLOPT_PROTOCOLS_STR, req->protocols ? req->protocols : "http,https");
	SET(h, CURLOPT_FOLLOWLOCATION, 0L);
	SET(h, CURLOPT_FAILONERROR, req->fail_on_error ? 1L : 0L);
	SET(h, CURLOPT_CONNECTTIMEOUT_MS, req->connect_timeout_ms > 0 ? req->connect_timeout_ms : 10000L);
	if (req->timeout_ms > 0)
		SET(h, CURLOPT_TIMEOUT_MS, req->timeout_ms);
	if (req->low_speed_time_s > 0) {
		SET(h, CURLOPT_LOW_SPEED_LIMIT, req->low_speed_limit);
		SET(h, CURLOPT_LOW_SPEED_TIME, req->low_speed_time_s);
	}
	if (req->max_answer_bytes > 0)
		SET(h, CURLOPT_MAXFILESIZE_LARGE, req->max_answer_bytes);
	if (req->user_agent)
		SET(h, CURLOPT_USERAGENT, req->user_agent);
	if (req->headers)
		SET(h, CURLOPT_HTTPHEADER, req->headers);
	return 0;
}

static int set_tls_and_callbacks(CURL *h, const struct httpclient_request *req)
{
	SET(h, CURLOPT_SSL_VERIFYPEER, req->insecure ? 0L : 1L);
	SET(h, CURLOPT_SSL_VERIFYHOST, req->insecure ? 0L : 2L);
	if (req->ca_file)
		SET(h, CURLOPT_CAINFO, req->ca_file);
	SET(h, CURLOPT_WRITEFUNCTION, req->write_fn ? req->write_fn : discard);
	SET(h, CURLOPT_WRITEDATA, req->write_data);
	if (req->progress_fn) {
		SET(h, CURLOPT_NOPROGRESS, 0L);
		SET(h, CURLOPT_XFERINFOFUNCTION, req->progress_fn);
		SET(h, CURLOPT_XFERINFODATA, req->progress_data);
	}
	if (req->opensocket_fn) {
		SET(h, CURLOPT_OPENSOCKETFUNCTION, req->opensocket_fn);
		SET(h, CURLOPT_OPENSOCKETDATA, req->opensocket_data);
	}
	return 0;
}

int httpclient_setup(CURL *h, const struct httpclient_request *req, char *errbuf)
{
	int r;

	errbuf[0] = 0;
	curl_easy_reset(h);
	r = set_transfer(h, req, errbuf);
	if (r >= 0)
		r = set_tls_and_callbacks(h, req);
	if (r >= 0)
		r = set_method(h, req);
	return r;
}

int httpclient_new(const struct httpclient_request *req, char *errbuf, CURL **ret)
{
	CURL *h;
	int r;

	errbuf[0] = 0;
	h = curl_easy_init();
	if (!h)
		return -ENOMEM;
	r = httpclient_setup(h, req, errbuf);
	if (r < 0) {
		curl_easy_cleanup(h);
		return r;
	}
	*ret = h;
	return 0;
}

int httpclient_perform(CURL *h, char *errbuf, long *ret_status)
{
	CURLcode cc;
	long status = 0;

	cc = curl_easy_perform(h);
	if (cc != CURLE_OK) {
		if (!errbuf[0])
			(void)str_copy(errbuf, CURL_ERROR_SIZE, curl_easy_strerror(cc));
		return httpclient_errno(cc);
	}
	if (curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK)
		return -EIO;
	*ret_status = status;
	return 0;
}

int httpclient_abort_when(void *flag, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return __atomic_load_n((const bool *)flag, __ATOMIC_RELAXED) ? 1 : 0;
}
