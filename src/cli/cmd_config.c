/* SPDX-License-Identifier: Apache-2.0 */
/* cli/cmd_config.c: `slipway config KIND ENV/STAGE [--set KEY=VALUE]... [--file F]`: read one of a
 * stage's configurations (promote, webhooks, schedule, capacity, scripts, agent) as one JSON object,
 * or write it: --file gives the whole object, --set changes keys of the stored (or file's) object, and
 * the result is written back with the configuration's own PUT. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "http.h"
#include "jsonutil.h"
#include "util.h"
#include "banned.h"

struct config_kind {
	const char *name;
	const char *resource; /* GET/PUT /v1/envs/{env}/{stage}/<resource>; NULL: own get/put */
	bool json_values;     /* --set values parse as JSON (else they are strings) */
	int (*get)(struct cli *c, const char *env, const char *stage, json_t **ret);
	int (*put)(struct cli *c, const char *env, const char *stage, const json_t *before, const json_t *after);
	const char *help;
};

/* ---- schedule: GET by the stage's scheduleId, PUT .../schedules with the three writable keys ---- */

static int schedule_get(struct cli *c, const char *env, const char *stage, json_t **ret)
{
	json_t *e = NULL;
	const char *id = NULL;
	int r;

	r = http_requestf(c, "GET", NULL, NULL, &e, "/v1/envs/%s/%s", env, stage);
	if (r < 0)
		return r;
	if (json_get_string(e, "scheduleId", 64, &id) == 0 && id)
		r = http_requestf(c, "GET", NULL, NULL, ret, "/v1/schedules/%s/%s/%s", env, stage, id);
	else
		*ret = json_object();
	json_decref(e);
	return r;
}

static int schedule_put(struct cli *c, const char *env, const char *stage, const json_t *before, const json_t *after)
{
	static const char *const keys[] = {"totalSessions", "hostNumbers", "cooldownTimes"};
	json_t *body = json_object();
	int r = body ? 0 : -ENOMEM;

	(void)before;
	for (size_t i = 0; r == 0 && i < ELEMENTSOF(keys); i++)
		if (json_object_get(after, keys[i]))
			r = json_object_set(body, keys[i], json_object_get(after, keys[i])) < 0 ? -ENOMEM : 0;
	if (r == 0)
		r = http_requestf(c, "PUT", NULL, body, NULL, "/v1/schedules/%s/%s/schedules", env, stage);
	json_decref(body);
	return r;
}

/* ---- capacity: {"hosts": [...], "groups": [...]}, one GET/PUT per capacityType ---- */

static const struct {
	const char *key, *type;
} capacity_keys[] = {{"hosts", "HOST"}, {"groups", "GROUP"}};

static int capacity_get(struct cli *c, const char *env, const char *stage, json_t **ret)
{
	json_t *o = json_object();
	int r = o ? 0 : -ENOMEM;

	for (size_t i = 0; r == 0 && i < ELEMENTSOF(capacity_keys); i++) {
		struct url_query q = {};
		json_t *list = NULL;

		(void)url_query_add(&q, "capacityType", capacity_keys[i].type);
		r = http_requestf(c, "GET", &q, NULL, &list, "/v1/envs/%s/%s/capacity", env, stage);
		if (r == 0 && json_object_set_new(o, capacity_keys[i].key, list ? list : json_array()) < 0)
			r = -ENOMEM;
	}
	if (r < 0)
		json_decref(o);
	else
		*ret = o;
	return r;
}

/* A capacity value: a JSON array, or a string of comma-separated names ("" = none). */
static json_t *capacity_list(const json_t *v)
{
	const char *s = json_string_value(v), *p;
	json_t *a;

	if (json_is_array(v))
		return json_incref((json_t *)v);
	if (!s || !(a = json_array()))
		return NULL;
	for (p = s; *p;) {
		size_t n = strcspn(p, ",");

		if (n > 0 && json_array_append_new(a, json_stringn(p, n)) < 0) {
			json_decref(a);
			return NULL;
		}
		p += n + (p[n] == ',');
	}
	return a;
}

