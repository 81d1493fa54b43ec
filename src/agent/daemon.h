/* SPDX-License-Identifier: Apache-2.0 */
/* agent/daemon.h: the state of a running agent, shared by its loop (agent.c) and its steps: the step
 * machinery with heartbeats, abort and the retry tail (step.c), the script stages and STAGING
 * (step_script.c) and DOWNLOADING (step_download.c). What to decide lives in decide.h; these act. */
#ifndef SLIPWAY_AGENT_DAEMON_H
#define SLIPWAY_AGENT_DAEMON_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <jansson.h>

#include "config.h"
#include "decide.h"
#include "dlhelper.h"
#include "identity.h"
#include "metrics.h"
#include "pinger.h"
#include "proc.h"
#include "stage.h"
#include "state.h"
#include "wire.h"

struct agent {
	struct agent_config *cfg;
	struct state_file st;
	const struct identity_source *flag_src;
	struct identity_source cfg_src;
	struct identity_source info_src;
	bool info_present;
	struct timespec info_mtime;
	struct host_identity id;
	struct pinger pinger;
	struct proc_user user;
	bool have_user;
	struct agent_metrics metrics;
	struct dl_helper dl; /* the kept download helper */
	int64_t last_ping_mono;
	int64_t last_retention_mono;
	bool staged_this_pass;
	bool pass_ping_failed;
	bool state_dirty; /* a step result not yet saved (run_pass saves it before the pass ends) */
	bool presave_pending; /* the running goal's stage is not yet on disk (agent_save_before_step) */
	/* set when a built-in step (DOWNLOADING, STAGING) just succeeded with its stage, as not yet done, the last
	 * thing saved: the env, deploy and stage whose goal may then run without saving first (agent.c) */
	bool rerun_valid;
	int rerun_stage;
	char rerun_env[128];
	char rerun_deploy[128];
	bool once; /* --once never long-polls */
};

struct step_ctx {
	const char *env_name;
	json_t *entry;
	int stage;
	struct step_limits lim;
	const char *custom_target;
	struct step_origin origin;
};

enum step_outcome {
	STEP_DONE,    /* result filled */
	STEP_ABORTED, /* plan changed: *next holds the new answer */
	STEP_STOPPED, /* the agent is shutting down and killed the step */
	STEP_RETRY,   /* step_after_failure() only: run the next attempt */
};

struct step_result {
	int status;
	int error_code;
	int fail_count;
	char *message; /* malloc'd or NULL */
};

/* How the supervision of one child (or of a retry wait) ended. */
enum sup_outcome {
	SUP_EXITED,
	SUP_TIMEOUT,
	SUP_ABORTED,
	SUP_STOPPED,
};

/* ---- step.c ---- */

/* Sleep until the monotonic deadline or a stop request. Returns false when stopped. */
bool agent_sleep_until(int64_t until_mono);
/* The stage's name, "UNKNOWN" for an unknown value. */
const char *stage_name(int stage);
/* Replace res with status, code, fail_count and the formatted message (fmt NULL = none). */
void step_result_set(struct step_result *res, int status, int code, int fail_count, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* §12.3: the running goal's stage goes to disk (as UNKNOWN) before the step does anything a crash could
 * interrupt: run_pass before a download or a staging, a script stage just before its script starts (a stage
 * without a script does nothing, and the result that follows is saved as usual). Once per goal; 0, or a negative
 * errno with res = AGENT_FAILED "cannot persist state". */
int agent_save_before_step(struct agent *a, struct step_result *res);

/* One ping with every env's report (ov, may be NULL, replaces one env's). idle: may be held by the server
 * and abandoned by a stop request (-ECANCELED); *ret_held (may be NULL) tells whether it was held. Counts
 * metrics. 0 or a negative errno. */
int agent_ping(struct agent *a, const struct report_override *ov, bool idle, struct ping_response *ret,
	       bool *ret_held);

/* Wait for the child p of the step, sending heartbeats (ov) every heartbeat_interval; stop it at
 * process_timeout (SUP_TIMEOUT), on a changed plan (SUP_ABORTED, *ret_next filled) or a stop request
 * (SUP_STOPPED after termination_timeout). *res gets its status. */
enum sup_outcome supervise(struct agent *a, struct proc *p, const struct step_ctx *ctx,
			   const struct report_override *ov, struct proc_result *res, struct ping_response *ret_next);
/* The same for a child that answers on done_fd instead of ending (the kept download helper): SUP_EXITED once
 * done_fd is readable (a reply, or EOF when the child ended), *res untouched then; the other outcomes stop
 * the child's process group as supervise() does. */
enum sup_outcome supervise_reply(struct agent *a, struct proc *p, int done_fd, const struct step_ctx *ctx,
				 const struct report_override *ov, struct proc_result *res,
				 struct ping_response *ret_next);

/* The retry tail shared by every step that retries: fail_count is the number of failed attempts so far
 * (this one included), code and message describe the last one. When the retry policy gives up, res gets
 * TOO_MANY_RETRY (message copied) and STEP_DONE is returned; otherwise the backoff is waited with
 * SCRIPT_FAILED heartbeats and STEP_RETRY, STEP_ABORTED (*ret_next filled) or STEP_STOPPED returned. */
enum step_outcome step_after_failure(struct agent *a, const struct step_ctx *ctx, int fail_count, int code,
				     const char *message, struct step_result *res, struct ping_response *ret_next);
/* SUP_ABORTED → STEP_ABORTED, SUP_STOPPED → STEP_STOPPED (true); anything else false. */
bool step_interrupted(enum sup_outcome so, enum step_outcome *ret);

/* Open <log_dir>/<env>.log for appending (0640, rotated above log_max_bytes); path receives its name.
 * The fd or a negative errno. */
int open_env_log(struct agent *a, const char *env, char *path, size_t size);
/* Write all of s to fd (best effort). */
void write_all(int fd, const char *s);
/* Append the attempt's header line; returns the log offset after it (where the attempt's output starts). */
off_t log_header(int fd, const struct step_ctx *ctx, int attempt);

/* The TARGET rules of this agent (borrowed config strings). */
struct target_policy agent_target_policy(const struct agent *a);
/* Resolve the step's TARGET (logged and err filled when refused) and remember it in the env's entry. */
int resolve_target(struct agent *a, const struct step_ctx *ctx, char *target, size_t size, char *err, size_t errsz);

/* ---- the steps ---- */

enum step_outcome run_script_stage(struct agent *a, const struct step_ctx *ctx, struct step_result *res,
				   struct ping_response *ret_next);
void run_staging(struct agent *a, const struct step_ctx *ctx, struct step_result *res);
enum step_outcome run_download(struct agent *a, const struct step_ctx *ctx, struct step_result *res,
			       struct ping_response *ret_next);

#endif
