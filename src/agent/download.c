/* SPDX-License-Identifier: Apache-2.0 */
/* agent/download.c: DOWNLOADING (AGENT.md §8): the job's JSON form and the helper's verdict, and the
 * download helper process itself: policy, fetch (fetch.c), verify (verify.c), extraction into ./tree.
 * The helper runs in a child whose cwd is the build's fresh private .tmp dir: it may chdir, the agent
 * never does. Markers and the move into place are install.c's. Only download_helper_main() logs (to the
 * env log, its stderr). */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "download_int.h"
#include "jsonutil.h"
#include "log.h"
#include "paths.h"
#include "s3.h"
#include "util.h"
#include "banned.h"

#define JOB_JSON_MAX (1024 * 1024)

/* ---- names and lists ---------------------------------------------------------------------- */

bool build_id_is_valid(const char *name)
{
	return str_charset_ok(name, "_-", 1, BUILD_ID_MAX);
}

/* env_name_is_valid() is proto/names.c's (same pattern, §7.2); defining it here too broke the link */


/* ---- the job ------------------------------------------------------------------------------- */

void download_job_init(struct download_job *job)
{
	*job = (struct download_job){
		.max_artifact_bytes = 4ULL << 30,
		.max_extracted_bytes = 16ULL << 30,
		.max_archive_entries = 1000000,
		.http_timeout_s = 30,
		.tls_verify = true,
	};
}

static int set_str(json_t *o, const char *key, const char *v)
{
	if (str_empty(v))
		return 0;
	return json_object_set_new(o, key, json_string(v));
}

char *download_job_to_json(const struct download_job *job)
{
	json_t *o = json_object();
	char *s = NULL;
	int r = 0;

	if (!o)
		return NULL;
	r |= set_str(o, "url", job->url);
	r |= set_str(o, "expectedSha256", job->expected_sha256);
	r |= set_str(o, "signature", job->signature);
	r |= set_str(o, "signingKey", job->signing_key);
	r |= set_str(o, "trustedSigningKeys", job->trusted_signing_keys);
	r |= json_object_set_new(o, "allowHttp", json_boolean(job->allow_http));
	r |= set_str(o, "allowHosts", job->download_allow_hosts);
	r |= set_str(o, "allowS3Buckets", job->download_allow_s3_buckets);
	r |= set_str(o, "allowFileDirs", job->download_allow_file_dirs);
	r |= json_object_set_new(o, "maxArtifactBytes", json_integer((json_int_t)job->max_artifact_bytes));
	r |= json_object_set_new(o, "maxExtractedBytes", json_integer((json_int_t)job->max_extracted_bytes));
	r |= json_object_set_new(o, "maxArchiveEntries", json_integer((json_int_t)job->max_archive_entries));
	r |= json_object_set_new(o, "httpTimeout", json_integer(job->http_timeout_s));
	r |= json_object_set_new(o, "tlsVerify", json_boolean(job->tls_verify));
	r |= set_str(o, "caFile", job->ca_file);
	r |= set_str(o, "s3AccessKeyId", job->s3_access_key_id);
	r |= set_str(o, "s3SecretAccessKey", job->s3_secret_access_key);
	r |= set_str(o, "s3SessionToken", job->s3_session_token);
	r |= set_str(o, "s3Region", job->s3_region);
	r |= set_str(o, "s3Endpoint", job->s3_endpoint);
	r |= json_object_set_new(o, "s3PathStyle", json_boolean(job->s3_path_style));
	if (r == 0)
		s = json_dump_compact(o);
	json_decref(o);
	return s;
}

static int get_opt_str(const json_t *j, const char *key, const char **ret)
{
	int r = json_get_string(j, key, JOB_JSON_MAX, ret);
	if (r == -ENOENT) {
		*ret = NULL;
		return 0;
	}
	return r;
}

static int get_opt_u64(const json_t *j, const char *key, uint64_t *ret)
{
	int64_t v;
	int r = json_get_int(j, key, 0, INT64_MAX, &v);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	*ret = (uint64_t)v;
	return 0;
}

static int get_opt_bool(const json_t *j, const char *key, bool *ret)
{
	int r = json_get_bool(j, key, ret);
	return r == -ENOENT ? 0 : r;
}

