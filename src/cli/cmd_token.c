/* SPDX-License-Identifier: Apache-2.0 */
/* cli/cmd_token.c: `slipway token create|list|set|revoke` (token_roles) and `slipway role user|group
 * set|list|delete` (user_roles, group_roles), at SYSTEM scope or, with --env, at the scope of one env. */
#include <errno.h>
#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "enums.h"
#include "http.h"
#include "jsonutil.h"
#include "names.h"
#include "parse.h"
#include "util.h"
#include "banned.h"

#define DAY_MS (24LL * 3600 * 1000)

enum {
	SO_NAME = 1 << 0,    /* --name N */
	SO_ROLE = 1 << 1,    /* --role R */
	SO_EXPIRES = 1 << 2, /* --expires DAYS */
};

struct sec_opts {
	const char *name, *role, *env, *expires;
	char **args;
	int nargs;
};

/* --env is accepted everywhere; the other options where `allowed` says. 0, 1 (help printed) or an error. */
static int sec_parse(struct cli *c, const char *cmd, const char *usage, unsigned allowed, int argc, char **argv,
		     struct sec_opts *o)
{
	enum { O_NAME = 0x100, O_ROLE, O_ENV, O_EXPIRES };
	static const struct option opts[] = {
	    {"name", required_argument, NULL, O_NAME},	     {"role", required_argument, NULL, O_ROLE},
	    {"env", required_argument, NULL, O_ENV},	     {"expires", required_argument, NULL, O_EXPIRES},
	    CLI_COMMON_LONGOPTS,
	};
	static const struct {
		int opt;
		unsigned need;
		size_t offset;
	} slots[] = {
	    {O_NAME, SO_NAME, offsetof(struct sec_opts, name)},
	    {O_ROLE, SO_ROLE, offsetof(struct sec_opts, role)},
	    {O_ENV, 0, offsetof(struct sec_opts, env)},
	    {O_EXPIRES, SO_EXPIRES, offsetof(struct sec_opts, expires)},
	};
	int opt;

	memset(o, 0, sizeof(*o));
	cli_getopt_reset();
	while ((opt = cli_next_option(c, argc, argv, opts)) > 0) {
		size_t k;

		for (k = 0; k < ELEMENTSOF(slots) && slots[k].opt != opt; k++)
			;
		if (k == ELEMENTSOF(slots))
			return cli_bad_option(c, cmd, argc, argv);
		if (slots[k].need && !(allowed & slots[k].need))
			return cli_usage_error(c, "%s: option '%s' does not apply here", cmd, argv[optind - 1]);
		*(const char **)((char *)o + slots[k].offset) = optarg;
	}
	if (opt < 0)
		return opt;
	if (c->help) {
		fprintf(c->out, "%s", usage);
		return 1;
	}
	if (o->env && !env_name_is_valid(o->env))
		return cli_usage_error(c, "%s: '%s' is not an env name (letters, digits, '_', '-'; ≤ 64)", cmd, o->env);
	if (o->role && role_from_string_alias(o->role) < 0)
		return cli_usage_error(c, "%s: unknown role '%s' (READER, PINGER, PUBLISHER, OPERATOR, ADMIN)", cmd,
				       o->role);
	o->args = argv + optind;
	o->nargs = argc - optind;
	return 0;
}

/* One call on /v1/system/<resource>[/<name>] or /v1/envs/<env>/<resource>[/<name>]. */
static int sec_request(struct cli *c, const char *method, const struct sec_opts *o, const char *resource,
		       const char *name, const json_t *body, json_t **ret)
{
	if (o->env && name)
		return http_requestf(c, method, NULL, body, ret, "/v1/envs/%s/%s/%s", o->env, resource, name);
	if (o->env)
		return http_requestf(c, method, NULL, body, ret, "/v1/envs/%s/%s", o->env, resource);
	if (name)
		return http_requestf(c, method, NULL, body, ret, "/v1/system/%s/%s", resource, name);
	return http_requestf(c, method, NULL, body, ret, "/v1/system/%s", resource);
}

static const char *scope_text(const struct sec_opts *o)
{
	return o->env ? o->env : "SYSTEM";
}

