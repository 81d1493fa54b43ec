/* SPDX-License-Identifier: Apache-2.0 */
/* ping/hold.c: held pings (PROTOCOL §5.11): the long-poll waiters, and the wake events (read from the store by the
 * ping thread) that resume them. No thread is held per waiter: held requests are suspended libmicrohttpd
 * connections, resumed here and answered by their handler (ping_resume()). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ping_state.h"
#include "server.h"
#include "util.h"
#include "banned.h"

#define EVENT_BATCH 256
/* A woken waiter whose re-run has not come back this long after its resume no longer counts against wake_batch (its
 * handler has not run again: a connection gone without one) */
#define RUN_STALE_MS (30 * 1000)
/* A woken waiter still queued for its turn at its deadline stays queued this much longer: it is due a re-run, and
 * its client waits its HTTP timeout (10 s for slipway-agent) past the wait it asked for */
#define PENDING_GRACE_MS (5 * 1000)

static void held_gauge(struct ping_state *ps)
{
	__atomic_store_n(&ps->srv->metrics.pings_held, (uint64_t)ps->n_waiters, __ATOMIC_RELAXED);
}

/* Requests to resume once wlock is released; a woken waiter's (w set) re-run goes to the run pool instead when it
 * takes runs, its request staying suspended until the run is done (one resume, not two: libmicrohttpd walks every
 * suspended connection of a thread on each round that resumes one) */
struct resume_list {
	struct resume_entry {
		struct req *r;
		struct waiter *w;
	} *v;
	size_t n, cap;
};

static void resume_add_entry(struct resume_list *l, struct req *r, struct waiter *w)
{
	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 64;
		struct resume_entry *nv = realloc(l->v, nc * sizeof(*nv));
		if (!nv) {
			/* cannot remember it: resume right away (we hold wlock, resume does not need it) */
			http_resume(r);
			return;
		}
		l->v = nv;
		l->cap = nc;
	}
	l->v[l->n++] = (struct resume_entry){ .r = r, .w = w };
}

static void resume_add(struct resume_list *l, struct req *r)
{
	resume_add_entry(l, r, NULL);
}

static void resume_all(struct ping_state *ps, struct resume_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		if (!l->v[i].w || ping_woken_queue(ps, l->v[i].w) < 0)
			http_resume(l->v[i].r);
	free(l->v);
}

/* ---- the queue of woken waiters (caller holds wlock) ---- */

static void pend_add(struct ping_state *ps, struct waiter *w)
{
	if (w->pending)
		return;
	w->pprev = ps->p_tail;
	w->pnext = NULL;
	if (ps->p_tail)
		ps->p_tail->pnext = w;
	else
		ps->p_head = w;
	ps->p_tail = w;
	w->pending = true;
	ps->n_pending++;
}

static void pend_remove(struct ping_state *ps, struct waiter *w)
{
	if (!w->pending)
		return;
	if (w->pprev)
		w->pprev->pnext = w->pnext;
	else
		ps->p_head = w->pnext;
	if (w->pnext)
		w->pnext->pprev = w->pprev;
	else
		ps->p_tail = w->pprev;
	w->pprev = w->pnext = NULL;
	w->pending = false;
	ps->n_pending--;
}

/* ---- the waiters refused an install, oldest refusal first (caller holds wlock) ---- */

static void refused_set(struct ping_state *ps, struct waiter *w, bool refused)
{
	if (refused == w->refused)
		return;
	w->refused = refused;
	if (refused) {
		w->sprev = ps->s_tail;
		w->snext = NULL;
		if (ps->s_tail)
			ps->s_tail->snext = w;
		else
			ps->s_head = w;
		ps->s_tail = w;
		return;
	}
	if (w->sprev)
		w->sprev->snext = w->snext;
	else
		ps->s_head = w->snext;
	if (w->snext)
		w->snext->sprev = w->sprev;
	else
		ps->s_tail = w->sprev;
	w->sprev = w->snext = NULL;
}

static void run_end(struct ping_state *ps, struct waiter *w)
{
	if (!w->running)
		return;
	w->running = false;
	ps->n_running--;
	ps->wake_runs_done++;
}

/* Caller holds wlock: the rate of re-runs, sampled over at least a second (ping_wake_backlog()). */
static void rate_sample(struct ping_state *ps, int64_t now)
{
	int64_t dt = now - ps->rate_mono_ms;

	if (dt < 1000)
		return;
	__atomic_store_n(&ps->wake_rate, (int64_t)(ps->wake_runs_done - ps->rate_runs_done) * 1000 / dt,
			 __ATOMIC_RELAXED);
	ps->rate_runs_done = ps->wake_runs_done;
	ps->rate_mono_ms = now;
}

