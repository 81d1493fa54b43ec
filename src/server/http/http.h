/* SPDX-License-Identifier: Apache-2.0 */
/* http/http.h: the HTTP layer on libmicrohttpd, what the rest of the server uses: route tables and
 * matching, authentication and authorisation, the per-request arena, query helpers, JSON replies and
 * the JSON error body (PROTOCOL §1.6), the daemon and its metrics. Include it as "http/http.h" (the
 * CLI has an http.h of its own). The layer's files and their shared internals: http/internal.h.
 *
 * Handler contract: a route_fn is called once the whole body has been read. It either queues a
 * reply with one of the http_reply_* calls and returns 0, or returns a negative errno; then the
 * layer answers the error recorded with http_fail()/req_bad() or, if none, the errno mapped by
 * http_status_from_errno(). A handler may also call http_suspend() and return 0 (long-poll); when
 * another thread calls http_resume(), the handler is called again with req->resumed = true and must
 * then reply. Everything allocated with req_alloc()/req_strdup() lives until the request is
 * completed (NOTIFY_COMPLETED). */
#ifndef SLIPWAY_SERVER_HTTP_HTTP_H
#define SLIPWAY_SERVER_HTTP_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <sys/socket.h>

#include "buf.h"
#include "server.h"

struct req;
typedef int (*route_fn)(struct req *r);

/* Scope a route's role applies to (§9.2). */
enum route_scope {
	SCOPE_PUBLIC, /* no authentication at all */
	SCOPE_ANY,    /* the role at any scope (ENV-scoped principals qualify; handlers check the env) */
	SCOPE_SYSTEM, /* the role at SYSTEM scope */
	SCOPE_ENV,    /* the role on the env named by the {env} path parameter */
	SCOPE_NEW_ENV, /* as SCOPE_ANY, and any USER principal passes: the handler lets a user create a stage of
			* a new env (§9.5) and checks the role itself otherwise */
};

struct route {
	const char *method;
	const char *pattern; /* "/v1/envs/{env}/{stage}"; a {name} segment matches any one segment */
	route_fn fn;
	int role; /* ROLE_* */
	enum route_scope scope;
	bool ping_body; /* the agents' ping: the body limit is max_ping_body_bytes, and it is authenticated by
			 * token only (the trusted proxy's user headers are ignored) */
};

#define ROUTE_MAX_PARAMS 8
#define ROUTE_MAX_SEGMENTS 12

struct route_match {
	const struct route *route;
	size_t index; /* of the route in the router, for metrics */
	size_t n_params;
	const char *names[ROUTE_MAX_PARAMS]; /* borrowed from the pattern (without braces), NUL-terminated copies */
	char name_buf[ROUTE_MAX_PARAMS][32];
	char *values[ROUTE_MAX_PARAMS];      /* point into path_buf */
	char path_buf[2048];
};

struct router;
/* A router over route tables that stay valid for its lifetime. */
int router_new(struct router **ret);
void router_free(struct router *rt);
int router_add(struct router *rt, const struct route *routes, size_t n);
size_t router_size(const struct router *rt);
const struct route *router_route(const struct router *rt, size_t i);
/* Match path (trailing '/' ignored). Returns 0 and fills m; -ENOENT no route matches the path;
 * -EOPNOTSUPP the best path match lacks the method (405); -ENAMETOOLONG path too long. The route
 * with a literal segment at the first position where candidates differ wins (§4). */
int router_match(const struct router *rt, const char *method, const char *path, struct route_match *m);

/* Query parameters (repeated keys kept in order). */
struct query {
	size_t n, alloc;
	char **keys, **values;
};
int query_add(struct query *q, const char *key, const char *value);
void query_release(struct query *q);
/* First value of key, or NULL. */
const char *query_get(const struct query *q, const char *key);
/* Every value of key, as a JSON array of strings (possibly empty). */
int query_list(const struct query *q, const char *key, json_t **ret);
/* true/false case-insensitively; absent → def; else -EINVAL. */
int query_bool(const struct query *q, const char *key, bool def, bool *ret);
/* Integer in [min, max]; absent → def; else -EINVAL / -ERANGE. */
int query_int(const struct query *q, const char *key, int64_t min, int64_t max, int64_t def, int64_t *ret);

enum principal_kind {
	PRINCIPAL_NONE,
	PRINCIPAL_TOKEN,
	PRINCIPAL_USER,
	PRINCIPAL_ANONYMOUS,
};

/* One role binding of a USER principal (its own or one of its groups', §9.5). */
struct principal_binding {
	int role;       /* ROLE_* */
	int scope_type; /* SCOPE_TYPE_ENV / SCOPE_TYPE_SYSTEM */
	char resource[72];
	bool group;     /* from a group binding */
	char name[136]; /* user or group name */
};

struct principal {
	enum principal_kind kind;
	char name[128];
	int role;       /* ROLE_*, -1 none (USER: default_user_role, at SYSTEM scope) */
	int scope_type; /* SCOPE_TYPE_ENV / SCOPE_TYPE_SYSTEM */
	char resource[128];
	/* USER only: the bindings of the user and of its groups (req arena) */
	struct principal_binding *bindings;
	size_t n_bindings;
};

struct arena_block;

/* Longer request paths are served as "/" (no API route: the board's index). */
#define HTTP_PATH_MAX 2048

