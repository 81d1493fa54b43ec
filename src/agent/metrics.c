/* SPDX-License-Identifier: Apache-2.0 */
/* agent/metrics.c: Prometheus text format for node_exporter's textfile collector. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "fs.h"
#include "log.h"
#include "metrics.h"
#include "util.h"
#include "banned.h"

void metrics_init(struct agent_metrics *m)
{
	memset(m, 0, sizeof(*m));
	m->durations = json_object();
	m->results = json_object();
}

void metrics_release(struct agent_metrics *m)
{
	json_decref(m->durations);
	json_decref(m->results);
	m->durations = m->results = NULL;
}

void metrics_step_duration(struct agent_metrics *m, const char *env, const char *step, int64_t ms)
{
	json_t *e;

	if (!m->durations || !env || !step)
		return;
	e = json_object_get(m->durations, env);
	if (!e) {
		e = json_object();
		json_object_set_new(m->durations, env, e);
	}
	json_object_set_new(e, step, json_real((double)ms / 1000.0));
}

void metrics_step_result(struct agent_metrics *m, const char *step, const char *status)
{
	char key[128];

	if (!m->results || !step || !status)
		return;
	snprintf(key, sizeof(key), "%s\t%s", step, status);
	json_object_set_new(m->results, key, json_integer(json_integer_value(json_object_get(m->results, key)) + 1));
}

/* label values: backslash, double quote and newline escaped */
static void label(struct buf *b, const char *v)
{
	for (; v && *v; v++) {
		if (*v == '\\')
			buf_appends(b, "\\\\");
		else if (*v == '"')
			buf_appends(b, "\\\"");
		else if (*v == '\n')
			buf_appends(b, "\\n");
		else
			buf_appendc(b, *v);
	}
}

static unsigned count_builds(const char *builds_dir, const char *env)
{
	char path[4096];
	DIR *d;
	struct dirent *de;
	unsigned n = 0;

	if (str_printf(path, sizeof(path), "%s/%s", builds_dir, env) < 0)
		return 0;
	d = opendir(path);
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		if (len > 10 && streq(de->d_name + len - 10, ".extracted"))
			n++;
	}
	closedir(d);
	return n;
}

