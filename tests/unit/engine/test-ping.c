/* SPDX-License-Identifier: Apache-2.0 */
/* tests/unit/engine/test-ping.c: the per-ping decision (§5.3-§5.9, §6) as a table of named cases, one per row of
 * the §5.4 table and per proposal rule, plus ordering, selection, write suppression, and invariant loops over
 * stage × status × state × failure policy. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "engine.h"
#include "select_walk.h"
#include "util.h"

/* table rows start from defaults and override some fields */
#pragma GCC diagnostic ignored "-Woverride-init"

#define NOW 1700000000000LL
#define ENV_ID "envA"
#define CUR "D2"
#define OLD "D1"

enum want_out { W_NONE, W_INSTALL, W_UNINSTALL, W_DELROW };
enum tri { ANY = 0, YES = 1, NO = 2 };

struct pcase {
	const char *name;
	/* env */
	bool env;           /* resolved for the host */
	bool env_known;     /* exists but not resolved */
	bool no_deploy;
	int env_state;
	int deploy_type;
	const char *alias;
	int policy;
	/* report */
	bool rep;
	const char *rep_deploy;
	int rep_stage;
	int rep_status;
	bool rbs;
	/* stored row */
	bool row;
	const char *row_deploy;
	int row_stage;
	int row_state;
	int row_status;
	bool row_slot;
	bool row_first;
	bool row_removed;
	bool sibling;       /* a row for another stage of the same env name */
	/* expectations */
	const char *want_case;
	enum want_out want;
	int want_stage;     /* bean stage (install) */
	int want_state;     /* bean state (install) */
	enum tri want_wait;
	enum tri want_first;
	enum tri want_swapped;
	enum tri want_upd;  /* a write for this env */
	int want_upd_state; /* -1: not checked */
	enum tri want_upd_slot;
	enum tri want_upd_removed;
	enum tri want_in_flight;
};

#define D .env = true, .env_state = ENV_STATE_NORMAL, .deploy_type = DEPLOY_TYPE_REGULAR, \
	  .policy = FAILURE_POLICY_HALT, .rep_deploy = CUR, .rep_status = AGENT_STATUS_SUCCEEDED, \
	  .row_deploy = CUR, .row_state = AGENT_STATE_NORMAL, .row_status = AGENT_STATUS_SUCCEEDED, \
	  .want_upd_state = -1

