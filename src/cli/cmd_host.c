/* SPDX-License-Identifier: Apache-2.0 */
/* cli/cmd_host.c: `slipway host pause|resume|reset|stop ENV/STAGE HOST...`: actions on the agents of
 * some hosts of a stage (`host search` is cmd_host_search.c). HOST is a host name or id; each is resolved against the stage's agent rows
 * first, so a typo is an error and not an id the server silently ignores. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "http.h"
#include "jsonutil.h"
#include "util.h"
#include "banned.h"

struct host_action {
	const char *name;
	const char *action_type; /* PUT .../deploys/hostactions?actionType=; NULL: stop */
	const char *done;	 /* past tense for the message */
	const char *usage;
};

static const struct host_action actions[] = {
    {"pause", "PAUSED_BY_USER", "paused",
     "usage: slipway host pause ENV/STAGE HOST...\n"
     "\n"
     "Pause the agents of these hosts in ENV/STAGE: they get no new goals until 'host resume'.\n"
     "HOST is a host name or host id that has an agent in the stage.\n"},
    {"resume", "NORMAL", "resumed",
     "usage: slipway host resume ENV/STAGE HOST...\n"
     "\n"
     "Let paused (or reset) agents of these hosts continue (agent state NORMAL).\n"},
    {"reset", "RESET", "reset",
     "usage: slipway host reset ENV/STAGE (HOST... | --all-failed)\n"
     "\n"
     "Reset the agents of these hosts: their failure is cleared and the deploy retried on them.\n"
     "  --all-failed   every agent of the stage that failed the current deploy\n"},
    {"stop", NULL, "stopping",
     "usage: slipway host stop ENV/STAGE HOST... [--no-replace]\n"
     "\n"
     "Stop the service on these hosts and take them out of the stage (the agents run the STOP steps\n"
     "and their rows are removed).\n"
     "  --no-replace   the hosts are not to be replaced (replaceHost=false)\n"},
};

/* The hostId of HOST (name or id) in the stage env_id: the host's own agent rows (by name, then by id), never the
 * stage's whole list (a stage of 1,000,000 hosts answers 440 MB). Appends a copy to ids; -ENODATA: none. */
static int resolve_host(struct cli *c, const char *env_id, const char *host, json_t *ids)
{
	static const char *const paths[] = { "/v1/agents/%s", "/v1/agents/id/%s" };
	int r = 0;

	for (size_t p = 0; p < ELEMENTSOF(paths) && r == 0; p++) {
		json_t *rows = NULL, *a;
		size_t k;

		r = http_requestf(c, "GET", NULL, NULL, &rows, paths[p], host);
		if (r == 0 && !json_is_array(rows))
			r = cli_fail(c, -EBADMSG, "the server's agent list is not an array");
		json_array_foreach(rows, k, a)
		{
			const char *hid = json_string_value(json_object_get(a, "hostId"));

			if (r == 0 && hid && streq_ptr(json_string_value(json_object_get(a, "envId")), env_id)) {
				r = json_array_append_new(ids, json_string(hid)) < 0 ? -ENOMEM : 1;
				break;
			}
		}
		json_decref(rows);
	}
	return r == 0 ? -ENODATA : r < 0 ? r : 0;
}

/* HOST (name or id) of the stage → its hostId appended to ids. */
static int resolve_hosts(struct cli *c, const char *cmd, const char *env, const char *stage, char **hosts, int n,
			 json_t *ids)
{
	json_t *st = NULL;
	const char *env_id = NULL;
	int r;

	r = http_requestf(c, "GET", NULL, NULL, &st, "/v1/envs/%s/%s", env, stage);
	if (r == 0 && json_get_string(st, "id", 64, &env_id) < 0)
		r = cli_fail(c, -EBADMSG, "the server's stage has no id");
	for (int i = 0; i < n && r == 0; i++) {
		r = resolve_host(c, env_id, hosts[i], ids);
		if (r == -ENODATA)
			r = cli_fail(c, -ENODATA, "%s: host '%s' has no agent in %s/%s", cmd, hosts[i], env, stage);
	}
	json_decref(st);
	return r;
}

/* --all-failed: PUT .../agents/reset_failed_agents/{current deploy}. */
static int reset_all_failed(struct cli *c, const char *env, const char *stage)
{
	json_t *dep = NULL;
	const char *id = NULL;
	int r;

	r = http_requestf(c, "GET", NULL, NULL, &dep, "/v1/envs/%s/%s/deploys/current", env, stage);
	if (r == 0 && json_get_string(dep, "id", 64, &id) < 0)
		r = cli_fail(c, -EBADMSG, "the server's current deploy has no id");
	if (r == 0)
		r = http_requestf(c, "PUT", NULL, NULL, NULL, "/v1/envs/%s/%s/agents/reset_failed_agents/%s", env, stage,
				  id);
	if (r == 0)
		fprintf(c->out, "%s/%s: failed agents of deploy %s reset\n", env, stage, id);
	json_decref(dep);
	return r;
}

