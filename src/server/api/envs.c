/* SPDX-License-Identifier: Apache-2.0 */
/* api/envs.c: environments and stages (PROTOCOL §3.1, §4.3): create with defaults and validation,
 * get, list, names, patch-style PUT, delete, config history. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "buf.h"
#include "enums.h"
#include "hash.h"
#include "names.h"
#include "util.h"
#include "banned.h"

/* The §3.1 defaults of a new stage. */
static json_t *env_defaults(const char *id, const char *env_name, const char *stage_name, const char *operator_name)
{
	char desc[256];

	(void)str_printf(desc, sizeof(desc), "%s stage for env %s", stage_name, env_name);
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:n,s:n,s:s,s:s,s:s,s:n,s:n,s:n,s:n,s:b,s:i,s:i,s:s,s:n,s:i,s:i,s:s,"
			 "s:i,s:i,s:b,s:s,s:s,s:I,s:s,s:n,s:s,s:n,s:i,s:n,s:n,s:n,s:n,s:b,s:b,s:b,s:b}",
			 "id", id, "envName", env_name, "stageName", stage_name, "envState", "NORMAL", "state", "NORMAL",
			 "deployId", "deployType", "description", desc, "buildName", env_name, "branch", "master",
			 "chatroom", "emailRecipients", "watchRecipients", "groupMentionRecipients", "notifyAuthors", 0,
			 "maxParallel", 1, "maxParallelPct", 0, "priority", "NORMAL", "systemPriority", "stuckThreshold",
			 600, "successThreshold", 10000, "acceptanceType", "AUTO", "maxDeployNum", 5000, "maxDeployDay",
			 365, "isDocker", 0, "stageType", "DEFAULT", "lastOperator", operator_name, "lastUpdate",
			 (json_int_t)now_ms(), "failurePolicy", "HALT", "signingKey", "overridePolicy", "OVERRIDE",
			 "clusterName", "maxParallelRp", 1, "deployConstraintId", "externalId", "projectName",
			 "terminationLimit", "allowPrivateBuild", 0, "ensureTrustedBuild", 0, "isSOX", 0,
			 "useEntitlements", 0);
}

static char *html_escape(const char *s)
{
	struct buf b;

	buf_init(&b, BUF_UNBOUNDED);
	for (; *s; s++) {
		int k;
		switch (*s) {
		case '&':
			k = buf_appends(&b, "&amp;");
			break;
		case '<':
			k = buf_appends(&b, "&lt;");
			break;
		case '>':
			k = buf_appends(&b, "&gt;");
			break;
		case '"':
			k = buf_appends(&b, "&quot;");
			break;
		case '\'':
			k = buf_appends(&b, "&#39;");
			break;
		default:
			k = buf_appendc(&b, *s);
		}
		if (k < 0) {
			buf_release(&b);
			return NULL;
		}
	}
	return buf_detach(&b);
}

/* Copy a clearable string field: "" → null. */
static int set_clearable(struct req *r, json_t *env, const json_t *in, const char *key, size_t max,
			 bool (*valid)(const char *))
{
	const char *v;
	int k = api_opt_string(r, in, key, max, &v);

	if (k < 0 || !v)
		return k;
	if (valid && *v && !valid(v))
		return req_bad(r, key, "%s has invalid characters", key);
	return json_object_set_new(env, key, *v ? json_string(v) : json_null()) < 0 ? -ENOMEM : 0;
}

static int set_int(struct req *r, json_t *env, const json_t *in, const char *key, int64_t min, int64_t max,
		   bool *present)
{
	int64_t v;
	bool p;
	int k = api_opt_int(r, in, key, min, max, &v, &p);

	if (present)
		*present = p;
	if (k < 0 || !p)
		return k;
	return json_object_set_new(env, key, json_integer(v)) < 0 ? -ENOMEM : 0;
}

static int set_bool(struct req *r, json_t *env, const json_t *in, const char *key)
{
	bool v, p;
	int k = api_opt_bool(r, in, key, &v, &p);

	if (k < 0 || !p)
		return k;
	return json_object_set_new(env, key, json_boolean(v)) < 0 ? -ENOMEM : 0;
}

static int set_enum(struct req *r, json_t *env, const json_t *in, const char *key, int (*from)(const char *),
		    const char *(*to)(int), int *ret)
{
	int v, k = api_opt_enum(r, in, key, from, &v);

	if (ret)
		*ret = v;
	if (k < 0 || v < 0)
		return k;
	return json_object_set_new(env, key, json_string(to(v))) < 0 ? -ENOMEM : 0;
}

