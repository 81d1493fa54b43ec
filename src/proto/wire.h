/* SPDX-License-Identifier: Apache-2.0 */
/* proto/wire.h: the ping/build wire model shared by server, agent and CLI (PROTOCOL.md §3.2, §3.6,
 * §5.8, §5.12): Build, PingRequest, PingReport, PingResponse and DeployGoal structs and their JSON
 * (de)serialisation. Every JSON field name of these types is spelled here and nowhere else.
 *
 * Ownership: every char * in these structs is malloc'd and owned by the struct; NULL means
 * absent, and encoders write it as JSON null (PROTOCOL §1.3). json_t * members hold one
 * reference owned by the struct. X_release() frees the contents and zeroes the struct (safe on a
 * zeroed or half-built struct); X_free() also frees the struct itself and accepts NULL.
 *
 * Decoders never touch their ret_ output on failure. Two kinds of decoders exist:
 *   strict  (server input): unknown enum values, wrong types, bad patterns and over-long strings
 *           are -EINVAL with *err naming the offending field (dotted/indexed, PROTOCOL §1.6).
 *   lenient (agent/CLI reading server output): unknown enum values are kept as raw strings, unknown
 *           fields are ignored; only a wrong JSON type of a known field is -EBADMSG.
 * Encoders return 0, -ENOMEM, or -EINVAL when a string is not valid UTF-8 (jansson refuses it).
 * Nothing here logs. */
#ifndef SLIPWAY_PROTO_WIRE_H
#define SLIPWAY_PROTO_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "enums.h"

/* Limits of PROTOCOL §1.3/§1.5/§3.2 (characters; for ASCII-only patterns characters = bytes). */
#define PING_MAX_REPORTS		256
#define PING_MAX_GROUPS			64
#define PING_MAX_TAGS			32  /* ec2Tags entries */
#define PING_TAG_VALUE_MAX_BYTES	256 /* a tag value, UTF-8 */
#define PING_TAG_AVAILABILITY_ZONE	"availabilityZone" /* the host tag the ping's availabilityZone becomes */
#define PING_ERROR_MESSAGE_MAX_BYTES	65536 /* the last bytes are kept, cut at a UTF-8 boundary */
#define PING_CONTAINER_HEALTH_MAX_CHARS 32    /* the first characters are kept */
#define PING_CONTAINER_HEALTH_MAX_BYTES 128   /* 32 UTF-8 characters take up to 128 bytes */
#define WIRE_STRING_MAX_CHARS		256   /* a string field with no stated limit */
#define BUILD_URL_MAX_CHARS		512
#define BUILD_INFO_MAX_CHARS		512 /* commitInfo, publishInfo */
#define BUILD_FIELD_MAX_CHARS		64  /* type, repo, branch, commit, name */
#define BUILD_COMMIT_SHORT_MAX_CHARS	7
#define BUILD_SIGNATURE_BYTES		64 /* Ed25519 signature, decoded */

/* Where a strict decoder puts the reason for -EINVAL: field = the §3 name ("reports[2].deployStage",
 * "groups[0]", "artifactUrl"), or "" when the error is not about one field (the body is not an
 * object). message = a human-readable lower-case sentence for the HTTP 400 body. */
struct proto_error {
	char field[128];
	char message[512];
};

/* ---- Build (PROTOCOL §3.2) ---------------------------------------------------------------------- */
struct build {
	char *id;
	char *name;
	char *artifact_url;
	char *type;
	char *repo;
	char *branch;
	char *commit;
	char *commit_short;
	char *commit_info;
	char *publish_info;
	char *publisher;
	char *artifact_sha256;	  /* 64 lower-case hex chars, or NULL */
	char *artifact_signature; /* standard padded base64 of 64 bytes, or NULL */
	int64_t commit_date;	  /* epoch ms; 0 = absent (null on the wire) */
	int64_t publish_date;	  /* epoch ms; 0 = absent (null on the wire) */
};

