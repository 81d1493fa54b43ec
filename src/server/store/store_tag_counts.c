/* SPDX-License-Identifier: Apache-2.0 */
/* store/store_tag_counts.c: a stage's host tags counted per value (schema 010: host_tag_counts, kept by triggers on
 * host_tags and agents; on PostgreSQL plus the deltas the janitor has not folded yet, store_counts.c) and the hosts
 * of one value a page at a time. Both read O(values) or O(page) rows, not the stage's hosts. SQL is static text with
 * placeholders only (store_sql.h); does not log. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"
#include "store_sql.h"
#include "util.h"
#include "banned.h"

/* the kept counts of one tag name on the stage, with the deltas not folded yet, in one statement (one snapshot) */
static const char sql_tag_counts[] =
	"SELECT x.tagValue, x.deployId, x.serving, SUM(x.n) FROM (SELECT tagValue, deployId, serving, n FROM "
	"host_tag_counts WHERE envId = ?1 AND tagName = ?2 UNION ALL SELECT tagValue, deployId, serving, n FROM "
	"host_tag_count_deltas WHERE envId = ?1 AND tagName = ?2) x GROUP BY x.tagValue, x.deployId, x.serving "
	"HAVING SUM(x.n) <> 0 ORDER BY x.tagValue";
/* the stage's agent rows (agent_counts): all of them, those on the deploy ?2, those serving it */
static const char sql_tag_counts_stage[] =
	"SELECT COALESCE(SUM(x.n), 0), COALESCE(SUM(CASE WHEN x.deployId = ?2 THEN x.n ELSE 0 END), 0), "
	"COALESCE(SUM(CASE WHEN x.deployId = ?2 AND x.deployStage = 'SERVING_BUILD' THEN x.n ELSE 0 END), 0) "
	"FROM " STAGE_AGENT_COUNTS;
/* a page of one value's hosts that have an agent row on the stage, in host name order (host_tags_value_name) */
static const char sql_tag_value_page[] =
	"SELECT t.hostId, t.hostName, t.tagName, t.tagValue FROM host_tags t WHERE t.tagName = ?2 AND t.tagValue = ?3 "
	"AND t.hostName > COALESCE(?4, '') AND EXISTS (SELECT 1 FROM agents a WHERE a.hostId = t.hostId AND "
	"a.envId = ?1) ORDER BY t.hostName, t.hostId LIMIT ?5";

/* one host's tags (by name or id) when it has an agent row on the stage: the index on agents' host name and the
 * agents' key, one lookup each (an OR of the two would walk the stage's rows) */
static const char sql_tags_of_host[] =
	"SELECT t.hostId, t.hostName, t.tagName, t.tagValue FROM host_tags t WHERE t.hostId IN (SELECT a.hostId FROM "
	"agents a WHERE a.hostName = ?2 AND a.envId = ?1 UNION SELECT a.hostId FROM agents a WHERE a.hostId = ?2 AND "
	"a.envId = ?1) ORDER BY t.tagName, t.hostId";

struct tag_count {
	char value[PING_TAG_VALUE_MAX_BYTES + 1];
	char deploy_id[ENGINE_ID_SIZE];
	bool serving;
	int64_t n;
};

static int tag_count_read(struct db_stmt *st, void *elem, void *ctx)
{
	struct tag_count *t = elem;

	(void)ctx;
	db_col_copy(st, 0, t->value, sizeof(t->value));
	db_col_copy(st, 1, t->deploy_id, sizeof(t->deploy_id));
	t->serving = db_col_int64(st, 2) != 0;
	t->n = db_col_int64(st, 3);
	return 0;
}

static int stage_totals_read(struct db_stmt *st, void *elem, void *ctx)
{
	int64_t *t = elem;

	(void)ctx;
	for (int i = 0; i < 3; i++)
		t[i] = db_col_int64(st, i);
	return 0;
}

/* obj[key] += n (a JSON integer, created at 0) */
static int add_to(json_t *obj, const char *key, int64_t n)
{
	json_t *v = json_object_get(obj, key);

	if (v)
		return json_integer_set(v, json_integer_value(v) + n);
	return json_object_set_new(obj, key, json_integer(n));
}

