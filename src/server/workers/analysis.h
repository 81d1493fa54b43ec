/* SPDX-License-Identifier: Apache-2.0 */
/* workers/analysis.h: the Prometheus analysis of deploys (workers/analysis.c), one thread ticking once a second.
 * Nothing runs without prometheus_url. */
#ifndef SLIPWAY_SERVER_ANALYSIS_H
#define SLIPWAY_SERVER_ANALYSIS_H

#include <stdint.h>

#include "server.h"

int analysis_start(struct server *srv);
void analysis_stop(struct server *srv);
/* One pass over the stages at time now: 0, or a negative errno of the store (logged). */
int analysis_worker_pass(struct server *srv, int64_t now);

#endif
