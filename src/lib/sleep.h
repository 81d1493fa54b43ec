/* SPDX-License-Identifier: Apache-2.0 */
/* lib/sleep.h: sleeping on the monotonic clock, so that a wall clock stepped backwards (or forwards) neither
 * stretches nor cuts a wait. Threads that must stop at once sleep with sleep_or_stop(). Does not log. */
#ifndef SLIPWAY_SLEEP_H
#define SLIPWAY_SLEEP_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Sleep ms (<= 0: not at all). Returns 0, or -EINTR when a signal cut the sleep short, so that the caller
 * re-checks what the signal handler set. */
int sleep_ms(int64_t ms);

/* Initialise cond so that its timed waits run on CLOCK_MONOTONIC, as sleep_or_stop() needs (a cond from
 * PTHREAD_COND_INITIALIZER measures CLOCK_REALTIME). Returns 0 or a negative errno. */
int sleep_cond_init(pthread_cond_t *cond);

/* Sleep up to ms, or less when *stop becomes true: lock guards *stop, and whoever sets it broadcasts cond (made by
 * sleep_cond_init()) with lock held. Call without lock held. Returns *stop. */
bool sleep_or_stop(pthread_mutex_t *lock, pthread_cond_t *cond, const bool *stop, int64_t ms);
/* The same, also ending early when *wake becomes true (guarded by lock as well); *wake is cleared on return. */
bool sleep_or_wake(pthread_mutex_t *lock, pthread_cond_t *cond, const bool *stop, bool *wake, int64_t ms);

/* Stop a pool of n threads that wait for work on work_cond and sleep on stop_cond (sleep_or_stop()), both
 * guarded by lock: set *stop, wake both, and join the threads; *n becomes 0. Call without lock held. */
void sleep_stop_threads(pthread_mutex_t *lock, pthread_cond_t *work_cond, pthread_cond_t *stop_cond, bool *stop,
			pthread_t *threads, size_t *n);

#endif
