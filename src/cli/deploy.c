/* SPDX-License-Identifier: Apache-2.0 */
/* cli/deploy.c: shared argument parsing for the deploy commands, the deploy action call, and the
 * progress display of --wait/--watch (whose loop is follow.c). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "deploy.h"
#include "failures.h"
#include "http.h"
#include "jsonutil.h"
#include "names.h"
#include "parse.h"
#include "sleep.h"
#include "util.h"
#include "banned.h"

/* The DEPLOY_OPT_ class an option belongs to; 0 for an option no deploy command knows. */
static unsigned option_class(int opt)
{
	switch (opt) {
	case 'b':
	case 'L':
	case 'B':
		return DEPLOY_OPT_BUILD;
	case 'd':
		return DEPLOY_OPT_DESCRIPTION;
	case 'f':
		return DEPLOY_OPT_FORCE;
	case 'w':
		return DEPLOY_OPT_WAIT;
	case 'W':
		return DEPLOY_OPT_WATCH;
	case 't':
	case 'i':
	case 'E':
		return DEPLOY_OPT_WAIT | DEPLOY_OPT_WATCH;
	case 'F':
		return DEPLOY_OPT_FROM;
	case 'T':
		return DEPLOY_OPT_TO;
	default:
		return 0;
	}
}

static int option_apply(struct cli *c, const char *cmd, int opt, struct deploy_args *a)
{
	switch (opt) {
	case 'b':
		a->build_id = optarg;
		break;
	case 'L':
		a->latest = true;
		break;
	case 'B':
		a->branch = optarg;
		break;
	case 'd':
		a->description = optarg;
		break;
	case 'f':
		a->force = true;
		break;
	case 'w':
	case 'W':
		a->wait = true;
		break;
	case 'E':
		a->allow_empty = true;
		break;
	case 't':
		if (parse_i64(optarg, 1, 7 * 86400, &a->timeout_s) < 0)
			return cli_usage_error(c, "%s: --timeout wants whole seconds (1..604800), not '%s'", cmd,
					       optarg);
		break;
	case 'i':
		if (parse_seconds_ms(optarg, 100, 3600 * 1000, &a->interval_ms) < 0)
			return cli_usage_error(c, "%s: --interval wants seconds (0.1..3600), not '%s'", cmd, optarg);
		break;
	case 'F':
		a->from_stage = optarg;
		break;
	case 'T':
		a->to_deploy_id = optarg;
		break;
	}
	return 0;
}

/* The rules between options, once all are read. */
static int deploy_args_check(struct cli *c, const char *cmd, unsigned allowed, struct deploy_args *a)
{
	if (allowed & DEPLOY_OPT_BUILD) {
		if (!!a->build_id == a->latest)
			return cli_usage_error(c, "%s: give exactly one of --build ID and --latest", cmd);
		if (a->branch && !a->latest)
			return cli_usage_error(c, "%s: --branch goes with --latest", cmd);
	}
	if (a->allow_empty && !a->wait)
		return cli_usage_error(c, "%s: --allow-empty goes with --%s", cmd,
				       allowed & DEPLOY_OPT_WATCH ? "watch" : "wait");
	if ((allowed & DEPLOY_OPT_FROM) && !a->from_stage)
		return cli_usage_error(c, "%s: --from STAGE is required", cmd);
	if (a->from_stage && strchr(a->from_stage, '/')) {
		/* --from ENV/STAGE is accepted when ENV is the target's env */
		char from_env[65], from_stage[65];

		if (cli_parse_env_stage(a->from_stage, from_env, from_stage) < 0 || !streq(from_env, a->env))
			return cli_usage_error(c, "%s: --from must name a stage of env '%s'", cmd, a->env);
		a->from_stage = strchr(a->from_stage, '/') + 1;
	}
	if (a->from_stage && !env_name_is_valid(a->from_stage))
		return cli_usage_error(c, "%s: '%s' is not a stage name", cmd, a->from_stage);
	return 0;
}

