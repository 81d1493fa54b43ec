/* SPDX-License-Identifier: Apache-2.0 */
/* fleetsim/stats.h: the simulator's counters, latency histograms, the progress line (stderr, once a second)
 * and the final JSON summary (stdout). */
#ifndef SLIPWAY_FLEETSIM_STATS_H
#define SLIPWAY_FLEETSIM_STATS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "enums.h"
#include "host.h"

#define SIM_LAT_BUCKETS 10001 /* 1 ms buckets; the last one holds everything from 10 s up */

struct sim_hist {
	uint32_t b[SIM_LAT_BUCKETS];
	uint64_t n;
	int64_t max_ms;
};

struct sim_counters {
	uint64_t pings;
	uint64_t answers[_OP_CODE_MAX + 1]; /* the last: an unknown opCode */
	uint64_t errors;		    /* no answer, HTTP error, unparsable answer */
	uint64_t overloaded;		    /* 503 answers */
	uint64_t steps_succeeded, steps_failed, goals_ignored, deletes;
};

struct sim_stats {
	struct sim_counters total, window;
	struct sim_hist lat_total, lat_window; /* answered pings, except idle pings held by long-poll */
	int64_t start_ms, window_start_ms;
};

void sim_stats_init(struct sim_stats *s, int64_t now);
void sim_stats_latency(struct sim_stats *s, int64_t ms);
/* The value below which a fraction q of the samples lie (ms); 0 without samples. */
int64_t sim_hist_quantile(const struct sim_hist *h, double q);
/* Hosts per deploy stage: [0.._DEPLOY_STAGE_MAX) by stage, [_DEPLOY_STAGE_MAX] hosts without an env. */
void sim_stats_stages(const struct sim_host *hosts, uint32_t n, uint64_t ret[_DEPLOY_STAGE_MAX + 1]);
/* One progress line for the window since the last call (text, or one JSON object), then a new window. */
void sim_stats_progress(struct sim_stats *s, FILE *out, bool json, const struct sim_host *hosts, uint32_t n,
			int64_t now);
/* The final summary: one JSON object on out. */
void sim_stats_summary(const struct sim_stats *s, FILE *out, const struct sim_host *hosts, uint32_t n,
		       uint32_t connections, int64_t now);

#endif
