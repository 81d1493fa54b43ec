/* SPDX-License-Identifier: Apache-2.0 */
/* agent/main.c: slipway-agent's command line (AGENT.md §1): parse flags and config, dispatch to --status,
 * --check-config or the daemon, map results to exit codes (0 clean, 1 runtime, 2 config, 3 lock, 64 usage). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "agent.h"
#include "config.h"
#include "dlhelper.h"
#include "download.h"
#include "fs.h"
#include "identity.h"
#include "log.h"
#include "title.h"
#include "util.h"
#include "banned.h"

#define DEFAULT_CONFIG "/etc/slipway/agent.conf"
#define EXIT_USAGE 64 /* a bad command line (EX_USAGE, as the CLI's) */

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
		"upstream deploy-agent's options, for a drop-in switch:\n"
		"  -f, --config-file PATH   same as --config (an INI file with [default_config] is read as upstream's)\n"
		"  -d, --daemon             keep running (without it, -f runs one pass like upstream's agent)\n"
		"  -n, --host NAME          same as --host-name\n"
		"  -g, --group G1,G2        same as --groups\n"
		"      --use-host-info      the host_info file in state_dir (deploy_agent_dir) must exist\n"
		"  -e, --server_stage STAGE accepted and ignored (deprecated upstream)\n"
		"exit codes: 0 clean stop, 1 runtime failure, 2 configuration error, 3 lock held, 64 usage error\n\n");
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
	OPT_USE_HOST_INFO,
	OPT_USE_FACTER,
};

/* What the command line asked for. */
struct cmdline {
	const char *config_path, *server, *log_level;
	struct identity_source flags; /* borrowed from argv */
	bool config_explicit, once, no_jitter, status, json, check;
	bool upstream_file, daemon, use_host_info; /* -f, -d, --use-host-info */
};

/* upstream's options (deploy-agent's command line). -1 when opt is none of them, else as parse_cmdline. */
static int parse_upstream_option(int opt, struct cmdline *cl)
{
	switch (opt) {
	case 'f':
		cl->config_path = optarg;
		cl->config_explicit = true;
		cl->upstream_file = true;
		return -2;
	case 'd':
		cl->daemon = true;
		return -2;
	case 'n':
		cl->flags.v[ID_HOST_NAME] = optarg;
		return -2;
	case 'g':
		cl->flags.v[ID_GROUPS] = optarg;
		return -2;
	case 'e':
		fprintf(stderr, "slipway-agent: warning: -e/--server_stage '%s' is ignored (deprecated upstream); the "
				"server is the config file's server_url or teletraan_service_url\n", optarg);
		return -2;
	case OPT_USE_HOST_INFO:
		cl->use_host_info = true;
		return -2;
	case OPT_USE_FACTER:
		fprintf(stderr, "slipway-agent: --use-facter is not supported: write the host's facts to the host_info "
				"file (id=, hostname=, ip=, groups=, availability-zone=, tag.<key>=<value>) and use "
				"--use-host-info\n");
		return EXIT_USAGE;
	default:
		return -1;
	}
}

