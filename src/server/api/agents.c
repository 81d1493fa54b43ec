/* SPDX-License-Identifier: Apache-2.0 */
/* api/agents.c: the server's view of hosts per stage (PROTOCOL §3.4, §4.6): lists, errors, state
 * PUTs (same effect as host actions), reset_failed_agents, counts. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "buf.h"
#include "enums.h"
#include "jsonutil.h"
#include "util.h"
#include "banned.h"

/* GET /v1/envs/{env}/{stage}/agents [?limit=N [&after=HOSTNAME] [&failing=true]]: every agent row of the stage in
 * host name order; with limit, one page of at most N rows after the host name `after` (the next page: after = the
 * last row's hostName; a page shorter than N is the last), with failing only the failing hosts' rows. */
static int agents_env(struct req *r)
{
	struct store_page pg;
	json_t *env = NULL;
	struct buf out;
	size_t len;
	int k;

	k = api_host_page(r, true, &pg);
	if (k < 0)
		return k;
	k = api_env_from_path(r, &env);
	if (k < 0)
		return k;
	buf_init(&out, BUF_UNBOUNDED);
	k = store_agent_list_env_text(r->srv->store, json_str(env, "id"), &pg, &out);
	json_decref(env);
	if (k < 0) {
		buf_release(&out);
		return api_store_error(r, k, "cannot list agents");
	}
	len = out.len;
	return http_reply_json_text(r, 200, buf_detach(&out), len);
}

/* GET /v1/envs/{env}/{stage}/agents/summary [?provisioning=true]: the stage's agent rows counted by deploy, step,
 * state, result and removal (kept counts: the same cost at any stage size), with the number of missing hosts and,
 * when asked (a walk of the capacity's hosts), of provisioning hosts (store_agent_summary). */
static int agents_summary(struct req *r)
{
	json_t *env = NULL, *sum = NULL;
	bool prov = false;
	int k;

	if (query_bool(req_query(r), "provisioning", false, &prov) < 0)
		return req_bad(r, "provisioning", "provisioning must be true or false");
	k = api_env_from_path(r, &env);
	if (k < 0)
		return k;
	k = store_agent_summary(r->srv->store, json_str(env, "id"), json_str(env, "deployId"), prov, &sum);
	json_decref(env);
	if (k < 0)
		return api_store_error(r, k, "cannot count agents");
	return http_reply_json(r, 200, sum);
}

static int agent_error(struct req *r)
{
	const char *host = req_param(r, "hostName");
	json_t *env = NULL, *e = NULL;
	int k;

	k = api_env_from_path(r, &env);
	if (k < 0)
		return k;
	k = api_host_ok(host) ? store_agent_error_get(r->srv->store, json_string_value(json_object_get(env, "id")),
						     host, &e)
			      : -ENOENT;
	json_decref(env);
	if (k == -ENOENT)
		return http_fail(r, 404, NULL, "no error recorded for host '%.64s'", host);
	if (k < 0)
		return api_store_error(r, k, "cannot read agent error");
	return http_reply_json(r, 200, e);
}

/* The host rows of a deploy: for a replaced deploy the results its hosts had when it was replaced (recorded since
 * schema version 5), else (or without any recorded) the agent rows of its stage that are still on it. */
static int deploy_rows(struct req *r, const json_t *dep, const char *id, const struct store_page *pg, json_t **ret)
{
	if (!json_is_null(json_object_get(dep, "replacedByDeployId"))) {
		const struct store_page one = { .limit = 1 };
		json_t *any = NULL;
		int k = store_deploy_host_results(r->srv->store, id, &one, &any);
		size_t n = json_array_size(any);

		json_decref(any);
		if (k < 0)
			return k;
		if (n > 0)
			return store_deploy_host_results(r->srv->store, id, pg, ret);
	}
	return store_agent_list_deploy(r->srv->store, json_str(dep, "envId"), id, pg, ret);
}

/* GET /v1/deploys/{id}/agents [?limit=N [&after=HOSTNAME]]: the hosts of the deploy with their result, all or one
 * page in host name order. */
static int agents_of_deploy(struct req *r)
{
	const char *id = req_param(r, "id");
	json_t *dep = NULL, *list = NULL;
	struct store_page pg;
	int k;

	k = api_host_page(r, false, &pg);
	if (k < 0)
		return k;
	k = api_id_ok(id) ? store_deploy_get(r->srv->store, id, &dep) : -ENOENT;
	if (k == -ENOENT)
		return http_fail(r, 404, NULL, "deploy '%.64s' not found", id);
	if (k < 0)
		return api_store_error(r, k, "cannot read deploy");
	k = deploy_rows(r, dep, id, &pg, &list);
	json_decref(dep);
	if (k < 0)
		return api_store_error(r, k, "cannot list agents");
	return http_reply_json(r, 200, list);
}

