/* SPDX-License-Identifier: Apache-2.0 */
/* agent/dlhelper.h: the download helper kept between downloads. Starting `slipway-agent --internal-download`
 * for every build cost more CPU than the rest of a deploy (exec and the dynamic loading of every library), so
 * one helper is kept and handed one job at a time over a socket. It is forked at the agent's start, before the
 * agent reads its configuration (dl_helper_fork: nothing of the agent's but the loaded libraries, whose
 * relocated pages the two processes then share, which an exec'd helper would write again: ~1.6 MB of private
 * memory). The helper stays a separate process (its own session, no new privileges), runs each job exactly as
 * the one-shot helper does (download.c: cwd = the job's private tmp dir, stdout and stderr = the env log, the
 * verdict on fd 3) in a fresh fork of itself and answers with the job's exit code. A job the agent abandons
 * (timeout, a changed plan, a stop) ends by stopping the helper's process group; the next download then starts
 * `slipway-agent --internal-download-server` (an exec: the agent itself is no longer clean to fork).
 *
 * Agent side:
 *   dl_helper_fork(&h) first thing in main (or nothing: the first download starts the exec'd helper)
 *   dl_helper_submit(&h, job_json, tmp_fd, log_fd, result_fd)   (starts the helper if none runs)
 *   supervise_reply(..., &h.p, h.sock, ...) until the reply or the helper's end
 *   dl_helper_reply(&h, &res)                                   the job's exit code as a proc_result
 *   dl_helper_stop(&h) at exit. */
#ifndef SLIPWAY_AGENT_DLHELPER_H
#define SLIPWAY_AGENT_DLHELPER_H

#include <stdbool.h>

#include "proc.h"

struct proc_title;

struct dl_helper {
	struct proc p;
	int sock; /* -1 while no helper runs */
	unsigned jobs;
};

void dl_helper_init(struct dl_helper *h);
/* Fork the helper from this process (proc_fork_server): only before anything the helper must not hold (the
 * configuration, tokens, credentials) has been read; the helper takes title (main's argv area) for its own name.
 * 0 or a negative errno (then h holds no helper). */
int dl_helper_fork(struct dl_helper *h, const struct proc_title *title);
/* Send one job (the helper receives copies of the three descriptors), starting the helper first when none
 * runs (or the last one has ended). 0 or a negative errno. */
int dl_helper_submit(struct dl_helper *h, const char *job_json, int tmp_fd, int log_fd, int result_fd);
/* After sock became readable or the helper ended: 1 with *ret = the job's exit code (PROC_EXITED), or 0 when
 * the helper ended without an answer (*ret = how it ended; an exit 0 becomes DOWNLOAD_EXIT_TRANSIENT: a job
 * without a verdict never succeeded). The helper is forgotten when it ended or answered garbage. */
int dl_helper_reply(struct dl_helper *h, struct proc_result *ret);
/* The helper was stopped (proc_terminate) or must go: close and reap. */
void dl_helper_forget(struct dl_helper *h);
/* At exit: close the socket (the helper ends at EOF), wait briefly, then stop its group. */
void dl_helper_stop(struct dl_helper *h);

/* `slipway-agent --internal-download-server`: fd 3 is the agent's socket; title: main's argv area (the helper and
 * each job name themselves, title.h). Returns the process exit code. */
int download_server_main(const struct proc_title *title);

#endif
