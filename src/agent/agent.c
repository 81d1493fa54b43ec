/* SPDX-License-Identifier: Apache-2.0 */
/* agent/agent.c: the agent's main loop. The server is authoritative: each answer names at most one env and
 * one stage; the agent runs it, reports, and asks again at once until the answer is NOOP (AGENT.md §5.2).
 * Children are started only through lib/proc; files are replaced only through lib/fs. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "buf.h"
#include "download.h"
#include "enums.h"
#include "fs.h"
#include "jsonutil.h"
#include "log.h"
#include "metrics.h"
#include "parse.h"
#include "ping.h"
#include "proc.h"
#include "retention.h"
#include "script.h"
#include "sleep.h"
#include "stage.h"
#include "state.h"
#include "tail.h"
#include "util.h"
#include "wire.h"
#include "banned.h"

extern char **environ;

volatile sig_atomic_t agent_stop_requested;

#define LOCK_FILE "agent.lock"
#define MSG_MAX 1024
#define RETENTION_PERIOD_MS (3600 * 1000)

struct agent {
	struct agent_config *cfg;
	struct state_file st;
	const struct identity_source *flag_src;
	struct identity_source cfg_src;
	struct identity_source info_src;
	bool info_present;
	struct timespec info_mtime;
	struct host_identity id;
	struct pinger pinger;
	struct proc_user user;
	bool have_user;
	struct agent_metrics metrics;
	int64_t last_ping_mono;
	int64_t last_retention_mono;
	bool staged_this_pass;
	bool pass_ping_failed;
	bool once; /* --once never long-polls */
	char running_tmp[PATH_MAX]; /* name (not path) of the .tmp-* directory of a running download */
	const char *running_tmp_env;
};

/* What started a step, to detect a changed plan (§10.5). */
struct step_origin {
	const char *env_id;
	const char *deploy_id;
	int deploy_stage;
	int op_code;
};

struct step_ctx {
	const char *env_name;
	json_t *entry;
	int stage;
	struct step_limits lim;
	const char *custom_target;
	struct step_origin origin;
};

enum step_outcome {
	STEP_DONE,    /* result filled */
	STEP_ABORTED, /* plan changed: *next holds the new answer */
	STEP_STOPPED, /* the agent is shutting down and killed the step */
};

struct step_result {
	int status;
	int error_code;
	int fail_count;
	char *message; /* malloc'd or NULL */
};

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

/* Sleep until mono deadline or a stop request. Returns false when stopped. */
static bool sleep_until(int64_t until_mono)
{
	while (!agent_stop_requested) {
		int64_t left = until_mono - mono_ms();
		if (left <= 0)
			return true;
		sleep_ms(left > 200 ? 200 : left);
	}
	return false;
}

static int64_t rand_range_ms(int64_t lo, int64_t hi)
{
	if (hi <= lo)
		return lo;
	return lo + (int64_t)random_u64((uint64_t)(hi - lo + 1));
}

static const char *stage_name(int stage)
{
	const char *s = deploy_stage_to_string(stage);
	return s ? s : "UNKNOWN";
}

