/* SPDX-License-Identifier: Apache-2.0 */
/* ping/serve.c: a whole ping as the HTTP handler sees it (pipeline.h): a held ping of the same host answered
 * (§5.1 step 1), an idle repeat answered from memory (§5.10), else the heartbeat (step 2) and a full run
 * (run.c), remembered when idle; a NOOP answer held when the ping asked to wait (§5.11), and re-run when a wake
 * event resumes it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ping_state.h"
#include "server.h"
#include "util.h"
#include "banned.h"

bool ping_repeat_unparsed(struct ping_state *ps, const char *body, size_t len)
{
	char host_id[ENGINE_ID_SIZE];

	if (!body || !ping_idle_repeat_body(ps, body, len, now_ms(), host_id))
		return false;
	ping_waiter_cancel_host(ps, host_id); /* step 1 */
	METRIC_INC(ps->srv, ping_idle_repeats);
	METRIC_INC(ps->srv, ping_idle_repeats_unparsed);
	return true;
}

/* §5.11: hold the NOOP answer of pr (taken, with rel). Returns 0 when held, 1 when it must be answered now,
 * -ESHUTDOWN when the server is stopping. */
static int hold(struct ping_state *ps, struct req *r, struct ping_request *pr, int64_t wait_s, uint64_t seq,
		char (*rel)[ENGINE_ID_SIZE], size_t n_rel)
{
	struct waiter *w = calloc(1, sizeof(*w));
	int k;

	if (!w || str_copy(w->host_id, sizeof(w->host_id), pr->host_id) < 0) {
		free(w);
		free(rel);
		ping_request_free(pr);
		return 1;
	}
	w->req = r;
	w->request = pr;
	w->envs = rel;
	w->n_envs = n_rel;
	w->seq = seq;
	w->deadline_mono_ms = mono_ms() + wait_s * 1000;
	r->handler_data = w;
	/* before it is held (a resumed request may complete on another thread at once): a held ping keeps its
	 * parsed request, not its body */
	req_drop_body(r);
	k = ping_waiter_hold(ps, w);
	if (k < 0) {
		/* max_held_pings reached (answer NOOP now) or shutting down */
		r->handler_data = NULL;
		free(w->envs);
		free(w);
		ping_request_free(pr);
		return k == -ESHUTDOWN ? k : 1;
	}
	return 0; /* suspended: the request comes back through ping_resume() */
}

int ping_serve(struct ping_state *ps, struct req *r, struct ping_request *pr, int64_t wait_s,
	       struct ping_response *ret_resp)
{
	char (*rel)[ENGINE_ID_SIZE] = NULL;
	size_t n_rel = 0;
	int64_t now, idle_seq;
	uint64_t seq = 0, idle_gen;
	bool idle = false;
	int k;

	/* step 1: a held ping of the same host is answered NOOP (its client reconnected) */
	ping_waiter_cancel_host(ps, pr->host_id);
	now = now_ms();
	/* an idle ping repeated: the answer is still NOOP; any other ping of the host forgets it */
	if (ping_idle_repeat(ps, pr->host_id, r->body, r->body_len, wait_s == 0, now, &seq)) {
		ping_request_free(pr);
		METRIC_INC(ps->srv, ping_idle_repeats);
		ping_response_init(ret_resp);
		return 1;
	}
	idle_seq = ping_idle_seq(ps);
	idle_gen = http_write_generation();
	/* step 2, and step 3 when verifying */
	k = ping_heartbeat_record(ps, pr, now, &seq);
	if (k < 0)
		(void)server_db_error(ps->srv, k, "ping: heartbeat");
	/* steps 3-9 */
	k = ping_run(ps, pr, now, k > 0, ret_resp, &rel, &n_rel, &idle);
	if (k < 0) {
		ping_request_free(pr);
		if (k != -ENOMEM)
			(void)server_db_error(ps->srv, k, "ping");
		return k;
	}
	if (idle && wait_s == 0)
		ping_idle_remember(ps, pr->host_id, seq, r->body, r->body_len, idle_seq, idle_gen,
				   (const char(*)[ENGINE_ID_SIZE])rel, n_rel);
	if (ret_resp->op_code != OP_CODE_NOOP || wait_s == 0) {
		free(rel);
		ping_request_free(pr);
		return 1;
	}
	return hold(ps, r, pr, wait_s, seq, rel, n_rel);
}

/* The held ping's answer is now: unregister it (refreshing lastSeen when asked) and answer NOOP. */
static int release_noop(struct ping_state *ps, struct req *r, struct waiter *w, bool touch,
			struct ping_response *ret_resp)
{
	if (touch)
		ping_heartbeat_touch(ps, w->host_id, now_ms());
	r->handler_data = NULL;
	ping_waiter_done(ps, w);
	ping_response_init(ret_resp);
	return 1;
}

int ping_resume(struct ping_state *ps, struct req *r, struct ping_response *ret_resp)
{
	struct waiter *w = r->handler_data;
	char (*rel)[ENGINE_ID_SIZE] = NULL;
	size_t n_rel = 0;
	bool cancel, woken, stopping;
	int64_t now = now_ms();
	int k;

	if (!w) {
		ping_response_init(ret_resp); /* not held by us: nothing to re-run */
		return 1;
	}
	ping_waiter_flags(ps, w, &cancel, &woken, &stopping);
	if (stopping) {
		(void)release_noop(ps, r, w, true, ret_resp);
		return -ESHUTDOWN;
	}
	/* a woken waiter re-runs even when its turn came after its deadline (hold.c lets it wait a little longer) */
	if (cancel || (!woken && mono_ms() >= w->deadline_mono_ms))
		return release_noop(ps, r, w, true, ret_resp);
	if (woken) {
		/* only the host's newest ping may act for it (the agent reconnected or moved) */
		if (!ping_heartbeat_is_newest(ps, w->host_id, w->seq))
			return release_noop(ps, r, w, false, ret_resp);
		k = ping_run(ps, w->request, now, false, ret_resp, &rel, &n_rel, NULL);
		if (k < 0)
			(void)server_db_error(ps->srv, k, "ping: re-running a held ping");
		else if (ret_resp->op_code != OP_CODE_NOOP) {
			free(rel);
			ping_heartbeat_touch(ps, w->host_id, now);
			r->handler_data = NULL;
			ping_waiter_done(ps, w);
			return 1;
		} else {
			ping_response_release(ret_resp);
			ping_waiter_set_envs(w, rel, n_rel);
			if (mono_ms() >= w->deadline_mono_ms)
				return release_noop(ps, r, w, true, ret_resp);
		}
	}
	ping_waiter_rehold(ps, w);
	return 0;
}
