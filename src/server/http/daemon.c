/* SPDX-License-Identifier: Apache-2.0 */
/* http/daemon.c: libmicrohttpd glue (STYLE §12): the daemon (options, TLS, limits, percent-decoding)
 * and the access handler. Limits before bytes: the first access-handler call checks headers only: route
 * and method (404/405), authentication and the CSRF guard (401/403/415), Content-Length against the
 * route's maximum (413); only then is the body read, and the handler runs once it is complete. Paths
 * outside the API are the board's. On completion a request is counted, logged and freed. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "fs.h"
#include "internal.h"
#include "log.h"
#include "parse.h"
#include "util.h"
#include "banned.h"

static bool is_api_path(const char *path)
{
	return streq(path, "/v1") || startswith(path, "/v1/") || streq(path, "/healthz") || streq(path, "/metrics");
}

/* ---- the access handler ---------------------------------------------------------------------- */

static uint64_t request_counter;
static int64_t requests_in_flight;
static int64_t connections_open;
static uint64_t write_generation;

uint64_t http_write_generation(void)
{
	return __atomic_load_n(&write_generation, __ATOMIC_ACQUIRE);
}

/* Past its capacity the server answers a ping 503 with Retry-After (and closes the connection) instead of letting
 * requests queue: a request waits only for connections ahead of it (one request each, no pipelining), so the open
 * connections bound the queue. Held pings count (max_held_pings of them at most, below the threshold); other
 * requests are still served, so operators keep the API and the board. */
static bool overloaded(struct server *srv)
{
	return __atomic_load_n(&connections_open, __ATOMIC_RELAXED) > server_overload_connections(&srv->cfg);
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
	if (rt->ping_body && overloaded(srv)) {
		METRIC_INC(srv, pings_overloaded);
		return http_unavailable(r, (int)srv->cfg.overload_retry_after, "server overloaded: retry later");
	}
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
		r->body_alloc_hint = (size_t)len + 1; /* the body's buffer is made this size at once */
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
		size_t na = r->body_alloc ? r->body_alloc : r->body_alloc_hint ? r->body_alloc_hint : 1024;
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

static struct req *req_new(struct server *srv, struct MHD_Connection *conn, const char *url, const char *method)
{
	size_t l = strlen(url);
	struct req *r;

	if (l >= HTTP_PATH_MAX)
		url = "/"; /* matches no API route: a 404, or the board's index */
	l = strlen(url);
	/* the path kept with the request, as long as it is (a held ping keeps its request) */
	r = calloc(1, sizeof(*r) + l + 1);
	if (!r)
		return NULL;
	r->path = (char *)(r + 1);
	memcpy(r->path, url, l + 1);
	r->srv = srv;
	r->conn = conn;
	r->method = method;
	r->id = __atomic_add_fetch(&request_counter, 1, __ATOMIC_RELAXED);
	r->start_mono_us = mono_us();
	r->match.index = SIZE_MAX;
	__atomic_add_fetch(&requests_in_flight, 1, __ATOMIC_RELAXED);
	while (l > 1 && r->path[l - 1] == '/')
		r->path[--l] = 0;
	return r;
}

/* The headers are in: answer at once what needs no body (errors, the board), else wait for the body. */
static void on_headers(struct req *r)
{
	int k;

	if (!request_has_body(r))
		http_deadline_reading(r->conn, false);
	if (r->srv->stopping) {
		/* Retry-After: 0 — try another replica now (a request on a connection kept alive from before the stop) */
		(void)http_unavailable(r, 0, "server shutting down");
		http_reply_failure(r, -EAGAIN);
		return;
	}
	k = first_call(r);
	if (k == 1)
		k = board_serve(r);
	if (k < 0)
		http_reply_failure(r, k);
}

/* The whole request is in (or a suspended handler was resumed): run the handler. */
static void run_handler(struct req *r)
{
	int k;

	http_deadline_reading(r->conn, false);
	if (r->body_too_big) {
		(void)http_fail(r, 413, NULL, "request body exceeds the limit of %zu bytes", r->body_max);
		http_reply_failure(r, -EMSGSIZE);
		return;
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
		return;
	if (k < 0 || !r->replied)
		http_reply_failure(r, k < 0 ? k : -EIO);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
				  const char *version, const char *upload_data, size_t *upload_data_size,
				  void **con_cls)
{
	struct req *r = *con_cls;

	(void)version;
	if (!r) {
		r = req_new(cls, conn, url, method);
		if (!r)
			return MHD_NO;
		*con_cls = r;
		on_headers(r);
		return MHD_YES;
	}
	if (r->replied) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		int k = append_body(r, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return k < 0 ? MHD_NO : MHD_YES;
	}
	run_handler(r);
	return MHD_YES;
}

/* ---- completion: metrics, access log ------------------------------------------------------------ */

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	struct server *srv = cls;
	struct req *r = *con_cls;
	int64_t us;

	if (!r)
		return;
	if (r->handler_data && r->handler_free)
		r->handler_free(r);
	http_deadline_reading(conn, true); /* the next request on this connection has the full deadline */
	us = mono_us() - r->start_mono_us;
	if (us < 0)
		us = 0;
	http_metrics_record(srv, r, us);
	log_info("http %s %s %d %zu %lldms req=%llu by=%s%s", r->method, r->path, r->status, r->resp_bytes,
		 (long long)(us / 1000), (unsigned long long)r->id,
		 r->principal.kind != PRINCIPAL_NONE ? r->principal.name : "-",
		 toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (aborted)");
	__atomic_sub_fetch(&requests_in_flight, 1, __ATOMIC_RELAXED);
	req_free(r);
	*con_cls = NULL;
}

/* ---- daemon ---------------------------------------------------------------------------------- */

/* MHD_OPTION_NOTIFY_CONNECTION: the open connections (overloaded()), and the read deadline's tracking. */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct server *srv = cls;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED)
		__atomic_add_fetch(&connections_open, 1, __ATOMIC_RELAXED);
	else
		__atomic_sub_fetch(&connections_open, 1, __ATOMIC_RELAXED);
	if (srv->cfg.request_read_timeout > 0)
		http_deadline_notify(NULL, conn, socket_context, toe);
}

