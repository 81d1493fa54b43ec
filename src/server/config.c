/* SPDX-License-Identifier: Apache-2.0 */
/* config.c: slipway-server settings (PROTOCOL §10): defaults, then the --config file (strict:
 * unknown or repeated keys and bad values are errors naming file:line), then flags, which win. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cfg.h"
#include "dsn.h"
#include "enums.h"
#include "ipnet.h"
#include "log.h"
#include "parse.h"
#include "server.h"
#include "util.h"
#include "banned.h"

static bool is_none(const char *s)
{
	return !s || !*s || strcasecmp(s, "NONE") == 0;
}

#define O(f) offsetof(struct server_config, f)
#define DAY 86400

static const struct cfg_entry server_table[] = {
	{ "listen", CFG_STRING, 0, 0, "127.0.0.1:8080", O(listen), "address:port to listen on (port 0 = any)" },
	{ "port_file", CFG_STRING, 0, 0, NULL, O(port_file), "write the bound host:port here once listening" },
	{ "db", CFG_STRING, 0, 0, "sqlite:var/slipway.db", O(db), "sqlite:PATH or a PostgreSQL connection string" },
	{ "max_parallel_threshold", CFG_INT, 1, 1000000, "10000", O(max_parallel_threshold), NULL },
	{ "host_unreachable_after", CFG_SECONDS, 1, 365 * DAY, "150", O(host_unreachable_after), NULL },
	{ "unreachable_slot_release", CFG_SECONDS, 0, 365 * DAY, "600", O(unreachable_slot_release), NULL },
	{ "host_expire", CFG_SECONDS, 1, 3650 * DAY, "86400", O(host_expire), NULL },
	{ "max_held_pings", CFG_INT, 0, 1000000, "10000", O(max_held_pings), NULL },
	{ "wake_batch", CFG_INT, 0, 1000000, "128", O(wake_batch),
	  "woken held pings re-run at once; the others wait their turn, oldest wake first (0 = no limit) (ours)" },
	{ "ping_run_threads", CFG_INT, 0, 256, "16", O(ping_run_threads),
	  "threads that run pings while their connections wait (0 = on the HTTP threads) (ours)" },
	{ "wake_serve_reports", CFG_BOOL, 0, 0, "false", O(wake_serve_reports),
	  "while woken pings wait their turn, still serve the reports of deploying hosts (ours)" },
	{ "artifact_url_allow", CFG_STRING, 0, 0, NULL, O(artifact_url_allow), "space-separated regexes" },
	{ "default_scm", CFG_STRING, 0, 0, "Github", O(default_scm), NULL },
	{ "scm_link_template", CFG_STRING, 0, 0, NULL, O(scm_link_template), "e.g. https://github.com/%s/commit/%s" },
	{ "anonymous_role", CFG_STRING, 0, 0, "NONE", O(anonymous_role), "NONE or a role" },
	{ "default_user_role", CFG_STRING, 0, 0, "READER", O(default_user_role), NULL },
	{ "trusted_user_header", CFG_STRING, 0, 0, NULL, O(trusted_user_header), NULL },
	{ "trusted_groups_header", CFG_STRING, 0, 0, NULL, O(trusted_groups_header), NULL },
	{ "trusted_proxies", CFG_STRING, 0, 0, NULL, O(trusted_proxies), NULL },
	{ "env_self_service", CFG_BOOL, 0, 0, "false", O(env_self_service),
	  "any signed-in user creates an env and becomes its ADMIN" },
	{ "admin_token_file", CFG_STRING, 0, 0, NULL, O(admin_token_file), "default: admin.token beside the db" },
	{ "public_metrics", CFG_BOOL, 0, 0, "false", O(public_metrics), NULL },
	{ "build_retention_count", CFG_INT, 1, 100000000, "1000", O(build_retention_count), NULL },
	{ "build_retention_days", CFG_INT, 1, 100000, "180", O(build_retention_days), NULL },
	{ "log_level", CFG_STRING, 0, 0, "info", O(log_level), NULL },
	{ "max_body_bytes", CFG_SIZE, 1024, 1LL << 30, "1M", O(max_body_bytes), NULL },
	{ "max_ping_body_bytes", CFG_SIZE, 1024, 1LL << 30, "4M", O(max_ping_body_bytes), NULL },
	{ "max_connections", CFG_INT, 1, 1000000, "16384", O(max_connections), NULL },
	{ "per_ip_connection_limit", CFG_INT, 0, 1000000, "256", O(per_ip_connection_limit),
	  "connections open at once from one address (0 = no limit)" },
	{ "max_connections_per_ip", CFG_INT, 0, 1000000, "256", O(per_ip_connection_limit),
	  "old name of per_ip_connection_limit" },
	{ "overload_connections", CFG_INT, 0, 1000000, "0", O(overload_connections),
	  "open connections past which a ping is answered 503 with Retry-After (0 = halfway from max_held_pings to "
	  "max_connections)" },
	{ "overload_retry_after", CFG_SECONDS, 1, 3600, "5", O(overload_retry_after),
	  "the Retry-After of an overloaded server's 503 (agents wait it to 1.5 times it)" },
	{ "connection_timeout", CFG_SECONDS, 1, 3600, "30", O(connection_timeout), NULL },
	{ "request_read_timeout", CFG_SECONDS, 0, 3600, "10", O(request_read_timeout),
	  "a request's headers and body must arrive within this (0 = off)" },
	{ "public_url", CFG_STRING, 0, 0, NULL, O(public_url),
	  "scheme://host[:port] browsers use; proxy users' writes must come from this origin" },
	{ "http_threads", CFG_INT, 1, 256, "4", O(http_threads), "libmicrohttpd thread pool size (ours)" },
	{ "http_connection_memory", CFG_SIZE, 4096, 1LL << 20, "16K", O(http_connection_memory),
	  "memory of each connection for a request's headers and reading (ours): the headers must fit" },
	{ "db_pool_size", CFG_INT, 1, 1000, "16", O(db_pool_size),
	  "database connections open at most, each for the API and workers and for the ping path (ours)" },
	{ "tls_cert", CFG_STRING, 0, 0, NULL, O(tls_cert), NULL },
	{ "tls_key", CFG_STRING, 0, 0, NULL, O(tls_key), NULL },
	{ "transition_period", CFG_SECONDS, 1, DAY, "30", O(transition_period), NULL },
	{ "promote_period", CFG_SECONDS, 1, DAY, "30", O(promote_period), NULL },
	{ "janitor_period", CFG_SECONDS, 1, DAY, "30", O(janitor_period), NULL },
	{ "heartbeat_flush_period", CFG_SECONDS, 1, 3600, "10", O(heartbeat_flush_period), NULL },
	{ "event_poll_period", CFG_MS, 10, 60000, "0.5", O(event_poll_period_ms), "seconds, may be fractional" },
	{ "retention_at", CFG_STRING, 0, 0, "03:30", O(retention_at), "HH:MM UTC" },
	{ "retention_period", CFG_SECONDS, 0, 365 * DAY, "0", O(retention_period), NULL },
	{ "webhook_queue_size", CFG_INT, 1, 1000000, "1000", O(webhook_queue_size),
	  "webhook jobs waiting at most; overflow is dropped (ours)" },
	{ "webhook_allowed_networks", CFG_STRING, 0, 0, NULL, O(webhook_allowed_networks),
	  "CIDRs of internal webhook receivers (loopback, private, link-local are refused otherwise)" },
	{ "chat_webhook_url", CFG_STRING, 0, 0, NULL, O(chat_webhook_url),
	  "Slack-compatible incoming webhook for deploy notifications to each stage's chatroom" },
	{ "smtp_url", CFG_STRING, 0, 0, NULL, O(smtp_url), "smtp://host:port or smtps://host:port for deploy mail" },
	{ "smtp_from", CFG_STRING, 0, 0, NULL, O(smtp_from), "sender address of deploy mail" },
	{ "smtp_user", CFG_STRING, 0, 0, NULL, O(smtp_user), NULL },
	{ "smtp_password_file", CFG_STRING, 0, 0, NULL, O(smtp_password_file), "file holding smtp_user's password" },
	{ "board_url", CFG_STRING, 0, 0, NULL, O(board_url), "the board's address, for links in notifications" },
	{ "prometheus_url", CFG_STRING, 0, 0, NULL, O(prometheus_url), "Prometheus server the deploy analysis queries" },
};

void server_config_usage(void)
{
	printf("usage: slipway-server [--config PATH] [--check] [--NAME VALUE]... [--set NAME=VALUE...]...\n"
	       "       slipway-server migrate --from sqlite:PATH --to POSTGRESQL-DSN [--force]   (see migrate --help)\n"
	       "       slipway-server --dump-routes   (the route table as JSON lines: method, path, role, scope)\n"
	       "       slipway-server --version\n\n"
	       "Deploy service of Slipway: REST API v1, agent ping endpoint, workers and the web board, on one port.\n"
	       "Settings come from the --config file (NAME = VALUE lines) and the command line, which wins.\n\n"
	       "settings ('-' and '_' are interchangeable in flag names; docs/server.md describes each):\n");
	for (size_t i = 0; i < ELEMENTSOF(server_table); i++)
		printf("  --%-26s default '%s'%s%s\n", server_table[i].key,
		       server_table[i].def ? server_table[i].def : "", server_table[i].help ? "; " : "",
		       server_table[i].help ? server_table[i].help : "");
}

void server_config_release(struct server_config *cfg)
{
	cfg_release(server_table, ELEMENTSOF(server_table), cfg);
}

static int set_flag(struct server_config *cfg, const char *key, const char *value, char *errbuf, size_t errsize)
{
	char msg[256];
	int r;

	r = cfg_set(server_table, ELEMENTSOF(server_table), cfg, key, value, msg, sizeof(msg));
	if (r == -ENOENT) {
		snprintf(errbuf, errsize, "unknown setting '%s'", key);
		return -EINVAL;
	}
	if (r < 0) {
		snprintf(errbuf, errsize, "%s", msg);
		return -EINVAL;
	}
	return 0;
}

int server_config_load(struct server_config *cfg, int argc, char **argv, bool *ret_check, bool *ret_help,
		       char *errbuf, size_t errsize)
{
	const char *config_path = NULL;
	bool check = false, help = false;
	int r;

	r = cfg_apply_defaults(server_table, ELEMENTSOF(server_table), cfg);
	if (r < 0) {
		snprintf(errbuf, errsize, "bad built-in default");
		return r;
	}
	/* the file first, so that flags win wherever they appear */
	for (int i = 1; i < argc; i++) {
		if (streq(argv[i], "--config")) {
			if (i + 1 >= argc) {
				snprintf(errbuf, errsize, "--config needs a path");
				return -EINVAL;
			}
			config_path = argv[++i];
		} else if (startswith(argv[i], "--config=")) {
			config_path = argv[i] + 9;
		}
	}
	if (config_path) {
		r = cfg_load_file(server_table, ELEMENTSOF(server_table), cfg, config_path,
				  CFG_STRICT_UNKNOWN | CFG_STRICT_REPEAT, NULL, NULL, errbuf, errsize);
		if (r < 0)
			return -EINVAL;
	}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (streq(a, "--config")) {
			i++;
			continue;
		}
		if (startswith(a, "--config="))
			continue;
		if (streq(a, "--check")) {
			check = true;
			continue;
		}
		if (streq(a, "--help") || streq(a, "-h")) {
			help = true;
			continue;
		}
		if (streq(a, "--set")) {
			bool any = false;
			while (i + 1 < argc && !startswith(argv[i + 1], "--")) {
				char key[128];
				const char *eq = strchr(argv[i + 1], '=');
				if (!eq || eq == argv[i + 1] || (size_t)(eq - argv[i + 1]) >= sizeof(key)) {
					snprintf(errbuf, errsize, "--set: expected name=value, got '%s'", argv[i + 1]);
					return -EINVAL;
				}
				memcpy(key, argv[i + 1], (size_t)(eq - argv[i + 1]));
				key[eq - argv[i + 1]] = 0;
				r = set_flag(cfg, key, eq + 1, errbuf, errsize);
				if (r < 0)
					return r;
				any = true;
				i++;
			}
			if (!any) {
				snprintf(errbuf, errsize, "--set needs name=value");
				return -EINVAL;
			}
			continue;
		}
		if (startswith(a, "--") && a[2]) {
			const char *eq = strchr(a, '=');
			char key[128];
			if (eq) {
				if ((size_t)(eq - a - 2) >= sizeof(key)) {
					snprintf(errbuf, errsize, "option too long");
					return -EINVAL;
				}
				memcpy(key, a + 2, (size_t)(eq - a - 2));
				key[eq - a - 2] = 0;
				r = set_flag(cfg, key, eq + 1, errbuf, errsize);
			} else {
				if (i + 1 >= argc) {
					snprintf(errbuf, errsize, "option '%s' needs a value", a);
					return -EINVAL;
				}
				r = set_flag(cfg, a + 2, argv[++i], errbuf, errsize);
			}
			if (r < 0)
				return r;
			continue;
		}
		snprintf(errbuf, errsize, "unexpected argument '%s'", a);
		return -EINVAL;
	}
	*ret_check = check;
	*ret_help = help;
	return 0;
}

