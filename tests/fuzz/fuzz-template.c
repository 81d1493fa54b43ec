/* fuzz-needs: agent */
/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz-template: the agent's template renderer (AGENT §9.1) on arbitrary template text with a
 * fixed dictionary; output bounded by the buffer cap (-EMSGSIZE, never an overrun). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "template.h"
#include "fuzz.h"
#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct template_var vars[] = {
		{ "PORT", "8080" }, { "ENV_NAME", "web" }, { "EMPTY", "" },
		{ "LOOP", "${TELETRAAN_LOOP}$TELETRAAN_LOOP" }, { "a-b_c", "x" },
	};
	struct buf out;
	int k;

	buf_init(&out, 1u << 20);
	k = template_render((const char *)data, size, vars, sizeof(vars) / sizeof(vars[0]), &out);
	CHECK(k == 0 || k == -EMSGSIZE || k == -ENOMEM);
	CHECK(out.p && strlen(out.p) <= out.len);
	/* a template without '$' renders to itself */
	if (k == 0 && !memchr(data, '$', size) && !memchr(data, 0, size))
		CHECK(out.len == size && memcmp(out.p, data, size) == 0);
	buf_release(&out);
	return 0;
}
