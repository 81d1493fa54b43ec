/* SPDX-License-Identifier: Apache-2.0 */
/* tests/unit/proto/test-wire.c: Build, PingRequest and PingResponse wire (de)serialisation:
 * exact field names, limits at max and max+1, lenient vs strict decoding, upstream agent pings. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hash.h"
#include "jsonutil.h"
#include "names.h"
#include "util.h"
#include "wire.h"

static json_t *parse(const char *s)
{
	json_t *j = NULL;
	char errbuf[256];

	assert_int_equal(json_parse_bounded(s, strlen(s), &j, errbuf, sizeof(errbuf)), 0);
	return j;
}

static char *repeat(char c, size_t n)
{
	char *s = malloc(n + 1);

	assert_non_null(s);
	memset(s, c, n);
	s[n] = 0;
	return s;
}

/* Sorted, comma-separated key list of an object, to compare exact field names. */
static void assert_keys(const json_t *o, const char *const *want, size_t n)
{
	assert_true(json_is_object(o));
	assert_int_equal(json_object_size(o), n);
	for (size_t i = 0; i < n; i++) {
		if (!json_object_get(o, want[i]))
			fail_msg("missing key '%s'", want[i]);
	}
}

static const char *const build_keys[] = {"id",	       "name",		 "artifactUrl",	     "type",
					 "repo",       "branch",	 "commit",	     "commitShort",
					 "commitInfo", "commitDate",	 "publishInfo",	     "publishDate",
					 "publisher",  "artifactSha256", "artifactSignature"};

static const char *const goal_keys[] = {"deployId",	"deployAlias", "deployType",  "envId",	   "envName",
					"stageName",	"stageType",   "deployStage", "build",	   "scriptVariables",
					"agentConfigs", "firstDeploy", "isDocker",    "signingKey"};

/* ---- names ---- */

static void test_names(void **state)
{
	char *s64 = repeat('a', 64), *s65 = repeat('a', 65), *s128 = repeat('g', 128), *s129 = repeat('g', 129);

	assert_true(env_name_is_valid("web-prod_1"));
	assert_true(env_name_is_valid(s64));
	assert_false(env_name_is_valid(s65));
	assert_false(env_name_is_valid(""));
	assert_false(env_name_is_valid("a.b"));
	assert_false(env_name_is_valid(NULL));
	assert_true(stage_name_is_reserved("token_roles"));
	/* the server's own principal names, in any letter case */
	assert_true(principal_name_is_reserved("anonymous"));
	assert_true(principal_name_is_reserved("Anonymous"));
	assert_true(principal_name_is_reserved("bootstrap-admin"));
	assert_true(principal_name_is_reserved("BOOTSTRAP-ADMIN"));
	assert_false(principal_name_is_reserved("anonymous2"));
	assert_false(principal_name_is_reserved("bootstrap"));
	assert_false(principal_name_is_reserved(NULL));
	assert_true(build_name_is_valid("web/api.v2"));
	assert_false(build_name_is_valid(".."));
	assert_true(host_name_is_valid("web-07.example.com"));
	assert_false(host_name_is_valid("web 07"));
	assert_true(group_name_is_valid("web:prod"));
	assert_true(group_name_is_valid(s128));
	assert_false(group_name_is_valid(s129));
	assert_true(branch_is_valid(""));
	assert_true(commit_is_valid("4be1f0c"));
	assert_false(commit_is_valid("4be1/0c"));
	assert_true(id_is_valid("Pq4sV8xB2nHc6mKw9eRt0a_4be1f0c"));
	assert_false(id_is_valid("Pq4sV8xB2nHc6mKw9eRt0a_4be1f0cX"));
	free(s64);
	free(s65);
	free(s128);
	free(s129);
}

/* ---- Build ---- */

static void test_build_roundtrip(void **state)
{
	struct build b = {0}, c = {0}, d = {0};
	json_t *j = NULL, *k = NULL;

	b.id = strdup("Pq4sV8xB2nHc6mKw9eRt0a_4be1f0c");
	b.name = strdup("web");
	b.artifact_url = strdup("https://art.example/web.tar.gz");
	b.repo = strdup("acme/web");
	b.branch = strdup("main");
	b.commit = strdup("4be1f0c93d");
	b.commit_short = strdup("4be1f0c");
	b.commit_date = 1767225600000;
	b.publisher = strdup("ci-web");
	assert_int_equal(build_to_json(&b, &j), 0);
	assert_keys(j, build_keys, ELEMENTSOF(build_keys));
	assert_true(json_is_null(json_object_get(j, "type")));
	assert_true(json_is_null(json_object_get(j, "publishDate")));
	assert_true(json_is_null(json_object_get(j, "artifactSha256")));
	assert_int_equal(json_integer_value(json_object_get(j, "commitDate")), 1767225600000);
	assert_string_equal(json_string_value(json_object_get(j, "artifactUrl")), "https://art.example/web.tar.gz");

	assert_int_equal(build_from_json(j, &c), 0);
	assert_string_equal(c.id, b.id);
	assert_string_equal(c.commit_short, "4be1f0c");
	assert_string_equal(c.publisher, "ci-web");
	assert_null(c.type);
	assert_int_equal(c.commit_date, 1767225600000);
	assert_int_equal(c.publish_date, 0);
	assert_int_equal(build_copy(&c, &d), 0);
	assert_int_equal(build_to_json(&d, &k), 0);
	assert_true(json_equal(j, k));

	/* lenient decoder: wrong type of a known field is -EBADMSG, unknown fields ignored */
	json_object_set_new(k, "unknownField", json_string("x"));
	build_release(&c);
	assert_int_equal(build_from_json(k, &c), 0);
	build_release(&c);
	json_object_set_new(k, "repo", json_integer(5));
	assert_int_equal(build_from_json(k, &c), -EBADMSG);

	json_decref(j);
	json_decref(k);
	build_release(&b);
	build_release(&c);
	build_release(&d);
}