int server_parse_listen(const char *listen, char *host, size_t host_size, int *ret_port)
{
	const char *colon = strrchr(listen, ':');
	int port, r;

	if (!colon || colon == listen)
		return -EINVAL;
	r = parse_int(colon + 1, 0, 65535, &port);
	if (r < 0)
		return r;
	if ((size_t)(colon - listen) >= host_size)
		return -ENAMETOOLONG;
	memcpy(host, listen, (size_t)(colon - listen));
	host[colon - listen] = 0;
	/* [::1]:8080 */
	if (host[0] == '[') {
		size_t l = strlen(host);
		if (l < 2 || host[l - 1] != ']')
			return -EINVAL;
		memmove(host, host + 1, l - 2);
		host[l - 2] = 0;
	}
	*ret_port = port;
	return 0;
}

int64_t server_overload_connections(const struct server_config *cfg)
{
	return cfg->overload_connections > 0 ? cfg->overload_connections
					     : (cfg->max_connections + cfg->max_held_pings + 1) / 2;
}

/* The connection limits: held pings, overload and the hard limit in that order. */
static int validate_connections(const struct server_config *cfg, char *errbuf, size_t errsize)
{
	if (cfg->max_connections <= cfg->max_held_pings) {
		snprintf(errbuf, errsize, "max_connections (%lld) must exceed max_held_pings (%lld)",
			 (long long)cfg->max_connections, (long long)cfg->max_held_pings);
		return -EINVAL;
	}
	if (cfg->overload_connections > 0 &&
	    (cfg->overload_connections <= cfg->max_held_pings || cfg->overload_connections > cfg->max_connections)) {
		snprintf(errbuf, errsize,
			 "overload_connections (%lld) must exceed max_held_pings (%lld) and not exceed max_connections "
			 "(%lld)",
			 (long long)cfg->overload_connections, (long long)cfg->max_held_pings,
			 (long long)cfg->max_connections);
		return -EINVAL;
	}
	return 0;
}

