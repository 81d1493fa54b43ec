/* SPDX-License-Identifier: Apache-2.0 */
/* http/deadline.c: the absolute deadline for receiving a request (see internal.h). The connections reading a
 * request (or waiting for the next one) are on a list in the order their read began, so the sweeper looks only at
 * those past the deadline, from the list's head, and never at a connection whose handler runs or that is held (a
 * long-poll): a walk of every connection, four times a second, cost 1.5 % of the server's CPU with 16,000 held
 * pings. The sweeper closes a late connection by shutting its socket down: libmicrohttpd then reads the end of the
 * stream and closes the connection itself (answering nothing). The socket cannot be closed and reused under the
 * sweeper: libmicrohttpd reports a connection closed (removing it from the list, under the lock the sweeper
 * holds) before it closes the socket. */
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "internal.h"
#include "log.h"
#include "sleep.h"
#include "util.h"
#include "banned.h"

#define SWEEP_PERIOD_MS 250

struct tracked_conn {
	struct tracked_conn *prev, *next; /* on the list while reading (under dl.lock) */
	int fd;
	bool reading;
	int64_t since_ms; /* monotonic time the current read began */
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct tracked_conn head; /* circular list of the reading connections, oldest read first; sentinel */
	pthread_t thread;
	bool running, stop;
	int64_t deadline_ms;
	uint64_t closed;
} dl = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* The peer's address, for the log line of a connection closed (looked up then, not kept for every connection). */
static void peer_name(int fd, char *buf, size_t size)
{
	struct sockaddr_storage a;
	socklen_t len = sizeof(a);

	if (getpeername(fd, (struct sockaddr *)&a, &len) < 0 ||
	    getnameinfo((struct sockaddr *)&a, len, buf, (socklen_t)size, NULL, 0, NI_NUMERICHOST) != 0)
		(void)str_copy(buf, size, "?");
}

/* Caller holds dl.lock. */
static void unlist(struct tracked_conn *t)
{
	if (!t->reading)
		return;
	t->prev->next = t->next;
	t->next->prev = t->prev;
	t->reading = false;
}

/* Caller holds dl.lock: t begins a read now (the list stays in the order of since_ms: now is read under the lock). */
static void list_reading(struct tracked_conn *t)
{
	unlist(t);
	t->since_ms = mono_ms();
	t->prev = dl.head.prev;
	t->next = &dl.head;
	dl.head.prev->next = t;
	dl.head.prev = t;
	t->reading = true;
}

static void sweep(int64_t now)
{
	char peer[NI_MAXHOST];
	struct tracked_conn *t;

	while ((t = dl.head.next) != &dl.head && now - t->since_ms > dl.deadline_ms) {
		unlist(t);
		__atomic_add_fetch(&dl.closed, 1, __ATOMIC_RELAXED);
		peer_name(t->fd, peer, sizeof(peer));
		log_info("closing the connection from %s: its request did not arrive within request_read_timeout "
			 "(%llds)", peer, (long long)(dl.deadline_ms / 1000));
		(void)shutdown(t->fd, SHUT_RDWR);
	}
}

static void *sweeper_main(void *unused)
{
	(void)unused;
	do {
		pthread_mutex_lock(&dl.lock);
		sweep(mono_ms());
		pthread_mutex_unlock(&dl.lock);
	} while (!sleep_or_stop(&dl.lock, &dl.cond, &dl.stop, SWEEP_PERIOD_MS));
	return NULL;
}

int http_deadline_start(int64_t seconds)
{
	int k;

	if (seconds <= 0 || dl.running)
		return 0;
	dl.head.next = dl.head.prev = &dl.head;
	dl.deadline_ms = seconds * 1000;
	dl.stop = false;
	k = sleep_cond_init(&dl.cond);
	if (k < 0)
		return k;
	k = pthread_create(&dl.thread, NULL, sweeper_main, NULL);
	if (k != 0) {
		(void)pthread_cond_destroy(&dl.cond);
		return log_error_errno(-k, "cannot start the request deadline thread");
	}
	dl.running = true;
	return 0;
}

void http_deadline_stop(void)
{
	if (!dl.running)
		return;
	pthread_mutex_lock(&dl.lock);
	dl.stop = true;
	pthread_cond_broadcast(&dl.cond);
	pthread_mutex_unlock(&dl.lock);
	pthread_join(dl.thread, NULL);
	(void)pthread_cond_destroy(&dl.cond);
	dl.running = false;
}

static void track(struct MHD_Connection *conn, void **socket_context)
{
	const union MHD_ConnectionInfo *fd = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	struct tracked_conn *t;

	if (!fd)
		return;
	t = calloc(1, sizeof(*t));
	if (!t)
		return; /* untracked: only the idle timeout applies to it */
	t->fd = fd->connect_fd;
	pthread_mutex_lock(&dl.lock);
	list_reading(t);
	pthread_mutex_unlock(&dl.lock);
	*socket_context = t;
}

void http_deadline_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct tracked_conn *t = *socket_context;

	(void)cls;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		track(conn, socket_context);
		return;
	}
	if (!t)
		return;
	pthread_mutex_lock(&dl.lock);
	unlist(t);
	pthread_mutex_unlock(&dl.lock);
	free(t);
	*socket_context = NULL;
}

void http_deadline_reading(struct MHD_Connection *conn, bool reading)
{
	const union MHD_ConnectionInfo *ci;
	struct tracked_conn *t;

	if (!dl.running)
		return;
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	t = ci ? ci->socket_context : NULL;
	if (!t)
		return;
	pthread_mutex_lock(&dl.lock);
	if (reading)
		list_reading(t);
	else
		unlist(t);
	pthread_mutex_unlock(&dl.lock);
}

uint64_t http_deadline_closed(void)
{
	return __atomic_load_n(&dl.closed, __ATOMIC_RELAXED);
}
