/* SPDX-License-Identifier: Apache-2.0 */
/* engine/goal.c: the answer to a ping (PROTOCOL §5.8): opCode, ids after an alias swap, which attachments go with
 * which stage, and the agentConfigs prefix rules. Pure: no I/O, no clock; strings are borrowed from the inputs. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "util.h"
#include "banned.h"

int engine_agent_configs(const struct engine_kv *in, size_t n, int deploy_stage, struct engine_kv **ret,
			 size_t *ret_n)
{
	const char *stage = deploy_stage_to_string(deploy_stage);
	size_t plen = stage ? strlen(stage) : 0, m = 0;
	struct engine_kv *out;

	*ret = NULL;
	*ret_n = 0;
	if (!in || n == 0)
		return 0;
	out = calloc(n, sizeof(*out));
	if (!out)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const char *key = in[i].key;
		bool stripped = false;
		size_t j;

		if (!key)
			continue;
		if (stage && strncmp(key, stage, plen) == 0 && key[plen] == '.') {
			key += plen + 1;
			stripped = true;
		}
		if (!key[0])
			continue;
		for (j = 0; j < m; j++)
			if (streq(out[j].key, key))
				break;
		if (j < m) {
			/* collision: the stage-specific (stripped) value wins (ours) */
			if (stripped)
				out[j].value = in[i].value;
			continue;
		}
		out[m].key = key;
		out[m].value = in[i].value;
		m++;
	}
	if (m == 0) {
		free(out);
		return 0;
	}
	*ret = out;
	*ret_n = m;
	return 0;
}

void engine_goal_needs(const struct engine_candidate *c, struct engine_goal_needs *ret)
{
	bool build = c->bean.deploy_stage == DEPLOY_STAGE_DOWNLOADING;

	*ret = (struct engine_goal_needs){ .build = build,
					   .signing_key = build && c->env && c->env->has_signing_key,
					   .script_variables = c->bean.deploy_stage == DEPLOY_STAGE_PRE_DOWNLOAD };
}

int engine_build_goal(const struct engine_candidate *c, const struct engine_kv *agent_configs, size_t n_agent_configs,
		      struct engine_goal *ret)
{
	const struct env_view *env = c->env;
	struct engine_goal_needs needs;
	struct engine_goal g = { 0 };
	int r;

	if (!env)
		return -EINVAL;
	if (c->bean.state == AGENT_STATE_STOP && c->bean.deploy_stage == DEPLOY_STAGE_STOPPING)
		g.op_code = OP_CODE_STOP;
	else
		g.op_code = deploy_type_to_op_code(env->deploy_type);
	if (c->swapped) {
		/* the agent keeps the id it knows; the rollback's id travels as the alias (§5.9) */
		g.deploy_id = env->deploy_alias;
		g.deploy_alias = env->deploy_id;
	} else {
		g.deploy_id = env->deploy_id[0] ? env->deploy_id : NULL;
		g.deploy_alias = NULL;
	}
	g.deploy_type = env->deploy_type;
	g.env_id = env->id;
	g.env_name = env->env_name;
	g.stage_name = env->stage_name;
	g.stage_type = env->stage_type;
	g.deploy_stage = c->bean.deploy_stage;
	engine_goal_needs(c, &needs);
	g.with_build = needs.build;
	g.with_signing_key = needs.signing_key;
	g.with_script_variables = needs.script_variables;
	g.first_deploy = c->bean.first_deploy;
	g.is_docker = env->is_docker;
	r = engine_agent_configs(agent_configs, n_agent_configs, g.deploy_stage, &g.agent_configs,
				 &g.n_agent_configs);
	if (r < 0)
		return r;
	*ret = g;
	return 0;
}

int engine_build_delete_goal(const struct engine_candidate *c, struct engine_goal *ret)
{
	struct engine_goal g = { 0 };

	g.op_code = OP_CODE_DELETE;
	g.deploy_type = -1;
	g.stage_type = -1;
	if (c->rep) {
		g.env_id = c->rep->env_id;
		g.deploy_id = c->rep->deploy_id && c->rep->deploy_id[0] ? c->rep->deploy_id : NULL;
		g.deploy_stage = c->rep->deploy_stage;
	} else {
		g.env_id = c->bean.env_id;
		g.deploy_id = c->bean.deploy_id[0] ? c->bean.deploy_id : NULL;
		g.deploy_stage = c->bean.deploy_stage;
	}
	if (c->env) {
		g.deploy_type = c->env->deploy_type;
		g.env_name = c->env->env_name;
		g.stage_name = c->env->stage_name;
		g.stage_type = c->env->stage_type;
	}
	g.first_deploy = false;
	*ret = g;
	return 0;
}

void engine_goal_release(struct engine_goal *g)
{
	if (!g)
		return;
	free(g->agent_configs);
	g->agent_configs = NULL;
	g->n_agent_configs = 0;
}
