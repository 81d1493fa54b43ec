/* SPDX-License-Identifier: Apache-2.0 */
/* cli/cli.h: the state every `slipway` command shares: resolved server URL and token, output
 * mode, the last error text, and the one mapping from a command's result to an exit code.
 * Commands return 0, a negative errno, or one of the positive CLI_RESULT_* values below; only
 * main() turns that into a sysexits.h code (cli_exit_code()). Detail text for the final error
 * message lives on the handle (cli_fail()), and main() prints it once. */
#ifndef SLIPWAY_CLI_CLI_H
#define SLIPWAY_CLI_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

/* Positive command results (PROTOCOL deploy states seen by --wait/--watch). */
enum {
	CLI_RESULT_DEPLOY_FAILED = 1,  /* the deploy is FAILING */
	CLI_RESULT_DEPLOY_ABORTED = 2, /* the deploy was ABORTED or replaced by another deploy */
	CLI_RESULT_DEPLOY_EMPTY = 3,   /* the deploy succeeded with no host: nothing was deployed */
};

/* Exit codes (documented in `slipway --help` and docs/cli.md). */
enum {
	CLI_EXIT_OK = 0,
	CLI_EXIT_DEPLOY_FAILED = 1,
	CLI_EXIT_DEPLOY_ABORTED = 2,
	CLI_EXIT_DEPLOY_EMPTY = 3,
	CLI_EXIT_USAGE = 64,	   /* EX_USAGE: bad command line */
	CLI_EXIT_REJECTED = 65,	   /* EX_DATAERR: the server refused the input (HTTP 400) */
	CLI_EXIT_NOINPUT = 66,	   /* EX_NOINPUT: a local input file is missing or unreadable */
	CLI_EXIT_NOT_FOUND = 68,   /* EX_NOHOST: the named object does not exist (HTTP 404) */
	CLI_EXIT_UNAVAILABLE = 69, /* EX_UNAVAILABLE: the server cannot be reached */
	CLI_EXIT_SERVER = 70,	   /* EX_SOFTWARE: server fault (HTTP 500, other unexpected status) */
	CLI_EXIT_CONFLICT = 73,	   /* EX_CANTCREAT: conflict with current state (HTTP 409) */
	CLI_EXIT_IOERR = 74,	   /* EX_IOERR: local I/O error */
	CLI_EXIT_TEMPFAIL = 75,	   /* EX_TEMPFAIL: HTTP 503, request or --wait timeout */
	CLI_EXIT_PROTOCOL = 76,	   /* EX_PROTOCOL: malformed answer from the server */
	CLI_EXIT_NOPERM = 77,	   /* EX_NOPERM: HTTP 401 / 403 */
	CLI_EXIT_CONFIG = 78,	   /* EX_CONFIG: bad configuration file */
};

struct cli {
	/* from flags (take precedence), then SLIPWAY_SERVER/SLIPWAY_TOKEN, then the config file */
	char *arg_server;
	char *arg_token;
	char *arg_config; /* --config FILE; default $XDG_CONFIG_HOME/slipway/config or ~/.config/... */
	char *arg_ca_file; /* --ca-file FILE: CA bundle (PEM) that verifies an https:// server */
	bool arg_insecure; /* --insecure: do not verify the server's certificate (warns) */
	bool json;	  /* --json: machine-readable output */
	bool help;	  /* --help was given to the current command */

	/* resolved by cli_resolve() */
	char *server; /* no trailing '/' */
	char *token;  /* NULL = none */
	char *ca_file; /* NULL = the system's CA store; from --ca-file, SLIPWAY_CA_FILE or ca_file */
	bool insecure; /* TLS verification off (--insecure, or insecure = true) */
	int64_t timeout_ms;
	bool resolved;

	bool is_tty; /* stdout is a terminal */
	FILE *out;   /* stdout; tests may redirect */

	long http_status; /* status of the last failed HTTP exchange, 0 if none */
	bool usage_error; /* the failure is a command-line mistake */
	char errmsg[1024];
};

void cli_init(struct cli *c);
void cli_release(struct cli *c);

