/* SPDX-License-Identifier: Apache-2.0 */
/* cli/cmd_hosts.c: `slipway hosts ENV/STAGE`: the hosts mapped to a stage and their agent rows. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "failures.h"
#include "http.h"
#include "jsonutil.h"
#include "util.h"
#include "banned.h"

static const char usage[] = "usage: slipway hosts ENV/STAGE [--tag KEY=VALUE] [--json]\n"
			    "\n"
			    "List the hosts of ENV/STAGE (by host or group capacity) with their agent's deploy stage,\n"
			    "state and last result, then each failing host with the step it failed at, its exit code\n"
			    "and the last lines of its script output. --json prints {\"hosts\": [Host], \"agents\": [Agent]}.\n"
			    "  --tag KEY=VALUE   only the hosts whose tag KEY (from their pings' ec2Tags, or\n"
			    "                    availabilityZone) has VALUE\n";

static void print_row(struct cli *c, const json_t *host, const json_t *agent)
{
	char b[6][128];
	const json_t *src = host ? host : agent;

	fprintf(c->out, "%-24s %-24s %-15s %-14s %-15s %s\n",
		cli_json_text(json_object_get(src, "hostName"), b[0], sizeof(b[0])),
		cli_json_text(json_object_get(src, "hostId"), b[1], sizeof(b[1])),
		cli_json_text(host ? json_object_get(host, "ip") : NULL, b[2], sizeof(b[2])),
		cli_json_text(agent ? json_object_get(agent, "deployStage") : NULL, b[3], sizeof(b[3])),
		cli_json_text(agent ? json_object_get(agent, "state") : NULL, b[4], sizeof(b[4])),
		cli_json_text(agent ? json_object_get(agent, "status") : NULL, b[5], sizeof(b[5])));
}

/* The server's pages: host lists by host name, tags of one value */
#define HOSTS_PAGE "10000"
#define HOSTS_PAGE_N 10000

/* hostId → the entry (hosts or agents) of list, first one kept; NULL on OOM */
static json_t *by_host_id(const json_t *list)
{
	json_t *by = json_object(), *e;
	size_t i;

	json_array_foreach(list, i, e)
	{
		const char *id = json_string_value(json_object_get(e, "hostId"));

		if (by && id && !json_object_get(by, id) && json_object_set(by, id, e) < 0) {
			json_decref(by);
			return NULL;
		}
	}
	return by;
}

/* Keep the entries of list (hosts or agents) whose hostId is a key of tagged (a hostId set). */
static void keep_tagged(json_t *list, const json_t *tagged)
{
	size_t i = 0;

	while (i < json_array_size(list)) {
		const char *id = json_string_value(json_object_get(json_array_get(list, i), "hostId"));

		if (id && json_object_get(tagged, id))
			i++;
		else
			(void)json_array_remove(list, i);
	}
}

/* The host names a page of rows holds (rows in host name order; a host may have several) and the last of them. */
static size_t page_names(const json_t *page, const char **ret_last)
{
	const char *prev = NULL;
	const json_t *e;
	size_t i, n = 0;

	json_array_foreach(page, i, e)
	{
		const char *name = json_string_value(json_object_get(e, "hostName"));

		if (name && (!prev || !streq(prev, name)))
			n++;
		prev = name ? name : prev;
	}
	*ret_last = prev;
	return n;
}

/* Every row of a stage's host list (what: "hosts" or "agents"), a page of HOSTS_PAGE host names at a time after the
 * last name of the page before: each request reads one page at any stage size. A page of fewer names is the last
 * (a server that does not page answers the whole list at once: more than a page ends it too). */
static int read_pages(struct cli *c, const char *env, const char *stage, const char *what, json_t **ret)
{
	json_t *all = json_array(), *page = NULL;
	char *after = NULL;
	int r = all ? 0 : -ENOMEM;

	while (r == 0) {
		struct url_query q = {};
		const char *last = NULL;
		size_t names;

		r = url_query_add(&q, "limit", HOSTS_PAGE) < 0 || url_query_add(&q, "after", after) < 0 ? -ENOMEM : 0;
		if (r == 0)
			r = http_requestf(c, "GET", &q, NULL, &page, "/v1/envs/%s/%s/%s", env, stage, what);
		if (r == 0 && !json_is_array(page))
			r = cli_fail(c, -EBADMSG, "the server's %s list is not an array", what);
		if (r < 0)
			break;
		names = page_names(page, &last);
		r = json_array_extend(all, page) < 0 ? -ENOMEM : 0;
		free(after);
		after = names == HOSTS_PAGE_N && last ? strdup(last) : NULL;
		json_decref(page);
		page = NULL;
		if (!after)
			break;
	}
	free(after);
	if (r < 0) {
		json_decref(all);
		return r;
	}
	*ret = all;
	return 0;
}

/* --tag KEY=VALUE: the stage's hosts with that tag value, as a set {hostId: true} in *ret, read a page at a time
 * (…/host_tags/KEY?value=VALUE&limit=&after=). */
