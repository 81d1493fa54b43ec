/* SPDX-License-Identifier: Apache-2.0 */
/* engine/ping.c: the per-ping decision (PROTOCOL §5.3 state proposal and write suppression, §5.4 decision table,
 * §5.5 first deploy, §5.9 rollback alias swap, §6 REMOVE_HOST, §5.6 ordering and selection walk). Pure: no I/O,
 * no clock, no logging. Admission itself (which needs the database) runs between the steps of the walk
 * (engine_decision_next()), in the caller. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "util.h"
#include "banned.h"

static bool id_eq(const char *a, const char *b)
{
	return a && b && a[0] && streq(a, b);
}

static const struct env_view *find_env(const struct env_view *envs, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (id_eq(envs[i].id, id))
			return &envs[i];
	return NULL;
}

static const struct env_view *find_existing_env(const struct engine_ping_input *in, const char *id)
{
	const struct env_view *e = find_env(in->envs, in->n_envs, id);

	return e ? e : find_env(in->known, in->n_known, id);
}

static const struct agent_row *find_row(const struct engine_ping_input *in, const char *env_id)
{
	for (size_t i = 0; i < in->n_rows; i++)
		if (id_eq(in->rows[i].env_id, env_id))
			return &in->rows[i];
	return NULL;
}

/* The last report naming env_id (duplicates: the last one wins, §5.1 step 1). */
static const struct engine_report *find_report(const struct engine_ping_input *in, const char *env_id, int *ret_index)
{
	for (size_t i = in->n_reports; i > 0; i--)
		if (id_eq(in->reports[i - 1].env_id, env_id)) {
			*ret_index = (int)(i - 1);
			return &in->reports[i - 1];
		}
	*ret_index = -1;
	return NULL;
}

static void copy_id(char *dst, size_t size, const char *src)
{
	/* a value that does not fit can never match a stored id (ids ≤ 30, hostIds ≤ 64): keep it empty */
	if (!src || str_copy(dst, size, src) < 0)
		dst[0] = 0;
}

int engine_effective_priority(const struct env_view *env, bool first_deploy)
{
	if (!env)
		return 3000;
	if (env->system_priority > 0)
		return env->system_priority;
	if (!first_deploy) {
		if (env->deploy_type == DEPLOY_TYPE_HOTFIX)
			return 980;
		if (env->deploy_type == DEPLOY_TYPE_ROLLBACK)
			return 990;
	}
	return deploy_priority_value(env->priority);
}

static int uninstall_priority(const struct env_view *env)
{
	if (!env)
		return 3000;
	if (env->system_priority > 0)
		return env->system_priority;
	return deploy_priority_value(env->priority);
}

bool engine_row_differs(const struct agent_row *row, const struct agent_row *upd)
{
	return !streq(row->host_id, upd->host_id) || !streq(row->deploy_id, upd->deploy_id) ||
	       !streq(row->env_id, upd->env_id) || row->fail_count != upd->fail_count || row->status != upd->status ||
	       row->last_errno != upd->last_errno || row->state != upd->state ||
	       row->deploy_stage != upd->deploy_stage ||
	       !streq(row->container_health_status, upd->container_health_status) ||
	       row->first_deploy != upd->first_deploy || row->holds_slot != upd->holds_slot ||
	       row->removed != upd->removed;
}

void engine_row_release_slot(struct agent_row *row, int failure_policy)
{
	if (row->deploy_stage == DEPLOY_STAGE_SERVING_BUILD || row->deploy_stage == DEPLOY_STAGE_STOPPING ||
	    row->deploy_stage == DEPLOY_STAGE_STOPPED || row->state == AGENT_STATE_PAUSED_BY_USER ||
	    row->state == AGENT_STATE_DELETE || row->removed || row->first_deploy ||
	    (row->state == AGENT_STATE_PAUSED_BY_SYSTEM && failure_policy == FAILURE_POLICY_CONTINUE))
		row->holds_slot = false;
}

