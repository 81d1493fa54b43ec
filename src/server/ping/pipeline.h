/* SPDX-License-Identifier: Apache-2.0 */
/* ping/pipeline.h: the ping pipeline (PROTOCOL §5.1-§5.11) as the HTTP handler (api/ping.c) calls it. The handler
 * parses the request and writes the answer; everything between (heartbeat, membership, the engine's decision,
 * admission, persistence, idle repeats and long-poll holds) happens in ping/, which calls the engine and the store
 * and never calls back up. The flow, file by file: docs/architecture.md, "The walk of a ping". */
#ifndef SLIPWAY_SERVER_PING_PIPELINE_H
#define SLIPWAY_SERVER_PING_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ping_request;
struct ping_response;
struct ping_state;
struct req;
struct server;

/* The longest a ping is held (?wait=, §5.11); longer waits are cut to it. */
#define PING_WAIT_MAX_S 60

/* The process's ping state, created on first use (NULL on failure, logged once). */
struct ping_state *ping_state_get(struct server *srv);

/* §5.10 before parsing: true when body repeats a remembered idle ping of its host byte for byte and nothing
 * relevant happened since. The heartbeat is recorded and a held ping of the host answered NOOP (step 1); the
 * caller answers NOOP. Only for pings that are not to be held. */
bool ping_repeat_unparsed(struct ping_state *ps, const char *body, size_t len);

/* While more woken held pings wait for their turn than one wake_batch re-runs at once (a change woke thousands), a
 * ping that asks for new work is answered 503 with this Retry-After (seconds, the time the queue should take to
 * drain, at most overload_retry_after) instead of queueing behind their runs: the woken hosts get their goal first,
 * and no ping waits past its client's timeout; it is refused before parsing. With the setting wake_serve_reports, a
 * parsed ping that moves a deploy on (ping_moves_a_deploy()) is served all the same: refusing it holds the slots of
 * hosts that already have their goal, serving it slows the woken pings (bench/RESULTS.md, "stampede").
 * -1: serve the ping. */
int ping_wake_backlog(struct ping_state *ps);
bool ping_moves_a_deploy(struct ping_state *ps, const struct ping_request *pr);

/* One ping (§5.1), parsed into pr (taken) from the request body of r. wait_s: the long-poll wait (0: answer now,
 * at most PING_WAIT_MAX_S). Returns 1 with *ret_resp to answer (the caller releases it), 0 when the ping is held
 * or runs on the run pool (r is suspended; its handler runs again with r->resumed set and calls ping_resume()),
 * -ESHUTDOWN when the
 * server is stopping (the caller answers 503 with Retry-After: 0: the agent asks another replica), -ENOMEM, or
 * another negative errno for a database failure (logged here; the caller answers 503). */
int ping_serve(struct ping_state *ps, struct req *r, struct ping_request *pr, int64_t wait_s,
	       struct ping_response *ret_resp);

/* A ping request ended before its handler ran again (the daemon stopped first; req->handler_free, set by
 * ping_serve()): its queued or finished run and its held waiter are let go. */
void ping_request_ended(struct req *r);

/* A held or pooled ping's handler runs again: 1 with *ret_resp to answer, 0 when it is held again (or its re-run
 * is on the run pool), -ESHUTDOWN when the server is stopping, -ENOMEM or another negative errno (as for
 * ping_serve()). */
int ping_resume(struct ping_state *ps, struct req *r, struct ping_response *ret_resp);

#endif
