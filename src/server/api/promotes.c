/* SPDX-License-Identifier: Apache-2.0 */
/* api/promotes.c: promote configuration and deploy schedules (PROTOCOL §3.5, §4.9): GET/PUT
 * {env}/{stage}/promotes, PUT/GET /v1/schedules/{env}/{stage}/..., the cooldown override. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "cron.h"
#include "enums.h"
#include "parse.h"
#include "util.h"
#include "banned.h"

static const char *js(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static json_t *promote_defaults(const char *env_id)
{
	return json_pack("{s:s,s:s,s:n,s:i,s:n,s:i,s:s,s:s,s:n,s:n}", "envId", env_id, "type", "MANUAL", "predStage",
			 "queueSize", 1, "schedule", "delay", 0, "disablePolicy", "AUTO", "failPolicy", "CONTINUE",
			 "lastOperator", "lastUpdate");
}

static int promote_get(struct req *r)
{
	json_t *env = NULL, *p = NULL;
	int k;

	k = api_env_from_path(r, &env);
	if (k < 0)
		return k;
	k = store_promote_get(r->srv->store, js(env, "id"), &p);
	if (k == -ENOENT) {
		p = promote_defaults(js(env, "id"));
		k = p ? 0 : -ENOMEM;
	}
	json_decref(env);
	if (k < 0)
		return api_store_error(r, k, "cannot read promote config");
	return http_reply_json(r, 200, p);
}

static int promote_put(struct req *r)
{
	json_t *env = NULL, *in = NULL, *p = NULL, *hist = NULL, *other = NULL;
	const char *pred, *schedule;
	int64_t v;
	bool present;
	int e, k;

	k = api_env_from_path(r, &env);
	if (k < 0)
		return k;
	k = api_body_object(r, "a PromoteConfig JSON body is required", &in);
	if (k < 0)
		goto out;
	k = store_promote_get(r->srv->store, js(env, "id"), &p);
	if (k == -ENOENT) {
		p = promote_defaults(js(env, "id"));
		k = p ? 0 : -ENOMEM;
	}
	if (k < 0) {
		k = api_store_error(r, k, "cannot read promote config");
		goto out;
	}
	if ((k = api_opt_enum(r, in, "type", promote_type_from_string, &e)) < 0)
		goto out;
	if (e >= 0)
		(void)json_object_set_new(p, "type", json_string(promote_type_to_string(e)));
	if ((k = api_opt_enum(r, in, "disablePolicy", promote_disable_policy_from_string, &e)) < 0)
		goto out;
	if (e >= 0)
		(void)json_object_set_new(p, "disablePolicy", json_string(promote_disable_policy_to_string(e)));
	if ((k = api_opt_enum(r, in, "failPolicy", promote_fail_policy_from_string, &e)) < 0)
		goto out;
	if (e >= 0)
		(void)json_object_set_new(p, "failPolicy", json_string(promote_fail_policy_to_string(e)));
	if ((k = api_opt_int(r, in, "queueSize", 1, 10, &v, &present)) < 0)
		goto out;
	if (present)
		(void)json_object_set_new(p, "queueSize", json_integer(v));
	if ((k = api_opt_int(r, in, "delay", 0, INT32_MAX, &v, &present)) < 0)
		goto out;
	if (present)
		(void)json_object_set_new(p, "delay", json_integer(v));
	if ((k = api_opt_string(r, in, "predStage", 64, &pred)) < 0)
		goto out;
	if (pred && *pred && !streq(pred, "BUILD")) {
		if (!api_name_ok(pred) || streq(pred, js(env, "stageName"))) {
			k = req_bad(r, "predStage", "predStage must be BUILD or another stage of this env");
			goto out;
		}
		k = store_env_get(r->srv->store, js(env, "envName"), pred, &other);
		if (k == -ENOENT) {
			k = req_bad(r, "predStage", "stage '%s' of env '%s' does not exist", pred, js(env, "envName"));
			goto out;
		}
		if (k < 0) {
			k = api_store_error(r, k, "cannot read env stage");
			goto out;
		}
	}
	if (pred)
		(void)json_object_set_new(p, "predStage", *pred ? json_string(pred) : json_null());
	if ((k = api_opt_string(r, in, "schedule", 256, &schedule)) < 0)
		goto out;
	if (schedule && *schedule) {
		struct cron c;
		char err[160];
		if (cron_parse(schedule, &c, err, sizeof(err)) < 0) {
			k = req_bad(r, "schedule", "invalid schedule: %s", err);
			goto out;
		}
	}
	if (schedule)
		(void)json_object_set_new(p, "schedule", *schedule ? json_string(schedule) : json_null());
	/* AUTO without predStage is accepted as upstream's board sends it: such a config never promotes (the promoter
	 * reads only AUTO configs that name a predecessor) */
	(void)json_object_set_new(p, "envId", json_string(js(env, "id")));
	(void)json_object_set_new(p, "lastOperator", json_string(api_operator(r)));
	(void)json_object_set_new(p, "lastUpdate", json_integer(now_ms()));
	hist = api_history(r, js(env, "id"), "Env Promote Config", in);
	if (!hist) {
		k = -ENOMEM;
		goto out;
	}
	k = store_promote_put(r->srv->store, p, hist);
	k = api_store_done(r, k, "cannot store promote config");
