/* SPDX-License-Identifier: Apache-2.0 */
/* agent/step_script.c: the script stages (AGENT.md §10) and STAGING (§9). A script runs from the build
 * TARGET points to, in its own process group, with a fresh environment and its output appended to the
 * env log; failures go through the shared retry tail of step.c. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "enums.h"
#include "jsonutil.h"
#include "log.h"
#include "script.h"
#include "stage.h"
#include "tail.h"
#include "template.h"
#include "util.h"
#include "banned.h"

extern char **environ;

/* ---- script stages (§10) ------------------------------------------------------------------------ */

static bool stage_needs_new_build(int stage)
{
	return stage == DEPLOY_STAGE_PRE_RESTART || stage == DEPLOY_STAGE_RESTARTING ||
	       stage == DEPLOY_STAGE_POST_RESTART || stage == DEPLOY_STAGE_SERVING_BUILD;
}

/* What every attempt of one script stage uses. */
struct script_run {
	char target[PATH_MAX];
	char script[PATH_MAX];
	char dir[PATH_MAX];
	char **envp;
};

/* A server that refuses these names at PUT never sends them; an older or compromised one might. */
static void warn_refused_variable(const char *name, void *userdata)
{
	log_warn("script variable '%s' of env '%s' is not passed to the scripts: it changes how shells, loaders or "
		 "interpreters behave", name, (const char *)userdata);
}

static int script_build_env(struct agent *a, const struct step_ctx *ctx, struct script_run *sr)
{
	char builds_env[PATH_MAX];
	struct build build;
	bool have_build = false;
	int r;

	memset(&build, 0, sizeof(build));
	if (json_is_object(json_object_get(ctx->entry, "build")) &&
	    build_from_json(json_object_get(ctx->entry, "build"), &build) == 0)
		have_build = true;
	(void)str_printf(builds_env, sizeof(builds_env), "%s/%s", a->cfg->builds_dir, ctx->env_name);
	struct script_env_params p = {
		.deploy_id = entry_str(ctx->entry, "deployId"),
		.stage = stage_name(ctx->stage),
		.op_code = entry_str(ctx->entry, "opCode"),
		.env_name = ctx->env_name,
		.stage_name = entry_str(ctx->entry, "stageName"),
		.stage_type = entry_str(ctx->entry, "stageType"),
		.first_deploy = entry_bool(ctx->entry, "firstDeploy"),
		.is_docker = entry_bool(ctx->entry, "isDocker"),
		.target = sr->target,
		.script_variables = json_object_get(ctx->entry, "scriptVariables"),
		.refused = warn_refused_variable,
		.refused_userdata = (void *)ctx->env_name,
		.build = have_build ? &build : NULL,
		.builds_dir_env = builds_env,
		.user_name = a->have_user ? a->user.name : NULL,
		.user_home = a->have_user ? a->user.home : NULL,
		.user_shell = a->have_user ? a->user.shell : NULL,
	};
	r = script_env_build((const char *const *)environ, &p, &sr->envp);
	build_release(&build);
	return r;
}

/* Find the stage's script (§10.1) and build its environment. Returns 1 when there is a script to run,
 * 0 when res already holds the step's result (nothing to run, or a failure). */
static int script_prepare(struct agent *a, const struct step_ctx *ctx, struct script_run *sr,
			  struct step_result *res)
{
	const char *sname = stage_name(ctx->stage);
	char err[512] = "";
	int r;

