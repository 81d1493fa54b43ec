/* SPDX-License-Identifier: Apache-2.0 */
/* proto/wire_ping.c: JSON (de)serialisation of PingRequest/PingReport (PROTOCOL.md §3.6, §5.1): the strict
 * validation of what an agent reports, and its encoding on the agent's side. Does not log. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "names.h"
#include "util.h"
#include "wire.h"
#include "wire_json.h"
#include "banned.h"

/* ---- Ping request ----------------------------------------------------------------------------- */

void ping_report_release(struct ping_report *rep)
{
	if (!rep)
		return;
	free(rep->env_id);
	free(rep->deploy_id);
	free(rep->deploy_alias);
	free(rep->error_message);
	free(rep->container_health_status);
	memset(rep, 0, sizeof(*rep));
}

void ping_request_release(struct ping_request *req)
{
	if (!req)
		return;
	free(req->host_id);
	free(req->host_name);
	free(req->host_ip);
	free(req->autoscaling_group);
	free(req->availability_zone);
	free(req->account_id);
	free(req->agent_version);
	for (size_t i = 0; i < req->n_groups; i++)
		free(req->groups[i]);
	free(req->groups);
	for (size_t i = 0; i < req->n_reports; i++)
		ping_report_release(&req->reports[i]);
	free(req->reports);
	for (size_t i = 0; i < req->n_tags; i++) {
		free(req->tags[i].key);
		free(req->tags[i].value);
	}
	free(req->tags);
	memset(req, 0, sizeof(*req));
}

void ping_request_free(struct ping_request *req)
{
	ping_request_release(req);
	free(req);
}

/* errorMessage: drop NUL bytes, keep the last PING_ERROR_MESSAGE_MAX_BYTES bytes, never starting
 * inside a UTF-8 sequence (jansson has already checked the string is valid UTF-8). */
static int error_message_copy(const json_t *v, char **ret)
{
	const char *s = json_string_value(v);
	size_t len = json_string_length(v), n = 0, start = 0;
	char *c;

	c = malloc(len + 1);
	if (!c)
		return -ENOMEM;
	for (size_t i = 0; i < len; i++)
		if (s[i])
			c[n++] = s[i];
	c[n] = 0;
	if (n > PING_ERROR_MESSAGE_MAX_BYTES) {
		start = n - PING_ERROR_MESSAGE_MAX_BYTES;
		while (start < n && ((unsigned char)c[start] & 0xC0) == 0x80)
			start++;
		memmove(c, c + start, n - start + 1);
	}
	*ret = c;
	return 0;
}

/* containerHealthStatus: the first PING_CONTAINER_HEALTH_MAX_CHARS characters. */
static int container_health_copy(const char *s, char **ret)
{
	size_t chars = 0, i = 0;
	char *c;

	for (; s[i]; i++) {
		if (((unsigned char)s[i] & 0xC0) != 0x80) {
			if (chars == PING_CONTAINER_HEALTH_MAX_CHARS)
				break;
			chars++;
		}
	}
	c = strndup(s, i);
	if (!c)
		return -ENOMEM;
	*ret = c;
	return 0;
}

/* envId, deployId, deployAlias of a report: opaque ids, but they reach logs and SQL, so a bounded
 * id charset (a little longer than ours, for ids imported from elsewhere). "" counts as null. */
static int get_report_id(const json_t *o, const char *key, const char *prefix, char **ret, struct proto_error *err)
{
	char field[128];
	char *s = NULL;
	int r;

	snprintf(field, sizeof(field), "%s.%s", prefix, key);
	r = wire_get_str_strict(o, key, field, 64, false, &s, err);
	if (r < 0)
		return r;
	if (s && !*s)
		wire_free_str(&s);
	if (s && !str_charset_ok(s, "_-", 1, 64)) {
		free(s);
		return wire_err(err, field, "%s must match ^[A-Za-z0-9_-]{1,64}$", field);
	}
	*ret = s;
	return 0;
}

