/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz-json: the bounded JSON reader every request goes through (depth ≤ 32, no duplicate keys). */
#include <assert.h>
#include <stdint.h>

#include "jsonutil.h"
#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *j = NULL;
	char err[256];

	if (json_parse_bounded((const char *)data, size, &j, err, sizeof(err)) == 0) {
		assert(json_depth(j) <= JSON_MAX_DEPTH);
		json_decref(j);
	}
	return 0;
}