out:
	json_decref(env);
	json_decref(in);
	json_decref(p);
	json_decref(hist);
	json_decref(other);
	return k;
}

/* ---- schedules ------------------------------------------------------------------------------- */

/* CSV with exactly n entries, each checked by kind: 'h' host numbers (>= 1 or N% 1..100),
 * 'c' cooldown minutes (any integer). */
static bool csv_ok(const char *csv, int n, char kind)
{
	char *copy, *save = NULL;
	int count = 0;
	bool ok = true;

	if (!csv || !(copy = strdup(csv)))
		return false;
	if (strstr(csv, ",,") || csv[0] == ',' || (csv[0] && csv[strlen(csv) - 1] == ','))
		ok = false;
	for (char *t = strtok_r(copy, ",", &save); ok && t; t = strtok_r(NULL, ",", &save)) {
		int64_t v;
		size_t l;
		while (*t == ' ')
			t++;
		l = strlen(t);
		while (l > 0 && t[l - 1] == ' ')
			t[--l] = 0;
		if (kind == 'h' && l > 1 && t[l - 1] == '%') {
			t[l - 1] = 0;
			ok = parse_i64(t, 1, 100, &v) == 0;
		} else if (kind == 'h')
			ok = parse_i64(t, 1, INT32_MAX, &v) == 0;
		else
			ok = parse_i64(t[0] == '-' ? t + 1 : t, 0, INT32_MAX, &v) == 0;
		count++;
	}
	free(copy);
	return ok && count == n;
}

static json_t *schedule_public(json_t *sch)
{
	(void)json_object_del(sch, "envId");
	return sch;
}

static int schedule_put(struct req *r)
{
	json_t *env = NULL, *in = NULL, *sch = NULL, *hist = NULL;
	const char *hosts, *cooldowns;
	int64_t total;
	bool present;
	char id[ID_LEN + 1];
	int k;

	k = api_env_from_path(r, &env);
	if (k < 0)
		return k;
	k = api_body_object(r, "a DeploySchedule JSON body is required", &in);
	if (k < 0)
		goto out;
	if ((k = api_opt_int(r, in, "totalSessions", 0, 1000, &total, &present)) < 0)
		goto out;
	if (!present) {
		k = req_bad(r, "totalSessions", "totalSessions is required");
		goto out;
	}
	hist = api_history(r, js(env, "id"), "Env Schedule Config", in);
	if (!hist) {
		k = -ENOMEM;
		goto out;
	}
	if (total == 0) {
		k = store_schedule_delete(r->srv->store, js(env, "id"));
		if (k < 0 && k != -ENOENT) {
			k = api_store_error(r, k, "cannot delete schedule");
			goto out;
		}
		(void)store_history_add(r->srv->store, hist);
		k = http_reply_empty(r, 204);
		goto out;
	}
	if ((k = api_opt_string(r, in, "hostNumbers", 8192, &hosts)) < 0 ||
	    (k = api_opt_string(r, in, "cooldownTimes", 8192, &cooldowns)) < 0)
		goto out;
	if (!csv_ok(hosts, (int)total, 'h')) {
		k = req_bad(r, "hostNumbers", "hostNumbers needs %lld entries, each >= 1 or N%% with 1 <= N <= 100",
			    (long long)total);
		goto out;
	}
	if (!csv_ok(cooldowns, (int)total, 'c')) {
		k = req_bad(r, "cooldownTimes", "cooldownTimes needs %lld integer entries (minutes)", (long long)total);
		goto out;
	}
	k = store_schedule_get(r->srv->store, js(env, "id"), &sch);
	if (k == -ENOENT) {
		k = id_generate(id);
		if (k < 0)
			goto out;
		sch = json_pack("{s:s,s:i,s:s,s:I}", "id", id, "currentSession", 0, "state", "NOT_STARTED",
				"stateStartTime", (json_int_t)now_ms());
		k = sch ? 0 : -ENOMEM;
	}
	if (k < 0) {
		k = api_store_error(r, k, "cannot read schedule");
		goto out;
	}
	if (json_integer_value(json_object_get(sch, "currentSession")) > total)
		(void)json_object_set_new(sch, "currentSession", json_integer(total));
	(void)json_object_set_new(sch, "envId", json_string(js(env, "id")));
	(void)json_object_set_new(sch, "totalSessions", json_integer(total));
	(void)json_object_set_new(sch, "hostNumbers", json_string(hosts));
	(void)json_object_set_new(sch, "cooldownTimes", json_string(cooldowns));
	k = store_schedule_put(r->srv->store, sch);
	if (k >= 0)
		k = store_history_add(r->srv->store, hist);
	if (k < 0) {
		k = api_store_error(r, k, "cannot store schedule");
		goto out;
	}
	k = http_reply_json(r, 200, schedule_public(json_incref(sch)));
out:
	json_decref(env);
	json_decref(in);
	json_decref(sch);
	json_decref(hist);
	return k;
}

