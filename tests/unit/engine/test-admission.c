/* SPDX-License-Identifier: Apache-2.0 */
/* tests/unit/engine/test-admission.c: slot occupancy, threshold clamps (§5.7) and a simulated fleet that pings
 * through the engine with a pure admission, asserting that slot holders never exceed the threshold. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "engine.h"
#include "select_walk.h"
#include "util.h"

static void test_threshold_table(void **state)
{
	static const struct {
		const char *name;
		int existing, mp, pct, cap, want;
	} t[] = {
		{ "default 1", 10, 1, 0, 10000, 1 },
		{ "maxParallel only", 10, 3, 0, 10000, 3 },
		{ "pct only", 10, 0, 30, 10000, 3 },
		{ "pct floors", 10, 0, 25, 10000, 2 },
		{ "both: min", 10, 5, 30, 10000, 3 },
		{ "both: min other way", 10, 2, 50, 10000, 2 },
		{ "neither -> 1", 10, 0, 0, 10000, 1 },
		{ "never above existing", 4, 10, 0, 10000, 4 },
		{ "pct 100 is existing", 7, 0, 100, 10000, 7 },
		{ "never 0: pct rounds to 0", 3, 0, 10, 10000, 1 },
		{ "never 0: no existing rows", 0, 5, 0, 10000, 1 },
		{ "never 0: no existing, pct", 0, 0, 50, 10000, 1 },
		{ "global cap", 50000, 20000, 0, 10000, 10000 },
		{ "global cap at max", 10000, 10000, 0, 10000, 10000 },
		{ "cap + 1 clamps", 10001, 10001, 0, 10000, 10000 },
		{ "small cap", 100, 50, 0, 3, 3 },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int got = engine_threshold(t[i].existing, t[i].mp, t[i].pct, t[i].cap);

		if (got != t[i].want)
			fail_msg("%s: got %d want %d", t[i].name, got, t[i].want);
		assert_true(got >= 1);
		assert_true(got <= (t[i].existing > 0 ? t[i].existing : 1));
	}
	assert_true(engine_admission_allows(0, 10, 1, 0, 10000));
	assert_false(engine_admission_allows(1, 10, 1, 0, 10000));
	assert_false(engine_admission_allows(5, 10, 1, 0, 10000)); /* over after lowering maxParallel */
}

static void test_occupancy(void **state)
{
	static const struct {
		const char *name;
		bool slot;
		int state, stage;
		bool removed, first;
		bool occupies, existing;
	} t[] = {
		{ "holder", true, AGENT_STATE_NORMAL, DEPLOY_STAGE_STAGING, false, false, true, true },
		{ "idle", false, AGENT_STATE_NORMAL, DEPLOY_STAGE_SERVING_BUILD, false, false, false, true },
		{ "stopping", false, AGENT_STATE_STOP, DEPLOY_STAGE_STOPPING, false, false, true, true },
		{ "stopped", false, AGENT_STATE_STOP, DEPLOY_STAGE_STOPPED, false, false, false, true },
		{ "removed stopping", false, AGENT_STATE_STOP, DEPLOY_STAGE_STOPPING, true, false, false, false },
		{ "first deploy", false, AGENT_STATE_NORMAL, DEPLOY_STAGE_STAGING, false, true, false, false },
		{ "parked HALT holder", true, AGENT_STATE_PAUSED_BY_SYSTEM, DEPLOY_STAGE_STAGING, false, false, true,
		  true },
		{ "unreachable holder", true, AGENT_STATE_UNREACHABLE, DEPLOY_STAGE_STAGING, false, false, true, true },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct agent_row r = { .holds_slot = t[i].slot, .state = t[i].state, .deploy_stage = t[i].stage,
				       .removed = t[i].removed, .first_deploy = t[i].first };

		printf("occupancy: %s\n", t[i].name);
		assert_int_equal(engine_row_occupies_slot(&r), t[i].occupies);
		assert_int_equal(engine_row_counts_existing(&r), t[i].existing);
	}
}