/* Does pr move a deploy on: a report of a step under way, or a host whose last run gave it a goal or left it
 * holding a slot (its report of the last step, SERVING_BUILD SUCCEEDED, looks like an idle host's)? */
bool ping_moves_a_deploy(struct ping_state *ps, const struct ping_request *pr)
{
	pthread_mutex_t *lock;
	struct hb_entry *e;
	bool deploying;

	for (size_t i = 0; i < pr->n_reports; i++) {
		const struct ping_report *p = &pr->reports[i];

		if (p->deploy_id && p->deploy_id[0] &&
		    (p->deploy_stage != DEPLOY_STAGE_SERVING_BUILD || p->agent_status != AGENT_STATUS_SUCCEEDED))
			return true;
	}
	e = ping_hb_lock(ps, pr->host_id, &lock);
	deploying = e && e->deploying;
	pthread_mutex_unlock(lock);
	return deploying;
}

int ping_wake_backlog(struct ping_state *ps)
{
	int64_t pending = (int64_t)__atomic_load_n(&ps->srv->metrics.ping_wakes_pending, __ATOMIC_RELAXED);
	int64_t rate = __atomic_load_n(&ps->wake_rate, __ATOMIC_RELAXED), most = ps->srv->cfg.overload_retry_after;
	int64_t s;

	if (ps->srv->cfg.wake_batch <= 0 || pending <= ps->srv->cfg.wake_batch)
		return -1;
	s = rate > 0 ? (pending + rate - 1) / rate : most;
	return (int)(s < 1 ? 1 : s > most ? most : s);
}

static void wake_gauges(struct ping_state *ps)
{
	struct server_metrics *m = &ps->srv->metrics;

	__atomic_store_n(&m->ping_wakes_pending, (uint64_t)ps->n_pending, __ATOMIC_RELAXED);
	__atomic_store_n(&m->ping_wakes_running, (uint64_t)ps->n_running, __ATOMIC_RELAXED);
	if ((uint64_t)ps->n_running > __atomic_load_n(&m->ping_wakes_running_peak, __ATOMIC_RELAXED))
		__atomic_store_n(&m->ping_wakes_running_peak, (uint64_t)ps->n_running, __ATOMIC_RELAXED);
}

/* Resume queued woken waiters, oldest wake first, while fewer than wake_batch woken ones re-run: a wake of
 * thousands of held pings becomes a steady stream of re-runs the server keeps up with, and a ping that arrives
 * meanwhile (a deploying host's report) queues behind at most wake_batch of them. */
static void dispatch_locked(struct ping_state *ps, struct resume_list *l)
{
	size_t batch = (size_t)ps->srv->cfg.wake_batch;

	while (ps->p_head && (batch == 0 || ps->n_running < batch)) {
		struct waiter *w = ps->p_head;

		pend_remove(ps, w);
		w->waiting = false;
		w->running = true;
		w->run_mono_ms = mono_ms();
		ps->n_running++;
		resume_add_entry(l, w->req, w);
	}
	wake_gauges(ps);
}

/* Caller holds wlock. Mark w cancelled (returns true when the caller must resume it now) or woken (a suspended
 * waiter is queued for its turn, dispatch_locked() resumes it; a running one sees the flag when it holds again). */
static bool wake_locked(struct ping_state *ps, struct waiter *w, bool cancel)
{
	if (cancel)
		w->cancel = true;
	else
		w->woken = true;
	if (!w->waiting)
		return false; /* its handler is running */
	if (!cancel) {
		pend_add(ps, w);
		return false;
	}
	pend_remove(ps, w);
	w->waiting = false;
	return true;
}

void ping_waiter_cancel_host(struct ping_state *ps, const char *host_id)
{
	struct req *resume = NULL;
	struct hb_entry *e;

	/* lock order: wlock, then a stripe (inside hb_lookup); evict_silent() holds wlock too */
	pthread_mutex_lock(&ps->wlock);
	e = ping_hb_lookup(ps, host_id);
	if (e && e->waiter) {
		struct waiter *w = e->waiter;

		e->waiter = NULL;
		if (wake_locked(ps, w, true))
			resume = w->req;
	}
	pthread_mutex_unlock(&ps->wlock);
	if (resume)
		http_resume(resume);
}

