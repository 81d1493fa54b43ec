/* SPDX-License-Identifier: Apache-2.0 */
/* agent/download.c: DOWNLOADING (AGENT.md §8). The job's JSON form, the download helper process
 * (URL policy, libcurl fetch with our own redirect checks, S3 SigV4, SHA-256, Ed25519 signature,
 * extraction into ./tree), the completion marker, the reuse check and the move into place.
 * The helper runs in a child whose cwd is the build's fresh .tmp dir: it may chdir, the agent
 * never does. Only download_helper_main() logs (to the env log, its stderr). */
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>

#include "buf.h"
#include "download.h"
#include "extract.h"
#include "fs.h"
#include "hash.h"
#include "jsonutil.h"
#include "log.h"
#include "paths.h"
#include "s3.h"
#include "util.h"
#include "banned.h"

#define JOB_JSON_MAX (1024 * 1024)
#define MARKER_MAX (64 * 1024)
#define MAX_REDIRECTS 5

/* ---- names and lists ---------------------------------------------------------------------- */

bool build_id_is_valid(const char *name)
{
	return str_charset_ok(name, "_-", 1, BUILD_ID_MAX);
}

/* env_name_is_valid() is proto/names.c's (same pattern, §7.2); defining it here too broke the link */

static bool empty(const char *s)
{
	return !s || !*s;
}

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
	if (empty(v))
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

/* ---- signing keys (§8.4) ------------------------------------------------------------------- */

int download_select_key(const struct build_verify *v, const char **ret_key, bool *ret_any_trusted)
{
	bool have_list = !clist_is_empty(v->trusted_signing_keys);

	if (!empty(v->signing_key)) {
		if (have_list && !clist_contains(v->trusted_signing_keys, v->signing_key))
			return -EPERM;
		*ret_key = v->signing_key;
		*ret_any_trusted = false;
		return 0;
	}
	*ret_key = NULL;
	*ret_any_trusted = have_list;
	return 0;
}

/* ---- markers and reuse (§8.5) -------------------------------------------------------------- */

void build_marker_release(struct build_marker *m)
{
	free(m->artifact_url);
	m->artifact_url = NULL;
}

static bool is_hex64(const char *s)
{
	if (strlen(s) != 64)
		return false;
	for (; *s; s++)
		if (!isxdigit((unsigned char)*s))
			return false;
	return true;
}

static int read_small_at(int dir_fd, const char *name, size_t max, char **ret, size_t *ret_len)
{
	char *data = NULL;
	size_t len = 0;
	struct stat st;
	int fd, r = 0;

	fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > max) {
		r = S_ISREG(st.st_mode) ? -EFBIG : -EBADMSG;
		goto out;
	}
	data = malloc((size_t)st.st_size + 1);
	if (!data) {
		r = -ENOMEM;
		goto out;
	}
	while (len < (size_t)st.st_size) {
		ssize_t k = read(fd, data + len, (size_t)st.st_size - len);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			r = -errno;
			goto out;
		}
		if (k == 0)
			break;
		len += (size_t)k;
	}
	data[len] = '\0';
	*ret = data;
	*ret_len = len;
	data = NULL;
out:
	free(data);
	close(fd);
	return r;
}

int build_marker_readat(int env_dir_fd, const char *build_id, struct build_marker *ret)
{
	struct build_marker m = { 0 };
	char name[BUILD_ID_MAX + 16], *data = NULL;
	const char *s;
	json_t *j = NULL, *sk;
	size_t len = 0;
	int r;

	if (!build_id_is_valid(build_id))
		return -EINVAL;
	r = str_printf(name, sizeof(name), "%s.extracted", build_id);
	if (r < 0)
		return r;
	r = read_small_at(env_dir_fd, name, MARKER_MAX, &data, &len);
	if (r == -ENOENT)
		return r;
	if (r < 0)
		return r == -ENOMEM ? r : -EBADMSG;
	r = json_parse_bounded(data, len, &j, NULL, 0);
	if (r < 0) {
		r = -EBADMSG;
		goto out;
	}
	r = -EBADMSG;
	if (!json_is_object(j))
		goto out;
	if (json_get_string(j, "buildId", BUILD_ID_MAX, &s) < 0 || !streq(s, build_id))
		goto out;
	str_copy(m.build_id, sizeof(m.build_id), s);
	if (json_get_string(j, "sha256", 64, &s) < 0 || !is_hex64(s))
		goto out;
	for (size_t i = 0; i < 64; i++)
		m.sha256[i] = (char)tolower((unsigned char)s[i]);
	m.sha256[64] = '\0';
	sk = json_object_get(j, "signatureKey");
	if (sk && !json_is_null(sk)) {
		if (!json_is_string(sk) || str_copy(m.signature_key, sizeof(m.signature_key), json_string_value(sk)) < 0)
			goto out;
	}
	if (json_get_int(j, "completedAt", 0, INT64_MAX, &m.completed_at_ms) < 0)
		goto out;
	if (json_get_string(j, "artifactUrl", 65536, &s) == 0) {
		m.artifact_url = strdup(s);
		if (!m.artifact_url) {
			r = -ENOMEM;
			goto out;
		}
	}
	*ret = m;
	m.artifact_url = NULL;
	r = 0;
out:
	free(m.artifact_url);
	json_decref(j);
	free(data);
	return r;
}

