/* SPDX-License-Identifier: Apache-2.0 */
/* agent/script.h: finding a stage's script (AGENT.md §10.1) and building its environment (§10.2).
 * Pure preparation: nothing here forks (lib/proc does) or logs. */
#ifndef SLIPWAY_AGENT_SCRIPT_H
#define SLIPWAY_AGENT_SCRIPT_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "wire.h"

/* Told the name of a script variable that was dropped because proto/scriptvar.h refuses it. */
typedef void script_refused_fn(const char *name, void *userdata);

struct script_env_params {
	const char *deploy_id;
	const char *stage;     /* DEPLOY_STEP */
	const char *op_code;   /* e.g. "DEPLOY" */
	const char *env_name;
	const char *stage_name;
	const char *stage_type; /* raw; DEFAULT → PRODUCTION; NULL = unset */
	bool first_deploy;
	bool is_docker;
	const char *target;
	const json_t *script_variables; /* object or NULL */
	script_refused_fn *refused;	/* may be NULL */
	void *refused_userdata;
	const struct build *build;      /* stored build or NULL */
	const char *builds_dir_env;     /* <builds_dir>/<envName> */
	/* run_as user: NULL = none */
	const char *user_name, *user_home, *user_shell;
};

/* Build a fresh NULL-terminated environment from base (the agent's own environ) per §10.2.
 * *ret is an array of malloc'd strings (free with script_env_free). 0 or -ENOMEM. */
int script_env_build(const char *const *base, const struct script_env_params *p, char ***ret);
void script_env_free(char **env);
/* Value of name in env (borrowed) or NULL. */
const char *script_env_get(char *const *env, const char *name);

enum script_lookup {
	SCRIPT_FOUND,
	SCRIPT_NO_DIR,    /* TARGET missing/dangling or no teletraan/ directory */
	SCRIPT_NO_SCRIPT, /* directory present, no script for the stage */
};

/* §10.1: script directory = <target>/teletraan/<env>/ if a directory, else <target>/teletraan/; script =
 * <dir>/<stage>. Its real path must stay inside the real build tree (-EPERM otherwise); a missing
 * user-execute bit is added. On SCRIPT_FOUND, ret_path and ret_dir receive the real paths.
 * Returns an enum script_lookup value ≥ 0 or a negative errno. */
int script_find(const char *target, const char *env_name, const char *stage, char *ret_path, size_t path_size,
		char *ret_dir, size_t dir_size);

#endif
