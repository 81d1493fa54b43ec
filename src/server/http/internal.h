/* SPDX-License-Identifier: Apache-2.0 */
/* http/internal.h: what the files of the HTTP layer share and nobody else uses. The layer is:
 * router.c (route tables and matching), request.c (the request arena, query and header helpers, recorded
 * errors), reply.c (answers and the headers every answer carries), auth.c (principals, authorisation, the
 * trusted proxy and the CSRF guard of its users), board.c (the embedded board files), metrics.c (per-route
 * counters and their Prometheus text), deadline.c (the deadline for receiving a request) and daemon.c (the
 * libmicrohttpd daemon and the access handler that ties them together). */
#ifndef SLIPWAY_SERVER_HTTP_INTERNAL_H
#define SLIPWAY_SERVER_HTTP_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "http/http.h"

/* ---- router.c / metrics.c */

#define N_LATENCY_BUCKETS 14

/* Counters of one route (or, last in the router's array, of unmatched requests). */
struct route_stats {
	uint64_t by_code[600];
	uint64_t latency[N_LATENCY_BUCKETS + 1]; /* last = +Inf */
	uint64_t latency_sum_us, latency_count;
};

/* The counters of route i (i == router_size(): unmatched requests). */
struct route_stats *router_stats(struct router *rt, size_t i);

/* Count a finished request (status, latency) for its route. */
void http_metrics_record(struct server *srv, const struct req *r, int64_t us);

/* ---- request.c / reply.c */

/* Frees what the request owns (arena, query, body) and the request itself. */
void req_free(struct req *r);
/* Queue resp (consumed) with the headers every answer carries. */
int http_queue(struct req *r, int status, struct MHD_Response *resp);
/* Free the fixed answers' responses (http_reply_fixed()), once the daemon is stopped. */
void http_fixed_free(void);
/* Answer the error recorded with http_fail(), or the one errno k maps to. */
void http_reply_failure(struct req *r, int k);

/* ---- auth.c */

/* When trusted_user_header is set, the request carries it and peer is in trusted_proxies: make
 * r->principal the USER with its own and its groups' bindings (trusted_groups_header). Leaves the
 * principal alone otherwise. Records 401 (bad user name) / 503 and returns < 0 on failure. */
int auth_user_principal(struct req *r, const struct sockaddr *peer);
/* The role decision for a USER principal. */
bool auth_user_allows(const struct principal *p, int role, enum route_scope scope, const char *env_name);
/* The CSRF guard for a USER principal's request other than GET/HEAD/OPTIONS: Content-Type must be
 * application/json (else 415), Sec-Fetch-Site, when sent, same-origin or none, and Origin, when sent,
 * this server's origin (public_url, else the Host / X-Forwarded-Host) (else 403). Tokens pass. */
int auth_csrf_check(struct req *r);

/* ---- board.c */

/* Serve the board file at r->path (index.html for any path that is not a file: the board routes itself). */
int board_serve(struct req *r);

/* ---- deadline.c: the absolute deadline for receiving a request (request_read_timeout).
 * libmicrohttpd's connection_timeout only cuts idle connections; a client sending one byte a second is
 * never idle. Each connection is tracked from its start; while the server waits for a request's headers
 * or body it counts as reading, and a sweeper thread closes the connections that have been reading longer
 * than the deadline. A handler that runs or waits (a held long-poll) is not reading and never cut. */

/* Start the sweeper for a deadline of `seconds` (0: no deadline, nothing is tracked). */
int http_deadline_start(int64_t seconds);
void http_deadline_stop(void);
/* MHD_OPTION_NOTIFY_CONNECTION callback: tracks a connection from its start (reading) to its close. */
void http_deadline_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe);
/* The connection's request has been read (false: the handler runs now), or its answer has gone and the
 * next request is awaited (true: the deadline starts again). */
void http_deadline_reading(struct MHD_Connection *conn, bool reading);
/* Connections closed for missing the deadline, since start. */
uint64_t http_deadline_closed(void);

#endif
