/* SPDX-License-Identifier: Apache-2.0 */
/* tests/unit/engine/test-goal.c: answer building (§5.8): opCode, ids after an alias swap, attachments per stage,
 * agentConfigs prefix stripping and collisions, the DELETE answer. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine.h"
#include "select_walk.h"
#include "util.h"

static void env_init(struct env_view *e, int deploy_type)
{
	*e = (struct env_view){ .stage_type = ENV_TYPE_CANARY, .deploy_type = deploy_type,
				.env_state = ENV_STATE_NORMAL, .is_docker = true };
	(void)str_copy(e->id, sizeof(e->id), "E1");
	(void)str_copy(e->env_name, sizeof(e->env_name), "web");
	(void)str_copy(e->stage_name, sizeof(e->stage_name), "canary");
	(void)str_copy(e->deploy_id, sizeof(e->deploy_id), "D2");
}

static void test_opcode_and_attachments(void **state)
{
	static const struct {
		const char *name;
		int deploy_type, stage, bean_state;
		bool signing;
		int want_op;
		bool build, key, vars;
	} t[] = {
		{ "regular pre-download", DEPLOY_TYPE_REGULAR, DEPLOY_STAGE_PRE_DOWNLOAD, AGENT_STATE_NORMAL, true,
		  OP_CODE_DEPLOY, false, false, true },
		{ "regular downloading", DEPLOY_TYPE_REGULAR, DEPLOY_STAGE_DOWNLOADING, AGENT_STATE_NORMAL, false,
		  OP_CODE_DEPLOY, true, false, false },
		{ "downloading with signing key", DEPLOY_TYPE_REGULAR, DEPLOY_STAGE_DOWNLOADING, AGENT_STATE_NORMAL,
		  true, OP_CODE_DEPLOY, true, true, false },
		{ "hotfix", DEPLOY_TYPE_HOTFIX, DEPLOY_STAGE_STAGING, AGENT_STATE_NORMAL, true, OP_CODE_DEPLOY, false,
		  false, false },
		{ "stored STOP type acts as REGULAR", DEPLOY_TYPE_STOP, DEPLOY_STAGE_STAGING, AGENT_STATE_NORMAL,
		  false, OP_CODE_DEPLOY, false, false, false },
		{ "rollback", DEPLOY_TYPE_ROLLBACK, DEPLOY_STAGE_RESTARTING, AGENT_STATE_NORMAL, false,
		  OP_CODE_ROLLBACK, false, false, false },
		{ "restart", DEPLOY_TYPE_RESTART, DEPLOY_STAGE_SERVING_BUILD, AGENT_STATE_NORMAL, false,
		  OP_CODE_RESTART, false, false, false },
		{ "stop", DEPLOY_TYPE_REGULAR, DEPLOY_STAGE_STOPPING, AGENT_STATE_STOP, true, OP_CODE_STOP, false,
		  false, false },
		{ "STOPPED carries the normal opCode", DEPLOY_TYPE_RESTART, DEPLOY_STAGE_STOPPED, AGENT_STATE_STOP,
		  false, OP_CODE_RESTART, false, false, false },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct env_view env;
		struct engine_candidate c = { 0 };
		struct engine_goal g;

		printf("goal: %s\n", t[i].name);
		env_init(&env, t[i].deploy_type);
		env.has_signing_key = t[i].signing;
		c.env = &env;
		c.bean.deploy_stage = t[i].stage;
		c.bean.state = t[i].bean_state;
		c.bean.first_deploy = i % 2;
		assert_int_equal(engine_build_goal(&c, NULL, 0, &g), 0);
		assert_int_equal(g.op_code, t[i].want_op);
		assert_int_equal(g.deploy_stage, t[i].stage);
		assert_int_equal(g.with_build, t[i].build);
		assert_int_equal(g.with_signing_key, t[i].key);
		assert_int_equal(g.with_script_variables, t[i].vars);
		assert_string_equal(g.deploy_id, "D2");
		assert_null(g.deploy_alias);
		assert_int_equal(g.deploy_type, t[i].deploy_type);
		assert_string_equal(g.env_id, "E1");
		assert_string_equal(g.env_name, "web");
		assert_string_equal(g.stage_name, "canary");
		assert_int_equal(g.stage_type, ENV_TYPE_CANARY);
		assert_true(g.is_docker);
		assert_int_equal(g.first_deploy, (bool)(i % 2));
		assert_null(g.agent_configs);
		engine_goal_release(&g);
	}
}

static void test_swapped_ids(void **state)
{
	struct env_view env;
	struct engine_candidate c = { 0 };
	struct engine_goal g;

	env_init(&env, DEPLOY_TYPE_ROLLBACK);
	(void)str_copy(env.deploy_alias, sizeof(env.deploy_alias), "D1");
	c.env = &env;
	c.bean.deploy_stage = DEPLOY_STAGE_STAGING;
	c.swapped = true;
	assert_int_equal(engine_build_goal(&c, NULL, 0, &g), 0);
	assert_string_equal(g.deploy_id, "D1");
	assert_string_equal(g.deploy_alias, "D2");
	engine_goal_release(&g);
	/* no swap in this ping: the current id, no alias, even for a ROLLBACK deploy */
	c.swapped = false;
	assert_int_equal(engine_build_goal(&c, NULL, 0, &g), 0);
	assert_string_equal(g.deploy_id, "D2");
	assert_null(g.deploy_alias);
	engine_goal_release(&g);
}

