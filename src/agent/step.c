/* SPDX-License-Identifier: Apache-2.0 */
/* agent/step.c: what every step shares (AGENT.md §10): pings and heartbeats while a child runs, its
 * supervision (timeout, abort on a changed plan, stop), the retry tail, the env log and TARGET. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "daemon.h"
#include "enums.h"
#include "jsonutil.h"
#include "log.h"
#include "sleep.h"
#include "util.h"
#include "banned.h"

/* ---- small helpers ------------------------------------------------------------------------------ */

bool agent_sleep_until(int64_t until_mono)
{
	while (!agent_stop_requested) {
		int64_t left = until_mono - mono_ms();
		if (left <= 0)
			return true;
		(void)sleep_ms(left > 200 ? 200 : left); /* EINTR: re-check agent_stop_requested */
	}
	return false;
}

const char *stage_name(int stage)
{
	const char *s = deploy_stage_to_string(stage);
	return s ? s : "UNKNOWN";
}

void step_result_set(struct step_result *res, int status, int code, int fail_count, const char *fmt, ...)
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

/* ---- pinging ------------------------------------------------------------------------------------ */

static char *build_request(struct agent *a, const struct report_override *ov)
{
	struct ping_request req;
	struct ping_report *reps = NULL;
	size_t n = 0;
	json_t *j = NULL;
	char *body = NULL, agent_version[64];
	struct ping_tag tags[PING_MAX_TAGS];
	const char *key;
	json_t *value;

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
	/* the host's tags (ec2Tags), validated when the identity was resolved; borrowed as well */
	json_object_foreach(a->id.tags, key, value) {
		if (req.n_tags == PING_MAX_TAGS)
			break;
		tags[req.n_tags].key = (char *)key;
		tags[req.n_tags++].value = (char *)json_string_value(value);
	}
	req.tags = req.n_tags ? tags : NULL;
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

int agent_ping(struct agent *a, const struct report_override *ov, bool idle, struct ping_response *ret,
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

/* A heartbeat while a step runs or waits to retry. Returns 1 (with *ret_next filled) when the plan
 * changed, 0 otherwise. */
static int heartbeat(struct agent *a, const struct step_ctx *ctx, const struct report_override *ov,
		     struct ping_response *ret_next)
{
	struct ping_response resp;
	int r;

	ping_response_init(&resp);
	r = agent_ping(a, ov, false, &resp, NULL);
	if (r < 0)
		return 0; /* a failed heartbeat changes nothing */
	if (decide_plan_changed(&ctx->origin, &resp)) {
		log_notice("plan changed during %s of env '%s', aborting the step", stage_name(ctx->stage), ctx->env_name);
		*ret_next = resp;
		return 1;
	}
	ping_response_release(&resp);
	return 0;
}

/* ---- supervision of one child (script attempt or download helper) ------------------------------- */

/* proc_wait(), or with done_fd >= 0: 1 once done_fd is readable (res untouched), 0 at until_mono. */
static int wait_child(struct proc *p, int done_fd, int64_t until_mono, struct proc_result *res)
{
	if (done_fd < 0)
		return proc_wait(p, until_mono, res);
	for (;;) {
		int64_t left = until_mono - mono_ms();
		struct pollfd pfd = { .fd = done_fd, .events = POLLIN };
		int r = poll(&pfd, 1, left <= 0 ? 0 : left > 1000 ? 1000 : (int)left);

		if (r < 0)
			return errno == EINTR ? -EINTR : -errno;
		if (r > 0)
			return 1;
		if (left <= 0)
			return 0;
	}
}

enum sup_outcome supervise(struct agent *a, struct proc *p, const struct step_ctx *ctx,
			   const struct report_override *ov, struct proc_result *res, struct ping_response *ret_next)
{
	return supervise_reply(a, p, -1, ctx, ov, res, ret_next);
}

int agent_save_before_step(struct agent *a, struct step_result *res)
{
	int r;

	if (!a->presave_pending)
		return 0;
	a->presave_pending = false;
	r = state_save(&a->st);
	a->state_dirty = r < 0;
	if (r < 0) {
		step_result_set(res, AGENT_STATUS_AGENT_FAILED, 1, 1, "cannot persist state: %s", strerror(-r));
		(void)log_error_errno(r, "cannot persist state");
	}
	return r;
}

enum sup_outcome supervise_reply(struct agent *a, struct proc *p, int done_fd, const struct step_ctx *ctx,
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
				r = wait_child(p, done_fd, until, res);
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
		r = wait_child(p, done_fd, until, res);
		if (r == 1)
			return SUP_EXITED;
		if (r < 0 && r != -EINTR) {
			(void)log_error_errno(r, "cannot wait for the child of %s", stage_name(ctx->stage));
			(void)sleep_ms(100);
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
		(void)sleep_ms(until - now > 200 ? 200 : until - now);
	}
}

/* ---- the retry tail (§10.3) --------------------------------------------------------------------- */

bool step_interrupted(enum sup_outcome so, enum step_outcome *ret)
{
	if (so == SUP_ABORTED)
		*ret = STEP_ABORTED;
	else if (so == SUP_STOPPED)
		*ret = STEP_STOPPED;
	else
		return false;
	return true;
}

enum step_outcome step_after_failure(struct agent *a, const struct step_ctx *ctx, int fail_count, int code,
				     const char *message, struct step_result *res, struct ping_response *ret_next)
{
	struct report_override ov = { .env_name = ctx->env_name, .agent_status = AGENT_STATUS_SCRIPT_FAILED,
				      .error_code = code, .fail_count = fail_count, .error_message = message };
	enum step_outcome out;
	enum sup_outcome so;

	if (retry_exhausted(&ctx->lim, fail_count)) {
		step_result_set(res, AGENT_STATUS_TOO_MANY_RETRY, code, (int)ctx->lim.max_retry, NULL);
		res->message = message ? strdup(message) : NULL;
		return STEP_DONE;
	}
	so = retry_wait(a, ctx, &ov, retry_backoff_ms(&ctx->lim, fail_count), ret_next);
	return step_interrupted(so, &out) ? out : STEP_RETRY;
}

/* ---- env log ------------------------------------------------------------------------------------ */

int open_env_log(struct agent *a, const char *env, char *path, size_t size)
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

void write_all(int fd, const char *s)
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

off_t log_header(int fd, const struct step_ctx *ctx, int attempt)
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

struct target_policy agent_target_policy(const struct agent *a)
{
	return (struct target_policy){ .target_dir = a->cfg->target_dir,
				       .allowed_target_roots = a->cfg->allowed_target_roots,
				       .state_dir = a->cfg->state_dir,
				       .builds_dir = a->cfg->builds_dir };
}

int resolve_target(struct agent *a, const struct step_ctx *ctx, char *target, size_t size, char *err, size_t errsz)
{
	struct target_policy tp = agent_target_policy(a);
	int r = stage_resolve_target(&tp, ctx->env_name, ctx->custom_target, target, size, err, errsz);
	if (r < 0) {
		log_error("env '%s': %s", ctx->env_name, err);
		return r;
	}
	if (!streq_ptr(entry_str(ctx->entry, "target"), target))
		entry_set_str(ctx->entry, "target", target);
	return 0;
}

