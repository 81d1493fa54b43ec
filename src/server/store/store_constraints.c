/* SPDX-License-Identifier: Apache-2.0 */
/* store/store_constraints.c: zone-aware rollouts (issue 17): a stage's deploy constraint and the host tags of its
 * hosts. The ping path writes the tags and admission reads both (store_ping.c). SQL is static text with
 * placeholders only (store_sql.h); does not log. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enums.h"
#include "store_ping.h"
#include "wire.h"
#include "store_sql.h"
#include "util.h"
#include "banned.h"

static const char sql_constraint_get[] =
	"SELECT id, envId, constraintKey, maxParallel, constraintType, constraintOrder, state, startDate, lastUpdate "
	"FROM deploy_constraints WHERE envId = ?";
static const char *const constraint_cols[] = { "id",		  "envId",	     "constraintKey",
					       "maxParallel",	  "constraintType", "constraintOrder",
					       "state",		  "startDate",	     "lastUpdate" };
static const char sql_constraint_put[] =
	"INSERT INTO deploy_constraints(id, envId, constraintKey, maxParallel, constraintType, constraintOrder, state, "
	"startDate, lastUpdate) VALUES(?,?,?,?,?,?,?,?,?) ON CONFLICT(envId) DO UPDATE SET "
	"constraintKey = excluded.constraintKey, maxParallel = excluded.maxParallel, "
	"constraintType = excluded.constraintType, constraintOrder = excluded.constraintOrder, "
	"state = excluded.state, lastUpdate = excluded.lastUpdate";
static const char sql_constraint_delete[] = "DELETE FROM deploy_constraints WHERE envId = ?";
#define HOST_TAGS_LIST(WHERE)                                                                                          \
	"SELECT t.hostId, t.hostName, t.tagName, t.tagValue FROM host_tags t WHERE t.hostId IN "                      \
	"(SELECT a.hostId FROM agents a WHERE a.envId = ?1)" WHERE " ORDER BY t.tagName, t.tagValue, t.hostName, t.hostId"
static const char sql_host_tags_list[] = HOST_TAGS_LIST("");
static const char sql_host_tags_list_name[] = HOST_TAGS_LIST(" AND t.tagName = ?2");
/* a page: the tags of the stage's first ?3 hosts (agent rows, name order: the index on stage and host name) after ?2 */
#define HOST_TAGS_PAGE(WHERE)                                                                                          \
	"SELECT t.hostId, t.hostName, t.tagName, t.tagValue FROM host_tags t WHERE t.hostId IN (SELECT a.hostId FROM " \
	"agents a WHERE a.envId = ?1 AND a.hostName > COALESCE(?2, '') ORDER BY a.hostName LIMIT ?3)" WHERE            \
	" ORDER BY t.hostName, t.tagName, t.hostId"
static const char sql_host_tags_page[] = HOST_TAGS_PAGE("");
static const char sql_host_tags_page_name[] = HOST_TAGS_PAGE(" AND t.tagName = ?4");
/* the page's last host name, when the page is full */
static const char sql_host_tags_page_last[] = "SELECT hostName FROM agents WHERE envId = ?1 AND hostName > "
					      "COALESCE(?2, '') ORDER BY hostName LIMIT 1 OFFSET ?3";
static const char sql_host_tags_delete[] =
	"DELETE FROM host_tags WHERE tagName = ?2 AND hostId IN (SELECT a.hostId FROM agents a WHERE a.envId = ?1)";

int store_constraint_get(struct store *s, const char *env_id, json_t **ret)
{
	CONN_OR_FAIL(c, s);
	return db_row(c, sql_constraint_get, ret, "s", env_id);
}

int store_constraint_put(struct store *s, const json_t *constraint, const json_t *history)
{
	int r;
	TX_OR_FAIL(c, s);

	r = db_exec_cols(c, sql_constraint_put, constraint_cols, ELEMENTSOF(constraint_cols), constraint, NULL);
	if (r >= 0)
		r = store_tx_history(c, history);
	if (r >= 0)
		r = store_tx_event(c, "ENV", json_string_value(json_object_get(constraint, "envId")), NULL, NULL);
	return db_end(c, r < 0 ? r : 0);
}

int store_constraint_delete(struct store *s, const char *env_id, const json_t *history)
{
	int r;
	TX_OR_FAIL(c, s);

	r = db_exec(c, sql_constraint_delete, "s", env_id);
	if (r == 0)
		r = -ENOENT;
	if (r >= 0)
		r = store_tx_history(c, history);
	if (r >= 0)
		r = store_tx_event(c, "ENV", env_id, NULL, NULL);
	return db_end(c, r < 0 ? r : 0);
}

int store_host_tags_list(struct store *s, const char *env_id, const char *tag_name, json_t **ret)
{
	CONN_OR_FAIL(c, s);
	if (!tag_name)
		return db_list(c, false, sql_host_tags_list, ret, "s", env_id);
	return db_list(c, false, sql_host_tags_list_name, ret, "ss", env_id, tag_name);
}

