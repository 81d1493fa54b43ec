/* SPDX-License-Identifier: Apache-2.0 */
/* api/tags.c: tags (PROTOCOL §3.5, §4.9): create, get, list by target or value, delete; build
 * tags (targetType BUILD) store the build's name as targetId and its JSON as metaInfo. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "enums.h"
#include "util.h"
#include "jsonutil.h"
#include "banned.h"

/* OPERATOR for the tag's target: BUILD any scope, ENVIRONMENT that env, TELETRAAN SYSTEM. */
static int require_for_target(struct req *r, const char *target_type, const char *target_id)
{
	json_t *env = NULL;
	int k;

	if (streq(target_type, "BUILD"))
		return http_require(r, ROLE_OPERATOR, SCOPE_ANY, NULL);
	if (streq(target_type, "TELETRAAN"))
		return http_require(r, ROLE_OPERATOR, SCOPE_SYSTEM, NULL);
	k = store_env_get_by_id(r->srv->store, target_id, &env);
	if (k == -ENOENT)
		return http_fail(r, 404, "targetId", "env '%.64s' not found", target_id);
	if (k < 0)
		return api_store_error(r, k, "cannot read env stage");
	k = http_require(r, ROLE_OPERATOR, SCOPE_ENV, json_str(env, "envName"));
	json_decref(env);
	return k;
}

static int tag_create(struct req *r)
{
	json_t *in = NULL, *tag = NULL, *build = NULL;
	const char *target_id, *comments;
	char id[ID_LEN + 1], location[64], *meta = NULL;
	int value, type, k;

	k = api_body_object(r, "a Tag JSON body is required", &in);
	if (k < 0)
		return k;
	if ((k = api_opt_enum(r, in, "value", tag_value_from_string, &value)) < 0 ||
	    (k = api_opt_enum(r, in, "targetType", tag_target_type_from_string, &type)) < 0 ||
	    (k = api_opt_string(r, in, "targetId", 128, &target_id)) < 0 ||
	    (k = api_opt_string(r, in, "comments", 1024, &comments)) < 0)
		goto out;
	if (value < 0) {
		k = req_bad(r, "value", "value is required");
		goto out;
	}
	if (type < 0) {
		k = req_bad(r, "targetType", "targetType is required");
		goto out;
	}
	if (!target_id || !*target_id) {
		k = req_bad(r, "targetId", "targetId is required");
		goto out;
	}
	k = require_for_target(r, tag_target_type_to_string(type), target_id);
	if (k < 0)
		goto out;
	if (type == TAG_TARGET_TYPE_BUILD) {
		k = api_get_by_id(r, "build", "targetId", target_id, store_build_get, &build);
		if (k < 0)
			goto out;
		meta = json_dumps(build, JSON_COMPACT);
		target_id = json_str(build, "name");
	}
	k = id_generate(id);
	if (k < 0)
		goto out;
	tag = json_pack("{s:s,s:s,s:s,s:s,s:s,s:I,s:s?,s:s?}", "id", id, "value", tag_value_to_string(value),
			"targetType", tag_target_type_to_string(type), "targetId", target_id, "operator", api_operator(r),
			"createdDate", (json_int_t)now_ms(), "comments", comments, "metaInfo", meta);
	if (!tag) {
		k = -ENOMEM;
		goto out;
	}
	k = store_tag_insert(r->srv->store, tag);
	if (k < 0) {
		k = api_store_error(r, k, "cannot store tag");
		goto out;
	}
	(void)str_printf(location, sizeof(location), "/v1/tags/%s", id);
	k = http_reply_created(r, location, json_incref(tag));
out:
	free(meta);
	json_decref(in);
	json_decref(tag);
	json_decref(build);
	return k;
}

static int tag_get(struct req *r)
{
	json_t *tag = NULL;
	int k = api_get_by_id(r, "tag", NULL, req_param(r, "id"), store_tag_get, &tag);

	return k < 0 ? k : http_reply_json(r, 200, tag);
}

static int tag_delete(struct req *r)
{
	const char *id = req_param(r, "id");
	json_t *tag = NULL;
	int k;

	k = api_get_by_id(r, "tag", NULL, id, store_tag_get, &tag);
	if (k < 0)
		return k;
	/* a BUILD tag's targetId is a build name: any scope may remove it, as it may create it */
	k = streq_ptr(json_str(tag, "targetType"), "BUILD") ? http_require(r, ROLE_OPERATOR, SCOPE_ANY, NULL)
						       : require_for_target(r, json_str(tag, "targetType"), json_str(tag, "targetId"));
	json_decref(tag);
	if (k < 0)
		return k;
	k = store_tag_delete(r->srv->store, id);
	if (k < 0 && k != -ENOENT)
		return api_store_error(r, k, "cannot delete tag");
	return http_reply_empty(r, 204);
}

static int tag_targets(struct req *r)
{
	json_t *list = NULL;
	int k = store_tag_list_target(r->srv->store, req_param(r, "targetId"), 1000, &list);
	if (k < 0)
		return api_store_error(r, k, "cannot list tags");
	return http_reply_json(r, 200, list);
}

static int tag_latest(struct req *r)
{
	json_t *list = NULL, *t;
	int k = store_tag_list_target(r->srv->store, req_param(r, "targetId"), 1, &list);
	if (k < 0)
		return api_store_error(r, k, "cannot list tags");
	t = json_incref(json_array_get(list, 0));
	json_decref(list);
	if (!t)
		return http_fail(r, 404, NULL, "no tag for '%.64s'", req_param(r, "targetId"));
	return http_reply_json(r, 200, t);
}

static int tag_values(struct req *r)
{
	const char *v = req_param(r, "value");
	json_t *list = NULL;
	int e = tag_value_from_string(v), k;

	if (e < 0)
		return req_bad(r, "value", "unknown tag value '%.64s'", v);
	k = store_tag_list_value(r->srv->store, tag_value_to_string(e), 1000, &list);
	if (k < 0)
		return api_store_error(r, k, "cannot list tags");
	return http_reply_json(r, 200, list);
}

const struct route api_tags_routes[] = {
	{ "POST", "/v1/tags", tag_create, ROLE_OPERATOR, SCOPE_ANY, false },
	{ "GET", "/v1/tags/{id}", tag_get, ROLE_READER, SCOPE_ANY, false },
	{ "DELETE", "/v1/tags/{id}", tag_delete, ROLE_OPERATOR, SCOPE_ANY, false },
	{ "GET", "/v1/tags/targets/{targetId}", tag_targets, ROLE_READER, SCOPE_ANY, false },
	{ "GET", "/v1/tags/targets/{targetId}/latest", tag_latest, ROLE_READER, SCOPE_ANY, false },
	{ "GET", "/v1/tags/values/{value}", tag_values, ROLE_READER, SCOPE_ANY, false },
};
const size_t api_tags_routes_count = ELEMENTSOF(api_tags_routes);
