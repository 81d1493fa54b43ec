/* SPDX-License-Identifier: Apache-2.0 */
/* agent/pinger.h: POST <server>/v1/system/ping with libcurl (AGENT.md §5.4): failover across the configured
 * URLs starting with the last one that succeeded; 4xx are not failover reasons; an empty 2xx body is NOOP;
 * redirects are not followed. A 503 with `Retry-After: 0` is a server that is stopping: the next URL is asked
 * at once; with a larger Retry-After, an overloaded one. Logs failures at warn. */
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
	int64_t retry_after_ms; /* after -EAGAIN: the shortest wait a server asked for */
	char user_agent[64];
};

int pinger_init(struct pinger *p, const struct agent_config *cfg);
void pinger_release(struct pinger *p);

/* Send body (a PingRequest JSON). wait_s > 0 adds ?wait=N and extends the timeout by N. When cancel is
 * non-NULL and becomes non-zero the request is abandoned (-ECANCELED). On success *ret is filled (caller
 * releases) and 0 is returned; -EREMOTEIO for an HTTP error answer, -EHOSTUNREACH when every URL failed,
 * -EAGAIN when every URL failed and at least one answered 503 with Retry-After: p->retry_after_ms is the
 * shortest such wait (0: a server that is stopping; the caller retries at once, with a little jitter). */
int pinger_ping(struct pinger *p, const char *body, int wait_s, volatile sig_atomic_t *cancel,
		struct ping_response *ret);

#endif
