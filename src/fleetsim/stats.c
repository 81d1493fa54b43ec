/* SPDX-License-Identifier: Apache-2.0 */
/* fleetsim/stats.c: see stats.h. */
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <jansson.h>

#include "jsonutil.h"
#include "stats.h"
#include "banned.h"

void sim_stats_init(struct sim_stats *s, int64_t now)
{
	memset(s, 0, sizeof(*s));
	s->start_ms = s->window_start_ms = now;
}

static void hist_add(struct sim_hist *h, int64_t ms)
{
	if (ms < 0)
		ms = 0;
	h->b[ms < SIM_LAT_BUCKETS - 1 ? ms : SIM_LAT_BUCKETS - 1]++;
	h->n++;
	if (ms > h->max_ms)
		h->max_ms = ms;
}

void sim_stats_latency(struct sim_stats *s, int64_t ms)
{
	hist_add(&s->lat_total, ms);
	hist_add(&s->lat_window, ms);
}

int64_t sim_hist_quantile(const struct sim_hist *h, double q)
{
	uint64_t want, seen = 0;

	if (!h->n)
		return 0;
	want = (uint64_t)((double)h->n * q);
	if (want >= h->n)
		want = h->n - 1;
	for (int64_t i = 0; i < SIM_LAT_BUCKETS; i++) {
		seen += h->b[i];
		if (seen > want)
			return i == SIM_LAT_BUCKETS - 1 ? h->max_ms : i;
	}
	return h->max_ms;
}

void sim_stats_stages(const struct sim_host *hosts, uint32_t n, uint64_t ret[_DEPLOY_STAGE_MAX + 1])
{
	memset(ret, 0, sizeof(uint64_t) * (_DEPLOY_STAGE_MAX + 1));
	for (uint32_t i = 0; i < n; i++) {
		if (hosts[i].env_id == SIM_NONE && hosts[i].env_name == SIM_NONE)
			ret[_DEPLOY_STAGE_MAX]++;
		else
			ret[hosts[i].stage < _DEPLOY_STAGE_MAX ? hosts[i].stage : DEPLOY_STAGE_UNKNOWN]++;
	}
}

static const char *op_name(int i)
{
	return i < _OP_CODE_MAX ? op_code_to_string(i) : "OTHER";
}

static json_t *counters_json(const struct sim_counters *c, const uint64_t stages[_DEPLOY_STAGE_MAX + 1])
{
	json_t *o = json_object(), *a = json_object(), *st = json_object();

	json_object_set_new(o, "pings", json_integer((json_int_t)c->pings));
	for (int i = 0; i <= _OP_CODE_MAX; i++)
		if (c->answers[i])
			json_object_set_new(a, op_name(i), json_integer((json_int_t)c->answers[i]));
	json_object_set_new(o, "answers", a);
	for (int i = 0; i < _DEPLOY_STAGE_MAX; i++)
		if (stages[i])
			json_object_set_new(st, deploy_stage_to_string(i), json_integer((json_int_t)stages[i]));
	if (stages[_DEPLOY_STAGE_MAX])
		json_object_set_new(st, "NONE", json_integer((json_int_t)stages[_DEPLOY_STAGE_MAX]));
	json_object_set_new(o, "stages", st);
	json_object_set_new(o, "errors", json_integer((json_int_t)c->errors));
	json_object_set_new(o, "overloaded", json_integer((json_int_t)c->overloaded));
	json_object_set_new(o, "stepsSucceeded", json_integer((json_int_t)c->steps_succeeded));
	json_object_set_new(o, "stepsFailed", json_integer((json_int_t)c->steps_failed));
	json_object_set_new(o, "deletes", json_integer((json_int_t)c->deletes));
	json_object_set_new(o, "goalsIgnored", json_integer((json_int_t)c->goals_ignored));
	return o;
}

