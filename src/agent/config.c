/* SPDX-License-Identifier: Apache-2.0 */
/* agent/config.c: the agent's key table (AGENT.md §2). The bounds are part of each row; the same rows
 * validate the server's per-goal agentConfigs overrides. */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "cfg.h"
#include "config.h"
#include "fs.h"
#include "log.h"
#include "parse.h"
#include "paths.h"
#include "util.h"
#include "banned.h"

#define OFF(f) offsetof(struct agent_config, f)
#define GIB (1024LL * 1024 * 1024)

static const struct cfg_entry agent_table[] = {
	{ "server_url", CFG_STRING, 0, 0, NULL, OFF(server_url), "base URL(s) of the deploy service, comma-separated (required)" },
	{ "token", CFG_STRING, 0, 0, NULL, OFF(token), "token sent as 'Authorization: token <t>'" },
	{ "token_file", CFG_STRING, 0, 0, NULL, OFF(token_file), "file whose first line is the token (wins over token)" },
	{ "state_dir", CFG_STRING, 0, 0, "/var/lib/slipway/agent", OFF(state_dir), "state file, lock, host_info, metrics" },
	{ "builds_dir", CFG_STRING, 0, 0, "/var/lib/slipway/builds", OFF(builds_dir), "downloaded builds, one directory per env" },
	{ "log_dir", CFG_STRING, 0, 0, "/var/log/slipway", OFF(log_dir), "<env>.log per env" },
	{ "log_max_bytes", CFG_SIZE, 4096, 1024 * GIB, "10M", OFF(log_max_bytes), "rotate an env log above this size" },
	{ "target_dir", CFG_STRING, 0, 0, "/var/lib/slipway/current", OFF(target_dir), "TARGET symlinks live here" },
	{ "allowed_target_roots", CFG_STRING, 0, 0, NULL, OFF(allowed_target_roots), "more directories a server-sent TARGET may be under, comma-separated absolute paths" },
	{ "keep_builds", CFG_INT, 1, 100, "3", OFF(keep_builds), "complete builds kept per env" },
	{ "ping_interval", CFG_SECONDS, 1, 3600, "30", OFF(ping_interval_s), "seconds between idle pings when polling" },
	{ "long_poll", CFG_BOOL, 0, 0, "true", OFF(long_poll), "ask the server to hold idle pings" },
	{ "long_poll_wait", CFG_SECONDS, 1, 60, "25", OFF(long_poll_wait_s), "the wait value of an idle ping" },
	{ "http_timeout", CFG_SECONDS, 1, 3600, "30", OFF(http_timeout_s), "total time of one ping; download connect/stall window" },
	{ "tls_verify", CFG_BOOL, 0, 0, "true", OFF(tls_verify), "verify TLS certificates" },
	{ "ca_file", CFG_STRING, 0, 0, NULL, OFF(ca_file), "extra CA bundle (PEM)" },
	{ "heartbeat_interval", CFG_SECONDS, 1, 3600, "60", OFF(heartbeat_interval_s), "report at least this often while a step runs" },
	{ "process_timeout", CFG_SECONDS, 1, 86400, "1800", OFF(process_timeout_s), "per-attempt limit of a step" },
	{ "termination_timeout", CFG_SECONDS, 1, 3600, "30", OFF(termination_timeout_s), "grace between SIGTERM and SIGKILL" },
	{ "max_retry", CFG_INT, 1, 100, "3", OFF(max_retry), "attempts per step, including the first" },
	{ "backoff", CFG_SECONDS, 0, 3600, "2", OFF(backoff_s), "first wait before a retry" },
	{ "backoff_factor", CFG_INT, 1, 10, "2", OFF(backoff_factor), "multiplier per further retry" },
	{ "backoff_max", CFG_SECONDS, 1, 3600, "60", OFF(backoff_max_s), "cap of a retry wait and of the ping-failure backoff" },
	{ "max_tail_bytes", CFG_INT, 256, 65536, "10240", OFF(max_tail_bytes), "size of the output tail sent as errorMessage" },
	{ "run_as", CFG_STRING, 0, 0, NULL, OFF(run_as), "user that scripts run as (empty = the agent's user)" },
	{ "allow_http", CFG_BOOL, 0, 0, "false", OFF(allow_http), "allow plain http:// artifact URLs" },
	{ "download_allow_hosts", CFG_STRING, 0, 0, NULL, OFF(download_allow_hosts), "allowed artifact hosts (empty = any)" },
	{ "download_allow_s3_buckets", CFG_STRING, 0, 0, NULL, OFF(download_allow_s3_buckets), "allowed S3 buckets (empty = any)" },
	{ "download_allow_file_dirs", CFG_STRING, 0, 0, NULL, OFF(download_allow_file_dirs), "directories file:// artifacts may come from, comma-separated absolute paths (empty = refuse file://)" },
	{ "max_artifact_bytes", CFG_SIZE, 1, 1024 * GIB, "4G", OFF(max_artifact_bytes), "largest artifact accepted" },
	{ "max_extracted_bytes", CFG_SIZE, 1, 4096 * GIB, "16G", OFF(max_extracted_bytes), "largest total extracted size" },
	{ "max_archive_entries", CFG_INT, 1, 100000000, "1000000", OFF(max_archive_entries), "most entries in one archive" },
	{ "trusted_signing_keys", CFG_STRING, 0, 0, NULL, OFF(trusted_signing_keys), "base64 Ed25519 keys; when set every build must be signed" },
	{ "s3_access_key_id", CFG_STRING, 0, 0, NULL, OFF(s3_access_key_id), "S3 key id (else AWS_ACCESS_KEY_ID)" },
	{ "s3_secret_access_key", CFG_STRING, 0, 0, NULL, OFF(s3_secret_access_key), "S3 secret (else AWS_SECRET_ACCESS_KEY)" },
	{ "s3_session_token", CFG_STRING, 0, 0, NULL, OFF(s3_session_token), "S3 session token (else AWS_SESSION_TOKEN)" },
	{ "s3_region", CFG_STRING, 0, 0, NULL, OFF(s3_region), "SigV4 region (else AWS_REGION or us-east-1)" },
	{ "s3_endpoint", CFG_STRING, 0, 0, NULL, OFF(s3_endpoint), "custom S3 endpoint (path-style)" },
	{ "s3_path_style", CFG_BOOL, 0, 0, "false", OFF(s3_path_style), "force path-style S3 URLs" },
	{ "host_info_file", CFG_STRING, 0, 0, NULL, OFF(host_info_file), "identity file (default <state_dir>/host_info)" },
	{ "host_id", CFG_STRING, 0, 0, NULL, OFF(host_id), "host id" },
	{ "host_name", CFG_STRING, 0, 0, NULL, OFF(host_name), "host name" },
	{ "host_ip", CFG_STRING, 0, 0, NULL, OFF(host_ip), "host IP" },
	{ "groups", CFG_STRING, 0, 0, NULL, OFF(groups), "host groups, comma-separated" },
	{ "availability_zone", CFG_STRING, 0, 0, NULL, OFF(availability_zone), "availability zone" },
	{ "autoscaling_group", CFG_STRING, 0, 0, NULL, OFF(autoscaling_group), "autoscaling group" },
	{ "stage_type", CFG_STRING, 0, 0, NULL, OFF(stage_type), "stage type hint" },
	{ "account_id", CFG_STRING, 0, 0, NULL, OFF(account_id), "account id" },
	{ "tags", CFG_STRING, 0, 0, NULL, OFF(tags), "host tags sent as ec2Tags: key=value,key=value (host_info tag.<key>=<value> lines add more)" },
	{ "metrics_file", CFG_STRING, 0, 0, NULL, OFF(metrics_file), "node_exporter textfile (default <state_dir>/slipway_agent.prom; empty disables)" },
	{ "log_level", CFG_STRING, 0, 0, "info", OFF(log_level), "debug, info, warn, error" },
	{ "import_env_status", CFG_STRING, 0, 0, NULL, OFF(import_env_status), "upstream env_status file to import once" },
};