int deploy_args_parse(struct cli *c, const char *cmd, unsigned allowed, const char *usage, int argc, char **argv,
		      struct deploy_args *ret)
{
	static const struct option opts[] = {
	    {"build", required_argument, NULL, 'b'},	{"latest", no_argument, NULL, 'L'},
	    {"branch", required_argument, NULL, 'B'},	{"description", required_argument, NULL, 'd'},
	    {"force", no_argument, NULL, 'f'},		{"wait", no_argument, NULL, 'w'},
	    {"watch", no_argument, NULL, 'W'},		{"timeout", required_argument, NULL, 't'},
	    {"interval", required_argument, NULL, 'i'}, {"from", required_argument, NULL, 'F'},
	    {"to", required_argument, NULL, 'T'},	{"allow-empty", no_argument, NULL, 'E'},
	    CLI_COMMON_LONGOPTS,
	};
	struct deploy_args a = {.interval_ms = 2000};
	const char *target = NULL;
	unsigned need;
	int opt, r;

	cli_getopt_reset();
	while ((opt = cli_next_option(c, argc, argv, opts)) > 0) {
		need = option_class(opt);
		if (!need)
			return cli_bad_option(c, cmd, argc, argv);
		if (!(allowed & need))
			return cli_usage_error(c, "%s: option '%s' does not apply here", cmd, argv[optind - 1]);
		r = option_apply(c, cmd, opt, &a);
		if (r < 0)
			return r;
	}
	if (opt < 0)
		return opt;
	if (c->help) {
		fprintf(c->out, "%s", usage);
		return 1;
	}
	for (int i = optind; i < argc; i++) {
		if (target)
			return cli_usage_error(c, "%s: unexpected argument '%s'", cmd, argv[i]);
		target = argv[i];
	}
	if (!target)
		return cli_usage_error(c, "%s: ENV/STAGE is required", cmd);
	if (cli_parse_env_stage(target, a.env, a.stage) < 0)
		return cli_usage_error(c, "%s: '%s' is not ENV/STAGE (names: letters, digits, '_', '-'; ≤ 64)", cmd,
				       target);
	r = deploy_args_check(c, cmd, allowed, &a);
	if (r < 0)
		return r;
	*ret = a;
	return 0;
}

int deploy_action(struct cli *c, const struct deploy_args *a, const char *action_type, const char *from_deploy_id,
		  json_t **ret_deploy)
{
	struct url_query q = {};
	json_t *d = NULL;
	int r;

	(void)url_query_add(&q, "actionType", action_type);
	(void)url_query_add(&q, "fromDeployId", from_deploy_id);
	(void)url_query_add(&q, "toDeployId", a->to_deploy_id);
	(void)url_query_add(&q, "description", a->description);
	if (a->force)
		(void)url_query_add(&q, "force", "true");
	r = http_requestf(c, "POST", &q, NULL, &d, "/v1/envs/%s/%s/deploys/current/actions", a->env, a->stage);
	if (r < 0)
		return r;
	if (d && !json_is_object(d)) {
		json_decref(d);
		return cli_fail(c, -EBADMSG, "the answer to %s is not a Deploy", action_type);
	}
	*ret_deploy = d;
	return 0;
}

int deploy_report(struct cli *c, const struct deploy_args *a, json_t *deploy)
{
	const char *id = NULL;
	int r = 0;

	if (deploy)
		(void)json_get_string(deploy, "id", 64, &id);
	if (c->json && deploy)
		r = cli_print_json(c, deploy);
	else if (id)
		fprintf(c->out, "%s\n", id);
	if (r == 0 && a->wait && id) {
		fflush(c->out);
		r = deploy_follow(c, a, id);
	}
	json_decref(deploy);
	return r;
}

int deploy_action_command(struct cli *c, const struct action_command *ac, int argc, char **argv)
{
	struct deploy_args a;
	json_t *deploy = NULL;
	int r;

	r = deploy_args_parse(c, ac->cmd, ac->allowed, ac->usage, argc, argv, &a);
	if (r != 0)
		return r > 0 ? 0 : r;
	r = deploy_action(c, &a, ac->action_type, NULL, &deploy);
	if (r < 0)
		return r;
	if (!ac->done_word)
		return deploy_report(c, &a, deploy);
	if (c->json)
		r = cli_print_json(c, deploy ? deploy : json_null());
	else
		fprintf(c->out, "%s/%s %s\n", a.env, a.stage, ac->done_word);
	json_decref(deploy);
	return r;
}

static int64_t int_or_zero(const json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_integer(v) ? json_integer_value(v) : 0;
}

