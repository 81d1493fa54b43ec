/* SPDX-License-Identifier: Apache-2.0 */
/* api/deploys.c: the deploy routes (PROTOCOL §4.5, §7): create (§7.1), current, actions (§7.2), progress,
 * missing hosts, host actions, list, get, acceptance, daily count. HTTP translation only: creating a deploy and
 * its state transition are the deploy service's (deploy/deploy.h), which answers a refusal this file turns into
 * a status code. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "buf.h"
#include "deploy.h"
#include "deploy_input.h"
#include "enums.h"
#include "jsonutil.h"
#include "log.h"
#include "outcome.h"
#include "util.h"
#include "banned.h"

/* A deploy as the API shows it: the store's row with its outcome (engine/outcome.h) in place of the facts it is
 * derived from. */
static json_t *deploy_view(json_t *dep)
{
	const char *replaced = json_str(dep, "replacedState"), *by = json_str(dep, "replacedByType");
	struct deploy_outcome_facts f = {
		.state = deploy_state_from_string(json_str(dep, "state")),
		.total = json_int(dep, "total"),
		.fail_total = json_int(dep, "failTotal"),
		.replaced_state = replaced ? deploy_state_from_string(replaced) : -1,
		.replaced_by = by ? deploy_type_from_string(by) : -1,
	};

	(void)json_object_set_new(dep, "outcome", json_string(deploy_outcome_to_string(engine_deploy_outcome(&f))));
	(void)json_object_del(dep, "replacedState");
	(void)json_object_del(dep, "replacedByType");
	return dep;
}

static int get_deploy(struct req *r, const char *id, const char *field, json_t **ret)
{
	int k = api_get_by_id(r, "deploy", field, id, store_deploy_get, ret);

	if (k < 0)
		return k;
	deploy_view(*ret);
	return 0;
}

static int reply_created_deploy(struct req *r, json_t *dep)
{
	char location[128];
	(void)str_printf(location, sizeof(location), "/v1/deploys/%s", json_str(dep, "id"));
	return http_reply_created(r, location, deploy_view(dep));
}

/* Answer a refusal of the input validators (api/deploy_input.h). */
static int input_bad(struct req *r, int k, const struct deploy_input_error *err)
{
	if (k == -EINVAL)
		return req_bad(r, err->field[0] ? err->field : NULL, "%s", err->message);
	return k;
}

/* Answer a refusal of the deploy service (deploy/deploy.h). */
static int refused(struct req *r, int k, const struct deploy_refusal *f)
{
	static const int status[] = {
		[DEPLOY_REFUSED_INVALID] = 400,
		[DEPLOY_REFUSED_NOT_FOUND] = 404,
		[DEPLOY_REFUSED_CONFLICT] = 409,
	};

	if (k != -ECANCELED)
		return api_store_error(r, k, "cannot create deploy");
	return http_fail(r, status[f->kind], f->field[0] ? f->field : NULL, "%s", f->message);
}

static int deploy_post(struct req *r)
{
	struct deploy_create_input in;
	struct deploy_input_error err;
	struct deploy_refusal refusal;
	json_t *env = NULL, *dep = NULL;
	int k;

	k = api_env_from_path(r, &env);
	if (k < 0)
		return k;
	k = deploy_input_create(req_query(r), env_type_from_string(json_str(env, "stageType")), &in, &err);
	if (k < 0) {
		k = input_bad(r, k, &err);
		goto out;
	}
	k = deploy_start(r->srv, env, in.build_id, in.delivery_type,
			 &(struct deploy_order){ .operator_name = api_operator(r), .description = in.description,
						 .force = in.force },
			 &dep, &refusal);
	k = k < 0 ? refused(r, k, &refusal) : reply_created_deploy(r, dep);
out:
	json_decref(env);
	return k;
}

static int deploy_current(struct req *r)
{
	json_t *env = NULL, *dep = NULL;
	int k;

	k = api_env_from_path(r, &env);
	if (k < 0)
		return k;
	if (!json_str(env, "deployId")) {
		k = http_fail(r, 404, NULL, "the stage has no deploy");
	} else {
		k = get_deploy(r, json_str(env, "deployId"), NULL, &dep);
		if (k >= 0)
			k = http_reply_json(r, 200, dep);
	}
	json_decref(env);
	return k;
}

