/* SPDX-License-Identifier: Apache-2.0 */
/* workers/promoter.c: the auto-promoter (PROTOCOL §8.2): for every stage whose promote config is
 * AUTO, promote the right build (predStage BUILD) or the right accepted deploy of the predecessor
 * stage, honouring queueSize, delay, the cron schedule window and the failPolicy. Each stage is
 * one unit of work claimed as PROMOTE-<envId> once per half period. The decisions are the engine's
 * (engine/promote.c): this file reads what they need and creates the deploys through deploy/. Logs
 * its decisions. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cron.h"
#include "deploy.h"
#include "enums.h"
#include "jsonutil.h"
#include "log.h"
#include "promote.h"
#include "util.h"
#include "workers.h"
#include "banned.h"

#define OPERATOR "AutoPromoter"
#define MAX_CANDIDATES 100

static int set_manual(struct server *srv, json_t *listed, const char *reason)
{
	json_t *hist, *promote = NULL;
	char id[ID_LEN + 1];
	int r;

	/* re-read so that a configuration change made since the candidate list was read is kept */
	r = store_promote_get(srv->store, json_str(listed, "envId"), &promote);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	if (!streq_ptr(json_str(promote, "type"), "AUTO")) {
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
	hist = json_pack("{s:s,s:s,s:I,s:s,s:s,s:s}", "id", json_str(promote, "envId"), "changeId", id, "createTime",
			 (json_int_t)now_ms(), "operator", OPERATOR, "type", "Env Promote Config", "configChange",
			 reason);
	r = store_promote_put(srv->store, promote, hist);
	json_decref(hist);
	json_decref(promote);
	return r;
}

/* The current deploy of env has not changed since we looked (step 7). */
static bool still_current(struct server *srv, const json_t *env)
{
	json_t *fresh = NULL;
	bool same;

	if (store_env_get_by_id(srv->store, json_str(env, "id"), &fresh) < 0)
		return false;
	same = streq_ptr(json_str(fresh, "deployId"), json_str(env, "deployId")) &&
	       streq_ptr(json_str(fresh, "envState"), "NORMAL");
	json_decref(fresh);
	return same;
}

/* A candidate: the build to deploy, the predecessor's deploy it comes from (NULL for a build), and its stamp. */
static int add_candidate(json_t *cands, const json_t *build, const json_t *deploy)
{
	json_t *c = json_pack("{s:O,s:O*,s:I}", "build", build, "deploy", deploy, "stamp",
			      json_int(deploy ? deploy : build, deploy ? "startDate" : "publishDate"));

	return c && json_array_append_new(cands, c) == 0 ? 0 : -ENOMEM;
}

/* The stage's builds published in [after, before] that the build rules accept, newest first. */
static int build_candidates(struct server *srv, const json_t *env, int64_t after, int64_t before, json_t *cands)
{
	struct build_query q = { .name = json_str(env, "buildName"), .branch = json_str(env, "branch"),
				 .before = before, .after = after, .offset = 0, .limit = MAX_CANDIDATES };
	json_t *builds = NULL, *b;
	size_t i;
	int r;

	if (q.branch && !*q.branch)
		q.branch = NULL;
	r = store_build_list(srv->store, &q, &builds);
	json_array_foreach(builds, i, b) {
		if (r >= 0 && deploy_build_allowed(srv, env, b, DEPLOY_TYPE_REGULAR))
			r = add_candidate(cands, b, NULL);
	}
	json_decref(builds);
	return r;
}

/* The accepted REGULAR and HOTFIX deploys of pred started in [after, before] whose build the rules accept on
 * env, newest first. */