static int set_plain_string(struct req *r, json_t *env, const json_t *in, const char *key, size_t max)
{
	const char *v;
	int k = api_opt_string(r, in, key, max, &v);

	if (k < 0 || !v)
		return k;
	return json_object_set_new(env, key, json_string(v)) < 0 ? -ENOMEM : 0;
}

/* Apply the writable fields of `in` to env (validating each), §1.4 patch semantics. */
static int env_apply(struct req *r, json_t *env, const json_t *in, bool create)
{
	const char *s;
	bool p1 = false, p2 = false;
	int stage_type, k;

	if (!json_is_object(in))
		return req_bad(r, NULL, "the body must be a JSON object");
	/* description: HTML-escaped */
	k = api_opt_string(r, in, "description", 1024, &s);
	if (k < 0)
		return k;
	if (s) {
		char *esc = html_escape(s);
		if (!esc)
			return -ENOMEM;
		(void)json_object_set_new(env, "description", json_string(esc));
		free(esc);
	}
	k = api_opt_string(r, in, "buildName", 64, &s);
	if (k < 0)
		return k;
	if (s) {
		if (!build_name_is_valid(s))
			return req_bad(r, "buildName", "buildName must match ^[A-Za-z0-9_./-]{1,64}$");
		(void)json_object_set_new(env, "buildName", json_string(s));
	}
	k = api_opt_string(r, in, "branch", 64, &s);
	if (k < 0)
		return k;
	if (s) {
		if (!branch_is_valid(s))
			return req_bad(r, "branch", "branch must match ^[A-Za-z0-9_:.,/-]{0,64}$");
		(void)json_object_set_new(env, "branch", json_string(s));
	}
	if ((k = set_clearable(r, env, in, "chatroom", 128, chatroom_is_valid)) < 0 ||
	    (k = set_clearable(r, env, in, "emailRecipients", 1024, NULL)) < 0 ||
	    (k = set_clearable(r, env, in, "watchRecipients", 1024, NULL)) < 0 ||
	    (k = set_clearable(r, env, in, "groupMentionRecipients", 1024, NULL)) < 0 ||
	    (k = set_bool(r, env, in, "notifyAuthors")) < 0 ||
	    (k = set_int(r, env, in, "maxParallel", 0, 10000, &p1)) < 0 ||
	    (k = set_int(r, env, in, "maxParallelPct", 0, 100, &p2)) < 0)
		return k;
	if (p1 && !p2)
		(void)json_object_set_new(env, "maxParallelPct", json_integer(0));
	if (p2 && !p1)
		(void)json_object_set_new(env, "maxParallel", json_integer(0));
	if ((k = set_enum(r, env, in, "priority", deploy_priority_from_string, deploy_priority_to_string, NULL)) < 0)
		return k;
	{
		json_t *sp = json_object_get(in, "systemPriority");
		if (sp && !json_is_null(sp)) {
			if (!json_is_integer(sp))
				return req_bad(r, "systemPriority", "systemPriority must be an integer");
			k = http_require(r, ROLE_ADMIN, SCOPE_ENV, json_string_value(json_object_get(env, "envName")));
			if (k < 0)
				return k;
			(void)json_object_set_new(env, "systemPriority",
						  json_integer_value(sp) > 0 ? json_integer(json_integer_value(sp))
									     : json_null());
		}
	}
	if ((k = set_int(r, env, in, "stuckThreshold", 1, 604800, NULL)) < 0 ||
	    (k = set_int(r, env, in, "successThreshold", 0, 10000, NULL)) < 0 ||
	    (k = set_enum(r, env, in, "acceptanceType", acceptance_type_from_string, acceptance_type_to_string,
			  NULL)) < 0 ||
	    (k = set_int(r, env, in, "maxDeployNum", 1, INT32_MAX, NULL)) < 0 ||
	    (k = set_int(r, env, in, "maxDeployDay", 1, INT32_MAX, NULL)) < 0 ||
	    (k = set_bool(r, env, in, "isDocker")) < 0)
		return k;
	k = api_opt_enum(r, in, "stageType", env_type_from_string, &stage_type);
	if (k < 0)
		return k;
	if (stage_type >= 0) {
		int cur = env_type_from_string(json_string_value(json_object_get(env, "stageType")));
		if (stage_type == ENV_TYPE_DEFAULT)
			return req_bad(r, "stageType", "stageType DEFAULT cannot be set explicitly");
		if (!create && cur > ENV_TYPE_DEFAULT && env_type_is_production(cur) &&
		    !env_type_is_production(stage_type))
			return req_bad(r, "stageType", "a production stage cannot become %s",
				       env_type_to_string(stage_type));
		(void)json_object_set_new(env, "stageType", json_string(env_type_to_string(stage_type)));
		if (stage_type == ENV_TYPE_DEV)
			(void)json_object_set_new(env, "allowPrivateBuild", json_true());
	}
	if ((k = set_enum(r, env, in, "failurePolicy", failure_policy_from_string, failure_policy_to_string, NULL)) <
	    0)
		return k;
	k = api_opt_string(r, in, "signingKey", 256, &s);
	if (k < 0)
		return k;
	if (s) {
		unsigned char key[64];
		size_t len = 0;
		if (*s && (base64_decode(s, key, sizeof(key), &len) < 0 || len != 32))
			return req_bad(r, "signingKey", "signingKey must be standard base64 of a 32-byte Ed25519 key");
		if (!streq_ptr(s, json_string_value(json_object_get(env, "signingKey"))) &&
		    !(!*s && json_is_null(json_object_get(env, "signingKey")))) {
			k = http_require(r, ROLE_ADMIN, SCOPE_ENV, json_string_value(json_object_get(env, "envName")));
			if (k < 0)
				return k;
		}
		(void)json_object_set_new(env, "signingKey", *s ? json_string(s) : json_null());
	}
	/* legacy, inert */
	if ((k = set_enum(r, env, in, "overridePolicy", override_policy_from_string, override_policy_to_string, NULL)) <
		    0 ||
	    (k = set_plain_string(r, env, in, "clusterName", 256)) < 0 ||
	    (k = set_int(r, env, in, "maxParallelRp", 0, INT32_MAX, NULL)) < 0 ||
	    (k = set_plain_string(r, env, in, "deployConstraintId", 256)) < 0 ||
	    (k = set_plain_string(r, env, in, "externalId", 256)) < 0 ||
	    (k = set_plain_string(r, env, in, "projectName", 256)) < 0 ||
	    (k = set_int(r, env, in, "terminationLimit", INT32_MIN, INT32_MAX, NULL)) < 0 ||
	    (k = set_bool(r, env, in, "allowPrivateBuild")) < 0 || (k = set_bool(r, env, in, "ensureTrustedBuild")) < 0 ||
	    (k = set_bool(r, env, in, "isSOX")) < 0 || (k = set_bool(r, env, in, "useEntitlements")) < 0)
		return k;
	(void)json_object_set_new(env, "lastOperator", json_string(api_operator(r)));
	(void)json_object_set_new(env, "lastUpdate", json_integer(now_ms()));
	return 0;
}

