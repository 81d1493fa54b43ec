/* SPDX-License-Identifier: Apache-2.0 */
/* cli/cmd_agents.c: `slipway agents HOST`: every env stage one host is in, from the server's
 * agent rows (GET /v1/agents/{hostName}). */
#include <errno.h>
#include <stdio.h>

#include "cmd.h"
#include "http.h"
#include "jsonutil.h"
#include "names.h"
#include "banned.h"

static const char usage[] =
    "usage: slipway agents HOST [--json]\n"
    "\n"
    "Show the agent rows of host name HOST: one per env stage, with deploy, stage, state, status and\n"
    "failure count. --json prints the server's [Agent] array.\n";

int cmd_agents(struct cli *c, int argc, char **argv)
{
	json_t *agents = NULL, *a;
	char **args;
	int nargs, r;
	size_t i;

	r = cli_parse_simple(c, "agents", usage, argc, argv, 1, 1, &args, &nargs);
	if (r != 0)
		return r > 0 ? 0 : r;
	if (!host_name_is_valid(args[0]))
		return cli_usage_error(c, "agents: '%s' is not a host name", args[0]);
	r = http_requestf(c, "GET", NULL, NULL, &agents, "/v1/agents/%s", args[0]);
	if (r < 0)
		return r;
	if (!json_is_array(agents)) {
		json_decref(agents);
		return cli_fail(c, -EBADMSG, "the server's agent list is not an array");
	}
	if (c->json) {
		r = cli_print_json(c, agents);
		json_decref(agents);
		return r;
	}
	fprintf(c->out, "%-22s %-22s %-22s %-14s %-15s %-22s %-5s %s\n", "HOST ID", "ENV", "DEPLOY", "DEPLOY STAGE",
		"STATE", "STATUS", "FAILS", "LAST UPDATE");
	json_array_foreach(agents, i, a)
	{
		json_t *env = NULL;
		const char *env_id = NULL, *env_name = NULL, *stage_name = NULL;
		char b[8][128], where[160];

		/* show env/stage names rather than the opaque env id when the env still exists */
		if (json_get_string(a, "envId", 64, &env_id) == 0 &&
		    http_requestf(c, "GET", NULL, NULL, &env, "/v1/envs/%s", env_id) == 0 &&
		    json_get_string(env, "envName", 64, &env_name) == 0 &&
		    json_get_string(env, "stageName", 64, &stage_name) == 0)
			snprintf(where, sizeof(where), "%s/%s", env_name, stage_name);
		else
			snprintf(where, sizeof(where), "%s", env_id ? env_id : "-");
		c->http_status = 0;
		c->errmsg[0] = 0;
		fprintf(c->out, "%-22s %-22s %-22s %-14s %-15s %-22s %-5s %s\n",
			cli_json_text(json_object_get(a, "hostId"), b[0], sizeof(b[0])), where,
			cli_json_text(json_object_get(a, "deployId"), b[1], sizeof(b[1])),
			cli_json_text(json_object_get(a, "deployStage"), b[2], sizeof(b[2])),
			cli_json_text(json_object_get(a, "state"), b[3], sizeof(b[3])),
			cli_json_text(json_object_get(a, "status"), b[4], sizeof(b[4])),
			cli_json_text(json_object_get(a, "failCount"), b[5], sizeof(b[5])),
			cli_json_time(json_object_get(a, "lastUpdateDate"), b[6], sizeof(b[6])));
		json_decref(env);
	}
	json_decref(agents);
	return 0;
}