/* §5.3 steps 1-6. */
static int propose_state(const struct engine_report *rep, const struct agent_row *row)
{
	int stored;

	if (!row)
		stored = AGENT_STATE_NORMAL;
	else if (rep->reset_by_system)
		stored = AGENT_STATE_RESET_BY_SYSTEM;
	else
		stored = row->state;

	if (row && stored == AGENT_STATE_STOP) {
		if (row->deploy_stage == DEPLOY_STAGE_STOPPING && rep->deploy_stage == DEPLOY_STAGE_STOPPING &&
		    agent_status_is_fatal(rep->agent_status))
			return AGENT_STATE_PAUSED_BY_SYSTEM;
		return AGENT_STATE_STOP;
	}
	if (stored == AGENT_STATE_PAUSED_BY_USER || stored == AGENT_STATE_RESET ||
	    stored == AGENT_STATE_RESET_BY_SYSTEM)
		return stored;
	if (rep->agent_status == AGENT_STATUS_SUCCEEDED)
		return AGENT_STATE_NORMAL;
	if (agent_status_is_fatal(rep->agent_status))
		return AGENT_STATE_PAUSED_BY_SYSTEM;
	if (stored == AGENT_STATE_UNREACHABLE || stored == AGENT_STATE_DELETE)
		return AGENT_STATE_NORMAL;
	return stored;
}

/* The update row of §5.3 (before the decision table adjusts it). */
static void build_upd(const struct engine_ping_input *in, const char *env_id, const struct engine_report *rep,
		      const struct agent_row *row, struct agent_row *ret)
{
	struct agent_row u = { 0 };

	copy_id(u.host_id, sizeof(u.host_id), in->host_id);
	copy_id(u.host_name, sizeof(u.host_name), in->host_name ? in->host_name : in->host_id);
	copy_id(u.env_id, sizeof(u.env_id), env_id);
	copy_id(u.deploy_id, sizeof(u.deploy_id), rep->deploy_id);
	u.deploy_stage = rep->deploy_stage;
	u.status = rep->agent_status;
	u.fail_count = rep->fail_count;
	u.last_errno = rep->error_code;
	/* over-long values were cut to 32 characters by the validator; be safe anyway */
	if (rep->container_health_status) {
		size_t n = strlen(rep->container_health_status);
		if (n >= sizeof(u.container_health_status)) {
			n = sizeof(u.container_health_status) - 1;
			/* never keep half a UTF-8 character: the row is JSON-encoded later */
			while (n > 0 && ((unsigned char)rep->container_health_status[n] & 0xC0) == 0x80)
				n--;
		}
		memcpy(u.container_health_status, rep->container_health_status, n);
		u.container_health_status[n] = 0;
	}
	(void)str_copy(u.last_operator, sizeof(u.last_operator), ENGINE_SYSTEM_OPERATOR);
	u.last_update_date = in->now_ms;
	if (row) {
		u.first_deploy = row->first_deploy;
		u.first_deploy_date = row->first_deploy_date;
		u.start_date = row->start_date;
		u.holds_slot = row->holds_slot;
		u.removed = row->removed;
		u.version = row->version;
		u.stage_start_date = row->stage_start_date;
	} else
		u.start_date = in->now_ms;
	if (!row || !streq(row->deploy_id, u.deploy_id) || row->deploy_stage != u.deploy_stage)
		u.stage_start_date = in->now_ms;
	u.state = propose_state(rep, row);
	if (u.first_deploy &&
	    (rep->deploy_stage == DEPLOY_STAGE_SERVING_BUILD || u.state == AGENT_STATE_PAUSED_BY_SYSTEM)) {
		u.first_deploy = false;
		if (u.first_deploy_date == 0)
			u.first_deploy_date = in->now_ms;
	}
	*ret = u;
}

/* §5.5: the host has a row for another existing stage of the same env name. */
static bool has_sibling_row(const struct engine_ping_input *in, const struct env_view *env)
{
	for (size_t i = 0; i < in->n_rows; i++) {
		const struct env_view *e;

		if (id_eq(in->rows[i].env_id, env->id))
			continue;
		e = find_existing_env(in, in->rows[i].env_id);
		if (e && streq(e->env_name, env->env_name))
			return true;
	}
	return false;
}

static void touch_stage(struct agent_row *b, const struct agent_row *row, int64_t now_ms)
{
	if (!row || !streq(row->deploy_id, b->deploy_id) || row->deploy_stage != b->deploy_stage)
		b->stage_start_date = now_ms;
}