/* The user who created a new env becomes its ADMIN (§9.5): an ENV binding, raised if one exists. */
static int env_grant_creator(struct req *r, const char *env_name)
{
	json_t *b = json_pack("{s:s,s:s,s:s,s:s}", "name", r->principal.name, "resource", env_name, "type", "ENV",
			      "role", "ADMIN");
	int k;

	if (!b)
		return -ENOMEM;
	k = store_binding_insert(r->srv->store, "USER", b);
	if (k == -EEXIST)
		k = store_binding_update(r->srv->store, "USER", b);
	json_decref(b);
	if (k < 0)
		return api_store_error(r, k, "cannot grant the env's creator ADMIN");
	return 0;
}

/* A stage of an existing env needs OPERATOR on it. A new env needs OPERATOR at SYSTEM scope: an env
 * is a boundary around hosts and secrets, so making one is the system's decision; with
 * env_self_service any signed-in user may make one (upstream's behaviour). */
static int env_create_allowed(struct req *r, const char *env_name, bool new_env)
{
	if (!new_env)
		return http_require(r, ROLE_OPERATOR, SCOPE_ENV, env_name);
	if (r->srv->cfg.env_self_service && r->principal.kind == PRINCIPAL_USER)
		return 0;
	if (principal_allows(&r->principal, ROLE_OPERATOR, SCOPE_SYSTEM, NULL))
		return 0;
	return http_fail(r, 403, NULL, "creating env '%s' needs role OPERATOR at SYSTEM scope%s", env_name,
			 r->principal.kind == PRINCIPAL_USER ? " (env_self_service is off)" : "");
}