	r = resolve_target(a, ctx, sr->target, sizeof(sr->target), err, sizeof(err));
	if (r < 0) {
		step_result_set(res, AGENT_STATUS_AGENT_FAILED, 1, 1, "%s", err);
		return 0;
	}
	r = script_find(sr->target, ctx->env_name, sname, sr->script, sizeof(sr->script), sr->dir, sizeof(sr->dir));
	if (r < 0) {
		step_result_set(res, AGENT_STATUS_AGENT_FAILED, 1, 1, "cannot use %s script: %s", sname,
				r == -EPERM ? "it lies outside the build tree or is not a regular file" : strerror(-r));
		return 0;
	}
	if (r == SCRIPT_NO_DIR) {
		if (stage_needs_new_build(ctx->stage))
			step_result_set(res, AGENT_STATUS_AGENT_FAILED, 1, 1,
					"teletraan directory cannot be found in the build for step %s", sname);
		else
			step_result_set(res, AGENT_STATUS_SUCCEEDED, 0, 0, NULL);
		return 0;
	}
	if (r == SCRIPT_NO_SCRIPT) {
		if (ctx->stage == DEPLOY_STAGE_RESTARTING)
			step_result_set(res, AGENT_STATUS_AGENT_FAILED, 1, 1, "RESTARTING script does not exist");
		else
			step_result_set(res, AGENT_STATUS_SUCCEEDED, 0, 0, NULL);
		return 0;
	}
	if (script_build_env(a, ctx, sr) < 0) {
		step_result_set(res, AGENT_STATUS_AGENT_FAILED, 1, 1, "cannot prepare the environment of %s", sname);
		return 0;
	}
	return 1;
}

/* The timeout result: the output's tail, then the reason on a line of its own. */
static void script_timed_out(const struct step_ctx *ctx, int fail_count, const char *tail, struct step_result *res)
{
	bool nl = tail && *tail && tail[strlen(tail) - 1] != '\n';

	step_result_set(res, AGENT_STATUS_SCRIPT_TIMEOUT, 1, fail_count + 1, "%s%stimed out after %lld s",
			tail ? tail : "", nl ? "\n" : "", (long long)ctx->lim.process_timeout_s);
	log_warn("%s of env '%s' timed out after %llds", stage_name(ctx->stage), ctx->env_name,
		 (long long)ctx->lim.process_timeout_s);
}

/* One attempt. STEP_RETRY: it failed with *ret_code and *ret_tail (malloc'd output tail or NULL);
 * STEP_DONE: res holds the step's end (success, timeout, or the script could not start). */
static enum step_outcome script_attempt(struct agent *a, const struct step_ctx *ctx, const struct script_run *sr,
					int attempt, int fail_count, struct step_result *res,
					struct ping_response *ret_next, int *ret_code, char **ret_tail)
{
	const char *argv[] = { sr->script, NULL }, *sname = stage_name(ctx->stage);
	struct proc_spec spec = {
		.path = sr->script, .argv = argv, .envp = (const char *const *)sr->envp, .cwd = sr->dir,
		.stdin_fd = -1, .extra_fd = -1, .drop_privs = a->have_user,
		.uid = a->user.uid, .gid = a->user.gid, .groups = a->user.groups, .n_groups = a->user.n_groups,
	};
	struct report_override ov = { .env_name = ctx->env_name, .agent_status = AGENT_STATUS_UNKNOWN,
				      .fail_count = fail_count };
	char log_path[PATH_MAX], *tail = NULL;
	int64_t started = mono_ms();
	enum step_outcome out;
	struct proc_result pres;
	struct proc p;
	enum sup_outcome so;
	off_t start_off;
	int log_fd, r;

	log_fd = open_env_log(a, ctx->env_name, log_path, sizeof(log_path));
	if (log_fd < 0) {
		step_result_set(res, AGENT_STATUS_AGENT_FAILED, 1, fail_count + 1, "cannot open env log: %s",
				strerror(-log_fd));
		return STEP_DONE;
	}
	start_off = log_header(log_fd, ctx, attempt);
	spec.log_fd = log_fd;
	log_info("running %s of env '%s' attempt %d/%lld: %s", sname, ctx->env_name, attempt,
		 (long long)ctx->lim.max_retry, sr->script);
	r = proc_spawn(&spec, &p);
	if (r < 0) {
		close(log_fd);
		step_result_set(res, AGENT_STATUS_AGENT_FAILED, 1, fail_count + 1, "cannot start %s script: %s", sname,
				strerror(-r));
		return STEP_DONE;
	}
	so = supervise(a, &p, ctx, &ov, &pres, ret_next);
	proc_release(&p);
	close(log_fd);
	metrics_step_duration(&a->metrics, ctx->env_name, sname, mono_ms() - started);
	if (step_interrupted(so, &out))
		return out;
	(void)tail_read_file(log_path, start_off, (size_t)ctx->lim.max_tail_bytes, &tail);
	if (so == SUP_TIMEOUT || (pres.status == PROC_EXITED && pres.code == 0)) {
		if (so == SUP_TIMEOUT)
			script_timed_out(ctx, fail_count, tail, res);
		else
			step_result_set(res, AGENT_STATUS_SUCCEEDED, 0, fail_count, NULL);
		free(tail);
		return STEP_DONE;
	}
	if (pres.status == PROC_EXEC_FAILED)
		log_warn("cannot execute %s script '%s': %s", sname, sr->script, strerror(pres.exec_errno));
	*ret_code = retry_attempt_code(&pres, 1);
	*ret_tail = tail;
	return STEP_RETRY;
}

