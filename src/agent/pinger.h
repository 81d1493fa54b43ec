/* SPDX-License-Identifier: Apache-2.0 */
/* agent/pinger.h: POST <server>/v1/system/ping with libcurl (AGENT.md §5.4): failover across the configured
 * URLs starting with the last one that succeeded; 4xx are not failover reasons; an empty 2xx body is NOOP;
 * redirects are not followed. Logs failures at warn. */
#ifndef SLIPWAY_AGENT_PINGER_H
#define SLIPWAY_AGENT_PINGER_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "wire.h"

struct pinger {
	void *curl; /* CURL * */
	const struct agent_config *cfg;
	size_t last_good;
	char user_agent[64];
};

int pinger_init(struct pinger *p, const struct agent_config *cfg);
void pinger_release(struct pinger *p);

/* Send body (a PingRequest JSON). wait_s > 0 adds ?wait=N and extends the timeout by N. When cancel is
 * non-NULL and becomes non-zero the request is abandoned (-ECANCELED). On success *ret is filled (caller
 * releases) and 0 is returned; -EREMOTEIO for an HTTP error answer, -EHOSTUNREACH when every URL failed. */
int pinger_ping(struct pinger *p, const char *body, int wait_s, volatile sig_atomic_t *cancel,
		struct ping_response *ret);

#endif
