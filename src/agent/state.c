/* SPDX-License-Identifier: Apache-2.0 */
/* agent/state.c: state.json load/save/recovery/import (AGENT.md §12). Only this file spells the state
 * file's top-level layout. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "enums.h"
#include "fs.h"
#include "jsonutil.h"
#include "state.h"
#include "util.h"
#include "banned.h"

#define STATE_MAX_BYTES (64 * 1024 * 1024)

static json_t *empty_root(void)
{
	return json_pack("{s:i, s:{}, s:{}}", "version", STATE_VERSION, "envs", "forgotten");
}

static int validate(json_t *root)
{
	json_t *v, *envs, *fg, *e;
	const char *k;

	if (!json_is_object(root))
		return -EBADMSG;
	v = json_object_get(root, "version");
	if (!json_is_integer(v))
		return -EBADMSG;
	if (json_integer_value(v) > STATE_VERSION)
		return -EPROTONOSUPPORT;
	envs = json_object_get(root, "envs");
	fg = json_object_get(root, "forgotten");
	if (envs && !json_is_object(envs))
		return -EBADMSG;
	if (fg && !json_is_object(fg))
		return -EBADMSG;
	if (!envs)
		json_object_set_new(root, "envs", json_object());
	if (!fg)
		json_object_set_new(root, "forgotten", json_object());
	json_object_foreach(json_object_get(root, "envs"), k, e)
		if (!json_is_object(e))
			return -EBADMSG;
	json_object_foreach(json_object_get(root, "forgotten"), k, e)
		if (!json_is_object(e))
			return -EBADMSG;
	return 0;
}

static int load_file(const char *dir, json_t **ret)
{
	char path[4096], *data = NULL;
	size_t len;
	json_t *root = NULL;
	int r;

	r = str_printf(path, sizeof(path), "%s/%s", dir, STATE_FILE);
	if (r < 0)
		return r;
	r = fs_read_file(path, STATE_MAX_BYTES, &data, &len);
	if (r < 0)
		return r == -EFBIG ? -EBADMSG : r;
	r = json_parse_bounded(data, len, &root, NULL, 0);
	free(data);
	if (r < 0)
		return -EBADMSG;
	r = validate(root);
	if (r < 0) {
		json_decref(root);
		return r;
	}
	*ret = root;
	return 0;
}

/* ret takes root (released on failure) and a copy of dir. */
static int state_init(struct state_file *ret, const char *dir, json_t *root)
{
	char *d = root ? strdup(dir) : NULL;

	if (!d) {
		json_decref(root);
		return -ENOMEM;
	}
	ret->root = root;
	ret->dir = d;
	return 0;
}

int state_load_readonly(const char *dir, struct state_file *ret)
{
	json_t *root = NULL;
	int r = load_file(dir, &root);

	return r < 0 ? r : state_init(ret, dir, root);
}

int state_load(const char *dir, struct state_file *ret, char **ret_corrupt)
{
	json_t *root = NULL;
	int r = load_file(dir, &root);

	if (ret_corrupt)
		*ret_corrupt = NULL;
	if (r == -EPROTONOSUPPORT)
		return r;
	if (r == -ENOENT) {
		root = empty_root();
	} else if (r < 0) {
		char from[4096], to[4096];
		if (str_printf(from, sizeof(from), "%s/%s", dir, STATE_FILE) < 0 ||
		    str_printf(to, sizeof(to), "%s/%s.corrupt-%lld", dir, STATE_FILE, (long long)(now_ms() / 1000)) < 0)
			return -ENAMETOOLONG;
		if (rename(from, to) < 0)
			return -errno;
		if (ret_corrupt)
			*ret_corrupt = strdup(to);
		root = empty_root();
	}
	return state_init(ret, dir, root);
}

int state_save(struct state_file *st)
{
	char path[4096], *data;
	int r;

	r = str_printf(path, sizeof(path), "%s/%s", st->dir, STATE_FILE);
	if (r < 0)
		return r;
	data = json_dumps(st->root, JSON_INDENT(1) | JSON_SORT_KEYS);
	if (!data)
		return -ENOMEM;
	r = fs_write_swap_path(path, data, strlen(data), 0600, true);
	free(data);
	return r;
}

void state_release(struct state_file *st)
{
	json_decref(st->root);
	free(st->dir);
	st->root = NULL;
	st->dir = NULL;
}

