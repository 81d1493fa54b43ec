/* SPDX-License-Identifier: Apache-2.0 */
/* cli/deploy.h: what deploy, promote, rollback, restart, pause, resume and status share: their
 * argument parser, the deploy action call, and following a deploy's progress until it ends
 * (--wait / --watch), with the progress summary computed from DeployProgress + Deploy JSON. */
#ifndef SLIPWAY_CLI_DEPLOY_H
#define SLIPWAY_CLI_DEPLOY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "cli.h"
#include "enums.h"

/* Which options a command accepts (deploy_args_parse refuses the others). */
enum {
	DEPLOY_OPT_BUILD = 1 << 0,	 /* --build ID, --latest, --branch B */
	DEPLOY_OPT_DESCRIPTION = 1 << 1, /* --description TEXT */
	DEPLOY_OPT_FORCE = 1 << 2,	 /* --force */
	DEPLOY_OPT_WAIT = 1 << 3,	 /* --wait, --timeout S, --interval S, --allow-empty */
	DEPLOY_OPT_FROM = 1 << 4,	 /* --from STAGE (required) */
	DEPLOY_OPT_TO = 1 << 5,		 /* --to DEPLOY_ID */
	DEPLOY_OPT_WATCH = 1 << 6,	 /* --watch, --timeout S, --interval S, --allow-empty */
};

struct deploy_args {
	char env[65];
	char stage[65];
	const char *build_id; /* borrowed from argv */
	bool latest;
	const char *branch;
	const char *description;
	bool force;
	bool wait;	   /* --wait or --watch */
	bool allow_empty;  /* --allow-empty: a deploy that succeeded with no host is a success */
	int64_t timeout_s; /* 0 = no limit */
	int64_t interval_ms;
	const char *from_stage;
	const char *to_deploy_id;
};

/* The --wait options of a deploy command's usage text. */
#define DEPLOY_WAIT_USAGE "[--wait [--timeout S] [--interval S] [--allow-empty]]"
#define DEPLOY_WAIT_HELP                                                                                   \
	"  --wait            follow the deploy: exit 0 when it succeeds, 1 when it fails (also when it\n" \
	"                    is rolled back), 2 when another deploy replaces it first, 3 when it\n"      \
	"                    succeeds with no host (nothing was deployed)\n"                             \
	"  --allow-empty     with --wait: a success with no host exits 0\n"                              \
	"  --timeout S       give up waiting after S seconds (exit 75)\n"                                \
	"  --interval S      seconds between progress polls (default 2)\n"

/* Parse `<cmd> ENV/STAGE [options]`. Returns 0, or -EINVAL as a usage error (message on c), or 1
 * when --help was given (usage already printed to c->out). */
int deploy_args_parse(struct cli *c, const char *cmd, unsigned allowed, const char *usage, int argc, char **argv,
		      struct deploy_args *ret);

/* POST {env}/{stage}/deploys/current/actions?actionType=...[&fromDeployId][&toDeployId]
 * [&description][&force=true]; *ret_deploy receives the Deploy of a 201 answer, or NULL for 204. */
int deploy_action(struct cli *c, const struct deploy_args *a, const char *action_type, const char *from_deploy_id,
		  json_t **ret_deploy);

/* Print the result of a deploy-creating command: its id (or the JSON with --json), then follow it
 * when a->wait. Takes ownership of deploy (may be NULL: nothing to follow). */
int deploy_report(struct cli *c, const struct deploy_args *a, json_t *deploy);

/* A command that is one deploy action on ENV/STAGE (restart, rollback, pause, resume). */
struct action_command {
	const char *cmd;	 /* its name, for messages */
	const char *action_type; /* the deploy action: RESTART, ROLLBACK, PAUSE, RESUME */
	unsigned allowed;	 /* DEPLOY_OPT_* */
	const char *usage;
	const char *done_word; /* NULL: print the new deploy (and follow it with --wait); else print
				  "ENV/STAGE <done_word>" (the action changes the stage, not a deploy) */
};

/* The whole command: parse, POST the action, report. Returns what the command returns. */
int deploy_action_command(struct cli *c, const struct action_command *ac, int argc, char **argv);

