/* SPDX-License-Identifier: Apache-2.0 */
/* api/roles.c: user_roles and group_roles bindings of an env and of the system (PROTOCOL §4.10)
 * and GET /v1/system/whoami (§4.1). The bindings give users behind a trusted proxy their roles
 * (§9.5, http/auth.c). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "enums.h"
#include "names.h"
#include "util.h"
#include "banned.h"

static bool group_name_ok(const char *s)
{
	return str_charset_ok(s, "._:@-", 1, 128);
}

static bool binding_name_ok(const char *kind, const char *s)
{
	return streq(kind, "GROUP") ? group_name_ok(s) : principal_name_is_valid(s);
}

static const char *kind_word(const char *kind)
{
	return streq(kind, "GROUP") ? "group" : "user";
}

static int binding_list(struct req *r, const char *kind)
{
	const char *type, *resource;
	json_t *rows = NULL;
	int k;

	k = api_security_scope(r, &type, &resource);
	if (k < 0)
		return k;
	k = store_binding_list(r->srv->store, kind, type, resource, &rows);
	if (k < 0)
		return api_store_error(r, k, "cannot list role bindings");
	return http_reply_json(r, 200, rows);
}

static int binding_find(struct req *r, const char *kind, const char *type, const char *resource, json_t **ret)
{
	const char *name = req_param(r, "name");
	int k;

	if (!name || !binding_name_ok(kind, name))
		return http_fail(r, 404, NULL, "%s role '%.64s' not found", kind_word(kind), name ? name : "");
	k = store_binding_get(r->srv->store, kind, type, resource, name, ret);
	if (k == -ENOENT)
		return http_fail(r, 404, NULL, "%s role '%s' not found", kind_word(kind), name);
	if (k < 0)
		return api_store_error(r, k, "cannot read role binding");
	return 0;
}

static int binding_get(struct req *r, const char *kind)
{
	const char *type, *resource;
	json_t *row = NULL;
	int k;

	k = api_security_scope(r, &type, &resource);
	if (k >= 0)
		k = binding_find(r, kind, type, resource, &row);
	if (k < 0)
		return k;
	return http_reply_json(r, 200, row);
}

/* Body {role} (and {name} when creating) → the role; 400 naming the field. */
static int read_body(struct req *r, bool create, json_t **ret_in, const char **ret_name, int *ret_role)
{
	json_t *in = NULL;
	int role, k;

	k = api_body_object(r, create ? "a JSON body {name, role} is required" : "a JSON body {role} is required", &in);
	if (k < 0)
		return k;
	k = api_opt_enum(r, in, "role", role_from_string_alias, &role);
	if (k >= 0 && role < 0)
		k = req_bad(r, "role", "role is required");
	if (k < 0) {
		json_decref(in);
		return k;
	}
	*ret_name = json_string_value(json_object_get(in, "name"));
	*ret_role = role;
	*ret_in = in;
	return 0;
}

static int binding_create(struct req *r, const char *kind)
{
	const char *type, *resource, *name = NULL;
	char location[256];
	json_t *in = NULL, *row = NULL;
	int role, k;

	k = api_security_scope(r, &type, &resource);
	if (k >= 0)
		k = read_body(r, true, &in, &name, &role);
	if (k < 0)
		return k;
	if (!name || !binding_name_ok(kind, name)) {
		k = req_bad(r, "name", "name is required and must match %s",
			    streq(kind, "GROUP") ? "^[A-Za-z0-9._:@-]{1,128}$" : "^[A-Za-z0-9._@-]{1,64}$");
		goto out;
	}
	if (principal_name_is_reserved(name)) {
		k = req_bad(r, "name", "name '%s' is reserved", name);
		goto out;
	}
	row = json_pack("{s:s,s:s,s:s,s:s}", "name", name, "resource", resource, "type", type, "role",
			role_to_string(role));
	if (!row) {
		k = -ENOMEM;
		goto out;
	}
	k = store_binding_insert(r->srv->store, kind, row);
	if (k == -EEXIST) {
		k = http_fail(r, 409, "name", "%s role '%s' already exists", kind_word(kind), name);
		goto out;
	}
	if (k < 0) {
		k = api_store_error(r, k, "cannot create role binding");
		goto out;
	}
	if (streq(type, "ENV"))
		(void)str_printf(location, sizeof(location), "/v1/envs/%s/%s_roles/%s", resource, kind_word(kind), name);
	else
		(void)str_printf(location, sizeof(location), "/v1/system/%s_roles/%s", kind_word(kind), name);
	k = http_reply_created(r, location, row);
	row = NULL;
out:
	json_decref(in);
	json_decref(row);
	return k;
}

static int binding_update(struct req *r, const char *kind)
{
	const char *type, *resource, *ignored = NULL;
	json_t *in = NULL, *row = NULL;
	int role = -1, k;

	k = api_security_scope(r, &type, &resource);
	if (k >= 0)
		k = binding_find(r, kind, type, resource, &row);
	if (k >= 0)
		k = read_body(r, false, &in, &ignored, &role);
	if (k >= 0 && json_object_set_new(row, "role", json_string(role_to_string(role))) < 0)
		k = -ENOMEM;
	if (k >= 0) {
		k = store_binding_update(r->srv->store, kind, row);
		if (k == -ENOENT)
			k = http_fail(r, 404, NULL, "%s role not found", kind_word(kind));
		else if (k < 0)
			k = api_store_error(r, k, "cannot update role binding");
		else
			k = http_reply_empty(r, 204);
	}
	json_decref(in);
	json_decref(row);
	return k;
}