int64_t http_connections_open(void)
{
	return __atomic_load_n(&connections_open, __ATOMIC_RELAXED);
}

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

/* Read the PEM files of tls_cert and tls_key (both set, checked by the config). */
static int load_tls(const struct server_config *cfg, char **ret_cert, char **ret_key)
{
	size_t len;
	int k;

	k = fs_read_file(cfg->tls_cert, 1 << 20, ret_cert, &len);
	if (k < 0)
		return log_error_errno(k, "cannot read tls_cert '%s'", cfg->tls_cert);
	k = fs_read_file(cfg->tls_key, 1 << 20, ret_key, &len);
	if (k < 0) {
		free(*ret_cert);
		*ret_cert = NULL;
		return log_error_errno(k, "cannot read tls_key '%s'", cfg->tls_key);
	}
	return 0;
}

/* srv->bound: the address the daemon listens on (port 0 resolved). */
static void record_bound(struct server *srv)
{
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv->mhd, MHD_DAEMON_INFO_LISTEN_FD);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char addr[INET6_ADDRSTRLEN] = "";

	if (!info || getsockname(info->listen_fd, (struct sockaddr *)&ss, &sl) != 0) {
		(void)str_copy(srv->bound, sizeof(srv->bound), srv->cfg.listen);
		return;
	}
	if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		inet_ntop(AF_INET6, &s6->sin6_addr, addr, sizeof(addr));
		(void)str_printf(srv->bound, sizeof(srv->bound), "[%s]:%u", addr, ntohs(s6->sin6_port));
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		inet_ntop(AF_INET, &s4->sin_addr, addr, sizeof(addr));
		(void)str_printf(srv->bound, sizeof(srv->bound), "%s:%u", addr, ntohs(s4->sin_port));
	}
}