static const struct pcase cases[] = {
	/* 0.1 */
	{ "0.1 stage without deploy", D, .no_deploy = true, .want_case = "0.1", .want = W_NONE },
	{ "0.1 with a report still writes upd", D, .no_deploy = true, .rep = true, .rep_stage = DEPLOY_STAGE_STAGING,
	  .rep_status = AGENT_STATUS_UNKNOWN, .want_case = "0.1", .want = W_NONE, .want_upd = YES },
	/* 0.2 */
	{ "0.2 paused stage, host with a row", D, .env_state = ENV_STATE_PAUSED, .row = true,
	  .row_stage = DEPLOY_STAGE_SERVING_BUILD, .row_deploy = OLD, .want_case = "0.2", .want = W_NONE },
	{ "0.2 disabled acts like paused", D, .env_state = ENV_STATE_DISABLED, .rep = true,
	  .rep_deploy = OLD, .rep_stage = DEPLOY_STAGE_SERVING_BUILD, .row = true, .row_deploy = OLD,
	  .row_stage = DEPLOY_STAGE_SERVING_BUILD, .want_case = "0.2", .want = W_NONE, .want_upd = NO },
	{ "0.2 paused stage still gives a new host its first deploy", D, .env_state = ENV_STATE_PAUSED,
	  .want_case = "2", .want = W_INSTALL, .want_stage = DEPLOY_STAGE_PRE_DOWNLOAD,
	  .want_state = AGENT_STATE_NORMAL, .want_wait = NO, .want_first = YES },
	{ "0.2 paused stage: host moved from a sibling stage waits", D, .env_state = ENV_STATE_PAUSED,
	  .sibling = true, .want_case = "0.2", .want = W_NONE },
	/* 0.3 */
	{ "0.3 paused by user", D, .row = true, .row_state = AGENT_STATE_PAUSED_BY_USER,
	  .row_stage = DEPLOY_STAGE_STAGING, .rep = true, .rep_stage = DEPLOY_STAGE_STAGING,
	  .rep_status = AGENT_STATUS_UNKNOWN, .row_slot = true,
	  .want_case = "0.3", .want = W_NONE, .want_upd = YES, .want_upd_state = AGENT_STATE_PAUSED_BY_USER,
	  .want_upd_slot = NO },
	{ "0.3 paused by user and unmapped: no DELETE", D, .env = false, .env_known = true, .row = true,
	  .row_state = AGENT_STATE_PAUSED_BY_USER, .row_stage = DEPLOY_STAGE_SERVING_BUILD, .rep = true,
	  .rep_stage = DEPLOY_STAGE_SERVING_BUILD, .want_case = "0.3", .want = W_NONE },
	/* 0.4 */
	{ "0.4 STOP at STOPPED", D, .row = true, .row_state = AGENT_STATE_STOP, .row_stage = DEPLOY_STAGE_STOPPED,
	  .rep = true, .rep_stage = DEPLOY_STAGE_STOPPED, .want_case = "0.4", .want = W_NONE, .want_upd = NO },
	{ "0.4 STOP requested mid-deploy -> stop bean", D, .row = true, .row_state = AGENT_STATE_STOP,
	  .row_stage = DEPLOY_STAGE_STAGING, .rep = true, .rep_stage = DEPLOY_STAGE_STAGING,
	  .rep_status = AGENT_STATUS_UNKNOWN, .want_case = "0.4", .want = W_INSTALL,
	  .want_stage = DEPLOY_STAGE_STOPPING, .want_state = AGENT_STATE_STOP, .want_wait = NO },
	{ "0.4 STOP without report -> stop bean", D, .row = true, .row_state = AGENT_STATE_STOP,
	  .row_stage = DEPLOY_STAGE_SERVING_BUILD, .want_case = "0.4", .want = W_INSTALL,
	  .want_stage = DEPLOY_STAGE_STOPPING, .want_state = AGENT_STATE_STOP, .want_wait = NO },
	{ "0.4 STOPPING, no report -> nothing", D, .row = true, .row_state = AGENT_STATE_STOP,
	  .row_stage = DEPLOY_STAGE_STOPPING, .want_case = "0.4", .want = W_NONE },
	{ "0.4 STOPPING, report of another stage -> stop bean again", D, .row = true,
	  .row_state = AGENT_STATE_STOP, .row_stage = DEPLOY_STAGE_STOPPING, .rep = true,
	  .rep_stage = DEPLOY_STAGE_SERVING_BUILD, .want_case = "0.4", .want = W_INSTALL,
	  .want_stage = DEPLOY_STAGE_STOPPING, .want_state = AGENT_STATE_STOP },
	{ "0.4 STOPPING fatal -> nothing, parked", D, .row = true, .row_state = AGENT_STATE_STOP,
	  .row_stage = DEPLOY_STAGE_STOPPING, .rep = true, .rep_stage = DEPLOY_STAGE_STOPPING,
	  .rep_status = AGENT_STATUS_SCRIPT_TIMEOUT, .want_case = "0.4", .want = W_NONE, .want_upd = YES,
	  .want_upd_state = AGENT_STATE_PAUSED_BY_SYSTEM },
	{ "0.4 STOPPING succeeded -> STOPPED", D, .row = true, .row_state = AGENT_STATE_STOP,
	  .row_stage = DEPLOY_STAGE_STOPPING, .rep = true, .rep_stage = DEPLOY_STAGE_STOPPING,
	  .want_case = "0.4", .want = W_INSTALL, .want_stage = DEPLOY_STAGE_STOPPED,
	  .want_state = AGENT_STATE_STOP, .want_wait = NO },
	{ "0.4 STOPPING running -> repeat STOPPING", D, .row = true, .row_state = AGENT_STATE_STOP,
	  .row_stage = DEPLOY_STAGE_STOPPING, .rep = true, .rep_stage = DEPLOY_STAGE_STOPPING,
	  .rep_status = AGENT_STATUS_UNKNOWN, .want_case = "0.4", .want = W_INSTALL,
	  .want_stage = DEPLOY_STAGE_STOPPING, .want_state = AGENT_STATE_STOP, .want_wait = NO },
	{ "0.4 STOPPING retryable -> repeat STOPPING", D, .row = true, .row_state = AGENT_STATE_STOP,
	  .row_stage = DEPLOY_STAGE_STOPPING, .rep = true, .rep_stage = DEPLOY_STAGE_STOPPING,
	  .rep_status = AGENT_STATUS_SCRIPT_FAILED, .want_case = "0.4", .want = W_INSTALL,
	  .want_stage = DEPLOY_STAGE_STOPPING, .want_state = AGENT_STATE_STOP },
	/* alias swap + 1.x */
	{ "swap: host still on the deploy returned to is idle", D, .deploy_type = DEPLOY_TYPE_ROLLBACK,
	  .alias = OLD, .rep = true, .rep_deploy = OLD, .rep_stage = DEPLOY_STAGE_SERVING_BUILD, .row = true,
	  .row_deploy = OLD, .row_stage = DEPLOY_STAGE_SERVING_BUILD, .want_case = "1.1", .want = W_NONE,
	  .want_upd = YES },
	{ "swap: host mid-way on the old deploy continues with the old id", D, .deploy_type = DEPLOY_TYPE_ROLLBACK,
	  .alias = OLD, .rep = true, .rep_deploy = OLD, .rep_stage = DEPLOY_STAGE_STAGING, .row = true,
	  .row_deploy = OLD, .row_stage = DEPLOY_STAGE_STAGING, .row_slot = true, .want_case = "1.2",
	  .want = W_INSTALL, .want_stage = DEPLOY_STAGE_PRE_RESTART, .want_swapped = YES, .want_wait = NO },
	{ "no swap for a deploy that is not the alias", D, .deploy_type = DEPLOY_TYPE_ROLLBACK, .alias = "D0",
	  .rep = true, .rep_deploy = OLD, .rep_stage = DEPLOY_STAGE_SERVING_BUILD, .row = true,
	  .row_deploy = OLD, .row_stage = DEPLOY_STAGE_SERVING_BUILD, .want_case = "1.5", .want = W_INSTALL,
	  .want_stage = DEPLOY_STAGE_PRE_DOWNLOAD, .want_swapped = NO, .want_wait = YES },
	{ "1.0 RESET restarts the current deploy", D, .rep = true, .rep_stage = DEPLOY_STAGE_SERVING_BUILD,
	  .row = true, .row_state = AGENT_STATE_RESET, .row_stage = DEPLOY_STAGE_SERVING_BUILD,
	  .want_case = "1.0", .want = W_INSTALL, .want_stage = DEPLOY_STAGE_PRE_DOWNLOAD,
	  .want_state = AGENT_STATE_NORMAL, .want_wait = YES, .want_upd_state = AGENT_STATE_RESET },
	{ "1.0 RESET of a slot holder needs no new slot", D, .rep = true, .rep_stage = DEPLOY_STAGE_STAGING,
	  .rep_status = AGENT_STATUS_SCRIPT_TIMEOUT, .row = true, .row_state = AGENT_STATE_RESET,
	  .row_stage = DEPLOY_STAGE_STAGING, .row_slot = true, .want_case = "1.0", .want = W_INSTALL,
	  .want_stage = DEPLOY_STAGE_PRE_DOWNLOAD, .want_wait = NO },
	{ "1.0 RESET_BY_SYSTEM report", D, .rep = true, .rep_stage = DEPLOY_STAGE_SERVING_BUILD, .rbs = true,
	  .row = true, .row_stage = DEPLOY_STAGE_SERVING_BUILD, .want_case = "1.0", .want = W_INSTALL,
	  .want_stage = DEPLOY_STAGE_PRE_DOWNLOAD, .want_upd_state = AGENT_STATE_RESET_BY_SYSTEM },
	{ "1.0 RESET_BY_SYSTEM without a row is ignored", D, .rep = true, .rep_stage = DEPLOY_STAGE_SERVING_BUILD,
	  .rbs = true, .want_case = "1.1", .want = W_NONE, .want_upd = YES,
	  .want_upd_state = AGENT_STATE_NORMAL },
	{ "1.1 idle host", D, .rep = true, .rep_stage = DEPLOY_STAGE_SERVING_BUILD, .row = true,
	  .row_stage = DEPLOY_STAGE_SERVING_BUILD, .want_case = "1.1", .want = W_NONE, .want_upd = NO },
	{ "1.1 idle host, new row inserted", D, .rep = true, .rep_stage = DEPLOY_STAGE_SERVING_BUILD,
	  .want_case = "1.1", .want = W_NONE, .want_upd = YES },
	{ "1.2 next stage", D, .rep = true, .rep_stage = DEPLOY_STAGE_DOWNLOADING, .row = true,
	  .row_stage = DEPLOY_STAGE_DOWNLOADING, .row_status = AGENT_STATUS_UNKNOWN, .row_slot = true,
	  .want_case = "1.2", .want = W_INSTALL, .want_stage = DEPLOY_STAGE_POST_DOWNLOAD,
	  .want_state = AGENT_STATE_NORMAL, .want_wait = NO, .want_upd = YES, .want_upd_slot = YES },
	{ "1.2 POST_RESTART -> SERVING_BUILD releases the slot", D, .rep = true,
	  .rep_stage = DEPLOY_STAGE_POST_RESTART, .row = true, .row_stage = DEPLOY_STAGE_POST_RESTART,
	  .row_slot = true, .want_case = "1.2", .want = W_INSTALL, .want_stage = DEPLOY_STAGE_SERVING_BUILD,
	  .want_wait = NO },
	{ "1.2 clears PAUSED_BY_SYSTEM on success", D, .rep = true, .rep_stage = DEPLOY_STAGE_STAGING,
	  .row = true, .row_stage = DEPLOY_STAGE_STAGING, .row_state = AGENT_STATE_PAUSED_BY_SYSTEM,
	  .row_slot = true, .want_case = "1.2", .want = W_INSTALL, .want_stage = DEPLOY_STAGE_PRE_RESTART,
	  .want_state = AGENT_STATE_NORMAL, .want_upd_state = AGENT_STATE_NORMAL },
	{ "1.2 no successor (STOPPED) -> from scratch", D, .rep = true, .rep_stage = DEPLOY_STAGE_STOPPED,
	  .row = true, .row_stage = DEPLOY_STAGE_STOPPED, .want_case = "1.2", .want = W_INSTALL,
	  .want_stage = DEPLOY_STAGE_PRE_DOWNLOAD },
	{ "1.2 first deploy never waits", D, .rep = true, .rep_stage = DEPLOY_STAGE_PRE_DOWNLOAD, .row = true,
	  .row_stage = DEPLOY_STAGE_PRE_DOWNLOAD, .row_first = true, .want_case = "1.2", .want = W_INSTALL,
	  .want_stage = DEPLOY_STAGE_DOWNLOADING, .want_wait = NO, .want_first = YES },
	{ "1.3 HALT parks the host and keeps the slot", D, .rep = true, .rep_stage = DEPLOY_STAGE_RESTARTING,
	  .rep_status = AGENT_STATUS_SCRIPT_TIMEOUT, .row = true, .row_stage = DEPLOY_STAGE_RESTARTING,
	  .row_status = AGENT_STATUS_UNKNOWN, .row_slot = true, .want_case = "1.3", .want = W_NONE,
	  .want_upd = YES, .want_upd_state = AGENT_STATE_PAUSED_BY_SYSTEM, .want_upd_slot = YES },
	{ "1.3 ROLLBACK policy: as HALT for the host", D, .policy = FAILURE_POLICY_ROLLBACK, .rep = true,
	  .rep_stage = DEPLOY_STAGE_RESTARTING, .rep_status = AGENT_STATUS_AGENT_FAILED, .row = true,
	  .row_stage = DEPLOY_STAGE_RESTARTING, .row_slot = true, .want_case = "1.3", .want = W_NONE,
	  .want_upd = YES, .want_upd_state = AGENT_STATE_PAUSED_BY_SYSTEM, .want_upd_slot = YES },
	{ "1.3 CONTINUE parks and releases the slot", D, .policy = FAILURE_POLICY_CONTINUE, .rep = true,
	  .rep_stage = DEPLOY_STAGE_RESTARTING, .rep_status = AGENT_STATUS_TOO_MANY_RETRY, .row = true,
	  .row_stage = DEPLOY_STAGE_RESTARTING, .row_slot = true, .want_case = "1.3", .want = W_NONE,
	  .want_upd = YES, .want_upd_state = AGENT_STATE_PAUSED_BY_SYSTEM, .want_upd_slot = NO },
	{ "1.3 REMOVE_HOST: stop bean, removed", D, .policy = FAILURE_POLICY_REMOVE_HOST, .rep = true,
	  .rep_stage = DEPLOY_STAGE_RESTARTING, .rep_status = AGENT_STATUS_RUNTIME_MISMATCH, .row = true,
	  .row_stage = DEPLOY_STAGE_RESTARTING, .row_slot = true, .want_case = "1.3", .want = W_INSTALL,
	  .want_stage = DEPLOY_STAGE_STOPPING, .want_state = AGENT_STATE_STOP, .want_wait = NO,
	  .want_upd = YES, .want_upd_state = AGENT_STATE_STOP, .want_upd_slot = NO, .want_upd_removed = YES },
	{ "1.3 parked host reporting again stays parked", D, .rep = true, .rep_stage = DEPLOY_STAGE_RESTARTING,
	  .rep_status = AGENT_STATUS_SCRIPT_TIMEOUT, .row = true, .row_stage = DEPLOY_STAGE_RESTARTING,
	  .row_status = AGENT_STATUS_SCRIPT_TIMEOUT, .row_state = AGENT_STATE_PAUSED_BY_SYSTEM, .row_slot = true,
	  .want_case = "1.3", .want = W_NONE, .want_upd = NO },
	{ "1.3 fatal first deploy clears firstDeploy", D, .rep = true, .rep_stage = DEPLOY_STAGE_DOWNLOADING,
	  .rep_status = AGENT_STATUS_AGENT_FAILED, .row = true, .row_stage = DEPLOY_STAGE_DOWNLOADING,
	  .row_first = true, .want_case = "1.3", .want = W_NONE, .want_upd = YES,
	  .want_upd_state = AGENT_STATE_PAUSED_BY_SYSTEM, .want_upd_slot = NO },
	{ "1.4 running step repeats, in flight", D, .rep = true, .rep_stage = DEPLOY_STAGE_STAGING,
	  .rep_status = AGENT_STATUS_UNKNOWN, .row = true, .row_stage = DEPLOY_STAGE_STAGING,
	  .row_status = AGENT_STATUS_UNKNOWN, .row_slot = true, .want_case = "1.4", .want = W_INSTALL,
	  .want_stage = DEPLOY_STAGE_STAGING, .want_wait = NO, .want_in_flight = YES, .want_upd = NO },
	{ "1.4 script failed retries the stage", D, .rep = true, .rep_stage = DEPLOY_STAGE_STAGING,
	  .rep_status = AGENT_STATUS_SCRIPT_FAILED, .row = true, .row_stage = DEPLOY_STAGE_STAGING,
	  .row_status = AGENT_STATUS_UNKNOWN, .row_slot = true, .want_case = "1.4", .want = W_INSTALL,
	  .want_stage = DEPLOY_STAGE_STAGING, .want_in_flight = NO, .want_upd = YES },
	{ "1.4 retryable agent failure", D, .rep = true, .rep_stage = DEPLOY_STAGE_DOWNLOADING,
	  .rep_status = AGENT_STATUS_RETRYABLE_AGENT_FAILED, .row = true, .row_stage = DEPLOY_STAGE_DOWNLOADING,
	  .row_slot = true, .want_case = "1.4", .want = W_INSTALL, .want_stage = DEPLOY_STAGE_DOWNLOADING },
	{ "1.4 aborted by service", D, .rep = true, .rep_stage = DEPLOY_STAGE_DOWNLOADING,
	  .rep_status = AGENT_STATUS_ABORTED_BY_SERVICE, .row = true, .row_stage = DEPLOY_STAGE_DOWNLOADING,
	  .row_slot = true, .want_case = "1.4", .want = W_INSTALL, .want_stage = DEPLOY_STAGE_DOWNLOADING },
	{ "1.4 host back without a slot queues", D, .rep = true, .rep_stage = DEPLOY_STAGE_STAGING,
	  .rep_status = AGENT_STATUS_UNKNOWN, .row = true, .row_stage = DEPLOY_STAGE_STAGING,
	  .row_state = AGENT_STATE_UNREACHABLE, .want_case = "1.4", .want = W_INSTALL, .want_wait = YES,
	  .want_upd = YES, .want_upd_state = AGENT_STATE_NORMAL },
	{ "1.5 new deploy for an idle host waits", D, .rep = true, .rep_deploy = OLD,
	  .rep_stage = DEPLOY_STAGE_SERVING_BUILD, .row = true, .row_deploy = OLD,
	  .row_stage = DEPLOY_STAGE_SERVING_BUILD, .want_case = "1.5", .want = W_INSTALL,
	  .want_stage = DEPLOY_STAGE_PRE_DOWNLOAD, .want_state = AGENT_STATE_NORMAL, .want_wait = YES,
	  .want_first = NO, .want_upd = NO },
	{ "1.5 mid-deploy host switches without waiting", D, .rep = true, .rep_deploy = OLD,
	  .rep_stage = DEPLOY_STAGE_STAGING, .rep_status = AGENT_STATUS_UNKNOWN, .row = true, .row_deploy = OLD,
	  .row_stage = DEPLOY_STAGE_STAGING, .row_slot = true, .want_case = "1.5", .want = W_INSTALL,
	  .want_stage = DEPLOY_STAGE_PRE_DOWNLOAD, .want_wait = NO },
	{ "1.5 CONTINUE-parked host queues for the new deploy", D, .policy = FAILURE_POLICY_CONTINUE,
	  .rep = true, .rep_deploy = OLD, .rep_stage = DEPLOY_STAGE_STAGING,
	  .rep_status = AGENT_STATUS_SCRIPT_TIMEOUT, .row = true, .row_deploy = OLD,
	  .row_stage = DEPLOY_STAGE_STAGING, .row_state = AGENT_STATE_PAUSED_BY_SYSTEM, .want_case = "1.5",
	  .want = W_INSTALL, .want_stage = DEPLOY_STAGE_PRE_DOWNLOAD, .want_wait = YES },
	{ "1.5 report without deploy id", D, .rep = true, .rep_deploy = NULL,
	  .rep_stage = DEPLOY_STAGE_UNKNOWN, .rep_status = AGENT_STATUS_UNKNOWN, .want_case = "1.5",
	  .want = W_INSTALL, .want_stage = DEPLOY_STAGE_PRE_DOWNLOAD, .want_first = YES, .want_wait = NO },
	{ "2 new host: first deploy", D, .want_case = "2", .want = W_INSTALL, .want_stage = DEPLOY_STAGE_PRE_DOWNLOAD,
	  .want_state = AGENT_STATE_NORMAL, .want_wait = NO, .want_first = YES },
	{ "2 host moved from a sibling stage: not a first deploy", D, .sibling = true, .want_case = "2",
	  .want = W_INSTALL, .want_first = NO, .want_wait = YES },
	{ "2 agent lost its state: redeploy", D, .row = true, .row_stage = DEPLOY_STAGE_SERVING_BUILD,
	  .want_case = "2", .want = W_INSTALL, .want_stage = DEPLOY_STAGE_PRE_DOWNLOAD, .want_first = NO,
	  .want_wait = YES },
	{ "2 unreachable row comes back, written NORMAL", D, .row = true,
	  .row_stage = DEPLOY_STAGE_SERVING_BUILD, .row_state = AGENT_STATE_UNREACHABLE, .want_case = "2",
	  .want = W_INSTALL, .want_upd = YES, .want_upd_state = AGENT_STATE_NORMAL },
	{ "3 env removed from the host -> uninstall", D, .env = false, .env_known = true, .rep = true,
	  .rep_stage = DEPLOY_STAGE_SERVING_BUILD, .row = true, .row_stage = DEPLOY_STAGE_SERVING_BUILD,
	  .row_slot = true, .want_case = "3", .want = W_UNINSTALL, .want_upd = YES,
	  .want_upd_state = AGENT_STATE_DELETE, .want_upd_slot = NO },
	{ "3 unknown env -> uninstall, nothing written", D, .env = false, .rep = true,
	  .rep_stage = DEPLOY_STAGE_SERVING_BUILD, .want_case = "3", .want = W_UNINSTALL, .want_upd = NO },
	{ "4 forgotten env: delete the row", D, .env = false, .env_known = true, .row = true,
	  .row_stage = DEPLOY_STAGE_SERVING_BUILD, .row_state = AGENT_STATE_DELETE, .want_case = "4",
	  .want = W_DELROW, .want_upd = NO },
	/* removed hosts (REMOVE_HOST) */
	{ "removed STOPPED host stays out across deploys", D, .rep = true, .rep_deploy = OLD,
	  .rep_stage = DEPLOY_STAGE_STOPPED, .row = true, .row_deploy = OLD, .row_stage = DEPLOY_STAGE_STOPPED,
	  .row_state = AGENT_STATE_STOP, .row_removed = true, .want_case = "0.4", .want = W_NONE,
	  .want_upd = NO },
};

