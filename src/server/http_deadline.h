/* SPDX-License-Identifier: Apache-2.0 */
/* http_deadline.h: the absolute deadline for receiving a request (request_read_timeout), for http.c.
 * libmicrohttpd's connection_timeout only cuts idle connections; a client sending one byte a second is
 * never idle. Each connection is tracked from its start; while the server waits for a request's headers
 * or body it counts as reading, and a sweeper thread closes the connections that have been reading longer
 * than the deadline. A handler that runs or waits (a held long-poll) is not reading and never cut. */
#ifndef SLIPWAY_SERVER_HTTP_DEADLINE_H
#define SLIPWAY_SERVER_HTTP_DEADLINE_H

#include <stdbool.h>
#include <stdint.h>

#include <microhttpd.h>

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