int download_job_from_json(const json_t *j, struct download_job *ret)
{
	struct download_job job;
	uint64_t timeout = 30;
	int r = 0;

	if (!json_is_object(j))
		return -EINVAL;
	download_job_init(&job);
	r = json_get_string(j, "url", JOB_JSON_MAX, &job.url);
	if (r < 0)
		return -EINVAL;
	if (get_opt_str(j, "expectedSha256", &job.expected_sha256) < 0 ||
	    get_opt_str(j, "signature", &job.signature) < 0 || get_opt_str(j, "signingKey", &job.signing_key) < 0 ||
	    get_opt_str(j, "trustedSigningKeys", &job.trusted_signing_keys) < 0 ||
	    get_opt_bool(j, "allowHttp", &job.allow_http) < 0 ||
	    get_opt_str(j, "allowHosts", &job.download_allow_hosts) < 0 ||
	    get_opt_str(j, "allowS3Buckets", &job.download_allow_s3_buckets) < 0 ||
	    get_opt_str(j, "allowFileDirs", &job.download_allow_file_dirs) < 0 ||
	    get_opt_u64(j, "maxArtifactBytes", &job.max_artifact_bytes) < 0 ||
	    get_opt_u64(j, "maxExtractedBytes", &job.max_extracted_bytes) < 0 ||
	    get_opt_u64(j, "maxArchiveEntries", &job.max_archive_entries) < 0 ||
	    get_opt_u64(j, "httpTimeout", &timeout) < 0 || get_opt_bool(j, "tlsVerify", &job.tls_verify) < 0 ||
	    get_opt_str(j, "caFile", &job.ca_file) < 0 ||
	    get_opt_str(j, "s3AccessKeyId", &job.s3_access_key_id) < 0 ||
	    get_opt_str(j, "s3SecretAccessKey", &job.s3_secret_access_key) < 0 ||
	    get_opt_str(j, "s3SessionToken", &job.s3_session_token) < 0 ||
	    get_opt_str(j, "s3Region", &job.s3_region) < 0 || get_opt_str(j, "s3Endpoint", &job.s3_endpoint) < 0 ||
	    get_opt_bool(j, "s3PathStyle", &job.s3_path_style) < 0)
		return -EINVAL;
	if (timeout < 1 || timeout > 86400)
		return -EINVAL;
	job.http_timeout_s = (int64_t)timeout;
	*ret = job;
	return 0;
}

int download_result_parse(const char *data, size_t len, struct download_result *ret)
{
	struct download_result res = { 0 };
	json_t *j = NULL;
	const char *s;
	int64_t n;
	int r;

	r = json_parse_bounded(data, len, &j, NULL, 0);
	if (r < 0)
		return -EBADMSG;
	r = -EBADMSG;
	if (!json_is_object(j) || json_get_bool(j, "ok", &res.ok) < 0)
		goto out;
	if (json_get_bool(j, "fatal", &res.fatal) == -EINVAL)
		goto out;
	if (json_get_string(j, "sha256", 64, &s) == 0)
		str_copy(res.sha256, sizeof(res.sha256), s);
	if (json_get_int(j, "bytes", 0, INT64_MAX, &n) == 0)
		res.bytes = (uint64_t)n;
	if (json_get_string(j, "signatureKey", SIGNING_KEY_B64_MAX, &s) == 0)
		str_copy(res.signature_key, sizeof(res.signature_key), s);
	if (json_get_string(j, "message", 4096, &s) == 0) {
		size_t k = strlen(s);
		if (k >= sizeof(res.message))
			k = sizeof(res.message) - 1;
		memcpy(res.message, s, k);
		res.message[k] = '\0';
	}
	if (res.ok && strlen(res.sha256) != 64)
		goto out;
	*ret = res;
	r = 0;
out:
	json_decref(j);
	return r;
}

static int create_artifact_file(struct dl *d)
{
	int r = artifact_open(d);

	return r < 0 ? dl_fail(d, false, r, "cannot create artifact file: %s", strerror(-r)) : 0;
}

/* file://: read in place when nothing is verified, else into the private ./artifact. *ret_fd is the
 * file to extract from. */
static int get_file_artifact(struct dl *d, bool verify, int *ret_fd)
{
	char real[PATH_MAX];
	int src = -1, r;

	r = open_file_url(d, d->job->url, real, sizeof(real), &src);
	if (r < 0)
		return r;
	if (!verify) {
		log_info("reading artifact '%s' in place", real);
		r = read_file_artifact(d, src, real, false);
		if (r < 0)
			close(src);
		else
			*ret_fd = src;
		return r;
	}
	log_info("copying artifact '%s' to verify it", real);
	r = create_artifact_file(d);
	if (r >= 0)
		r = read_file_artifact(d, src, real, true);
	close(src);
	if (r >= 0)
		*ret_fd = d->fd;
	return r < 0 ? r : 0;
}

