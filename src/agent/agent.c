/* SPDX-License-Identifier: Apache-2.0 */
/* agent/agent.c: the agent's main loop. The server is authoritative: each answer names at most one env and
 * one stage; the agent runs it, reports, and asks again at once until the answer is NOOP (AGENT.md §5.2).
 * Here: signals and the lock, identity, applying goals, retention, start-up and the loop; the steps are in
 * step*.c, the decisions in decide.c. Children are started only through lib/proc; files are replaced only
 * through lib/fs. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "daemon.h"
#include "download.h"
#include "enums.h"
#include "fs.h"
#include "jsonutil.h"
#include "log.h"
#include "parse.h"
#include "retention.h"
#include "util.h"
#include "banned.h"

volatile sig_atomic_t agent_stop_requested;

#define LOCK_FILE "agent.lock"
#define RETENTION_PERIOD_MS (3600 * 1000)

static void on_term(int sig)
{
	(void)sig;
	agent_stop_requested = 1;
}

int agent_signals_setup(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGTERM, &sa, NULL) < 0 || sigaction(SIGINT, &sa, NULL) < 0)
		return -errno;
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGHUP, &sa, NULL) < 0 || sigaction(SIGUSR1, &sa, NULL) < 0 || sigaction(SIGPIPE, &sa, NULL) < 0)
		return -errno;
	return 0;
}

int agent_mkdir_state_dir(const char *state_dir)
{
	char parent[PATH_MAX], *slash;
	int r;

	r = str_copy(parent, sizeof(parent), state_dir);
	if (r < 0)
		return r;
	slash = strrchr(parent, '/');
	if (slash && slash != parent) {
		*slash = '\0';
		r = fs_mkdir_p(parent, 0755);
		if (r < 0)
			return r;
	}
	return fs_mkdir_p(state_dir, 0700);
}

int agent_lock_take(const char *state_dir)
{
	char path[PATH_MAX], pid[32];
	int fd, r;

	r = str_printf(path, sizeof(path), "%s/%s", state_dir, LOCK_FILE);
	if (r < 0)
		return r;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		r = errno == EWOULDBLOCK ? -EAGAIN : -errno;
		close(fd);
		return r;
	}
	snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, strlen(pid), 0) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

int agent_lock_probe(const char *state_dir, long *ret_pid)
{
	char path[PATH_MAX], buf[32] = "";
	int fd, r;
	ssize_t n;

	r = str_printf(path, sizeof(path), "%s/%s", state_dir, LOCK_FILE);
	if (r < 0)
		return r;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
		close(fd);
		return 0;
	}
	if (errno != EWOULDBLOCK) {
		r = -errno;
		close(fd);
		return r;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	*ret_pid = 0;
	if (n > 0) {
		int64_t v;
		buf[n] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		if (parse_i64(buf, 1, INT32_MAX, &v) == 0)
			*ret_pid = (long)v;
	}
	return 1;
}

/* ---- small helpers ------------------------------------------------------------------------------ */

static int64_t rand_range_ms(int64_t lo, int64_t hi)
{
	if (hi <= lo)
		return lo;
	return lo + (int64_t)random_u64((uint64_t)(hi - lo + 1));
}

/* ---- identity ----------------------------------------------------------------------------------- */

