/* SPDX-License-Identifier: Apache-2.0 */
/* http.c: libmicrohttpd glue (STYLE §12): limits before bytes, the router, authentication, the
 * per-request arena, JSON replies and errors, the board, access log and HTTP metrics.
 * The first access-handler call checks headers only: route and method (404/405), authentication
 * (401/403), Content-Length against the route's maximum (413); only then is the body read. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "auth.h"
#include "buf.h"
#include "embedded.h"
#include "enums.h"
#include "fs.h"
#include "hash.h"
#include "http.h"
#include "http_deadline.h"
#include "jsonutil.h"
#include "log.h"
#include "parse.h"
#include "util.h"
#include "banned.h"

/* ---- router ---------------------------------------------------------------------------------- */

struct compiled_route {
	const struct route *route;
	size_t n_segs;
	char *segs[ROUTE_MAX_SEGMENTS]; /* literal text, or NULL for a {param} */
	char *params[ROUTE_MAX_SEGMENTS];
};

#define N_LATENCY_BUCKETS 14
static const double latency_buckets[N_LATENCY_BUCKETS] = { 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
							    0.5,   1,     2.5,  5,     10,   30,  60 };

struct route_stats {
	uint64_t by_code[600];
	uint64_t latency[N_LATENCY_BUCKETS + 1]; /* last = +Inf */
	uint64_t latency_sum_us, latency_count;
};

struct router {
	struct compiled_route *routes;
	size_t n, alloc;
	struct route_stats *stats; /* n + 1 entries; the last counts unmatched requests */
};

int router_new(struct router **ret)
{
	struct router *rt = calloc(1, sizeof(*rt));
	if (!rt)
		return -ENOMEM;
	*ret = rt;
	return 0;
}

void router_free(struct router *rt)
{
	if (!rt)
		return;
	for (size_t i = 0; i < rt->n; i++)
		for (size_t k = 0; k < rt->routes[i].n_segs; k++) {
			free(rt->routes[i].segs[k]);
			free(rt->routes[i].params[k]);
		}
	free(rt->routes);
	free(rt->stats);
	free(rt);
}

size_t router_size(const struct router *rt)
{
	return rt->n;
}

const struct route *router_route(const struct router *rt, size_t i)
{
	return i < rt->n ? rt->routes[i].route : NULL;
}

static int split_path(char *p, char **segs, size_t max, size_t *ret_n)
{
	size_t n = 0;
	char *save = NULL;

	for (char *t = strtok_r(p, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
		if (n >= max)
			return -ENAMETOOLONG;
		segs[n++] = t;
	}
	*ret_n = n;
	return 0;
}

int router_add(struct router *rt, const struct route *routes, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct compiled_route cr = { .route = &routes[i] };
		char buf[512], *segs[ROUTE_MAX_SEGMENTS];
		size_t ns;
		int r;

		r = str_copy(buf, sizeof(buf), routes[i].pattern);
		if (r < 0)
			return r;
		r = split_path(buf, segs, ROUTE_MAX_SEGMENTS, &ns);
		if (r < 0)
			return r;
		cr.n_segs = ns;
		for (size_t k = 0; k < ns; k++) {
			size_t l = strlen(segs[k]);
			if (l >= 2 && segs[k][0] == '{' && segs[k][l - 1] == '}') {
				cr.params[k] = strndup(segs[k] + 1, l - 2);
				if (!cr.params[k])
					return -ENOMEM;
			} else {
				cr.segs[k] = strdup(segs[k]);
				if (!cr.segs[k])
					return -ENOMEM;
			}
		}
		if (rt->n == rt->alloc) {
			size_t na = rt->alloc ? rt->alloc * 2 : 64;
			struct compiled_route *nr = realloc(rt->routes, na * sizeof(*nr));
			if (!nr)
				return -ENOMEM;
			rt->routes = nr;
			rt->alloc = na;
		}
		rt->routes[rt->n++] = cr;
	}
	free(rt->stats);
	rt->stats = calloc(rt->n + 1, sizeof(*rt->stats));
	return rt->stats ? 0 : -ENOMEM;
}

