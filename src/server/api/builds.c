/* SPDX-License-Identifier: Apache-2.0 */
/* api/builds.c: /v1/builds (PROTOCOL §4.2): publish, get, list, names, branches, delete. */
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "deploy.h"
#include "enums.h"
#include "util.h"
#include "wire.h"
#include "banned.h"

static bool url_allowed(struct server *srv, const char *url)
{
	if (srv->n_url_allow == 0)
		return true;
	for (size_t i = 0; i < srv->n_url_allow; i++)
		if (regexec(&srv->url_allow[i], url, 0, NULL, 0) == 0)
			return true;
	return false;
}

/* Is name the buildName of a stage of env_name? */
static int env_builds_name(struct req *r, const char *env_name, const char *name, bool *ret)
{
	json_t *stages = NULL, *st;
	size_t i;
	int k;

	*ret = false;
	k = store_env_list(r->srv->store, env_name, NULL, NULL, &stages);
	if (k < 0)
		return api_store_error(r, k, "cannot list stages");
	json_array_foreach(stages, i, st) if (streq_ptr(json_string_value(json_object_get(st, "buildName")), name))
		*ret = true;
	json_decref(stages);
	return 0;
}

/* PUBLISHER at SYSTEM scope publishes any build; one that holds it only on envs (an ENV token, a user's
 * env bindings) publishes only builds named like a stage of such an env (its buildName). */
static int publish_allowed(struct req *r, const char *name)
{
	const struct principal *p = &r->principal;
	bool ok = false;
	int k = 0;

	if (principal_allows(p, ROLE_PUBLISHER, SCOPE_SYSTEM, NULL))
		return 0;
	if (p->kind == PRINCIPAL_TOKEN && p->scope_type == SCOPE_TYPE_ENV)
		k = env_builds_name(r, p->resource, name, &ok);
	for (size_t i = 0; k >= 0 && !ok && p->kind == PRINCIPAL_USER && i < p->n_bindings; i++)
		if (p->bindings[i].scope_type == SCOPE_TYPE_ENV && role_satisfies(p->bindings[i].role, ROLE_PUBLISHER))
			k = env_builds_name(r, p->bindings[i].resource, name, &ok);
	if (k < 0 || ok)
		return k;
	return http_fail(r, 403, "name", "'%s' publishes only builds named like a stage of its env (buildName): "
					  "not '%s'", p->name, name);
}

static int build_post(struct req *r)
{
	struct server *srv = r->srv;
	struct build b = {};
	struct proto_error perr = {};
	char id[ID_LEN + 1], full[64], location[128];
	json_t *body = NULL, *out = NULL;
	int k;

	k = api_body(r, "a Build JSON body is required", &body);
	if (k < 0)
		return k;
	k = build_input_from_json(body, &b, &perr);
	json_decref(body);
	if (k == -EINVAL) {
		k = req_bad(r, perr.field, "%s", perr.message);
		goto out;
	}
	if (k < 0)
		goto out;
	k = publish_allowed(r, b.name);
	if (k < 0)
		goto out;
	if (!url_allowed(srv, b.artifact_url)) {
		k = req_bad(r, "artifactUrl", "artifactUrl is not allowed by artifact_url_allow");
		goto out;
	}
	k = id_generate(id);
	if (k < 0)
		goto out;
	(void)str_printf(full, sizeof(full), "%s_%.7s", id, b.commit);
	b.id = strdup(full);
	free(b.publisher);
	b.publisher = strdup(api_operator(r));
	if (!b.type)
		b.type = strdup(srv->cfg.default_scm ? srv->cfg.default_scm : "Github");
	if (!b.commit_info && srv->cfg.scm_link_template && *srv->cfg.scm_link_template) {
		/* the template has two %s: repo, then commit (checked to be exactly that at start) */
		char info[1024];
		const char *t = srv->cfg.scm_link_template, *p1 = strstr(t, "%s");
		const char *p2 = p1 ? strstr(p1 + 2, "%s") : NULL;
		if (p1 && p2)
			(void)snprintf(info, sizeof(info), "%.*s%s%.*s%s%s", (int)(p1 - t), t, b.repo,
				       (int)(p2 - p1 - 2), p1 + 2, b.commit, p2 + 2);
		else
			(void)str_copy(info, sizeof(info), t);
		info[512] = 0;
		b.commit_info = strdup(info);
	}
	if (!b.publish_info)
		b.publish_info = strdup("UNKNOWN");
	if (!b.commit_date)
		b.commit_date = now_ms();
	if (!b.publish_date)
		b.publish_date = now_ms();
	if (!b.id || !b.publisher || !b.type || !b.publish_info) {
		k = -ENOMEM;
		goto out;
	}
	k = build_to_json(&b, &out);
	if (k < 0)
		goto out;
	k = store_build_insert(srv->store, out);
	if (k < 0) {
		k = api_store_error(r, k, "cannot store build");
		goto out;
	}
	(void)str_printf(location, sizeof(location), "/v1/builds/%s", b.id);
	k = http_reply_created(r, location, out);
	out = NULL;
out:
	json_decref(out);
	build_release(&b);
	return k;
}