int ping_waiter_hold(struct ping_state *ps, struct waiter *w, bool refused)
{
	struct hb_entry *e;

	pthread_mutex_lock(&ps->wlock);
	e = ping_hb_lookup(ps, w->host_id);
	if (ps->stopping || (int64_t)ps->n_waiters >= ps->srv->cfg.max_held_pings) {
		bool stopping = ps->stopping;

		pthread_mutex_unlock(&ps->wlock);
		return stopping ? -ESHUTDOWN : -EBUSY;
	}
	w->prev = ps->w_tail;
	w->next = NULL;
	if (ps->w_tail)
		ps->w_tail->next = w;
	else
		ps->w_head = w;
	ps->w_tail = w;
	ps->n_waiters++;
	refused_set(ps, w, refused);
	if (e)
		e->waiter = w;
	w->waiting = false;
	held_gauge(ps);
	pthread_mutex_unlock(&ps->wlock);
	ping_waiter_rehold(ps, w);
	return 0;
}

void ping_waiter_rehold(struct ping_state *ps, struct waiter *w)
{
	struct resume_list l = { 0 };
	bool resume_now;

	/* suspend first, then become wakeable: nobody resumes a connection that is not suspended */
	http_suspend(w->req);
	pthread_mutex_lock(&ps->wlock);
	run_end(ps, w);
	resume_now = w->cancel || ps->stopping;
	if (!resume_now) {
		w->waiting = true;
		if (w->woken)
			pend_add(ps, w); /* woken again while it ran: it re-runs in its turn */
	}
	dispatch_locked(ps, &l);
	pthread_mutex_unlock(&ps->wlock);
	if (resume_now)
		http_resume(w->req);
	resume_all(ps, &l);
}

void ping_waiter_flags(struct ping_state *ps, struct waiter *w, bool *ret_cancel, bool *ret_woken, bool *ret_stopping)
{
	pthread_mutex_lock(&ps->wlock);
	*ret_cancel = w->cancel || ps->stopping;
	*ret_stopping = ps->stopping;
	*ret_woken = w->woken;
	w->woken = false;
	pthread_mutex_unlock(&ps->wlock);
}

void ping_waiter_set_run(struct ping_state *ps, struct waiter *w, struct ping_run_out *out)
{
	char(*old)[ENGINE_ID_SIZE];

	/* under wlock: a wake event reads every registered waiter's stages, the running ones' too */
	pthread_mutex_lock(&ps->wlock);
	old = w->envs;
	w->envs = out->relevant;
	w->n_envs = out->n_relevant;
	refused_set(ps, w, out->refused);
	pthread_mutex_unlock(&ps->wlock);
	out->relevant = NULL;
	free(old);
}

void ping_waiter_done(struct ping_state *ps, struct waiter *w)
{
	struct resume_list l = { 0 };
	struct hb_entry *e;

	pthread_mutex_lock(&ps->wlock);
	run_end(ps, w);
	pend_remove(ps, w);
	refused_set(ps, w, false);
	e = ping_hb_lookup(ps, w->host_id);
	if (w->prev)
		w->prev->next = w->next;
	else
		ps->w_head = w->next;
	if (w->next)
		w->next->prev = w->prev;
	else
		ps->w_tail = w->prev;
	ps->n_waiters--;
	if (e && e->waiter == w)
		e->waiter = NULL;
	held_gauge(ps);
	dispatch_locked(ps, &l); /* its turn is over: the next woken waiter's begins */
	pthread_mutex_unlock(&ps->wlock);
	resume_all(ps, &l);
	ping_request_free(w->request);
	free(w->envs);
	free(w);
}

static struct wake_target waiter_target(const struct waiter *w)
{
	return (struct wake_target){ .host_id = w->host_id, .host_name = w->request->host_name,
				     .groups = w->request->groups, .n_groups = w->request->n_groups,
				     .envs = (const char(*)[ENGINE_ID_SIZE])w->envs, .n_envs = w->n_envs,
				     .refused = w->refused };
}

static struct wake_event wake_event_of(const struct store_event *ev)
{
	return (struct wake_event){ .kind = engine_wake_kind(ev->kind), .env_id = ev->env_id,
				    .host_id = ev->host_id, .name = ev->name };
}

/* Caller holds wlock: wake w for an event (slipway_ping_wakes_total counts the waiters not woken already). */
static void wake_counted(struct ping_state *ps, struct waiter *w)
{
	if (!w->woken && !w->cancel)
		METRIC_INC(ps->srv, ping_wakes);
	(void)wake_locked(ps, w, false);
}

/* Caller holds wlock. The held pings ev concerns (engine_wake_concerns()) are woken (queued for their turn); a
 * released slot wakes at most ENGINE_SLOT_WAKES of them, oldest refusal first, among those not woken or cancelled
 * yet: only a waiter refused an install can use a slot, and they have their own list (a rollout at full width,
 * where no one is refused, walks nothing for the slots its hosts release). */
