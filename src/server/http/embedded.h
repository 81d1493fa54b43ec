/* SPDX-License-Identifier: Apache-2.0 */
/* http/embedded.h: the board's files, compiled into the binary by cmake/embed.cmake (the SQL schema is store's:
 * store/store_schema.h).
 * Each table ends with an entry whose path is NULL. Paths start with '/'. */
#ifndef SLIPWAY_SERVER_EMBEDDED_H
#define SLIPWAY_SERVER_EMBEDDED_H
#include <stddef.h>
struct embedded_file {
	const char *path;
	const unsigned char *data;
	size_t len;
};
extern const struct embedded_file board_files[];
#endif