/* The names of a new stage in a request body: envName and stageName (a 400 names the field). */
static int new_stage_names(struct req *r, const json_t *in, const char **ret_env, const char **ret_stage)
{
	const char *env_name = json_string_value(json_object_get(in, "envName"));
	const char *stage_name = json_string_value(json_object_get(in, "stageName"));

	if (!env_name || !env_name_is_valid(env_name))
		return req_bad(r, "envName", "envName is required and must match ^[A-Za-z0-9_-]{1,64}$");
	if (!stage_name || !env_name_is_valid(stage_name))
		return req_bad(r, "stageName", "stageName is required and must match ^[A-Za-z0-9_-]{1,64}$");
	if (stage_name_is_reserved(stage_name))
		return req_bad(r, "stageName", "stageName '%s' is reserved", stage_name);
	*ret_env = env_name;
	*ret_stage = stage_name;
	return 0;
}

/* Whether the caller may add a stage to env_name (env_create_allowed); *ret_grant: a user who creates a new env
 * becomes its ADMIN (§9.5). */
static int new_stage_allowed(struct req *r, const char *env_name, bool *ret_grant)
{
	json_t *existing = NULL;
	int k;

	k = store_env_list(r->srv->store, env_name, NULL, NULL, &existing);
	if (k < 0)
		return api_store_error(r, k, "cannot list stages");
	k = env_create_allowed(r, env_name, json_array_size(existing) == 0);
	*ret_grant = json_array_size(existing) == 0 && r->principal.kind == PRINCIPAL_USER;
	json_decref(existing);
	return k;
}

static int env_create(struct req *r)
{
	json_t *in = NULL, *env = NULL, *hist = NULL, *out = NULL;
	const char *env_name, *stage_name;
	char id[ID_LEN + 1], location[200];
	bool grant_admin = false;
	int k;

	k = api_body_object(r, "an EnvStage JSON body is required", &in);
	if (k < 0)
		return k;
	k = new_stage_names(r, in, &env_name, &stage_name);
	if (k < 0)
		goto out;
	k = new_stage_allowed(r, env_name, &grant_admin);
	if (k < 0)
		goto out;
	k = id_generate(id);
	if (k < 0)
		goto out;
	env = env_defaults(id, env_name, stage_name, api_operator(r));
	if (!env) {
		k = -ENOMEM;
		goto out;
	}
	k = env_apply(r, env, in, true);
	if (k < 0)
		goto out;
	hist = api_history(r, id, "Env General Config", in);
	if (!hist) {
		k = -ENOMEM;
		goto out;
	}
	k = store_env_insert(r->srv->store, env, hist);
	if (k == -EEXIST) {
		k = http_fail(r, 409, NULL, "env stage '%s/%s' already exists (names are compared ignoring case)",
			      env_name, stage_name);
		goto out;
	}
	if (k < 0) {
		k = api_store_error(r, k, "cannot create env stage");
		goto out;
	}
	if (grant_admin) {
		k = env_grant_creator(r, env_name);
		if (k < 0)
			goto out;
	}
	k = store_env_get_by_id(r->srv->store, id, &out);
	if (k < 0) {
		k = api_store_error(r, k, "cannot read env stage");
		goto out;
	}
	(void)str_printf(location, sizeof(location), "/v1/envs/%s/%s", env_name, stage_name);
	k = http_reply_created(r, location, out);
out:
	json_decref(in);
	json_decref(env);
	json_decref(hist);
	return k;
}

/* ---- clone: POST /v1/envs/{env}/{stage}/clone {envName, stageName, capacity} ---------------------------- */

/* The new stage's row: the source's fields under the new id and names; not paused or disabled, no deploy. */
static json_t *clone_fields(const json_t *src, const char *id, const char *env_name, const char *stage_name,
			    const char *operator_name)
{
	json_t *env = json_deep_copy(src);
	json_t *patch = json_pack("{s:s,s:s,s:s,s:s,s:s,s:n,s:n,s:n,s:s?,s:I}", "id", id, "envName", env_name,
				  "stageName", stage_name, "envState", "NORMAL", "state", "NORMAL", "deployId",
				  "deployType", "externalId", "lastOperator", operator_name, "lastUpdate",
				  (json_int_t)now_ms());

	if (!env || !patch || json_object_update(env, patch) < 0) {
		json_decref(env);
		env = NULL;
	}
	json_decref(patch);
	return env;
}

