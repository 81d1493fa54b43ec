/* SPDX-License-Identifier: Apache-2.0 */
/* agent/agent.h: the daemon: lock, start-up, the ping/goal loop (AGENT.md §3, §5, §6, §10, §13), steps
 * with heartbeats and abort, retention scheduling, metrics, and --status. */
#ifndef SLIPWAY_AGENT_AGENT_H
#define SLIPWAY_AGENT_AGENT_H

#include <signal.h>
#include <stdbool.h>

#include "config.h"
#include "dlhelper.h"
#include "identity.h"

/* Set by the SIGTERM/SIGINT handler. */
extern volatile sig_atomic_t agent_stop_requested;

/* Install the signal dispositions of §1 (TERM/INT set the flag; HUP, USR1 and PIPE ignored). */
int agent_signals_setup(void);

/* Create state_dir 0700; missing parents are created 0755 (they may also hold builds_dir, which a run_as
 * user must be able to reach). 0 or negative errno. */
int agent_mkdir_state_dir(const char *state_dir);

/* §3: open <state_dir>/agent.lock and take the flock. Returns the fd (kept open for the life of the process),
 * -EAGAIN when another agent holds it, or another negative errno. */
int agent_lock_take(const char *state_dir);
/* Non-blocking probe: 1 and *ret_pid when an agent holds the lock, 0 when not, negative errno on error. */
int agent_lock_probe(const char *state_dir, long *ret_pid);

/* Run the agent (daemon or --once). flags are the identity values from the command line; dl is the download
 * helper forked at the start (taken over and stopped at the end; it may hold none). Returns the process exit
 * code (0, 1 or 2). The caller holds the lock. */
int agent_run(struct agent_config *cfg, const struct identity_source *flags, bool once, bool no_jitter,
	      struct dl_helper *dl);

/* §15.2 --status. Returns the exit code. */
int agent_print_status(const struct agent_config *cfg, bool json);

#endif