static int input(const char *js, struct build *b, struct proto_error *err)
{
	json_t *j = parse(js);
	int r;

	memset(err, 0, sizeof(*err));
	r = build_input_from_json(j, b, err);
	json_decref(j);
	return r;
}

#define BASE "\"name\":\"web\",\"repo\":\"acme/web\",\"branch\":\"main\",\"commit\":\"4be1f0c93dab\""

static void expect_input_error(const char *js, const char *field)
{
	struct build b = {0};
	struct proto_error err;

	assert_int_equal(input(js, &b, &err), -EINVAL);
	assert_string_equal(err.field, field);
	assert_true(err.message[0] != 0);
	assert_null(b.name); /* untouched */
}

static void test_build_input_ok(void **state)
{
	struct build b = {0};
	struct proto_error err;

	assert_int_equal(input("{" BASE ",\"artifactUrl\":\"s3://bucket/web.tgz\",\"id\":\"forged\","
			       "\"publisher\":\"forged\",\"artifactSha256\":\"9F86D081884C7D659A2FEAA0C55AD015"
			       "A3BF4F1B2B0B822CD15D6C15B0F00A08\",\"commitDate\":5,\"junk\":[1]}",
			       &b, &err),
			 0);
	assert_string_equal(b.commit_short, "4be1f0c");
	assert_string_equal(b.artifact_sha256, "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
	assert_null(b.id);
	assert_null(b.publisher);
	assert_null(b.type);
	assert_int_equal(b.commit_date, 5);
	build_release(&b);

	/* short commit: commitShort is the whole commit; explicit commitShort kept */
	assert_int_equal(input("{\"name\":\"web\",\"repo\":\"r\",\"branch\":\"b\",\"commit\":\"abc\","
			       "\"artifactUrl\":\"file:///tmp/x.tgz\"}",
			       &b, &err),
			 0);
	assert_string_equal(b.commit_short, "abc");
	build_release(&b);
	assert_int_equal(input("{" BASE ",\"commitShort\":\"4be1f0c\",\"artifactUrl\":\"HTTP://x/y\"}", &b, &err), 0);
	build_release(&b);
}

static void test_build_input_errors(void **state)
{
	expect_input_error("[]", "");
	expect_input_error("{\"repo\":\"r\",\"branch\":\"b\",\"commit\":\"c\",\"artifactUrl\":\"https://x/y\"}",
			   "name");
	expect_input_error("{" BASE "}", "artifactUrl");
	expect_input_error("{" BASE ",\"artifactUrl\":\"ftp://x/y\"}", "artifactUrl");
	expect_input_error("{" BASE ",\"artifactUrl\":\"https://x/a b\"}", "artifactUrl");
	expect_input_error("{" BASE ",\"artifactUrl\":\"https://\"}", "artifactUrl");
	expect_input_error("{" BASE ",\"artifactUrl\":5}", "artifactUrl");
	expect_input_error("{\"name\":\"we b\",\"repo\":\"r\",\"branch\":\"b\",\"commit\":\"c\","
			   "\"artifactUrl\":\"https://x/y\"}",
			   "name");
	expect_input_error("{\"name\":\"web\",\"repo\":\"r\",\"branch\":\"b\",\"commit\":\"c/d\","
			   "\"artifactUrl\":\"https://x/y\"}",
			   "commit");
	expect_input_error("{\"name\":\"web\",\"branch\":\"b\",\"commit\":\"c\",\"artifactUrl\":\"https://x/y\"}",
			   "repo");
	expect_input_error("{\"name\":\"web\",\"repo\":\"r\",\"commit\":\"c\",\"artifactUrl\":\"https://x/y\"}",
			   "branch");
	expect_input_error("{" BASE ",\"artifactUrl\":\"https://x/y\",\"commitShort\":\"12345678\"}", "commitShort");
	expect_input_error("{" BASE ",\"artifactUrl\":\"https://x/y\",\"commitDate\":-1}", "commitDate");
	expect_input_error("{" BASE ",\"artifactUrl\":\"https://x/y\",\"publishDate\":\"now\"}", "publishDate");
	expect_input_error("{" BASE ",\"artifactUrl\":\"https://x/y\",\"artifactSha256\":\"abc\"}", "artifactSha256");
	expect_input_error("{" BASE ",\"artifactUrl\":\"https://x/y\",\"artifactSha256\":"
			   "\"zz86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\"}",
			   "artifactSha256");
	expect_input_error("{" BASE ",\"artifactUrl\":\"https://x/y\",\"artifactSignature\":\"!!\"}",
			   "artifactSignature");
}

/* A string field at its maximum length passes, one more character is a 400 naming the field. */
static void limit_case(const char *key, size_t max, char fill)
{
	struct build b = {0};
	struct proto_error err;
	char *ok = repeat(fill, max), *bad = repeat(fill, max + 1), *js;
	const char *url = "https://x/y";
	size_t sz = 2 * max + 512;

	js = malloc(sz);
	assert_non_null(js);
	/* put the value last so it overrides a BASE key of the same name: duplicates are refused by
	 * the parser, so build the object without BASE for those keys */
	if (!strcmp(key, "artifactUrl")) {
		snprintf(js, sz, "{" BASE ",\"artifactUrl\":\"https://%s\"}", ok + 8);
		assert_int_equal(input(js, &b, &err), 0);
		build_release(&b);
		snprintf(js, sz, "{" BASE ",\"artifactUrl\":\"https://%s\"}", bad + 8);
	} else if (!strcmp(key, "name") || !strcmp(key, "repo") || !strcmp(key, "branch") || !strcmp(key, "commit")) {
		const char *n = !strcmp(key, "name") ? ok : "web", *rp = !strcmp(key, "repo") ? ok : "r",
			   *br = !strcmp(key, "branch") ? ok : "b", *cm = !strcmp(key, "commit") ? ok : "c";
		snprintf(js, sz,
			 "{\"name\":\"%s\",\"repo\":\"%s\",\"branch\":\"%s\",\"commit\":\"%s\",\"artifactUrl\":\"%s\"}",
			 n, rp, br, cm, url);
		assert_int_equal(input(js, &b, &err), 0);
		build_release(&b);
		n = !strcmp(key, "name") ? bad : "web", rp = !strcmp(key, "repo") ? bad : "r";
		br = !strcmp(key, "branch") ? bad : "b", cm = !strcmp(key, "commit") ? bad : "c";
		snprintf(js, sz,
			 "{\"name\":\"%s\",\"repo\":\"%s\",\"branch\":\"%s\",\"commit\":\"%s\",\"artifactUrl\":\"%s\"}",
			 n, rp, br, cm, url);
	} else {
		snprintf(js, sz, "{" BASE ",\"artifactUrl\":\"%s\",\"%s\":\"%s\"}", url, key, ok);
		assert_int_equal(input(js, &b, &err), 0);
		build_release(&b);
		snprintf(js, sz, "{" BASE ",\"artifactUrl\":\"%s\",\"%s\":\"%s\"}", url, key, bad);
	}
	assert_int_equal(input(js, &b, &err), -EINVAL);
	assert_string_equal(err.field, key);
	free(js);
	free(ok);
	free(bad);
}

static void test_build_input_limits(void **state)
{
	limit_case("artifactUrl", BUILD_URL_MAX_CHARS, 'u');
	limit_case("name", 64, 'n');
	limit_case("repo", 64, 'r');
	limit_case("branch", 64, 'b');
	limit_case("commit", 64, 'c');
	limit_case("type", 64, 't');
	limit_case("commitShort", 7, 'c');
	limit_case("commitInfo", 512, 'i');
	limit_case("publishInfo", 512, 'p');
}

static void test_build_input_unicode_limit(void **state)
{
	struct build b = {0};
	struct proto_error err;
	char js[4096];
	char info[2048] = "";

	/* 512 characters of 2 bytes each pass: limits count characters, not bytes */
	for (int i = 0; i < 512; i++)
		strcat(info, "\xc3\xa9");
	snprintf(js, sizeof(js), "{" BASE ",\"artifactUrl\":\"https://x/y\",\"commitInfo\":\"%s\"}", info);
	assert_int_equal(input(js, &b, &err), 0);
	assert_int_equal(utf8_strlen(b.commit_info), 512);
	build_release(&b);
}

static void test_build_input_signature(void **state)
{
	struct build b = {0};
	struct proto_error err;
	unsigned char raw[65];
	char b64[128], js[512];

	memset(raw, 7, sizeof(raw));
	assert_int_equal(base64_encode(raw, 64, b64, sizeof(b64)), 0);
	snprintf(js, sizeof(js), "{" BASE ",\"artifactUrl\":\"https://x/y\",\"artifactSignature\":\"%s\"}", b64);
	assert_int_equal(input(js, &b, &err), 0);
	assert_string_equal(b.artifact_signature, b64);
	build_release(&b);

	assert_int_equal(base64_encode(raw, 63, b64, sizeof(b64)), 0);
	snprintf(js, sizeof(js), "{" BASE ",\"artifactUrl\":\"https://x/y\",\"artifactSignature\":\"%s\"}", b64);
	expect_input_error(js, "artifactSignature");
	assert_int_equal(base64_encode(raw, 65, b64, sizeof(b64)), 0);
	snprintf(js, sizeof(js), "{" BASE ",\"artifactUrl\":\"https://x/y\",\"artifactSignature\":\"%s\"}", b64);
	expect_input_error(js, "artifactSignature");
}

/* ---- Ping request ---- */

static int ping(const char *js, struct ping_request *req, struct proto_error *err)
{
	json_t *j = parse(js);
	int r;

	memset(err, 0, sizeof(*err));
	r = ping_request_from_json(j, req, err);
	json_decref(j);
	return r;
}

static void expect_ping_error(const char *js, const char *field)
{
	struct ping_request req = {0};
	struct proto_error err;

	assert_int_equal(ping(js, &req, &err), -EINVAL);
	assert_string_equal(err.field, field);
	assert_null(req.host_id);
}

static void test_ping_python_agent(void **state)
{
	struct ping_request req = {0};
	struct proto_error err;

	/* the upstream Python agent's shape */
	assert_int_equal(ping("{\"hostId\":\"i-0abc\",\"hostName\":null,\"hostIp\":\"10.1.2.3\",\"groups\":null,"
			      "\"autoscalingGroup\":null,\"availabilityZone\":\"us-east-1a\",\"stageType\":null,"
			      "\"ec2Tags\":\"{\\\"Name\\\": \\\"web\\\"}\",\"normandieStatus\":\"ERROR\","
			      "\"knoxStatus\":\"ERROR\",\"agentVersion\":\"1.2.40\",\"reports\":[{\"envId\":\"E1\","
			      "\"deployId\":\"D1\",\"deployStage\":\"SERVING_BUILD\",\"agentStatus\":\"SUCCEEDED\","
			      "\"errorCode\":0,\"errorMessage\":null,\"failCount\":0,\"deployAlias\":null,"
			      "\"containerHealthStatus\":null,\"agentState\":\"NORMAL\",\"extraInfo\":null}]}",
			      &req, &err),
			 0);
	assert_string_equal(req.host_id, "i-0abc");
	assert_string_equal(req.host_name, "i-0abc"); /* defaults to hostId */
	assert_string_equal(req.host_ip, "10.1.2.3");
	assert_string_equal(req.availability_zone, "us-east-1a");
	assert_null(req.autoscaling_group);
	assert_string_equal(req.agent_version, "1.2.40");
	assert_int_equal(req.n_groups, 0);
	assert_int_equal(req.n_reports, 1);
	assert_string_equal(req.reports[0].env_id, "E1");
	assert_int_equal(req.reports[0].deploy_stage, DEPLOY_STAGE_SERVING_BUILD);
	assert_int_equal(req.reports[0].agent_status, AGENT_STATUS_SUCCEEDED);
	assert_null(req.reports[0].error_message);
	assert_null(req.reports[0].container_health_status);
	assert_false(req.reports[0].reset_by_system);
	/* its ec2Tags is a string holding the JSON object */
	assert_int_equal(req.n_tags, 1);
	assert_string_equal(req.tags[0].key, "Name");
	assert_string_equal(req.tags[0].value, "web");
	ping_request_release(&req);
}

/* A ping with n tags k0..k(n-1). */
static void many_tags(char *js, size_t size, int n)
{
	size_t len = (size_t)snprintf(js, size, "{\"hostId\":\"h\",\"ec2Tags\":{");

	for (int i = 0; i < n; i++)
		len += (size_t)snprintf(js + len, size - len, "%s\"k%d\":\"v\"", i ? "," : "", i);
	assert_true(len + 3 < size);
	snprintf(js + len, size - len, "}}");
}

static void test_ping_tags(void **state)
{
	struct ping_request req = {0};
	struct proto_error err;
	char js[2048];
	size_t n;

	assert_int_equal(ping("{\"hostId\":\"h1\",\"ec2Tags\":{\"zone\":\"b\",\"aws:role\":\"web\",\"e\":\"\"}}",
			      &req, &err),
			 0);
	assert_int_equal(req.n_tags, 3); /* sorted by key */
	assert_string_equal(req.tags[0].key, "aws:role");
	assert_string_equal(req.tags[1].key, "e");
	assert_string_equal(req.tags[1].value, "");
	assert_string_equal(req.tags[2].key, "zone");
	assert_string_equal(req.tags[2].value, "b");
	ping_request_release(&req);
	assert_int_equal(ping("{\"hostId\":\"h1\",\"ec2Tags\":\"\"}", &req, &err), 0);
	assert_int_equal(req.n_tags, 0);
	ping_request_release(&req);

	expect_ping_error("{\"hostId\":\"h\",\"ec2Tags\":{\"a\":[1]}}", "ec2Tags.a");
	expect_ping_error("{\"hostId\":\"h\",\"ec2Tags\":{\"a\":5}}", "ec2Tags.a");
	expect_ping_error("{\"hostId\":\"h\",\"ec2Tags\":{\"a b\":\"x\"}}", "ec2Tags");
	expect_ping_error("{\"hostId\":\"h\",\"ec2Tags\":{\"\":\"x\"}}", "ec2Tags");
	expect_ping_error("{\"hostId\":\"h\",\"ec2Tags\":[\"a\"]}", "ec2Tags");
	expect_ping_error("{\"hostId\":\"h\",\"ec2Tags\":\"not json\"}", "ec2Tags");
	expect_ping_error("{\"hostId\":\"h\",\"ec2Tags\":{\"a\":\"x\\u0000y\"}}", "ec2Tags.a");
	/* a value of 256 bytes passes, 257 fail; 32 tags pass, 33 fail */
	n = (size_t)snprintf(js, sizeof(js), "{\"hostId\":\"h\",\"ec2Tags\":{\"v\":\"%0256d\"}}", 0);
	assert_true(n < sizeof(js));
	assert_int_equal(ping(js, &req, &err), 0);
	ping_request_release(&req);
	snprintf(js, sizeof(js), "{\"hostId\":\"h\",\"ec2Tags\":{\"v\":\"%0257d\"}}", 0);
	expect_ping_error(js, "ec2Tags.v");
	many_tags(js, sizeof(js), 33);
	expect_ping_error(js, "ec2Tags");
	many_tags(js, sizeof(js), 32);
	assert_int_equal(ping(js, &req, &err), 0);
	assert_int_equal(req.n_tags, 32);
	ping_request_release(&req);
}

static void test_ping_defaults_and_hints(void **state)
{
	struct ping_request req = {0};
	struct proto_error err;

	/* hint/ignored fields of any type never fail; enum values are case-insensitive */
	assert_int_equal(ping("{\"hostId\":\"h1\",\"stageType\":42,\"normandieStatus\":7,"
			      "\"knoxStatus\":\"WHATEVER\",\"reports\":[{\"envId\":\"E1\",\"deployStage\":"
			      "\"pre_download\",\"agentStatus\":\"script_failed\",\"agentState\":\"reset_by_system\","
			      "\"extraInfo\":\"not an object\",\"containerHealthStatus\":5},"
			      "{\"envId\":\"E2\",\"agentState\":[1,2],\"extraInfo\":{\"x\":1}}]}",
			      &req, &err),
			 0);
	assert_string_equal(req.host_name, "h1");
	assert_string_equal(req.agent_version, "UNKNOWN");
	assert_null(req.host_ip);
	assert_int_equal(req.n_reports, 2);
	assert_int_equal(req.reports[0].deploy_stage, DEPLOY_STAGE_PRE_DOWNLOAD);
	assert_int_equal(req.reports[0].agent_status, AGENT_STATUS_SCRIPT_FAILED);
	assert_true(req.reports[0].reset_by_system);
	assert_null(req.reports[0].container_health_status);
	assert_int_equal(req.reports[1].deploy_stage, DEPLOY_STAGE_UNKNOWN);
	assert_int_equal(req.reports[1].agent_status, AGENT_STATUS_UNKNOWN);
	assert_false(req.reports[1].reset_by_system);
	ping_request_release(&req);
}

static void test_ping_errors(void **state)
{
	expect_ping_error("[1]", "");
	expect_ping_error("{}", "hostId");
	expect_ping_error("{\"hostId\":\"\"}", "hostId");
	expect_ping_error("{\"hostId\":\"a/b\"}", "hostId");
	expect_ping_error("{\"hostId\":5}", "hostId");
	expect_ping_error("{\"hostId\":\"h\",\"hostName\":\"x y\"}", "hostName");
	expect_ping_error("{\"hostId\":\"h\",\"groups\":\"web\"}", "groups");
	expect_ping_error("{\"hostId\":\"h\",\"groups\":[\"ok\",\"b a d\"]}", "groups[1]");
	expect_ping_error("{\"hostId\":\"h\",\"groups\":[\"ok\",3]}", "groups[1]");
	expect_ping_error("{\"hostId\":\"h\",\"reports\":{}}", "reports");
	expect_ping_error("{\"hostId\":\"h\",\"reports\":[{\"envId\":\"a\"},{\"envId\":\"b\"},"
			  "{\"envId\":\"c\",\"deployStage\":\"DANCING\"}]}",
			  "reports[2].deployStage");
	expect_ping_error("{\"hostId\":\"h\",\"reports\":[{\"envId\":\"a\",\"agentStatus\":\"FINE\"}]}",
			  "reports[0].agentStatus");
	expect_ping_error("{\"hostId\":\"h\",\"reports\":[{\"envId\":\"a\",\"deployStage\":3}]}",
			  "reports[0].deployStage");
	expect_ping_error("{\"hostId\":\"h\",\"reports\":[{\"envId\":\"a\",\"errorCode\":\"x\"}]}",
			  "reports[0].errorCode");
	expect_ping_error("{\"hostId\":\"h\",\"reports\":[{\"envId\":\"a\",\"failCount\":-1}]}",
			  "reports[0].failCount");
	expect_ping_error("{\"hostId\":\"h\",\"reports\":[{\"envId\":\"a\",\"errorMessage\":5}]}",
			  "reports[0].errorMessage");
	expect_ping_error("{\"hostId\":\"h\",\"reports\":[{\"envId\":\"a/b\"}]}", "reports[0].envId");
	expect_ping_error("{\"hostId\":\"h\",\"reports\":[{\"envId\":7}]}", "reports[0].envId");
	expect_ping_error("{\"hostId\":\"h\",\"reports\":[5]}", "reports[0]");
}

static void test_ping_groups_limit(void **state)
{
	struct ping_request req = {0};
	struct proto_error err;
	char js[8192];
	size_t n;

	for (int count = 64; count <= 65; count++) {
		n = (size_t)snprintf(js, sizeof(js), "{\"hostId\":\"h\",\"groups\":[");
		for (int i = 0; i < count; i++)
			n += (size_t)snprintf(js + n, sizeof(js) - n, "%s\"g%d\"", i ? "," : "", i);
		snprintf(js + n, sizeof(js) - n, "]}");
		if (count == 64) {
			assert_int_equal(ping(js, &req, &err), 0);
			assert_int_equal(req.n_groups, 64);
			ping_request_release(&req);
		} else
			expect_ping_error(js, "groups");
	}
	/* duplicates are removed, order of first occurrence kept */
	assert_int_equal(ping("{\"hostId\":\"h\",\"groups\":[\"b\",\"a\",\"b\",\"a\",\"c\"]}", &req, &err), 0);
	assert_int_equal(req.n_groups, 3);
	assert_string_equal(req.groups[0], "b");
	assert_string_equal(req.groups[1], "a");
	assert_string_equal(req.groups[2], "c");
	ping_request_release(&req);
}

static void test_ping_reports_limit(void **state)
{
	struct ping_request req = {0};
	struct proto_error err;
	size_t sz = 64 * 1024, n;
	char *js = malloc(sz);

	assert_non_null(js);
	for (int count = 256; count <= 257; count++) {
		n = (size_t)snprintf(js, sz, "{\"hostId\":\"h\",\"reports\":[");
		for (int i = 0; i < count; i++)
			n += (size_t)snprintf(js + n, sz - n, "%s{\"envId\":\"E%d\"}", i ? "," : "", i);
		snprintf(js + n, sz - n, "]}");
		if (count == 256) {
			assert_int_equal(ping(js, &req, &err), 0);
			assert_int_equal(req.n_reports, 256);
			assert_string_equal(req.reports[255].env_id, "E255");
			ping_request_release(&req);
		} else
			expect_ping_error(js, "reports");
	}
	free(js);
}

static void test_ping_report_dedupe(void **state)
{
	struct ping_request req = {0};
	struct proto_error err;

	assert_int_equal(ping("{\"hostId\":\"h\",\"reports\":[{\"envId\":null,\"deployStage\":\"STAGING\"},"
			      "{\"envId\":\"\"},{\"deployId\":\"x\"},{\"envId\":\"A\",\"deployId\":\"D1\"},"
			      "{\"envId\":\"B\"},{\"envId\":\"A\",\"deployId\":\"D2\",\"failCount\":3}]}",
			      &req, &err),
			 0);
	assert_int_equal(req.n_reports, 2);
	assert_string_equal(req.reports[0].env_id, "A");
	assert_string_equal(req.reports[0].deploy_id, "D2");
	assert_int_equal(req.reports[0].fail_count, 3);
	assert_string_equal(req.reports[1].env_id, "B");
	ping_request_release(&req);
}

static char *ping_with_message(const char *msg)
{
	json_t *j = json_pack("{s:s, s:[{s:s, s:s}]}", "hostId", "h", "reports", "envId", "E", "errorMessage", msg);
	char *s;

	assert_non_null(j);
	s = json_dump_compact(j);
	json_decref(j);
	assert_non_null(s);
	return s;
}

static void test_ping_error_message_truncation(void **state)
{
	struct ping_request req = {0};
	struct proto_error err;
	size_t max = PING_ERROR_MESSAGE_MAX_BYTES;
	char *msg, *js;

	/* exactly at the limit: kept whole */
	msg = repeat('x', max);
	js = ping_with_message(msg);
	assert_int_equal(ping(js, &req, &err), 0);
	assert_int_equal(strlen(req.reports[0].error_message), max);
	ping_request_release(&req);
	free(js);
	free(msg);

	/* max + 1 ASCII bytes: the first byte goes */
	msg = repeat('x', max + 1);
	msg[0] = 'A';
	msg[max] = 'Z';
	js = ping_with_message(msg);
	assert_int_equal(ping(js, &req, &err), 0);
	assert_int_equal(strlen(req.reports[0].error_message), max);
	assert_int_equal(req.reports[0].error_message[0], 'x');
	assert_int_equal(req.reports[0].error_message[max - 1], 'Z');
	ping_request_release(&req);
	free(js);
	free(msg);

	/* a 3-byte character straddles the cut: it is dropped entirely, no partial sequence kept */
	msg = repeat('y', max + 2);
	memcpy(msg, "\xe2\x82\xac", 3); /* € at bytes 0..2; the cut at byte 2 lands inside it */
	msg[3] = 'b';
	js = ping_with_message(msg);
	assert_int_equal(ping(js, &req, &err), 0);
	assert_int_equal(strlen(req.reports[0].error_message), max - 1);
	assert_int_equal(req.reports[0].error_message[0], 'b');
	ping_request_release(&req);
	free(js);
	free(msg);

	/* a multi-byte character right at the start of the kept window survives */
	msg = repeat('y', max + 1);
	msg[0] = 'a';
	memcpy(msg + 1, "\xc3\xa9", 2); /* max + 1 bytes: the cut at byte 1 is right before the é */
	js = ping_with_message(msg);
	assert_int_equal(ping(js, &req, &err), 0);
	assert_int_equal(strlen(req.reports[0].error_message), max);
	assert_memory_equal(req.reports[0].error_message, "\xc3\xa9y", 3);
	ping_request_release(&req);
	free(js);
	free(msg);
}

static void test_ping_container_health(void **state)
{
	struct ping_request req = {0};
	struct proto_error err;
	char js[1024], val[256] = "";

	snprintf(js, sizeof(js), "{\"hostId\":\"h\",\"reports\":[{\"envId\":\"E\",\"containerHealthStatus\":\"%s\"}]}",
		 "0123456789abcdef0123456789ABCDEFxyz");
	assert_int_equal(ping(js, &req, &err), 0);
	assert_string_equal(req.reports[0].container_health_status, "0123456789abcdef0123456789ABCDEF");
	ping_request_release(&req);

	for (int i = 0; i < 33; i++)
		strcat(val, "\xc3\xa9");
	snprintf(js, sizeof(js), "{\"hostId\":\"h\",\"reports\":[{\"envId\":\"E\",\"containerHealthStatus\":\"%s\"}]}",
		 val);
	assert_int_equal(ping(js, &req, &err), 0);
	assert_int_equal(utf8_strlen(req.reports[0].container_health_status), 32);
	assert_int_equal(strlen(req.reports[0].container_health_status), 64);
	ping_request_release(&req);
}

static void test_ping_encode(void **state)
{
	struct ping_request req = {0}, back = {0};
	struct proto_error err;
	json_t *j = NULL, *rep;
	static const char *const report_keys[] = {"envId",	 "deployId",  "deployAlias",  "deployStage",
						  "agentStatus", "errorCode", "errorMessage", "failCount"};

	req.host_id = strdup("i-07a1c9");
	req.host_name = strdup("web-07");
	req.agent_version = strdup("slipway-agent/1.0.0");
	assert_int_equal(ping_request_to_json(&req, &j), 0);
	/* unknown identity fields and empty groups omitted, reports always present */
	assert_int_equal(json_object_size(j), 4);
	assert_null(json_object_get(j, "groups"));
	assert_null(json_object_get(j, "hostIp"));
	assert_true(json_is_array(json_object_get(j, "reports")));
	assert_int_equal(json_array_size(json_object_get(j, "reports")), 0);
	json_decref(j);

	req.groups = calloc(2, sizeof(char *));
	req.groups[0] = strdup("web-prod");
	req.groups[1] = strdup("web-all");
	req.n_groups = 2;
	req.reports = calloc(1, sizeof(*req.reports));
	req.n_reports = 1;
	req.reports[0].env_id = strdup("E1");
	req.reports[0].deploy_id = strdup("D1");
	req.reports[0].deploy_stage = DEPLOY_STAGE_RESTARTING;
	req.reports[0].agent_status = AGENT_STATUS_SCRIPT_FAILED;
	req.reports[0].error_code = 3;
	req.reports[0].error_message = strdup("boom \xe2\x82\xac");
	req.reports[0].fail_count = 1;
	assert_int_equal(ping_request_to_json(&req, &j), 0);
	rep = json_array_get(json_object_get(j, "reports"), 0);
	assert_keys(rep, report_keys, ELEMENTSOF(report_keys));
	assert_string_equal(json_string_value(json_object_get(rep, "deployStage")), "RESTARTING");
	assert_string_equal(json_string_value(json_object_get(rep, "agentStatus")), "SCRIPT_FAILED");
	assert_true(json_is_null(json_object_get(rep, "deployAlias")));
	assert_int_equal(json_array_size(json_object_get(j, "groups")), 2);
	assert_null(json_object_get(j, "ec2Tags")); /* no tags: omitted */
	json_decref(j);
	req.tags = calloc(2, sizeof(*req.tags));
	req.tags[0] = (struct ping_tag){ strdup("availabilityZone"), strdup("us-east-1a") };
	req.tags[1] = (struct ping_tag){ strdup("team"), strdup("web") };
	req.n_tags = 2;
	assert_int_equal(ping_request_to_json(&req, &j), 0);
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "ec2Tags"), "team")), "web");

	/* the server decodes what the agent encodes */
	assert_int_equal(ping_request_from_json(j, &back, &err), 0);
	assert_string_equal(back.host_name, "web-07");
	assert_int_equal(back.n_groups, 2);
	assert_int_equal(back.n_tags, 2);
	assert_string_equal(back.tags[0].value, "us-east-1a");
	assert_int_equal(back.reports[0].agent_status, AGENT_STATUS_SCRIPT_FAILED);
	assert_int_equal(back.reports[0].error_code, 3);
	assert_string_equal(back.reports[0].error_message, "boom \xe2\x82\xac");
	json_decref(j);
	ping_request_release(&back);
	ping_request_release(&req);
}

