/* SPDX-License-Identifier: Apache-2.0 */
/* deploy/events.c: the listeners of deploy events (deploy/events.h). */
#include <errno.h>

#include "events.h"
#include "util.h"
#include "banned.h"

int deploy_events_listen(struct server *srv, deploy_listener_fn fn)
{
	if (srv->n_deploy_listeners >= ELEMENTSOF(srv->deploy_listeners))
		return -ENOSPC;
	srv->deploy_listeners[srv->n_deploy_listeners++] = fn;
	return 0;
}

void deploy_event_emit(struct server *srv, const struct deploy_event *ev)
{
	for (size_t i = 0; i < srv->n_deploy_listeners; i++)
		srv->deploy_listeners[i](srv, ev);
}