static int capacity_put(struct cli *c, const char *env, const char *stage, const json_t *before, const json_t *after)
{
	const char *k;
	json_t *v;
	int r = 0;

	json_object_foreach((json_t *)after, k, v)
	{
		size_t i;

		for (i = 0; i < ELEMENTSOF(capacity_keys) && !streq(k, capacity_keys[i].key); i++)
			;
		if (i == ELEMENTSOF(capacity_keys))
			return cli_usage_error(c, "config capacity: unknown key '%s' (hosts, groups)", k);
		if (!json_is_array(v) && !json_is_string(v))
			return cli_usage_error(c, "config capacity: %s wants a list of names", k);
	}
	for (size_t i = 0; r == 0 && i < ELEMENTSOF(capacity_keys); i++) {
		struct url_query q = {};
		json_t *list = capacity_list(json_object_get(after, capacity_keys[i].key));

		if (list && !json_equal(list, json_object_get(before, capacity_keys[i].key))) {
			(void)url_query_add(&q, "capacityType", capacity_keys[i].type);
			r = http_requestf(c, "PUT", &q, list, NULL, "/v1/envs/%s/%s/capacity", env, stage);
		}
		json_decref(list);
	}
	return r;
}

static const struct config_kind kinds[] = {
    {"promote", "promotes", true, NULL, NULL,
     "the promote config (type, predStage, queueSize, schedule, delay, disablePolicy, failPolicy)"},
    {"webhooks", "web_hooks", true, NULL, NULL,
     "the webhooks: preDeployHooks and postDeployHooks, each a JSON list of {method, url, headers, body}"},
    {"schedule", NULL, true, schedule_get, schedule_put,
     "the deploy schedule (totalSessions, hostNumbers, cooldownTimes; totalSessions=0 removes it)"},
    {"capacity", NULL, true, capacity_get, capacity_put,
     "the capacity: hosts and groups, each a JSON list or comma-separated names (replaces the list)"},
    {"scripts", "script_configs", false, NULL, NULL, "the script variables (script_configs), values are strings"},
    {"agent", "agent_configs", false, NULL, NULL, "the agent configs (agent_configs), values are strings"},
};

static int kind_get(struct cli *c, const struct config_kind *k, const char *env, const char *stage, json_t **ret)
{
	int r;

	*ret = NULL;
	r = k->get ? k->get(c, env, stage, ret)
		   : http_requestf(c, "GET", NULL, NULL, ret, "/v1/envs/%s/%s/%s", env, stage, k->resource);
	if (r == 0 && !*ret)
		*ret = json_object();
	if (r == 0 && !json_is_object(*ret)) {
		json_decref(*ret);
		*ret = NULL;
		return cli_fail(c, -EBADMSG, "the server's %s config is not a JSON object", k->name);
	}
	return r;
}

static void print_config(struct cli *c, const json_t *o)
{
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)o, key, v)
	{
		char *text = json_is_string(v) ? NULL : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

		fprintf(c->out, "%s = %s\n", key, json_is_string(v) ? json_string_value(v) : text ? text : "?");
		free(text);
	}
}

struct config_args {
	const char *file;
	json_t *set; /* --set values, in order */
	char env[65], stage[65];
};

static int config_parse(struct cli *c, const struct config_kind *k, const char *cmd, int argc, char **argv,
			struct config_args *a)
{
	enum { O_SET = 0x100, O_FILE };
	static const struct option opts[] = {
	    {"set", required_argument, NULL, O_SET}, {"file", required_argument, NULL, O_FILE}, CLI_COMMON_LONGOPTS};
	int opt, r;