/* Parse argv. Returns -1 to go on, or the exit code (0 after --help/--version, EXIT_USAGE for a usage error). */
static int parse_cmdline(int argc, char **argv, struct cmdline *cl)
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
		{ "config-file", required_argument, NULL, 'f' },
		{ "daemon", no_argument, NULL, 'd' },
		{ "host", required_argument, NULL, 'n' },
		{ "group", required_argument, NULL, 'g' },
		{ "server_stage", required_argument, NULL, 'e' },
		{ "use-host-info", no_argument, NULL, OPT_USE_HOST_INFO },
		{ "use-facter", no_argument, NULL, OPT_USE_FACTER },
		{ NULL, 0, NULL, 0 },
	};
	int c, r;

	while ((c = getopt_long(argc, argv, "c:hf:dn:g:e:", opts, NULL)) != -1) {
		r = parse_upstream_option(c, cl);
		if (r >= 0)
			return r;
		if (r == -2)
			continue;
		switch (c) {
		case 'c':
			cl->config_path = optarg;
			cl->config_explicit = true;
			break;
		case OPT_SERVER:
			cl->server = optarg;
			break;
		case OPT_HOST_NAME:
			cl->flags.v[ID_HOST_NAME] = optarg;
			break;
		case OPT_HOST_ID:
			cl->flags.v[ID_HOST_ID] = optarg;
			break;
		case OPT_GROUPS:
			cl->flags.v[ID_GROUPS] = optarg;
			break;
		case OPT_ONCE:
			cl->once = true;
			break;
		case OPT_NO_JITTER:
			cl->no_jitter = true;
			break;
		case OPT_STATUS:
			cl->status = true;
			break;
		case OPT_JSON:
			cl->json = true;
			break;
		case OPT_CHECK:
			cl->check = true;
			break;
		case OPT_LOG_LEVEL:
			cl->log_level = optarg;
			break;
		case OPT_VERSION:
			printf("slipway-agent %s (%s)\n", SLIPWAY_VERSION, SLIPWAY_COMMIT);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "slipway-agent: unexpected argument '%s'\n", argv[optind]);
		return EXIT_USAGE;
	}
	if (cl->no_jitter && !cl->once) {
		fprintf(stderr, "slipway-agent: --no-jitter only goes with --once\n");
		return EXIT_USAGE;
	}
	if (cl->json && !cl->status) {
		fprintf(stderr, "slipway-agent: --json only goes with --status\n");
		return EXIT_USAGE;
	}
	if (cl->daemon && cl->once) {
		fprintf(stderr, "slipway-agent: -d/--daemon and --once exclude each other\n");
		return EXIT_USAGE;
	}
	/* upstream's agent without -d serves once and exits */
	if (cl->upstream_file && !cl->daemon && !cl->status && !cl->check) {
		cl->once = true;
		cl->no_jitter = true;
	}
	return -1;
}

/* The log level, the config file, --server, the derived values. 0, or the exit code: EXIT_USAGE for a bad
 * --log-level, 2 for the configuration (message printed; cfg released). */
static int load_config(const struct cmdline *cl, struct agent_config *cfg)
{
	char err[1024] = "";
	int r;

	if (cl->log_level) {
		r = log_level_from_string(cl->log_level);
		if (r < 0) {
			fprintf(stderr, "slipway-agent: invalid log level '%s'\n", cl->log_level);
			return EXIT_USAGE;
		}
		log_set_level((enum log_level)r);
	}
	if (agent_config_init(cfg) < 0) {
		fprintf(stderr, "slipway-agent: cannot initialise the configuration\n");
		return 2;
	}
	r = agent_config_load(cfg, cl->config_path, cl->config_explicit, err, sizeof(err));
	if (r == 0 && cl->server)
		r = agent_config_set(cfg, "server_url", cl->server, err, sizeof(err));
	if (r == 0)
		r = agent_config_finish(cfg, !cl->status, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "slipway-agent: %s\n", err[0] ? err : strerror(-r));
		agent_config_release(cfg);
		return 2;
	}
	if (!cl->log_level)
		log_set_level((enum log_level)log_level_from_string(cfg->log_level ? cfg->log_level : "info"));
	if (cl->use_host_info && access(cfg->host_info_file, R_OK) < 0) {
		fprintf(stderr, "slipway-agent: --use-host-info: cannot read host_info file '%s': %s\n",
			cfg->host_info_file, strerror(errno));
		agent_config_release(cfg);
		return 2;
	}
	return 0;
}

