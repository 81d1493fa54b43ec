/* SPDX-License-Identifier: Apache-2.0 */
/* cli/deploy.c: shared argument parsing for the deploy commands, the deploy action call, and the
 * --wait/--watch loop with its progress display. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "deploy.h"
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
	    {"to", required_argument, NULL, 'T'},	CLI_COMMON_LONGOPTS,
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
		r = deploy_follow(c, a->env, a->stage, id, a->timeout_s, a->interval_ms);
	}
	json_decref(deploy);
	return r;
}

static int64_t int_or_zero(const json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_integer(v) ? json_integer_value(v) : 0;
}

int progress_view_from_json(const json_t *deploy, const json_t *progress, struct progress_view *ret)
{
	struct progress_view v = {};
	const char *id = NULL, *state = NULL;
	json_t *agents, *agent;
	size_t i;

	if (!json_is_object(deploy) || json_get_string(deploy, "id", sizeof(v.deploy_id) - 1, &id) < 0 ||
	    json_get_string(deploy, "state", sizeof(v.state) - 1, &state) < 0)
		return -EBADMSG;
	(void)str_copy(v.deploy_id, sizeof(v.deploy_id), id);
	(void)str_copy(v.state, sizeof(v.state), state);
	v.success_total = int_or_zero(deploy, "successTotal");
	v.fail_total = int_or_zero(deploy, "failTotal");
	v.total = int_or_zero(deploy, "total");
	if (json_is_object(progress)) {
		agents = json_object_get(progress, "agents");
		json_array_foreach(agents, i, agent)
		{
			const char *did = NULL, *stage = NULL, *status = NULL;
			int s;

			(void)json_get_string(agent, "deployId", 256, &did);
			(void)json_get_string(agent, "deployStage", 64, &stage);
			(void)json_get_string(agent, "status", 64, &status);
			if (!did || !streq(did, id) || !stage || (s = deploy_stage_from_string(stage)) < 0) {
				v.other++;
				continue;
			}
			v.stage_counts[s]++;
			if (status && agent_status_from_string(status) != AGENT_STATUS_SUCCEEDED &&
			    agent_status_from_string(status) != AGENT_STATUS_UNKNOWN)
				v.failing++;
		}
		v.missing = json_array_size(json_object_get(progress, "missingHosts"));
		v.provisioning = json_array_size(json_object_get(progress, "provisioningHosts"));
	}
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

void progress_format_line(const struct progress_view *v, char *buf, size_t size)
{
	char counts[512];

	format_counts(v, counts, sizeof(counts));
	snprintf(buf, size, "deploy %s %s: %lld/%lld hosts done, %lld failed%s%s", v->deploy_id, v->state,
		 (long long)v->success_total, (long long)v->total, (long long)v->fail_total, counts[0] ? "; " : "",
		 counts);
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
	else if (deploy_state_result(v->state) == 0)
		filled = width;
	for (int i = 0; i < width; i++)
		bar[i] = i < filled ? '#' : '.';
	bar[width] = 0;
	format_counts(v, counts, sizeof(counts));
	snprintf(buf, size, "[%s] %lld/%lld %s%s%s", bar, (long long)v->success_total, (long long)v->total, v->state,
		 counts[0] ? "  " : "", counts);
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

static bool transient(const struct cli *c, int r)
{
	return r == -ECONNREFUSED || r == -ETIMEDOUT || (r == -EREMOTEIO && c->http_status == 503);
}

/* The followed deploy is no longer current: its own state decides. */
static int finish_replaced(struct cli *c, const char *id, FILE *f, bool tty)
{
	json_t *d = NULL;
	const char *state = NULL;
	int r;

	r = http_requestf(c, "GET", NULL, NULL, &d, "/v1/deploys/%s", id);
	if (r < 0)
		return r;
	(void)json_get_string(d, "state", 64, &state);
	fprintf(f, "%sdeploy %s was replaced by another deploy (state %s)\n", tty ? "\r\033[K" : "", id,
		state ? state : "unknown");
	r = state && deploy_state_from_string(state) == DEPLOY_STATE_SUCCEEDED
		? 0
		: cli_fail(c, CLI_RESULT_DEPLOY_ABORTED, "deploy %s was replaced before it succeeded", id);
	json_decref(d);
	return r;
}

