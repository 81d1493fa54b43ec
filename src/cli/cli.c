/* SPDX-License-Identifier: Apache-2.0 */
/* cli/cli.c: shared CLI state: option/env/config resolution, error text, exit codes, output
 * helpers. Prints only what a command asks it to print; errors are left for main(). */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"
#include "cli.h"
#include "jsonutil.h"
#include "names.h"
#include "parse.h"
#include "util.h"
#include "banned.h"

struct cli_config {
	char *server;
	char *token;
	int64_t timeout_s;
	char *ca_file;
	bool insecure;
};

static const struct cfg_entry config_table[] = {
    {"server", CFG_STRING, 0, 0, NULL, offsetof(struct cli_config, server), "base URL of slipway-server"},
    {"token", CFG_STRING, 0, 0, NULL, offsetof(struct cli_config, token), "API token"},
    {"timeout", CFG_SECONDS, 1, 3600, "60", offsetof(struct cli_config, timeout_s),
     "seconds before one HTTP request gives up"},
    {"ca_file", CFG_STRING, 0, 0, NULL, offsetof(struct cli_config, ca_file),
     "CA bundle (PEM) that verifies an https:// server"},
    {"insecure", CFG_BOOL, 0, 0, "false", offsetof(struct cli_config, insecure),
     "do not verify the server's TLS certificate"},
};

void cli_init(struct cli *c)
{
	memset(c, 0, sizeof(*c));
	c->timeout_ms = 60000;
	c->out = stdout;
	c->is_tty = isatty(STDOUT_FILENO) == 1;
}

void cli_release(struct cli *c)
{
	free(c->arg_server);
	free(c->arg_token);
	free(c->arg_config);
	free(c->server);
	free(c->token);
	free(c->arg_ca_file);
	free(c->ca_file);
	c->arg_server = c->arg_token = c->arg_config = c->server = c->token = NULL;
	c->arg_ca_file = c->ca_file = NULL;
}

int cli_fail(struct cli *c, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->errmsg, sizeof(c->errmsg), fmt, ap);
	va_end(ap);
	return r;
}

int cli_usage_error(struct cli *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->errmsg, sizeof(c->errmsg), fmt, ap);
	va_end(ap);
	c->usage_error = true;
	return -EINVAL;
}

static void config_warn(const char *file, unsigned line, const char *msg, void *userdata)
{
	(void)userdata;
	fprintf(stderr, "slipway: %s:%u: %s, ignoring\n", file, line, msg);
}

static char *default_config_path(void)
{
	const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
	char *p = NULL;

	if (xdg && *xdg) {
		if (asprintf(&p, "%s/slipway/config", xdg) < 0)
			return NULL;
	} else if (home && *home) {
		if (asprintf(&p, "%s/.config/slipway/config", home) < 0)
			return NULL;
	}
	return p;
}

static int set_owned(char **dst, const char *src)
{
	char *d = strdup(src);

	if (!d)
		return -ENOMEM;
	free(*dst);
	*dst = d;
	return 0;
}