/* Capacity names are held by the source's env: giving them to another env is a SYSTEM ADMIN's decision (as for
 * PUT .../capacity). */
static int clone_capacity_allowed(struct req *r, const json_t *src, const char *to_env)
{
	if (streq_ptr(json_string_value(json_object_get(src, "envName")), to_env) ||
	    principal_allows(&r->principal, ROLE_ADMIN, SCOPE_SYSTEM, NULL))
		return 0;
	return http_fail(r, 403, "capacity",
			 "copying the capacity of env '%s' to env '%s' needs role ADMIN at SYSTEM scope (send "
			 "\"capacity\": false to leave it out)",
			 json_string_value(json_object_get(src, "envName")), to_env);
}

static int env_clone(struct req *r)
{
	json_t *src = NULL, *in = NULL, *env = NULL, *change = NULL, *hist = NULL, *out = NULL;
	const char *to_env = NULL, *to_stage = NULL;
	bool capacity = true, present = false, grant = false;
	char id[ID_LEN + 1], location[200];
	int k;

	k = api_env_from_path(r, &src);
	if (k < 0)
		return k;
	k = api_body_object(r, "a JSON body {\"envName\", \"stageName\"} naming the new stage is required", &in);
	if (k >= 0)
		k = new_stage_names(r, in, &to_env, &to_stage);
	if (k >= 0)
		k = api_opt_bool(r, in, "capacity", &capacity, &present);
	if (k >= 0 && !present)
		capacity = true;
	if (k >= 0)
		k = new_stage_allowed(r, to_env, &grant);
	if (k >= 0 && capacity)
		k = clone_capacity_allowed(r, src, to_env);
	if (k >= 0)
		k = id_generate(id);
	if (k < 0)
		goto out;
	env = clone_fields(src, id, to_env, to_stage, api_operator(r));
	change = json_pack("{s:s,s:s,s:b}", "clonedFromEnv", json_string_value(json_object_get(src, "envName")),
			   "clonedFromStage", json_string_value(json_object_get(src, "stageName")), "capacity", capacity);
	hist = change ? api_history(r, id, "Env General Config", change) : NULL;
	if (!env || !hist) {
		k = -ENOMEM;
		goto out;
	}
	k = store_env_clone(r->srv->store, env, json_string_value(json_object_get(src, "id")), capacity, hist);
	if (k == -EEXIST) {
		k = http_fail(r, 409, "stageName", "env stage '%s/%s' already exists (names are compared ignoring case)",
			      to_env, to_stage);
		goto out;
	}
	if (k < 0) {
		k = api_store_error(r, k, "cannot clone env stage");
		goto out;
	}
	if (grant && (k = env_grant_creator(r, to_env)) < 0)
		goto out;
	k = store_env_get_by_id(r->srv->store, id, &out);
	if (k < 0) {
		k = api_store_error(r, k, "cannot read env stage");
		goto out;
	}
	(void)str_printf(location, sizeof(location), "/v1/envs/%s/%s", to_env, to_stage);
	k = http_reply_created(r, location, out);
out:
	json_decref(src);
	json_decref(in);
	json_decref(env);
	json_decref(change);
	json_decref(hist);
	return k;
}

static int env_get(struct req *r)
{
	json_t *env = NULL;
	int k = api_env_from_path(r, &env);
	if (k < 0)
		return k;
	return http_reply_json(r, 200, env);
}

static int env_get_by_id(struct req *r)
{
	json_t *env = NULL;
	int k = api_get_by_id(r, "env", NULL, req_param(r, "id"), store_env_get_by_id, &env);

	return k < 0 ? k : http_reply_json(r, 200, env);
}

static int env_list(struct req *r)
{
	const struct query *q = req_query(r);
	const char *stage_type = NULL;
	json_t *list = NULL;
	int k;

	k = api_query_enum(r, "stageType", env_type_from_string, env_type_to_string, &stage_type);
	if (k < 0)
		return k;
	k = store_env_list(r->srv->store, query_get(q, "envName"), stage_type,
			   query_get(q, "envName") ? NULL : query_get(q, "groupName"), &list);
	if (k < 0)
		return api_store_error(r, k, "cannot list env stages");
	return http_reply_json(r, 200, list);
}

