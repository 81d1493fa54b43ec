/* SPDX-License-Identifier: Apache-2.0 */
/* api/capacity.c: {env}/{stage}/capacity (PROTOCOL §4.4): which hosts and groups belong to a
 * stage. Every change writes config history and CAPACITY wake events (in the store transaction). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "enums.h"
#include "jsonutil.h"
#include "util.h"
#include "banned.h"

static int capacity_type(struct req *r, const char **ret)
{
	const char *t = query_get(req_query(r), "capacityType");

	if (!t || strcasecmp(t, "GROUP") == 0)
		*ret = "GROUP";
	else if (strcasecmp(t, "HOST") == 0)
		*ret = "HOST";
	else
		return req_bad(r, "capacityType", "capacityType must be GROUP or HOST");
	return 0;
}

/* The capacityType of the query and the stage of the path. */
static int capacity_target(struct req *r, const char **ret_type, json_t **ret_env)
{
	int k = capacity_type(r, ret_type);

	return k < 0 ? k : api_env_from_path(r, ret_env);
}

static bool name_ok(const char *type, const char *name)
{
	return streq(type, "HOST") ? api_host_ok(name) : api_group_ok(name);
}

static int capacity_get(struct req *r)
{
	json_t *env = NULL, *list = NULL;
	const char *type;
	int k;

	k = capacity_target(r, &type, &env);
	if (k < 0)
		return k;
	k = store_capacity_get(r->srv->store, json_string_value(json_object_get(env, "id")), type, &list);
	json_decref(env);
	if (k < 0)
		return api_store_error(r, k, "cannot read capacity");
	return http_reply_json(r, 200, list);
}

/* One name from the body: a JSON string, or bare text with '"' stripped. */
static int body_name(struct req *r, char **ret)
{
	json_t *j = NULL;
	char *s;
	size_t i, o;

	if (r->body && r->body_len > 0 && json_parse_bounded(r->body, r->body_len, &j, NULL, 0) == 0 && json_is_string(j)) {
		s = strdup(json_string_value(j));
		json_decref(j);
	} else {
		json_decref(j);
		s = strndup(r->body ? r->body : "", r->body_len);
		if (s) {
			for (i = o = 0; s[i]; i++)
				if (s[i] != '"')
					s[o++] = s[i];
			s[o] = 0;
			/* trim surrounding whitespace */
			while (o > 0 && (s[o - 1] == ' ' || s[o - 1] == '\n' || s[o - 1] == '\r' || s[o - 1] == '\t'))
				s[--o] = 0;
			size_t lead = strspn(s, " \t\r\n");
			memmove(s, s + lead, strlen(s + lead) + 1);
		}
	}
	if (!s)
		return -ENOMEM;
	*ret = s;
	return 0;
}

/* An env is a boundary around hosts (store_capacity_change): a SYSTEM ADMIN may give a stage any host or
 * group, the env's ADMIN also those no env holds yet, an OPERATOR only those the env already holds. */
static enum store_claim capacity_claim(struct req *r, const char *env_name)
{
	if (principal_allows(&r->principal, ROLE_ADMIN, SCOPE_SYSTEM, NULL))
		return STORE_CLAIM_ANY;
	if (principal_allows(&r->principal, ROLE_ADMIN, SCOPE_ENV, env_name))
		return STORE_CLAIM_FREE;
	return STORE_CLAIM_OWN;
}

static int capacity_refused(struct req *r, const char *type, const char *env_name,
			    const struct store_claim_refusal *why)
{
	const char *what = streq(type, "HOST") ? "host" : "group";

	if (*why->env)
		return http_fail(r, 403, NULL,
				 "%s '%s' is in the capacity of env '%s': adding it to another env needs role ADMIN "
				 "at SYSTEM scope", what, why->name, why->env);
	return http_fail(r, 403, NULL, "%s '%s' is in no env's capacity yet: claiming it needs role ADMIN on env %s",
			 what, why->name, env_name);
}

static int capacity_change(struct req *r, enum store_capacity_op op)
{
	struct store_claim_refusal why = {};
	json_t *env = NULL, *names = NULL, *hist = NULL, *change = NULL;
	const char *type, *env_id, *env_name;
	char *one = NULL;
	int k;

	k = capacity_target(r, &type, &env);
	if (k < 0)
		return k;
	env_id = json_string_value(json_object_get(env, "id"));
	if (op == STORE_CAPACITY_REPLACE) {
		json_t *v;
		size_t i;
		k = api_body(r, "a JSON array of names is required", &names);
		if (k < 0)
			goto out;
		if (!json_is_array(names) || json_array_size(names) > 10000) {
			k = req_bad(r, NULL, "the body must be a JSON array of at most 10000 names");
			goto out;
		}
		json_array_foreach(names, i, v) {
			if (!json_is_string(v) || !name_ok(type, json_string_value(v))) {
				char field[32];
				(void)str_printf(field, sizeof(field), "[%zu]", i);
				k = req_bad(r, field, "invalid %s name", streq(type, "HOST") ? "host" : "group");
				goto out;
			}
		}
		change = json_incref(names);
	} else {
		k = body_name(r, &one);
		if (k < 0)
			goto out;
		if (!name_ok(type, one)) {
			k = req_bad(r, NULL, "invalid %s name '%.64s'", streq(type, "HOST") ? "host" : "group", one);
			goto out;
		}
		names = json_string(one);
		change = json_pack("{s:s,s:s}", op == STORE_CAPACITY_ADD ? "add" : "remove", one, "type", type);
	}
	hist = api_history(r, env_id, streq(type, "HOST") ? "Env Host Capacity Config" : "Env Group Capacity Config",
			   change);
	if (!names || !hist) {
		k = -ENOMEM;
		goto out;
	}
	env_name = json_string_value(json_object_get(env, "envName"));
	k = store_capacity_change(r->srv->store, env_id, type, op, names, hist, capacity_claim(r, env_name), &why);
	if (k == -EACCES) {
		k = capacity_refused(r, type, env_name, &why);
		goto out;
	}
	k = api_store_done(r, k, "cannot change capacity");
out:
	free(one);
	json_decref(env);
	json_decref(names);
	json_decref(hist);
	json_decref(change);
	return k;
}

static int capacity_put(struct req *r)
{
	return capacity_change(r, STORE_CAPACITY_REPLACE);
}

static int capacity_post(struct req *r)
{
	return capacity_change(r, STORE_CAPACITY_ADD);
}

static int capacity_delete(struct req *r)
{
	return capacity_change(r, STORE_CAPACITY_REMOVE);
}

const struct route api_capacity_routes[] = {
	{ "GET", "/v1/envs/{env}/{stage}/capacity", capacity_get, ROLE_READER, SCOPE_ANY, false },
	{ "PUT", "/v1/envs/{env}/{stage}/capacity", capacity_put, ROLE_OPERATOR, SCOPE_ENV, false },
	{ "POST", "/v1/envs/{env}/{stage}/capacity", capacity_post, ROLE_OPERATOR, SCOPE_ENV, false },
	{ "DELETE", "/v1/envs/{env}/{stage}/capacity", capacity_delete, ROLE_OPERATOR, SCOPE_ENV, false },
};
const size_t api_capacity_routes_count = ELEMENTSOF(api_capacity_routes);
