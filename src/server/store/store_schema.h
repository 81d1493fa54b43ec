/* SPDX-License-Identifier: Apache-2.0 */
/* store/store_schema.h: the SQL schema compiled into the binary (the .sql files of store/schema, and of store/schema/pg
 * for PostgreSQL) by cmake/embed.cmake. Each table is in file name order and ends with an entry whose path is NULL;
 * paths start with '/'. Private to src/server/store (db.c migrates, db_pg.c learns the identifiers). */
#ifndef SLIPWAY_STORE_STORE_SCHEMA_H
#define SLIPWAY_STORE_STORE_SCHEMA_H

#include <stddef.h>

struct store_schema_file {
	const char *path;
	const unsigned char *data;
	size_t len;
};

extern const struct store_schema_file store_schema_files[];    /* store/schema */
extern const struct store_schema_file store_pg_schema_files[]; /* store/schema/pg */

#endif
