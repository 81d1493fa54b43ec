/* SPDX-License-Identifier: Apache-2.0 */
/* fleetsim/main.c: slipway-fleetsim's command line (docs/fleetsim.md). Bad flags: usage on stderr, exit 64. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enums.h"
#include "names.h"
#include "parse.h"
#include "sim.h"
#include "util.h"
#include "banned.h"

#define EXIT_USAGE 64
#define MAX_HOSTS 9999999 /* host names carry 7 digits */
#define MAX_CONNECTIONS 100000
#define SERVING_ID_MAX 64 /* longer than any id the server hands out */

static const char usage_text[] =
	"usage: slipway-fleetsim --server URL --token T --group G --hosts N --duration S\n"
	"                        [--interval S] [--wait S] [--connections C] [--prefix P] [--script-ms MS]\n"
	"                        [--fail-rate F] [--fail-stage STAGE] [--serving ENV_ID:DEPLOY_ID] [--json]\n"
	"Simulates N slipway-agent hosts named P-0000001... in group G for S seconds.\n"
	"  --server URL        the deploy service, e.g. http://127.0.0.1:8080\n"
	"  --token T           a PINGER (or stronger) token, sent as the agent sends it\n"
	"  --group G           the group every host reports\n"
	"  --hosts N           number of hosts (1..9999999)\n"
	"  --duration S        run time in seconds; exits 0 afterwards\n"
	"  --interval S        idle ping interval, jittered +-10%% (default 60)\n"
	"  --wait S            long-poll: idle pings ask ?wait=S (0..60, default 0: none)\n"
	"  --connections C     keep-alive connections (default 64, at most N)\n"
	"  --prefix P          host name prefix (default sim)\n"
	"  --script-ms MS      time every deploy stage takes (default 0)\n"
	"  --fail-rate F       probability 0..1 that a stage fails (default 0)\n"
	"  --fail-stage STAGE  the deploy stage that may fail (default: any)\n"
	"  --serving E:D       every host starts serving deploy D of stage id E (for a seeded fleet)\n"
	"  --json              progress lines on stderr as JSON objects\n"
	"Progress: one line a second on stderr; summary: one JSON object on stdout.\n";

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "slipway-fleetsim: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n%s", usage_text);
	return EXIT_USAGE;
}

enum { OPT_SERVER = 256, OPT_TOKEN, OPT_GROUP, OPT_HOSTS, OPT_DURATION, OPT_INTERVAL, OPT_WAIT, OPT_CONNECTIONS,
       OPT_PREFIX, OPT_SCRIPT_MS, OPT_FAIL_RATE, OPT_FAIL_STAGE, OPT_SERVING, OPT_JSON,
       OPT_HELP };