/* Fill c->server, c->token, c->timeout_ms from flags, environment and the config file.
 * Returns 0, -EINVAL (no server configured, message set) or -ENOEXEC (bad config file, message
 * set; maps to EX_CONFIG). */
int cli_resolve(struct cli *c);

/* Record the message for main() to print and return r (a negative errno or positive result). */
int cli_fail(struct cli *c, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A command-line mistake: records the message, marks usage_error, returns -EINVAL. */
int cli_usage_error(struct cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The sysexits code for a command's result r (see the enums above). */
int cli_exit_code(const struct cli *c, int r);

/* Split "ENV/STAGE" into its two names (validated per PROTOCOL §1.5). Writes into the caller's
 * buffers of at least 65 bytes. Returns 0 or -EINVAL. */
int cli_parse_env_stage(const char *s, char env[static 65], char stage[static 65]);

/* A paging option (--page, --size) of cmd: its value must be an integer in 1..max, else a usage error naming
 * the option (returned). */
int cli_page_option(struct cli *c, const char *cmd, const char *opt_name, const char *arg, int64_t max);

/* Print j to c->out, indented, followed by a newline. Returns 0 or -EIO. */
int cli_print_json(struct cli *c, const json_t *j);
/* What a create command prints: the created object with --json, else its "id" (or fallback when it
 * has none; a NULL fallback makes that an error). Returns 0 or a negative errno (message on c). */
int cli_print_created(struct cli *c, const json_t *created, const char *fallback);
/* A JSON value as display text: strings as is, null as "-", numbers/bools as JSON. Returns a
 * pointer into buf (or the string itself). */
const char *cli_json_text(const json_t *v, char *buf, size_t size);
/* Epoch ms (JSON integer) as "2026-01-01 00:05:00Z" in buf, or "-" when null. */
const char *cli_json_time(const json_t *v, char *buf, size_t size);

/* Common options accepted by every command: --server, --token, --json, --config, --help.
 * CLI_COMMON_LONGOPTS goes at the end of a command's struct option array; cli_common_option()
 * handles one getopt result and returns 1 if it was a common option, 0 otherwise. */
#define CLI_OPT_SERVER 0x1000
#define CLI_OPT_TOKEN  0x1001
#define CLI_OPT_JSON   0x1002
#define CLI_OPT_CONFIG 0x1003
#define CLI_OPT_CA_FILE 0x1004
#define CLI_OPT_INSECURE 0x1005
#define CLI_COMMON_LONGOPTS                                                                                            \
	{"server", required_argument, NULL, CLI_OPT_SERVER}, {"token", required_argument, NULL, CLI_OPT_TOKEN},        \
	    {"json", no_argument, NULL, CLI_OPT_JSON}, {"config", required_argument, NULL, CLI_OPT_CONFIG},            \
	    {"ca-file", required_argument, NULL, CLI_OPT_CA_FILE}, {"insecure", no_argument, NULL, CLI_OPT_INSECURE},  \
	    {"help", no_argument, NULL, 'h'},                                                                          \
	{                                                                                                              \
		NULL, 0, NULL, 0                                                                                       \
	}
int cli_common_option(struct cli *c, int opt, const char *arg);
/* Report an unknown option or missing argument from getopt_long (opt == '?' or ':'). */
int cli_bad_option(struct cli *c, const char *cmd, int argc, char **argv);
/* Parse a command that takes only the common options plus between min_args and max_args
 * positional arguments (max_args < 0: no limit). *ret_args points into argv (argv is permuted so
 * that the positionals come last). Returns 0, 1 when --help was given (usage printed), or -EINVAL
 * (usage error recorded). */
int cli_parse_simple(struct cli *c, const char *cmd, const char *usage, int argc, char **argv, int min_args,
		     int max_args, char ***ret_args, int *ret_nargs);
/* Reset getopt for a fresh parse of a new argv. */
/* The next option of argv that is not a common one (those are applied to c): the option (> 0), 0 after the
 * last, or the common option's error (< 0). Call cli_getopt_reset() first. */
struct option;
int cli_next_option(struct cli *c, int argc, char **argv, const struct option *opts);
void cli_getopt_reset(void);

#endif