/* A candidate from scratch (§5.4): the current deploy from PRE_DOWNLOAD. */
static void scratch_bean(const struct engine_ping_input *in, const struct env_view *env, const struct agent_row *base,
			 const struct agent_row *row, struct agent_row *ret)
{
	struct agent_row b = { 0 };

	if (base)
		b = *base;
	copy_id(b.host_id, sizeof(b.host_id), in->host_id);
	copy_id(b.host_name, sizeof(b.host_name), in->host_name ? in->host_name : in->host_id);
	copy_id(b.env_id, sizeof(b.env_id), env->id);
	copy_id(b.deploy_id, sizeof(b.deploy_id), env->deploy_id);
	b.deploy_stage = DEPLOY_STAGE_PRE_DOWNLOAD;
	b.status = AGENT_STATUS_UNKNOWN;
	b.state = AGENT_STATE_NORMAL;
	b.last_errno = 0;
	b.fail_count = 0;
	b.removed = false;
	/* §5.5: with a row the stored flag is kept (as the report may just have cleared it) */
	if (row)
		b.first_deploy = base ? base->first_deploy : row->first_deploy;
	else
		b.first_deploy = !has_sibling_row(in, env);
	b.holds_slot = row ? row->holds_slot : false;
	b.version = row ? row->version : 0;
	b.start_date = in->now_ms;
	b.last_update_date = in->now_ms;
	b.stage_start_date = in->now_ms;
	(void)str_copy(b.last_operator, sizeof(b.last_operator), ENGINE_SYSTEM_OPERATOR);
	*ret = b;
}

/* The stop bean of case 0.4 / §6 REMOVE_HOST. */
static void stop_bean(const struct engine_ping_input *in, const struct env_view *env, const struct agent_row *base,
		      const struct agent_row *row, struct agent_row *ret)
{
	struct agent_row b = *base;

	copy_id(b.deploy_id, sizeof(b.deploy_id), env->deploy_id);
	b.deploy_stage = DEPLOY_STAGE_STOPPING;
	b.state = AGENT_STATE_STOP;
	b.status = AGENT_STATUS_UNKNOWN;
	b.last_errno = 0;
	b.fail_count = 0;
	b.last_update_date = in->now_ms;
	(void)str_copy(b.last_operator, sizeof(b.last_operator), ENGINE_SYSTEM_OPERATOR);
	touch_stage(&b, row, in->now_ms);
	*ret = b;
}

enum outcome {
	OUTCOME_NONE,
	OUTCOME_INSTALL,
	OUTCOME_UNINSTALL,
	OUTCOME_DELETE_ROW,
};

static int cmp_install(const void *pa, const void *pb)
{
	const struct engine_candidate *a = pa, *b = pb;
	int r;

	if (a->in_flight != b->in_flight)
		return a->in_flight ? -1 : 1;
	if (a->stop != b->stop)
		return a->stop ? -1 : 1;
	if (a->priority != b->priority) {
		if (a->stop) /* lowest-priority services stop first */
			return a->priority > b->priority ? -1 : 1;
		return a->priority < b->priority ? -1 : 1;
	}
	if (a->need_wait != b->need_wait)
		return a->need_wait ? 1 : -1;
	r = strcmp(a->env->env_name, b->env->env_name);
	if (r != 0)
		return r;
	return strcmp(a->env->stage_name, b->env->stage_name);
}

static int cmp_uninstall(const void *pa, const void *pb)
{
	const struct engine_candidate *a = pa, *b = pb;

	if (a->priority != b->priority)
		return a->priority > b->priority ? -1 : 1;
	return strcmp(a->bean.env_id, b->bean.env_id);
}

static bool ids_contains(char (*ids)[ENGINE_ID_SIZE], size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (streq(ids[i], id))
			return true;
	return false;
}

static void ids_add(char (*ids)[ENGINE_ID_SIZE], size_t *n, const char *id)
{
	if (!id || !id[0] || strlen(id) >= ENGINE_ID_SIZE || ids_contains(ids, *n, id))
		return;
	(void)str_copy(ids[*n], ENGINE_ID_SIZE, id);
	(*n)++;
}

void engine_decision_release(struct engine_decision *d)
{
	if (!d)
		return;
	free(d->writes);
	free(d->deletes);
	free(d->installs);
	free(d->uninstalls);
	free(d->relevant);
	*d = (struct engine_decision){ 0 };
}

/* Decide one env id; appends to d. */
/* §5.5 0.4: a host being stopped (row in STOP): the next STOPPING step, STOPPED when done, or nothing. upd is the
 * report's update row (when rep). */