static bool route_matches(const struct compiled_route *cr, char **segs, size_t n)
{
	if (cr->n_segs != n)
		return false;
	for (size_t k = 0; k < n; k++)
		if (cr->segs[k] && !streq(cr->segs[k], segs[k]))
			return false;
	return true;
}

/* > 0 when a is more specific than b: a literal at the first position where they differ */
static int specificity_cmp(const struct compiled_route *a, const struct compiled_route *b)
{
	for (size_t k = 0; k < a->n_segs && k < b->n_segs; k++) {
		bool la = a->segs[k] != NULL, lb = b->segs[k] != NULL;
		if (la != lb)
			return la ? 1 : -1;
	}
	return 0;
}

static bool same_shape(const struct compiled_route *a, const struct compiled_route *b)
{
	if (a->n_segs != b->n_segs)
		return false;
	for (size_t k = 0; k < a->n_segs; k++) {
		if (!!a->segs[k] != !!b->segs[k])
			return false;
		if (a->segs[k] && !streq(a->segs[k], b->segs[k]))
			return false;
	}
	return true;
}

int router_match(const struct router *rt, const char *method, const char *path, struct route_match *m)
{
	char *segs[ROUTE_MAX_SEGMENTS + 1];
	const struct compiled_route *best = NULL, *hit = NULL;
	size_t n, hit_index = 0;
	int r;

	memset(m, 0, offsetof(struct route_match, path_buf));
	r = str_copy(m->path_buf, sizeof(m->path_buf), path);
	if (r < 0)
		return r;
	r = split_path(m->path_buf, segs, ROUTE_MAX_SEGMENTS, &n);
	if (r < 0)
		return -ENOENT;
	for (size_t i = 0; i < rt->n; i++) {
		const struct compiled_route *cr = &rt->routes[i];
		if (!route_matches(cr, segs, n))
			continue;
		if (!best || specificity_cmp(cr, best) > 0)
			best = cr;
	}
	if (!best)
		return -ENOENT;
	for (size_t i = 0; i < rt->n; i++) {
		const struct compiled_route *cr = &rt->routes[i];
		if (!same_shape(cr, best))
			continue;
		if (strcasecmp(cr->route->method, method) == 0 ||
		    (streq(method, "HEAD") && streq(cr->route->method, "GET"))) {
			hit = cr;
			hit_index = i;
			break;
		}
	}
	if (!hit)
		return -EOPNOTSUPP;
	m->route = hit->route;
	m->index = hit_index;
	for (size_t k = 0; k < n; k++) {
		if (hit->segs[k] || m->n_params >= ROUTE_MAX_PARAMS)
			continue;
		(void)str_copy(m->name_buf[m->n_params], sizeof(m->name_buf[0]), hit->params[k]);
		m->names[m->n_params] = m->name_buf[m->n_params];
		m->values[m->n_params] = segs[k];
		m->n_params++;
	}
	return 0;
}

/* ---- query ----------------------------------------------------------------------------------- */

int query_add(struct query *q, const char *key, const char *value)
{
	char *k, *v;

	if (q->n == q->alloc) {
		size_t na = q->alloc ? q->alloc * 2 : 8;
		char **nk = realloc(q->keys, na * sizeof(char *));
		if (!nk)
			return -ENOMEM;
		q->keys = nk;
		char **nv = realloc(q->values, na * sizeof(char *));
		if (!nv)
			return -ENOMEM;
		q->values = nv;
		q->alloc = na;
	}
	k = strdup(key);
	v = strdup(value ? value : "");
	if (!k || !v) {
		free(k);
		free(v);
		return -ENOMEM;
	}
	q->keys[q->n] = k;
	q->values[q->n] = v;
	q->n++;
	return 0;
}

