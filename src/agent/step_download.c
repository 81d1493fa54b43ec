/* SPDX-License-Identifier: Apache-2.0 */
/* agent/step_download.c: DOWNLOADING (AGENT.md §8) on the agent's side: the reuse check, the job for the
 * download helper (the kept `slipway-agent --internal-download-server`, dlhelper.c, working in a fresh private
 * tmp dir),
 * its supervision like a script's, the move of its tree into place, and retries through the shared
 * tail of step.c. The helper itself is download.c. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "daemon.h"
#include "download.h"
#include "enums.h"
#include "fs.h"
#include "jsonutil.h"
#include "log.h"
#include "util.h"
#include "banned.h"

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

/* The helper's job: the goal's build and this host's download settings. malloc'd JSON or NULL. */
static char *job_json_for(const struct agent *a, const struct build *b, const char *signing_key)
{
	const struct agent_config *c = a->cfg;
	struct download_job job;

	download_job_init(&job);
	job.url = b->artifact_url;
	job.expected_sha256 = b->artifact_sha256;
	job.signature = b->artifact_signature;
	job.signing_key = signing_key;
	job.trusted_signing_keys = c->trusted_signing_keys;
	job.allow_http = c->allow_http;
	job.download_allow_hosts = c->download_allow_hosts;
	job.download_allow_s3_buckets = c->download_allow_s3_buckets;
	job.download_allow_file_dirs = c->download_allow_file_dirs;
	job.max_artifact_bytes = c->max_artifact_bytes;
	job.max_extracted_bytes = c->max_extracted_bytes;
	job.max_archive_entries = (uint64_t)c->max_archive_entries;
	job.http_timeout_s = c->http_timeout_s;
	job.tls_verify = c->tls_verify;
	job.ca_file = c->ca_file;
	job.s3_access_key_id = c->s3_access_key_id;
	job.s3_secret_access_key = c->s3_secret_access_key;
	job.s3_session_token = c->s3_session_token;
	job.s3_region = c->s3_region;
	job.s3_endpoint = c->s3_endpoint;
	job.s3_path_style = c->s3_path_style;
	return download_job_to_json(&job);
}

/* What one download needs besides the step. */
struct download_run {
	struct build build;
	char env_dir[PATH_MAX];
	char *job_json;
};

/* §8.1 steps 1-2: a usable build in the goal, its env dir, the reuse check, the job. Returns 1 when a
 * download is needed, 0 when res holds the step's result. */
static int download_prepare(struct agent *a, const struct step_ctx *ctx, struct download_run *dr,
			    struct step_result *res)
{
	const char *signing_key = entry_str(ctx->entry, "signingKey");
	struct build *b = &dr->build;
	struct build_verify v;
	int r;

	if (!json_is_object(json_object_get(ctx->entry, "build")) ||
	    build_from_json(json_object_get(ctx->entry, "build"), b) < 0 || !b->id || !b->artifact_url || !*b->id ||
	    !*b->artifact_url) {
		step_result_set(res, AGENT_STATUS_AGENT_FAILED, 1, 1, "goal has no build");
		return 0;
	}
	if (!build_id_is_valid(b->id)) {
		step_result_set(res, AGENT_STATUS_AGENT_FAILED, 1, 1, "invalid build id '%.64s'", b->id);
		return 0;
	}
	(void)str_printf(dr->env_dir, sizeof(dr->env_dir), "%s/%s", a->cfg->builds_dir, ctx->env_name);
	r = fs_mkdir_p(dr->env_dir, 0755);
	if (r < 0) {
		step_result_set(res, AGENT_STATUS_AGENT_FAILED, 1, 1, "cannot create '%s': %s", dr->env_dir, strerror(-r));
		return 0;
	}
	v = (struct build_verify){ .expected_sha256 = b->artifact_sha256, .signing_key = signing_key,
				   .trusted_signing_keys = a->cfg->trusted_signing_keys };
	r = build_check_reuse(dr->env_dir, b->id, &v);
	if (r == -EPERM) {
		step_result_set(res, AGENT_STATUS_AGENT_FAILED, 1, 1, "server signing key not trusted on this host");
		return 0;
	}
	if (r == 1) {
		log_info("build '%s' of env '%s' is already downloaded, reusing it", b->id, ctx->env_name);
		step_result_set(res, AGENT_STATUS_SUCCEEDED, 0, 0, NULL);
		return 0;
	}
	if (!a->cfg->tls_verify)
		log_warn("tls_verify is off: the artifact's TLS certificate is not verified");
	dr->job_json = job_json_for(a, b, signing_key);
	if (!dr->job_json) {
		step_result_set(res, AGENT_STATUS_AGENT_FAILED, 1, 1, "out of memory");
		return 0;
	}
	return 1;
}