static int host_parse(struct cli *c, const struct host_action *act, const char *cmd, int argc, char **argv,
		      bool *all_failed, bool *no_replace)
{
	enum { O_ALL_FAILED = 0x100, O_NO_REPLACE };
	static const struct option opts[] = {
	    {"all-failed", no_argument, NULL, O_ALL_FAILED},
	    {"no-replace", no_argument, NULL, O_NO_REPLACE},
	    CLI_COMMON_LONGOPTS,
	};
	int opt;

	cli_getopt_reset();
	while ((opt = cli_next_option(c, argc, argv, opts)) > 0) {
		if (opt == O_ALL_FAILED && streq(act->name, "reset"))
			*all_failed = true;
		else if (opt == O_NO_REPLACE && !act->action_type)
			*no_replace = true;
		else if (opt == O_ALL_FAILED || opt == O_NO_REPLACE)
			return cli_usage_error(c, "%s: option '%s' does not apply here", cmd, argv[optind - 1]);
		else
			return cli_bad_option(c, cmd, argc, argv);
	}
	if (opt < 0)
		return opt;
	if (c->help) {
		fprintf(c->out, "%s", act->usage);
		return 1;
	}
	return 0;
}

static int host_run(struct cli *c, const struct host_action *act, int argc, char **argv)
{
	struct url_query q = {};
	bool all_failed = false, no_replace = false;
	char cmd[32], env[65], stage[65];
	json_t *ids = NULL;
	int r, n;

	(void)str_printf(cmd, sizeof(cmd), "host %s", act->name);
	r = host_parse(c, act, cmd, argc, argv, &all_failed, &no_replace);
	if (r != 0)
		return r > 0 ? 0 : r;
	n = argc - optind;
	if (n < 1)
		return cli_usage_error(c, "%s: ENV/STAGE is required (see 'slipway %s --help')", cmd, cmd);
	if (cli_parse_env_stage(argv[optind], env, stage) < 0)
		return cli_usage_error(c, "%s: '%s' is not ENV/STAGE", cmd, argv[optind]);
	if (all_failed && n > 1)
		return cli_usage_error(c, "%s: give HOST names or --all-failed, not both", cmd);
	if (all_failed)
		return reset_all_failed(c, env, stage);
	if (n < 2)
		return cli_usage_error(c, "%s: give at least one HOST", cmd);
	ids = json_array();
	if (!ids)
		return -ENOMEM;
	r = resolve_hosts(c, cmd, env, stage, argv + optind + 1, n - 1, ids);
	if (r < 0)
		goto out;
	if (act->action_type) {
		(void)url_query_add(&q, "actionType", act->action_type);
		r = http_requestf(c, "PUT", &q, ids, NULL, "/v1/envs/%s/%s/deploys/hostactions", env, stage);
	} else {
		(void)url_query_add(&q, "replaceHost", no_replace ? "false" : "true");
		r = http_requestf(c, "DELETE", &q, ids, NULL, "/v1/envs/%s/%s/hosts", env, stage);
	}
	if (r == 0)
		for (int i = 1; i < n; i++)
			fprintf(c->out, "%s/%s: host %s %s\n", env, stage, argv[optind + i], act->done);
out:
	json_decref(ids);
	return r;
}

#define HOST_ACTION(i, fn)                                                                                             \
	static int fn(struct cli *c, int argc, char **argv) { return host_run(c, &actions[i], argc, argv); }
HOST_ACTION(0, host_pause)
HOST_ACTION(1, host_resume)
HOST_ACTION(2, host_reset)
HOST_ACTION(3, host_stop)

const struct cmd host_commands[] = {
    {"pause", host_pause, "pause the agents of some hosts"},
    {"resume", host_resume, "resume paused agents"},
    {"reset", host_reset, "reset failed agents (or --all-failed)"},
    {"stop", host_stop, "stop hosts and take them out of the stage"},
    {"search", host_search, "find hosts by part of their name"},
};
const size_t host_n_commands = ELEMENTSOF(host_commands);

int cmd_host(struct cli *c, int argc, char **argv)
{
	return cmd_dispatch(c, "host", host_commands, host_n_commands, argc, argv);
}