void build_release(struct build *b);
void build_free(struct build *b);
/* Deep copy into *ret (caller releases). 0 or -ENOMEM. */
int build_copy(const struct build *src, struct build *ret);
/* Every §3.2 field, null when absent. *ret is the caller's (json_decref). 0 or -ENOMEM. */
int build_to_json(const struct build *b, json_t **ret);
/* Lenient: any of the fields that is present must have the right JSON type (string/integer or
 * null), else -EBADMSG; nothing else is checked. 0, -EBADMSG or -ENOMEM. */
int build_from_json(const json_t *j, struct build *ret);
/* Strict POST /v1/builds input (§3.2, §1.5): name (buildName pattern), repo, branch, commit (commit
 * pattern) and artifactUrl (≤ 512, scheme https/http/s3/file) required; type/repo/branch ≤ 64;
 * commitShort ≤ 7 (default: first 7 chars of commit); commitInfo/publishInfo ≤ 512;
 * commitDate/publishDate integers ≥ 0; artifactSha256 64 hex chars (stored lower-case);
 * artifactSignature canonical base64 of exactly 64 bytes. id and publisher are read-only and
 * ignored (left NULL). Server defaults (id, type, commitInfo, publishInfo, dates, publisher) are
 * left to the caller. 0, -EINVAL (with *err filled) or -ENOMEM. */
int build_input_from_json(const json_t *j, struct build *ret, struct proto_error *err);

/* ---- Ping request (PROTOCOL §3.6, §5.1) ----------------------------------------------------------- */
struct ping_report {
	char *env_id; /* never NULL or "" after ping_request_from_json (such reports are dropped) */
	char *deploy_id;
	char *deploy_alias;
	int deploy_stage; /* enum deploy_stage; absent/null → DEPLOY_STAGE_UNKNOWN */
	int agent_status; /* enum agent_status; absent/null → AGENT_STATUS_UNKNOWN */
	int error_code;	  /* absent/null → 0 */
	char *error_message;
	int fail_count;		       /* absent/null → 0 */
	bool reset_by_system;	       /* agentState was "RESET_BY_SYSTEM" (any case); the only meaningful value */
	char *container_health_status; /* ≤ 32 chars (≤ 128 bytes); NULL when null/absent (stored as "") */
};

/* One host tag (ec2Tags entry): key ^[A-Za-z0-9:_.-]{1,64}$, value UTF-8 of at most PING_TAG_VALUE_MAX_BYTES. */
struct ping_tag {
	char *key;
	char *value;
};

struct ping_request {
	char *host_id;	 /* required */
	char *host_name; /* default host_id */
	char *host_ip;
	char *autoscaling_group;
	char *availability_zone;
	char *account_id;
	char *agent_version; /* decoder default "UNKNOWN" */
	char **groups;	     /* de-duplicated; n_groups may be 0 (the server records "NULL") */
	size_t n_groups;
	struct ping_report *reports;
	size_t n_reports;
	struct ping_tag *tags; /* ec2Tags, sorted by key (keys are unique); n_tags ≤ PING_MAX_TAGS */
	size_t n_tags;
};

void ping_report_release(struct ping_report *rep);
void ping_request_release(struct ping_request *req);
void ping_request_free(struct ping_request *req);

/* Strict server-side decoder: hostId required (hostId/hostName pattern §1.5); groups null/absent or
 * an array of ≤ 64 group names (§1.5), de-duplicated keeping first occurrence order; reports
 * null/absent or an array of ≤ 256 objects; unknown deployStage/agentStatus → -EINVAL naming
 * "reports[i].deployStage"; ec2Tags null/absent or an object of ≤ 32 tags (tag_key_is_valid keys,
 * string values of ≤ 256 bytes without NULs; a bad one → -EINVAL naming "ec2Tags" or
 * "ec2Tags.<key>"), sorted by key; the hint/ignored fields (stageType, normandieStatus,
 * knoxStatus, agentState, extraInfo) never cause an error; an over-long errorMessage keeps its last
 * 65536 bytes (UTF-8 boundary, embedded NULs dropped) and containerHealthStatus its first 32 chars
 * (a non-string containerHealthStatus counts as null); reports with a null/empty envId are dropped;
 * for duplicate envIds the last report wins (at the position of the first).
 * 0, -EINVAL (with *err) or -ENOMEM. */
