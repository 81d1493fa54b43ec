/* SPDX-License-Identifier: Apache-2.0 */
/* api/constraints.c: zone-aware rollouts (issue 17), upstream's resources: a stage's deploy constraint (GET/POST/
 * DELETE {env}/{stage}/deploy_constraint) and the host tags of its hosts ({env}/{stage}/host_tags). Admission
 * applies the constraint (engine/constraint.c); tags come with the pings. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "enums.h"
#include "names.h"
#include "util.h"
#include "wire.h"
#include "jsonutil.h"
#include "banned.h"

#define CONSTRAINT_ORDER_MAX 256 /* constraintOrder entries */

/* The stored row as the wire object: constraintOrder from its JSON text back to an array (or null). */
static json_t *constraint_wire(json_t *row)
{
	const char *order = json_str(row, "constraintOrder");
	json_t *a = order ? json_loads(order, 0, NULL) : NULL;

	(void)json_object_set_new(row, "constraintOrder", json_is_array(a) ? a : json_null());
	if (a && !json_is_array(a))
		json_decref(a);
	return row;
}

static int constraint_get(struct req *r)
{
	json_t *env = NULL, *c = NULL;
	int k;

	k = api_env_from_path(r, &env);
	if (k < 0)
		return k;
	k = store_constraint_get(r->srv->store, json_str(env, "id"), &c);
	json_decref(env);
	if (k == -ENOENT) /* none: an empty answer, as upstream's clients expect (its service returns null) */
		return http_reply_empty(r, 204);
	if (k < 0)
		return api_store_error(r, k, "cannot read deploy constraint");
	return http_reply_json(r, 200, constraint_wire(c));
}

/* constraintOrder (optional): distinct tag values, kept as JSON text; *ret NULL when absent or null. */
static int order_input(struct req *r, const json_t *in, char **ret)
{
	json_t *a = json_object_get(in, "constraintOrder"), *v;
	size_t i;

	*ret = NULL;
	if (!a || json_is_null(a))
		return 0;
	if (!json_is_array(a) || json_array_size(a) > CONSTRAINT_ORDER_MAX)
		return req_bad(r, "constraintOrder", "constraintOrder must be an array of at most %d tag values",
			       CONSTRAINT_ORDER_MAX);
	json_array_foreach(a, i, v)
	{
		bool dup = false;

		if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v) ||
		    json_string_length(v) > PING_TAG_VALUE_MAX_BYTES)
			return req_bad(r, "constraintOrder", "constraintOrder[%zu] must be a tag value (a string of at "
				       "most %d bytes)", i, PING_TAG_VALUE_MAX_BYTES);
		for (size_t k = 0; k < i && !dup; k++)
			dup = json_equal(json_array_get(a, k), v);
		if (dup)
			return req_bad(r, "constraintOrder", "constraintOrder lists '%s' twice", json_string_value(v));
	}
	*ret = json_dumps(a, JSON_COMPACT);
	return *ret ? 0 : -ENOMEM;
}

/* The constraint a POST body asks for, validated (a 400 names the field); id and startDate of the stored one. */
static int constraint_input(struct req *r, const json_t *in, const json_t *env, const json_t *old, json_t **ret)
{
	const char *key;
	char id[ID_LEN + 1], *order = NULL;
	int64_t max;
	bool present;
	int type, k;

	if (!json_is_object(in))
		return req_bad(r, NULL, "the body must be a JSON object");
	if ((k = api_opt_string(r, in, "constraintKey", 64, &key)) < 0)
		return k;
	if (!key || !tag_key_is_valid(key))
		return req_bad(r, "constraintKey", "constraintKey must be a host tag name matching ^[A-Za-z0-9:_.-]{1,64}$");
	if ((k = api_opt_int(r, in, "maxParallel", 1, 10000, &max, &present)) < 0)
		return k;
	if ((k = api_opt_enum(r, in, "constraintType", constraint_type_from_string, &type)) < 0)
		return k;
	if ((k = order_input(r, in, &order)) < 0)
		return k;
	if (old)
		k = str_copy(id, sizeof(id), json_str(old, "id"));
	else
		k = id_generate(id);
	if (k >= 0) {
		int64_t now = now_ms();
		json_t *start = old ? json_object_get(old, "startDate") : NULL;

		*ret = json_pack("{s:s,s:s,s:s,s:I,s:s,s:s?,s:s,s:I,s:I}", "id", id, "envId", json_str(env, "id"),
				 "constraintKey", key, "maxParallel", (json_int_t)(present ? max : 1), "constraintType",
				 constraint_type_to_string(type >= 0 ? type : CONSTRAINT_TYPE_ALL_GROUPS_IN_PARALLEL),
				 "constraintOrder", order, "state", "FINISHED", "startDate",
				 (json_int_t)(json_is_integer(start) ? json_integer_value(start) : now), "lastUpdate",
				 (json_int_t)now);
		k = *ret ? 0 : -ENOMEM;
	}
	free(order);
	return k;
}

