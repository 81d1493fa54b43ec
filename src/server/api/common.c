/* SPDX-License-Identifier: Apache-2.0 */
/* api/common.c: helpers shared by the resource files: path → env stage, config history entries,
 * store-error mapping, typed field readers that name the field in their 400, paging, build tags,
 * and the route registry. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "enums.h"
#include "log.h"
#include "names.h"
#include "util.h"
#include "banned.h"

int api_register_routes(struct router *rt)
{
	const struct {
		const struct route *routes;
		const size_t *n;
	} tables[] = {
		{ api_system_routes, &api_system_routes_count },     { api_builds_routes, &api_builds_routes_count },
		{ api_envs_routes, &api_envs_routes_count },         { api_capacity_routes, &api_capacity_routes_count },
		{ api_configs_routes, &api_configs_routes_count },   { api_deploys_routes, &api_deploys_routes_count },
		{ api_agents_routes, &api_agents_routes_count },     { api_hosts_routes, &api_hosts_routes_count },
		{ api_tags_routes, &api_tags_routes_count },
		{ api_promotes_routes, &api_promotes_routes_count },
		{ api_constraints_routes, &api_constraints_routes_count },
		{ api_ping_routes, &api_ping_routes_count },
		{ api_tokens_routes, &api_tokens_routes_count },     { api_roles_routes, &api_roles_routes_count },
		{ api_alerts_routes, &api_alerts_routes_count },
	};
	int r;

	for (size_t i = 0; i < ELEMENTSOF(tables); i++) {
		r = router_add(rt, tables[i].routes, *tables[i].n);
		if (r < 0)
			return r;
	}
	return 0;
}

int api_store_error(struct req *r, int k, const char *what)
{
	if (k == -ENOENT || k == -EEXIST || k == -EBUSY)
		return k;
	if (k == -EAGAIN) {
		(void)server_db_error(r->srv, k, what);
		return http_fail(r, 503, NULL, "database busy, retry");
	}
	(void)server_db_error(r->srv, k, what);
	return http_fail(r, 500, NULL, "internal error");
}

int api_get_by_id(struct req *r, const char *what, const char *field, const char *id,
		  int (*get)(struct store *, const char *, json_t **), json_t **ret)
{
	char msg[64];
	int k;

	if (!id || !api_id_ok(id))
		return http_fail(r, 404, field, "%s '%.64s' not found", what, id ? id : "");
	k = get(r->srv->store, id, ret);
	if (k == -ENOENT)
		return http_fail(r, 404, field, "%s '%s' not found", what, id);
	(void)str_printf(msg, sizeof(msg), "cannot read %s", what);
	return k < 0 ? api_store_error(r, k, msg) : 0;
}

int api_store_done(struct req *r, int k, const char *what)
{
	return k < 0 ? api_store_error(r, k, what) : http_reply_empty(r, 204);
}

int api_body(struct req *r, const char *required, json_t **ret)
{
	int k = req_json(r, ret);

	return k == -ENODATA ? req_bad(r, NULL, "%s", required) : k;
}

int api_body_object(struct req *r, const char *required, json_t **ret)
{
	json_t *in = NULL;
	int k;

	k = api_body(r, required, &in);
	if (k < 0)
		return k;
	if (!json_is_object(in)) {
		json_decref(in);
		return req_bad(r, NULL, "the body must be a JSON object");
	}
	*ret = in;
	return 0;
}

int api_env_from_path(struct req *r, json_t **ret)
{
	const char *env = req_param(r, "env"), *stage = req_param(r, "stage");
	int k;

	if (!env || !stage || !env_name_is_valid(env) || !env_name_is_valid(stage))
		return http_fail(r, 404, NULL, "env stage '%s/%s' not found", env ? env : "", stage ? stage : "");
	k = store_env_get(r->srv->store, env, stage, ret);
	if (k == -ENOENT)
		return http_fail(r, 404, NULL, "env stage '%s/%s' not found", env, stage);
	if (k < 0)
		return api_store_error(r, k, "cannot read env stage");
	return 0;
}

const char *api_operator(struct req *r)
{
	size_t l = strlen(r->principal.name);
	if (r->principal.kind == PRINCIPAL_NONE)
		return PRINCIPAL_NAME_ANONYMOUS;
	return l > 64 ? r->principal.name + l - 64 : r->principal.name;
}

json_t *api_history(struct req *r, const char *env_id, const char *type, const json_t *change)
{
	char id[ID_LEN + 1], *txt = NULL;
	json_t *h;

	if (id_generate(id) < 0)
		return NULL;
	if (change) {
		txt = json_is_string(change) ? strdup(json_string_value(change))
					     : json_dumps(change, JSON_COMPACT | JSON_ENCODE_ANY);
		if (!txt)
			return NULL;
		if (strlen(txt) > 8192)
			txt[8192] = 0;
	}
	h = json_pack("{s:s,s:s,s:I,s:s,s:s,s:s?}", "id", env_id, "changeId", id, "createTime", (json_int_t)now_ms(),
		      "operator", api_operator(r), "type", type, "configChange", txt);
	free(txt);
	return h;
}

bool api_name_ok(const char *s)
{
	return s && env_name_is_valid(s);
}
bool api_host_ok(const char *s)
{
	return s && host_name_is_valid(s);
}
bool api_group_ok(const char *s)
{
	return s && group_name_is_valid(s) && !streq(s, "NULL");
}
bool api_id_ok(const char *s)
{
	return s && id_is_valid(s);
}

int api_opt_string(struct req *r, const json_t *obj, const char *key, size_t max, const char **ret)
{
	json_t *v = json_object_get(obj, key);

	*ret = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return req_bad(r, key, "%s must be a string", key);
	if (json_string_length(v) > max)
		return req_bad(r, key, "%s is longer than %zu characters", key, max);
	*ret = json_string_value(v);
	return 0;
}

int api_opt_enum(struct req *r, const json_t *obj, const char *key, int (*from_string)(const char *), int *ret)
{
	json_t *v = json_object_get(obj, key);
	int e;

	*ret = -1;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return req_bad(r, key, "%s must be a string", key);
	e = from_string(json_string_value(v));
	if (e < 0)
		return req_bad(r, key, "unknown %s value '%.64s'", key, json_string_value(v));
	*ret = e;
	return 0;
}

int api_opt_int(struct req *r, const json_t *obj, const char *key, int64_t min, int64_t max, int64_t *ret,
		bool *present)
{
	json_t *v = json_object_get(obj, key);

	*present = false;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v))
		return req_bad(r, key, "%s must be an integer", key);
	if (json_integer_value(v) < min || json_integer_value(v) > max)
		return req_bad(r, key, "%s must be in %lld..%lld", key, (long long)min, (long long)max);
	*ret = json_integer_value(v);
	*present = true;
	return 0;
}

int api_opt_bool(struct req *r, const json_t *obj, const char *key, bool *ret, bool *present)
{
	json_t *v = json_object_get(obj, key);

	*present = false;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_boolean(v))
		return req_bad(r, key, "%s must be true or false", key);
	*ret = json_is_true(v);
	*present = true;
	return 0;
}

int api_query_enum(struct req *r, const char *key, int (*from_string)(const char *), const char *(*to_string)(int),
		   const char **ret)
{
	const char *v = query_get(req_query(r), key);
	int e;

	*ret = NULL;
	if (!v)
		return 0;
	e = from_string(v);
	if (e < 0)
		return req_bad(r, key, "unknown %s value '%.64s'", key, v);
	*ret = to_string(e);
	return 0;
}

int api_query_enum_list(struct req *r, const char *key, int (*from_string)(const char *),
			const char *(*to_string)(int), json_t **ret)
{
	const struct query *q = req_query(r);
	json_t *a = NULL;

	*ret = NULL;
	for (size_t i = 0; i < q->n; i++) {
		int e;
		if (!streq(q->keys[i], key))
			continue;
		e = from_string(q->values[i]);
		if (e < 0) {
			json_decref(a);
			return req_bad(r, key, "unknown %s value '%.64s'", key, q->values[i]);
		}
		if (!a && !(a = json_array()))
			return -ENOMEM;
		(void)json_array_append_new(a, json_string(to_string(e)));
	}
	*ret = a;
	return 0;
}

int api_paging(struct req *r, const char *index_key, const char *size_key, int64_t def_size, int64_t *ret_offset,
	       int64_t *ret_limit)
{
	const struct query *q = req_query(r);
	int64_t index, size;

	if (query_int(q, index_key, 1, INT32_MAX, 1, &index) < 0)
		return req_bad(r, index_key, "%s must be an integer >= 1", index_key);
	if (query_int(q, size_key, INT64_MIN, INT64_MAX, def_size, &size) < 0)
		return req_bad(r, size_key, "%s must be an integer", size_key);
	if (size < 1)
		size = 1;
	if (size > 1000)
		size = 1000;
	*ret_offset = (index - 1) * size;
	*ret_limit = size;
	return 0;
}

int api_host_page(struct req *r, bool failing_ok, struct store_page *ret)
{
	const struct query *q = req_query(r);
	struct store_page pg = { .after = query_get(q, "after") };

	if (query_int(q, "limit", 1, API_HOST_PAGE_MAX, 0, &pg.limit) < 0)
		return req_bad(r, "limit", "limit must be an integer from 1 to %d", API_HOST_PAGE_MAX);
	if (pg.after && (!pg.limit || !api_host_ok(pg.after)))
		return req_bad(r, "after", "after must be a host name (1 to 64 of A-Z a-z 0-9 . _ -) and comes with limit");
	if (failing_ok && (query_bool(q, "failing", false, &pg.failing) < 0 || (pg.failing && !pg.limit)))
		return req_bad(r, "failing", "failing must be true or false and comes with limit");
	*ret = pg;
	return 0;
}