static enum outcome decide_stop(const struct engine_ping_input *in, const struct env_view *env,
				const struct agent_row *row, const struct engine_report *rep, struct agent_row *upd,
				struct engine_candidate *c)
{
	c->decided_by = "0.4";
	if (row->deploy_stage == DEPLOY_STAGE_STOPPED)
		;
	else if (row->deploy_stage != DEPLOY_STAGE_STOPPING) {
		stop_bean(in, env, rep ? upd : row, row, &c->bean);
		return OUTCOME_INSTALL;
	} else if (!rep)
		;
	else if (rep->deploy_stage != DEPLOY_STAGE_STOPPING) {
		/* the STOP answer was lost (ours) */
		stop_bean(in, env, upd, row, &c->bean);
		return OUTCOME_INSTALL;
	} else if (agent_status_is_fatal(rep->agent_status))
		;
	else if (rep->agent_status == AGENT_STATUS_SUCCEEDED) {
		stop_bean(in, env, upd, row, &c->bean);
		c->bean.deploy_stage = DEPLOY_STAGE_STOPPED;
		touch_stage(&c->bean, row, in->now_ms);
		return OUTCOME_INSTALL;
	} else {
		c->bean = *upd;
		c->bean.state = AGENT_STATE_STOP;
		return OUTCOME_INSTALL;
	}
	return OUTCOME_NONE;
}

/* §5.5 1.x: a stage with a deploy, and the host's report on it: the next step of the deploy, or nothing. upd is
 * the report's update row; a rollback's alias is swapped in it (§5.9). */
static enum outcome decide_reported(const struct engine_ping_input *in, const struct env_view *env,
				    const struct agent_row *row, const struct engine_report *rep, struct agent_row *upd,
				    int policy, struct engine_candidate *c)
{
	const char *rep_deploy = upd->deploy_id;
	bool same;

	/* §5.9 rollback alias swap; an agent-sent deployAlias is never used (ours) */
	if (env->deploy_type == DEPLOY_TYPE_ROLLBACK && !streq(rep_deploy, env->deploy_id) &&
	    env->deploy_alias[0] && streq(rep_deploy, env->deploy_alias)) {
		copy_id(upd->deploy_id, sizeof(upd->deploy_id), env->deploy_id);
		upd->stage_start_date = row ? row->stage_start_date : in->now_ms;
		touch_stage(upd, row, in->now_ms);
		c->swapped = true;
	}
	same = streq(upd->deploy_id, env->deploy_id);
	if (same && (upd->state == AGENT_STATE_RESET || upd->state == AGENT_STATE_RESET_BY_SYSTEM)) {
		c->decided_by = "1.0";
		scratch_bean(in, env, upd, row, &c->bean);
		return OUTCOME_INSTALL;
	} else if (same && rep->deploy_stage == DEPLOY_STAGE_SERVING_BUILD)
		c->decided_by = "1.1";
	else if (same && rep->agent_status == AGENT_STATUS_SUCCEEDED) {
		int next = deploy_stage_next(rep->deploy_stage);

		c->decided_by = "1.2";
		if (next < 0)
			scratch_bean(in, env, upd, row, &c->bean); /* no successor on the deploy path (ours) */
		else {
			c->bean = *upd;
			c->bean.deploy_stage = next;
			c->bean.status = AGENT_STATUS_UNKNOWN;
			c->bean.state = AGENT_STATE_NORMAL;
			c->bean.last_errno = 0;
			c->bean.fail_count = 0;
			touch_stage(&c->bean, row, in->now_ms);
		}
		return OUTCOME_INSTALL;
	} else if (same && upd->state == AGENT_STATE_PAUSED_BY_SYSTEM) {
		c->decided_by = "1.3";
		if (policy == FAILURE_POLICY_REMOVE_HOST) {
			upd->state = AGENT_STATE_STOP;
			upd->removed = true;
			stop_bean(in, env, upd, row, &c->bean);
			return OUTCOME_INSTALL;
		}
	} else if (same) {
		c->decided_by = "1.4";
		c->bean = *upd;
		c->in_flight = rep->agent_status == AGENT_STATUS_UNKNOWN;
		return OUTCOME_INSTALL;
	} else {
		c->decided_by = "1.5";
		scratch_bean(in, env, upd, row, &c->bean);
		return OUTCOME_INSTALL;
	}
	return OUTCOME_NONE;
}

