/* SPDX-License-Identifier: Apache-2.0 */
/* proto/enums.h: every Teletraan enum of PROTOCOL.md §2, in declaration order (order matters:
 * $TELETRAAN_NUMERIC_DEPLOY_STATE is the index). Nothing else in the tree spells these names.
 * X_from_string() matches case-insensitively and returns the value or -EINVAL;
 * X_to_string() returns the upper-case name, or NULL for an out-of-range value. */
#ifndef SLIPWAY_PROTO_ENUMS_H
#define SLIPWAY_PROTO_ENUMS_H

#include <stdbool.h>

#define PROTO_ENUM_LIST(X)                                                                                             \
	X(deploy_type, DEPLOY_TYPE, REGULAR, HOTFIX, ROLLBACK, RESTART, STOP)                                          \
	X(deploy_state, DEPLOY_STATE, RUNNING, FAILING, SUCCEEDING, SUCCEEDED, ABORTED)                                \
	X(deploy_outcome, DEPLOY_OUTCOME, RUNNING, SUCCEEDED, FAILED, ROLLED_BACK, REPLACED, NO_HOSTS)                 \
	X(acceptance_status, ACCEPTANCE_STATUS, PENDING_DEPLOY, OUTSTANDING, PENDING_ACCEPT, ACCEPTED, REJECTED,       \
	  TERMINATED)                                                                                                  \
	X(acceptance_type, ACCEPTANCE_TYPE, AUTO, MANUAL)                                                              \
	X(agent_state, AGENT_STATE, NORMAL, PAUSED_BY_SYSTEM, PAUSED_BY_USER, RESET, RESET_BY_SYSTEM, DELETE,          \
	  UNREACHABLE, STOP)                                                                                           \
	X(agent_status, AGENT_STATUS, SUCCEEDED, UNKNOWN, AGENT_FAILED, RETRYABLE_AGENT_FAILED, SCRIPT_FAILED,         \
	  ABORTED_BY_SERVICE, SCRIPT_TIMEOUT, TOO_MANY_RETRY, RUNTIME_MISMATCH)                                        \
	X(deploy_stage, DEPLOY_STAGE, UNKNOWN, PRE_DOWNLOAD, DOWNLOADING, POST_DOWNLOAD, STAGING, PRE_RESTART,         \
	  RESTARTING, POST_RESTART, SERVING_BUILD, STOPPING, STOPPED)                                                  \
	X(op_code, OP_CODE, NOOP, DEPLOY, RESTART, DELETE, WAIT, ROLLBACK, STOP)                                       \
	X(env_state, ENV_STATE, NORMAL, PAUSED, DISABLED)                                                              \
	X(environ_state, ENVIRON_STATE, NORMAL, DISABLED)                                                              \
	X(env_type, ENV_TYPE, DEFAULT, PRODUCTION, CONTROL, CANARY, LATEST, DEV, STAGING)                              \
	X(promote_type, PROMOTE_TYPE, MANUAL, AUTO)                                                                    \
	X(promote_disable_policy, PROMOTE_DISABLE_POLICY, MANUAL, AUTO)                                                \
	X(promote_fail_policy, PROMOTE_FAIL_POLICY, CONTINUE, DISABLE, ROLLBACK)                                       \
	X(host_state, HOST_STATE, PROVISIONED, ACTIVE, PENDING_TERMINATE, TERMINATING, TERMINATED,                     \
	  PENDING_TERMINATE_NO_REPLACE)                                                                                \
	X(tag_value, TAG_VALUE, BAD_BUILD, GOOD_BUILD, CERTIFIED_BUILD, ENABLE_ENV, DISABLE_ENV)                       \
	X(tag_target_type, TAG_TARGET_TYPE, BUILD, ENVIRONMENT, TELETRAAN)                                             \
	X(schedule_state, SCHEDULE_STATE, NOT_STARTED, RUNNING, COOLING_DOWN, FINAL)                                   \
	X(override_policy, OVERRIDE_POLICY, OVERRIDE, WARN)                                                            \
	X(role, ROLE, READER, PINGER, PUBLISHER, OPERATOR, ADMIN)                                                      \
	X(scope_type, SCOPE_TYPE, ENV, SYSTEM)                                                                         \
	X(failure_policy, FAILURE_POLICY, HALT, CONTINUE, ROLLBACK, REMOVE_HOST)                                       \
	X(deploy_priority, DEPLOY_PRIORITY, NORMAL, HIGH, LOW, HIGHER, LOWER)                                          \
	X(constraint_type, CONSTRAINT_TYPE, GROUP_BY_GROUP, ALL_GROUPS_IN_PARALLEL)

