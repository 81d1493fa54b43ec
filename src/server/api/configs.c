/* SPDX-License-Identifier: Apache-2.0 */
/* api/configs.c: per-stage configuration documents (PROTOCOL §4.8, §4.9): script_configs and
 * agent_configs (string maps), metrics and alarms (opaque arrays), web_hooks (EnvWebHook). A PUT replaces the whole value,
 * writes config history and an ENV wake event. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "analysis_rules.h"
#include "api.h"
#include "enums.h"
#include "scriptvar.h"
#include "util.h"
#include "webhook_config.h"
#include "banned.h"

static const struct config_kind {
	const char *path;
	enum store_config_kind kind;
	const char *history_type;
	bool is_map;
	bool secret; /* readable with OPERATOR on the env only (the route table says so too) */
} kinds[] = {
	{ "script_configs", STORE_CONFIG_SCRIPT, "Env Script Config", true, true },
	{ "agent_configs", STORE_CONFIG_AGENT, "Env Advanced Config", true, true },
	{ "metrics", STORE_CONFIG_METRICS, "Env Metrics Config", false, false },
	{ "alarms", STORE_CONFIG_ALARMS, "Env Alarm Config", false, false },
	{ "web_hooks", STORE_CONFIG_WEBHOOKS, "Env Webhook Config", false, true },
	{ "analysis", STORE_CONFIG_ANALYSIS, "Env Analysis Config", false, false },
};

static const struct config_kind *kind_of(struct req *r)
{
	const char *last = strrchr(r->path, '/');
	for (size_t i = 0; last && i < ELEMENTSOF(kinds); i++)
		if (streq(last + 1, kinds[i].path))
			return &kinds[i];
	return NULL;
}

/* The config kind of the path and the stage it belongs to; 404 for an unknown kind. */
static int config_target(struct req *r, const struct config_kind **ret_kind, json_t **ret_env)
{
	*ret_kind = kind_of(r);
	return *ret_kind ? api_env_from_path(r, ret_env) : -ENOENT;
}

static int config_get(struct req *r)
{
	const struct config_kind *ck;
	json_t *env = NULL, *v = NULL;
	int k;

	k = config_target(r, &ck, &env);
	if (k < 0)
		return k;
	k = store_config_get(r->srv->store, json_string_value(json_object_get(env, "id")), ck->kind, &v);
	json_decref(env);
	if (k == -ENOENT && ck->kind == STORE_CONFIG_WEBHOOKS) /* as upstream answers a stage without hooks */
		return http_reply_json(r, 200, json_pack("{s:n,s:n}", "preDeployHooks", "postDeployHooks"));
	if (k == -ENOENT && ck->kind == STORE_CONFIG_ANALYSIS) {
		json_t *none = json_object();
		char field[8], msg[8];
		k = none ? engine_analysis_check(none, &v, field, sizeof(field), msg, sizeof(msg)) : -ENOMEM;
		json_decref(none);
		return k < 0 ? k : http_reply_json(r, 200, v);
	}
	if (k == -ENOENT)
		return http_reply_json(r, 200, ck->is_map ? json_object() : json_array());
	if (k < 0)
		return api_store_error(r, k, "cannot read configuration");
	return http_reply_json(r, 200, v);
}

void api_configs_hide_history(struct req *r, json_t *list)
{
	json_t *h;
	size_t i;

	if (principal_allows(&r->principal, ROLE_OPERATOR, SCOPE_ENV, req_param(r, "env")))
		return;
	json_array_foreach(list, i, h) {
		const char *type = json_string_value(json_object_get(h, "type"));
		for (size_t k = 0; type && k < ELEMENTSOF(kinds); k++)
			if (kinds[k].secret && streq(type, kinds[k].history_type)) {
				(void)json_object_set_new(h, "configChange", json_null());
				(void)json_object_set_new(h, "configHidden", json_true());
			}
	}
}

static bool key_ok(const char *key)
{
	size_t l = strlen(key);
	if (l < 1 || l > 128)
		return false;
	for (const char *p = key; *p; p++)
		if (iscntrl((unsigned char)*p) || *p == '=')
			return false;
	return true;
}

/* Validate a string map; agent configs get their values trimmed, script configs may not use the names of
 * proto/scriptvar.h (returns a new object). */
