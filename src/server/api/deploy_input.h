/* SPDX-License-Identifier: Apache-2.0 */
/* api/deploy_input.h: parsing and validation of the inputs of the deploy routes (PROTOCOL §4.5,
 * §7.1, §7.2): the query of POST {env}/{stage}/deploys and of POST .../deploys/current/actions,
 * the query and body of PUT .../deploys/hostactions and the body of PUT /v1/deploys/{id}. Pure:
 * no store, no request, no clock; strings in the results are borrowed from the query or the JSON
 * given. api/deploys.c calls these first and answers a refusal with 400 naming err.field; the
 * fuzzer (tests/fuzz/fuzz-deploy-actions.c) and tests/unit/server/test-deploy-input.c call them
 * directly. Existence checks (build, deploy, env) stay in the handlers. */
#ifndef SLIPWAY_SERVER_DEPLOY_INPUT_H
#define SLIPWAY_SERVER_DEPLOY_INPUT_H

#include <stdbool.h>
#include <jansson.h>

#include "http/http.h"

#define DEPLOY_INPUT_DESCRIPTION_MAX 2048
#define DEPLOY_INPUT_HOST_IDS_MAX 10000

/* Why an input was refused: the field ("" for the body as a whole) and a message for the
 * JSON error body. */
struct deploy_input_error {
	char field[64];
	char message[256];
};

/* POST {env}/{stage}/deploys: buildId (required), description, deliveryType, force. */
struct deploy_create_input {
	const char *build_id;
	const char *description; /* NULL when absent */
	int delivery_type;       /* ENV_TYPE_*; -1 when absent or equal to the stage's current type */
	bool force;
};
/* current_stage_type is the stage's stageType (ENV_TYPE_*, or -1 when unknown): a production
 * stage may not become a non-production one (§3.1). */
int deploy_input_create(const struct query *q, int current_stage_type, struct deploy_create_input *ret,
			struct deploy_input_error *err);

enum deploy_action {
	DEPLOY_ACTION_PROMOTE,
	DEPLOY_ACTION_ROLLBACK,
	DEPLOY_ACTION_RESTART,
	DEPLOY_ACTION_PAUSE,
	DEPLOY_ACTION_RESUME,
	_DEPLOY_ACTION_MAX,
};
const char *deploy_action_to_string(int a);
/* Case-insensitive; -EINVAL when unknown. */
int deploy_action_from_string(const char *s);

/* POST .../deploys/current/actions: actionType (required), fromDeployId (required for PROMOTE),
 * toDeployId (ROLLBACK, optional), description, force. Parameters an action does not use are
 * ignored and left NULL. */
struct deploy_action_input {
	enum deploy_action action;
	const char *from_deploy_id;
	const char *to_deploy_id;
	const char *description;
	bool force;
};
int deploy_input_action(const struct query *q, struct deploy_action_input *ret, struct deploy_input_error *err);

/* PUT .../deploys/hostactions: actionType PAUSED_BY_USER / RESET / NORMAL (case-insensitive). */
int deploy_input_host_action(const struct query *q, enum store_agent_action *ret, struct deploy_input_error *err);
/* A JSON array of at most DEPLOY_INPUT_HOST_IDS_MAX valid host ids (in may be NULL: no body). */
int deploy_input_host_ids(const json_t *in, struct deploy_input_error *err);

/* PUT /v1/deploys/{id}: {"acceptanceStatus": "ACCEPTED" | "REJECTED", "description": "..."};
 * other fields are ignored. in may be NULL (no body). */
struct deploy_accept_input {
	int acceptance_status; /* ACCEPTANCE_STATUS_ACCEPTED or _REJECTED */
	const char *description;
};
int deploy_input_accept(const json_t *in, struct deploy_accept_input *ret, struct deploy_input_error *err);

#endif
