/* SPDX-License-Identifier: Apache-2.0 */
/* agent/download.h: DOWNLOADING (AGENT.md §8): the job handed to the download helper process,
 * the helper itself (§8.1 steps 3, 5, 6, 7), the reuse check (step 2, §8.5) and the move into
 * place (step 8). Independent of the agent's config struct: everything comes in explicitly.
 * Implemented by download.c (the job and the helper), fetch.c (transfers), verify.c (hash and
 * signature) and install.c (markers, reuse, the move into place).
 *
 * Calling sequence (agent side):
 *   1. r = build_check_reuse(env_dir, build_id, &goal_verify);   1 → SUCCEEDED, no download
 *   2. mkdtemp("<builds_dir>/<env>/.tmp-<buildId>-XXXXXX") (0755)
 *   3. json = download_job_to_json(&job); spawn "/proc/self/exe --internal-download" with
 *      cwd = that tmp dir, stdin = a pipe carrying json (then closed), fd 3 = a result pipe,
 *      stdout/stderr = the env log, in its own process group (like a script).
 *   4. exit 0 → parse fd 3 with download_result_parse(), then build_install();
 *      exit 2 → AGENT_FAILED (message from the result, or "download helper failed");
 *      anything else (1, killed, timeout) → a failed attempt, retried (§8.2).
 *      In every failure case the agent removes the tmp dir (download_remove_tree()). */
#ifndef SLIPWAY_AGENT_DOWNLOAD_H
#define SLIPWAY_AGENT_DOWNLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define DOWNLOAD_EXIT_OK 0
#define DOWNLOAD_EXIT_TRANSIENT 1
#define DOWNLOAD_EXIT_FATAL 2
#define DOWNLOAD_RESULT_FD 3
#define DOWNLOAD_MESSAGE_MAX 1024
#define BUILD_ID_MAX 30
#define ENV_NAME_MAX 64
#define SIGNING_KEY_B64_MAX 64 /* a 32-byte key is 44 base64 chars */

/* One download. All strings are borrowed (the caller keeps them alive); NULL or "" = absent.
 * The list fields are the config file's comma-separated lists as written (items trimmed,
 * empties dropped), so the agent can pass its config strings through unchanged. */
struct download_job {
	const char *url;               /* build.artifactUrl */
	const char *expected_sha256;   /* build.artifactSha256 (hex, any case) or NULL */
	const char *signature;         /* build.artifactSignature (base64) or NULL */
	const char *signing_key;       /* the goal's signingKey (base64 Ed25519 public key) or NULL */
	const char *trusted_signing_keys; /* config trusted_signing_keys (comma list) */
	bool allow_http;
	const char *download_allow_hosts;      /* comma list */
	const char *download_allow_s3_buckets; /* comma list */
	const char *download_allow_file_dirs;  /* comma list; empty = file:// refused */
	uint64_t max_artifact_bytes;
	uint64_t max_extracted_bytes;
	uint64_t max_archive_entries;
	int64_t http_timeout_s; /* connect timeout and stall window */
	bool tls_verify;
	const char *ca_file;
	const char *s3_access_key_id; /* already resolved from config or AWS_* env by the agent */
	const char *s3_secret_access_key;
	const char *s3_session_token;
	const char *s3_region; /* NULL → "us-east-1" */
	const char *s3_endpoint;
	bool s3_path_style;
};

/* Sets the config defaults of AGENT.md §2 (4G / 16G / 1000000 / 30 s / tls on, everything else
 * absent). Allocates nothing. */
void download_job_init(struct download_job *job);

/* Serialise for the helper's stdin. Returns a malloc'd NUL-terminated string (caller frees) or
 * NULL on OOM. Secrets travel only through this pipe. Does not log. */
char *download_job_to_json(const struct download_job *job);

/* Parse a job. The strings of *ret borrow from j, which must outlive it. Returns 0 or -EINVAL
 * (missing url, wrong types). Does not log. */
int download_job_from_json(const json_t *j, struct download_job *ret);

/* Helper process entry point for `slipway-agent --internal-download`. Expects cwd = the fresh
 * tmp dir; reads the job JSON from stdin (at most 1 MiB); downloads to ./artifact (created
 * O_EXCL, 0600), verifies size, sha256 and signature, extracts into ./tree (created here).
 * When the job carries expected_sha256 or needs a signature, nothing is extracted before the
 * whole artifact has passed (a file:// artifact is copied to ./artifact first); only without
 * either are tar formats fetched over http(s)/s3 extracted by a thread while they download
 * (zip always after) and file:// artifacts read in place. file:// needs download_allow_file_dirs
 * to hold the file's real path (empty list: refused). Nothing leaves the tmp dir before the
 * agent's build_install(),
 * writes ONE JSON object {"ok": bool, "fatal": bool, "sha256": hex|null, "bytes": n,
 * "signatureKey": base64|null, "message": str|null} to fd 3 (skipped if fd 3 is not open),
 * and logs one-line diagnostics on stderr. Returns the process exit code: DOWNLOAD_EXIT_OK,
 * DOWNLOAD_EXIT_TRANSIENT (network, timeout, stall, HTTP >= 400, truncated body, local I/O) or
 * DOWNLOAD_EXIT_FATAL (policy, sha256, size, signature, format, unsafe entry, limits). */
