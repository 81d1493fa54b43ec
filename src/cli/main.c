/* SPDX-License-Identifier: Apache-2.0 */
/* cli/main.c: `slipway`: global options, the command dispatch, and the one place where a result
 * becomes a message on stderr and a sysexits.h exit code. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "cli.h"
#include "cmd.h"
#include "util.h"
#include "banned.h"

/* Global options before the command; the same options after it are handled by each command. */
static int parse_global(struct cli *c, int argc, char **argv, int *ret_index)
{
	int i = 1, r;

	while (i < argc && argv[i][0] == '-') {
		const char *a = argv[i], *val = NULL;
		int opt = 0;

		if (streq(a, "--help") || streq(a, "-h"))
			opt = 'h';
		else if (streq(a, "--json"))
			opt = CLI_OPT_JSON;
		else if (streq(a, "--insecure"))
			opt = CLI_OPT_INSECURE;
		else if (streq(a, "--version"))
			return 2;
		else {
			static const struct {
				const char *name;
				int opt;
			} with_value[] = {
			    {"--server", CLI_OPT_SERVER}, {"--token", CLI_OPT_TOKEN}, {"--config", CLI_OPT_CONFIG},
			    {"--ca-file", CLI_OPT_CA_FILE}};
			for (size_t k = 0; k < ELEMENTSOF(with_value); k++) {
				size_t n = strlen(with_value[k].name);

				if (streq(a, with_value[k].name)) {
					if (i + 1 >= argc)
						return cli_usage_error(c, "option '%s' needs a value", a);
					opt = with_value[k].opt;
					val = argv[++i];
				} else if (strncmp(a, with_value[k].name, n) == 0 && a[n] == '=') {
					opt = with_value[k].opt;
					val = a + n + 1;
				}
			}
			if (!opt)
				return cli_usage_error(c, "unknown option '%s' (see 'slipway --help')", a);
		}
		r = cli_common_option(c, opt, val);
		if (r < 0)
			return r;
		i++;
	}
	*ret_index = i;
	return 0;
}

int main(int argc, char **argv)
{
	const struct cmd *cmd;
	struct cli c;
	int i = 0, r, code;

	(void)signal(SIGPIPE, SIG_IGN);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "slipway: cannot initialise libcurl\n");
		return CLI_EXIT_SERVER;
	}
	cli_init(&c);
	r = parse_global(&c, argc, argv, &i);
	if (r == 2) {
		printf("slipway %s (%s)\n", SLIPWAY_VERSION, SLIPWAY_COMMIT);
		r = 0;
		goto out;
	}
	if (r < 0)
		goto out;
	if (i >= argc || (c.help && i >= argc)) {
		cmd_print_main_help(c.help ? stdout : stderr);
		r = c.help ? 0 : cli_usage_error(&c, "a command is required");
		goto out;
	}
	if (streq(argv[i], "help")) {
		cmd_print_main_help(stdout);
		r = 0;
		goto out;
	}
	cmd = cmd_find(cli_commands, cli_n_commands, argv[i]);
	if (!cmd) {
		r = cli_usage_error(&c, "unknown command '%s' (see 'slipway --help')", argv[i]);
		goto out;
	}
	c.help = false; /* `slipway --help deploy` = `slipway deploy --help` */
	if (i > 1 && streq(argv[i - 1], "--help"))
		c.help = true;
	r = cmd->fn(&c, argc - i, argv + i);
out:
	code = cli_exit_code(&c, r);
	if (code != 0) {
		if (c.errmsg[0])
			fprintf(stderr, "slipway: %s\n", c.errmsg);
		else
			fprintf(stderr, "slipway: %s\n", strerror(r < 0 ? -r : EIO));
	}
	if (fflush(stdout) != 0 && code == 0)
		code = CLI_EXIT_IOERR;
	cli_release(&c);
	curl_global_cleanup();
	return code;
}