static int deploy_candidates(struct server *srv, const json_t *env, const json_t *pred, int64_t after, int64_t before,
			     json_t *cands)
{
	json_t *q, *res = NULL, *d;
	size_t i;
	int r;

	q = json_pack("{s:[s],s:[s,s],s:[s],s:I,s:I,s:b,s:i,s:i}", "envId", json_str(pred, "id"), "deployType",
		      "REGULAR", "HOTFIX", "acceptanceStatus", "ACCEPTED", "after", (json_int_t)after, "before",
		      (json_int_t)before, "oldestFirst", 0, "limit", MAX_CANDIDATES, "offset", 0);
	if (!q)
		return -ENOMEM;
	r = store_deploy_list(srv->store, q, &res);
	json_array_foreach(json_object_get(res, "deploys"), i, d) {
		json_t *b = NULL;
		if (r < 0 || store_build_get(srv->store, json_str(d, "buildId"), &b) < 0)
			continue;
		if (deploy_build_allowed(srv, env, b, DEPLOY_TYPE_REGULAR))
			r = add_candidate(cands, b, d);
		json_decref(b);
	}
	json_decref(q);
	json_decref(res);
	return r;
}

/* When the current deploy's source came: the publishDate of its build, or the startDate of the predecessor's
 * deploy it was promoted from (else its own startDate). 0 without a current deploy. */
static int64_t source_start(struct server *srv, const json_t *cur, const json_t *pred)
{
	json_t *o = NULL;
	int64_t start = 0;

	if (!cur)
		return 0;
	if (!pred) {
		if (store_build_get(srv->store, json_str(cur, "buildId"), &o) >= 0)
			start = json_int(o, "publishDate");
	} else {
		start = json_int(cur, "startDate");
		if (json_str(cur, "fromDeployId") && store_deploy_get(srv->store, json_str(cur, "fromDeployId"), &o) >= 0 &&
		    streq_ptr(json_str(o, "envId"), json_str(pred, "id")))
			start = json_int(o, "startDate");
	}
	json_decref(o);
	return start;
}

/* Look for a candidate (the engine picks it) and promote it. pred: the predecessor stage, NULL for BUILD. */
static int promote_candidate(struct server *srv, const json_t *env, const struct engine_promote_config *cfg,
			     const json_t *cur, const json_t *pred, int64_t now)
{
	json_t *cands = NULL, *pick, *from, *dep = NULL;
	int64_t after, before, stamps[MAX_CANDIDATES], k;
	size_t n = 0;
	char desc[128];
	int r;

	if (!engine_promote_window(cfg, source_start(srv, cur, pred), now, &after, &before))
		return 0;
	cands = json_array();
	if (!cands)
		return -ENOMEM;
	r = pred ? deploy_candidates(srv, env, pred, after, before, cands)
		 : build_candidates(srv, env, after, before, cands);
	for (n = 0; r >= 0 && n < json_array_size(cands) && n < MAX_CANDIDATES; n++)
		stamps[n] = json_int(json_array_get(cands, n), "stamp");
	k = r < 0 ? -1 : engine_promote_pick(cfg, stamps, n, now);
	if (k < 0 || !still_current(srv, env))
		goto out;
	pick = json_array_get(cands, (size_t)k);
	from = json_object_get(pick, "deploy");
	(void)str_printf(desc, sizeof(desc), "Auto promote %s %s", from ? "deploy" : "build",
			 json_str(from ? from : json_object_get(pick, "build"), "id"));
	r = deploy_create(srv,
			  &(struct deploy_request){ .env = env, .build = json_object_get(pick, "build"),
						    .type = DEPLOY_TYPE_REGULAR, .from_deploy_id = json_str(from, "id"),
						    .operator_name = OPERATOR, .description = desc,
						    .action = "AUTO_PROMOTE", .delivery_type = -1 },
			  &dep);
out:
	json_decref(cands);
	json_decref(dep);
	return r;
}

/* failPolicy on a FAILING or REJECTED current deploy: ROLLBACK rolls back (when there is a target); both turn
 * auto-promote off. */
