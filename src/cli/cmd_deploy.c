/* SPDX-License-Identifier: Apache-2.0 */
/* cli/cmd_deploy.c: `slipway deploy ENV/STAGE --build ID|--latest [--wait]`. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "deploy.h"
#include "http.h"
#include "jsonutil.h"
#include "util.h"
#include "banned.h"

static const char usage[] =
    "usage: slipway deploy ENV/STAGE (--build ID | --latest [--branch B]) [--description TEXT] [--force]\n"
    "                      " DEPLOY_WAIT_USAGE " [--json]\n"
    "\n"
    "Create a deploy of a build on ENV/STAGE and print its id.\n"
    "  --build ID        the build to deploy\n"
    "  --latest          the newest build named like the stage's buildName\n"
    "  --branch B        with --latest: only builds of branch B\n"
    "  --description T   deploy description\n"
    "  --force           deploy even a build tagged BAD_BUILD\n"
    DEPLOY_WAIT_HELP
    "\n"
    "'slipway deploy promote|rollback|restart|pause|resume ...' is the same as the command alone;\n"
    "'slipway deploy list ENV/STAGE' lists the stage's deploys and how each ended.\n";

/* The newest build whose name is the stage's buildName (and branch, if asked). */
static int latest_build(struct cli *c, const struct deploy_args *a, char **ret_id)
{
	json_t *env = NULL, *builds = NULL, *b;
	struct url_query q = {};
	const char *name = NULL, *id = NULL;
	char *dup;
	size_t i;
	int r;

	r = http_requestf(c, "GET", NULL, NULL, &env, "/v1/envs/%s/%s", a->env, a->stage);
	if (r < 0)
		goto out;
	if (json_get_string(env, "buildName", 64, &name) < 0)
		name = a->env;
	(void)url_query_add(&q, "name", name);
	(void)url_query_add(&q, "pageIndex", "1");
	(void)url_query_add(&q, "pageSize", a->branch ? "1000" : "1");
	r = http_requestf(c, "GET", &q, NULL, &builds, "/v1/builds");
	if (r < 0)
		goto out;
	json_array_foreach(builds, i, b)
	{
		const char *branch = NULL;

		(void)json_get_string(b, "branch", 256, &branch);
		if (a->branch && !streq_ptr(branch, a->branch))
			continue;
		(void)json_get_string(b, "id", 64, &id);
		break;
	}
	if (!id) {
		r = cli_fail(c, -ENODATA, "no build named '%s'%s%s found", name, a->branch ? " on branch " : "",
			     a->branch ? a->branch : "");
		goto out;
	}
	dup = strdup(id);
	if (!dup) {
		r = -ENOMEM;
		goto out;
	}
	*ret_id = dup;
	r = 0;
out:
	json_decref(env);
	json_decref(builds);
	return r;
}

int cmd_deploy(struct cli *c, int argc, char **argv)
{
	struct deploy_args a;
	struct url_query q = {};
	json_t *deploy = NULL;
	char *latest = NULL;
	int r;

	/* `slipway deploy promote ...` reads naturally: the deploy actions are accepted as sub-verbs */
	if (argc > 1) {
		static const struct cmd verbs[] = {
		    {"promote", cmd_promote, NULL}, {"rollback", cmd_rollback, NULL}, {"restart", cmd_restart, NULL},
		    {"pause", cmd_pause, NULL},	    {"resume", cmd_resume, NULL},     {"list", cmd_deploy_list, NULL},
		};
		const struct cmd *verb = cmd_find(verbs, ELEMENTSOF(verbs), argv[1]);

		if (verb)
			return verb->fn(c, argc - 1, argv + 1);
	}
	r = deploy_args_parse(c, "deploy",
			      DEPLOY_OPT_BUILD | DEPLOY_OPT_DESCRIPTION | DEPLOY_OPT_FORCE | DEPLOY_OPT_WAIT, usage,
			      argc, argv, &a);
	if (r != 0)
		return r > 0 ? 0 : r;
	if (a.latest) {
		r = latest_build(c, &a, &latest);
		if (r < 0)
			return r;
	}
	(void)url_query_add(&q, "buildId", latest ? latest : a.build_id);
	(void)url_query_add(&q, "description", a.description);
	if (a.force)
		(void)url_query_add(&q, "force", "true");
	r = http_requestf(c, "POST", &q, NULL, &deploy, "/v1/envs/%s/%s/deploys", a.env, a.stage);
	free(latest);
	if (r < 0)
		return r;
	return deploy_report(c, &a, deploy);
}
