/* SPDX-License-Identifier: Apache-2.0 */
/* cli/failures.c: the failing hosts of a deploy, with their step, exit code and output tail (failures.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "enums.h"
#include "failures.h"
#include "http.h"
#include "jsonutil.h"
#include "util.h"
#include "banned.h"

static const char *str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

bool failures_agent_failed(const json_t *agent, const char *deploy_id)
{
	int status = agent_status_from_string(str(agent, "status"));

	if (deploy_id && !streq_ptr(str(agent, "deployId"), deploy_id))
		return false;
	if (agent_state_from_string(str(agent, "state")) == AGENT_STATE_PAUSED_BY_SYSTEM)
		return true;
	return status >= 0 && status != AGENT_STATUS_SUCCEEDED && status != AGENT_STATUS_UNKNOWN;
}

const char *failures_tail(const char *text, int n)
{
	size_t len = strlen(text);
	int lines = 0;

	while (len > 0 && text[len - 1] == '\n')
		len--;
	for (size_t i = len; i > 0; i--) {
		if (text[i - 1] == '\n' && ++lines == n)
			return text + i;
	}
	return text;
}

void failures_format_host(const json_t *agent, char *buf, size_t size)
{
	const char *host = str(agent, "hostName") ? str(agent, "hostName") : str(agent, "hostId");
	json_t *code = json_object_get(agent, "lastErrno");

	(void)snprintf(buf, size, "%s: %s failed (%s, exit %lld)", host ? host : "?",
		       str(agent, "deployStage") ? str(agent, "deployStage") : "?",
		       str(agent, "status") ? str(agent, "status") : "?",
		       (long long)(json_is_integer(code) ? json_integer_value(code) : 0));
}

/* The tail of the host's AgentError, each line indented; control characters (escape sequences of the script's
 * output, say) are shown as '?'. */
static void print_tail(FILE *f, const char *message)
{
	const char *p = failures_tail(message, FAILURES_TAIL_LINES);
	size_t len = strlen(p);
	bool line_start = true;

	while (len > 0 && p[len - 1] == '\n')
		len--;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)p[i];

		if (line_start)
			fputs("      | ", f);
		line_start = ch == '\n';
		fputc(ch == '\n' || ch == '\t' || (ch >= 0x20 && ch != 0x7f) ? ch : '?', f);
	}
	if (len > 0)
		fputc('\n', f);
}

size_t failures_print(struct cli *c, FILE *f, const char *env, const char *stage, const json_t *agents,
		      const char *deploy_id, size_t known)
{
	const json_t *a;
	size_t i, n = 0;

	json_array_foreach(agents, i, a)
	{
		json_t *err = NULL;
		char line[512];
		const char *host = str(a, "hostName");

		if (!failures_agent_failed(a, deploy_id))
			continue;
		if (n++ == 0)
			fprintf(f, "failing hosts:\n");
		if (n > FAILURES_MAX_HOSTS)
			continue;
		failures_format_host(a, line, sizeof(line));
		fprintf(f, "  %s\n", line);
		if (host && http_requestf(c, "GET", NULL, NULL, &err, "/v1/envs/%s/%s/agents/errors/%s", env, stage,
					  host) == 0 &&
		    str(err, "errorMessage"))
			print_tail(f, str(err, "errorMessage"));
		/* a host without a stored error is named alone; the failed lookup is not the command's error */
		c->http_status = 0;
		c->errmsg[0] = 0;
		json_decref(err);
	}
	if (n > 0 && known > n)
		n = known; /* a page of them */
	if (n > FAILURES_MAX_HOSTS)
		fprintf(f, "  ... and %zu more (slipway hosts %s/%s)\n", n - FAILURES_MAX_HOSTS, env, stage);
	return n;
}
