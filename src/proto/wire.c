/* SPDX-License-Identifier: Apache-2.0 */
/* proto/wire.c: JSON (de)serialisation of Build, PingRequest/PingReport and PingResponse/DeployGoal
 * (PROTOCOL.md §3.2, §3.6, §5.8). The only file that spells these JSON field names. Does not log. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hash.h"
#include "names.h"
#include "util.h"
#include "wire.h"
#include "banned.h"

typedef int (*enum_from_string_fn)(const char *s);
typedef const char *(*enum_to_string_fn)(int v);

/* ---- small helpers ---------------------------------------------------------------------------- */

size_t utf8_strlen(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			n++;
	return n;
}

static void free_str(char **p)
{
	free(*p);
	*p = NULL;
}

static int dup_str(const char *s, char **ret)
{
	char *c;

	if (!s) {
		*ret = NULL;
		return 0;
	}
	c = strdup(s);
	if (!c)
		return -ENOMEM;
	*ret = c;
	return 0;
}

static int perr(struct proto_error *err, const char *field, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int perr(struct proto_error *err, const char *field, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return -EINVAL;
	snprintf(err->field, sizeof(err->field), "%s", field ? field : "");
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static bool has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

/* Strict string getter. Absent or null → *ret = NULL (or an error when required); otherwise the
 * value must be a string without NUL bytes of at most max_chars characters. *ret is malloc'd. */
static int get_str_strict(const json_t *obj, const char *key, const char *field, size_t max_chars, bool required,
			  char **ret, struct proto_error *err)
{
	json_t *v = json_object_get(obj, key);
	const char *s;

	if (!v || json_is_null(v)) {
		if (required)
			return perr(err, field, "%s is required", field);
		*ret = NULL;
		return 0;
	}
	if (!json_is_string(v))
		return perr(err, field, "%s must be a string", field);
	s = json_string_value(v);
	if (strlen(s) != json_string_length(v))
		return perr(err, field, "%s must not contain NUL characters", field);
	if (utf8_strlen(s) > max_chars)
		return perr(err, field, "%s is longer than %zu characters", field, max_chars);
	if (required && !*s)
		return perr(err, field, "%s must not be empty", field);
	return dup_str(s, ret);
}

/* Lenient string getter: absent or null → NULL; a non-string → -EBADMSG. */
static int get_str_lenient(const json_t *obj, const char *key, char **ret)
{
	json_t *v = json_object_get(obj, key);

	if (!v || json_is_null(v)) {
		*ret = NULL;
		return 0;
	}
	if (!json_is_string(v))
		return -EBADMSG;
	return dup_str(json_string_value(v), ret);
}

static int get_bool_lenient(const json_t *obj, const char *key, bool *ret)
{
	json_t *v = json_object_get(obj, key);

	if (!v || json_is_null(v)) {
		*ret = false;
		return 0;
	}
	if (!json_is_boolean(v))
		return -EBADMSG;
	*ret = json_is_true(v);
	return 0;
}

static int get_date_lenient(const json_t *obj, const char *key, int64_t *ret)
{
	json_t *v = json_object_get(obj, key);

	if (!v || json_is_null(v)) {
		*ret = 0;
		return 0;
	}
	if (!json_is_integer(v))
		return -EBADMSG;
	*ret = json_integer_value(v);
	return 0;
}

/* Lenient enum: absent/null → -ENOENT, known → value, unknown → -EINVAL; raw keeps the string. */
static int get_enum_lenient(const json_t *obj, const char *key, enum_from_string_fn from, int *ret_value,
			    char **ret_raw)
{
	json_t *v = json_object_get(obj, key);
	char *raw = NULL;

	if (!v || json_is_null(v)) {
		*ret_value = -ENOENT;
		*ret_raw = NULL;
		return 0;
	}
	if (!json_is_string(v))
		return -EBADMSG;
	raw = strdup(json_string_value(v));
	if (!raw)
		return -ENOMEM;
	*ret_value = from(raw);
	if (*ret_value < 0)
		*ret_value = -EINVAL;
	*ret_raw = raw;
	return 0;
}

/* Set obj[key] = string or null. json_string() refuses invalid UTF-8: -EINVAL then. */
static int set_str(json_t *obj, const char *key, const char *value)
{
	json_t *v;

	if (!value)
		return json_object_set_new(obj, key, json_null()) == 0 ? 0 : -ENOMEM;
	v = json_string(value);
	if (!v)
		return -EINVAL;
	return json_object_set_new(obj, key, v) == 0 ? 0 : -ENOMEM;
}

static int set_new(json_t *obj, const char *key, json_t *v)
{
	if (!v)
		return -ENOMEM;
	return json_object_set_new(obj, key, v) == 0 ? 0 : -ENOMEM;
}

static int set_date(json_t *obj, const char *key, int64_t ms)
{
	return set_new(obj, key, ms ? json_integer(ms) : json_null());
}

/* Enum value name when known, else the raw string, else null. */
static int set_enum(json_t *obj, const char *key, enum_to_string_fn to, int value, const char *raw)
{
	const char *s = value >= 0 ? to(value) : NULL;

	return set_str(obj, key, s ? s : raw);
}

/* ---- Build ------------------------------------------------------------------------------------ */

void build_release(struct build *b)
{
	if (!b)
		return;
	free(b->id);
	free(b->name);
	free(b->artifact_url);
	free(b->type);
	free(b->repo);
	free(b->branch);
	free(b->commit);
	free(b->commit_short);
	free(b->commit_info);
	free(b->publish_info);
	free(b->publisher);
	free(b->artifact_sha256);
	free(b->artifact_signature);
	memset(b, 0, sizeof(*b));
}

void build_free(struct build *b)
{
	build_release(b);
	free(b);
}

int build_copy(const struct build *src, struct build *ret)
{
	struct build b = {.commit_date = src->commit_date, .publish_date = src->publish_date};
	int r;

	if ((r = dup_str(src->id, &b.id)) < 0 || (r = dup_str(src->name, &b.name)) < 0 ||
	    (r = dup_str(src->artifact_url, &b.artifact_url)) < 0 || (r = dup_str(src->type, &b.type)) < 0 ||
	    (r = dup_str(src->repo, &b.repo)) < 0 || (r = dup_str(src->branch, &b.branch)) < 0 ||
	    (r = dup_str(src->commit, &b.commit)) < 0 || (r = dup_str(src->commit_short, &b.commit_short)) < 0 ||
	    (r = dup_str(src->commit_info, &b.commit_info)) < 0 ||
	    (r = dup_str(src->publish_info, &b.publish_info)) < 0 || (r = dup_str(src->publisher, &b.publisher)) < 0 ||
	    (r = dup_str(src->artifact_sha256, &b.artifact_sha256)) < 0 ||
	    (r = dup_str(src->artifact_signature, &b.artifact_signature)) < 0) {
		build_release(&b);
		return r;
	}
	*ret = b;
	return 0;
}

int build_to_json(const struct build *b, json_t **ret)
{
	json_t *o = json_object();
	int r;

	if (!o)
		return -ENOMEM;
	if ((r = set_str(o, "id", b->id)) < 0 || (r = set_str(o, "name", b->name)) < 0 ||
	    (r = set_str(o, "artifactUrl", b->artifact_url)) < 0 || (r = set_str(o, "type", b->type)) < 0 ||
	    (r = set_str(o, "repo", b->repo)) < 0 || (r = set_str(o, "branch", b->branch)) < 0 ||
	    (r = set_str(o, "commit", b->commit)) < 0 || (r = set_str(o, "commitShort", b->commit_short)) < 0 ||
	    (r = set_str(o, "commitInfo", b->commit_info)) < 0 || (r = set_date(o, "commitDate", b->commit_date)) < 0 ||
	    (r = set_str(o, "publishInfo", b->publish_info)) < 0 ||
	    (r = set_date(o, "publishDate", b->publish_date)) < 0 || (r = set_str(o, "publisher", b->publisher)) < 0 ||
	    (r = set_str(o, "artifactSha256", b->artifact_sha256)) < 0 ||
	    (r = set_str(o, "artifactSignature", b->artifact_signature)) < 0) {
		json_decref(o);
		return r;
	}
	*ret = o;
	return 0;
}

int build_from_json(const json_t *j, struct build *ret)
{
	struct build b = {};
	int r;

	if (!json_is_object(j))
		return -EBADMSG;
	if ((r = get_str_lenient(j, "id", &b.id)) < 0 || (r = get_str_lenient(j, "name", &b.name)) < 0 ||
	    (r = get_str_lenient(j, "artifactUrl", &b.artifact_url)) < 0 ||
	    (r = get_str_lenient(j, "type", &b.type)) < 0 || (r = get_str_lenient(j, "repo", &b.repo)) < 0 ||
	    (r = get_str_lenient(j, "branch", &b.branch)) < 0 || (r = get_str_lenient(j, "commit", &b.commit)) < 0 ||
	    (r = get_str_lenient(j, "commitShort", &b.commit_short)) < 0 ||
	    (r = get_str_lenient(j, "commitInfo", &b.commit_info)) < 0 ||
	    (r = get_date_lenient(j, "commitDate", &b.commit_date)) < 0 ||
	    (r = get_str_lenient(j, "publishInfo", &b.publish_info)) < 0 ||
	    (r = get_date_lenient(j, "publishDate", &b.publish_date)) < 0 ||
	    (r = get_str_lenient(j, "publisher", &b.publisher)) < 0 ||
	    (r = get_str_lenient(j, "artifactSha256", &b.artifact_sha256)) < 0 ||
	    (r = get_str_lenient(j, "artifactSignature", &b.artifact_signature)) < 0) {
		build_release(&b);
		return r;
	}
	*ret = b;
	return 0;
}

static bool artifact_url_scheme_ok(const char *url)
{
	static const char *const schemes[] = {"https://", "http://", "s3://", "file://"};

	for (size_t i = 0; i < ELEMENTSOF(schemes); i++)
		if (strncasecmp(url, schemes[i], strlen(schemes[i])) == 0 && url[strlen(schemes[i])])
			return true;
	return false;
}

static int check_input_date(const json_t *j, const char *key, int64_t *ret, struct proto_error *err)
{
	json_t *v = json_object_get(j, key);

	*ret = 0;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return perr(err, key, "%s must be a non-negative integer (epoch milliseconds)", key);
	*ret = json_integer_value(v);
	return 0;
}

int build_input_from_json(const json_t *j, struct build *ret, struct proto_error *err)
{
	struct build b = {};
	int r;

	if (!json_is_object(j)) {
		r = perr(err, "", "build must be a JSON object");
		goto out;
	}
	r = get_str_strict(j, "name", "name", BUILD_FIELD_MAX_CHARS, true, &b.name, err);
	if (r < 0)
		goto out;
	if (!build_name_is_valid(b.name)) {
		r = perr(err, "name", "name must match ^[A-Za-z0-9_./-]{1,64}$");
		goto out;
	}
	r = get_str_strict(j, "artifactUrl", "artifactUrl", BUILD_URL_MAX_CHARS, true, &b.artifact_url, err);
	if (r < 0)
		goto out;
	if (has_control(b.artifact_url) || strchr(b.artifact_url, ' ') || !artifact_url_scheme_ok(b.artifact_url)) {
		r = perr(err, "artifactUrl", "artifactUrl must be an https, http, s3 or file URL without spaces");
		goto out;
	}
	r = get_str_strict(j, "type", "type", BUILD_FIELD_MAX_CHARS, false, &b.type, err);
	if (r < 0)
		goto out;
	if (b.type && has_control(b.type)) {
		r = perr(err, "type", "type must not contain control characters");
		goto out;
	}
	r = get_str_strict(j, "repo", "repo", BUILD_FIELD_MAX_CHARS, true, &b.repo, err);
	if (r < 0)
		goto out;
	if (has_control(b.repo)) {
		r = perr(err, "repo", "repo must not contain control characters");
		goto out;
	}
	r = get_str_strict(j, "branch", "branch", BUILD_FIELD_MAX_CHARS, true, &b.branch, err);
	if (r < 0)
		goto out;
	if (has_control(b.branch)) {
		r = perr(err, "branch", "branch must not contain control characters");
		goto out;
	}
	r = get_str_strict(j, "commit", "commit", BUILD_FIELD_MAX_CHARS, true, &b.commit, err);
	if (r < 0)
		goto out;
	if (!commit_is_valid(b.commit)) {
		r = perr(err, "commit", "commit must match ^[A-Za-z0-9_-]{1,64}$");
		goto out;
	}
	r = get_str_strict(j, "commitShort", "commitShort", BUILD_COMMIT_SHORT_MAX_CHARS, false, &b.commit_short, err);
	if (r < 0)
		goto out;
	if (b.commit_short && !str_charset_ok(b.commit_short, "_-", 1, BUILD_COMMIT_SHORT_MAX_CHARS)) {
		r = perr(err, "commitShort", "commitShort must match ^[A-Za-z0-9_-]{1,7}$");
		goto out;
	}
	if (!b.commit_short) {
		b.commit_short = strndup(b.commit, BUILD_COMMIT_SHORT_MAX_CHARS);
		if (!b.commit_short) {
			r = -ENOMEM;
			goto out;
		}
	}
	r = get_str_strict(j, "commitInfo", "commitInfo", BUILD_INFO_MAX_CHARS, false, &b.commit_info, err);
	if (r < 0)
		goto out;
	r = get_str_strict(j, "publishInfo", "publishInfo", BUILD_INFO_MAX_CHARS, false, &b.publish_info, err);
	if (r < 0)
		goto out;
	r = check_input_date(j, "commitDate", &b.commit_date, err);
	if (r < 0)
		goto out;
	r = check_input_date(j, "publishDate", &b.publish_date, err);
	if (r < 0)
		goto out;

	r = get_str_strict(j, "artifactSha256", "artifactSha256", SHA256_HEX_LEN, false, &b.artifact_sha256, err);
	if (r < 0)
		goto out;
	if (b.artifact_sha256) {
		if (strlen(b.artifact_sha256) != SHA256_HEX_LEN ||
		    strspn(b.artifact_sha256, "0123456789abcdefABCDEF") != SHA256_HEX_LEN) {
			r = perr(err, "artifactSha256", "artifactSha256 must be 64 hexadecimal characters");
			goto out;
		}
		for (char *p = b.artifact_sha256; *p; p++)
			if (*p >= 'A' && *p <= 'F')
				*p = (char)(*p - 'A' + 'a');
	}

	/* 64 bytes encode to exactly 88 characters; anything longer cannot be right */
	r = get_str_strict(j, "artifactSignature", "artifactSignature", 88, false, &b.artifact_signature, err);
	if (r == -EINVAL && streq(err ? err->field : "", "artifactSignature"))
		r = perr(err, "artifactSignature", "artifactSignature must be base64 of a 64-byte Ed25519 signature");
	if (r < 0)
		goto out;
	if (b.artifact_signature) {
		unsigned char sig[96];
		size_t n = 0;

		if (base64_decode(b.artifact_signature, sig, sizeof(sig), &n) < 0 || n != BUILD_SIGNATURE_BYTES) {
			r = perr(err, "artifactSignature",
				 "artifactSignature must be base64 of a 64-byte Ed25519 signature");
			goto out;
		}
	}
	/* id and publisher are read-only: never taken from input */
	*ret = b;
	memset(&b, 0, sizeof(b));
	r = 0;
out:
	build_release(&b);
	return r;
}

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
	r = get_str_strict(o, key, field, 64, false, &s, err);
	if (r < 0)
		return r;
	if (s && !*s)
		free_str(&s);
	if (s && !str_charset_ok(s, "_-", 1, 64)) {
		free(s);
		return perr(err, field, "%s must match ^[A-Za-z0-9_-]{1,64}$", field);
	}
	*ret = s;
	return 0;
}

static int get_report_enum(const json_t *o, const char *key, const char *prefix, enum_from_string_fn from, int dflt,
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
		return perr(err, field, "%s must be a string", field);
	x = from(json_string_value(v));
	if (x < 0)
		return perr(err, field, "%s: unknown value '%.64s'", field, json_string_value(v));
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
		return perr(err, field, "%s must be an integer in %lld..%lld", field, (long long)min, (long long)max);
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
		return perr(err, prefix, "%s must be an object", prefix);
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
			r = perr(err, field, "%s must be a string", field);
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

	r = get_str_strict(j, key, key, WIRE_STRING_MAX_CHARS, false, &s, err);
	if (r < 0)
		return r;
	if (s && has_control(s)) {
		free(s);
		return perr(err, key, "%s must not contain control characters", key);
	}
	*ret = s;
	return 0;
}

int ping_request_from_json(const json_t *j, struct ping_request *ret, struct proto_error *err)
{
	struct ping_request req = {};
	json_t *groups, *reports, *v;
	size_t i;
	int r;

	if (!json_is_object(j))
		return perr(err, "", "ping must be a JSON object");

	r = get_str_strict(j, "hostId", "hostId", 64, true, &req.host_id, err);
	if (r < 0)
		goto out;
	if (!host_name_is_valid(req.host_id)) {
		r = perr(err, "hostId", "hostId must match ^[A-Za-z0-9._-]{1,64}$");
		goto out;
	}
	r = get_str_strict(j, "hostName", "hostName", 64, false, &req.host_name, err);
	if (r < 0)
		goto out;
	if (req.host_name && !*req.host_name)
		free_str(&req.host_name);
	if (req.host_name && !host_name_is_valid(req.host_name)) {
		r = perr(err, "hostName", "hostName must match ^[A-Za-z0-9._-]{1,64}$");
		goto out;
	}
	if (!req.host_name && (r = dup_str(req.host_id, &req.host_name)) < 0)
		goto out;

	r = get_str_strict(j, "hostIp", "hostIp", 64, false, &req.host_ip, err);
	if (r < 0)
		goto out;
	if (req.host_ip && !*req.host_ip)
		free_str(&req.host_ip);
	if (req.host_ip && !str_charset_ok(req.host_ip, ".:%_-", 1, 64)) {
		r = perr(err, "hostIp", "hostIp must be an IP address");
		goto out;
	}
	if ((r = get_identity(j, "autoscalingGroup", &req.autoscaling_group, err)) < 0 ||
	    (r = get_identity(j, "availabilityZone", &req.availability_zone, err)) < 0 ||
	    (r = get_identity(j, "accountId", &req.account_id, err)) < 0 ||
	    (r = get_identity(j, "agentVersion", &req.agent_version, err)) < 0)
		goto out;
	if (!req.agent_version && (r = dup_str("UNKNOWN", &req.agent_version)) < 0)
		goto out;

	groups = json_object_get(j, "groups");
	if (groups && !json_is_null(groups)) {
		if (!json_is_array(groups)) {
			r = perr(err, "groups", "groups must be an array of strings");
			goto out;
		}
		if (json_array_size(groups) > PING_MAX_GROUPS) {
			r = perr(err, "groups", "at most %d groups are allowed", PING_MAX_GROUPS);
			goto out;
		}
		req.groups = calloc(json_array_size(groups) + 1, sizeof(char *));
		if (!req.groups) {
			r = -ENOMEM;
			goto out;
		}
		json_array_foreach(groups, i, v)
		{
			const char *g = json_is_string(v) ? json_string_value(v) : NULL;
			bool dup = false;

			if (!g || strlen(g) != json_string_length(v) || !group_name_is_valid(g)) {
				char field[32];

				snprintf(field, sizeof(field), "groups[%zu]", i);
				r = perr(err, field, "%s must match ^[A-Za-z0-9._:-]{1,128}$", field);
				goto out;
			}
			for (size_t k = 0; k < req.n_groups && !dup; k++)
				dup = streq(req.groups[k], g);
			if (dup)
				continue;
			r = dup_str(g, &req.groups[req.n_groups]);
			if (r < 0)
				goto out;
			req.n_groups++;
		}
	}

	reports = json_object_get(j, "reports");
	if (reports && !json_is_null(reports)) {
		if (!json_is_array(reports)) {
			r = perr(err, "reports", "reports must be an array");
			goto out;
		}
		if (json_array_size(reports) > PING_MAX_REPORTS) {
			r = perr(err, "reports", "at most %d reports are allowed", PING_MAX_REPORTS);
			goto out;
		}
		req.reports = calloc(json_array_size(reports) + 1, sizeof(struct ping_report));
		if (!req.reports) {
			r = -ENOMEM;
			goto out;
		}
		json_array_foreach(reports, i, v)
		{
			struct ping_report rep = {};
			size_t k;

			r = report_from_json(v, i, &rep, err);
			if (r < 0)
				goto out;
			if (r > 0)
				continue; /* no envId: ignored (§5.1) */
			for (k = 0; k < req.n_reports; k++)
				if (streq(req.reports[k].env_id, rep.env_id))
					break;
			if (k < req.n_reports) /* the last report for an envId wins */
				ping_report_release(&req.reports[k]);
			else
				req.n_reports++;
			req.reports[k] = rep;
		}
	}
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
	if ((r = set_str(o, "envId", rep->env_id)) < 0 || (r = set_str(o, "deployId", rep->deploy_id)) < 0 ||
	    (r = set_str(o, "deployAlias", rep->deploy_alias)) < 0 ||
	    (r = set_enum(o, "deployStage", deploy_stage_to_string, rep->deploy_stage, NULL)) < 0 ||
	    (r = set_enum(o, "agentStatus", agent_status_to_string, rep->agent_status, NULL)) < 0 ||
	    (r = set_new(o, "errorCode", json_integer(rep->error_code))) < 0 ||
	    (r = set_str(o, "errorMessage", rep->error_message)) < 0 ||
	    (r = set_new(o, "failCount", json_integer(rep->fail_count))) < 0)
		goto fail;
	if (rep->reset_by_system && (r = set_str(o, "agentState", "RESET_BY_SYSTEM")) < 0)
		goto fail;
	if (rep->container_health_status && (r = set_str(o, "containerHealthStatus", rep->container_health_status)) < 0)
		goto fail;
	*ret = o;
	return 0;
fail:
	json_decref(o);
	return r;
}

static int set_str_if(json_t *o, const char *key, const char *value)
{
	return value ? set_str(o, key, value) : 0;
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
		r = set_new(o, "groups", a);
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
	r = set_new(o, "reports", a);
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

/* ---- Ping response and deploy goal ------------------------------------------------------------ */

void deploy_goal_init(struct deploy_goal *g)
{
	memset(g, 0, sizeof(*g));
	g->deploy_type = -ENOENT;
	g->stage_type = -ENOENT;
	g->deploy_stage = -ENOENT;
}

void deploy_goal_release(struct deploy_goal *g)
{
	if (!g)
		return;
	free(g->deploy_id);
	free(g->deploy_alias);
	free(g->deploy_type_raw);
	free(g->env_id);
	free(g->env_name);
	free(g->stage_name);
	free(g->stage_type_raw);
	free(g->deploy_stage_raw);
	build_free(g->build);
	json_decref(g->script_variables);
	json_decref(g->agent_configs);
	free(g->signing_key);
	deploy_goal_init(g);
}

void deploy_goal_free(struct deploy_goal *g)
{
	deploy_goal_release(g);
	free(g);
}

void ping_response_init(struct ping_response *resp)
{
	resp->op_code = OP_CODE_NOOP;
	resp->op_code_raw = NULL;
	resp->goal = NULL;
}

void ping_response_release(struct ping_response *resp)
{
	if (!resp)
		return;
	free(resp->op_code_raw);
	deploy_goal_free(resp->goal);
	ping_response_init(resp);
}

static int set_map(json_t *o, const char *key, json_t *map)
{
	if (!map)
		return set_new(o, key, json_null());
	return json_object_set(o, key, map) == 0 ? 0 : -ENOMEM;
}

int deploy_goal_to_json(const struct deploy_goal *g, json_t **ret)
{
	json_t *o = json_object(), *b = NULL;
	int r;

	if (!o)
		return -ENOMEM;
	if ((r = set_str(o, "deployId", g->deploy_id)) < 0 || (r = set_str(o, "deployAlias", g->deploy_alias)) < 0 ||
	    (r = set_enum(o, "deployType", deploy_type_to_string, g->deploy_type, g->deploy_type_raw)) < 0 ||
	    (r = set_str(o, "envId", g->env_id)) < 0 || (r = set_str(o, "envName", g->env_name)) < 0 ||
	    (r = set_str(o, "stageName", g->stage_name)) < 0 ||
	    (r = set_enum(o, "stageType", env_type_to_string, g->stage_type, g->stage_type_raw)) < 0 ||
	    (r = set_enum(o, "deployStage", deploy_stage_to_string, g->deploy_stage, g->deploy_stage_raw)) < 0)
		goto fail;
	if (g->build) {
		r = build_to_json(g->build, &b);
		if (r < 0)
			goto fail;
		r = set_new(o, "build", b);
	} else
		r = set_new(o, "build", json_null());
	if (r < 0)
		goto fail;
	if ((r = set_map(o, "scriptVariables", g->script_variables)) < 0 ||
	    (r = set_map(o, "agentConfigs", g->agent_configs)) < 0 ||
	    (r = set_new(o, "firstDeploy", json_boolean(g->first_deploy))) < 0 ||
	    (r = set_new(o, "isDocker", json_boolean(g->is_docker))) < 0 ||
	    (r = set_str(o, "signingKey", g->signing_key)) < 0)
		goto fail;
	*ret = o;
	return 0;
fail:
	json_decref(o);
	return r;
}

int ping_response_to_json(const struct ping_response *resp, json_t **ret)
{
	json_t *o = json_object(), *g = NULL;
	int r;

	if (!o)
		return -ENOMEM;
	r = set_enum(o, "opCode", op_code_to_string, resp->op_code, resp->op_code_raw);
	if (r < 0)
		goto fail;
	if (resp->goal && resp->op_code != OP_CODE_NOOP) {
		r = deploy_goal_to_json(resp->goal, &g);
		if (r < 0)
			goto fail;
		r = set_new(o, "deployGoal", g);
	} else
		r = set_new(o, "deployGoal", json_null());
	if (r < 0)
		goto fail;
	*ret = o;
	return 0;
fail:
	json_decref(o);
	return r;
}

static int get_map_lenient(const json_t *obj, const char *key, json_t **ret)
{
	json_t *v = json_object_get(obj, key);

	*ret = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_object(v))
		return -EBADMSG;
	*ret = json_deep_copy(v);
	return *ret ? 0 : -ENOMEM;
}

int deploy_goal_from_json(const json_t *j, struct deploy_goal *ret)
{
	struct deploy_goal g;
	json_t *b;
	int r;

	deploy_goal_init(&g);
	if (!json_is_object(j))
		return -EBADMSG;
	if ((r = get_str_lenient(j, "deployId", &g.deploy_id)) < 0 ||
	    (r = get_str_lenient(j, "deployAlias", &g.deploy_alias)) < 0 ||
	    (r = get_enum_lenient(j, "deployType", deploy_type_from_string, &g.deploy_type, &g.deploy_type_raw)) < 0 ||
	    (r = get_str_lenient(j, "envId", &g.env_id)) < 0 || (r = get_str_lenient(j, "envName", &g.env_name)) < 0 ||
	    (r = get_str_lenient(j, "stageName", &g.stage_name)) < 0 ||
	    (r = get_enum_lenient(j, "stageType", env_type_from_string, &g.stage_type, &g.stage_type_raw)) < 0 ||
	    (r = get_enum_lenient(j, "deployStage", deploy_stage_from_string, &g.deploy_stage, &g.deploy_stage_raw)) <
		0 ||
	    (r = get_map_lenient(j, "scriptVariables", &g.script_variables)) < 0 ||
	    (r = get_map_lenient(j, "agentConfigs", &g.agent_configs)) < 0 ||
	    (r = get_bool_lenient(j, "firstDeploy", &g.first_deploy)) < 0 ||
	    (r = get_bool_lenient(j, "isDocker", &g.is_docker)) < 0 ||
	    (r = get_str_lenient(j, "signingKey", &g.signing_key)) < 0)
		goto out;
	b = json_object_get(j, "build");
	if (b && !json_is_null(b)) {
		g.build = calloc(1, sizeof(*g.build));
		if (!g.build) {
			r = -ENOMEM;
			goto out;
		}
		r = build_from_json(b, g.build);
		if (r < 0)
			goto out;
	}
	*ret = g;
	deploy_goal_init(&g);
	r = 0;
out:
	deploy_goal_release(&g);
	return r;
}

int ping_response_from_json(const json_t *j, struct ping_response *ret)
{
	struct ping_response resp;
	json_t *g;
	int r;

	ping_response_init(&resp);
	if (!json_is_object(j))
		return -EBADMSG;
	r = get_enum_lenient(j, "opCode", op_code_from_string, &resp.op_code, &resp.op_code_raw);
	if (r < 0)
		goto out;
	g = json_object_get(j, "deployGoal");
	if (resp.op_code != OP_CODE_NOOP && g && !json_is_null(g)) {
		resp.goal = malloc(sizeof(*resp.goal));
		if (!resp.goal) {
			r = -ENOMEM;
			goto out;
		}
		deploy_goal_init(resp.goal);
		r = deploy_goal_from_json(g, resp.goal);
		if (r < 0)
			goto out;
	}
	*ret = resp;
	ping_response_init(&resp);
	r = 0;
out:
	ping_response_release(&resp);
	return r;
}
