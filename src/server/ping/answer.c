/* SPDX-License-Identifier: Apache-2.0 */
/* ping/answer.c: the answer of a ping (PROTOCOL §5.8): the engine builds the goal from the chosen candidate, this
 * file attaches what the store holds (the deploy's build, the stage's agent and script configs, its signing key,
 * read together) and turns it into the wire's DeployGoal. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ping_state.h"
#include "util.h"
#include "banned.h"

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static int kv_from_object(const json_t *obj, struct engine_kv **ret, size_t *ret_n)
{
	struct engine_kv *kv;
	const char *key;
	json_t *v;
	size_t n = 0;

	*ret = NULL;
	*ret_n = 0;
	if (!obj || json_object_size(obj) == 0)
		return 0;
	kv = calloc(json_object_size(obj), sizeof(*kv));
	if (!kv)
		return -ENOMEM;
	json_object_foreach((json_t *)obj, key, v) {
		if (!json_is_string(v))
			continue;
		kv[n].key = key;
		kv[n].value = json_string_value(v);
		n++;
	}
	*ret = kv;
	*ret_n = n;
	return 0;
}

/* The goal on the wire; at: what the store attached (taken: its parts are moved into the goal), NULL for none. */
static int goal_to_wire(const struct engine_goal *eg, struct store_ping_attachments *at, struct deploy_goal **ret)
{
	struct deploy_goal *g;
	int r = 0;

	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	deploy_goal_init(g);
	g->deploy_id = dup_or_null(eg->deploy_id);
	g->deploy_alias = dup_or_null(eg->deploy_alias);
	g->deploy_type = eg->deploy_type >= 0 ? eg->deploy_type : -ENOENT;
	g->env_id = dup_or_null(eg->env_id);
	g->env_name = dup_or_null(eg->env_name);
	g->stage_name = dup_or_null(eg->stage_name);
	g->stage_type = eg->stage_type >= 0 ? eg->stage_type : -ENOENT;
	g->deploy_stage = eg->deploy_stage;
	g->first_deploy = eg->first_deploy;
	g->is_docker = eg->is_docker;
	if ((eg->deploy_id && !g->deploy_id) || (eg->deploy_alias && !g->deploy_alias) || (eg->env_id && !g->env_id) ||
	    (eg->env_name && !g->env_name) || (eg->stage_name && !g->stage_name)) {
		r = -ENOMEM;
		goto out;
	}
	if (eg->with_build && at) {
		/* the current deploy's build, also after an alias swap */
		g->build = calloc(1, sizeof(*g->build));
		if (!g->build) {
			r = -ENOMEM;
			goto out;
		}
		*g->build = at->build;
		at->build = (struct build){ 0 };
	}
	if (eg->with_signing_key && at) {
		g->signing_key = at->signing_key;
		at->signing_key = NULL;
	}
	if (eg->with_script_variables && at) {
		/* {} when none configured */
		g->script_variables = at->script_config ? at->script_config : json_object();
		at->script_config = NULL;
		if (!g->script_variables) {
			r = -ENOMEM;
			goto out;
		}
	}
	if (eg->agent_configs) {
		g->agent_configs = json_object();
		if (!g->agent_configs) {
			r = -ENOMEM;
			goto out;
		}
		for (size_t i = 0; i < eg->n_agent_configs && r >= 0; i++)
			if (json_object_set_new(g->agent_configs, eg->agent_configs[i].key,
						json_string(eg->agent_configs[i].value)) < 0)
				r = -ENOMEM;
		if (r < 0)
			goto out;
	}
	*ret = g;
	g = NULL;
out:
	deploy_goal_free(g);
	return r;
}

int ping_answer_install(struct ping_state *ps, const struct engine_candidate *c, struct ping_response *resp)
{
	struct store_ping_attachments at = { 0 };
	struct engine_goal_needs needs;
	struct engine_kv *kv = NULL;
	struct engine_goal eg = { 0 };
	size_t n_kv = 0;
	int r;

	/* everything the answer attaches in one go (one round trip on PostgreSQL) */
	engine_goal_needs(c, &needs);
	r = store_ping_attachments_read(ps->store, c->env->id, c->env->deploy_id, &needs, &at);
	if (r >= 0)
		r = kv_from_object(at.agent_config, &kv, &n_kv);
	if (r >= 0)
		r = engine_build_goal(c, kv, n_kv, &eg);
	if (r >= 0)
		r = goal_to_wire(&eg, &at, &resp->goal);
	if (r >= 0)
		resp->op_code = eg.op_code;
	engine_goal_release(&eg);
	free(kv);
	store_ping_attachments_release(&at);
	return r;
}

int ping_answer_delete(struct ping_state *ps, const struct engine_candidate *c, struct ping_response *resp)
{
	struct engine_goal eg;
	int r;

	(void)ps;
	r = engine_build_delete_goal(c, &eg);
	if (r >= 0)
		r = goal_to_wire(&eg, NULL, &resp->goal);
	if (r >= 0)
		resp->op_code = OP_CODE_DELETE;
	engine_goal_release(&eg);
	return r;
}
