/* SPDX-License-Identifier: Apache-2.0 */
/* engine/promote.h: the auto-promoter's decisions (PROTOCOL §8.2), pure like the rest of engine/. The worker
 * (workers/promoter.c) loads the stage, its promote config, its current deploy and the candidates (builds of
 * the stage's build name, or accepted deploys of the predecessor stage, newest first, each already passed by
 * the build rules), asks these three questions in order, and creates the deploy through deploy/:
 *   1. engine_promote_gate(): may the current deploy be replaced, or does the failPolicy act on it?
 *   2. engine_promote_window(): the time range candidates are read from (none outside the schedule's window);
 *   3. engine_promote_pick(): which candidate, given queueSize, delay and the schedule. */
#ifndef SLIPWAY_ENGINE_PROMOTE_H
#define SLIPWAY_ENGINE_PROMOTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cron.h"

/* A schedule's window: a fire at or before now opens it for this long. */
#define ENGINE_PROMOTE_WINDOW_MS (2 * 60 * 1000)

struct engine_promote_config {
	bool from_build;	    /* predStage BUILD: candidates are builds; else deploys of the predecessor stage */
	int64_t queue_size;	    /* how many candidates must be waiting (the pick is the queue_size-th newest) */
	int64_t delay_ms;	    /* a candidate must be this old */
	const struct cron *schedule; /* NULL: none */
};

enum engine_promote_gate {
	ENGINE_PROMOTE_LOOK,	 /* no current deploy, or one that may be replaced: look for a candidate */
	ENGINE_PROMOTE_WAIT,	 /* the current deploy is not final (nor FAILING) yet: nothing now */
	ENGINE_PROMOTE_DISABLE,	 /* FAILING or REJECTED under failPolicy DISABLE: turn auto-promote off */
	ENGINE_PROMOTE_ROLLBACK, /* FAILING or REJECTED under failPolicy ROLLBACK: roll back (when there is a
				  * target), then turn auto-promote off */
};

/* has_current: the stage has a current deploy, whose state (enum deploy_state) and acceptance (enum
 * acceptance_status) follow; fail_policy is an enum promote_fail_policy. */
enum engine_promote_gate engine_promote_gate(bool has_current, int state, int acceptance, int fail_policy);

/* The candidates to read: those stamped (publishDate of a build, startDate of a deploy) in [*ret_after,
 * *ret_before]. start is when the current deploy's source came (0 without a current deploy): the publishDate of
 * its build, or the startDate of the predecessor's deploy it was promoted from (else its own startDate). False
 * (outputs untouched) when none can be old enough yet, or a schedule's window is closed at now. */
bool engine_promote_window(const struct engine_promote_config *cfg, int64_t start, int64_t now, int64_t *ret_after,
			   int64_t *ret_before);

/* stamps[0..n-1]: the candidates' stamps, newest first. The index of the one to promote, or -1: fewer than
 * queue_size waiting; without a schedule the queue_size-th newest; with one the newest whose stamp plus delay
 * reaches a fire of the schedule at or before now. */
int64_t engine_promote_pick(const struct engine_promote_config *cfg, const int64_t *stamps, size_t n, int64_t now);

#endif