struct fixture {
	struct env_view envs[2];
	size_t n_envs;
	struct env_view known[2];
	size_t n_known;
	struct engine_report reps[2];
	size_t n_reps;
	struct agent_row rows[2];
	size_t n_rows;
	struct engine_ping_input in;
};

static void env_init(struct env_view *e, const char *id, const char *name, const char *stage, const char *deploy)
{
	*e = (struct env_view){ .stage_type = ENV_TYPE_PRODUCTION, .deploy_type = DEPLOY_TYPE_REGULAR,
				.env_state = ENV_STATE_NORMAL, .priority = DEPLOY_PRIORITY_NORMAL,
				.failure_policy = FAILURE_POLICY_HALT, .max_parallel = 1 };
	(void)str_copy(e->id, sizeof(e->id), id);
	(void)str_copy(e->env_name, sizeof(e->env_name), name);
	(void)str_copy(e->stage_name, sizeof(e->stage_name), stage);
	(void)str_copy(e->deploy_id, sizeof(e->deploy_id), deploy ? deploy : "");
}

static void row_init(struct agent_row *r, const char *env_id, const char *deploy, int stage, int state)
{
	*r = (struct agent_row){ .deploy_stage = stage, .state = state, .status = AGENT_STATUS_SUCCEEDED,
				 .start_date = NOW - 5000, .last_update_date = NOW - 5000,
				 .stage_start_date = NOW - 5000, .version = 7 };
	(void)str_copy(r->host_id, sizeof(r->host_id), "h1");
	(void)str_copy(r->host_name, sizeof(r->host_name), "host-1");
	(void)str_copy(r->env_id, sizeof(r->env_id), env_id);
	(void)str_copy(r->deploy_id, sizeof(r->deploy_id), deploy ? deploy : "");
	(void)str_copy(r->last_operator, sizeof(r->last_operator), "system");
}

