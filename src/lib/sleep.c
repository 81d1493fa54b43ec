/* SPDX-License-Identifier: Apache-2.0 */
/* lib/sleep.c: monotonic sleeps (lib/sleep.h). */
#include <errno.h>
#include <pthread.h>
#include <time.h>

#include "sleep.h"
#include "banned.h"

int sleep_ms(int64_t ms)
{
	struct timespec ts;

	if (ms <= 0)
		return 0;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000;
	return -clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
}

int sleep_cond_init(pthread_cond_t *cond)
{
	pthread_condattr_t attr;
	int r;

	r = pthread_condattr_init(&attr);
	if (r != 0)
		return -r;
	r = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	if (r == 0)
		r = pthread_cond_init(cond, &attr);
	(void)pthread_condattr_destroy(&attr);
	return -r;
}

bool sleep_or_wake(pthread_mutex_t *lock, pthread_cond_t *cond, const bool *stop, bool *wake, int64_t ms)
{
	struct timespec deadline;
	bool stopped;

	if (ms < 0)
		ms = 0;
	(void)clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += ms / 1000;
	deadline.tv_nsec += (ms % 1000) * 1000000;
	if (deadline.tv_nsec >= 1000000000) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(lock);
	/* until stopped, woken or past the deadline (or an error): a wake-up for another reason sleeps on */
	while (!*stop && !(wake && *wake) && pthread_cond_timedwait(cond, lock, &deadline) == 0)
		;
	if (wake)
		*wake = false;
	stopped = *stop;
	pthread_mutex_unlock(lock);
	return stopped;
}

bool sleep_or_stop(pthread_mutex_t *lock, pthread_cond_t *cond, const bool *stop, int64_t ms)
{
	return sleep_or_wake(lock, cond, stop, NULL, ms);
}

void sleep_stop_threads(pthread_mutex_t *lock, pthread_cond_t *work_cond, pthread_cond_t *stop_cond, bool *stop,
			pthread_t *threads, size_t *n)
{
	pthread_mutex_lock(lock);
	__atomic_store_n(stop, true, __ATOMIC_RELAXED);
	pthread_cond_broadcast(work_cond);
	pthread_cond_broadcast(stop_cond);
	pthread_mutex_unlock(lock);
	for (size_t i = 0; i < *n; i++)
		pthread_join(threads[i], NULL);
	*n = 0;
}