/* agentConfigs keys a goal may override (§2), with the config row that bounds them */
static const struct {
	const char *key;
	size_t offset; /* in struct step_limits */
} override_keys[] = {
	{ "process_timeout", offsetof(struct step_limits, process_timeout_s) },
	{ "termination_timeout", offsetof(struct step_limits, termination_timeout_s) },
	{ "max_retry", offsetof(struct step_limits, max_retry) },
	{ "max_tail_bytes", offsetof(struct step_limits, max_tail_bytes) },
	{ "backoff", offsetof(struct step_limits, backoff_s) },
	{ "backoff_max", offsetof(struct step_limits, backoff_max_s) },
	{ "heartbeat_interval", offsetof(struct step_limits, heartbeat_interval_s) },
};

static const char *const secret_keys[] = { "token", "s3_secret_access_key", "s3_session_token", "s3_access_key_id" };

int agent_config_init(struct agent_config *c)
{
	memset(c, 0, sizeof(*c));
	return cfg_apply_defaults(agent_table, ELEMENTSOF(agent_table), c);
}

static void warn_cb(const char *file, unsigned line, const char *msg, void *userdata)
{
	(void)userdata;
	log_warn("%s:%u: %s", file, line, msg);
}

static void warn_world_readable(const struct agent_config *c, const char *path)
{
	struct stat st;

	if (c->token && *c->token && stat(path, &st) == 0 && (st.st_mode & S_IROTH))
		log_warn("config file '%s' holds a token and is world-readable", path);
}