int ping_request_from_json(const json_t *j, struct ping_request *ret, struct proto_error *err);
/* Agent-side encoder (AGENT.md §5.5): NULL identity fields and empty groups are omitted; "reports"
 * is always present; each report carries envId, deployId, deployAlias, deployStage, agentStatus,
 * errorCode, errorMessage, failCount (null when absent), and containerHealthStatus only when set;
 * "ec2Tags" (an object) only when there are tags.
 * 0 or -ENOMEM. */
int ping_request_to_json(const struct ping_request *req, json_t **ret);

/* ---- Ping response and deploy goal (PROTOCOL §3.6, §5.8) ------------------------------------------ */
/* Enum members below are an enum value ≥ 0 when known. The lenient decoder stores -ENOENT when the
 * field was absent/null and -EINVAL when the string is unknown; the *_raw member then holds the
 * string as received (it is set whenever a string was received). The encoder writes the enum name
 * when the value is ≥ 0, else *_raw, else null. */
struct deploy_goal {
	char *deploy_id;
	char *deploy_alias;
	int deploy_type; /* enum deploy_type */
	char *deploy_type_raw;
	char *env_id;
	char *env_name;
	char *stage_name;
	int stage_type; /* enum env_type */
	char *stage_type_raw;
	int deploy_stage; /* enum deploy_stage: the stage the agent must run next */
	char *deploy_stage_raw;
	struct build *build;	  /* only with DOWNLOADING; NULL = null */
	json_t *script_variables; /* object string→string, or NULL = null ({} = "none configured") */
	json_t *agent_configs;	  /* object string→string, or NULL = null */
	bool first_deploy;
	bool is_docker;
	char *signing_key; /* only with DOWNLOADING, when the env has one */
};

struct ping_response {
	int op_code; /* enum op_code, or -ENOENT/-EINVAL as above */
	char *op_code_raw;
	struct deploy_goal *goal; /* NULL = null; always NULL for NOOP */
};

/* Initialise enum members to -ENOENT and everything else to NULL/0/false. Allocates nothing. */
void deploy_goal_init(struct deploy_goal *g);
void deploy_goal_release(struct deploy_goal *g);
void deploy_goal_free(struct deploy_goal *g);
void ping_response_init(struct ping_response *resp); /* op_code = OP_CODE_NOOP, goal = NULL */
void ping_response_release(struct ping_response *resp);

/* Server-side encoders: every §3.6 field present, null when absent, exactly the §5.12 names.
 * ping_response_to_json writes deployGoal null whenever op_code is NOOP. 0 or -ENOMEM. */
int deploy_goal_to_json(const struct deploy_goal *g, json_t **ret);
int ping_response_to_json(const struct ping_response *resp, json_t **ret);

/* Agent-side lenient decoders. Unknown fields are ignored; unknown opCode/deployType/stageType/
 * deployStage values are kept raw (see above); a NOOP answer yields goal NULL whatever it carried;
 * a deployGoal that is not an object (or null) or a known field of the wrong JSON type is
 * -EBADMSG; scriptVariables/agentConfigs must be objects or null (-EBADMSG), their members are
 * copied as is. 0, -EBADMSG or -ENOMEM. */
int deploy_goal_from_json(const json_t *j, struct deploy_goal *ret);
int ping_response_from_json(const json_t *j, struct ping_response *ret);

/* ---- helpers ---------------------------------------------------------------------------------- */
/* Number of UTF-8 characters (code points) in s. */
size_t utf8_strlen(const char *s);

#endif
