/* SPDX-License-Identifier: Apache-2.0 */
/* workers/analysis.c: the Prometheus analysis of deploys. Once a second the thread looks at every stage with a
 * current deploy whose analysis document has queries; while the engine says the deploy is analysed (from its
 * start until durationSeconds after SUCCEEDING) it runs each query on prometheus_url's instant query API every
 * intervalSeconds (once per period across replicas: the store's worker claim, unit ANALYSIS-<deployId>), records
 * the evaluations, and when a query is out of bounds failAfter times in a row fails the analysis: the action
 * (a ROLLBACK deploy, or HALT: the stage is paused), the build tagged BAD_BUILD and an ANALYSIS_FAILED event. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis.h"
#include "analysis_rules.h"
#include "buf.h"
#include "deploy.h"
#include "enums.h"
#include "events.h"
#include "httpclient.h"
#include "jsonutil.h"
#include "log.h"
#include "sleep.h"
#include "util.h"
#include "banned.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t stop_cond;
static pthread_once_t stop_once = PTHREAD_ONCE_INIT;
static int stop_cond_r;
static bool stopping, started;
static pthread_t thread;

static const char *js(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static size_t collect(char *data, size_t size, size_t n, void *ud)
{
	return buf_append(ud, data, size * n) < 0 ? 0 : size * n;
}

/* The value of an instant query: 1 with *ret set, 0 without one (empty result, NaN), or a negative errno. */
static int prometheus_value(const char *base, const char *query, int64_t now, double *ret, char *why,
			    size_t why_size)
{
	char errbuf[CURL_ERROR_SIZE] = "", *esc = NULL, *url = NULL, *end = NULL;
	struct buf body;
	json_t *doc = NULL, *res, *val;
	CURL *h = NULL;
	long status = 0;
	const char *s;
	int k;

	buf_init(&body, 4 << 20);
	esc = curl_easy_escape(NULL, query, 0);
	if (!esc || asprintf(&url, "%s/api/v1/query?query=%s&time=%.3f", base, esc, (double)now / 1000.0) < 0) {
		url = NULL;
		k = -ENOMEM;
		goto out;
	}
	k = httpclient_new(&(struct httpclient_request){ .url = url, .connect_timeout_ms = 3000, .timeout_ms = 10000,
							 .max_answer_bytes = 4 << 20, .write_fn = collect,
							 .write_data = &body, .progress_fn = httpclient_abort_when,
							 .progress_data = &stopping },
			   errbuf, &h);
	if (k >= 0)
		k = httpclient_perform(h, errbuf, &status);
	if (k >= 0 && status != 200) {
		(void)str_printf(why, why_size, "HTTP %ld", status);
		k = -EREMOTEIO;
	} else if (k < 0) {
		(void)str_copy(why, why_size, errbuf);
	}
	if (k >= 0 && json_parse_bounded(body.p, body.len, &doc, NULL, 0) < 0) {
		(void)str_copy(why, why_size, "not a Prometheus answer");
		k = -EBADMSG;
	}
	if (k < 0)
		goto out;
	res = json_object_get(json_object_get(doc, "data"), "result");
	val = streq_ptr(js(json_object_get(doc, "data"), "resultType"), "scalar")
		      ? res
		      : json_object_get(json_array_get(res, 0), "value");
	s = json_string_value(json_array_get(val, 1));
	k = 0;
	if (s) {
		double d = strtod(s, &end);
		if (end && !*end && !isnan(d)) {
			*ret = d;
			k = 1;
		}
	}
out:
	json_decref(doc);
	curl_easy_cleanup(h);
	free(url);
	curl_free(esc);
	buf_release(&body);
	return k;
}