/* ---- upstream's INI file ------------------------------------------------------------------------- */

/* upstream's [default_config] keys and the key of ours each one sets */
static const struct {
	const char *upstream, *ours;
} upstream_keys[] = {
	{ "deploy_agent_dir", "state_dir" },
	{ "builds_dir", "builds_dir" },
	{ "log_directory", "log_dir" },
	{ "target_default_dir", "target_dir" },
	{ "teletraan_service_url", "server_url" },
	{ "teletraan_service_version", NULL }, /* checked: only v1 */
	{ "teletraan_service_token", "token" },
	{ "daemon_sleep_time", "ping_interval" },
	{ "max_retry", "max_retry" },
	{ "num_builds_to_retain", "keep_builds" },
	{ "process_timeout", "process_timeout" },
	{ "log_level", "log_level" },
	{ "aws_access_key_id", "s3_access_key_id" },
	{ "aws_secret_access_key", "s3_secret_access_key" },
};

/* The first line that is neither blank nor a comment is a [section] header. */
static bool text_is_ini(const char *data)
{
	for (const char *p = data; *p;) {
		const char *eol = strchr(p, '\n');
		while (*p == ' ' || *p == '\t' || *p == '\r')
			p++;
		if (*p == '[')
			return true;
		if (*p && *p != '\n' && *p != '#' && *p != ';')
			return false;
		if (!eol)
			break;
		p = eol + 1;
	}
	return false;
}

/* One [default_config] line: the key of ours it sets and its value (upstream's spelling converted). NULL key
 * = nothing to set; -ENOENT = not a key we read; -EINVAL with errbuf. */
static int upstream_entry(const char *key, const char *value, const char **ret_key, const char **ret_value,
			  char *errbuf, size_t errsize)
{
	static const char *const levels[][2] = { { "DEBUG", "debug" }, { "INFO", "info" },  { "WARNING", "warn" },
						  { "WARN", "warn" },   { "ERROR", "error" }, { "CRITICAL", "error" } };

	*ret_value = value;
	for (size_t i = 0; i < ELEMENTSOF(upstream_keys); i++) {
		if (!streq(key, upstream_keys[i].upstream))
			continue;
		*ret_key = upstream_keys[i].ours;
		if (streq(key, "teletraan_service_version") && *value && strcasecmp(value, "v1") != 0) {
			snprintf(errbuf, errsize, "teletraan_service_version '%.32s' is not supported (only v1)", value);
			return -EINVAL;
		}
		if (streq(key, "log_level"))
			for (size_t l = 0; l < ELEMENTSOF(levels); l++)
				if (strcasecmp(value, levels[l][0]) == 0)
					*ret_value = levels[l][1];
		return 0;
	}
	if (cfg_find(agent_table, ELEMENTSOF(agent_table), key)) {
		*ret_key = key;
		return 0;
	}
	return -ENOENT;
}

