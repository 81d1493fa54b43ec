/* SPDX-License-Identifier: Apache-2.0 */
/* cli/cmd.c: the top-level command table and the sub-command dispatcher. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "util.h"
#include "banned.h"

const struct cmd cli_commands[] = {
    {"build", cmd_build, "publish, list, show and tag builds"},
    {"env", cmd_env, "create, list, show, delete, configure, enable or disable env stages"},
    {"deploy", cmd_deploy, "deploy a build to ENV/STAGE"},
    {"promote", cmd_promote, "deploy what another stage of the env runs"},
    {"rollback", cmd_rollback, "return ENV/STAGE to an earlier deploy"},
    {"restart", cmd_restart, "restart the current deploy on every host"},
    {"pause", cmd_pause, "freeze the current deploy of ENV/STAGE"},
    {"resume", cmd_resume, "let a paused ENV/STAGE continue"},
    {"status", cmd_status, "show (or --watch) the current deploy of ENV/STAGE"},
    {"hosts", cmd_hosts, "list the hosts of ENV/STAGE and their agents"},
    {"host", cmd_host, "pause, resume, reset or stop some hosts of ENV/STAGE; search hosts by name"},
    {"agents", cmd_agents, "show every env stage of one host"},
    {"config", cmd_config, "read or write a stage's promote, webhook, schedule, capacity, script, agent config"},
    {"token", cmd_token, "create, list, change and revoke API tokens"},
    {"role", cmd_role, "give users and groups roles (set, list, delete)"},
    {"completion", cmd_completion, "print a shell completion script (bash, zsh, fish)"},
};
const size_t cli_n_commands = ELEMENTSOF(cli_commands);

const struct cmd *cmd_find(const struct cmd *table, size_t n, const char *name)
{
	for (size_t i = 0; name && i < n; i++)
		if (streq(table[i].name, name))
			return &table[i];
	return NULL;
}

int cmd_dispatch(struct cli *c, const char *group, const struct cmd *table, size_t n, int argc, char **argv)
{
	const struct cmd *sub;

	if (argc < 2 || streq(argv[1], "--help") || streq(argv[1], "-h") || streq(argv[1], "help")) {
		fprintf(c->out, "usage: slipway %s <command> [options]\n\ncommands:\n", group);
		for (size_t i = 0; i < n; i++)
			fprintf(c->out, "  %-14s %s\n", table[i].name, table[i].summary);
		fprintf(c->out, "\nRun 'slipway %s <command> --help' for the options of one command.\n", group);
		return argc < 2 ? cli_usage_error(c, "%s: a sub-command is required", group) : 0;
	}
	sub = cmd_find(table, n, argv[1]);
	if (!sub)
		return cli_usage_error(c, "%s: unknown command '%s' (see 'slipway %s --help')", group, argv[1], group);
	return sub->fn(c, argc - 1, argv + 1);
}

void cmd_print_main_help(FILE *f)
{
	fprintf(f, "usage: slipway [--server URL] [--token TOKEN] [--config FILE] [--json] <command> [args]\n"
		   "\n"
		   "Command-line client of the Slipway deploy service.\n"
		   "\n"
		   "commands:\n");
	for (size_t i = 0; i < cli_n_commands; i++)
		fprintf(f, "  %-10s %s\n", cli_commands[i].name, cli_commands[i].summary);
	fprintf(f, "\n"
		   "Run 'slipway <command> --help' for the options of one command.\n"
		   "\n"
		   "global options (accepted before or after the command):\n"
		   "  --server URL   base URL of slipway-server (or SLIPWAY_SERVER, or 'server =' in the config)\n"
		   "  --token TOKEN  API token, sent as 'Authorization: token TOKEN' (or SLIPWAY_TOKEN, 'token =')\n"
		   "  --config FILE  configuration file (default $XDG_CONFIG_HOME/slipway/config,\n"
		   "                 else ~/.config/slipway/config): 'server = URL', 'token = T', 'timeout = 60'\n"
		   "  --ca-file FILE CA bundle (PEM) that verifies an https:// server (or SLIPWAY_CA_FILE,\n"
		   "                 'ca_file ='); without it the system's CA store is used\n"
		   "  --insecure     do not verify the server's TLS certificate (warns; or 'insecure = true')\n"
		   "  --json         print the server's JSON instead of text\n"
		   "  --version      print the version\n"
		   "\n"
		   "exit codes:\n"
		   "   0  success\n"
		   "   1  --wait/--watch: the deploy failed (FAILING, or failed and rolled back)\n"
		   "   2  --wait/--watch: the deploy was replaced by another deploy before it succeeded\n"
		   "   3  --wait/--watch: the deploy succeeded with no host, so nothing was deployed\n"
		   "      (not with --allow-empty)\n"
		   "  64  usage error (bad command line, no server configured)\n"
		   "  65  the server rejected the request (HTTP 400)\n"
		   "  66  a local input file is missing or unreadable\n"
		   "  68  not found (HTTP 404)\n"
		   "  69  the server cannot be reached\n"
		   "  70  server error (HTTP 500 or another unexpected status)\n"
		   "  73  conflict with the current state (HTTP 409)\n"
		   "  74  local I/O error\n"
		   "  75  temporary failure: HTTP 503, request timeout, or --timeout expired\n"
		   "  76  malformed answer from the server\n"
		   "  77  not authenticated or not allowed (HTTP 401/403)\n"
		   "  78  bad configuration file\n");
}