static const char *kv_get(const struct engine_kv *kv, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (streq(kv[i].key, key))
			return kv[i].value;
	return NULL;
}

static void test_agent_configs(void **state)
{
	const struct engine_kv in[] = {
		{ "process_timeout", "900" },
		{ "STAGING.process_timeout", "60" },    /* collides with a plain key: stage-specific wins */
		{ "RESTARTING.process_timeout", "30" }, /* another stage's key passes unchanged */
		{ "STAGING.", "x" },                    /* becomes empty: dropped */
		{ "STAGING.only_here", "1" },
		{ "staging.lower", "2" },               /* prefixes are case-sensitive */
	};
	const struct engine_kv only_other[] = { { "STAGING.", "x" } };
	struct engine_kv *out;
	size_t n;

	assert_int_equal(engine_agent_configs(in, 6, DEPLOY_STAGE_STAGING, &out, &n), 0);
	assert_int_equal(n, 4);
	assert_string_equal(kv_get(out, n, "process_timeout"), "60");
	assert_string_equal(kv_get(out, n, "RESTARTING.process_timeout"), "30");
	assert_string_equal(kv_get(out, n, "only_here"), "1");
	assert_string_equal(kv_get(out, n, "staging.lower"), "2");
	assert_null(kv_get(out, n, ""));
	free(out);

	/* the stripped key wins whatever the order */
	{
		const struct engine_kv rev[] = { { "STAGING.a", "stage" }, { "a", "plain" } };

		assert_int_equal(engine_agent_configs(rev, 2, DEPLOY_STAGE_STAGING, &out, &n), 0);
		assert_int_equal(n, 1);
		assert_string_equal(kv_get(out, n, "a"), "stage");
		free(out);
	}

	/* another stage: nothing stripped */
	assert_int_equal(engine_agent_configs(in, 6, DEPLOY_STAGE_DOWNLOADING, &out, &n), 0);
	assert_int_equal(n, 6); /* only the current stage's prefix is stripped: "STAGING." passes as is */
	assert_string_equal(kv_get(out, n, "process_timeout"), "900");
	assert_string_equal(kv_get(out, n, "STAGING.process_timeout"), "60");
	free(out);

	/* empty result -> null */
	assert_int_equal(engine_agent_configs(only_other, 1, DEPLOY_STAGE_STAGING, &out, &n), 0);
	assert_null(out);
	assert_int_equal(n, 0);
	assert_int_equal(engine_agent_configs(NULL, 0, DEPLOY_STAGE_STAGING, &out, &n), 0);
	assert_null(out);

	/* through the goal */
	{
		struct env_view env;
		struct engine_candidate c = { 0 };
		struct engine_goal g;

		env_init(&env, DEPLOY_TYPE_REGULAR);
		c.env = &env;
		c.bean.deploy_stage = DEPLOY_STAGE_STAGING;
		assert_int_equal(engine_build_goal(&c, in, 6, &g), 0);
		assert_int_equal(g.n_agent_configs, 4);
		assert_string_equal(kv_get(g.agent_configs, g.n_agent_configs, "process_timeout"), "60");
		engine_goal_release(&g);
		assert_null(g.agent_configs);
	}
}