/* Append the agent's host name to v->failed_hosts; "..." once it is full. */
static void add_failed_name(struct progress_view *v, const json_t *agent)
{
	const char *name = NULL;
	size_t len = strlen(v->failed_hosts), room = sizeof(v->failed_hosts) - len;

	if (json_get_string(agent, "hostName", 256, &name) < 0 && json_get_string(agent, "hostId", 256, &name) < 0)
		name = "?";
	if (len >= 3 && streq(v->failed_hosts + len - 3, "..."))
		return;
	if (strlen(name) + 2 + 3 >= room) {
		(void)snprintf(v->failed_hosts + len, room, "%s...", len ? ", " : "");
		return;
	}
	(void)snprintf(v->failed_hosts + len, room, "%s%s", len ? ", " : "", name);
}

static const char *str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* A summary group of failed rows of the deploy (failures_agent_failed's rule on the group's fields). */
static bool group_failed(const json_t *g)
{
	/* a group has the keys the rule reads: state, status */
	return json_is_true(json_object_get(g, "onDeploy")) && failures_agent_failed(g, NULL);
}

int progress_failing_page(struct cli *c, const char *env, const char *stage, json_t **ret)
{
	struct url_query q = {};
	char limit[16];

	(void)snprintf(limit, sizeof(limit), "%d", PROGRESS_FAILING_PAGE);
	(void)url_query_add(&q, "limit", limit);
	(void)url_query_add(&q, "failing", "true");
	return http_requestf(c, "GET", &q, NULL, ret, "/v1/envs/%s/%s/agents", env, stage);
}

int progress_read(struct cli *c, const char *env, const char *stage, struct progress_read *ret)
{
	struct url_query q = {}, one = {};
	struct progress_read p = {};
	json_t *page = NULL, *g;
	size_t i;
	int r;

	*ret = p;
	(void)url_query_add(&one, "limit", "1");
	r = http_requestf(c, "PUT", &one, NULL, &page, "/v1/envs/%s/%s/deploys/current/progress", env, stage);
	json_decref(page);
	if (r == 0)
		r = http_requestf(c, "GET", NULL, NULL, &p.deploy, "/v1/envs/%s/%s/deploys/current", env, stage);
	if (r == 0) {
		/* provisioning hosts matter once the deploy succeeded (they are about to join it) */
		if (deploy_state_result(str(p.deploy, "state")) == 0)
			(void)url_query_add(&q, "provisioning", "true");
		r = http_requestf(c, "GET", &q, NULL, &p.summary, "/v1/envs/%s/%s/agents/summary", env, stage);
	}
	json_array_foreach(json_object_get(p.summary, "counts"), i, g)
		if (group_failed(g))
			p.failing_on_deploy += json_integer_value(json_object_get(g, "n"));
	if (r == 0 && p.failing_on_deploy > 0)
		r = progress_failing_page(c, env, stage, &p.failing);
	if (r == 0 && !json_is_array(p.failing)) {
		json_decref(p.failing);
		p.failing = json_array();
	}
	if (r < 0) {
		progress_read_release(&p);
		return r;
	}
	*ret = p;
	return 0;
}

void progress_read_release(struct progress_read *p)
{
	json_decref(p->deploy);
	json_decref(p->summary);
	json_decref(p->failing);
	*p = (struct progress_read){};
}

int progress_view_from_json(const struct progress_read *p, struct progress_view *ret)
{
	struct progress_view v = {};
	const char *id = NULL, *state = NULL;
	json_t *g, *agent;
	int64_t on_deploy = 0;
	size_t i;

	if (!json_is_object(p->deploy) || json_get_string(p->deploy, "id", sizeof(v.deploy_id) - 1, &id) < 0 ||
	    json_get_string(p->deploy, "state", sizeof(v.state) - 1, &state) < 0)
		return -EBADMSG;
	(void)str_copy(v.deploy_id, sizeof(v.deploy_id), id);
	(void)str_copy(v.state, sizeof(v.state), state);
	v.success_total = int_or_zero(p->deploy, "successTotal");
	v.fail_total = int_or_zero(p->deploy, "failTotal");
	v.total = int_or_zero(p->deploy, "total");
	/* the summary counts the deploy of the stage it read: another one (a race with a new deploy) counts as other */
	json_array_foreach(json_object_get(p->summary, "counts"), i, g)
	{
		int64_t n = int_or_zero(g, "n");
		int s = deploy_stage_from_string(str(g, "deployStage") ? str(g, "deployStage") : "");

		if (n <= 0)
			continue;
		if (!json_is_true(json_object_get(g, "onDeploy")) || !streq_ptr(str(p->summary, "deployId"), id) || s < 0) {
			v.other += (size_t)n;
			continue;
		}
		v.stage_counts[s] += (size_t)n;
		on_deploy += n;
		if (group_failed(g))
			v.failing += (size_t)n;
	}
	json_array_foreach(p->failing, i, agent)
		if (failures_agent_failed(agent, id))
			add_failed_name(&v, agent);
	v.missing = (size_t)int_or_zero(p->summary, "missingHosts");
	v.provisioning = (size_t)int_or_zero(p->summary, "provisioningHosts");
	/* hosts that joined the deploy after its last transition are not in its total yet: they are about to count,
	 * like provisioning hosts (a SUCCEEDING deploy of total 0 must not "succeed" without them) */
	if (on_deploy > v.total)
		v.provisioning += (size_t)(on_deploy - v.total);
	*ret = v;
	return 0;
}

