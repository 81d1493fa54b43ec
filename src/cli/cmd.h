/* SPDX-License-Identifier: Apache-2.0 */
/* cli/cmd.h: the command table of `slipway` (git-style: one cmd_<name>.c per top-level command)
 * and the shared sub-command dispatcher. Every command takes the shared handle and its own argv
 * (argv[0] = the command name) and returns 0, a negative errno or a positive CLI_RESULT_*. */
#ifndef SLIPWAY_CLI_CMD_H
#define SLIPWAY_CLI_CMD_H

#include <stddef.h>

#include "cli.h"

typedef int (*cmd_fn)(struct cli *c, int argc, char **argv);

struct cmd {
	const char *name;
	cmd_fn fn;
	const char *summary; /* one line for `slipway --help` */
};

extern const struct cmd cli_commands[];
extern const size_t cli_n_commands;

/* The entry named name, or NULL. */
const struct cmd *cmd_find(const struct cmd *table, size_t n, const char *name);
/* Run the sub-command argv[1] of `slipway <group>` from table (argv[0] = group). Prints the list
 * of sub-commands for `--help`/`help`/no argument; an unknown name is a usage error. */
int cmd_dispatch(struct cli *c, const char *group, const struct cmd *table, size_t n, int argc, char **argv);

int cmd_build(struct cli *c, int argc, char **argv);
int cmd_env(struct cli *c, int argc, char **argv);
int cmd_deploy(struct cli *c, int argc, char **argv);
int cmd_deploy_list(struct cli *c, int argc, char **argv);
int cmd_promote(struct cli *c, int argc, char **argv);
int cmd_rollback(struct cli *c, int argc, char **argv);
int cmd_restart(struct cli *c, int argc, char **argv);
int cmd_pause(struct cli *c, int argc, char **argv);
int cmd_resume(struct cli *c, int argc, char **argv);
int cmd_status(struct cli *c, int argc, char **argv);
int cmd_hosts(struct cli *c, int argc, char **argv);
int cmd_agents(struct cli *c, int argc, char **argv);
int cmd_token(struct cli *c, int argc, char **argv);
int cmd_role(struct cli *c, int argc, char **argv);
int cmd_host(struct cli *c, int argc, char **argv);
/* `host search TEXT` (cmd_host_search.c). */
int host_search(struct cli *c, int argc, char **argv);
int cmd_config(struct cli *c, int argc, char **argv);
int cmd_completion(struct cli *c, int argc, char **argv);

/* "KEY=VALUE" → a malloc'd key and a JSON value: VALUE as JSON when it parses and json_values is set,
 * else a string. -EINVAL (no '=', empty key, not UTF-8) or -ENOMEM. (cmd_env.c) */
int cli_parse_assignment(const char *s, bool json_values, char **ret_key, json_t **ret_value);
/* Merge a file holding a JSON object, or KEY = VALUE lines (# comments), into `into`. (cmd_env.c) */
int cli_load_object_file(struct cli *c, const char *cmd, const char *path, json_t *into);

/* `env enable|disable|history|clone` (cmd_env_ops.c), in the `env` table of cmd_env.c. */
int env_enable(struct cli *c, int argc, char **argv);
int env_disable(struct cli *c, int argc, char **argv);
int env_history(struct cli *c, int argc, char **argv);
/* `env constraint` (cmd_constraint.c): the stage's deploy constraint. */
int env_constraint(struct cli *c, int argc, char **argv);
int env_clone(struct cli *c, int argc, char **argv);

/* A named sub-command table below a group ("env config", "role user"), for `slipway completion`. */
struct cmd_group {
	const char *name;
	const struct cmd *table;
	size_t n;
};
extern const struct cmd_group env_subgroups[], role_subgroups[];
extern const size_t env_n_subgroups, role_n_subgroups;

/* Sub-command tables of the groups (also read by `slipway completion`). */
extern const struct cmd build_commands[], env_commands[], token_commands[], role_commands[], host_commands[],
    config_commands[];
extern const size_t build_n_commands, env_n_commands, token_n_commands, role_n_commands, host_n_commands,
    config_n_commands;

/* `slipway --help` text (commands, global options, environment, exit codes) to f. */
void cmd_print_main_help(FILE *f);

#endif
