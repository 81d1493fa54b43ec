/* SPDX-License-Identifier: Apache-2.0 */
/* api/deploys.c: deploys (PROTOCOL §4.5, §7): create (§7.1), current, actions (§7.2), progress
 * with the §7.3 transition (decided by the engine), missing hosts, host actions, list, get,
 * acceptance, daily count; and the automatic rollback of failurePolicy ROLLBACK (§6). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "buf.h"
#include "deploy_input.h"
#include "engine.h"
#include "enums.h"
#include "hash.h"
#include "jsonutil.h"
#include "log.h"
#include "util.h"
#include "webhooks.h"
#include "banned.h"

static const char *js(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static int64_t ji(const json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

/* ---- creation (§7.1) ------------------------------------------------------------------------- */

int deploy_create(struct server *srv, const struct deploy_request *d, json_t **ret)
{
	struct deploy_create c = {
		.env_id = js(d->env, "id"),
		.build_id = js(d->build, "id"),
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
	txt = json_dumps(change, JSON_COMPACT);
	json_decref(change);
	if (!txt)
		return -ENOMEM;
	c.history_change = txt;
	k = store_deploy_create(srv->store, &c, &dep);
	free(txt);
	if (k < 0)
		return k;
	if (d->type >= 0 && d->type < 5)
		METRIC_INC(srv, deploys_created[d->type]);
	webhooks_fire(srv, d->env, dep, d->build, false);
	log_notice("deploy '%s' (%s) of build '%s' started on %s/%s by '%s'", js(dep, "id"),
		   deploy_type_to_string(d->type), c.build_id, js(d->env, "envName"), js(d->env, "stageName"),
		   d->operator_name);
	*ret = dep;
	return 0;
}

int deploy_find_rollback_target(struct server *srv, const json_t *env, const char *exclude_build_id, json_t **ret)
{
	json_t *list = NULL, *dep;
	bool need_sig = js(env, "signingKey") != NULL;
	size_t i;
	int k;

	k = store_deploy_list_succeeded(srv->store, js(env, "id"), &list);
	if (k < 0)
		return k;
	json_array_foreach(list, i, dep) {
		json_t *build = NULL;
		if (exclude_build_id && streq_ptr(js(dep, "buildId"), exclude_build_id))
			continue;
		k = store_build_get(srv->store, js(dep, "buildId"), &build);
		if (k == -ENOENT)
			continue;
		if (k < 0) {
			json_decref(list);
			return k;
		}
		if ((need_sig && !js(build, "artifactSignature")) || api_build_is_bad(srv, build, NULL)) {
			json_decref(build);
			continue;
		}
		*ret = json_pack("{s:O,s:o}", "deploy", dep, "build", build);
		json_decref(list);
		return *ret ? 0 : -ENOMEM;
	}
	json_decref(list);
	return -ENOENT;
}

/* Checks of §7.1 for API-requested deploys; records the error reply. */
static int check_build(struct req *r, const json_t *env, const json_t *build, int type, bool force)
{
	json_t *tag = NULL;

	if ((type == DEPLOY_TYPE_REGULAR) && !streq_ptr(js(build, "name"), js(env, "buildName")))
		return req_bad(r, "buildId", "build '%s' is named '%s' but the stage deploys builds named '%s'",
			       js(build, "id"), js(build, "name"), js(env, "buildName"));
	if (js(env, "signingKey") && !js(build, "artifactSignature"))
		return req_bad(r, "buildId", "the stage requires signed builds and build '%s' has no artifactSignature",
			       js(build, "id"));
	if (type != DEPLOY_TYPE_RESTART && !force && api_build_is_bad(r->srv, build, &tag)) {
		int k = http_fail(r, 409, NULL,
				  "build '%s' is tagged BAD_BUILD (tag '%s': %s); use force=true to deploy it anyway",
				  js(build, "id"), js(tag, "id"), js(tag, "comments") ? js(tag, "comments") : "");
		json_decref(tag);
		return k;
	}
	return 0;
}

static int get_build(struct req *r, const char *id, const char *field, json_t **ret)
{
	int k;

	if (!id)
		return req_bad(r, field, "%s is required", field);
	if (!api_id_ok(id))
		return http_fail(r, 404, field, "build '%.64s' not found", id);
	k = store_build_get(r->srv->store, id, ret);
	if (k == -ENOENT)
		return http_fail(r, 404, field, "build '%s' not found", id);
	if (k < 0)
		return api_store_error(r, k, "cannot read build");
	return 0;
}

static int get_deploy(struct req *r, const char *id, const char *field, json_t **ret)
{
	int k;

	if (!id || !api_id_ok(id))
		return http_fail(r, 404, field, "deploy '%.64s' not found", id ? id : "");
	k = store_deploy_get(r->srv->store, id, ret);
	if (k == -ENOENT)
		return http_fail(r, 404, field, "deploy '%s' not found", id);
	if (k < 0)
		return api_store_error(r, k, "cannot read deploy");
	return 0;
}

static int reply_created_deploy(struct req *r, json_t *dep)
{
	char location[128];
	(void)str_printf(location, sizeof(location), "/v1/deploys/%s", js(dep, "id"));
	return http_reply_created(r, location, dep);
}

/* Answer a refusal of the input validators (api/deploy_input.h). */
static int input_bad(struct req *r, int k, const struct deploy_input_error *err)
{
	if (k == -EINVAL)
		return req_bad(r, err->field[0] ? err->field : NULL, "%s", err->message);
	return k;
}

static int deploy_post(struct req *r)
{
	struct deploy_create_input in;
	struct deploy_input_error err;
	json_t *env = NULL, *build = NULL, *dep = NULL;
	int k;

	k = api_env_from_path(r, &env);
	if (k < 0)
		return k;
	k = deploy_input_create(req_query(r), env_type_from_string(js(env, "stageType")), &in, &err);
	if (k < 0) {
		k = input_bad(r, k, &err);
		goto out;
	}
	k = get_build(r, in.build_id, "buildId", &build);
	if (k < 0)
		goto out;
	k = check_build(r, env, build, DEPLOY_TYPE_REGULAR, in.force);
	if (k < 0)
		goto out;
	k = deploy_create(r->srv,
			  &(struct deploy_request){ .env = env, .build = build, .type = DEPLOY_TYPE_REGULAR,
						    .operator_name = api_operator(r), .description = in.description,
						    .action = "DEPLOY", .delivery_type = in.delivery_type,
						    .force = in.force },
			  &dep);
	if (k < 0) {
		k = api_store_error(r, k, "cannot create deploy");
		goto out;
	}
	k = reply_created_deploy(r, dep);
out:
	json_decref(env);
	json_decref(build);
	return k;
}

static int deploy_current(struct req *r)
{
	json_t *env = NULL, *dep = NULL;
	int k;

	k = api_env_from_path(r, &env);
	if (k < 0)
		return k;
	if (!js(env, "deployId")) {
		k = http_fail(r, 404, NULL, "the stage has no deploy");
	} else {
		k = get_deploy(r, js(env, "deployId"), NULL, &dep);
		if (k >= 0)
			k = http_reply_json(r, 200, dep);
	}
	json_decref(env);
	return k;
}

/* §4.3: promote-blocked when state DISABLED, or the latest ENVIRONMENT tag of the env or the latest
 * TELETRAAN tag is DISABLE_ENV. */
int api_env_promote_blocked(struct server *srv, const json_t *env, bool *ret)
{
	const char *targets[] = { js(env, "id"), "teletraan" };
	int k;

	*ret = streq_ptr(js(env, "state"), "DISABLED");
	for (size_t i = 0; !*ret && i < ELEMENTSOF(targets); i++) {
		json_t *tags = NULL, *t;
		size_t n;
		k = store_tag_list_target(srv->store, targets[i], 50, &tags);
		if (k < 0)
			return k;
		json_array_foreach(tags, n, t) {
			const char *v = js(t, "value");
			if (streq_ptr(v, "ENABLE_ENV") || streq_ptr(v, "DISABLE_ENV")) {
				*ret = streq_ptr(v, "DISABLE_ENV");
				break;
			}
		}
		json_decref(tags);
	}
	return 0;
}

static int deploy_action(struct req *r)
{
	json_t *env = NULL, *build = NULL, *src = NULL, *dep = NULL, *target = NULL, *hist = NULL;
	struct deploy_action_input in;
	struct deploy_input_error err;
	const char *description;
	bool force;
	int k;

	k = api_env_from_path(r, &env);
	if (k < 0)
		return k;
	k = deploy_input_action(req_query(r), &in, &err);
	if (k < 0) {
		k = input_bad(r, k, &err);
		goto out;
	}
	description = in.description;
	force = in.force;
	if (in.action == DEPLOY_ACTION_PROMOTE) {
		bool blocked;
		k = get_deploy(r, in.from_deploy_id, "fromDeployId", &src);
		if (k < 0)
			goto out;
		k = api_env_promote_blocked(r->srv, env, &blocked);
		if (k < 0) {
			k = api_store_error(r, k, "cannot read tags");
			goto out;
		}
		if (blocked) {
			k = http_fail(r, 409, NULL, "the stage is disabled for promotion");
			goto out;
		}
		k = get_build(r, js(src, "buildId"), "fromDeployId", &build);
		if (k < 0)
			goto out;
		k = check_build(r, env, build, DEPLOY_TYPE_REGULAR, force);
		if (k < 0)
			goto out;
		k = deploy_create(r->srv,
				  &(struct deploy_request){ .env = env, .build = build, .type = DEPLOY_TYPE_REGULAR,
							    .from_deploy_id = js(src, "id"),
							    .operator_name = api_operator(r),
							    .description = description, .action = "PROMOTE",
							    .delivery_type = -1, .force = force },
				  &dep);
	} else if (in.action == DEPLOY_ACTION_ROLLBACK) {
		const char *to = in.to_deploy_id;
		if (to) {
			k = get_deploy(r, to, "toDeployId", &src);
			if (k < 0)
				goto out;
			if (!streq_ptr(js(src, "envId"), js(env, "id"))) {
				k = req_bad(r, "toDeployId", "deploy '%s' belongs to another stage", to);
				goto out;
			}
			k = get_build(r, js(src, "buildId"), "toDeployId", &build);
			if (k < 0)
				goto out;
			k = check_build(r, env, build, DEPLOY_TYPE_ROLLBACK, force);
			if (k < 0)
				goto out;
		} else {
			k = deploy_find_rollback_target(r->srv, env, NULL, &target);
			if (k == -ENOENT) {
				k = http_fail(r, 409, NULL, "nothing to roll back to: no earlier SUCCEEDED deploy");
				goto out;
			}
			if (k < 0) {
				k = api_store_error(r, k, "cannot find a rollback target");
				goto out;
			}
			src = json_incref(json_object_get(target, "deploy"));
			build = json_incref(json_object_get(target, "build"));
		}
		k = deploy_create(r->srv,
				  &(struct deploy_request){ .env = env, .build = build, .type = DEPLOY_TYPE_ROLLBACK,
							    .alias = js(src, "id"), .operator_name = api_operator(r),
							    .description = description, .action = "ROLLBACK",
							    .delivery_type = -1, .force = force },
				  &dep);
	} else if (in.action == DEPLOY_ACTION_RESTART) {
		if (!js(env, "deployId")) {
			k = http_fail(r, 409, NULL, "nothing to restart: the stage has no deploy");
			goto out;
		}
		k = get_deploy(r, js(env, "deployId"), NULL, &src);
		if (k < 0)
			goto out;
		k = get_build(r, js(src, "buildId"), NULL, &build);
		if (k < 0)
			goto out;
		k = deploy_create(r->srv,
				  &(struct deploy_request){ .env = env, .build = build, .type = DEPLOY_TYPE_RESTART,
							    .operator_name = api_operator(r),
							    .description = description, .action = "RESTART",
							    .delivery_type = -1 },
				  &dep);
	} else {
		bool pause = in.action == DEPLOY_ACTION_PAUSE;
		json_t *chg = json_string(pause ? "PAUSE" : "RESUME");
		hist = api_history(r, js(env, "id"), "Env Action", chg);
		json_decref(chg);
		if (!hist) {
			k = -ENOMEM;
			goto out;
		}
		k = store_env_set_state(r->srv->store, js(env, "id"), pause ? "PAUSED" : "NORMAL", !pause, hist);
		if (k < 0) {
			k = api_store_error(r, k, "cannot change the stage state");
			goto out;
		}
		if (!js(env, "deployId")) {
			k = http_reply_empty(r, 204);
			goto out;
		}
		k = get_deploy(r, js(env, "deployId"), NULL, &dep);
		if (k >= 0)
			k = http_reply_created(r, NULL, dep);
		goto out;
	}
	if (k < 0) {
		k = api_store_error(r, k, "cannot create deploy");
		goto out;
	}
	k = reply_created_deploy(r, dep);
out:
	json_decref(env);
	json_decref(build);
	json_decref(src);
	json_decref(target);
	json_decref(hist);
	return k;
}

/* ---- state transition (§7.3) ----------------------------------------------------------------- */

static void auto_rollback(struct server *srv, const json_t *env, const json_t *failed)
{
	json_t *target = NULL, *dep = NULL, *build = NULL, *tag = NULL;
	char desc[256], id[ID_LEN + 1], comments[128];
	char *meta = NULL;
	int type = deploy_type_from_string(js(failed, "type")), k;

	if (!engine_auto_rollback_allowed(type)) {
		char note[96];
		(void)str_printf(note, sizeof(note), " [auto-rollback skipped: %s deploy]", js(failed, "type"));
		(void)store_deploy_append_description(srv->store, js(failed, "id"), note);
		return;
	}
	k = deploy_find_rollback_target(srv, env, js(failed, "buildId"), &target);
	if (k == -ENOENT) {
		(void)store_deploy_append_description(srv->store, js(failed, "id"),
						      " [auto-rollback: no earlier SUCCEEDED deploy; halted]");
		return;
	}
	if (k < 0) {
		(void)server_db_error(srv, k, "auto-rollback: cannot find a target");
		return;
	}
	(void)str_printf(desc, sizeof(desc), "Automatic rollback of failed deploy %s (failurePolicy ROLLBACK)",
			 js(failed, "id"));
	k = deploy_create(srv,
			  &(struct deploy_request){ .env = env, .build = json_object_get(target, "build"),
						    .type = DEPLOY_TYPE_ROLLBACK,
						    .alias = js(json_object_get(target, "deploy"), "id"),
						    .operator_name = "system", .description = desc,
						    .action = "AUTO_ROLLBACK", .delivery_type = -1 },
			  &dep);
	if (k < 0) {
		(void)server_db_error(srv, k, "auto-rollback: cannot create the rollback deploy");
		goto out;
	}
	/* tag the failed build BAD_BUILD */
	k = store_build_get(srv->store, js(failed, "buildId"), &build);
	if (k >= 0 && id_generate(id) >= 0) {
		meta = json_dumps(build, JSON_COMPACT);
		(void)str_printf(comments, sizeof(comments), "auto-rollback of deploy %s", js(failed, "id"));
		tag = json_pack("{s:s,s:s,s:s,s:s?,s:s,s:I,s:s,s:s?}", "id", id, "value", "BAD_BUILD", "targetType",
				"BUILD", "targetId", js(build, "name"), "operator", "system", "createdDate",
				(json_int_t)now_ms(), "comments", comments, "metaInfo", meta);
		if (tag && store_tag_insert(srv->store, tag) < 0)
			(void)server_db_error(srv, -EIO, "auto-rollback: cannot tag the failed build");
	}
	log_notice("auto-rollback of deploy '%s' on %s/%s: new deploy '%s'", js(failed, "id"), js(env, "envName"),
		   js(env, "stageName"), js(dep, "id"));
out:
	free(meta);
	json_decref(tag);
	json_decref(build);
	json_decref(dep);
	json_decref(target);
}

static int schedule_view_from(const json_t *sch, struct schedule_view *v)
{
	*v = (struct schedule_view){ 0 };
	if (!sch)
		return 0;
	v->present = true;
	v->state = schedule_state_from_string(js(sch, "state"));
	v->current_session = (int)ji(sch, "currentSession");
	v->total_sessions = (int)ji(sch, "totalSessions");
	v->cooldown_times = js(sch, "cooldownTimes");
	v->host_numbers = js(sch, "hostNumbers");
	v->state_start_time = ji(sch, "stateStartTime");
	return v->state < 0 ? -EINVAL : 0;
}

int deploy_transition_run(struct server *srv, const json_t *env)
{
	const char *deploy_id = js(env, "deployId");
	json_t *dep = NULL, *sch = NULL, *upd = NULL;
	struct deploy_counts dc;
	struct transition_counts tc;
	struct transition_settings set;
	struct deploy_view dv;
	struct schedule_view sv;
	struct transition_result res;
	pthread_mutex_t *lock;
	int k;

	if (!deploy_id || !streq_ptr(js(env, "envState"), "NORMAL"))
		return 0;
	lock = &srv->transition_locks[(uint64_t)hash_lock_key(deploy_id) % ELEMENTSOF(srv->transition_locks)];
	if (pthread_mutex_trylock(lock) != 0)
		return 0; /* another thread is transitioning this deploy: skip (§7.3) */
	k = store_deploy_get(srv->store, deploy_id, &dep);
	if (k < 0)
		goto out;
	if (!deploy_state_is_active(deploy_state_from_string(js(dep, "state"))))
		goto out;
	k = store_deploy_counts(srv->store, js(env, "id"), deploy_id, &dc);
	if (k < 0)
		goto out;
	k = store_schedule_get(srv->store, js(env, "id"), &sch);
	if (k == -ENOENT)
		k = 0;
	if (k < 0)
		goto out;
	k = schedule_view_from(sch, &sv);
	if (k < 0)
		goto out;
	dv = (struct deploy_view){
		.type = deploy_type_from_string(js(dep, "type")),
		.state = deploy_state_from_string(js(dep, "state")),
		.last_update_date = ji(dep, "lastUpdateDate"),
		.success_date = ji(dep, "successDate"),
		.success_total = (int)ji(dep, "successTotal"),
		.fail_total = (int)ji(dep, "failTotal"),
		.total = (int)ji(dep, "total"),
		.acceptance_status = acceptance_status_from_string(js(dep, "acceptanceStatus")),
	};
	set = (struct transition_settings){
		.is_current = true,
		.env_state = env_state_from_string(js(env, "envState")),
		.success_threshold = (int)ji(env, "successThreshold"),
		.stuck_threshold_s = (int)ji(env, "stuckThreshold"),
		.acceptance_type = acceptance_type_from_string(js(env, "acceptanceType")),
		.failure_policy = failure_policy_from_string(js(env, "failurePolicy")),
	};
	tc = (struct transition_counts){
		.total = (int)dc.total,
		.succeeded = (int)dc.succeeded,
		.failed = (int)dc.failed,
		.schedule_done = (int)dc.schedule_progress,
		.on_deploy = (int)dc.rows_on_deploy,
	};
	k = engine_transition(&dv, &set, sch ? &sv : NULL, &tc, now_ms(), &res);
	if (k < 0)
		goto out;
	if (res.finalise) {
		k = store_deploy_finalize(srv->store, deploy_id);
		goto out;
	}
	if (res.schedule_changed && sch) {
		(void)json_object_set_new(sch, "envId", json_string(js(env, "id")));
		(void)json_object_set_new(sch, "state", json_string(schedule_state_to_string(res.schedule_state)));
		(void)json_object_set_new(sch, "currentSession", json_integer(res.schedule_current));
		(void)json_object_set_new(sch, "stateStartTime", json_integer(res.schedule_start));
		k = store_schedule_put(srv->store, sch);
		if (k < 0)
			goto out;
	}
	if (!res.write)
		goto out;
	upd = json_pack("{s:s,s:s,s:i,s:i,s:i,s:I,s:s}", "id", deploy_id, "state", deploy_state_to_string(res.state),
			"successTotal", res.success_total, "failTotal", res.fail_total, "total", res.total,
			"lastUpdateDate", (json_int_t)res.last_update_date, "acceptanceStatus",
			acceptance_status_to_string(res.first_succeeding ? res.acceptance_status : dv.acceptance_status));
	if (!upd) {
		k = -ENOMEM;
		goto out;
	}
	(void)json_object_set_new(upd, "successDate",
				  res.first_succeeding ? json_integer(res.success_date)
				  : dv.success_date    ? json_integer(dv.success_date)
						       : json_null());
	k = store_deploy_cas(srv->store, upd, deploy_state_to_string(res.old_state));
	if (k <= 0)
		goto out; /* error, or another replica did it */
	k = 0;
	if (res.state != res.old_state) {
		if (res.state >= 0 && res.state < 5)
			METRIC_INC(srv, transitions_to[res.state]);
		log_info("deploy '%s' on %s/%s: %s -> %s (%d/%d succeeded, %d failed)", deploy_id, js(env, "envName"),
			 js(env, "stageName"), deploy_state_to_string(res.old_state), deploy_state_to_string(res.state),
			 res.success_total, res.total, res.fail_total);
	}
	if (res.first_succeeding) {
		json_t *build = NULL;
		(void)json_object_update(dep, upd);
		if (store_build_get(srv->store, js(dep, "buildId"), &build) >= 0)
			webhooks_fire(srv, env, dep, build, true);
		json_decref(build);
	}
	if (res.auto_rollback)
		auto_rollback(srv, env, dep);
out:
	pthread_mutex_unlock(lock);
	if (k < 0)
		(void)server_db_error(srv, k, "state transition failed");
	json_decref(dep);
	json_decref(sch);
	json_decref(upd);
	return k;
}

/* The reply is written as text straight from the rows: for 10,000 hosts a DOM of the agents costs most of the
 * request (the board's stage page). Same bytes as json_dumps of {agents, missingHosts, provisioningHosts,
 * removedHosts}. */
static int deploy_progress(struct req *r)
{
	json_t *env = NULL, *missing = NULL, *prov = NULL, *removed = NULL;
	struct buf out;
	const char *env_id;
	int k;

	buf_init(&out, BUF_UNBOUNDED);
	k = api_env_from_path(r, &env);
	if (k < 0)
		return k;
	env_id = js(env, "id");
	if (!js(env, "deployId")) {
		k = http_fail(r, 404, NULL, "the stage has no deploy");
		goto out;
	}
	(void)deploy_transition_run(r->srv, env);
	k = buf_appends(&out, "{\"agents\":");
	if (k < 0)
		goto out;
	k = store_agent_list_env_text(r->srv->store, env_id, &out);
	if (k >= 0)
		k = store_progress_lists(r->srv->store, env_id, &missing, &prov, &removed);
	if (k < 0) {
		k = api_store_error(r, k, "cannot read progress");
		goto out;
	}
	k = buf_appends(&out, ",\"missingHosts\":");
	if (k >= 0)
		k = json_append_value(&out, missing);
	if (k >= 0)
		k = buf_appends(&out, ",\"provisioningHosts\":");
	if (k >= 0)
		k = json_append_value(&out, prov);
	if (k >= 0)
		k = buf_appends(&out, ",\"removedHosts\":");
	if (k >= 0)
		k = json_append_value(&out, removed);
	if (k >= 0)
		k = buf_appendc(&out, '}');
	if (k >= 0) {
		size_t len = out.len;
		k = http_reply_json_text(r, 200, buf_detach(&out), len);
	}
out:
	json_decref(missing);
	json_decref(prov);
	json_decref(removed);
	buf_release(&out);
	json_decref(env);
	return k;
}

static int deploy_missing_hosts(struct req *r)
{
	json_t *env = NULL, *missing = NULL;
	int k;

	k = api_env_from_path(r, &env);
	if (k < 0)
		return k;
	k = store_progress_lists(r->srv->store, js(env, "id"), &missing, NULL, NULL);
	json_decref(env);
	if (k < 0)
		return api_store_error(r, k, "cannot read missing hosts");
	return http_reply_json(r, 200, missing);
}

int api_host_ids_body(struct req *r, json_t **ret)
{
	struct deploy_input_error err;
	json_t *ids = NULL;
	int k;

	k = req_json(r, &ids);
	if (k < 0 && k != -ENODATA)
		return k;
	k = deploy_input_host_ids(ids, &err);
	if (k < 0) {
		json_decref(ids);
		return input_bad(r, k, &err);
	}
	*ret = ids;
	return 0;
}

int api_agent_action_from_string(const char *s, enum store_agent_action *ret)
{
	if (!s)
		return -EINVAL;
	if (strcasecmp(s, "PAUSED_BY_USER") == 0)
		*ret = STORE_AGENT_PAUSE;
	else if (strcasecmp(s, "RESET") == 0)
		*ret = STORE_AGENT_RESET;
	else if (strcasecmp(s, "NORMAL") == 0)
		*ret = STORE_AGENT_NORMAL;
	else
		return -EINVAL;
	return 0;
}

static int deploy_host_actions(struct req *r)
{
	struct deploy_input_error err;
	json_t *env = NULL, *ids = NULL;
	enum store_agent_action a;
	int k;

	k = api_env_from_path(r, &env);
	if (k < 0)
		return k;
	k = deploy_input_host_action(req_query(r), &a, &err);
	if (k < 0) {
		k = input_bad(r, k, &err);
		goto out;
	}
	k = api_host_ids_body(r, &ids);
	if (k < 0)
		goto out;
	k = store_agent_action(r->srv->store, js(env, "id"), ids, a, api_operator(r), now_ms());
	if (k < 0) {
		k = api_store_error(r, k, "cannot apply the host action");
		goto out;
	}
	k = http_reply_empty(r, 204);
out:
	json_decref(env);
	json_decref(ids);
	return k;
}

static int deploy_get(struct req *r)
{
	json_t *dep = NULL;
	int k = get_deploy(r, req_param(r, "id"), NULL, &dep);
	if (k < 0)
		return k;
	return http_reply_json(r, 200, dep);
}

static int deploy_list(struct req *r)
{
	const struct query *q = req_query(r);
	json_t *query = json_object(), *v = NULL, *res = NULL;
	int64_t off, lim, n;
	bool oldest;
	int k;

	if (!query)
		return -ENOMEM;
	k = api_paging(r, "pageIndex", "pageSize", 30, &off, &lim);
	if (k < 0)
		goto out;
	if (query_bool(q, "oldestFirst", false, &oldest) < 0) {
		k = req_bad(r, "oldestFirst", "oldestFirst must be true or false");
		goto out;
	}
	static const struct {
		const char *key;
		int (*from)(const char *);
		const char *(*to)(int);
	} enums[] = {
		{ "deployType", deploy_type_from_string, deploy_type_to_string },
		{ "deployState", deploy_state_from_string, deploy_state_to_string },
		{ "acceptanceStatus", acceptance_status_from_string, acceptance_status_to_string },
	};
	for (size_t i = 0; i < ELEMENTSOF(enums); i++) {
		k = api_query_enum_list(r, enums[i].key, enums[i].from, enums[i].to, &v);
		if (k < 0)
			goto out;
		if (v)
			(void)json_object_set_new(query, enums[i].key, v);
	}
	static const char *const lists[] = { "envId", "operator", "buildId" };
	for (size_t i = 0; i < ELEMENTSOF(lists); i++) {
		if (!query_get(q, lists[i]))
			continue;
		k = query_list(q, lists[i], &v);
		if (k < 0)
			goto out;
		(void)json_object_set_new(query, lists[i], v);
	}
	static const char *const strs[] = { "repo", "branch" };
	for (size_t i = 0; i < ELEMENTSOF(strs); i++)
		if (query_get(q, strs[i]))
			(void)json_object_set_new(query, strs[i], json_string(query_get(q, strs[i])));
	static const char *const ints[] = { "commitDate", "before", "after" };
	for (size_t i = 0; i < ELEMENTSOF(ints); i++) {
		if (!query_get(q, ints[i]))
			continue;
		if (query_int(q, ints[i], 0, INT64_MAX, 0, &n) < 0) {
			k = req_bad(r, ints[i], "%s must be epoch milliseconds", ints[i]);
			goto out;
		}
		(void)json_object_set_new(query, ints[i], json_integer(n));
	}
	(void)json_object_set_new(query, "oldestFirst", json_boolean(oldest));
	(void)json_object_set_new(query, "limit", json_integer(lim));
	(void)json_object_set_new(query, "offset", json_integer(off));
	k = store_deploy_list(r->srv->store, query, &res);
	if (k < 0) {
		k = api_store_error(r, k, "cannot list deploys");
		goto out;
	}
	n = ji(res, "total");
	(void)json_object_set_new(res, "truncated", json_boolean(n > off + lim));
	(void)json_object_set_new(res, "deployTags", json_null());
	k = http_reply_json(r, 200, res);
out:
	json_decref(query);
	return k;
}

static int deploy_accept(struct req *r)
{
	json_t *dep = NULL, *env = NULL, *in = NULL;
	struct deploy_accept_input acc;
	struct deploy_input_error err;
	int k;

	k = get_deploy(r, req_param(r, "id"), NULL, &dep);
	if (k < 0)
		return k;
	k = store_env_get_by_id(r->srv->store, js(dep, "envId"), &env);
	if (k < 0 && k != -ENOENT) {
		k = api_store_error(r, k, "cannot read env stage");
		goto out;
	}
	k = http_require(r, ROLE_OPERATOR, SCOPE_ENV, env ? js(env, "envName") : NULL);
	if (k < 0)
		goto out;
	k = req_json(r, &in);
	if (k < 0 && k != -ENODATA)
		goto out;
	k = deploy_input_accept(in, &acc, &err);
	if (k < 0) {
		k = input_bad(r, k, &err);
		goto out;
	}
	k = store_deploy_set_acceptance(r->srv->store, js(dep, "id"), acceptance_status_to_string(acc.acceptance_status),
					acc.description, now_ms());
	if (k < 0) {
		k = api_store_error(r, k, "cannot update deploy");
		goto out;
	}
	k = http_reply_empty(r, 204);
out:
	json_decref(dep);
	json_decref(env);
	json_decref(in);
	return k;
}

static int deploy_dailycount(struct req *r)
{
	int64_t now = now_ms(), n = 0;
	int k;

	k = store_deploy_count_since(r->srv->store, now - now % 86400000, &n);
	if (k < 0)
		return api_store_error(r, k, "cannot count deploys");
	return http_reply_json(r, 200, json_integer(n));
}

const struct route api_deploys_routes[] = {
	{ "POST", "/v1/envs/{env}/{stage}/deploys", deploy_post, ROLE_OPERATOR, SCOPE_ENV, false },
	{ "GET", "/v1/envs/{env}/{stage}/deploys/current", deploy_current, ROLE_READER, SCOPE_ANY, false },
	{ "POST", "/v1/envs/{env}/{stage}/deploys/current/actions", deploy_action, ROLE_OPERATOR, SCOPE_ENV, false },
	{ "PUT", "/v1/envs/{env}/{stage}/deploys/current/progress", deploy_progress, ROLE_READER, SCOPE_ANY, false },
	{ "GET", "/v1/envs/{env}/{stage}/deploys/current/missing-hosts", deploy_missing_hosts, ROLE_READER, SCOPE_ANY,
	  false },
	{ "PUT", "/v1/envs/{env}/{stage}/deploys/hostactions", deploy_host_actions, ROLE_OPERATOR, SCOPE_ENV, false },
	{ "GET", "/v1/deploys", deploy_list, ROLE_READER, SCOPE_ANY, false },
	{ "GET", "/v1/deploys/dailycount", deploy_dailycount, ROLE_READER, SCOPE_ANY, false },
	{ "GET", "/v1/deploys/{id}", deploy_get, ROLE_READER, SCOPE_ANY, false },
	{ "PUT", "/v1/deploys/{id}", deploy_accept, ROLE_OPERATOR, SCOPE_ANY, false },
};
const size_t api_deploys_routes_count = ELEMENTSOF(api_deploys_routes);