static int host_name_read(struct db_stmt *st, void *elem, void *ctx)
{
	(void)ctx;
	*(char **)elem = strdup(db_col_text(st, 0) ? db_col_text(st, 0) : "");
	return *(char **)elem ? 0 : -ENOMEM;
}

int store_host_tags_page(struct store *s, const char *env_id, const char *tag_name, const struct store_page *pg,
			 json_t **ret, char **ret_next)
{
	char *next = NULL;
	int r;
	CONN_OR_FAIL(c, s);

	*ret_next = NULL;
	r = db_one(c, sql_host_tags_page_last, host_name_read, &next, NULL, "ssi", env_id, pg->after, pg->limit - 1);
	if (r == -ENOENT)
		r = 0;
	if (r >= 0)
		r = tag_name ? db_list(c, false, sql_host_tags_page_name, ret, "ssis", env_id, pg->after, pg->limit,
				       tag_name)
			     : db_list(c, false, sql_host_tags_page, ret, "ssi", env_id, pg->after, pg->limit);
	if (r < 0) {
		free(next);
		return r;
	}
	*ret_next = next;
	return 0;
}

int store_host_tags_delete(struct store *s, const char *env_id, const char *tag_name)
{
	int r;
	TX_OR_FAIL(c, s);

	r = db_exec(c, sql_host_tags_delete, "ss", env_id, tag_name);
	return db_end(c, r);
}

/* ---- admission (store_ping.c's transaction) ---- */

static const char sql_adm_constraint[] =
	"SELECT constraintKey, maxParallel, constraintType, constraintOrder FROM deploy_constraints WHERE envId = ?";
static const char sql_adm_host_value[] = "SELECT tagValue FROM host_tags WHERE hostId = ? AND tagName = ?";
/* the stage's rows by the tag's value: store_ping.c's counts (occupied, existing, on the deploy, T) and pending */
static const char sql_adm_groups[] =
	"SELECT t.tagValue, "
	"COALESCE(SUM(CASE WHEN a.holdsSlot = 1 OR (a.state = 'STOP' AND a.deployStage = 'STOPPING' AND "
	"a.removed = 0) THEN 1 ELSE 0 END), 0), "
	"COALESCE(SUM(CASE WHEN a.firstDeploy = 0 AND a.removed = 0 THEN 1 ELSE 0 END), 0), "
	"COALESCE(SUM(CASE WHEN a.deployId = ?2 THEN 1 ELSE 0 END), 0), "
	"COALESCE(SUM(CASE WHEN a.removed = 0 AND a.state NOT IN ('UNREACHABLE', 'DELETE') THEN 1 ELSE 0 END), 0), "
	"COALESCE(SUM(CASE WHEN a.firstDeploy = 0 AND a.removed = 0 AND a.state NOT IN ('UNREACHABLE', 'DELETE', "
	"'PAUSED_BY_USER', 'PAUSED_BY_SYSTEM') AND NOT (COALESCE(a.deployId, '') = ?2 AND "
	"a.deployStage = 'SERVING_BUILD') THEN 1 ELSE 0 END), 0) "
	"FROM agents a LEFT JOIN host_tags t ON t.hostId = a.hostId AND t.tagName = ?3 WHERE a.envId = ?1 "
	"GROUP BY t.tagValue";

void store_constraint_read_release(struct constraint_read *cr)
{
	if (!cr)
		return;
	free(cr->key);
	for (size_t i = 0; cr->order && cr->order[i]; i++)
		free(cr->order[i]);
	free(cr->order);
	free(cr->host_value);
	for (size_t i = 0; i < cr->n_groups; i++)
		free((char *)cr->groups[i].value);
	free(cr->groups);
	memset(cr, 0, sizeof(*cr));
}

static int dup_col(struct db_stmt *st, int i, char **ret)
{
	const char *t = db_col_text(st, i);

	*ret = t ? strdup(t) : NULL;
	return !t || *ret ? 0 : -ENOMEM;
}

/* constraintOrder: a JSON array of strings (anything else is ignored) into cr->order, NULL-terminated */
static int order_parse(const char *text, struct constraint_read *cr)
{
	json_t *a = text ? json_loads(text, 0, NULL) : NULL, *v;
	size_t i;
	int r = 0;

	if (!json_is_array(a)) {
		json_decref(a);
		return 0;
	}
	cr->order = calloc(json_array_size(a) + 1, sizeof(char *));
	if (!cr->order)
		r = -ENOMEM;
	json_array_foreach(a, i, v)
	{
		if (r < 0 || !json_is_string(v))
			continue;
		cr->order[cr->view.n_order] = strdup(json_string_value(v));
		if (!cr->order[cr->view.n_order++])
			r = -ENOMEM;
	}
	json_decref(a);
	cr->view.order = (const char *const *)cr->order;
	return r;
}