int cli_resolve(struct cli *c)
{
	struct cli_config cfg = {};
	char errbuf[512] = "";
	char *path = NULL;
	const char *env;
	size_t n;
	int r;

	if (c->resolved)
		return 0;
	r = cfg_apply_defaults(config_table, ELEMENTSOF(config_table), &cfg);
	if (r < 0)
		goto out;
	path = c->arg_config ? strdup(c->arg_config) : default_config_path();
	if (path) {
		r = cfg_load_file(config_table, ELEMENTSOF(config_table), &cfg, path, 0, config_warn, NULL, errbuf,
				  sizeof(errbuf));
		/* a missing default file is fine; a missing explicit --config is not */
		if (r == -ENOENT && !c->arg_config)
			r = 0;
		if (r < 0) {
			r = cli_fail(c, -ENOEXEC, "bad configuration: %s", errbuf[0] ? errbuf : path);
			goto out;
		}
	}

	if (c->arg_server)
		r = set_owned(&c->server, c->arg_server);
	else if ((env = getenv("SLIPWAY_SERVER")) && *env)
		r = set_owned(&c->server, env);
	else if (cfg.server && *cfg.server)
		r = set_owned(&c->server, cfg.server);
	else
		r = cli_usage_error(c, "no server: use --server URL, SLIPWAY_SERVER or 'server = URL' in %s",
				    path ? path : "~/.config/slipway/config");
	if (r < 0)
		goto out;
	if (!startswith(c->server, "http://") && !startswith(c->server, "https://")) {
		r = cli_usage_error(c, "server URL '%s' must start with http:// or https://", c->server);
		goto out;
	}
	n = strlen(c->server);
	while (n > 0 && c->server[n - 1] == '/')
		c->server[--n] = 0;

	if (c->arg_token)
		r = set_owned(&c->token, c->arg_token);
	else if ((env = getenv("SLIPWAY_TOKEN")) && *env)
		r = set_owned(&c->token, env);
	else if (cfg.token && *cfg.token)
		r = set_owned(&c->token, cfg.token);
	if (r < 0)
		goto out;
	if (c->token && (strchr(c->token, '\n') || strchr(c->token, '\r'))) {
		r = cli_fail(c, -ENOEXEC, "the token must be a single line");
		goto out;
	}
	if (c->arg_ca_file)
		r = set_owned(&c->ca_file, c->arg_ca_file);
	else if ((env = getenv("SLIPWAY_CA_FILE")) && *env)
		r = set_owned(&c->ca_file, env);
	else if (cfg.ca_file && *cfg.ca_file)
		r = set_owned(&c->ca_file, cfg.ca_file);
	if (r < 0)
		goto out;
	c->insecure = c->arg_insecure || cfg.insecure;
	if (c->insecure && startswith(c->server, "https://"))
		fprintf(stderr, "slipway: warning: --insecure: the server's TLS certificate is not verified\n");
	c->timeout_ms = cfg.timeout_s * 1000;
	c->resolved = true;
	r = 0;
out:
	cfg_release(config_table, ELEMENTSOF(config_table), &cfg);
	free(path);
	return r;
}

int cli_exit_code(const struct cli *c, int r)
{
	if (r == 0)
		return CLI_EXIT_OK;
	if (r == CLI_RESULT_DEPLOY_FAILED)
		return CLI_EXIT_DEPLOY_FAILED;
	if (r == CLI_RESULT_DEPLOY_ABORTED)
		return CLI_EXIT_DEPLOY_ABORTED;
	if (r == CLI_RESULT_DEPLOY_EMPTY)
		return CLI_EXIT_DEPLOY_EMPTY;
	if (c->usage_error)
		return CLI_EXIT_USAGE;
	if (r == -EREMOTEIO) {
		switch (c->http_status) {
		case 400:
		case 405:
		case 413:
			return CLI_EXIT_REJECTED;
		case 401:
		case 403:
			return CLI_EXIT_NOPERM;
		case 404:
			return CLI_EXIT_NOT_FOUND;
		case 409:
			return CLI_EXIT_CONFLICT;
		case 503:
			return CLI_EXIT_TEMPFAIL;
		default:
			return CLI_EXIT_SERVER;
		}
	}
	switch (r) {
	case -ECONNREFUSED:
	case -EHOSTUNREACH:
	case -ENETUNREACH:
	case -ECONNRESET:
		return CLI_EXIT_UNAVAILABLE;
	case -ETIMEDOUT:
		return CLI_EXIT_TEMPFAIL;
	case -EBADMSG:
	case -EPROTO:
		return CLI_EXIT_PROTOCOL;
	case -ENOEXEC:
		return CLI_EXIT_CONFIG;
	case -ENODATA: /* a lookup on the client side found nothing */
		return CLI_EXIT_NOT_FOUND;
	case -ENOENT:
	case -EACCES:
	case -EISDIR:
	case -EFBIG:
		return CLI_EXIT_NOINPUT;
	case -EINVAL:
		return CLI_EXIT_USAGE;
	case -EIO:
	case -ENOSPC:
	case -EPIPE:
		return CLI_EXIT_IOERR;
	default:
		return CLI_EXIT_SERVER;
	}
}

int cli_parse_env_stage(const char *s, char env[static 65], char stage[static 65])
{
	const char *slash;
	size_t n;

	if (!s)
		return -EINVAL;
	slash = strchr(s, '/');
	if (!slash)
		return -EINVAL;
	n = (size_t)(slash - s);
	if (n == 0 || n > 64)
		return -EINVAL;
	memcpy(env, s, n);
	env[n] = 0;
	if (str_copy(stage, 65, slash + 1) < 0)
		return -EINVAL;
	if (!env_name_is_valid(env) || !env_name_is_valid(stage))
		return -EINVAL;
	return 0;
}