static void test_encode_invalid_utf8(void **state)
{
	struct build b = {0};
	json_t *j = NULL;

	b.name = strdup("bad \xff name");
	assert_int_equal(build_to_json(&b, &j), -EINVAL);
	assert_null(j);
	build_release(&b);
}

/* ---- Ping response / goal ---- */

static void test_response_encode(void **state)
{
	struct ping_response resp;
	struct deploy_goal *g = malloc(sizeof(*g));
	json_t *j = NULL, *goal;

	ping_response_init(&resp);
	assert_int_equal(ping_response_to_json(&resp, &j), 0);
	assert_string_equal(json_string_value(json_object_get(j, "opCode")), "NOOP");
	assert_true(json_is_null(json_object_get(j, "deployGoal")));
	assert_int_equal(json_object_size(j), 2);
	json_decref(j);

	deploy_goal_init(g);
	g->deploy_id = strdup("Zb3kQ0o9TnWc5yRr2LmA1g");
	g->deploy_type = DEPLOY_TYPE_REGULAR;
	g->env_id = strdup("k2JpX8vN4QeT7uYw0aBcDd");
	g->env_name = strdup("web");
	g->stage_name = strdup("prod");
	g->stage_type = ENV_TYPE_PRODUCTION;
	g->deploy_stage = DEPLOY_STAGE_PRE_DOWNLOAD;
	g->script_variables = json_pack("{s:s}", "PORT", "8080");
	g->first_deploy = true;
	resp.op_code = OP_CODE_DEPLOY;
	resp.goal = g;
	assert_int_equal(ping_response_to_json(&resp, &j), 0);
	assert_string_equal(json_string_value(json_object_get(j, "opCode")), "DEPLOY");
	goal = json_object_get(j, "deployGoal");
	assert_keys(goal, goal_keys, ELEMENTSOF(goal_keys));
	assert_string_equal(json_string_value(json_object_get(goal, "deployType")), "REGULAR");
	assert_string_equal(json_string_value(json_object_get(goal, "stageType")), "PRODUCTION");
	assert_string_equal(json_string_value(json_object_get(goal, "deployStage")), "PRE_DOWNLOAD");
	assert_true(json_is_null(json_object_get(goal, "build")));
	assert_true(json_is_null(json_object_get(goal, "agentConfigs")));
	assert_true(json_is_null(json_object_get(goal, "deployAlias")));
	assert_true(json_is_null(json_object_get(goal, "signingKey")));
	assert_true(json_is_true(json_object_get(goal, "firstDeploy")));
	assert_true(json_is_false(json_object_get(goal, "isDocker")));
	assert_string_equal(json_string_value(json_object_get(json_object_get(goal, "scriptVariables"), "PORT")),
			    "8080");
	json_decref(j);

	/* NOOP never carries a goal */
	resp.op_code = OP_CODE_NOOP;
	assert_int_equal(ping_response_to_json(&resp, &j), 0);
	assert_true(json_is_null(json_object_get(j, "deployGoal")));
	json_decref(j);
	ping_response_release(&resp);
	assert_null(resp.goal);
}

