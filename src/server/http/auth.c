/* SPDX-License-Identifier: Apache-2.0 */
/* http/auth.c: who makes a request and what it may do (PROTOCOL §9), the one module that decides:
 * - the principal: a token (Authorization), a user named by a trusted reverse proxy (with its own and its
 *   groups' role bindings), or anonymous;
 * - the decision: principal_allows() / http_require(), the one place that answers 401/403;
 * - the CSRF guard of proxy users' writes (their browser sends the proxy's cookie to whichever page asks,
 *   unlike a token), with the origin parsing it uses. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <microhttpd.h>

#include "enums.h"
#include "hash.h"
#include "internal.h"
#include "ipnet.h"
#include "log.h"
#include "names.h"
#include "parse.h"
#include "util.h"
#include "banned.h"

#define AUTH_MAX_GROUPS 64
#define AUTH_MAX_BINDINGS 1024

const char *route_scope_to_string(enum route_scope scope)
{
	switch (scope) {
	case SCOPE_PUBLIC:
		return "PUBLIC";
	case SCOPE_ANY:
		return "ANY";
	case SCOPE_SYSTEM:
		return "SYSTEM";
	case SCOPE_ENV:
		return "ENV";
	case SCOPE_NEW_ENV:
		return "NEW_ENV";
	}
	return "UNKNOWN";
}

/* Does a role held at scope_type/resource apply to a route of `scope` (on env_name)? */
static bool binding_applies(int scope_type, const char *resource, enum route_scope scope, const char *env_name)
{
	if (scope_type == SCOPE_TYPE_SYSTEM)
		return true;
	switch (scope) {
	case SCOPE_ANY:
	case SCOPE_NEW_ENV:
		return true;
	case SCOPE_ENV:
		return env_name && strcasecmp(resource, env_name) == 0;
	default:
		return false;
	}
}

bool principal_allows(const struct principal *p, int role, enum route_scope scope, const char *env_name)
{
	if (scope == SCOPE_PUBLIC)
		return true;
	if (p->kind == PRINCIPAL_USER)
		return auth_user_allows(p, role, scope, env_name);
	return p->role >= 0 && role_satisfies(p->role, role) &&
	       binding_applies(p->scope_type, p->resource, scope, env_name);
}

int http_require(struct req *r, int role, enum route_scope scope, const char *env_name)
{
	if (principal_allows(&r->principal, role, scope, env_name))
		return 0;
	if (r->principal.kind == PRINCIPAL_NONE)
		return http_fail(r, 401, NULL, "authentication required: send 'Authorization: token <t>'");
	return http_fail(r, 403, NULL, "'%s' needs role %s%s%s", r->principal.name, role_to_string(role),
			 scope == SCOPE_SYSTEM ? " at SYSTEM scope" : scope == SCOPE_ENV ? " on env " : "",
			 scope == SCOPE_ENV && env_name ? env_name : "");
}

/* The SHA-256 of a token, remembered by the token's bytes for the few tokens each HTTP thread saw last: every
 * request of an agent carries the same token, and its hash (the key of the token's row) cost a tenth of an idle
 * ping's CPU (OpenSSL 3 fetches the digest for every hash). Only the hash is remembered, never what it grants:
 * the row is looked up on every request (store_token_get_by_hash(), whose cache a token write empties), so a
 * revoked or expired token is refused on the very next request. Tokens are compared in constant time. */
#define TOKEN_HASH_MEMO 8
#define TOKEN_MAX_LEN 256

struct token_hash_memo {
	size_t len; /* 0: empty */
	char token[TOKEN_MAX_LEN];
	char hash[SHA256_HEX_LEN + 1];
};

static _Thread_local struct token_hash_memo token_memo[TOKEN_HASH_MEMO];
static _Thread_local unsigned token_memo_next;

static int token_hash(const char *tok, size_t len, char hash[SHA256_HEX_LEN + 1])
{
	struct token_hash_memo *m;
	int k;

	for (size_t i = 0; i < TOKEN_HASH_MEMO; i++) {
		m = &token_memo[i];
		if (m->len == len && mem_equal_ct(m->token, tok, len)) {
			memcpy(hash, m->hash, sizeof(m->hash));
			return 0;
		}
	}
	k = sha256_hex(tok, len, hash);
	if (k < 0)
		return k;
	m = &token_memo[token_memo_next++ % TOKEN_HASH_MEMO];
	memcpy(m->token, tok, len);
	memcpy(m->hash, hash, sizeof(m->hash));
	m->len = len;
	return 0;
}