static void test_release_rules(void **state)
{
	static const struct {
		const char *name;
		int state, stage, policy;
		bool removed, keep;
	} t[] = {
		{ "mid deploy", AGENT_STATE_NORMAL, DEPLOY_STAGE_STAGING, FAILURE_POLICY_HALT, false, true },
		{ "serving", AGENT_STATE_NORMAL, DEPLOY_STAGE_SERVING_BUILD, FAILURE_POLICY_HALT, false, false },
		{ "stopping", AGENT_STATE_STOP, DEPLOY_STAGE_STOPPING, FAILURE_POLICY_HALT, false, false },
		{ "stopped", AGENT_STATE_STOP, DEPLOY_STAGE_STOPPED, FAILURE_POLICY_HALT, false, false },
		{ "paused by user", AGENT_STATE_PAUSED_BY_USER, DEPLOY_STAGE_STAGING, FAILURE_POLICY_HALT, false,
		  false },
		{ "delete", AGENT_STATE_DELETE, DEPLOY_STAGE_STAGING, FAILURE_POLICY_HALT, false, false },
		{ "removed", AGENT_STATE_NORMAL, DEPLOY_STAGE_STAGING, FAILURE_POLICY_HALT, true, false },
		{ "parked HALT keeps", AGENT_STATE_PAUSED_BY_SYSTEM, DEPLOY_STAGE_STAGING, FAILURE_POLICY_HALT, false,
		  true },
		{ "parked ROLLBACK keeps", AGENT_STATE_PAUSED_BY_SYSTEM, DEPLOY_STAGE_STAGING,
		  FAILURE_POLICY_ROLLBACK, false, true },
		{ "parked CONTINUE releases", AGENT_STATE_PAUSED_BY_SYSTEM, DEPLOY_STAGE_STAGING,
		  FAILURE_POLICY_CONTINUE, false, false },
		{ "unreachable keeps", AGENT_STATE_UNREACHABLE, DEPLOY_STAGE_STAGING, FAILURE_POLICY_HALT, false,
		  true },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct agent_row r = { .holds_slot = true, .state = t[i].state, .deploy_stage = t[i].stage,
				       .removed = t[i].removed };

		printf("release: %s\n", t[i].name);
		engine_row_release_slot(&r, t[i].policy);
		assert_int_equal(r.holds_slot, t[i].keep);
	}
}

/* ---- simulated fleet ---- */

#define MAX_HOSTS 40

struct fleet {
	struct env_view env;
	struct agent_row rows[MAX_HOSTS];
	bool has_row[MAX_HOSTS];
	/* what each agent last ran: stage and whether its report succeeded */
	char agent_deploy[MAX_HOSTS][ENGINE_ID_SIZE];
	int agent_stage[MAX_HOSTS];
	bool agent_has_report[MAX_HOSTS];
	int agent_status[MAX_HOSTS];
	int n;
	int fail_host; /* a host whose RESTARTING fails fatally, -1 none */
	int max_holders;
	int64_t version;
};

struct sim_admit {
	struct fleet *f;
	int host;
	int64_t now;
};

static void fleet_counts(const struct fleet *f, int *occupied, int *existing)
{
	*occupied = 0;
	*existing = 0;
	for (int i = 0; i < f->n; i++) {
		if (!f->has_row[i])
			continue;
		if (engine_row_occupies_slot(&f->rows[i]))
			(*occupied)++;
		if (engine_row_counts_existing(&f->rows[i]))
			(*existing)++;
	}
}

static int sim_admit_fn(void *ctx, const struct engine_candidate *c)
{
	struct sim_admit *a = ctx;
	int occupied, existing;

	fleet_counts(a->f, &occupied, &existing);
	if (!engine_admission_allows(occupied, existing, a->f->env.max_parallel, a->f->env.max_parallel_pct, 10000))
		return 0;
	engine_candidate_admitted_row(c, &a->f->rows[a->host]);
	a->f->rows[a->host].version = ++a->f->version;
	a->f->has_row[a->host] = true;
	return 1;
}