/* The candidate of an outcome into the decision: an install, an uninstall or a row to delete. */
static void record_outcome(struct engine_decision *d, enum outcome out, struct engine_candidate *c,
			   const struct env_view *env, const struct env_view *exists, const struct agent_row *row,
			   const char *env_id, int policy)
{
	switch (out) {
	case OUTCOME_INSTALL:
		c->env = env;
		c->stop = c->bean.state == AGENT_STATE_STOP;
		engine_row_release_slot(&c->bean, policy);
		c->need_wait = !c->bean.first_deploy && !c->stop && !(row && row->holds_slot);
		c->priority = engine_effective_priority(env, c->bean.first_deploy);
		d->installs[d->n_installs++] = *c;
		break;
	case OUTCOME_UNINSTALL:
		c->env = exists;
		c->priority = uninstall_priority(exists);
		d->uninstalls[d->n_uninstalls++] = *c;
		break;
	case OUTCOME_DELETE_ROW: {
		struct engine_delete *del = &d->deletes[d->n_deletes++];

		copy_id(del->env_id, sizeof(del->env_id), env_id);
		del->expect_version = row->version;
		break;
	}
	case OUTCOME_NONE:
		break;
	}
}

static void decide_env(const struct engine_ping_input *in, const char *env_id, struct engine_decision *d)
{
	const struct env_view *env = find_env(in->envs, in->n_envs, env_id);
	const struct env_view *exists = env ? env : find_env(in->known, in->n_known, env_id);
	const struct agent_row *row = find_row(in, env_id);
	struct engine_candidate c = { 0 };
	struct agent_row upd = { 0 };
	const struct engine_report *rep;
	enum outcome out = OUTCOME_NONE;
	bool force_write = false, first;
	int policy = env ? env->failure_policy : FAILURE_POLICY_HALT;
	int rep_index;

	rep = find_report(in, env_id, &rep_index);
	if (row && env && (row->state == AGENT_STATE_UNREACHABLE || row->state == AGENT_STATE_DELETE))
		force_write = true; /* §5.1 step 5: the host talks to us again */
	if (rep)
		build_upd(in, env_id, rep, row, &upd);

	c.rep = rep;
	c.report_index = rep_index;
	c.has_row = row != NULL;
	if (row)
		c.row = *row;
	c.expect_version = row ? row->version : 0;

	first = row ? (rep ? upd.first_deploy : row->first_deploy) : (env && !has_sibling_row(in, env));

	if (env && !env->deploy_id[0])
		c.decided_by = "0.1";
	else if (env && env->env_state != ENV_STATE_NORMAL && !first)
		c.decided_by = "0.2";
	else if (row && row->state == AGENT_STATE_PAUSED_BY_USER)
		c.decided_by = "0.3";
	else if (row && row->state == AGENT_STATE_STOP && env)
		out = decide_stop(in, env, row, rep, &upd, &c);
	else if (env && rep)
		out = decide_reported(in, env, row, rep, &upd, policy, &c);
	else if (env) {
		c.decided_by = "2";
		scratch_bean(in, env, row, row, &c.bean);
		out = OUTCOME_INSTALL;
	} else if (rep) {
		c.decided_by = "3";
		upd.state = AGENT_STATE_DELETE;
		upd.holds_slot = false;
		c.bean = upd;
		out = OUTCOME_UNINSTALL;
	} else if (row) {
		c.decided_by = "4";
		out = OUTCOME_DELETE_ROW;
	}

	/* the report's own update row (and the §5.1 step 5 write-back) */
	if (rep && exists) {
		engine_row_release_slot(&upd, exists->failure_policy);
		if (!row || engine_row_differs(row, &upd) || force_write) {
			struct engine_write *w = &d->writes[d->n_writes++];

			*w = (struct engine_write){ .row = upd, .insert = !row, .expect_version = c.expect_version,
						    .report_index = rep_index };
		}
	} else if (!rep && force_write && out != OUTCOME_DELETE_ROW) {
		struct engine_write *w = &d->writes[d->n_writes++];

		*w = (struct engine_write){ .row = *row, .insert = false, .expect_version = row->version,
					    .report_index = -1 };
		w->row.state = AGENT_STATE_NORMAL;
		w->row.last_update_date = in->now_ms;
		engine_row_release_slot(&w->row, policy);
		(void)str_copy(w->row.last_operator, sizeof(w->row.last_operator), ENGINE_SYSTEM_OPERATOR);
	}

	record_outcome(d, out, &c, env, exists, row, env_id, policy);
}

