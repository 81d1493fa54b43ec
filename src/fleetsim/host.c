/* SPDX-License-Identifier: Apache-2.0 */
/* fleetsim/host.c: see host.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "enums.h"
#include "host.h"
#include "util.h"
#include "banned.h"

/* ---- randomness --------------------------------------------------------------------------------- */

static uint64_t rng_next(struct sim_rng *r)
{
	/* xorshift64*: fast, good enough for jitter */
	uint64_t x = r->s ? r->s : 0x9E3779B97F4A7C15ULL;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	r->s = x;
	return x * 0x2545F4914F6CDD1DULL;
}

int64_t sim_rng_range(struct sim_rng *r, int64_t lo, int64_t hi)
{
	if (hi <= lo)
		return lo;
	return lo + (int64_t)(rng_next(r) % (uint64_t)(hi - lo + 1));
}

double sim_rng_unit(struct sim_rng *r)
{
	return (double)(rng_next(r) >> 11) / 9007199254740992.0; /* 2^53 */
}

/* ---- interned strings --------------------------------------------------------------------------- */

uint32_t sim_intern(struct sim_strings *t, const char *s)
{
	char **nv;

	if (!s)
		return SIM_NONE;
	/* few distinct values (one per env and deploy), newest last: search backwards */
	for (uint32_t i = t->n; i-- > 0;)
		if (streq(t->v[i], s))
			return i;
	if (t->n == t->cap) {
		uint32_t cap = t->cap ? t->cap * 2 : 16;
		nv = realloc(t->v, cap * sizeof(*nv));
		if (!nv)
			return SIM_NONE;
		t->v = nv;
		t->cap = cap;
	}
	t->v[t->n] = strdup(s);
	if (!t->v[t->n])
		return SIM_NONE;
	return t->n++;
}

const char *sim_string(const struct sim_strings *t, uint32_t idx)
{
	return idx < t->n ? t->v[idx] : NULL;
}

void sim_strings_release(struct sim_strings *t)
{
	for (uint32_t i = 0; i < t->n; i++)
		free(t->v[i]);
	free(t->v);
	memset(t, 0, sizeof(*t));
}

/* ---- the host ----------------------------------------------------------------------------------- */

static void forget_env(struct sim_host *h)
{
	h->env_id = h->env_name = h->deploy_id = h->deploy_alias = SIM_NONE;
	h->stage = DEPLOY_STAGE_UNKNOWN;
	h->status = AGENT_STATUS_UNKNOWN;
	h->fail_count = 0;
	h->will_fail = 0;
}

static void schedule_idle(struct sim_host *h, const struct sim_config *c, struct sim_rng *rng, int64_t now)
{
	h->phase = SIM_IDLE;
	if (c->wait_s > 0 && h->long_poll)
		h->due_ms = now + sim_rng_range(rng, 0, 1000);
	else
		h->due_ms = now + sim_rng_range(rng, c->interval_ms * 9 / 10, c->interval_ms * 11 / 10);
}

void sim_host_init(struct sim_host *h, const struct sim_config *c, struct sim_rng *rng, int64_t now)
{
	memset(h, 0, sizeof(*h));
	forget_env(h);
	h->phase = SIM_IDLE;
	h->long_poll = 1; /* the first idle ping decides, as in the agent */
	h->backoff_ms = (int32_t)c->backoff_ms;
	/* the agent's start-up jitter is a tenth of the interval; a fleet started at once spreads over all of it */
	h->due_ms = now + sim_rng_range(rng, 0, c->interval_ms);
}

void sim_host_set_serving(struct sim_host *h, uint32_t env_id, uint32_t deploy_id)
{
	forget_env(h);
	h->env_id = env_id;
	h->deploy_id = deploy_id;
	h->stage = DEPLOY_STAGE_SERVING_BUILD;
	h->status = AGENT_STATUS_SUCCEEDED;
}

bool sim_host_report(const struct sim_host *h, const struct sim_strings *t, struct ping_report *ret)
{
	memset(ret, 0, sizeof(*ret));
	if (h->env_id == SIM_NONE && h->env_name == SIM_NONE)
		return false;
	ret->env_id = (char *)sim_string(t, h->env_id);
	ret->deploy_id = (char *)sim_string(t, h->deploy_id);
	ret->deploy_alias = (char *)sim_string(t, h->deploy_alias);
	ret->deploy_stage = h->stage;
	ret->agent_status = h->status;
	ret->error_code = h->status == AGENT_STATUS_SCRIPT_FAILED ? 1 : 0;
	ret->error_message = h->status == AGENT_STATUS_SCRIPT_FAILED ? (char *)"simulated script failure" : NULL;
	ret->fail_count = h->fail_count;
	return true;
}

int sim_host_ping_start(struct sim_host *h, const struct sim_config *c)
{
	h->idle_ping = h->phase == SIM_IDLE;
	h->phase = SIM_PINGING;
	return h->idle_ping ? c->wait_s : 0;
}

