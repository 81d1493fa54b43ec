/* SPDX-License-Identifier: Apache-2.0 */
/* lib/httpclient.h: the one libcurl set-up of Slipway's outgoing HTTP (CLI, webhooks, the agent's
 * downloads and S3): every option checked, redirects never followed, signals off, bounded answers,
 * and curl's error codes mapped to negative errno values in one place. Does not log; the text of
 * a failure is left in the caller's error buffer. Calling sequence:
 *
 *	struct httpclient_request req = { .url = url, .method = "POST", .body = json, ... };
 *	char errbuf[CURL_ERROR_SIZE];
 *	CURL *h = NULL;
 *	r = httpclient_new(&req, errbuf, &h);          (then extra options with httpclient_setopt())
 *	r = httpclient_perform(h, errbuf, &status);
 *	curl_easy_cleanup(h);
 */
#ifndef SLIPWAY_HTTPCLIENT_H
#define SLIPWAY_HTTPCLIENT_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>

#include <curl/curl.h>

/* A checked curl_easy_setopt: 0, or -EINVAL when libcurl refuses the option or its value. */
#define httpclient_setopt(h, opt, val) (curl_easy_setopt((h), (opt), (val)) == CURLE_OK ? 0 : -EINVAL)

typedef size_t (*httpclient_write_fn)(char *data, size_t size, size_t nmemb, void *userdata);
/* Return non-zero to abort the transfer (httpclient_perform() then gives -ECANCELED). */
typedef int (*httpclient_progress_fn)(void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
				      curl_off_t ulnow);

/* A progress_fn that aborts the transfer once the bool progress_data points to becomes true (read atomically):
 * a worker's call in flight ends when the server stops. */
int httpclient_abort_when(void *flag, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow);

struct httpclient_request {
	const char *url;
	const char *method;	      /* NULL: GET */
	const char *protocols;	      /* NULL: "http,https" (artifacts add "file") */
	const char *body;	      /* borrowed until the perform; NULL: POST and PUT send an empty one */
	size_t body_len;	      /* of body (0 with a body: strlen(body)) */
	struct curl_slist *headers;   /* borrowed until the perform */
	const char *user_agent;	      /* NULL: libcurl's */
	long connect_timeout_ms;      /* 0: 10 s */
	long timeout_ms;	      /* whole transfer; 0: none (then set low_speed_*) */
	long low_speed_limit;	      /* bytes/s below which ... */
	long low_speed_time_s;	      /* ... for this long the transfer fails with -ETIMEDOUT; 0: off */
	curl_off_t max_answer_bytes;  /* 0: none; checked against the announced size, so the write callback bounds too */
	bool fail_on_error;	      /* HTTP >= 400 is -EREMOTEIO without its body (artifact downloads only) */
	bool insecure;		      /* no TLS peer or host verification */
	const char *ca_file;	      /* NULL: the system's CA store */
	httpclient_write_fn write_fn; /* NULL: the answer is discarded */
	void *write_data;
	httpclient_progress_fn progress_fn; /* NULL: none */
	void *progress_data;
	curl_opensocket_callback opensocket_fn; /* NULL: curl's; else it opens (or refuses) each socket */
	void *opensocket_data;
};

/* A new easy handle set up for req, with errbuf[CURL_ERROR_SIZE] as its error buffer. On success
 * *ret is the caller's (curl_easy_cleanup()). -ENOMEM, or -EINVAL when an option is refused. */
int httpclient_new(const struct httpclient_request *req, char *errbuf, CURL **ret);

/* The same set-up on a handle the caller keeps across requests (the agent's pinger), so its open
 * connections are reused: the handle is reset (curl_easy_reset() keeps the connection cache) and
 * set up for req. 0, or -EINVAL when an option is refused (the handle is then left reset). */
int httpclient_setup(CURL *h, const struct httpclient_request *req, char *errbuf);

/* Run the transfer. On an HTTP answer returns 0 with *ret_status set (any status unless
 * fail_on_error). Otherwise the negative errno of httpclient_errno(); errbuf holds curl's text
 * (filled with curl_easy_strerror() when curl left it empty). */
int httpclient_perform(CURL *h, char *errbuf, long *ret_status);

/* The one mapping of curl's codes: resolve, connect, TLS handshake, send and receive failures and
 * empty answers -ECONNREFUSED; timeouts -ETIMEDOUT; an answer over max_answer_bytes or refused by
 * the write callback -EMSGSIZE; fail_on_error's HTTP >= 400 -EREMOTEIO; an abort from the progress
 * callback -ECANCELED; a malformed URL, an unsupported protocol or bad TLS files -EINVAL; OOM
 * -ENOMEM; anything else -EIO. CURLE_OK is 0. */
int httpclient_errno(CURLcode cc);

#endif
