/* SPDX-License-Identifier: Apache-2.0 */
/* tests/fuzz/fuzz.h: what the fuzz targets share: a check that always runs, and the UTF-8 test of
 * text that goes into a JSON error body. */
#ifndef SLIPWAY_FUZZ_H
#define SLIPWAY_FUZZ_H

#include <stdbool.h>
#include <stdlib.h>

#include <jansson.h>

/* assert() may be compiled out (NDEBUG); a fuzz check must always run */
#define CHECK(x)                                                                                                       \
	do {                                                                                                           \
		if (!(x))                                                                                              \
			abort();                                                                                       \
	} while (0)

/* Is s valid UTF-8 (jansson refuses anything else in a JSON string)? */
static inline bool fuzz_utf8_ok(const char *s)
{
	json_t *j = json_string(s);

	if (!j)
		return false;
	json_decref(j);
	return true;
}

#endif
