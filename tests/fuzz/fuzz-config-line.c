/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz-config-line: the key = value line splitter of server and agent configuration, and the
 * bounded number parsers fed with the value. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "parse.h"
#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *line, *key, *value;
	int64_t i;
	uint64_t u;
	bool b;

	if (size > 65536)
		return 0;
	line = malloc(size + 1);
	if (!line)
		return 0;
	memcpy(line, data, size);
	line[size] = '\0';
	if (cfg_split_line(line, CFG_SEMICOLON_COMMENTS, &key, &value) == 1) {
		assert(*key);
		(void)parse_i64(value, INT64_MIN, INT64_MAX, &i);
		(void)parse_u64(value, 0, UINT64_MAX, &u);
		(void)parse_size(value, 0, UINT64_MAX, &u);
		(void)parse_seconds_ms(value, 0, INT64_MAX, &i);
		(void)parse_bool(value, &b);
	}
	free(line);
	return 0;
}
