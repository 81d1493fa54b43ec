/* SPDX-License-Identifier: Apache-2.0 */
/* agent/fetch.c: the download helper's transfers (AGENT.md §8.1 steps 3-5, §8.3): the URL policy, libcurl
 * GETs with our own redirect checks and S3 SigV4, file:// artifacts, and extraction by a thread while a
 * tar artifact downloads (only when nothing is to be verified). Runs in the helper process. */
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
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>

#include "buf.h"
#include "download_int.h"
#include "httpclient.h"
#include "log.h"
#include "paths.h"
#include "util.h"
#include "banned.h"

#define MAX_REDIRECTS 5

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
		if (chdir("..") < 0) {
			/* nothing more to undo: the caller fails the download */
		}
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
int stream_finish(struct dl *d)
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

bool dl_extract_error_is_fatal(int r)
{
	return r == -EPROTONOSUPPORT || r == -EPERM || r == -EFBIG || r == -EBADMSG;
}

int dl_fail(struct dl *d, bool fatal, int r, const char *fmt, ...)
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
void url_for_log(const char *url, char *out, size_t outsz)
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
int check_http_url(struct dl *d, const char *url, bool redirect_from_https)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL, shown[512];
	struct host_port hp;
	int r = 0;

	url_for_log(url, shown, sizeof(shown));
	if (!u)
		return dl_fail(d, false, -ENOMEM, "out of memory");
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK) {
		r = dl_fail(d, true, -EINVAL, "invalid artifact URL '%s'", shown);
		goto out;
	}
	if (strcasecmp(scheme, "http") == 0) {
		if (!d->job->allow_http) {
			r = dl_fail(d, true, -EPERM, "%s URL not allowed (allow_http is off): '%s'",
				 redirect_from_https ? "redirect to http" : "http", shown);
			goto out;
		}
	} else if (strcasecmp(scheme, "https") != 0) {
		r = dl_fail(d, true, -EPERM, "URL scheme not allowed: '%s'", shown);
		goto out;
	}
	hp.host = host;
	hp.port = 0;
	for (const char *q = port; *q; q++)
		hp.port = hp.port * 10 + (*q - '0');
	if (!clist_is_empty(d->job->download_allow_hosts) &&
	    !clist_any(d->job->download_allow_hosts, host_item_matches, &hp)) {
		r = dl_fail(d, true, -EPERM, "artifact host '%s' is not in download_allow_hosts", host);
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

int artifact_open(struct dl *d)
{
	int fd = memfd_create("artifact", MFD_CLOEXEC);

	d->fd_in_memory = fd >= 0;
	if (fd < 0)
		fd = open("artifact", O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	d->fd = fd;
	return 0;
}

/* The artifact outgrew memory: copy what it has so far to ./artifact and go on there. */
static int artifact_spill(struct dl *d)
{
	int fd = open("artifact", O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	off_t off = 0;

	if (fd < 0)
		return -errno;
	while ((uint64_t)off < d->bytes) {
		ssize_t k = sendfile(fd, d->fd, &off, d->bytes - (uint64_t)off);
		if (k <= 0 && !(k < 0 && errno == EINTR)) {
			int r = k < 0 ? -errno : -EIO;
			close(fd);
			(void)unlink("artifact");
			return r;
		}
	}
	close(d->fd);
	d->fd = fd;
	d->fd_in_memory = false;
	return 0;
}

int artifact_write(struct dl *d, const void *p, size_t n)
{
	if (d->fd_in_memory && d->bytes + n > ARTIFACT_MEMORY_MAX) {
		int r = artifact_spill(d);
		if (r < 0)
			return r;
	}
	return write_fully(d->fd, p, n);
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
	if (artifact_write(d, ptr, n) < 0) {
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

static int reset_output(struct dl *d)
{
	struct stat st;

	sha256_release(&d->sha);
	/* only a file that holds an earlier attempt's bytes is truncated: on ext4 a truncated file's blocks are
	 * allocated and written out at its close (auto_da_alloc), a third of the cost of writing it */
	if (fstat(d->fd, &st) < 0 || (st.st_size > 0 && ftruncate(d->fd, 0) < 0) || lseek(d->fd, 0, SEEK_SET) < 0)
		return -errno;
	d->bytes = 0;
	d->too_big = d->io_error = false;
	return sha256_init(&d->sha);
}

/* The S3 headers (§8.3): x-amz-content-sha256 always, the session token with credentials. *ret is the
 * list to send (caller frees). 0 or dl_fail(). */
static int s3_headers(struct dl *d, struct curl_slist **ret)
{
	const struct download_job *job = d->job;
	struct curl_slist *hdrs, *n;
	char tok[4096];

	/* S3 wants this header; with it present libcurl 7.88 signs it and uses it as the payload hash.
	 * Harmless on unsigned requests. */
	hdrs = curl_slist_append(NULL, "x-amz-content-sha256: UNSIGNED-PAYLOAD");
	if (!hdrs)
		return dl_fail(d, false, -ENOMEM, "out of memory");
	*ret = hdrs;
	if (str_empty(job->s3_access_key_id) || str_empty(job->s3_secret_access_key) || str_empty(job->s3_session_token))
		return 0;
	if (str_printf(tok, sizeof(tok), "x-amz-security-token: %s", job->s3_session_token) < 0)
		return dl_fail(d, true, -ENAMETOOLONG, "s3_session_token too long");
	n = curl_slist_append(hdrs, tok);
	if (!n)
		return dl_fail(d, false, -ENOMEM, "out of memory");
	*ret = n;
	return 0;
}

#define DOWNLOAD_RECV_BUFFER (256L * 1024)

/* One GET set up by lib/httpclient with our policy (no redirects followed, http(s) only, limits,
 * TLS, the write callback), plus SigV4 for s3 with credentials. hdrs (S3 headers) must outlive the
 * transfer. 0 with *ret (caller cleans up), or dl_fail(). */
static int fetch_setup(struct dl *d, const char *url, bool s3, char *errbuf, struct curl_slist *hdrs, CURL **ret)
{
	const struct download_job *job = d->job;
	struct httpclient_request req = {
		.url = url,
		.headers = hdrs,
		.user_agent = "slipway-agent/" SLIPWAY_VERSION,
		.connect_timeout_ms = (long)(job->http_timeout_s * 1000),
		.low_speed_limit = 1024L,
		.low_speed_time_s = (long)job->http_timeout_s,
		.max_answer_bytes = (curl_off_t)job->max_artifact_bytes,
		.fail_on_error = true,
		.insecure = !job->tls_verify,
		.ca_file = str_empty(job->ca_file) ? NULL : job->ca_file,
		.write_fn = on_write,
		.write_data = d,
	};
	char sigv4[128];
	CURL *h = NULL;
	int r;

	r = httpclient_new(&req, errbuf, &h);
	if (r < 0)
		return dl_fail(d, false, r, "cannot set up the download: %s", strerror(-r));
	/* an artifact is megabytes: a larger receive buffer than curl's 16 KiB takes (and writes and hashes) it in
	 * fewer, larger pieces (a failure to set it only costs system calls) */
	(void)httpclient_setopt(h, CURLOPT_BUFFERSIZE, DOWNLOAD_RECV_BUFFER);
	if (s3 && !str_empty(job->s3_access_key_id) && !str_empty(job->s3_secret_access_key)) {
		const char *region = str_empty(job->s3_region) ? "us-east-1" : job->s3_region;
		if (str_printf(sigv4, sizeof(sigv4), "aws:amz:%s:s3", region) < 0)
			r = dl_fail(d, true, -EINVAL, "invalid s3_region");
		else if (httpclient_setopt(h, CURLOPT_AWS_SIGV4, sigv4) < 0 ||
			 httpclient_setopt(h, CURLOPT_USERNAME, job->s3_access_key_id) < 0 ||
			 httpclient_setopt(h, CURLOPT_PASSWORD, job->s3_secret_access_key) < 0)
			r = dl_fail(d, false, -EINVAL, "cannot set up s3 signing");
	}
	if (r < 0) {
		curl_easy_cleanup(h);
		return r;
	}
	*ret = h;
	return 0;
}

/* The verdict on a transfer that lib/httpclient ended with r (code: the HTTP status). */
static int fetch_failed(struct dl *d, int r, long code, const char *errbuf, const char *shown)
{
	if (d->extract_failed)
		return dl_fail(d, dl_extract_error_is_fatal(d->x->r), d->x->r, "%s",
			       *d->x->err ? d->x->err : strerror(-d->x->r));
	if (d->io_error)
		return dl_fail(d, false, -EIO, "cannot write artifact: %s", strerror(errno ? errno : EIO));
	if (r == -EMSGSIZE || d->too_big)
		return dl_fail(d, true, -EFBIG, "artifact larger than max_artifact_bytes (%llu)",
			       (unsigned long long)d->job->max_artifact_bytes);
	if (r == -EREMOTEIO)
		return dl_fail(d, false, -EREMOTEIO, "download of '%s' failed: HTTP %ld", shown, code);
	if (r == -ETIMEDOUT)
		return dl_fail(d, false, -ETIMEDOUT, "download of '%s' stalled or timed out: %s", shown, errbuf);
	return dl_fail(d, false, r, "download of '%s' failed: %s", shown, errbuf);
}

/* A 3xx answer: its Location for the caller to check (never followed for s3). */
static int fetch_redirect(struct dl *d, CURL *h, bool s3, long code, const char *shown, char **ret_redirect)
{
	char *loc = NULL;

	if (s3)
		return dl_fail(d, false, -EREMOTEIO, "s3 answered HTTP %ld (redirects are not followed for s3)", code);
	(void)curl_easy_getinfo(h, CURLINFO_REDIRECT_URL, &loc);
	if (!loc)
		return dl_fail(d, false, -EREMOTEIO, "HTTP %ld without a usable Location from '%s'", code, shown);
	*ret_redirect = strdup(loc);
	return *ret_redirect ? 0 : dl_fail(d, false, -ENOMEM, "out of memory");
}

/* One GET of url into d->fd. Returns 0 with *ret_redirect = malloc'd Location for a 3xx (NULL
 * otherwise), or a negative errno with d->msg set. */
static int fetch_once(struct dl *d, const char *url, bool s3, char **ret_redirect)
{
	CURL *h = NULL;
	struct curl_slist *hdrs = NULL;
	char errbuf[CURL_ERROR_SIZE] = "", shown[512];
	long code = 0;
	int r;

	*ret_redirect = NULL;
	url_for_log(url, shown, sizeof(shown));
	r = reset_output(d);
	if (r < 0)
		return dl_fail(d, false, r, "cannot reset artifact file: %s", strerror(-r));
	r = s3 ? s3_headers(d, &hdrs) : 0;
	if (r == 0)
		r = fetch_setup(d, url, s3, errbuf, hdrs, &h);
	if (r < 0)
		goto out;
	d->curl = h;
	r = httpclient_perform(h, errbuf, &code);
	if (r < 0) {
		(void)curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
		r = fetch_failed(d, r, code, errbuf, shown);
	} else if (code >= 300 && code < 400)
		r = fetch_redirect(d, h, s3, code, shown, ret_redirect);
	else if (code < 200 || code >= 300)
		r = dl_fail(d, false, -EREMOTEIO, "download of '%s' failed: HTTP %ld", shown, code);
	else if ((r = sha256_final_hex(&d->sha, d->sha256)) < 0)
		r = dl_fail(d, false, r, "sha256 failed");
out:
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	d->curl = NULL;
	return r;
}

int fetch_http(struct dl *d, const char *first_url, bool s3)
{
	char *url = strdup(first_url), *next = NULL;
	bool https;
	int r = 0;

	if (!url)
		return dl_fail(d, false, -ENOMEM, "out of memory");
	for (int hop = 0;; hop++) {
		https = startswith(url, "https://") || startswith(url, "HTTPS://");
		r = fetch_once(d, url, s3, &next);
		if (r < 0 || !next)
			break;
		if (hop >= MAX_REDIRECTS) {
			r = dl_fail(d, false, -ELOOP, "too many redirects (more than %d)", MAX_REDIRECTS);
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
int open_file_url(struct dl *d, const char *url, char *real, size_t realsz, int *ret_fd)
{
	CURLU *u = curl_url();
	char *host = NULL, *path = NULL, shown[512];
	struct stat st;
	int fd = -1, r;

	url_for_log(url, shown, sizeof(shown));
	if (!u)
		return dl_fail(d, false, -ENOMEM, "out of memory");
	if (curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PATH, &path, CURLU_URLDECODE) != CURLUE_OK) {
		r = dl_fail(d, true, -EINVAL, "invalid file URL '%s'", shown);
		goto out;
	}
	if (curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && *host && strcasecmp(host, "localhost") != 0) {
		r = dl_fail(d, true, -EINVAL, "file URL with a remote host: '%s'", shown);
		goto out;
	}
	if (path[0] != '/' || strlen(path) != strcspn(path, "\0") || realsz < PATH_MAX) {
		r = dl_fail(d, true, -EINVAL, "invalid file URL '%s'", shown);
		goto out;
	}
	if (clist_is_empty(d->job->download_allow_file_dirs)) {
		r = dl_fail(d, true, -EPERM, "file:// artifacts are not allowed on this host (download_allow_file_dirs is empty): '%s'",
			 shown);
		goto out;
	}
	if (!realpath(path, real)) {
		r = -errno;
		r = dl_fail(d, false, r, "cannot resolve '%s': %s", shown, strerror(-r));
		goto out;
	}
	if (!path_real_is_inside_any(real, d->job->download_allow_file_dirs)) {
		r = dl_fail(d, true, -EPERM, "file artifact '%s' is not under download_allow_file_dirs", real);
		goto out;
	}
	fd = open(real, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		r = dl_fail(d, false, r, "cannot open '%s': %s", real, strerror(-r));
		goto out;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		r = dl_fail(d, true, -EINVAL, "file artifact '%s' is not a regular file", real);
		goto out;
	}
	if ((uint64_t)st.st_size > d->job->max_artifact_bytes) {
		r = dl_fail(d, true, -EFBIG, "artifact larger than max_artifact_bytes (%llu)",
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
int read_file_artifact(struct dl *d, int fd, const char *real, bool copy)
{
	int r = sha256_init(&d->sha);

	if (r < 0)
		return dl_fail(d, false, r, "sha256 failed");
	for (;;) {
		char buf[128 * 1024];
		ssize_t k = read(fd, buf, sizeof(buf));
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			r = -errno;
			return dl_fail(d, false, r, "cannot read '%s': %s", real, strerror(-r));
		}
		if (k == 0)
			break;
		if (d->bytes + (uint64_t)k > d->job->max_artifact_bytes)
			return dl_fail(d, true, -EFBIG, "artifact larger than max_artifact_bytes (%llu)",
				    (unsigned long long)d->job->max_artifact_bytes);
		(void)sha256_update(&d->sha, buf, (size_t)k);
		if (copy && (r = artifact_write(d, buf, (size_t)k)) < 0)
			return dl_fail(d, false, r, "cannot write artifact: %s", strerror(-r));
		d->bytes += (uint64_t)k;
	}
	r = sha256_final_hex(&d->sha, d->sha256);
	return r < 0 ? dl_fail(d, false, r, "sha256 failed") : 0;
}