int deploy_follow(struct cli *c, const char *env, const char *stage, const char *deploy_id, int64_t timeout_s,
		  int64_t interval_ms)
{
	FILE *f = c->json ? stderr : c->out;
	bool tty = isatty(fileno(f)) == 1;
	int64_t deadline = timeout_s > 0 ? mono_ms() + timeout_s * 1000 : 0, grace_end = 0;
	char followed[64] = "", line[1024], last[1024] = "";
	int errors = 0, r;

	if (deploy_id && str_copy(followed, sizeof(followed), deploy_id) < 0)
		return cli_fail(c, -EINVAL, "deploy id '%s' is too long", deploy_id);
	for (;;) {
		json_t *progress = NULL, *deploy = NULL;
		struct progress_view v;
		const char *id = NULL;

		r = http_requestf(c, "PUT", NULL, NULL, &progress, "/v1/envs/%s/%s/deploys/current/progress", env,
				  stage);
		if (r == 0)
			r = http_requestf(c, "GET", NULL, NULL, &deploy, "/v1/envs/%s/%s/deploys/current", env, stage);
		if (r == -EREMOTEIO && c->http_status == 404 && followed[0]) {
			/* the stage lost its current deploy: look at ours directly */
			json_decref(progress);
			return finish_replaced(c, followed, f, tty);
		}
		if (r < 0) {
			json_decref(progress);
			json_decref(deploy);
			if (transient(c, r) && ++errors < 5 && (!deadline || mono_ms() < deadline)) {
				sleep_ms(interval_ms);
				continue;
			}
			if (tty)
				fputc('\n', f);
			return r;
		}
		errors = 0;
		r = progress_view_from_json(deploy, progress, &v);
		if (r < 0) {
			json_decref(progress);
			json_decref(deploy);
			return cli_fail(c, r, "the server's deploy answer lacks an id or state");
		}
		(void)json_get_string(deploy, "id", 64, &id);
		if (!followed[0])
			(void)str_copy(followed, sizeof(followed), v.deploy_id);
		json_decref(progress);
		json_decref(deploy);
		if (!streq(v.deploy_id, followed))
			return finish_replaced(c, followed, f, tty);

		if (tty) {
			progress_format_bar(&v, 30, line, sizeof(line));
			fprintf(f, "\r\033[K%s", line);
		} else {
			progress_format_line(&v, line, sizeof(line));
			if (!streq(line, last))
				fprintf(f, "%s\n", line);
			(void)str_copy(last, sizeof(last), line);
		}
		fflush(f);
		r = deploy_state_result(v.state);
		if (r == 0 && v.provisioning > 0) {
			/* live hosts that have not reported on this stage yet will join the deploy on
			 * their next ping; an empty total would otherwise "succeed" before they start */
			if (!grace_end)
				grace_end = mono_ms() + FOLLOW_PROVISIONING_GRACE_MS;
			if (mono_ms() < grace_end)
				r = -EAGAIN;
		}
		if (r != -EAGAIN) {
			if (tty)
				fputc('\n', f);
			if (r == CLI_RESULT_DEPLOY_FAILED)
				return cli_fail(c, r, "deploy %s is FAILING (%lld of %lld hosts failed)", v.deploy_id,
						(long long)v.fail_total, (long long)v.total);
			if (r == CLI_RESULT_DEPLOY_ABORTED)
				return cli_fail(c, r, "deploy %s was ABORTED", v.deploy_id);
			return 0;
		}
		if (deadline && mono_ms() >= deadline) {
			if (tty)
				fputc('\n', f);
			return cli_fail(c, -ETIMEDOUT, "deploy %s still %s after %lld s", v.deploy_id, v.state,
					(long long)timeout_s);
		}
		sleep_ms(interval_ms);
	}
}
