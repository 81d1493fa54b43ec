/* SPDX-License-Identifier: Apache-2.0 */
/* agent/config.h: the agent's configuration (AGENT.md §2): the key table with ranges, loading in warning
 * mode, --help/--check-config output, and the per-goal agentConfigs whitelist. Logs only the warnings the
 * spec asks for (unknown/repeated keys, world-readable token file, ignored overrides). */
#ifndef SLIPWAY_AGENT_CONFIG_H
#define SLIPWAY_AGENT_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "identity.h"

struct agent_config {
	char *server_url;
	char *token;
	char *token_file;
	char *state_dir;
	char *builds_dir;
	char *log_dir;
	uint64_t log_max_bytes;
	char *target_dir;
	char *allowed_target_roots;
	int64_t keep_builds;
	int64_t ping_interval_s;
	bool long_poll;
	int64_t long_poll_wait_s;
	int64_t http_timeout_s;
	bool tls_verify;
	char *ca_file;
	int64_t heartbeat_interval_s;
	int64_t process_timeout_s;
	int64_t termination_timeout_s;
	int64_t max_retry;
	int64_t backoff_s;
	int64_t backoff_factor;
	int64_t backoff_max_s;
	int64_t max_tail_bytes;
	char *run_as;
	bool allow_http;
	char *download_allow_hosts;
	char *download_allow_s3_buckets;
	char *download_allow_file_dirs;
	uint64_t max_artifact_bytes;
	uint64_t max_extracted_bytes;
	int64_t max_archive_entries;
	char *trusted_signing_keys;
	char *s3_access_key_id;
	char *s3_secret_access_key;
	char *s3_session_token;
	char *s3_region;
	char *s3_endpoint;
	bool s3_path_style;
	char *host_info_file;
	char *host_id;
	char *host_name;
	char *host_ip;
	char *groups;
	char *availability_zone;
	char *autoscaling_group;
	char *stage_type;
	char *account_id;
	char *tags;
	char *metrics_file;
	char *log_level;
	char *import_env_status;

	/* derived, not in the table */
	char **server_urls; /* split server_url */
	size_t n_server_urls;
	bool metrics_file_set; /* metrics_file given explicitly (empty then disables) */
	bool upstream_ini;     /* the file was upstream's INI ([default_config]) */
};

/* The limits a step runs with: the configured values, overridden per goal by agentConfigs. */
struct step_limits {
	int64_t process_timeout_s;
	int64_t termination_timeout_s;
	int64_t max_retry;
	int64_t max_tail_bytes;
	int64_t backoff_s;
	int64_t backoff_factor;
	int64_t backoff_max_s;
	int64_t heartbeat_interval_s;
};

/* Apply defaults. 0 or negative errno. */
int agent_config_init(struct agent_config *c);
/* Load path (warning mode). explicit_path: a missing file is an error (-ENOENT); otherwise a missing file
 * leaves the defaults. A file whose first line (comments and blank lines aside) is a [section] header is
 * upstream's INI: its [default_config] keys are mapped to ours (deploy_agent_dir → state_dir, log_directory →
 * log_dir, target_default_dir → target_dir, teletraan_service_url/_token → server_url/token,
 * daemon_sleep_time → ping_interval, num_builds_to_retain → keep_builds, aws_* → s3_*, ...), our own keys
 * are accepted there too, anything else is warned about once and ignored. On error errbuf names file:line.
 * 0 or negative errno. */
int agent_config_load(struct agent_config *c, const char *path, bool explicit_path, char *errbuf, size_t errsize);
/* Set one key from the command line (e.g. --server). 0 or negative errno with errbuf. */
int agent_config_set(struct agent_config *c, const char *key, const char *value, char *errbuf, size_t errsize);
/* Resolve derived values (server URL list, token_file, path defaults that depend on state_dir, env fallbacks
 * for S3). require_server: server_url must be set. 0 or -EINVAL with errbuf. */
int agent_config_finish(struct agent_config *c, bool require_server, char *errbuf, size_t errsize);
void agent_config_release(struct agent_config *c);

/* The identity values set in the config file (borrowed strings). */
void agent_config_identity(const struct agent_config *c, struct identity_source *ret);

/* --help: every key with its default and range. */
void agent_config_print_help(FILE *f);
/* --check-config: the effective values, secrets as ***. */
void agent_config_print(const struct agent_config *c, FILE *f);

/* The step limits for one goal: configured values overridden by agentConfigs (may be NULL) per the
 * whitelist of §2. Ignored keys and bad values are logged as warnings (once per key and call). target (may
 * be NULL) receives the borrowed agentConfigs "target" string, or NULL. */
void agent_config_step_limits(const struct agent_config *c, const json_t *agent_configs, struct step_limits *ret,
			      const char **ret_target);

#endif
