/* SPDX-License-Identifier: Apache-2.0 */
/* agent/metrics.h: the node_exporter textfile (AGENT.md §15.1), rewritten atomically (0644) after pings and
 * step results, at most every 5 s unless forced. Logs a write failure at warn. */
#ifndef SLIPWAY_AGENT_METRICS_H
#define SLIPWAY_AGENT_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "config.h"
#include "state.h"

struct agent_metrics {
	uint64_t pings_total;
	uint64_t ping_failures_total;
	int64_t last_ok_ping_ms;
	uint64_t download_bytes_total;
	json_t *durations; /* {env: {step: seconds}} */
	json_t *results;   /* {"step\tstatus": count} */
	int64_t last_write_mono;
	bool dirty; /* a write was skipped (less than 5 s after the last one) */
};

void metrics_init(struct agent_metrics *m);
void metrics_release(struct agent_metrics *m);
void metrics_step_duration(struct agent_metrics *m, const char *env, const char *step, int64_t ms);
void metrics_step_result(struct agent_metrics *m, const char *step, const char *status);
/* Write the file (no fsync: it is rebuilt from memory) unless written less than 5 s ago (force ignores that;
 * a skipped write sets dirty). */
void metrics_maybe_write(struct agent_metrics *m, const struct agent_config *cfg, struct state_file *st,
			 const char *host_id, bool force);
/* Render into a malloc'd string (tests). */
char *metrics_render(const struct agent_metrics *m, const struct agent_config *cfg, struct state_file *st,
		     const char *host_id);

#endif