void state_remove_stale_tmp(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d)))
		/* state.json.tmp.*, slipway_agent.prom.tmp.*: temp files of an interrupted atomic write */
		if (de->d_type != DT_DIR && strstr(de->d_name, ".tmp."))
			(void)unlinkat(dirfd(d), de->d_name, 0);
	closedir(d);
}

json_t *state_envs(struct state_file *st)
{
	return json_object_get(st->root, "envs");
}

json_t *state_forgotten(struct state_file *st)
{
	return json_object_get(st->root, "forgotten");
}

json_t *state_env(struct state_file *st, const char *env_name)
{
	return json_object_get(state_envs(st), env_name);
}

json_t *state_env_ensure(struct state_file *st, const char *env_name)
{
	json_t *e = state_env(st, env_name), *f;

	if (e)
		return e;
	e = json_object();
	if (!e)
		return NULL;
	f = json_object_get(state_forgotten(st), env_name);
	if (f) {
		/* taken back: the TARGET bookkeeping continues */
		const char *keys[] = { "envId", "target", "targetBuildId", "previousBuildId" };
		for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
			json_t *v = json_object_get(f, keys[i]);
			if (v)
				json_object_set(e, keys[i], v);
		}
		json_object_del(state_forgotten(st), env_name);
	}
	json_object_set_new(e, "envName", json_string(env_name));
	if (json_object_set_new(state_envs(st), env_name, e) < 0)
		return NULL;
	return e;
}

const char *state_find_for_delete(struct state_file *st, const char *env_id, const char *env_name)
{
	const char *k;
	json_t *e;

	if (env_id)
		json_object_foreach(state_envs(st), k, e)
			if (streq_ptr(entry_str(e, "envId"), env_id))
				return k;
	if (env_name) {
		json_t *byname = state_env(st, env_name);
		if (byname) {
			const char *id = entry_str(byname, "envId");
			if (!id || streq_ptr(id, env_id))
				return json_object_iter_key(json_object_iter_at(state_envs(st), env_name));
		}
	}
	return NULL;
}

int state_forget(struct state_file *st, const char *env_name, int64_t now)
{
	json_t *e = state_env(st, env_name), *rec;
	char *name;

	if (!e)
		return -ENOENT;
	rec = json_object();
	if (!rec)
		return -ENOMEM;
	json_object_set_new(rec, "envId", json_incref(json_object_get(e, "envId")) ?: json_null());
	json_object_set_new(rec, "target", json_incref(json_object_get(e, "target")) ?: json_null());
	json_object_set_new(rec, "targetBuildId", json_incref(json_object_get(e, "targetBuildId")) ?: json_null());
	json_object_set_new(rec, "previousBuildId", json_incref(json_object_get(e, "previousBuildId")) ?: json_null());
	json_object_set_new(rec, "forgottenAt", json_integer(now));
	name = strdup(env_name); /* env_name may point into the entry being removed */
	if (!name) {
		json_decref(rec);
		return -ENOMEM;
	}
	json_object_set_new(state_forgotten(st), name, rec);
	json_object_del(state_envs(st), name);
	free(name);
	return 0;
}

