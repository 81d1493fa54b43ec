/* SPDX-License-Identifier: Apache-2.0 */
/* engine/deploy_rules.c: the build rules of deploy creation (PROTOCOL §7.1) and the effective tag of a build (§4.9).
 * Pure: no I/O, no clock. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "deploy_rules.h"
#include "enums.h"
#include "util.h"
#include "banned.h"

bool engine_deploy_reads_tag(int type, bool force)
{
	return type != DEPLOY_TYPE_RESTART && !force;
}

enum engine_deploy_verdict engine_deploy_check_build(const struct engine_deploy_check *c)
{
	if (c->type == DEPLOY_TYPE_RESTART)
		return ENGINE_DEPLOY_ALLOWED;
	if (c->type == DEPLOY_TYPE_REGULAR && !streq_ptr(c->build_name, c->stage_build_name))
		return ENGINE_DEPLOY_WRONG_NAME;
	if (c->stage_signed && !c->build_signed)
		return ENGINE_DEPLOY_UNSIGNED;
	if (engine_deploy_reads_tag(c->type, c->force) && c->build_bad)
		return ENGINE_DEPLOY_BAD_BUILD;
	return ENGINE_DEPLOY_ALLOWED;
}

struct tag_order {
	const struct engine_build_tag *tag;
	size_t index;
};

/* newest commitDate first, then the newer tag, then input order */
static int tag_order_cmp(const void *pa, const void *pb)
{
	const struct tag_order *a = pa, *b = pb;

	if (a->tag->tagged.commit_date != b->tag->tagged.commit_date)
		return a->tag->tagged.commit_date > b->tag->tagged.commit_date ? -1 : 1;
	if (a->tag->created_date != b->tag->created_date)
		return a->tag->created_date > b->tag->created_date ? -1 : 1;
	return a->index < b->index ? -1 : a->index > b->index;
}

static bool tag_applies(const struct engine_build_ref *build, const struct engine_build_ref *tagged)
{
	return streq_ptr(tagged->commit, build->commit) ||
	       (streq_ptr(tagged->repo, build->repo) && streq_ptr(tagged->branch, build->branch));
}

int engine_build_effective_tag(const struct engine_build_ref *build, const struct engine_build_tag *tags, size_t n,
			       size_t *ret_index)
{
	struct tag_order *order;
	size_t m = 0;
	int r = -ENOENT;

	if (n == 0)
		return -ENOENT;
	order = calloc(n, sizeof(*order));
	if (!order)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (tags[i].tagged.commit && tags[i].tagged.commit_date <= build->commit_date)
			order[m++] = (struct tag_order){ .tag = &tags[i], .index = i };
	qsort(order, m, sizeof(*order), tag_order_cmp);
	for (size_t i = 0; i < m; i++) {
		bool seen = false;

		/* an older tag of a commit already decided does not count */
		for (size_t j = 0; j < i && !seen; j++)
			seen = streq(order[j].tag->tagged.commit, order[i].tag->tagged.commit);
		if (seen || !tag_applies(build, &order[i].tag->tagged))
			continue;
		*ret_index = order[i].index;
		r = 0;
		break;
	}
	free(order);
	return r;
}
