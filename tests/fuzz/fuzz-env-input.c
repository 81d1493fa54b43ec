/* fuzz-needs: server */
/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz-env-input: the EnvStage input validator of POST /v1/envs and PUT {env}/{stage} (PROTOCOL
 * §3.1, §1.3-§1.5) on arbitrary JSON, as an OPERATOR (ADMIN-only fields give 403) and as an ADMIN.
 * Byte 0: bit 0 = create, bit 1 = ADMIN. Every refusal must be a recorded 400/403. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "enums.h"
#include "http/http.h"
#include "jsonutil.h"
#include "util.h"
#include "fuzz.h"
#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct server srv;
	struct req *r;
	json_t *in = NULL;
	int k;

	if (size < 1)
		return 0;
	if (json_parse_bounded((const char *)data + 1, size - 1, &in, NULL, 0) < 0)
		return 0;
	r = calloc(1, sizeof(*r));
	if (!r)
		abort();
	r->srv = &srv;
	r->principal.kind = PRINCIPAL_TOKEN;
	(void)str_copy(r->principal.name, sizeof(r->principal.name), "fuzzer");
	r->principal.role = data[0] & 2 ? ROLE_ADMIN : ROLE_OPERATOR;
	r->principal.scope_type = SCOPE_TYPE_SYSTEM;
	(void)str_copy(r->principal.resource, sizeof(r->principal.resource), "*");
	k = api_env_input_check(r, in, data[0] & 1);
	if (k < 0 && k != -ENOMEM)
		CHECK(r->err_status == 400 || r->err_status == 403);
	if (k >= 0)
		CHECK(r->err_status == 0);
	CHECK(!r->arena);
	json_decref(in);
	free(r);
	return 0;
}