void query_release(struct query *q)
{
	for (size_t i = 0; i < q->n; i++) {
		free(q->keys[i]);
		free(q->values[i]);
	}
	free(q->keys);
	free(q->values);
	*q = (struct query){ 0 };
}

const char *query_get(const struct query *q, const char *key)
{
	for (size_t i = 0; i < q->n; i++)
		if (streq(q->keys[i], key))
			return q->values[i];
	return NULL;
}

int query_list(const struct query *q, const char *key, json_t **ret)
{
	json_t *a = json_array();

	if (!a)
		return -ENOMEM;
	for (size_t i = 0; i < q->n; i++)
		if (streq(q->keys[i], key) && json_array_append_new(a, json_string(q->values[i])) < 0) {
			json_decref(a);
			return -ENOMEM;
		}
	*ret = a;
	return 0;
}

int query_bool(const struct query *q, const char *key, bool def, bool *ret)
{
	const char *v = query_get(q, key);

	if (!v) {
		*ret = def;
		return 0;
	}
	if (strcasecmp(v, "true") == 0)
		*ret = true;
	else if (strcasecmp(v, "false") == 0)
		*ret = false;
	else
		return -EINVAL;
	return 0;
}

int query_int(const struct query *q, const char *key, int64_t min, int64_t max, int64_t def, int64_t *ret)
{
	const char *v = query_get(q, key);

	if (!v) {
		*ret = def;
		return 0;
	}
	return parse_i64(v, min, max, ret);
}

/* ---- request helpers ------------------------------------------------------------------------- */

struct arena_block {
	struct arena_block *next;
	max_align_t data[];
};

void *req_alloc(struct req *r, size_t size)
{
	struct arena_block *b = calloc(1, sizeof(*b) + size);
	if (!b)
		return NULL;
	b->next = r->arena;
	r->arena = b;
	return b->data;
}

char *req_strdup(struct req *r, const char *s)
{
	size_t l = strlen(s);
	char *p = req_alloc(r, l + 1);
	if (p)
		memcpy(p, s, l + 1);
	return p;
}

const char *req_param(struct req *r, const char *name)
{
	for (size_t i = 0; i < r->match.n_params; i++)
		if (streq(r->match.names[i], name))
			return r->match.values[i];
	return NULL;
}

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	(void)kind;
	return query_add(cls, key, value) < 0 ? MHD_NO : MHD_YES;
}

const struct query *req_query(struct req *r)
{
	if (!r->query_loaded) {
		r->query_loaded = true;
		if (r->conn)
			(void)MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, collect_arg, &r->query);
	}
	return &r->query;
}

const char *req_header(struct req *r, const char *name)
{
	return r->conn ? MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name) : NULL;
}

int req_json(struct req *r, json_t **ret)
{
	char err[160];
	int k;

	if (!r->body || r->body_len == 0)
		return -ENODATA;
	k = json_parse_bounded(r->body, r->body_len, ret, err, sizeof(err));
	if (k < 0)
		return http_fail(r, 400, NULL, "malformed JSON body: %s", err);
	return 0;
}

int http_status_from_errno(int r)
{
	switch (-r) {
	case ENOENT:
		return 404;
	case EEXIST:
	case EBUSY:
		return 409;
	case EINVAL:
	case EBADMSG:
	case ENODATA:
	case E2BIG:
	case ERANGE:
		return 400;
	case EACCES:
		return 403;
	case EPERM:
		return 401;
	case EMSGSIZE:
		return 413;
	case EAGAIN:
		return 503;
	case EOPNOTSUPP:
		return 405;
	default:
		return 500;
	}
}

static int errno_from_status(int status)
{
	switch (status) {
	case 400:
		return -EINVAL;
	case 401:
		return -EPERM;
	case 403:
		return -EACCES;
	case 404:
		return -ENOENT;
	case 405:
		return -EOPNOTSUPP;
	case 409:
		return -EEXIST;
	case 413:
		return -EMSGSIZE;
	case 503:
		return -EAGAIN;
	default:
		return -EIO;
	}
}