static void test_delete_goal(void **state)
{
	struct env_view env;
	struct engine_report rep = { .env_id = "E1", .deploy_id = "D0", .deploy_stage = DEPLOY_STAGE_SERVING_BUILD };
	struct engine_candidate c = { .rep = &rep };
	struct engine_goal g;

	/* env gone */
	assert_int_equal(engine_build_delete_goal(&c, &g), 0);
	assert_int_equal(g.op_code, OP_CODE_DELETE);
	assert_string_equal(g.env_id, "E1");
	assert_string_equal(g.deploy_id, "D0");
	assert_int_equal(g.deploy_stage, DEPLOY_STAGE_SERVING_BUILD);
	assert_int_equal(g.deploy_type, -1);
	assert_null(g.env_name);
	assert_null(g.stage_name);
	assert_int_equal(g.stage_type, -1);
	assert_false(g.first_deploy);
	assert_false(g.with_build);
	assert_false(g.with_script_variables);
	assert_null(g.agent_configs);
	engine_goal_release(&g);

	/* env still exists (unmapped from the host) */
	env_init(&env, DEPLOY_TYPE_RESTART);
	c.env = &env;
	assert_int_equal(engine_build_delete_goal(&c, &g), 0);
	assert_string_equal(g.env_name, "web");
	assert_string_equal(g.stage_name, "canary");
	assert_int_equal(g.stage_type, ENV_TYPE_CANARY);
	assert_int_equal(g.deploy_type, DEPLOY_TYPE_RESTART);
	assert_string_equal(g.deploy_id, "D0"); /* from the report, not the env */
	assert_false(g.is_docker);
	engine_goal_release(&g);
}

/* End to end through the decision: an alias swap in this ping reverses the ids of the goal. */
static void test_swap_through_decision(void **state)
{
	struct env_view env;
	struct agent_row row = { .host_id = "h", .env_id = "E1", .deploy_id = "D1",
				 .deploy_stage = DEPLOY_STAGE_DOWNLOADING, .state = AGENT_STATE_NORMAL,
				 .status = AGENT_STATUS_UNKNOWN, .holds_slot = true, .version = 3 };
	struct engine_report rep = { .env_id = "E1", .deploy_id = "D1", .deploy_stage = DEPLOY_STAGE_DOWNLOADING,
				     .agent_status = AGENT_STATUS_SUCCEEDED };
	struct engine_ping_input in = { .host_id = "h", .envs = &env, .n_envs = 1, .reports = &rep, .n_reports = 1,
					.rows = &row, .n_rows = 1, .now_ms = 5 };
	struct engine_decision d;
	struct engine_goal g;
	int i, wi;

	env_init(&env, DEPLOY_TYPE_ROLLBACK);
	(void)str_copy(env.deploy_alias, sizeof(env.deploy_alias), "D1");
	assert_int_equal(engine_decide_ping(&in, &d), 0);
	i = select_walk(&d, NULL, NULL);
	assert_int_equal(i, 0);
	assert_true(d.installs[0].swapped);
	wi = engine_decision_choose(&d, 0, false);
	assert_true(wi >= 0);
	/* stored under the rollback's id */
	assert_string_equal(d.writes[wi].row.deploy_id, "D2");
	assert_int_equal(d.writes[wi].row.deploy_stage, DEPLOY_STAGE_POST_DOWNLOAD);
	assert_int_equal(engine_build_goal(&d.installs[0], NULL, 0, &g), 0);
	assert_string_equal(g.deploy_id, "D1");
	assert_string_equal(g.deploy_alias, "D2");
	assert_int_equal(g.op_code, OP_CODE_ROLLBACK);
	engine_goal_release(&g);
	engine_decision_release(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_opcode_and_attachments),
		cmocka_unit_test(test_swapped_ids),
		cmocka_unit_test(test_agent_configs),
		cmocka_unit_test(test_delete_goal),
		cmocka_unit_test(test_swap_through_decision),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
