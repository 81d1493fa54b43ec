/* SPDX-License-Identifier: Apache-2.0 */
/* agent/title.h: a process's own name in ps and top. The download helper is a fork of the agent, so without this
 * it shows the agent's whole command line (config path and all) and the agent's name: the helper and each job
 * set their own name (prctl PR_SET_NAME: /proc/PID/comm, what top and `ps -o comm` show) and overwrite the
 * command-line area they inherited (/proc/PID/cmdline, what `ps -f` shows) with a title. The title is cut to the
 * length of the original command line; nothing beyond it (the environment) is touched. Does not log. */
#ifndef SLIPWAY_AGENT_TITLE_H
#define SLIPWAY_AGENT_TITLE_H

#include <stddef.h>

struct proc_title {
	char *area; /* argv[0] .. the NUL of the last argument, contiguous; NULL: the name only */
	size_t size;
};

/* Remember main's argv area (argc and argv as main got them). */
void proc_title_init(struct proc_title *t, int argc, char **argv);
/* Set this process's name (comm, at most 15 bytes are kept) and, when t holds an area, its title. argv's strings
 * are overwritten: nothing may read them afterwards. */
void proc_title_set(const struct proc_title *t, const char *comm, const char *title);

#endif