/* The errors list: at most this many hosts, each with the last ERROR_TAIL_BYTES of its message. */
#define ERROR_LIST_MAX 1000
#define ERROR_TAIL_BYTES 2048

/* Where the tail of the last `max` bytes of msg (length len) starts: at a line start when the tail holds one,
 * else at the first byte that starts a UTF-8 sequence. */
static size_t tail_start(const char *msg, size_t len, size_t max)
{
	size_t at, i;

	if (len <= max)
		return 0;
	at = len - max;
	for (i = at; i < len - 1; i++)
		if (msg[i] == '\n')
			return i + 1;
	while (at < len && ((unsigned char)msg[at] & 0xC0) == 0x80)
		at++;
	return at;
}

/* GET …/agents/errors: the failing hosts of the stage with their recorded error (the tail of the script
 * output the agent reported), bounded: ERROR_LIST_MAX hosts, ERROR_TAIL_BYTES per message. */
static int agents_errors(struct req *r)
{
	json_t *env = NULL, *list = NULL, *e;
	bool truncated;
	size_t i;
	int k;

	k = api_env_from_path(r, &env);
	if (k < 0)
		return k;
	k = store_agent_error_list(r->srv->store, json_string_value(json_object_get(env, "id")), ERROR_LIST_MAX + 1,
				   &list);
	json_decref(env);
	if (k < 0)
		return api_store_error(r, k, "cannot list agent errors");
	json_array_foreach(list, i, e) {
		const char *msg = json_string_value(json_object_get(e, "errorMessage"));
		size_t len = msg ? strlen(msg) : 0, at = msg ? tail_start(msg, len, ERROR_TAIL_BYTES) : 0;

		(void)json_object_set_new(e, "errorBytes", json_integer((json_int_t)len));
		(void)json_object_set_new(e, "errorTruncated", json_boolean(at > 0));
		if (at > 0)
			(void)json_object_set_new(e, "errorMessage", json_stringn(msg + at, len - at));
	}
	truncated = json_array_size(list) > ERROR_LIST_MAX;
	if (truncated)
		(void)json_array_remove(list, ERROR_LIST_MAX);
	return http_reply_json(r, 200, json_pack("{s:o,s:b,s:i}", "errors", list, "truncated", truncated, "tailBytes",
						 ERROR_TAIL_BYTES));
}

/* The state of a partial Agent body: NORMAL, PAUSED_BY_USER or RESET. */
static int body_state(struct req *r, enum store_agent_action *ret)
{
	json_t *in = NULL;
	const char *state;
	int k;

	k = api_body_object(r, "a JSON body with 'state' is required", &in);
	if (k < 0)
		return k;
	k = api_opt_string(r, in, "state", 64, &state);
	if (k >= 0 && (!state || api_agent_action_from_string(state, ret) < 0))
		k = req_bad(r, "state", "state must be NORMAL, PAUSED_BY_USER or RESET");
	json_decref(in);
	return k;
}

static int agent_put(struct req *r)
{
	const char *host = req_param(r, "hostId");
	json_t *env = NULL, *ids = NULL;
	enum store_agent_action a;
	int k;

	k = api_env_from_path(r, &env);
	if (k < 0)
		return k;
	k = body_state(r, &a);
	if (k < 0)
		goto out;
	if (!api_host_ok(host)) {
		k = http_fail(r, 404, NULL, "no agent '%.64s' in this stage", host);
		goto out;
	}
	ids = json_pack("[s]", host);
	k = store_agent_action(r->srv->store, json_string_value(json_object_get(env, "id")), ids, a, api_operator(r),
			       now_ms());
	if (k == 0)
		k = http_fail(r, 404, NULL, "no agent '%s' in this stage", host);
	k = api_store_done(r, k, "cannot update agent");
out:
	json_decref(env);
	json_decref(ids);
	return k;
}

static int agent_put_host(struct req *r)
{
	const char *host = req_param(r, "hostId");
	json_t *ids = NULL;
	enum store_agent_action a;
	int k;

	k = body_state(r, &a);
	if (k < 0)
		return k;
	if (!api_host_ok(host))
		return http_fail(r, 404, NULL, "no agent '%.64s'", host);
	ids = json_pack("[s]", host);
	k = store_agent_action(r->srv->store, NULL, ids, a, api_operator(r), now_ms());
	json_decref(ids);
	if (k == 0)
		return http_fail(r, 404, NULL, "no agent '%s'", host);
	return api_store_done(r, k, "cannot update agent");
}

static int agents_reset_failed(struct req *r)
{
	const char *deploy_id = req_param(r, "deployId");
	json_t *env = NULL;
	int k;

	k = api_env_from_path(r, &env);
	if (k < 0)
		return k;
	if (!api_id_ok(deploy_id)) {
		json_decref(env);
		return http_fail(r, 404, NULL, "deploy '%.64s' not found", deploy_id);
	}
	k = store_agent_reset_failed(r->srv->store, json_string_value(json_object_get(env, "id")), deploy_id,
				     api_operator(r), now_ms());
	json_decref(env);
	return api_store_done(r, k, "cannot reset agents");
}