/* One ping of host h; returns true when it got work. */
static bool fleet_ping(struct fleet *f, int h, int64_t now)
{
	struct engine_report rep = { .env_id = f->env.id, .deploy_id = f->agent_deploy[h],
				     .deploy_stage = f->agent_stage[h], .agent_status = f->agent_status[h] };
	char host_id[16];
	struct engine_ping_input in = { .host_id = host_id, .envs = &f->env, .n_envs = 1, .reports = &rep,
					.n_reports = f->agent_has_report[h] ? 1 : 0, .rows = &f->rows[h],
					.n_rows = f->has_row[h] ? 1 : 0, .now_ms = now };
	struct sim_admit a = { .f = f, .host = h, .now = now };
	struct engine_decision d;
	int i, occupied, existing;
	bool admitted = false, work = false;

	(void)str_printf(host_id, sizeof(host_id), "h%d", h);
	assert_int_equal(engine_decide_ping(&in, &d), 0);
	i = select_walk(&d, sim_admit_fn, &a);
	if (i >= 0) {
		admitted = d.installs[i].need_wait;
		(void)engine_decision_choose(&d, (size_t)i, admitted);
	}
	for (size_t k = 0; k < d.n_writes; k++) {
		if (d.writes[k].skip)
			continue;
		f->rows[h] = d.writes[k].row;
		f->rows[h].version = ++f->version;
		f->has_row[h] = true;
	}
	if (i >= 0) {
		/* the agent runs the step */
		const struct engine_candidate *c = &d.installs[i];

		(void)str_copy(f->agent_deploy[h], ENGINE_ID_SIZE, c->bean.deploy_id);
		f->agent_stage[h] = c->bean.deploy_stage;
		f->agent_has_report[h] = true;
		f->agent_status[h] = (h == f->fail_host && c->bean.deploy_stage == DEPLOY_STAGE_RESTARTING)
					     ? AGENT_STATUS_SCRIPT_TIMEOUT
					     : AGENT_STATUS_SUCCEEDED;
		work = true;
	}
	engine_decision_release(&d);

	fleet_counts(f, &occupied, &existing);
	if (occupied > f->max_holders)
		f->max_holders = occupied;
	assert_true(occupied <= engine_threshold(existing, f->env.max_parallel, f->env.max_parallel_pct, 10000));
	return work;
}

static void fleet_init(struct fleet *f, int n, int mp, int pct, int policy)
{
	*f = (struct fleet){ .n = n, .fail_host = -1 };
	(void)str_copy(f->env.id, sizeof(f->env.id), "E");
	(void)str_copy(f->env.env_name, sizeof(f->env.env_name), "web");
	(void)str_copy(f->env.stage_name, sizeof(f->env.stage_name), "prod");
	(void)str_copy(f->env.deploy_id, sizeof(f->env.deploy_id), "D1");
	f->env.deploy_type = DEPLOY_TYPE_REGULAR;
	f->env.env_state = ENV_STATE_NORMAL;
	f->env.failure_policy = policy;
	f->env.max_parallel = mp;
	f->env.max_parallel_pct = pct;
}

static int fleet_serving(const struct fleet *f, const char *deploy)
{
	int n = 0;

	for (int i = 0; i < f->n; i++)
		if (f->has_row[i] && streq(f->rows[i].deploy_id, deploy) &&
		    f->rows[i].deploy_stage == DEPLOY_STAGE_SERVING_BUILD && f->rows[i].state == AGENT_STATE_NORMAL)
			n++;
	return n;
}

static int fleet_run(struct fleet *f, int rounds, int64_t *now)
{
	for (int r = 0; r < rounds; r++)
		for (int h = 0; h < f->n; h++) {
			/* pseudo-random order, deterministic */
			int hh = (h * 3 + r) % f->n; /* 3 is coprime with every fleet size used */

			(void)fleet_ping(f, hh, (*now)++);
		}
	return 0;
}