static const struct option long_options[] = {
	{ "server", required_argument, NULL, OPT_SERVER },
	{ "token", required_argument, NULL, OPT_TOKEN },
	{ "group", required_argument, NULL, OPT_GROUP },
	{ "hosts", required_argument, NULL, OPT_HOSTS },
	{ "duration", required_argument, NULL, OPT_DURATION },
	{ "interval", required_argument, NULL, OPT_INTERVAL },
	{ "wait", required_argument, NULL, OPT_WAIT },
	{ "connections", required_argument, NULL, OPT_CONNECTIONS },
	{ "prefix", required_argument, NULL, OPT_PREFIX },
	{ "script-ms", required_argument, NULL, OPT_SCRIPT_MS },
	{ "fail-rate", required_argument, NULL, OPT_FAIL_RATE },
	{ "fail-stage", required_argument, NULL, OPT_FAIL_STAGE },
	{ "serving", required_argument, NULL, OPT_SERVING },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

static int parse_rate(const char *s, double *ret)
{
	char *end = NULL;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (!*s || errno || !end || *end || !isfinite(v) || v < 0 || v > 1)
		return -EINVAL;
	*ret = v;
	return 0;
}

/* ENV_ID:DEPLOY_ID, both non-empty ids; kept in a static copy split at the colon. */
static int parse_serving(const char *s, struct sim_options *o)
{
	static char copy[2 * SERVING_ID_MAX + 2];
	char *colon;

	if (strlen(s) >= sizeof(copy))
		return -EINVAL;
	snprintf(copy, sizeof(copy), "%s", s);
	colon = strchr(copy, ':');
	if (!colon || colon == copy || !colon[1] || strchr(colon + 1, ':'))
		return -EINVAL;
	*colon = '\0';
	o->serving_env_id = copy;
	o->serving_deploy_id = colon + 1;
	return 0;
}

/* One option into o. 0, or the usage error's exit code. */
static int apply_option(int c, const char *arg, struct sim_options *o)
{
	int64_t v;
	int k = 0;

	switch (c) {
	case OPT_SERVER:
		if (!startswith(arg, "http://") && !startswith(arg, "https://"))
			return usage_error("--server must be an http:// or https:// URL: '%s'", arg);
		o->server = arg;
		break;
	case OPT_TOKEN:
		o->token = arg;
		break;
	case OPT_GROUP:
		if (!group_name_is_valid(arg))
			return usage_error("--group is not a valid group name: '%s'", arg);
		o->group = arg;
		break;
	case OPT_PREFIX:
		o->prefix = arg;
		break;
	case OPT_HOSTS:
		k = parse_i64(arg, 1, MAX_HOSTS, &v);
		o->hosts = (uint32_t)v;
		break;
	case OPT_CONNECTIONS:
		k = parse_i64(arg, 1, MAX_CONNECTIONS, &v);
		o->connections = (uint32_t)v;
		break;
	case OPT_DURATION:
		k = parse_seconds_ms(arg, 1, 365LL * 24 * 3600 * 1000, &o->duration_ms);
		break;
	case OPT_INTERVAL:
		k = parse_seconds_ms(arg, 100, 24LL * 3600 * 1000, &o->cfg.interval_ms);
		break;
	case OPT_WAIT:
		k = parse_int(arg, 0, 60, &o->cfg.wait_s);
		break;
	case OPT_SCRIPT_MS:
		k = parse_i64(arg, 0, 3600LL * 1000, &o->cfg.script_ms);
		break;
	case OPT_FAIL_RATE:
		k = parse_rate(arg, &o->cfg.fail_rate);
		break;
	case OPT_FAIL_STAGE:
		o->cfg.fail_stage = deploy_stage_from_string(arg);
		k = o->cfg.fail_stage < 0 || o->cfg.fail_stage == DEPLOY_STAGE_UNKNOWN ? -EINVAL : 0;
		break;
	case OPT_SERVING:
		k = parse_serving(arg, o);
		break;
	case OPT_JSON:
		o->json = true;
		break;
	default:
		return EXIT_USAGE;
	}
	if (k < 0) {
		for (const struct option *lo = long_options; lo->name; lo++)
			if (lo->val == c)
				return usage_error("invalid value for --%s: '%s'", lo->name, arg);
		return usage_error("invalid value '%s'", arg);
	}
	return 0;
}

static int parse_args(int argc, char **argv, struct sim_options *o)
{
	int c, k;

	memset(o, 0, sizeof(*o));
	o->prefix = "sim";
	o->cfg.interval_ms = 60000;
	o->cfg.fail_stage = -1;
	o->cfg.backoff_ms = 2000;	/* the agent's backoff default */
	o->cfg.backoff_max_ms = 60000; /* and its backoff_max */
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", long_options, NULL)) != -1) {
		if (c == OPT_HELP) {
			fputs(usage_text, stdout);
			return -1;
		}
		if (c == '?' || c == ':')
			return usage_error("unknown option or missing value: '%s'", argv[optind - 1]);
		k = apply_option(c, optarg, o);
		if (k)
			return k;
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	if (!o->server || !o->token || !o->group || !o->hosts || !o->duration_ms)
		return usage_error("--server, --token, --group, --hosts and --duration are required");
	if (!*o->prefix || strlen(o->prefix) > 40 || !host_name_is_valid(o->prefix))
		return usage_error("--prefix is not a valid host name start: '%s'", o->prefix);
	if (!o->connections)
		o->connections = o->hosts < 64 ? o->hosts : 64;
	if (o->connections > o->hosts)
		o->connections = o->hosts;
	return 0;
}

int main(int argc, char **argv)
{
	struct sim_options o;
	int r = parse_args(argc, argv, &o);

	if (r < 0)
		return 0; /* --help */
	if (r > 0)
		return r;
	r = sim_run(&o);
	if (r < 0) {
		fprintf(stderr, "slipway-fleetsim: %s\n", strerror(-r));
		return 1;
	}
	return 0;
}
