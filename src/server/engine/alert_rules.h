/* SPDX-License-Identifier: Apache-2.0 */
/* engine/alert_rules.h: what an external alert posted to POST /v1/envs/{env}/{stage}/alerts may do to the stage's
 * current deploy (upstream Teletraan's alerts resource). PURE: api/alerts.c parses the alert and loads the stage
 * and its deploy; the verdict says which answer to give and whether the actions run (deploy/safety.c). */
#ifndef SLIPWAY_ENGINE_ALERT_RULES_H
#define SLIPWAY_ENGINE_ALERT_RULES_H

#include <stdbool.h>
#include <stdint.h>

#define ENGINE_ALERT_WINDOW_MIN_S 1
#define ENGINE_ALERT_WINDOW_MAX_S 14400
#define ENGINE_ALERT_WINDOW_DEFAULT_S 1800
#define ENGINE_ALERT_FRESH_MS (5 * 60 * 1000) /* an alert triggered longer ago than this is ignored */

struct engine_alert_facts {
	bool triggered;
	int64_t triggered_ms;  /* when the alert fired (epoch ms) */
	int64_t now_ms;
	int64_t window_s;      /* actionWindow */
	bool has_deploy;       /* the stage has a current deploy */
	int64_t deploy_start_ms;
	int deploy_state;      /* enum deploy_state of the current deploy */
	int env_state;         /* enum env_state of the stage (envState) */
	bool env_disabled;     /* the stage's state is DISABLED */
};

enum engine_alert_verdict {
	ENGINE_ALERT_ACT,              /* run the actions (200 with each action's result) */
	ENGINE_ALERT_NOT_TRIGGERED,    /* 304 */
	ENGINE_ALERT_STALE,            /* triggered more than ENGINE_ALERT_FRESH_MS ago: 304 */
	ENGINE_ALERT_NO_DEPLOY,        /* 204 */
	ENGINE_ALERT_OUTSIDE_WINDOW,   /* the deploy started before the action window: 200, nothing done */
	ENGINE_ALERT_DEPLOY_SETTLED,   /* the deploy is neither SUCCEEDING nor FAILING: 200, nothing done */
	ENGINE_ALERT_STAGE_NOT_NORMAL, /* the stage is paused or disabled: 200, nothing done */
};

enum engine_alert_verdict engine_alert_decide(const struct engine_alert_facts *f);
/* The HTTP status of a verdict (200, 204 or 304). */
int engine_alert_status(enum engine_alert_verdict v);
/* Why nothing was done, for the 200 answer of a verdict other than ENGINE_ALERT_ACT. */
const char *engine_alert_reason(enum engine_alert_verdict v);

#endif
