/* SPDX-License-Identifier: Apache-2.0 */
/* cli/failures.h: naming the hosts that fail a deploy: the step each failed at, its status and exit code, and the
 * last lines of its script output (the stage's AgentError of the host). Shared by --wait, `status` and `hosts`. */
#ifndef SLIPWAY_CLI_FAILURES_H
#define SLIPWAY_CLI_FAILURES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include "cli.h"

#define FAILURES_TAIL_LINES 5 /* lines of script output shown per failing host */
#define FAILURES_MAX_HOSTS 10 /* hosts named in full; the others are counted */

/* Whether an Agent (JSON) failed its deploy: parked by the server (PAUSED_BY_SYSTEM) or a status other than
 * SUCCEEDED and UNKNOWN. deploy_id: only agents on that deploy (NULL: any). */
bool failures_agent_failed(const json_t *agent, const char *deploy_id);

/* The start of the last n lines of text (a trailing newline does not count as a line). */
const char *failures_tail(const char *text, int n);

/* One failing host as text: "HOST: STEP failed (STATUS, exit CODE)". */
void failures_format_host(const json_t *agent, char *buf, size_t size);

/* Print every failing agent of `agents` (on deploy_id, or any when NULL) to f: its line, then the last lines of
 * its error from GET /v1/envs/{env}/{stage}/agents/errors/{hostName}, control characters shown as '?'. Prints
 * nothing when no agent failed. `known`: how many hosts fail in all when agents is one page of them (0: as many as
 * the list has). Returns the number of failing agents of the list (errors reading an AgentError are not fatal:
 * the host is named without its output). */
size_t failures_print(struct cli *c, FILE *f, const char *env, const char *stage, const json_t *agents,
		      const char *deploy_id, size_t known);

#endif
