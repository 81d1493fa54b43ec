/* SPDX-License-Identifier: Apache-2.0 */
/* deploy/transition.c: the state transition of the current deploy of a stage (PROTOCOL §7.3, decided by the
 * engine from counts the store gathers) and the automatic rollback of failurePolicy ROLLBACK (§6). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "deploy.h"
#include "engine.h"
#include "enums.h"
#include "events.h"
#include "hash.h"
#include "log.h"
#include "util.h"
#include "jsonutil.h"
#include "banned.h"

/* ---- state transition (§7.3) ----------------------------------------------------------------- */

static void auto_rollback(struct server *srv, const json_t *env, const json_t *failed)
{
	char desc[256], comments[128];
	int k;

	(void)str_printf(desc, sizeof(desc), "Automatic rollback of failed deploy %s (failurePolicy ROLLBACK)",
			 json_str(failed, "id"));
	k = deploy_rollback_from(srv, env, failed,
				 &(struct deploy_cause){ .operator_name = "system", .description = desc,
							 .action = "AUTO_ROLLBACK" },
				 NULL);
	if (k == -EPERM) {
		char note[96];
		(void)str_printf(note, sizeof(note), " [auto-rollback skipped: %s deploy]", json_str(failed, "type"));
		(void)store_deploy_append_description(srv->store, json_str(failed, "id"), note);
		return;
	}
	if (k == -ENOENT) {
		(void)store_deploy_append_description(srv->store, json_str(failed, "id"),
						      " [auto-rollback: no earlier SUCCEEDED deploy; halted]");
		return;
	}
	if (k < 0) {
		(void)server_db_error(srv, k, "auto-rollback: cannot create the rollback deploy");
		return;
	}
	(void)str_printf(comments, sizeof(comments), "auto-rollback of deploy %s", json_str(failed, "id"));
	k = deploy_mark_bad_build(srv, json_str(failed, "buildId"), "system", comments, NULL);
	if (k < 0 && k != -ENOENT)
		(void)server_db_error(srv, k, "auto-rollback: cannot tag the failed build");
}

static int schedule_view_from(const json_t *sch, struct schedule_view *v)
{
	*v = (struct schedule_view){ 0 };
	if (!sch)
		return 0;
	v->present = true;
	v->state = schedule_state_from_string(json_str(sch, "state"));
	v->current_session = (int)json_int(sch, "currentSession");
	v->total_sessions = (int)json_int(sch, "totalSessions");
	v->cooldown_times = json_str(sch, "cooldownTimes");
	v->host_numbers = json_str(sch, "hostNumbers");
	v->state_start_time = json_int(sch, "stateStartTime");
	return v->state < 0 ? -EINVAL : 0;
}

/* The engine's inputs, read from the deploy, its stage and the store's counts. */
struct transition_input {
	struct deploy_view dv;
	struct transition_settings set;
	struct transition_counts tc;
	struct schedule_view sv;
};

static void transition_input_from(const json_t *env, const json_t *dep, const struct deploy_counts *dc,
				  struct transition_input *in)
{
	in->dv = (struct deploy_view){
		.type = deploy_type_from_string(json_str(dep, "type")),
		.state = deploy_state_from_string(json_str(dep, "state")),
		.last_update_date = json_int(dep, "lastUpdateDate"),
		.success_date = json_int(dep, "successDate"),
		.success_total = (int)json_int(dep, "successTotal"),
		.fail_total = (int)json_int(dep, "failTotal"),
		.total = (int)json_int(dep, "total"),
		.acceptance_status = acceptance_status_from_string(json_str(dep, "acceptanceStatus")),
	};
	in->set = (struct transition_settings){
		.is_current = true,
		.env_state = env_state_from_string(json_str(env, "envState")),
		.success_threshold = (int)json_int(env, "successThreshold"),
		.stuck_threshold_s = (int)json_int(env, "stuckThreshold"),
		.acceptance_type = acceptance_type_from_string(json_str(env, "acceptanceType")),
		.failure_policy = failure_policy_from_string(json_str(env, "failurePolicy")),
	};
	in->tc = (struct transition_counts){
		.total = (int)dc->total,
		.succeeded = (int)dc->succeeded,
		.failed = (int)dc->failed,
		.schedule_done = (int)dc->schedule_progress,
		.on_deploy = (int)dc->rows_on_deploy,
	};
}