/* http(s) and s3: policy checks, then the download into the private ./artifact; without anything to
 * verify a tar artifact is extracted while it downloads (d->x then holds the outcome). */
static int get_remote_artifact(struct dl *d, bool verify, int *ret_fd, int *ret_stream)
{
	const struct download_job *job = d->job;
	char shown[512], bucket[S3_BUCKET_MAX + 1];
	bool s3 = startswith(job->url, "s3://");
	const char *key, *url = job->url;
	struct buf s3url;
	int r;

	buf_init(&s3url, 16384);
	url_for_log(job->url, shown, sizeof(shown));
	if (s3) {
		if (s3_parse_url(job->url, bucket, &key) < 0) {
			r = dl_fail(d, true, -EINVAL, "invalid s3 URL '%s'", shown);
			goto out;
		}
		if (!clist_is_empty(job->download_allow_s3_buckets) &&
		    !clist_contains(job->download_allow_s3_buckets, bucket)) {
			r = dl_fail(d, true, -EPERM, "s3 bucket '%s' is not in download_allow_s3_buckets", bucket);
			goto out;
		}
		r = s3_build_url(bucket, key, job->s3_region, job->s3_endpoint, job->s3_path_style, &s3url);
		if (r < 0) {
			r = dl_fail(d, true, -EINVAL, "cannot build the s3 URL (check s3_region/s3_endpoint)");
			goto out;
		}
		url = s3url.p;
	} else if ((r = check_http_url(d, job->url, false)) < 0)
		goto out;
	if ((r = create_artifact_file(d)) < 0)
		goto out;
	d->stream_allowed = !verify;
	log_info("downloading artifact '%s'%s%s", shown, s3 ? " from s3" : "",
		 verify ? " (verified before extraction)" : "");
	r = fetch_http(d, url, s3);
	*ret_fd = d->fd; /* the download may have moved it from memory to ./artifact */
	*ret_stream = stream_finish(d);
out:
	buf_release(&s3url);
	return r;
}

/* §8.1 step 6: sha256 and signature of the complete artifact. */
static int verify_artifact(struct dl *d, int fd)
{
	const struct download_job *job = d->job;
	int r;

	log_info("artifact: %llu bytes, sha256 %s", (unsigned long long)d->bytes, d->sha256);
	if (!str_empty(job->expected_sha256) && strcasecmp(job->expected_sha256, d->sha256) != 0)
		return dl_fail(d, true, -EBADMSG, "sha256 mismatch: expected %.64s, got %s", job->expected_sha256,
			    d->sha256);
	r = verify_signature(d, fd);
	if (r < 0)
		return r;
	if (*d->key_used)
		log_info("artifact signature verified with key %s", d->key_used);
	return 0;
}

/* §8.1 step 7: extract fd into ./tree, with it as our working directory. */
static int extract_artifact(struct dl *d, int fd, uint64_t *ret_entries, uint64_t *ret_bytes)
{
	char xerr[1024] = "";
	int r;

	if (lseek(fd, 0, SEEK_SET) < 0)
		return dl_fail(d, false, -errno, "cannot rewind artifact: %s", strerror(errno));
	if (mkdir("tree", 0755) < 0 || chdir("tree") < 0)
		return dl_fail(d, false, -errno, "cannot create tree directory: %s", strerror(errno));
	r = extract_archive_fd(fd, &d->lim, ret_entries, ret_bytes, xerr, sizeof(xerr));
	if (chdir("..") < 0 && r == 0)
		r = -errno;
	if (r < 0)
		return dl_fail(d, dl_extract_error_is_fatal(r), r, "%s", *xerr ? xerr : strerror(-r));
	return 0;
}

