/* SPDX-License-Identifier: Apache-2.0 */
/* agent/state.h: the persistent state <state_dir>/state.json (AGENT.md §12). The document is kept as a
 * jansson tree so that keys this agent does not know are preserved when rewriting. Env entries are JSON
 * objects under "envs"; the accessors below read and write their fields. Does not log. */
#ifndef SLIPWAY_AGENT_STATE_H
#define SLIPWAY_AGENT_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "wire.h"

#define STATE_VERSION 1
#define STATE_FILE "state.json"

struct state_file {
	json_t *root;    /* {"version", "hostId", "envs", "forgotten", ...unknown keys} */
	char *dir;       /* state_dir */
};

/* Load <dir>/state.json. Missing → empty state (ret_loaded = 0). Unreadable or invalid → the file is
 * renamed to state.json.corrupt-<epoch>, empty state, *ret_corrupt set to the new name (malloc'd, may be
 * NULL). A higher version → -EPROTONOSUPPORT. 0 or negative errno. */
int state_load(const char *dir, struct state_file *ret, char **ret_corrupt);
/* Read-only load for --status: no renaming. 0, -ENOENT, -EBADMSG, -EPROTONOSUPPORT. */
int state_load_readonly(const char *dir, struct state_file *ret);
/* Atomic rewrite (0600). 0 or negative errno. */
int state_save(struct state_file *st);
void state_release(struct state_file *st);
/* Remove stale NAME.tmp.XXXXXX files of interrupted atomic writes in dir (start-up). */
void state_remove_stale_tmp(const char *dir);

/* Convert an upstream env_status file (§12.4). readlink_target(env_name) is not needed: targetBuildId is
 * derived by the caller. 0 (imported, *ret_n envs), -ENOENT, -EBADMSG. */
int state_import_upstream(struct state_file *st, const char *path, size_t *ret_n);

json_t *state_envs(struct state_file *st);      /* borrowed object */
json_t *state_forgotten(struct state_file *st); /* borrowed object */
json_t *state_env(struct state_file *st, const char *env_name); /* borrowed or NULL */
/* Entry for env_name; created (taken back from "forgotten" when present there) if missing. Borrowed. */
json_t *state_env_ensure(struct state_file *st, const char *env_name);
/* Find an env for DELETE (§13.1): by envId, else by name when that entry's envId equals env_id or is null.
 * Returns the env name (borrowed from the state) or NULL. */
const char *state_find_for_delete(struct state_file *st, const char *env_id, const char *env_name);
/* Move the entry to "forgotten" (§13.1). 0 or -ENOENT. */
int state_forget(struct state_file *st, const char *env_name, int64_t now);

/* Field helpers for entry objects. */
const char *entry_str(const json_t *e, const char *key); /* NULL when absent, null or not a string */
int64_t entry_int(const json_t *e, const char *key);     /* 0 when absent */
bool entry_bool(const json_t *e, const char *key);
int entry_set_str(json_t *e, const char *key, const char *value); /* NULL → JSON null */
int entry_set_int(json_t *e, const char *key, int64_t value);
int entry_set_bool(json_t *e, const char *key, bool value);

/* In-flight override of one env's report (heartbeats, §10.5). */
struct report_override {
	const char *env_name;
	int agent_status;
	int error_code;
	const char *error_message;
	int fail_count;
};

/* The reports of every env, in env-name order (§5.5), into ret and ret_n (caller releases each with
 * ping_report_release and frees the array). 0 or -ENOMEM. */
int state_reports(struct state_file *st, const struct report_override *ov, struct ping_report **ret, size_t *ret_n);

#endif
