/* SPDX-License-Identifier: Apache-2.0 */
/* engine/analysis_rules.h: the Prometheus analysis of a deploy. A stage's analysis document
 * ({"queries":[{"name","query","min","max"}], "intervalSeconds", "failAfter", "durationSeconds", "noData",
 * "action"}) is checked here; each evaluation of a query gets a verdict, consecutive out-of-bounds verdicts
 * are counted, and the phase of a deploy says whether it is still analysed. PURE: workers/analysis.c runs the
 * queries and writes the results; api/analysis.c stores the document. */
#ifndef SLIPWAY_ENGINE_ANALYSIS_RULES_H
#define SLIPWAY_ENGINE_ANALYSIS_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#define ENGINE_ANALYSIS_MAX_QUERIES 20
#define ENGINE_ANALYSIS_MAX_QUERY_BYTES 4096

/* Check an analysis document and fill in its defaults (intervalSeconds 60, failAfter 3, durationSeconds 600,
 * noData IGNORE, action ROLLBACK, min and max null = unbounded). 0 with *ret the normalised document, or -EINVAL
 * with field (e.g. "queries[1].min") and msg saying why, or -ENOMEM. */
int engine_analysis_check(const json_t *in, json_t **ret, char *field, size_t field_size, char *msg,
			  size_t msg_size);

enum engine_analysis_verdict {
	ENGINE_ANALYSIS_PASS,    /* within [min, max] */
	ENGINE_ANALYSIS_FAIL,    /* outside, or no data with noData FAIL */
	ENGINE_ANALYSIS_NO_DATA, /* no value (empty result, NaN, query error) with noData IGNORE */
};
const char *engine_analysis_verdict_name(enum engine_analysis_verdict v); /* PASS, FAIL, NO_DATA */
/* The verdict of one value (has_value false: none) against a query of a checked document. */
enum engine_analysis_verdict engine_analysis_judge(const json_t *query, bool has_value, double value,
						   bool no_data_fails);
/* Consecutive out-of-bounds count after a verdict: FAIL adds one, PASS resets, NO_DATA keeps. */
int64_t engine_analysis_count(int64_t prev, enum engine_analysis_verdict v);

enum engine_analysis_phase {
	ENGINE_ANALYSIS_EVALUATE, /* evaluate now (from the deploy's start until durationSeconds after SUCCEEDING) */
	ENGINE_ANALYSIS_DONE,     /* the window after SUCCEEDING is over: the analysis PASSED */
	ENGINE_ANALYSIS_IDLE,     /* the deploy is not active: nothing to do */
};
/* deploy_state: enum deploy_state; success_ms: the deploy's successDate (0 when none). */
enum engine_analysis_phase engine_analysis_phase(int deploy_state, int64_t success_ms, int64_t duration_s,
						 int64_t now_ms);

/* query with ${ENV}, ${STAGE}, ${BUILD_ID}, ${DEPLOY_ID} and ${COMMIT} replaced by values[0..4] (NULL: ""); the
 * caller frees the result; NULL on OOM. */
char *engine_analysis_substitute(const char *query, const char *const values[5]);

#endif
