/* SPDX-License-Identifier: Apache-2.0 */
/* engine/engine.h: the goal engine (PROTOCOL §5.3-§5.9, §6), rollout admission pieces (§5.7), the deploy state
 * transition (§7.3) and the schedule advance (§8.1). PURE: no I/O, no clock, no logging. Everything, now_ms
 * included, comes in as arguments; decisions go out in structs. The I/O layers (ping/, workers/, the store's admission
 * transaction) load the inputs, ask the engine, and persist the outputs.
 *
 * Conventions: an empty string "" in an id field means null; an int enum field set to -1 means null; a time of 0
 * means null (epoch ms, §1.2). */
#ifndef SLIPWAY_ENGINE_H
#define SLIPWAY_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "enums.h"

#define ENGINE_ID_SIZE 65       /* ids (≤ 30) and hostId (≤ 64) + NUL */
#define ENGINE_NAME_SIZE 65     /* envName, stageName, hostName, operator (≤ 64) + NUL */
#define ENGINE_HEALTH_SIZE 129  /* containerHealthStatus ≤ 32 chars = ≤ 128 bytes (PING_CONTAINER_HEALTH_MAX_BYTES) + NUL */
#define ENGINE_SYSTEM_OPERATOR "system"

/* ---------------------------------------------------------------------------------------------------------------
 * Inputs
 * ------------------------------------------------------------------------------------------------------------- */

/* One agent row (PROTOCOL §3.4), key (host_id, env_id). `version` is the compare-and-set column of §5.1 step 8. */
struct agent_row {
	char host_id[ENGINE_ID_SIZE];
	char host_name[ENGINE_NAME_SIZE];
	char env_id[ENGINE_ID_SIZE];
	char deploy_id[ENGINE_ID_SIZE];
	int deploy_stage;  /* enum deploy_stage */
	int state;         /* enum agent_state */
	int status;        /* enum agent_status */
	int64_t start_date;
	int64_t last_update_date;
	char last_operator[ENGINE_NAME_SIZE];
	int last_errno;
	int fail_count;
	bool first_deploy;
	int64_t first_deploy_date; /* 0 = null */
	int64_t stage_start_date;
	char container_health_status[ENGINE_HEALTH_SIZE];
	bool holds_slot;
	bool removed;
	int64_t version;
};

/* What the engine needs of one env stage and its current deploy. */
struct env_view {
	char id[ENGINE_ID_SIZE];
	char env_name[ENGINE_NAME_SIZE];
	char stage_name[ENGINE_NAME_SIZE];
	int stage_type;               /* enum env_type */
	char deploy_id[ENGINE_ID_SIZE];    /* current deploy, "" = none */
	int deploy_type;              /* enum deploy_type of the current deploy, -1 = none */
	char deploy_alias[ENGINE_ID_SIZE]; /* the current deploy's alias (ROLLBACK), "" = none */
	int env_state;                /* enum env_state */
	int priority;                 /* enum deploy_priority, -1 = null (NORMAL) */
	int system_priority;          /* > 0 when set, 0 = null */
	int failure_policy;           /* enum failure_policy */
	bool is_docker;
	bool has_signing_key;
	int max_parallel;
	int max_parallel_pct;
};

/* ---------------------------------------------------------------------------------------------------------------
 * Stage membership (§5.2, engine/membership.c): which stage of each env a host belongs to.
 * ------------------------------------------------------------------------------------------------------------- */

/* A stage whose capacity names the host (tier 1, host capacity) or one of its groups (tier 2, group capacity); a
 * stage may appear in both tiers. */
struct resolved_env {
	struct env_view view;
	int tier;
};

/* Two stages of one env both map the host: `used` is the one it belongs to, `other` the one it does not. */
struct engine_stage_conflict {
	const struct resolved_env *used;
	const struct resolved_env *other;
};

