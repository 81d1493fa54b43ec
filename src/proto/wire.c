/* SPDX-License-Identifier: Apache-2.0 */
/* proto/wire.c: JSON (de)serialisation of Build and PingResponse/DeployGoal (PROTOCOL.md §3.2, §5.8), and the
 * JSON helpers of wire_json.h; PingRequest/PingReport are in wire_ping.c. With wire_ping.c, the only file that
 * spells these JSON field names. Does not log. */
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
#include "wire_json.h"
#include "banned.h"

/* ---- small helpers ---------------------------------------------------------------------------- */

size_t utf8_strlen(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			n++;
	return n;
}

void wire_free_str(char **p)
{
	free(*p);
	*p = NULL;
}

int wire_dup_str(const char *s, char **ret)
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

int wire_err(struct proto_error *err, const char *field, const char *fmt, ...)
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

bool wire_has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

/* Strict string getter. Absent or null → *ret = NULL (or an error when required); otherwise the
 * value must be a string without NUL bytes of at most max_chars characters. *ret is malloc'd. */
int wire_get_str_strict(const json_t *obj, const char *key, const char *field, size_t max_chars, bool required,
			char **ret, struct proto_error *err)
{
	json_t *v = json_object_get(obj, key);
	const char *s;

	if (!v || json_is_null(v)) {
		if (required)
			return wire_err(err, field, "%s is required", field);
		*ret = NULL;
		return 0;
	}
	if (!json_is_string(v))
		return wire_err(err, field, "%s must be a string", field);
	s = json_string_value(v);
	if (strlen(s) != json_string_length(v))
		return wire_err(err, field, "%s must not contain NUL characters", field);
	if (utf8_strlen(s) > max_chars)
		return wire_err(err, field, "%s is longer than %zu characters", field, max_chars);
	if (required && !*s)
		return wire_err(err, field, "%s must not be empty", field);
	return wire_dup_str(s, ret);
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
	return wire_dup_str(json_string_value(v), ret);
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
static int get_enum_lenient(const json_t *obj, const char *key, wire_enum_from_fn from, int *ret_value,
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
int wire_set_str(json_t *obj, const char *key, const char *value)
{
	json_t *v;

	if (!value)
		return json_object_set_new(obj, key, json_null()) == 0 ? 0 : -ENOMEM;
	v = json_string(value);
	if (!v)
		return -EINVAL;
	return json_object_set_new(obj, key, v) == 0 ? 0 : -ENOMEM;
}

int wire_set_new(json_t *obj, const char *key, json_t *v)
{
	if (!v)
		return -ENOMEM;
	return json_object_set_new(obj, key, v) == 0 ? 0 : -ENOMEM;
}

static int set_date(json_t *obj, const char *key, int64_t ms)
{
	return wire_set_new(obj, key, ms ? json_integer(ms) : json_null());
}

/* Enum value name when known, else the raw string, else null. */
int wire_set_enum(json_t *obj, const char *key, wire_enum_to_fn to, int value, const char *raw)
{
	const char *s = value >= 0 ? to(value) : NULL;

	return wire_set_str(obj, key, s ? s : raw);
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

	if ((r = wire_dup_str(src->id, &b.id)) < 0 || (r = wire_dup_str(src->name, &b.name)) < 0 ||
	    (r = wire_dup_str(src->artifact_url, &b.artifact_url)) < 0 || (r = wire_dup_str(src->type, &b.type)) < 0 ||
	    (r = wire_dup_str(src->repo, &b.repo)) < 0 || (r = wire_dup_str(src->branch, &b.branch)) < 0 ||
	    (r = wire_dup_str(src->commit, &b.commit)) < 0 || (r = wire_dup_str(src->commit_short, &b.commit_short)) < 0 ||
	    (r = wire_dup_str(src->commit_info, &b.commit_info)) < 0 ||
	    (r = wire_dup_str(src->publish_info, &b.publish_info)) < 0 || (r = wire_dup_str(src->publisher, &b.publisher)) < 0 ||
	    (r = wire_dup_str(src->artifact_sha256, &b.artifact_sha256)) < 0 ||
	    (r = wire_dup_str(src->artifact_signature, &b.artifact_signature)) < 0) {
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
	if ((r = wire_set_str(o, "id", b->id)) < 0 || (r = wire_set_str(o, "name", b->name)) < 0 ||
	    (r = wire_set_str(o, "artifactUrl", b->artifact_url)) < 0 || (r = wire_set_str(o, "type", b->type)) < 0 ||
	    (r = wire_set_str(o, "repo", b->repo)) < 0 || (r = wire_set_str(o, "branch", b->branch)) < 0 ||
	    (r = wire_set_str(o, "commit", b->commit)) < 0 || (r = wire_set_str(o, "commitShort", b->commit_short)) < 0 ||
	    (r = wire_set_str(o, "commitInfo", b->commit_info)) < 0 || (r = set_date(o, "commitDate", b->commit_date)) < 0 ||
	    (r = wire_set_str(o, "publishInfo", b->publish_info)) < 0 ||
	    (r = set_date(o, "publishDate", b->publish_date)) < 0 || (r = wire_set_str(o, "publisher", b->publisher)) < 0 ||
	    (r = wire_set_str(o, "artifactSha256", b->artifact_sha256)) < 0 ||
	    (r = wire_set_str(o, "artifactSignature", b->artifact_signature)) < 0) {
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
		return wire_err(err, key, "%s must be a non-negative integer (epoch milliseconds)", key);
	*ret = json_integer_value(v);
	return 0;
}

int build_input_from_json(const json_t *j, struct build *ret, struct proto_error *err)
{
	struct build b = {};
	int r;

	if (!json_is_object(j)) {
		r = wire_err(err, "", "build must be a JSON object");
		goto out;
	}
	r = wire_get_str_strict(j, "name", "name", BUILD_FIELD_MAX_CHARS, true, &b.name, err);
	if (r < 0)
		goto out;
	if (!build_name_is_valid(b.name)) {
		r = wire_err(err, "name", "name must match ^[A-Za-z0-9_./-]{1,64}$");
		goto out;
	}
	r = wire_get_str_strict(j, "artifactUrl", "artifactUrl", BUILD_URL_MAX_CHARS, true, &b.artifact_url, err);
	if (r < 0)
		goto out;
	if (wire_has_control(b.artifact_url) || strchr(b.artifact_url, ' ') || !artifact_url_scheme_ok(b.artifact_url)) {
		r = wire_err(err, "artifactUrl", "artifactUrl must be an https, http, s3 or file URL without spaces");
		goto out;
	}
	r = wire_get_str_strict(j, "type", "type", BUILD_FIELD_MAX_CHARS, false, &b.type, err);
	if (r < 0)
		goto out;
	if (b.type && wire_has_control(b.type)) {
		r = wire_err(err, "type", "type must not contain control characters");
		goto out;
	}
	r = wire_get_str_strict(j, "repo", "repo", BUILD_FIELD_MAX_CHARS, true, &b.repo, err);
	if (r < 0)
		goto out;
	if (wire_has_control(b.repo)) {
		r = wire_err(err, "repo", "repo must not contain control characters");
		goto out;
	}
	r = wire_get_str_strict(j, "branch", "branch", BUILD_FIELD_MAX_CHARS, true, &b.branch, err);
	if (r < 0)
		goto out;
	if (wire_has_control(b.branch)) {
		r = wire_err(err, "branch", "branch must not contain control characters");
		goto out;
	}
	r = wire_get_str_strict(j, "commit", "commit", BUILD_FIELD_MAX_CHARS, true, &b.commit, err);
	if (r < 0)
		goto out;
	if (!commit_is_valid(b.commit)) {
		r = wire_err(err, "commit", "commit must match ^[A-Za-z0-9_-]{1,64}$");
		goto out;
	}
	r = wire_get_str_strict(j, "commitShort", "commitShort", BUILD_COMMIT_SHORT_MAX_CHARS, false, &b.commit_short, err);
	if (r < 0)
		goto out;
	if (b.commit_short && !str_charset_ok(b.commit_short, "_-", 1, BUILD_COMMIT_SHORT_MAX_CHARS)) {
		r = wire_err(err, "commitShort", "commitShort must match ^[A-Za-z0-9_-]{1,7}$");
		goto out;
	}
	if (!b.commit_short) {
		b.commit_short = strndup(b.commit, BUILD_COMMIT_SHORT_MAX_CHARS);
		if (!b.commit_short) {
			r = -ENOMEM;
			goto out;
		}
	}
	r = wire_get_str_strict(j, "commitInfo", "commitInfo", BUILD_INFO_MAX_CHARS, false, &b.commit_info, err);
	if (r < 0)
		goto out;
	r = wire_get_str_strict(j, "publishInfo", "publishInfo", BUILD_INFO_MAX_CHARS, false, &b.publish_info, err);
	if (r < 0)
		goto out;
	r = check_input_date(j, "commitDate", &b.commit_date, err);
	if (r < 0)
		goto out;
	r = check_input_date(j, "publishDate", &b.publish_date, err);
	if (r < 0)
		goto out;

	r = wire_get_str_strict(j, "artifactSha256", "artifactSha256", SHA256_HEX_LEN, false, &b.artifact_sha256, err);
	if (r < 0)
		goto out;
	if (b.artifact_sha256) {
		if (strlen(b.artifact_sha256) != SHA256_HEX_LEN ||
		    strspn(b.artifact_sha256, "0123456789abcdefABCDEF") != SHA256_HEX_LEN) {
			r = wire_err(err, "artifactSha256", "artifactSha256 must be 64 hexadecimal characters");
			goto out;
		}
		for (char *p = b.artifact_sha256; *p; p++)
			if (*p >= 'A' && *p <= 'F')
				*p = (char)(*p - 'A' + 'a');
	}

	/* 64 bytes encode to exactly 88 characters; anything longer cannot be right */
	r = wire_get_str_strict(j, "artifactSignature", "artifactSignature", 88, false, &b.artifact_signature, err);
	if (r == -EINVAL && streq(err ? err->field : "", "artifactSignature"))
		r = wire_err(err, "artifactSignature", "artifactSignature must be base64 of a 64-byte Ed25519 signature");
	if (r < 0)
		goto out;
	if (b.artifact_signature) {
		unsigned char sig[96];
		size_t n = 0;

		if (base64_decode(b.artifact_signature, sig, sizeof(sig), &n) < 0 || n != BUILD_SIGNATURE_BYTES) {
			r = wire_err(err, "artifactSignature",
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
		return wire_set_new(o, key, json_null());
	return json_object_set(o, key, map) == 0 ? 0 : -ENOMEM;
}

int deploy_goal_to_json(const struct deploy_goal *g, json_t **ret)
{
	json_t *o = json_object(), *b = NULL;
	int r;

	if (!o)
		return -ENOMEM;
	if ((r = wire_set_str(o, "deployId", g->deploy_id)) < 0 || (r = wire_set_str(o, "deployAlias", g->deploy_alias)) < 0 ||
	    (r = wire_set_enum(o, "deployType", deploy_type_to_string, g->deploy_type, g->deploy_type_raw)) < 0 ||
	    (r = wire_set_str(o, "envId", g->env_id)) < 0 || (r = wire_set_str(o, "envName", g->env_name)) < 0 ||
	    (r = wire_set_str(o, "stageName", g->stage_name)) < 0 ||
	    (r = wire_set_enum(o, "stageType", env_type_to_string, g->stage_type, g->stage_type_raw)) < 0 ||
	    (r = wire_set_enum(o, "deployStage", deploy_stage_to_string, g->deploy_stage, g->deploy_stage_raw)) < 0)
		goto fail;
	if (g->build) {
		r = build_to_json(g->build, &b);
		if (r < 0)
			goto fail;
		r = wire_set_new(o, "build", b);
	} else
		r = wire_set_new(o, "build", json_null());
	if (r < 0)
		goto fail;
	if ((r = set_map(o, "scriptVariables", g->script_variables)) < 0 ||
	    (r = set_map(o, "agentConfigs", g->agent_configs)) < 0 ||
	    (r = wire_set_new(o, "firstDeploy", json_boolean(g->first_deploy))) < 0 ||
	    (r = wire_set_new(o, "isDocker", json_boolean(g->is_docker))) < 0 ||
	    (r = wire_set_str(o, "signingKey", g->signing_key)) < 0)
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
	r = wire_set_enum(o, "opCode", op_code_to_string, resp->op_code, resp->op_code_raw);
	if (r < 0)
		goto fail;
	if (resp->goal && resp->op_code != OP_CODE_NOOP) {
		r = deploy_goal_to_json(resp->goal, &g);
		if (r < 0)
			goto fail;
		r = wire_set_new(o, "deployGoal", g);
	} else
		r = wire_set_new(o, "deployGoal", json_null());
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