static const char example_5_12[] =
    "{\"opCode\":\"DEPLOY\",\"deployGoal\":{\"deployId\":\"Zb3kQ0o9TnWc5yRr2LmA1g\",\"deployAlias\":null,"
    "\"deployType\":\"REGULAR\",\"envId\":\"k2JpX8vN4QeT7uYw0aBcDd\",\"envName\":\"web\",\"stageName\":\"prod\","
    "\"stageType\":\"PRODUCTION\",\"deployStage\":\"DOWNLOADING\",\"scriptVariables\":null,"
    "\"agentConfigs\":{\"process_timeout\":\"900\"},\"firstDeploy\":true,\"isDocker\":false,"
    "\"signingKey\":\"2Xq0=\",\"build\":{\"id\":\"Pq4sV8xB2nHc6mKw9eRt0a_4be1f0c\",\"name\":\"web\","
    "\"artifactUrl\":\"https://art.example/web/4be1f0c.tar.gz\",\"type\":\"Github\",\"repo\":\"acme/web\","
    "\"branch\":\"main\",\"commit\":\"4be1f0c93d\",\"commitShort\":\"4be1f0c\",\"commitInfo\":null,"
    "\"commitDate\":1767225600000,\"publishInfo\":\"ci#812\",\"publishDate\":1767225700000,"
    "\"publisher\":\"ci-web\",\"artifactSha256\":\"9f86d081\",\"artifactSignature\":\"hN3==\"}}}";