static int refresh_identity(struct agent *a, bool startup)
{
	struct stat st;
	struct identity_source info = { 0 };
	struct host_identity id;
	char err[256] = "";
	bool present = false, changed;
	int r;

	memset(&id, 0, sizeof(id));

	if (stat(a->cfg->host_info_file, &st) == 0)
		present = true;
	changed = present != a->info_present ||
		  (present && (st.st_mtim.tv_sec != a->info_mtime.tv_sec || st.st_mtim.tv_nsec != a->info_mtime.tv_nsec));
	if (!startup && !changed)
		return 0;
	if (present) {
		char *data = NULL;
		size_t len;
		r = fs_read_file(a->cfg->host_info_file, 1024 * 1024, &data, &len);
		if (r < 0) {
			if (startup)
				return log_error_errno(r, "cannot read host_info file '%s'", a->cfg->host_info_file);
			return log_error_errno(r, "cannot read host_info file '%s', keeping the previous identity",
					       a->cfg->host_info_file);
		}
		r = identity_parse_host_info(data, &info);
		free(data);
		if (r < 0)
			return r;
	}
	r = identity_resolve(a->flag_src, &a->cfg_src, &info, &id, err, sizeof(err));
	if (r < 0) {
		identity_source_free_strings(&info);
		if (startup)
			return log_error_errno(r, "invalid host identity: %s", err);
		log_error("invalid host identity after re-reading '%s': %s, keeping the previous identity",
			  a->cfg->host_info_file, err);
		/* remember the mtime so the error is not repeated every pass */
		a->info_present = present;
		if (present)
			a->info_mtime = st.st_mtim;
		return 0;
	}
	identity_source_free_strings(&a->info_src);
	a->info_src = info;
	host_identity_release(&a->id);
	a->id = id;
	a->info_present = present;
	if (present)
		a->info_mtime = st.st_mtim;
	if (!startup)
		log_info("host identity re-read from '%s': host_id=%s", a->cfg->host_info_file, a->id.v[ID_HOST_ID]);
	return 0;
}

/* ---- goals (§6) --------------------------------------------------------------------------------- */

static const char *op_code_str(const struct ping_response *resp)
{
	const char *s = resp->op_code >= 0 ? op_code_to_string(resp->op_code) : NULL;
	return s ? s : (resp->op_code_raw ? resp->op_code_raw : "DEPLOY");
}

/* Copy the goal into the env's entry (§6.1). Returns the entry or NULL. */
static json_t *apply_goal(struct agent *a, const struct ping_response *resp)
{
	const struct deploy_goal *g = resp->goal;
	json_t *e;
	const char *stage_type;

	e = state_env_ensure(&a->st, g->env_name);
	if (!e)
		return NULL;
	if (entry_str(e, "envId") && !streq_ptr(entry_str(e, "envId"), g->env_id))
		log_info("env '%s' moved to another stage (envId %s → %s)", g->env_name, entry_str(e, "envId"),
			 g->env_id ? g->env_id : "null");
	stage_type = g->stage_type >= 0 ? env_type_to_string(g->stage_type) : g->stage_type_raw;
	entry_set_str(e, "envId", g->env_id);
	entry_set_str(e, "envName", g->env_name);
	entry_set_str(e, "stageName", g->stage_name);
	entry_set_str(e, "stageType", stage_type);
	entry_set_str(e, "deployId", g->deploy_id);
	entry_set_str(e, "deployAlias", g->deploy_alias);
	entry_set_str(e, "deployStage", stage_name(g->deploy_stage));
	entry_set_str(e, "opCode", op_code_str(resp));
	entry_set_bool(e, "firstDeploy", g->first_deploy);
	entry_set_bool(e, "isDocker", g->is_docker);
	entry_set_str(e, "status", "UNKNOWN");
	entry_set_int(e, "errorCode", 0);
	entry_set_str(e, "errorMessage", NULL);
	entry_set_int(e, "failCount", 0);
	entry_set_int(e, "lastChange", now_ms());
	if (g->build) {
		json_t *bj = NULL;
		if (build_to_json(g->build, &bj) == 0)
			json_object_set_new(e, "build", bj);
		entry_set_str(e, "signingKey", g->signing_key);
	}
	if (g->script_variables)
		json_object_set(e, "scriptVariables", g->script_variables);
	json_object_set_new(e, "agentConfigs", g->agent_configs ? json_deep_copy(g->agent_configs) : json_object());
	return e;
}