int http_fail(struct req *r, int status, const char *field, const char *fmt, ...)
{
	va_list ap;

	if (!r->err_status) {
		r->err_status = status;
		va_start(ap, fmt);
		(void)vsnprintf(r->err_message, sizeof(r->err_message), fmt, ap);
		va_end(ap);
		(void)str_copy(r->err_field, sizeof(r->err_field), field ? field : "");
	}
	return errno_from_status(status);
}

/* ---- replies --------------------------------------------------------------------------------- */

static int queue(struct req *r, int status, struct MHD_Response *resp)
{
	enum MHD_Result ok;

	if (!resp)
		return -ENOMEM;
	/* on every answer: no MIME sniffing of JSON into HTML, no framing, no Referer with tokens in URLs */
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "X-Frame-Options", "DENY");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
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
	return queue(r, status, resp);
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
	return queue(r, status, resp);
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

static void reply_failure(struct req *r, int k)
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

/* ---- authentication / authorisation ---------------------------------------------------------- */

bool principal_allows(const struct principal *p, int role, enum route_scope scope, const char *env_name)
{
	if (scope == SCOPE_PUBLIC)
		return true;
	if (p->kind == PRINCIPAL_USER)
		return auth_user_allows(p, role, scope, env_name);
	if (p->role < 0 || !role_satisfies(p->role, role))
		return false;
	if (p->scope_type == SCOPE_TYPE_SYSTEM)
		return true;
	switch (scope) {
	case SCOPE_ANY:
	case SCOPE_NEW_ENV:
		return true;
	case SCOPE_ENV:
		return env_name && strcasecmp(p->resource, env_name) == 0;
	default:
		return false;
	}
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

/* Resolve the principal from the Authorization header (§9.1). Records 401 and returns < 0 for a
 * bad or expired token. */
int http_authenticate(struct req *r)
{
	struct server *srv = r->srv;
	const char *h = req_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
	const char *tok = NULL;
	char hash[SHA256_HEX_LEN + 1];
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
			(void)str_copy(r->principal.name, sizeof(r->principal.name), "anonymous");
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
	if (strlen(tok) < 1 || strlen(tok) > 256)
		return http_fail(r, 401, NULL, "invalid token");
	k = sha256_hex(tok, strlen(tok), hash);
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

/* ---- board ----------------------------------------------------------------------------------- */

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
static int serve_board(struct req *r)
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
	return queue(r, same ? 304 : 200, resp);
}

static bool is_api_path(const char *path)
{
	return streq(path, "/v1") || startswith(path, "/v1/") || streq(path, "/healthz") || streq(path, "/metrics");
}

static int64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- the access handler ---------------------------------------------------------------------- */

static uint64_t request_counter;
static int64_t requests_in_flight;
static uint64_t write_generation;

uint64_t http_write_generation(void)
{
	return __atomic_load_n(&write_generation, __ATOMIC_ACQUIRE);
}

static int first_call(struct req *r)
{
	struct server *srv = r->srv;
	const struct route *rt;
	const char *cl;
	int k;

	k = router_match(srv->router, r->method, r->path, &r->match);
	if (k == -EOPNOTSUPP)
		return http_fail(r, 405, NULL, "method %s not allowed on %s", r->method, r->path);
	if (k < 0) {
		if (!is_api_path(r->path))
			return 1; /* the board */
		return http_fail(r, 404, NULL, "no such endpoint: %s", r->path);
	}
	rt = r->match.route;
	if (rt->scope != SCOPE_PUBLIC) {
		k = http_authenticate(r);
		if (k < 0)
			return k;
		k = auth_csrf_check(r);
		if (k < 0)
			return k;
		k = http_require(r, rt->role, rt->scope, rt->scope == SCOPE_ENV ? req_param(r, "env") : NULL);
		if (k < 0)
			return k;
	}
	r->body_max = rt->ping_body ? srv->cfg.max_ping_body_bytes : srv->cfg.max_body_bytes;
	cl = req_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl) {
		uint64_t len;
		if (parse_u64(cl, 0, UINT64_MAX, &len) < 0)
			return http_fail(r, 400, NULL, "invalid Content-Length");
		if (len > r->body_max)
			return http_fail(r, 413, NULL, "request body of %llu bytes exceeds the limit of %zu bytes",
					 (unsigned long long)len, r->body_max);
	}
	return 0;
}