static void test_response_decode_example(void **state)
{
	struct ping_response resp;
	json_t *j = parse(example_5_12), *k = NULL;

	assert_int_equal(ping_response_from_json(j, &resp), 0);
	assert_int_equal(resp.op_code, OP_CODE_DEPLOY);
	assert_non_null(resp.goal);
	assert_string_equal(resp.goal->env_name, "web");
	assert_int_equal(resp.goal->deploy_stage, DEPLOY_STAGE_DOWNLOADING);
	assert_int_equal(resp.goal->stage_type, ENV_TYPE_PRODUCTION);
	assert_int_equal(resp.goal->deploy_type, DEPLOY_TYPE_REGULAR);
	assert_null(resp.goal->deploy_alias);
	assert_null(resp.goal->script_variables);
	assert_string_equal(json_string_value(json_object_get(resp.goal->agent_configs, "process_timeout")), "900");
	assert_true(resp.goal->first_deploy);
	assert_false(resp.goal->is_docker);
	assert_string_equal(resp.goal->signing_key, "2Xq0=");
	assert_non_null(resp.goal->build);
	assert_string_equal(resp.goal->build->artifact_sha256, "9f86d081");
	assert_int_equal(resp.goal->build->publish_date, 1767225700000);
	/* re-encoding gives the same JSON */
	assert_int_equal(ping_response_to_json(&resp, &k), 0);
	assert_true(json_equal(j, k));
	json_decref(j);
	json_decref(k);
	ping_response_release(&resp);
}

