/* fuzz-needs: server */
/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz-deploy-actions: the deploy-route input validators of api/deploy_input.h (PROTOCOL §4.5,
 * §7.1, §7.2) on arbitrary query strings and JSON bodies. Input: byte 0 selects the route (bits
 * 0-1: 0 = POST .../deploys, 1 = POST .../deploys/current/actions, 2 = PUT .../hostactions,
 * 3 = PUT /v1/deploys/{id}) and the stage's current stageType (bits 2-5, minus 1); then the query
 * "k=v&k=v..." up to the first newline (already decoded, as libmicrohttpd hands it over), then
 * the JSON body. A refusal must be -EINVAL with a UTF-8 message (it goes into a JSON error body);
 * an acceptance must satisfy the documented postconditions. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "deploy_input.h"
#include "enums.h"
#include "http/http.h"
#include "jsonutil.h"
#include "util.h"
#include "fuzz.h"
#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* "k=v&k2&k3=" into q (a key without '=' gets the empty value) */
static void query_fill(struct query *q, char *s)
{
	char *save = NULL;

	for (char *part = strtok_r(s, "&", &save); part; part = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(part, '=');
		if (eq)
			*eq++ = 0;
		if (query_add(q, part, eq ? eq : "") < 0)
			abort();
	}
}

static void check_text(const char *s)
{
	CHECK(!s || (strlen(s) <= DEPLOY_INPUT_DESCRIPTION_MAX && fuzz_utf8_ok(s)));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct deploy_input_error err;
	struct query q = { 0 };
	const char *nl;
	char *qs;
	json_t *body = NULL;
	int route, stage_type, k = 0;

	if (size < 1)
		return 0;
	route = data[0] & 3;
	stage_type = ((data[0] >> 2) & 15) - 1;
	data++;
	size--;
	nl = memchr(data, '\n', size);
	qs = strndup((const char *)data, nl ? (size_t)(nl - (const char *)data) : size);
	if (!qs)
		abort();
	query_fill(&q, qs);
	if (nl && json_parse_bounded(nl + 1, size - (size_t)(nl + 1 - (const char *)data), &body, NULL, 0) < 0)
		body = NULL;
	memset(&err, 0xa5, sizeof(err));

	switch (route) {
	case 0: {
		struct deploy_create_input in;
		k = deploy_input_create(&q, stage_type, &in, &err);
		if (k == 0) {
			CHECK(in.build_id && *in.build_id);
			check_text(in.description);
			CHECK(in.delivery_type == -1 ||
			      (in.delivery_type > ENV_TYPE_DEFAULT && in.delivery_type < _ENV_TYPE_MAX &&
			       in.delivery_type != stage_type));
		}
		break;
	}
	case 1: {
		struct deploy_action_input in;
		k = deploy_input_action(&q, &in, &err);
		if (k == 0) {
			CHECK(in.action < _DEPLOY_ACTION_MAX && deploy_action_to_string((int)in.action));
			CHECK(deploy_action_from_string(deploy_action_to_string((int)in.action)) == (int)in.action);
			CHECK(in.action != DEPLOY_ACTION_PROMOTE || (in.from_deploy_id && *in.from_deploy_id));
			CHECK(in.action == DEPLOY_ACTION_PROMOTE || !in.from_deploy_id);
			CHECK(in.action == DEPLOY_ACTION_ROLLBACK || !in.to_deploy_id);
			check_text(in.description);
		}
		break;
	}
	case 2: {
		enum store_agent_action a;
		k = deploy_input_host_action(&q, &a, &err);
		if (k == 0)
			k = deploy_input_host_ids(body, &err);
		if (k == 0)
			CHECK(json_is_array(body) && json_array_size(body) <= DEPLOY_INPUT_HOST_IDS_MAX);
		break;
	}
	default: {
		struct deploy_accept_input in;
		k = deploy_input_accept(body, &in, &err);
		if (k == 0) {
			CHECK(in.acceptance_status == ACCEPTANCE_STATUS_ACCEPTED ||
			      in.acceptance_status == ACCEPTANCE_STATUS_REJECTED);
			check_text(in.description);
		}
		break;
	}
	}
	if (k < 0) {
		CHECK(k == -EINVAL);
		CHECK(memchr(err.field, 0, sizeof(err.field)) && memchr(err.message, 0, sizeof(err.message)));
		CHECK(err.message[0] && fuzz_utf8_ok(err.message) && fuzz_utf8_ok(err.field));
	}
	json_decref(body);
	query_release(&q);
	free(qs);
	return 0;
}
