/* SPDX-License-Identifier: Apache-2.0 */
/* agent/status.c: `slipway-agent --status [--json]` (AGENT.md §15.2): reads state.json read-only, probes the
 * lock, contacts no server. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "state.h"
#include "util.h"
#include "banned.h"

static const char *or_dash(const char *s)
{
	return s && *s ? s : "-";
}

/* BUILD: what TARGET points to, or the in-flight build while a deploy runs */
static const char *shown_build(json_t *e, const char **ret_commit)
{
	json_t *b = json_object_get(e, "build");
	const char *bid = json_is_object(b) ? json_string_value(json_object_get(b, "id")) : NULL;
	const char *stage = entry_str(e, "deployStage");
	const char *tb = entry_str(e, "targetBuildId");
	bool inflight = stage && !streq(stage, "SERVING_BUILD") && !streq(stage, "STOPPING") && !streq(stage, "STOPPED");
	const char *shown = inflight && bid ? bid : (tb ? tb : bid);

	*ret_commit = NULL;
	if (shown && bid && streq(shown, bid)) {
		*ret_commit = json_string_value(json_object_get(b, "commitShort"));
		if (!*ret_commit)
			*ret_commit = json_string_value(json_object_get(b, "commit"));
	}
	return shown;
}

int agent_print_status(const struct agent_config *cfg, bool json)
{
	struct state_file st = { 0 };
	long pid = 0;
	int running, r;
	const char *k;
	json_t *e;

	running = agent_lock_probe(cfg->state_dir, &pid);
	if (running < 0)
		running = 0;
	r = state_load_readonly(cfg->state_dir, &st);
	if (r < 0) {
		fprintf(stderr, "cannot read state file '%s/%s': %s\n", cfg->state_dir, STATE_FILE,
			r == -EBADMSG ? "invalid JSON" : strerror(-r));
		return 1;
	}
	if (json) {
		json_t *out = json_object(), *envs = json_array();
		char *s;
		json_object_set_new(out, "running", json_boolean(running > 0));
		json_object_set_new(out, "pid", running > 0 && pid > 0 ? json_integer(pid) : json_null());
		json_object_set(out, "hostId", json_object_get(st.root, "hostId") ?: json_null());
		json_object_set(out, "hostName", json_object_get(st.root, "hostName") ?: json_null());
		json_object_foreach(state_envs(&st), k, e) {
			const char *commit, *build = shown_build(e, &commit);
			json_t *o = json_object();
			json_object_set_new(o, "envName", json_string(k));
			json_object_set(o, "stageName", json_object_get(e, "stageName") ?: json_null());
			json_object_set(o, "envId", json_object_get(e, "envId") ?: json_null());
			json_object_set(o, "deployId", json_object_get(e, "deployId") ?: json_null());
			json_object_set(o, "deployStage", json_object_get(e, "deployStage") ?: json_null());
			json_object_set(o, "status", json_object_get(e, "status") ?: json_null());
			json_object_set_new(o, "errorCode", json_integer(entry_int(e, "errorCode")));
			json_object_set_new(o, "failCount", json_integer(entry_int(e, "failCount")));
			json_object_set_new(o, "buildId", build ? json_string(build) : json_null());
			json_object_set_new(o, "commit", commit ? json_string(commit) : json_null());
			json_object_set(o, "target", json_object_get(e, "target") ?: json_null());
			json_object_set(o, "targetBuildId", json_object_get(e, "targetBuildId") ?: json_null());
			json_object_set(o, "lastChange", json_object_get(e, "lastChange") ?: json_null());
			json_array_append_new(envs, o);
		}
		json_object_set_new(out, "envs", envs);
		s = json_dumps(out, JSON_INDENT(2));
		if (s)
			printf("%s\n", s);
		free(s);
		json_decref(out);
	} else {
		char state_line[64];
		if (running > 0 && pid > 0)
			snprintf(state_line, sizeof(state_line), "running (pid %ld)", pid);
		else
			snprintf(state_line, sizeof(state_line), "%s", running > 0 ? "running" : "not running");
		printf("agent: %s   host: %s (%s)   state: %s/%s\n", state_line,
		       or_dash(json_string_value(json_object_get(st.root, "hostId"))),
		       or_dash(json_string_value(json_object_get(st.root, "hostName"))), cfg->state_dir, STATE_FILE);
		printf("%-16s %-12s %-14s %-16s %-5s %-31s %-8s %s\n", "ENV", "STAGE", "DEPLOY_STAGE", "STATUS", "FAILS",
		       "BUILD", "COMMIT", "UPDATED");
		json_object_foreach(state_envs(&st), k, e) {
			const char *commit, *build = shown_build(e, &commit);
			char ts[40] = "-", c7[8] = "-";
			if (entry_int(e, "lastChange") > 0)
				fmt_rfc3339(entry_int(e, "lastChange"), ts, sizeof(ts));
			if (commit)
				snprintf(c7, sizeof(c7), "%s", commit);
			printf("%-16s %-12s %-14s %-16s %-5lld %-31s %-8s %s\n", k, or_dash(entry_str(e, "stageName")),
			       or_dash(entry_str(e, "deployStage")), or_dash(entry_str(e, "status")),
			       (long long)entry_int(e, "failCount"), or_dash(build), c7, ts);
		}
	}
	state_release(&st);
	return 0;
}