static void test_response_decode_lenient(void **state)
{
	struct ping_response resp;
	json_t *j, *k = NULL;

	/* unknown opCode and enum values are kept raw; unknown fields ignored; lower case accepted */
	j = parse(
	    "{\"opCode\":\"UPDATE\",\"newField\":1,\"deployGoal\":{\"envName\":\"web\",\"deployType\":\"HOTFIX2\","
	    "\"stageType\":\"production\",\"deployStage\":\"DANCING\",\"futureThing\":{\"a\":1}}}");
	assert_int_equal(ping_response_from_json(j, &resp), 0);
	assert_int_equal(resp.op_code, -EINVAL);
	assert_string_equal(resp.op_code_raw, "UPDATE");
	assert_non_null(resp.goal);
	assert_int_equal(resp.goal->deploy_type, -EINVAL);
	assert_string_equal(resp.goal->deploy_type_raw, "HOTFIX2");
	assert_int_equal(resp.goal->stage_type, ENV_TYPE_PRODUCTION);
	assert_int_equal(resp.goal->deploy_stage, -EINVAL);
	assert_string_equal(resp.goal->deploy_stage_raw, "DANCING");
	assert_null(resp.goal->deploy_id);
	assert_null(resp.goal->build);
	/* encoding writes raw strings back, known ones upper-case */
	assert_int_equal(ping_response_to_json(&resp, &k), 0);
	assert_string_equal(json_string_value(json_object_get(k, "opCode")), "UPDATE");
	assert_string_equal(json_string_value(json_object_get(json_object_get(k, "deployGoal"), "stageType")),
			    "PRODUCTION");
	assert_string_equal(json_string_value(json_object_get(json_object_get(k, "deployGoal"), "deployType")),
			    "HOTFIX2");
	json_decref(k);
	json_decref(j);
	ping_response_release(&resp);

	/* NOOP drops any goal; a missing opCode is -ENOENT */
	j = parse("{\"opCode\":\"noop\",\"deployGoal\":{\"envName\":\"web\"}}");
	assert_int_equal(ping_response_from_json(j, &resp), 0);
	assert_int_equal(resp.op_code, OP_CODE_NOOP);
	assert_null(resp.goal);
	json_decref(j);
	ping_response_release(&resp);
	j = parse("{}");
	assert_int_equal(ping_response_from_json(j, &resp), 0);
	assert_int_equal(resp.op_code, -ENOENT);
	assert_null(resp.op_code_raw);
	assert_null(resp.goal);
	json_decref(j);
	ping_response_release(&resp);

	/* wrong JSON types of known fields are malformed answers */
	static const char *const bad[] = {
	    "[]",
	    "{\"opCode\":5}",
	    "{\"opCode\":\"DEPLOY\",\"deployGoal\":\"x\"}",
	    "{\"opCode\":\"DEPLOY\",\"deployGoal\":{\"envName\":5}}",
	    "{\"opCode\":\"DEPLOY\",\"deployGoal\":{\"firstDeploy\":\"yes\"}}",
	    "{\"opCode\":\"DEPLOY\",\"deployGoal\":{\"scriptVariables\":[1]}}",
	    "{\"opCode\":\"DEPLOY\",\"deployGoal\":{\"build\":[]}}",
	    "{\"opCode\":\"DEPLOY\",\"deployGoal\":{\"build\":{\"commitDate\":\"x\"}}}",
	};
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		j = parse(bad[i]);
		ping_response_init(&resp);
		assert_int_equal(ping_response_from_json(j, &resp), -EBADMSG);
		assert_null(resp.goal);
		json_decref(j);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_build_roundtrip),
	    cmocka_unit_test(test_build_input_ok),
	    cmocka_unit_test(test_build_input_errors),
	    cmocka_unit_test(test_build_input_limits),
	    cmocka_unit_test(test_build_input_unicode_limit),
	    cmocka_unit_test(test_build_input_signature),
	    cmocka_unit_test(test_ping_python_agent),
	    cmocka_unit_test(test_ping_defaults_and_hints),
	    cmocka_unit_test(test_ping_errors),
	    cmocka_unit_test(test_ping_groups_limit),
	    cmocka_unit_test(test_ping_reports_limit),
	    cmocka_unit_test(test_ping_report_dedupe),
	    cmocka_unit_test(test_ping_error_message_truncation),
	    cmocka_unit_test(test_ping_container_health),
	    cmocka_unit_test(test_ping_encode),
	    cmocka_unit_test(test_ping_tags),
	    cmocka_unit_test(test_encode_invalid_utf8),
	    cmocka_unit_test(test_response_encode),
	    cmocka_unit_test(test_response_decode_example),
	    cmocka_unit_test(test_response_decode_lenient),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
