/* SPDX-License-Identifier: Apache-2.0 */
/* fleetsim/host.h: one simulated host's state machine, the agent's ping loop without the I/O. Pure: no
 * sockets, no clock (times are passed in, monotonic ms), no logging; randomness comes from a caller-owned
 * xorshift generator so tests are deterministic.
 *
 * A host carries at most one env (the last goal's). Strings (envId, envName, deployId, deployAlias) are
 * interned in a shared table: a host holds 32-bit indexes, never its own heap strings, so a million hosts
 * cost sizeof(struct sim_host) each plus one entry per distinct string of the whole fleet.
 *
 * The loop mirrors slipway-agent: an idle ping (the only one carrying ?wait=), then, while the answer names
 * a stage, run it for the script time and report the result in a ping sent at once; a DELETE forgets the
 * env and pings again at once; NOOP/WAIT end the pass. The next idle ping follows after 0-1 s when the
 * server held the idle ping (long-poll mode), else after the interval ±10 %. A failed ping waits half to
 * all of a backoff that doubles up to its cap; a 503 with Retry-After waits what it asks, jittered. */
#ifndef SLIPWAY_FLEETSIM_HOST_H
#define SLIPWAY_FLEETSIM_HOST_H

#include <stdbool.h>
#include <stdint.h>

#include "wire.h"

#define SIM_NONE UINT32_MAX /* no string / no env */

struct sim_rng {
	uint64_t s;
};
/* Uniform in [lo, hi] (hi <= lo: lo). */
int64_t sim_rng_range(struct sim_rng *r, int64_t lo, int64_t hi);
/* Uniform in [0, 1). */
double sim_rng_unit(struct sim_rng *r);

/* The interned strings of the fleet (few distinct values: envs and deploys). */
struct sim_strings {
	char **v;
	uint32_t n, cap;
};
/* Index of s (added when new); SIM_NONE for NULL or out of memory. */
uint32_t sim_intern(struct sim_strings *t, const char *s);
const char *sim_string(const struct sim_strings *t, uint32_t idx); /* NULL for SIM_NONE */
void sim_strings_release(struct sim_strings *t);

struct sim_config {
	int64_t interval_ms;   /* idle ping interval (jittered ±10 %) */
	int wait_s;	       /* ?wait= of idle pings; 0 = no long-poll */
	int64_t script_ms;     /* time every stage's "script" takes */
	double fail_rate;      /* probability that fail_stage fails */
	int fail_stage;	       /* enum deploy_stage, or -1: every stage may fail */
	int64_t backoff_ms;    /* first ping-failure backoff (agent: 2 s) */
	int64_t backoff_max_ms; /* its cap (agent: 60 s) */
};

enum sim_phase {
	SIM_IDLE,    /* the next idle ping is due at due_ms */
	SIM_RUNNING, /* a stage's script runs until due_ms */
	SIM_REPORT,  /* a report ping is due at due_ms (now) */
	SIM_PINGING, /* a ping is in flight */
};

struct sim_host {
	int64_t due_ms;
	uint32_t env_id, env_name, deploy_id, deploy_alias; /* interned, SIM_NONE when absent */
	int32_t backoff_ms;				    /* the current ping-failure backoff base */
	uint8_t phase;					    /* enum sim_phase */
	uint8_t stage;					    /* enum deploy_stage of the env's report */
	uint8_t status;					    /* enum agent_status of the env's report */
	uint8_t fail_count;
	uint8_t will_fail;  /* the running stage ends in SCRIPT_FAILED */
	uint8_t idle_ping;  /* the ping in flight is an idle one */
	uint8_t long_poll;  /* the last idle NOOP was held by the server */
	uint8_t pad;
};

/* What the caller did with an answer, for its counters. */
enum sim_event {
	SIM_EV_NONE,
	SIM_EV_GOAL,	 /* a stage started */
	SIM_EV_DELETE,	 /* the env was forgotten */
	SIM_EV_IGNORED,	 /* a goal the agent ignores (unknown deployStage, no envName) */
};

void sim_host_init(struct sim_host *h, const struct sim_config *c, struct sim_rng *rng, int64_t now);
/* The host already serves deploy_id of env_id (interned): it reports SERVING_BUILD/SUCCEEDED from its first ping,
 * as an agent restarted after finishing that deploy does (fleetsim --serving, for a fleet seeded with those rows). */
void sim_host_set_serving(struct sim_host *h, uint32_t env_id, uint32_t deploy_id);
/* The host's single report (its env), with borrowed strings; false when it has no env. */
bool sim_host_report(const struct sim_host *h, const struct sim_strings *t, struct ping_report *ret);
/* A ping is being sent now; wait_s is what it must ask for (0 for a report ping). */
int sim_host_ping_start(struct sim_host *h, const struct sim_config *c);
/* An answer arrived; held: the idle ping lasted close to its wait. -ENOMEM when interning failed. */
int sim_host_on_answer(struct sim_host *h, const struct sim_config *c, struct sim_strings *t, struct sim_rng *rng,
		       const struct ping_response *resp, bool held, int64_t now, enum sim_event *ret_ev);
/* The ping failed (no answer, 5xx, 4xx, unparsable); retry_after_s >= 0: the server asked for that wait (a 503 with
 * Retry-After; 0 from a server that is stopping), -1: it did not (the failure backoff applies). */
void sim_host_on_failure(struct sim_host *h, const struct sim_config *c, struct sim_rng *rng, int64_t retry_after_s,
			 int64_t now);
/* The running stage's time is up: the result is recorded and a report ping is due now. */
void sim_host_script_done(struct sim_host *h, int64_t now);

#endif
