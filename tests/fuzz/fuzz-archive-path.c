/* fuzz-needs: agent */
/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz-archive-path: the agent's archive entry checks (AGENT §8.6): a normalised name is never
 * absolute, never has a ".." or "." component or an empty one; a symlink target accepted by the
 * checker never leaves the root. Input: entry name, NUL, symlink target. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "extract.h"
#include "fuzz.h"
#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_components(const char *p)
{
	const char *s = p;

	CHECK(*p != '/');
	while (*s) {
		const char *e = strchr(s, '/');
		size_t n = e ? (size_t)(e - s) : strlen(s);
		CHECK(n > 0);
		CHECK(!(n == 1 && s[0] == '.'));
		CHECK(!(n == 2 && s[0] == '.' && s[1] == '.'));
		s += n;
		if (*s == '/')
			s++;
	}
}

/* Lexically resolve target against the directory of entry; return depth below the root, or -1
 * when it escapes. */
static int resolved_depth(const char *entry, const char *target)
{
	int depth = 0;
	const char *s;

	for (s = entry; *s; s++)
		if (*s == '/')
			depth++;
	s = target;
	while (*s) {
		const char *e = strchr(s, '/');
		size_t n = e ? (size_t)(e - s) : strlen(s);
		if (n == 2 && s[0] == '.' && s[1] == '.') {
			if (--depth < 0)
				return -1;
		} else if (n > 0 && !(n == 1 && s[0] == '.'))
			depth++;
		s += n;
		if (*s == '/')
			s++;
	}
	return depth;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = malloc(size + 2), norm[8192];
	const char *target, *reason = NULL;
	int k;

	if (!in)
		abort();
	memcpy(in, data, size);
	in[size] = in[size + 1] = 0;
	target = in + strlen(in) + 1;
	if (target > in + size)
		target = in + size + 1;
	k = extract_normalize_path(in, norm, sizeof(norm), &reason);
	if (k == 0) {
		CHECK(*norm);
		check_components(norm);
		if (extract_check_symlink_target(norm, target) == 0) {
			CHECK(*target != '/');
			CHECK(resolved_depth(norm, target) >= 0);
		}
	} else
		CHECK(k == -EINVAL || k == -ENOENT || k == -ENAMETOOLONG);
	free(in);
	return 0;
}
