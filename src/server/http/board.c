/* SPDX-License-Identifier: Apache-2.0 */
/* http/board.c: the board's files, embedded in the binary at build time, served from memory with their
 * type, an ETag, and a Content-Security-Policy that lets only the board's own scripts run. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "embedded.h"
#include "hash.h"
#include "internal.h"
#include "util.h"
#include "banned.h"

static const char *content_type_of(const char *path)
{
	static const struct {
		const char *ext, *type;
	} types[] = {
		{ ".html", "text/html; charset=utf-8" }, { ".js", "text/javascript; charset=utf-8" },
		{ ".css", "text/css; charset=utf-8" },   { ".json", "application/json" },
		{ ".svg", "image/svg+xml" },             { ".png", "image/png" },
		{ ".ico", "image/x-icon" },              { ".txt", "text/plain; charset=utf-8" },
	};
	const char *dot = strrchr(path, '.');
	for (size_t i = 0; dot && i < ELEMENTSOF(types); i++)
		if (streq(dot, types[i].ext))
			return types[i].type;
	return "application/octet-stream";
}

static const struct embedded_file *board_lookup(const char *path)
{
	for (const struct embedded_file *f = board_files; f->path; f++)
		if (streq(f->path, path))
			return f;
	return NULL;
}

/* ETags of the embedded board files, by index in board_files: a quoted prefix of the file's SHA-256, computed
 * once (the files cannot change while the server runs). An empty ETag (out of memory) just disables caching. */
#define BOARD_ETAG_SIZE 20 /* '"' + 16 hex + '"' + NUL */
static char (*board_etags)[BOARD_ETAG_SIZE];
static pthread_once_t board_etags_once = PTHREAD_ONCE_INIT;

static void board_etags_compute(void)
{
	size_t n = 0;

	while (board_files[n].path)
		n++;
	board_etags = calloc(n + 1, sizeof(*board_etags));
	for (size_t i = 0; board_etags && i < n; i++) {
		char hex[SHA256_HEX_LEN + 1];
		if (sha256_hex(board_files[i].data, board_files[i].len, hex) == 0)
			(void)snprintf(board_etags[i], BOARD_ETAG_SIZE, "\"%.16s\"", hex);
	}
}

/* The board's own scripts only (no inline script, no eval), never framed, no plugins, no <base> rewrite. */
#define BOARD_CSP "script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"

/* Whether an If-None-Match header value (a list of entity tags, or "*") names etag. */
static bool etag_matches(const char *if_none_match, const char *etag)
{
	return if_none_match && *etag && (streq(if_none_match, "*") || strstr(if_none_match, etag));
}

/* The board's files are served from memory with their ETag and "Cache-Control: no-cache": the browser keeps
 * them and revalidates each with If-None-Match, which costs a 304 without a body. */
int board_serve(struct req *r)
{
	const struct embedded_file *f;
	struct MHD_Response *resp;
	const char *etag;
	bool same;

	if (!streq(r->method, "GET") && !streq(r->method, "HEAD"))
		return http_fail(r, 405, NULL, "method %s not allowed here", r->method);
	if (strstr(r->path, "%00"))
		return http_fail(r, 400, NULL, "invalid path");
	f = streq(r->path, "/") ? NULL : board_lookup(r->path);
	if (!f)
		f = board_lookup("/index.html");
	if (!f)
		return http_fail(r, 404, NULL, "the board is not built into this server");
	(void)pthread_once(&board_etags_once, board_etags_compute);
	etag = board_etags ? board_etags[f - board_files] : "";
	same = etag_matches(req_header(r, MHD_HTTP_HEADER_IF_NONE_MATCH), etag);
	resp = MHD_create_response_from_buffer(same ? 0 : f->len, (void *)f->data, MHD_RESPMEM_PERSISTENT);
	if (!resp)
		return -ENOMEM;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type_of(f->path));
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	MHD_add_response_header(resp, "Content-Security-Policy", BOARD_CSP);
	if (*etag)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
	r->resp_bytes = same ? 0 : f->len;
	return http_queue(r, same ? 304 : 200, resp);
}
