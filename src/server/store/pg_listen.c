/* SPDX-License-Identifier: Apache-2.0 */
/* store/pg_listen.c: the wake listener (store.h): one libpq connection of its own per process, outside the pool,
 * LISTENing on STORE_WAKE_CHANNEL from its own thread, which hands every notification to the caller, proves
 * every STORE_LISTEN_PROBE_MS with a round trip that nothing committed before the probe was sent is still
 * undelivered, and reconnects with a backoff when the connection fails. Does not log: what went wrong is
 * passed to ops->state(). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store.h"
#include "util.h"

#ifdef WITH_POSTGRES
#include <libpq-fe.h>
#endif

#include "banned.h"

#ifdef WITH_POSTGRES

/* a probe unanswered this long: the connection is taken for lost (TCP may not say so) */
#define PROBE_LOST_MS 5000
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 2000

struct store_listener {
	char *dsn;
	struct store_listener_ops ops;
	pthread_t thread;
	int stop_pipe[2]; /* a byte written to [1] stops the thread */
	PGconn *pg;
	char app[64]; /* STORE_LISTENER_APP:<pid> */
	char why[256];
};

static void notice_ignore(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

static void set_why(struct store_listener *l, const char *what)
{
	size_t n;

	(void)str_printf(l->why, sizeof(l->why), "%s: %s", what, l->pg ? PQerrorMessage(l->pg) : "out of memory");
	n = strlen(l->why);
	while (n > 0 && (l->why[n - 1] == '\n' || l->why[n - 1] == ' '))
		l->why[--n] = 0;
}

/* Wait for the socket (fd >= 0) or the stop pipe, at most ms. Returns -1 stopped, 1 the socket is readable,
 * 0 otherwise. */
static int wait_for(struct store_listener *l, int fd, int64_t ms)
{
	struct pollfd p[2] = { { .fd = l->stop_pipe[0], .events = POLLIN }, { .fd = fd, .events = POLLIN } };
	int n;

	if (ms < 0)
		ms = 0;
	n = poll(p, fd >= 0 ? 2 : 1, (int)(ms > 60000 ? 60000 : ms));
	if (n > 0 && p[0].revents)
		return -1;
	return n > 0 && fd >= 0 && p[1].revents ? 1 : 0;
}

static bool listen_connect(struct store_listener *l)
{
	const char *keys[] = { "dbname", "application_name", "connect_timeout", NULL };
	const char *vals[] = { l->dsn, l->app, "2", NULL };
	PGresult *res;
	bool ok;

	l->pg = PQconnectdbParams(keys, vals, 1);
	if (!l->pg || PQstatus(l->pg) != CONNECTION_OK) {
		set_why(l, "cannot connect");
		return false;
	}
	PQsetNoticeProcessor(l->pg, notice_ignore, NULL);
	res = PQexec(l->pg, "LISTEN " STORE_WAKE_CHANNEL);
	ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	PQclear(res);
	if (!ok)
		set_why(l, "LISTEN failed");
	return ok;
}

static void hand_notifications(struct store_listener *l)
{
	PGnotify *n;

	while ((n = PQnotifies(l->pg)) != NULL) {
		struct store_event ev;

		if (store_event_from_payload(n->extra, &ev) == 0)
			l->ops.event(l->ops.arg, &ev);
		PQfreemem(n);
	}
}

/* Read the probe's results when they are in: 1 answered, 0 not yet, -1 failed. */
static int probe_result(struct store_listener *l)
{
	PGresult *res;

	while (!PQisBusy(l->pg)) {
		res = PQgetResult(l->pg);
		if (!res)
			return 1;
		if (PQresultStatus(res) != PGRES_TUPLES_OK) {
			PQclear(res);
			set_why(l, "probe failed");
			return -1;
		}
		PQclear(res);
	}
	return 0;
}

/* Serve one connection until it fails (false) or the listener stops (true). */
static bool listen_serve(struct store_listener *l)
{
	int64_t sent = 0, next = mono_ms();
	bool in_flight = false;

	for (;;) {
		int64_t now = mono_ms(), ms;
		int k;

		if (!in_flight && now >= next) {
			if (!PQsendQuery(l->pg, "SELECT 1")) {
				set_why(l, "cannot send the probe");
				return false;
			}
			sent = now;
			in_flight = true;
		}
		if (in_flight && now - sent >= PROBE_LOST_MS) {
			(void)str_printf(l->why, sizeof(l->why), "no answer to the probe within %d ms", PROBE_LOST_MS);
			return false;
		}
		ms = in_flight ? sent + PROBE_LOST_MS - now : next - now;
		k = wait_for(l, PQsocket(l->pg), ms);
		if (k < 0)
			return true;
		if (k > 0 && (!PQconsumeInput(l->pg) || PQstatus(l->pg) != CONNECTION_OK)) {
			set_why(l, "connection lost");
			return false;
		}
		hand_notifications(l);
		if (!in_flight)
			continue;
		k = probe_result(l);
		if (k < 0)
			return false;
		if (k > 0) {
			/* notifications parsed with the answer came before it */
			hand_notifications(l);
			l->ops.fresh(l->ops.arg, sent);
			in_flight = false;
			next = sent + STORE_LISTEN_PROBE_MS;
		}
	}
}

static void *listen_thread(void *arg)
{
	struct store_listener *l = arg;
	int64_t backoff = BACKOFF_MIN_MS;

	for (;;) {
		bool stopped;

		if (listen_connect(l)) {
			l->ops.state(l->ops.arg, true, NULL);
			backoff = BACKOFF_MIN_MS;
			stopped = listen_serve(l);
			if (!stopped)
				l->ops.state(l->ops.arg, false, l->why);
		} else {
			l->ops.state(l->ops.arg, false, l->why);
			stopped = false;
		}
		PQfinish(l->pg);
		l->pg = NULL;
		if (stopped || wait_for(l, -1, backoff) < 0)
			return NULL;
		backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
	}
}

int store_listener_start(const char *dsn, const struct store_listener_ops *ops, struct store_listener **ret)
{
	struct store_listener *l;

	if (startswith(dsn, "sqlite:"))
		return -EPROTONOSUPPORT;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->ops = *ops;
	(void)str_printf(l->app, sizeof(l->app), "%s:%ld", STORE_LISTENER_APP, (long)getpid());
	l->dsn = strdup(dsn);
	if (!l->dsn || pipe2(l->stop_pipe, O_CLOEXEC) < 0) {
		int r = l->dsn ? -errno : -ENOMEM;

		free(l->dsn);
		free(l);
		return r;
	}
	if (pthread_create(&l->thread, NULL, listen_thread, l) != 0) {
		close(l->stop_pipe[0]);
		close(l->stop_pipe[1]);
		free(l->dsn);
		free(l);
		return -EAGAIN;
	}
	*ret = l;
	return 0;
}

void store_listener_stop(struct store_listener *l)
{
	char b = 1;

	if (!l)
		return;
	while (write(l->stop_pipe[1], &b, 1) < 0 && errno == EINTR)
		;
	pthread_join(l->thread, NULL);
	close(l->stop_pipe[0]);
	close(l->stop_pipe[1]);
	free(l->dsn);
	free(l);
}

#else /* !WITH_POSTGRES */

int store_listener_start(const char *dsn, const struct store_listener_ops *ops, struct store_listener **ret)
{
	(void)dsn;
	(void)ops;
	(void)ret;
	return -EPROTONOSUPPORT;
}

void store_listener_stop(struct store_listener *l)
{
	(void)l;
}

#endif