static bool set(const char *s)
{
	return s && *s;
}

static bool http_url(const char *s)
{
	return startswith(s, "http://") || startswith(s, "https://");
}

/* The notification and analysis settings (trusted as the admin sets them: no address rule applies). */
static int validate_safe_rollouts(const struct server_config *cfg, char *errbuf, size_t errsize)
{
	const struct {
		const char *name, *value;
	} urls[] = { { "chat_webhook_url", cfg->chat_webhook_url },
		     { "board_url", cfg->board_url },
		     { "prometheus_url", cfg->prometheus_url } };

	for (size_t i = 0; i < ELEMENTSOF(urls); i++)
		if (set(urls[i].value) && !http_url(urls[i].value)) {
			snprintf(errbuf, errsize, "invalid %s '%s': expected http:// or https://", urls[i].name,
				 urls[i].value);
			return -EINVAL;
		}
	if (set(cfg->smtp_url) && !startswith(cfg->smtp_url, "smtp://") && !startswith(cfg->smtp_url, "smtps://")) {
		snprintf(errbuf, errsize, "invalid smtp_url '%s': expected smtp:// or smtps://", cfg->smtp_url);
		return -EINVAL;
	}
	if (set(cfg->smtp_url) && !set(cfg->smtp_from)) {
		snprintf(errbuf, errsize, "smtp_url needs smtp_from");
		return -EINVAL;
	}
	if (set(cfg->smtp_password_file) && !set(cfg->smtp_user)) {
		snprintf(errbuf, errsize, "smtp_password_file needs smtp_user");
		return -EINVAL;
	}
	return 0;
}