static int build_get(struct req *r)
{
	json_t *b = NULL;
	int k = api_get_by_id(r, "build", NULL, req_param(r, "id"), store_build_get, &b);

	return k < 0 ? k : http_reply_json(r, 200, b);
}

static int build_query_list(struct req *r, json_t **ret)
{
	const struct query *q = req_query(r);
	struct build_query bq = { .before = -1, .after = -1 };
	json_t *list = NULL;
	int64_t v;
	int k;

	bq.commit = query_get(q, "commit");
	bq.name = query_get(q, "name");
	bq.branch = query_get(q, "branch");
	if (!bq.commit && !bq.name)
		return req_bad(r, "name", "either commit or name is required");
	if (query_get(q, "before")) {
		if (query_int(q, "before", 0, INT64_MAX, 0, &v) < 0)
			return req_bad(r, "before", "before must be epoch milliseconds");
		bq.before = v;
	}
	if (query_get(q, "after")) {
		if (query_int(q, "after", 0, INT64_MAX, 0, &v) < 0)
			return req_bad(r, "after", "after must be epoch milliseconds");
		bq.after = v;
	}
	if (bq.commit) {
		bq.branch = NULL;
		bq.before = bq.after = -1;
	}
	if (bq.commit || bq.before < 0 || bq.after < 0) {
		k = api_paging(r, "pageIndex", "pageSize", 100, &bq.offset, &bq.limit);
		if (k < 0)
			return k;
	}
	k = store_build_list(r->srv->store, &bq, &list);
	if (k < 0)
		return api_store_error(r, k, "cannot list builds");
	*ret = list;
	return 0;
}

static int build_list(struct req *r)
{
	json_t *list = NULL;
	int k = build_query_list(r, &list);
	if (k < 0)
		return k;
	return http_reply_json(r, 200, list);
}

static int build_list_tags(struct req *r)
{
	json_t *list = NULL, *out, *b;
	size_t i;
	int k = build_query_list(r, &list);

	if (k < 0)
		return k;
	out = json_array();
	json_array_foreach(list, i, b) {
		json_t *tag = NULL;
		k = deploy_build_effective_tag(r->srv, b, &tag);
		if (k < 0) {
			json_decref(out);
			json_decref(list);
			return api_store_error(r, k, "cannot read build tags");
		}
		(void)json_array_append_new(out, json_pack("{s:O,s:o}", "build", b, "tag", tag ? tag : json_null()));
	}
	json_decref(list);
	return http_reply_json(r, 200, out);
}

static int build_names(struct req *r)
{
	json_t *list = NULL;
	int64_t off, lim;
	int k;

	k = api_paging(r, "start", "size", 100, &off, &lim);
	if (k < 0)
		return k;
	k = store_build_names(r->srv->store, query_get(req_query(r), "filter"), off, lim, &list);
	if (k < 0)
		return api_store_error(r, k, "cannot list build names");
	return http_reply_json(r, 200, list);
}

static int build_branches(struct req *r)
{
	json_t *list = NULL;
	int k;

	k = store_build_branches(r->srv->store, req_param(r, "name"), &list);
	if (k < 0)
		return api_store_error(r, k, "cannot list branches");
	return http_reply_json(r, 200, list);
}

static int build_delete(struct req *r)
{
	const char *id = req_param(r, "id");
	int k;

	if (!api_id_ok(id))
		return http_fail(r, 404, NULL, "build '%.64s' not found", id);
	k = store_build_delete(r->srv->store, id);
	if (k == -ENOENT)
		return http_fail(r, 404, NULL, "build '%s' not found", id);
	if (k == -EBUSY)
		return http_fail(r, 409, NULL, "build '%s' is referenced by a deploy", id);
	return api_store_done(r, k, "cannot delete build");
}

static int build_tags_one(struct req *r)
{
	json_t *b = NULL, *tag = NULL;
	int k;

	k = api_get_by_id(r, "build", NULL, req_param(r, "id"), store_build_get, &b);
	if (k < 0)
		return k;
	k = deploy_build_effective_tag(r->srv, b, &tag);
	if (k < 0) {
		json_decref(b);
		return k;
	}
	return http_reply_json(r, 200, json_pack("{s:o,s:o}", "build", b, "tag", tag ? tag : json_null()));
}

const struct route api_builds_routes[] = {
	{ "POST", "/v1/builds", build_post, ROLE_PUBLISHER, SCOPE_ANY, false },
	{ "GET", "/v1/builds", build_list, ROLE_READER, SCOPE_ANY, false },
	{ "GET", "/v1/builds/tags", build_list_tags, ROLE_READER, SCOPE_ANY, false },
	{ "GET", "/v1/builds/names", build_names, ROLE_READER, SCOPE_ANY, false },
	{ "GET", "/v1/builds/names/{name}/branches", build_branches, ROLE_READER, SCOPE_ANY, false },
	{ "GET", "/v1/builds/{id}", build_get, ROLE_READER, SCOPE_ANY, false },
	{ "DELETE", "/v1/builds/{id}", build_delete, ROLE_OPERATOR, SCOPE_SYSTEM, false },
	{ "GET", "/v1/builds/{id}/tags", build_tags_one, ROLE_READER, SCOPE_ANY, false },
};
const size_t api_builds_routes_count = ELEMENTSOF(api_builds_routes);
