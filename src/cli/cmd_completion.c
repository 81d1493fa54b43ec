/* SPDX-License-Identifier: Apache-2.0 */
/* cli/cmd_completion.c: `slipway completion bash|zsh|fish`: a completion script for commands and
 * their sub-commands, generated from the same tables the dispatcher uses (so it cannot go stale). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "util.h"
#include "banned.h"

static const struct cmd shells[] = {
    {"bash", NULL, "bash: source it, or put it in bash-completion's completions directory"},
    {"zsh", NULL, "zsh: source it after compinit"},
    {"fish", NULL, "fish: save it as ~/.config/fish/completions/slipway.fish"},
};

static const struct {
	const char *name;
	const struct cmd *table;
	const size_t *n;
} groups[] = {
    {"build", build_commands, &build_n_commands},    {"env", env_commands, &env_n_commands},
    {"config", config_commands, &config_n_commands}, {"host", host_commands, &host_n_commands},
    {"token", token_commands, &token_n_commands},    {"role", role_commands, &role_n_commands},
};

static const char global_options[] = "--help --json --server --token --config --ca-file --insecure";

/* s in single quotes for bash and zsh ('\'' for a quote) or fish (\' and \\). */
static void put_quoted(FILE *f, const char *s, bool fish)
{
	fputc('\'', f);
	for (; *s; s++) {
		if (*s == '\'')
			fputs(fish ? "\\'" : "'\\''", f);
		else if (fish && *s == '\\')
			fputs("\\\\", f);
		else
			fputc(*s, f);
	}
	fputc('\'', f);
}

static void put_names(FILE *f, const struct cmd *t, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s%s", i ? " " : "", t[i].name);
}

/* One case arm: the sub-commands t[0..n) after the words of key ("build", "role user"). */
typedef void (*arm_fn)(FILE *f, const char *key, const struct cmd *t, size_t n);

static const struct {
	const char *name;
	const struct cmd_group *subs;
	const size_t *n;
} nested[] = {{"env", env_subgroups, &env_n_subgroups}, {"role", role_subgroups, &role_n_subgroups}};

/* Every arm of a level: 2 (the groups' sub-commands) or 3 (the sub-commands' own sub-commands). */
static void each_arm(FILE *f, int level, arm_fn arm)
{
	char key[128];

	if (level == 3) {
		for (size_t g = 0; g < ELEMENTSOF(nested); g++)
			for (size_t i = 0; i < *nested[g].n; i++) {
				(void)str_printf(key, sizeof(key), "%s %s", nested[g].name, nested[g].subs[i].name);
				arm(f, key, nested[g].subs[i].table, nested[g].subs[i].n);
			}
		return;
	}
	for (size_t g = 0; g < ELEMENTSOF(groups); g++)
		arm(f, groups[g].name, groups[g].table, *groups[g].n);
	arm(f, "completion", shells, ELEMENTSOF(shells));
}

static void bash_arm(FILE *f, const char *key, const struct cmd *t, size_t n)
{
	fprintf(f, "        \"%s\") words=\"", key);
	put_names(f, t, n);
	fprintf(f, "\" ;;\n");
}

static void print_bash(FILE *f)
{
	fprintf(f, "# bash completion for slipway (slipway completion bash)\n"
		   "_slipway() {\n"
		   "    local cur=${COMP_WORDS[COMP_CWORD]} words=\"\"\n"
		   "    if [[ $cur == -* ]]; then\n"
		   "        words=\"%s\"\n"
		   "    elif (( COMP_CWORD == 1 )); then\n"
		   "        words=\"",
		global_options);
	put_names(f, cli_commands, cli_n_commands);
	fprintf(f, "\"\n    elif (( COMP_CWORD == 2 )); then\n        case ${COMP_WORDS[1]} in\n");
	each_arm(f, 2, bash_arm);
	fprintf(f, "        esac\n    elif (( COMP_CWORD == 3 )); then\n"
		   "        case \"${COMP_WORDS[1]} ${COMP_WORDS[2]}\" in\n");
	each_arm(f, 3, bash_arm);
	fprintf(f, "        esac\n    fi\n"
		   "    COMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n"
		   "}\n"
		   "complete -o default -F _slipway slipway\n");
}

static void put_zsh_list(FILE *f, const struct cmd *t, size_t n)
{
	fprintf(f, "cmds=(");
	for (size_t i = 0; i < n; i++) {
		char entry[256];

		(void)str_printf(entry, sizeof(entry), "%s:%s", t[i].name, t[i].summary);
		fprintf(f, "%s", i ? " " : "");
		put_quoted(f, entry, false);
	}
	fprintf(f, ")");
}

