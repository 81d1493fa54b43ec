/* SPDX-License-Identifier: Apache-2.0 */
/* workers/promoter.c: the auto-promoter (PROTOCOL §8.2): for every stage whose promote config is
 * AUTO, promote the right build (predStage BUILD) or the right accepted deploy of the predecessor
 * stage, honouring queueSize, delay, the cron schedule window and the failPolicy. Each stage is
 * one unit of work claimed as PROMOTE-<envId> once per half period. Logs its decisions. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cron.h"
#include "deploy.h"
#include "enums.h"
#include "log.h"
#include "util.h"
#include "workers.h"
#include "banned.h"

#define OPERATOR "AutoPromoter"
#define WINDOW_MS (2 * 60 * 1000)

static const char *js(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static int64_t ji(const json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

static int set_manual(struct server *srv, json_t *listed, const char *reason)
{
	json_t *hist, *promote = NULL;
	char id[ID_LEN + 1];
	int r;

	/* re-read so that a configuration change made since the candidate list was read is kept */
	r = store_promote_get(srv->store, js(listed, "envId"), &promote);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	if (!streq_ptr(js(promote, "type"), "AUTO")) {
		json_decref(promote);
		return 0;
	}
	(void)json_object_set_new(promote, "type", json_string("MANUAL"));
	(void)json_object_set_new(promote, "lastOperator", json_string(OPERATOR));
	(void)json_object_set_new(promote, "lastUpdate", json_integer(now_ms()));
	if (id_generate(id) < 0) {
		json_decref(promote);
		return -EIO;
	}
	hist = json_pack("{s:s,s:s,s:I,s:s,s:s,s:s}", "id", js(promote, "envId"), "changeId", id, "createTime",
			 (json_int_t)now_ms(), "operator", OPERATOR, "type", "Env Promote Config", "configChange",
			 reason);
	r = store_promote_put(srv->store, promote, hist);
	json_decref(hist);
	json_decref(promote);
	return r;
}

/* Is now inside a window [fire, fire + 2 min) of the schedule? */
static bool in_window(const struct cron *c, int64_t now)
{
	int64_t fire;
	return cron_next(c, now - WINDOW_MS + 1, &fire) == 0 && fire <= now;
}

/* With a schedule: the first fire at or after (t + delay) must be <= now. */
static bool schedule_allows(const struct cron *c, int64_t t, int64_t delay_ms, int64_t now)
{
	int64_t fire;
	return cron_next(c, t + delay_ms, &fire) == 0 && fire <= now;
}

static bool build_ok(struct server *srv, const json_t *env, const json_t *build)
{
	return deploy_build_allowed(srv, env, build, DEPLOY_TYPE_REGULAR);
}

/* The current deploy of env has not changed since we looked (step 7). */
static bool still_current(struct server *srv, const json_t *env)
{
	json_t *fresh = NULL;
	bool same;

	if (store_env_get_by_id(srv->store, js(env, "id"), &fresh) < 0)
		return false;
	same = streq_ptr(js(fresh, "deployId"), js(env, "deployId")) &&
	       streq_ptr(js(fresh, "envState"), "NORMAL");
	json_decref(fresh);
	return same;
}

static int promote_from_build(struct server *srv, const json_t *env, const json_t *promote, const json_t *cur,
			      const struct cron *sched, int64_t now)
{
	int64_t size = ji(promote, "queueSize"), delay_ms = ji(promote, "delay") * 60000, end = now - delay_ms;
	int64_t start = 0;
	struct build_query q = { 0 };
	json_t *builds = NULL, *cands = json_array(), *b, *pick = NULL, *dep = NULL;
	size_t i;
	int r = 0;

	if (!cands)
		return -ENOMEM;
	if (cur) {
		json_t *cb = NULL;
		if (store_build_get(srv->store, js(cur, "buildId"), &cb) >= 0)
			start = ji(cb, "publishDate");
		json_decref(cb);
	}
	if (end < start || (sched && !in_window(sched, now)))
		goto out;
	q = (struct build_query){ .name = js(env, "buildName"), .branch = js(env, "branch"), .before = end - 1,
				  .after = start, .offset = 0, .limit = 100 };
	if (q.branch && !*q.branch)
		q.branch = NULL;
	r = store_build_list(srv->store, &q, &builds);
	if (r < 0)
		goto out;
	json_array_foreach(builds, i, b) if (build_ok(srv, env, b))(void) json_array_append(cands, b);
	if ((int64_t)json_array_size(cands) < size)
		goto out;
	if (!sched)
		pick = json_array_get(cands, (size_t)size - 1);
	else
		json_array_foreach(cands, i, b) if (schedule_allows(sched, ji(b, "publishDate"), delay_ms, now)) {
			pick = b;
			break;
		}
	if (!pick || !still_current(srv, env))
		goto out;
	char desc[128];
	(void)str_printf(desc, sizeof(desc), "Auto promote build %s", js(pick, "id"));
	r = deploy_create(srv,
			  &(struct deploy_request){ .env = env, .build = pick, .type = DEPLOY_TYPE_REGULAR,
						    .operator_name = OPERATOR, .description = desc,
						    .action = "AUTO_PROMOTE", .delivery_type = -1 },
			  &dep);
out:
	json_decref(builds);
	json_decref(cands);
	json_decref(dep);
	return r;
}