static int constraint_post(struct req *r)
{
	json_t *env = NULL, *in = NULL, *old = NULL, *c = NULL, *hist = NULL;
	int k;

	k = api_env_from_path(r, &env);
	if (k < 0)
		return k;
	k = api_body(r, "a DeployConstraint JSON body is required", &in);
	if (k < 0)
		goto out;
	k = store_constraint_get(r->srv->store, json_str(env, "id"), &old);
	if (k < 0 && k != -ENOENT) {
		k = api_store_error(r, k, "cannot read deploy constraint");
		goto out;
	}
	k = constraint_input(r, in, env, old, &c);
	if (k < 0)
		goto out;
	hist = api_history(r, json_str(env, "id"), "Env Deploy Constraint", in);
	k = hist ? store_constraint_put(r->srv->store, c, hist) : -ENOMEM;
	if (k < 0) {
		k = api_store_error(r, k, "cannot store deploy constraint");
		goto out;
	}
	k = http_reply_json(r, 200, constraint_wire(c));
	c = NULL;
out:
	json_decref(env);
	json_decref(in);
	json_decref(old);
	json_decref(c);
	json_decref(hist);
	return k;
}

static int constraint_delete(struct req *r)
{
	json_t *env = NULL, *hist = NULL;
	int k;

	k = api_env_from_path(r, &env);
	if (k < 0)
		return k;
	hist = api_history(r, json_str(env, "id"), "Env Deploy Constraint", NULL);
	k = hist ? store_constraint_delete(r->srv->store, json_str(env, "id"), hist) : -ENOMEM;
	json_decref(env);
	json_decref(hist);
	if (k == -ENOENT)
		return http_fail(r, 404, NULL, "the stage has no deploy constraint");
	return api_store_done(r, k, "cannot delete deploy constraint");
}

/* The {tagName} of the path, or a 400 naming it. */
static int tag_name_param(struct req *r, const char **ret)
{
	*ret = req_param(r, "tagName");
	if (!tag_key_is_valid(*ret))
		return req_bad(r, "tagName", "tagName must match ^[A-Za-z0-9:_.-]{1,64}$");
	return 0;
}

/* a tag value as pings report them: UTF-8 (what jansson accepts as a string) of at most PING_TAG_VALUE_MAX_BYTES */
static bool tag_value_ok(const char *v)
{
	json_t *j = json_string(v);

	json_decref(j);
	return j && strlen(v) <= PING_TAG_VALUE_MAX_BYTES;
}

/* The tags (objects) of list by tagValue: {"<tagValue>": [tag, …], …}; takes list. NULL on OOM. */
static json_t *tags_by_value(json_t *list)
{
	json_t *by = json_object(), *t;
	size_t i;
	int k = 0;

	json_array_foreach(list, i, t)
	{
		json_t *a = json_object_get(by, json_str(t, "tagValue"));

		if (!a && json_object_set_new(by, json_str(t, "tagValue"), a = json_array()) < 0)
			a = NULL;
		if (!a || json_array_append(a, t) < 0)
			k = -ENOMEM;
	}
	json_decref(list);
	if (k < 0) {
		json_decref(by);
		return NULL;
	}
	return by;
}

/* GET …/host_tags [?limit=N [&after=HOSTNAME]]: with limit, {"tags": the tags of the stage's first N hosts after
 * `after` (name order), "next": the page's last host name when it holds N hosts, else null}; …/host_tags/{tagName}
 * the same with "tags" by tagValue. */
static int host_tags_page(struct req *r, const char *env_id, const char *name, const struct store_page *pg)
{
	json_t *list = NULL, *tags;
	char *next = NULL;
	int k;

	k = store_host_tags_page(r->srv->store, env_id, name, pg, &list, &next);
	if (k < 0)
		return api_store_error(r, k, "cannot read host tags");
	tags = name ? tags_by_value(list) : list;
	k = tags ? http_reply_json(r, 200, json_pack("{s:o,s:s?}", "tags", tags, "next", next)) : -ENOMEM;
	free(next);
	return k;
}

/* GET …/host_tags/{tagName}?value=V&limit=N[&after=HOSTNAME]: {"tags": {V: the first N hosts of the stage whose tag
 * is V after `after` (host name order)}, "next": the page's last host name when it holds N hosts, else null}. */
static int host_tags_value_page(struct req *r, const char *env_id, const char *name, const char *value,
				const struct store_page *pg)
{
	json_t *list = NULL;
	char *next = NULL;
	int k;

	k = store_host_tags_value_page(r->srv->store, env_id, name, value, pg, &list, &next);
	if (k < 0)
		return api_store_error(r, k, "cannot read host tags");
	k = http_reply_json(r, 200, json_pack("{s:{s:o},s:s?}", "tags", value, list, "next", next));
	free(next);
	return k;
}

