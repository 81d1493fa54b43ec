/* SPDX-License-Identifier: Apache-2.0 */
/* cli/http.h: URL building (percent-encoded path segments and query values) and one JSON HTTP
 * exchange with slipway-server over libcurl. Failures leave their text on the cli handle. */
#ifndef SLIPWAY_CLI_HTTP_H
#define SLIPWAY_CLI_HTTP_H

#include <stddef.h>

#include <jansson.h>

#include "cli.h"

#define URL_QUERY_MAX		32
#define HTTP_MAX_RESPONSE_BYTES (64u * 1024 * 1024)

/* Query parameters; keys and values are borrowed (they must outlive url_build()). */
struct url_query {
	size_t n;
	struct {
		const char *key;
		const char *value;
	} items[URL_QUERY_MAX];
};

/* Append key=value (value NULL: nothing is added). -E2BIG when full. */
int url_query_add(struct url_query *q, const char *key, const char *value);

/* Percent-encode s (RFC 3986: unreserved characters kept) into a malloc'd string. NULL on OOM. */
char *url_escape(const char *s);

/* "<server><path>[?query]". path_fmt is copied literally except that each "%s" takes the next
 * const char * argument, percent-encoded as one path segment (so "a/b" cannot add a segment).
 * q may be NULL. *ret is malloc'd. Returns 0, -ENOMEM or -EINVAL (unsupported format). */
int url_build(const char *server, const struct url_query *q, char **ret, const char *path_fmt, ...);

/* One request. body may be NULL (no body). On a 2xx answer *ret_json (if ret_json is non-NULL)
 * receives the parsed body, or NULL for an empty body, and 0 is returned. Otherwise returns:
 * -EREMOTEIO (HTTP ≥ 300; c->http_status set; c->errmsg = the server's JSON "message" and
 * "field"), -ECONNREFUSED (cannot connect or resolve), -ETIMEDOUT, -EBADMSG (2xx body that is
 * not JSON), -ENOMEM, -EINVAL (URL or option refused by libcurl). Calls cli_resolve() first. */
int http_request(struct cli *c, const char *method, const char *url, const json_t *body, json_t **ret_json);

/* http_request() with a path built like url_build(). */
int http_requestf(struct cli *c, const char *method, const struct url_query *q, const json_t *body, json_t **ret_json,
		  const char *path_fmt, ...);

#endif