static int fail_policy(struct server *srv, json_t *promote, const json_t *env, const json_t *cur,
		       enum engine_promote_gate gate)
{
	json_t *target = NULL, *dep = NULL;
	int r = 0;

	if (gate == ENGINE_PROMOTE_ROLLBACK && deploy_find_rollback_target(srv, env, NULL, &target) == 0)
		r = deploy_create(srv,
				  &(struct deploy_request){ .env = env, .build = json_object_get(target, "build"),
							    .type = DEPLOY_TYPE_ROLLBACK,
							    .alias = json_str(json_object_get(target, "deploy"), "id"),
							    .operator_name = OPERATOR, .description = "Auto promote rollback",
							    .action = "ROLLBACK", .delivery_type = -1 },
				  &dep);
	json_decref(target);
	json_decref(dep);
	if (r < 0)
		return r;
	r = set_manual(srv, promote, "{\"type\":\"MANUAL\",\"reason\":\"failPolicy\"}");
	log_notice("auto-promote of %s/%s disabled: deploy '%s' %s", json_str(env, "envName"), json_str(env, "stageName"),
		   json_str(cur, "id"), streq_ptr(json_str(cur, "state"), "FAILING") ? "is FAILING" : "was REJECTED");
	return r;
}

static int promote_stage(struct server *srv, json_t *promote, int64_t now)
{
	json_t *env = NULL, *cur = NULL, *pred = NULL;
	struct engine_promote_config cfg = { .from_build = streq_ptr(json_str(promote, "predStage"), "BUILD"),
					     .queue_size = json_int(promote, "queueSize"),
					     .delay_ms = json_int(promote, "delay") * 60000 };
	enum engine_promote_gate gate;
	struct cron sched;
	bool blocked;
	char err[128];
	int r;

	r = store_env_get_by_id(srv->store, json_str(promote, "envId"), &env);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	if (!streq_ptr(json_str(env, "envState"), "NORMAL"))
		goto out;
	r = deploy_promote_blocked(srv, env, &blocked);
	if (r < 0 || blocked)
		goto out;
	if (json_str(env, "deployId")) {
		r = store_deploy_get(srv->store, json_str(env, "deployId"), &cur);
		if (r < 0)
			goto out;
	}
	gate = engine_promote_gate(cur != NULL, deploy_state_from_string(json_str(cur, "state")),
				   acceptance_status_from_string(json_str(cur, "acceptanceStatus")),
				   promote_fail_policy_from_string(json_str(promote, "failPolicy")));
	if (gate == ENGINE_PROMOTE_WAIT)
		goto out;
	if (gate != ENGINE_PROMOTE_LOOK) {
		r = fail_policy(srv, promote, env, cur, gate);
		goto out;
	}
	if (json_str(promote, "schedule")) {
		if (cron_parse(json_str(promote, "schedule"), &sched, err, sizeof(err)) < 0) {
			log_warn("auto-promote of %s/%s: bad schedule '%s' (%s), skipping", json_str(env, "envName"),
				 json_str(env, "stageName"), json_str(promote, "schedule"), err);
			goto out;
		}
		cfg.schedule = &sched;
	}
	if (!cfg.from_build) {
		r = store_env_get(srv->store, json_str(env, "envName"), json_str(promote, "predStage"), &pred);
		if (r == -ENOENT || (r >= 0 && !json_str(pred, "deployId"))) {
			r = 0;
			goto out;
		}
		if (r < 0)
			goto out;
	}
	r = promote_candidate(srv, env, &cfg, cur, pred, now);
out:
	json_decref(env);
	json_decref(cur);
	json_decref(pred);
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
		(void)str_printf(unit, sizeof(unit), "PROMOTE-%s", json_str(p, "envId"));
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
			r = store_promote_get(srv->store, json_str(p, "envId"), &fresh);
			if (r >= 0 && streq_ptr(json_str(fresh, "type"), "AUTO") && json_str(fresh, "predStage"))
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
