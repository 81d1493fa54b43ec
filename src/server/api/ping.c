/* SPDX-License-Identifier: Apache-2.0 */
/* api/ping.c: POST /v1/system/ping (PROTOCOL §5.1-§5.11), the HTTP side only: the `wait` parameter, the PingRequest
 * validated by proto, and the answer. The ping itself (heartbeat, stages, decision, admission, idle repeats, the
 * long-poll hold) is ping/'s (ping/pipeline.h). */
#include <errno.h>
#include <stdlib.h>

#include "api.h"
#include "parse.h"
#include "ping/pipeline.h"
#include "server.h"
#include "util.h"
#include "wire.h"
#include "banned.h"

static int reply_noop(struct req *r)
{
	/* what ping_response_to_json() makes of a NOOP, without building and dumping it per ping */
	static const char noop[] = "{\"opCode\":\"NOOP\",\"deployGoal\":null}", json[] = "application/json";

	METRIC_INC(r->srv, pings_by_opcode[OP_CODE_NOOP]);
	return http_reply_fixed(r, 200, json, noop, sizeof(noop) - 1);
}

static int reply(struct req *r, struct ping_response *resp)
{
	json_t *j = NULL;
	int op = resp->op_code >= 0 && resp->op_code < _OP_CODE_MAX ? resp->op_code : OP_CODE_NOOP;
	int k;

	if (resp->op_code == OP_CODE_NOOP) {
		ping_response_release(resp);
		return reply_noop(r);
	}
	k = ping_response_to_json(resp, &j);
	ping_response_release(resp);
	if (k < 0)
		return k;
	METRIC_INC(r->srv, pings_by_opcode[op]);
	return http_reply_json(r, 200, j);
}

/* The server is stopping: the agent is to ask another replica at once, and keep long-polling there. */
static int shutting_down(struct req *r)
{
	return http_unavailable(r, 0, "server shutting down: ask another server");
}

static int parse_request(struct req *r, struct ping_request **ret)
{
	struct proto_error err = { 0 };
	struct ping_request *pr;
	json_t *body = NULL;
	int k;

	k = req_json(r, &body);
	if (k == -ENODATA)
		return req_bad(r, NULL, "a PingRequest body is required");
	if (k < 0)
		return k;
	pr = calloc(1, sizeof(*pr));
	if (!pr) {
		json_decref(body);
		return -ENOMEM;
	}
	k = ping_request_from_json(body, pr, &err);
	json_decref(body);
	if (k < 0) {
		free(pr);
		if (k == -EINVAL)
			return req_bad(r, err.field[0] ? err.field : NULL, "%s", err.message);
		return k;
	}
	*ret = pr;
	return 1;
}

/* 503 + Retry-After: retry_s while woken held pings go first (ping_wake_backlog()) */
static int wake_busy(struct req *r, int retry_s)
{
	METRIC_INC(r->srv, pings_overloaded);
	return http_busy(r, retry_s, "woken long-poll pings go first: retry later");
}

/* What ping_serve() / ping_resume() returned, answered. */
static int answer(struct req *r, int k, struct ping_response *resp)
{
	if (k > 0)
		return reply(r, resp);
	if (k == 0 || k == -ENOMEM)
		return k; /* held (or running on the run pool), or out of memory */
	if (k == -ESHUTDOWN)
		return shutting_down(r);
	return http_fail(r, 503, NULL, "database unavailable");
}

static int ping_handle(struct req *r)
{
	struct ping_state *ps = ping_state_get(r->srv);
	struct ping_request *pr = NULL;
	struct ping_response resp;
	const char *wait_raw;
	int64_t wait_s = 0;
	int k, busy;

	if (!ps)
		return http_fail(r, 503, NULL, "the ping path is unavailable");
	if (r->resumed)
		return answer(r, ping_resume(ps, r, &resp), &resp);
	wait_raw = query_get(req_query(r), "wait");
	if (wait_raw) {
		k = parse_i64(wait_raw, 0, INT64_MAX, &wait_s);
		if (k < 0)
			return req_bad(r, "wait", "wait must be an integer number of seconds >= 0");
		if (wait_s > PING_WAIT_MAX_S)
			wait_s = PING_WAIT_MAX_S;
	}
	/* an idle ping repeated byte for byte: NOOP before any parsing */
	if (wait_s == 0 && ping_repeat_unparsed(ps, r->body, r->body_len))
		return reply_noop(r);
	/* held pings woken by a change wait for their turn: they go first, new work comes back later (refused before
	 * parsing unless wake_serve_reports lets a ping that moves a deploy on through) */
	busy = ping_wake_backlog(ps);
	if (busy >= 0 && !r->srv->cfg.wake_serve_reports)
		return wake_busy(r, busy);
	k = parse_request(r, &pr);
	if (k <= 0)
		return k; /* answered 400, or an error */
	if (busy >= 0 && !ping_moves_a_deploy(ps, pr)) {
		ping_request_free(pr);
		return wake_busy(r, busy);
	}
	return answer(r, ping_serve(ps, r, pr, wait_s, &resp), &resp);
}

const struct route api_ping_routes[] = {
	{ "POST", "/v1/system/ping", ping_handle, ROLE_PINGER, SCOPE_SYSTEM, true },
};
const size_t api_ping_routes_count = ELEMENTSOF(api_ping_routes);
