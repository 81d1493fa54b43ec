/* SPDX-License-Identifier: Apache-2.0 */
/* deploy/safety.c: what stops a bad build: the rollback of a stage's current deploy to its last good deploy and
 * the BAD_BUILD tag of its build, shared by failurePolicy ROLLBACK (transition.c), external alerts (api/alerts.c)
 * and the Prometheus analysis (workers/analysis.c), and the history entry each of those actions writes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "deploy.h"
#include "engine.h"
#include "enums.h"
#include "log.h"
#include "util.h"
#include "jsonutil.h"
#include "banned.h"

int deploy_rollback_from(struct server *srv, const json_t *env, const json_t *bad, const struct deploy_cause *c,
			 json_t **ret)
{
	json_t *target = NULL, *dep = NULL;
	int k;

	if (!engine_auto_rollback_allowed(deploy_type_from_string(json_str(bad, "type"))))
		return -EPERM;
	k = deploy_find_rollback_target(srv, env, json_str(bad, "buildId"), &target);
	if (k < 0)
		return k;
	k = deploy_create(srv,
			  &(struct deploy_request){ .env = env, .build = json_object_get(target, "build"),
						    .type = DEPLOY_TYPE_ROLLBACK,
						    .alias = json_str(json_object_get(target, "deploy"), "id"),
						    .operator_name = c->operator_name, .description = c->description,
						    .action = c->action, .alert_name = c->alert_name,
						    .delivery_type = -1 },
			  &dep);
	json_decref(target);
	if (k < 0)
		return k;
	log_notice("%s of deploy '%s' on %s/%s: new deploy '%s'", c->action, json_str(bad, "id"), json_str(env, "envName"),
		   json_str(env, "stageName"), json_str(dep, "id"));
	if (ret)
		*ret = dep;
	else
		json_decref(dep);
	return 0;
}

int deploy_mark_bad_build(struct server *srv, const char *build_id, const char *operator_name, const char *comments,
			  json_t **ret)
{
	json_t *build = NULL, *tag = NULL;
	char id[ID_LEN + 1];
	char *meta = NULL;
	int k;

	k = store_build_get(srv->store, build_id, &build);
	if (k >= 0)
		k = id_generate(id);
	if (k >= 0) {
		meta = json_dumps(build, JSON_COMPACT);
		tag = json_pack("{s:s,s:s,s:s,s:s?,s:s,s:I,s:s?,s:s?}", "id", id, "value", "BAD_BUILD", "targetType",
				"BUILD", "targetId", json_str(build, "name"), "operator", operator_name, "createdDate",
				(json_int_t)now_ms(), "comments", comments, "metaInfo", meta);
		k = tag ? store_tag_insert(srv->store, tag) : -ENOMEM;
	}
	if (k >= 0 && ret)
		*ret = json_incref(tag);
	free(meta);
	json_decref(tag);
	json_decref(build);
	return k < 0 ? k : 0;
}

int deploy_record_action(struct server *srv, const json_t *env, const char *operator_name, const json_t *change)
{
	char id[ID_LEN + 1];
	char *txt;
	json_t *h;
	int k;

	k = id_generate(id);
	if (k < 0)
		return k;
	txt = json_dumps(change, JSON_COMPACT);
	if (!txt)
		return -ENOMEM;
	h = json_pack("{s:s,s:s,s:I,s:s?,s:s,s:s}", "id", json_str(env, "id"), "changeId", id, "createTime",
		      (json_int_t)now_ms(), "operator", operator_name, "type", "Env Action", "configChange", txt);
	free(txt);
	if (!h)
		return -ENOMEM;
	k = store_history_add(srv->store, h);
	json_decref(h);
	return k;
}

/* One action of an alert on deploy dep: its result object, or NULL with *ret_k set on a store error. */
static json_t *alert_rollback(struct server *srv, const json_t *env, const json_t *dep, const struct deploy_alert *a,
			      int *ret_k)
{
	json_t *nd = NULL, *res;
	char desc[384];
	int k;

	(void)str_printf(desc, sizeof(desc), "Rollback of deploy %s on alert '%s'", json_str(dep, "id"), a->alert_name);
	k = deploy_rollback_from(srv, env, dep,
				 &(struct deploy_cause){ .operator_name = a->operator_name, .description = desc,
							 .action = "ALERT_ROLLBACK", .alert_name = a->alert_name },
				 &nd);
	if (k == -EPERM)
		return json_pack("{s:b,s:s}", "done", 0, "message", "the deploy is itself a rollback");
	if (k == -ENOENT)
		return json_pack("{s:b,s:s}", "done", 0, "message", "nothing to roll back to: no earlier SUCCEEDED deploy");
	if (k < 0) {
		*ret_k = k;
		return NULL;
	}
	res = json_pack("{s:b,s:s?,s:s?,s:s}", "done", 1, "deployId", json_str(nd, "id"), "toDeployId", json_str(nd, "alias"),
			"message", "rolled back");
	json_decref(nd);
	return res;
}

static json_t *alert_mark_bad(struct server *srv, const json_t *env, const json_t *dep, const struct deploy_alert *a,
			      int *ret_k)
{
	json_t *tag = NULL, *change;
	char comments[384];
	int k;

	(void)str_printf(comments, sizeof(comments), "alert '%s' on deploy %s", a->alert_name, json_str(dep, "id"));
	k = deploy_mark_bad_build(srv, json_str(dep, "buildId"), a->operator_name, comments, &tag);
	if (k == -ENOENT)
		return json_pack("{s:b,s:s}", "done", 0, "message", "the build no longer exists");
	if (k < 0) {
		*ret_k = k;
		return NULL;
	}
	change = json_pack("{s:s,s:s,s:s?,s:s?,s:s?}", "action", "ALERT_MARK_BAD_BUILD", "alertName", a->alert_name,
			   "deployId", json_str(dep, "id"), "buildId", json_str(dep, "buildId"), "tagId", json_str(tag, "id"));
	k = change ? deploy_record_action(srv, env, a->operator_name, change) : -ENOMEM;
	json_decref(change);
	if (k < 0) {
		json_decref(tag);
		*ret_k = k;
		return NULL;
	}
	change = json_pack("{s:b,s:s?,s:s}", "done", 1, "tagId", json_str(tag, "id"), "message", "build tagged BAD_BUILD");
	json_decref(tag);
	return change;
}

int deploy_alert_act(struct server *srv, const json_t *env, const json_t *dep, const struct deploy_alert *a,
		     json_t **ret)
{
	json_t *out = json_object(), *res;
	int k = 0;

	if (!out)
		return -ENOMEM;
	for (size_t i = 0; i < a->n_actions && k >= 0; i++) {
		bool rollback = a->actions[i] == DEPLOY_ALERT_ROLLBACK;
		res = rollback ? alert_rollback(srv, env, dep, a, &k) : alert_mark_bad(srv, env, dep, a, &k);
		if (!res && k >= 0)
			k = -ENOMEM;
		if (res)
			(void)json_object_set_new(out, rollback ? "rollback" : "markbadbuild", res);
	}
	if (k < 0) {
		json_decref(out);
		return k;
	}
	log_notice("alert '%s' on %s/%s (deploy '%s'): %zu action(s) by '%s'", a->alert_name, json_str(env, "envName"),
		   json_str(env, "stageName"), json_str(dep, "id"), a->n_actions, a->operator_name);
	*ret = out;
	return 0;
}
