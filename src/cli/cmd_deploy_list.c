/* SPDX-License-Identifier: Apache-2.0 */
/* cli/cmd_deploy_list.c: `slipway deploy list ENV/STAGE`: the stage's deploys, newest first, with how each one
 * ended (its outcome) and what a rollback rolled back from. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "http.h"
#include "jsonutil.h"
#include "util.h"
#include "banned.h"

static const char usage[] =
    "usage: slipway deploy list ENV/STAGE [--page N] [--size N] [--json]\n"
    "\n"
    "List the deploys of ENV/STAGE, newest first: id, start time (UTC), type, build, state, outcome\n"
    "(RUNNING, SUCCEEDED, FAILED, ROLLED_BACK, REPLACED, NO_HOSTS), hosts succeeded/total (and failed),\n"
    "and who started it. A ROLLBACK names the deploy it rolled back from.\n"
    "  --page N          page N (default 1)\n"
    "  --size N          N deploys a page (default 30, at most 1000)\n"
    "  --json            print the server's answer: {\"deploys\": [Deploy], \"total\", \"truncated\"}\n";

static void print_row(struct cli *c, const json_t *d)
{
	char t[7][128], hosts[64], failed[32] = "";
	const char *from = json_str(d, "rollbackFromDeployId");

	if (json_int(d, "failTotal") > 0)
		(void)str_printf(failed, sizeof(failed), " (%lld failed)", (long long)json_int(d, "failTotal"));
	(void)str_printf(hosts, sizeof(hosts), "%lld/%lld%s", (long long)json_int(d, "successTotal"),
			 (long long)json_int(d, "total"), failed);
	fprintf(c->out, "%-24s %-20s %-11s %-30s %-10s %-11s %-18s %s",
		cli_json_text(json_object_get(d, "id"), t[0], 128),
		cli_json_time(json_object_get(d, "startDate"), t[1], 128),
		cli_json_text(json_object_get(d, "type"), t[2], 128),
		cli_json_text(json_object_get(d, "buildId"), t[3], 128),
		cli_json_text(json_object_get(d, "state"), t[4], 128),
		cli_json_text(json_object_get(d, "outcome"), t[5], 128), hosts,
		cli_json_text(json_object_get(d, "operator"), t[6], 128));
	if (from)
		fprintf(c->out, "  (from %s)", from);
	fputc('\n', c->out);
}

int cmd_deploy_list(struct cli *c, int argc, char **argv)
{
	enum { O_PAGE = 0x100, O_SIZE };
	static const struct option opts[] = {
	    {"page", required_argument, NULL, O_PAGE},
	    {"size", required_argument, NULL, O_SIZE},
	    CLI_COMMON_LONGOPTS,
	};
	char env[65], stage[65];
	const char *page = NULL, *size = NULL;
	struct url_query q = {};
	json_t *es = NULL, *res = NULL, *deploys, *d;
	size_t i;
	int opt, r;

	cli_getopt_reset();
	while ((opt = cli_next_option(c, argc, argv, opts)) > 0) {
		if (opt != O_PAGE && opt != O_SIZE)
			return cli_bad_option(c, "deploy list", argc, argv);
		r = cli_page_option(c, "deploy list", opt == O_PAGE ? "--page" : "--size", optarg,
				    opt == O_PAGE ? 1000000 : 1000);
		if (r < 0)
			return r;
		*(opt == O_PAGE ? &page : &size) = optarg;
	}
	if (opt < 0)
		return opt;
	if (c->help) {
		fprintf(c->out, "%s", usage);
		return 0;
	}
	if (argc - optind != 1)
		return cli_usage_error(c, "deploy list: give one ENV/STAGE");
	if (cli_parse_env_stage(argv[optind], env, stage) < 0)
		return cli_usage_error(c, "deploy list: bad ENV/STAGE '%s'", argv[optind]);
	r = http_requestf(c, "GET", NULL, NULL, &es, "/v1/envs/%s/%s", env, stage);
	if (r < 0)
		return r;
	(void)url_query_add(&q, "envId", json_str(es, "id"));
	(void)url_query_add(&q, "pageIndex", page);
	(void)url_query_add(&q, "pageSize", size);
	r = http_requestf(c, "GET", &q, NULL, &res, "/v1/deploys");
	if (r < 0)
		goto out;
	deploys = json_object_get(res, "deploys");
	if (!json_is_array(deploys) || !json_str(es, "id")) {
		r = cli_fail(c, -EBADMSG, "the server's deploy list is not a list of deploys");
		goto out;
	}
	if (c->json) {
		r = cli_print_json(c, res);
		goto out;
	}
	if (json_array_size(deploys) == 0) {
		fprintf(c->out, "no deploys on %s/%s%s\n", env, stage, page ? " on this page" : "");
		goto out;
	}
	fprintf(c->out, "%-24s %-20s %-11s %-30s %-10s %-11s %-18s %s\n", "ID", "STARTED (UTC)", "TYPE", "BUILD",
		"STATE", "OUTCOME", "HOSTS", "OPERATOR");
	json_array_foreach(deploys, i, d) print_row(c, d);
	if (json_is_true(json_object_get(res, "truncated")))
		fprintf(c->out, "(%lld deploys in all: --page for more)\n", (long long)json_int(res, "total"));
out:
	json_decref(es);
	json_decref(res);
	return r;
}