/* {"values", "untagged"} and, with a deploy, {"onDeploy", "serving", "untaggedOnDeploy", "untaggedServing"} from the
 * counted rows and the stage's totals (all, on the deploy, serving it): a host has at most one value of a tag name,
 * so the untagged are the stage's rows less the tagged. */
static json_t *tag_counts_json(const char *tag_name, const char *deploy_id, const struct tag_count *rows, size_t n,
			       const int64_t totals[3])
{
	json_t *values = json_object(), *on = json_object(), *serving = json_object(), *out, *deploy = NULL;
	int64_t tagged[3] = { 0, 0, 0 };
	int r = values && on && serving ? 0 : -1;

	for (size_t i = 0; i < n && r >= 0; i++) {
		bool mine = deploy_id && streq(rows[i].deploy_id, deploy_id);

		r = add_to(values, rows[i].value, rows[i].n);
		tagged[0] += rows[i].n;
		if (r >= 0 && deploy_id)
			r = add_to(on, rows[i].value, mine ? rows[i].n : 0);
		if (r >= 0 && deploy_id)
			r = add_to(serving, rows[i].value, mine && rows[i].serving ? rows[i].n : 0);
		tagged[1] += mine ? rows[i].n : 0;
		tagged[2] += mine && rows[i].serving ? rows[i].n : 0;
	}
	out = r < 0 ? NULL
		    : json_pack("{s:s,s:O,s:I}", "tagName", tag_name, "values", values, "untagged",
				(json_int_t)(totals[0] - tagged[0]));
	if (out && deploy_id)
		deploy = json_pack("{s:s,s:O,s:O,s:I,s:I}", "deployId", deploy_id, "onDeploy", on, "serving", serving,
				   "untaggedOnDeploy", (json_int_t)(totals[1] - tagged[1]), "untaggedServing",
				   (json_int_t)(totals[2] - tagged[2]));
	if (out && deploy_id && (!deploy || json_object_update(out, deploy) < 0)) {
		json_decref(out);
		out = NULL;
	}
	json_decref(deploy);
	json_decref(values);
	json_decref(on);
	json_decref(serving);
	return out;
}

int store_host_tag_counts(struct store *s, const char *env_id, const char *tag_name, const char *deploy_id,
			  json_t **ret)
{
	struct db_vec v = { .size = sizeof(struct tag_count) };
	int64_t totals[3] = { 0, 0, 0 };
	int r;
	CONN_OR_FAIL(c, s);

	r = db_collect(c, sql_tag_counts, &v, tag_count_read, NULL, "ss", env_id, tag_name);
	if (r >= 0)
		r = db_one(c, sql_tag_counts_stage, stage_totals_read, totals, NULL, "ss", env_id, deploy_id);
	if (r >= 0) {
		*ret = tag_counts_json(tag_name, deploy_id, v.v, v.n, totals);
		r = *ret ? 0 : -ENOMEM;
	}
	free(v.v);
	return r < 0 ? r : 0;
}

int store_host_tags_value_page(struct store *s, const char *env_id, const char *tag_name, const char *value,
			       const struct store_page *pg, json_t **ret, char **ret_next)
{
	json_t *list = NULL;
	const char *last;
	int r;
	CONN_OR_FAIL(c, s);

	*ret_next = NULL;
	r = db_list(c, false, sql_tag_value_page, &list, "ssssi", env_id, tag_name, value, pg->after, pg->limit);
	if (r < 0)
		return r;
	last = (int64_t)json_array_size(list) == pg->limit
		       ? json_string_value(json_object_get(json_array_get(list, json_array_size(list) - 1), "hostName"))
		       : NULL;
	if (last && !(*ret_next = strdup(last))) {
		json_decref(list);
		return -ENOMEM;
	}
	*ret = list;
	return 0;
}

int store_host_tags_of_host(struct store *s, const char *env_id, const char *host, json_t **ret)
{
	CONN_OR_FAIL(c, s);
	return db_list(c, false, sql_tags_of_host, ret, "ss", env_id, host);
}