static int get_report_enum(const json_t *o, const char *key, const char *prefix, wire_enum_from_fn from, int dflt,
			   int *ret, struct proto_error *err)
{
	json_t *v = json_object_get(o, key);
	char field[128];
	int x;

	if (!v || json_is_null(v)) {
		*ret = dflt;
		return 0;
	}
	snprintf(field, sizeof(field), "%s.%s", prefix, key);
	if (!json_is_string(v))
		return wire_err(err, field, "%s must be a string", field);
	x = from(json_string_value(v));
	if (x < 0)
		return wire_err(err, field, "%s: unknown value '%.64s'", field, json_string_value(v));
	*ret = x;
	return 0;
}

static int get_report_int(const json_t *o, const char *key, const char *prefix, int64_t min, int64_t max, int *ret,
			  struct proto_error *err)
{
	json_t *v = json_object_get(o, key);
	char field[128];

	if (!v || json_is_null(v)) {
		*ret = 0;
		return 0;
	}
	snprintf(field, sizeof(field), "%s.%s", prefix, key);
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
		return wire_err(err, field, "%s must be an integer in %lld..%lld", field, (long long)min, (long long)max);
	*ret = (int)json_integer_value(v);
	return 0;
}

/* One report. Returns 1 when the report has no envId and is to be dropped. */
static int report_from_json(const json_t *o, size_t idx, struct ping_report *ret, struct proto_error *err)
{
	struct ping_report rep = {};
	char prefix[64];
	json_t *v;
	int r;

	snprintf(prefix, sizeof(prefix), "reports[%zu]", idx);
	if (!json_is_object(o))
		return wire_err(err, prefix, "%s must be an object", prefix);
	r = get_report_id(o, "envId", prefix, &rep.env_id, err);
	if (r < 0)
		goto out;
	if (!rep.env_id) {
		r = 1;
		goto out;
	}
	r = get_report_id(o, "deployId", prefix, &rep.deploy_id, err);
	if (r < 0)
		goto out;
	r = get_report_id(o, "deployAlias", prefix, &rep.deploy_alias, err);
	if (r < 0)
		goto out;
	r = get_report_enum(o, "deployStage", prefix, deploy_stage_from_string, DEPLOY_STAGE_UNKNOWN, &rep.deploy_stage,
			    err);
	if (r < 0)
		goto out;
	r = get_report_enum(o, "agentStatus", prefix, agent_status_from_string, AGENT_STATUS_UNKNOWN, &rep.agent_status,
			    err);
	if (r < 0)
		goto out;
	r = get_report_int(o, "errorCode", prefix, INT32_MIN, INT32_MAX, &rep.error_code, err);
	if (r < 0)
		goto out;
	r = get_report_int(o, "failCount", prefix, 0, INT32_MAX, &rep.fail_count, err);
	if (r < 0)
		goto out;
	v = json_object_get(o, "errorMessage");
	if (v && !json_is_null(v)) {
		if (!json_is_string(v)) {
			char field[128];

			snprintf(field, sizeof(field), "%s.errorMessage", prefix);
			r = wire_err(err, field, "%s must be a string", field);
			goto out;
		}
		r = error_message_copy(v, &rep.error_message);
		if (r < 0)
			goto out;
	}
	/* hint fields: never an error, whatever their type or value */
	v = json_object_get(o, "agentState");
	rep.reset_by_system = json_is_string(v) && strcasecmp(json_string_value(v), "RESET_BY_SYSTEM") == 0;
	v = json_object_get(o, "containerHealthStatus");
	if (json_is_string(v)) {
		r = container_health_copy(json_string_value(v), &rep.container_health_status);
		if (r < 0)
			goto out;
	}
	*ret = rep;
	memset(&rep, 0, sizeof(rep));
	r = 0;
out:
	ping_report_release(&rep);
	return r;
}