const char *entry_str(const json_t *e, const char *key)
{
	json_t *v = json_object_get(e, key);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

int64_t entry_int(const json_t *e, const char *key)
{
	json_t *v = json_object_get(e, key);
	return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

bool entry_bool(const json_t *e, const char *key)
{
	return json_is_true(json_object_get(e, key));
}

int entry_set_str(json_t *e, const char *key, const char *value)
{
	return json_object_set_new(e, key, value ? json_string(value) : json_null()) < 0 ? -ENOMEM : 0;
}

int entry_set_int(json_t *e, const char *key, int64_t value)
{
	return json_object_set_new(e, key, json_integer(value)) < 0 ? -ENOMEM : 0;
}

int entry_set_bool(json_t *e, const char *key, bool value)
{
	return json_object_set_new(e, key, json_boolean(value)) < 0 ? -ENOMEM : 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

int state_reports(struct state_file *st, const struct report_override *ov, struct ping_report **ret, size_t *ret_n)
{
	json_t *envs = state_envs(st), *e;
	size_t n = json_object_size(envs), i = 0;
	const char **names = NULL, *k;
	struct ping_report *reps = NULL;
	int r = 0;

	names = calloc(n ? n : 1, sizeof(*names));
	reps = calloc(n ? n : 1, sizeof(*reps));
	if (!names || !reps) {
		r = -ENOMEM;
		goto out;
	}
	json_object_foreach(envs, k, e)
		names[i++] = k;
	qsort(names, n, sizeof(*names), cmp_str);
	for (i = 0; i < n; i++) {
		struct ping_report *rep = &reps[i];
		int stage, status;
		const char *msg;

		e = json_object_get(envs, names[i]);
		stage = deploy_stage_from_string(entry_str(e, "deployStage") ?: "UNKNOWN");
		status = agent_status_from_string(entry_str(e, "status") ?: "UNKNOWN");
		rep->deploy_stage = stage < 0 ? DEPLOY_STAGE_UNKNOWN : stage;
		rep->agent_status = status < 0 ? AGENT_STATUS_UNKNOWN : status;
		rep->error_code = (int)entry_int(e, "errorCode");
		rep->fail_count = (int)entry_int(e, "failCount");
		msg = entry_str(e, "errorMessage");
		if (ov && ov->env_name && streq(ov->env_name, names[i])) {
			rep->agent_status = ov->agent_status;
			rep->error_code = ov->error_code;
			rep->fail_count = ov->fail_count;
			msg = ov->error_message;
		}
		if (rep->agent_status == AGENT_STATUS_SUCCEEDED)
			msg = NULL;
		rep->env_id = dup_or_null(entry_str(e, "envId"));
		rep->deploy_id = dup_or_null(entry_str(e, "deployId"));
		rep->deploy_alias = dup_or_null(entry_str(e, "deployAlias"));
		rep->error_message = dup_or_null(msg);
		if ((entry_str(e, "envId") && !rep->env_id) || (msg && !rep->error_message)) {
			r = -ENOMEM;
			n = i + 1;
			goto out;
		}
	}
	*ret = reps;
	*ret_n = n;
	reps = NULL;
out:
	if (reps) {
		for (i = 0; i < n; i++)
			ping_report_release(&reps[i]);
		free(reps);
	}
	free(names);
	return r;
}

static void copy_field(json_t *dst, const char *dkey, json_t *src, const char *skey)
{
	json_t *v = json_object_get(src, skey);
	if (v && !json_is_null(v))
		json_object_set(dst, dkey, v);
}

int state_import_upstream(struct state_file *st, const char *path, size_t *ret_n)
{
	char *data = NULL;
	size_t len, n = 0;
	json_t *root = NULL, *v;
	const char *name;
	int r;

	r = fs_read_file(path, STATE_MAX_BYTES, &data, &len);
	if (r < 0)
		return r;
	r = json_parse_bounded(data, len, &root, NULL, 0);
	free(data);
	if (r < 0 || !json_is_object(root)) {
		json_decref(root);
		return -EBADMSG;
	}
	json_object_foreach(root, name, v) {
		json_t *e, *rep, *bi, *b;
		static const char *const report_keys[] = { "envId", "deployId", "deployAlias", "deployStage", "status",
							   "errorCode", "errorMessage", "failCount", "envName",
							   "stageName", "stageType" };

		if (!json_is_object(v) || !str_charset_ok(name, "_-", 1, 64))
			continue;
		e = state_env_ensure(st, name);
		if (!e) {
			r = -ENOMEM;
			break;
		}
		rep = json_object_get(v, "report");
		if (json_is_object(rep))
			for (size_t i = 0; i < ELEMENTSOF(report_keys); i++)
				copy_field(e, report_keys[i], rep, report_keys[i]);
		entry_set_str(e, "envName", name);
		copy_field(e, "opCode", v, "op_code");
		copy_field(e, "scriptVariables", v, "script_variables");
		copy_field(e, "agentConfigs", v, "runtime_config");
		copy_field(e, "firstDeploy", v, "first_deploy");
		copy_field(e, "isDocker", v, "is_docker");
		bi = json_object_get(v, "build_info");
		if (json_is_object(bi)) {
			b = json_object();
			copy_field(b, "id", bi, "build_id");
			copy_field(b, "name", bi, "build_name");
			copy_field(b, "commit", bi, "build_commit");
			copy_field(b, "repo", bi, "build_repo");
			copy_field(b, "branch", bi, "build_branch");
			copy_field(b, "artifactUrl", bi, "build_url");
			json_object_set_new(e, "build", b);
		}
		n++;
	}
	json_decref(root);
	if (r < 0)
		return r;
	*ret_n = n;
	return 0;
}