static void record_result(struct agent *a, json_t *e, const struct step_result *res)
{
	const char *st = agent_status_to_string(res->status);

	entry_set_str(e, "status", st ? st : "UNKNOWN");
	entry_set_int(e, "errorCode", res->error_code);
	entry_set_str(e, "errorMessage", res->status == AGENT_STATUS_SUCCEEDED ? NULL : res->message);
	entry_set_int(e, "failCount", res->fail_count);
	entry_set_int(e, "lastChange", now_ms());
	metrics_step_result(&a->metrics, entry_str(e, "deployStage"), st ? st : "UNKNOWN");
}

static void persist(struct agent *a, json_t *current)
{
	int r = state_save(&a->st);

	a->state_dirty = r < 0;
	if (r < 0) {
		char msg[256];
		(void)log_error_errno(r, "cannot persist state");
		if (current) {
			snprintf(msg, sizeof(msg), "cannot persist state: %s", strerror(-r));
			entry_set_str(current, "status", "AGENT_FAILED");
			entry_set_int(current, "errorCode", 1);
			entry_set_str(current, "errorMessage", msg);
			entry_set_int(current, "failCount", 1);
		}
	}
}

/* Run the goal's stage. Returns the outcome; on STEP_ABORTED *next holds the new answer. */
static enum step_outcome execute_goal(struct agent *a, const struct ping_response *resp, json_t *e,
				      struct step_result *res, struct ping_response *next)
{
	struct step_ctx ctx;
	int stage = resp->goal->deploy_stage;

	memset(&ctx, 0, sizeof(ctx));
	ctx.env_name = entry_str(e, "envName");
	ctx.entry = e;
	ctx.stage = stage;
	agent_config_step_limits(a->cfg, json_object_get(e, "agentConfigs"), &ctx.lim, &ctx.custom_target);
	ctx.origin.env_id = resp->goal->env_id;
	ctx.origin.deploy_id = resp->goal->deploy_id;
	ctx.origin.deploy_stage = stage;
	ctx.origin.op_code = resp->op_code;

	log_info("env '%s': running %s (deploy %s, %s)", ctx.env_name, stage_name(stage),
		 resp->goal->deploy_id ? resp->goal->deploy_id : "-", op_code_str(resp));
	switch (stage) {
	case DEPLOY_STAGE_UNKNOWN:
		step_result_set(res, AGENT_STATUS_SUCCEEDED, 0, 0, NULL);
		return STEP_DONE;
	case DEPLOY_STAGE_DOWNLOADING:
		return run_download(a, &ctx, res, next);
	case DEPLOY_STAGE_STAGING:
		run_staging(a, &ctx, res);
		return STEP_DONE;
	default:
		return run_script_stage(a, &ctx, res, next);
	}
}

static void handle_delete(struct agent *a, const struct deploy_goal *g)
{
	const char *name = state_find_for_delete(&a->st, g ? g->env_id : NULL, g ? g->env_name : NULL);

	if (!name) {
		log_info("server deleted env '%s' (%s) which this host does not know, ignoring",
			 g && g->env_name ? g->env_name : "?", g && g->env_id ? g->env_id : "null");
		return;
	}
	log_notice("forgetting env '%s'", name);
	(void)state_forget(&a->st, name, now_ms());
	persist(a, NULL);
}

/* ---- retention ---------------------------------------------------------------------------------- */

/* The script stages, which save their stage themselves once they know they run a script (execute_goal). */
static bool stage_saved_by_step(int stage)
{
	return stage != DEPLOY_STAGE_UNKNOWN && stage != DEPLOY_STAGE_DOWNLOADING && stage != DEPLOY_STAGE_STAGING;
}

static bool stage_before_serving(const char *stage)
{
	int s = stage ? deploy_stage_from_string(stage) : -1;
	return s >= DEPLOY_STAGE_PRE_DOWNLOAD && s < DEPLOY_STAGE_SERVING_BUILD;
}