/* Warn about key (or a whole section) once per load. */
static void warn_ignored_once(json_t *warned, const char *path, unsigned lineno, const char *section,
			      const char *key)
{
	char id[192];

	snprintf(id, sizeof(id), "%s\t%s", section, key);
	if (json_object_get(warned, id))
		return;
	json_object_set_new(warned, id, json_true());
	if (streq(section, "default_config"))
		log_warn("%s:%u: '%s' is not used by slipway-agent, ignoring it", path, lineno, key);
	else
		log_warn("%s:%u: section [%s] is not used by slipway-agent, ignoring '%s'", path, lineno, section, key);
}

/* One line of the INI file. 0 or -EINVAL with errbuf. */
static int upstream_line(struct agent_config *c, char *line, const char *path, unsigned lineno, char *section,
			 size_t section_size, json_t *warned, char *errbuf, size_t errsize)
{
	const char *ours, *value;
	char *k, *v, *t = line, err[512] = "";
	int r;

	while (*t == ' ' || *t == '\t')
		t++;
	if (*t == '[') {
		char *end = strchr(t, ']');
		if (!end) {
			snprintf(errbuf, errsize, "%s:%u: unterminated section header", path, lineno);
			return -EINVAL;
		}
		*end = '\0';
		snprintf(section, section_size, "%s", t + 1);
		return 0;
	}
	if (!strchr(t, '=') && strchr(t, ':')) /* upstream's parser also takes key: value */
		*strchr(t, ':') = '=';
	r = cfg_split_line(t, CFG_SEMICOLON_COMMENTS, &k, &v);
	if (r <= 0) {
		if (r < 0)
			snprintf(errbuf, errsize, "%s:%u: not a key = value line", path, lineno);
		return r;
	}
	if (!streq(section, "default_config")) {
		warn_ignored_once(warned, path, lineno, section[0] ? section : "(none)", k);
		return 0;
	}
	r = upstream_entry(k, v, &ours, &value, err, sizeof(err));
	if (r == -ENOENT) {
		warn_ignored_once(warned, path, lineno, section, k);
		return 0;
	}
	if (r == 0 && ours)
		r = agent_config_set(c, ours, value, err, sizeof(err));
	if (r < 0) {
		snprintf(errbuf, errsize, "%s:%u: %s", path, lineno, err[0] ? err : strerror(-r));
		return -EINVAL;
	}
	return 0;
}

/* upstream's config file: [default_config] with its keys (and ours); anything else warned about once. */
static int load_upstream_ini(struct agent_config *c, const char *path, char *data, char *errbuf, size_t errsize)
{
	char section[64] = "";
	json_t *warned = json_object();
	unsigned lineno = 0;
	int r = 0;

	if (!warned)
		return -ENOMEM;
	for (char *line = data, *next; line && r == 0; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		lineno++;
		r = upstream_line(c, line, path, lineno, section, sizeof(section), warned, errbuf, errsize);
	}
	json_decref(warned);
	c->upstream_ini = true;
	return r;
}

