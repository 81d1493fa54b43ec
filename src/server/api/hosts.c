/* SPDX-License-Identifier: Apache-2.0 */
/* api/hosts.c: hosts (PROTOCOL §3.5, §4.7): lists per stage and per host, the stop flow (§5.9),
 * registration, update and the active filter. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "enums.h"
#include "util.h"
#include "banned.h"

#define HOSTS_SEARCH_MAX_LIMIT 200

/* lastSeen includes values the ping path still holds in memory (§3.5). */
static void overlay_last_seen(struct server *srv, json_t *hosts)
{
	json_t *h;
	size_t i;

	if (!srv->pending_last_seen)
		return;
	json_array_foreach(hosts, i, h) {
		int64_t pending = srv->pending_last_seen(srv, json_string_value(json_object_get(h, "hostId")));
		if (pending > json_integer_value(json_object_get(h, "lastSeen")))
			(void)json_object_set_new(h, "lastSeen", json_integer(pending));
	}
}

/* GET …/hosts [?limit=N [&after=HOSTNAME]] and …/hosts/{hostName}: the stage's host records by name, all or the
 * rows of at most N host names (a host in several groups has a row per group). */
static int hosts_env(struct req *r)
{
	const char *name = req_param(r, "hostName");
	json_t *env = NULL, *list = NULL;
	struct store_page pg;
	int k;

	k = api_host_page(r, false, &pg);
	if (k < 0)
		return k;
	k = api_env_from_path(r, &env);
	if (k < 0)
		return k;
	if (name && !api_host_ok(name)) {
		json_decref(env);
		return http_reply_json(r, 200, json_array());
	}
	k = store_host_list_env(r->srv->store, json_string_value(json_object_get(env, "id")), name, &pg, &list);
	json_decref(env);
	if (k < 0)
		return api_store_error(r, k, "cannot list hosts");
	overlay_last_seen(r->srv, list);
	return http_reply_json(r, 200, list);
}

static int hosts_by(struct req *r, bool by_id)
{
	const char *v = req_param(r, by_id ? "hostId" : "hostName");
	json_t *list = NULL;
	int k;

	if (!api_host_ok(v))
		return http_reply_json(r, 200, json_array());
	k = store_host_list(r->srv->store, by_id ? NULL : v, by_id ? v : NULL, &list);
	if (k < 0)
		return api_store_error(r, k, "cannot list hosts");
	overlay_last_seen(r->srv, list);
	return http_reply_json(r, 200, list);
}

static int hosts_by_name(struct req *r)
{
	return hosts_by(r, false);
}

static int hosts_by_id(struct req *r)
{
	return hosts_by(r, true);
}

/* OPERATOR on every env the hosts have rows in (§4.7). */
static int require_host_envs(struct req *r, const json_t *ids)
{
	json_t *id;
	size_t i;
	int k;

	if (principal_allows(&r->principal, ROLE_OPERATOR, SCOPE_SYSTEM, NULL))
		return 0;
	json_array_foreach(ids, i, id) {
		json_t *rows = NULL, *row;
		size_t n;
		k = store_agent_list_host(r->srv->store, NULL, json_string_value(id), &rows);
		if (k < 0)
			return api_store_error(r, k, "cannot read agents");
		json_array_foreach(rows, n, row) {
			json_t *env = NULL;
			if (store_env_get_by_id(r->srv->store, json_string_value(json_object_get(row, "envId")), &env) < 0)
				continue;
			k = http_require(r, ROLE_OPERATOR, SCOPE_ENV, json_string_value(json_object_get(env, "envName")));
			json_decref(env);
			if (k < 0) {
				json_decref(rows);
				return k;
			}
		}
		json_decref(rows);
	}
	return 0;
}

static int replace_host(struct req *r, bool *ret)
{
	if (query_bool(req_query(r), "replaceHost", true, ret) < 0)
		return req_bad(r, "replaceHost", "replaceHost must be true or false");
	return 0;
}