int cli_print_json(struct cli *c, const json_t *j)
{
	if (json_dumpf(j, c->out, JSON_INDENT(2) | JSON_ENCODE_ANY) < 0)
		return -EIO;
	if (fputc('\n', c->out) == EOF)
		return -EIO;
	return 0;
}

int cli_print_created(struct cli *c, const json_t *created, const char *fallback)
{
	const char *id = NULL;

	if (c->json)
		return cli_print_json(c, created);
	if (json_get_string(created, "id", 64, &id) == 0)
		fprintf(c->out, "%s\n", id);
	else if (fallback)
		fprintf(c->out, "%s\n", fallback);
	else
		return cli_fail(c, -EBADMSG, "the server's answer has no id");
	return 0;
}

const char *cli_json_text(const json_t *v, char *buf, size_t size)
{
	char *s;

	if (!v || json_is_null(v))
		return "-";
	if (json_is_string(v))
		return json_string_value(v);
	s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	snprintf(buf, size, "%s", s ? s : "?");
	free(s);
	return buf;
}

int cli_page_option(struct cli *c, const char *cmd, const char *opt_name, const char *arg, int64_t max)
{
	int64_t n;

	if (parse_i64(arg, 1, max, &n) < 0)
		return cli_usage_error(c, "%s: bad %s '%s' (an integer from 1 to %lld)", cmd, opt_name, arg,
				       (long long)max);
	return 0;
}

const char *cli_json_time(const json_t *v, char *buf, size_t size)
{
	char t[64];

	if (!json_is_integer(v) || json_integer_value(v) <= 0)
		return "-";
	fmt_rfc3339(json_integer_value(v), t, sizeof(t));
	snprintf(buf, size, "%s", t);
	return buf;
}

int cli_common_option(struct cli *c, int opt, const char *arg)
{
	char **dst;

	switch (opt) {
	case CLI_OPT_SERVER:
		dst = &c->arg_server;
		break;
	case CLI_OPT_TOKEN:
		dst = &c->arg_token;
		break;
	case CLI_OPT_CONFIG:
		dst = &c->arg_config;
		break;
	case CLI_OPT_CA_FILE:
		dst = &c->arg_ca_file;
		break;
	case CLI_OPT_INSECURE:
		c->arg_insecure = true;
		return 1;
	case CLI_OPT_JSON:
		c->json = true;
		return 1;
	case 'h':
		c->help = true;
		return 1;
	default:
		return 0;
	}
	return set_owned(dst, arg) < 0 ? -ENOMEM : 1;
}

int cli_bad_option(struct cli *c, const char *cmd, int argc, char **argv)
{
	const char *what = optind - 1 < argc && optind > 0 ? argv[optind - 1] : "?";

	if (optopt && optopt < 0x80 && optopt != '?')
		return cli_usage_error(c, "%s: bad or incomplete option '-%c' (see 'slipway %s --help')", cmd, optopt,
				       cmd);
	return cli_usage_error(c, "%s: bad or incomplete option '%s' (see 'slipway %s --help')", cmd, what, cmd);
}

int cli_parse_simple(struct cli *c, const char *cmd, const char *usage, int argc, char **argv, int min_args,
		     int max_args, char ***ret_args, int *ret_nargs)
{
	static const struct option opts[] = {CLI_COMMON_LONGOPTS};
	int opt, r, n;

	cli_getopt_reset();
	while ((opt = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		r = cli_common_option(c, opt, optarg);
		if (r < 0)
			return r;
		if (r == 0)
			return cli_bad_option(c, cmd, argc, argv);
	}
	if (c->help) {
		fprintf(c->out, "%s", usage);
		return 1;
	}
	n = argc - optind;
	if (n < min_args)
		return cli_usage_error(c, "%s: missing argument (see 'slipway %s --help')", cmd, cmd);
	if (max_args >= 0 && n > max_args)
		return cli_usage_error(c, "%s: unexpected argument '%s'", cmd, argv[optind + max_args]);
	*ret_args = argv + optind;
	*ret_nargs = n;
	return 0;
}

int cli_next_option(struct cli *c, int argc, char **argv, const struct option *opts)
{
	int opt, r;

	while ((opt = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		r = cli_common_option(c, opt, optarg);
		if (r < 0)
			return r;
		if (r == 0)
			return opt;
	}
	return 0;
}

void cli_getopt_reset(void)
{
	optind = 0; /* glibc: 0 re-initialises getopt's internal state */
	opterr = 0;
	optopt = 0;
}