/* The host's stages: at most one stage per env name, by §5.2's tie-breaks (tier 1 over tier 2, then the stage the
 * host already has an agent row for, then the lexicographically smallest stageName). *ret (malloc'd, one env_view
 * per env) is the caller's. ret_conflicts (may be NULL) gets the ties broken between different stages of one env
 * in the same tier (a host capacity winning over a group capacity pins the host: no conflict), borrowed from cand
 * (a malloc'd array, NULL when none), for the caller to log. Returns 0 or -ENOMEM. */
int engine_resolve_envs(const struct resolved_env *cand, size_t n, const struct agent_row *rows, size_t n_rows,
			struct env_view **ret, size_t *ret_n, struct engine_stage_conflict **ret_conflicts,
			size_t *ret_n_conflicts);

struct engine_report;
/* The env ids named by reports or rows but not among envs (the stages the ping must load as `known`), each once,
 * in that order. Empty ids and ids of ENGINE_ID_SIZE or more are skipped. ret has room for n_reports + n_rows
 * entries; the strings are borrowed. Returns the count. */
size_t engine_unresolved_env_ids(const struct engine_report *reports, size_t n_reports, const struct agent_row *rows,
				 size_t n_rows, const struct env_view *envs, size_t n_envs, const char **ret);

/* ---------------------------------------------------------------------------------------------------------------
 * Wake events (§5.10, §5.11, engine/wake.c): which held pings and remembered idle answers a change concerns.
 * ------------------------------------------------------------------------------------------------------------- */

enum wake_kind {
	WAKE_KIND_ENV,      /* a stage changed (a new deploy, its width, its state) */
	WAKE_KIND_SLOT,     /* a rollout slot of a stage was released */
	WAKE_KIND_HOST,     /* an API change to one host's rows */
	WAKE_KIND_CAPACITY, /* a stage's capacity changed (a host or group name may map hosts newly) */
	WAKE_KIND_OTHER,    /* a kind this server does not know */
	_WAKE_KIND_MAX,
};

struct wake_event {
	int kind;            /* enum wake_kind */
	const char *env_id;  /* "" = none */
	const char *host_id; /* "" = none */
	const char *name;    /* the host or group name of a CAPACITY event, "" = none */
};

/* A held ping as the wake rules see it: its host, the names it reported, the stages relevant to it, and whether its
 * last run was refused an install it wanted (a slot). */
struct wake_target {
	const char *host_id;
	const char *host_name; /* NULL = none */
	char *const *groups;
	size_t n_groups;
	const char (*envs)[ENGINE_ID_SIZE];
	size_t n_envs;
	bool refused;
};

/* A released slot wakes at most this many held pings of its stage, oldest first (not woken or cancelled yet), among
 * those refused an install: a held ping with nothing to install has no use for a slot. */
#define ENGINE_SLOT_WAKES 2

/* The kind of an event by its stored name ("ENV", "SLOT", "HOST", "CAPACITY"); WAKE_KIND_OTHER for any other. */
int engine_wake_kind(const char *kind);
/* true iff ev concerns the held ping t (for a SLOT event the caller applies ENGINE_SLOT_WAKES). */
bool engine_wake_concerns(const struct wake_event *ev, const struct wake_target *t);

/* Which remembered idle answers (§5.10) an event ends, as flags. */
#define WAKE_ENDS_HOST 1u /* ev->host_id's (its membership is read again too) */
#define WAKE_ENDS_ENV 2u  /* those of hosts relevant to ev->env_id (and the stage's early-refusal mark) */
#define WAKE_ENDS_ALL 4u  /* every host's: the event may change any host's answer */
unsigned engine_wake_ends(const struct wake_event *ev);

/* ---------------------------------------------------------------------------------------------------------------
 * The heartbeat flush (§8.5, engine/heartbeat.c): which hosts' lastSeen the periodic flush writes.
 * ------------------------------------------------------------------------------------------------------------- */

/* The flush skips a host whose stored lastSeen is younger than this: host_unreachable_after / 2 minus the flush
 * period (0: never skip). So the stored value of a host that pings is never older than about half of
 * host_unreachable_after, and the last lastSeen of a host that stopped is stored before it could count: the
 * janitor marks a host UNREACHABLE at exactly the same moment as with a flush of every value. */
