/* SPDX-License-Identifier: Apache-2.0 */
/* ping/pool.c: the threads that run pings (setting ping_run_threads, ping_state.h "the run pool"). A run is queued
 * with its connection suspended (a new ping's by its handler, a woken held ping's as it was held), taken oldest
 * first by a free thread (ping_task_run(), serve.c), and its connection resumed (by the resumer, with the others
 * done meanwhile, resume_delay_us()); the HTTP thread that then runs the handler again answers or holds the ping.
 * An HTTP thread waits for neither the database nor a group commit: with 4 HTTP threads, at most 4 runs were under
 * way and a group commit gathered at most 4 jobs; the pool's threads wait in their place, many at once. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "ping_state.h"
#include "server.h"
#include "sleep.h"
#include "util.h"
#include "banned.h"

/* Caller holds pool_lock: resume every finished run's request in one go (pool_lock let go meanwhile). */
static void resume_done(struct ping_state *ps)
{
	struct req *batch[PING_POOL_RESUME_BATCH];
	size_t n = ps->pool_n_done;

	memcpy(batch, ps->pool_done, n * sizeof(batch[0]));
	ps->pool_n_done = 0;
	pthread_mutex_unlock(&ps->pool_lock);
	for (size_t i = 0; i < n; i++)
		http_resume(batch[i]);
	pthread_mutex_lock(&ps->pool_lock);
}

/* How long the first finished run waits for others to be resumed with: libmicrohttpd walks every suspended
 * connection of a thread — every held ping — on each round in which it resumes any, so a request resumed alone costs
 * that walk and a batch shares it; with few held pings the walk is short and there is no need to wait. */
static int64_t resume_delay_us(const struct ping_state *ps)
{
	int64_t held = (int64_t)__atomic_load_n(&ps->srv->metrics.pings_held, __ATOMIC_RELAXED);
	int64_t us = held * PING_POOL_RESUME_NS_PER_HELD / 1000;

	return us < PING_POOL_RESUME_MAX_US ? us : PING_POOL_RESUME_MAX_US;
}

/* The resumer: the requests of finished runs are resumed together, resume_delay_us() after the first of them (or
 * at once when PING_POOL_RESUME_BATCH are done). */
static void *resumer_thread(void *arg)
{
	struct ping_state *ps = arg;

	pthread_mutex_lock(&ps->pool_lock);
	for (;;) {
		int64_t due = ps->pool_done_since_us + resume_delay_us(ps);

		if (ps->pool_n_done > 0 &&
		    (ps->pool_resumer_stop || ps->pool_n_done == PING_POOL_RESUME_BATCH || mono_us() >= due)) {
			resume_done(ps);
			continue;
		}
		if (ps->pool_resumer_stop)
			break;
		if (ps->pool_n_done == 0)
			pthread_cond_wait(&ps->pool_done_cond, &ps->pool_lock);
		else
			(void)pthread_cond_timedwait(&ps->pool_done_cond, &ps->pool_lock,
						     &(struct timespec){ .tv_sec = due / 1000000,
									 .tv_nsec = (due % 1000000) * 1000L });
	}
	pthread_mutex_unlock(&ps->pool_lock);
	return NULL;
}

static void *pool_thread(void *arg)
{
	struct ping_state *ps = arg;
	struct ping_task *t;

	pthread_mutex_lock(&ps->pool_lock);
	for (;;) {
		while (!ps->pool_head && ps->pool_on)
			pthread_cond_wait(&ps->pool_cond, &ps->pool_lock);
		t = ps->pool_head;
		if (!t)
			break; /* stopped, and nothing left to take */
		ps->pool_head = t->next;
		if (!ps->pool_head)
			ps->pool_tail = NULL;
		ps->pool_queued--;
		__atomic_store_n(&ps->srv->metrics.ping_runs_queued, (uint64_t)ps->pool_queued, __ATOMIC_RELAXED);
		pthread_mutex_unlock(&ps->pool_lock);
		ping_task_run(ps, t);
		METRIC_INC(ps->srv, ping_pool_runs);
		pthread_mutex_lock(&ps->pool_lock);
		/* t is the resumed handler's from here: only its request is kept */
		if (ps->pool_n_done == PING_POOL_RESUME_BATCH)
			resume_done(ps); /* the resumer is behind: this thread resumes them */
		if (ps->pool_n_done == 0)
			ps->pool_done_since_us = mono_us();
		ps->pool_done[ps->pool_n_done++] = t->req;
		if (ps->pool_n_done == 1 || ps->pool_n_done == PING_POOL_RESUME_BATCH)
			pthread_cond_signal(&ps->pool_done_cond);
	}
	pthread_mutex_unlock(&ps->pool_lock);
	return NULL;
}

