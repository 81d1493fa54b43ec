/* SPDX-License-Identifier: Apache-2.0 */
/* ping/serve.c: a whole ping as the HTTP handler sees it (pipeline.h): a held ping of the same host answered
 * (§5.1 step 1), an idle repeat answered from memory (§5.10), else the heartbeat (step 2) and a full run
 * (run.c), remembered when idle; a NOOP answer held when the ping asked to wait (§5.11), and re-run when a wake
 * event resumes it. With the run pool (pool.c) a run happens on a pool thread while the connection waits suspended,
 * and the handler, resumed, finishes the ping: the same steps either way (queue_task(), finish_new(),
 * finish_woken()). */
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

/* §5.11: hold the NOOP answer of pr (taken, with out->relevant). Returns 0 when held, 1 when it must be answered now,
 * -ESHUTDOWN when the server is stopping. */
static int hold(struct ping_state *ps, struct req *r, struct ping_request *pr, int64_t wait_s, uint64_t seq,
		struct ping_run_out *out)
{
	struct waiter *w = calloc(1, sizeof(*w));
	int k;

	if (!w || str_copy(w->host_id, sizeof(w->host_id), pr->host_id) < 0) {
		free(w);
		free(out->relevant);
		out->relevant = NULL;
		ping_request_free(pr);
		return 1;
	}
	w->req = r;
	w->request = pr;
	w->envs = out->relevant;
	w->n_envs = out->n_relevant;
	out->relevant = NULL;
	w->seq = seq;
	w->deadline_mono_ms = mono_ms() + wait_s * 1000;
	r->handler_data = w;
	/* before it is held (a resumed request may complete on another thread at once): a held ping keeps its
	 * parsed request, not its body */
	req_drop_body(r);
	k = ping_waiter_hold(ps, w, out->refused);
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

/* A new ping's run (on a pool thread, or inline): the heartbeat (step 2, and step 3 when verifying) and steps 3-9. */
static void run_new(struct ping_state *ps, struct ping_task *t)
{
	int k;

	t->now = now_ms();
	t->idle_seq = ping_idle_seq(ps);
	t->idle_gen = http_write_generation();
	k = ping_heartbeat_record(ps, t->request, t->now, &t->seq);
	if (k < 0)
		(void)server_db_error(ps->srv, k, "ping: heartbeat");
	t->result = ping_run(ps, t->request, t->now, k > 0, &t->resp, &t->out);
}

/* A held ping's turn came (a wake, its deadline, a cancel): what to do before any re-run. */
static enum ping_woken_outcome woken_check(struct ping_state *ps, struct waiter *w)
{
	bool cancel, woken, stopping;

	ping_waiter_flags(ps, w, &cancel, &woken, &stopping);
	if (stopping)
		return PING_WOKEN_STOP;
	/* a woken waiter re-runs even when its turn came after its deadline (hold.c lets it wait a little longer) */
	if (cancel || (!woken && mono_ms() >= w->deadline_mono_ms))
		return PING_WOKEN_NOOP;
	if (!woken)
		return PING_WOKEN_REHOLD;
	/* only the host's newest ping may act for it (the agent reconnected or moved) */
	if (!ping_heartbeat_is_newest(ps, w->host_id, w->seq))
		return PING_WOKEN_STALE;
	return PING_WOKEN_RAN;
}

/* A held ping's turn: the checks, then the re-run when it is due one. */
static void run_woken(struct ping_state *ps, struct ping_task *t)
{
	t->outcome = woken_check(ps, t->w);
	if (t->outcome != PING_WOKEN_RAN)
		return;
	t->now = now_ms();
	t->result = ping_run(ps, t->request, t->now, false, &t->resp, &t->out);
}

void ping_task_run(struct ping_state *ps, struct ping_task *t)
{
	if (t->w)
		run_woken(ps, t);
	else
		run_new(ps, t);
}

/* Queue a copy of t on the pool (suspending r unless it is: suspend false); 0, or < 0 when the pool takes no runs. */
static int queue_task(struct ping_state *ps, struct req *r, const struct ping_task *t, bool suspend)
{
	struct ping_task *queued;

	if (!ping_pool_on(ps))
		return -ESHUTDOWN;
	queued = malloc(sizeof(*queued));
	if (!queued)
		return -ENOMEM;
	*queued = *t;
	r->handler_data = queued;
	r->handler_kind = PING_TASK_KIND;
	if (ping_pool_submit(ps, queued, suspend) == 0)
		return 0; /* r comes back through ping_resume() */
	r->handler_data = t->w;
	r->handler_kind = 0;
	free(queued);
	return -ESHUTDOWN;
}

int ping_woken_queue(struct ping_state *ps, struct waiter *w)
{
	return queue_task(ps, w->req, &(struct ping_task){ .req = w->req, .request = w->request, .w = w }, false);
}

/* A new ping's run is done: remember it when idle, then answer or hold it (§5.11). */
static int finish_new(struct ping_state *ps, struct req *r, struct ping_task *t, struct ping_response *ret_resp)
{
	struct ping_request *pr = t->request;
	int k = t->result;

	if (k < 0) {
		ping_request_free(pr);
		if (k != -ENOMEM && k != -ESHUTDOWN)
			(void)server_db_error(ps->srv, k, "ping");
		return k;
	}
	if (t->out.idle && t->wait_s == 0)
		ping_idle_remember(ps, pr->host_id, t->seq, r->body, r->body_len, t->idle_seq, t->idle_gen,
				   (const char(*)[ENGINE_ID_SIZE])t->out.relevant, t->out.n_relevant);
	*ret_resp = t->resp;
	if (ret_resp->op_code != OP_CODE_NOOP || t->wait_s == 0) {
		free(t->out.relevant);
		ping_request_free(pr);
		return 1;
	}
	return hold(ps, r, pr, t->wait_s, t->seq, &t->out);
}

int ping_serve(struct ping_state *ps, struct req *r, struct ping_request *pr, int64_t wait_s,
	       struct ping_response *ret_resp)
{
	struct ping_task t = { .req = r, .request = pr, .wait_s = wait_s };
	uint64_t seq = 0;

