/* SPDX-License-Identifier: Apache-2.0 */
/* agent/retention.h: build retention (AGENT.md §14). Decides which builds of each env directory
 * under builds_dir are protected, kept or deleted, and deletes without following symlinks.
 * Does not log (the per-build outcome is returned to the caller). */
#ifndef SLIPWAY_AGENT_RETENTION_H
#define SLIPWAY_AGENT_RETENTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One env known to the state: a live entry or a forgotten record. Strings borrowed; NULL = none. */
struct retention_env {
	const char *env_name;
	bool forgotten;
	const char *target;            /* resolved TARGET path (custom or <target_dir>/<env>) */
	const char *target_build_id;   /* from state */
	const char *previous_build_id; /* live only */
	const char *inflight_build_id; /* live only: stored build while the stage is before SERVING_BUILD */
	const char *running_tmp;       /* name of the .tmp-* dir a running step uses, or NULL */
	/* output */
	bool drop_forgotten; /* forgotten record may be dropped: TARGET gone and env dir empty */
};

struct retention_params {
	const char *builds_dir;
	const char *target_dir;
	unsigned keep_builds;
	struct retention_env *envs;
	size_t n_envs;
};

struct retention_stats {
	unsigned deleted;   /* builds, stale trees and tmp/trash dirs removed */
	unsigned kept;      /* complete builds kept */
	unsigned unknown_dirs; /* env dirs with neither state entry nor forgotten record (not touched) */
	int first_error;    /* first deletion error (negative errno) or 0 */
};

/* A build candidate of one env (the pure choice, exposed for tests). */
struct retention_build {
	const char *id;
	bool complete;          /* directory with a valid marker */
	int64_t completed_at_ms;
	bool is_protected;
	/* output */
	bool keep;
};

/* Pure §14 choice for one env: protected builds are kept; for a live env also the newest
 * `keep` complete builds by completedAt (ties: larger id first); everything else is deleted. */
void retention_choose(struct retention_build *builds, size_t n, bool forgotten, unsigned keep);

/* Run retention over every env directory of builds_dir. Unknown env directories are counted and
 * left alone (the caller logs them once a day). Returns 0 (errors on single entries are counted
 * in stats->first_error and skipped) or a negative errno when builds_dir cannot be read. */
int retention_run(struct retention_params *p, struct retention_stats *ret_stats);

#endif
