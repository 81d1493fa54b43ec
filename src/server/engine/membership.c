/* SPDX-License-Identifier: Apache-2.0 */
/* engine/membership.c: which stage of each env a host belongs to (PROTOCOL §5.2), from the stages whose capacity
 * names the host or its groups, and which other stages a ping must look at because a report or a row names them.
 * Pure: no I/O, no clock, no logging (the caller logs the ties broken). */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "util.h"
#include "banned.h"

static bool host_has_row(const struct agent_row *rows, size_t n, const char *env_id)
{
	for (size_t i = 0; i < n; i++)
		if (streq(rows[i].env_id, env_id))
			return true;
	return false;
}

/* true iff a ranks before b: tier 1 over tier 2, then the stage the host already has a row for, then the
 * lexicographically smallest stageName. */
static bool resolve_better(const struct resolved_env *a, const struct resolved_env *b, const struct agent_row *rows,
			   size_t n_rows)
{
	bool ra, rb;

	if (a->tier != b->tier)
		return a->tier < b->tier;
	ra = host_has_row(rows, n_rows, a->view.id);
	rb = host_has_row(rows, n_rows, b->view.id);
	if (ra != rb)
		return ra;
	return strcmp(a->view.stage_name, b->view.stage_name) < 0;
}

int engine_resolve_envs(const struct resolved_env *cand, size_t n, const struct agent_row *rows, size_t n_rows,
			struct env_view **ret, size_t *ret_n, struct engine_stage_conflict **ret_conflicts,
			size_t *ret_n_conflicts)
{
	const struct resolved_env **best;
	struct engine_stage_conflict *conflicts = NULL;
	struct env_view *out;
	size_t m = 0, n_conflicts = 0;

	best = calloc(n ? n : 1, sizeof(*best));
	out = calloc(n ? n : 1, sizeof(*out));
	if (ret_conflicts && n > 1)
		conflicts = calloc(n, sizeof(*conflicts));
	if (!best || !out || (ret_conflicts && n > 1 && !conflicts)) {
		free(best);
		free(out);
		free(conflicts);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		bool tie;
		size_t j;

		for (j = 0; j < m; j++)
			if (streq(best[j]->view.env_name, cand[i].view.env_name))
				break;
		if (j == m) {
			best[m++] = &cand[i];
			continue;
		}
		if (streq(best[j]->view.id, cand[i].view.id)) {
			/* the same stage through both capacities: the better tier stands */
			if (cand[i].tier < best[j]->tier)
				best[j] = &cand[i];
			continue;
		}
		/* a host capacity over a group capacity is no conflict: it is how a host is pinned to a stage */
		tie = cand[i].tier == best[j]->tier;
		if (resolve_better(&cand[i], best[j], rows, n_rows)) {
			if (conflicts && tie)
				conflicts[n_conflicts++] = (struct engine_stage_conflict){ &cand[i], best[j] };
			best[j] = &cand[i];
		} else if (conflicts && tie)
			conflicts[n_conflicts++] = (struct engine_stage_conflict){ best[j], &cand[i] };
	}
	for (size_t j = 0; j < m; j++)
		out[j] = best[j]->view;
	free(best);
	if (ret_conflicts) {
		if (n_conflicts == 0) {
			free(conflicts);
			conflicts = NULL;
		}
		*ret_conflicts = conflicts;
		*ret_n_conflicts = n_conflicts;
	}
	*ret = out;
	*ret_n = m;
	return 0;
}

static bool ids_have(const char *const *ids, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (streq(ids[i], id))
			return true;
	return false;
}

size_t engine_unresolved_env_ids(const struct engine_report *reports, size_t n_reports, const struct agent_row *rows,
				 size_t n_rows, const struct env_view *envs, size_t n_envs, const char **ret)
{
	size_t n = 0;

	for (size_t i = 0; i < n_reports + n_rows; i++) {
		const char *id = i < n_reports ? reports[i].env_id : rows[i - n_reports].env_id;
		bool seen = false;

		if (!id || !id[0] || strlen(id) >= ENGINE_ID_SIZE)
			continue;
		for (size_t j = 0; j < n_envs && !seen; j++)
			seen = streq(envs[j].id, id);
		if (!seen && !ids_have(ret, n, id))
			ret[n++] = id;
	}
	return n;
}