static bool is_delete(const struct ping_response *resp)
{
	if (resp->op_code == OP_CODE_DELETE)
		return true;
	return resp->op_code < 0 && resp->op_code_raw && strcasecmp(resp->op_code_raw, "TERMINATE") == 0;
}

static int start_stage(struct sim_host *h, const struct sim_config *c, struct sim_strings *t, struct sim_rng *rng,
		       const struct deploy_goal *g, int64_t now)
{
	uint32_t env_id = sim_intern(t, g->env_id), env_name = sim_intern(t, g->env_name);
	uint32_t deploy_id = sim_intern(t, g->deploy_id), alias = sim_intern(t, g->deploy_alias);

	if ((g->env_id && env_id == SIM_NONE) || (g->env_name && env_name == SIM_NONE) ||
	    (g->deploy_id && deploy_id == SIM_NONE) || (g->deploy_alias && alias == SIM_NONE))
		return -ENOMEM;
	if (env_name != h->env_name || deploy_id != h->deploy_id || g->deploy_stage != h->stage)
		h->fail_count = 0;
	h->env_id = env_id;
	h->env_name = env_name;
	h->deploy_id = deploy_id;
	h->deploy_alias = alias;
	h->stage = (uint8_t)g->deploy_stage;
	h->status = AGENT_STATUS_UNKNOWN;
	h->will_fail = (c->fail_stage < 0 || c->fail_stage == g->deploy_stage) && c->fail_rate > 0 &&
		       sim_rng_unit(rng) < c->fail_rate;
	h->phase = SIM_RUNNING;
	h->due_ms = now + c->script_ms;
	return 0;
}

int sim_host_on_answer(struct sim_host *h, const struct sim_config *c, struct sim_strings *t, struct sim_rng *rng,
		       const struct ping_response *resp, bool held, int64_t now, enum sim_event *ret_ev)
{
	const struct deploy_goal *g = resp->goal;
	bool work = g && resp->op_code != OP_CODE_NOOP && resp->op_code != OP_CODE_WAIT;

	*ret_ev = SIM_EV_NONE;
	h->backoff_ms = (int32_t)c->backoff_ms;
	if (h->idle_ping && !work)
		h->long_poll = held; /* only an idle NOOP decides the mode (agent §5.3) */
	if (!work) {
		schedule_idle(h, c, rng, now);
		return 0;
	}
	if (is_delete(resp)) {
		/* forget the env if the goal names it (or names nothing), then ping again at once */
		uint32_t id = sim_intern(t, g->env_id), name = sim_intern(t, g->env_name);
		if ((g->env_id && id == h->env_id) || (g->env_name && name == h->env_name))
			forget_env(h);
		*ret_ev = SIM_EV_DELETE;
		h->phase = SIM_REPORT;
		h->due_ms = now;
		return 0;
	}
	if (!g->env_name || !*g->env_name || g->deploy_stage < 0 || g->deploy_stage >= _DEPLOY_STAGE_MAX) {
		*ret_ev = SIM_EV_IGNORED; /* the agent logs and ends the pass */
		schedule_idle(h, c, rng, now);
		return 0;
	}
	/* DEPLOY, RESTART, ROLLBACK, STOP and unknown opCodes (treated like DEPLOY) run the named stage */
	*ret_ev = SIM_EV_GOAL;
	return start_stage(h, c, t, rng, g, now);
}

void sim_host_on_failure(struct sim_host *h, const struct sim_config *c, struct sim_rng *rng, int64_t retry_after_s,
			 int64_t now)
{
	int64_t b = h->backoff_ms > 0 ? h->backoff_ms : 1000, next = b * 2;

	/* the pass ends; its result stays in the report of the next idle ping */
	h->phase = SIM_IDLE;
	if (retry_after_s >= 0) {
		/* the server names the wait (0: it is stopping, try again now); spread as the agent does, over half of it
		 * again and at least a second, so the fleet does not return together; the failure backoff does not grow */
		int64_t wait = retry_after_s * 1000, spread = wait / 2 > 1000 ? wait / 2 : 1000;

		h->due_ms = now + wait + sim_rng_range(rng, 0, spread);
		return;
	}
	h->due_ms = now + sim_rng_range(rng, b / 2, b);
	h->backoff_ms = (int32_t)(next > c->backoff_max_ms ? c->backoff_max_ms : next);
}

void sim_host_script_done(struct sim_host *h, int64_t now)
{
	if (h->will_fail) {
		h->status = AGENT_STATUS_SCRIPT_FAILED;
		if (h->fail_count < UINT8_MAX)
			h->fail_count++;
	} else {
		h->status = AGENT_STATUS_SUCCEEDED;
		h->fail_count = 0;
	}
	h->will_fail = 0;
	h->phase = SIM_REPORT;
	h->due_ms = now;
}