static int append_body(struct req *r, const char *data, size_t n)
{
	if (r->body_too_big)
		return 0;
	if (r->body_len + n > r->body_max) {
		r->body_too_big = true;
		return 0;
	}
	if (r->body_len + n + 1 > r->body_alloc) {
		size_t na = r->body_alloc ? r->body_alloc : 4096;
		while (na < r->body_len + n + 1)
			na *= 2;
		char *nb = realloc(r->body, na);
		if (!nb)
			return -ENOMEM;
		r->body = nb;
		r->body_alloc = na;
	}
	memcpy(r->body + r->body_len, data, n);
	r->body_len += n;
	r->body[r->body_len] = 0;
	return 0;
}

/* Does a body follow the headers (the deadline then covers it too)? */
static bool request_has_body(struct req *r)
{
	const char *cl = req_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);

	return req_header(r, MHD_HTTP_HEADER_TRANSFER_ENCODING) || (cl && !streq(cl, "0"));
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
				  const char *version, const char *upload_data, size_t *upload_data_size,
				  void **con_cls)
{
	struct server *srv = cls;
	struct req *r = *con_cls;
	int k;

	(void)version;
	if (!r) {
		size_t l;
		r = calloc(1, sizeof(*r));
		if (!r)
			return MHD_NO;
		r->srv = srv;
		r->conn = conn;
		r->method = method;
		r->id = __atomic_add_fetch(&request_counter, 1, __ATOMIC_RELAXED);
		r->start_mono_us = mono_us();
		r->match.index = SIZE_MAX;
		__atomic_add_fetch(&requests_in_flight, 1, __ATOMIC_RELAXED);
		if (str_copy(r->path, sizeof(r->path), url) < 0)
			(void)str_copy(r->path, sizeof(r->path), "/");
		l = strlen(r->path);
		while (l > 1 && r->path[l - 1] == '/')
			r->path[--l] = 0;
		*con_cls = r;
		if (!request_has_body(r))
			http_deadline_reading(conn, false);
		if (srv->stopping) {
			(void)http_fail(r, 503, NULL, "server shutting down");
			reply_failure(r, -EAGAIN);
			return MHD_YES;
		}
		k = first_call(r);
		if (k == 1) {
			k = serve_board(r);
			if (k < 0)
				reply_failure(r, k);
			return MHD_YES;
		}
		if (k < 0) {
			reply_failure(r, k);
			return MHD_YES;
		}
		return MHD_YES;
	}
	if (r->replied) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		k = append_body(r, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return k < 0 ? MHD_NO : MHD_YES;
	}
	http_deadline_reading(conn, false); /* the whole request is in */
	if (r->body_too_big) {
		(void)http_fail(r, 413, NULL, "request body exceeds the limit of %zu bytes", r->body_max);
		reply_failure(r, -EMSGSIZE);
		return MHD_YES;
	}
	if (r->suspended) {
		/* resumed by http_resume(): the handler answers now */
		r->suspended = false;
		r->resumed = true;
	}
	k = r->match.route->fn(r);
	if (!r->match.route->ping_body && !streq(r->method, "GET") && !streq(r->method, "HEAD"))
		__atomic_add_fetch(&write_generation, 1, __ATOMIC_RELEASE);
	if (r->suspended && !r->replied)
		return MHD_YES;
	if (k < 0 || !r->replied) {
		if (k >= 0)
			k = -EIO;
		reply_failure(r, k);
	}
	return MHD_YES;
}