	r->handler_free = ping_request_ended;

	/* step 1: a held ping of the same host is answered NOOP (its client reconnected) */
	ping_waiter_cancel_host(ps, pr->host_id);
	/* an idle ping repeated: the answer is still NOOP; any other ping of the host forgets it */
	if (ping_idle_repeat(ps, pr->host_id, r->body, r->body_len, wait_s == 0, now_ms(), &seq)) {
		ping_request_free(pr);
		METRIC_INC(ps->srv, ping_idle_repeats);
		ping_response_init(ret_resp);
		return 1;
	}
	/* a ping that moves a deploy on may wait for its writes' group commit: on the pool, not on this thread */
	if (ping_pool_on(ps) && ping_moves_a_deploy(ps, pr) && queue_task(ps, r, &t, true) == 0)
		return 0;
	ping_task_run(ps, &t);
	return finish_new(ps, r, &t, ret_resp);
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

/* A held ping's turn is over (its checks and any re-run, here or on the pool): answer it, or hold it again. */
static int finish_woken(struct ping_state *ps, struct req *r, struct ping_task *t, struct ping_response *ret_resp)
{
	struct waiter *w = t->w;

	switch (t->outcome) {
	case PING_WOKEN_NOT_RUN:
	case PING_WOKEN_STOP:
		(void)release_noop(ps, r, w, true, ret_resp);
		return -ESHUTDOWN;
	case PING_WOKEN_NOOP:
		return release_noop(ps, r, w, true, ret_resp);
	case PING_WOKEN_STALE:
		return release_noop(ps, r, w, false, ret_resp);
	case PING_WOKEN_REHOLD:
		ping_waiter_rehold(ps, w);
		return 0;
	case PING_WOKEN_RAN:
		break;
	}
	if (t->result < 0)
		(void)server_db_error(ps->srv, t->result, "ping: re-running a held ping");
	else if (t->resp.op_code != OP_CODE_NOOP) {
		free(t->out.relevant);
		*ret_resp = t->resp;
		ping_heartbeat_touch(ps, w->host_id, t->now);
		r->handler_data = NULL;
		ping_waiter_done(ps, w);
		return 1;
	} else {
		ping_response_release(&t->resp);
		ping_waiter_set_run(ps, w, &t->out);
		if (mono_ms() >= w->deadline_mono_ms)
			return release_noop(ps, r, w, true, ret_resp);
	}
	ping_waiter_rehold(ps, w);
	return 0;
}

int ping_resume(struct ping_state *ps, struct req *r, struct ping_response *ret_resp)
{
	struct waiter *w = r->handler_data;
	struct ping_task t;

	if (r->handler_kind == PING_TASK_KIND) {
		/* back from the run pool */
		struct ping_task *done = r->handler_data;
		int k;

		r->handler_kind = 0;
		r->handler_data = done->w;
		k = done->w ? finish_woken(ps, r, done, ret_resp) : finish_new(ps, r, done, ret_resp);
		free(done);
		return k;
	}
	if (!w) {
		ping_response_init(ret_resp); /* not held by us: nothing to re-run */
		return 1;
	}
	t = (struct ping_task){ .req = r, .request = w->request, .w = w };
	run_woken(ps, &t);
	return finish_woken(ps, r, &t, ret_resp);
}

void ping_request_ended(struct req *r)
{
	struct ping_state *ps = ping_state_get(r->srv);
	struct waiter *w = r->handler_data;

	if (r->handler_kind == PING_TASK_KIND) {
		/* the pool is stopped by then (ping_pool_stop() comes before the daemon's stop): no thread has it */
		struct ping_task *t = r->handler_data;

		w = t->w;
		if (!w)
			ping_request_free(t->request);
		ping_response_release(&t->resp);
		free(t->out.relevant);
		free(t);
		r->handler_kind = 0;
	}
	r->handler_data = NULL;
	if (w && ps)
		ping_waiter_done(ps, w);
}