int build_marker_read(const char *env_dir, const char *build_id, struct build_marker *ret)
{
	int fd, r;

	fd = open(env_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = build_marker_readat(fd, build_id, ret);
	close(fd);
	return r;
}

static bool tree_is_dir_at(int env_fd, const char *build_id)
{
	struct stat st;
	return fstatat(env_fd, build_id, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

/* Does marker m satisfy v? 1 / 0 / -EPERM */
static int marker_satisfies(const struct build_marker *m, const struct build_verify *v)
{
	const char *key;
	bool any;
	int r;

	r = download_select_key(v, &key, &any);
	if (r < 0)
		return r;
	if (!empty(v->expected_sha256) && strcasecmp(v->expected_sha256, m->sha256) != 0)
		return 0;
	if (key && !streq(key, m->signature_key))
		return 0;
	if (any && (!*m->signature_key || !clist_contains(v->trusted_signing_keys, m->signature_key)))
		return 0;
	return 1;
}

int build_check_reuse(const char *env_dir, const char *build_id, const struct build_verify *v)
{
	struct build_marker m = { 0 };
	int fd, r;

	if (!build_id_is_valid(build_id))
		return -EINVAL;
	fd = open(env_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	r = build_marker_readat(fd, build_id, &m);
	if (r < 0) {
		r = 0;
		goto out;
	}
	if (!tree_is_dir_at(fd, build_id)) {
		r = 0;
		goto out;
	}
	r = marker_satisfies(&m, v);
out:
	build_marker_release(&m);
	close(fd);
	return r;
}

/* ---- removal without following links ------------------------------------------------------ */

static int remove_dir_contents(int dfd, int depth)
{
	DIR *d;
	struct dirent *de;
	int r = 0;

	if (depth > 256)
		return -ELOOP;
	(void)fchmod(dfd, 0700); /* a script may have made it read-only; it goes anyway */
	d = fdopendir(dfd);
	if (!d) {
		r = -errno;
		close(dfd);
		return r;
	}
	while ((errno = 0, de = readdir(d))) {
		struct stat st;
		int k;

		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno != ENOENT && r == 0)
				r = -errno;
			continue;
		}
		if (S_ISDIR(st.st_mode)) {
			int cfd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (cfd < 0) {
				if (r == 0)
					r = -errno;
				continue;
			}
			k = remove_dir_contents(cfd, depth + 1);
			if (k < 0 && r == 0)
				r = k;
			if (unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR) < 0 && errno != ENOENT && r == 0)
				r = -errno;
		} else if (unlinkat(dirfd(d), de->d_name, 0) < 0 && errno != ENOENT && r == 0) {
			r = -errno;
		}
	}
	closedir(d);
	return r;
}

int download_remove_treeat(int dir_fd, const char *name)
{
	struct stat st;
	int fd, r;

	if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(dir_fd, name, 0) < 0 && errno != ENOENT ? -errno : 0;
	fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = remove_dir_contents(fd, 0);
	if (unlinkat(dir_fd, name, AT_REMOVEDIR) < 0 && errno != ENOENT && r == 0)
		r = -errno;
	return r;
}

int download_remove_tree(const char *path)
{
	return download_remove_treeat(AT_FDCWD, path);
}

/* ---- move into place (§8.1 step 8) -------------------------------------------------------- */

static int marker_write(int env_fd, const struct build_install_params *p)
{
	char name[BUILD_ID_MAX + 16], *s = NULL;
	json_t *o;
	int r;

	r = str_printf(name, sizeof(name), "%s.extracted", p->build_id);
	if (r < 0)
		return r;
	o = json_pack("{s:s, s:s?, s:s, s:o, s:I}", "buildId", p->build_id, "artifactUrl", p->artifact_url, "sha256",
		      p->sha256, "signatureKey",
		      empty(p->signature_key) ? json_null() : json_string(p->signature_key), "completedAt",
		      (json_int_t)now_ms());
	if (!o)
		return -ENOMEM;
	s = json_dump_compact(o);
	json_decref(o);
	if (!s)
		return -ENOMEM;
	r = fs_write_atomic(env_fd, name, s, strlen(s), 0644);
	free(s);
	return r;
}

int build_install(const struct build_install_params *p, char *err, size_t errsz)
{
	struct build_marker old = { 0 };
	char marker[BUILD_ID_MAX + 16], trash[BUILD_ID_MAX + 32];
	unsigned char rnd[4];
	int env_fd = -1, tmp_fd = -1, r;
	bool have_old;
	char dummy[8];

	if (!err || errsz == 0) {
		err = dummy;
		errsz = sizeof(dummy);
	}
	err[0] = '\0';
	if (!build_id_is_valid(p->build_id) || empty(p->sha256) || !is_hex64(p->sha256)) {
		str_printf(err, errsz, "invalid build id or digest");
		r = -EINVAL;
		goto out;
	}
	env_fd = open(p->env_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	tmp_fd = open(p->tmp_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (env_fd < 0 || tmp_fd < 0) {
		r = -errno;
		str_printf(err, errsz, "cannot open build directory: %s", strerror(-r));
		goto out;
	}
	if (!tree_is_dir_at(tmp_fd, "tree")) {
		r = -ENOENT;
		str_printf(err, errsz, "download left no tree");
		goto out;
	}
	(void)str_printf(marker, sizeof(marker), "%s.extracted", p->build_id);
	have_old = build_marker_readat(env_fd, p->build_id, &old) == 0 && tree_is_dir_at(env_fd, p->build_id);
	if (!have_old) {
		/* stale tree (or marker) from a crash: never pointed to, so delete it first */
		(void)unlinkat(env_fd, marker, 0);
		r = download_remove_treeat(env_fd, p->build_id);
		if (r < 0) {
			str_printf(err, errsz, "cannot remove stale build '%s': %s", p->build_id, strerror(-r));
			goto out;
		}
		if (renameat(tmp_fd, "tree", env_fd, p->build_id) < 0) {
			r = -errno;
			str_printf(err, errsz, "cannot move build '%s' into place: %s", p->build_id, strerror(-r));
			goto out;
		}
	} else if (strcasecmp(old.sha256, p->sha256) != 0) {
		/* swap atomically so TARGET never dangles; the old tree lands at tmp/tree */
		if (renameat2(tmp_fd, "tree", env_fd, p->build_id, RENAME_EXCHANGE) < 0) {
			r = -errno;
			str_printf(err, errsz, "cannot swap build '%s': %s", p->build_id, strerror(-r));
			goto out;
		}
	}
	r = marker_write(env_fd, p);
	if (r < 0) {
		str_printf(err, errsz, "cannot write marker of build '%s': %s", p->build_id, strerror(-r));
		goto out;
	}
	if (have_old && tree_is_dir_at(tmp_fd, "tree")) {
		/* the old tree (or the identical new one): to .trash-* and away */
		if (random_bytes(rnd, sizeof(rnd)) == 0 &&
		    str_printf(trash, sizeof(trash), ".trash-%s-%02x%02x%02x%02x", p->build_id, rnd[0], rnd[1],
			       rnd[2], rnd[3]) == 0 &&
		    renameat(tmp_fd, "tree", env_fd, trash) == 0)
			(void)download_remove_treeat(env_fd, trash);
	}
	(void)fsync(env_fd);
	r = 0;
out:
	build_marker_release(&old);
	if (tmp_fd >= 0)
		close(tmp_fd);
	if (env_fd >= 0)
		close(env_fd);
	if (p->tmp_dir)
		(void)download_remove_tree(p->tmp_dir);
	return r;
}

/* ---- the helper process ------------------------------------------------------------------- */

struct dl {
	const struct download_job *job;
	char msg[DOWNLOAD_MESSAGE_MAX];
	bool fatal;
	/* current transfer */
	int fd;
	struct sha256_ctx sha;
	uint64_t bytes;
	bool too_big, io_error;
	char sha256[SHA256_HEX_LEN + 1];
	char key_used[SIGNING_KEY_B64_MAX + 1];
	CURL *curl;
	/* streaming extraction (§8.1 step 5): a thread extracts from a pipe while we download */
	bool stream_allowed, stream_decided, streaming, stream_closed, stream_finished, extract_failed;
	int pipe_w;
	pthread_t thread;
	struct extract_limits lim;
	struct stream_extract *x;
};

struct stream_extract {
	int fd;
	const struct extract_limits *lim;
	atomic_bool done;
	int r;
	uint64_t entries, bytes;
	char err[1024];
};

static void *stream_extract_thread(void *arg)
{
	struct stream_extract *x = arg;

	x->r = extract_archive_fd(x->fd, x->lim, &x->entries, &x->bytes, x->err, sizeof(x->err));
	/* closing the read end turns further writes into EPIPE instead of a blocked writer */
	close(x->fd);
	x->fd = -1;
	atomic_store(&x->done, true);
	return NULL;
}

/* Decide on the first body bytes of a 2xx answer whether to extract while downloading: tar
 * formats stream, zip needs its central directory (Unix modes) and is extracted afterwards. */
static void stream_maybe_start(struct dl *d, const char *ptr, size_t n)
{
	long code = 0;
	int p[2];

	(void)curl_easy_getinfo(d->curl, CURLINFO_RESPONSE_CODE, &code);
	if (code < 200 || code >= 300)
		return; /* a redirect's body: decide on the real answer */
	d->stream_decided = true;
	if (n < 4 || memcmp(ptr, "PK\3\4", 4) == 0)
		return;
	d->x = calloc(1, sizeof(*d->x));
	if (!d->x)
		return;
	if (pipe2(p, O_CLOEXEC) < 0)
		goto fail;
	(void)fcntl(p[1], F_SETPIPE_SZ, 1024 * 1024);
	if (mkdir("tree", 0755) < 0 || chdir("tree") < 0) {
		close(p[0]);
		close(p[1]);
		goto fail;
	}
	d->x->fd = p[0];
	d->x->lim = &d->lim;
	atomic_init(&d->x->done, false);
	if (pthread_create(&d->thread, NULL, stream_extract_thread, d->x) != 0) {
		close(p[0]);
		close(p[1]);
		(void)chdir("..");
		(void)rmdir("tree");
		goto fail;
	}
	d->pipe_w = p[1];
	d->streaming = true;
	return;
fail:
	free(d->x);
	d->x = NULL;
}

/* Feed the extraction thread. Returns false when the transfer must stop (extraction failed). */
static bool stream_feed(struct dl *d, const char *ptr, size_t n)
{
	size_t off = 0;

	if (!d->streaming || d->stream_closed)
		return true;
	while (off < n) {
		ssize_t k = write(d->pipe_w, ptr + off, n - off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			/* EPIPE: the extractor is done; a failure stops the download, a success (trailing
			 * padding after the end of the archive) just means the rest is only hashed */
			d->stream_closed = true;
			close(d->pipe_w);
			d->pipe_w = -1;
			pthread_join(d->thread, NULL);
			d->streaming = false;
			if (d->x->r < 0) {
				d->extract_failed = true;
				return false;
			}
			return true;
		}
		off += (size_t)k;
	}
	return true;
}

/* End the streaming extraction (also after failures). Returns the extraction result or 1 when
 * nothing was streamed. */
static int stream_finish(struct dl *d)
{
	int r;

	if (!d->x)
		return 1;
	if (d->stream_finished)
		return d->x->r;
	d->stream_finished = true;
	if (d->pipe_w >= 0) {
		close(d->pipe_w);
		d->pipe_w = -1;
	}
	if (d->streaming)
		pthread_join(d->thread, NULL);
	d->streaming = false;
	if (chdir("..") < 0)
		return -errno;
	r = d->x->r;
	return r;
}

/* Extraction failures that no retry can fix (format, unsafe entry, limits). */
static bool extract_error_is_fatal(int r)
{
	return r == -EPROTONOSUPPORT || r == -EPERM || r == -EFBIG || r == -EBADMSG;
}

static int fail(struct dl *d, bool fatal, int r, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int fail(struct dl *d, bool fatal, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(d->msg, sizeof(d->msg), fmt, ap);
	va_end(ap);
	for (char *p = d->msg; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	d->fatal = fatal;
	return r < 0 ? r : -EIO;
}

/* URL without the query (presigned URLs carry credentials there) and without user:password@ for
 * log lines and messages; control bytes become '?'. */
static void url_for_log(const char *url, char *out, size_t outsz)
{
	const char *scheme_end = strstr(url, "://"), *rest = url;
	size_t o = 0, n;

	if (scheme_end) {
		const char *auth = scheme_end + 3, *at;
		size_t hostpart = strcspn(auth, "/?#");

		at = memchr(auth, '@', hostpart);
		if (at) {
			n = (size_t)(auth - url);
			if (n + 4 < outsz) {
				memcpy(out, url, n);
				memcpy(out + n, "***@", 4);
				o = n + 4;
				rest = at + 1;
			}
		}
	}
	n = strcspn(rest, "?#");
	if (o + n >= outsz)
		n = outsz - o - 1;
	memcpy(out + o, rest, n);
	out[o + n] = '\0';
	for (char *p = out; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f)
			*p = '?';
}

struct host_port {
	const char *host;
	long port;
};

static bool host_item_matches(const char *item, size_t n, const void *ctx)
{
	const struct host_port *hp = ctx;
	char h[256];
	const char *colon = NULL;
	long port = -1;
	size_t hn = n;

	if (n >= sizeof(h))
		return false;
	if (item[0] == '[') {
		const char *rb = memchr(item, ']', n);
		if (!rb)
			return false;
		if ((size_t)(rb - item) + 1 < n && rb[1] == ':')
			colon = rb + 1;
	} else {
		const char *c = memchr(item, ':', n);
		if (c && !memchr(c + 1, ':', n - (size_t)(c - item) - 1))
			colon = c;
	}
	if (colon) {
		uint64_t v = 0;
		const char *q = colon + 1;
		hn = (size_t)(colon - item);
		if (q == item + n)
			return false;
		for (; q < item + n; q++) {
			if (!isdigit((unsigned char)*q) || v > 65535)
				return false;
			v = v * 10 + (uint64_t)(*q - '0');
		}
		port = (long)v;
	}
	memcpy(h, item, hn);
	h[hn] = '\0';
	if (port >= 0 && port != hp->port)
		return false;
	if (h[0] == '*' && h[1] == '.') {
		size_t hl = strlen(hp->host), dl = strlen(h + 1); /* ".domain" */
		return hl > dl && strcasecmp(hp->host + hl - dl, h + 1) == 0;
	}
	return strcasecmp(h, hp->host) == 0;
}

/* Scheme and host rules of §8.3 for an http(s) URL. */
static int check_http_url(struct dl *d, const char *url, bool redirect_from_https)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL, shown[512];
	struct host_port hp;
	int r = 0;

	url_for_log(url, shown, sizeof(shown));
	if (!u)
		return fail(d, false, -ENOMEM, "out of memory");
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK) {
		r = fail(d, true, -EINVAL, "invalid artifact URL '%s'", shown);
		goto out;
	}
	if (strcasecmp(scheme, "http") == 0) {
		if (!d->job->allow_http) {
			r = fail(d, true, -EPERM, "%s URL not allowed (allow_http is off): '%s'",
				 redirect_from_https ? "redirect to http" : "http", shown);
			goto out;
		}
	} else if (strcasecmp(scheme, "https") != 0) {
		r = fail(d, true, -EPERM, "URL scheme not allowed: '%s'", shown);
		goto out;
	}
	hp.host = host;
	hp.port = 0;
	for (const char *q = port; *q; q++)
		hp.port = hp.port * 10 + (*q - '0');
	if (!clist_is_empty(d->job->download_allow_hosts) &&
	    !clist_any(d->job->download_allow_hosts, host_item_matches, &hp)) {
		r = fail(d, true, -EPERM, "artifact host '%s' is not in download_allow_hosts", host);
		goto out;
	}
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return r;
}

/* write(2) all of p; 0 or a negative errno (errno set too). */
static int write_fully(int fd, const void *p, size_t n)
{
	size_t off = 0;

	while (off < n) {
		ssize_t k = write(fd, (const char *)p + off, n - off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		off += (size_t)k;
	}
	return 0;
}

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct dl *d = userdata;
	size_t n = size * nmemb;

	if (n > d->job->max_artifact_bytes || d->bytes > d->job->max_artifact_bytes - n) {
		d->too_big = true;
		return 0;
	}
	if (sha256_update(&d->sha, ptr, n) < 0) {
		d->io_error = true;
		return 0;
	}
	if (write_fully(d->fd, ptr, n) < 0) {
		d->io_error = true;
		errno = errno ? errno : EIO;
		return 0;
	}
	d->bytes += n;
	if (d->stream_allowed && !d->stream_decided)
		stream_maybe_start(d, ptr, n);
	if (!stream_feed(d, ptr, n))
		return 0;
	return n;
}

#define SETOPT(h, opt, val)                                                                                      \
	do {                                                                                                     \
		if (curl_easy_setopt((h), (opt), (val)) != CURLE_OK) {                                           \
			r = fail(d, false, -EINVAL, "cannot set curl option %s", #opt);                         \
			goto out;                                                                                \
		}                                                                                                \
	} while (0)

static int reset_output(struct dl *d)
{
	sha256_release(&d->sha);
	if (ftruncate(d->fd, 0) < 0 || lseek(d->fd, 0, SEEK_SET) < 0)
		return -errno;
	d->bytes = 0;
	d->too_big = d->io_error = false;
	return sha256_init(&d->sha);
}

/* One GET of url into d->fd. Returns 0 with *ret_redirect = malloc'd Location for a 3xx (NULL
 * otherwise), or a negative errno with d->msg set. */
static int fetch_once(struct dl *d, const char *url, bool s3, char **ret_redirect)
{
	const struct download_job *job = d->job;
	CURL *h = NULL;
	struct curl_slist *hdrs = NULL;
	char errbuf[CURL_ERROR_SIZE] = "", shown[512], tok[4096], sigv4[128];
	long code = 0;
	CURLcode cc;
	int r;

	*ret_redirect = NULL;
	url_for_log(url, shown, sizeof(shown));
	r = reset_output(d);
	if (r < 0)
		return fail(d, false, r, "cannot reset artifact file: %s", strerror(-r));
	h = curl_easy_init();
	if (!h)
		return fail(d, false, -ENOMEM, "cannot initialise curl");
	d->curl = h;
	SETOPT(h, CURLOPT_URL, url);
	SETOPT(h, CURLOPT_ERRORBUFFER, errbuf);
	SETOPT(h, CURLOPT_NOSIGNAL, 1L);
	SETOPT(h, CURLOPT_PROTOCOLS_STR, "http,https");
	SETOPT(h, CURLOPT_FOLLOWLOCATION, 0L);
	SETOPT(h, CURLOPT_FAILONERROR, 1L);
	SETOPT(h, CURLOPT_CONNECTTIMEOUT_MS, (long)(job->http_timeout_s * 1000));
	SETOPT(h, CURLOPT_LOW_SPEED_LIMIT, 1024L);
	SETOPT(h, CURLOPT_LOW_SPEED_TIME, (long)job->http_timeout_s);
	SETOPT(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)job->max_artifact_bytes);
	SETOPT(h, CURLOPT_WRITEFUNCTION, on_write);
	SETOPT(h, CURLOPT_WRITEDATA, d);
	SETOPT(h, CURLOPT_USERAGENT, "slipway-agent/" SLIPWAY_VERSION);
	SETOPT(h, CURLOPT_ACCEPT_ENCODING, NULL);
	if (!job->tls_verify) {
		SETOPT(h, CURLOPT_SSL_VERIFYPEER, 0L);
		SETOPT(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (!empty(job->ca_file))
		SETOPT(h, CURLOPT_CAINFO, job->ca_file);
	if (s3) {
		/* S3 wants this header; with it present libcurl 7.88 signs it and uses it as the
		 * payload hash (§8.3). Harmless on unsigned requests. */
		hdrs = curl_slist_append(hdrs, "x-amz-content-sha256: UNSIGNED-PAYLOAD");
		if (!hdrs) {
			r = fail(d, false, -ENOMEM, "out of memory");
			goto out;
		}
	}
	if (s3 && !empty(job->s3_access_key_id) && !empty(job->s3_secret_access_key)) {
		const char *region = empty(job->s3_region) ? "us-east-1" : job->s3_region;
		r = str_printf(sigv4, sizeof(sigv4), "aws:amz:%s:s3", region);
		if (r < 0) {
			r = fail(d, true, r, "invalid s3_region");
			goto out;
		}
		SETOPT(h, CURLOPT_AWS_SIGV4, sigv4);
		SETOPT(h, CURLOPT_USERNAME, job->s3_access_key_id);
		SETOPT(h, CURLOPT_PASSWORD, job->s3_secret_access_key);
		if (!empty(job->s3_session_token)) {
			r = str_printf(tok, sizeof(tok), "x-amz-security-token: %s", job->s3_session_token);
			if (r < 0) {
				r = fail(d, true, r, "s3_session_token too long");
				goto out;
			}
			struct curl_slist *n = curl_slist_append(hdrs, tok);
			if (!n) {
				r = fail(d, false, -ENOMEM, "out of memory");
				goto out;
			}
			hdrs = n;
		}
	}
	if (hdrs)
		SETOPT(h, CURLOPT_HTTPHEADER, hdrs);
	cc = curl_easy_perform(h);
	(void)curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	if (cc != CURLE_OK) {
		if (d->extract_failed) {
			r = fail(d, extract_error_is_fatal(d->x->r), d->x->r, "%s", *d->x->err ? d->x->err : strerror(-d->x->r));
		} else if (cc == CURLE_FILESIZE_EXCEEDED || d->too_big) {
			r = fail(d, true, -EFBIG, "artifact larger than max_artifact_bytes (%llu)",
				 (unsigned long long)job->max_artifact_bytes);
		} else if (d->io_error) {
			r = fail(d, false, -EIO, "cannot write artifact: %s", strerror(errno ? errno : EIO));
		} else if (cc == CURLE_HTTP_RETURNED_ERROR) {
			r = fail(d, false, -EREMOTEIO, "download of '%s' failed: HTTP %ld", shown, code);
		} else if (cc == CURLE_OPERATION_TIMEDOUT) {
			r = fail(d, false, -ETIMEDOUT, "download of '%s' stalled or timed out: %s", shown,
				 *errbuf ? errbuf : curl_easy_strerror(cc));
		} else {
			r = fail(d, false, -EIO, "download of '%s' failed: %s", shown,
				 *errbuf ? errbuf : curl_easy_strerror(cc));
		}
		goto out;
	}
	if (code >= 300 && code < 400) {
		char *loc = NULL;
		if (s3) {
			r = fail(d, false, -EREMOTEIO, "s3 answered HTTP %ld (redirects are not followed for s3)", code);
			goto out;
		}
		(void)curl_easy_getinfo(h, CURLINFO_REDIRECT_URL, &loc);
		if (!loc) {
			r = fail(d, false, -EREMOTEIO, "HTTP %ld without a usable Location from '%s'", code, shown);
			goto out;
		}
		*ret_redirect = strdup(loc);
		if (!*ret_redirect) {
			r = fail(d, false, -ENOMEM, "out of memory");
			goto out;
		}
		r = 0;
		goto out;
	}
	if (code < 200 || code >= 300) {
		r = fail(d, false, -EREMOTEIO, "download of '%s' failed: HTTP %ld", shown, code);
		goto out;
	}
	r = sha256_final_hex(&d->sha, d->sha256);
	if (r < 0)
		r = fail(d, false, r, "sha256 failed");
out:
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	d->curl = NULL;
	return r;
}

static int fetch_http(struct dl *d, const char *first_url, bool s3)
{
	char *url = strdup(first_url), *next = NULL;
	bool https;
	int r = 0;

	if (!url)
		return fail(d, false, -ENOMEM, "out of memory");
	for (int hop = 0;; hop++) {
		https = startswith(url, "https://") || startswith(url, "HTTPS://");
		r = fetch_once(d, url, s3, &next);
		if (r < 0 || !next)
			break;
		if (hop >= MAX_REDIRECTS) {
			r = fail(d, false, -ELOOP, "too many redirects (more than %d)", MAX_REDIRECTS);
			break;
		}
		r = check_http_url(d, next, https);
		if (r < 0)
			break;
		free(url);
		url = next;
		next = NULL;
	}
	free(next);
	free(url);
	return r;
}

/* file:// — parse, refuse unless download_allow_file_dirs holds the file (realpath: no ".." or
 * symlink escape), open it. */
static int open_file_url(struct dl *d, const char *url, char *real, size_t realsz, int *ret_fd)
{
	CURLU *u = curl_url();
	char *host = NULL, *path = NULL, shown[512];
	struct stat st;
	int fd = -1, r;

	url_for_log(url, shown, sizeof(shown));
	if (!u)
		return fail(d, false, -ENOMEM, "out of memory");
	if (curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PATH, &path, CURLU_URLDECODE) != CURLUE_OK) {
		r = fail(d, true, -EINVAL, "invalid file URL '%s'", shown);
		goto out;
	}
	if (curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && *host && strcasecmp(host, "localhost") != 0) {
		r = fail(d, true, -EINVAL, "file URL with a remote host: '%s'", shown);
		goto out;
	}
	if (path[0] != '/' || strlen(path) != strcspn(path, "\0") || realsz < PATH_MAX) {
		r = fail(d, true, -EINVAL, "invalid file URL '%s'", shown);
		goto out;
	}
	if (clist_is_empty(d->job->download_allow_file_dirs)) {
		r = fail(d, true, -EPERM, "file:// artifacts are not allowed on this host (download_allow_file_dirs is empty): '%s'",
			 shown);
		goto out;
	}
	if (!realpath(path, real)) {
		r = -errno;
		r = fail(d, false, r, "cannot resolve '%s': %s", shown, strerror(-r));
		goto out;
	}
	if (!path_real_is_inside_any(real, d->job->download_allow_file_dirs)) {
		r = fail(d, true, -EPERM, "file artifact '%s' is not under download_allow_file_dirs", real);
		goto out;
	}
	fd = open(real, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		r = fail(d, false, r, "cannot open '%s': %s", real, strerror(-r));
		goto out;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		r = fail(d, true, -EINVAL, "file artifact '%s' is not a regular file", real);
		goto out;
	}
	if ((uint64_t)st.st_size > d->job->max_artifact_bytes) {
		r = fail(d, true, -EFBIG, "artifact larger than max_artifact_bytes (%llu)",
			 (unsigned long long)d->job->max_artifact_bytes);
		goto out;
	}
	*ret_fd = fd;
	fd = -1;
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	curl_free(host);
	curl_free(path);
	curl_url_cleanup(u);
	return r;
}

/* Read a file:// artifact once, hashing it; with copy_fd >= 0 also write it there (the private copy
 * that is verified and then extracted, so a file changed in place after the check is never used). */
static int read_file_artifact(struct dl *d, int fd, const char *real, int copy_fd)
{
	int r = sha256_init(&d->sha);

	if (r < 0)
		return fail(d, false, r, "sha256 failed");
	for (;;) {
		char buf[128 * 1024];
		ssize_t k = read(fd, buf, sizeof(buf));
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			r = -errno;
			return fail(d, false, r, "cannot read '%s': %s", real, strerror(-r));
		}
		if (k == 0)
			break;
		d->bytes += (uint64_t)k;
		if (d->bytes > d->job->max_artifact_bytes)
			return fail(d, true, -EFBIG, "artifact larger than max_artifact_bytes (%llu)",
				    (unsigned long long)d->job->max_artifact_bytes);
		(void)sha256_update(&d->sha, buf, (size_t)k);
		if (copy_fd >= 0 && (r = write_fully(copy_fd, buf, (size_t)k)) < 0)
			return fail(d, false, r, "cannot write artifact: %s", strerror(-r));
	}
	r = sha256_final_hex(&d->sha, d->sha256);
	return r < 0 ? fail(d, false, r, "sha256 failed") : 0;
}

static int verify_one(const unsigned char *msg, size_t len, const unsigned char sig[64], const char *key_b64)
{
	unsigned char raw[64];
	size_t rawlen = 0;
	EVP_PKEY *pk = NULL;
	EVP_MD_CTX *ctx = NULL;
	int r = -EBADMSG;

	if (base64_decode(key_b64, raw, sizeof(raw), &rawlen) < 0 || rawlen != 32)
		return -EINVAL;
	pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, raw, 32);
	ctx = EVP_MD_CTX_new();
	if (!pk || !ctx) {
		r = -ENOMEM;
		goto out;
	}
	if (EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pk) != 1)
		goto out;
	if (EVP_DigestVerify(ctx, sig, 64, msg, len) == 1)
		r = 0;
out:
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(pk);
	return r;
}

struct verify_ctx {
	const unsigned char *msg;
	size_t len;
	const unsigned char *sig;
	char *found;
	size_t foundsz;
};

static bool key_item_verifies(const char *item, size_t n, const void *c)
{
	const struct verify_ctx *v = c;
	char key[SIGNING_KEY_B64_MAX + 1];

	if (n > SIGNING_KEY_B64_MAX)
		return false;
	memcpy(key, item, n);
	key[n] = '\0';
	if (verify_one(v->msg, v->len, v->sig, key) < 0)
		return false;
	return str_copy(v->found, v->foundsz, key) == 0;
}

/* §8.4 signature over the complete artifact (fd at any position). */
static int verify_signature(struct dl *d, int fd)
{
	const struct download_job *job = d->job;
	struct build_verify v = { .signing_key = job->signing_key, .trusted_signing_keys = job->trusted_signing_keys };
	const char *key;
	bool any;
	unsigned char sig[96];
	size_t siglen = 0;
	struct stat st;
	void *map = NULL;
	const unsigned char *msg = (const unsigned char *)"";
	int r;

	r = download_select_key(&v, &key, &any);
	if (r < 0)
		return fail(d, true, r, "server signing key not trusted on this host");
	if (!key && !any)
		return 0;
	if (empty(job->signature))
		return fail(d, true, -EPERM, "artifact signature required but the build has none");
	if (base64_decode(job->signature, sig, sizeof(sig), &siglen) < 0 || siglen != 64)
		return fail(d, true, -EPERM, "artifact signature is not 64 bytes of base64");
	if (fstat(fd, &st) < 0)
		return fail(d, false, -errno, "cannot stat artifact: %s", strerror(errno));
	if (st.st_size > 0) {
		map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (map == MAP_FAILED)
			return fail(d, false, -errno, "cannot map artifact: %s", strerror(errno));
		msg = map;
	}
	if (key) {
		r = verify_one(msg, (size_t)st.st_size, sig, key);
		if (r == -EINVAL)
			r = fail(d, true, -EPERM, "signing key is not a base64 Ed25519 public key");
		else if (r < 0)
			r = fail(d, true, -EPERM, "artifact signature invalid");
		else
			r = str_copy(d->key_used, sizeof(d->key_used), key);
	} else {
		struct verify_ctx c = { msg, (size_t)st.st_size, sig, d->key_used, sizeof(d->key_used) };
		r = clist_any(job->trusted_signing_keys, key_item_verifies, &c)
			    ? 0
			    : fail(d, true, -EPERM, "artifact signature invalid (no trusted key verifies it)");
	}
	if (map)
		munmap(map, (size_t)st.st_size);
	return r;
}

/* Does this job check the artifact's content (sha256 or signature)? Then nothing is extracted before
 * the whole artifact is in the private ./artifact file and has passed (§8.1 steps 5-7). An untrusted
 * goal key counts: verify_signature() refuses it later. */
static bool job_verifies(const struct download_job *job)
{
	struct build_verify v = { .signing_key = job->signing_key, .trusted_signing_keys = job->trusted_signing_keys };
	const char *key = NULL;
	bool any = false;

	if (!empty(job->expected_sha256))
		return true;
	return download_select_key(&v, &key, &any) < 0 || key || any;
}

static int create_artifact_file(struct dl *d)
{
	int fd = open("artifact", O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);

	if (fd < 0)
		return fail(d, false, -errno, "cannot create artifact file: %s", strerror(errno));
	d->fd = fd;
	return fd;
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
		r = read_file_artifact(d, src, real, -1);
		if (r < 0)
			close(src);
		else
			*ret_fd = src;
		return r;
	}
	log_info("copying artifact '%s' to verify it", real);
	r = create_artifact_file(d);
	if (r >= 0)
		r = read_file_artifact(d, src, real, d->fd);
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
			r = fail(d, true, -EINVAL, "invalid s3 URL '%s'", shown);
			goto out;
		}
		if (!clist_is_empty(job->download_allow_s3_buckets) &&
		    !clist_contains(job->download_allow_s3_buckets, bucket)) {
			r = fail(d, true, -EPERM, "s3 bucket '%s' is not in download_allow_s3_buckets", bucket);
			goto out;
		}
		r = s3_build_url(bucket, key, job->s3_region, job->s3_endpoint, job->s3_path_style, &s3url);
		if (r < 0) {
			r = fail(d, true, -EINVAL, "cannot build the s3 URL (check s3_region/s3_endpoint)");
			goto out;
		}
		url = s3url.p;
	} else if ((r = check_http_url(d, job->url, false)) < 0)
		goto out;
	if ((r = create_artifact_file(d)) < 0)
		goto out;
	*ret_fd = d->fd;
	d->stream_allowed = !verify;
	log_info("downloading artifact '%s'%s%s", shown, s3 ? " from s3" : "",
		 verify ? " (verified before extraction)" : "");
	r = fetch_http(d, url, s3);
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
	if (!empty(job->expected_sha256) && strcasecmp(job->expected_sha256, d->sha256) != 0)
		return fail(d, true, -EBADMSG, "sha256 mismatch: expected %.64s, got %s", job->expected_sha256,
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
		return fail(d, false, -errno, "cannot rewind artifact: %s", strerror(errno));
	if (mkdir("tree", 0755) < 0 || chdir("tree") < 0)
		return fail(d, false, -errno, "cannot create tree directory: %s", strerror(errno));
	r = extract_archive_fd(fd, &d->lim, ret_entries, ret_bytes, xerr, sizeof(xerr));
	if (chdir("..") < 0 && r == 0)
		r = -errno;
	if (r < 0)
		return fail(d, extract_error_is_fatal(r), r, "%s", *xerr ? xerr : strerror(-r));
	return 0;
}

