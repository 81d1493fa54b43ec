/* SPDX-License-Identifier: Apache-2.0 */
/* cli/cmd_constraint.c: `slipway env constraint ENV/STAGE [--key K --max N --type T [--order V,...] | --delete]`:
 * show, set or delete the stage's deploy constraint (zone-aware rollouts). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "http.h"
#include "parse.h"
#include "util.h"
#include "banned.h"

static const char usage[] =
	"usage: slipway env constraint ENV/STAGE [--key TAG --max N --type TYPE [--order V1,V2,...]] [--delete]\n"
	"\n"
	"Show, set or delete the stage's deploy constraint: during a rollout its hosts are grouped by the\n"
	"value of the host tag TAG (e.g. availabilityZone).\n"
	"  --key TAG     the host tag to group by (required to set)\n"
	"  --max N       at most N hosts of one value deploying at once (default 1)\n"
	"  --type TYPE   ALL_GROUPS_IN_PARALLEL (every value at once, the default) or GROUP_BY_GROUP\n"
	"                (one value after the other, ascending)\n"
	"  --order LIST  GROUP_BY_GROUP: these values first, in this order (comma-separated)\n"
	"  --delete      remove the constraint\n"
	"Without options the constraint is shown.\n";

struct constraint_opts {
	const char *key, *max, *type, *order;
	bool del;
};

static int parse_opts(struct cli *c, int argc, char **argv, struct constraint_opts *o)
{
	static const struct option opts[] = {{"key", required_argument, NULL, 0x100},
					     {"max", required_argument, NULL, 0x101},
					     {"type", required_argument, NULL, 0x102},
					     {"order", required_argument, NULL, 0x103},
					     {"delete", no_argument, NULL, 0x104},
					     CLI_COMMON_LONGOPTS};
	const char **slot[] = {&o->key, &o->max, &o->type, &o->order};
	int opt;

	cli_getopt_reset();
	while ((opt = cli_next_option(c, argc, argv, opts)) > 0) {
		if (opt == 0x104)
			o->del = true;
		else if (opt >= 0x100 && opt <= 0x103)
			*slot[opt - 0x100] = optarg;
		else
			return cli_bad_option(c, "env constraint", argc, argv);
	}
	return opt;
}

/* The POST body of the options; a bad --max is a usage error. */
static int constraint_body(struct cli *c, const struct constraint_opts *o, json_t **ret)
{
	json_t *b = json_object(), *order = NULL;
	int64_t max = 1;
	int r = 0;

	if (!b)
		return -ENOMEM;
	if (o->max && parse_i64(o->max, 1, 10000, &max) < 0)
		r = cli_usage_error(c, "env constraint: --max must be a number from 1 to 10000");
	if (r == 0 && o->order) {
		char *copy = strdup(o->order), *save = NULL;

		order = json_array();
		for (char *v = copy ? strtok_r(copy, ",", &save) : NULL; v; v = strtok_r(NULL, ",", &save))
			(void)json_array_append_new(order, json_string(v));
		free(copy);
	}
	if (r == 0 && (json_object_set_new(b, "constraintKey", json_string(o->key)) < 0 ||
		       json_object_set_new(b, "maxParallel", json_integer(max)) < 0 ||
		       (o->type && json_object_set_new(b, "constraintType", json_string(o->type)) < 0) ||
		       (order && json_object_set(b, "constraintOrder", order) < 0)))
		r = -ENOMEM;
	json_decref(order);
	if (r < 0) {
		json_decref(b);
		return r;
	}
	*ret = b;
	return 0;
}

static void print_constraint(struct cli *c, const json_t *k)
{
	char b[4][300];
	const json_t *order = json_object_get(k, "constraintOrder");

	fprintf(c->out, "key:   %s\nmax:   %s\ntype:  %s\n", cli_json_text(json_object_get(k, "constraintKey"), b[0], sizeof(b[0])),
		cli_json_text(json_object_get(k, "maxParallel"), b[1], sizeof(b[1])),
		cli_json_text(json_object_get(k, "constraintType"), b[2], sizeof(b[2])));
	if (json_is_array(order) && json_array_size(order) > 0) {
		const json_t *v;
		size_t i;

		fprintf(c->out, "order:");
		json_array_foreach(order, i, v)
			fprintf(c->out, "%s%s", i ? ", " : " ", cli_json_text(v, b[3], sizeof(b[3])));
		fprintf(c->out, "\n");
	}
}

int env_constraint(struct cli *c, int argc, char **argv)
{
	struct constraint_opts o = {0};
	json_t *body = NULL, *got = NULL;
	char env[65], stage[65];
	int r;

	r = parse_opts(c, argc, argv, &o);
	if (r < 0)
		return r;
	if (c->help) {
		fprintf(c->out, "%s", usage);
		return 0;
	}
	if (argc - optind != 1)
		return cli_usage_error(c, "env constraint: give one ENV/STAGE (see 'slipway env constraint --help')");
	if (cli_parse_env_stage(argv[optind], env, stage) < 0)
		return cli_usage_error(c, "env constraint: '%s' is not ENV/STAGE", argv[optind]);
	if (o.del && (o.key || o.max || o.type || o.order))
		return cli_usage_error(c, "env constraint: --delete takes no other option");
	if (!o.key && (o.max || o.type || o.order))
		return cli_usage_error(c, "env constraint: --key is required to set a constraint");
	if (o.del) {
		r = http_requestf(c, "DELETE", NULL, NULL, NULL, "/v1/envs/%s/%s/deploy_constraint", env, stage);
		if (r == 0)
			fprintf(c->out, "%s/%s: deploy constraint removed\n", env, stage);
		return r;
	}
	if (o.key) {
		r = constraint_body(c, &o, &body);
		if (r < 0)
			return r;
	}
	r = http_requestf(c, body ? "POST" : "GET", NULL, body, &got, "/v1/envs/%s/%s/deploy_constraint", env, stage);
	if (r == 0 && c->json)
		r = cli_print_json(c, got ? got : json_null());
	else if (r == 0 && got)
		print_constraint(c, got);
	else if (r == 0)
		fprintf(c->out, "%s/%s has no deploy constraint\n", env, stage);
	json_decref(body);
	json_decref(got);
	return r;
}
