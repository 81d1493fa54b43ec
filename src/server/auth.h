/* SPDX-License-Identifier: Apache-2.0 */
/* auth.h: user principals behind a trusted reverse proxy (PROTOCOL §9.1, §9.5), used by http.c's
 * authentication and authorisation. */
#ifndef SLIPWAY_SERVER_AUTH_H
#define SLIPWAY_SERVER_AUTH_H

#include <stdbool.h>
#include <sys/socket.h>

#include "http.h"

/* When trusted_user_header is set, the request carries it and peer is in trusted_proxies: make
 * r->principal the USER with its own and its groups' bindings (trusted_groups_header). Leaves the
 * principal alone otherwise. Records 401 (bad user name) / 503 and returns < 0 on failure. */
int auth_user_principal(struct req *r, const struct sockaddr *peer);
/* The role decision for a USER principal (§9.5). */
bool auth_user_allows(const struct principal *p, int role, enum route_scope scope, const char *env_name);

/* The CSRF guard for a USER principal's request other than GET/HEAD/OPTIONS: Content-Type must be
 * application/json (else 415), Sec-Fetch-Site, when sent, same-origin or none, and Origin, when sent,
 * this server's origin (public_url, else the Host / X-Forwarded-Host) (else 403). Tokens pass. */
int auth_csrf_check(struct req *r);

/* An origin: lower-case scheme (http or https) and host, port defaulted by the scheme. */
struct origin_parts {
	char scheme[8];
	char host[256];
	int port;
};
/* Parse "scheme://host[:port][/]" (no userinfo, path, query); -EINVAL otherwise. */
int http_origin_parse(const char *url, struct origin_parts *ret);

#endif