static void fixture_from_case(struct fixture *f, const struct pcase *t)
{
	*f = (struct fixture){ 0 };
	if (t->env || t->env_known) {
		struct env_view *e = t->env ? &f->envs[f->n_envs++] : &f->known[f->n_known++];

		env_init(e, ENV_ID, "web", "prod", t->no_deploy ? NULL : CUR);
		e->env_state = t->env_state;
		e->deploy_type = t->no_deploy ? -1 : t->deploy_type;
		e->failure_policy = t->policy;
		if (t->alias)
			(void)str_copy(e->deploy_alias, sizeof(e->deploy_alias), t->alias);
	}
	if (t->sibling) {
		env_init(&f->known[f->n_known++], "envB", "web", "canary", CUR);
		row_init(&f->rows[f->n_rows++], "envB", CUR, DEPLOY_STAGE_SERVING_BUILD, AGENT_STATE_NORMAL);
		/* the host reports the sibling as well (it is still mapped there or not: irrelevant here) */
	}
	if (t->rep)
		f->reps[f->n_reps++] = (struct engine_report){ .env_id = ENV_ID, .deploy_id = t->rep_deploy,
								.deploy_stage = t->rep_stage,
								.agent_status = t->rep_status,
								.reset_by_system = t->rbs };
	if (t->row) {
		struct agent_row *r = &f->rows[f->n_rows++];

		row_init(r, ENV_ID, t->row_deploy, t->row_stage, t->row_state);
		r->status = t->row_status;
		r->holds_slot = t->row_slot;
		r->first_deploy = t->row_first;
		r->removed = t->row_removed;
	}
	f->in = (struct engine_ping_input){ .host_id = "h1", .host_name = "host-1", .envs = f->envs,
					    .n_envs = f->n_envs, .known = f->known, .n_known = f->n_known,
					    .reports = f->reps, .n_reports = f->n_reps, .rows = f->rows,
					    .n_rows = f->n_rows, .now_ms = NOW };
}

static const struct engine_write *find_write(const struct engine_decision *d, const char *env_id)
{
	for (size_t i = 0; i < d->n_writes; i++)
		if (streq(d->writes[i].row.env_id, env_id) && !d->writes[i].skip)
			return &d->writes[i];
	return NULL;
}

static void check_tri(enum tri want, bool got, const char *what)
{
	if (want == ANY)
		return;
	if ((want == YES) != got)
		fail_msg("%s: want %s", what, want == YES ? "true" : "false");
}

