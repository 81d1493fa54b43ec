/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz-ping-request: the server's strict PingRequest decoder, then the agent's encoder on what it
 * accepted (a decoded request must always re-encode). */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>

#include "jsonutil.h"
#include "wire.h"
#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ping_request req = { 0 };
	struct proto_error err;
	json_t *j = NULL, *out = NULL;

	if (json_parse_bounded((const char *)data, size, &j, NULL, 0) < 0)
		return 0;
	if (ping_request_from_json(j, &req, &err) == 0) {
		assert(req.host_id && req.host_name);
		if (ping_request_to_json(&req, &out) == 0)
			json_decref(out);
		ping_request_release(&req);
	}
	json_decref(j);
	return 0;
}
