/* SPDX-License-Identifier: Apache-2.0 */
/* cli/cmd_env_ops.c: `slipway env enable|disable ENV/STAGE` (the stage's promote gate) and
 * `slipway env history ENV/STAGE [--diff]` (its config history, optionally as changes against the
 * previous entry of the same type), and `slipway env clone FROM TO [--no-capacity]` (a new stage configured like
 * another). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "http.h"
#include "jsonutil.h"
#include "parse.h"
#include "util.h"
#include "banned.h"

static const char enable_usage[] = "usage: slipway env (enable | disable) ENV/STAGE [--description TEXT]\n"
				   "\n"
				   "Enable or disable a stage. A disabled stage is not promoted to (by hand or\n"
				   "automatically); deploys to it still work. The change is recorded as an\n"
				   "ENABLE_ENV / DISABLE_ENV tag and in the stage's history.\n"
				   "  --description TEXT   why (default: \"by slipway CLI\")\n";

static int env_enable_disable(struct cli *c, int argc, char **argv, bool enable)
{
	static const struct option opts[] = {{"description", required_argument, NULL, 0x100}, CLI_COMMON_LONGOPTS};
	const char *cmd = enable ? "env enable" : "env disable", *description = "by slipway CLI";
	struct url_query q = {};
	char env[65], stage[65];
	int opt, r;

	cli_getopt_reset();
	while ((opt = cli_next_option(c, argc, argv, opts)) > 0) {
		if (opt != 0x100)
			return cli_bad_option(c, cmd, argc, argv);
		description = optarg;
	}
	if (opt < 0)
		return opt;
	if (c->help) {
		fprintf(c->out, "%s", enable_usage);
		return 0;
	}
	if (argc - optind != 1)
		return cli_usage_error(c, "%s: give one ENV/STAGE (see 'slipway %s --help')", cmd, cmd);
	if (cli_parse_env_stage(argv[optind], env, stage) < 0)
		return cli_usage_error(c, "%s: '%s' is not ENV/STAGE", cmd, argv[optind]);
	(void)url_query_add(&q, "actionType", enable ? "ENABLE" : "DISABLE");
	(void)url_query_add(&q, "description", description);
	r = http_requestf(c, "POST", &q, NULL, NULL, "/v1/envs/%s/%s/actions", env, stage);
	if (r == 0)
		fprintf(c->out, "%s/%s %s\n", env, stage, enable ? "enabled" : "disabled");
	return r;
}

int env_enable(struct cli *c, int argc, char **argv)
{
	return env_enable_disable(c, argc, argv, true);
}

int env_disable(struct cli *c, int argc, char **argv)
{
	return env_enable_disable(c, argc, argv, false);
}

/* ---- clone ---- */

static const char clone_usage[] =
    "usage: slipway env clone FROM-ENV/STAGE TO-ENV/STAGE [--no-capacity] [--json]\n"
    "\n"
    "Create the stage TO-ENV/STAGE (of a new or an existing env) configured like FROM-ENV/STAGE: its\n"
    "settings, capacity, script variables, agent configs, webhooks, promote config (arriving MANUAL),\n"
    "deploy schedule, deploy constraint, alarms, metrics and analysis configs. Nothing is deployed. Refused\n"
    "(exit 73) when TO-ENV/STAGE exists; nothing is created unless everything is copied. Prints the\n"
    "new stage's id (--json: the EnvStage).\n"
    "  --no-capacity   leave the capacity out (copying it to another env needs ADMIN at SYSTEM scope)\n";

int env_clone(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"no-capacity", no_argument, NULL, 0x100}, CLI_COMMON_LONGOPTS};
	char from_env[65], from_stage[65], to_env[65], to_stage[65];
	json_t *body = NULL, *created = NULL;
	bool capacity = true;
	int opt, r;

	cli_getopt_reset();
	while ((opt = cli_next_option(c, argc, argv, opts)) > 0) {
		if (opt != 0x100)
			return cli_bad_option(c, "env clone", argc, argv);
		capacity = false;
	}
	if (opt < 0)
		return opt;
	if (c->help) {
		fprintf(c->out, "%s", clone_usage);
		return 0;
	}
	if (argc - optind != 2)
		return cli_usage_error(c, "env clone: give FROM-ENV/STAGE and TO-ENV/STAGE (see 'slipway env clone --help')");
	if (cli_parse_env_stage(argv[optind], from_env, from_stage) < 0)
		return cli_usage_error(c, "env clone: '%s' is not ENV/STAGE", argv[optind]);
	if (cli_parse_env_stage(argv[optind + 1], to_env, to_stage) < 0)
		return cli_usage_error(c, "env clone: '%s' is not ENV/STAGE", argv[optind + 1]);
	body = json_pack("{s:s,s:s,s:b}", "envName", to_env, "stageName", to_stage, "capacity", capacity);
	if (!body)
		return -ENOMEM;
	r = http_requestf(c, "POST", NULL, body, &created, "/v1/envs/%s/%s/clone", from_env, from_stage);
	if (r == 0 && c->json)
		r = cli_print_json(c, created);
	else if (r == 0)
		fprintf(c->out, "%s\n", json_string_value(json_object_get(created, "id"))
					   ? json_string_value(json_object_get(created, "id"))
					   : "created");
	json_decref(body);
	json_decref(created);
	return r;
}

/* ---- history ---- */