static void test_decision_table(void **state)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct pcase *t = &cases[i];
		struct engine_decision d;
		const struct engine_candidate *c = NULL;
		const struct engine_write *w;
		const char *got_case = NULL;
		struct fixture f;

		printf("case: %s\n", t->name);
		fixture_from_case(&f, t);
		assert_int_equal(engine_decide_ping(&f.in, &d), 0);

		for (size_t k = 0; k < d.n_installs; k++)
			if (streq(d.installs[k].bean.env_id, ENV_ID))
				c = &d.installs[k];
		for (size_t k = 0; !c && k < d.n_uninstalls; k++)
			if (streq(d.uninstalls[k].bean.env_id, ENV_ID))
				c = &d.uninstalls[k];
		switch (t->want) {
		case W_NONE:
			/* (a sibling row of an unresolved stage is deleted by case 4: not this env's business) */
			for (size_t k = 0; k < d.n_installs; k++)
				assert_string_not_equal(d.installs[k].bean.env_id, ENV_ID);
			for (size_t k = 0; k < d.n_uninstalls; k++)
				assert_string_not_equal(d.uninstalls[k].bean.env_id, ENV_ID);
			for (size_t k = 0; k < d.n_deletes; k++)
				assert_string_not_equal(d.deletes[k].env_id, ENV_ID);
			break;
		case W_INSTALL:
			assert_non_null(c);
			assert_int_equal(d.n_uninstalls, 0);
			got_case = c->decided_by;
			if (t->want_stage)
				assert_int_equal(c->bean.deploy_stage, t->want_stage);
			if (t->want_state)
				assert_int_equal(c->bean.state, t->want_state);
			check_tri(t->want_wait, c->need_wait, "need_wait");
			check_tri(t->want_first, c->bean.first_deploy, "first_deploy");
			check_tri(t->want_swapped, c->swapped, "swapped");
			check_tri(t->want_in_flight, c->in_flight, "in_flight");
			assert_string_equal(c->bean.deploy_id, CUR);
			assert_string_equal(c->bean.host_id, "h1");
			/* first-deploy rows never hold a slot; stop beans never wait */
			if (c->bean.first_deploy)
				assert_false(c->bean.holds_slot);
			if (c->stop)
				assert_false(c->need_wait);
			break;
		case W_UNINSTALL:
			assert_int_equal(d.n_uninstalls, 1);
			c = &d.uninstalls[0];
			got_case = c->decided_by;
			assert_int_equal(c->bean.state, AGENT_STATE_DELETE);
			break;
		case W_DELROW:
			assert_int_equal(d.n_deletes, 1);
			assert_string_equal(d.deletes[0].env_id, ENV_ID);
			assert_true(d.deletes[0].expect_version == 7);
			got_case = "4";
			break;
		}
		if (got_case && t->want_case)
			assert_string_equal(got_case, t->want_case);

		w = find_write(&d, ENV_ID);
		check_tri(t->want_upd, w != NULL, "upd written");
		if (w) {
			assert_int_equal(w->insert, !t->row);
			if (t->row)
				assert_true(w->expect_version == 7);
			if (t->want_upd_state >= 0)
				assert_int_equal(w->row.state, t->want_upd_state);
			check_tri(t->want_upd_slot, w->row.holds_slot, "upd holds_slot");
			check_tri(t->want_upd_removed, w->row.removed, "upd removed");
			assert_string_equal(w->row.last_operator, "system");
			assert_true(w->row.last_update_date == NOW);
		}
		engine_decision_release(&d);
	}
}

/* §5.3: the state proposal, one row per rule. */
static void test_proposal(void **state)
{
	static const struct {
		const char *name;
		bool row;
		int row_state;
		int row_stage;
		int rep_stage;
		int status;
		bool rbs;
		int want;
	} t[] = {
		{ "no row, success", false, 0, 0, DEPLOY_STAGE_STAGING, AGENT_STATUS_SUCCEEDED, false,
		  AGENT_STATE_NORMAL },
		{ "no row, running", false, 0, 0, DEPLOY_STAGE_STAGING, AGENT_STATUS_UNKNOWN, false,
		  AGENT_STATE_NORMAL },
		{ "no row, fatal", false, 0, 0, DEPLOY_STAGE_STAGING, AGENT_STATUS_AGENT_FAILED, false,
		  AGENT_STATE_PAUSED_BY_SYSTEM },
		{ "rbs with row", true, AGENT_STATE_NORMAL, DEPLOY_STAGE_STAGING, DEPLOY_STAGE_STAGING,
		  AGENT_STATUS_SUCCEEDED, true, AGENT_STATE_RESET_BY_SYSTEM },
		{ "STOP kept", true, AGENT_STATE_STOP, DEPLOY_STAGE_STOPPING, DEPLOY_STAGE_STOPPING,
		  AGENT_STATUS_SUCCEEDED, false, AGENT_STATE_STOP },
		{ "STOP fatal at STOPPING", true, AGENT_STATE_STOP, DEPLOY_STAGE_STOPPING, DEPLOY_STAGE_STOPPING,
		  AGENT_STATUS_SCRIPT_TIMEOUT, false, AGENT_STATE_PAUSED_BY_SYSTEM },
		{ "STOP fatal elsewhere stays STOP", true, AGENT_STATE_STOP, DEPLOY_STAGE_STAGING,
		  DEPLOY_STAGE_STAGING, AGENT_STATUS_SCRIPT_TIMEOUT, false, AGENT_STATE_STOP },
		{ "PAUSED_BY_USER kept on success", true, AGENT_STATE_PAUSED_BY_USER, DEPLOY_STAGE_STAGING,
		  DEPLOY_STAGE_STAGING, AGENT_STATUS_SUCCEEDED, false, AGENT_STATE_PAUSED_BY_USER },
		{ "RESET kept", true, AGENT_STATE_RESET, DEPLOY_STAGE_STAGING, DEPLOY_STAGE_STAGING,
		  AGENT_STATUS_AGENT_FAILED, false, AGENT_STATE_RESET },
		{ "success clears PAUSED_BY_SYSTEM", true, AGENT_STATE_PAUSED_BY_SYSTEM, DEPLOY_STAGE_STAGING,
		  DEPLOY_STAGE_STAGING, AGENT_STATUS_SUCCEEDED, false, AGENT_STATE_NORMAL },
		{ "retryable keeps PAUSED_BY_SYSTEM", true, AGENT_STATE_PAUSED_BY_SYSTEM, DEPLOY_STAGE_STAGING,
		  DEPLOY_STAGE_STAGING, AGENT_STATUS_SCRIPT_FAILED, false, AGENT_STATE_PAUSED_BY_SYSTEM },
		{ "fatal of each kind", true, AGENT_STATE_NORMAL, DEPLOY_STAGE_STAGING, DEPLOY_STAGE_STAGING,
		  AGENT_STATUS_RUNTIME_MISMATCH, false, AGENT_STATE_PAUSED_BY_SYSTEM },
		{ "UNREACHABLE reads NORMAL", true, AGENT_STATE_UNREACHABLE, DEPLOY_STAGE_STAGING,
		  DEPLOY_STAGE_STAGING, AGENT_STATUS_UNKNOWN, false, AGENT_STATE_NORMAL },
		{ "DELETE reads NORMAL", true, AGENT_STATE_DELETE, DEPLOY_STAGE_STAGING, DEPLOY_STAGE_STAGING,
		  AGENT_STATUS_SCRIPT_FAILED, false, AGENT_STATE_NORMAL },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct env_view env;
		struct agent_row row;
		struct engine_report rep = { .env_id = ENV_ID, .deploy_id = CUR, .deploy_stage = t[i].rep_stage,
					     .agent_status = t[i].status, .reset_by_system = t[i].rbs };
		struct engine_ping_input in = { .host_id = "h1", .envs = &env, .n_envs = 1, .reports = &rep,
						.n_reports = 1, .rows = &row, .n_rows = t[i].row ? 1 : 0,
						.now_ms = NOW };
		struct engine_decision d;
		const struct engine_write *w;

		printf("proposal: %s\n", t[i].name);
		env_init(&env, ENV_ID, "web", "prod", CUR);
		/* a paused stage isolates the proposal from the table's candidates */
		env.env_state = ENV_STATE_PAUSED;
		row_init(&row, ENV_ID, CUR, t[i].row_stage, t[i].row_state);
		row.fail_count = 99; /* force a write so the proposal is visible */
		assert_int_equal(engine_decide_ping(&in, &d), 0);
		w = find_write(&d, ENV_ID);
		assert_non_null(w);
		assert_int_equal(w->row.state, t[i].want);
		engine_decision_release(&d);
	}
}