/* Emit kind for deploy dep as the transition just wrote it (upd). */
static void emit(struct server *srv, const json_t *env, json_t *dep, const json_t *upd, enum deploy_event_kind kind)
{
	json_t *build = NULL;

	(void)json_object_update(dep, (json_t *)upd);
	if (store_build_get(srv->store, json_str(dep, "buildId"), &build) >= 0)
		deploy_event_emit(srv, &(struct deploy_event){ .kind = kind, .env = env, .deploy = dep, .build = build });
	json_decref(build);
}

int deploy_transition_run(struct server *srv, const json_t *env)
{
	const char *deploy_id = json_str(env, "deployId");
	json_t *dep = NULL, *sch = NULL, *upd = NULL;
	struct deploy_counts dc;
	struct transition_input in;
	struct transition_result res;
	pthread_mutex_t *lock;
	int k;

	if (!deploy_id || !streq_ptr(json_str(env, "envState"), "NORMAL"))
		return 0;
	lock = &srv->transition_locks[(uint64_t)hash_lock_key(deploy_id) % ELEMENTSOF(srv->transition_locks)];
	if (pthread_mutex_trylock(lock) != 0)
		return 0; /* another thread is transitioning this deploy: skip (§7.3) */
	k = store_deploy_get(srv->store, deploy_id, &dep);
	if (k < 0)
		goto out;
	if (!deploy_state_is_active(deploy_state_from_string(json_str(dep, "state"))))
		goto out;
	k = store_deploy_counts(srv->store, json_str(env, "id"), deploy_id, &dc);
	if (k < 0)
		goto out;
	k = store_schedule_get(srv->store, json_str(env, "id"), &sch);
	if (k == -ENOENT)
		k = 0;
	if (k < 0)
		goto out;
	k = schedule_view_from(sch, &in.sv);
	if (k < 0)
		goto out;
	transition_input_from(env, dep, &dc, &in);
	k = engine_transition(&in.dv, &in.set, sch ? &in.sv : NULL, &in.tc, now_ms(), &res);
	if (k < 0)
		goto out;
	if (res.finalise) {
		k = store_deploy_finalize(srv->store, deploy_id);
		goto out;
	}
	if (res.schedule_changed && sch) {
		(void)json_object_set_new(sch, "envId", json_string(json_str(env, "id")));
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
			acceptance_status_to_string(res.first_succeeding ? res.acceptance_status : in.dv.acceptance_status));
	if (!upd) {
		k = -ENOMEM;
		goto out;
	}
	(void)json_object_set_new(upd, "successDate",
				  res.first_succeeding ? json_integer(res.success_date)
				  : in.dv.success_date    ? json_integer(in.dv.success_date)
						       : json_null());
	k = store_deploy_cas(srv->store, upd, deploy_state_to_string(res.old_state));
	if (k <= 0)
		goto out; /* error, or another replica did it */
	k = 0;
	if (res.state != res.old_state) {
		if (res.state >= 0 && res.state < _DEPLOY_STATE_MAX)
			METRIC_INC(srv, transitions_to[res.state]);
		log_info("deploy '%s' on %s/%s: %s -> %s (%d/%d succeeded, %d failed)", deploy_id, json_str(env, "envName"),
			 json_str(env, "stageName"), deploy_state_to_string(res.old_state), deploy_state_to_string(res.state),
			 res.success_total, res.total, res.fail_total);
	}
	if (res.first_succeeding)
		emit(srv, env, dep, upd, DEPLOY_EVENT_SUCCEEDING);
	else if (res.state == DEPLOY_STATE_FAILING && res.old_state != DEPLOY_STATE_FAILING)
		emit(srv, env, dep, upd, DEPLOY_EVENT_FAILING);
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