/* --check-config: the effective values and the identity they resolve to. The exit code. */
static int check_config(const struct cmdline *cl, const struct agent_config *cfg)
{
	struct identity_source cfg_src, info = { 0 };
	struct host_identity id;
	char err[1024] = "", *data = NULL;
	size_t len;
	int r;

	memset(&id, 0, sizeof(id));
	agent_config_identity(cfg, &cfg_src);
	if (fs_read_file(cfg->host_info_file, 1024 * 1024, &data, &len) == 0) {
		(void)identity_parse_host_info(data, &info);
		free(data);
	}
	r = identity_resolve(&cl->flags, &cfg_src, &info, &id, err, sizeof(err));
	identity_source_free_strings(&info);
	if (r < 0) {
		fprintf(stderr, "slipway-agent: invalid host identity: %s\n", err);
		return 2;
	}
	agent_config_print(cfg, stdout);
	printf("# identity: hostId=%s hostName=%s hostIp=%s groups=", id.v[ID_HOST_ID], id.v[ID_HOST_NAME],
	       id.v[ID_HOST_IP] ? id.v[ID_HOST_IP] : "-");
	for (size_t i = 0; i < id.n_groups; i++)
		printf("%s%s", i ? "," : "", id.groups[i]);
	printf("\nconfiguration OK\n");
	host_identity_release(&id);
	return 0;
}

/* The daemon (or --once): state dir, lock, signals, then the loop with the download helper dl (libcurl is
 * initialised). The exit code. */
static int run_daemon(const struct cmdline *cl, struct agent_config *cfg, struct dl_helper *dl)
{
	int r, lock_fd, exit_code;

	r = agent_mkdir_state_dir(cfg->state_dir);
	if (r < 0) {
		(void)log_error_errno(r, "cannot create state_dir '%s'", cfg->state_dir);
		return 1;
	}
	lock_fd = agent_lock_take(cfg->state_dir);
	if (lock_fd == -EAGAIN) {
		fprintf(stderr, "another slipway-agent holds %s/agent.lock\n", cfg->state_dir);
		return 3;
	}
	if (lock_fd < 0) {
		(void)log_error_errno(lock_fd, "cannot take the lock in '%s'", cfg->state_dir);
		return 1;
	}
	r = agent_signals_setup();
	if (r < 0) {
		(void)log_error_errno(r, "cannot install signal handlers");
		close(lock_fd);
		return 1;
	}
	exit_code = agent_run(cfg, &cl->flags, cl->once, cl->no_jitter, dl);
	close(lock_fd);
	return exit_code;
}

int main(int argc, char **argv)
{
	struct cmdline cl = { .config_path = DEFAULT_CONFIG };
	struct agent_config cfg;
	struct dl_helper dl;
	struct proc_title title;
	int r;

	/* the download helper mode comes first: no lock, no config (AGENT.md §8.1) */
	if (argc >= 2 && streq(argv[1], "--internal-download")) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			return DOWNLOAD_EXIT_TRANSIENT;
		return download_helper_main();
	}
	proc_title_init(&title, argc, argv);
	if (argc >= 2 && streq(argv[1], "--internal-download-server"))
		return download_server_main(&title);
	r = parse_cmdline(argc, argv, &cl);
	if (r >= 0)
		return r;
	/* the daemon initialises libcurl (and with it OpenSSL) and forks its kept download helper first, before the
	 * configuration (tokens, credentials) is read: the helper shares those pages (see dlhelper.h) */
	dl_helper_init(&dl);
	if (!cl.status && !cl.check) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
			log_error("cannot initialise libcurl");
			return 1;
		}
		if (dl_helper_fork(&dl, &title) < 0)
			dl_helper_init(&dl); /* the first download starts one */
	}
	r = load_config(&cl, &cfg);
	if (r == 0) {
		if (cl.status)
			r = agent_print_status(&cfg, cl.json);
		else if (cl.check)
			r = check_config(&cl, &cfg);
		else
			r = run_daemon(&cl, &cfg, &dl);
		agent_config_release(&cfg);
	}
	dl_helper_stop(&dl);
	if (!cl.status && !cl.check)
		curl_global_cleanup();
	return r;
}