/* GET …/host_tags (list) and …/host_tags/{tagName} (tagValue → list); paged with limit (host_tags_page), or one
 * value's hosts with value and limit (host_tags_value_page); …/host_tags?hostName=H one host's tags. */
static int host_tags_get(struct req *r)
{
	const char *name = NULL, *value = query_get(req_query(r), "value"), *host = query_get(req_query(r), "hostName");
	json_t *env = NULL, *list = NULL, *by;
	struct store_page pg;
	int k;

	if (req_param(r, "tagName") && (k = tag_name_param(r, &name)) < 0)
		return k;
	k = api_host_page(r, false, &pg);
	if (k < 0)
		return k;
	if (host && (name || pg.limit || value || !api_host_ok(host)))
		return req_bad(r, "hostName", "hostName must be a host name (1 to 64 of A-Z a-z 0-9 . _ -), without a tag "
					  "name, limit or value");
	if (value && (!name || !pg.limit || !tag_value_ok(value)))
		return req_bad(r, "value", "value must be a tag value (UTF-8, at most %d bytes) and comes with a tag name "
				      "and limit", PING_TAG_VALUE_MAX_BYTES);
	k = api_env_from_path(r, &env);
	if (k < 0)
		return k;
	if (value) {
		k = host_tags_value_page(r, json_str(env, "id"), name, value, &pg);
		json_decref(env);
		return k;
	}
	if (host) {
		k = store_host_tags_of_host(r->srv->store, json_str(env, "id"), host, &list);
		json_decref(env);
		return k < 0 ? api_store_error(r, k, "cannot read host tags") : http_reply_json(r, 200, list);
	}
	if (pg.limit) {
		k = host_tags_page(r, json_str(env, "id"), name, &pg);
		json_decref(env);
		return k;
	}
	k = store_host_tags_list(r->srv->store, json_str(env, "id"), name, &list);
	json_decref(env);
	if (k < 0)
		return api_store_error(r, k, "cannot read host tags");
	if (!name)
		return http_reply_json(r, 200, list);
	by = tags_by_value(list);
	return by ? http_reply_json(r, 200, by) : -ENOMEM;
}

/* GET …/host_tags/{tagName}/counts [?deployId=D]: the stage's hosts counted by their value of the tag, from kept
 * counts (store_host_tag_counts); with deployId also those on that deploy and those serving it. */
static int host_tag_counts_get(struct req *r)
{
	const char *name, *deploy_id = query_get(req_query(r), "deployId");
	json_t *env = NULL, *counts = NULL;
	int k;

	if ((k = tag_name_param(r, &name)) < 0)
		return k;
	if (deploy_id && !api_id_ok(deploy_id))
		return req_bad(r, "deployId", "deployId must be a deploy id");
	k = api_env_from_path(r, &env);
	if (k < 0)
		return k;
	k = store_host_tag_counts(r->srv->store, json_str(env, "id"), name, deploy_id, &counts);
	json_decref(env);
	if (k < 0)
		return api_store_error(r, k, "cannot count host tags");
	return http_reply_json(r, 200, counts);
}

static int host_tags_delete(struct req *r)
{
	const char *name;
	json_t *env = NULL;
	int k;

	if ((k = tag_name_param(r, &name)) < 0)
		return k;
	k = api_env_from_path(r, &env);
	if (k < 0)
		return k;
	k = store_host_tags_delete(r->srv->store, json_str(env, "id"), name);
	json_decref(env);
	return api_store_done(r, k, "cannot delete host tags");
}

const struct route api_constraints_routes[] = {
	{ "GET", "/v1/envs/{env}/{stage}/deploy_constraint", constraint_get, ROLE_READER, SCOPE_ANY, false },
	{ "POST", "/v1/envs/{env}/{stage}/deploy_constraint", constraint_post, ROLE_OPERATOR, SCOPE_ENV, false },
	{ "DELETE", "/v1/envs/{env}/{stage}/deploy_constraint", constraint_delete, ROLE_OPERATOR, SCOPE_ENV, false },
	{ "GET", "/v1/envs/{env}/{stage}/host_tags", host_tags_get, ROLE_READER, SCOPE_ANY, false },
	{ "GET", "/v1/envs/{env}/{stage}/host_tags/{tagName}", host_tags_get, ROLE_READER, SCOPE_ANY, false },
	{ "DELETE", "/v1/envs/{env}/{stage}/host_tags/{tagName}", host_tags_delete, ROLE_OPERATOR, SCOPE_ENV, false },
	{ "GET", "/v1/envs/{env}/{stage}/host_tags/{tagName}/counts", host_tag_counts_get, ROLE_READER, SCOPE_ANY,
	  false },
};
const size_t api_constraints_routes_count = ELEMENTSOF(api_constraints_routes);