/* ---- metrics + access log -------------------------------------------------------------------- */

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	struct server *srv = cls;
	struct req *r = *con_cls;
	int64_t us, ms;
	size_t idx, b;
	struct route_stats *st;

	if (!r)
		return;
	http_deadline_reading(conn, true); /* the next request on this connection has the full deadline */
	us = mono_us() - r->start_mono_us;
	if (us < 0)
		us = 0;
	ms = us / 1000;
	idx = r->match.route ? r->match.index : router_size(srv->router);
	st = &srv->router->stats[idx];
	if (r->status >= 100 && r->status < 600)
		__atomic_add_fetch(&st->by_code[r->status], 1, __ATOMIC_RELAXED);
	for (b = 0; b < N_LATENCY_BUCKETS; b++)
		if ((double)us / 1e6 <= latency_buckets[b])
			break;
	__atomic_add_fetch(&st->latency[b], 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&st->latency_sum_us, (uint64_t)us, __ATOMIC_RELAXED);
	__atomic_add_fetch(&st->latency_count, 1, __ATOMIC_RELAXED);
	log_info("http %s %s %d %zu %lldms req=%llu by=%s%s", r->method, r->path, r->status, r->resp_bytes,
		 (long long)ms, (unsigned long long)r->id, r->principal.kind != PRINCIPAL_NONE ? r->principal.name : "-",
		 toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (aborted)");
	__atomic_sub_fetch(&requests_in_flight, 1, __ATOMIC_RELAXED);
	query_release(&r->query);
	while (r->arena) {
		struct arena_block *n = r->arena->next;
		free(r->arena);
		r->arena = n;
	}
	free(r->body);
	free(r);
	*con_cls = NULL;
}

int http_metrics_append(struct server *srv, struct buf *out)
{
	struct router *rt = srv->router;
	uint64_t cum = 0;
	int k = 0;

	k |= buf_appends(out, "# HELP slipway_http_requests_total HTTP requests by route and status code.\n"
			      "# TYPE slipway_http_requests_total counter\n");
	for (size_t i = 0; i <= rt->n; i++) {
		for (int code = 100; code < 600; code++) {
			uint64_t v = __atomic_load_n(&rt->stats[i].by_code[code], __ATOMIC_RELAXED);
			if (!v)
				continue;
			if (i < rt->n)
				k |= buf_printf(out, "slipway_http_requests_total{route=\"%s %s\",code=\"%d\"} %llu\n",
						rt->routes[i].route->method, rt->routes[i].route->pattern, code,
						(unsigned long long)v);
			else
				k |= buf_printf(out, "slipway_http_requests_total{route=\"other\",code=\"%d\"} %llu\n",
						code, (unsigned long long)v);
		}
	}
	k |= buf_appends(out, "# HELP slipway_http_request_duration_seconds HTTP request latency by route.\n"
			      "# TYPE slipway_http_request_duration_seconds histogram\n");
	for (size_t i = 0; i <= rt->n; i++) {
		struct route_stats *st = &rt->stats[i];
		char label[300];
		uint64_t count = __atomic_load_n(&st->latency_count, __ATOMIC_RELAXED);
		if (!count)
			continue;
		if (i < rt->n)
			(void)str_printf(label, sizeof(label), "route=\"%s %s\"", rt->routes[i].route->method,
					 rt->routes[i].route->pattern);
		else
			(void)str_copy(label, sizeof(label), "route=\"other\"");
		cum = 0;
		for (size_t b = 0; b < N_LATENCY_BUCKETS; b++) {
			cum += __atomic_load_n(&st->latency[b], __ATOMIC_RELAXED);
			k |= buf_printf(out, "slipway_http_request_duration_seconds_bucket{%s,le=\"%g\"} %llu\n", label,
					latency_buckets[b], (unsigned long long)cum);
		}
		cum += __atomic_load_n(&st->latency[N_LATENCY_BUCKETS], __ATOMIC_RELAXED);
		k |= buf_printf(out, "slipway_http_request_duration_seconds_bucket{%s,le=\"+Inf\"} %llu\n", label,
				(unsigned long long)cum);
		k |= buf_printf(out, "slipway_http_request_duration_seconds_sum{%s} %.6f\n", label,
				(double)__atomic_load_n(&st->latency_sum_us, __ATOMIC_RELAXED) / 1e6);
		k |= buf_printf(out, "slipway_http_request_duration_seconds_count{%s} %llu\n", label,
				(unsigned long long)count);
	}
	k |= buf_printf(out, "# HELP slipway_http_read_deadline_closed_total Connections closed because a request "
			     "did not arrive within request_read_timeout.\n"
			     "# TYPE slipway_http_read_deadline_closed_total counter\n"
			     "slipway_http_read_deadline_closed_total %llu\n",
			(unsigned long long)http_deadline_closed());
	return k < 0 ? -ENOMEM : 0;
}