/* PAUSE / RESUME: the stage's state; the reply is the current deploy, if any. */
static int deploy_pause(struct req *r, const json_t *env, bool pause)
{
	json_t *chg = json_string(pause ? "PAUSE" : "RESUME"), *hist, *dep = NULL;
	int k;

	hist = api_history(r, json_str(env, "id"), "Env Action", chg);
	json_decref(chg);
	if (!hist)
		return -ENOMEM;
	k = store_env_set_state(r->srv->store, json_str(env, "id"), pause ? "PAUSED" : "NORMAL", !pause, hist);
	json_decref(hist);
	if (k < 0)
		return api_store_error(r, k, "cannot change the stage state");
	if (!json_str(env, "deployId"))
		return http_reply_empty(r, 204);
	k = get_deploy(r, json_str(env, "deployId"), NULL, &dep);
	if (k < 0)
		return k;
	return http_reply_created(r, NULL, dep);
}

static int deploy_action(struct req *r)
{
	struct deploy_action_input in;
	struct deploy_input_error err;
	struct deploy_refusal refusal;
	struct deploy_order o;
	json_t *env = NULL, *dep = NULL;
	int k;

	k = api_env_from_path(r, &env);
	if (k < 0)
		return k;
	k = deploy_input_action(req_query(r), &in, &err);
	if (k < 0) {
		k = input_bad(r, k, &err);
		goto out;
	}
	o = (struct deploy_order){ .operator_name = api_operator(r), .description = in.description, .force = in.force };
	switch (in.action) {
	case DEPLOY_ACTION_PROMOTE:
		k = deploy_promote(r->srv, env, in.from_deploy_id, &o, &dep, &refusal);
		break;
	case DEPLOY_ACTION_ROLLBACK:
		k = deploy_rollback(r->srv, env, in.to_deploy_id, &o, &dep, &refusal);
		break;
	case DEPLOY_ACTION_RESTART:
		k = deploy_restart(r->srv, env, &o, &dep, &refusal);
		break;
	default:
		k = deploy_pause(r, env, in.action == DEPLOY_ACTION_PAUSE);
		goto out;
	}
	k = k < 0 ? refused(r, k, &refusal) : reply_created_deploy(r, dep);
out:
	json_decref(env);
	return k;
}

/* ,"next":<the last agent's hostName when a page of pg->limit rows is full, else null> for the page of agent rows
 * written into out from byte `from` to byte `to`. */
static int append_next(struct buf *out, size_t from, size_t to, const struct store_page *pg)
{
	json_t *page = NULL, *next;
	int k;

	page = json_loadb(out->p + from, to - from, 0, NULL);
	if (!page)
		return -EBADMSG;
	next = json_array_size(page) == (size_t)pg->limit
		       ? json_object_get(json_array_get(page, json_array_size(page) - 1), "hostName")
		       : NULL;
	k = buf_appends(out, ",\"next\":");
	if (k >= 0)
		k = json_append_value(out, next ? next : json_null());
	json_decref(page);
	return k;
}

/* The reply is written as text straight from the rows: for 10,000 hosts a DOM of the agents costs most of the
 * request (the board's stage page). Same bytes as json_dumps of {agents, missingHosts, provisioningHosts,
 * removedHosts}. With limit: one page of agents, each list cut to limit entries, and "next". The deploy's state
 * transition runs first either way (it reads the stage's kept counts, not its rows). */
