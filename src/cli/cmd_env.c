/* SPDX-License-Identifier: Apache-2.0 */
/* cli/cmd_env.c: `slipway env ...`: env stages (create, list, show, delete), their settings
 * (config), capacity (hosts and groups), script variables (scripts) and agent configs. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "cmd.h"
#include "fs.h"
#include "http.h"
#include "jsonutil.h"
#include "names.h"
#include "util.h"
#include "banned.h"

enum {
	EO_CREATE = 1 << 0,   /* --description --build-name --branch --stage-type */
	EO_SET = 1 << 1,      /* --set KEY=VALUE */
	EO_LIST = 1 << 2,     /* --env NAME --group NAME */
	EO_CAPACITY = 1 << 3, /* --host --group (flags) */
	EO_MAP = 1 << 4,      /* --unset KEY --replace --file FILE */
};

struct env_opts {
	const char *description, *build_name, *branch, *stage_type;
	const char *env_filter, *group_filter;
	const char *file;
	bool host, group, replace;
	json_t *set;   /* object of --set values */
	json_t *unset; /* array of keys */
};

static void env_opts_release(struct env_opts *o)
{
	json_decref(o->set);
	json_decref(o->unset);
	o->set = o->unset = NULL;
}

/* "KEY=VALUE" → key and a JSON value: VALUE as JSON when it parses as JSON (42, true, null,
 * "quoted", [..], {..}), else as a plain string (json_values false: always a string). */
int cli_parse_assignment(const char *s, bool json_values, char **ret_key, json_t **ret_value)
{
	const char *eq = strchr(s, '=');
	json_t *v = NULL;
	char *key;

	if (!eq || eq == s)
		return -EINVAL;
	key = strndup(s, (size_t)(eq - s));
	if (!key)
		return -ENOMEM;
	if (json_values && json_parse_bounded(eq + 1, strlen(eq + 1), &v, NULL, 0) < 0)
		v = NULL;
	if (!v)
		v = json_string(eq + 1);
	if (!v) {
		free(key);
		return -EINVAL; /* not UTF-8 */
	}
	*ret_key = key;
	*ret_value = v;
	return 0;
}

static int env_parse(struct cli *c, const char *cmd, const char *usage, unsigned allowed, int argc, char **argv,
		     struct env_opts *o, char ***ret_args, int *ret_nargs)
{
	enum { O_DESC = 0x100, O_BNAME, O_BRANCH, O_STYPE, O_SET, O_ENV, O_GROUP, O_HOST, O_UNSET, O_REPLACE, O_FILE };
	const struct option opts[] = {
	    {"description", required_argument, NULL, O_DESC},
	    {"build-name", required_argument, NULL, O_BNAME},
	    {"branch", required_argument, NULL, O_BRANCH},
	    {"stage-type", required_argument, NULL, O_STYPE},
	    {"set", required_argument, NULL, O_SET},
	    {"env", required_argument, NULL, O_ENV},
	    {"group", (allowed & EO_CAPACITY) ? no_argument : required_argument, NULL, O_GROUP},
	    {"host", no_argument, NULL, O_HOST},
	    {"unset", required_argument, NULL, O_UNSET},
	    {"replace", no_argument, NULL, O_REPLACE},
	    {"file", required_argument, NULL, O_FILE},
	    CLI_COMMON_LONGOPTS,
	};
	unsigned need;
	int opt, r;