static int tagged_hosts(struct cli *c, const char *env, const char *stage, const char *tag, json_t **ret)
{
	const char *eq = strchr(tag, '=');
	json_t *set = json_object(), *page = NULL, *t;
	char key[65], *after = NULL, *prev;
	size_t i;
	int r = set ? 0 : -ENOMEM;

	if (!eq || eq == tag || (size_t)(eq - tag) >= sizeof(key)) {
		json_decref(set);
		return cli_usage_error(c, "hosts: --tag takes KEY=VALUE");
	}
	memcpy(key, tag, (size_t)(eq - tag));
	key[eq - tag] = 0;
	while (r == 0) {
		struct url_query q = {};
		const char *next;

		r = url_query_add(&q, "value", eq + 1) < 0 || url_query_add(&q, "limit", HOSTS_PAGE) < 0 ||
				    url_query_add(&q, "after", after) < 0
			    ? -ENOMEM
			    : 0;
		if (r == 0)
			r = http_requestf(c, "GET", &q, NULL, &page, "/v1/envs/%s/%s/host_tags/%s", env, stage, key);
		if (r < 0)
			break;
		json_array_foreach(json_object_get(json_object_get(page, "tags"), eq + 1), i, t)
		{
			const char *id = json_string_value(json_object_get(t, "hostId"));

			if (id && json_object_set_new(set, id, json_true()) < 0)
				r = -ENOMEM;
		}
		next = json_string_value(json_object_get(page, "next"));
		prev = after;
		after = next && (!prev || strcmp(next, prev) > 0) ? strdup(next) : NULL; /* moves on, or ends */
		free(prev);
		json_decref(page);
		page = NULL;
		if (!after)
			break;
	}
	free(after);
	if (r < 0) {
		json_decref(set);
		return r;
	}
	*ret = set;
	return 0;
}

static int parse_hosts_opts(struct cli *c, int argc, char **argv, const char **ret_tag)
{
	static const struct option opts[] = {{"tag", required_argument, NULL, 0x100}, CLI_COMMON_LONGOPTS};
	int opt;

	cli_getopt_reset();
	while ((opt = cli_next_option(c, argc, argv, opts)) > 0) {
		if (opt != 0x100)
			return cli_bad_option(c, "hosts", argc, argv);
		*ret_tag = optarg;
	}
	if (opt < 0)
		return opt;
	if (c->help) {
		fprintf(c->out, "%s", usage);
		return 1;
	}
	if (argc - optind != 1)
		return cli_usage_error(c, "hosts: give one ENV/STAGE (see 'slipway hosts --help')");
	return 0;
}

/* The table: each host once (a host row exists per host and group) with its agent row, then the agent rows whose host
 * is no longer mapped (removed from capacity, not deleted yet). */
static int print_table(struct cli *c, const json_t *hosts, const json_t *agents)
{
	json_t *agent_by = by_host_id(agents), *shown = json_object(), *h;
	size_t i;
	int r = agent_by && shown ? 0 : -ENOMEM;

	if (r == 0)
		fprintf(c->out, "%-24s %-24s %-15s %-14s %-15s %s\n", "HOST", "HOST ID", "IP", "DEPLOY STAGE", "STATE",
			"STATUS");
	json_array_foreach(hosts, i, h)
	{
		const char *id = json_string_value(json_object_get(h, "hostId"));

		if (r < 0 || (id && json_object_get(shown, id)))
			continue;
		if (id && json_object_set_new(shown, id, json_true()) < 0)
			r = -ENOMEM;
		print_row(c, h, id ? json_object_get(agent_by, id) : NULL);
	}
	json_array_foreach(agents, i, h)
	{
		const char *id = json_string_value(json_object_get(h, "hostId"));

		if (r == 0 && !(id && json_object_get(shown, id)))
			print_row(c, NULL, h);
	}
	json_decref(agent_by);
	json_decref(shown);
	return r;
}

int cmd_hosts(struct cli *c, int argc, char **argv)
{
	json_t *hosts = NULL, *agents = NULL, *all = NULL, *tagged = NULL;
	const char *tag = NULL;
	char env[65], stage[65];
	int r;

	r = parse_hosts_opts(c, argc, argv, &tag);
	if (r != 0)
		return r > 0 ? 0 : r;
	if (cli_parse_env_stage(argv[optind], env, stage) < 0)
		return cli_usage_error(c, "hosts: '%s' is not ENV/STAGE", argv[optind]);
	r = read_pages(c, env, stage, "hosts", &hosts);
	if (r == 0)
		r = read_pages(c, env, stage, "agents", &agents);
	if (r == 0 && tag)
		r = tagged_hosts(c, env, stage, tag, &tagged);
	if (r < 0)
		goto out;
	if (tagged) {
		keep_tagged(hosts, tagged);
		keep_tagged(agents, tagged);
	}
	if (c->json) {
		all = json_pack("{s:O, s:O}", "hosts", hosts, "agents", agents);
		r = all ? cli_print_json(c, all) : -ENOMEM;
		goto out;
	}
	r = print_table(c, hosts, agents);
	if (r == 0)
		(void)failures_print(c, c->out, env, stage, agents, NULL, 0);
out:
	json_decref(all);
	json_decref(hosts);
	json_decref(agents);
	json_decref(tagged);
	return r;
}