static int schedule_get(struct req *r)
{
	json_t *env = NULL, *sch = NULL;
	int k;

	k = api_env_from_path(r, &env);
	if (k < 0)
		return k;
	k = store_schedule_get(r->srv->store, js(env, "id"), &sch);
	json_decref(env);
	if (k == -ENOENT || (k >= 0 && !streq_ptr(js(sch, "id"), req_param(r, "scheduleId")))) {
		json_decref(sch);
		return http_fail(r, 404, NULL, "schedule '%.64s' not found", req_param(r, "scheduleId"));
	}
	if (k < 0)
		return api_store_error(r, k, "cannot read schedule");
	return http_reply_json(r, 200, schedule_public(sch));
}

static int schedule_override(struct req *r)
{
	json_t *env = NULL, *sch = NULL, *hist = NULL, *chg = NULL;
	int64_t session, current, total;
	int k;

	k = api_env_from_path(r, &env);
	if (k < 0)
		return k;
	if (query_int(req_query(r), "sessionNumber", 1, INT32_MAX, -1, &session) < 0 || session < 0) {
		k = req_bad(r, "sessionNumber", "sessionNumber is required (the current session)");
		goto out;
	}
	k = store_schedule_get(r->srv->store, js(env, "id"), &sch);
	if (k == -ENOENT) {
		k = http_fail(r, 404, NULL, "the stage has no schedule");
		goto out;
	}
	if (k < 0) {
		k = api_store_error(r, k, "cannot read schedule");
		goto out;
	}
	current = json_integer_value(json_object_get(sch, "currentSession"));
	total = json_integer_value(json_object_get(sch, "totalSessions"));
	if (!streq_ptr(js(sch, "state"), "COOLING_DOWN") || current != session) {
		k = http_fail(r, 409, NULL, "session %lld is not cooling down", (long long)session);
		goto out;
	}
	if (current >= total)
		(void)json_object_set_new(sch, "state", json_string("FINAL"));
	else {
		(void)json_object_set_new(sch, "state", json_string("RUNNING"));
		(void)json_object_set_new(sch, "currentSession", json_integer(current + 1));
	}
	(void)json_object_set_new(sch, "stateStartTime", json_integer(now_ms()));
	(void)json_object_set_new(sch, "envId", json_string(js(env, "id")));
	chg = json_pack("{s:s,s:I}", "action", "OVERRIDE", "sessionNumber", (json_int_t)session);
	hist = api_history(r, js(env, "id"), "Env Schedule Config", chg);
	k = store_schedule_put(r->srv->store, sch);
	if (k >= 0 && hist)
		k = store_history_add(r->srv->store, hist);
	k = api_store_done(r, k, "cannot store schedule");
out:
	json_decref(env);
	json_decref(sch);
	json_decref(hist);
	json_decref(chg);
	return k;
}

const struct route api_promotes_routes[] = {
	{ "GET", "/v1/envs/{env}/{stage}/promotes", promote_get, ROLE_READER, SCOPE_ANY, false },
	{ "PUT", "/v1/envs/{env}/{stage}/promotes", promote_put, ROLE_OPERATOR, SCOPE_ENV, false },
	{ "PUT", "/v1/schedules/{env}/{stage}/schedules", schedule_put, ROLE_OPERATOR, SCOPE_ENV, false },
	{ "PUT", "/v1/schedules/{env}/{stage}/override", schedule_override, ROLE_OPERATOR, SCOPE_ENV, false },
	{ "GET", "/v1/schedules/{env}/{stage}/{scheduleId}", schedule_get, ROLE_READER, SCOPE_ANY, false },
};
const size_t api_promotes_routes_count = ELEMENTSOF(api_promotes_routes);
