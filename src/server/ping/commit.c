/* SPDX-License-Identifier: Apache-2.0 */
/* ping/commit.c: group commit of the ping path's write transactions (ping_write_job(), ping_state.h). A thread that
 * needs an admission or an agent-row write queues its job and waits; whichever waiting thread finds no leader
 * becomes it, takes every queued job (at most PING_GROUP_MAX), runs them in one store transaction
 * (store_ping_group(): a savepoint per job, in queue order) and wakes their threads with their results, each alone
 * (a semaphore per job: a commit wakes only the threads it is for), and the thread of the queue's next job leads
 * the next group. Before it takes them, the leader waits a moment (at most PING_GROUP_WAIT_US) for the runs under
 * way that may still queue one (ping_write_expect()): on a busy server the pings served together then commit
 * together. A wake of thousands of held pings then costs a commit per group instead of one per admission and one
 * per report. No ping is answered before its job committed. */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdlib.h>
#include <time.h>

#include "ping_state.h"
#include "server.h"
#include "banned.h"

/* One thread's queued job. Its thread sleeps on wake until the leader posts it: its job is done, or it is the
 * next leader (state, written before the post, read after it). */
enum job_state { JOB_QUEUED, JOB_DONE, JOB_LEAD };

struct ping_job {
	struct ping_job *next;
	struct store_ping_job *job;
	sem_t wake;
	enum job_state state;
};

static int job_alone(struct ping_state *ps, struct store_ping_job *j)
{
	if (j->kind == STORE_PING_JOB_ADMIT)
		return store_ping_admit(ps->store, j->row, j->insert, j->expect_version, j->max_parallel_threshold,
					&j->full);
	return store_ping_persist(ps->store, j->host_id, j->writes, j->n_writes, j->deletes, j->n_deletes);
}

/* The leader's work: the group in one transaction, or (a single job, or a group whose transaction failed as a
 * whole: a lost connection, a deadlock between replicas) each job in its own, as without grouping. */
static void lead(struct ping_state *ps, struct store_ping_job *const *jobs, size_t n)
{
	uint64_t commits = 1;

	ping_write_lock(ps);
	if (n == 1 || store_ping_group(ps->store, jobs, n) < 0) {
		for (size_t i = 0; i < n; i++)
			jobs[i]->result = job_alone(ps, jobs[i]);
		commits = n;
	}
	ping_write_unlock(ps);
	__atomic_add_fetch(&ps->srv->metrics.ping_write_jobs, (uint64_t)n, __ATOMIC_RELAXED);
	__atomic_add_fetch(&ps->srv->metrics.ping_write_commits, commits, __ATOMIC_RELAXED);
}

void ping_write_expect(struct ping_state *ps, int delta)
{
	pthread_mutex_lock(&ps->gc_lock);
	ps->gc_expected += delta;
	if (delta < 0 && ps->gc_waiting)
		pthread_cond_signal(&ps->gc_cond); /* only the leader waits on it */
	pthread_mutex_unlock(&ps->gc_lock);
}

/* Caller holds gc_lock and is the leader: while runs that may still queue a job are under way (at most
 * PING_GROUP_WAIT_US), wait for them, so that pings served together commit together. */
static void gather(struct ping_state *ps)
{
	struct timespec until;
	long ns;

	if ((long)ps->gc_n >= ps->gc_expected || ps->gc_n >= PING_GROUP_MAX)
		return;
	clock_gettime(CLOCK_MONOTONIC, &until);
	ns = until.tv_nsec + PING_GROUP_WAIT_US * 1000L;
	until.tv_sec += ns / 1000000000L;
	until.tv_nsec = ns % 1000000000L;
	ps->gc_waiting = true;
	while ((long)ps->gc_n < ps->gc_expected && ps->gc_n < PING_GROUP_MAX)
		if (pthread_cond_timedwait(&ps->gc_cond, &ps->gc_lock, &until) == ETIMEDOUT)
			break;
	ps->gc_waiting = false;
}

/* The leader's loop, entered with gc_lock held and gc_leading set: groups from the queue's head until one held
 * me. Then the queue's new head, if any, leads next (gc_leading stays set), else no one does. The threads of the
 * jobs done, and the next leader, are posted after gc_lock is let go: only they wake, and they do not take it. */
static void lead_groups(struct ping_state *ps, struct ping_job *me)
{
	struct store_ping_job *group[PING_GROUP_MAX];
	struct ping_job *taken[PING_GROUP_MAX];
	struct ping_job *next = NULL;
	bool mine = false;
	size_t n;

	while (!mine) {
		gather(ps);
		for (n = 0; n < PING_GROUP_MAX && ps->gc_head; n++) {
			taken[n] = ps->gc_head;
			group[n] = taken[n]->job;
			ps->gc_head = taken[n]->next;
		}
		if (!ps->gc_head)
			ps->gc_tail = NULL;
		ps->gc_n -= n;
		pthread_mutex_unlock(&ps->gc_lock);
		lead(ps, group, n);
		pthread_mutex_lock(&ps->gc_lock);
		for (size_t i = 0; i < n; i++) {
			taken[i]->state = JOB_DONE;
			mine = mine || taken[i] == me;
		}
		if (mine) {
			next = ps->gc_head;
			if (next)
				next->state = JOB_LEAD;
			else
				ps->gc_leading = false;
		}
		pthread_mutex_unlock(&ps->gc_lock);
		/* a posted thread may return at once: nothing of its job is touched after its post */
		for (size_t i = 0; i < n; i++)
			if (taken[i] != me)
				(void)sem_post(&taken[i]->wake);
		if (next)
			(void)sem_post(&next->wake);
		if (!mine)
			pthread_mutex_lock(&ps->gc_lock);
	}
}

int ping_write_job(struct ping_state *ps, struct store_ping_job *job)
{
	struct ping_job me = { .job = job, .state = JOB_QUEUED };
	bool leader;

	if (sem_init(&me.wake, 0, 0) < 0)
		return -errno;
	pthread_mutex_lock(&ps->gc_lock);
	if (ps->gc_tail)
		ps->gc_tail->next = &me;
	else
		ps->gc_head = &me;
	ps->gc_tail = &me;
	ps->gc_n++;
	if (ps->gc_waiting)
		pthread_cond_signal(&ps->gc_cond);
	leader = !ps->gc_leading;
	ps->gc_leading = true;
	if (!leader) {
		pthread_mutex_unlock(&ps->gc_lock);
		while (sem_wait(&me.wake) < 0)
			; /* EINTR */
		if (me.state == JOB_DONE)
			goto out;
		pthread_mutex_lock(&ps->gc_lock); /* JOB_LEAD: we lead from here */
	}
	lead_groups(ps, &me);
out:
	(void)sem_destroy(&me.wake);
	return job->result;
}
