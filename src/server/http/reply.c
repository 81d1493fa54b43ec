/* SPDX-License-Identifier: Apache-2.0 */
/* http/reply.c: answers: JSON (with Location for 201), raw data, empty, the JSON error body, fixed answers built
 * once (the ping's NOOP), and the headers every answer carries; suspend/resume for long-polls. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "util.h"
#include "banned.h"

/* The headers every answer carries: no MIME sniffing of JSON into HTML, no framing, no Referer with tokens in URLs. */
static void common_headers(struct MHD_Response *resp)
{
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "X-Frame-Options", "DENY");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
}

/* Queue resp (not consumed) for r. */
static int queue(struct req *r, int status, struct MHD_Response *resp)
{
	if (MHD_queue_response(r->conn, (unsigned)status, resp) != MHD_YES)
		return -EIO;
	r->replied = true;
	r->status = status;
	return 0;
}

int http_queue(struct req *r, int status, struct MHD_Response *resp)
{
	int k;

	if (!resp)
		return -ENOMEM;
	common_headers(resp);
	if (status == 503 && r->retry_after) {
		char ra[24];
		(void)str_printf(ra, sizeof(ra), "%d", r->retry_after_s);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, ra);
	}
	if (r->close_after)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	k = queue(r, status, resp);
	MHD_destroy_response(resp);
	return k;
}

/* ---- fixed answers: built once, queued again and again (libmicrohttpd counts a response's references) ---- */

#define FIXED_MAX 8
static struct fixed_answer {
	const void *data; /* the caller's static body: the key, with status and content type */
	int status;
	const char *content_type;
	struct MHD_Response *resp; /* set last (release): the slot is complete once it is seen */
} fixed[FIXED_MAX];
static pthread_mutex_t fixed_lock = PTHREAD_MUTEX_INITIALIZER;

static bool fixed_is(const struct fixed_answer *f, int status, const char *content_type, const void *data)
{
	return f->data == data && f->status == status && f->content_type == content_type;
}

/* The response of a fixed answer, made on first use; NULL when out of slots or memory. */
static struct MHD_Response *fixed_response(int status, const char *content_type, const void *data, size_t len)
{
	struct MHD_Response *resp = NULL;
	size_t i;

	for (i = 0; i < FIXED_MAX; i++) {
		resp = __atomic_load_n(&fixed[i].resp, __ATOMIC_ACQUIRE);
		if (!resp)
			break;
		if (fixed_is(&fixed[i], status, content_type, data))
			return resp;
	}
	pthread_mutex_lock(&fixed_lock);
	for (i = 0; i < FIXED_MAX && fixed[i].resp; i++)
		if (fixed_is(&fixed[i], status, content_type, data))
			break;
	if (i < FIXED_MAX && !fixed[i].resp) {
		resp = MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_PERSISTENT);
		if (resp) {
			if (content_type)
				MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
			common_headers(resp);
			fixed[i] = (struct fixed_answer){ .data = data, .status = status, .content_type = content_type };
			__atomic_store_n(&fixed[i].resp, resp, __ATOMIC_RELEASE);
		}
	} else
		resp = i < FIXED_MAX ? fixed[i].resp : NULL;
	pthread_mutex_unlock(&fixed_lock);
	return resp;
}

int http_reply_fixed(struct req *r, int status, const char *content_type, const void *data, size_t len)
{
	struct MHD_Response *resp;

	if (r->replied)
		return 0;
	/* an answer with per-request headers is built as any other */
	resp = r->close_after || r->retry_after ? NULL : fixed_response(status, content_type, data, len);
	if (!resp)
		return http_reply_data(r, status, content_type, data, len);
	r->resp_bytes = len;
	return queue(r, status, resp);
}

void http_fixed_free(void)
{
	pthread_mutex_lock(&fixed_lock);
	for (size_t i = 0; i < FIXED_MAX; i++) {
		if (fixed[i].resp)
			MHD_destroy_response(fixed[i].resp);
		fixed[i] = (struct fixed_answer){ 0 };
	}
	pthread_mutex_unlock(&fixed_lock);
}

int http_reply_data(struct req *r, int status, const char *content_type, const void *data, size_t len)
{
	struct MHD_Response *resp;

	if (r->replied)
		return 0;
	resp = MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_MUST_COPY);
	if (!resp)
		return -ENOMEM;
	if (content_type)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
	r->resp_bytes = len;
	return http_queue(r, status, resp);
}

static int reply_text_loc(struct req *r, int status, char *txt, size_t len, const char *location)
{
	struct MHD_Response *resp;

	if (r->replied) {
		free(txt);
		return 0;
	}
	resp = MHD_create_response_from_buffer(len, txt, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(txt);
		return -ENOMEM;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	if (location)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, location);
	r->resp_bytes = len;
	return http_queue(r, status, resp);
}

static int reply_json_loc(struct req *r, int status, json_t *body, const char *location)
{
	char *txt;

	if (r->replied) {
		json_decref(body);
		return 0;
	}
	txt = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(body);
	if (!txt)
		return -ENOMEM;
	return reply_text_loc(r, status, txt, strlen(txt), location);
}

int http_reply_json_text(struct req *r, int status, char *txt, size_t len)
{
	if (!txt)
		return -ENOMEM;
	return reply_text_loc(r, status, txt, len, NULL);
}

int http_reply_json(struct req *r, int status, json_t *body)
{
	if (!body)
		return -ENOMEM;
	return reply_json_loc(r, status, body, NULL);
}

int http_reply_created(struct req *r, const char *location, json_t *body)
{
	if (!body)
		return -ENOMEM;
	return reply_json_loc(r, 201, body, location);
}

int http_reply_empty(struct req *r, int status)
{
	return http_reply_data(r, status, NULL, "", 0);
}

/* s with every non-ASCII byte replaced by '?' (for a message that is not valid UTF-8). */
static void ascii_only(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			*s = '?';
}

int http_reply_error(struct req *r, int status, const char *field, const char *message)
{
	json_t *b = json_pack("{s:i,s:s,s:s?}", "code", status, "message", message, "field",
			      field && *field ? field : NULL);
	if (!b && message) {
		/* a request value echoed into the message or field is not UTF-8, which JSON cannot carry:
		 * answer anyway (without an answer the client would wait for the connection timeout) */
		char m[sizeof(r->err_message)], f[sizeof(r->err_field)];
		(void)str_copy(m, sizeof(m), message);
		(void)str_copy(f, sizeof(f), field ? field : "");
		ascii_only(m);
		ascii_only(f);
		b = json_pack("{s:i,s:s,s:s?}", "code", status, "message", m, "field", *f ? f : NULL);
	}
	return http_reply_json(r, status, b);
}

static const char *default_message(int status)
{
	switch (status) {
	case 400:
		return "bad request";
	case 401:
		return "authentication required";
	case 403:
		return "forbidden";
	case 404:
		return "not found";
	case 405:
		return "method not allowed";
	case 409:
		return "conflict with the current state";
	case 413:
		return "request body too large";
	case 503:
		return "service unavailable";
	default:
		return "internal error";
	}
}

void http_reply_failure(struct req *r, int k)
{
	int status = r->err_status ? r->err_status : http_status_from_errno(k);

	if (status == 500 || !r->err_status)
		(void)http_reply_error(r, status, NULL, default_message(status));
	else
		(void)http_reply_error(r, status, r->err_field, r->err_message);
}

void http_suspend(struct req *r)
{
	r->suspended = true;
	MHD_suspend_connection(r->conn);
}

void http_resume(struct req *r)
{
	MHD_resume_connection(r->conn);
}