static int promote_from_stage(struct server *srv, const json_t *env, const json_t *promote, const json_t *cur,
			      const struct cron *sched, int64_t now)
{
	int64_t size = ji(promote, "queueSize"), delay_ms = ji(promote, "delay") * 60000, end = now - delay_ms;
	int64_t start = 0;
	json_t *pred = NULL, *q = NULL, *res = NULL, *cands = json_array(), *d, *pick = NULL, *pick_build = NULL,
	       *dep = NULL;
	size_t i;
	int r;

	if (!cands)
		return -ENOMEM;
	r = store_env_get(srv->store, js(env, "envName"), js(promote, "predStage"), &pred);
	if (r == -ENOENT || (r >= 0 && !js(pred, "deployId"))) {
		r = 0;
		goto out;
	}
	if (r < 0)
		goto out;
	if (cur) {
		json_t *from = NULL;
		start = ji(cur, "startDate");
		if (js(cur, "fromDeployId") && store_deploy_get(srv->store, js(cur, "fromDeployId"), &from) >= 0 &&
		    streq_ptr(js(from, "envId"), js(pred, "id")))
			start = ji(from, "startDate");
		json_decref(from);
	}
	if (end <= start + 1 || (sched && !in_window(sched, now)))
		goto out;
	q = json_pack("{s:[s],s:[s,s],s:[s],s:I,s:I,s:b,s:i,s:i}", "envId", js(pred, "id"), "deployType", "REGULAR",
		      "HOTFIX", "acceptanceStatus", "ACCEPTED", "after", (json_int_t)start + 1, "before",
		      (json_int_t)end - 1, "oldestFirst", 0, "limit", 100, "offset", 0);
	if (!q) {
		r = -ENOMEM;
		goto out;
	}
	r = store_deploy_list(srv->store, q, &res);
	if (r < 0)
		goto out;
	json_array_foreach(json_object_get(res, "deploys"), i, d) {
		json_t *b = NULL;
		if (store_build_get(srv->store, js(d, "buildId"), &b) < 0)
			continue;
		if (build_ok(srv, env, b))
			(void)json_array_append_new(cands, json_pack("{s:O,s:o}", "deploy", d, "build", b));
		else
			json_decref(b);
	}
	if ((int64_t)json_array_size(cands) < size)
		goto out;
	if (!sched)
		pick = json_array_get(cands, (size_t)size - 1);
	else
		json_array_foreach(cands, i, d) if (schedule_allows(sched, ji(json_object_get(d, "deploy"), "startDate"),
								    delay_ms, now)) {
			pick = d;
			break;
		}
	if (!pick || !still_current(srv, env))
		goto out;
	pick_build = json_object_get(pick, "build");
	char desc[128];
	(void)str_printf(desc, sizeof(desc), "Auto promote deploy %s", js(json_object_get(pick, "deploy"), "id"));
	r = deploy_create(srv,
			  &(struct deploy_request){ .env = env, .build = pick_build, .type = DEPLOY_TYPE_REGULAR,
						    .from_deploy_id = js(json_object_get(pick, "deploy"), "id"),
						    .operator_name = OPERATOR, .description = desc,
						    .action = "AUTO_PROMOTE", .delivery_type = -1 },
			  &dep);
out:
	json_decref(pred);
	json_decref(q);
	json_decref(res);
	json_decref(cands);
	json_decref(dep);
	return r;
}