int agent_config_load(struct agent_config *c, const char *path, bool explicit_path, char *errbuf, size_t errsize)
{
	char *data = NULL;
	size_t len;
	int r;

	if (fs_read_file(path, 16 * 1024 * 1024, &data, &len) == 0 && text_is_ini(data)) {
		r = load_upstream_ini(c, path, data, errbuf, errsize);
		free(data);
		if (r == 0)
			warn_world_readable(c, path);
		return r;
	}
	free(data);
	data = NULL;
	r = cfg_load_file(agent_table, ELEMENTSOF(agent_table), c, path, CFG_SEMICOLON_COMMENTS, warn_cb, NULL,
			  errbuf, errsize);
	if (r == -ENOENT && !explicit_path) {
		struct stat st;
		if (stat(path, &st) < 0 && errno == ENOENT)
			return 0;
	}
	if (r < 0)
		return r;
	/* metrics_file explicitly present (even empty) disables the default; re-scan cheaply for the key */
	if (fs_read_file(path, 16 * 1024 * 1024, &data, &len) == 0) {
		char *save = NULL;
		for (char *line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			char *k, *v;
			if (cfg_split_line(line, CFG_SEMICOLON_COMMENTS, &k, &v) == 1 && streq(k, "metrics_file"))
				c->metrics_file_set = true;
		}
		free(data);
	}
	warn_world_readable(c, path);
	return 0;
}

int agent_config_set(struct agent_config *c, const char *key, const char *value, char *errbuf, size_t errsize)
{
	if (streq(key, "metrics_file"))
		c->metrics_file_set = true;
	return cfg_set(agent_table, ELEMENTSOF(agent_table), c, key, value, errbuf, errsize);
}

static int set_default_path(char **field, const char *dir, const char *name)
{
	char *p = NULL;

	if (*field && **field)
		return 0;
	if (asprintf(&p, "%s/%s", dir, name) < 0)
		return -ENOMEM;
	free(*field);
	*field = p;
	return 0;
}

static int fill_from_env(char **field, const char *var)
{
	const char *v = getenv(var);

	if ((*field && **field) || !v || !*v)
		return 0;
	free(*field);
	*field = strdup(v);
	return *field ? 0 : -ENOMEM;
}

static int split_urls(struct agent_config *c)
{
	char *copy, *save = NULL;
	int r = 0;

	for (size_t i = 0; i < c->n_server_urls; i++)
		free(c->server_urls[i]);
	free(c->server_urls);
	c->server_urls = NULL;
	c->n_server_urls = 0;
	if (!c->server_url || !*c->server_url)
		return 0;
	copy = strdup(c->server_url);
	if (!copy)
		return -ENOMEM;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *s = tok, *e, **n;
		size_t len;
		while (*s == ' ' || *s == '\t')
			s++;
		len = strlen(s);
		while (len && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '/'))
			len--;
		if (!len)
			continue;
		n = realloc(c->server_urls, sizeof(char *) * (c->n_server_urls + 1));
		if (!n) {
			r = -ENOMEM;
			break;
		}
		c->server_urls = n;
		e = strndup(s, len);
		if (!e) {
			r = -ENOMEM;
			break;
		}
		c->server_urls[c->n_server_urls++] = e;
	}
	free(copy);
	return r;
}

