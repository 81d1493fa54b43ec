/* SPDX-License-Identifier: Apache-2.0 */
/* api/tokens.c: token_roles of an env and of the system (PROTOCOL §4.10). Tokens are stored only
 * as SHA-256 hashes; the secret is shown once, in the 201 of the creation. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "enums.h"
#include "hash.h"
#include "names.h"
#include "util.h"
#include "banned.h"

#define TOKEN_DEFAULT_LIFETIME_MS (180LL * 24 * 3600 * 1000)

int api_security_scope(struct req *r, const char **ret_type, const char **ret_resource)
{
	const char *env = req_param(r, "env");
	json_t *stages = NULL;
	char *name;
	int k;

	if (!env) {
		*ret_type = "SYSTEM";
		*ret_resource = "*";
		return 0;
	}
	if (!env_name_is_valid(env))
		return http_fail(r, 404, NULL, "env '%.64s' not found", env);
	k = store_env_list(r->srv->store, env, NULL, NULL, &stages);
	if (k < 0)
		return api_store_error(r, k, "cannot list stages");
	if (json_array_size(stages) == 0) {
		json_decref(stages);
		return http_fail(r, 404, NULL, "env '%s' not found", env);
	}
	name = req_strdup(r, json_string_value(json_object_get(json_array_get(stages, 0), "envName")));
	json_decref(stages);
	if (!name)
		return -ENOMEM;
	*ret_type = "ENV";
	*ret_resource = name;
	return 0;
}

/* The wire Token of a row: never the hash, expireDate null when the token never expires. */
static json_t *token_out(const json_t *row)
{
	json_t *exp = json_object_get(row, "expireDate");
	json_t *o = json_pack("{s:O,s:O,s:O,s:O}", "name", json_object_get(row, "name"), "resource",
			      json_object_get(row, "resource"), "type", json_object_get(row, "type"), "role",
			      json_object_get(row, "role"));
	if (!o)
		return NULL;
	if (json_object_set_new(o, "expireDate",
				json_is_integer(exp) && json_integer_value(exp) > 0 ? json_integer(json_integer_value(exp))
										    : json_null()) < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static int token_list(struct req *r)
{
	const char *type, *resource;
	json_t *rows = NULL, *out = NULL, *row;
	size_t i;
	int k;

	k = api_security_scope(r, &type, &resource);
	if (k < 0)
		return k;
	k = store_token_list(r->srv->store, type, resource, &rows);
	if (k < 0)
		return api_store_error(r, k, "cannot list tokens");
	out = json_array();
	json_array_foreach(rows, i, row) {
		if (!out || json_array_append_new(out, token_out(row)) < 0) {
			json_decref(rows);
			json_decref(out);
			return -ENOMEM;
		}
	}
	json_decref(rows);
	return http_reply_json(r, 200, out);
}

/* The named token's row; 404 when absent. */
static int token_find(struct req *r, const char *type, const char *resource, json_t **ret)
{
	const char *name = req_param(r, "name");
	int k;

	if (!name || !principal_name_is_valid(name))
		return http_fail(r, 404, NULL, "token '%.64s' not found", name ? name : "");
	k = store_token_get(r->srv->store, type, resource, name, ret);
	if (k == -ENOENT)
		return http_fail(r, 404, NULL, "token '%s' not found", name);
	if (k < 0)
		return api_store_error(r, k, "cannot read token");
	return 0;
}

static int token_get(struct req *r)
{
	const char *type, *resource;
	json_t *row = NULL;
	int k;

	k = api_security_scope(r, &type, &resource);
	if (k >= 0)
		k = token_find(r, type, resource, &row);
	if (k < 0)
		return k;
	k = http_reply_json(r, 200, token_out(row));
	json_decref(row);
	return k;
}

/* expireDate of a body: absent/null → *present false; ≤ 0 → never (JSON null); else the value. */
static int read_expire(struct req *r, const json_t *in, json_t **ret, bool *present)
{
	int64_t v = 0;
	int k;

	k = api_opt_int(r, in, "expireDate", INT64_MIN, INT64_MAX, &v, present);
	if (k < 0)
		return k;
	*ret = *present && v > 0 ? json_integer(v) : json_null();
	return *ret ? 0 : -ENOMEM;
}

static int token_create(struct req *r)
{
	const char *type, *resource, *name;
	char secret[TOKEN_LEN + 1], hash[SHA256_HEX_LEN + 1], id[ID_LEN + 1], location[256];
	json_t *in = NULL, *row = NULL, *exp = NULL, *out = NULL;
	int64_t now = now_ms();
	bool present;
	int role, k;

	k = api_security_scope(r, &type, &resource);
	if (k < 0)
		return k;
	k = api_body_object(r, "a JSON body {name, role, expireDate?} is required", &in);
	if (k < 0)
		return k;
	name = json_string_value(json_object_get(in, "name"));
	if (!name || !principal_name_is_valid(name)) {
		k = req_bad(r, "name", "name is required and must match ^[A-Za-z0-9._@-]{1,64}$");
		goto out;
	}
	if (principal_name_is_reserved(name)) {
		k = req_bad(r, "name", "name '%s' is reserved", name);
		goto out;
	}
	k = api_opt_enum(r, in, "role", role_from_string_alias, &role);
	if (k < 0)
		goto out;
	if (role < 0) {
		k = req_bad(r, "role", "role is required");
		goto out;
	}
	k = read_expire(r, in, &exp, &present);
	if (k < 0)
		goto out;
	if (!present) {
		json_decref(exp);
		exp = json_integer(now + TOKEN_DEFAULT_LIFETIME_MS);
	}
	k = token_generate(secret);
	if (k >= 0)
		k = sha256_hex(secret, strlen(secret), hash);
	if (k >= 0)
		k = id_generate(id);
	if (k < 0)
		goto out;
	row = json_pack("{s:s,s:s,s:s,s:s,s:s,s:O,s:s,s:I}", "id", id, "name", name, "resource", resource, "type",
			type, "role", role_to_string(role), "expireDate", exp, "tokenHash", hash, "createDate",
			(json_int_t)now);
	if (!row) {
		k = -ENOMEM;
		goto out;
	}
	k = store_token_insert(r->srv->store, row);
	if (k == -EEXIST) {
		k = http_fail(r, 409, "name", "token '%s' already exists", name);
		goto out;
	}
	if (k < 0) {
		k = api_store_error(r, k, "cannot create token");
		goto out;
	}
	out = token_out(row);
	if (!out || json_object_set_new(out, "token", json_string(secret)) < 0) {
		k = -ENOMEM;
		goto out;
	}
	if (streq(type, "ENV"))
		(void)str_printf(location, sizeof(location), "/v1/envs/%s/token_roles/%s", resource, name);
	else
		(void)str_printf(location, sizeof(location), "/v1/system/token_roles/%s", name);
	k = http_reply_created(r, location, out);
	out = NULL;
out:
	explicit_bzero(secret, sizeof(secret));
	json_decref(in);
	json_decref(row);
	json_decref(exp);
	json_decref(out);
	return k;
}

static int token_update(struct req *r)
{
	const char *type, *resource;
	json_t *in = NULL, *row = NULL, *exp = NULL;
	bool present;
	int role, k;

	k = api_security_scope(r, &type, &resource);
	if (k >= 0)
		k = token_find(r, type, resource, &row);
	if (k < 0)
		return k;
	k = api_body_object(r, "a JSON body {role?, expireDate?} is required", &in);
	if (k < 0)
		goto out;
	k = api_opt_enum(r, in, "role", role_from_string_alias, &role);
	if (k >= 0)
		k = read_expire(r, in, &exp, &present);
	if (k < 0)
		goto out;
	if (role >= 0 && json_object_set_new(row, "role", json_string(role_to_string(role))) < 0)
		k = -ENOMEM;
	if (k >= 0 && present && json_object_set(row, "expireDate", exp) < 0)
		k = -ENOMEM;
	if (k < 0)
		goto out;
	k = store_token_update(r->srv->store, row);
	if (k == -ENOENT) {
		k = http_fail(r, 404, NULL, "token not found");
		goto out;
	}
	k = api_store_done(r, k, "cannot update token");
out:
	json_decref(in);
	json_decref(row);
	json_decref(exp);
	return k;
}

static int token_delete(struct req *r)
{
	const char *type, *resource, *name = req_param(r, "name");
	int k;

	k = api_security_scope(r, &type, &resource);
	if (k < 0)
		return k;
	if (!name || !principal_name_is_valid(name))
		return http_fail(r, 404, NULL, "token not found");
	k = store_token_delete(r->srv->store, type, resource, name);
	if (k == -ENOENT)
		return http_fail(r, 404, NULL, "token '%s' not found", name);
	return api_store_done(r, k, "cannot delete token");
}

const struct route api_tokens_routes[] = {
	{ "GET", "/v1/envs/{env}/token_roles", token_list, ROLE_ADMIN, SCOPE_ENV, false },
	{ "POST", "/v1/envs/{env}/token_roles", token_create, ROLE_ADMIN, SCOPE_ENV, false },
	{ "GET", "/v1/envs/{env}/token_roles/{name}", token_get, ROLE_ADMIN, SCOPE_ENV, false },
	{ "PUT", "/v1/envs/{env}/token_roles/{name}", token_update, ROLE_ADMIN, SCOPE_ENV, false },
	{ "DELETE", "/v1/envs/{env}/token_roles/{name}", token_delete, ROLE_ADMIN, SCOPE_ENV, false },
	{ "GET", "/v1/system/token_roles", token_list, ROLE_ADMIN, SCOPE_SYSTEM, false },
	{ "POST", "/v1/system/token_roles", token_create, ROLE_ADMIN, SCOPE_SYSTEM, false },
	{ "GET", "/v1/system/token_roles/{name}", token_get, ROLE_ADMIN, SCOPE_SYSTEM, false },
	{ "PUT", "/v1/system/token_roles/{name}", token_update, ROLE_ADMIN, SCOPE_SYSTEM, false },
	{ "DELETE", "/v1/system/token_roles/{name}", token_delete, ROLE_ADMIN, SCOPE_SYSTEM, false },
};
const size_t api_tokens_routes_count = ELEMENTSOF(api_tokens_routes);
