/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz-build: POST /v1/builds validation and the Build encoder. */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "jsonutil.h"
#include "wire.h"
#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct build b = { 0 };
	struct proto_error err;
	json_t *j = NULL, *out = NULL;

	if (json_parse_bounded((const char *)data, size, &j, NULL, 0) < 0)
		return 0;
	if (build_input_from_json(j, &b, &err) == 0) {
		assert(b.name && b.commit && b.artifact_url && b.commit_short);
		assert(strlen(b.commit_short) <= 7);
		if (build_to_json(&b, &out) == 0)
			json_decref(out);
		build_release(&b);
	}
	json_decref(j);
	/* the lenient decoder used by the agent and CLI must never crash either */
	if (json_parse_bounded((const char *)data, size, &j, NULL, 0) == 0) {
		struct ping_response resp;
		ping_response_init(&resp);
		if (ping_response_from_json(j, &resp) == 0)
			ping_response_release(&resp);
		json_decref(j);
	}
	return 0;
}