int download_helper_main(void);
/* The same for one job already read (input: its JSON): cwd, fd 3 and stderr as above. The exit code. */
int download_helper_job(const char *input, size_t len);

/* The helper's verdict as read back by the agent from fd 3. */
struct download_result {
	bool ok;
	bool fatal;
	char sha256[65];                            /* "" when unknown */
	uint64_t bytes;
	char signature_key[SIGNING_KEY_B64_MAX + 1]; /* "" = no signature checked */
	char message[DOWNLOAD_MESSAGE_MAX];          /* one line, "" when none */
};

/* Parse the helper's result JSON. Returns 0, or -EBADMSG for garbage / missing fields. */
int download_result_parse(const char *data, size_t len, struct download_result *ret);

/* What a goal demands of a build (§8.4, §8.5); strings borrowed, NULL/"" = absent. */
struct build_verify {
	const char *expected_sha256;
	const char *signing_key;          /* goal's signingKey */
	const char *trusted_signing_keys; /* config comma list */
};

/* §8.4 key choice. Returns 0 with *ret_key = the key to use (borrowed from v) or NULL when no
 * signature is needed, and *ret_any_trusted = true when any listed key may verify it (then
 * *ret_key is NULL); -EPERM when the goal's key is not in the local list ("server signing key
 * not trusted on this host"). */
int download_select_key(const struct build_verify *v, const char **ret_key, bool *ret_any_trusted);

/* Completion marker <builds_dir>/<env>/<buildId>.extracted (§8.5). */
struct build_marker {
	char build_id[BUILD_ID_MAX + 1];
	char *artifact_url; /* malloc'd; NULL if absent */
	char sha256[65];
	char signature_key[SIGNING_KEY_B64_MAX + 1]; /* "" = null */
	int64_t completed_at_ms;
};
void build_marker_release(struct build_marker *m);
/* Read and validate the marker of build_id in env_dir (path of <builds_dir>/<env>). Returns 0,
 * -ENOENT (no marker), -EBADMSG (invalid JSON or fields, or buildId mismatch). Does not log. */
int build_marker_read(const char *env_dir, const char *build_id, struct build_marker *ret);
/* Same relative to an open env directory fd (retention). */
int build_marker_readat(int env_dir_fd, const char *build_id, struct build_marker *ret);

/* True iff name matches ^[A-Za-z0-9_-]{1,30}$ (buildId, §7.2) / ^[A-Za-z0-9_-]{1,64}$ (env). */
bool build_id_is_valid(const char *name);
bool env_name_is_valid(const char *name);

/* §8.1 step 2: is <env_dir>/<build_id> complete (directory + valid marker) and does the marker
 * satisfy v (§8.5)? Returns 1 (reuse), 0 (download needed), -EINVAL (bad build id), -EPERM
 * (goal key untrusted). Does not log. */
int build_check_reuse(const char *env_dir, const char *build_id, const struct build_verify *v);

struct build_install_params {
	const char *env_dir;  /* <builds_dir>/<env> (absolute) */
	const char *build_id;
	const char *tmp_dir;  /* the helper's cwd, holding tree/ (absolute) */
	const char *artifact_url;
	const char *sha256;        /* from the helper's result */
	const char *signature_key; /* from the helper's result; NULL/"" = none */
};

/* §8.1 step 8 / §8.5: move <tmp>/tree into place. No complete build → delete a stale
 * <buildId> dir, rename. Complete build with the same digest → only rewrite the marker.
 * Complete build with another digest → renameat2(RENAME_EXCHANGE), new marker, old tree to
 * .trash-<buildId>-<random> and deleted. Marker written atomically (0644), env dir fsynced,
 * tmp dir deleted (also on failure). Returns 0 or a negative errno with err filled (one line).
 * Does not log. */
int build_install(const struct build_install_params *p, char *err, size_t errsz);

/* rm -rf path without following symlinks (openat/unlinkat with O_NOFOLLOW). A missing path
 * is fine. Returns 0 or a negative errno. Does not log. */
int download_remove_tree(const char *path);
/* Same for the entry name inside dir_fd. */
int download_remove_treeat(int dir_fd, const char *name);

#endif
