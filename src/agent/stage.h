/* SPDX-License-Identifier: Apache-2.0 */
/* agent/stage.h: built-in STAGING (AGENT.md §9 steps 1–5) and the TARGET rules (§7.3).
 * Runs inside the agent (no child), so it never blocks on the network. Does not log. */
#ifndef SLIPWAY_AGENT_STAGE_H
#define SLIPWAY_AGENT_STAGE_H

#include <stdbool.h>
#include <stddef.h>

#include "template.h"

/* Where a TARGET may be: the agent's own directories and allow-list (borrowed config strings). */
struct target_policy {
	const char *target_dir;           /* config target_dir (absolute) */
	const char *allowed_target_roots; /* config comma list of absolute directories; NULL = none */
	const char *state_dir;
	const char *builds_dir;
};

/* §7.3: TARGET = custom_target when non-NULL/non-empty, else <target_dir>/<env_name>. A custom
 * value comes from the server (agentConfigs.target), so it must be absolute, normalised (no "."/".."
 * components, no "//", no trailing '/'), not "/", its parent directory must exist, and with the
 * parent's symlinks resolved it must lie strictly below target_dir or one of allowed_target_roots
 * and not inside (or equal to) state_dir or builds_dir. Writes the TARGET path (as given) to
 * ret[retsz]. Returns 0, -EINVAL (malformed, missing parent, inside state/builds) or -EPERM (outside
 * the allowed roots), with err naming the value.
 * Every err/errsz pair of the artifact modules may be NULL/0 when the caller needs no message. */
int stage_resolve_target(const struct target_policy *tp, const char *env_name, const char *custom_target,
			 char *ret, size_t retsz, char *err, size_t errsz);
/* The containment part of stage_resolve_target() alone, for a TARGET read back from the state file:
 * true when the (resolved) path is allowed. */
bool stage_target_allowed(const struct target_policy *tp, const char *target);

struct stage_params {
	const char *builds_dir; /* config builds_dir (absolute) */
	const char *env_name;
	const char *build_id;   /* the persisted build.id (NULL/"" → "goal has no build") */
	const char *target;     /* TARGET, already resolved with stage_resolve_target() */
	const char *run_as;     /* NULL/"" = none; a user name */
	const struct template_var *vars; /* the env's script variables */
	size_t n_vars;
};

/* §9 steps 1–5: tree <builds_dir>/<env>/<buildId> must be complete (marker valid); TARGET must
 * not exist as anything but a symlink; with run_as (≠ our uid) lchown the tree to the user and
 * its primary group (skipping non-directories with more than one hard link); render templates; flip TARGET with <TARGET>.slipway-tmp + rename + fsync of
 * the parent. Returns 1 when TARGET now points to the tree and did not before (the caller sets
 * previousBuildId ← targetBuildId, targetBuildId ← buildId), 0 when TARGET already pointed to it
 * (re-render only), or a negative errno with err holding the one-line AGENT_FAILED message
 * (e.g. "build X is not downloaded", "TARGET exists and is not a symlink"). */
int stage_build(const struct stage_params *p, char *err, size_t errsz);

/* Remove a stale <TARGET>.slipway-tmp left by a crash (start-up, §5.1). 0 or negative errno. */
int stage_remove_stale_tmp(const char *target);

#endif