/* --expires DAYS (1..36500, or 0 / "never") into body.expireDate. */
static int set_expires(struct cli *c, const char *cmd, const char *days, json_t *body)
{
	int64_t n;

	if (!days)
		return 0;
	if (streq(days, "never"))
		n = 0;
	else if (parse_i64(days, 0, 36500, &n) < 0)
		return cli_usage_error(c, "%s: --expires wants a number of days (0..36500) or 'never', not '%s'", cmd,
				       days);
	return json_object_set_new(body, "expireDate", json_integer(n == 0 ? 0 : now_ms() + n * DAY_MS)) < 0
		   ? -ENOMEM
		   : 0;
}

/* ---- tokens ---- */

static const char token_create_usage[] =
    "usage: slipway token create --name NAME --role ROLE [--env ENV] [--expires DAYS] [--json]\n"
    "\n"
    "Create an API token and print it, once, alone on the last line (the server keeps only a hash).\n"
    "  --name NAME     unique within its scope: ^[A-Za-z0-9._@-]{1,64}$\n"
    "  --role ROLE     READER, PINGER, PUBLISHER, OPERATOR or ADMIN\n"
    "  --env ENV       a token valid for that env only (default: SYSTEM scope)\n"
    "  --expires DAYS  lifetime in days, 0 or 'never' for no expiry (default: the server's 180 days)\n"
    "With --json the server's answer, which holds the token, is printed instead.\n";

static int token_create(struct cli *c, int argc, char **argv)
{
	struct sec_opts o;
	json_t *body = NULL, *out = NULL;
	const char *secret = NULL;
	char when[64];
	int r;

	r = sec_parse(c, "token create", token_create_usage, SO_NAME | SO_ROLE | SO_EXPIRES, argc, argv, &o);
	if (r != 0)
		return r > 0 ? 0 : r;
	if (o.nargs > 0)
		return cli_usage_error(c, "token create: unexpected argument '%s'", o.args[0]);
	if (!o.name || !o.role)
		return cli_usage_error(c, "token create: --name and --role are required");
	body = json_pack("{s:s, s:s}", "name", o.name, "role", o.role);
	if (!body)
		return cli_usage_error(c, "token create: arguments must be valid UTF-8");
	r = set_expires(c, "token create", o.expires, body);
	if (r == 0)
		r = sec_request(c, "POST", &o, "token_roles", NULL, body, &out);
	if (r < 0)
		goto out;
	if (c->json) {
		r = cli_print_json(c, out);
		goto out;
	}
	if (json_get_string(out, "token", 256, &secret) < 0) {
		r = cli_fail(c, -EBADMSG, "the server's answer holds no token");
		goto out;
	}
	fprintf(c->out, "token %s (%s, %s scope) expires %s\n%s\n", o.name,
		cli_json_text(json_object_get(out, "role"), when, sizeof(when)), scope_text(&o),
		json_is_integer(json_object_get(out, "expireDate"))
		    ? cli_json_time(json_object_get(out, "expireDate"), when, sizeof(when))
		    : "never",
		secret);
out:
	json_decref(body);
	json_decref(out);
	return r;
}

static const char token_list_usage[] = "usage: slipway token list [--env ENV] [--json]\n"
				       "\n"
				       "List the SYSTEM tokens, or those of ENV (never their secrets).\n";

/* Print a list of tokens or bindings: NAME ROLE SCOPE [EXPIRES]. */
static int print_principals(struct cli *c, const json_t *list, bool expires)
{
	const json_t *e;
	size_t i;

	if (!json_is_array(list))
		return cli_fail(c, -EBADMSG, "the server's list is not an array");
	if (c->json)
		return cli_print_json(c, list);
	fprintf(c->out, "%-32s %-10s %-24s%s\n", "NAME", "ROLE", "SCOPE", expires ? " EXPIRES" : "");
	json_array_foreach(list, i, e)
	{
		char b[4][128];
		const json_t *exp = json_object_get(e, "expireDate");

		fprintf(c->out, "%-32s %-10s %-24s%s%s\n", cli_json_text(json_object_get(e, "name"), b[0], 128),
			cli_json_text(json_object_get(e, "role"), b[1], 128),
			cli_json_text(json_object_get(e, "resource"), b[2], 128), expires ? " " : "",
			!expires ? "" : json_is_integer(exp) ? cli_json_time(exp, b[3], 128) : "never");
	}
	return 0;
}