static int get_identity(const json_t *j, const char *key, char **ret, struct proto_error *err)
{
	char *s = NULL;
	int r;

	r = wire_get_str_strict(j, key, key, WIRE_STRING_MAX_CHARS, false, &s, err);
	if (r < 0)
		return r;
	if (s && wire_has_control(s)) {
		free(s);
		return wire_err(err, key, "%s must not contain control characters", key);
	}
	*ret = s;
	return 0;
}

/* "groups" (optional): valid group names, duplicates dropped, into req (released by the caller on error). */
static int groups_from_json(const json_t *j, struct ping_request *req, struct proto_error *err)
{
	json_t *groups = json_object_get(j, "groups"), *v;
	size_t i;
	int r;

	if (!groups || json_is_null(groups))
		return 0;
	if (!json_is_array(groups))
		return wire_err(err, "groups", "groups must be an array of strings");
	if (json_array_size(groups) > PING_MAX_GROUPS)
		return wire_err(err, "groups", "at most %d groups are allowed", PING_MAX_GROUPS);
	req->groups = calloc(json_array_size(groups) + 1, sizeof(char *));
	if (!req->groups)
		return -ENOMEM;
	json_array_foreach(groups, i, v)
	{
		const char *g = json_is_string(v) ? json_string_value(v) : NULL;
		bool dup = false;

		if (!g || strlen(g) != json_string_length(v) || !group_name_is_valid(g)) {
			char field[32];

			snprintf(field, sizeof(field), "groups[%zu]", i);
			return wire_err(err, field, "%s must match ^[A-Za-z0-9._:-]{1,128}$", field);
		}
		for (size_t k = 0; k < req->n_groups && !dup; k++)
			dup = streq(req->groups[k], g);
		if (dup)
			continue;
		r = wire_dup_str(g, &req->groups[req->n_groups]);
		if (r < 0)
			return r;
		req->n_groups++;
	}
	return 0;
}

/* "reports" (optional): one report per envId (the last wins), into req (released by the caller on error). */
static int reports_from_json(const json_t *j, struct ping_request *req, struct proto_error *err)
{
	json_t *reports = json_object_get(j, "reports"), *v;
	size_t i;
	int r;

	if (!reports || json_is_null(reports))
		return 0;
	if (!json_is_array(reports))
		return wire_err(err, "reports", "reports must be an array");
	if (json_array_size(reports) > PING_MAX_REPORTS)
		return wire_err(err, "reports", "at most %d reports are allowed", PING_MAX_REPORTS);
	req->reports = calloc(json_array_size(reports) + 1, sizeof(struct ping_report));
	if (!req->reports)
		return -ENOMEM;
	json_array_foreach(reports, i, v)
	{
		struct ping_report rep = {};
		size_t k;

		r = report_from_json(v, i, &rep, err);
		if (r < 0)
			return r;
		if (r > 0)
			continue; /* no envId: ignored (§5.1) */
		for (k = 0; k < req->n_reports; k++)
			if (streq(req->reports[k].env_id, rep.env_id))
				break;
		if (k < req->n_reports) /* the last report for an envId wins */
			ping_report_release(&req->reports[k]);
		else
			req->n_reports++;
		req->reports[k] = rep;
	}
	return 0;
}

static int tag_cmp(const void *a, const void *b)
{
	return strcmp(((const struct ping_tag *)a)->key, ((const struct ping_tag *)b)->key);
}