int64_t engine_heartbeat_skip_ms(int64_t unreachable_after_ms, int64_t flush_period_ms);
/* Does the flush at now write a host last seen at last_seen whose stored value is stored (0: none)? */
bool engine_heartbeat_flush_due(int64_t now_ms, int64_t last_seen_ms, int64_t stored_ms, int64_t skip_ms);

/* One report of a ping (PingReport, §3.6), already validated by proto. Strings are borrowed; env_id/deploy_id may
 * be NULL or "". error_message is not used by the engine (AgentError rows are the I/O layer's). */
struct engine_report {
	const char *env_id;
	const char *deploy_id;
	int deploy_stage;   /* enum deploy_stage */
	int agent_status;   /* enum agent_status */
	int error_code;
	int fail_count;
	bool reset_by_system;                /* agentState == "RESET_BY_SYSTEM" */
	const char *container_health_status; /* NULL -> "" */
};

/* Everything one ping decision needs (§5.1 steps 4-6). */
struct engine_ping_input {
	const char *host_id;
	const char *host_name;
	const struct env_view *envs;     /* the stages resolved for this host (§5.2) */
	size_t n_envs;
	const struct env_view *known;    /* other EXISTING stages named by a report or a row (not resolved) */
	size_t n_known;
	const struct engine_report *reports; /* raw order; empty envIds ignored, the last of a duplicate wins */
	size_t n_reports;
	const struct agent_row *rows;    /* every agent row of this host */
	size_t n_rows;
	int64_t now_ms;
};

/* ---------------------------------------------------------------------------------------------------------------
 * Outputs of a ping decision
 * ------------------------------------------------------------------------------------------------------------- */

/* A row to write. insert = no stored row (insert only if none exists); otherwise UPDATE ... WHERE version =
 * expect_version. report_index: the report this row was built from (-1 none), for the AgentError upsert. */
struct engine_write {
	struct agent_row row;
	bool insert;
	int64_t expect_version;
	int report_index;
	bool skip;          /* set by engine_decision_choose(): already written by admission */
};

/* A row to delete (case 4): DELETE ... WHERE host_id AND env_id AND version = expect_version. */
struct engine_delete {
	char env_id[ENGINE_ID_SIZE];
	int64_t expect_version;
};

struct engine_candidate {
	struct agent_row bean;       /* the row as it must be written if this candidate wins */
	const struct env_view *env;  /* borrowed from the input; for uninstall candidates NULL when the env is gone */
	const struct engine_report *rep; /* borrowed; the report, if any */
	bool has_row;                /* a stored row exists: write with expect_version */
	struct agent_row row;        /* the stored row (when has_row) */
	int report_index;            /* index of rep in the input, -1 none */
	int64_t expect_version;
	bool need_wait;              /* §5.7: must pass admission */
	bool stop;                   /* bean state STOP (stop flow) */
	bool in_flight;              /* §5.6 rule 0: repeats a running step (case 1.4, status UNKNOWN) */
	bool swapped;                /* §5.9 alias swap happened in this ping */
	int priority;                /* effective priority value (§5.6) */
	const char *decided_by;      /* the §5.4 case ("1.4", ...), for tests and debug */
};

struct engine_decision {
	struct engine_write *writes;
	size_t n_writes;
	struct engine_delete *deletes;
	size_t n_deletes;
	struct engine_candidate *installs;   /* sorted per §5.6 */
	size_t n_installs;
	struct engine_candidate *uninstalls; /* sorted per §5.6 */
	size_t n_uninstalls;
	char (*relevant)[ENGINE_ID_SIZE];    /* resolved ∪ row env ids (long-poll waiter, §5.11) */
	size_t n_relevant;
};

/* Decide one ping (§5.1 step 6: §5.3 proposal and write suppression, §5.4 table, §5.5, §5.9 swap, §6 REMOVE_HOST,
 * §5.6 ordering). On success *ret is filled and owned by the caller (engine_decision_release()). Returns 0,
 * -EINVAL (NULL host_id) or -ENOMEM. */