int server_config_validate(const struct server_config *cfg, char *errbuf, size_t errsize)
{
	char host[128], bad[80], *copy, *save = NULL;
	struct ipnet *nets = NULL;
	size_t n_nets = 0;
	int port, r;

	if (server_parse_listen(cfg->listen, host, sizeof(host), &port) < 0) {
		snprintf(errbuf, errsize, "invalid listen address '%s': expected host:port", cfg->listen);
		return -EINVAL;
	}
	if (!cfg->db || !*cfg->db) {
		snprintf(errbuf, errsize, "db must be set");
		return -EINVAL;
	}
	if (!startswith(cfg->db, "sqlite:") || !cfg->db[7]) {
#ifndef WITH_POSTGRES
		char dsn[DSN_REDACTED_MAX];

		snprintf(errbuf, errsize, "db '%s': only sqlite:PATH is supported by this build",
			 dsn_redact(cfg->db, dsn, sizeof(dsn)));
		return -EINVAL;
#endif
	}
	if (!!(cfg->tls_cert && *cfg->tls_cert) != !!(cfg->tls_key && *cfg->tls_key)) {
		snprintf(errbuf, errsize, "tls_cert and tls_key must be set together");
		return -EINVAL;
	}
	if (!is_none(cfg->anonymous_role) && role_from_string_alias(cfg->anonymous_role) < 0) {
		snprintf(errbuf, errsize, "invalid anonymous_role '%s'", cfg->anonymous_role);
		return -EINVAL;
	}
	if (role_from_string(cfg->default_user_role) < 0) {
		snprintf(errbuf, errsize, "invalid default_user_role '%s'", cfg->default_user_role);
		return -EINVAL;
	}
	if (log_level_from_string(cfg->log_level) < 0) {
		snprintf(errbuf, errsize, "invalid log_level '%s'", cfg->log_level);
		return -EINVAL;
	}
	if (validate_connections(cfg, errbuf, errsize) < 0)
		return -EINVAL;
	if (cfg->retention_at) {
		int hh, mm;
		if (strlen(cfg->retention_at) != 5 || cfg->retention_at[2] != ':') {
			snprintf(errbuf, errsize, "invalid retention_at '%s': expected HH:MM", cfg->retention_at);
			return -EINVAL;
		}
		char h[3] = { cfg->retention_at[0], cfg->retention_at[1], 0 };
		if (parse_int(h, 0, 23, &hh) < 0 || parse_int(cfg->retention_at + 3, 0, 59, &mm) < 0) {
			snprintf(errbuf, errsize, "invalid retention_at '%s': expected HH:MM", cfg->retention_at);
			return -EINVAL;
		}
	}
	r = ipnet_list_parse(cfg->webhook_allowed_networks, &nets, &n_nets, bad, sizeof(bad));
	free(nets);
	if (r == -EINVAL) {
		snprintf(errbuf, errsize, "invalid webhook_allowed_networks entry '%s': expected an address or CIDR",
			 bad);
		return r;
	}
	if (r < 0)
		return r;
	r = validate_safe_rollouts(cfg, errbuf, errsize);
	if (r < 0)
		return r;
	if (cfg->artifact_url_allow && *cfg->artifact_url_allow) {
		copy = strdup(cfg->artifact_url_allow);
		if (!copy)
			return -ENOMEM;
		r = 0;
		for (char *t = strtok_r(copy, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
			regex_t re;
			if (regcomp(&re, t, REG_EXTENDED | REG_NOSUB) != 0) {
				snprintf(errbuf, errsize, "invalid artifact_url_allow regex '%s'", t);
				r = -EINVAL;
				break;
			}
			regfree(&re);
		}
		free(copy);
		if (r < 0)
			return r;
	}
	return 0;
}