static void wake_for_event(struct ping_state *ps, const struct wake_event *ev)
{
	int slot_budget = ENGINE_SLOT_WAKES;

	if (ev->kind == WAKE_KIND_SLOT) {
		for (struct waiter *w = ps->s_head; w && slot_budget > 0; w = w->snext) {
			struct wake_target t = waiter_target(w);

			if (w->woken || w->cancel || !engine_wake_concerns(ev, &t))
				continue;
			slot_budget--;
			METRIC_INC(ps->srv, ping_slot_wakes);
			wake_counted(ps, w);
		}
		return;
	}
	for (struct waiter *w = ps->w_head; w; w = w->next) {
		struct wake_target t = waiter_target(w);

		if (engine_wake_concerns(ev, &t))
			wake_counted(ps, w);
	}
}

void ping_event_ends(struct ping_state *ps, const struct store_event *sev)
{
	struct wake_event ev = wake_event_of(sev);
	unsigned ends = engine_wake_ends(&ev);
	int64_t tick;

	if (!ends)
		return;
	tick = ping_idle_tick(ps);
	if ((ends & WAKE_ENDS_HOST) && sev->host_id[0])
		ping_forget_host(ps, sev->host_id, tick);
	if (ends & WAKE_ENDS_ALL)
		ping_idle_all_event(ps, tick);
	if ((ends & WAKE_ENDS_ENV) && sev->env_id[0]) {
		ping_stage_forget_full(ps, sev->env_id);
		ping_idle_env_event(ps, sev->env_id, tick);
	}
}

void ping_poll_events(struct ping_state *ps)
{
	struct store_event ev[EVENT_BATCH];
	struct wake_event we[EVENT_BATCH];
	struct resume_list l = { 0 };
	int n;

	for (;;) {
		n = store_event_poll(ps->srv->store, ps->event_seq, ev, EVENT_BATCH);
		if (n < 0) {
			(void)server_db_error(ps->srv, n, "polling wake events");
			break;
		}
		if (n == 0)
			break;
		/* an API change to a host's rows: its next ping re-reads its membership; a released slot or a changed
		 * stage (maxParallel, a new deploy): admission must look again before the woken waiters run. Idle
		 * repeats of the hosts the event would wake end (on PostgreSQL the wake listener did so already, when it
		 * was notified: this is then a second, harmless end). */
		for (int i = 0; i < n; i++) {
			we[i] = wake_event_of(&ev[i]);
			ping_event_ends(ps, &ev[i]);
		}
		pthread_mutex_lock(&ps->wlock);
		for (int i = 0; i < n; i++)
			wake_for_event(ps, &we[i]);
		dispatch_locked(ps, &l);
		pthread_mutex_unlock(&ps->wlock);
		__atomic_store_n(&ps->event_seq, ev[n - 1].seq, __ATOMIC_RELEASE);
		__atomic_store_n(&ps->srv->metrics.ping_event_seq, (uint64_t)ev[n - 1].seq, __ATOMIC_RELAXED);
		if (n < EVENT_BATCH)
			break;
	}
	resume_all(ps, &l);
}

void ping_expire_waiters(struct ping_state *ps)
{
	struct resume_list l = { 0 };
	int64_t now = mono_ms();

	pthread_mutex_lock(&ps->wlock);
	for (struct waiter *w = ps->w_head; w; w = w->next)
		if (w->waiting && now >= w->deadline_mono_ms + (w->pending ? PENDING_GRACE_MS : 0)) {
			pend_remove(ps, w);
			w->waiting = false;
			resume_add(&l, w->req);
		} else if (w->running && now - w->run_mono_ms >= RUN_STALE_MS)
			run_end(ps, w);
	dispatch_locked(ps, &l);
	rate_sample(ps, now);
	pthread_mutex_unlock(&ps->wlock);
	resume_all(ps, &l);
}

void ping_waiters_stop(struct ping_state *ps)
{
	struct resume_list l = { 0 };

	/* libmicrohttpd needs every suspended connection resumed before the daemon stops; each is answered 503 with
	 * Retry-After: 0 (ping_resume() returns -ESHUTDOWN), so its agent asks another replica at once and keeps
	 * long-polling there (a NOOP would be an early answer: the agent would fall back to polling) */
	pthread_mutex_lock(&ps->wlock);
	ps->stopping = true;
	for (struct waiter *w = ps->w_head; w; w = w->next)
		if (wake_locked(ps, w, true))
			resume_add(&l, w->req);
	wake_gauges(ps);
	pthread_mutex_unlock(&ps->wlock);
	resume_all(ps, &l);
}
