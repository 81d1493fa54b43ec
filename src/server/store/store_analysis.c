/* SPDX-License-Identifier: Apache-2.0 */
/* store/store_analysis.c: the Prometheus analysis of deploys: each analysed deploy's status and counts, and its
 * evaluations. SQL is static text with placeholders only (store_sql.h); does not log. */
#include <errno.h>
#include <stdlib.h>

#include "jsonutil.h"
#include "store_sql.h"
#include "util.h"
#include "banned.h"

static const char sql_analysis_get[] =
	"SELECT deployId, envId, analysisStatus, failCounts, lastUpdate FROM deploy_analysis WHERE deployId = ?";
static const char sql_analysis_put[] =
	"INSERT INTO deploy_analysis(deployId, envId, analysisStatus, failCounts, lastUpdate) VALUES(?1, ?2, ?3, ?4, ?5) "
	"ON CONFLICT(deployId) DO UPDATE SET analysisStatus = excluded.analysisStatus, "
	"failCounts = excluded.failCounts, lastUpdate = excluded.lastUpdate";
static const char sql_analysis_eval[] =
	"INSERT INTO analysis_evals(deployId, evalTime, queryName, value, verdict) VALUES(?, ?, ?, ?, ?)";
static const char sql_analysis_evals[] =
	"SELECT evalTime, queryName, value, verdict FROM analysis_evals WHERE deployId = ? ORDER BY seq DESC LIMIT ?";

int store_analysis_get(struct store *s, const char *deploy_id, json_t **ret)
{
	json_t *row = NULL, *counts = NULL;
	const char *txt;
	int r;
	CONN_OR_FAIL(c, s);

	r = db_row(c, sql_analysis_get, &row, "s", deploy_id);
	if (r < 0)
		return r;
	txt = json_string_value(json_object_get(row, "failCounts"));
	if (!txt || json_parse_bounded(txt, strlen(txt), &counts, NULL, 0) < 0 || !json_is_object(counts)) {
		json_decref(counts);
		counts = json_object();
	}
	(void)json_object_set_new(row, "failCounts", counts);
	*ret = row;
	return 0;
}

int store_analysis_record(struct store *s, const char *deploy_id, const char *env_id, const char *status,
			  const json_t *counts, const json_t *evals, int64_t now)
{
	const json_t *e;
	size_t i;
	int r;
	TX_OR_FAIL(c, s);

	r = db_exec(c, sql_analysis_put, "sssji", deploy_id, env_id, status, counts, now);
	json_array_foreach(evals, i, e) {
		if (r < 0)
			break;
		r = db_exec(c, sql_analysis_eval, "sisjs", deploy_id, json_integer_value(json_object_get(e, "time")),
			    json_string_value(json_object_get(e, "query")), json_object_get(e, "value"),
			    json_string_value(json_object_get(e, "verdict")));
	}
	if (r >= 0 && evals)
		r = store_tx_event(c, "ENV", env_id, NULL, NULL);
	return db_end(c, r < 0 ? r : 0);
}

int store_analysis_evals(struct store *s, const char *deploy_id, int64_t limit, json_t **ret)
{
	json_t *list = NULL, *e;
	size_t i;
	int r;
	CONN_OR_FAIL(c, s);

	r = db_list(c, false, sql_analysis_evals, &list, "si", deploy_id, limit);
	if (r < 0)
		return r;
	json_array_foreach(list, i, e) {
		(void)json_object_set(e, "time", json_object_get(e, "evalTime"));
		(void)json_object_set(e, "query", json_object_get(e, "queryName"));
		(void)json_object_del(e, "evalTime");
		(void)json_object_del(e, "queryName");
	}
	*ret = list;
	return 0;
}
