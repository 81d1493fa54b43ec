/* SPDX-License-Identifier: Apache-2.0 */
/* server.c: small server-wide helpers (database error accounting, worker names). */
#include <errno.h>

#include "log.h"
#include "server.h"
#include "banned.h"

static const char *const worker_names[_WORKER_MAX] = {
	[WORKER_TRANSITION] = "transition", [WORKER_PROMOTE] = "promote",     [WORKER_JANITOR] = "janitor",
	[WORKER_RETENTION] = "retention",   [WORKER_HEARTBEAT] = "heartbeat", [WORKER_EVENTS] = "events",
};

const char *server_worker_name(enum server_worker w)
{
	if ((int)w < 0 || w >= _WORKER_MAX)
		return "unknown";
	return worker_names[w];
}

int server_db_error(struct server *srv, int r, const char *what)
{
	METRIC_INC(srv, db_errors);
	log_error("%s: %s (%s)", what, store_errmsg(srv->store), r == -EAGAIN ? "database busy" : "database error");
	return r;
}