static void print_text(FILE *out, const struct sim_stats *s, double secs, double rate,
		       const uint64_t stages[_DEPLOY_STAGE_MAX + 1])
{
	const struct sim_counters *w = &s->window;

	fprintf(out, "t=%.0fs pings/s=%.0f answers", secs, rate);
	for (int i = 0; i <= _OP_CODE_MAX; i++)
		if (w->answers[i])
			fprintf(out, " %s=%llu", op_name(i), (unsigned long long)w->answers[i]);
	fprintf(out, " stages");
	for (int i = 0; i < _DEPLOY_STAGE_MAX; i++)
		if (stages[i])
			fprintf(out, " %s=%llu", deploy_stage_to_string(i), (unsigned long long)stages[i]);
	if (stages[_DEPLOY_STAGE_MAX])
		fprintf(out, " NONE=%llu", (unsigned long long)stages[_DEPLOY_STAGE_MAX]);
	fprintf(out, " errors=%llu overloaded=%llu p50=%lldms p99=%lldms\n", (unsigned long long)w->errors,
		(unsigned long long)w->overloaded, (long long)sim_hist_quantile(&s->lat_window, 0.5),
		(long long)sim_hist_quantile(&s->lat_window, 0.99));
}

void sim_stats_progress(struct sim_stats *s, FILE *out, bool json, const struct sim_host *hosts, uint32_t n,
			int64_t now)
{
	uint64_t stages[_DEPLOY_STAGE_MAX + 1];
	double win = (double)(now - s->window_start_ms) / 1000.0;
	double rate = win > 0 ? (double)s->window.pings / win : 0;
	double secs = (double)(now - s->start_ms) / 1000.0;

	sim_stats_stages(hosts, n, stages);
	if (json) {
		json_t *o = counters_json(&s->window, stages);
		char *line;
		json_object_set_new(o, "t", json_real(secs));
		json_object_set_new(o, "pingsPerSec", json_real(rate));
		json_object_set_new(o, "p50Ms", json_integer(sim_hist_quantile(&s->lat_window, 0.5)));
		json_object_set_new(o, "p99Ms", json_integer(sim_hist_quantile(&s->lat_window, 0.99)));
		line = json_dump_compact(o);
		if (line)
			fprintf(out, "%s\n", line);
		free(line);
		json_decref(o);
	} else
		print_text(out, s, secs, rate, stages);
	fflush(out);
	memset(&s->window, 0, sizeof(s->window));
	memset(&s->lat_window, 0, sizeof(s->lat_window));
	s->window_start_ms = now;
}

/* The simulator's peak resident set (KiB), from getrusage. */
static long rss_kb(void)
{
	struct rusage ru;

	return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : -1;
}

void sim_stats_summary(const struct sim_stats *s, FILE *out, const struct sim_host *hosts, uint32_t n,
		       uint32_t connections, int64_t now)
{
	uint64_t stages[_DEPLOY_STAGE_MAX + 1];
	double secs = (double)(now - s->start_ms) / 1000.0;
	json_t *o, *lat = json_object();
	long rss = rss_kb();
	char *text;

	sim_stats_stages(hosts, n, stages);
	o = counters_json(&s->total, stages);
	json_object_set_new(o, "hosts", json_integer(n));
	json_object_set_new(o, "connections", json_integer(connections));
	json_object_set_new(o, "seconds", json_real(secs));
	json_object_set_new(o, "pingsPerSec", json_real(secs > 0 ? (double)s->total.pings / secs : 0));
	json_object_set_new(lat, "p50", json_integer(sim_hist_quantile(&s->lat_total, 0.5)));
	json_object_set_new(lat, "p99", json_integer(sim_hist_quantile(&s->lat_total, 0.99)));
	json_object_set_new(lat, "max", json_integer(s->lat_total.max_ms));
	json_object_set_new(o, "latencyMs", lat);
	json_object_set_new(o, "simMaxRssKb", rss >= 0 ? json_integer(rss) : json_null());
	json_object_set_new(o, "simBytesPerHost", rss >= 0 && n ? json_real((double)rss * 1024.0 / n) : json_null());
	text = json_dumps(o, JSON_INDENT(2));
	if (text)
		fprintf(out, "%s\n", text);
	fflush(out);
	free(text);
	json_decref(o);
}