enum step_outcome run_script_stage(struct agent *a, const struct step_ctx *ctx, struct step_result *res,
				   struct ping_response *ret_next)
{
	struct script_run sr = { .envp = NULL };
	enum step_outcome out = STEP_DONE;
	int fail_count = 0;

	if (script_prepare(a, ctx, &sr, res) <= 0 || agent_save_before_step(a, res) < 0)
		goto out;
	for (int attempt = 1;; attempt++) {
		char *tail = NULL;
		int code = 0;

		out = script_attempt(a, ctx, &sr, attempt, fail_count, res, ret_next, &code, &tail);
		if (out != STEP_RETRY)
			break;
		fail_count++;
		log_warn("%s of env '%s' failed with code %d (attempt %d/%lld)", stage_name(ctx->stage), ctx->env_name,
			 code, attempt, (long long)ctx->lim.max_retry);
		out = step_after_failure(a, ctx, fail_count, code, tail, res, ret_next);
		free(tail);
		if (out != STEP_RETRY)
			break;
	}
out:
	script_env_free(sr.envp);
	return out;
}

/* ---- STAGING (§9) ------------------------------------------------------------------------------- */

void run_staging(struct agent *a, const struct step_ctx *ctx, struct step_result *res)
{
	char target[PATH_MAX], err[512] = "";
	json_t *b = json_object_get(ctx->entry, "build"), *vars = json_object_get(ctx->entry, "scriptVariables");
	const char *build_id = json_is_object(b) ? json_string_value(json_object_get(b, "id")) : NULL;
	struct template_var *tv = NULL;
	size_t n = 0;
	int64_t started = mono_ms();
	int r;

	r = resolve_target(a, ctx, target, sizeof(target), err, sizeof(err));
	if (r < 0) {
		step_result_set(res, AGENT_STATUS_AGENT_FAILED, 1, 1, "%s", err);
		return;
	}
	if (json_is_object(vars) && json_object_size(vars)) {
		const char *k;
		json_t *v;
		tv = calloc(json_object_size(vars), sizeof(*tv));
		if (!tv) {
			step_result_set(res, AGENT_STATUS_AGENT_FAILED, 1, 1, "out of memory");
			return;
		}
		json_object_foreach(vars, k, v)
			if (json_is_string(v)) {
				tv[n].key = k;
				tv[n].value = json_string_value(v);
				n++;
			}
	}
	{
		struct stage_params p = { .builds_dir = a->cfg->builds_dir, .env_name = ctx->env_name,
					  .build_id = build_id, .target = target, .run_as = a->cfg->run_as,
					  .vars = tv, .n_vars = n };
		r = stage_build(&p, err, sizeof(err));
	}
	free(tv);
	metrics_step_duration(&a->metrics, ctx->env_name, "STAGING", mono_ms() - started);
	if (r < 0) {
		log_error("staging of env '%s' failed: %s", ctx->env_name, err);
		step_result_set(res, AGENT_STATUS_AGENT_FAILED, 1, 1, "%s", err[0] ? err : strerror(-r));
		return;
	}
	if (r == 1 || !streq_ptr(entry_str(ctx->entry, "targetBuildId"), build_id)) {
		const char *old = entry_str(ctx->entry, "targetBuildId");
		if (old && !streq(old, build_id))
			entry_set_str(ctx->entry, "previousBuildId", old);
		entry_set_str(ctx->entry, "targetBuildId", build_id);
		log_notice("env '%s' now points to build '%s'", ctx->env_name, build_id);
	}
	a->staged_this_pass = true;
	step_result_set(res, AGENT_STATUS_SUCCEEDED, 0, 0, NULL);
}