int engine_decide_ping(const struct engine_ping_input *in, struct engine_decision *ret);
void engine_decision_release(struct engine_decision *d);

/* Selection (§5.6 "Select"), one step at a time: the caller runs admission (a store transaction) between steps,
 * nothing is called back from here. Returns the index of the next candidate of d->installs to try at `from` or
 * after, or -ENOENT when none is left. *ret_admit false: it wins at once; true (need_wait): it wins only if
 * admission admits it (writing engine_candidate_admitted_row()); refused, the walk goes on from index + 1. */
int engine_decision_next(const struct engine_decision *d, size_t from, bool *ret_admit);

/* Make the chosen install candidate's bean replace the env's upd in d->writes (§5.6 last sentence). admitted =
 * admission already wrote it (then the env's write is marked skip). Applies write suppression: a bean equal to the
 * stored row is not written. Returns the index in d->writes of the bean's write, or -1 when none is needed, or
 * -ENOMEM. */
int engine_decision_choose(struct engine_decision *d, size_t install_index, bool admitted);

/* The row admission writes for candidate c: its bean with holds_slot = true, then the §5.7 release rules (a bean
 * already at SERVING_BUILD does not keep the slot). */
void engine_candidate_admitted_row(const struct engine_candidate *c, struct agent_row *ret);

/* §5.3 write suppression: true iff `upd` differs from `row` in a field that must be persisted. */
bool engine_row_differs(const struct agent_row *row, const struct agent_row *upd);

/* §5.7 slot-release rules applied to a row about to be written (clears holds_slot when required). */
void engine_row_release_slot(struct agent_row *row, int failure_policy);

/* ---------------------------------------------------------------------------------------------------------------
 * Admission pieces (§5.7); the I/O layer runs them inside one serialised transaction per stage.
 * ------------------------------------------------------------------------------------------------------------- */

/* (a) holds_slot, or (b) state STOP, stage STOPPING and not removed. */
bool engine_row_occupies_slot(const struct agent_row *row);
/* Counts toward `existing`: first_deploy false and not removed. */
bool engine_row_counts_existing(const struct agent_row *row);
/* threshold = min(max_parallel_threshold, width clamped to [1, existing]) (never 0). */
int engine_threshold(int existing, int max_parallel, int max_parallel_pct, int max_parallel_threshold);

struct schedule_view {
	bool present;
	int state;                  /* enum schedule_state */
	int current_session;        /* 1-based; 0 while NOT_STARTED */
	int total_sessions;
	const char *cooldown_times; /* CSV of minutes */
	const char *host_numbers;   /* CSV of counts or N% */
	int64_t state_start_time;
};

/* sessionHosts(k) of §8.1 for a stage with `total` rows (T of §7.3). -EINVAL on a malformed list or k out of
 * range. */
int engine_schedule_session_hosts(const char *host_numbers, int k, int total, int *ret);
/* Admission step 1: true iff the schedule allows admitting one more host, given the number of the stage's rows
 * whose deployId is the current deploy and T. A malformed schedule refuses. */
bool engine_schedule_admits(const struct schedule_view *s, int rows_on_deploy, int total);

/* Admission steps 2: true iff a host may take a slot. */
bool engine_admission_allows(int occupied, int existing, int max_parallel, int max_parallel_pct,
			     int max_parallel_threshold);

/* A stage's deploy constraint (issue 17): its hosts grouped by the value of one host tag. */
struct constraint_view {
	bool present;
	int type;                 /* enum constraint_type */
	int max_parallel;         /* ≥ 1: hosts of one tag value deploying at once */
	const char *const *order; /* constraintOrder: tag values deployed first, in this order (GROUP_BY_GROUP) */
	size_t n_order;
};