int agent_config_finish(struct agent_config *c, bool require_server, char *errbuf, size_t errsize)
{
	int r;

	r = split_urls(c);
	if (r < 0)
		return r;
	for (size_t i = 0; i < c->n_server_urls; i++)
		if (!startswith(c->server_urls[i], "http://") && !startswith(c->server_urls[i], "https://")) {
			snprintf(errbuf, errsize, "server_url '%s' is not an http(s) URL", c->server_urls[i]);
			return -EINVAL;
		}
	if (require_server && c->n_server_urls == 0) {
		snprintf(errbuf, errsize, "server_url is not set (config file or --server)");
		return -EINVAL;
	}
	if (log_level_from_string(c->log_level ? c->log_level : "info") < 0) {
		snprintf(errbuf, errsize, "invalid value '%s' for 'log_level'", c->log_level);
		return -EINVAL;
	}
	if (c->token_file && *c->token_file) {
		char *data = NULL;
		size_t len;
		r = fs_read_file(c->token_file, 64 * 1024, &data, &len);
		if (r < 0) {
			snprintf(errbuf, errsize, "cannot read token_file '%s': %s", c->token_file, strerror(-r));
			return -EINVAL;
		}
		data[strcspn(data, "\r\n")] = '\0';
		free(c->token);
		c->token = data;
	}
	const char *dirs[] = { c->state_dir, c->builds_dir, c->log_dir, c->target_dir };
	for (size_t i = 0; i < ELEMENTSOF(dirs); i++)
		if (!dirs[i] || dirs[i][0] != '/') {
			snprintf(errbuf, errsize, "directory '%s' must be an absolute path", dirs[i] ? dirs[i] : "");
			return -EINVAL;
		}
	const char *lists[] = { "allowed_target_roots", "download_allow_file_dirs" };
	const char *values[] = { c->allowed_target_roots, c->download_allow_file_dirs };
	for (size_t i = 0; i < ELEMENTSOF(lists); i++) {
		char bad[256];
		if (!clist_all_absolute(values[i], bad, sizeof(bad))) {
			snprintf(errbuf, errsize, "%s: '%s' must be an absolute path", lists[i], bad);
			return -EINVAL;
		}
	}
	r = set_default_path(&c->host_info_file, c->state_dir, "host_info");
	if (r < 0)
		return r;
	if (c->upstream_ini && (!c->import_env_status || !*c->import_env_status)) {
		/* upstream keeps its env_status next to host_info: a host switched over imports it once */
		char path[PATH_MAX];
		struct stat st;
		if (str_printf(path, sizeof(path), "%s/env_status", c->state_dir) == 0 && stat(path, &st) == 0) {
			r = set_default_path(&c->import_env_status, c->state_dir, "env_status");
			if (r < 0)
				return r;
		}
	}
	if (!c->metrics_file_set) {
		r = set_default_path(&c->metrics_file, c->state_dir, "slipway_agent.prom");
		if (r < 0)
			return r;
	}
	if ((r = fill_from_env(&c->s3_access_key_id, "AWS_ACCESS_KEY_ID")) < 0 ||
	    (r = fill_from_env(&c->s3_secret_access_key, "AWS_SECRET_ACCESS_KEY")) < 0 ||
	    (r = fill_from_env(&c->s3_session_token, "AWS_SESSION_TOKEN")) < 0 ||
	    (r = fill_from_env(&c->s3_region, "AWS_REGION")) < 0)
		return r;
	if (!c->s3_region || !*c->s3_region) {
		free(c->s3_region);
		c->s3_region = strdup("us-east-1");
		if (!c->s3_region)
			return -ENOMEM;
	}
	return 0;
}

void agent_config_identity(const struct agent_config *c, struct identity_source *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->v[ID_HOST_ID] = c->host_id;
	ret->v[ID_HOST_NAME] = c->host_name;
	ret->v[ID_HOST_IP] = c->host_ip;
	ret->v[ID_GROUPS] = c->groups;
	ret->v[ID_AZ] = c->availability_zone;
	ret->v[ID_ASG] = c->autoscaling_group;
	ret->v[ID_STAGE_TYPE] = c->stage_type;
	ret->v[ID_ACCOUNT_ID] = c->account_id;
	ret->tags = c->tags;
	ret->tags_sep = ',';
}

void agent_config_release(struct agent_config *c)
{
	for (size_t i = 0; i < c->n_server_urls; i++)
		free(c->server_urls[i]);
	free(c->server_urls);
	c->server_urls = NULL;
	c->n_server_urls = 0;
	cfg_release(agent_table, ELEMENTSOF(agent_table), c);
}

static const char *type_desc(const struct cfg_entry *e, char *buf, size_t size)
{
	switch (e->type) {
	case CFG_INT:
		snprintf(buf, size, "integer %lld..%lld", (long long)e->min, (long long)e->max);
		break;
	case CFG_SECONDS:
		snprintf(buf, size, "seconds %lld..%lld", (long long)e->min, (long long)e->max);
		break;
	case CFG_SIZE:
		snprintf(buf, size, "size (K/M/G) %lld..%lld bytes", (long long)e->min, (long long)e->max);
		break;
	case CFG_BOOL:
		snprintf(buf, size, "boolean");
		break;
	default:
		snprintf(buf, size, "string");
	}
	return buf;
}