int ping_pool_start(struct ping_state *ps, size_t n)
{
	int k;

	pthread_mutex_init(&ps->pool_lock, NULL);
	pthread_cond_init(&ps->pool_cond, NULL);
	k = sleep_cond_init(&ps->pool_done_cond); /* the resumer waits on the monotonic clock */
	if (k < 0)
		return k;
	ps->pool_threads = calloc(n, sizeof(*ps->pool_threads));
	if (!ps->pool_threads)
		return -ENOMEM;
	k = pthread_create(&ps->pool_resumer, NULL, resumer_thread, ps);
	if (k != 0) {
		free(ps->pool_threads);
		ps->pool_threads = NULL;
		return log_error_errno(-k, "ping: cannot start the run threads");
	}
	ps->pool_on = true;
	for (; ps->pool_n_threads < n; ps->pool_n_threads++) {
		int e = pthread_create(&ps->pool_threads[ps->pool_n_threads], NULL, pool_thread, ps);

		if (e != 0) {
			ping_pool_stop(ps);
			return log_error_errno(-e, "ping: cannot start the run threads");
		}
	}
	return 0;
}

int ping_pool_submit(struct ping_state *ps, struct ping_task *t, bool suspend)
{
	pthread_mutex_lock(&ps->pool_lock);
	if (!ps->pool_on) {
		pthread_mutex_unlock(&ps->pool_lock);
		return -ESHUTDOWN;
	}
	/* suspended before any thread can take it: nobody resumes a connection that is not suspended */
	if (suspend)
		http_suspend(t->req);
	t->next = NULL;
	if (ps->pool_tail)
		ps->pool_tail->next = t;
	else
		ps->pool_head = t;
	ps->pool_tail = t;
	ps->pool_queued++;
	__atomic_store_n(&ps->srv->metrics.ping_runs_queued, (uint64_t)ps->pool_queued, __ATOMIC_RELAXED);
	pthread_cond_signal(&ps->pool_cond);
	pthread_mutex_unlock(&ps->pool_lock);
	return 0;
}

void ping_pool_stop(struct ping_state *ps)
{
	struct ping_task *queued;

	if (!ps->pool_threads)
		return;
	pthread_mutex_lock(&ps->pool_lock);
	__atomic_store_n(&ps->pool_on, false, __ATOMIC_RELEASE);
	queued = ps->pool_head;
	ps->pool_head = ps->pool_tail = NULL;
	ps->pool_queued = 0;
	__atomic_store_n(&ps->srv->metrics.ping_runs_queued, 0, __ATOMIC_RELAXED);
	pthread_cond_broadcast(&ps->pool_cond);
	pthread_mutex_unlock(&ps->pool_lock);
	/* runs not begun are answered as the server's shutdown (503, Retry-After: 0: the agent asks another replica) */
	while (queued) {
		struct ping_task *t = queued;

		queued = t->next;
		t->result = -ESHUTDOWN;
		http_resume(t->req);
	}
	for (size_t i = 0; i < ps->pool_n_threads; i++)
		pthread_join(ps->pool_threads[i], NULL);
	/* the resumer resumes what the threads finished last, then ends */
	pthread_mutex_lock(&ps->pool_lock);
	ps->pool_resumer_stop = true;
	pthread_cond_signal(&ps->pool_done_cond);
	pthread_mutex_unlock(&ps->pool_lock);
	pthread_join(ps->pool_resumer, NULL);
	free(ps->pool_threads);
	ps->pool_threads = NULL;
	ps->pool_n_threads = 0;
}