/* Resolve the principal from the Authorization header (§9.1). Records 401 and returns < 0 for a
 * bad or expired token. */
int http_authenticate(struct req *r)
{
	struct server *srv = r->srv;
	const char *h = req_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
	const char *tok = NULL;
	char hash[SHA256_HEX_LEN + 1];
	size_t tok_len;
	json_t *row = NULL;
	int k;

	r->principal = (struct principal){ .kind = PRINCIPAL_NONE, .role = -1 };
	if (!h) {
		const union MHD_ConnectionInfo *ci = MHD_get_connection_info(r->conn,
									     MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		/* the pings of agents never come as a proxy user: one that did would be the proxy's doing */
		k = r->match.route && r->match.route->ping_body ? 0 : auth_user_principal(r, ci ? ci->client_addr : NULL);
		if (k < 0 || r->principal.kind == PRINCIPAL_USER)
			return k;
		if (srv->anonymous_role >= 0) {
			r->principal.kind = PRINCIPAL_ANONYMOUS;
			r->principal.role = srv->anonymous_role;
			r->principal.scope_type = SCOPE_TYPE_SYSTEM;
			(void)str_copy(r->principal.name, sizeof(r->principal.name), PRINCIPAL_NAME_ANONYMOUS);
			(void)str_copy(r->principal.resource, sizeof(r->principal.resource), "*");
		}
		return 0;
	}
	if (strncasecmp(h, "token ", 6) == 0)
		tok = h + 6;
	else if (strncasecmp(h, "Bearer ", 7) == 0)
		tok = h + 7;
	if (!tok)
		return http_fail(r, 401, NULL, "unsupported Authorization scheme: use 'token <t>' or 'Bearer <t>'");
	while (*tok == ' ')
		tok++;
	tok_len = strlen(tok);
	if (tok_len < 1 || tok_len > TOKEN_MAX_LEN)
		return http_fail(r, 401, NULL, "invalid token");
	k = token_hash(tok, tok_len, hash);
	if (k < 0)
		return http_fail(r, 500, NULL, "internal error");
	k = store_token_get_by_hash(srv->store, hash, &row);
	if (k == -ENOENT)
		return http_fail(r, 401, NULL, "invalid token");
	if (k < 0) {
		(void)server_db_error(srv, k, "cannot look up token");
		return http_fail(r, 503, NULL, "database unavailable");
	}
	json_t *exp = json_object_get(row, "expireDate");
	if (json_is_integer(exp) && json_integer_value(exp) > 0 && json_integer_value(exp) < now_ms()) {
		json_decref(row);
		return http_fail(r, 401, NULL, "token expired");
	}
	r->principal.kind = PRINCIPAL_TOKEN;
	(void)str_copy(r->principal.name, sizeof(r->principal.name), json_string_value(json_object_get(row, "name")));
	r->principal.role = role_from_string_alias(json_string_value(json_object_get(row, "role")));
	r->principal.scope_type = scope_type_from_string(json_string_value(json_object_get(row, "type")));
	(void)str_copy(r->principal.resource, sizeof(r->principal.resource),
		       json_string_value(json_object_get(row, "resource")));
	json_decref(row);
	return 0;
}

/* ---- users behind a trusted proxy --------------------------------------------------------------- */

bool http_proxy_trusted(const char *trusted_proxies, const struct sockaddr *peer)
{
	struct ipnet_addr a;
	struct ipnet net;
	char *copy, *save = NULL;
	bool ok = false;

	if (!trusted_proxies || !*trusted_proxies || ipnet_addr_from_sockaddr(peer, &a) < 0)
		return false;
	copy = strdup(trusted_proxies);
	if (!copy)
		return false;
	/* an entry that does not parse names no proxy (the setting is not checked at start) */
	for (char *tok = strtok_r(copy, ", \t", &save); tok && !ok; tok = strtok_r(NULL, ", \t", &save))
		ok = ipnet_parse(tok, &net) == 0 && ipnet_contains(&net, &a);
	free(copy);
	return ok;
}

static bool group_ok(const char *s)
{
	return str_charset_ok(s, "._:@-", 1, 128);
}

/* Append the bindings of one user or group (kind USER/GROUP) to the principal. */
static int add_bindings(struct req *r, const char *kind, const char *name, size_t *alloc)
{
	struct principal *p = &r->principal;
	json_t *rows = NULL, *row;
	size_t i;
	int k;

	k = store_binding_of(r->srv->store, kind, name, &rows);
	if (k < 0)
		return k;
	json_array_foreach(rows, i, row) {
		struct principal_binding *b;
		int role = role_from_string_alias(json_string_value(json_object_get(row, "role")));
		int st = scope_type_from_string(json_string_value(json_object_get(row, "type")));
		if (role < 0 || st < 0 || p->n_bindings >= AUTH_MAX_BINDINGS)
			continue;
		if (p->n_bindings == *alloc) {
			size_t na = *alloc ? *alloc * 2 : 8;
			struct principal_binding *nb = req_alloc(r, na * sizeof(*nb));
			if (!nb) {
				json_decref(rows);
				return -ENOMEM;
			}
			if (p->n_bindings)
				memcpy(nb, p->bindings, p->n_bindings * sizeof(*nb));
			p->bindings = nb;
			*alloc = na;
		}
		b = &p->bindings[p->n_bindings++];
		*b = (struct principal_binding){ .role = role, .scope_type = st, .group = streq(kind, "GROUP") };
		(void)str_copy(b->resource, sizeof(b->resource), json_string_value(json_object_get(row, "resource")));
		(void)str_copy(b->name, sizeof(b->name), name);
	}
	json_decref(rows);
	return 0;
}

int auth_user_principal(struct req *r, const struct sockaddr *peer)
{
	struct server *srv = r->srv;
	const char *user, *groups;
	size_t alloc = 0;
	int k;

	if (!srv->cfg.trusted_user_header || !*srv->cfg.trusted_user_header)
		return 0;
	user = req_header(r, srv->cfg.trusted_user_header);
	if (!user)
		return 0;
	if (!http_proxy_trusted(srv->cfg.trusted_proxies, peer)) {
		log_debug("ignoring %s from an address not in trusted_proxies", srv->cfg.trusted_user_header);
		return 0;
	}
	if (!principal_name_is_valid(user))
		return http_fail(r, 401, NULL, "invalid user name from the trusted proxy");
	if (principal_name_is_reserved(user)) /* the server's own principals: never a person */
		return http_fail(r, 401, NULL, "user name '%s' from the trusted proxy is reserved", user);
	r->principal = (struct principal){ .kind = PRINCIPAL_USER, .role = srv->default_user_role,
					   .scope_type = SCOPE_TYPE_SYSTEM };
	(void)str_copy(r->principal.name, sizeof(r->principal.name), user);
	(void)str_copy(r->principal.resource, sizeof(r->principal.resource), "*");
	k = add_bindings(r, "USER", user, &alloc);
	groups = srv->cfg.trusted_groups_header && *srv->cfg.trusted_groups_header
			 ? req_header(r, srv->cfg.trusted_groups_header)
			 : NULL;
	if (k >= 0 && groups) {
		char *copy = req_strdup(r, groups), *save = NULL;
		size_t n = 0;
		if (!copy)
			k = -ENOMEM;
		for (char *g = copy ? strtok_r(copy, ", \t", &save) : NULL; g && k >= 0 && n < AUTH_MAX_GROUPS;
		     g = strtok_r(NULL, ", \t", &save)) {
			if (!group_ok(g))
				continue;
			k = add_bindings(r, "GROUP", g, &alloc);
			n++;
		}
	}
	if (k < 0) {
		(void)server_db_error(srv, k, "cannot read role bindings");
		return http_fail(r, 503, NULL, "database unavailable");
	}
	return 0;
}

bool auth_user_allows(const struct principal *p, int role, enum route_scope scope, const char *env_name)
{
	if (scope == SCOPE_NEW_ENV)
		return true;
	if (p->role >= 0 && role_satisfies(p->role, role))
		return true; /* default_user_role, at SYSTEM scope */
	for (size_t i = 0; i < p->n_bindings; i++) {
		const struct principal_binding *b = &p->bindings[i];
		if (role_satisfies(b->role, role) && binding_applies(b->scope_type, b->resource, scope, env_name))
			return true;
	}
	return false;
}

/* ---- CSRF guard for proxy users ------------------------------------------------------------------ */

static void lower(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

int http_origin_parse(const char *url, struct origin_parts *ret)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL, *query = NULL, *user = NULL;
	int64_t p = 0;
	int k = -EINVAL;

	if (!u)
		return -ENOMEM;
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK)
		goto out;
	/* an origin has no userinfo, query or path beyond "/" */
	if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK ||
	    curl_url_get(u, CURLUPART_QUERY, &query, 0) == CURLUE_OK || !streq(path, "/"))
		goto out;
	if ((strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0) ||
	    parse_i64(port, 1, 65535, &p) < 0 || str_copy(ret->scheme, sizeof(ret->scheme), scheme) < 0 ||
	    str_copy(ret->host, sizeof(ret->host), host) < 0)
		goto out;
	ret->port = (int)p;
	lower(ret->scheme);
	lower(ret->host);
	k = 0;
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_free(path);
	curl_free(query);
	curl_free(user);
	curl_url_cleanup(u);
	return k;
}

