/* SPDX-License-Identifier: Apache-2.0 */
/* engine/analysis_rules.c: the rules of the Prometheus analysis of a deploy (engine/analysis_rules.h). */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis_rules.h"
#include "buf.h"
#include "enums.h"
#include "util.h"
#include "banned.h"

struct check {
	char *field, *msg;
	size_t field_size, msg_size;
};

static int bad(struct check *c, const char *field, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int bad(struct check *c, const char *field, const char *fmt, ...)
{
	va_list ap;

	(void)str_copy(c->field, c->field_size, field);
	va_start(ap, fmt);
	(void)vsnprintf(c->msg, c->msg_size, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* An integer setting in [min, max], def when absent or null. */
static int int_setting(struct check *c, const json_t *in, json_t *out, const char *key, int64_t min, int64_t max,
		       int64_t def)
{
	const json_t *v = json_object_get(in, key);
	int64_t n = def;

	if (v && !json_is_null(v)) {
		if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
			return bad(c, key, "%s must be an integer in %lld..%lld", key, (long long)min, (long long)max);
		n = json_integer_value(v);
	}
	return json_object_set_new(out, key, json_integer(n)) < 0 ? -ENOMEM : 0;
}

/* An enum setting among names (NULL-terminated), names[0] when absent or null. */
static int enum_setting(struct check *c, const json_t *in, json_t *out, const char *key, const char *const *names)
{
	const json_t *v = json_object_get(in, key);
	const char *s = v && !json_is_null(v) ? json_string_value(v) : names[0];

	for (size_t i = 0; s && names[i]; i++)
		if (streq(s, names[i]))
			return json_object_set_new(out, key, json_string(s)) < 0 ? -ENOMEM : 0;
	return bad(c, key, "%s must be one of %s, %s%s%s", key, names[0], names[1], names[2] ? ", " : "",
		   names[2] ? names[2] : "");
}

static int bound(struct check *c, const json_t *q, json_t *out, size_t i, const char *key, double *ret)
{
	const json_t *v = json_object_get(q, key);
	char field[48];

	(void)str_printf(field, sizeof(field), "queries[%zu].%s", i, key);
	if (!v || json_is_null(v))
		return json_object_set_new(out, key, json_null()) < 0 ? -ENOMEM : 0;
	if (!json_is_number(v) || !isfinite(json_number_value(v)))
		return bad(c, field, "%s must be a number or null", field);
	*ret = json_number_value(v);
	return json_object_set_new(out, key, json_real(*ret)) < 0 ? -ENOMEM : 0;
}

static int check_query(struct check *c, const json_t *q, size_t i, const json_t *done, json_t **ret)
{
	const char *name = json_string_value(json_object_get(q, "name"));
	const char *query = json_string_value(json_object_get(q, "query"));
	double min = -INFINITY, max = INFINITY;
	const json_t *d;
	json_t *out;
	char field[48];
	size_t j;
	int k;

	if (!json_is_object(q))
		return bad(c, "queries", "queries[%zu] must be an object", i);
	(void)str_printf(field, sizeof(field), "queries[%zu].name", i);
	if (!name || !*name || strlen(name) > 64)
		return bad(c, field, "%s must be a string of 1..64 characters", field);
	json_array_foreach(done, j, d)
		if (streq(name, json_string_value(json_object_get(d, "name"))))
			return bad(c, field, "query name '%s' is used twice", name);
	(void)str_printf(field, sizeof(field), "queries[%zu].query", i);
	if (!query || !*query || strlen(query) > ENGINE_ANALYSIS_MAX_QUERY_BYTES)
		return bad(c, field, "%s must be a PromQL expression of 1..%d bytes", field,
			   ENGINE_ANALYSIS_MAX_QUERY_BYTES);
	out = json_pack("{s:s,s:s}", "name", name, "query", query);
	if (!out)
		return -ENOMEM;
	k = bound(c, q, out, i, "min", &min);
	if (k >= 0)
		k = bound(c, q, out, i, "max", &max);
	if (k >= 0 && min > max) {
		(void)str_printf(field, sizeof(field), "queries[%zu].min", i);
		k = bad(c, field, "%s is greater than max", field);
	}
	if (k < 0) {
		json_decref(out);
		return k;
	}
	*ret = out;
	return 0;
}

int engine_analysis_check(const json_t *in, json_t **ret, char *field, size_t field_size, char *msg,
			  size_t msg_size)
{
	static const char *const known[] = { "queries", "intervalSeconds", "failAfter", "durationSeconds", "noData",
					     "action" };
	static const char *const no_data[] = { "IGNORE", "FAIL", NULL };
	static const char *const actions[] = { "ROLLBACK", "HALT", "NONE", NULL };
	struct check c = { field, msg, field_size, msg_size };
	const json_t *qs = json_object_get(in, "queries"), *q;
	json_t *out, *list;
	const char *key;
	json_t *v;
	size_t i;
	int k = 0;

	if (!json_is_object(in))
		return bad(&c, "", "the analysis must be a JSON object");
	json_object_foreach((json_t *)in, key, v) {
		bool ok = false;
		for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
			ok = ok || streq(key, known[i]);
		if (!ok)
			return bad(&c, key, "unknown field '%.64s'", key);
	}
	if (qs && !json_is_null(qs) && (!json_is_array(qs) || json_array_size(qs) > ENGINE_ANALYSIS_MAX_QUERIES))
		return bad(&c, "queries", "queries must be an array of at most %d queries", ENGINE_ANALYSIS_MAX_QUERIES);
	out = json_object();
	list = json_array();
	if (!out || !list || json_object_set_new(out, "queries", list) < 0) {
		json_decref(out);
		return -ENOMEM;
	}
	json_array_foreach(qs, i, q) {
		json_t *one = NULL;
		k = check_query(&c, q, i, list, &one);
		if (k < 0)
			break;
		(void)json_array_append_new(list, one);
	}
	if (k >= 0)
		k = int_setting(&c, in, out, "intervalSeconds", 1, 3600, 60);
	if (k >= 0)
		k = int_setting(&c, in, out, "failAfter", 1, 1000, 3);
	if (k >= 0)
		k = int_setting(&c, in, out, "durationSeconds", 0, 7 * 86400, 600);
	if (k >= 0)
		k = enum_setting(&c, in, out, "noData", no_data);
	if (k >= 0)
		k = enum_setting(&c, in, out, "action", actions);
	if (k < 0) {
		json_decref(out);
		return k;
	}
	*ret = out;
	return 0;
}

const char *engine_analysis_verdict_name(enum engine_analysis_verdict v)
{
	return v == ENGINE_ANALYSIS_PASS ? "PASS" : v == ENGINE_ANALYSIS_FAIL ? "FAIL" : "NO_DATA";
}

enum engine_analysis_verdict engine_analysis_judge(const json_t *query, bool has_value, double value,
						   bool no_data_fails)
{
	const json_t *min = json_object_get(query, "min"), *max = json_object_get(query, "max");

	if (!has_value || isnan(value))
		return no_data_fails ? ENGINE_ANALYSIS_FAIL : ENGINE_ANALYSIS_NO_DATA;
	if ((json_is_number(min) && value < json_number_value(min)) ||
	    (json_is_number(max) && value > json_number_value(max)))
		return ENGINE_ANALYSIS_FAIL;
	return ENGINE_ANALYSIS_PASS;
}

int64_t engine_analysis_count(int64_t prev, enum engine_analysis_verdict v)
{
	return v == ENGINE_ANALYSIS_FAIL ? prev + 1 : v == ENGINE_ANALYSIS_PASS ? 0 : prev;
}

enum engine_analysis_phase engine_analysis_phase(int deploy_state, int64_t success_ms, int64_t duration_s,
						 int64_t now_ms)
{
	if (!deploy_state_is_active(deploy_state))
		return ENGINE_ANALYSIS_IDLE;
	if (deploy_state == DEPLOY_STATE_SUCCEEDING && success_ms > 0 && now_ms >= success_ms + duration_s * 1000)
		return ENGINE_ANALYSIS_DONE;
	return ENGINE_ANALYSIS_EVALUATE;
}

char *engine_analysis_substitute(const char *query, const char *const values[5])
{
	static const char *const names[5] = { "${ENV}", "${STAGE}", "${BUILD_ID}", "${DEPLOY_ID}", "${COMMIT}" };
	struct buf b;
	int k = 0;

	buf_init(&b, BUF_UNBOUNDED);
	for (const char *p = query; *p && k >= 0;) {
		size_t i;
		for (i = 0; i < 5; i++)
			if (startswith(p, names[i]))
				break;
		if (i < 5) {
			k = buf_appends(&b, values[i] ? values[i] : "");
			p += strlen(names[i]);
		} else {
			k = buf_appendc(&b, *p++);
		}
	}
	if (k < 0) {
		buf_release(&b);
		return NULL;
	}
	return buf_detach(&b);
}
