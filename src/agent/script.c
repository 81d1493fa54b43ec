/* SPDX-License-Identifier: Apache-2.0 */
/* agent/script.c: script lookup and the script environment. The environment is built afresh for every
 * child from the agent's own, so variables of one env never leak into another env's scripts. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "script.h"
#include "scriptvar.h"
#include "util.h"
#include "banned.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

struct envv {
	char **v;
	size_t n, alloc;
};

static ssize_t envv_find(const struct envv *e, const char *name)
{
	size_t len = strlen(name);
	for (size_t i = 0; i < e->n; i++)
		if (strncmp(e->v[i], name, len) == 0 && e->v[i][len] == '=')
			return (ssize_t)i;
	return -1;
}

static int envv_set(struct envv *e, const char *name, const char *value)
{
	char *s = NULL;
	ssize_t i;

	if (asprintf(&s, "%s=%s", name, value) < 0)
		return -ENOMEM;
	i = envv_find(e, name);
	if (i >= 0) {
		free(e->v[i]);
		e->v[i] = s;
		return 0;
	}
	if (e->n + 2 > e->alloc) {
		size_t na = e->alloc ? e->alloc * 2 : 64;
		char **nv = realloc(e->v, na * sizeof(char *));
		if (!nv) {
			free(s);
			return -ENOMEM;
		}
		e->v = nv;
		e->alloc = na;
	}
	e->v[e->n++] = s;
	e->v[e->n] = NULL;
	return 0;
}

static void envv_unset(struct envv *e, const char *name)
{
	ssize_t i = envv_find(e, name);

	if (i < 0)
		return;
	free(e->v[i]);
	memmove(&e->v[i], &e->v[i + 1], (e->n - (size_t)i) * sizeof(char *)); /* includes the NULL */
	e->n--;
}

static int set_opt(struct envv *e, const char *name, const char *value)
{
	if (value && *value)
		return envv_set(e, name, value);
	return 0;
}

