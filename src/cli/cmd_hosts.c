/* SPDX-License-Identifier: Apache-2.0 */
/* cli/cmd_hosts.c: `slipway hosts ENV/STAGE`: the hosts mapped to a stage and their agent rows. */
#include <errno.h>
#include <stdio.h>

#include "cmd.h"
#include "failures.h"
#include "http.h"
#include "jsonutil.h"
#include "util.h"
#include "banned.h"

static const char usage[] = "usage: slipway hosts ENV/STAGE [--json]\n"
			    "\n"
			    "List the hosts of ENV/STAGE (by host or group capacity) with their agent's deploy stage,\n"
			    "state and last result, then each failing host with the step it failed at, its exit code\n"
			    "and the last lines of its script output. --json prints {\"hosts\": [Host], \"agents\": [Agent]}.\n";

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

int cmd_hosts(struct cli *c, int argc, char **argv)
{
	json_t *hosts = NULL, *agents = NULL, *all = NULL, *h, *a;
	char env[65], stage[65], **args;
	int nargs, r;
	size_t i;

	r = cli_parse_simple(c, "hosts", usage, argc, argv, 1, 1, &args, &nargs);
	if (r != 0)
		return r > 0 ? 0 : r;
	if (cli_parse_env_stage(args[0], env, stage) < 0)
		return cli_usage_error(c, "hosts: '%s' is not ENV/STAGE", args[0]);
	r = http_requestf(c, "GET", NULL, NULL, &hosts, "/v1/envs/%s/%s/hosts", env, stage);
	if (r == 0)
		r = http_requestf(c, "GET", NULL, NULL, &agents, "/v1/envs/%s/%s/agents", env, stage);
	if (r < 0)
		goto out;
	if (!json_is_array(hosts) || !json_is_array(agents)) {
		r = cli_fail(c, -EBADMSG, "the server's host or agent list is not an array");
		goto out;
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
	(void)failures_print(c, c->out, env, stage, agents, NULL);
	r = 0;
out:
	json_decref(all);
	json_decref(hosts);
	json_decref(agents);
	return r;
}