static int validate_map(struct req *r, json_t *in, enum store_config_kind kind, json_t **ret)
{
	bool trim = kind == STORE_CONFIG_AGENT;
	json_t *out, *v;
	const char *key;

	if (!json_is_object(in))
		return req_bad(r, NULL, "the body must be a JSON object of strings");
	if (json_object_size(in) > 500)
		return req_bad(r, NULL, "at most 500 keys are allowed");
	out = json_object();
	if (!out)
		return -ENOMEM;
	json_object_foreach(in, key, v) {
		const char *s;
		if (!key_ok(key)) {
			json_decref(out);
			return req_bad(r, key, "keys must have 1..128 characters without control characters or '='");
		}
		if (kind == STORE_CONFIG_SCRIPT && scriptvar_is_refused(key)) {
			json_decref(out);
			return req_bad(r, key, "'%s' changes how shells, loaders or interpreters behave and cannot be a "
					       "script variable (see docs/deploy-scripts.md)", key);
		}
		if (!json_is_string(v) || json_string_length(v) > 8192) {
			json_decref(out);
			return req_bad(r, key, "values must be strings of at most 8192 characters");
		}
		s = json_string_value(v);
		if (trim) {
			size_t b = strspn(s, " \t\r\n"), e = strlen(s);
			while (e > b && strchr(" \t\r\n", s[e - 1]))
				e--;
			(void)json_object_set_new(out, key, json_stringn(s + b, e - b));
		} else
			(void)json_object_set(out, key, v);
	}
	*ret = out;
	return 0;
}

static int config_put(struct req *r)
{
	const struct config_kind *ck;
	json_t *env = NULL, *in = NULL, *value = NULL, *hist = NULL;
	const char *env_id;
	int k;

	k = config_target(r, &ck, &env);
	if (k < 0)
		return k;
	env_id = json_string_value(json_object_get(env, "id"));
	k = api_body(r, "a JSON body is required", &in);
	if (k < 0)
		goto out;
	if (ck->kind == STORE_CONFIG_WEBHOOKS) {
		struct webhook_policy pol;
		char field[128], msg[256];
		k = webhook_policy_init(r->srv->cfg.webhook_allowed_networks, r->srv->cfg.trusted_user_header,
					r->srv->cfg.trusted_groups_header, &pol);
		if (k < 0)
			goto out;
		k = webhook_config_validate(in, &pol, &value, field, sizeof(field), msg, sizeof(msg));
		webhook_policy_release(&pol);
		if (k == -EINVAL)
			k = req_bad(r, field, "%s", msg);
		if (k < 0)
			goto out;
	} else if (ck->kind == STORE_CONFIG_ANALYSIS) {
		char field[64], msg[256];
		k = engine_analysis_check(in, &value, field, sizeof(field), msg, sizeof(msg));
		if (k == -EINVAL)
			k = req_bad(r, field[0] ? field : NULL, "%s", msg);
		if (k < 0)
			goto out;
	} else if (ck->is_map) {
		k = validate_map(r, in, ck->kind, &value);
		if (k < 0)
			goto out;
	} else {
		if (!json_is_array(in) || json_array_size(in) > 10000) {
			k = req_bad(r, NULL, "the body must be a JSON array");
			goto out;
		}
		value = json_incref(in);
	}
	hist = api_history(r, env_id, ck->history_type, value);
	if (!hist) {
		k = -ENOMEM;
		goto out;
	}
	k = store_config_put(r->srv->store, env_id, ck->kind, value, hist);
	k = api_store_done(r, k, "cannot store configuration");
out:
	json_decref(env);
	json_decref(in);
	json_decref(value);
	json_decref(hist);
	return k;
}

/* script_configs, agent_configs and web_hooks carry secrets (passwords, hook headers): reading them needs
 * OPERATOR on the env, as writing does; env_history() hides their values in config history the same way. */
const struct route api_configs_routes[] = {
	{ "GET", "/v1/envs/{env}/{stage}/script_configs", config_get, ROLE_OPERATOR, SCOPE_ENV, false },
	{ "PUT", "/v1/envs/{env}/{stage}/script_configs", config_put, ROLE_OPERATOR, SCOPE_ENV, false },
	{ "GET", "/v1/envs/{env}/{stage}/agent_configs", config_get, ROLE_OPERATOR, SCOPE_ENV, false },
	{ "PUT", "/v1/envs/{env}/{stage}/agent_configs", config_put, ROLE_OPERATOR, SCOPE_ENV, false },
	{ "GET", "/v1/envs/{env}/{stage}/metrics", config_get, ROLE_READER, SCOPE_ANY, false },
	{ "PUT", "/v1/envs/{env}/{stage}/metrics", config_put, ROLE_OPERATOR, SCOPE_ENV, false },
	{ "GET", "/v1/envs/{env}/{stage}/alarms", config_get, ROLE_READER, SCOPE_ANY, false },
	{ "PUT", "/v1/envs/{env}/{stage}/alarms", config_put, ROLE_OPERATOR, SCOPE_ENV, false },
	{ "GET", "/v1/envs/{env}/{stage}/web_hooks", config_get, ROLE_OPERATOR, SCOPE_ENV, false },
	{ "PUT", "/v1/envs/{env}/{stage}/web_hooks", config_put, ROLE_OPERATOR, SCOPE_ENV, false },
	{ "GET", "/v1/envs/{env}/{stage}/analysis", config_get, ROLE_READER, SCOPE_ANY, false },
	{ "PUT", "/v1/envs/{env}/{stage}/analysis", config_put, ROLE_OPERATOR, SCOPE_ENV, false },
};
const size_t api_configs_routes_count = ELEMENTSOF(api_configs_routes);