static int constraint_row_read(struct db_stmt *st, void *elem, void *ctx)
{
	struct constraint_read *cr = elem;
	int type = CONSTRAINT_TYPE_ALL_GROUPS_IN_PARALLEL;
	const char *t = db_col_text(st, 2);
	int r;

	if (t && constraint_type_from_string(t) >= 0)
		type = constraint_type_from_string(t);
	cr->view = (struct constraint_view){ .present = true, .type = type, .max_parallel = db_col_int(st, 1) };
	r = dup_col(st, 0, &cr->key);
	if (r >= 0 && !cr->key)
		r = -EIO;
	return r < 0 ? r : order_parse(db_col_text(st, 3), cr);
}

static int value_read(struct db_stmt *st, void *elem, void *ctx)
{
	return dup_col(st, 0, elem);
}

static int group_read(struct db_stmt *st, void *elem, void *ctx)
{
	struct constraint_group *g = elem;
	struct constraint_read *cr = ctx;
	char *value;
	int r = dup_col(st, 0, &value);

	if (r < 0)
		return r;
	*g = (struct constraint_group){ .value = value, .occupied = db_col_int(st, 1), .pending = db_col_int(st, 5) };
	cr->occupied += db_col_int64(st, 1);
	cr->existing += db_col_int64(st, 2);
	cr->on_deploy += db_col_int64(st, 3);
	cr->total += db_col_int64(st, 4);
	return 0;
}

int store_tx_constraint_read(struct db_conn *c, const char *env_id, const char *host_id, const char *deploy_id,
			     struct constraint_read *ret)
{
	struct constraint_read cr = { 0 };
	struct db_vec v = { .size = sizeof(struct constraint_group) };
	int r;

	r = db_one(c, sql_adm_constraint, constraint_row_read, &cr, NULL, "s", env_id);
	if (r == -ENOENT) {
		store_constraint_read_release(&cr);
		return 0;
	}
	if (r >= 0)
		r = db_one(c, sql_adm_host_value, value_read, &cr.host_value, NULL, "ss", host_id, cr.key);
	if (r == -ENOENT)
		r = 0;
	if (r >= 0)
		r = db_collect(c, sql_adm_groups, &v, group_read, &cr, "sss", env_id, deploy_id, cr.key);
	cr.groups = v.v;
	cr.n_groups = v.n;
	if (r < 0) {
		store_constraint_read_release(&cr);
		return r;
	}
	*ret = cr;
	return 1;
}

/* ---- host tags of the ping path (store_ping.c) ---- */

static const char sql_tags_get[] = "SELECT tagName, tagValue, hostName FROM host_tags WHERE hostId = ? ORDER BY tagName";
static const char sql_tags_clear[] = "DELETE FROM host_tags WHERE hostId = ?";
static const char sql_tags_insert[] =
	"INSERT INTO host_tags(hostId, tagName, tagValue, hostName, createDate) VALUES(?,?,?,?,?)";

struct stored_tag {
	char name[ENGINE_NAME_SIZE];
	char value[PING_TAG_VALUE_MAX_BYTES + 1];
	char host_name[ENGINE_NAME_SIZE];
};

static int stored_tag_read(struct db_stmt *st, void *elem, void *ctx)
{
	struct stored_tag *t = elem;

	db_col_copy(st, 0, t->name, sizeof(t->name));
	db_col_copy(st, 1, t->value, sizeof(t->value));
	db_col_copy(st, 2, t->host_name, sizeof(t->host_name));
	return 0;
}

static bool tags_differ(const struct stored_tag *have, size_t n_have, const char *host_name,
			const struct host_tag *want, size_t n_want)
{
	if (n_have != n_want)
		return true;
	for (size_t i = 0; i < n_have; i++)
		if (!streq(have[i].name, want[i].name) || !streq(have[i].value, want[i].value) ||
		    !streq(have[i].host_name, host_name))
			return true;
	return false;
}

int store_tx_tags_differ(struct db_conn *c, const char *host_id, const char *host_name, const struct host_tag *tags,
			 size_t n_tags, bool *ret_differ)
{
	struct db_vec v = { .size = sizeof(struct stored_tag) };
	int r;

	r = db_collect(c, sql_tags_get, &v, stored_tag_read, NULL, "s", host_id);
	*ret_differ = r >= 0 && tags_differ(v.v, v.n, host_name, tags, n_tags);
	free(v.v);
	return r < 0 ? r : 0;
}

int store_tx_tags_sync(struct db_conn *c, const char *host_id, const char *host_name, const struct host_tag *tags,
		       size_t n_tags, int64_t now)
{
	bool differ;
	int r;

	r = store_tx_tags_differ(c, host_id, host_name, tags, n_tags, &differ);
	if (r < 0 || !differ)
		return r;
	r = db_exec(c, sql_tags_clear, "s", host_id);
	for (size_t i = 0; i < n_tags && r >= 0; i++)
		r = db_exec(c, sql_tags_insert, "ssssi", host_id, tags[i].name, tags[i].value, host_name, now);
	return r < 0 ? r : 1;
}
