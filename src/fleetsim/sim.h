/* SPDX-License-Identifier: Apache-2.0 */
/* fleetsim/sim.h: the simulator's event loop: N hosts (host.h) over C keep-alive connections (libcurl multi,
 * one easy handle per connection slot, reused; the slots spread over multi handles of 64 connections each), a
 * min-heap of the hosts' next due times, a FIFO of hosts whose ping waits for a free slot. */
#ifndef SLIPWAY_FLEETSIM_SIM_H
#define SLIPWAY_FLEETSIM_SIM_H

#include <stdbool.h>
#include <stdint.h>

#include "host.h"

struct sim_options {
	const char *server; /* base URL, no trailing slash needed */
	const char *token;
	const char *group;
	const char *prefix;
	const char *serving_env_id, *serving_deploy_id; /* --serving: every host starts on this deploy, or NULL */
	uint32_t hosts;
	uint32_t connections;
	int64_t duration_ms;
	bool json;
	struct sim_config cfg;
};

/* Run for duration_ms; progress on stderr, the summary on stdout. 0, or a negative errno on set-up failure. */
int sim_run(const struct sim_options *o);

#endif