static int env_names(struct req *r)
{
	json_t *list = NULL;
	int64_t off, lim;
	int k;

	k = api_paging(r, "pageIndex", "pageSize", 30, &off, &lim);
	if (k < 0)
		return k;
	k = store_env_names(r->srv->store, query_get(req_query(r), "nameFilter"), off, lim, &list);
	if (k < 0)
		return api_store_error(r, k, "cannot list env names");
	return http_reply_json(r, 200, list);
}

static int env_ids(struct req *r)
{
	json_t *list = NULL, *ids = json_array(), *e;
	size_t i;
	int k;

	if (!ids)
		return -ENOMEM;
	k = store_env_list(r->srv->store, NULL, NULL, NULL, &list);
	if (k < 0) {
		json_decref(ids);
		return api_store_error(r, k, "cannot list env stages");
	}
	json_array_foreach(list, i, e) (void)json_array_append(ids, json_object_get(e, "id"));
	json_decref(list);
	return http_reply_json(r, 200, ids);
}

static int env_sidecars(struct req *r)
{
	json_t *list = NULL, *out = json_array(), *e;
	size_t i;
	int k;

	if (!out)
		return -ENOMEM;
	k = store_env_list(r->srv->store, NULL, NULL, NULL, &list);
	if (k < 0) {
		json_decref(out);
		return api_store_error(r, k, "cannot list env stages");
	}
	json_array_foreach(list, i, e) if (json_integer_value(json_object_get(e, "systemPriority")) > 0)
		(void)json_array_append(out, e);
	json_decref(list);
	return http_reply_json(r, 200, out);
}

static int env_update(struct req *r)
{
	json_t *in = NULL, *env = NULL, *hist = NULL;
	bool release;
	int k;

	k = api_env_from_path(r, &env);
	if (k < 0)
		return k;
	k = api_body_object(r, "a JSON body is required", &in);
	if (k < 0)
		goto out;
	const char *old_policy = json_string_value(json_object_get(env, "failurePolicy"));
	bool was_continue = streq_ptr(old_policy, "CONTINUE");
	k = env_apply(r, env, in, false);
	if (k < 0)
		goto out;
	release = !was_continue && streq_ptr(json_string_value(json_object_get(env, "failurePolicy")), "CONTINUE");
	hist = api_history(r, json_string_value(json_object_get(env, "id")), "Env General Config", in);
	if (!hist) {
		k = -ENOMEM;
		goto out;
	}
	k = store_env_update(r->srv->store, env, hist, release);
	if (k < 0) {
		k = api_store_error(r, k, "cannot update env stage");
		if (k == -ENOENT)
			k = http_fail(r, 404, NULL, "env stage was deleted");
		goto out;
	}
	k = http_reply_empty(r, 204);
out:
	json_decref(in);
	json_decref(env);
	json_decref(hist);
	return k;
}

static int env_delete(struct req *r)
{
	json_t *env = NULL;
	int k;

	k = api_env_from_path(r, &env);
	if (k < 0)
		return k;
	k = store_env_delete(r->srv->store, json_string_value(json_object_get(env, "id")));
	json_decref(env);
	if (k == -EBUSY)
		return http_fail(r, 409, NULL, "the stage still has capacity or hosts: remove its capacity and let "
					       "the hosts ping first");
	if (k == -ENOENT)
		return http_fail(r, 404, NULL, "env stage not found");
	return api_store_done(r, k, "cannot delete env stage");
}

static int env_history(struct req *r)
{
	json_t *env = NULL, *list = NULL;
	int64_t off, lim;
	int k;

	k = api_env_from_path(r, &env);
	if (k < 0)
		return k;
	k = api_paging(r, "pageIndex", "pageSize", 30, &off, &lim);
	if (k >= 0) {
		k = store_history_list(r->srv->store, json_string_value(json_object_get(env, "id")), off, lim, &list);
		if (k < 0)
			k = api_store_error(r, k, "cannot read config history");
		else
			api_configs_hide_history(r, list);
	}
	json_decref(env);
	if (k < 0)
		return k;
	return http_reply_json(r, 200, list);
}