/* Fail the analysis of dep: its action, the BAD_BUILD tag, the history entry and the event. */
static void analysis_fail(struct server *srv, const json_t *env, const json_t *dep, const json_t *cfg,
			  const char *query)
{
	const char *action = js(cfg, "action");
	char desc[384], comments[256];
	json_t *change, *build = NULL;
	int k = 0;

	log_notice("analysis of deploy '%s' on %s/%s failed on query '%s': action %s", js(dep, "id"),
		   js(env, "envName"), js(env, "stageName"), query, action);
	(void)str_printf(desc, sizeof(desc), "Rollback of deploy %s: analysis query '%s' out of bounds",
			 js(dep, "id"), query);
	if (streq_ptr(action, "ROLLBACK"))
		k = deploy_rollback_from(srv, env, dep,
					 &(struct deploy_cause){ .operator_name = "system", .description = desc,
								 .action = "ANALYSIS_ROLLBACK" },
					 NULL);
	else if (streq_ptr(action, "HALT"))
		k = store_env_set_state(srv->store, js(env, "id"), "PAUSED", false, NULL);
	if (k < 0)
		log_warn("analysis of deploy '%s': action %s not done (%d)", js(dep, "id"), action, k);
	(void)str_printf(comments, sizeof(comments), "analysis of deploy %s failed on query '%s'", js(dep, "id"),
			 query);
	k = deploy_mark_bad_build(srv, js(dep, "buildId"), "system", comments, NULL);
	if (k < 0 && k != -ENOENT)
		(void)server_db_error(srv, k, "analysis: cannot tag the build");
	change = json_pack("{s:s,s:s?,s:s,s:s?}", "action", "ANALYSIS_FAILED", "deployId", js(dep, "id"), "query",
			   query, "analysisAction", action);
	if (change)
		(void)deploy_record_action(srv, env, "system", change);
	json_decref(change);
	if (store_build_get(srv->store, js(dep, "buildId"), &build) >= 0)
		deploy_event_emit(srv, &(struct deploy_event){ .kind = DEPLOY_EVENT_ANALYSIS_FAILED, .env = env,
							       .deploy = dep, .build = build });
	json_decref(build);
}

/* One evaluation of every query of cfg for dep; counts is updated; the name of a query that reached failAfter
 * in *ret_failed (borrowed from cfg). */
static json_t *evaluate(struct server *srv, const json_t *env, const json_t *dep, const json_t *cfg, json_t *counts,
			int64_t now, const char **ret_failed)
{
	const char *values[5] = { js(env, "envName"), js(env, "stageName"), js(dep, "buildId"), js(dep, "id"),
				  js(json_object_get(dep, "build"), "commit") };
	bool no_data_fails = streq_ptr(js(cfg, "noData"), "FAIL");
	json_t *evals = json_array(), *q;
	size_t i;

	json_array_foreach(json_object_get(cfg, "queries"), i, q) {
		char *query = engine_analysis_substitute(js(q, "query"), values), why[CURL_ERROR_SIZE + 32] = "";
		double v = 0;
		int got = query ? prometheus_value(srv->cfg.prometheus_url, query, now, &v, why, sizeof(why)) : -ENOMEM;
		enum engine_analysis_verdict verdict = engine_analysis_judge(q, got > 0, v, no_data_fails);
		int64_t n = engine_analysis_count(json_integer_value(json_object_get(counts, js(q, "name"))), verdict);

		if (got < 0)
			log_warn("analysis query '%s' of deploy '%s' failed: %s", js(q, "name"), js(dep, "id"), why);
		free(query);
		(void)json_object_set_new(counts, js(q, "name"), json_integer(n));
		(void)json_array_append_new(evals, json_pack("{s:I,s:s,s:o,s:s}", "time", (json_int_t)now, "query",
							     js(q, "name"), "value", got > 0 ? json_real(v) : json_null(),
							     "verdict", engine_analysis_verdict_name(verdict)));
		if (n >= json_integer_value(json_object_get(cfg, "failAfter")) && !*ret_failed)
			*ret_failed = js(q, "name");
	}
	return evals;
}

