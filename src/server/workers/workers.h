/* SPDX-License-Identifier: Apache-2.0 */
/* workers/workers.h: the background workers of PROTOCOL §8 that this component owns: the state
 * transitioner (§8.1), the auto-promoter (§8.2), the agent janitor (§8.3) and retention (§8.4). One thread each; they sleep
 * on a condition variable so that workers_stop() ends them at once. The heartbeat flusher and the
 * wake-event poller belong to the ping pipeline (src/server/ping/). */
#ifndef SLIPWAY_SERVER_WORKERS_H
#define SLIPWAY_SERVER_WORKERS_H

#include "server.h"

int workers_start(struct server *srv);
void workers_stop(struct server *srv);

/* One pass of each worker now. Return 0 or a negative errno; they log. */
int transition_worker_run(struct server *srv);
int janitor_worker_run(struct server *srv);
int retention_worker_run(struct server *srv);
int promote_worker_run(struct server *srv);

/* §8 once-per-period discipline of the periodic units (JANITOR, RETENTION, PROMOTE-<envId>): 1 when
 * unit may run now (the store's lock taken, the unit's last-run time read and set to now in one
 * transaction), 0 when another replica ran it less than half of period_ms ago, or a negative errno
 * (counted as a database error). */
int worker_claim_unit(struct server *srv, const char *unit, int64_t now, int64_t period_ms);
/* One pass at time now (the clock is the caller's, so tests can step through periods): the number
 * of units run (0: claimed by another replica this period), or a negative errno. The promoter also
 * appends the names of the units it ran to ret_units when that is a JSON array. */
int janitor_worker_pass(struct server *srv, int64_t now);
int retention_worker_pass(struct server *srv, int64_t now);
int promote_worker_pass(struct server *srv, int64_t now, json_t *ret_units);

#endif