static int token_list(struct cli *c, int argc, char **argv)
{
	struct sec_opts o;
	json_t *list = NULL;
	int r;

	r = sec_parse(c, "token list", token_list_usage, 0, argc, argv, &o);
	if (r != 0)
		return r > 0 ? 0 : r;
	if (o.nargs > 0)
		return cli_usage_error(c, "token list: unexpected argument '%s'", o.args[0]);
	r = sec_request(c, "GET", &o, "token_roles", NULL, NULL, &list);
	if (r == 0)
		r = print_principals(c, list, true);
	json_decref(list);
	return r;
}

static const char token_set_usage[] =
    "usage: slipway token set NAME [--role ROLE] [--expires DAYS] [--env ENV]\n"
    "\n"
    "Change a token's role and/or lifetime (days from now; 0 or 'never': no expiry).\n";

static int token_set(struct cli *c, int argc, char **argv)
{
	struct sec_opts o;
	json_t *body = NULL;
	int r;

	r = sec_parse(c, "token set", token_set_usage, SO_ROLE | SO_EXPIRES, argc, argv, &o);
	if (r != 0)
		return r > 0 ? 0 : r;
	if (o.nargs != 1)
		return cli_usage_error(c, "token set: give one token NAME (see 'slipway token set --help')");
	if (!o.role && !o.expires)
		return cli_usage_error(c, "token set: give --role and/or --expires");
	body = o.role ? json_pack("{s:s}", "role", o.role) : json_object();
	if (!body)
		return -ENOMEM;
	r = set_expires(c, "token set", o.expires, body);
	if (r == 0)
		r = sec_request(c, "PUT", &o, "token_roles", o.args[0], body, NULL);
	if (r == 0)
		fprintf(c->out, "token %s (%s scope) updated\n", o.args[0], scope_text(&o));
	json_decref(body);
	return r;
}

static const char token_revoke_usage[] = "usage: slipway token revoke NAME [--env ENV]\n"
					 "\n"
					 "Revoke a token at once: its next request is refused (401).\n";

static int token_revoke(struct cli *c, int argc, char **argv)
{
	struct sec_opts o;
	int r;

	r = sec_parse(c, "token revoke", token_revoke_usage, 0, argc, argv, &o);
	if (r != 0)
		return r > 0 ? 0 : r;
	if (o.nargs != 1)
		return cli_usage_error(c, "token revoke: give one token NAME (see 'slipway token revoke --help')");
	r = sec_request(c, "DELETE", &o, "token_roles", o.args[0], NULL, NULL);
	if (r == 0)
		fprintf(c->out, "token %s (%s scope) revoked\n", o.args[0], scope_text(&o));
	return r;
}

const struct cmd token_commands[] = {
    {"create", token_create, "create a token (printed once)"},
    {"list", token_list, "list tokens"},
    {"set", token_set, "change a token's role or lifetime"},
    {"revoke", token_revoke, "revoke a token"},
};
const size_t token_n_commands = ELEMENTSOF(token_commands);

int cmd_token(struct cli *c, int argc, char **argv)
{
	return cmd_dispatch(c, "token", token_commands, token_n_commands, argc, argv);
}

/* ---- user and group role bindings ---- */

static int binding_set(struct cli *c, const char *kind, int argc, char **argv)
{
	char cmd[32], usage[512], resource[16];
	struct sec_opts o;
	json_t *body = NULL;
	int r;

	(void)str_printf(cmd, sizeof(cmd), "role %s set", kind);
	(void)str_printf(resource, sizeof(resource), "%s_roles", kind);
	(void)str_printf(usage, sizeof(usage),
			 "usage: slipway role %s set NAME --role ROLE [--env ENV]\n"
			 "\n"
			 "Give the %s NAME (as the trusted proxy names it) ROLE at SYSTEM scope, or on ENV;\n"
			 "an existing binding of NAME in that scope is changed.\n",
			 kind, kind);
	r = sec_parse(c, cmd, usage, SO_ROLE, argc, argv, &o);
	if (r != 0)
		return r > 0 ? 0 : r;
	if (o.nargs != 1 || !o.role)
		return cli_usage_error(c, "%s: give one NAME and --role (see 'slipway %s --help')", cmd, cmd);
	body = json_pack("{s:s, s:s}", "name", o.args[0], "role", o.role);
	if (!body)
		return cli_usage_error(c, "%s: NAME must be valid UTF-8", cmd);
	r = sec_request(c, "POST", &o, resource, NULL, body, NULL);
	if (r == -EREMOTEIO && c->http_status == 409) {
		c->http_status = 0;
		c->errmsg[0] = '\0';
		r = sec_request(c, "PUT", &o, resource, o.args[0], body, NULL);
	}
	if (r == 0)
		fprintf(c->out, "%s %s: %s on %s\n", kind, o.args[0], o.role, scope_text(&o));
	json_decref(body);
	return r;
}