char *metrics_render(const struct agent_metrics *m, const struct agent_config *cfg, struct state_file *st,
		     const char *host_id)
{
	struct buf b;
	const char *k, *k2;
	json_t *e, *v;

	buf_init(&b, BUF_UNBOUNDED);
	buf_appends(&b, "# TYPE slipway_agent_info gauge\nslipway_agent_info{version=\"");
	label(&b, SLIPWAY_VERSION);
	buf_appends(&b, "\",host_id=\"");
	label(&b, host_id);
	buf_appends(&b, "\"} 1\n");
	buf_printf(&b, "# TYPE slipway_agent_pings_total counter\nslipway_agent_pings_total %llu\n",
		   (unsigned long long)m->pings_total);
	buf_printf(&b, "# TYPE slipway_agent_ping_failures_total counter\nslipway_agent_ping_failures_total %llu\n",
		   (unsigned long long)m->ping_failures_total);
	buf_printf(&b,
		   "# TYPE slipway_agent_last_successful_ping_timestamp_seconds gauge\n"
		   "slipway_agent_last_successful_ping_timestamp_seconds %.3f\n",
		   (double)m->last_ok_ping_ms / 1000.0);
	buf_printf(&b, "# TYPE slipway_agent_download_bytes_total counter\nslipway_agent_download_bytes_total %llu\n",
		   (unsigned long long)m->download_bytes_total);
	buf_appends(&b, "# TYPE slipway_agent_env_deploy_stage gauge\n");
	json_object_foreach(state_envs(st), k, e) {
		buf_appends(&b, "slipway_agent_env_deploy_stage{env=\"");
		label(&b, k);
		buf_appends(&b, "\",stage=\"");
		label(&b, entry_str(e, "stageName"));
		buf_appends(&b, "\",deploy_stage=\"");
		label(&b, entry_str(e, "deployStage"));
		buf_appends(&b, "\"} 1\n");
	}
	buf_appends(&b, "# TYPE slipway_agent_env_status gauge\n");
	json_object_foreach(state_envs(st), k, e) {
		buf_appends(&b, "slipway_agent_env_status{env=\"");
		label(&b, k);
		buf_appends(&b, "\",status=\"");
		label(&b, entry_str(e, "status"));
		buf_appends(&b, "\"} 1\n");
	}
	buf_appends(&b, "# TYPE slipway_agent_env_fail_count gauge\n");
	json_object_foreach(state_envs(st), k, e) {
		buf_appends(&b, "slipway_agent_env_fail_count{env=\"");
		label(&b, k);
		buf_printf(&b, "\"} %lld\n", (long long)entry_int(e, "failCount"));
	}
	buf_appends(&b, "# TYPE slipway_agent_env_serving_build_info gauge\n");
	json_object_foreach(state_envs(st), k, e) {
		const char *tb = entry_str(e, "targetBuildId");
		json_t *bj = json_object_get(e, "build");
		const char *commit = NULL;
		if (!tb)
			continue;
		if (json_is_object(bj) && streq_ptr(json_string_value(json_object_get(bj, "id")), tb))
			commit = json_string_value(json_object_get(bj, "commit"));
		buf_appends(&b, "slipway_agent_env_serving_build_info{env=\"");
		label(&b, k);
		buf_appends(&b, "\",build_id=\"");
		label(&b, tb);
		buf_appends(&b, "\",commit=\"");
		label(&b, commit);
		buf_appends(&b, "\"} 1\n");
	}
	buf_appends(&b, "# TYPE slipway_agent_builds_on_disk gauge\n");
	json_object_foreach(state_envs(st), k, e) {
		buf_appends(&b, "slipway_agent_builds_on_disk{env=\"");
		label(&b, k);
		buf_printf(&b, "\"} %u\n", count_builds(cfg->builds_dir, k));
	}
	buf_appends(&b, "# TYPE slipway_agent_step_last_duration_seconds gauge\n");
	json_object_foreach(m->durations, k, e) {
		json_object_foreach(e, k2, v) {
			buf_appends(&b, "slipway_agent_step_last_duration_seconds{env=\"");
			label(&b, k);
			buf_appends(&b, "\",step=\"");
			label(&b, k2);
			buf_printf(&b, "\"} %.3f\n", json_real_value(v));
		}
	}
	buf_appends(&b, "# TYPE slipway_agent_step_results_total counter\n");
	json_object_foreach(m->results, k, v) {
		const char *tab = strchr(k, '\t');
		char step[64];
		if (!tab || (size_t)(tab - k) >= sizeof(step))
			continue;
		memcpy(step, k, (size_t)(tab - k));
		step[tab - k] = '\0';
		buf_appends(&b, "slipway_agent_step_results_total{step=\"");
		label(&b, step);
		buf_appends(&b, "\",status=\"");
		label(&b, tab + 1);
		buf_printf(&b, "\"} %lld\n", (long long)json_integer_value(v));
	}
	return buf_detach(&b);
}

void metrics_maybe_write(struct agent_metrics *m, const struct agent_config *cfg, struct state_file *st,
			 const char *host_id, bool force)
{
	char *text;
	int r;

	if (!cfg->metrics_file || !*cfg->metrics_file || !st->root)
		return;
	if (!force && m->last_write_mono && mono_ms() - m->last_write_mono < 5000) {
		m->dirty = true;
		return;
	}
	text = metrics_render(m, cfg, st, host_id);
	if (!text)
		return;
	/* rebuilt from memory at every write: no fsync (a power loss loses nothing the next write does not restore) */
	r = fs_write_swap_path(cfg->metrics_file, text, strlen(text), 0644, false);
	free(text);
	if (r < 0)
		(void)log_warn_errno(r, "cannot write metrics file '%s'", cfg->metrics_file);
	m->last_write_mono = mono_ms();
	m->dirty = false;
}