int http_config_validate(const struct server_config *cfg, char *errbuf, size_t errsize)
{
	struct origin_parts o;

	if (cfg->public_url && *cfg->public_url && http_origin_parse(cfg->public_url, &o) < 0) {
		(void)str_printf(errbuf, errsize, "invalid public_url '%s': expected http(s)://host[:port]",
				 cfg->public_url);
		return -EINVAL;
	}
	return 0;
}

/* The first item of a comma-separated proxy header (X-Forwarded-Host: a, b), trimmed, in buf. */
static const char *first_item(const char *v, char *buf, size_t size)
{
	size_t n;

	if (!v)
		return NULL;
	v += strspn(v, " \t");
	n = strcspn(v, ", \t");
	if (n == 0 || n >= size)
		return NULL;
	memcpy(buf, v, n);
	buf[n] = 0;
	return buf;
}

/* The origin this server is reached at as the browser sees it: public_url when set, else the Host (or the
 * trusted proxy's X-Forwarded-Host) with the scheme of X-Forwarded-Proto, of the server's own TLS, or, when
 * nothing says, the browser's (theirs). */
static int own_origin(struct req *r, const struct origin_parts *theirs, struct origin_parts *ret)
{
	const struct server_config *cfg = &r->srv->cfg;
	char hbuf[256], sbuf[16], url[300];
	const char *host, *scheme;

	if (cfg->public_url && *cfg->public_url)
		return http_origin_parse(cfg->public_url, ret);
	host = first_item(req_header(r, "X-Forwarded-Host"), hbuf, sizeof(hbuf));
	if (!host)
		host = first_item(req_header(r, MHD_HTTP_HEADER_HOST), hbuf, sizeof(hbuf));
	if (!host || host[strcspn(host, "/?#@\\")])
		return -EINVAL;
	scheme = first_item(req_header(r, "X-Forwarded-Proto"), sbuf, sizeof(sbuf));
	if (!scheme)
		scheme = cfg->tls_cert && *cfg->tls_cert ? "https" : theirs->scheme;
	if (str_printf(url, sizeof(url), "%s://%s/", scheme, host) < 0)
		return -EINVAL;
	return http_origin_parse(url, ret);
}

