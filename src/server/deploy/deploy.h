/* SPDX-License-Identifier: Apache-2.0 */
/* deploy/deploy.h: the deploy service (PROTOCOL §6, §7). Every deploy is created, rolled back, restarted, promoted
 * and moved through its states here, for the HTTP handlers (api/deploys.c) and the workers (workers/) alike, which
 * never call each other. The rules a build must pass are the engine's (engine/deploy_rules.h); the rows are the
 * store's; side effects go out as events (deploy/events.h). Nothing here knows HTTP: a refused request comes back
 * as -ECANCELED with a struct deploy_refusal saying why, and api/ turns it into a status code. */
#ifndef SLIPWAY_SERVER_DEPLOY_H
#define SLIPWAY_SERVER_DEPLOY_H

#include <stdbool.h>
#include <jansson.h>

#include "server.h"

/* ---- requests of an operator (the deploy routes) -------------------------------------------- */

enum deploy_refusal_kind {
	DEPLOY_REFUSED_INVALID,   /* a rule of §7.1 the request breaks (400) */
	DEPLOY_REFUSED_NOT_FOUND, /* the build or deploy it names does not exist (404) */
	DEPLOY_REFUSED_CONFLICT,  /* the stage's state forbids it: BAD_BUILD, nothing to roll back to or restart,
				   * promotion disabled (409) */
};

/* Why a request was refused: field names the request input at fault ("" for none). */
struct deploy_refusal {
	enum deploy_refusal_kind kind;
	char field[64];
	char message[512];
};

/* Who asks, and what for. The strings are borrowed. */
struct deploy_order {
	const char *operator_name;
	const char *description; /* NULL when none */
	bool force;              /* deploy a BAD_BUILD anyway */
};

/* Each creates a deploy on the stage env (a full EnvStage) and returns it in *ret (the caller's). They return 0,
 * -ECANCELED with *ret_refusal filled when the request is refused, or a negative errno of the store.
 * Deploy the build build_id (REGULAR; POST {env}/{stage}/deploys); delivery_type is ENV_TYPE_* or -1. */
int deploy_start(struct server *srv, const json_t *env, const char *build_id, int delivery_type,
		 const struct deploy_order *o, json_t **ret, struct deploy_refusal *ret_refusal);
/* PROMOTE action: deploy the build of deploy from_deploy_id (refused while promotion is disabled). */
int deploy_promote(struct server *srv, const json_t *env, const char *from_deploy_id, const struct deploy_order *o,
		   json_t **ret, struct deploy_refusal *ret_refusal);
/* ROLLBACK action: back to deploy to_deploy_id of this stage, or, when NULL, to deploy_find_rollback_target(). */
int deploy_rollback(struct server *srv, const json_t *env, const char *to_deploy_id, const struct deploy_order *o,
		    json_t **ret, struct deploy_refusal *ret_refusal);
/* RESTART action: deploy the current build again (no rule is checked; force is ignored). */
int deploy_restart(struct server *srv, const json_t *env, const struct deploy_order *o, json_t **ret,
		   struct deploy_refusal *ret_refusal);

/* ---- the server's own deploys (workers/promoter.c, auto-rollback) ----------------------------- */

/* One creation, with no check: the caller chose the build (see deploy_build_allowed()). action is the history
 * action name (DEPLOY, PROMOTE, ROLLBACK, RESTART, AUTO_ROLLBACK, AUTO_PROMOTE). Emits DEPLOY_EVENT_CREATED. */
struct deploy_request {
	const json_t *env;   /* full EnvStage */
	const json_t *build; /* the Build */
	int type;            /* DEPLOY_TYPE_* */
	const char *alias, *from_deploy_id, *operator_name, *description, *action;
	int delivery_type;   /* ENV_TYPE_* or -1 */
	bool force;
	const char *alert_name; /* the alert behind it, recorded in the history entry as alertName (NULL: none) */
};
int deploy_create(struct server *srv, const struct deploy_request *d, json_t **ret);