/* One tag value of a constrained stage, as admission counts it over the stage's agent rows. */
struct constraint_group {
	const char *value; /* NULL = the hosts without the tag (a group of their own, deployed last) */
	int occupied;      /* rows occupying a slot (engine_row_occupies_slot) */
	int pending;       /* rows still to deploy: counted (engine_row_counts_existing), not UNREACHABLE or DELETE,
			    * not parked (PAUSED_BY_USER, PAUSED_BY_SYSTEM) and not SERVING_BUILD on the deploy */
};

/* The rollout order of two tag values (NULL = untagged): the constraintOrder entries first, in their order, then
 * the other values in ascending byte order, the untagged last. <0, 0 or >0 as strcmp. */
int engine_constraint_order_cmp(const struct constraint_view *c, const char *a, const char *b);
/* true iff a row whose host has tag value host_value (NULL = untagged) may take a slot under the constraint c,
 * given the stage's groups (each value at most once; a value absent has no rows). ALL_GROUPS_IN_PARALLEL: fewer
 * than max_parallel occupied in the host's group. GROUP_BY_GROUP: the host's group is the first in rollout order
 * with pending rows, and fewer than max_parallel of it are occupied. No constraint admits. */
bool engine_constraint_admits(const struct constraint_view *c, const char *host_value,
			      const struct constraint_group *groups, size_t n_groups);

/* What admission reads of a stage inside its transaction (§5.7, §8.1). */
struct admission_facts {
	bool stage_exists;
	const char *deploy_id; /* the stage's current deploy now ("" or NULL = none) */
	int max_parallel;
	int max_parallel_pct;
	struct schedule_view schedule;
	int occupied;  /* rows occupying a slot (engine_row_occupies_slot) */
	int existing;  /* rows counting toward the width (engine_row_counts_existing) */
	int on_deploy; /* rows on the candidate's deploy */
	int total;     /* T of §7.3 */
	struct constraint_view constraint;       /* the stage's deploy constraint (present false: none) */
	const char *host_value;                  /* the candidate host's value of the constraint's tag, NULL = none */
	const struct constraint_group *groups;   /* the stage's rows by that tag's value */
	size_t n_groups;
};

enum admission_result {
	ADMISSION_ADMIT,
	ADMISSION_REFUSE_STALE,    /* the stage is gone or has another current deploy: the next ping decides again */
	ADMISSION_REFUSE_SCHEDULE, /* the deploy schedule holds the host back (cooling down, session full) */
	ADMISSION_REFUSE_FULL,     /* every slot is taken */
	ADMISSION_REFUSE_CONSTRAINT, /* the deploy constraint holds the host's tag value back */
	_ADMISSION_RESULT_MAX,
};

/* The whole admission decision for a candidate bound for deploy_id (its bean's deployId). */
enum admission_result engine_admission_decide(const struct admission_facts *f, const char *deploy_id,
					      int max_parallel_threshold);

/* ---------------------------------------------------------------------------------------------------------------
 * Answer building (§5.8)
 * ------------------------------------------------------------------------------------------------------------- */

struct engine_kv {
	const char *key;
	const char *value;
};

/* The goal, with borrowed strings (from the candidate, its env and the agent configs passed in). The I/O layer
 * turns it into the wire DeployGoal, attaching the Build when with_build, the env's script configs (or {}) when
 * with_script_variables, and the env's signingKey when with_signing_key. */
struct engine_goal {
	int op_code;              /* enum op_code */
	const char *deploy_id;    /* NULL = null */
	const char *deploy_alias;
	int deploy_type;          /* -1 = null */
	const char *env_id;
	const char *env_name;
	const char *stage_name;
	int stage_type;           /* -1 = null */
	int deploy_stage;
	bool with_build;
	bool with_signing_key;
	bool with_script_variables;
	struct engine_kv *agent_configs; /* NULL = null (owned array; strings borrowed) */
	size_t n_agent_configs;
	bool first_deploy;
	bool is_docker;
};

/* What the answer of candidate c's goal attaches from the store besides the stage's agent configs: the flags
 * engine_build_goal() sets, known before it runs, so that the caller can read everything at once. */