static int binding_delete(struct req *r, const char *kind)
{
	const char *type, *resource, *name = req_param(r, "name");
	int k;

	k = api_security_scope(r, &type, &resource);
	if (k < 0)
		return k;
	if (!name || !binding_name_ok(kind, name))
		return http_fail(r, 404, NULL, "%s role not found", kind_word(kind));
	k = store_binding_delete(r->srv->store, kind, type, resource, name);
	if (k == -ENOENT)
		return http_fail(r, 404, NULL, "%s role '%s' not found", kind_word(kind), name);
	return api_store_done(r, k, "cannot delete role binding");
}

#define KIND_HANDLERS(prefix, kind)                                                                                    \
	static int prefix##_list(struct req *r) { return binding_list(r, kind); }                                    \
	static int prefix##_get(struct req *r) { return binding_get(r, kind); }                                      \
	static int prefix##_create(struct req *r) { return binding_create(r, kind); }                                \
	static int prefix##_update(struct req *r) { return binding_update(r, kind); }                                \
	static int prefix##_delete(struct req *r) { return binding_delete(r, kind); }
KIND_HANDLERS(user, "USER")
KIND_HANDLERS(group, "GROUP")

static json_t *role_entry(const char *type, const char *resource, int role)
{
	return json_pack("{s:s,s:s,s:s}", "type", type, "resource", resource, "role", role_to_string(role));
}

static int whoami(struct req *r)
{
	const struct principal *p = &r->principal;
	const char *kind = p->kind == PRINCIPAL_TOKEN ? "TOKEN" : p->kind == PRINCIPAL_USER ? "USER" : "ANONYMOUS";
	json_t *roles = json_array(), *out;
	int k = roles ? 0 : -ENOMEM;

	if (k >= 0 && p->role >= 0)
		k = json_array_append_new(roles, role_entry(scope_type_to_string(p->scope_type), p->resource, p->role));
	for (size_t i = 0; k >= 0 && i < p->n_bindings; i++) {
		const struct principal_binding *b = &p->bindings[i];
		json_t *e = role_entry(scope_type_to_string(b->scope_type), b->resource, b->role);
		if (e && b->group && json_object_set_new(e, "group", json_string(b->name)) < 0) {
			json_decref(e);
			e = NULL;
		}
		k = json_array_append_new(roles, e);
	}
	if (k < 0) {
		json_decref(roles);
		return -ENOMEM;
	}
	out = json_pack("{s:s,s:s,s:o}", "name", p->name, "kind", kind, "roles", roles);
	return http_reply_json(r, 200, out);
}

const struct route api_roles_routes[] = {
	{ "GET", "/v1/system/whoami", whoami, ROLE_READER, SCOPE_ANY, false },
	{ "GET", "/v1/envs/{env}/user_roles", user_list, ROLE_READER, SCOPE_ANY, false },
	{ "POST", "/v1/envs/{env}/user_roles", user_create, ROLE_ADMIN, SCOPE_ENV, false },
	{ "GET", "/v1/envs/{env}/user_roles/{name}", user_get, ROLE_READER, SCOPE_ANY, false },
	{ "PUT", "/v1/envs/{env}/user_roles/{name}", user_update, ROLE_ADMIN, SCOPE_ENV, false },
	{ "DELETE", "/v1/envs/{env}/user_roles/{name}", user_delete, ROLE_ADMIN, SCOPE_ENV, false },
	{ "GET", "/v1/system/user_roles", user_list, ROLE_READER, SCOPE_ANY, false },
	{ "POST", "/v1/system/user_roles", user_create, ROLE_ADMIN, SCOPE_SYSTEM, false },
	{ "GET", "/v1/system/user_roles/{name}", user_get, ROLE_READER, SCOPE_ANY, false },
	{ "PUT", "/v1/system/user_roles/{name}", user_update, ROLE_ADMIN, SCOPE_SYSTEM, false },
	{ "DELETE", "/v1/system/user_roles/{name}", user_delete, ROLE_ADMIN, SCOPE_SYSTEM, false },
	{ "GET", "/v1/envs/{env}/group_roles", group_list, ROLE_READER, SCOPE_ANY, false },
	{ "POST", "/v1/envs/{env}/group_roles", group_create, ROLE_ADMIN, SCOPE_ENV, false },
	{ "GET", "/v1/envs/{env}/group_roles/{name}", group_get, ROLE_READER, SCOPE_ANY, false },
	{ "PUT", "/v1/envs/{env}/group_roles/{name}", group_update, ROLE_ADMIN, SCOPE_ENV, false },
	{ "DELETE", "/v1/envs/{env}/group_roles/{name}", group_delete, ROLE_ADMIN, SCOPE_ENV, false },
	{ "GET", "/v1/system/group_roles", group_list, ROLE_READER, SCOPE_ANY, false },
	{ "POST", "/v1/system/group_roles", group_create, ROLE_ADMIN, SCOPE_SYSTEM, false },
	{ "GET", "/v1/system/group_roles/{name}", group_get, ROLE_READER, SCOPE_ANY, false },
	{ "PUT", "/v1/system/group_roles/{name}", group_update, ROLE_ADMIN, SCOPE_SYSTEM, false },
	{ "DELETE", "/v1/system/group_roles/{name}", group_delete, ROLE_ADMIN, SCOPE_SYSTEM, false },
};
const size_t api_roles_routes_count = ELEMENTSOF(api_roles_routes);