/* Start libmicrohttpd on addr with the server's limits and callbacks (cert/key: PEM text, or NULL). */
static int start_daemon(struct server *srv, const struct sockaddr *addr, int port, unsigned flags, const char *cert,
			const char *key)
{
	struct server_config *cfg = &srv->cfg;
	bool tls = cert != NULL;
	struct MHD_OptionItem opts[] = {
		{ MHD_OPTION_SOCK_ADDR, 0, (void *)addr },
		{ MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)cfg->http_threads, NULL },
		{ MHD_OPTION_CONNECTION_LIMIT, (intptr_t)cfg->max_connections, NULL },
		{ MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)cfg->connection_timeout, NULL },
		/* libmicrohttpd's memory pool of a connection holds a request's headers and its read buffer only (bodies
		 * are copied into the request's own bounded buffer), and it is zeroed for every request: a held ping
		 * or an idle keep-alive connection costs all of it, and every request the time to clear it */
		{ MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t)cfg->http_connection_memory, NULL },
		{ MHD_OPTION_STRICT_FOR_CLIENT, 1, NULL },
		{ MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, srv },
		{ MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, NULL },
		{ MHD_OPTION_UNESCAPE_CALLBACK, (intptr_t)unescape, NULL },
		{ MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024, NULL },
		{ cfg->per_ip_connection_limit > 0 ? MHD_OPTION_PER_IP_CONNECTION_LIMIT : MHD_OPTION_ARRAY,
		  (intptr_t)cfg->per_ip_connection_limit, NULL },
		{ MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, srv },
		{ tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_ARRAY, 0, (void *)cert },
		{ tls ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_ARRAY, 0, (void *)key },
		{ MHD_OPTION_END, 0, NULL },
	};
	/* MHD_OPTION_ARRAY with a NULL array is a no-op entry; compact the list instead to be safe */
	struct MHD_OptionItem final[ELEMENTSOF(opts)];
	size_t nf = 0;

	for (size_t i = 0; i < ELEMENTSOF(opts); i++)
		if (opts[i].option != MHD_OPTION_ARRAY)
			final[nf++] = opts[i];
	if (tls)
		flags |= MHD_USE_TLS;
	srv->mhd = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, on_request, srv, MHD_OPTION_ARRAY, final,
				    MHD_OPTION_END);
	if (!srv->mhd) {
		log_error("cannot listen on '%s' (address in use, or bad TLS files?)", cfg->listen);
		return -EADDRINUSE;
	}
	return 0;
}

int http_start(struct server *srv)
{
	struct server_config *cfg = &srv->cfg;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST | AI_PASSIVE }, *ai = NULL;
	char host[128], portstr[16], *cert = NULL, *key = NULL;
	unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ITC | MHD_USE_ERROR_LOG;
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
	if (cfg->trusted_proxies && *cfg->trusted_proxies && cfg->per_ip_connection_limit > 0 &&
	    cfg->per_ip_connection_limit <= cfg->max_held_pings)
		log_warn("per_ip_connection_limit (%lld) counts every connection through a trusted proxy as one "
			 "address: agents pinging through it are refused beyond that many",
			 (long long)cfg->per_ip_connection_limit);
	k = cfg->tls_cert && *cfg->tls_cert ? load_tls(cfg, &cert, &key) : 0;
	if (k >= 0)
		k = http_deadline_start(cfg->request_read_timeout);
	if (k >= 0) {
		k = start_daemon(srv, ai->ai_addr, port, flags, cert, key);
		if (k < 0)
			http_deadline_stop();
	}
	freeaddrinfo(ai);
	free(cert);
	free(key);
	if (k < 0)
		return k;
	record_bound(srv);
	return 0;
}

/* Stop accepting new connections while the daemon keeps serving the ones it has. MHD_quiesce_daemon() is not
 * used: with a thread pool, libmicrohttpd 0.9.75 races its own workers removing the listening socket from
 * their epoll sets and aborts the process ("Failed to remove listen FD from epoll set", seen in CI about one
 * stop in ten). Instead an unconnected socket is dup2()'d over the listening descriptor: the listening socket
 * is closed at once (the kernel drops it from every epoll set and refuses new connections, so clients try
 * another replica instead of waiting in the backlog), a worker that still calls accept() on the descriptor
 * gets EINVAL, which libmicrohttpd ignores, and MHD_stop_daemon() later closes the placeholder. */
static void stop_accepting(struct server *srv)
{
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv->mhd, MHD_DAEMON_INFO_LISTEN_FD);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int placeholder;

	if (!info || info->listen_fd == MHD_INVALID_SOCKET)
		return;
	if (getsockname(info->listen_fd, (struct sockaddr *)&ss, &sl) != 0)
		ss.ss_family = AF_INET;
	placeholder = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (placeholder < 0) {
		(void)log_warn_errno(-errno, "cannot stop accepting before the drain; new connections wait in the backlog");
		return;
	}
	if (dup2(placeholder, info->listen_fd) < 0)
		(void)log_warn_errno(-errno, "cannot stop accepting before the drain; new connections wait in the backlog");
	(void)close(placeholder);
}

void http_stop(struct server *srv)
{
	int64_t deadline;

	if (!srv->mhd)
		return;
	stop_accepting(srv);
	/* held pings are answered 503 with Retry-After: 0 (ping/hold.c): their agents fail over at once */
	if (srv->ping_shutdown)
		srv->ping_shutdown(srv);
	/* let requests in flight finish (bounded) */
	deadline = mono_ms() + 10000;
	while (mono_ms() < deadline && __atomic_load_n(&requests_in_flight, __ATOMIC_RELAXED) > 0)
		usleep(10 * 1000);
	MHD_stop_daemon(srv->mhd);
	srv->mhd = NULL;
	http_fixed_free();
	http_deadline_stop();
}