static int deploy_progress(struct req *r)
{
	json_t *env = NULL, *missing = NULL, *provisioning = NULL, *removed = NULL;
	struct store_page pg;
	bool prov;
	struct buf out;
	const char *env_id;
	size_t from, to = 0;
	int k;

	k = api_host_page(r, false, &pg);
	if (k < 0)
		return k;
	/* a page's provisioningHosts walks the capacity's hosts: only when asked */
	if (query_bool(req_query(r), "provisioning", !pg.limit, &prov) < 0 || (!prov && !pg.limit))
		return req_bad(r, "provisioning", "provisioning must be true or false, and false comes with limit");
	buf_init(&out, BUF_UNBOUNDED);
	k = api_env_from_path(r, &env);
	if (k < 0)
		return k;
	env_id = json_str(env, "id");
	if (!json_str(env, "deployId")) {
		k = http_fail(r, 404, NULL, "the stage has no deploy");
		goto out;
	}
	(void)deploy_transition_run(r->srv, env);
	k = buf_appends(&out, "{\"agents\":");
	if (k < 0)
		goto out;
	from = out.len;
	k = store_agent_list_env_text(r->srv->store, env_id, &pg, &out);
	to = out.len;
	if (k >= 0)
		k = store_progress_lists(r->srv->store, env_id, pg.limit, &missing, prov ? &provisioning : NULL, &removed);
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
		k = json_append_value(&out, provisioning ? provisioning : json_null());
	if (k >= 0)
		k = buf_appends(&out, ",\"removedHosts\":");
	if (k >= 0)
		k = json_append_value(&out, removed);
	if (k >= 0 && pg.limit)
		k = append_next(&out, from, to, &pg);
	if (k >= 0)
		k = buf_appendc(&out, '}');
	if (k >= 0) {
		size_t len = out.len;
		k = http_reply_json_text(r, 200, buf_detach(&out), len);
	}
out:
	json_decref(missing);
	json_decref(provisioning);
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
	k = store_progress_lists(r->srv->store, json_str(env, "id"), 0, &missing, NULL, NULL);
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
	k = store_agent_action(r->srv->store, json_str(env, "id"), ids, a, api_operator(r), now_ms());
	k = api_store_done(r, k, "cannot apply the host action");
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
	for (size_t i = 0; i < json_array_size(json_object_get(res, "deploys")); i++)
		deploy_view(json_array_get(json_object_get(res, "deploys"), i));
	n = json_int(res, "total");
	(void)json_object_set_new(res, "truncated", json_boolean(n > off + lim));
	(void)json_object_set_new(res, "deployTags", json_null());
	k = http_reply_json(r, 200, res);
out:
	json_decref(query);
	return k;
}

/* The deploy of the path's {id} and its stage (*ret_env NULL when the stage is gone); on failure the reply is made
 * and *ret_dep may hold the deploy (the caller frees both). */
static int deploy_and_env(struct req *r, json_t **ret_dep, json_t **ret_env)
{
	int k = get_deploy(r, req_param(r, "id"), NULL, ret_dep);

	if (k < 0)
		return k;
	k = store_env_get_by_id(r->srv->store, json_str(*ret_dep, "envId"), ret_env);
	if (k < 0 && k != -ENOENT)
		return api_store_error(r, k, "cannot read env stage");
	return 0;
}

static int deploy_accept(struct req *r)
{
	json_t *dep = NULL, *env = NULL, *in = NULL;
	struct deploy_accept_input acc;
	struct deploy_input_error err;
	int k;

	k = deploy_and_env(r, &dep, &env);
	if (k < 0)
		goto out;
	k = http_require(r, ROLE_OPERATOR, SCOPE_ENV, env ? json_str(env, "envName") : NULL);
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
	k = store_deploy_set_acceptance(r->srv->store, json_str(dep, "id"), acceptance_status_to_string(acc.acceptance_status),
					acc.description, now_ms());
	k = api_store_done(r, k, "cannot update deploy");
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

/* GET /v1/deploys/{id}/config: the stage's config when the deploy was created. Script and agent configs carry
 * secrets: below OPERATOR on the deploy's env they are null and configHidden is true (as in the config history). */
static int deploy_config(struct req *r)
{
	json_t *dep = NULL, *env = NULL, *cfg = NULL;
	bool hide;
	int k;

	k = deploy_and_env(r, &dep, &env);
	if (k < 0)
		goto out;
	k = store_deploy_config_get(r->srv->store, json_str(dep, "id"), &cfg);
	if (k == -ENOENT) {
		k = http_fail(r, 404, NULL, "deploy '%s' has no recorded config (it predates config snapshots)",
			      json_str(dep, "id"));
		goto out;
	}
	if (k < 0) {
		k = api_store_error(r, k, "cannot read deploy config");
		goto out;
	}
	hide = !env || !principal_allows(&r->principal, ROLE_OPERATOR, SCOPE_ENV, json_str(env, "envName"));
	if (hide) {
		(void)json_object_set_new(cfg, "scriptConfigs", json_null());
		(void)json_object_set_new(cfg, "agentConfigs", json_null());
	}
	(void)json_object_set_new(cfg, "configHidden", json_boolean(hide));
	k = http_reply_json(r, 200, cfg);
	cfg = NULL;
out:
	json_decref(dep);
	json_decref(env);
	json_decref(cfg);
	return k;
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
	{ "GET", "/v1/deploys/{id}/config", deploy_config, ROLE_READER, SCOPE_ANY, false },
	{ "PUT", "/v1/deploys/{id}", deploy_accept, ROLE_OPERATOR, SCOPE_ANY, false },
};
const size_t api_deploys_routes_count = ELEMENTSOF(api_deploys_routes);