static void run_retention(struct agent *a)
{
	json_t *envs = state_envs(&a->st), *fg = state_forgotten(&a->st), *e;
	size_t n = json_object_size(envs) + json_object_size(fg), i = 0;
	struct retention_env *re = calloc(n ? n : 1, sizeof(*re));
	char (*targets)[PATH_MAX] = calloc(n ? n : 1, PATH_MAX);
	struct retention_params p;
	struct retention_stats stats;
	struct target_policy tp = agent_target_policy(a);
	const char *k;
	int r;

	if (!re || !targets) {
		free(re);
		free(targets);
		return;
	}
	json_object_foreach(envs, k, e) {
		json_t *b = json_object_get(e, "build");
		const char *custom = json_string_value(json_object_get(json_object_get(e, "agentConfigs"), "target"));
		re[i].env_name = k;
		re[i].target = entry_str(e, "target");
		if (!re[i].target && stage_resolve_target(&tp, k, custom, targets[i], PATH_MAX, NULL, 0) == 0)
			re[i].target = targets[i];
		re[i].target_build_id = entry_str(e, "targetBuildId");
		re[i].previous_build_id = entry_str(e, "previousBuildId");
		if (json_is_object(b) && stage_before_serving(entry_str(e, "deployStage")))
			re[i].inflight_build_id = json_string_value(json_object_get(b, "id"));
		i++;
	}
	json_object_foreach(fg, k, e) {
		re[i].env_name = k;
		re[i].forgotten = true;
		re[i].target = entry_str(e, "target");
		if (!re[i].target && str_printf(targets[i], PATH_MAX, "%s/%s", a->cfg->target_dir, k) == 0)
			re[i].target = targets[i];
		re[i].target_build_id = entry_str(e, "targetBuildId");
		i++;
	}
	p = (struct retention_params){ .builds_dir = a->cfg->builds_dir, .target_dir = a->cfg->target_dir,
				       .keep_builds = (unsigned)a->cfg->keep_builds, .envs = re, .n_envs = i };
	memset(&stats, 0, sizeof(stats));
	r = retention_run(&p, &stats);
	if (r < 0)
		(void)log_warn_errno(r, "retention failed");
	else {
		bool changed = false;
		if (stats.deleted)
			log_info("retention removed %u build(s), kept %u", stats.deleted, stats.kept);
		if (stats.first_error < 0)
			(void)log_warn_errno(stats.first_error, "retention could not delete everything");
		if (stats.unknown_dirs) {
			static int64_t last_logged;
			if (!last_logged || mono_ms() - last_logged > 24LL * 3600 * 1000) {
				log_warn("%u env directories under '%s' belong to no known env, leaving them alone",
					 stats.unknown_dirs, a->cfg->builds_dir);
				last_logged = mono_ms();
			}
		}
		/* copy the names first: deleting a key frees the string re[].env_name points to */
		char **drop = calloc(i ? i : 1, sizeof(char *));
		size_t n_drop = 0;
		for (size_t j = 0; drop && j < i; j++)
			if (re[j].forgotten && re[j].drop_forgotten && (drop[n_drop] = strdup(re[j].env_name)))
				n_drop++;
		for (size_t j = 0; j < n_drop; j++) {
			log_info("forgotten env '%s' has no TARGET and no builds left, dropping its record", drop[j]);
			json_object_del(fg, drop[j]);
			free(drop[j]);
			changed = true;
		}
		free(drop);
		if (changed)
			persist(a, NULL);
	}
	free(re);
	free(targets);
	a->last_retention_mono = mono_ms();
}

/* ---- start-up ----------------------------------------------------------------------------------- */