/* The tags of an ec2Tags object into req, sorted by key (released by the caller on error). */
static int tags_from_object(const json_t *tags, struct ping_request *req, struct proto_error *err)
{
	const char *k;
	json_t *v;
	int r;

	if (!json_is_object(tags))
		return wire_err(err, "ec2Tags", "ec2Tags must be an object of strings");
	if (json_object_size(tags) > PING_MAX_TAGS)
		return wire_err(err, "ec2Tags", "at most %d tags are allowed", PING_MAX_TAGS);
	req->tags = calloc(json_object_size(tags) + 1, sizeof(*req->tags));
	if (!req->tags)
		return -ENOMEM;
	json_object_foreach((json_t *)tags, k, v)
	{
		if (!tag_key_is_valid(k))
			return wire_err(err, "ec2Tags", "ec2Tags keys must match ^[A-Za-z0-9:_.-]{1,64}$");
		if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v) ||
		    json_string_length(v) > PING_TAG_VALUE_MAX_BYTES) {
			char field[80];

			snprintf(field, sizeof(field), "ec2Tags.%s", k);
			return wire_err(err, field, "%s must be a string of at most %d bytes", field,
					PING_TAG_VALUE_MAX_BYTES);
		}
		r = wire_dup_str(k, &req->tags[req->n_tags].key);
		if (r >= 0)
			r = wire_dup_str(json_string_value(v), &req->tags[req->n_tags].value);
		req->n_tags++;
		if (r < 0)
			return r;
	}
	qsort(req->tags, req->n_tags, sizeof(*req->tags), tag_cmp);
	return 0;
}

/* "ec2Tags" (optional): an object of tag key → string value, or (as the upstream Python agent sends it) a string
 * holding that object's JSON; "" counts as no tags. */
static int tags_from_json(const json_t *j, struct ping_request *req, struct proto_error *err)
{
	json_t *tags = json_object_get(j, "ec2Tags"), *parsed;
	int r;

	if (!tags || json_is_null(tags))
		return 0;
	if (!json_is_string(tags))
		return tags_from_object(tags, req, err);
	if (json_string_length(tags) == 0)
		return 0;
	parsed = json_loadb(json_string_value(tags), json_string_length(tags), JSON_REJECT_DUPLICATES, NULL);
	if (!parsed)
		return wire_err(err, "ec2Tags", "ec2Tags must be an object of strings");
	r = tags_from_object(parsed, req, err);
	json_decref(parsed);
	return r;
}

int ping_request_from_json(const json_t *j, struct ping_request *ret, struct proto_error *err)
{
	struct ping_request req = {};
	int r;

	if (!json_is_object(j))
		return wire_err(err, "", "ping must be a JSON object");

	r = wire_get_str_strict(j, "hostId", "hostId", 64, true, &req.host_id, err);
	if (r < 0)
		goto out;
	if (!host_name_is_valid(req.host_id)) {
		r = wire_err(err, "hostId", "hostId must match ^[A-Za-z0-9._-]{1,64}$");
		goto out;
	}
	r = wire_get_str_strict(j, "hostName", "hostName", 64, false, &req.host_name, err);
	if (r < 0)
		goto out;
	if (req.host_name && !*req.host_name)
		wire_free_str(&req.host_name);
	if (req.host_name && !host_name_is_valid(req.host_name)) {
		r = wire_err(err, "hostName", "hostName must match ^[A-Za-z0-9._-]{1,64}$");
		goto out;
	}
	if (!req.host_name && (r = wire_dup_str(req.host_id, &req.host_name)) < 0)
		goto out;

	r = wire_get_str_strict(j, "hostIp", "hostIp", 64, false, &req.host_ip, err);
	if (r < 0)
		goto out;
	if (req.host_ip && !*req.host_ip)
		wire_free_str(&req.host_ip);
	if (req.host_ip && !str_charset_ok(req.host_ip, ".:%_-", 1, 64)) {
		r = wire_err(err, "hostIp", "hostIp must be an IP address");
		goto out;
	}
	if ((r = get_identity(j, "autoscalingGroup", &req.autoscaling_group, err)) < 0 ||
	    (r = get_identity(j, "availabilityZone", &req.availability_zone, err)) < 0 ||
	    (r = get_identity(j, "accountId", &req.account_id, err)) < 0 ||
	    (r = get_identity(j, "agentVersion", &req.agent_version, err)) < 0)
		goto out;
	if (!req.agent_version && (r = wire_dup_str("UNKNOWN", &req.agent_version)) < 0)
		goto out;

	r = groups_from_json(j, &req, err);
	if (r >= 0)
		r = reports_from_json(j, &req, err);
	if (r >= 0)
		r = tags_from_json(j, &req, err);
	if (r < 0)
		goto out;
	*ret = req;
	memset(&req, 0, sizeof(req));
	r = 0;
out:
	ping_request_release(&req);
	return r;
}