static const char history_usage[] =
    "usage: slipway env history ENV/STAGE [--diff] [--page N] [--size N] [--json]\n"
    "\n"
    "The stage's config history, newest first: time, type, operator and the change as sent.\n"
    "  --diff     show each change against the previous entry of the same type, one key per line\n"
    "             ('KEY: OLD -> NEW'; the whole value when it is not a JSON object)\n"
    "  --page N   page (default 1)   --size N  entries per page (default 30)\n"
    "Changes whose values you may not read (script and agent configs, webhooks without OPERATOR)\n"
    "are shown as (hidden).\n";

/* configChange as JSON (a string that holds JSON, else the string itself), new reference or NULL. */
static json_t *change_value(const json_t *entry)
{
	const json_t *v = json_object_get(entry, "configChange");
	const char *s = json_string_value(v);
	json_t *j = NULL;

	if (!s)
		return v ? json_incref((json_t *)v) : NULL;
	if (json_parse_bounded(s, strlen(s), &j, NULL, 0) == 0)
		return j;
	return json_string(s);
}

static void print_value(struct cli *c, const json_t *v)
{
	char *text = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;

	fprintf(c->out, "%s", text ? text : "(unset)");
	free(text);
}

static void print_diff(struct cli *c, const char *type, const json_t *now, const json_t *before)
{
	const char *k;
	json_t *v;

	if (!json_is_object(now) || (before && !json_is_object(before))) {
		fprintf(c->out, "    ");
		print_value(c, before);
		fprintf(c->out, " -> ");
		print_value(c, now);
		fprintf(c->out, "\n");
		return;
	}
	json_object_foreach((json_t *)now, k, v)
	{
		const json_t *old = json_object_get(before, k);

		if (old && json_equal(old, v))
			continue;
		fprintf(c->out, "    %s: ", k);
		print_value(c, old);
		fprintf(c->out, " -> ");
		print_value(c, v);
		fprintf(c->out, "\n");
	}
	/* a general config change is a patch: keys it does not name kept their value */
	if (streq(type, "Env General Config"))
		return;
	json_object_foreach((json_t *)before, k, v) if (!json_object_get(now, k))
	{
		fprintf(c->out, "    %s: ", k);
		print_value(c, v);
		fprintf(c->out, " -> (unset)\n");
	}
}

static void print_history(struct cli *c, const json_t *list, bool diff)
{
	const json_t *e;
	size_t i;

	json_array_foreach(list, i, e)
	{
		char b[3][256];
		const char *type = json_string_value(json_object_get(e, "type"));
		bool hidden = json_is_true(json_object_get(e, "configHidden"));
		json_t *now = NULL, *before = NULL;

		fprintf(c->out, "%-21s %-26s %-16s", cli_json_time(json_object_get(e, "createTime"), b[0], 256),
			cli_json_text(json_object_get(e, "type"), b[1], 256),
			cli_json_text(json_object_get(e, "operator"), b[2], 256));
		if (hidden || !diff) {
			now = hidden ? NULL : change_value(e);
			fprintf(c->out, " ");
			if (hidden)
				fprintf(c->out, "(hidden)");
			else
				print_value(c, now);
			fprintf(c->out, "\n");
			json_decref(now);
			continue;
		}
		fprintf(c->out, "\n");
		for (size_t j = i + 1; j < json_array_size(list); j++) {
			const json_t *older = json_array_get(list, j);

			if (streq_ptr(json_string_value(json_object_get(older, "type")), type)) {
				before = change_value(older);
				break;
			}
		}
		now = change_value(e);
		print_diff(c, type ? type : "", now, before);
		json_decref(now);
		json_decref(before);
	}
}

int env_history(struct cli *c, int argc, char **argv)
{
	enum { O_DIFF = 0x100, O_PAGE, O_SIZE };
	static const struct option opts[] = {{"diff", no_argument, NULL, O_DIFF},
					     {"page", required_argument, NULL, O_PAGE},
					     {"size", required_argument, NULL, O_SIZE},
					     CLI_COMMON_LONGOPTS};
	struct url_query q = {};
	char env[65], stage[65];
	json_t *list = NULL;
	bool diff = false;
	int64_t n;
	int opt, r;

	cli_getopt_reset();
	while ((opt = cli_next_option(c, argc, argv, opts)) > 0) {
		if (opt == O_DIFF)
			diff = true;
		else if (opt != O_PAGE && opt != O_SIZE)
			return cli_bad_option(c, "env history", argc, argv);
		else if (parse_i64(optarg, 1, opt == O_PAGE ? 1000000 : 1000, &n) < 0)
			return cli_usage_error(c, "env history: bad %s '%s'", argv[optind - 1], optarg);
		else
			(void)url_query_add(&q, opt == O_PAGE ? "pageIndex" : "pageSize", optarg);
	}
	if (opt < 0)
		return opt;
	if (c->help) {
		fprintf(c->out, "%s", history_usage);
		return 0;
	}
	if (argc - optind != 1)
		return cli_usage_error(c, "env history: give one ENV/STAGE (see 'slipway env history --help')");
	if (cli_parse_env_stage(argv[optind], env, stage) < 0)
		return cli_usage_error(c, "env history: '%s' is not ENV/STAGE", argv[optind]);
	r = http_requestf(c, "GET", &q, NULL, &list, "/v1/envs/%s/%s/history", env, stage);
	if (r < 0)
		return r;
	if (!json_is_array(list))
		r = cli_fail(c, -EBADMSG, "the server's history is not an array");
	else if (c->json)
		r = cli_print_json(c, list);
	else
		print_history(c, list, diff);
	json_decref(list);
	return r;
}