/* Expand each enum: enum deploy_stage { DEPLOY_STAGE_UNKNOWN, ..., _DEPLOY_STAGE_MAX }; */
#define PROTO_ENUM_V1(P, v) P##_##v,
#define PROTO_FE_1(P, a) PROTO_ENUM_V1(P, a)
#define PROTO_FE_2(P, a, ...) PROTO_ENUM_V1(P, a) PROTO_FE_1(P, __VA_ARGS__)
#define PROTO_FE_3(P, a, ...) PROTO_ENUM_V1(P, a) PROTO_FE_2(P, __VA_ARGS__)
#define PROTO_FE_4(P, a, ...) PROTO_ENUM_V1(P, a) PROTO_FE_3(P, __VA_ARGS__)
#define PROTO_FE_5(P, a, ...) PROTO_ENUM_V1(P, a) PROTO_FE_4(P, __VA_ARGS__)
#define PROTO_FE_6(P, a, ...) PROTO_ENUM_V1(P, a) PROTO_FE_5(P, __VA_ARGS__)
#define PROTO_FE_7(P, a, ...) PROTO_ENUM_V1(P, a) PROTO_FE_6(P, __VA_ARGS__)
#define PROTO_FE_8(P, a, ...) PROTO_ENUM_V1(P, a) PROTO_FE_7(P, __VA_ARGS__)
#define PROTO_FE_9(P, a, ...) PROTO_ENUM_V1(P, a) PROTO_FE_8(P, __VA_ARGS__)
#define PROTO_FE_10(P, a, ...) PROTO_ENUM_V1(P, a) PROTO_FE_9(P, __VA_ARGS__)
#define PROTO_FE_11(P, a, ...) PROTO_ENUM_V1(P, a) PROTO_FE_10(P, __VA_ARGS__)
#define PROTO_NARG(...) PROTO_NARG_(__VA_ARGS__, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1)
#define PROTO_NARG_(_1, _2, _3, _4, _5, _6, _7, _8, _9, _10, _11, N, ...) N
#define PROTO_CAT(a, b) PROTO_CAT_(a, b)
#define PROTO_CAT_(a, b) a##b

#define PROTO_DECLARE_ENUM(name, PREFIX, ...)                                                                          \
	enum name { PROTO_CAT(PROTO_FE_, PROTO_NARG(__VA_ARGS__))(PREFIX, __VA_ARGS__) _##PREFIX##_MAX };              \
	const char *name##_to_string(int v);                                                                           \
	int name##_from_string(const char *s);

PROTO_ENUM_LIST(PROTO_DECLARE_ENUM)

/* Helpers with meaning from PROTOCOL.md §2. */
bool agent_status_is_fatal(int status); /* AGENT_FAILED, SCRIPT_TIMEOUT, TOO_MANY_RETRY, RUNTIME_MISMATCH */
bool deploy_state_is_active(int state); /* RUNNING, FAILING, SUCCEEDING */
bool acceptance_status_is_final(int st); /* ACCEPTED, REJECTED, TERMINATED */
bool env_type_is_production(int t);      /* DEFAULT, PRODUCTION, CONTROL, CANARY */
int deploy_priority_value(int prio);     /* NORMAL 3000, HIGH 2000, LOW 4000, HIGHER 1000, LOWER 5000 */
int deploy_type_to_op_code(int type);    /* REGULAR/HOTFIX/STOP→DEPLOY, ROLLBACK→ROLLBACK, RESTART→RESTART */
/* The next stage on the deploy path, or -EINVAL for SERVING_BUILD, STOPPING, STOPPED. */
int deploy_stage_next(int stage);
/* Role input aliases (READ→READER, EXECUTE/WRITE/DELETE→OPERATOR, MANAGE_SCRIPT_TOKEN→ADMIN), then role names. */
int role_from_string_alias(const char *s);
/* Rank for §9.3 comparison: READER 0, PINGER 1, PUBLISHER 1, OPERATOR 2, ADMIN 3. */
int role_rank(int role);
/* true iff a principal holding `held` satisfies `required` (§9.3). */
bool role_satisfies(int held, int required);

#endif
