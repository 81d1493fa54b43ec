/* SPDX-License-Identifier: Apache-2.0 */
/* cli/cmd_host_search.c: `slipway host search TEXT`: host names that contain (or start with) TEXT, a page at a
 * time (GET /v1/hosts?nameContains= | namePrefix=). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "http.h"
#include "jsonutil.h"
#include "names.h"
#include "parse.h"
#include "util.h"
#include "banned.h"

static const char usage[] =
    "usage: slipway host search TEXT [--prefix] [--limit N] [--after NAME] [--json]\n"
    "\n"
    "List the hosts whose name contains TEXT (with --prefix: starts with TEXT), in name order, with the\n"
    "number of stages each has an agent in and when it was last seen. At most --limit names (1..200,\n"
    "default 50); when there are more, the last line says how to get the next page (--after NAME).\n"
    "--json prints the server's {\"hosts\": [{hostName, lastSeen, stages}], \"next\"}.\n";

struct search_opts {
	bool prefix;
	const char *limit;
	const char *after;
};

static int search_parse(struct cli *c, int argc, char **argv, struct search_opts *o)
{
	enum { O_PREFIX = 0x100, O_LIMIT, O_AFTER };
	static const struct option opts[] = {
	    {"prefix", no_argument, NULL, O_PREFIX},
	    {"limit", required_argument, NULL, O_LIMIT},
	    {"after", required_argument, NULL, O_AFTER},
	    CLI_COMMON_LONGOPTS,
	};
	int64_t n;
	int opt;

	cli_getopt_reset();
	while ((opt = cli_next_option(c, argc, argv, opts)) > 0) {
		if (opt == O_PREFIX)
			o->prefix = true;
		else if (opt == O_LIMIT)
			o->limit = optarg;
		else if (opt == O_AFTER)
			o->after = optarg;
		else
			return cli_bad_option(c, "host search", argc, argv);
	}
	if (opt < 0)
		return opt;
	if (c->help) {
		fprintf(c->out, "%s", usage);
		return 1;
	}
	if (o->limit && parse_i64(o->limit, 1, 200, &n) < 0)
		return cli_usage_error(c, "host search: --limit must be a number from 1 to 200");
	if (o->after && !host_name_is_valid(o->after))
		return cli_usage_error(c, "host search: --after '%s' is not a host name", o->after);
	if (argc - optind != 1)
		return cli_usage_error(c, "host search: give one TEXT (see 'slipway host search --help')");
	if (!host_name_is_valid(argv[optind]))
		return cli_usage_error(c, "host search: '%s' is not part of a host name (A-Z a-z 0-9 . _ -)", argv[optind]);
	return 0;
}

static void print_hosts(struct cli *c, const json_t *res, const char *text, const struct search_opts *o)
{
	const json_t *hosts = json_object_get(res, "hosts"), *h;
	const char *next = json_string_value(json_object_get(res, "next"));
	size_t i;

	if (json_array_size(hosts) == 0) {
		fprintf(c->out, "no host name %s '%s'\n", o->prefix ? "starts with" : "contains", text);
		return;
	}
	fprintf(c->out, "%-40s %-6s %s\n", "HOST", "STAGES", "LAST SEEN");
	json_array_foreach(hosts, i, h)
	{
		char b[3][128];
		const json_t *seen = json_object_get(h, "lastSeen");

		fprintf(c->out, "%-40s %-6s %s\n", cli_json_text(json_object_get(h, "hostName"), b[0], sizeof(b[0])),
			cli_json_text(json_object_get(h, "stages"), b[1], sizeof(b[1])),
			json_is_integer(seen) ? cli_json_time(seen, b[2], sizeof(b[2])) : "never pinged");
	}
	if (next)
		fprintf(c->out, "more: slipway host search %s%s --after %s\n", text, o->prefix ? " --prefix" : "", next);
}

int host_search(struct cli *c, int argc, char **argv)
{
	struct search_opts o = {};
	struct url_query q = {};
	json_t *res = NULL;
	const char *text;
	int r;

	r = search_parse(c, argc, argv, &o);
	if (r != 0)
		return r > 0 ? 0 : r;
	text = argv[optind];
	if (url_query_add(&q, o.prefix ? "namePrefix" : "nameContains", text) < 0 ||
	    (o.limit && url_query_add(&q, "limit", o.limit) < 0) || (o.after && url_query_add(&q, "after", o.after) < 0))
		return -ENOMEM;
	r = http_requestf(c, "GET", &q, NULL, &res, "/v1/hosts");
	if (r < 0)
		return r;
	if (!json_is_array(json_object_get(res, "hosts"))) {
		json_decref(res);
		return cli_fail(c, -EBADMSG, "the server's host search answer has no hosts list");
	}
	if (c->json)
		r = cli_print_json(c, res);
	else
		print_hosts(c, res, text, &o);
	json_decref(res);
	return r;
}
