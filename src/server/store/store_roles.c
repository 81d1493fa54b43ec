/* SPDX-License-Identifier: Apache-2.0 */
/* store/store_roles.c: user and group role bindings (§4.10).
 * SQL is static text with placeholders only (store_sql.h); does not log. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enums.h"
#include "jsonutil.h"
#include "store_sql.h"
#include "util.h"
#include "banned.h"

static const char sql_binding_list[] =
	"SELECT name, resource, type, role FROM user_roles WHERE kind = ? AND type = ? AND resource = ? ORDER BY name";
static const char sql_binding_get[] =
	"SELECT name, resource, type, role FROM user_roles WHERE kind = ? AND type = ? AND resource = ? AND name = ?";
static const char sql_binding_of[] =
	"SELECT name, resource, type, role FROM user_roles WHERE kind = ? AND name = ? ORDER BY type, resource";
static const char sql_binding_insert[] = "INSERT INTO user_roles(kind, name, resource, type, role) VALUES(?,?,?,?,?)";
static const char sql_binding_update[] =
	"UPDATE user_roles SET role = ? WHERE kind = ? AND type = ? AND resource = ? AND name = ?";
static const char sql_binding_delete[] =
	"DELETE FROM user_roles WHERE kind = ? AND type = ? AND resource = ? AND name = ?";

int store_binding_list(struct store *s, const char *kind, const char *type, const char *resource,
		       json_t **ret)
{
	CONN_OR_FAIL(c, s);
	return db_list(c, false, sql_binding_list, ret, "sss", kind, type, resource);
}

int store_binding_get(struct store *s, const char *kind, const char *type, const char *resource,
		      const char *name, json_t **ret)
{
	CONN_OR_FAIL(c, s);
	return db_row(c, sql_binding_get, ret, "ssss", kind, type, resource, name);
}

int store_binding_of(struct store *s, const char *kind, const char *name, json_t **ret)
{
	CONN_OR_FAIL(c, s);
	return db_list(c, false, sql_binding_of, ret, "ss", kind, name);
}

int store_binding_insert(struct store *s, const char *kind, const json_t *b)
{
	int r;
	CONN_OR_FAIL(c, s);
	r = db_exec(c, sql_binding_insert, "sjjjj", kind, json_object_get(b, "name"), json_object_get(b, "resource"),
		   json_object_get(b, "type"), json_object_get(b, "role"));
	return r < 0 ? r : 0;
}

int store_binding_update(struct store *s, const char *kind, const json_t *b)
{
	int r;
	CONN_OR_FAIL(c, s);
	r = db_exec(c, sql_binding_update, "jsjjj", json_object_get(b, "role"), kind, json_object_get(b, "type"),
		   json_object_get(b, "resource"), json_object_get(b, "name"));
	if (r < 0)
		return r;
	return r == 0 ? -ENOENT : 0;
}

int store_binding_delete(struct store *s, const char *kind, const char *type, const char *resource,
			 const char *name)
{
	int r;
	CONN_OR_FAIL(c, s);
	r = db_exec(c, sql_binding_delete, "ssss", kind, type, resource, name);
	if (r < 0)
		return r;
	return r == 0 ? -ENOENT : 0;
}