	memset(o, 0, sizeof(*o));
	o->set = json_object();
	o->unset = json_array();
	if (!o->set || !o->unset)
		return -ENOMEM;
	cli_getopt_reset();
	while ((opt = cli_next_option(c, argc, argv, opts)) > 0) {
		switch (opt) {
		case O_DESC:
		case O_BNAME:
		case O_BRANCH:
		case O_STYPE:
			need = EO_CREATE;
			break;
		case O_SET:
			need = EO_SET;
			break;
		case O_ENV:
			need = EO_LIST;
			break;
		case O_GROUP:
			need = EO_LIST | EO_CAPACITY;
			break;
		case O_HOST:
			need = EO_CAPACITY;
			break;
		case O_UNSET:
		case O_REPLACE:
		case O_FILE:
			need = EO_MAP;
			break;
		default:
			return cli_bad_option(c, cmd, argc, argv);
		}
		if (!(allowed & need))
			return cli_usage_error(c, "%s: option '%s' does not apply here", cmd, argv[optind - 1]);
		switch (opt) {
		case O_DESC:
			o->description = optarg;
			break;
		case O_BNAME:
			o->build_name = optarg;
			break;
		case O_BRANCH:
			o->branch = optarg;
			break;
		case O_STYPE:
			o->stage_type = optarg;
			break;
		case O_SET: {
			char *key = NULL;
			json_t *v = NULL;

			if (cli_parse_assignment(optarg, true, &key, &v) < 0)
				return cli_usage_error(c, "%s: --set wants KEY=VALUE, not '%s'", cmd, optarg);
			r = json_object_set_new(o->set, key, v);
			free(key);
			if (r < 0)
				return -ENOMEM;
			break;
		}
		case O_ENV:
			o->env_filter = optarg;
			break;
		case O_GROUP:
			if (allowed & EO_CAPACITY)
				o->group = true;
			else
				o->group_filter = optarg;
			break;
		case O_HOST:
			o->host = true;
			break;
		case O_UNSET:
			if (json_array_append_new(o->unset, json_string(optarg)) < 0)
				return cli_usage_error(c, "%s: bad --unset key", cmd);
			break;
		case O_REPLACE:
			o->replace = true;
			break;
		case O_FILE:
			o->file = optarg;
			break;
		}
	}
	if (opt < 0)
		return opt;
	if (c->help) {
		fprintf(c->out, "%s", usage);
		return 1;
	}
	*ret_args = argv + optind;
	*ret_nargs = argc - optind;
	return 0;
}

