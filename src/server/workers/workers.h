/* SPDX-License-Identifier: Apache-2.0 */
/* workers/workers.h: the background workers of PROTOCOL §8 that this component owns: the state
 * transitioner (§8.1), the auto-promoter (§8.2), the agent janitor (§8.3) and retention (§8.4). One thread each; they sleep
 * on a condition variable so that workers_stop() ends them at once. The heartbeat flusher and the
 * wake-event poller belong to the ping path (api/ping.c). */
#ifndef SLIPWAY_SERVER_WORKERS_H
#define SLIPWAY_SERVER_WORKERS_H

#include "server.h"

int workers_start(struct server *srv);
void workers_stop(struct server *srv);

/* One pass of each worker (also used by tests). Return 0 or a negative errno; they log. */
int transition_worker_run(struct server *srv);
int janitor_worker_run(struct server *srv);
int retention_worker_run(struct server *srv);
int promote_worker_run(struct server *srv);

#endif
