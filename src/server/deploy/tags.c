/* SPDX-License-Identifier: Apache-2.0 */
/* deploy/tags.c: the tags the deploy rules read: the effective tag of a build (§4.9, decided by the engine from
 * the build's BUILD tags) and whether a stage is disabled for promotion (§4.3). */
#include <errno.h>
#include <stdlib.h>

#include "deploy.h"
#include "deploy_rules.h"
#include "log.h"
#include "util.h"
#include "jsonutil.h"
#include "banned.h"

static struct engine_build_ref build_ref(const json_t *b)
{
	return (struct engine_build_ref){.commit = json_str(b, "commit"),
					 .repo = json_str(b, "repo"),
					 .branch = json_str(b, "branch"),
					 .commit_date = json_int(b, "commitDate")};
}

/* The tagged build of each tag: its metaInfo, when it is a BUILD tag with readable JSON; else {} (no commit). */
static int tagged_builds(const json_t *tags, json_t **ret)
{
	json_t *metas = json_array(), *t;
	size_t i;

	if (!metas)
		return -ENOMEM;
	json_array_foreach(tags, i, t) {
		json_t *m = NULL;
		if (streq_ptr(json_str(t, "targetType"), "BUILD") && json_str(t, "metaInfo"))
			m = json_loads(json_str(t, "metaInfo"), 0, NULL);
		if (json_array_append_new(metas, json_is_object(m) ? m : json_object()) < 0) {
			json_decref(m);
			json_decref(metas);
			return -ENOMEM;
		}
	}
	*ret = metas;
	return 0;
}

int deploy_build_effective_tag(struct server *srv, const json_t *build, json_t **ret)
{
	const struct engine_build_ref b = build_ref(build);
	struct engine_build_tag *refs = NULL;
	json_t *tags = NULL, *metas = NULL;
	size_t n, pick;
	int k;

	*ret = NULL;
	if (!json_str(build, "name"))
		return 0;
	k = store_tag_list_target(srv->store, json_str(build, "name"), 1000, &tags);
	if (k < 0)
		return server_db_error(srv, k, "cannot read build tags");
	n = json_array_size(tags);
	k = tagged_builds(tags, &metas);
	if (k < 0)
		goto out;
	refs = calloc(n ? n : 1, sizeof(*refs));
	if (!refs) {
		k = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		refs[i] = (struct engine_build_tag){ .tagged = build_ref(json_array_get(metas, i)),
						     .created_date = json_int(json_array_get(tags, i), "createdDate") };
	k = engine_build_effective_tag(&b, refs, n, &pick);
	if (k == 0)
		*ret = json_incref(json_array_get(tags, pick));
	else if (k == -ENOENT)
		k = 0;
out:
	free(refs);
	json_decref(metas);
	json_decref(tags);
	return k;
}

bool deploy_build_is_bad(struct server *srv, const json_t *build, json_t **ret_tag)
{
	json_t *tag = NULL;
	bool bad;

	if (deploy_build_effective_tag(srv, build, &tag) < 0 || !tag)
		return false;
	bad = streq_ptr(json_str(tag, "value"), "BAD_BUILD");
	if (bad && ret_tag)
		*ret_tag = tag;
	else
		json_decref(tag);
	return bad;
}

int deploy_promote_blocked(struct server *srv, const json_t *env, bool *ret)
{
	const char *targets[] = { json_str(env, "id"), "teletraan" };
	bool blocked = streq_ptr(json_str(env, "state"), "DISABLED");
	int k;

	for (size_t i = 0; !blocked && i < ELEMENTSOF(targets); i++) {
		json_t *tags = NULL, *t;
		size_t n;
		k = store_tag_list_target(srv->store, targets[i], 50, &tags);
		if (k < 0)
			return k;
		json_array_foreach(tags, n, t) {
			const char *v = json_str(t, "value");
			if (streq_ptr(v, "ENABLE_ENV") || streq_ptr(v, "DISABLE_ENV")) {
				blocked = streq_ptr(v, "DISABLE_ENV");
				break;
			}
		}
		json_decref(tags);
	}
	*ret = blocked;
	return 0;
}
