/* SPDX-License-Identifier: Apache-2.0 */
/* agent/tail.h: the output tail reported as errorMessage (AGENT.md §10.6), made valid UTF-8.
 * Does not log. */
#ifndef SLIPWAY_AGENT_TAIL_H
#define SLIPWAY_AGENT_TAIL_H

#include <stddef.h>
#include <sys/types.h>

/* Take the last max bytes of data[0..len), drop leading continuation bytes of a cut character, replace
 * invalid sequences with U+FFFD, remove NUL bytes, and if that grew beyond max drop characters from the
 * front. Nothing is dropped from the end. *ret is malloc'd (caller frees). 0 or -ENOMEM. */
int tail_sanitize(const char *data, size_t len, size_t max, char **ret);

/* Read the bytes of the file at path from offset start to its end (at most the last max bytes) and
 * sanitize them. 0 or a negative errno. */
int tail_read_file(const char *path, off_t start, size_t max, char **ret);

#endif
