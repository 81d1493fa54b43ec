/* SPDX-License-Identifier: Apache-2.0 */
/* store/store_builds.c: builds (§3.2, §4.2).
 * SQL is static text with placeholders only (store_sql.h); does not log. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enums.h"
#include "jsonutil.h"
#include "store_sql.h"
#include "util.h"
#include "banned.h"

#define BUILD_COLS                                                                                                     \
	"id, name, artifactUrl, type, repo, branch, \"commit\", commitShort, commitInfo, commitDate, publishInfo, "   \
	"publishDate, publisher, artifactSha256, artifactSignature"
static const char *const build_cols[] = { "id",          "name",        "artifactUrl", "type",       "repo",
					   "branch",      "commit",      "commitShort", "commitInfo", "commitDate",
					   "publishInfo", "publishDate", "publisher",   "artifactSha256",
					   "artifactSignature" };
static const char sql_build_insert[] = "INSERT INTO builds(" BUILD_COLS ") VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
static const char sql_build_get[] = "SELECT " BUILD_COLS " FROM builds WHERE id = ?";
static const char sql_build_list[] =
	"SELECT " BUILD_COLS " FROM builds WHERE (substr(\"commit\", 1, 7) = substr(?1, 1, 7) OR ?1 IS NULL) "
	"AND (name = ?2 OR ?2 IS NULL) AND (branch = ?3 OR ?3 IS NULL) AND (publishDate <= ?4 OR ?4 IS NULL) "
	"AND (publishDate > ?5 OR ?5 IS NULL) ORDER BY publishDate DESC, seq DESC LIMIT ?6 OFFSET ?7";
#define BUILD_NAMES(INSTR)                                                                                             \
	"SELECT DISTINCT name FROM builds WHERE (" INSTR "(name, ?1) > 0 OR ?1 IS NULL) ORDER BY name ASC LIMIT ?2 "    \
	"OFFSET ?3"
static const struct dsql sql_build_names = { BUILD_NAMES("instr"), BUILD_NAMES("strpos") };
static const char sql_build_branches[] = "SELECT DISTINCT branch FROM builds WHERE name = ? ORDER BY branch";
static const char sql_build_refs[] = "SELECT count(*) FROM deploys WHERE buildId = ?";
static const char sql_build_delete[] = "DELETE FROM builds WHERE id = ?";

int store_build_insert(struct store *s, const json_t *b)
{
	int r;
	CONN_OR_FAIL(c, s);
	r = db_exec_cols(c, sql_build_insert, build_cols, ELEMENTSOF(build_cols), b, NULL);
	return r < 0 ? r : 0;
}

int store_build_get(struct store *s, const char *id, json_t **ret)
{
	CONN_OR_FAIL(c, s);
	return db_row(c, sql_build_get, ret, "s", id);
}

int store_build_list(struct store *s, const struct build_query *q, json_t **ret)
{
	int64_t limit = q->limit > 0 ? q->limit : 5000, offset = q->limit > 0 ? q->offset : 0;
	CONN_OR_FAIL(c, s);

	if (q->before >= 0 && q->after >= 0)
		return db_list(c, false, sql_build_list, ret, "sssiiii", q->commit, q->name, q->branch, q->before,
			      q->after, limit, offset);
	if (q->before >= 0)
		return db_list(c, false, sql_build_list, ret, "sssinii", q->commit, q->name, q->branch, q->before,
			      limit, offset);
	if (q->after >= 0)
		return db_list(c, false, sql_build_list, ret, "sssniii", q->commit, q->name, q->branch, q->after,
			      limit, offset);
	return db_list(c, false, sql_build_list, ret, "sssnnii", q->commit, q->name, q->branch, limit, offset);
}

int store_build_names(struct store *s, const char *filter, int64_t offset, int64_t limit, json_t **ret)
{
	CONN_OR_FAIL(c, s);
	return db_list(c, true, SQL(c, sql_build_names), ret, "sii", filter, limit, offset);
}

int store_build_branches(struct store *s, const char *name, json_t **ret)
{
	CONN_OR_FAIL(c, s);
	return db_list(c, true, sql_build_branches, ret, "s", name);
}

int store_build_delete(struct store *s, const char *id)
{
	int64_t n;
	int r;
	TX_OR_FAIL(c, s);

	r = db_int(c, sql_build_refs, &n, "s", id);
	if (r >= 0 && n > 0)
		r = -EBUSY;
	if (r >= 0) {
		r = db_exec(c, sql_build_delete, "s", id);
		if (r == 0)
			r = -ENOENT;
	}
	return db_end(c, r < 0 ? r : 0);
}