static void format_counts(const struct progress_view *v, char *buf, size_t size)
{
	size_t n = 0;

	buf[0] = 0;
	for (int s = 0; s < _DEPLOY_STAGE_MAX && n < size; s++) {
		if (!v->stage_counts[s])
			continue;
		n += (size_t)snprintf(buf + n, size - n, "%s%s %zu", n ? ", " : "", deploy_stage_to_string(s),
				      v->stage_counts[s]);
	}
	if (v->other && n < size)
		n += (size_t)snprintf(buf + n, size - n, "%snot started %zu", n ? ", " : "", v->other);
	if (v->provisioning && n < size)
		n += (size_t)snprintf(buf + n, size - n, "%sjoining %zu", n ? ", " : "", v->provisioning);
	if (v->missing && n < size)
		(void)snprintf(buf + n, size - n, "%smissing %zu", n ? ", " : "", v->missing);
}

/* No host counts in the deploy and none is on it: the stage has no host (yet). */
static bool no_hosts(const struct progress_view *v)
{
	for (int s = 0; s < _DEPLOY_STAGE_MAX; s++)
		if (v->stage_counts[s])
			return false;
	return v->total == 0;
}

void progress_format_line(const struct progress_view *v, char *buf, size_t size)
{
	char counts[512];

	format_counts(v, counts, sizeof(counts));
	if (no_hosts(v)) {
		snprintf(buf, size, "deploy %s %s: no hosts in the stage%s%s", v->deploy_id, v->state,
			 counts[0] ? "; " : "", counts);
		return;
	}
	snprintf(buf, size, "deploy %s %s: %lld/%lld hosts done, %lld failed%s%s%s%s", v->deploy_id, v->state,
		 (long long)v->success_total, (long long)v->total, (long long)v->fail_total, counts[0] ? "; " : "",
		 counts, v->failed_hosts[0] ? "; failed: " : "", v->failed_hosts);
}

void progress_format_bar(const struct progress_view *v, int width, char *buf, size_t size)
{
	char counts[512], bar[256];
	int filled = 0;

	if (width < 1)
		width = 1;
	if (width > (int)sizeof(bar) - 1)
		width = (int)sizeof(bar) - 1;
	if (v->total > 0)
		filled = (int)((v->success_total > v->total ? v->total : v->success_total) * width / v->total);
	for (int i = 0; i < width; i++)
		bar[i] = i < filled ? '#' : '.';
	bar[width] = 0;
	format_counts(v, counts, sizeof(counts));
	if (no_hosts(v)) {
		snprintf(buf, size, "[%s] no hosts %s%s%s", bar, v->state, counts[0] ? "  " : "", counts);
		return;
	}
	snprintf(buf, size, "[%s] %lld/%lld %s%s%s%s%s", bar, (long long)v->success_total, (long long)v->total,
		 v->state, counts[0] ? "  " : "", counts, v->failed_hosts[0] ? "  failed: " : "", v->failed_hosts);
}

int deploy_state_result(const char *state)
{
	switch (deploy_state_from_string(state ? state : "")) {
	case DEPLOY_STATE_SUCCEEDING:
	case DEPLOY_STATE_SUCCEEDED:
		return 0;
	case DEPLOY_STATE_FAILING:
		return CLI_RESULT_DEPLOY_FAILED;
	case DEPLOY_STATE_ABORTED:
		return CLI_RESULT_DEPLOY_ABORTED;
	default:
		return -EAGAIN;
	}
}