static void cleanup_crash_leftovers(struct agent *a)
{
	struct target_policy tp = agent_target_policy(a);
	DIR *d = opendir(a->cfg->builds_dir);
	struct dirent *de;
	json_t *e;
	const char *k;

	if (d) {
		while ((de = readdir(d))) {
			DIR *ed;
			struct dirent *ee;
			int fd;

			if (de->d_name[0] == '.')
				continue;
			fd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (fd < 0)
				continue;
			ed = fdopendir(fd);
			if (!ed) {
				close(fd);
				continue;
			}
			while ((ee = readdir(ed)))
				if (startswith(ee->d_name, ".tmp-")) {
					log_info("removing leftover download '%s/%s'", de->d_name, ee->d_name);
					(void)download_remove_treeat(dirfd(ed), ee->d_name);
				}
			closedir(ed);
		}
		closedir(d);
	}
	json_object_foreach(state_envs(&a->st), k, e) {
		char target[PATH_MAX];
		const char *t = entry_str(e, "target");
		if (!t && str_printf(target, sizeof(target), "%s/%s", a->cfg->target_dir, k) == 0)
			t = target;
		if (t && stage_target_allowed(&tp, t)) /* a state from before the roots check may hold any path */
			(void)stage_remove_stale_tmp(t);
	}
}

static int make_dirs(const struct agent_config *cfg)
{
	int r;

	r = agent_mkdir_state_dir(cfg->state_dir);
	if (r < 0)
		return log_error_errno(r, "cannot create state_dir '%s'", cfg->state_dir);
	if ((r = fs_mkdir_p(cfg->builds_dir, 0755)) < 0)
		return log_error_errno(r, "cannot create builds_dir '%s'", cfg->builds_dir);
	if ((r = fs_mkdir_p(cfg->log_dir, 0750)) < 0)
		return log_error_errno(r, "cannot create log_dir '%s'", cfg->log_dir);
	if ((r = fs_mkdir_p(cfg->target_dir, 0755)) < 0)
		return log_error_errno(r, "cannot create target_dir '%s'", cfg->target_dir);
	return 0;
}

static int load_state(struct agent *a)
{
	char *corrupt = NULL, path[PATH_MAX];
	struct stat st;
	bool existed;
	int r;

	state_remove_stale_tmp(a->cfg->state_dir);
	(void)str_printf(path, sizeof(path), "%s/%s", a->cfg->state_dir, STATE_FILE);
	existed = stat(path, &st) == 0;
	r = state_load(a->cfg->state_dir, &a->st, &corrupt);
	if (r == -EPROTONOSUPPORT)
		return log_error_errno(r, "state file '%s' has a newer version than this agent understands", path);
	if (r < 0)
		return log_error_errno(r, "cannot load state file '%s'", path);
	if (corrupt) {
		log_error("state file '%s' was unreadable or invalid; moved it to '%s' and starting empty", path, corrupt);
		free(corrupt);
	}
	if (!existed && a->cfg->import_env_status && *a->cfg->import_env_status) {
		size_t n = 0;
		r = state_import_upstream(&a->st, a->cfg->import_env_status, &n);
		if (r < 0)
			(void)log_warn_errno(r, "cannot import upstream env_status '%s'", a->cfg->import_env_status);
		else {
			json_t *e;
			const char *k;
			json_object_foreach(state_envs(&a->st), k, e) {
				char target[PATH_MAX], link[PATH_MAX];
				ssize_t len;
				if (str_printf(target, sizeof(target), "%s/%s", a->cfg->target_dir, k) < 0)
					continue;
				len = readlink(target, link, sizeof(link) - 1);
				if (len > 0) {
					const char *slash;
					link[len] = '\0';
					slash = strrchr(link, '/');
					entry_set_str(e, "targetBuildId", slash ? slash + 1 : link);
				}
			}
			log_notice("imported %zu env(s) from upstream env_status '%s'", n, a->cfg->import_env_status);
			persist(a, NULL);
		}
	}
	return 0;
}

