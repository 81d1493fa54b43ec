/* SPDX-License-Identifier: Apache-2.0 */
/* http/reply.c: answers: JSON (with Location for 201), raw data, empty, the JSON error body, and the
 * headers every answer carries; suspend/resume for long-polls. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "util.h"
#include "banned.h"

int http_queue(struct req *r, int status, struct MHD_Response *resp)
{
	enum MHD_Result ok;

	if (!resp)
		return -ENOMEM;
	/* on every answer: no MIME sniffing of JSON into HTML, no framing, no Referer with tokens in URLs */
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "X-Frame-Options", "DENY");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	if (status == 503 && r->retry_after) {
		char ra[24];
		(void)str_printf(ra, sizeof(ra), "%d", r->retry_after_s);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, ra);
	}
	if (r->close_after)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	ok = MHD_queue_response(r->conn, (unsigned)status, resp);
	MHD_destroy_response(resp);
	if (ok != MHD_YES)
		return -EIO;
	r->replied = true;
	r->status = status;
	return 0;
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