static void zsh_arm(FILE *f, const char *key, const struct cmd *t, size_t n)
{
	fprintf(f, "        \"%s\") ", key);
	put_zsh_list(f, t, n);
	fprintf(f, " ;;\n");
}

static void print_zsh(FILE *f)
{
	fprintf(f, "#compdef slipway\n"
		   "# zsh completion for slipway (slipway completion zsh)\n"
		   "_slipway() {\n"
		   "    local -a cmds\n"
		   "    if [[ $words[CURRENT] == -* ]]; then\n"
		   "        cmds=(%s); compadd -a cmds; return\n"
		   "    fi\n"
		   "    case $CURRENT in\n"
		   "    2) ",
		global_options);
	put_zsh_list(f, cli_commands, cli_n_commands);
	fprintf(f, " ;;\n    3) case $words[2] in\n");
	each_arm(f, 2, zsh_arm);
	fprintf(f, "        *) _files; return ;;\n        esac ;;\n    4) case \"$words[2] $words[3]\" in\n");
	each_arm(f, 3, zsh_arm);
	fprintf(f, "        *) _files; return ;;\n        esac ;;\n    *) _files; return ;;\n    esac\n"
		   "    _describe command cmds\n"
		   "}\n"
		   "if [[ $zsh_eval_context[-1] == loadautofunc ]]; then _slipway \"$@\"; else compdef _slipway slipway; fi\n");
}

static void put_fish(FILE *f, const char *cond, const struct cmd *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		fprintf(f, "complete -c slipway -n %s -a %s -d ", cond, t[i].name);
		put_quoted(f, t[i].summary, true);
		fprintf(f, "\n");
	}
}

/* key's words must all be on the line, which has as many words as key plus the program. */
static void fish_arm(FILE *f, const char *key, const struct cmd *t, size_t n)
{
	char cond[256];
	const char *space = strchr(key, ' ');

	if (space)
		(void)str_printf(cond, sizeof(cond),
				 "'__fish_seen_subcommand_from %.*s; and __fish_seen_subcommand_from %s; and test (count "
				 "(commandline -opc)) -eq 3'",
				 (int)(space - key), key, space + 1);
	else
		(void)str_printf(cond, sizeof(cond),
				 "'__fish_seen_subcommand_from %s; and test (count (commandline -opc)) -eq 2'", key);
	put_fish(f, cond, t, n);
}

static void print_fish(FILE *f)
{
	fprintf(f, "# fish completion for slipway (slipway completion fish)\n");
	put_fish(f, "__fish_use_subcommand", cli_commands, cli_n_commands);
	each_arm(f, 2, fish_arm);
	each_arm(f, 3, fish_arm);
	fprintf(f, "complete -c slipway -l help -d 'show the usage'\n"
		   "complete -c slipway -l json -d 'print JSON'\n"
		   "complete -c slipway -l server -r -d 'server base URL'\n"
		   "complete -c slipway -l token -r -d 'API token'\n"
		   "complete -c slipway -l config -r -F -d 'configuration file'\n"
		   "complete -c slipway -l ca-file -r -F -d 'CA bundle'\n"
		   "complete -c slipway -l insecure -d 'do not verify TLS'\n");
}

static const char usage[] = "usage: slipway completion (bash | zsh | fish)\n"
			    "\n"
			    "Print a completion script for the shell's commands and sub-commands:\n"
			    "  bash   source <(slipway completion bash)\n"
			    "  zsh    source <(slipway completion zsh)   (after compinit)\n"
			    "  fish   slipway completion fish > ~/.config/fish/completions/slipway.fish\n";

int cmd_completion(struct cli *c, int argc, char **argv)
{
	static void (*const printers[])(FILE *f) = {print_bash, print_zsh, print_fish};
	char **args;
	int nargs, r;

	r = cli_parse_simple(c, "completion", usage, argc, argv, 1, 1, &args, &nargs);
	if (r != 0)
		return r > 0 ? 0 : r;
	for (size_t i = 0; i < ELEMENTSOF(shells); i++)
		if (streq(args[0], shells[i].name)) {
			printers[i](c->out);
			return 0;
		}
	return cli_usage_error(c, "completion: unknown shell '%s' (bash, zsh or fish)", args[0]);
}