int engine_decide_ping(const struct engine_ping_input *in, struct engine_decision *ret)
{
	struct engine_decision d = { 0 };
	char (*ids)[ENGINE_ID_SIZE] = NULL;
	size_t n_ids = 0, cap;
	int r;

	if (!in || !in->host_id || !ret)
		return -EINVAL;
	cap = in->n_envs + in->n_reports + in->n_rows + 1;
	ids = calloc(cap, sizeof(*ids));
	d.relevant = calloc(cap, sizeof(*d.relevant));
	d.writes = calloc(cap, sizeof(*d.writes));
	d.deletes = calloc(cap, sizeof(*d.deletes));
	d.installs = calloc(cap, sizeof(*d.installs));
	d.uninstalls = calloc(cap, sizeof(*d.uninstalls));
	if (!ids || !d.relevant || !d.writes || !d.deletes || !d.installs || !d.uninstalls) {
		r = -ENOMEM;
		goto out;
	}

	for (size_t i = 0; i < in->n_envs; i++) {
		ids_add(ids, &n_ids, in->envs[i].id);
		ids_add(d.relevant, &d.n_relevant, in->envs[i].id);
	}
	for (size_t i = 0; i < in->n_reports; i++)
		ids_add(ids, &n_ids, in->reports[i].env_id);
	for (size_t i = 0; i < in->n_rows; i++) {
		ids_add(ids, &n_ids, in->rows[i].env_id);
		ids_add(d.relevant, &d.n_relevant, in->rows[i].env_id);
	}

	for (size_t i = 0; i < n_ids; i++)
		decide_env(in, ids[i], &d);

	/* reports whose envId does not fit an id (cannot exist): uninstall candidates without a row */
	for (size_t i = 0; i < in->n_reports; i++) {
		const struct engine_report *rep = &in->reports[i];
		int idx;

		if (!rep->env_id || !rep->env_id[0] || strlen(rep->env_id) < ENGINE_ID_SIZE)
			continue;
		if (find_report(in, rep->env_id, &idx) != rep)
			continue;
		d.uninstalls[d.n_uninstalls++] = (struct engine_candidate){
			.rep = rep, .priority = 3000, .decided_by = "3",
			.bean = { .deploy_stage = rep->deploy_stage, .state = AGENT_STATE_DELETE },
		};
	}

	qsort(d.installs, d.n_installs, sizeof(*d.installs), cmp_install);
	qsort(d.uninstalls, d.n_uninstalls, sizeof(*d.uninstalls), cmp_uninstall);
	*ret = d;
	d = (struct engine_decision){ 0 };
	r = 0;
out:
	free(ids);
	engine_decision_release(&d);
	return r;
}

int engine_decision_next(const struct engine_decision *d, size_t from, bool *ret_admit)
{
	if (from >= d->n_installs)
		return -ENOENT;
	*ret_admit = d->installs[from].need_wait;
	return (int)from;
}

int engine_decision_choose(struct engine_decision *d, size_t install_index, bool admitted)
{
	const struct engine_candidate *c;
	struct engine_write *w = NULL;

	if (install_index >= d->n_installs)
		return -EINVAL;
	c = &d->installs[install_index];
	for (size_t i = 0; i < d->n_writes; i++)
		if (streq(d->writes[i].row.env_id, c->bean.env_id)) {
			w = &d->writes[i];
			break;
		}
	if (admitted) {
		/* admission wrote the bean in its own transaction */
		if (w)
			w->skip = true;
		return -1;
	}
	if (c->has_row && !engine_row_differs(&c->row, &c->bean)) {
		/* write suppression applies to the chosen bean too: a heartbeat of a running step writes nothing */
		if (w)
			w->skip = true;
		return -1;
	}
	if (!w) {
		/* writes[] has room for one write per env id */
		w = &d->writes[d->n_writes++];
		w->report_index = c->report_index;
	}
	w->row = c->bean;
	w->insert = !c->has_row;
	w->expect_version = c->expect_version;
	w->skip = false;
	return (int)(w - d->writes);
}

void engine_candidate_admitted_row(const struct engine_candidate *c, struct agent_row *ret)
{
	struct agent_row b = c->bean;

	b.holds_slot = true;
	engine_row_release_slot(&b, c->env ? c->env->failure_policy : FAILURE_POLICY_HALT);
	*ret = b;
}
