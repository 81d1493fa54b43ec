/* SPDX-License-Identifier: Apache-2.0 */
/* engine/alert_rules.c: the answer to an external alert (engine/alert_rules.h). */
#include "alert_rules.h"
#include "enums.h"
#include "banned.h"

enum engine_alert_verdict engine_alert_decide(const struct engine_alert_facts *f)
{
	if (!f->triggered)
		return ENGINE_ALERT_NOT_TRIGGERED;
	if (f->now_ms - f->triggered_ms > ENGINE_ALERT_FRESH_MS)
		return ENGINE_ALERT_STALE;
	if (!f->has_deploy)
		return ENGINE_ALERT_NO_DEPLOY;
	if (f->now_ms - f->deploy_start_ms > f->window_s * 1000)
		return ENGINE_ALERT_OUTSIDE_WINDOW;
	if (f->deploy_state != DEPLOY_STATE_SUCCEEDING && f->deploy_state != DEPLOY_STATE_FAILING)
		return ENGINE_ALERT_DEPLOY_SETTLED;
	if (f->env_state != ENV_STATE_NORMAL || f->env_disabled)
		return ENGINE_ALERT_STAGE_NOT_NORMAL;
	return ENGINE_ALERT_ACT;
}

int engine_alert_status(enum engine_alert_verdict v)
{
	switch (v) {
	case ENGINE_ALERT_NOT_TRIGGERED:
	case ENGINE_ALERT_STALE:
		return 304;
	case ENGINE_ALERT_NO_DEPLOY:
		return 204;
	default:
		return 200;
	}
}

const char *engine_alert_reason(enum engine_alert_verdict v)
{
	switch (v) {
	case ENGINE_ALERT_ACT:
		return "actions performed";
	case ENGINE_ALERT_NOT_TRIGGERED:
		return "the alert is not triggered";
	case ENGINE_ALERT_STALE:
		return "the alert was triggered more than 5 minutes ago";
	case ENGINE_ALERT_NO_DEPLOY:
		return "the stage has no deploy";
	case ENGINE_ALERT_OUTSIDE_WINDOW:
		return "the current deploy started before the action window";
	case ENGINE_ALERT_DEPLOY_SETTLED:
		return "the current deploy is neither SUCCEEDING nor FAILING";
	case ENGINE_ALERT_STAGE_NOT_NORMAL:
		return "the stage is not NORMAL (paused or disabled)";
	}
	return "";
}
