/* SPDX-License-Identifier: Apache-2.0 */
/* tests/unit/engine/select_walk.h: the §5.6 selection walk as ping/run.c drives it (engine_decision_next(), admission
 * between the steps), with a test's admission standing in for the store's. */
#ifndef SLIPWAY_TEST_SELECT_WALK_H
#define SLIPWAY_TEST_SELECT_WALK_H

#include <errno.h>

#include "engine.h"

/* admit: 1 admitted (it wrote the bean), 0 refused; NULL refuses everything. Returns the winner or -ENOENT. */
static inline int select_walk(const struct engine_decision *d, int (*admit)(void *ctx, const struct engine_candidate *c),
			      void *ctx)
{
	bool need_admission;
	int i;

	for (size_t from = 0; (i = engine_decision_next(d, from, &need_admission)) >= 0; from = (size_t)i + 1)
		if (!need_admission || (admit && admit(ctx, &d->installs[i]) > 0))
			return i;
	return -ENOENT;
}

#endif