static void step_result_set(struct step_result *res, int status, int code, int fail_count, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static void step_result_set(struct step_result *res, int status, int code, int fail_count, const char *fmt, ...)
{
	va_list ap;

	free(res->message);
	res->message = NULL;
	res->status = status;
	res->error_code = code;
	res->fail_count = fail_count;
	if (fmt) {
		va_start(ap, fmt);
		if (vasprintf(&res->message, fmt, ap) < 0)
			res->message = NULL;
		va_end(ap);
	}
}

/* ---- identity ----------------------------------------------------------------------------------- */

static int refresh_identity(struct agent *a, bool startup)
{
	struct stat st;
	struct identity_source info = { { 0 } };
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

/* ---- pinging ------------------------------------------------------------------------------------ */

static char *build_request(struct agent *a, const struct report_override *ov)
{
	struct ping_request req;
	struct ping_report *reps = NULL;
	size_t n = 0;
	json_t *j = NULL;
	char *body = NULL, agent_version[64];

	if (state_reports(&a->st, ov, &reps, &n) < 0)
		return NULL;
	snprintf(agent_version, sizeof(agent_version), "slipway-agent/%s", SLIPWAY_VERSION);
	memset(&req, 0, sizeof(req));
	/* borrowed pointers: only the reports are ours to free below */
	req.host_id = a->id.v[ID_HOST_ID];
	req.host_name = a->id.v[ID_HOST_NAME];
	req.host_ip = a->id.v[ID_HOST_IP];
	req.autoscaling_group = a->id.v[ID_ASG];
	req.availability_zone = a->id.v[ID_AZ];
	req.account_id = a->id.v[ID_ACCOUNT_ID];
	req.agent_version = agent_version;
	req.groups = a->id.groups;
	req.n_groups = a->id.n_groups;
	req.reports = reps;
	req.n_reports = n;
	if (ping_request_to_json(&req, &j) == 0) {
		/* stageType is a hint the upstream agent sent; PingRequest has no member for it */
		if (a->id.v[ID_STAGE_TYPE])
			json_object_set_new(j, "stageType", json_string(a->id.v[ID_STAGE_TYPE]));
		body = json_dump_compact(j);
	}
	json_decref(j);
	for (size_t i = 0; i < n; i++)
		ping_report_release(&reps[i]);
	free(reps);
	return body;
}

/* One ping. idle: may be held by the server (wait) and may be abandoned by a stop request. */
static int do_ping(struct agent *a, const struct report_override *ov, bool idle, struct ping_response *ret,
		   bool *ret_held)
{
	int wait_s = idle && a->cfg->long_poll && !a->once ? (int)a->cfg->long_poll_wait_s : 0;
	int64_t start = mono_ms();
	char *body;
	int r;

	body = build_request(a, ov);
	if (!body)
		return log_error_errno(-ENOMEM, "cannot build the ping request");
	a->metrics.pings_total++;
	r = pinger_ping(&a->pinger, body, wait_s, idle ? &agent_stop_requested : NULL, ret);
	free(body);
	a->last_ping_mono = mono_ms();
	if (r == -ECANCELED)
		return r;
	if (r < 0) {
		a->metrics.ping_failures_total++;
		a->pass_ping_failed = true;
		metrics_maybe_write(&a->metrics, a->cfg, &a->st, a->id.v[ID_HOST_ID], false);
		return r;
	}
	a->metrics.last_ok_ping_ms = now_ms();
	if (ret_held)
		*ret_held = wait_s > 0 && mono_ms() - start >= (wait_s - 2) * 1000LL;
	metrics_maybe_write(&a->metrics, a->cfg, &a->st, a->id.v[ID_HOST_ID], false);
	return 0;
}

static bool response_has_work(const struct ping_response *resp)
{
	if (!resp->goal)
		return false;
	if (resp->op_code == OP_CODE_NOOP || resp->op_code == OP_CODE_WAIT)
		return false;
	return true;
}

static bool op_is_delete(const struct ping_response *resp)
{
	if (resp->op_code == OP_CODE_DELETE)
		return true;
	return resp->op_code < 0 && resp->op_code_raw && strcasecmp(resp->op_code_raw, "TERMINATE") == 0;
}

/* §10.5: a changed plan aborts the running step. A NOOP (or a failed ping) never does. */
static bool plan_changed(const struct step_origin *o, const struct ping_response *resp)
{
	const struct deploy_goal *g = resp->goal;

	if (op_is_delete(resp))
		return true;
	if (resp->op_code == OP_CODE_STOP && o->op_code != OP_CODE_STOP)
		return true;
	if (!response_has_work(resp))
		return false;
	return !streq_ptr(g->env_id, o->env_id) || !streq_ptr(g->deploy_id, o->deploy_id) ||
	       g->deploy_stage != o->deploy_stage;
}

/* A heartbeat while a step runs or waits to retry. Returns 1 (with *ret_next filled) when the plan
 * changed, 0 otherwise. */
static int heartbeat(struct agent *a, const struct step_ctx *ctx, const struct report_override *ov,
		     struct ping_response *ret_next)
{
	struct ping_response resp;
	int r;

	ping_response_init(&resp);
	r = do_ping(a, ov, false, &resp, NULL);
	if (r < 0)
		return 0; /* a failed heartbeat changes nothing */
	if (plan_changed(&ctx->origin, &resp)) {
		log_notice("plan changed during %s of env '%s', aborting the step", stage_name(ctx->stage), ctx->env_name);
		*ret_next = resp;
		return 1;
	}
	ping_response_release(&resp);
	return 0;
}

/* ---- supervision of one child (script attempt or download helper) ------------------------------- */

enum sup_outcome {
	SUP_EXITED,
	SUP_TIMEOUT,
	SUP_ABORTED,
	SUP_STOPPED,
};

static enum sup_outcome supervise(struct agent *a, struct proc *p, const struct step_ctx *ctx,
				  const struct report_override *ov, struct proc_result *res,
				  struct ping_response *ret_next)
{
	int64_t term_ms = ctx->lim.termination_timeout_s * 1000;
	int64_t deadline = mono_ms() + ctx->lim.process_timeout_s * 1000;
	int r;

	for (;;) {
		int64_t now = mono_ms(), next_hb, until;

		if (agent_stop_requested) {
			log_notice("stop requested: waiting up to %llds for %s of env '%s'",
				   (long long)ctx->lim.termination_timeout_s, stage_name(ctx->stage), ctx->env_name);
			until = now + term_ms;
			do
				r = proc_wait(p, until, res);
			while (r == -EINTR);
			if (r == 1)
				return SUP_EXITED;
			(void)proc_terminate(p, term_ms, res);
			return SUP_STOPPED;
		}
		if (now >= deadline) {
			(void)proc_terminate(p, term_ms, res);
			return SUP_TIMEOUT;
		}
		next_hb = a->last_ping_mono + ctx->lim.heartbeat_interval_s * 1000;
		if (now >= next_hb) {
			if (heartbeat(a, ctx, ov, ret_next) > 0) {
				(void)proc_terminate(p, term_ms, res);
				return SUP_ABORTED;
			}
			continue;
		}
		until = deadline < next_hb ? deadline : next_hb;
		if (until > now + 500)
			until = now + 500;
		r = proc_wait(p, until, res);
		if (r == 1)
			return SUP_EXITED;
		if (r < 0 && r != -EINTR) {
			(void)log_error_errno(r, "cannot wait for the child of %s", stage_name(ctx->stage));
			sleep_ms(100);
		}
	}
}

/* Wait before a retry, sending SCRIPT_FAILED heartbeats. Returns SUP_EXITED when the wait is over. */
static enum sup_outcome retry_wait(struct agent *a, const struct step_ctx *ctx, const struct report_override *ov,
				   int64_t wait_ms, struct ping_response *ret_next)
{
	int64_t end = mono_ms() + wait_ms;

	for (;;) {
		int64_t now = mono_ms(), next_hb = a->last_ping_mono + ctx->lim.heartbeat_interval_s * 1000, until;

		if (agent_stop_requested)
			return SUP_STOPPED;
		if (now >= end)
			return SUP_EXITED;
		if (now >= next_hb) {
			if (heartbeat(a, ctx, ov, ret_next) > 0)
				return SUP_ABORTED;
			continue;
		}
		until = end < next_hb ? end : next_hb;
		sleep_ms(until - now > 200 ? 200 : until - now);
	}
}

static int64_t retry_backoff_ms(const struct step_limits *l, int fail_count)
{
	int64_t b = l->backoff_s;

	for (int i = 1; i < fail_count && b < l->backoff_max_s; i++)
		b *= l->backoff_factor;
	if (b > l->backoff_max_s)
		b = l->backoff_max_s;
	return b * 1000;
}

/* ---- env log ------------------------------------------------------------------------------------ */

static int open_env_log(struct agent *a, const char *env, char *path, size_t size)
{
	struct stat st;
	int fd, r;

	r = str_printf(path, size, "%s/%s.log", a->cfg->log_dir, env);
	if (r < 0)
		return r;
	if (stat(path, &st) == 0 && (uint64_t)st.st_size > a->cfg->log_max_bytes) {
		char old[PATH_MAX];
		if (str_printf(old, sizeof(old), "%s.1", path) == 0 && rename(path, old) < 0)
			(void)log_warn_errno(-errno, "cannot rotate env log '%s'", path);
	}
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd < 0)
		return -errno;
	(void)fchmod(fd, 0640); /* never world-readable, whatever umask or an older file says */
	return fd;
}

static void write_all(int fd, const char *s)
{
	size_t len = strlen(s);

	while (len) {
		ssize_t k = write(fd, s, len);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return;
		s += k;
		len -= (size_t)k;
	}
}

static off_t log_header(int fd, const struct step_ctx *ctx, int attempt)
{
	char line[512], ts[40];

	fmt_rfc3339(now_ms(), ts, sizeof(ts));
	snprintf(line, sizeof(line), "=== %s %s %s attempt %d/%lld deploy %s ===\n", ts, ctx->env_name,
		 stage_name(ctx->stage), attempt, (long long)ctx->lim.max_retry,
		 ctx->origin.deploy_id ? ctx->origin.deploy_id : "-");
	write_all(fd, line);
	return lseek(fd, 0, SEEK_END);
}

/* ---- TARGET ------------------------------------------------------------------------------------- */

static struct target_policy target_policy(const struct agent *a)
{
	return (struct target_policy){ .target_dir = a->cfg->target_dir,
				       .allowed_target_roots = a->cfg->allowed_target_roots,
				       .state_dir = a->cfg->state_dir,
				       .builds_dir = a->cfg->builds_dir };
}

static int resolve_target(struct agent *a, const struct step_ctx *ctx, char *target, size_t size, char *err,
			  size_t errsz)
{
	struct target_policy tp = target_policy(a);
	int r = stage_resolve_target(&tp, ctx->env_name, ctx->custom_target, target, size, err, errsz);
	if (r < 0) {
		log_error("env '%s': %s", ctx->env_name, err);
		return r;
	}
	if (!streq_ptr(entry_str(ctx->entry, "target"), target))
		entry_set_str(ctx->entry, "target", target);
	return 0;
}

/* ---- script stages (§10) ------------------------------------------------------------------------ */

static bool stage_needs_new_build(int stage)
{
	return stage == DEPLOY_STAGE_PRE_RESTART || stage == DEPLOY_STAGE_RESTARTING ||
	       stage == DEPLOY_STAGE_POST_RESTART || stage == DEPLOY_STAGE_SERVING_BUILD;
}

static enum step_outcome run_script_stage(struct agent *a, const struct step_ctx *ctx, struct step_result *res,
					  struct ping_response *ret_next)
{
	char target[PATH_MAX], err[512] = "", script[PATH_MAX], dir[PATH_MAX], log_path[PATH_MAX],
		builds_env[PATH_MAX];
	const char *argv[2];
	char **envp = NULL;
	struct build build;
	bool have_build = false;
	const char *sname = stage_name(ctx->stage);
	enum step_outcome outcome = STEP_DONE;
	int fail_count = 0, log_fd = -1, r;

	memset(&build, 0, sizeof(build));
	r = resolve_target(a, ctx, target, sizeof(target), err, sizeof(err));
	if (r < 0) {
		step_result_set(res, AGENT_STATUS_AGENT_FAILED, 1, 1, "%s", err);
		return STEP_DONE;
	}
	r = script_find(target, ctx->env_name, sname, script, sizeof(script), dir, sizeof(dir));
	if (r < 0) {
		step_result_set(res, AGENT_STATUS_AGENT_FAILED, 1, 1, "cannot use %s script: %s", sname,
				r == -EPERM ? "it lies outside the build tree or is not a regular file" : strerror(-r));
		return STEP_DONE;
	}
	if (r == SCRIPT_NO_DIR) {
		if (stage_needs_new_build(ctx->stage))
			step_result_set(res, AGENT_STATUS_AGENT_FAILED, 1, 1,
					"teletraan directory cannot be found in the build for step %s", sname);
		else
			step_result_set(res, AGENT_STATUS_SUCCEEDED, 0, 0, NULL);
		return STEP_DONE;
	}
	if (r == SCRIPT_NO_SCRIPT) {
		if (ctx->stage == DEPLOY_STAGE_RESTARTING)
			step_result_set(res, AGENT_STATUS_AGENT_FAILED, 1, 1, "RESTARTING script does not exist");
		else
			step_result_set(res, AGENT_STATUS_SUCCEEDED, 0, 0, NULL);
		return STEP_DONE;
	}

	if (json_is_object(json_object_get(ctx->entry, "build")) &&
	    build_from_json(json_object_get(ctx->entry, "build"), &build) == 0)
		have_build = true;
	(void)str_printf(builds_env, sizeof(builds_env), "%s/%s", a->cfg->builds_dir, ctx->env_name);
	{
		struct script_env_params p = {
			.deploy_id = entry_str(ctx->entry, "deployId"),
			.stage = sname,
			.op_code = entry_str(ctx->entry, "opCode"),
			.env_name = ctx->env_name,
			.stage_name = entry_str(ctx->entry, "stageName"),
			.stage_type = entry_str(ctx->entry, "stageType"),
			.first_deploy = entry_bool(ctx->entry, "firstDeploy"),
			.is_docker = entry_bool(ctx->entry, "isDocker"),
			.target = target,
			.script_variables = json_object_get(ctx->entry, "scriptVariables"),
			.build = have_build ? &build : NULL,
			.builds_dir_env = builds_env,
			.user_name = a->have_user ? a->user.name : NULL,
			.user_home = a->have_user ? a->user.home : NULL,
			.user_shell = a->have_user ? a->user.shell : NULL,
		};
		r = script_env_build((const char *const *)environ, &p, &envp);
	}
	if (r < 0) {
		step_result_set(res, AGENT_STATUS_AGENT_FAILED, 1, 1, "cannot prepare the environment of %s", sname);
		goto out;
	}
	argv[0] = script;
	argv[1] = NULL;

	for (int attempt = 1;; attempt++) {
		struct proc_spec spec = {
			.path = script, .argv = argv, .envp = (const char *const *)envp, .cwd = dir,
			.stdin_fd = -1, .extra_fd = -1, .drop_privs = a->have_user,
			.uid = a->user.uid, .gid = a->user.gid, .groups = a->user.groups, .n_groups = a->user.n_groups,
		};
		struct report_override ov = { .env_name = ctx->env_name, .agent_status = AGENT_STATUS_UNKNOWN,
					      .fail_count = fail_count };
		struct proc p;
		struct proc_result pres;
		enum sup_outcome so;
		int64_t started = mono_ms();
		off_t start_off;
		char *tail = NULL;
		int code;

		log_fd = open_env_log(a, ctx->env_name, log_path, sizeof(log_path));
		if (log_fd < 0) {
			step_result_set(res, AGENT_STATUS_AGENT_FAILED, 1, fail_count + 1, "cannot open env log: %s",
					strerror(-log_fd));
			goto out;
		}
		start_off = log_header(log_fd, ctx, attempt);
		spec.log_fd = log_fd;
		log_info("running %s of env '%s' attempt %d/%lld: %s", sname, ctx->env_name, attempt,
			 (long long)ctx->lim.max_retry, script);
		r = proc_spawn(&spec, &p);
		if (r < 0) {
			step_result_set(res, AGENT_STATUS_AGENT_FAILED, 1, fail_count + 1, "cannot start %s script: %s",
					sname, strerror(-r));
			goto out;
		}
		so = supervise(a, &p, ctx, &ov, &pres, ret_next);
		proc_release(&p);
		close(log_fd);
		log_fd = -1;
		metrics_step_duration(&a->metrics, ctx->env_name, sname, mono_ms() - started);
		if (so == SUP_ABORTED) {
			outcome = STEP_ABORTED;
			goto out;
		}
		if (so == SUP_STOPPED) {
			outcome = STEP_STOPPED;
			goto out;
		}
		(void)tail_read_file(log_path, start_off, (size_t)ctx->lim.max_tail_bytes, &tail);
		if (so == SUP_TIMEOUT) {
			char *msg = NULL;
			if (asprintf(&msg, "%s%stimed out after %lld s", tail ? tail : "",
				     tail && *tail && tail[strlen(tail) - 1] != '\n' ? "\n" : "",
				     (long long)ctx->lim.process_timeout_s) < 0)
				msg = NULL;
			step_result_set(res, AGENT_STATUS_SCRIPT_TIMEOUT, 1, fail_count + 1, NULL);
			res->message = msg;
			free(tail);
			log_warn("%s of env '%s' timed out after %llds", sname, ctx->env_name,
				 (long long)ctx->lim.process_timeout_s);
			goto out;
		}
		if (pres.status == PROC_EXITED && pres.code == 0) {
			step_result_set(res, AGENT_STATUS_SUCCEEDED, 0, fail_count, NULL);
			free(tail);
			goto out;
		}
		if (pres.status == PROC_EXEC_FAILED) {
			code = pres.code;
			log_warn("cannot execute %s script '%s': %s", sname, script, strerror(pres.exec_errno));
		} else if (pres.status == PROC_SIGNALED)
			code = -pres.code;
		else
			code = pres.code;
		fail_count++;
		log_warn("%s of env '%s' failed with code %d (attempt %d/%lld)", sname, ctx->env_name, code, attempt,
			 (long long)ctx->lim.max_retry);
		if (fail_count >= ctx->lim.max_retry) {
			step_result_set(res, AGENT_STATUS_TOO_MANY_RETRY, code, (int)ctx->lim.max_retry, NULL);
			res->message = tail;
			goto out;
		}
		ov.agent_status = AGENT_STATUS_SCRIPT_FAILED;
		ov.error_code = code;
		ov.fail_count = fail_count;
		ov.error_message = tail;
		so = retry_wait(a, ctx, &ov, retry_backoff_ms(&ctx->lim, fail_count), ret_next);
		free(tail);
		if (so == SUP_ABORTED) {
			outcome = STEP_ABORTED;
			goto out;
		}
		if (so == SUP_STOPPED) {
			outcome = STEP_STOPPED;
			goto out;
		}
	}
out:
	if (log_fd >= 0)
		close(log_fd);
	script_env_free(envp);
	build_release(&build);
	return outcome;
}

/* ---- DOWNLOADING (§8) --------------------------------------------------------------------------- */

static int read_all_fd(int fd, struct buf *b)
{
	char tmp[4096];

	for (;;) {
		ssize_t k = read(fd, tmp, sizeof(tmp));
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			return 0;
		if (buf_append(b, tmp, (size_t)k) < 0)
			return -EMSGSIZE;
	}
}

static enum step_outcome run_download(struct agent *a, const struct step_ctx *ctx, struct step_result *res,
				      struct ping_response *ret_next)
{
	struct build build;
	struct build_verify v;
	struct download_job job;
	char env_dir[PATH_MAX], tmpl[PATH_MAX], log_path[PATH_MAX];
	const char *signing_key = entry_str(ctx->entry, "signingKey");
	enum step_outcome outcome = STEP_DONE;
	char *job_json = NULL;
	int fail_count = 0, r;

	memset(&build, 0, sizeof(build));
	if (!json_is_object(json_object_get(ctx->entry, "build")) ||
	    build_from_json(json_object_get(ctx->entry, "build"), &build) < 0 || !build.id || !build.artifact_url ||
	    !*build.id || !*build.artifact_url) {
		step_result_set(res, AGENT_STATUS_AGENT_FAILED, 1, 1, "goal has no build");
		goto out;
	}
	if (!build_id_is_valid(build.id)) {
		step_result_set(res, AGENT_STATUS_AGENT_FAILED, 1, 1, "invalid build id '%.64s'", build.id);
		goto out;
	}
	(void)str_printf(env_dir, sizeof(env_dir), "%s/%s", a->cfg->builds_dir, ctx->env_name);
	r = fs_mkdir_p(env_dir, 0755);
	if (r < 0) {
		step_result_set(res, AGENT_STATUS_AGENT_FAILED, 1, 1, "cannot create '%s': %s", env_dir, strerror(-r));
		goto out;
	}
	v = (struct build_verify){ .expected_sha256 = build.artifact_sha256, .signing_key = signing_key,
				   .trusted_signing_keys = a->cfg->trusted_signing_keys };
	r = build_check_reuse(env_dir, build.id, &v);
	if (r == -EPERM) {
		step_result_set(res, AGENT_STATUS_AGENT_FAILED, 1, 1, "server signing key not trusted on this host");
		goto out;
	}
	if (r == 1) {
		log_info("build '%s' of env '%s' is already downloaded, reusing it", build.id, ctx->env_name);
		step_result_set(res, AGENT_STATUS_SUCCEEDED, 0, 0, NULL);
		goto out;
	}
	if (!a->cfg->tls_verify)
		log_warn("tls_verify is off: the artifact's TLS certificate is not verified");

	download_job_init(&job);
	job.url = build.artifact_url;
	job.expected_sha256 = build.artifact_sha256;
	job.signature = build.artifact_signature;
	job.signing_key = signing_key;
	job.trusted_signing_keys = a->cfg->trusted_signing_keys;
	job.allow_http = a->cfg->allow_http;
	job.download_allow_hosts = a->cfg->download_allow_hosts;
	job.download_allow_s3_buckets = a->cfg->download_allow_s3_buckets;
	job.download_allow_file_dirs = a->cfg->download_allow_file_dirs;
	job.max_artifact_bytes = a->cfg->max_artifact_bytes;
	job.max_extracted_bytes = a->cfg->max_extracted_bytes;
	job.max_archive_entries = (uint64_t)a->cfg->max_archive_entries;
	job.http_timeout_s = a->cfg->http_timeout_s;
	job.tls_verify = a->cfg->tls_verify;
	job.ca_file = a->cfg->ca_file;
	job.s3_access_key_id = a->cfg->s3_access_key_id;
	job.s3_secret_access_key = a->cfg->s3_secret_access_key;
	job.s3_session_token = a->cfg->s3_session_token;
	job.s3_region = a->cfg->s3_region;
	job.s3_endpoint = a->cfg->s3_endpoint;
	job.s3_path_style = a->cfg->s3_path_style;
	job_json = download_job_to_json(&job);
	if (!job_json) {
		step_result_set(res, AGENT_STATUS_AGENT_FAILED, 1, 1, "out of memory");
		goto out;
	}

	for (int attempt = 1;; attempt++) {
		const char *argv[] = { "slipway-agent", "--internal-download", NULL };
		struct report_override ov = { .env_name = ctx->env_name, .agent_status = AGENT_STATUS_UNKNOWN,
					      .fail_count = fail_count };
		struct proc p;
		struct proc_result pres;
		struct download_result dres;
		struct buf out;
		enum sup_outcome so;
		int in_pipe[2] = { -1, -1 }, res_pipe[2] = { -1, -1 }, log_fd = -1, code;
		int64_t started = mono_ms();
		char *tmp_dir;
		bool transient = true;

		r = str_printf(tmpl, sizeof(tmpl), "%s/.tmp-%s-XXXXXX", env_dir, build.id);
		tmp_dir = r < 0 ? NULL : mkdtemp(tmpl);
		if (!tmp_dir) {
			step_result_set(res, AGENT_STATUS_AGENT_FAILED, 1, fail_count + 1,
					"cannot create a temp directory in '%s': %s", env_dir, strerror(errno));
			goto out;
		}
		/* mkdtemp's 0700 stays: the artifact and the tree are private until build_install() */
		(void)str_copy(a->running_tmp, sizeof(a->running_tmp), strrchr(tmp_dir, '/') + 1);
		a->running_tmp_env = ctx->env_name;
		log_fd = open_env_log(a, ctx->env_name, log_path, sizeof(log_path));
		if (log_fd < 0 || pipe2(in_pipe, O_CLOEXEC) < 0 || pipe2(res_pipe, O_CLOEXEC) < 0) {
			step_result_set(res, AGENT_STATUS_AGENT_FAILED, 1, fail_count + 1,
					"cannot prepare the download helper: %s", strerror(errno));
			if (log_fd >= 0)
				close(log_fd);
			for (int i = 0; i < 2; i++) {
				if (in_pipe[i] >= 0)
					close(in_pipe[i]);
				if (res_pipe[i] >= 0)
					close(res_pipe[i]);
			}
			(void)download_remove_tree(tmp_dir);
			a->running_tmp[0] = '\0';
			goto out;
		}
		(void)log_header(log_fd, ctx, attempt);
		{
			struct proc_spec spec = { .path = "/proc/self/exe", .argv = argv, .envp = (const char *const *)environ,
						  .cwd = tmp_dir, .log_fd = log_fd, .stdin_fd = in_pipe[0],
						  .extra_fd = res_pipe[1] };
			log_info("downloading build '%s' of env '%s' attempt %d/%lld", build.id, ctx->env_name, attempt,
				 (long long)ctx->lim.max_retry);
			r = proc_spawn(&spec, &p);
		}
		close(in_pipe[0]);
		close(res_pipe[1]);
		close(log_fd);
		if (r < 0) {
			close(in_pipe[1]);
			close(res_pipe[0]);
			(void)download_remove_tree(tmp_dir);
			a->running_tmp[0] = '\0';
			step_result_set(res, AGENT_STATUS_AGENT_FAILED, 1, fail_count + 1,
					"cannot start the download helper: %s", strerror(-r));
			goto out;
		}
		/* the job is small (< pipe buffer); the helper reads it before doing anything else */
		write_all(in_pipe[1], job_json);
		close(in_pipe[1]);
		so = supervise(a, &p, ctx, &ov, &pres, ret_next);
		proc_release(&p);
		metrics_step_duration(&a->metrics, ctx->env_name, "DOWNLOADING", mono_ms() - started);
		buf_init(&out, 64 * 1024);
		(void)fcntl(res_pipe[0], F_SETFL, O_NONBLOCK);
		(void)read_all_fd(res_pipe[0], &out);
		close(res_pipe[0]);
		memset(&dres, 0, sizeof(dres));
		r = out.len ? download_result_parse(out.p, out.len, &dres) : -EBADMSG;
		buf_release(&out);

		if (so == SUP_EXITED && pres.status == PROC_EXITED && pres.code == DOWNLOAD_EXIT_OK && r == 0 && dres.ok) {
			struct build_install_params ip = { .env_dir = env_dir, .build_id = build.id, .tmp_dir = tmp_dir,
							   .artifact_url = build.artifact_url, .sha256 = dres.sha256,
							   .signature_key = dres.signature_key };
			char err[512] = "";
			r = build_install(&ip, err, sizeof(err));
			(void)download_remove_tree(tmp_dir);
			a->running_tmp[0] = '\0';
			if (r < 0) {
				step_result_set(res, AGENT_STATUS_AGENT_FAILED, 1, fail_count + 1, "%s",
						err[0] ? err : "cannot install the build");
				goto out;
			}
			a->metrics.download_bytes_total += dres.bytes;
			log_info("build '%s' of env '%s' downloaded (%llu bytes)", build.id, ctx->env_name,
				 (unsigned long long)dres.bytes);
			step_result_set(res, AGENT_STATUS_SUCCEEDED, 0, fail_count, NULL);
			goto out;
		}
		(void)download_remove_tree(tmp_dir);
		a->running_tmp[0] = '\0';
		if (so == SUP_ABORTED) {
			outcome = STEP_ABORTED;
			goto out;
		}
		if (so == SUP_STOPPED) {
			outcome = STEP_STOPPED;
			goto out;
		}
		if (so == SUP_TIMEOUT) {
			step_result_set(res, AGENT_STATUS_SCRIPT_TIMEOUT, 1, fail_count + 1, "download timed out after %lld s",
					(long long)ctx->lim.process_timeout_s);
			goto out;
		}
		if (pres.status == PROC_EXITED && pres.code == DOWNLOAD_EXIT_FATAL)
			transient = false;
		if (pres.status == PROC_EXEC_FAILED) {
			step_result_set(res, AGENT_STATUS_AGENT_FAILED, 1, fail_count + 1,
					"cannot execute the download helper: %s", strerror(pres.exec_errno));
			goto out;
		}
		if (!transient) {
			step_result_set(res, AGENT_STATUS_AGENT_FAILED, 1, 1, "%s",
					r == 0 && dres.message[0] ? dres.message : "download helper failed");
			log_error("download of build '%s' for env '%s' failed: %s", build.id, ctx->env_name, res->message);
			goto out;
		}
		code = pres.status == PROC_SIGNALED ? -pres.code : (pres.code ? pres.code : 1);
		fail_count++;
		log_warn("download of build '%s' for env '%s' failed (attempt %d/%lld): %s", build.id, ctx->env_name,
			 attempt, (long long)ctx->lim.max_retry, r == 0 && dres.message[0] ? dres.message : "helper failed");
		if (fail_count >= ctx->lim.max_retry) {
			step_result_set(res, AGENT_STATUS_TOO_MANY_RETRY, code, (int)ctx->lim.max_retry, "%s",
					r == 0 && dres.message[0] ? dres.message : "download failed");
			goto out;
		}
		ov.agent_status = AGENT_STATUS_SCRIPT_FAILED;
		ov.error_code = code;
		ov.fail_count = fail_count;
		ov.error_message = r == 0 && dres.message[0] ? dres.message : "download failed";
		so = retry_wait(a, ctx, &ov, retry_backoff_ms(&ctx->lim, fail_count), ret_next);
		if (so == SUP_ABORTED) {
			outcome = STEP_ABORTED;
			goto out;
		}
		if (so == SUP_STOPPED) {
			outcome = STEP_STOPPED;
			goto out;
		}
	}
out:
	a->running_tmp[0] = '\0';
	free(job_json);
	build_release(&build);
	return outcome;
}

/* ---- STAGING (§9) ------------------------------------------------------------------------------- */

static void run_staging(struct agent *a, const struct step_ctx *ctx, struct step_result *res)
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
	struct target_policy tp = target_policy(a);
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
	struct target_policy tp = target_policy(a);
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

/* ---- the loop ----------------------------------------------------------------------------------- */

/* One pass (§5.2). Returns 0 when every ping succeeded, -ECANCELED on stop, or a negative errno of the
 * failed ping. *ret_long_poll is updated when the idle ping ended in NOOP: true when the server held it (§5.3
 * long-poll mode), false when it answered early (polling mode); other outcomes keep the mode. */
static int run_pass(struct agent *a, bool *ret_long_poll)
{
	struct ping_response resp;
	bool held = false;
	int r;

	a->staged_this_pass = false;
	(void)refresh_identity(a, false);
	ping_response_init(&resp);
	r = do_ping(a, NULL, true, &resp, &held);
	if (r < 0)
		return r;
	if (!resp.goal || resp.op_code == OP_CODE_NOOP || resp.op_code == OP_CODE_WAIT)
		*ret_long_poll = held;
	for (;;) {
		struct ping_response next;
		struct step_result res = { 0 };
		enum step_outcome out;
		json_t *e;
		bool dummy;

		if (!resp.goal || resp.op_code == OP_CODE_NOOP || resp.op_code == OP_CODE_WAIT) {
			if (resp.op_code != OP_CODE_NOOP && resp.op_code != OP_CODE_WAIT && !resp.goal)
				log_warn("answer %s without a goal, treating it as NOOP", op_code_str(&resp));
			break;
		}
		ping_response_init(&next);
		if (op_is_delete(&resp)) {
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
		{
			/* the stage is UNKNOWN on disk before it runs (§12.3) */
			int pr = state_save(&a->st);
			if (pr < 0) {
				step_result_set(&res, AGENT_STATUS_AGENT_FAILED, 1, 1, "cannot persist state: %s",
						strerror(-pr));
				(void)log_error_errno(pr, "cannot persist state");
				record_result(a, e, &res);
				free(res.message);
				goto ping_again;
			}
		}
		out = execute_goal(a, &resp, e, &res, &next);
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
		persist(a, e);
		metrics_maybe_write(&a->metrics, a->cfg, &a->st, a->id.v[ID_HOST_ID], true);
		if (agent_stop_requested) {
			ping_response_release(&resp);
			return -ECANCELED;
		}
	ping_again:
		ping_response_release(&resp);
		ping_response_init(&resp);
		r = do_ping(a, NULL, false, &resp, &dummy);
		if (r < 0)
			return r;
	}
	ping_response_release(&resp);
	if (a->staged_this_pass ||
	    (!a->last_retention_mono || mono_ms() - a->last_retention_mono >= RETENTION_PERIOD_MS))
		run_retention(a);
	return a->pass_ping_failed ? -EHOSTUNREACH : 0;
}

int agent_run(struct agent_config *cfg, const struct identity_source *flags, bool once, bool no_jitter)
{
	struct agent a;
	bool long_poll_mode = true; /* the first idle ping decides (§5.3) */
	int64_t backoff_ms;
	int r, exit_code = 0;

	memset(&a, 0, sizeof(a));
	a.cfg = cfg;
	a.once = once;
	a.flag_src = flags;
	a.cfg_src.v[ID_HOST_ID] = cfg->host_id;
	a.cfg_src.v[ID_HOST_NAME] = cfg->host_name;
	a.cfg_src.v[ID_HOST_IP] = cfg->host_ip;
	a.cfg_src.v[ID_GROUPS] = cfg->groups;
	a.cfg_src.v[ID_AZ] = cfg->availability_zone;
	a.cfg_src.v[ID_ASG] = cfg->autoscaling_group;
	a.cfg_src.v[ID_STAGE_TYPE] = cfg->stage_type;
	a.cfg_src.v[ID_ACCOUNT_ID] = cfg->account_id;
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
			(void)sleep_until(mono_ms() + rand_range_ms(0, 49000));
		if (agent_stop_requested)
			goto out;
		r = run_pass(&a, &long_poll_mode);
		exit_code = r < 0 && r != -ECANCELED ? 1 : (a.pass_ping_failed ? 1 : 0);
		goto out;
	}

	if (!no_jitter)
		(void)sleep_until(mono_ms() + rand_range_ms(0, cfg->ping_interval_s * 100));
	backoff_ms = cfg->backoff_s * 1000;
	while (!agent_stop_requested) {
		int64_t wait_ms;

		a.pass_ping_failed = false;
		r = run_pass(&a, &long_poll_mode);
		if (r == -ECANCELED || agent_stop_requested)
			break;
		if (r < 0) {
			/* uniform between half and all of b, so a fleet does not come back in the same second */
			int64_t b = backoff_ms > 0 ? backoff_ms : 1000;
			wait_ms = rand_range_ms(b / 2, b);
			log_info("ping failed, next attempt in %lld ms", (long long)wait_ms);
			backoff_ms = b * cfg->backoff_factor;
			if (backoff_ms > cfg->backoff_max_s * 1000)
				backoff_ms = cfg->backoff_max_s * 1000;
		} else {
			backoff_ms = cfg->backoff_s * 1000;
			if (cfg->long_poll && long_poll_mode)
				wait_ms = rand_range_ms(0, 1000);
			else
				wait_ms = rand_range_ms(cfg->ping_interval_s * 900, cfg->ping_interval_s * 1100);
		}
		(void)sleep_until(mono_ms() + wait_ms);
	}
	log_info("slipway-agent stopping");
out:
	if (a.st.root) {
		if (state_save(&a.st) < 0)
			log_warn("cannot persist state at exit");
		metrics_maybe_write(&a.metrics, cfg, &a.st, a.id.v[ID_HOST_ID], true);
	}
	pinger_release(&a.pinger);
	state_release(&a.st);
	identity_source_free_strings(&a.info_src);
	host_identity_release(&a.id);
	if (a.have_user)
		proc_user_release(&a.user);
	metrics_release(&a.metrics);
	return exit_code;
}