void agent_config_print_help(FILE *f)
{
	char desc[96];

	fprintf(f, "configuration keys (key = value in the config file):\n");
	for (size_t i = 0; i < ELEMENTSOF(agent_table); i++) {
		const struct cfg_entry *e = &agent_table[i];
		fprintf(f, "  %-26s %-34s default %-24s %s\n", e->key, type_desc(e, desc, sizeof(desc)),
			e->def ? e->def : "(empty)", e->help);
	}
}

static bool is_secret(const char *key)
{
	for (size_t i = 0; i < ELEMENTSOF(secret_keys); i++)
		if (streq(secret_keys[i], key))
			return true;
	return false;
}

void agent_config_print(const struct agent_config *c, FILE *f)
{
	for (size_t i = 0; i < ELEMENTSOF(agent_table); i++) {
		const struct cfg_entry *e = &agent_table[i];
		const char *field = (const char *)c + e->offset;

		switch (e->type) {
		case CFG_STRING: {
			const char *s = *(char *const *)field;
			fprintf(f, "%s = %s\n", e->key, s && *s && is_secret(e->key) ? "***" : (s ? s : ""));
			break;
		}
		case CFG_INT:
		case CFG_SECONDS:
		case CFG_MS:
			fprintf(f, "%s = %lld\n", e->key, (long long)*(const int64_t *)field);
			break;
		case CFG_SIZE:
			fprintf(f, "%s = %llu\n", e->key, (unsigned long long)*(const uint64_t *)field);
			break;
		case CFG_BOOL:
			fprintf(f, "%s = %s\n", e->key, *(const bool *)field ? "true" : "false");
			break;
		case CFG_IGNORED:
			break;
		}
	}
}

void agent_config_step_limits(const struct agent_config *c, const json_t *agent_configs, struct step_limits *ret,
			      const char **ret_target)
{
	struct step_limits l = {
		.process_timeout_s = c->process_timeout_s,
		.termination_timeout_s = c->termination_timeout_s,
		.max_retry = c->max_retry,
		.max_tail_bytes = c->max_tail_bytes,
		.backoff_s = c->backoff_s,
		.backoff_factor = c->backoff_factor,
		.backoff_max_s = c->backoff_max_s,
		.heartbeat_interval_s = c->heartbeat_interval_s,
	};
	const char *target = NULL, *key;
	json_t *value;

	if (agent_configs && json_is_object(agent_configs)) {
		json_object_foreach((json_t *)agent_configs, key, value) {
			const struct cfg_entry *e;
			size_t i;
			int64_t v;
			char text[32];
			const char *s;

			if (streq(key, "target")) {
				if (json_is_string(value))
					target = json_string_value(value);
				else
					log_warn("agentConfigs 'target' is not a string, ignoring");
				continue;
			}
			for (i = 0; i < ELEMENTSOF(override_keys); i++)
				if (streq(override_keys[i].key, key))
					break;
			if (i == ELEMENTSOF(override_keys)) {
				log_warn("agentConfigs key '%s' may not be overridden by the server, ignoring", key);
				continue;
			}
			e = cfg_find(agent_table, ELEMENTSOF(agent_table), key);
			if (json_is_integer(value)) {
				snprintf(text, sizeof(text), "%lld", (long long)json_integer_value(value));
				s = text;
			} else if (json_is_string(value))
				s = json_string_value(value);
			else
				s = "";
			if (!e || parse_i64(s, e->min, e->max, &v) < 0) {
				log_warn("agentConfigs '%s' has invalid value '%.64s' (want %lld..%lld), ignoring", key, s,
					 e ? (long long)e->min : 0LL, e ? (long long)e->max : 0LL);
				continue;
			}
			*(int64_t *)((char *)&l + override_keys[i].offset) = v;
		}
	}
	*ret = l;
	if (ret_target)
		*ret_target = target;
}