/* How one run of the helper ended. */
struct helper_run {
	enum sup_outcome so;
	struct proc_result pres;
	struct download_result dres;
	bool have_dres; /* its verdict on fd 3 was read and parsed */
};

static void close_pair(int p[2])
{
	for (int i = 0; i < 2; i++)
		if (p[i] >= 0)
			close(p[i]);
}

/* Hand the job to the kept helper (cwd tmp_dir, verdict on its fd 3, output to the env log), supervise it
 * until it answers, and read its verdict. 0, or a negative errno with res filled when it could not be given
 * the job. */
static int helper_run(struct agent *a, const struct step_ctx *ctx, const struct download_run *dr,
		      const char *tmp_dir, int attempt, int fail_count, struct helper_run *hr, struct step_result *res,
		      struct ping_response *ret_next)
{
	struct report_override ov = { .env_name = ctx->env_name, .agent_status = AGENT_STATUS_UNKNOWN,
				      .fail_count = fail_count };
	int res_pipe[2] = { -1, -1 }, log_fd, tmp_fd = -1, r;
	char log_path[PATH_MAX];
	struct buf out;

	log_fd = open_env_log(a, ctx->env_name, log_path, sizeof(log_path));
	if (log_fd < 0 || pipe2(res_pipe, O_CLOEXEC) < 0 ||
	    (tmp_fd = open(tmp_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
		step_result_set(res, AGENT_STATUS_AGENT_FAILED, 1, fail_count + 1,
				"cannot prepare the download helper: %s", strerror(errno));
		if (log_fd >= 0)
			close(log_fd);
		close_pair(res_pipe);
		return -EIO;
	}
	(void)log_header(log_fd, ctx, attempt);
	log_info("downloading build '%s' of env '%s' attempt %d/%lld", dr->build.id, ctx->env_name, attempt,
		 (long long)ctx->lim.max_retry);
	r = dl_helper_submit(&a->dl, dr->job_json, tmp_fd, log_fd, res_pipe[1]);
	close(res_pipe[1]);
	close(log_fd);
	close(tmp_fd);
	if (r < 0) {
		close(res_pipe[0]);
		step_result_set(res, AGENT_STATUS_AGENT_FAILED, 1, fail_count + 1, "cannot start the download helper: %s",
				strerror(-r));
		return r;
	}
	memset(&hr->pres, 0, sizeof(hr->pres));
	hr->so = supervise_reply(a, &a->dl.p, a->dl.sock, ctx, &ov, &hr->pres, ret_next);
	if (hr->so == SUP_EXITED)
		(void)dl_helper_reply(&a->dl, &hr->pres);
	else
		dl_helper_forget(&a->dl); /* stopped with its process group */
	buf_init(&out, 64 * 1024);
	(void)fcntl(res_pipe[0], F_SETFL, O_NONBLOCK);
	(void)read_all_fd(res_pipe[0], &out);
	close(res_pipe[0]);
	memset(&hr->dres, 0, sizeof(hr->dres));
	hr->have_dres = out.len && download_result_parse(out.p, out.len, &hr->dres) == 0;
	buf_release(&out);
	return 0;
}

/* §8.1 step 8: the helper's tree into place. */
static void download_install(struct agent *a, const struct step_ctx *ctx, const struct download_run *dr,
			     const char *tmp_dir, const struct helper_run *hr, int fail_count, struct step_result *res)
{
	struct build_install_params ip = { .env_dir = dr->env_dir, .build_id = dr->build.id, .tmp_dir = tmp_dir,
					   .artifact_url = dr->build.artifact_url, .sha256 = hr->dres.sha256,
					   .signature_key = hr->dres.signature_key };
	char err[512] = "";
	int r = build_install(&ip, err, sizeof(err));

	if (r < 0) {
		step_result_set(res, AGENT_STATUS_AGENT_FAILED, 1, fail_count + 1, "%s",
				err[0] ? err : "cannot install the build");
		return;
	}
	a->metrics.download_bytes_total += hr->dres.bytes;
	log_info("build '%s' of env '%s' downloaded (%llu bytes)", dr->build.id, ctx->env_name,
		 (unsigned long long)hr->dres.bytes);
	step_result_set(res, AGENT_STATUS_SUCCEEDED, 0, fail_count, NULL);
}

/* One attempt in a fresh private tmp dir (removed afterwards). STEP_RETRY: a transient failure with
 * *ret_code and msg[msgsz]; STEP_DONE: res holds the step's end. */
static enum step_outcome download_attempt(struct agent *a, const struct step_ctx *ctx, const struct download_run *dr,
					  int attempt, int fail_count, struct step_result *res,
					  struct ping_response *ret_next, int *ret_code, char *msg, size_t msgsz)
{
	struct helper_run hr;
	char tmpl[PATH_MAX], *tmp_dir;
	int64_t started = mono_ms();
	enum step_outcome out;
	int r;

	r = str_printf(tmpl, sizeof(tmpl), "%s/.tmp-%s-XXXXXX", dr->env_dir, dr->build.id);
	tmp_dir = r < 0 ? NULL : mkdtemp(tmpl); /* its 0700 stays: private until build_install() */
	if (!tmp_dir) {
		step_result_set(res, AGENT_STATUS_AGENT_FAILED, 1, fail_count + 1,
				"cannot create a temp directory in '%s': %s", dr->env_dir, strerror(errno));
		return STEP_DONE;
	}
	r = helper_run(a, ctx, dr, tmp_dir, attempt, fail_count, &hr, res, ret_next);
	if (r < 0) {
		(void)download_remove_tree(tmp_dir);
		return STEP_DONE;
	}
	metrics_step_duration(&a->metrics, ctx->env_name, "DOWNLOADING", mono_ms() - started);
	if (hr.so == SUP_EXITED && hr.pres.status == PROC_EXITED && hr.pres.code == DOWNLOAD_EXIT_OK && hr.have_dres &&
	    hr.dres.ok) {
		download_install(a, ctx, dr, tmp_dir, &hr, fail_count, res);
		(void)download_remove_tree(tmp_dir);
		return STEP_DONE;
	}
	(void)download_remove_tree(tmp_dir);
	if (step_interrupted(hr.so, &out))
		return out;
	if (hr.so == SUP_TIMEOUT) {
		step_result_set(res, AGENT_STATUS_SCRIPT_TIMEOUT, 1, fail_count + 1, "download timed out after %lld s",
				(long long)ctx->lim.process_timeout_s);
		return STEP_DONE;
	}
	if (hr.pres.status == PROC_EXEC_FAILED) {
		step_result_set(res, AGENT_STATUS_AGENT_FAILED, 1, fail_count + 1,
				"cannot execute the download helper: %s", strerror(hr.pres.exec_errno));
		return STEP_DONE;
	}
	(void)str_copy(msg, msgsz, hr.have_dres && hr.dres.message[0] ? hr.dres.message : "");
	if (hr.pres.status == PROC_EXITED && hr.pres.code == DOWNLOAD_EXIT_FATAL) {
		step_result_set(res, AGENT_STATUS_AGENT_FAILED, 1, 1, "%s", *msg ? msg : "download helper failed");
		log_error("download of build '%s' for env '%s' failed: %s", dr->build.id, ctx->env_name, res->message);
		return STEP_DONE;
	}
	*ret_code = retry_attempt_code(&hr.pres, 1);
	return STEP_RETRY;
}

enum step_outcome run_download(struct agent *a, const struct step_ctx *ctx, struct step_result *res,
			       struct ping_response *ret_next)
{
	struct download_run dr;
	enum step_outcome out = STEP_DONE;
	int fail_count = 0;

	memset(&dr, 0, sizeof(dr));
	if (download_prepare(a, ctx, &dr, res) <= 0)
		goto out;
	for (int attempt = 1;; attempt++) {
		char msg[DOWNLOAD_MESSAGE_MAX] = "";
		int code = 1;

		out = download_attempt(a, ctx, &dr, attempt, fail_count, res, ret_next, &code, msg, sizeof(msg));
		if (out != STEP_RETRY)
			break;
		fail_count++;
		log_warn("download of build '%s' for env '%s' failed (attempt %d/%lld): %s", dr.build.id, ctx->env_name,
			 attempt, (long long)ctx->lim.max_retry, *msg ? msg : "helper failed");
		out = step_after_failure(a, ctx, fail_count, code, *msg ? msg : "download failed", res, ret_next);
		if (out != STEP_RETRY)
			break;
	}
out:
	free(dr.job_json);
	build_release(&dr.build);
	return out;
}
