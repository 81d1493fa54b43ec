/* SPDX-License-Identifier: Apache-2.0 */
/* store/store_counts.c: the per-stage and per-deploy counts admission reads (schema version 8). On PostgreSQL the
 * triggers on agents append deltas instead of updating the counts (no row that every writer of a stage would lock);
 * they are folded into the counts under the stage's admission lock, by admission before it reads them and by the
 * janitor for stages that see no admission, a bounded number of rows at a time. SQLite's triggers update the
 * counts directly: nothing to fold there. SQL is static text with placeholders only; does not log. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "db.h"
#include "store_sql.h"
#include "util.h"
#include "banned.h"

int64_t store_stage_lock_key(const char *env_id)
{
	char name[ENGINE_ID_SIZE + 16];

	(void)snprintf(name, sizeof(name), "DEPLOY-%s", env_id);
	return db_lock_key(name);
}

/* the stage's deltas (at most ?2 of them), deleted and summed per deploy */
static const char sql_fold_take[] =
	"WITH d AS (DELETE FROM count_deltas WHERE ctid IN (SELECT ctid FROM count_deltas WHERE envId = ?1 LIMIT ?2) "
	"RETURNING deployId, dOcc, dExist, dTotal, dOn) "
	"SELECT deployId, SUM(dOcc), SUM(dExist), SUM(dTotal), SUM(dOn), COUNT(*) FROM d GROUP BY deployId";
static const char sql_fold_stage[] =
	"INSERT INTO stage_counts(envId, occupied, existing, total) VALUES(?1, ?2, ?3, ?4) ON CONFLICT(envId) DO UPDATE "
	"SET occupied = stage_counts.occupied + ?2, existing = stage_counts.existing + ?3, "
	"total = stage_counts.total + ?4";
static const char sql_fold_deploy[] =
	"INSERT INTO deploy_counts(envId, deployId, n) VALUES(?1, ?2, ?3) ON CONFLICT(envId, deployId) DO UPDATE "
	"SET n = deploy_counts.n + ?3";
static const char sql_fold_zero[] = "DELETE FROM deploy_counts WHERE envId = ?1 AND deployId = ?2 AND n <= 0";
/* a stage with deltas left to fold */
static const char sql_fold_next_stage[] = "SELECT envId FROM count_deltas LIMIT 1";

/* the deltas of one deploy (NULL deployId: "") */
struct count_delta {
	char deploy_id[ENGINE_ID_SIZE];
	bool has_deploy;
	int64_t occupied, existing, total, on_deploy, rows;
};

static int count_delta_read(struct db_stmt *st, void *elem, void *ctx)
{
	struct count_delta *d = elem;

	d->has_deploy = !db_col_null(st, 0);
	db_col_copy(st, 0, d->deploy_id, sizeof(d->deploy_id));
	d->occupied = db_col_int64(st, 1);
	d->existing = db_col_int64(st, 2);
	d->total = db_col_int64(st, 3);
	d->on_deploy = db_col_int64(st, 4);
	d->rows = db_col_int64(st, 5);
	return 0;
}

int store_tx_counts_fold(struct db_conn *c, const char *env_id, int64_t max_rows)
{
	struct db_vec v = { .size = sizeof(struct count_delta) };
	int64_t occ = 0, ex = 0, tot = 0, rows = 0;
	int r;

	if (db_dialect(c) != DB_PG)
		return 0;
	r = db_collect(c, sql_fold_take, &v, count_delta_read, NULL, "si", env_id,
		       max_rows > 0 ? max_rows : INT64_MAX);
	for (size_t i = 0; i < v.n && r >= 0; i++) {
		const struct count_delta *d = (const struct count_delta *)v.v + i;

		occ += d->occupied;
		ex += d->existing;
		tot += d->total;
		rows += d->rows;
		if (!d->has_deploy || d->on_deploy == 0)
			continue;
		r = db_exec(c, sql_fold_deploy, "ssi", env_id, d->deploy_id, d->on_deploy);
		if (r >= 0 && d->on_deploy < 0)
			r = db_exec(c, sql_fold_zero, "ss", env_id, d->deploy_id);
	}
	if (r >= 0 && v.n > 0)
		r = db_exec(c, sql_fold_stage, "siii", env_id, occ, ex, tot);
	free(v.v);
	if (r < 0)
		return r;
	return rows > INT32_MAX ? INT32_MAX : (int)rows;
}

static int env_id_read(struct db_stmt *st, void *elem, void *ctx)
{
	db_col_copy(st, 0, elem, ENGINE_ID_SIZE);
	return 0;
}

/* The agent_counts deltas (PostgreSQL): at most ?1 of them deleted, summed per count and added to it, in key order
 * (two folds lock the rows they add to in the same order); a count left at 0 is dropped afterwards. Reads of the
 * counts add the deltas not folded yet, so folding changes no answer; only the janitor folds them. */