static int report_to_json(const struct ping_report *rep, json_t **ret)
{
	json_t *o = json_object();
	int r;

	if (!o)
		return -ENOMEM;
	if ((r = wire_set_str(o, "envId", rep->env_id)) < 0 || (r = wire_set_str(o, "deployId", rep->deploy_id)) < 0 ||
	    (r = wire_set_str(o, "deployAlias", rep->deploy_alias)) < 0 ||
	    (r = wire_set_enum(o, "deployStage", deploy_stage_to_string, rep->deploy_stage, NULL)) < 0 ||
	    (r = wire_set_enum(o, "agentStatus", agent_status_to_string, rep->agent_status, NULL)) < 0 ||
	    (r = wire_set_new(o, "errorCode", json_integer(rep->error_code))) < 0 ||
	    (r = wire_set_str(o, "errorMessage", rep->error_message)) < 0 ||
	    (r = wire_set_new(o, "failCount", json_integer(rep->fail_count))) < 0)
		goto fail;
	if (rep->reset_by_system && (r = wire_set_str(o, "agentState", "RESET_BY_SYSTEM")) < 0)
		goto fail;
	if (rep->container_health_status && (r = wire_set_str(o, "containerHealthStatus", rep->container_health_status)) < 0)
		goto fail;
	*ret = o;
	return 0;
fail:
	json_decref(o);
	return r;
}

static int set_str_if(json_t *o, const char *key, const char *value)
{
	return value ? wire_set_str(o, key, value) : 0;
}

int ping_request_to_json(const struct ping_request *req, json_t **ret)
{
	json_t *o = json_object(), *a = NULL;
	int r = -ENOMEM;

	if (!o)
		return -ENOMEM;
	if ((r = set_str_if(o, "hostId", req->host_id)) < 0 || (r = set_str_if(o, "hostName", req->host_name)) < 0 ||
	    (r = set_str_if(o, "hostIp", req->host_ip)) < 0 ||
	    (r = set_str_if(o, "autoscalingGroup", req->autoscaling_group)) < 0 ||
	    (r = set_str_if(o, "availabilityZone", req->availability_zone)) < 0 ||
	    (r = set_str_if(o, "accountId", req->account_id)) < 0 ||
	    (r = set_str_if(o, "agentVersion", req->agent_version)) < 0)
		goto fail;
	if (req->n_groups > 0) {
		a = json_array();
		if (!a) {
			r = -ENOMEM;
			goto fail;
		}
		for (size_t i = 0; i < req->n_groups; i++) {
			json_t *g = json_string(req->groups[i]);

			if (!g || json_array_append_new(a, g) < 0) {
				r = g ? -ENOMEM : -EINVAL;
				goto fail;
			}
		}
		r = wire_set_new(o, "groups", a);
		a = NULL;
		if (r < 0)
			goto fail;
	}
	if (req->n_tags > 0) {
		a = json_object();
		for (size_t i = 0; a && i < req->n_tags; i++)
			if (wire_set_str(a, req->tags[i].key, req->tags[i].value) < 0) {
				r = -ENOMEM;
				goto fail;
			}
		r = a ? wire_set_new(o, "ec2Tags", a) : -ENOMEM;
		a = NULL;
		if (r < 0)
			goto fail;
	}
	a = json_array();
	if (!a) {
		r = -ENOMEM;
		goto fail;
	}
	for (size_t i = 0; i < req->n_reports; i++) {
		json_t *rep = NULL;

		r = report_to_json(&req->reports[i], &rep);
		if (r < 0)
			goto fail;
		if (json_array_append_new(a, rep) < 0) {
			r = -ENOMEM;
			goto fail;
		}
	}
	r = wire_set_new(o, "reports", a);
	a = NULL;
	if (r < 0)
		goto fail;
	*ret = o;
	return 0;
fail:
	json_decref(a);
	json_decref(o);
	return r;
}
