/* SPDX-License-Identifier: Apache-2.0 */
/* deploy/events.h: the side effects of the deploy service go out as events. deploy/ emits; whoever needs to act
 * (the webhooks of workers/webhooks.c, the chat and mail notifications of workers/notify.c) is registered as a listener at startup, by
 * main.c, before any thread that creates deploys runs. So deploy/ never includes workers/. */
#ifndef SLIPWAY_SERVER_DEPLOY_EVENTS_H
#define SLIPWAY_SERVER_DEPLOY_EVENTS_H

#include <jansson.h>

#include "server.h"

enum deploy_event_kind {
	DEPLOY_EVENT_CREATED,    /* a deploy was created and is current (pre-deploy webhooks) */
	DEPLOY_EVENT_SUCCEEDING, /* the current deploy reached SUCCEEDING for the first time (post-deploy webhooks) */
	DEPLOY_EVENT_FAILING,    /* the current deploy turned FAILING */
	DEPLOY_EVENT_ANALYSIS_FAILED, /* the deploy's Prometheus analysis failed (workers/analysis.c) */
	_DEPLOY_EVENT_MAX,
};

/* Borrowed for the duration of the call: a listener copies what it keeps. */
struct deploy_event {
	enum deploy_event_kind kind;
	const json_t *env;    /* the EnvStage */
	const json_t *deploy; /* the Deploy as it is now */
	const json_t *build;  /* its Build */
};

/* A listener must not block on the network and cannot fail the deploy. */
typedef void (*deploy_listener_fn)(struct server *srv, const struct deploy_event *ev);

/* Register fn for every event; -ENOSPC past SERVER_DEPLOY_LISTENERS_MAX. Startup only (not thread safe). */
int deploy_events_listen(struct server *srv, deploy_listener_fn fn);
/* Hand ev to every listener, in registration order. */
void deploy_event_emit(struct server *srv, const struct deploy_event *ev);

#endif