/* The save before PRE_RESTART and POST_DOWNLOAD. Each follows a built-in step (STAGING, DOWNLOADING) that was saved
 * as not done before it ran and whose success is not saved on its own. Without the next save, a crash during the
 * script leaves that built-in stage on disk: the agent re-reports it as not done, the server answers with it, and
 * it runs again, changing nothing (the build is extracted and marked, its templates render the same, TARGET
 * points to it), before the script stage runs again from the start: what a crash during the script leads to
 * anyway (§12.3), at the cost of one quick built-in step after a crash instead of two fsync'd writes per stage and
 * deploy. Only right after that step's success in this pass, for the same env and deploy: anything else saves
 * first. */
static int stage_after_builtin(int stage)
{
	return stage == DEPLOY_STAGE_DOWNLOADING ? DEPLOY_STAGE_POST_DOWNLOAD
	       : stage == DEPLOY_STAGE_STAGING   ? DEPLOY_STAGE_PRE_RESTART
						 : -1;
}

static void builtin_succeeded(struct agent *a, const struct deploy_goal *g)
{
	int next = stage_after_builtin(g->deploy_stage);

	a->rerun_valid = next >= 0 && g->deploy_id && g->env_name &&
			 str_printf(a->rerun_env, sizeof(a->rerun_env), "%s", g->env_name) == 0 &&
			 str_printf(a->rerun_deploy, sizeof(a->rerun_deploy), "%s", g->deploy_id) == 0;
	a->rerun_stage = next;
}

/* Is g the stage right after the built-in step that just succeeded? Asked once per goal. */
static bool save_repeated_by_builtin(struct agent *a, const struct deploy_goal *g)
{
	bool yes = a->rerun_valid && g->deploy_stage == a->rerun_stage && g->deploy_id &&
		   streq(g->env_name, a->rerun_env) && streq(g->deploy_id, a->rerun_deploy);

	a->rerun_valid = false;
	return yes;
}

/* ---- the loop ----------------------------------------------------------------------------------- */

/* One pass (§5.2). Returns 0 when every ping succeeded, -ECANCELED on stop, or a negative errno of the
 * failed ping. *ret_long_poll is updated when the idle ping ended in NOOP: true when the server held it (§5.3
 * long-poll mode), false when it answered early (polling mode); other outcomes keep the mode. */
