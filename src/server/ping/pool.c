/* SPDX-License-Identifier: Apache-2.0 */
/* ping/pool.c: the threads that run pings (setting ping_run_threads, ping_state.h "the run pool"). A run is queued
 * with its connection suspended (a new ping's by its handler, a woken held ping's as it was held), taken oldest
 * first by a free thread (ping_task_run(), serve.c), and its connection resumed; the HTTP thread that then runs
 * the handler again answers or holds the ping. An HTTP thread waits for neither the database nor a group commit:
 * with 4 HTTP threads, at most 4 runs were under way and a group commit gathered at most 4 jobs; the pool's threads
 * wait in their place, many at once. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "log.h"
#include "ping_state.h"
#include "server.h"
#include "banned.h"

static void *pool_thread(void *arg)
{
	struct ping_state *ps = arg;
	struct ping_task *t;

	for (;;) {
		pthread_mutex_lock(&ps->pool_lock);
		while (!ps->pool_head && ps->pool_on)
			pthread_cond_wait(&ps->pool_cond, &ps->pool_lock);
		t = ps->pool_head;
		if (!t) {
			pthread_mutex_unlock(&ps->pool_lock); /* stopped, and nothing left to take */
			return NULL;
		}
		ps->pool_head = t->next;
		if (!ps->pool_head)
			ps->pool_tail = NULL;
		ps->pool_queued--;
		__atomic_store_n(&ps->srv->metrics.ping_runs_queued, (uint64_t)ps->pool_queued, __ATOMIC_RELAXED);
		pthread_mutex_unlock(&ps->pool_lock);
		ping_task_run(ps, t);
		METRIC_INC(ps->srv, ping_pool_runs);
		http_resume(t->req);
	}
}

int ping_pool_start(struct ping_state *ps, size_t n)
{
	pthread_mutex_init(&ps->pool_lock, NULL);
	pthread_cond_init(&ps->pool_cond, NULL);
	ps->pool_threads = calloc(n, sizeof(*ps->pool_threads));
	if (!ps->pool_threads)
		return -ENOMEM;
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
	free(ps->pool_threads);
	ps->pool_threads = NULL;
	ps->pool_n_threads = 0;
}