static bool is_json_type(const char *ct)
{
	static const char json[] = "application/json";
	size_t n = sizeof(json) - 1;

	if (!ct || strncasecmp(ct, json, n) != 0)
		return false;
	return ct[n] == 0 || ct[n] == ';' || ct[n] == ' ' || ct[n] == '\t';
}

int auth_csrf_check(struct req *r)
{
	struct origin_parts theirs, ours;
	const char *origin, *site;

	if (r->principal.kind != PRINCIPAL_USER || streq(r->method, "GET") || streq(r->method, "HEAD") ||
	    streq(r->method, "OPTIONS"))
		return 0;
	/* a form or a "simple" cross-site fetch cannot send this type without a CORS preflight */
	if (!is_json_type(req_header(r, MHD_HTTP_HEADER_CONTENT_TYPE)))
		return http_fail(r, 415, "Content-Type", "%s by a signed-in user needs 'Content-Type: application/json'",
				 r->method);
	site = req_header(r, "Sec-Fetch-Site");
	if (site && strcasecmp(site, "same-origin") != 0 && strcasecmp(site, "none") != 0)
		return http_fail(r, 403, "Sec-Fetch-Site", "cross-site request refused (Sec-Fetch-Site: %.40s)", site);
	origin = req_header(r, "Origin");
	if (!origin)
		return 0;
	if (http_origin_parse(origin, &theirs) < 0 || own_origin(r, &theirs, &ours) < 0 ||
	    !streq(theirs.scheme, ours.scheme) || !streq(theirs.host, ours.host) || theirs.port != ours.port)
		return http_fail(r, 403, "Origin", "cross-origin request refused (Origin: %.200s)", origin);
	return 0;
}