	cli_getopt_reset();
	while ((opt = cli_next_option(c, argc, argv, opts)) > 0) {
		char *key = NULL;
		json_t *v = NULL;

		if (opt == O_FILE) {
			a->file = optarg;
			continue;
		}
		if (opt != O_SET)
			return cli_bad_option(c, cmd, argc, argv);
		if (cli_parse_assignment(optarg, k->json_values, &key, &v) < 0)
			return cli_usage_error(c, "%s: --set wants KEY=VALUE, not '%s'", cmd, optarg);
		r = json_object_set_new(a->set, key, v);
		free(key);
		if (r < 0)
			return -ENOMEM;
	}
	if (opt < 0)
		return opt;
	if (c->help) {
		fprintf(c->out,
			"usage: slipway config %s ENV/STAGE [--set KEY=VALUE]... [--file FILE] [--json]\n\n"
			"Print %s,\nor change it: --file FILE gives the whole value (a JSON object), --set changes\n"
			"one key of the stored value (or of FILE's)%s.\n",
			k->name, k->help,
			k->json_values ? "; VALUE is JSON when it parses (42, true, [..]), else a string" : "");
		return 1;
	}
	if (argc - optind != 1)
		return cli_usage_error(c, "%s: give one ENV/STAGE (see 'slipway %s --help')", cmd, cmd);
	if (cli_parse_env_stage(argv[optind], a->env, a->stage) < 0)
		return cli_usage_error(c, "%s: '%s' is not ENV/STAGE", cmd, argv[optind]);
	return 0;
}

static int config_run(struct cli *c, const struct config_kind *k, int argc, char **argv)
{
	struct config_args a = {.set = json_object()};
	json_t *now = NULL, *next = NULL;
	char cmd[32];
	int r;

	(void)str_printf(cmd, sizeof(cmd), "config %s", k->name);
	r = a.set ? config_parse(c, k, cmd, argc, argv, &a) : -ENOMEM;
	if (r != 0)
		goto out;
	r = kind_get(c, k, a.env, a.stage, &now);
	if (r < 0)
		goto out;
	if (!a.file && json_object_size(a.set) == 0) {
		r = c->json ? cli_print_json(c, now) : (print_config(c, now), 0);
		goto out;
	}
	next = a.file ? json_object() : json_deep_copy(now);
	if (!next) {
		r = -ENOMEM;
		goto out;
	}
	if (a.file) {
		r = cli_load_object_file(c, cmd, a.file, next);
		if (r < 0)
			goto out;
	}
	if (json_object_update(next, a.set) < 0) {
		r = -ENOMEM;
		goto out;
	}
	r = k->put ? k->put(c, a.env, a.stage, now, next)
		   : http_requestf(c, "PUT", NULL, next, NULL, "/v1/envs/%s/%s/%s", a.env, a.stage, k->resource);
	if (r == 0)
		fprintf(c->json ? stderr : c->out, "%s/%s: %s config updated\n", a.env, a.stage, k->name);
out:
	json_decref(a.set);
	json_decref(now);
	json_decref(next);
	return r > 0 ? 0 : r;
}

#define CONFIG_KIND(i, fn)                                                                                             \
	static int fn(struct cli *c, int argc, char **argv) { return config_run(c, &kinds[i], argc, argv); }
CONFIG_KIND(0, config_promote)
CONFIG_KIND(1, config_webhooks)
CONFIG_KIND(2, config_schedule)
CONFIG_KIND(3, config_capacity)
CONFIG_KIND(4, config_scripts)
CONFIG_KIND(5, config_agent)

const struct cmd config_commands[] = {
    {"promote", config_promote, "read or write the promote config"},
    {"webhooks", config_webhooks, "read or write the webhooks"},
    {"schedule", config_schedule, "read or write the deploy schedule"},
    {"capacity", config_capacity, "read or write the host and group capacity"},
    {"scripts", config_scripts, "read or write the script variables"},
    {"agent", config_agent, "read or write the agent configs"},
};
const size_t config_n_commands = ELEMENTSOF(config_commands);

int cmd_config(struct cli *c, int argc, char **argv)
{
	return cmd_dispatch(c, "config", config_commands, config_n_commands, argc, argv);
}
