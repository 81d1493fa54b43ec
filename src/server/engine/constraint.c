/* SPDX-License-Identifier: Apache-2.0 */
/* engine/constraint.c: the deploy constraint of a stage (issue 17): hosts grouped by the value of one host tag,
 * at most maxParallel of a value at once (ALL_GROUPS_IN_PARALLEL), or one value after the other
 * (GROUP_BY_GROUP). Pure: the store counts the groups inside the admission transaction. */
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "engine.h"
#include "util.h"
#include "banned.h"

/* Position of value in constraintOrder, or n_order when it is not listed. */
static size_t order_rank(const struct constraint_view *c, const char *value)
{
	for (size_t i = 0; i < c->n_order; i++)
		if (c->order[i] && streq(c->order[i], value))
			return i;
	return c->n_order;
}

int engine_constraint_order_cmp(const struct constraint_view *c, const char *a, const char *b)
{
	size_t ra, rb;

	if (!a || !b)
		return (a ? 0 : 1) - (b ? 0 : 1); /* the untagged last */
	ra = order_rank(c, a);
	rb = order_rank(c, b);
	if (ra != rb)
		return ra < rb ? -1 : 1;
	return strcmp(a, b);
}

static bool same_value(const char *a, const char *b)
{
	return (!a && !b) || (a && b && streq(a, b));
}

static const struct constraint_group *group_of(const struct constraint_group *groups, size_t n, const char *value)
{
	for (size_t i = 0; i < n; i++)
		if (same_value(groups[i].value, value))
			return &groups[i];
	return NULL;
}

bool engine_constraint_admits(const struct constraint_view *c, const char *host_value,
			      const struct constraint_group *groups, size_t n_groups)
{
	const struct constraint_group *mine, *first = NULL;
	int occupied;

	if (!c || !c->present)
		return true;
	mine = group_of(groups, n_groups, host_value);
	occupied = mine ? mine->occupied : 0;
	if (occupied >= (c->max_parallel > 0 ? c->max_parallel : 1))
		return false;
	if (c->type != CONSTRAINT_TYPE_GROUP_BY_GROUP)
		return true;
	/* GROUP_BY_GROUP: the first group in rollout order that still has rows to deploy is the one deploying */
	for (size_t i = 0; i < n_groups; i++) {
		if (groups[i].pending <= 0)
			continue;
		if (!first || engine_constraint_order_cmp(c, groups[i].value, first->value) < 0)
			first = &groups[i];
	}
	return !first || same_value(first->value, host_value);
}