/* ENABLE / DISABLE (§4.3): one stage (env set) or every stage; a tag records it. */
static int env_enable(struct req *r, const json_t *env)
{
	const struct query *q = req_query(r);
	const char *action = query_get(q, "actionType"), *description = query_get(q, "description");
	char id[ID_LEN + 1], *change = NULL;
	json_t *tag = NULL, *chg;
	bool enable;
	int k;

	if (!action || (strcasecmp(action, "ENABLE") != 0 && strcasecmp(action, "DISABLE") != 0))
		return req_bad(r, "actionType", "actionType must be ENABLE or DISABLE");
	if (!description)
		return req_bad(r, "description", "description is required");
	if (strlen(description) > 1024)
		return req_bad(r, "description", "description is longer than 1024 characters");
	enable = strcasecmp(action, "ENABLE") == 0;
	k = id_generate(id);
	if (k < 0)
		return k;
	tag = json_pack("{s:s,s:s,s:s,s:s,s:s,s:I,s:s,s:n}", "id", id, "value", enable ? "ENABLE_ENV" : "DISABLE_ENV",
			"targetType", env ? "ENVIRONMENT" : "TELETRAAN", "targetId",
			env ? json_string_value(json_object_get(env, "id")) : "teletraan", "operator", api_operator(r),
			"createdDate", (json_int_t)now_ms(), "comments", description, "metaInfo");
	chg = json_pack("{s:s,s:s}", "action", enable ? "ENABLE" : "DISABLE", "description", description);
	change = chg ? json_dumps(chg, JSON_COMPACT) : NULL;
	json_decref(chg);
	if (!tag || !change) {
		json_decref(tag);
		free(change);
		return -ENOMEM;
	}
	k = store_env_set_enabled(r->srv->store, env ? json_string_value(json_object_get(env, "id")) : NULL,
				  enable ? "NORMAL" : "DISABLED", tag, api_operator(r), change);
	json_decref(tag);
	free(change);
	return api_store_done(r, k, "cannot change the stage state");
}

static int env_action(struct req *r)
{
	json_t *env = NULL;
	int k = api_env_from_path(r, &env);
	if (k < 0)
		return k;
	k = env_enable(r, env);
	json_decref(env);
	return k;
}

static int envs_action(struct req *r)
{
	return env_enable(r, NULL);
}

const struct route api_envs_routes[] = {
	{ "POST", "/v1/envs/actions", envs_action, ROLE_OPERATOR, SCOPE_SYSTEM, false },
	{ "POST", "/v1/envs/{env}/{stage}/actions", env_action, ROLE_OPERATOR, SCOPE_ENV, false },
	/* copies secrets (script configs, hook headers): OPERATOR on the source; the target is checked as a new stage */
	{ "POST", "/v1/envs/{env}/{stage}/clone", env_clone, ROLE_OPERATOR, SCOPE_ENV, false },
	{ "POST", "/v1/envs", env_create, ROLE_OPERATOR, SCOPE_NEW_ENV, false },
	{ "GET", "/v1/envs", env_list, ROLE_READER, SCOPE_ANY, false },
	{ "GET", "/v1/envs/names", env_names, ROLE_READER, SCOPE_ANY, false },
	{ "GET", "/v1/envs/ids", env_ids, ROLE_READER, SCOPE_ANY, false },
	{ "GET", "/v1/envs/sidecars", env_sidecars, ROLE_READER, SCOPE_ANY, false },
	{ "GET", "/v1/envs/{id}", env_get_by_id, ROLE_READER, SCOPE_ANY, false },
	{ "GET", "/v1/envs/{env}/{stage}", env_get, ROLE_READER, SCOPE_ANY, false },
	{ "PUT", "/v1/envs/{env}/{stage}", env_update, ROLE_OPERATOR, SCOPE_ENV, false },
	{ "DELETE", "/v1/envs/{env}/{stage}", env_delete, ROLE_OPERATOR, SCOPE_ENV, false },
	{ "GET", "/v1/envs/{env}/{stage}/history", env_history, ROLE_READER, SCOPE_ANY, false },
};
const size_t api_envs_routes_count = ELEMENTSOF(api_envs_routes);

/* ---- input check without a store (fuzzing, tests) -------------------------------------------- */

int api_env_input_check(struct req *r, const json_t *in, bool create)
{
	json_t *env = env_defaults("EnvIdAAAAAAAAAAAAAAAAA", "web", "prod", "fuzz");
	int k;

	if (!env)
		return -ENOMEM;
	k = env_apply(r, env, in, create);
	json_decref(env);
	return k;
}
