/* SPDX-License-Identifier: Apache-2.0 */
/* api/deploy_input.c: the pure validators of the deploy routes' inputs (PROTOCOL §4.5, §7.1,
 * §7.2): query parameters and JSON bodies in, a filled struct or a field + message out. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "deploy_input.h"
#include "enums.h"
#include "util.h"
#include "banned.h"

static int fail(struct deploy_input_error *err, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct deploy_input_error *err, const char *field, const char *fmt, ...)
{
	va_list ap;

	(void)str_copy(err->field, sizeof(err->field), field ? field : "");
	va_start(ap, fmt);
	(void)vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* v for a message: at most 64 bytes cut at a UTF-8 character boundary, or a placeholder when v is
 * not UTF-8 (the error body is JSON). */
static const char *shown(const char *v, char *buf, size_t size)
{
	size_t n = strlen(v);
	json_t *s;

	if (n >= size)
		n = size - 1;
	if (n > 64)
		n = 64;
	while (n > 0 && n < strlen(v) && ((unsigned char)v[n] & 0xc0) == 0x80)
		n--;
	memcpy(buf, v, n);
	buf[n] = 0;
	s = json_string(buf);
	if (!s)
		return "(not UTF-8)";
	json_decref(s);
	return buf;
}

/* A free-text value: bounded, and valid UTF-8 (query values are raw bytes after percent-decoding;
 * the JSON of every later answer needs UTF-8). */
static int text_ok(const char *key, const char *v, size_t max, struct deploy_input_error *err)
{
	json_t *s;

	if (!v)
		return 0;
	if (strlen(v) > max)
		return fail(err, key, "%s is longer than %zu characters", key, max);
	s = json_string(v);
	if (!s)
		return fail(err, key, "%s must be valid UTF-8", key);
	json_decref(s);
	return 0;
}

/* force and description, which every deploy creation and action takes */
static int query_order(const struct query *q, bool *ret_force, const char **ret_description,
		       struct deploy_input_error *err)
{
	const char *d = query_get(q, "description");
	int r;

	if (query_bool(q, "force", false, ret_force) < 0)
		return fail(err, "force", "force must be true or false");
	r = text_ok("description", d, DEPLOY_INPUT_DESCRIPTION_MAX, err);
	if (r < 0)
		return r;
	*ret_description = d;
	return 0;
}

/* An id parameter that must name something: present and non-empty (its format is checked by the
 * handler, which answers 404 for an id that cannot exist). */
static int query_id(const struct query *q, const char *key, bool required, const char *what, const char **ret,
		    struct deploy_input_error *err)
{
	const char *v = query_get(q, key);

	*ret = NULL;
	if (!v || !*v)
		return required ? fail(err, key, "%s is required%s", key, what) : 0;
	*ret = v;
	return 0;
}

int deploy_input_create(const struct query *q, int current_stage_type, struct deploy_create_input *ret,
			struct deploy_input_error *err)
{
	struct deploy_create_input in = { .delivery_type = -1 };
	const char *delivery;
	int r;

	r = query_order(q, &in.force, &in.description, err);
	if (r < 0)
		return r;
	delivery = query_get(q, "deliveryType");
	if (delivery) {
		int d = env_type_from_string(delivery);
		char b[72];
		if (d < 0)
			return fail(err, "deliveryType", "unknown deliveryType '%s'", shown(delivery, b, sizeof(b)));
		if (d == ENV_TYPE_DEFAULT)
			return fail(err, "deliveryType", "deliveryType DEFAULT cannot be set explicitly");
		if (current_stage_type > ENV_TYPE_DEFAULT && env_type_is_production(current_stage_type) &&
		    !env_type_is_production(d))
			return fail(err, "deliveryType", "a production stage cannot become %s", env_type_to_string(d));
		if (d != current_stage_type)
			in.delivery_type = d;
	}
	r = query_id(q, "buildId", true, "", &in.build_id, err);
	if (r < 0)
		return r;
	*ret = in;
	return 0;
}

static const char *const action_names[_DEPLOY_ACTION_MAX] = {
	[DEPLOY_ACTION_PROMOTE] = "PROMOTE", [DEPLOY_ACTION_ROLLBACK] = "ROLLBACK",
	[DEPLOY_ACTION_RESTART] = "RESTART", [DEPLOY_ACTION_PAUSE] = "PAUSE",
	[DEPLOY_ACTION_RESUME] = "RESUME",
};