/* ---- daemon ---------------------------------------------------------------------------------- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decoding of paths and query values (STYLE §7): "%00" is kept encoded so that a NUL
 * never truncates a name; such a path then fails every name check (and the board refuses it).
 * '+' is a space, as in form-encoded query strings; no valid path segment contains one. */
static size_t unescape(void *cls, struct MHD_Connection *conn, char *s)
{
	char *w = s;

	(void)cls;
	(void)conn;
	for (const char *p = s; *p; p++) {
		int hi, lo;
		if (*p == '%' && (hi = hexval(p[1])) >= 0 && (lo = hexval(p[2])) >= 0 && (hi | lo) != 0) {
			*w++ = (char)(hi * 16 + lo);
			p += 2;
		} else if (*p == '+') /* form encoding of query values (Python clients send it) */
			*w++ = ' ';
		else
			*w++ = *p;
	}
	*w = 0;
	return (size_t)(w - s);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	size_t l;

	(void)cls;
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	l = strlen(msg);
	while (l > 0 && msg[l - 1] == '\n')
		msg[--l] = 0;
	log_debug("microhttpd: %s", msg);
}

int http_start(struct server *srv)
{
	struct server_config *cfg = &srv->cfg;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST | AI_PASSIVE }, *ai = NULL;
	char host[128], portstr[16], *cert = NULL, *key = NULL;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	const union MHD_DaemonInfo *info;
	unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ITC | MHD_USE_ERROR_LOG;
	bool tls = cfg->tls_cert && *cfg->tls_cert;
	int port, k;

	k = server_parse_listen(cfg->listen, host, sizeof(host), &port);
	if (k < 0)
		return log_error_errno(k, "invalid listen address '%s'", cfg->listen);
	(void)str_printf(portstr, sizeof(portstr), "%d", port);
	k = getaddrinfo(host[0] ? host : NULL, portstr, &hints, &ai);
	if (k != 0) {
		log_error("cannot resolve listen address '%s': %s", cfg->listen, gai_strerror(k));
		return -EINVAL;
	}
	if (ai->ai_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (tls) {
		size_t len;
		flags |= MHD_USE_TLS;
		k = fs_read_file(cfg->tls_cert, 1 << 20, &cert, &len);
		if (k < 0) {
			freeaddrinfo(ai);
			return log_error_errno(k, "cannot read tls_cert '%s'", cfg->tls_cert);
		}
		k = fs_read_file(cfg->tls_key, 1 << 20, &key, &len);
		if (k < 0) {
			free(cert);
			freeaddrinfo(ai);
			return log_error_errno(k, "cannot read tls_key '%s'", cfg->tls_key);
		}
	}
	struct MHD_OptionItem opts[] = {
		{ MHD_OPTION_SOCK_ADDR, 0, ai->ai_addr },
		{ MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)cfg->http_threads, NULL },
		{ MHD_OPTION_CONNECTION_LIMIT, (intptr_t)cfg->max_connections, NULL },
		{ MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)cfg->connection_timeout, NULL },
		/* libmicrohttpd's own default: it holds headers and the read buffer only (bodies are
		 * copied into the request's own bounded buffer), and MHD zeroes this pool for every
		 * request, so a larger pool costs CPU on every ping (bench/RESULTS.md) */
		{ MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t)(32 * 1024), NULL },
		{ MHD_OPTION_STRICT_FOR_CLIENT, 1, NULL },
		{ MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, srv },
		{ MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, NULL },
		{ MHD_OPTION_UNESCAPE_CALLBACK, (intptr_t)unescape, NULL },
		{ MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024, NULL },
		{ cfg->per_ip_connection_limit > 0 ? MHD_OPTION_PER_IP_CONNECTION_LIMIT : MHD_OPTION_ARRAY,
		  (intptr_t)cfg->per_ip_connection_limit, NULL },
		{ cfg->request_read_timeout > 0 ? MHD_OPTION_NOTIFY_CONNECTION : MHD_OPTION_ARRAY,
		  (intptr_t)http_deadline_notify, NULL },
		{ tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_ARRAY, 0, cert },
		{ tls ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_ARRAY, 0, key },
		{ MHD_OPTION_END, 0, NULL },
	};
	/* MHD_OPTION_ARRAY with a NULL array is a no-op entry; compact the list instead to be safe */
	struct MHD_OptionItem final[ELEMENTSOF(opts)];
	size_t nf = 0;
	for (size_t i = 0; i < ELEMENTSOF(opts); i++)
		if (opts[i].option != MHD_OPTION_ARRAY)
			final[nf++] = opts[i];
	if (cfg->trusted_proxies && *cfg->trusted_proxies && cfg->per_ip_connection_limit > 0 &&
	    cfg->per_ip_connection_limit <= cfg->max_held_pings)
		log_warn("per_ip_connection_limit (%lld) counts every connection through a trusted proxy as one "
			 "address: agents pinging through it are refused beyond that many",
			 (long long)cfg->per_ip_connection_limit);
	k = http_deadline_start(cfg->request_read_timeout);
	if (k < 0) {
		freeaddrinfo(ai);
		free(cert);
		free(key);
		return k;
	}
	srv->mhd = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, on_request, srv, MHD_OPTION_ARRAY, final,
				    MHD_OPTION_END);
	freeaddrinfo(ai);
	free(cert);
	free(key);
	if (!srv->mhd) {
		http_deadline_stop();
		log_error("cannot listen on '%s' (address in use, or bad TLS files?)", cfg->listen);
		return -EADDRINUSE;
	}
	info = MHD_get_daemon_info(srv->mhd, MHD_DAEMON_INFO_LISTEN_FD);
	if (info && getsockname(info->listen_fd, (struct sockaddr *)&ss, &sl) == 0) {
		char addr[INET6_ADDRSTRLEN] = "";
		if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
			inet_ntop(AF_INET6, &s6->sin6_addr, addr, sizeof(addr));
			(void)str_printf(srv->bound, sizeof(srv->bound), "[%s]:%u", addr, ntohs(s6->sin6_port));
		} else {
			struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
			inet_ntop(AF_INET, &s4->sin_addr, addr, sizeof(addr));
			(void)str_printf(srv->bound, sizeof(srv->bound), "%s:%u", addr, ntohs(s4->sin_port));
		}
	} else
		(void)str_copy(srv->bound, sizeof(srv->bound), cfg->listen);
	return 0;
}

void http_stop(struct server *srv)
{
	int64_t deadline;

	if (!srv->mhd)
		return;
	(void)MHD_quiesce_daemon(srv->mhd);
	if (srv->ping_shutdown)
		srv->ping_shutdown(srv);
	/* let requests in flight finish (bounded) */
	deadline = mono_ms() + 10000;
	while (mono_ms() < deadline && __atomic_load_n(&requests_in_flight, __ATOMIC_RELAXED) > 0)
		usleep(10 * 1000);
	MHD_stop_daemon(srv->mhd);
	srv->mhd = NULL;
	http_deadline_stop();
}