static int run_job(struct dl *d)
{
	const struct download_job *job = d->job;
	bool in_place = startswith(job->url, "file://"), verify = download_job_verifies(job), streamed = false;
	uint64_t entries = 0, xbytes = 0;
	int fd = -1, r, xr = 1;

	d->lim = (struct extract_limits){ job->max_archive_entries, job->max_extracted_bytes };
	if (!job->tls_verify)
		log_warn("tls_verify is off: artifact TLS certificates are not verified");
	/* §8.1 step 3: scheme and allow-lists; step 5: fetch */
	if (in_place)
		r = get_file_artifact(d, verify, &fd);
	else
		r = get_remote_artifact(d, verify, &fd, &xr);
	if (r < 0)
		goto out;
	if (fd == d->fd)
		in_place = false;
	r = verify_artifact(d, fd);
	if (r < 0)
		goto out;
	if (xr <= 0) { /* extracted while downloading: only when nothing was to be verified */
		streamed = true;
		entries = d->x->entries;
		xbytes = d->x->bytes;
		if (xr < 0) {
			r = dl_fail(d, dl_extract_error_is_fatal(xr), xr, "%s", *d->x->err ? d->x->err : strerror(-xr));
			goto out;
		}
	} else if ((r = extract_artifact(d, fd, &entries, &xbytes)) < 0)
		goto out;
	log_info("extracted %llu entries, %llu bytes%s", (unsigned long long)entries, (unsigned long long)xbytes,
		 streamed ? " while downloading" : "");
	if (!in_place && !d->fd_in_memory)
		(void)unlink("artifact"); /* the archive is not kept (§8.1 step 8) */
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	if (d->fd >= 0 && d->fd != fd)
		close(d->fd);
	d->fd = -1;
	(void)stream_finish(d);
	free(d->x);
	d->x = NULL;
	sha256_release(&d->sha);
	return r;
}

static int read_stdin(char **ret, size_t *ret_len)
{
	struct buf b;
	char tmp[8192];
	int r;

	buf_init(&b, JOB_JSON_MAX);
	for (;;) {
		ssize_t k = read(STDIN_FILENO, tmp, sizeof(tmp));
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			r = -errno;
			goto fail;
		}
		if (k == 0)
			break;
		r = buf_append(&b, tmp, (size_t)k);
		if (r < 0)
			goto fail;
	}
	*ret_len = b.len;
	*ret = buf_detach(&b);
	return *ret ? 0 : -ENOMEM;
fail:
	buf_release(&b);
	return r;
}

static void write_result(const struct dl *d, bool ok)
{
	json_t *o;
	char *s;
	size_t off = 0, n;

	if (fcntl(DOWNLOAD_RESULT_FD, F_GETFD) < 0)
		return;
	o = json_pack("{s:b, s:b, s:o, s:I, s:o, s:o}", "ok", ok, "fatal", !ok && d->fatal, "sha256",
		      *d->sha256 ? json_string(d->sha256) : json_null(), "bytes", (json_int_t)d->bytes,
		      "signatureKey", *d->key_used ? json_string(d->key_used) : json_null(), "message",
		      *d->msg ? json_string(d->msg) : json_null());
	if (!o)
		return;
	s = json_dump_compact(o);
	json_decref(o);
	if (!s)
		return;
	n = strlen(s);
	while (off < n) {
		ssize_t k = write(DOWNLOAD_RESULT_FD, s + off, n - off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		off += (size_t)k;
	}
	free(s);
}

/* One job given as JSON: the helper's work in its cwd, the verdict on fd 3, the exit code. */
int download_helper_job(const char *input, size_t len)
{
	struct download_job job;
	struct dl d = { .fd = -1, .pipe_w = -1 };
	json_t *j = NULL;
	int r;

	d.job = &job;
	if (json_parse_bounded(input, len, &j, NULL, 0) < 0 || download_job_from_json(j, &job) < 0) {
		download_job_init(&job);
		r = dl_fail(&d, true, -EINVAL, "invalid download job");
		goto out;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		r = dl_fail(&d, false, -EIO, "cannot initialise curl");
		goto out;
	}
	r = run_job(&d);
	curl_global_cleanup();
out:
	if (r < 0) {
		log_error("download failed: %s", d.msg);
		(void)download_remove_tree("tree"); /* a partial extraction is never a build */
	} else
		log_info("download complete");
	write_result(&d, r >= 0);
	json_decref(j);
	if (r >= 0)
		return DOWNLOAD_EXIT_OK;
	return d.fatal ? DOWNLOAD_EXIT_FATAL : DOWNLOAD_EXIT_TRANSIENT;
}

int download_helper_main(void)
{
	char *input = NULL;
	size_t len = 0;
	int r;

	signal(SIGPIPE, SIG_IGN);
	r = read_stdin(&input, &len);
	if (r < 0) {
		struct download_job job;
		struct dl d = { .fd = -1, .pipe_w = -1, .job = &job };
		download_job_init(&job);
		(void)dl_fail(&d, true, r, "cannot read the download job: %s", strerror(-r));
		log_error("download failed: %s", d.msg);
		write_result(&d, false);
		return DOWNLOAD_EXIT_FATAL;
	}
	r = download_helper_job(input, len);
	free(input);
	return r;
}