/* §5.3: stageStartDate, firstDeploy clearing and the suppression of idle writes. */
static void test_upd_fields(void **state)
{
	struct env_view env;
	struct agent_row row;
	struct engine_report rep = { .env_id = ENV_ID, .deploy_id = CUR, .deploy_stage = DEPLOY_STAGE_STAGING,
				     .agent_status = AGENT_STATUS_UNKNOWN, .container_health_status = "OK" };
	struct engine_ping_input in = { .host_id = "h1", .host_name = "host-1", .envs = &env, .n_envs = 1,
					.reports = &rep, .n_reports = 1, .rows = &row, .n_rows = 1,
					.now_ms = NOW };
	struct engine_decision d;
	const struct engine_write *w;

	env_init(&env, ENV_ID, "web", "prod", CUR);
	row_init(&row, ENV_ID, CUR, DEPLOY_STAGE_STAGING, AGENT_STATE_NORMAL);
	row.status = AGENT_STATUS_UNKNOWN;
	row.holds_slot = true;

	/* only containerHealthStatus differs: written, stage start kept */
	assert_int_equal(engine_decide_ping(&in, &d), 0);
	w = find_write(&d, ENV_ID);
	assert_non_null(w);
	assert_string_equal(w->row.container_health_status, "OK");
	assert_true(w->row.stage_start_date == NOW - 5000);
	engine_decision_release(&d);

	/* status change inside a stage: stage start kept (ours) */
	rep.container_health_status = NULL;
	rep.agent_status = AGENT_STATUS_SCRIPT_FAILED;
	rep.error_code = 3;
	rep.fail_count = 1;
	assert_int_equal(engine_decide_ping(&in, &d), 0);
	w = find_write(&d, ENV_ID);
	assert_non_null(w);
	assert_true(w->row.stage_start_date == NOW - 5000);
	assert_int_equal(w->row.last_errno, 3);
	assert_int_equal(w->row.fail_count, 1);
	assert_int_equal(w->report_index, 0);
	assert_string_equal(w->row.container_health_status, "");
	engine_decision_release(&d);

	/* a new stage: stage start now */
	rep.agent_status = AGENT_STATUS_UNKNOWN;
	rep.error_code = 0;
	rep.fail_count = 0;
	rep.deploy_stage = DEPLOY_STAGE_PRE_RESTART;
	assert_int_equal(engine_decide_ping(&in, &d), 0);
	w = find_write(&d, ENV_ID);
	assert_non_null(w);
	assert_true(w->row.stage_start_date == NOW);
	assert_true(w->row.start_date == NOW - 5000);
	engine_decision_release(&d);

	/* first deploy reaching SERVING_BUILD: flag cleared, date set once */
	row.first_deploy = true;
	row.deploy_stage = DEPLOY_STAGE_SERVING_BUILD;
	row.holds_slot = false;
	rep.deploy_stage = DEPLOY_STAGE_SERVING_BUILD;
	rep.agent_status = AGENT_STATUS_SUCCEEDED;
	row.status = AGENT_STATUS_SUCCEEDED;
	assert_int_equal(engine_decide_ping(&in, &d), 0);
	w = find_write(&d, ENV_ID);
	assert_non_null(w);
	assert_false(w->row.first_deploy);
	assert_true(w->row.first_deploy_date == NOW);
	engine_decision_release(&d);
	row.first_deploy_date = 123;
	assert_int_equal(engine_decide_ping(&in, &d), 0);
	w = find_write(&d, ENV_ID);
	assert_true(w->row.first_deploy_date == 123);
	engine_decision_release(&d);

	/* the idle ping: nothing to write, no candidate */
	row.first_deploy = false;
	assert_int_equal(engine_decide_ping(&in, &d), 0);
	assert_int_equal(d.n_writes, 0);
	assert_int_equal(d.n_installs, 0);
	assert_int_equal(d.n_uninstalls, 0);
	assert_int_equal(d.n_deletes, 0);
	assert_int_equal(d.n_relevant, 1);
	engine_decision_release(&d);
}

/* The idle ping of a host in several envs produces no write and no candidate (the hot path). */
static void test_idle_many_envs(void **state)
{
	struct env_view envs[8];
	struct agent_row rows[8];
	struct engine_report reps[8];
	char ids[8][8], deps[8][8];
	struct engine_ping_input in = { .host_id = "h1", .host_name = "host-1", .envs = envs, .n_envs = 8,
					.reports = reps, .n_reports = 8, .rows = rows, .n_rows = 8,
					.now_ms = NOW };
	struct engine_decision d;

	for (int i = 0; i < 8; i++) {
		(void)str_printf(ids[i], sizeof(ids[i]), "env%d", i);
		(void)str_printf(deps[i], sizeof(deps[i]), "dep%d", i);
		env_init(&envs[i], ids[i], ids[i], "prod", deps[i]);
		row_init(&rows[i], ids[i], deps[i], DEPLOY_STAGE_SERVING_BUILD, AGENT_STATE_NORMAL);
		reps[i] = (struct engine_report){ .env_id = ids[i], .deploy_id = deps[i],
						  .deploy_stage = DEPLOY_STAGE_SERVING_BUILD,
						  .agent_status = AGENT_STATUS_SUCCEEDED };
	}
	assert_int_equal(engine_decide_ping(&in, &d), 0);
	assert_int_equal(d.n_writes, 0);
	assert_int_equal(d.n_installs, 0);
	assert_int_equal(d.n_uninstalls, 0);
	assert_int_equal(d.n_deletes, 0);
	assert_int_equal(d.n_relevant, 8);
	engine_decision_release(&d);
}

/* Duplicate reports: the last one wins; empty env ids are ignored. */
static void test_duplicate_reports(void **state)
{
	struct env_view env;
	struct engine_report reps[3] = {
		{ .env_id = ENV_ID, .deploy_id = CUR, .deploy_stage = DEPLOY_STAGE_STAGING,
		  .agent_status = AGENT_STATUS_UNKNOWN },
		{ .env_id = "", .deploy_id = CUR, .deploy_stage = DEPLOY_STAGE_STAGING },
		{ .env_id = ENV_ID, .deploy_id = CUR, .deploy_stage = DEPLOY_STAGE_SERVING_BUILD,
		  .agent_status = AGENT_STATUS_SUCCEEDED },
	};
	struct engine_ping_input in = { .host_id = "h1", .envs = &env, .n_envs = 1, .reports = reps,
					.n_reports = 3, .now_ms = NOW };
	struct engine_decision d;

	env_init(&env, ENV_ID, "web", "prod", CUR);
	assert_int_equal(engine_decide_ping(&in, &d), 0);
	assert_int_equal(d.n_installs, 0); /* 1.1: idle */
	assert_int_equal(d.n_uninstalls, 0);
	assert_int_equal(d.n_writes, 1);
	assert_int_equal(d.writes[0].row.deploy_stage, DEPLOY_STAGE_SERVING_BUILD);
	assert_int_equal(d.writes[0].report_index, 2);
	engine_decision_release(&d);
}