struct req {
	struct server *srv;
	struct MHD_Connection *conn;
	struct route_match match;
	const char *method;
	char *path; /* at most HTTP_PATH_MAX - 1 bytes, without trailing '/' (kept with the request) */
	uint64_t id;
	int64_t start_mono_us;
	struct principal principal;
	struct query query;
	bool query_loaded;
	/* body */
	char *body;
	size_t body_len, body_alloc, body_max, body_alloc_hint;
	bool body_too_big;
	/* state */
	bool replied, suspended, resumed;
	int status;
	size_t resp_bytes;
	int err_status;
	bool retry_after;  /* the answer carries Retry-After: retry_after_s (http_unavailable()) */
	int retry_after_s;
	bool close_after;  /* the answer carries Connection: close */
	char err_message[512];
	char err_field[128];
	struct arena_block *arena;
	void *handler_data; /* free for the handler's use (e.g. a long-poll waiter) */
	int handler_kind;   /* the handler's own tag of what handler_data is (0 when unset) */
	/* called when the request ends with handler_data still set: a suspended request the daemon closed (it stops)
	 * before its handler ran again; it lets go of what handler_data holds */
	void (*handler_free)(struct req *r);
};

/* Path parameter by name ("env", "stage", "id", ...); NULL when the route has none. */
const char *req_param(struct req *r, const char *name);
const struct query *req_query(struct req *r);
void *req_alloc(struct req *r, size_t size);
char *req_strdup(struct req *r, const char *s);
const char *req_header(struct req *r, const char *name);
/* Parse the body as JSON (json_parse_bounded); 400 with a reason when malformed. *ret is borrowed
 * from nobody: the caller owns it. An empty body gives -ENODATA (with no error recorded). */
int req_json(struct req *r, json_t **ret);
/* The handler needs the body no more (a held long-poll keeps what it parsed): its memory goes now. */
void req_drop_body(struct req *r);
/* Parse the body as application/x-www-form-urlencoded into *ret (release with query_release): 400 when a value
 * decodes to a NUL byte; an empty body gives -ENODATA. */
int req_form(struct req *r, struct query *ret);

/* Record an error reply; returns the matching negative errno (400 → -EINVAL, 404 → -ENOENT,
 * 409 → -EEXIST, 403 → -EACCES, 401 → -EPERM, 413 → -EMSGSIZE, 503 → -EAGAIN, else -EIO). */
int http_fail(struct req *r, int status, const char *field, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
#define req_bad(r, field, ...) http_fail((r), 400, (field), __VA_ARGS__)
/* Record a 503 whose answer carries `Retry-After: retry_after_s` and `Connection: close`, so the client
 * reconnects (to another replica, or here once the wait is over). Returns -EAGAIN. */
int http_unavailable(struct req *r, int retry_after_s, const char *message);
/* The same 503 with Retry-After on a connection that stays open (the client comes back here in a few seconds). */
int http_busy(struct req *r, int retry_after_s, const char *message);
int http_status_from_errno(int r);

/* Replies. http_reply_json steals body. */
int http_reply_json(struct req *r, int status, json_t *body);
int http_reply_created(struct req *r, const char *location, json_t *body);
int http_reply_empty(struct req *r, int status);
int http_reply_data(struct req *r, int status, const char *content_type, const void *data, size_t len);
/* The same for an answer that never changes: data (static, its address the key with status and content_type,
 * itself static) is answered from a response built once with its headers, no copy or allocation per request. */
int http_reply_fixed(struct req *r, int status, const char *content_type, const void *data, size_t len);
/* A JSON body already as text (malloc'd; stolen, also on error): no copy. */
int http_reply_json_text(struct req *r, int status, char *txt, size_t len);
int http_reply_error(struct req *r, int status, const char *field, const char *message);

/* Long-poll: suspend now (after returning 0 from the handler); resume from any thread. */
void http_suspend(struct req *r);
void http_resume(struct req *r);

/* Authorisation, the ONE place that decides (§9): does the request's principal hold `role` at
 * scope (SCOPE_ENV: on env_name)? Returns 0, or records 401/403 and returns -EPERM / -EACCES. */
int http_require(struct req *r, int role, enum route_scope scope, const char *env_name);
/* Resolve the principal from the request (done by the layer for non-public routes). */
int http_authenticate(struct req *r);
bool principal_allows(const struct principal *p, int role, enum route_scope scope, const char *env_name);
/* Is the textual peer address (IPv4/IPv6) in the trusted_proxies list (addresses or CIDRs,
 * comma- or space-separated)? */
bool http_proxy_trusted(const char *trusted_proxies, const struct sockaddr *peer);
/* An origin: lower-case scheme (http or https) and host, port defaulted by the scheme. */
struct origin_parts {
	char scheme[8];
	char host[256];
	int port;
};
/* Parse "scheme://host[:port][/]" (no userinfo, path, query) as an origin; -EINVAL otherwise. */
int http_origin_parse(const char *url, struct origin_parts *ret);
/* The checks of the settings the HTTP layer reads (public_url); errbuf says why. */
int http_config_validate(const struct server_config *cfg, char *errbuf, size_t errsize);
/* Names of enum route_scope ("PUBLIC", "ANY", "SYSTEM", "ENV", "NEW_ENV"). */
const char *route_scope_to_string(enum route_scope scope);

/* Start / stop the daemon (srv->router must be built). */
int http_start(struct server *srv);
void http_stop(struct server *srv);

/* Counts requests other than pings that may have written (any method but GET and HEAD), incremented after the
 * handler returned and before the answer leaves: a client that saw the answer of such a request and then pings
 * finds the counter moved (the ping path's idle repeats, ping/ping_state.h). */
uint64_t http_write_generation(void);
/* Connections open now (held pings included). */
int64_t http_connections_open(void);
/* Prometheus text of the HTTP metrics. */
int http_metrics_append(struct server *srv, struct buf *out);

/* The route tables of api/ (api.c collects them). */
int api_register_routes(struct router *rt);

#endif