static int hosts_stop_env(struct req *r)
{
	json_t *env = NULL, *ids = NULL;
	bool replace;
	int k;

	k = api_env_from_path(r, &env);
	if (k < 0)
		return k;
	k = replace_host(r, &replace);
	if (k >= 0)
		k = api_host_ids_body(r, &ids);
	if (k >= 0)
		k = require_host_envs(r, ids);
	if (k < 0)
		goto out;
	k = store_host_stop(r->srv->store, json_string_value(json_object_get(env, "id")), ids, replace,
			    api_operator(r), now_ms());
	if (k == -ENOENT) {
		k = http_fail(r, 404, NULL, "every host must have an agent in this stage");
		goto out;
	}
	k = api_store_done(r, k, "cannot stop hosts");
out:
	json_decref(env);
	json_decref(ids);
	return k;
}

static int hosts_stop_one(struct req *r)
{
	const char *id = req_param(r, "hostId");
	json_t *ids;
	bool replace;
	int k;

	k = replace_host(r, &replace);
	if (k < 0)
		return k;
	if (!api_host_ok(id))
		return http_fail(r, 404, NULL, "host '%.64s' not found", id);
	ids = json_pack("[s]", id);
	k = store_host_stop(r->srv->store, NULL, ids, replace, api_operator(r), now_ms());
	json_decref(ids);
	return api_store_done(r, k, "cannot stop host");
}

static int hosts_register(struct req *r)
{
	struct store_claim_refusal why = {};
	json_t *in = NULL;
	const char *name, *id, *group, *ip, *account;
	int k;

	k = api_body_object(r, "a Host JSON body is required", &in);
	if (k < 0)
		return k;
	if ((k = api_opt_string(r, in, "hostName", 64, &name)) < 0 || (k = api_opt_string(r, in, "hostId", 64, &id)) < 0 ||
	    (k = api_opt_string(r, in, "groupName", 128, &group)) < 0 || (k = api_opt_string(r, in, "ip", 64, &ip)) < 0 ||
	    (k = api_opt_string(r, in, "accountId", 64, &account)) < 0)
		goto out;
	if (!api_host_ok(name)) {
		k = req_bad(r, "hostName", "hostName is required and must match ^[A-Za-z0-9._-]{1,64}$");
		goto out;
	}
	if (!api_host_ok(id)) {
		k = req_bad(r, "hostId", "hostId is required and must match ^[A-Za-z0-9._-]{1,64}$");
		goto out;
	}
	if (!api_group_ok(group)) {
		k = req_bad(r, "groupName", "groupName is required and must match ^[A-Za-z0-9._:-]{1,128}$");
		goto out;
	}
	/* the envs whose capacity has the group gain the host: crossing envs is the SYSTEM ADMIN's call */
	k = store_host_register(r->srv->store, in,
				principal_allows(&r->principal, ROLE_ADMIN, SCOPE_SYSTEM, NULL) ? STORE_CLAIM_ANY
												 : STORE_CLAIM_FREE,
				&why);
	if (k == -EACCES) {
		k = http_fail(r, 403, NULL,
			      "host '%s' is in the capacity of env '%s': putting it into group '%s', which another env's "
			      "capacity has, needs role ADMIN at SYSTEM scope", name, why.env, group);
		goto out;
	}
	k = api_store_done(r, k, "cannot register host");
out:
	json_decref(in);
	return k;
}

static int hosts_update(struct req *r)
{
	const char *id = req_param(r, "hostId"), *s;
	json_t *in = NULL, *patch = json_object();
	int st, k;

	if (!patch)
		return -ENOMEM;
	k = api_body_object(r, "a JSON body is required", &in);
	if (k < 0)
		goto out;
	if ((k = api_opt_string(r, in, "ip", 64, &s)) < 0)
		goto out;
	if (s)
		(void)json_object_set_new(patch, "ip", json_string(s));
	if ((k = api_opt_string(r, in, "accountId", 64, &s)) < 0)
		goto out;
	if (s)
		(void)json_object_set_new(patch, "accountId", json_string(s));
	if ((k = api_opt_enum(r, in, "state", host_state_from_string, &st)) < 0)
		goto out;
	if (st >= 0)
		(void)json_object_set_new(patch, "state", json_string(host_state_to_string(st)));
	if (!api_host_ok(id)) {
		k = http_fail(r, 404, NULL, "host '%.64s' not found", id);
		goto out;
	}
	k = store_host_update(r->srv->store, id, patch, now_ms());
	if (k == -ENOENT) {
		k = http_fail(r, 404, NULL, "host '%s' not found", id);
		goto out;
	}
	k = api_store_done(r, k, "cannot update host");
out:
	json_decref(in);
	json_decref(patch);
	return k;
}