/* Whether the server may deploy build on env as a deploy of type DEPLOY_TYPE_* without force (the §7.1 rules;
 * the name rule applies to REGULAR only). A store error reading the tags counts as untagged. */
bool deploy_build_allowed(struct server *srv, const json_t *env, const json_t *build, int type);

/* §7.2 ROLLBACK target: the newest SUCCEEDED deploy of the stage (latest 5000) whose build exists, is not
 * BAD_BUILD, differs from exclude_build_id (may be NULL) and is signed when the stage has a signingKey.
 * *ret = {"deploy": ..., "build": ...}; -ENOENT when none. */
int deploy_find_rollback_target(struct server *srv, const json_t *env, const char *exclude_build_id, json_t **ret);

/* §4.3: state DISABLED, or the latest ENVIRONMENT tag of the stage or the latest TELETRAAN tag is DISABLE_ENV. */
int deploy_promote_blocked(struct server *srv, const json_t *env, bool *ret);

/* ---- stopping a bad build (deploy/safety.c) ---------------------------------------------------- */

/* Who stops a deploy, and why. The strings are borrowed. */
struct deploy_cause {
	const char *operator_name;
	const char *description; /* of the ROLLBACK deploy */
	const char *action;      /* history action: AUTO_ROLLBACK, ALERT_ROLLBACK, ANALYSIS_ROLLBACK */
	const char *alert_name;  /* NULL: none */
};
/* Roll the stage env back from its deploy bad to the last good deploy, as failurePolicy ROLLBACK does (the target
 * excludes bad's build). 0 (the new deploy in *ret when ret is given), -EPERM when bad's type is never rolled back
 * automatically, -ENOENT when there is no earlier SUCCEEDED deploy, or an error of the store. */
int deploy_rollback_from(struct server *srv, const json_t *env, const json_t *bad, const struct deploy_cause *c,
			 json_t **ret);
/* Tag build build_id BAD_BUILD (the tag in *ret when ret is given). */
int deploy_mark_bad_build(struct server *srv, const char *build_id, const char *operator_name, const char *comments,
			  json_t **ret);
/* An "Env Action" history entry of env whose configChange is change. */
int deploy_record_action(struct server *srv, const json_t *env, const char *operator_name, const json_t *change);

/* The actions of an external alert (POST {env}/{stage}/alerts). */
enum deploy_alert_action {
	DEPLOY_ALERT_ROLLBACK,     /* deploy_rollback_from(), history action ALERT_ROLLBACK */
	DEPLOY_ALERT_MARK_BAD,     /* tag the build BAD_BUILD, history action ALERT_MARK_BAD_BUILD */
};
struct deploy_alert {
	const char *alert_name, *operator_name;
	enum deploy_alert_action actions[2];
	size_t n_actions;
};
/* Run the actions of alert a on the current deploy dep of env, each recorded in the history with the alert's
 * name. *ret = {"rollback": {"done", "message", "deployId", "toDeployId"}, "markbadbuild": {"done", "message",
 * "tagId"}} for the actions asked. A store error stops at that action. */
int deploy_alert_act(struct server *srv, const json_t *env, const json_t *dep, const struct deploy_alert *a,
		     json_t **ret);

/* ---- builds ---------------------------------------------------------------------------------- */

/* Effective tag of a build (§4.9); *ret NULL when none. */
int deploy_build_effective_tag(struct server *srv, const json_t *build, json_t **ret);
/* true when the effective tag is BAD_BUILD (then *ret_tag, when given, is that tag, the caller's). A store error
 * counts as untagged. */
bool deploy_build_is_bad(struct server *srv, const json_t *build, json_t **ret_tag);

/* ---- state transition ------------------------------------------------------------------------ */

/* §7.3 transition of the current deploy of env (a full EnvStage), and §6 automatic rollback when it starts
 * FAILING under failurePolicy ROLLBACK; for PUT .../progress and the transition worker. Returns 0 (also when
 * skipped), or a negative errno. Emits DEPLOY_EVENT_SUCCEEDING. */
int deploy_transition_run(struct server *srv, const json_t *env);

#endif