/* §5.6 ordering. */
static void test_ordering(void **state)
{
	struct env_view envs[6];
	struct agent_row rows[6];
	struct engine_report reps[6];
	struct engine_ping_input in = { .host_id = "h1", .envs = envs, .n_envs = 6, .rows = rows,
					.reports = reps, .now_ms = NOW };
	struct engine_decision d;

	/* a: plain NORMAL first deploy (no row) */
	env_init(&envs[0], "a", "alpha", "prod", "DA");
	/* b: HIGH priority, idle host needs a new deploy (waits) */
	env_init(&envs[1], "b", "bravo", "prod", "DB");
	envs[1].priority = DEPLOY_PRIORITY_HIGH;
	row_init(&rows[0], "b", "OLDB", DEPLOY_STAGE_SERVING_BUILD, AGENT_STATE_NORMAL);
	/* c: sidecar (systemPriority 10), ROLLBACK deploy, idle host */
	env_init(&envs[2], "c", "charlie", "prod", "DC");
	envs[2].system_priority = 10;
	envs[2].deploy_type = DEPLOY_TYPE_ROLLBACK;
	row_init(&rows[1], "c", "OLDC", DEPLOY_STAGE_SERVING_BUILD, AGENT_STATE_NORMAL);
	/* d: stop requested, LOW priority */
	env_init(&envs[3], "d", "delta", "prod", "DD");
	envs[3].priority = DEPLOY_PRIORITY_LOW;
	row_init(&rows[2], "d", "DD", DEPLOY_STAGE_SERVING_BUILD, AGENT_STATE_STOP);
	/* e: stop requested, sidecar */
	env_init(&envs[4], "e", "echo", "prod", "DE");
	envs[4].system_priority = 5;
	row_init(&rows[3], "e", "DE", DEPLOY_STAGE_SERVING_BUILD, AGENT_STATE_STOP);
	/* f: a running step in flight, LOWER priority */
	env_init(&envs[5], "f", "foxtrot", "prod", "DF");
	envs[5].priority = DEPLOY_PRIORITY_LOWER;
	row_init(&rows[4], "f", "DF", DEPLOY_STAGE_STAGING, AGENT_STATE_NORMAL);
	rows[4].holds_slot = true;
	reps[0] = (struct engine_report){ .env_id = "f", .deploy_id = "DF", .deploy_stage = DEPLOY_STAGE_STAGING,
					  .agent_status = AGENT_STATUS_UNKNOWN };
	in.n_rows = 5;
	in.n_reports = 1;

	assert_int_equal(engine_decide_ping(&in, &d), 0);
	assert_int_equal(d.n_installs, 6);
	/* 0: in flight first */
	assert_string_equal(d.installs[0].bean.env_id, "f");
	assert_true(d.installs[0].in_flight);
	/* 1: stops, descending priority: delta (4000) before echo (5) */
	assert_string_equal(d.installs[1].bean.env_id, "d");
	assert_string_equal(d.installs[2].bean.env_id, "e");
	/* 2: ascending effective priority: charlie 10, bravo 2000, alpha 3000 */
	assert_string_equal(d.installs[3].bean.env_id, "c");
	assert_string_equal(d.installs[4].bean.env_id, "b");
	assert_string_equal(d.installs[5].bean.env_id, "a");
	assert_int_equal(d.installs[3].priority, 10);
	engine_decision_release(&d);

	/* ROLLBACK (990) and HOTFIX (980) beat HIGHER (1000) unless it is a first deploy */
	env_init(&envs[0], "a", "alpha", "prod", "DA");
	envs[0].priority = DEPLOY_PRIORITY_HIGHER;
	env_init(&envs[1], "b", "bravo", "prod", "DB");
	envs[1].deploy_type = DEPLOY_TYPE_HOTFIX;
	env_init(&envs[2], "c", "charlie", "prod", "DC");
	envs[2].deploy_type = DEPLOY_TYPE_ROLLBACK;
	row_init(&rows[0], "a", "X", DEPLOY_STAGE_SERVING_BUILD, AGENT_STATE_NORMAL);
	row_init(&rows[1], "b", "X", DEPLOY_STAGE_SERVING_BUILD, AGENT_STATE_NORMAL);
	row_init(&rows[2], "c", "X", DEPLOY_STAGE_SERVING_BUILD, AGENT_STATE_NORMAL);
	in.n_envs = 3;
	in.n_rows = 3;
	in.n_reports = 0;
	assert_int_equal(engine_decide_ping(&in, &d), 0);
	assert_int_equal(d.n_installs, 3);
	assert_string_equal(d.installs[0].bean.env_id, "b");
	assert_string_equal(d.installs[1].bean.env_id, "c");
	assert_string_equal(d.installs[2].bean.env_id, "a");
	engine_decision_release(&d);
	/* first deploys use env.priority: the ROLLBACK stage's first deploy is NORMAL (3000) */
	in.n_rows = 0;
	assert_int_equal(engine_decide_ping(&in, &d), 0);
	assert_string_equal(d.installs[0].bean.env_id, "a"); /* HIGHER 1000 */
	assert_true(d.installs[0].bean.first_deploy);
	engine_decision_release(&d);

	/* ties: needWait false first, then envName, stageName */
	env_init(&envs[0], "a", "same", "s2", "DA");
	env_init(&envs[1], "b", "same", "s1", "DB");
	env_init(&envs[2], "c", "other", "s1", "DC");
	row_init(&rows[0], "a", "X", DEPLOY_STAGE_STAGING, AGENT_STATE_NORMAL);
	rows[0].holds_slot = true; /* 1.5 mid-deploy: no wait */
	row_init(&rows[1], "b", "X", DEPLOY_STAGE_SERVING_BUILD, AGENT_STATE_NORMAL);
	row_init(&rows[2], "c", "X", DEPLOY_STAGE_SERVING_BUILD, AGENT_STATE_NORMAL);
	in.n_rows = 3;
	assert_int_equal(engine_decide_ping(&in, &d), 0);
	assert_string_equal(d.installs[0].bean.env_id, "a");
	assert_false(d.installs[0].need_wait);
	assert_string_equal(d.installs[1].bean.env_id, "c");
	assert_string_equal(d.installs[2].bean.env_id, "b");
	engine_decision_release(&d);
}

static void test_uninstall_ordering(void **state)
{
	struct env_view known[2];
	struct engine_report reps[3] = {
		{ .env_id = "x", .deploy_id = "DX", .deploy_stage = DEPLOY_STAGE_SERVING_BUILD },
		{ .env_id = "y", .deploy_id = "DY", .deploy_stage = DEPLOY_STAGE_SERVING_BUILD },
		{ .env_id = "z", .deploy_id = "DZ", .deploy_stage = DEPLOY_STAGE_SERVING_BUILD },
	};
	struct engine_ping_input in = { .host_id = "h1", .known = known, .n_known = 2, .reports = reps,
					.n_reports = 3, .now_ms = NOW };
	struct engine_decision d;

	env_init(&known[0], "x", "xray", "prod", "DX");
	known[0].priority = DEPLOY_PRIORITY_LOWER; /* 5000 */
	env_init(&known[1], "y", "yankee", "prod", "DY");
	known[1].system_priority = 7;
	assert_int_equal(engine_decide_ping(&in, &d), 0);
	assert_int_equal(d.n_uninstalls, 3);
	assert_string_equal(d.uninstalls[0].bean.env_id, "x"); /* 5000 */
	assert_string_equal(d.uninstalls[1].bean.env_id, "z"); /* unknown env: 3000 */
	assert_string_equal(d.uninstalls[2].bean.env_id, "y"); /* 7 */
	/* only existing envs get a DELETE row written */
	assert_int_equal(d.n_writes, 2);
	engine_decision_release(&d);
}

struct admit_ctx {
	int calls;
	int admit_on; /* admit the n-th call (1-based), 0 = never */
};

static int admit_cb(void *ctx, const struct engine_candidate *c)
{
	struct admit_ctx *a = ctx;

	assert_true(c->need_wait);
	a->calls++;
	return a->calls == a->admit_on ? 1 : 0;
}

