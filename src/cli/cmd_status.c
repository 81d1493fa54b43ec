/* SPDX-License-Identifier: Apache-2.0 */
/* cli/cmd_status.c: `slipway status ENV/STAGE [--watch]`: the stage's current deploy and how far
 * its hosts got. */
#include <errno.h>
#include <stdio.h>

#include "cmd.h"
#include "deploy.h"
#include "failures.h"
#include "http.h"
#include "jsonutil.h"
#include "util.h"
#include "banned.h"

static const char usage[] =
    "usage: slipway status ENV/STAGE [--watch [--timeout S] [--interval S] [--allow-empty]] [--json]\n"
    "\n"
    "Show the current deploy of ENV/STAGE, its hosts' progress and what each failing host reported\n"
    "(its step, exit code and the last lines of its script output).\n"
    "  --watch           keep following it until it succeeds (exit 0), fails (1), is replaced (2)\n"
    "                    or succeeds with no host (3)\n"
    "  --allow-empty     with --watch: a success with no host exits 0\n"
    "  --timeout S       give up watching after S seconds (exit 75)\n"
    "  --interval S      seconds between progress polls (default 2)\n"
    "  --json            print {\"env\": EnvStage, \"deploy\": Deploy, \"summary\": the stage's agent summary,\n"
    "                    \"failing\": [Agent], at most 100 failing hosts}\n";

static void print_status(struct cli *c, const char *env_name, const char *stage_name, const json_t *env,
			 const struct progress_read *p)
{
	const json_t *deploy = p->deploy;
	struct progress_view v;
	char t[64], b1[64], b2[64], line[1024];

	fprintf(c->out, "stage      %s/%s (%s)%s\n", cli_json_text(json_object_get(env, "envName"), b1, sizeof(b1)),
		cli_json_text(json_object_get(env, "stageName"), b2, sizeof(b2)),
		cli_json_text(json_object_get(env, "stageType"), t, sizeof(t)),
		json_is_string(json_object_get(env, "envState")) &&
			!streq(json_string_value(json_object_get(env, "envState")), "NORMAL")
		    ? "  [PAUSED]"
		    : "");
	if (!deploy) {
		fprintf(c->out, "deploy     none\n");
		return;
	}
	fprintf(c->out, "deploy     %s  %s %s\n", cli_json_text(json_object_get(deploy, "id"), b1, sizeof(b1)),
		cli_json_text(json_object_get(deploy, "type"), b2, sizeof(b2)),
		cli_json_text(json_object_get(deploy, "state"), t, sizeof(t)));
	fprintf(c->out, "build      %s\n", cli_json_text(json_object_get(deploy, "buildId"), b1, sizeof(b1)));
	fprintf(c->out, "started    %s by %s\n", cli_json_time(json_object_get(deploy, "startDate"), t, sizeof(t)),
		cli_json_text(json_object_get(deploy, "operator"), b1, sizeof(b1)));
	fprintf(c->out, "accepted   %s\n", cli_json_text(json_object_get(deploy, "acceptanceStatus"), b1, sizeof(b1)));
	if (json_is_string(json_object_get(deploy, "outcome")))
		fprintf(c->out, "outcome    %s\n", json_string_value(json_object_get(deploy, "outcome")));
	if (progress_view_from_json(p, &v) == 0) {
		progress_format_line(&v, line, sizeof(line));
		fprintf(c->out, "progress   %s\n", line);
		(void)failures_print(c, c->out, env_name, stage_name, p->failing, v.deploy_id,
				     (size_t)p->failing_on_deploy);
	}
}

int cmd_status(struct cli *c, int argc, char **argv)
{
	struct deploy_args a;
	struct progress_read p = {};
	json_t *env = NULL, *all = NULL;
	int r;

	r = deploy_args_parse(c, "status", DEPLOY_OPT_WATCH, usage, argc, argv, &a);
	if (r != 0)
		return r > 0 ? 0 : r;
	if (a.wait)
		return deploy_follow(c, &a, NULL);

	r = http_requestf(c, "GET", NULL, NULL, &env, "/v1/envs/%s/%s", a.env, a.stage);
	if (r < 0)
		goto out;
	r = progress_read(c, a.env, a.stage, &p);
	if (r == -EREMOTEIO && c->http_status == 404) {
		/* the stage exists (above) but has no deploy yet */
		c->http_status = 0;
		c->errmsg[0] = 0;
		r = 0;
	}
	if (r < 0)
		goto out;
	if (c->json) {
		all = json_pack("{s:O, s:O?, s:O?, s:O?}", "env", env, "deploy", p.deploy, "summary", p.summary, "failing",
				p.failing);
		r = all ? cli_print_json(c, all) : -ENOMEM;
	} else
		print_status(c, a.env, a.stage, env, &p);
out:
	json_decref(all);
	json_decref(env);
	progress_read_release(&p);
	return r;
}