/* What the progress display shows. */
struct progress_view {
	char deploy_id[64];
	char state[32];	       /* DeployState as sent */
	int64_t success_total; /* from the Deploy */
	int64_t fail_total;
	int64_t total;
	size_t stage_counts[_DEPLOY_STAGE_MAX]; /* agents on this deploy, by deployStage */
	size_t other;				/* agents not (yet) on this deploy */
	size_t failing;	     /* agents on this deploy whose status is neither SUCCEEDED nor UNKNOWN */
	size_t missing;	     /* missingHosts */
	size_t provisioning; /* provisioningHosts (alive, mapped to the stage, no agent row yet) and agents on this
			      * deploy beyond its total (they joined after its last transition) */
	char failed_hosts[256]; /* names of the failing agents, ", "-separated, "..." when cut */
};

/* What one poll reads of a stage's current deploy, never a list of every host of the stage:
 * PUT …/deploys/current/progress?limit=1 (the server runs the deploy's state transition first), the deploy, the
 * stage's agent summary (with provisioningHosts once the deploy succeeded: that count walks the capacity's hosts)
 * and, only when hosts of the deploy fail, the first page of the stage's failing hosts. */
#define PROGRESS_FAILING_PAGE 100
struct progress_read {
	json_t *deploy;	 /* Deploy */
	json_t *summary; /* GET …/agents/summary */
	json_t *failing; /* [Agent]: at most PROGRESS_FAILING_PAGE failing rows of the stage (any deploy); [] */
	int64_t failing_on_deploy; /* rows of the deploy that failed, from the summary */
};
/* 0, or the first request's error (404 from the progress: the stage has no deploy). */
int progress_read(struct cli *c, const char *env, const char *stage, struct progress_read *ret);
void progress_read_release(struct progress_read *p);
/* GET …/agents?limit=PROGRESS_FAILING_PAGE&failing=true: the first page of the stage's failing rows. */
int progress_failing_page(struct cli *c, const char *env, const char *stage, json_t **ret);
/* Summarise what progress_read() read (p->summary and p->failing may be NULL). 0 or -EBADMSG. */
int progress_view_from_json(const struct progress_read *p, struct progress_view *ret);
/* One plain line: "deploy ID RUNNING: 3/5 hosts done, 0 failed; PRE_DOWNLOAD 1, SERVING_BUILD 3", then
 * "; failed: h1, h2" when hosts failed. With a total of 0: "deploy ID SUCCEEDING: no hosts in the stage". */
void progress_format_line(const struct progress_view *v, char *buf, size_t size);
/* A bar of `width` cells followed by the counts, for a terminal. */
void progress_format_bar(const struct progress_view *v, int width, char *buf, size_t size);
/* The command result for a deploy state: 0 for SUCCEEDING/SUCCEEDED, CLI_RESULT_DEPLOY_FAILED
 * for FAILING, CLI_RESULT_DEPLOY_ABORTED for ABORTED, -EAGAIN while RUNNING (or unknown). */
int deploy_state_result(const char *state);

/* Poll the deploy (progress_read) every a->interval_ms until the
 * deploy (deploy_id, or whatever is current when NULL) of a->env/a->stage ends: returns
 * deploy_state_result() of the final state, and CLI_RESULT_DEPLOY_EMPTY for a success with no host
 * unless a->allow_empty. A deploy replaced by another is judged by its outcome: SUCCEEDED → 0, NO_HOSTS
 * as above, FAILED and ROLLED_BACK → CLI_RESULT_DEPLOY_FAILED (a rollback by the server is said to be
 * automatic), REPLACED → CLI_RESULT_DEPLOY_ABORTED. A failure names each failing host with its step, exit
 * code and output tail (failures.h). -ETIMEDOUT after a->timeout_s (0 = never). A success is not final
 * while the progress lists provisioning hosts (seen by the server, mapped to the stage, no agent row
 * yet: they are about to join the deploy), for at most FOLLOW_PROVISIONING_GRACE_MS. Prints a live bar
 * on a terminal, otherwise one line per change. */
#define FOLLOW_PROVISIONING_GRACE_MS 60000
int deploy_follow(struct cli *c, const struct deploy_args *a, const char *deploy_id);

#endif