static void test_select_and_choose(void **state)
{
	struct env_view envs[3];
	struct agent_row rows[3];
	struct engine_report rep = { .env_id = "c", .deploy_id = "X", .deploy_stage = DEPLOY_STAGE_SERVING_BUILD,
				     .agent_status = AGENT_STATUS_SUCCEEDED };
	struct engine_ping_input in = { .host_id = "h1", .envs = envs, .n_envs = 3, .rows = rows, .n_rows = 3,
					.reports = &rep, .n_reports = 1, .now_ms = NOW };
	struct admit_ctx a = { 0 };
	struct engine_decision d;
	int i, wi;

	env_init(&envs[0], "a", "alpha", "prod", "DA");
	env_init(&envs[1], "b", "bravo", "prod", "DB");
	env_init(&envs[2], "c", "charlie", "prod", "DC");
	envs[2].priority = DEPLOY_PRIORITY_LOWER;
	row_init(&rows[0], "a", "X", DEPLOY_STAGE_SERVING_BUILD, AGENT_STATE_NORMAL);
	row_init(&rows[1], "b", "X", DEPLOY_STAGE_SERVING_BUILD, AGENT_STATE_NORMAL);
	row_init(&rows[2], "c", "X", DEPLOY_STAGE_SERVING_BUILD, AGENT_STATE_NORMAL);
	assert_int_equal(engine_decide_ping(&in, &d), 0);
	assert_int_equal(d.n_installs, 3);

	/* all refused */
	assert_int_equal(select_walk(&d, admit_cb, &a), -ENOENT);
	assert_int_equal(a.calls, 3);
	/* the second is admitted */
	a = (struct admit_ctx){ .admit_on = 2 };
	i = select_walk(&d, admit_cb, &a);
	assert_int_equal(i, 1);
	assert_string_equal(d.installs[1].bean.env_id, "b");
	wi = engine_decision_choose(&d, (size_t)i, true);
	assert_int_equal(wi, -1);
	engine_decision_release(&d);

	/* a no-wait candidate wins without admission; its bean replaces the env's upd */
	rows[2].holds_slot = true;
	rows[2].deploy_stage = DEPLOY_STAGE_STAGING;
	rows[2].status = AGENT_STATUS_UNKNOWN;
	rep.deploy_stage = DEPLOY_STAGE_STAGING;
	assert_int_equal(engine_decide_ping(&in, &d), 0);
	a = (struct admit_ctx){ 0 };
	i = select_walk(&d, admit_cb, &a);
	assert_true(i >= 0);
	assert_string_equal(d.installs[i].bean.env_id, "c");
	assert_false(d.installs[i].need_wait);
	assert_int_equal(a.calls, 2); /* a and b (NORMAL) were offered to admission first and refused */
	wi = engine_decision_choose(&d, (size_t)i, false);
	assert_true(wi >= 0);
	assert_string_equal(d.writes[wi].row.env_id, "c");
	assert_string_equal(d.writes[wi].row.deploy_id, "DC");
	assert_int_equal(d.writes[wi].row.deploy_stage, DEPLOY_STAGE_PRE_DOWNLOAD);
	assert_true(d.writes[wi].expect_version == 7);
	assert_int_equal(d.writes[wi].report_index, 0);
	engine_decision_release(&d);
}

static void test_choose_in_flight_no_write(void **state)
{
	struct env_view env;
	struct agent_row row;
	struct engine_report rep = { .env_id = ENV_ID, .deploy_id = CUR, .deploy_stage = DEPLOY_STAGE_STAGING,
				     .agent_status = AGENT_STATUS_UNKNOWN };
	struct engine_ping_input in = { .host_id = "h1", .host_name = "host-1", .envs = &env, .n_envs = 1,
					.reports = &rep, .n_reports = 1, .rows = &row, .n_rows = 1,
					.now_ms = NOW };
	struct engine_decision d;
	int i;

	env_init(&env, ENV_ID, "web", "prod", CUR);
	row_init(&row, ENV_ID, CUR, DEPLOY_STAGE_STAGING, AGENT_STATE_NORMAL);
	row.status = AGENT_STATUS_UNKNOWN;
	row.holds_slot = true;
	assert_int_equal(engine_decide_ping(&in, &d), 0);
	i = select_walk(&d, NULL, NULL);
	assert_int_equal(i, 0);
	assert_int_equal(engine_decision_choose(&d, 0, false), -1);
	assert_null(find_write(&d, ENV_ID));
	engine_decision_release(&d);
}

/* Invariant loops: stage × status × stored state × failure policy × slot × report presence. */
static void test_invariants(void **state)
{
	static const int policies[] = { FAILURE_POLICY_HALT, FAILURE_POLICY_CONTINUE, FAILURE_POLICY_ROLLBACK,
					FAILURE_POLICY_REMOVE_HOST };
	size_t n = 0;

	for (size_t p = 0; p < sizeof(policies) / sizeof(policies[0]); p++)
		for (int stage = 0; stage < _DEPLOY_STAGE_MAX; stage++)
			for (int status = 0; status < _AGENT_STATUS_MAX; status++)
				for (int st = 0; st < _AGENT_STATE_MAX; st++)
					for (int mask = 0; mask < 16; mask++) {
						bool slot = mask & 1, same = mask & 2, has_rep = mask & 4,
						     paused_env = mask & 8;
						struct env_view env;
						struct agent_row row;
						struct engine_report rep = {
							.env_id = ENV_ID, .deploy_id = same ? CUR : OLD,
							.deploy_stage = stage, .agent_status = status };
						struct engine_ping_input in = {
							.host_id = "h1", .envs = &env, .n_envs = 1,
							.reports = &rep, .n_reports = has_rep ? 1 : 0,
							.rows = &row, .n_rows = 1, .now_ms = NOW };
						struct engine_decision d;

						env_init(&env, ENV_ID, "web", "prod", CUR);
						env.failure_policy = policies[p];
						if (paused_env)
							env.env_state = ENV_STATE_PAUSED;
						row_init(&row, ENV_ID, same ? CUR : OLD, stage, st);
						row.status = status;
						row.holds_slot = slot;
						assert_int_equal(engine_decide_ping(&in, &d), 0);
						n++;
						for (size_t k = 0; k < d.n_installs; k++) {
							const struct engine_candidate *c = &d.installs[k];

							/* no goal for a host paused by the user */
							assert_int_not_equal(st, AGENT_STATE_PAUSED_BY_USER);
							/* a paused stage gives no goal to a known host */
							assert_false(paused_env);
							/* a parked host gets no goal on its deploy, except the
							 * REMOVE_HOST stop */
							if (has_rep && same && agent_status_is_fatal(status) &&
							    st != AGENT_STATE_STOP && st != AGENT_STATE_RESET &&
							    st != AGENT_STATE_RESET_BY_SYSTEM &&
							    stage != DEPLOY_STAGE_SERVING_BUILD &&
							    !(c->stop && policies[p] == FAILURE_POLICY_REMOVE_HOST))
								fail_msg("goal for a parked host: stage %d status %d "
									 "state %d policy %d mask %d case %s", stage,
									 status, st, policies[p], mask, c->decided_by);
							if (0)
								assert_true(c->stop && policies[p] ==
									    FAILURE_POLICY_REMOVE_HOST);
							/* only admission sets holds_slot */
							if (!slot)
								assert_false(c->bean.holds_slot);
							if (c->stop)
								assert_false(c->need_wait);
							/* a stop bean is never about the deploy path */
							if (c->bean.state == AGENT_STATE_STOP)
								assert_true(c->bean.deploy_stage ==
									    DEPLOY_STAGE_STOPPING ||
								    c->bean.deploy_stage == DEPLOY_STAGE_STOPPED);
						}
						for (size_t k = 0; k < d.n_writes; k++) {
							const struct agent_row *w = &d.writes[k].row;

							if (!slot)
								assert_false(w->holds_slot);
							if (w->state == AGENT_STATE_PAUSED_BY_USER ||
							    w->deploy_stage == DEPLOY_STAGE_SERVING_BUILD || w->removed)
								assert_false(w->holds_slot);
							if (w->state == AGENT_STATE_PAUSED_BY_SYSTEM &&
							    policies[p] == FAILURE_POLICY_CONTINUE)
								assert_false(w->holds_slot);
						}
						engine_decision_release(&d);
					}
	printf("invariant combinations: %zu\n", n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decision_table),
		cmocka_unit_test(test_proposal),
		cmocka_unit_test(test_upd_fields),
		cmocka_unit_test(test_idle_many_envs),
		cmocka_unit_test(test_duplicate_reports),
		cmocka_unit_test(test_ordering),
		cmocka_unit_test(test_uninstall_ordering),
		cmocka_unit_test(test_select_and_choose),
		cmocka_unit_test(test_choose_in_flight_no_write),
		cmocka_unit_test(test_invariants),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
