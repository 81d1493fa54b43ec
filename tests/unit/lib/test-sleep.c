/* SPDX-License-Identifier: Apache-2.0 */
/* tests/unit/lib/test-sleep.c: monotonic sleeps: sleep_or_stop() sleeps its full time on a monotonic cond (a
 * cond on the wall clock would see the monotonic deadline long past and return at once), sleeps on through a
 * wake-up that is not a stop, and ends at once on a stop. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sleep.h"
#include "util.h"

struct sleeper {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;
};

static void sleeper_init(struct sleeper *s)
{
	assert_int_equal(pthread_mutex_init(&s->lock, NULL), 0);
	assert_int_equal(sleep_cond_init(&s->cond), 0);
	s->stop = false;
}

static void sleeper_release(struct sleeper *s)
{
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
}

static void test_sleep_ms(void **state)
{
	int64_t t0 = mono_ms();

	(void)state;
	assert_int_equal(sleep_ms(0), 0);
	assert_int_equal(sleep_ms(-5), 0);
	assert_int_equal(sleep_ms(120), 0);
	assert_true(mono_ms() - t0 >= 120);
}

static void test_full_sleep(void **state)
{
	struct sleeper s;
	int64_t t0;

	(void)state;
	sleeper_init(&s);
	t0 = mono_ms();
	assert_false(sleep_or_stop(&s.lock, &s.cond, &s.stop, 250));
	assert_true(mono_ms() - t0 >= 250);
	assert_true(mono_ms() - t0 < 5000);
	sleeper_release(&s);
}

static void test_already_stopped(void **state)
{
	struct sleeper s;
	int64_t t0;

	(void)state;
	sleeper_init(&s);
	s.stop = true;
	t0 = mono_ms();
	assert_true(sleep_or_stop(&s.lock, &s.cond, &s.stop, 60000));
	assert_true(mono_ms() - t0 < 5000);
	sleeper_release(&s);
}

struct waker {
	struct sleeper *s;
	bool stop; /* set stop, or only broadcast */
	int64_t after_ms;
};

static void *wake(void *p)
{
	struct waker *w = p;

	(void)sleep_ms(w->after_ms);
	pthread_mutex_lock(&w->s->lock);
	if (w->stop)
		w->s->stop = true;
	pthread_cond_broadcast(&w->s->cond);
	pthread_mutex_unlock(&w->s->lock);
	return NULL;
}

static void test_stop_wakes(void **state)
{
	struct sleeper s;
	struct waker w = { &s, true, 100 };
	pthread_t t;
	int64_t t0;

	(void)state;
	sleeper_init(&s);
	t0 = mono_ms();
	assert_int_equal(pthread_create(&t, NULL, wake, &w), 0);
	assert_true(sleep_or_stop(&s.lock, &s.cond, &s.stop, 60000));
	assert_true(mono_ms() - t0 < 30000);
	pthread_join(t, NULL);
	sleeper_release(&s);
}

static void test_other_wakeup_sleeps_on(void **state)
{
	struct sleeper s;
	struct waker w = { &s, false, 50 };
	pthread_t t;
	int64_t t0;

	(void)state;
	sleeper_init(&s);
	t0 = mono_ms();
	assert_int_equal(pthread_create(&t, NULL, wake, &w), 0);
	assert_false(sleep_or_stop(&s.lock, &s.cond, &s.stop, 300));
	assert_true(mono_ms() - t0 >= 300);
	pthread_join(t, NULL);
	sleeper_release(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sleep_ms),
		cmocka_unit_test(test_full_sleep),
		cmocka_unit_test(test_already_stopped),
		cmocka_unit_test(test_stop_wakes),
		cmocka_unit_test(test_other_wakeup_sleeps_on),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
