/* SPDX-License-Identifier: Apache-2.0 */
/* api/alerts.c: what stops a bad build from outside: upstream Teletraan's alerts resource,
 * POST /v1/envs/{env}/{stage}/alerts?actionWindow=&actions=, and GET /v1/deploys/{id}/analysis, the results of the
 * Prometheus analysis (workers/analysis.c; its document is a stage config, api/configs.c).
 * The body is upstream's form (alert_name, triggered, triggered_date, alert_id) or Prometheus Alertmanager's
 * webhook JSON (version 4). The answer is the engine's (engine/alert_rules.h); the actions are the deploy
 * service's (deploy_alert_act). */
#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "alert_rules.h"
#include "api.h"
#include "deploy.h"
#include "enums.h"
#include "parse.h"
#include "util.h"
#include "jsonutil.h"
#include "banned.h"

struct alert {
	bool triggered;
	int64_t triggered_ms;
	const char *name; /* request arena */
};

/* Upstream's form: triggered=True|False, triggered_date=<epoch seconds, may have a fraction>|None. */
static int alert_from_form(struct req *r, struct alert *a)
{
	struct query f;
	const char *v;
	int k;

	k = req_form(r, &f);
	if (k == -ENODATA)
		return req_bad(r, NULL, "the body must be an alert (upstream's form or Alertmanager JSON)");
	if (k < 0)
		return k;
	v = query_get(&f, "triggered");
	if (!v || parse_bool(v, &a->triggered) < 0) {
		k = req_bad(r, "triggered", "triggered must be True or False");
		goto out;
	}
	v = query_get(&f, "triggered_date");
	if (a->triggered && (!v || parse_seconds_ms(v, 0, INT64_MAX / 2, &a->triggered_ms) < 0)) {
		k = req_bad(r, "triggered_date", "triggered_date must be epoch seconds");
		goto out;
	}
	v = query_get(&f, "alert_name");
	if (!v || !*v)
		v = query_get(&f, "alert_id");
	a->name = req_strdup(r, v && *v ? v : "alert");
	k = a->name ? 0 : -ENOMEM;
out:
	query_release(&f);
	return k;
}

static const char *alertmanager_name(const json_t *in)
{
	const char *n = json_str(json_object_get(in, "commonLabels"), "alertname");

	if (!n)
		n = json_str(json_object_get(in, "groupLabels"), "alertname");
	if (!n)
		n = json_str(json_object_get(json_array_get(json_object_get(in, "alerts"), 0), "labels"), "alertname");
	if (!n)
		n = json_str(in, "groupKey");
	return n && *n ? n : "alert";
}

/* Alertmanager's webhook (version 4): triggered when status is firing, at the earliest firing alert's startsAt. */
static int alert_from_alertmanager(struct req *r, const json_t *in, struct alert *a)
{
	const char *status = json_str(in, "status");
	json_t *alerts = json_object_get(in, "alerts"), *al;
	bool any = false;
	size_t i;

	if (!json_is_object(in) || !streq_ptr(json_str(in, "version"), "4"))
		return req_bad(r, "version", "only Alertmanager webhook version \"4\" is understood");
	if (!status || (strcmp(status, "firing") != 0 && strcmp(status, "resolved") != 0))
		return req_bad(r, "status", "status must be \"firing\" or \"resolved\"");
	if (!json_is_array(alerts))
		return req_bad(r, "alerts", "alerts must be an array");
	a->triggered = streq(status, "firing");
	json_array_foreach(alerts, i, al) {
		int64_t t;
		if (!json_is_object(al))
			return req_bad(r, "alerts", "alerts must be objects");
		if (json_str(al, "status") && !streq(json_str(al, "status"), "firing"))
			continue;
		if (parse_rfc3339_ms(json_str(al, "startsAt"), &t) < 0)
			return req_bad(r, "startsAt", "startsAt must be an RFC 3339 time");
		if (!any || t < a->triggered_ms)
			a->triggered_ms = t;
		any = true;
	}
	if (a->triggered && !any)
		return req_bad(r, "alerts", "a firing notification needs a firing alert");
	a->name = req_strdup(r, alertmanager_name(in));
	return a->name ? 0 : -ENOMEM;
}

static int alert_parse(struct req *r, struct alert *a)
{
	json_t *in = NULL;
	size_t i = 0;
	int k;

	*a = (struct alert){ 0 };
	while (i < r->body_len && isspace((unsigned char)r->body[i]))
		i++;
	if (i == r->body_len || r->body[i] != '{')
		return alert_from_form(r, a);
	k = req_json(r, &in);
	if (k < 0)
		return k;
	k = alert_from_alertmanager(r, in, a);
	json_decref(in);
	return k;
}