static int need_env_stage(struct cli *c, const char *cmd, char **args, int nargs, int max_extra, char env[65],
			  char stage[65])
{
	if (nargs < 1)
		return cli_usage_error(c, "%s: ENV/STAGE is required (see 'slipway %s --help')", cmd, cmd);
	if (cli_parse_env_stage(args[0], env, stage) < 0)
		return cli_usage_error(c, "%s: '%s' is not ENV/STAGE (names: letters, digits, '_', '-'; ≤ 64)", cmd,
				       args[0]);
	if (max_extra >= 0 && nargs - 1 > max_extra)
		return cli_usage_error(c, "%s: unexpected argument '%s'", cmd, args[1 + max_extra]);
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Print an object as "key = value" lines, keys sorted. */
static void print_object(struct cli *c, const json_t *o, bool times)
{
	const char **keys;
	const char *k;
	json_t *v;
	size_t n = 0;

	keys = calloc(json_object_size(o) + 1, sizeof(*keys));
	if (!keys)
		return;
	json_object_foreach((json_t *)o, k, v) keys[n++] = k;
	qsort(keys, n, sizeof(*keys), cmp_str);
	for (size_t i = 0; i < n; i++) {
		char buf[256];
		const json_t *x = json_object_get(o, keys[i]);
		const char *text = times && (strstr(keys[i], "Date") || streq(keys[i], "lastUpdate"))
				       ? cli_json_time(x, buf, sizeof(buf))
				       : cli_json_text(x, buf, sizeof(buf));
		fprintf(c->out, "%s = %s\n", keys[i], text);
	}
	free(keys);
}

/* ---- create / list / show / delete ---- */

static const char create_usage[] =
    "usage: slipway env create ENV/STAGE [--description T] [--build-name N] [--branch B]\n"
    "                          [--stage-type TYPE] [--set KEY=VALUE]... [--json]\n"
    "\n"
    "Create an env stage. --set sets any EnvStage field (PROTOCOL §3.1) by its JSON name; VALUE is\n"
    "taken as JSON when it parses (42, true, \"text\") and as a string otherwise, e.g.\n"
    "--set maxParallel=2 --set failurePolicy=ROLLBACK. Prints the id (--json: the EnvStage).\n";

static int env_create(struct cli *c, int argc, char **argv)
{
	struct env_opts o;
	char env[65], stage[65], **args;
	json_t *body = NULL, *created = NULL;
	char done[160];
	int nargs, r;

	r = env_parse(c, "env create", create_usage, EO_CREATE | EO_SET, argc, argv, &o, &args, &nargs);
	if (r != 0)
		goto out;
	r = need_env_stage(c, "env create", args, nargs, 0, env, stage);
	if (r < 0)
		goto out;
	body = json_deep_copy(o.set);
	if (!body || json_object_set_new(body, "envName", json_string(env)) < 0 ||
	    json_object_set_new(body, "stageName", json_string(stage)) < 0 ||
	    (o.description && json_object_set_new(body, "description", json_string(o.description)) < 0) ||
	    (o.build_name && json_object_set_new(body, "buildName", json_string(o.build_name)) < 0) ||
	    (o.branch && json_object_set_new(body, "branch", json_string(o.branch)) < 0) ||
	    (o.stage_type && json_object_set_new(body, "stageType", json_string(o.stage_type)) < 0)) {
		r = cli_usage_error(c, "env create: arguments must be valid UTF-8");
		goto out;
	}
	r = http_requestf(c, "POST", NULL, body, &created, "/v1/envs");
	if (r < 0)
		goto out;
	snprintf(done, sizeof(done), "%s/%s created", env, stage);
	r = cli_print_created(c, created, done);
out:
	json_decref(body);
	json_decref(created);
	env_opts_release(&o);
	return r > 0 ? 0 : r;
}

static const char list_usage[] = "usage: slipway env list [--env NAME] [--group GROUP] [--json]\n"
				 "\n"
				 "List env stages: all, the stages of env NAME, or those mapped to GROUP.\n";

static int env_list(struct cli *c, int argc, char **argv)
{
	struct env_opts o;
	struct url_query q = {};
	json_t *envs = NULL, *e;
	char **args;
	int nargs, r;
	size_t i;

	r = env_parse(c, "env list", list_usage, EO_LIST, argc, argv, &o, &args, &nargs);
	if (r != 0)
		goto out;
	if (nargs > 0) {
		r = cli_usage_error(c, "env list: unexpected argument '%s'", args[0]);
		goto out;
	}
	(void)url_query_add(&q, "envName", o.env_filter);
	(void)url_query_add(&q, "groupName", o.group_filter);
	r = http_requestf(c, "GET", &q, NULL, &envs, "/v1/envs");
	if (r < 0)
		goto out;
	if (!json_is_array(envs)) {
		r = cli_fail(c, -EBADMSG, "the server's env list is not an array");
		goto out;
	}
	if (c->json) {
		r = cli_print_json(c, envs);
		goto out;
	}
	fprintf(c->out, "%-24s %-16s %-11s %-8s %-22s %s\n", "ENV", "STAGE", "TYPE", "STATE", "DEPLOY", "ID");
	json_array_foreach(envs, i, e)
	{
		char b[6][128];

		fprintf(c->out, "%-24s %-16s %-11s %-8s %-22s %s\n",
			cli_json_text(json_object_get(e, "envName"), b[0], 128),
			cli_json_text(json_object_get(e, "stageName"), b[1], 128),
			cli_json_text(json_object_get(e, "stageType"), b[2], 128),
			cli_json_text(json_object_get(e, "envState"), b[3], 128),
			cli_json_text(json_object_get(e, "deployId"), b[4], 128),
			cli_json_text(json_object_get(e, "id"), b[5], 128));
	}
out:
	json_decref(envs);
	env_opts_release(&o);
	return r > 0 ? 0 : r;
}

static const char show_usage[] = "usage: slipway env show ENV/STAGE [--json]\n"
				 "\n"
				 "Show every field of an env stage.\n";

static const char delete_usage[] = "usage: slipway env delete ENV/STAGE\n"
				   "\n"
				   "Delete an env stage. The server refuses (409) while the stage has capacity or\n"
				   "agent rows: remove its capacity and let the hosts ping first.\n";

static int env_show_or_delete(struct cli *c, int argc, char **argv, bool del)
{
	const char *cmd = del ? "env delete" : "env show";
	char env[65], stage[65], **args;
	json_t *e = NULL;
	int nargs, r;

	r = cli_parse_simple(c, cmd, del ? delete_usage : show_usage, argc, argv, 0, -1, &args, &nargs);
	if (r != 0)
		return r > 0 ? 0 : r;
	r = need_env_stage(c, cmd, args, nargs, 0, env, stage);
	if (r < 0)
		return r;
	r = http_requestf(c, del ? "DELETE" : "GET", NULL, NULL, &e, "/v1/envs/%s/%s", env, stage);
	if (r < 0)
		return r;
	if (del)
		fprintf(c->out, "%s/%s deleted\n", env, stage);
	else if (c->json)
		r = cli_print_json(c, e);
	else
		print_object(c, e, true);
	json_decref(e);
	return r;
}

static int env_show(struct cli *c, int argc, char **argv)
{
	return env_show_or_delete(c, argc, argv, false);
}

static int env_delete(struct cli *c, int argc, char **argv)
{
	return env_show_or_delete(c, argc, argv, true);
}

/* ---- config: the stage's own fields (partial PUT) ---- */

static const char config_usage[] =
    "usage: slipway env config ENV/STAGE [KEY] [--json]\n"
    "       slipway env config ENV/STAGE --set KEY=VALUE...\n"
    "\n"
    "Print the stage's settings (EnvStage fields), or the one named KEY. With --set (repeatable),\n"
    "change them instead: a partial update, other fields stay. --set is the one of 'env create':\n"
    "KEY is the EnvStage field's JSON name (maxParallel, stuckThreshold, failurePolicy, ...); VALUE\n"
    "is taken as JSON when it parses (42, true, null, \"text\") and as a string otherwise.\n"
    "The older spellings 'env config get ENV/STAGE [KEY]' and 'env config set ENV/STAGE KEY=VALUE...'\n"
    "do the same.\n";
static const char config_get_usage[] = "usage: slipway env config get ENV/STAGE [KEY] [--json]\n"
				       "\n"
				       "Print the stage's settings (EnvStage fields), or the one named KEY.\n"
				       "Same as 'slipway env config ENV/STAGE [KEY]'.\n";
static const char config_set_usage[] =
    "usage: slipway env config set ENV/STAGE KEY=VALUE...\n"
    "\n"
    "Change stage settings (a partial update: other fields stay). KEY is the EnvStage field's JSON\n"
    "name (maxParallel, stuckThreshold, failurePolicy, signingKey, ...); VALUE is taken as JSON when\n"
    "it parses (42, true, null, \"text\") and as a string otherwise.\n"
    "Same as 'slipway env config ENV/STAGE --set KEY=VALUE...'.\n";

/* Print the stage's fields, or the one args[1] names. */
static int config_show(struct cli *c, const char *cmd, char **args, int nargs)
{
	char env[65], stage[65], buf[256];
	json_t *e = NULL, *v;
	int r;

	r = need_env_stage(c, cmd, args, nargs, 1, env, stage);
	if (r < 0)
		return r;
	r = http_requestf(c, "GET", NULL, NULL, &e, "/v1/envs/%s/%s", env, stage);
	if (r < 0)
		return r;
	if (nargs == 2) {
		v = json_object_get(e, args[1]);
		if (!v)
			r = cli_fail(c, -ENODATA, "%s: the stage has no field '%s'", cmd, args[1]);
		else if (c->json)
			r = cli_print_json(c, v);
		else
			fprintf(c->out, "%s\n", json_is_null(v) ? "" : cli_json_text(v, buf, sizeof(buf)));
	} else if (c->json)
		r = cli_print_json(c, e);
	else
		print_object(c, e, false);
	json_decref(e);
	return r;
}

/* The partial PUT of the stage's fields in body. */
static int config_put(struct cli *c, const char *env, const char *stage, const json_t *body)
{
	int r = http_requestf(c, "PUT", NULL, body, NULL, "/v1/envs/%s/%s", env, stage);

	if (r == 0 && !c->json)
		fprintf(c->out, "%s/%s updated\n", env, stage);
	return r;
}

static int config_get(struct cli *c, int argc, char **argv)
{
	char **args;
	int nargs, r;

	r = cli_parse_simple(c, "env config get", config_get_usage, argc, argv, 0, -1, &args, &nargs);
	if (r != 0)
		return r > 0 ? 0 : r;
	return config_show(c, "env config get", args, nargs);
}

static int config_set(struct cli *c, int argc, char **argv)
{
	char env[65], stage[65], **args;
	json_t *body = NULL;
	int nargs, r;

	r = cli_parse_simple(c, "env config set", config_set_usage, argc, argv, 0, -1, &args, &nargs);
	if (r != 0)
		return r > 0 ? 0 : r;
	r = need_env_stage(c, "env config set", args, nargs, -1, env, stage);
	if (r < 0)
		return r;
	if (nargs < 2)
		return cli_usage_error(c, "env config set: give at least one KEY=VALUE");
	body = json_object();
	if (!body)
		return -ENOMEM;
	for (int i = 1; i < nargs; i++) {
		char *key = NULL;
		json_t *v = NULL;

		if (cli_parse_assignment(args[i], true, &key, &v) < 0) {
			json_decref(body);
			return cli_usage_error(c, "env config set: '%s' is not KEY=VALUE", args[i]);
		}
		r = json_object_set_new(body, key, v);
		free(key);
		if (r < 0) {
			json_decref(body);
			return -ENOMEM;
		}
	}
	r = config_put(c, env, stage, body);
	json_decref(body);
	return r;
}

static const struct cmd env_config_commands[] = {
    {"get", config_get, "print the stage's settings"},
    {"set", config_set, "change stage settings"},
};

/* `env config ENV/STAGE [KEY]` reads, `env config ENV/STAGE --set K=V...` writes; `get` and `set` stay. */
static int env_config(struct cli *c, int argc, char **argv)
{
	struct env_opts o;
	char env[65], stage[65], **args;
	int nargs, r;

	if (argc > 1 && cmd_find(env_config_commands, ELEMENTSOF(env_config_commands), argv[1]))
		return cmd_dispatch(c, "env config", env_config_commands, ELEMENTSOF(env_config_commands), argc,
				    argv);
	r = env_parse(c, "env config", config_usage, EO_SET, argc, argv, &o, &args, &nargs);
	if (r == 0 && json_object_size(o.set) == 0)
		r = config_show(c, "env config", args, nargs);
	else if (r == 0) {
		r = need_env_stage(c, "env config", args, nargs, 0, env, stage);
		if (r == 0)
			r = config_put(c, env, stage, o.set);
	}
	env_opts_release(&o);
	return r > 0 ? 0 : r;
}

/* ---- string maps: script_configs and agent_configs ---- */

static int map_get(struct cli *c, const char *cmd, const char *resource, int argc, char **argv)
{
	char usage[256], env[65], stage[65], **args;
	json_t *m = NULL;
	const char *k;
	json_t *v;
	int nargs, r;

	snprintf(usage, sizeof(usage),
		 "usage: slipway %s ENV/STAGE [--json]\n\nPrint the stage's %s as KEY=VALUE lines.\n", cmd, resource);
	r = cli_parse_simple(c, cmd, usage, argc, argv, 0, -1, &args, &nargs);
	if (r != 0)
		return r > 0 ? 0 : r;
	r = need_env_stage(c, cmd, args, nargs, 0, env, stage);
	if (r < 0)
		return r;
	r = http_requestf(c, "GET", NULL, NULL, &m, "/v1/envs/%s/%s/%s", env, stage, resource);
	if (r < 0)
		return r;
	if (c->json)
		r = cli_print_json(c, m ? m : json_null());
	else
		json_object_foreach(m, k, v)
		    fprintf(c->out, "%s=%s\n", k, json_is_string(v) ? json_string_value(v) : "");
	json_decref(m);
	return r;
}

/* --file: a JSON object, or KEY = VALUE lines (# comments). */
int cli_load_object_file(struct cli *c, const char *cmd, const char *path, json_t *into)
{
	char *data = NULL, *line, *save = NULL;
	json_t *j = NULL;
	size_t len;
	int r, lineno = 0;

	r = fs_read_file(path, 4 * 1024 * 1024, &data, &len);
	if (r < 0)
		return cli_fail(c, r, "%s: cannot read '%s': %s", cmd, path, strerror(-r));
	if (len > 0 && data[strspn(data, " \t\r\n")] == '{') {
		r = json_parse_bounded(data, len, &j, NULL, 0);
		if (r < 0 || !json_is_object(j)) {
			r = cli_usage_error(c, "%s: '%s' is not a JSON object", cmd, path);
			goto out;
		}
		r = json_object_update(into, j) < 0 ? -ENOMEM : 0;
		goto out;
	}
	for (line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *key, *value;

		lineno++;
		r = cfg_split_line(line, 0, &key, &value);
		if (r == 0)
			continue;
		if (r < 0) {
			r = cli_usage_error(c, "%s: %s:%d: expected KEY = VALUE", cmd, path, lineno);
			goto out;
		}
		if (json_object_set_new(into, key, json_string(value)) < 0) {
			r = cli_usage_error(c, "%s: %s:%d: bad key or value", cmd, path, lineno);
			goto out;
		}
	}
	r = 0;
out:
	json_decref(j);
	free(data);
	return r;
}

static int map_set(struct cli *c, const char *cmd, const char *resource, int argc, char **argv)
{
	char usage[1024], env[65], stage[65], **args;
	struct env_opts o;
	json_t *m = NULL, *key;
	size_t i;
	int nargs, r;

	snprintf(usage, sizeof(usage),
		 "usage: slipway %s ENV/STAGE [KEY=VALUE]... [--unset KEY]... [--file FILE] [--replace]\n"
		 "\n"
		 "Change the stage's %s. Without --replace the given keys are merged into the stored ones;\n"
		 "with --replace they become the whole set. --file reads a JSON object or KEY = VALUE lines.\n",
		 cmd, resource);
	r = env_parse(c, cmd, usage, EO_MAP, argc, argv, &o, &args, &nargs);
	if (r != 0)
		goto out;
	r = need_env_stage(c, cmd, args, nargs, -1, env, stage);
	if (r < 0)
		goto out;
	if (o.replace)
		m = json_object();
	else
		r = http_requestf(c, "GET", NULL, NULL, &m, "/v1/envs/%s/%s/%s", env, stage, resource);
	if (r < 0)
		goto out;
	if (!json_is_object(m)) {
		json_decref(m);
		m = json_object();
		if (!m) {
			r = -ENOMEM;
			goto out;
		}
	}
	if (o.file) {
		r = cli_load_object_file(c, cmd, o.file, m);
		if (r < 0)
			goto out;
	}
	for (int k = 1; k < nargs; k++) {
		char *name = NULL;
		json_t *v = NULL;

		if (cli_parse_assignment(args[k], false, &name, &v) < 0) {
			r = cli_usage_error(c, "%s: '%s' is not KEY=VALUE", cmd, args[k]);
			goto out;
		}
		r = json_object_set_new(m, name, v);
		free(name);
		if (r < 0) {
			r = -ENOMEM;
			goto out;
		}
	}
	json_array_foreach(o.unset, i, key)(void) json_object_del(m, json_string_value(key));
	r = http_requestf(c, "PUT", NULL, m, NULL, "/v1/envs/%s/%s/%s", env, stage, resource);
	if (r == 0 && !c->json)
		fprintf(c->out, "%s/%s %s: %zu keys\n", env, stage, resource, json_object_size(m));
out:
	json_decref(m);
	env_opts_release(&o);
	return r > 0 ? 0 : r;
}

static int scripts_get(struct cli *c, int argc, char **argv)
{
	return map_get(c, "env scripts get", "script_configs", argc, argv);
}

static int scripts_set(struct cli *c, int argc, char **argv)
{
	return map_set(c, "env scripts set", "script_configs", argc, argv);
}

static int agent_config_get(struct cli *c, int argc, char **argv)
{
	return map_get(c, "env agent-config get", "agent_configs", argc, argv);
}

static int agent_config_set(struct cli *c, int argc, char **argv)
{
	return map_set(c, "env agent-config set", "agent_configs", argc, argv);
}

static const struct cmd scripts_commands[] = {
    {"get", scripts_get, "print the script variables"},
    {"set", scripts_set, "change the script variables"},
};

static const struct cmd agent_config_commands[] = {
    {"get", agent_config_get, "print the agent configs"},
    {"set", agent_config_set, "change the agent configs"},
};

static int env_scripts(struct cli *c, int argc, char **argv)
{
	return cmd_dispatch(c, "env scripts", scripts_commands, ELEMENTSOF(scripts_commands), argc, argv);
}

static int env_agent_config(struct cli *c, int argc, char **argv)
{
	return cmd_dispatch(c, "env agent-config", agent_config_commands, ELEMENTSOF(agent_config_commands), argc,
			    argv);
}

/* ---- capacity ---- */

static const char capacity_list_usage[] =
    "usage: slipway env capacity list ENV/STAGE [--host | --group] [--json]\n"
    "\n"
    "Print the stage's capacity: host names and group names (both unless one is chosen).\n"
    "--json prints {\"hosts\": [...], \"groups\": [...]}.\n";
static const char capacity_change_usage[] =
    "usage: slipway env capacity (add | remove) ENV/STAGE (--host | --group) NAME...\n"
    "\n"
    "Add hosts or groups to a stage's capacity, or remove them (both idempotent).\n";

static int capacity_get(struct cli *c, const char *env, const char *stage, const char *type, json_t **ret)
{
	struct url_query q = {};
	json_t *a = NULL;
	int r;

	(void)url_query_add(&q, "capacityType", type);
	r = http_requestf(c, "GET", &q, NULL, &a, "/v1/envs/%s/%s/capacity", env, stage);
	if (r < 0)
		return r;
	if (!json_is_array(a)) {
		json_decref(a);
		return cli_fail(c, -EBADMSG, "the server's capacity list is not an array");
	}
	*ret = a;
	return 0;
}

static int capacity_list(struct cli *c, int argc, char **argv)
{
	struct env_opts o;
	char env[65], stage[65], **args;
	json_t *hosts = NULL, *groups = NULL, *all = NULL, *v;
	int nargs, r;
	size_t i;

	r = env_parse(c, "env capacity list", capacity_list_usage, EO_CAPACITY, argc, argv, &o, &args, &nargs);
	if (r != 0)
		goto out;
	r = need_env_stage(c, "env capacity list", args, nargs, 0, env, stage);
	if (r < 0)
		goto out;
	if (!o.group)
		r = capacity_get(c, env, stage, "HOST", &hosts);
	if (r == 0 && !o.host)
		r = capacity_get(c, env, stage, "GROUP", &groups);
	if (r < 0)
		goto out;
	if (c->json) {
		all = json_pack("{s:O?, s:O?}", "hosts", hosts, "groups", groups);
		r = all ? cli_print_json(c, all) : -ENOMEM;
		goto out;
	}
	json_array_foreach(hosts, i, v) fprintf(c->out, "host  %s\n", json_is_string(v) ? json_string_value(v) : "?");
	json_array_foreach(groups, i, v) fprintf(c->out, "group %s\n", json_is_string(v) ? json_string_value(v) : "?");
out:
	json_decref(all);
	json_decref(hosts);
	json_decref(groups);
	env_opts_release(&o);
	return r > 0 ? 0 : r;
}

static int capacity_change(struct cli *c, int argc, char **argv, bool add)
{
	const char *cmd = add ? "env capacity add" : "env capacity remove";
	struct env_opts o;
	struct url_query q = {};
	char env[65], stage[65], **args;
	int nargs, r;

	r = env_parse(c, cmd, capacity_change_usage, EO_CAPACITY, argc, argv, &o, &args, &nargs);
	if (r != 0)
		goto out;
	r = need_env_stage(c, cmd, args, nargs, -1, env, stage);
	if (r < 0)
		goto out;
	if (o.host == o.group) {
		r = cli_usage_error(c, "%s: give exactly one of --host and --group", cmd);
		goto out;
	}
	if (nargs < 2) {
		r = cli_usage_error(c, "%s: give at least one NAME", cmd);
		goto out;
	}
	for (int i = 1; i < nargs; i++)
		if (o.host ? !host_name_is_valid(args[i]) : !group_name_is_valid(args[i])) {
			r = cli_usage_error(c, "%s: '%s' is not a valid %s name", cmd, args[i],
					    o.host ? "host" : "group");
			goto out;
		}
	(void)url_query_add(&q, "capacityType", o.host ? "HOST" : "GROUP");
	for (int i = 1; i < nargs; i++) {
		json_t *name = json_string(args[i]);

		if (!name) {
			r = -ENOMEM;
			goto out;
		}
		r = http_requestf(c, add ? "POST" : "DELETE", &q, name, NULL, "/v1/envs/%s/%s/capacity", env, stage);
		json_decref(name);
		if (r < 0)
			goto out;
		if (!c->json)
			fprintf(c->out, "%s %s %s %s %s/%s\n", add ? "added" : "removed", o.host ? "host" : "group",
				args[i], add ? "to" : "from", env, stage);
	}
	r = 0;
out:
	env_opts_release(&o);
	return r > 0 ? 0 : r;
}

static int capacity_add(struct cli *c, int argc, char **argv)
{
	return capacity_change(c, argc, argv, true);
}

static int capacity_remove(struct cli *c, int argc, char **argv)
{
	return capacity_change(c, argc, argv, false);
}

static const struct cmd capacity_commands[] = {
    {"add", capacity_add, "add hosts or groups"},
    {"remove", capacity_remove, "remove hosts or groups"},
    {"list", capacity_list, "list hosts and groups"},
};

static int env_capacity(struct cli *c, int argc, char **argv)
{
	return cmd_dispatch(c, "env capacity", capacity_commands, ELEMENTSOF(capacity_commands), argc, argv);
}

const struct cmd env_commands[] = {
    {"create", env_create, "create an env stage"},
    {"list", env_list, "list env stages"},
    {"show", env_show, "show an env stage"},
    {"delete", env_delete, "delete an env stage"},
    {"config", env_config, "print the stage's settings, or change them with --set KEY=VALUE"},
    {"capacity", env_capacity, "add, remove or list the stage's hosts and groups"},
    {"scripts", env_scripts, "get or set the script variables (script_configs)"},
    {"agent-config", env_agent_config, "get or set the agent configs (agent_configs)"},
    {"enable", env_enable, "enable a stage (it may be promoted to)"},
    {"disable", env_disable, "disable a stage (no promotes to it)"},
    {"history", env_history, "the stage's config history (--diff)"},
    {"constraint", env_constraint, "show, set or delete the stage's deploy constraint (zone-aware rollouts)"},
    {"clone", env_clone, "create a stage configured like another (never deploys)"},
};

const size_t env_n_commands = ELEMENTSOF(env_commands);

const struct cmd_group env_subgroups[] = {
    {"config", env_config_commands, ELEMENTSOF(env_config_commands)},
    {"capacity", capacity_commands, ELEMENTSOF(capacity_commands)},
    {"scripts", scripts_commands, ELEMENTSOF(scripts_commands)},
    {"agent-config", agent_config_commands, ELEMENTSOF(agent_config_commands)},
};
const size_t env_n_subgroups = ELEMENTSOF(env_subgroups);

int cmd_env(struct cli *c, int argc, char **argv)
{
	return cmd_dispatch(c, "env", env_commands, env_n_commands, argc, argv);
}