static void test_fleet_rollout(void **state)
{
	static const struct {
		int n, mp, pct;
	} t[] = { { 10, 1, 0 }, { 10, 2, 0 }, { 20, 0, 25 }, { 20, 3, 10 }, { 7, 0, 0 }, { 40, 10, 0 } };

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct fleet f;
		int64_t now = 1000;
		int thr;

		fleet_init(&f, t[i].n, t[i].mp, t[i].pct, FAILURE_POLICY_HALT);
		/* first deploy: all at once, bypassing admission */
		fleet_run(&f, 12, &now);
		assert_int_equal(fleet_serving(&f, "D1"), t[i].n);
		for (int h = 0; h < f.n; h++)
			assert_false(f.rows[h].first_deploy);
		/* a later deploy: admission governs */
		f.max_holders = 0;
		(void)str_copy(f.env.deploy_id, sizeof(f.env.deploy_id), "D2");
		fleet_run(&f, 200, &now);
		for (int h = 0; h < f.n && fleet_serving(&f, "D2") != t[i].n; h++)
			printf("host %d: %s %s %s slot %d first %d | agent %s %s %s\n", h, f.rows[h].deploy_id,
			       deploy_stage_to_string(f.rows[h].deploy_stage), agent_state_to_string(f.rows[h].state),
			       f.rows[h].holds_slot, f.rows[h].first_deploy, f.agent_deploy[h],
			       deploy_stage_to_string(f.agent_stage[h]), agent_status_to_string(f.agent_status[h]));
		assert_int_equal(fleet_serving(&f, "D2"), t[i].n);
		thr = engine_threshold(t[i].n, t[i].mp, t[i].pct, 10000);
		printf("fleet n=%d mp=%d pct=%d: max holders %d threshold %d\n", t[i].n, t[i].mp, t[i].pct,
		       f.max_holders, thr);
		assert_true(f.max_holders <= thr);
		assert_true(f.max_holders >= 1);
		for (int h = 0; h < f.n; h++)
			assert_false(f.rows[h].holds_slot);
	}
}

static void test_fleet_failure_policies(void **state)
{
	static const int policies[] = { FAILURE_POLICY_HALT, FAILURE_POLICY_CONTINUE, FAILURE_POLICY_ROLLBACK,
					FAILURE_POLICY_REMOVE_HOST };

	for (size_t p = 0; p < sizeof(policies) / sizeof(policies[0]); p++) {
		struct fleet f;
		int64_t now = 1000;
		int serving;

		fleet_init(&f, 10, 1, 0, policies[p]);
		fleet_run(&f, 12, &now);
		(void)str_copy(f.env.deploy_id, sizeof(f.env.deploy_id), "D2");
		f.fail_host = 0;
		fleet_run(&f, 300, &now);
		serving = fleet_serving(&f, "D2");
		printf("policy %s: serving %d, host0 state %s removed %d slot %d\n",
		       failure_policy_to_string(policies[p]), serving, agent_state_to_string(f.rows[0].state),
		       f.rows[0].removed, f.rows[0].holds_slot);
		switch (policies[p]) {
		case FAILURE_POLICY_HALT:
		case FAILURE_POLICY_ROLLBACK:
			/* maxParallel 1: the parked host keeps the only slot; the rollout stops */
			assert_int_equal(f.rows[0].state, AGENT_STATE_PAUSED_BY_SYSTEM);
			assert_true(f.rows[0].holds_slot);
			assert_true(serving < 9);
			break;
		case FAILURE_POLICY_CONTINUE:
			assert_int_equal(f.rows[0].state, AGENT_STATE_PAUSED_BY_SYSTEM);
			assert_false(f.rows[0].holds_slot);
			assert_int_equal(serving, 9);
			break;
		case FAILURE_POLICY_REMOVE_HOST:
			assert_int_equal(f.rows[0].state, AGENT_STATE_STOP);
			assert_true(f.rows[0].removed);
			assert_int_equal(f.rows[0].deploy_stage, DEPLOY_STAGE_STOPPED);
			assert_false(f.rows[0].holds_slot);
			assert_int_equal(serving, 9);
			break;
		}
	}
}