/* actionWindow (seconds, 1..14400, default 1800) and actions (comma list, default rollback). */
static int alert_query(struct req *r, int64_t *ret_window, struct deploy_alert *da)
{
	const char *actions = query_get(req_query(r), "actions");
	char buf[128], *save = NULL;

	if (query_int(req_query(r), "actionWindow", ENGINE_ALERT_WINDOW_MIN_S, ENGINE_ALERT_WINDOW_MAX_S,
		      ENGINE_ALERT_WINDOW_DEFAULT_S, ret_window) < 0)
		return req_bad(r, "actionWindow", "actionWindow must be seconds in 1..14400");
	if (str_copy(buf, sizeof(buf), actions && *actions ? actions : "rollback") < 0)
		return req_bad(r, "actions", "actions is too long");
	da->n_actions = 0;
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		enum deploy_alert_action act;
		if (strcasecmp(t, "rollback") == 0)
			act = DEPLOY_ALERT_ROLLBACK;
		else if (strcasecmp(t, "markbadbuild") == 0)
			act = DEPLOY_ALERT_MARK_BAD;
		else
			return req_bad(r, "actions", "unknown action '%.64s' (rollback, markbadbuild)", t);
		for (size_t i = 0; i < da->n_actions; i++)
			if (da->actions[i] == act)
				return req_bad(r, "actions", "action '%.64s' is named twice", t);
		da->actions[da->n_actions++] = act;
	}
	if (!da->n_actions)
		return req_bad(r, "actions", "actions names no action");
	return 0;
}

static int alerts_post(struct req *r)
{
	struct deploy_alert da = { .operator_name = api_operator(r) };
	struct engine_alert_facts f = { .now_ms = now_ms() };
	enum engine_alert_verdict v;
	struct alert a;
	json_t *env = NULL, *dep = NULL, *res = NULL;
	int k;

	k = alert_parse(r, &a);
	if (k >= 0)
		k = alert_query(r, &f.window_s, &da);
	if (k >= 0)
		k = api_env_from_path(r, &env);
	if (k < 0)
		return k;
	if (json_str(env, "deployId")) {
		k = store_deploy_get(r->srv->store, json_str(env, "deployId"), &dep);
		if (k < 0 && k != -ENOENT) {
			k = api_store_error(r, k, "cannot read the current deploy");
			goto out;
		}
	}
	f.triggered = a.triggered;
	f.triggered_ms = a.triggered_ms;
	f.has_deploy = dep != NULL;
	f.deploy_start_ms = json_integer_value(json_object_get(dep, "startDate"));
	f.deploy_state = deploy_state_from_string(json_str(dep, "state"));
	f.env_state = env_state_from_string(json_str(env, "envState"));
	f.env_disabled = streq_ptr(json_str(env, "state"), "DISABLED");
	v = engine_alert_decide(&f);
	if (v != ENGINE_ALERT_ACT) {
		k = engine_alert_status(v) == 200
			    ? http_reply_json(r, 200, json_pack("{s:s}", "message", engine_alert_reason(v)))
			    : http_reply_empty(r, engine_alert_status(v));
		goto out;
	}
	da.alert_name = a.name;
	k = deploy_alert_act(r->srv, env, dep, &da, &res);
	k = k < 0 ? api_store_error(r, k, "cannot act on the alert") : http_reply_json(r, 200, res);
out:
	json_decref(dep);
	json_decref(env);
	return k;
}

/* GET /v1/deploys/{id}/analysis: the deploy's analysis status and its newest evaluations. */
static int deploy_analysis_get(struct req *r)
{
	const char *id = req_param(r, "id");
	json_t *dep = NULL, *row = NULL, *evals = NULL;
	int k;

	if (!id || !api_id_ok(id))
		return http_fail(r, 404, NULL, "deploy '%.64s' not found", id ? id : "");
	k = store_deploy_get(r->srv->store, id, &dep);
	if (k == -ENOENT)
		return http_fail(r, 404, NULL, "deploy '%s' not found", id);
	if (k >= 0)
		k = store_analysis_get(r->srv->store, id, &row);
	if (k >= 0 || k == -ENOENT)
		k = store_analysis_evals(r->srv->store, id, 200, &evals);
	if (k < 0) {
		k = api_store_error(r, k, "cannot read the analysis");
		goto out;
	}
	k = http_reply_json(r, 200, json_pack("{s:s,s:s?,s:o,s:o}", "deployId", id, "analysisStatus",
					      json_str(dep, "analysisStatus"), "failCounts",
					      row ? json_incref(json_object_get(row, "failCounts")) : json_object(),
					      "evaluations", evals));
out:
	json_decref(dep);
	json_decref(row);
	return k;
}

const struct route api_alerts_routes[] = {
	{ "POST", "/v1/envs/{env}/{stage}/alerts", alerts_post, ROLE_OPERATOR, SCOPE_ENV, false },
	{ "GET", "/v1/deploys/{id}/analysis", deploy_analysis_get, ROLE_READER, SCOPE_ANY, false },
};
const size_t api_alerts_routes_count = ELEMENTSOF(api_alerts_routes);