static bool var_name_ok(const char *s)
{
	if (!s || !*s || !((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
		return false;
	for (s++; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	return true;
}

/* The stage's script variables: names that are not shell names are skipped, refused names (proto/scriptvar.h)
 * are skipped and reported through p->refused. */
static int add_script_variables(struct envv *e, const struct script_env_params *p)
{
	const char *k;
	json_t *v;

	if (!json_is_object(p->script_variables))
		return 0;
	json_object_foreach((json_t *)p->script_variables, k, v) {
		const char *s;
		char num[32];
		int r;

		if (!var_name_ok(k))
			continue;
		if (scriptvar_is_refused(k)) {
			if (p->refused)
				p->refused(k, p->refused_userdata);
			continue;
		}
		if (json_is_string(v)) {
			s = json_string_value(v);
			if (strlen(s) != json_string_length(v))
				continue; /* embedded NUL */
		} else if (json_is_integer(v)) {
			snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
			s = num;
		} else
			continue;
		r = envv_set(e, k, s);
		if (r < 0)
			return r;
	}
	return 0;
}

int script_env_build(const char *const *base, const struct script_env_params *p, char ***ret)
{
	struct envv e = { 0 };
	const char *deploy_type;
	int r = 0;

	e.v = calloc(64, sizeof(char *));
	if (!e.v)
		return -ENOMEM;
	e.alloc = 64;
	for (size_t i = 0; base && base[i]; i++) {
		const char *eq = strchr(base[i], '=');
		char *name;
		if (!eq)
			continue;
		name = strndup(base[i], (size_t)(eq - base[i]));
		if (!name) {
			r = -ENOMEM;
			goto out;
		}
		r = envv_set(&e, name, eq + 1);
		free(name);
		if (r < 0)
			goto out;
	}
	if (p->user_name) {
		if ((r = envv_set(&e, "HOME", p->user_home ? p->user_home : "/")) < 0 ||
		    (r = envv_set(&e, "USER", p->user_name)) < 0 || (r = envv_set(&e, "LOGNAME", p->user_name)) < 0 ||
		    (r = envv_set(&e, "SHELL", p->user_shell ? p->user_shell : "/bin/sh")) < 0)
			goto out;
	}
	if (envv_find(&e, "PATH") < 0 && (r = envv_set(&e, "PATH", DEFAULT_PATH)) < 0)
		goto out;

	if ((r = envv_set(&e, "DEPLOY_ID", p->deploy_id ? p->deploy_id : "")) < 0 ||
	    (r = envv_set(&e, "DEPLOY_STEP", p->stage)) < 0 ||
	    (r = envv_set(&e, "OPCODE", p->op_code ? p->op_code : "DEPLOY")) < 0)
		goto out;
	deploy_type = "REGULAR";
	if (p->op_code && streq(p->op_code, "RESTART"))
		deploy_type = "RESTART";
	else if (p->op_code && streq(p->op_code, "ROLLBACK"))
		deploy_type = "ROLLBACK";
	else if (p->op_code && (streq(p->op_code, "STOP") || streq(p->op_code, "TERMINATE")))
		deploy_type = "STOP";
	if ((r = envv_set(&e, "DEPLOY_TYPE", deploy_type)) < 0 || (r = set_opt(&e, "ENV_NAME", p->env_name)) < 0 ||
	    (r = set_opt(&e, "STAGE_NAME", p->stage_name)) < 0)
		goto out;
	if (p->stage_type && *p->stage_type) {
		r = envv_set(&e, "COMPUTE_ENV_TYPE", streq(p->stage_type, "DEFAULT") ? "PRODUCTION" : p->stage_type);
		if (r < 0)
			goto out;
	} else
		envv_unset(&e, "COMPUTE_ENV_TYPE");
	if (p->first_deploy)
		r = envv_set(&e, "FIRST_DEPLOY", "True");
	else
		envv_unset(&e, "FIRST_DEPLOY");
	if (r < 0)
		goto out;
	if (p->is_docker)
		r = envv_set(&e, "IS_DOCKER", "True");
	else
		envv_unset(&e, "IS_DOCKER");
	if (r < 0)
		goto out;
	if ((r = envv_set(&e, "TARGET", p->target ? p->target : "")) < 0)
		goto out;
	r = add_script_variables(&e, p);
	if (r < 0)
		goto out;
	if (p->build) {
		if ((r = set_opt(&e, "BUILD_COMMIT", p->build->commit)) < 0 ||
		    (r = set_opt(&e, "BUILD_NAME", p->build->name)) < 0 ||
		    (r = set_opt(&e, "BUILD_REPO", p->build->repo)) < 0 ||
		    (r = set_opt(&e, "BUILD_BRANCH", p->build->branch)) < 0 ||
		    (r = set_opt(&e, "BUILD_ID", p->build->id)) < 0 ||
		    (r = set_opt(&e, "BUILD_URL", p->build->artifact_url)) < 0)
			goto out;
	}
	r = set_opt(&e, "BUILDS_DIR", p->builds_dir_env);
	if (r < 0)
		goto out;
	*ret = e.v;
	e.v = NULL;
out:
	if (e.v)
		script_env_free(e.v);
	return r;
}

void script_env_free(char **env)
{
	if (!env)
		return;
	for (size_t i = 0; env[i]; i++)
		free(env[i]);
	free(env);
}

const char *script_env_get(char *const *env, const char *name)
{
	size_t len = strlen(name);

	for (size_t i = 0; env && env[i]; i++)
		if (strncmp(env[i], name, len) == 0 && env[i][len] == '=')
			return env[i] + len + 1;
	return NULL;
}

static bool is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int script_find(const char *target, const char *env_name, const char *stage, char *ret_path, size_t path_size,
		char *ret_dir, size_t dir_size)
{
	char tree[PATH_MAX], dir[PATH_MAX], path[PATH_MAX], real[PATH_MAX];
	struct stat st;
	size_t tl;
	int r;

	if (!realpath(target, tree))
		return SCRIPT_NO_DIR; /* missing or dangling TARGET */
	r = str_printf(dir, sizeof(dir), "%s/teletraan/%s", tree, env_name);
	if (r < 0)
		return r;
	if (!is_dir(dir)) {
		r = str_printf(dir, sizeof(dir), "%s/teletraan", tree);
		if (r < 0)
			return r;
		if (!is_dir(dir))
			return SCRIPT_NO_DIR;
	}
	r = str_printf(path, sizeof(path), "%s/%s", dir, stage);
	if (r < 0)
		return r;
	if (lstat(path, &st) < 0)
		return errno == ENOENT ? SCRIPT_NO_SCRIPT : -errno;
	if (!realpath(path, real))
		return errno == ENOENT ? SCRIPT_NO_SCRIPT : -errno;
	tl = strlen(tree);
	if (strncmp(real, tree, tl) != 0 || real[tl] != '/')
		return -EPERM;
	if (stat(real, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EPERM;
	if (!(st.st_mode & S_IXUSR) && chmod(real, (st.st_mode & 07777) | S_IXUSR) < 0)
		return -errno;
	if ((r = str_copy(ret_path, path_size, real)) < 0)
		return r;
	if (!realpath(dir, real))
		return -errno;
	r = str_copy(ret_dir, dir_size, real);
	if (r < 0)
		return r;
	return SCRIPT_FOUND;
}
