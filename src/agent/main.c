/* SPDX-License-Identifier: Apache-2.0 */
/* agent/main.c: slipway-agent's command line (AGENT.md §1): parse flags and config, dispatch to --status,
 * --check-config or the daemon, map results to exit codes (0 clean, 1 runtime, 2 usage/config, 3 lock). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "agent.h"
#include "config.h"
#include "download.h"
#include "fs.h"
#include "identity.h"
#include "log.h"
#include "util.h"
#include "banned.h"

#define DEFAULT_CONFIG "/etc/slipway/agent.conf"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: slipway-agent [options]\n"
		"  -c, --config PATH        config file (default " DEFAULT_CONFIG ")\n"
		"      --server URL[,URL]   deploy service base URL(s), overrides server_url\n"
		"      --host-name NAME     override the host name\n"
		"      --host-id ID         override the host id\n"
		"      --groups G1,G2       override the host groups\n"
		"      --once               one pass, then exit (0 if every ping succeeded, else 1)\n"
		"      --no-jitter          with --once: skip the random start-up sleep\n"
		"      --status [--json]    print the local state and exit\n"
		"      --check-config       print the effective configuration and exit\n"
		"      --log-level LEVEL    debug, info, warn, error\n"
		"      --version            print the version\n"
		"  -h, --help               this help\n"
		"exit codes: 0 clean stop, 1 runtime failure, 2 usage/config error, 3 lock held\n\n");
	agent_config_print_help(f);
}

enum {
	OPT_SERVER = 256,
	OPT_HOST_NAME,
	OPT_HOST_ID,
	OPT_GROUPS,
	OPT_ONCE,
	OPT_NO_JITTER,
	OPT_STATUS,
	OPT_JSON,
	OPT_CHECK,
	OPT_LOG_LEVEL,
	OPT_VERSION,
};

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "server", required_argument, NULL, OPT_SERVER },
		{ "host-name", required_argument, NULL, OPT_HOST_NAME },
		{ "host-id", required_argument, NULL, OPT_HOST_ID },
		{ "groups", required_argument, NULL, OPT_GROUPS },
		{ "once", no_argument, NULL, OPT_ONCE },
		{ "no-jitter", no_argument, NULL, OPT_NO_JITTER },
		{ "status", no_argument, NULL, OPT_STATUS },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "check-config", no_argument, NULL, OPT_CHECK },
		{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config_path = DEFAULT_CONFIG, *server = NULL, *log_level = NULL;
	struct identity_source flags = { { 0 } };
	bool config_explicit = false, once = false, no_jitter = false, status = false, json = false, check = false;
	struct agent_config cfg;
	char err[1024] = "";
	int c, r, lock_fd, exit_code;

	/* the download helper mode comes first: no lock, no config (AGENT.md §8.1) */
	if (argc >= 2 && streq(argv[1], "--internal-download")) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			return DOWNLOAD_EXIT_TRANSIENT;
		return download_helper_main();
	}

	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config_path = optarg;
			config_explicit = true;
			break;
		case OPT_SERVER:
			server = optarg;
			break;
		case OPT_HOST_NAME:
			flags.v[ID_HOST_NAME] = optarg;
			break;
		case OPT_HOST_ID:
			flags.v[ID_HOST_ID] = optarg;
			break;
		case OPT_GROUPS:
			flags.v[ID_GROUPS] = optarg;
			break;
		case OPT_ONCE:
			once = true;
			break;
		case OPT_NO_JITTER:
			no_jitter = true;
			break;
		case OPT_STATUS:
			status = true;
			break;
		case OPT_JSON:
			json = true;
			break;
		case OPT_CHECK:
			check = true;
			break;
		case OPT_LOG_LEVEL:
			log_level = optarg;
			break;
		case OPT_VERSION:
			printf("slipway-agent %s (%s)\n", SLIPWAY_VERSION, SLIPWAY_COMMIT);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "slipway-agent: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (no_jitter && !once) {
		fprintf(stderr, "slipway-agent: --no-jitter only goes with --once\n");
		return 2;
	}
	if (json && !status) {
		fprintf(stderr, "slipway-agent: --json only goes with --status\n");
		return 2;
	}
	if (log_level) {
		r = log_level_from_string(log_level);
		if (r < 0) {
			fprintf(stderr, "slipway-agent: invalid log level '%s'\n", log_level);
			return 2;
		}
		log_set_level((enum log_level)r);
	}

	r = agent_config_init(&cfg);
	if (r < 0) {
		fprintf(stderr, "slipway-agent: cannot initialise the configuration\n");
		return 2;
	}
	r = agent_config_load(&cfg, config_path, config_explicit, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "slipway-agent: %s\n", err[0] ? err : strerror(-r));
		agent_config_release(&cfg);
		return 2;
	}
	if (server && agent_config_set(&cfg, "server_url", server, err, sizeof(err)) < 0) {
		fprintf(stderr, "slipway-agent: %s\n", err);
		agent_config_release(&cfg);
		return 2;
	}
	r = agent_config_finish(&cfg, !status, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "slipway-agent: %s\n", err[0] ? err : strerror(-r));
		agent_config_release(&cfg);
		return 2;
	}
	if (!log_level)
		log_set_level((enum log_level)log_level_from_string(cfg.log_level ? cfg.log_level : "info"));

	if (status) {
		exit_code = agent_print_status(&cfg, json);
		agent_config_release(&cfg);
		return exit_code;
	}
	if (check) {
		struct identity_source cfg_src = { { 0 } }, info = { { 0 } };
		struct host_identity id;
		char *data = NULL;
		size_t len;

		memset(&id, 0, sizeof(id));
		cfg_src.v[ID_HOST_ID] = cfg.host_id;
		cfg_src.v[ID_HOST_NAME] = cfg.host_name;
		cfg_src.v[ID_HOST_IP] = cfg.host_ip;
		cfg_src.v[ID_GROUPS] = cfg.groups;
		cfg_src.v[ID_AZ] = cfg.availability_zone;
		cfg_src.v[ID_ASG] = cfg.autoscaling_group;
		cfg_src.v[ID_STAGE_TYPE] = cfg.stage_type;
		cfg_src.v[ID_ACCOUNT_ID] = cfg.account_id;
		if (fs_read_file(cfg.host_info_file, 1024 * 1024, &data, &len) == 0) {
			(void)identity_parse_host_info(data, &info);
			free(data);
		}
		r = identity_resolve(&flags, &cfg_src, &info, &id, err, sizeof(err));
		identity_source_free_strings(&info);
		if (r < 0) {
			fprintf(stderr, "slipway-agent: invalid host identity: %s\n", err);
			agent_config_release(&cfg);
			return 2;
		}
		agent_config_print(&cfg, stdout);
		printf("# identity: hostId=%s hostName=%s hostIp=%s groups=", id.v[ID_HOST_ID], id.v[ID_HOST_NAME],
		       id.v[ID_HOST_IP] ? id.v[ID_HOST_IP] : "-");
		for (size_t i = 0; i < id.n_groups; i++)
			printf("%s%s", i ? "," : "", id.groups[i]);
		printf("\nconfiguration OK\n");
		host_identity_release(&id);
		agent_config_release(&cfg);
		return 0;
	}

	r = agent_mkdir_state_dir(cfg.state_dir);
	if (r < 0) {
		(void)log_error_errno(r, "cannot create state_dir '%s'", cfg.state_dir);
		agent_config_release(&cfg);
		return 1;
	}
	lock_fd = agent_lock_take(cfg.state_dir);
	if (lock_fd == -EAGAIN) {
		fprintf(stderr, "another slipway-agent holds %s/agent.lock\n", cfg.state_dir);
		agent_config_release(&cfg);
		return 3;
	}
	if (lock_fd < 0) {
		(void)log_error_errno(lock_fd, "cannot take the lock in '%s'", cfg.state_dir);
		agent_config_release(&cfg);
		return 1;
	}
	r = agent_signals_setup();
	if (r < 0) {
		(void)log_error_errno(r, "cannot install signal handlers");
		agent_config_release(&cfg);
		return 1;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_error("cannot initialise libcurl");
		agent_config_release(&cfg);
		return 1;
	}
	exit_code = agent_run(&cfg, &flags, once, no_jitter);
	curl_global_cleanup();
	agent_config_release(&cfg);
	close(lock_fd);
	return exit_code;
}