static const char sql_fold_agent_counts[] =
	"WITH d AS (DELETE FROM agent_count_deltas WHERE ctid IN (SELECT ctid FROM agent_count_deltas LIMIT ?1) "
	"RETURNING envId, deployId, deployStage, state, status, removed, firstDeploy, n) "
	"INSERT INTO agent_counts(envId, deployId, deployStage, state, status, removed, firstDeploy, n) "
	"SELECT envId, deployId, deployStage, state, status, removed, firstDeploy, CAST(SUM(n) AS BIGINT) FROM d "
	"GROUP BY envId, deployId, deployStage, state, status, removed, firstDeploy ORDER BY 1, 2, 3, 4, 5, 6, 7 "
	"ON CONFLICT(envId, deployId, deployStage, state, status, removed, firstDeploy) DO UPDATE "
	"SET n = agent_counts.n + excluded.n";
static const char sql_fold_agent_zero[] = "DELETE FROM agent_counts WHERE n = 0";
/* The host_tag_counts deltas (PostgreSQL, schema 010), folded the same way */
static const char sql_fold_tag_counts[] =
	"WITH d AS (DELETE FROM host_tag_count_deltas WHERE ctid IN (SELECT ctid FROM host_tag_count_deltas LIMIT ?1) "
	"RETURNING envId, tagName, tagValue, deployId, serving, n) "
	"INSERT INTO host_tag_counts(envId, tagName, tagValue, deployId, serving, n) "
	"SELECT envId, tagName, tagValue, deployId, serving, CAST(SUM(n) AS BIGINT) FROM d "
	"GROUP BY envId, tagName, tagValue, deployId, serving ORDER BY 1, 2, 3, 4, 5 "
	"ON CONFLICT(envId, tagName, tagValue, deployId, serving) DO UPDATE SET n = host_tag_counts.n + excluded.n";
static const char sql_fold_tag_zero[] = "DELETE FROM host_tag_counts WHERE n = 0";
/* the fleet's host count (schema 011): every delta at once (one per statement that adds or removes hosts) */
static const char sql_fold_host_count[] =
	"WITH d AS (DELETE FROM agent_host_count_deltas RETURNING n) INSERT INTO agent_host_count(k, n) "
	"SELECT 0, CAST(SUM(n) AS BIGINT) FROM d HAVING COUNT(*) > 0 ON CONFLICT(k) DO UPDATE "
	"SET n = agent_host_count.n + excluded.n";
static const char sql_fold_host_zero[] = "DELETE FROM agent_host_count WHERE n = 0";
/* agent_counts deltas folded per transaction, and at most per janitor pass: a deploy leaves two per step a host
 * walks (~16 per host), so a pass takes more of them than of the admission deltas */
#define AGENT_FOLD_CHUNK 50000
#define AGENT_FOLD_PASS_CHUNKS 40

/* fold (one statement each: its own transaction) a pass's chunks of deltas, then drop the counts left at 0 */
static int fold_deltas(struct db_conn *c, const char *sql_fold, const char *sql_zero)
{
	int r = 0;

	for (int i = 0; i < AGENT_FOLD_PASS_CHUNKS; i++) {
		r = db_exec(c, sql_fold, "i", (int64_t)AGENT_FOLD_CHUNK);
		if (r <= 0)
			break; /* an error, or nothing left to fold */
	}
	return r < 0 ? r : db_exec(c, sql_zero, NULL);
}

int store_janitor_fold_counts(struct store *s, int64_t max_rows, int64_t *ret_folded)
{
	char env_id[ENGINE_ID_SIZE];
	int64_t folded = 0;
	int r = 0;
	CONN_OR_FAIL(c, s);

	*ret_folded = 0;
	if (db_dialect(c) != DB_PG)
		return 0;
	r = fold_deltas(c, sql_fold_agent_counts, sql_fold_agent_zero);
	if (r >= 0)
		r = fold_deltas(c, sql_fold_tag_counts, sql_fold_tag_zero);
	if (r >= 0)
		r = db_exec(c, sql_fold_host_count, NULL);
	if (r >= 0)
		r = db_exec(c, sql_fold_host_zero, NULL);
	if (r < 0)
		return r;
	while (folded < max_rows) {
		r = db_one(c, sql_fold_next_stage, env_id_read, env_id, NULL, NULL);
		if (r == -ENOENT) {
			r = 0;
			break;
		}
		if (r >= 0)
			r = db_begin(c, store_stage_lock_key(env_id));
		if (r < 0)
			break;
		r = db_end(c, store_tx_counts_fold(c, env_id, max_rows - folded < STORE_FOLD_CHUNK ? max_rows - folded
										    : STORE_FOLD_CHUNK));
		if (r <= 0)
			break; /* an error, or another replica's admission took them first: the next pass goes on */
		folded += r;
	}
	*ret_folded = folded;
	return r < 0 ? r : 0;
}