static int run_pass_steps(struct agent *a, bool *ret_long_poll)
{
	struct ping_response resp;
	bool held = false;
	int r;

	a->staged_this_pass = false;
	a->rerun_valid = false;
	(void)refresh_identity(a, false);
	ping_response_init(&resp);
	r = agent_ping(a, NULL, true, &resp, &held);
	if (r < 0)
		return r;
	if (!decide_has_work(&resp))
		*ret_long_poll = held;
	for (;;) {
		struct ping_response next;
		struct step_result res = { 0 };
		enum step_outcome out;
		json_t *e;
		bool dummy;

		if (!decide_has_work(&resp)) {
			if (resp.op_code != OP_CODE_NOOP && resp.op_code != OP_CODE_WAIT && !resp.goal)
				log_warn("answer %s without a goal, treating it as NOOP", op_code_str(&resp));
			break;
		}
		ping_response_init(&next);
		if (decide_is_delete(&resp)) {
			handle_delete(a, resp.goal);
			goto ping_again;
		}
		if (resp.op_code < 0)
			log_warn("unknown opCode '%s', treating it like DEPLOY", resp.op_code_raw ? resp.op_code_raw : "");
		if (!resp.goal->env_name || !env_name_is_valid(resp.goal->env_name)) {
			log_error("goal with missing or invalid envName '%.64s', ignoring",
				  resp.goal->env_name ? resp.goal->env_name : "");
			break;
		}
		if (resp.goal->deploy_stage < 0) {
			log_error("goal for env '%s' has unknown deployStage '%s', ignoring", resp.goal->env_name,
				  resp.goal->deploy_stage_raw ? resp.goal->deploy_stage_raw : "");
			break;
		}
		e = apply_goal(a, &resp);
		if (!e) {
			log_error("cannot apply the goal for env '%s': out of memory", resp.goal->env_name);
			break;
		}
		/* the stage is UNKNOWN on disk before it runs (§12.3): here, or for a script stage just before its
		 * script starts (agent_save_before_step); not after a built-in step that a crash re-runs instead */
		a->presave_pending = !save_repeated_by_builtin(a, resp.goal);
		if (!a->presave_pending)
			a->state_dirty = true;
		if (!stage_saved_by_step(resp.goal->deploy_stage) && agent_save_before_step(a, &res) < 0) {
			record_result(a, e, &res);
			free(res.message);
			goto ping_again;
		}
		out = execute_goal(a, &resp, e, &res, &next);
		a->presave_pending = false;
		if (out == STEP_ABORTED) {
			free(res.message);
			ping_response_release(&resp);
			resp = next;
			continue;
		}
		if (out == STEP_STOPPED) {
			free(res.message);
			ping_response_release(&resp);
			return -ECANCELED;
		}
		record_result(a, e, &res);
		log_info("env '%s': %s finished with %s", entry_str(e, "envName"), entry_str(e, "deployStage"),
			 entry_str(e, "status"));
		free(res.message);
		/* A step that succeeded before SERVING_BUILD is followed at once by the next stage's goal, saved before
		 * that stage runs: its result is not saved on its own (half the saves of a deploy). A crash in between
		 * re-reports this stage as UNKNOWN and it runs again (§12.3), as after a crash during the step. Any
		 * other result (a failure, SERVING_BUILD, STOPPED) is saved before it is reported. */
		if (res.status == AGENT_STATUS_SUCCEEDED && stage_before_serving(entry_str(e, "deployStage"))) {
			a->state_dirty = true;
			builtin_succeeded(a, resp.goal);
		} else
			persist(a, e);
		metrics_maybe_write(&a->metrics, a->cfg, &a->st, a->id.v[ID_HOST_ID], false);
		if (agent_stop_requested) {
			ping_response_release(&resp);
			return -ECANCELED;
		}
	ping_again:
		ping_response_release(&resp);
		ping_response_init(&resp);
		r = agent_ping(a, NULL, false, &resp, &dummy);
		if (r < 0)
			return r;
	}
	ping_response_release(&resp);
	if (a->staged_this_pass ||
	    (!a->last_retention_mono || mono_ms() - a->last_retention_mono >= RETENTION_PERIOD_MS))
		run_retention(a);
	return a->pass_ping_failed ? -EHOSTUNREACH : 0;
}

/* One pass, then what its steps left unsaved: the state (before the next idle ping or the wait for a retry)
 * and the metrics file. */
static int run_pass(struct agent *a, bool *ret_long_poll)
{
	int r = run_pass_steps(a, ret_long_poll);

	if (a->state_dirty)
		persist(a, NULL);
	if (a->metrics.dirty)
		metrics_maybe_write(&a->metrics, a->cfg, &a->st, a->id.v[ID_HOST_ID], true);
	return r;
}

int agent_run(struct agent_config *cfg, const struct identity_source *flags, bool once, bool no_jitter,
	      struct dl_helper *dl)
{
	struct agent a;
	bool long_poll_mode = true; /* the first idle ping decides (§5.3) */
	int64_t backoff_ms;
	int r, exit_code = 0;

	memset(&a, 0, sizeof(a));
	a.cfg = cfg;
	a.once = once;
	a.flag_src = flags;
	a.dl = *dl;
	dl_helper_init(dl); /* ours now */
	agent_config_identity(cfg, &a.cfg_src);
	metrics_init(&a.metrics);