static int agents_count(struct req *r)
{
	static const char *const names[] = { "SERVING", "SERVING_AND_NORMAL", "FIRST_DEPLOY", "FAILED_FIRST_DEPLOY" };
	const char *t = query_get(req_query(r), "actionType");
	json_t *env = NULL;
	int64_t n = 0;
	int what = -1, k;

	for (size_t i = 0; t && i < ELEMENTSOF(names); i++)
		if (strcasecmp(t, names[i]) == 0)
			what = (int)i;
	if (what < 0)
		return req_bad(r, "actionType",
			       "actionType must be SERVING, SERVING_AND_NORMAL, FIRST_DEPLOY or FAILED_FIRST_DEPLOY");
	k = api_env_from_path(r, &env);
	if (k < 0)
		return k;
	k = store_agent_count(r->srv->store, json_string_value(json_object_get(env, "id")), what, &n);
	json_decref(env);
	if (k < 0)
		return api_store_error(r, k, "cannot count agents");
	return http_reply_json(r, 200, json_integer(n));
}

static int agents_by_name(struct req *r)
{
	const char *host = req_param(r, "hostName");
	json_t *list = NULL;
	int k;

	if (!api_host_ok(host))
		return http_reply_json(r, 200, json_array());
	k = store_agent_list_host(r->srv->store, host, NULL, &list);
	if (k < 0)
		return api_store_error(r, k, "cannot list agents");
	return http_reply_json(r, 200, list);
}

static int agents_by_id(struct req *r)
{
	const char *host = req_param(r, "hostId");
	json_t *list = NULL;
	int k;

	if (!api_host_ok(host))
		return http_reply_json(r, 200, json_array());
	k = store_agent_list_host(r->srv->store, NULL, host, &list);
	if (k < 0)
		return api_store_error(r, k, "cannot list agents");
	return http_reply_json(r, 200, list);
}

static int agents_env_total(struct req *r)
{
	const char *env_id = req_param(r, "envId");
	int64_t n = 0;
	int k;

	if (!api_id_ok(env_id))
		return http_fail(r, 404, NULL, "env '%.64s' not found", env_id);
	k = store_agent_total(r->srv->store, env_id, &n);
	if (k < 0)
		return api_store_error(r, k, "cannot count agents");
	return http_reply_json(r, 200, json_integer(n));
}

static int agents_hostcount(struct req *r)
{
	int64_t n = 0;
	int k = store_agent_host_count(r->srv->store, &n);
	if (k < 0)
		return api_store_error(r, k, "cannot count hosts");
	return http_reply_json(r, 200, json_integer(n));
}

const struct route api_agents_routes[] = {
	{ "GET", "/v1/envs/{env}/{stage}/agents", agents_env, ROLE_READER, SCOPE_ANY, false },
	{ "GET", "/v1/envs/{env}/{stage}/agents/errors", agents_errors, ROLE_READER, SCOPE_ANY, false },
	{ "GET", "/v1/envs/{env}/{stage}/agents/errors/{hostName}", agent_error, ROLE_READER, SCOPE_ANY, false },
	{ "GET", "/v1/envs/{env}/{stage}/agents/count", agents_count, ROLE_READER, SCOPE_ANY, false },
	{ "GET", "/v1/envs/{env}/{stage}/agents/summary", agents_summary, ROLE_READER, SCOPE_ANY, false },
	{ "PUT", "/v1/envs/{env}/{stage}/agents/{hostId}", agent_put, ROLE_OPERATOR, SCOPE_ENV, false },
	{ "PUT", "/v1/envs/{env}/{stage}/agents/reset_failed_agents/{deployId}", agents_reset_failed, ROLE_OPERATOR,
	  SCOPE_ENV, false },
	{ "GET", "/v1/deploys/{id}/agents", agents_of_deploy, ROLE_READER, SCOPE_ANY, false },
	{ "GET", "/v1/agents/hostcount", agents_hostcount, ROLE_READER, SCOPE_ANY, false },
	{ "GET", "/v1/agents/{hostName}", agents_by_name, ROLE_READER, SCOPE_ANY, false },
	{ "GET", "/v1/agents/id/{hostId}", agents_by_id, ROLE_READER, SCOPE_ANY, false },
	{ "PUT", "/v1/agents/id/{hostId}", agent_put_host, ROLE_OPERATOR, SCOPE_SYSTEM, false },
	{ "GET", "/v1/agents/env/{envId}/total", agents_env_total, ROLE_READER, SCOPE_ANY, false },
};
const size_t api_agents_routes_count = ELEMENTSOF(api_agents_routes);