static int promote_stage(struct server *srv, json_t *promote, int64_t now)
{
	json_t *env = NULL, *cur = NULL, *target = NULL, *dep = NULL;
	struct cron sched;
	bool blocked, has_sched = false;
	char err[128];
	int r;

	r = store_env_get_by_id(srv->store, js(promote, "envId"), &env);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	if (!streq_ptr(js(env, "envState"), "NORMAL"))
		goto out;
	r = deploy_promote_blocked(srv, env, &blocked);
	if (r < 0 || blocked)
		goto out;
	if (js(env, "deployId")) {
		r = store_deploy_get(srv->store, js(env, "deployId"), &cur);
		if (r < 0)
			goto out;
		bool failing = streq_ptr(js(cur, "state"), "FAILING");
		bool rejected = streq_ptr(js(cur, "acceptanceStatus"), "REJECTED");
		if (!failing && !acceptance_status_is_final(acceptance_status_from_string(js(cur, "acceptanceStatus"))))
			goto out; /* not replaceable yet */
		if ((failing || rejected) && !streq_ptr(js(promote, "failPolicy"), "CONTINUE")) {
			if (streq_ptr(js(promote, "failPolicy"), "ROLLBACK") &&
			    deploy_find_rollback_target(srv, env, NULL, &target) == 0) {
				r = deploy_create(srv,
						  &(struct deploy_request){
							  .env = env, .build = json_object_get(target, "build"),
							  .type = DEPLOY_TYPE_ROLLBACK,
							  .alias = js(json_object_get(target, "deploy"), "id"),
							  .operator_name = OPERATOR, .description = "Auto promote rollback",
							  .action = "ROLLBACK", .delivery_type = -1 },
						  &dep);
				if (r < 0)
					goto out;
			}
			r = set_manual(srv, promote, "{\"type\":\"MANUAL\",\"reason\":\"failPolicy\"}");
			log_notice("auto-promote of %s/%s disabled: deploy '%s' %s", js(env, "envName"),
				   js(env, "stageName"), js(cur, "id"), failing ? "is FAILING" : "was REJECTED");
			goto out;
		}
	}
	if (js(promote, "schedule")) {
		if (cron_parse(js(promote, "schedule"), &sched, err, sizeof(err)) < 0) {
			log_warn("auto-promote of %s/%s: bad schedule '%s' (%s), skipping", js(env, "envName"),
				 js(env, "stageName"), js(promote, "schedule"), err);
			goto out;
		}
		has_sched = true;
	}
	if (streq_ptr(js(promote, "predStage"), "BUILD"))
		r = promote_from_build(srv, env, promote, cur, has_sched ? &sched : NULL, now);
	else
		r = promote_from_stage(srv, env, promote, cur, has_sched ? &sched : NULL, now);
out:
	json_decref(env);
	json_decref(cur);
	json_decref(target);
	json_decref(dep);
	return r;
}

int promote_worker_run(struct server *srv)
{
	int r = promote_worker_pass(srv, now_ms(), NULL);
	return r < 0 ? r : 0;
}

int promote_worker_pass(struct server *srv, int64_t now, json_t *ret_units)
{
	json_t *list = NULL, *p;
	size_t i;
	int r, failed = 0, ran = 0;

	r = store_promote_list_auto(srv->store, &list);
	if (r < 0)
		return server_db_error(srv, r, "auto-promoter: cannot list promote configs");
	json_array_foreach(list, i, p) {
		char unit[64];
		if (srv->stopping)
			break;
		(void)str_printf(unit, sizeof(unit), "PROMOTE-%s", js(p, "envId"));
		r = worker_claim_unit(srv, unit, now, srv->cfg.promote_period * 1000);
		if (r <= 0) {
			if (r < 0)
				failed = r;
			continue;
		}
		ran++;
		if (ret_units)
			(void)json_array_append_new(ret_units, json_string(unit));
		{
			/* the list may be a few seconds old: act on the configuration as it is now */
			json_t *fresh = NULL;
			r = store_promote_get(srv->store, js(p, "envId"), &fresh);
			if (r >= 0 && streq_ptr(js(fresh, "type"), "AUTO") && js(fresh, "predStage"))
				r = promote_stage(srv, fresh, now);
			else if (r == -ENOENT)
				r = 0;
			json_decref(fresh);
		}
		if (r < 0)
			failed = server_db_error(srv, r, "auto-promoter failed");
	}
	json_decref(list);
	return failed < 0 ? failed : ran;
}