	if (cfg->run_as && *cfg->run_as) {
		r = proc_user_lookup(cfg->run_as, &a.user);
		if (r < 0) {
			(void)log_error_errno(r, "cannot look up run_as user '%s'", cfg->run_as);
			return 2;
		}
		a.have_user = a.user.uid != getuid();
		if (!a.have_user)
			proc_user_release(&a.user);
	}
	if (refresh_identity(&a, true) < 0) {
		exit_code = 2;
		goto out;
	}
	if (make_dirs(cfg) < 0 || load_state(&a) < 0) {
		exit_code = 1;
		goto out;
	}
	json_object_set_new(a.st.root, "hostId", json_string(a.id.v[ID_HOST_ID]));
	json_object_set_new(a.st.root, "hostName", json_string(a.id.v[ID_HOST_NAME]));
	persist(&a, NULL);
	cleanup_crash_leftovers(&a);
	r = pinger_init(&a.pinger, cfg);
	if (r < 0) {
		(void)log_error_errno(r, "cannot initialise libcurl");
		exit_code = 1;
		goto out;
	}
	if (!cfg->tls_verify)
		log_warn("tls_verify is off: server and artifact certificates are not verified");
	log_info("slipway-agent %s starting: host_id=%s host_name=%s envs=%zu", SLIPWAY_VERSION, a.id.v[ID_HOST_ID],
		 a.id.v[ID_HOST_NAME], json_object_size(state_envs(&a.st)));

	if (once) {
		if (!no_jitter && json_object_size(state_envs(&a.st)) > 0)
			(void)agent_sleep_until(mono_ms() + rand_range_ms(0, 49000));
		if (agent_stop_requested)
			goto out;
		r = run_pass(&a, &long_poll_mode);
		exit_code = r < 0 && r != -ECANCELED ? 1 : (a.pass_ping_failed ? 1 : 0);
		goto out;
	}

	if (!no_jitter)
		(void)agent_sleep_until(mono_ms() + rand_range_ms(0, cfg->ping_interval_s * 100));
	backoff_ms = cfg->backoff_s * 1000;
	while (!agent_stop_requested) {
		int64_t wait_ms;

		a.pass_ping_failed = false;
		r = run_pass(&a, &long_poll_mode);
		if (r == -ECANCELED || agent_stop_requested)
			break;
		if (r < 0) {
			/* a random part of the backoff, so a fleet does not come back in the same second; a server that
			 * named its wait (503 Retry-After) gets that, jittered, and the long-poll mode is kept */
			struct ping_backoff pb =
				r == -EAGAIN ? ping_backoff_retry_after(a.pinger.retry_after_ms, backoff_ms,
									cfg->backoff_max_s * 1000)
					     : ping_backoff_after_failure(backoff_ms, cfg->backoff_factor,
									  cfg->backoff_max_s * 1000);
			wait_ms = rand_range_ms(pb.wait_min_ms, pb.wait_max_ms);
			log_info("ping failed, next attempt in %lld ms", (long long)wait_ms);
			backoff_ms = pb.next_base_ms;
		} else {
			backoff_ms = cfg->backoff_s * 1000;
			if (cfg->long_poll && long_poll_mode)
				wait_ms = rand_range_ms(0, 1000);
			else
				wait_ms = rand_range_ms(cfg->ping_interval_s * 900, cfg->ping_interval_s * 1100);
		}
		(void)agent_sleep_until(mono_ms() + wait_ms);
	}
	log_info("slipway-agent stopping");
out:
	if (a.st.root) {
		if (state_save(&a.st) < 0)
			log_warn("cannot persist state at exit");
		metrics_maybe_write(&a.metrics, cfg, &a.st, a.id.v[ID_HOST_ID], true);
	}
	dl_helper_stop(&a.dl);
	pinger_release(&a.pinger);
	state_release(&a.st);
	identity_source_free_strings(&a.info_src);
	host_identity_release(&a.id);
	if (a.have_user)
		proc_user_release(&a.user);
	metrics_release(&a.metrics);
	return exit_code;
}
