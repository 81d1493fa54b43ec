/* SPDX-License-Identifier: Apache-2.0 */
/* agent/download_int.h: the download helper's inside, shared by its parts: download.c (the job and the
 * helper's steps), fetch.c (http(s), s3 and file:// transfers, with extraction while downloading),
 * verify.c (sha256 and Ed25519) and install.c (markers, reuse, the move into place). Not for other
 * modules: they use download.h. */
#ifndef SLIPWAY_AGENT_DOWNLOAD_INT_H
#define SLIPWAY_AGENT_DOWNLOAD_INT_H

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "download.h"
#include "extract.h"
#include "hash.h"

static inline bool str_empty(const char *s)
{
	return !s || !*s;
}

/* The helper's state: one job, its verdict, and the transfer in progress. */
struct dl {
	const struct download_job *job;
	char msg[DOWNLOAD_MESSAGE_MAX];
	bool fatal;
	/* current transfer */
	int fd;
	bool fd_in_memory; /* fd is the artifact's memory file, not ./artifact (artifact_write) */
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


/* Set the verdict's message (one line) and whether it is fatal; returns r (or -EIO when r >= 0). */
int dl_fail(struct dl *d, bool fatal, int r, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Extraction failures that no retry can fix (format, unsafe entry, limits). */
bool dl_extract_error_is_fatal(int r);
/* url without the query and without user:password@, control bytes as '?', for logs and messages. */
void url_for_log(const char *url, char *out, size_t outsz);

/* fetch.c */
/* §8.3 scheme and host rules of an http(s) URL (the first one or a redirect's target). 0 or dl_fail(). */
int check_http_url(struct dl *d, const char *url, bool redirect_from_https);
/* GET first_url into d->fd (hashing into d->sha256, at most MAX_REDIRECTS checked redirects; none for
 * s3), extracting into ./tree while it downloads when d->stream_allowed. 0 or dl_fail(). */
int fetch_http(struct dl *d, const char *first_url, bool s3);
/* End a streaming extraction (also after failures): its result, or 1 when nothing was streamed. */
int stream_finish(struct dl *d);
/* file://: refuse unless download_allow_file_dirs holds the file's real path (written to real), open
 * it (*ret_fd). 0 or dl_fail(). */
int open_file_url(struct dl *d, const char *url, char *real, size_t realsz, int *ret_fd);
/* Read the opened file:// artifact once, hashing it; with copy also into the private copy (artifact_write). */
int read_file_artifact(struct dl *d, int fd, const char *real, bool copy);
/* The private copy of an artifact that is verified before it is extracted: a memory file (memfd) while it is
 * small, so a typical build costs no file that is created on disk, written, read back and deleted; moved to
 * ./artifact (0600, in the job's private directory) as soon as it outgrows ARTIFACT_MEMORY_MAX, so a large
 * artifact never sits in memory. artifact_open sets d->fd; artifact_write appends n bytes after the d->bytes
 * already written (d->fd may change). 0 or a negative errno. */
#define ARTIFACT_MEMORY_MAX (16ULL << 20)
int artifact_open(struct dl *d);
int artifact_write(struct dl *d, const void *p, size_t n);

/* verify.c */
/* Does the job check the artifact's content (sha256, or a signature is needed or the goal's key is
 * untrusted)? Then nothing is extracted before the whole artifact has passed. */
bool download_job_verifies(const struct download_job *job);
/* §8.4: the signature over the complete artifact in fd (any position); d->key_used gets the key. */
int verify_signature(struct dl *d, int fd);

#endif