static int binding_list(struct cli *c, const char *kind, int argc, char **argv)
{
	char cmd[32], usage[256], resource[16];
	struct sec_opts o;
	json_t *list = NULL;
	int r;

	(void)str_printf(cmd, sizeof(cmd), "role %s list", kind);
	(void)str_printf(resource, sizeof(resource), "%s_roles", kind);
	(void)str_printf(usage, sizeof(usage),
			 "usage: slipway role %s list [--env ENV] [--json]\n\nList the SYSTEM %s role bindings, or "
			 "those on ENV.\n",
			 kind, kind);
	r = sec_parse(c, cmd, usage, 0, argc, argv, &o);
	if (r != 0)
		return r > 0 ? 0 : r;
	if (o.nargs > 0)
		return cli_usage_error(c, "%s: unexpected argument '%s'", cmd, o.args[0]);
	r = sec_request(c, "GET", &o, resource, NULL, NULL, &list);
	if (r == 0)
		r = print_principals(c, list, false);
	json_decref(list);
	return r;
}

static int binding_delete(struct cli *c, const char *kind, int argc, char **argv)
{
	char cmd[32], usage[256], resource[16];
	struct sec_opts o;
	int r;

	(void)str_printf(cmd, sizeof(cmd), "role %s delete", kind);
	(void)str_printf(resource, sizeof(resource), "%s_roles", kind);
	(void)str_printf(usage, sizeof(usage),
			 "usage: slipway role %s delete NAME [--env ENV]\n\nRemove the %s's role binding at SYSTEM "
			 "scope, or on ENV.\n",
			 kind, kind);
	r = sec_parse(c, cmd, usage, 0, argc, argv, &o);
	if (r != 0)
		return r > 0 ? 0 : r;
	if (o.nargs != 1)
		return cli_usage_error(c, "%s: give one NAME (see 'slipway %s --help')", cmd, cmd);
	r = sec_request(c, "DELETE", &o, resource, o.args[0], NULL, NULL);
	if (r == 0)
		fprintf(c->out, "%s %s: binding on %s removed\n", kind, o.args[0], scope_text(&o));
	return r;
}

#define KIND_COMMANDS(kind)                                                                                            \
	static int kind##_set(struct cli *c, int argc, char **argv) { return binding_set(c, #kind, argc, argv); }    \
	static int kind##_list(struct cli *c, int argc, char **argv) { return binding_list(c, #kind, argc, argv); }  \
	static int kind##_delete(struct cli *c, int argc, char **argv)                                                 \
	{                                                                                                              \
		return binding_delete(c, #kind, argc, argv);                                                           \
	}                                                                                                              \
	static const struct cmd kind##_commands[] = {                                                                  \
	    {"set", kind##_set, "give a " #kind " a role (or change it)"},                                             \
	    {"list", kind##_list, "list the " #kind " role bindings"},                                                 \
	    {"delete", kind##_delete, "remove a " #kind "'s role binding"},                                            \
	};                                                                                                             \
	static int role_##kind(struct cli *c, int argc, char **argv)                                                   \
	{                                                                                                              \
		return cmd_dispatch(c, "role " #kind, kind##_commands, ELEMENTSOF(kind##_commands), argc, argv);       \
	}
KIND_COMMANDS(user)
KIND_COMMANDS(group)

const struct cmd role_commands[] = {
    {"user", role_user, "role bindings of users (set, list, delete)"},
    {"group", role_group, "role bindings of groups (set, list, delete)"},
};
const size_t role_n_commands = ELEMENTSOF(role_commands);

const struct cmd_group role_subgroups[] = {
    {"user", user_commands, ELEMENTSOF(user_commands)},
    {"group", group_commands, ELEMENTSOF(group_commands)},
};
const size_t role_n_subgroups = ELEMENTSOF(role_subgroups);

int cmd_role(struct cli *c, int argc, char **argv)
{
	return cmd_dispatch(c, "role", role_commands, role_n_commands, argc, argv);
}