/* The analysis of one stage's current deploy at now. */
static void analyse(struct server *srv, const json_t *env, const json_t *dep, const json_t *cfg, int64_t now)
{
	const char *deploy_id = js(dep, "id"), *failed = NULL, *status;
	json_t *row = NULL, *counts, *evals;
	char unit[ID_LEN + 16];
	int phase, k;

	k = store_analysis_get(srv->store, deploy_id, &row);
	if (k < 0 && k != -ENOENT)
		return;
	status = row ? js(row, "analysisStatus") : "RUNNING";
	if (!streq_ptr(status, "RUNNING"))
		goto out;
	counts = row ? json_object_get(row, "failCounts") : NULL;
	phase = engine_analysis_phase(deploy_state_from_string(js(dep, "state")),
				      json_integer_value(json_object_get(dep, "successDate")),
				      json_integer_value(json_object_get(cfg, "durationSeconds")), now);
	if (phase == ENGINE_ANALYSIS_IDLE)
		goto out;
	if (phase == ENGINE_ANALYSIS_DONE) {
		(void)store_analysis_record(srv->store, deploy_id, js(env, "id"), "PASSED", counts, NULL, now);
		log_info("analysis of deploy '%s' on %s/%s passed", deploy_id, js(env, "envName"), js(env, "stageName"));
		goto out;
	}
	(void)str_printf(unit, sizeof(unit), "ANALYSIS-%s", deploy_id);
	/* once per intervalSeconds across replicas (a tenth of it for the tick's jitter) */
	k = store_worker_claim(srv->store, unit, now, json_integer_value(json_object_get(cfg, "intervalSeconds")) * 900);
	if (k <= 0)
		goto out;
	counts = counts ? json_deep_copy(counts) : json_object();
	evals = evaluate(srv, env, dep, cfg, counts, now, &failed);
	k = store_analysis_record(srv->store, deploy_id, js(env, "id"), failed ? "FAILED" : "RUNNING", counts, evals,
				  now);
	json_decref(counts);
	json_decref(evals);
	if (k < 0)
		(void)server_db_error(srv, k, "analysis: cannot record the evaluations");
	else if (failed)
		analysis_fail(srv, env, dep, cfg, failed);
out:
	json_decref(row);
}

/* The stage env_id's analysis at now, when its document has queries. */
static void analyse_stage(struct server *srv, const char *env_id, int64_t now)
{
	json_t *cfg = NULL, *env = NULL, *dep = NULL, *build = NULL;

	if (store_config_get(srv->store, env_id, STORE_CONFIG_ANALYSIS, &cfg) < 0)
		return;
	/* a rollback returns to a build known good: it is not analysed (its metrics still show the bad build's) */
	if (json_array_size(json_object_get(cfg, "queries")) > 0 && store_env_get_by_id(srv->store, env_id, &env) >= 0 &&
	    js(env, "deployId") && store_deploy_get(srv->store, js(env, "deployId"), &dep) >= 0 &&
	    !streq_ptr(js(dep, "type"), "ROLLBACK") && store_build_get(srv->store, js(dep, "buildId"), &build) >= 0) {
		(void)json_object_set_new(dep, "build", build);
		analyse(srv, env, dep, cfg, now);
	}
	json_decref(dep);
	json_decref(env);
	json_decref(cfg);
}

int analysis_worker_pass(struct server *srv, int64_t now)
{
	json_t *ids = NULL, *id;
	size_t i;
	int k;

	if (!srv->cfg.prometheus_url || !*srv->cfg.prometheus_url)
		return 0;
	k = store_env_list_transition(srv->store, &ids);
	if (k < 0)
		return server_db_error(srv, k, "analysis: cannot list stages");
	json_array_foreach(ids, i, id)
		analyse_stage(srv, json_string_value(id), now);
	json_decref(ids);
	return 0;
}

static void *analysis_main(void *arg)
{
	struct server *srv = arg;

	while (!sleep_or_stop(&lock, &stop_cond, &stopping, 1000))
		(void)analysis_worker_pass(srv, now_ms());
	return NULL;
}

static void init_stop_cond(void)
{
	stop_cond_r = sleep_cond_init(&stop_cond);
}

int analysis_start(struct server *srv)
{
	int r;

	(void)pthread_once(&stop_once, init_stop_cond);
	if (stop_cond_r < 0)
		return stop_cond_r;
	stopping = false;
	r = pthread_create(&thread, NULL, analysis_main, srv);
	if (r != 0)
		return -r;
	started = true;
	return 0;
}

void analysis_stop(struct server *srv)
{
	(void)srv;
	if (!started)
		return;
	pthread_mutex_lock(&lock);
	__atomic_store_n(&stopping, true, __ATOMIC_RELAXED);
	pthread_cond_broadcast(&stop_cond);
	pthread_mutex_unlock(&lock);
	pthread_join(thread, NULL);
	started = false;
}