/* The whole admission decision over what the store read in its transaction. */
static void test_admission_decide_table(void **state)
{
	enum { ADMIT = ADMISSION_ADMIT, STALE = ADMISSION_REFUSE_STALE, SCHED = ADMISSION_REFUSE_SCHEDULE,
	       FULL = ADMISSION_REFUSE_FULL };
	static const struct {
		const char *name;
		bool exists;
		const char *stage_deploy, *bean_deploy;
		int mp, pct, sched_state, session;
		const char *hosts;
		int occupied, existing, on_deploy, total, cap;
		int want;
	} t[] = {
		{ "free slot", true, "D1", "D1", 1, 0, -1, 0, NULL, 0, 10, 0, 10, 10000, ADMIT },
		{ "slot taken", true, "D1", "D1", 1, 0, -1, 0, NULL, 1, 10, 1, 10, 10000, FULL },
		{ "wider stage", true, "D1", "D1", 3, 0, -1, 0, NULL, 2, 10, 2, 10, 10000, ADMIT },
		{ "pct width full", true, "D1", "D1", 0, 20, -1, 0, NULL, 2, 10, 2, 10, 10000, FULL },
		{ "global cap", true, "D1", "D1", 50, 0, -1, 0, NULL, 3, 100, 3, 100, 3, FULL },
		{ "stage gone", false, "", "D1", 1, 0, -1, 0, NULL, 0, 0, 0, 0, 10000, STALE },
		{ "a new deploy meanwhile", true, "D2", "D1", 1, 0, -1, 0, NULL, 0, 10, 0, 10, 10000, STALE },
		{ "no deploy any more", true, "", "D1", 1, 0, -1, 0, NULL, 0, 10, 0, 10, 10000, STALE },
		{ "stale before full", true, "D2", "D1", 1, 0, -1, 0, NULL, 5, 10, 0, 10, 10000, STALE },
		{ "cooling down", true, "D1", "D1", 5, 0, SCHEDULE_STATE_COOLING_DOWN, 1, "2,5", 0, 10, 2, 10, 10000,
		  SCHED },
		{ "session full", true, "D1", "D1", 5, 0, SCHEDULE_STATE_RUNNING, 1, "2,5", 0, 10, 2, 10, 10000, SCHED },
		{ "session open", true, "D1", "D1", 5, 0, SCHEDULE_STATE_RUNNING, 2, "2,5", 0, 10, 2, 10, 10000, ADMIT },
		{ "session open, slots full", true, "D1", "D1", 1, 0, SCHEDULE_STATE_RUNNING, 2, "2,5", 1, 10, 2, 10,
		  10000, FULL },
		{ "schedule before full", true, "D1", "D1", 1, 0, SCHEDULE_STATE_COOLING_DOWN, 1, "2", 1, 10, 2, 10,
		  10000, SCHED },
		{ "malformed schedule refuses", true, "D1", "D1", 5, 0, SCHEDULE_STATE_RUNNING, 1, "x", 0, 10, 0, 10,
		  10000, SCHED },
		{ "finished schedule", true, "D1", "D1", 5, 0, SCHEDULE_STATE_FINAL, 2, "2,5", 0, 10, 9, 10, 10000,
		  ADMIT },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct admission_facts f = {
			.stage_exists = t[i].exists, .deploy_id = t[i].stage_deploy, .max_parallel = t[i].mp,
			.max_parallel_pct = t[i].pct, .occupied = t[i].occupied, .existing = t[i].existing,
			.on_deploy = t[i].on_deploy, .total = t[i].total,
		};
		int got;

		if (t[i].sched_state >= 0)
			f.schedule = (struct schedule_view){ .present = true, .state = t[i].sched_state,
							     .current_session = t[i].session, .host_numbers = t[i].hosts };
		got = (int)engine_admission_decide(&f, t[i].bean_deploy, t[i].cap);
		if (got != t[i].want)
			fail_msg("%s: got %d want %d", t[i].name, got, t[i].want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_threshold_table),
		cmocka_unit_test(test_admission_decide_table),
		cmocka_unit_test(test_occupancy),
		cmocka_unit_test(test_release_rules),
		cmocka_unit_test(test_fleet_rollout),
		cmocka_unit_test(test_fleet_failure_policies),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