static int hosts_active(struct req *r)
{
	json_t *ids = NULL, *list = NULL;
	int k;

	k = api_host_ids_body(r, &ids);
	if (k < 0)
		return k;
	k = store_host_active(r->srv->store, ids, &list);
	json_decref(ids);
	if (k < 0)
		return api_store_error(r, k, "cannot read hosts");
	return http_reply_json(r, 200, list);
}

/* GET /v1/hosts?nameContains=TEXT | namePrefix=TEXT [&limit=N] [&after=NAME]: host names matching TEXT, in name
 * order, a page at a time ({"hosts", "next"}: next is the cursor of the following page, null on the last). */
static int hosts_search(struct req *r)
{
	const struct query *q = req_query(r);
	const char *contains = query_get(q, "nameContains"), *prefix = query_get(q, "namePrefix");
	struct host_search hs = { .after = query_get(q, "after") };
	json_t *list = NULL, *last;
	int k;

	if (!contains == !prefix)
		return req_bad(r, contains ? "namePrefix" : "nameContains",
			       "give one of nameContains and namePrefix (1 to 64 of A-Z a-z 0-9 . _ -)");
	hs.prefix = prefix != NULL;
	hs.text = prefix ? prefix : contains;
	if (!api_host_ok(hs.text))
		return req_bad(r, prefix ? "namePrefix" : "nameContains", "%s must be 1 to 64 of A-Z a-z 0-9 . _ -",
			       prefix ? "namePrefix" : "nameContains");
	if (query_int(q, "limit", 1, HOSTS_SEARCH_MAX_LIMIT, 50, &hs.limit) < 0)
		return req_bad(r, "limit", "limit must be an integer from 1 to %d", HOSTS_SEARCH_MAX_LIMIT);
	if (hs.after && !api_host_ok(hs.after))
		return req_bad(r, "after", "after must be a host name (1 to 64 of A-Z a-z 0-9 . _ -)");
	k = store_host_search(r->srv->store, &hs, &list);
	if (k < 0)
		return api_store_error(r, k, "cannot search hosts");
	last = json_array_size(list) == (size_t)hs.limit ? json_array_get(list, json_array_size(list) - 1) : NULL;
	return http_reply_json(r, 200, json_pack("{s:o,s:O?}", "hosts", list, "next",
						 last ? json_object_get(last, "hostName") : NULL));
}

const struct route api_hosts_routes[] = {
	{ "GET", "/v1/envs/{env}/{stage}/hosts", hosts_env, ROLE_READER, SCOPE_ANY, false },
	{ "DELETE", "/v1/envs/{env}/{stage}/hosts", hosts_stop_env, ROLE_OPERATOR, SCOPE_ANY, false },
	{ "GET", "/v1/envs/{env}/{stage}/hosts/{hostName}", hosts_env, ROLE_READER, SCOPE_ANY, false },
	{ "GET", "/v1/hosts", hosts_search, ROLE_READER, SCOPE_ANY, false },
	{ "POST", "/v1/hosts", hosts_register, ROLE_OPERATOR, SCOPE_SYSTEM, false },
	{ "POST", "/v1/hosts/active", hosts_active, ROLE_READER, SCOPE_ANY, false },
	{ "GET", "/v1/hosts/{hostName}", hosts_by_name, ROLE_READER, SCOPE_ANY, false },
	{ "DELETE", "/v1/hosts/{hostId}", hosts_stop_one, ROLE_OPERATOR, SCOPE_SYSTEM, false },
	{ "PUT", "/v1/hosts/{hostId}", hosts_update, ROLE_OPERATOR, SCOPE_SYSTEM, false },
	{ "GET", "/v1/hosts/id/{hostId}", hosts_by_id, ROLE_READER, SCOPE_ANY, false },
};
const size_t api_hosts_routes_count = ELEMENTSOF(api_hosts_routes);
