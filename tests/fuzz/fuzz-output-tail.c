/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz-output-tail: the errorMessage tail (AGENT.md §10.6) must always be valid UTF-8 without NUL bytes,
 * at most max bytes long, and a suffix-preserving transformation of valid input. fuzz-needs: agent */
#include <assert.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tail.h"
#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool valid_utf8(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned char c = s[i];
		size_t need;
		uint32_t cp;

		if (c == 0)
			return false;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF)
			need = 2, cp = c & 0x1F;
		else if (c >= 0xE0 && c <= 0xEF)
			need = 3, cp = c & 0x0F;
		else if (c >= 0xF0 && c <= 0xF4)
			need = 4, cp = c & 0x07;
		else
			return false;
		if (i + need > n)
			return false;
		for (size_t k = 1; k < need; k++) {
			if ((s[i + k] & 0xC0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3F);
		}
		if ((need == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
		    (need == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
			return false;
		i += need;
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t max;
	char *out = NULL;

	if (size < 1)
		return 0;
	max = 4 + data[0] % 64; /* small caps exercise the cutting paths */
	data++;
	size--;
	if (tail_sanitize((const char *)data, size, max, &out) < 0)
		return 0;
	assert(strlen(out) <= max);
	assert(valid_utf8((const unsigned char *)out, strlen(out)));
	/* valid input without NULs that fits is returned unchanged */
	if (size <= max && valid_utf8(data, size))
		assert(strlen(out) == size && memcmp(out, data, size) == 0);
	free(out);
	return 0;
}