const char *deploy_action_to_string(int a)
{
	return a >= 0 && a < _DEPLOY_ACTION_MAX ? action_names[a] : NULL;
}

int deploy_action_from_string(const char *s)
{
	if (!s)
		return -EINVAL;
	for (int a = 0; a < _DEPLOY_ACTION_MAX; a++)
		if (strcasecmp(s, action_names[a]) == 0)
			return a;
	return -EINVAL;
}

int deploy_input_action(const struct query *q, struct deploy_action_input *ret, struct deploy_input_error *err)
{
	struct deploy_action_input in = { 0 };
	const char *type = query_get(q, "actionType");
	char b[72];
	int a, r;

	if (!type || !*type)
		return fail(err, "actionType", "actionType is required (PROMOTE, ROLLBACK, RESTART, PAUSE or RESUME)");
	a = deploy_action_from_string(type);
	if (a < 0)
		return fail(err, "actionType", "unknown actionType '%s' (PROMOTE, ROLLBACK, RESTART, PAUSE or RESUME)",
			    shown(type, b, sizeof(b)));
	in.action = (enum deploy_action)a;
	r = query_order(q, &in.force, &in.description, err);
	if (r < 0)
		return r;
	if (in.action == DEPLOY_ACTION_PROMOTE)
		r = query_id(q, "fromDeployId", true, " for PROMOTE", &in.from_deploy_id, err);
	else if (in.action == DEPLOY_ACTION_ROLLBACK)
		r = query_id(q, "toDeployId", false, "", &in.to_deploy_id, err);
	if (r < 0)
		return r;
	*ret = in;
	return 0;
}

int deploy_input_host_action(const struct query *q, enum store_agent_action *ret, struct deploy_input_error *err)
{
	if (api_agent_action_from_string(query_get(q, "actionType"), ret) < 0)
		return fail(err, "actionType", "actionType must be PAUSED_BY_USER, RESET or NORMAL");
	return 0;
}

int deploy_input_host_ids(const json_t *in, struct deploy_input_error *err)
{
	json_t *v;
	size_t i;

	if (!in)
		return fail(err, NULL, "a JSON array of host ids is required");
	if (!json_is_array(in))
		return fail(err, NULL, "the body must be a JSON array of host ids");
	if (json_array_size(in) > DEPLOY_INPUT_HOST_IDS_MAX)
		return fail(err, NULL, "at most %d host ids are allowed", DEPLOY_INPUT_HOST_IDS_MAX);
	json_array_foreach(in, i, v) {
		if (!json_is_string(v) || !api_host_ok(json_string_value(v))) {
			char field[32];
			(void)str_printf(field, sizeof(field), "[%zu]", i);
			return fail(err, field, "invalid host id");
		}
	}
	return 0;
}

static int body_text(const json_t *in, const char *key, size_t max, const char **ret, struct deploy_input_error *err)
{
	json_t *v = json_object_get(in, key);

	*ret = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return fail(err, key, "%s must be a string", key);
	if (json_string_length(v) > max)
		return fail(err, key, "%s is longer than %zu characters", key, max);
	if (strlen(json_string_value(v)) != json_string_length(v))
		return fail(err, key, "%s must not contain NUL characters", key);
	*ret = json_string_value(v);
	return 0;
}

int deploy_input_accept(const json_t *in, struct deploy_accept_input *ret, struct deploy_input_error *err)
{
	struct deploy_accept_input out = { 0 };
	const char *status;
	char b[72];
	int r;

	if (!in)
		return fail(err, NULL, "a JSON body is required");
	if (!json_is_object(in))
		return fail(err, NULL, "the body must be a JSON object");
	r = body_text(in, "acceptanceStatus", 64, &status, err);
	if (r < 0)
		return r;
	r = body_text(in, "description", DEPLOY_INPUT_DESCRIPTION_MAX, &out.description, err);
	if (r < 0)
		return r;
	if (!status)
		return fail(err, "acceptanceStatus", "acceptanceStatus is required (ACCEPTED or REJECTED)");
	out.acceptance_status = acceptance_status_from_string(status);
	if (out.acceptance_status != ACCEPTANCE_STATUS_ACCEPTED && out.acceptance_status != ACCEPTANCE_STATUS_REJECTED)
		return fail(err, "acceptanceStatus", "acceptanceStatus must be ACCEPTED or REJECTED, not '%s'",
			    shown(status, b, sizeof(b)));
	*ret = out;
	return 0;
}
