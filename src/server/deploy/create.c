/* SPDX-License-Identifier: Apache-2.0 */
/* deploy/create.c: deploy creation (PROTOCOL §7.1) and the deploy actions that create one (§7.2: PROMOTE,
 * ROLLBACK, RESTART), for operators and for the server's own deploys. The rules are the engine's; this file
 * loads what they need, asks, and creates. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "deploy.h"
#include "deploy_rules.h"
#include "enums.h"
#include "events.h"
#include "log.h"
#include "names.h"
#include "util.h"
#include "jsonutil.h"
#include "banned.h"

/* Fill *f; returns -ECANCELED (the refusal code of deploy.h). */
static int refuse(struct deploy_refusal *f, enum deploy_refusal_kind kind, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int refuse(struct deploy_refusal *f, enum deploy_refusal_kind kind, const char *field, const char *fmt, ...)
{
	va_list ap;

	f->kind = kind;
	(void)str_copy(f->field, sizeof(f->field), field ? field : "");
	va_start(ap, fmt);
	(void)vsnprintf(f->message, sizeof(f->message), fmt, ap);
	va_end(ap);
	return -ECANCELED;
}

/* ---- creation -------------------------------------------------------------------------------- */

int deploy_create(struct server *srv, const struct deploy_request *d, json_t **ret)
{
	struct deploy_create c = {
		.env_id = json_str(d->env, "id"),
		.build_id = json_str(d->build, "id"),
		.type = d->type,
		.alias = d->alias,
		.from_deploy_id = d->from_deploy_id,
		.operator_name = d->operator_name,
		.description = d->description,
		.delivery_type = d->delivery_type,
		.reset_schedule = d->type == DEPLOY_TYPE_RESTART || (d->type == DEPLOY_TYPE_REGULAR && !d->from_deploy_id),
		.now = now_ms(),
	};
	json_t *change, *dep = NULL;
	char *txt;
	int k;

	change = json_pack("{s:s,s:s?}", "action", d->action, "buildId", c.build_id);
	if (!change)
		return -ENOMEM;
	if (d->force)
		(void)json_object_set_new(change, "force", json_true());
	if (d->alert_name)
		(void)json_object_set_new(change, "alertName", json_string(d->alert_name));
	txt = json_dumps(change, JSON_COMPACT);
	json_decref(change);
	if (!txt)
		return -ENOMEM;
	c.history_change = txt;
	k = store_deploy_create(srv->store, &c, &dep);
	free(txt);
	if (k < 0)
		return k;
	if (d->type >= 0 && d->type < _DEPLOY_TYPE_MAX)
		METRIC_INC(srv, deploys_created[d->type]);
	deploy_event_emit(srv, &(struct deploy_event){ .kind = DEPLOY_EVENT_CREATED, .env = d->env, .deploy = dep,
						       .build = d->build });
	log_notice("deploy '%s' (%s) of build '%s' started on %s/%s by '%s'", json_str(dep, "id"),
		   deploy_type_to_string(d->type), c.build_id, json_str(d->env, "envName"), json_str(d->env, "stageName"),
		   d->operator_name);
	*ret = dep;
	return 0;
}

/* The engine's verdict on deploying build to env; *ret_tag is the BAD_BUILD tag when that is the reason. */
static enum engine_deploy_verdict check_build(struct server *srv, const json_t *env, const json_t *build, int type,
					      bool force, json_t **ret_tag)
{
	struct engine_deploy_check c = {
		.type = type,
		.force = force,
		.stage_build_name = json_str(env, "buildName"),
		.stage_signed = json_str(env, "signingKey") != NULL,
		.build_name = json_str(build, "name"),
		.build_signed = json_str(build, "artifactSignature") != NULL,
	};

	/* the tags are read only when they can decide, and after the rules that need no store */
	if (engine_deploy_check_build(&c) == ENGINE_DEPLOY_ALLOWED && engine_deploy_reads_tag(type, force))
		c.build_bad = deploy_build_is_bad(srv, build, ret_tag);
	return engine_deploy_check_build(&c);
}

bool deploy_build_allowed(struct server *srv, const json_t *env, const json_t *build, int type)
{
	return check_build(srv, env, build, type, false, NULL) == ENGINE_DEPLOY_ALLOWED;
}

/* The rules for a build an operator asked for, as a refusal naming field. */
static int check_requested_build(struct server *srv, const json_t *env, const json_t *build, int type, bool force,
				 const char *field, struct deploy_refusal *f)
{
	json_t *tag = NULL;
	int k = 0;

	switch (check_build(srv, env, build, type, force, &tag)) {
	case ENGINE_DEPLOY_ALLOWED:
		break;
	case ENGINE_DEPLOY_WRONG_NAME:
		k = refuse(f, DEPLOY_REFUSED_INVALID, field,
			   "build '%s' is named '%s' but the stage deploys builds named '%s'", json_str(build, "id"),
			   json_str(build, "name"), json_str(env, "buildName"));
		break;
	case ENGINE_DEPLOY_UNSIGNED:
		k = refuse(f, DEPLOY_REFUSED_INVALID, field,
			   "the stage requires signed builds and build '%s' has no artifactSignature", json_str(build, "id"));
		break;
	case ENGINE_DEPLOY_BAD_BUILD:
		k = refuse(f, DEPLOY_REFUSED_CONFLICT, NULL,
			   "build '%s' is tagged BAD_BUILD (tag '%s': %s); use force=true to deploy it anyway",
			   json_str(build, "id"), json_str(tag, "id"), json_str(tag, "comments") ? json_str(tag, "comments") : "");
		break;
	}
	json_decref(tag);
	return k;
}

/* A build or deploy named by the request (or by a stored deploy); NOT_FOUND refusal naming field. */
static int load(struct server *srv, bool build, const char *id, const char *field, json_t **ret,
		struct deploy_refusal *f)
{
	const char *what = build ? "build" : "deploy";
	int k;

	if (!id || !id_is_valid(id))
		return refuse(f, DEPLOY_REFUSED_NOT_FOUND, field, "%s '%.64s' not found", what, id ? id : "");
	k = build ? store_build_get(srv->store, id, ret) : store_deploy_get(srv->store, id, ret);
	if (k == -ENOENT)
		return refuse(f, DEPLOY_REFUSED_NOT_FOUND, field, "%s '%s' not found", what, id);
	return k;
}

int deploy_start(struct server *srv, const json_t *env, const char *build_id, int delivery_type,
		 const struct deploy_order *o, json_t **ret, struct deploy_refusal *ret_refusal)
{
	json_t *build = NULL;
	int k;

	k = load(srv, true, build_id, "buildId", &build, ret_refusal);
	if (k >= 0)
		k = check_requested_build(srv, env, build, DEPLOY_TYPE_REGULAR, o->force, "buildId", ret_refusal);
	if (k >= 0)
		k = deploy_create(srv,
				  &(struct deploy_request){ .env = env, .build = build, .type = DEPLOY_TYPE_REGULAR,
							    .operator_name = o->operator_name,
							    .description = o->description, .action = "DEPLOY",
							    .delivery_type = delivery_type, .force = o->force },
				  ret);
	json_decref(build);
	return k;
}

int deploy_promote(struct server *srv, const json_t *env, const char *from_deploy_id, const struct deploy_order *o,
		   json_t **ret, struct deploy_refusal *ret_refusal)
{
	json_t *src = NULL, *build = NULL;
	bool blocked;
	int k;

	k = load(srv, false, from_deploy_id, "fromDeployId", &src, ret_refusal);
	if (k < 0)
		goto out;
	k = deploy_promote_blocked(srv, env, &blocked);
	if (k < 0)
		goto out;
	if (blocked) {
		k = refuse(ret_refusal, DEPLOY_REFUSED_CONFLICT, NULL, "the stage is disabled for promotion");
		goto out;
	}
	k = load(srv, true, json_str(src, "buildId"), "fromDeployId", &build, ret_refusal);
	if (k >= 0)
		k = check_requested_build(srv, env, build, DEPLOY_TYPE_REGULAR, o->force, "buildId", ret_refusal);
	if (k >= 0)
		k = deploy_create(srv,
				  &(struct deploy_request){ .env = env, .build = build, .type = DEPLOY_TYPE_REGULAR,
							    .from_deploy_id = json_str(src, "id"),
							    .operator_name = o->operator_name,
							    .description = o->description, .action = "PROMOTE",
							    .delivery_type = -1, .force = o->force },
				  ret);
out:
	json_decref(src);
	json_decref(build);
	return k;
}

/* The deploy and build a ROLLBACK goes back to: the one asked for, or the newest good one. */
static int rollback_target(struct server *srv, const json_t *env, const char *to_deploy_id, bool force,
			   json_t **ret_src, json_t **ret_build, struct deploy_refusal *f)
{
	json_t *src = NULL, *build = NULL, *target = NULL;
	int k;

	if (!to_deploy_id) {
		k = deploy_find_rollback_target(srv, env, NULL, &target);
		if (k == -ENOENT)
			return refuse(f, DEPLOY_REFUSED_CONFLICT, NULL,
				      "nothing to roll back to: no earlier SUCCEEDED deploy");
		if (k < 0)
			return k;
		*ret_src = json_incref(json_object_get(target, "deploy"));
		*ret_build = json_incref(json_object_get(target, "build"));
		json_decref(target);
		return 0;
	}
	k = load(srv, false, to_deploy_id, "toDeployId", &src, f);
	if (k >= 0 && !streq_ptr(json_str(src, "envId"), json_str(env, "id")))
		k = refuse(f, DEPLOY_REFUSED_INVALID, "toDeployId", "deploy '%s' belongs to another stage",
			   to_deploy_id);
	if (k >= 0)
		k = load(srv, true, json_str(src, "buildId"), "toDeployId", &build, f);
	if (k >= 0)
		k = check_requested_build(srv, env, build, DEPLOY_TYPE_ROLLBACK, force, "buildId", f);
	if (k < 0) {
		json_decref(src);
		json_decref(build);
		return k;
	}
	*ret_src = src;
	*ret_build = build;
	return 0;
}

int deploy_rollback(struct server *srv, const json_t *env, const char *to_deploy_id, const struct deploy_order *o,
		    json_t **ret, struct deploy_refusal *ret_refusal)
{
	json_t *src = NULL, *build = NULL;
	int k;

	k = rollback_target(srv, env, to_deploy_id, o->force, &src, &build, ret_refusal);
	if (k >= 0)
		k = deploy_create(srv,
				  &(struct deploy_request){ .env = env, .build = build, .type = DEPLOY_TYPE_ROLLBACK,
							    .alias = json_str(src, "id"), .operator_name = o->operator_name,
							    .description = o->description, .action = "ROLLBACK",
							    .delivery_type = -1, .force = o->force },
				  ret);
	json_decref(src);
	json_decref(build);
	return k;
}

int deploy_restart(struct server *srv, const json_t *env, const struct deploy_order *o, json_t **ret,
		   struct deploy_refusal *ret_refusal)
{
	json_t *src = NULL, *build = NULL;
	int k;

	if (!json_str(env, "deployId"))
		return refuse(ret_refusal, DEPLOY_REFUSED_CONFLICT, NULL, "nothing to restart: the stage has no deploy");
	k = load(srv, false, json_str(env, "deployId"), NULL, &src, ret_refusal);
	if (k >= 0)
		k = load(srv, true, json_str(src, "buildId"), NULL, &build, ret_refusal);
	if (k >= 0)
		k = deploy_create(srv,
				  &(struct deploy_request){ .env = env, .build = build, .type = DEPLOY_TYPE_RESTART,
							    .operator_name = o->operator_name,
							    .description = o->description, .action = "RESTART",
							    .delivery_type = -1 },
				  ret);
	json_decref(src);
	json_decref(build);
	return k;
}

int deploy_find_rollback_target(struct server *srv, const json_t *env, const char *exclude_build_id, json_t **ret)
{
	json_t *list = NULL, *dep, *found = NULL;
	size_t i;
	int k;

	k = store_deploy_list_succeeded(srv->store, json_str(env, "id"), &list);
	if (k < 0)
		return k;
	k = -ENOENT;
	json_array_foreach(list, i, dep) {
		json_t *build = NULL;
		int g;

		if (exclude_build_id && streq_ptr(json_str(dep, "buildId"), exclude_build_id))
			continue;
		g = store_build_get(srv->store, json_str(dep, "buildId"), &build);
		if (g == -ENOENT)
			continue;
		if (g < 0) {
			k = g;
			break;
		}
		if (!deploy_build_allowed(srv, env, build, DEPLOY_TYPE_ROLLBACK)) {
			json_decref(build);
			continue;
		}
		found = json_pack("{s:O,s:o}", "deploy", dep, "build", build);
		k = found ? 0 : -ENOMEM;
		break;
	}
	json_decref(list);
	if (k == 0)
		*ret = found;
	return k;
}