static int run_job(struct dl *d)
{
	const struct download_job *job = d->job;
	bool in_place = startswith(job->url, "file://"), verify = job_verifies(job), streamed = false;
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
			r = fail(d, extract_error_is_fatal(xr), xr, "%s", *d->x->err ? d->x->err : strerror(-xr));
			goto out;
		}
	} else if ((r = extract_artifact(d, fd, &entries, &xbytes)) < 0)
		goto out;
	log_info("extracted %llu entries, %llu bytes%s", (unsigned long long)entries, (unsigned long long)xbytes,
		 streamed ? " while downloading" : "");
	if (!in_place)
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

int download_helper_main(void)
{
	struct download_job job;
	struct dl d = { .fd = -1, .pipe_w = -1 };
	char *input = NULL;
	json_t *j = NULL;
	size_t len = 0;
	int r;

	d.job = &job;
	signal(SIGPIPE, SIG_IGN);
	r = read_stdin(&input, &len);
	if (r < 0) {
		download_job_init(&job);
		r = fail(&d, true, r, "cannot read the download job: %s", strerror(-r));
		goto out;
	}
	if (json_parse_bounded(input, len, &j, NULL, 0) < 0 || download_job_from_json(j, &job) < 0) {
		download_job_init(&job);
		r = fail(&d, true, -EINVAL, "invalid download job");
		goto out;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		r = fail(&d, false, -EIO, "cannot initialise curl");
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
	free(input);
	if (r >= 0)
		return DOWNLOAD_EXIT_OK;
	return d.fatal ? DOWNLOAD_EXIT_FATAL : DOWNLOAD_EXIT_TRANSIENT;
}
