/* SPDX-License-Identifier: Apache-2.0 */
/* proto/enums.c: string tables of the wire enums. */
#include <errno.h>
#include <stddef.h>
#include <strings.h>

#include "enums.h"
#include "util.h"
#include "banned.h"

#define PROTO_STR_V1(P, v) #v,
#define PROTO_SFE_1(P, a) PROTO_STR_V1(P, a)
#define PROTO_SFE_2(P, a, ...) PROTO_STR_V1(P, a) PROTO_SFE_1(P, __VA_ARGS__)
#define PROTO_SFE_3(P, a, ...) PROTO_STR_V1(P, a) PROTO_SFE_2(P, __VA_ARGS__)
#define PROTO_SFE_4(P, a, ...) PROTO_STR_V1(P, a) PROTO_SFE_3(P, __VA_ARGS__)
#define PROTO_SFE_5(P, a, ...) PROTO_STR_V1(P, a) PROTO_SFE_4(P, __VA_ARGS__)
#define PROTO_SFE_6(P, a, ...) PROTO_STR_V1(P, a) PROTO_SFE_5(P, __VA_ARGS__)
#define PROTO_SFE_7(P, a, ...) PROTO_STR_V1(P, a) PROTO_SFE_6(P, __VA_ARGS__)
#define PROTO_SFE_8(P, a, ...) PROTO_STR_V1(P, a) PROTO_SFE_7(P, __VA_ARGS__)
#define PROTO_SFE_9(P, a, ...) PROTO_STR_V1(P, a) PROTO_SFE_8(P, __VA_ARGS__)
#define PROTO_SFE_10(P, a, ...) PROTO_STR_V1(P, a) PROTO_SFE_9(P, __VA_ARGS__)
#define PROTO_SFE_11(P, a, ...) PROTO_STR_V1(P, a) PROTO_SFE_10(P, __VA_ARGS__)

#define PROTO_DEFINE_ENUM(name, PREFIX, ...)                                                                           \
	static const char *const name##_names[] = { PROTO_CAT(PROTO_SFE_, PROTO_NARG(__VA_ARGS__))(PREFIX,            \
												   __VA_ARGS__) };    \
	const char *name##_to_string(int v)                                                                            \
	{                                                                                                              \
		if (v < 0 || v >= (int)ELEMENTSOF(name##_names))                                                       \
			return NULL;                                                                                   \
		return name##_names[v];                                                                                \
	}                                                                                                              \
	int name##_from_string(const char *s)                                                                          \
	{                                                                                                              \
		if (!s)                                                                                                \
			return -EINVAL;                                                                                \
		for (size_t i = 0; i < ELEMENTSOF(name##_names); i++)                                                 \
			if (strcasecmp(s, name##_names[i]) == 0)                                                       \
				return (int)i;                                                                         \
		return -EINVAL;                                                                                        \
	}

PROTO_ENUM_LIST(PROTO_DEFINE_ENUM)

bool agent_status_is_fatal(int s)
{
	return s == AGENT_STATUS_AGENT_FAILED || s == AGENT_STATUS_SCRIPT_TIMEOUT || s == AGENT_STATUS_TOO_MANY_RETRY ||
	       s == AGENT_STATUS_RUNTIME_MISMATCH;
}

bool deploy_state_is_active(int s)
{
	return s == DEPLOY_STATE_RUNNING || s == DEPLOY_STATE_FAILING || s == DEPLOY_STATE_SUCCEEDING;
}

bool acceptance_status_is_final(int s)
{
	return s == ACCEPTANCE_STATUS_ACCEPTED || s == ACCEPTANCE_STATUS_REJECTED || s == ACCEPTANCE_STATUS_TERMINATED;
}

bool env_type_is_production(int t)
{
	return t == ENV_TYPE_DEFAULT || t == ENV_TYPE_PRODUCTION || t == ENV_TYPE_CONTROL || t == ENV_TYPE_CANARY;
}

int deploy_priority_value(int p)
{
	switch (p) {
	case DEPLOY_PRIORITY_HIGH: return 2000;
	case DEPLOY_PRIORITY_LOW: return 4000;
	case DEPLOY_PRIORITY_HIGHER: return 1000;
	case DEPLOY_PRIORITY_LOWER: return 5000;
	default: return 3000;
	}
}

int deploy_type_to_op_code(int t)
{
	switch (t) {
	case DEPLOY_TYPE_ROLLBACK: return OP_CODE_ROLLBACK;
	case DEPLOY_TYPE_RESTART: return OP_CODE_RESTART;
	default: return OP_CODE_DEPLOY;
	}
}

int deploy_stage_next(int s)
{
	if (s >= DEPLOY_STAGE_UNKNOWN && s < DEPLOY_STAGE_SERVING_BUILD)
		return s + 1;
	return -EINVAL;
}

int role_from_string_alias(const char *s)
{
	if (!s)
		return -EINVAL;
	if (strcasecmp(s, "READ") == 0)
		return ROLE_READER;
	if (strcasecmp(s, "EXECUTE") == 0 || strcasecmp(s, "WRITE") == 0 || strcasecmp(s, "DELETE") == 0)
		return ROLE_OPERATOR;
	if (strcasecmp(s, "MANAGE_SCRIPT_TOKEN") == 0)
		return ROLE_ADMIN;
	return role_from_string(s);
}

int role_rank(int role)
{
	switch (role) {
	case ROLE_READER: return 0;
	case ROLE_PINGER:
	case ROLE_PUBLISHER: return 1;
	case ROLE_OPERATOR: return 2;
	case ROLE_ADMIN: return 3;
	default: return -1;
	}
}

bool role_satisfies(int held, int required)
{
	if (held == required)
		return true;
	return role_rank(held) > role_rank(required);
}
