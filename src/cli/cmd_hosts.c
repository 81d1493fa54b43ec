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

static const json_t *agent_of(const json_t *agents, const char *host_id)
{
	const json_t *a;
	size_t i;

	json_array_foreach(agents, i, a)
	{
		const char *id = NULL;

		if (json_get_string(a, "hostId", 256, &id) == 0 && host_id && streq(id, host_id))
			return a;
	}
	return NULL;
}

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

/* Keep the entries of list (hosts or agents) whose hostId is one of the tagged objects' hostId. */
static void keep_tagged(json_t *list, const json_t *tagged)
{
	size_t i = 0;

	while (i < json_array_size(list)) {
		const char *id = json_string_value(json_object_get(json_array_get(list, i), "hostId"));
		const json_t *t;
		bool keep = false;
		size_t k;

		json_array_foreach(tagged, k, t)
			keep = keep || (id && streq_ptr(json_string_value(json_object_get(t, "hostId")), id));
		if (keep)
			i++;
		else
			(void)json_array_remove(list, i);
	}
}

/* --tag KEY=VALUE: the stage's hosts with that tag value, as [{hostId, ...}] in *ret. */
static int tagged_hosts(struct cli *c, const char *env, const char *stage, const char *tag, json_t **ret)
{
	const char *eq = strchr(tag, '=');
	json_t *by = NULL, *list;
	char key[65];
	int r;

	if (!eq || eq == tag || (size_t)(eq - tag) >= sizeof(key))
		return cli_usage_error(c, "hosts: --tag takes KEY=VALUE");
	memcpy(key, tag, (size_t)(eq - tag));
	key[eq - tag] = 0;
	r = http_requestf(c, "GET", NULL, NULL, &by, "/v1/envs/%s/%s/host_tags/%s", env, stage, key);
	if (r < 0)
		return r;
	list = json_object_get(by, eq + 1);
	*ret = json_is_array(list) ? json_incref(list) : json_array();
	json_decref(by);
	return *ret ? 0 : -ENOMEM;
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

int cmd_hosts(struct cli *c, int argc, char **argv)
{
	json_t *hosts = NULL, *agents = NULL, *all = NULL, *tagged = NULL, *h, *a;
	const char *tag = NULL;
	char env[65], stage[65];
	int r;
	size_t i;

	r = parse_hosts_opts(c, argc, argv, &tag);
	if (r != 0)
		return r > 0 ? 0 : r;
	if (cli_parse_env_stage(argv[optind], env, stage) < 0)
		return cli_usage_error(c, "hosts: '%s' is not ENV/STAGE", argv[optind]);
	r = http_requestf(c, "GET", NULL, NULL, &hosts, "/v1/envs/%s/%s/hosts", env, stage);
	if (r == 0)
		r = http_requestf(c, "GET", NULL, NULL, &agents, "/v1/envs/%s/%s/agents", env, stage);
	if (r == 0 && tag)
		r = tagged_hosts(c, env, stage, tag, &tagged);
	if (r < 0)
		goto out;
	if (!json_is_array(hosts) || !json_is_array(agents)) {
		r = cli_fail(c, -EBADMSG, "the server's host or agent list is not an array");
		goto out;
	}
	if (tagged) {
		keep_tagged(hosts, tagged);
		keep_tagged(agents, tagged);
	}
	if (c->json) {
		all = json_pack("{s:O, s:O}", "hosts", hosts, "agents", agents);
		r = all ? cli_print_json(c, all) : -ENOMEM;
		goto out;
	}
	fprintf(c->out, "%-24s %-24s %-15s %-14s %-15s %s\n", "HOST", "HOST ID", "IP", "DEPLOY STAGE", "STATE",
		"STATUS");
	json_array_foreach(hosts, i, h)
	{
		const char *id = NULL;
		const json_t *prev;
		bool dup = false;
		size_t k;

		/* a Host row exists per host × group: show each host once */
		(void)json_get_string(h, "hostId", 256, &id);
		json_array_foreach(hosts, k, prev)
		{
			const char *pid = NULL;

			if (k >= i)
				break;
			if (id && json_get_string(prev, "hostId", 256, &pid) == 0 && streq(pid, id))
				dup = true;
		}
		if (!dup)
			print_row(c, h, agent_of(agents, id));
	}
	/* agent rows whose host is no longer mapped (e.g. removed from capacity, not yet deleted) */
	json_array_foreach(agents, i, a)
	{
		const char *id = NULL;
		const json_t *h2;
		size_t k;
		bool seen = false;

		(void)json_get_string(a, "hostId", 256, &id);
		json_array_foreach(hosts, k, h2)
		{
			const char *hid = NULL;

			if (json_get_string(h2, "hostId", 256, &hid) == 0 && id && streq(hid, id))
				seen = true;
		}
		if (!seen)
			print_row(c, NULL, a);
	}
	(void)failures_print(c, c->out, env, stage, agents, NULL, 0);
	r = 0;
out:
	json_decref(all);
	json_decref(hosts);
	json_decref(agents);
	json_decref(tagged);
	return r;
}