struct engine_goal_needs {
	bool build;            /* the current deploy's Build (DOWNLOADING) */
	bool signing_key;      /* the stage's signingKey (with the Build, when the stage has one) */
	bool script_variables; /* the stage's script configs (PRE_DOWNLOAD) */
};
void engine_goal_needs(const struct engine_candidate *c, struct engine_goal_needs *ret);

/* Goal for the chosen install candidate. agent_configs: the env's agent configs (may be NULL/0). Returns 0 or
 * -ENOMEM; release with engine_goal_release(). */
int engine_build_goal(const struct engine_candidate *c, const struct engine_kv *agent_configs, size_t n_agent_configs,
		      struct engine_goal *ret);
/* DELETE answer for an uninstall candidate. */
int engine_build_delete_goal(const struct engine_candidate *c, struct engine_goal *ret);
void engine_goal_release(struct engine_goal *g);
/* agentConfigs of §5.8 for a stage: prefix stripping and the collision rule. *ret NULL when the result is empty. */
int engine_agent_configs(const struct engine_kv *in, size_t n, int deploy_stage, struct engine_kv **ret,
			 size_t *ret_n);

/* Effective priority of §5.6. */
int engine_effective_priority(const struct env_view *env, bool first_deploy);

/* ---------------------------------------------------------------------------------------------------------------
 * Deploy state transition (§7.3) and schedule advance (§8.1)
 * ------------------------------------------------------------------------------------------------------------- */

struct deploy_view {
	int type;                 /* enum deploy_type */
	int state;                /* enum deploy_state */
	int64_t last_update_date;
	int64_t success_date;     /* 0 = null */
	int success_total;
	int fail_total;
	int total;
	int acceptance_status;    /* enum acceptance_status */
};

struct transition_settings {
	bool is_current;          /* D is E's current deploy */
	int env_state;            /* enum env_state */
	int success_threshold;    /* basis points */
	int stuck_threshold_s;
	int acceptance_type;      /* enum acceptance_type */
	int failure_policy;       /* enum failure_policy */
};

/* Counts of §7.3 and §8.1 over the stage's rows. */
struct transition_counts {
	int total;          /* T */
	int succeeded;      /* S */
	int failed;         /* F */
	int schedule_done;  /* rows on D with stage SERVING_BUILD or state PAUSED_BY_USER/PAUSED_BY_SYSTEM */
	int on_deploy;      /* rows with deployId = D (admission schedule gate) */
};

/* Add one row to the counts for deploy `deploy_id`. */
void engine_transition_count_row(struct transition_counts *c, const struct agent_row *row, const char *deploy_id);

struct transition_result {
	bool write;               /* write state, totals, last_update_date (compare-and-set on the old state) */
	int old_state;
	int state;
	int success_total, fail_total, total;
	int64_t last_update_date;
	bool first_succeeding;    /* set success_date and acceptance_status; fire post-deploy webhooks */
	int64_t success_date;
	int acceptance_status;
	bool now_failing;         /* the state changes into FAILING by this write */
	bool auto_rollback;       /* now_failing under failurePolicy ROLLBACK: run §6 (after a successful CAS) */
	bool finalise;            /* D is active but not current: finalise (§7.1 step 3) and nothing else */
	bool schedule_changed;    /* write the schedule below and emit an ENV wake event */
	int schedule_state;
	int schedule_current;
	int64_t schedule_start;
};

/* Compute the transition of deploy d. Nothing to do (paused stage, inactive deploy) gives write = false and
 * schedule_changed = false. schedule may be NULL. Returns 0 or -EINVAL. */
int engine_transition(const struct deploy_view *d, const struct transition_settings *set,
		      const struct schedule_view *schedule, const struct transition_counts *counts, int64_t now_ms,
		      struct transition_result *ret);

/* §7.1 step 3: the final state and acceptance of a replaced deploy. */
void engine_finalise_deploy(int state, int acceptance_status, int *ret_state, int *ret_acceptance_status);

/* §6 automatic rollback step 1: false for ROLLBACK and RESTART deploys. */
bool engine_auto_rollback_allowed(int deploy_type);

#endif
