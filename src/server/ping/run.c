/* SPDX-License-Identifier: Apache-2.0 */
/* ping/run.c: one run of a ping (PROTOCOL §5.1 steps 3-9): group membership, the host's rows and stages (stage
 * membership is the engine's), the engine's decision, selection with admission (a store transaction per candidate
 * that needs a slot), conditional persistence, and the answer; admission and persistence are jobs of the group
 * commit (commit.c), in one transaction with other pings' writes. Every decision is the engine's; this file loads
 * its inputs and carries out its outputs, calling only down (engine, store). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "outcome.h"
#include "ping_state.h"
#include "server.h"
#include "util.h"
#include "banned.h"

/* What one run loads and decides; released by run_release(). */
struct run {
	const struct ping_request *pr;
	const char *host_name;
	struct agent_row *rows;
	size_t n_rows;
	struct resolved_env *cand;
	size_t n_cand;
	struct env_view *envs; /* the resolved stages (§5.2) */
	size_t n_envs;
	struct env_view *known; /* other existing stages named by a report or a row */
	size_t n_known;
	struct engine_report *reps;
	struct engine_decision d;
	int chosen;       /* index in d.installs, -1 none */
	bool admitted;    /* the chosen candidate was admitted (admission wrote its bean) */
	int chosen_write; /* index in d.writes of the chosen bean's write, -1 none */
};

static void run_release(struct run *run)
{
	engine_decision_release(&run->d);
	free(run->rows);
	free(run->cand);
	free(run->envs);
	free(run->known);
	free(run->reps);
}

/* Step 3: group membership, when the heartbeat's verifying path did not just check it (ping_heartbeat_record())
 * and the cache does not know it: a held ping re-run, or a membership changed between two verifications. Returns
 * true when it was checked now (the ping's first with this membership: conflicts are worth a log line). */
static bool sync_membership(struct ping_state *ps, const struct ping_request *pr, const char *host_name, int64_t now)
{
	struct host_rows w = { .host_id = pr->host_id, .host_name = host_name, .ip = pr->host_ip,
			       .account_id = pr->account_id, .now = now };
	uint64_t mkey = ping_membership_key(pr, &w.groups, &w.n_groups);
	bool differ = true;
	int r;

	if (ping_membership_cached(ps, pr->host_id, mkey))
		return false;
	r = store_ping_membership_differs(ps->store, &w, &differ);
	if (r >= 0 && differ)
		r = ping_host_rows_write(ps, &w);
	if (r < 0)
		(void)server_db_error(ps->srv, r, "ping: group membership");
	else
		ping_membership_remember(ps, pr->host_id, mkey);
	return true;
}

/* Steps 4-5: the host's rows, its stages, and the other stages its reports or rows name. */
static int load_stages(struct ping_state *ps, struct run *run, bool verbose)
{
	const struct ping_request *pr = run->pr;
	struct engine_stage_conflict *conflicts = NULL;
	const char **unknown_ids;
	size_t n_conflicts = 0, n_unknown;
	int r;

	r = store_ping_host_load(ps->store, pr->host_id, run->host_name, pr->groups, pr->n_groups, &run->rows,
				 &run->n_rows, &run->cand, &run->n_cand);
	if (r < 0)
		return r;
	r = engine_resolve_envs(run->cand, run->n_cand, run->rows, run->n_rows, &run->envs, &run->n_envs,
				verbose ? &conflicts : NULL, &n_conflicts);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n_conflicts; i++)
		log_warn("host %s maps to stages %s and %s of env %s: using %s", run->host_name,
			 conflicts[i].used->view.stage_name, conflicts[i].other->view.stage_name,
			 conflicts[i].used->view.env_name, conflicts[i].used->view.stage_name);
	free(conflicts);

	run->reps = calloc(pr->n_reports ? pr->n_reports : 1, sizeof(*run->reps));
	if (!run->reps)
		return -ENOMEM;
	for (size_t i = 0; i < pr->n_reports; i++) {
		const struct ping_report *p = &pr->reports[i];

		run->reps[i] = (struct engine_report){ .env_id = p->env_id, .deploy_id = p->deploy_id,
						       .deploy_stage = p->deploy_stage, .agent_status = p->agent_status,
						       .error_code = p->error_code, .fail_count = p->fail_count,
						       .reset_by_system = p->reset_by_system,
						       .container_health_status = p->container_health_status };
	}
	unknown_ids = calloc(pr->n_reports + run->n_rows + 1, sizeof(*unknown_ids));
	if (!unknown_ids)
		return -ENOMEM;
	n_unknown = engine_unresolved_env_ids(run->reps, pr->n_reports, run->rows, run->n_rows, run->envs,
					      run->n_envs, unknown_ids);
	if (n_unknown > 0)
		r = store_ping_envs_by_ids(ps->store, unknown_ids, n_unknown, &run->known, &run->n_known);
	free(unknown_ids);
	return r;
}

/* §5.7: admission of candidate c, in one store transaction (the store asks the engine to judge what it read).
 * Returns 1 admitted, 0 refused, or a negative errno (refused too). */
static int admit(struct ping_state *ps, const struct engine_candidate *c)
{
	struct store_ping_job job;
	struct agent_row row;
	bool full = false;
	int r;

	if (ping_stage_known_full(ps, c->bean.env_id)) {
		METRIC_INC(ps->srv, admissions_refused);
		return 0;
	}
	engine_candidate_admitted_row(c, &row);
	job = (struct store_ping_job){ .kind = STORE_PING_JOB_ADMIT, .row = &row, .insert = !c->has_row,
				       .expect_version = c->expect_version,
				       .max_parallel_threshold = (int)ps->srv->cfg.max_parallel_threshold };
	r = ping_write_job(ps, &job);
	full = job.full;
	if (r < 0 && r != -EAGAIN)
		(void)server_db_error(ps->srv, r, "admission");
	if (full)
		ping_stage_mark_full(ps, c->bean.env_id);
	if (r > 0)
		METRIC_INC(ps->srv, admissions_admitted);
	else
		METRIC_INC(ps->srv, admissions_refused);
	return r;
}

/* Step 7: the engine's selection walk, admission run between its steps. */
static int select_candidate(struct ping_state *ps, struct run *run)
{
	bool need_admission;
	int i;

	run->chosen = -1;
	run->chosen_write = -1;
	for (size_t from = 0; (i = engine_decision_next(&run->d, from, &need_admission)) >= 0; from = (size_t)i + 1)
		if (!need_admission || admit(ps, &run->d.installs[i]) > 0) {
			run->chosen = i;
			run->admitted = need_admission;
			break;
		}
	if (run->chosen < 0)
		return 0;
	run->chosen_write = engine_decision_choose(&run->d, (size_t)run->chosen, run->admitted);
	return run->chosen_write < -1 ? run->chosen_write : 0;
}

static const struct agent_row *row_of(const struct agent_row *rows, size_t n, const char *env_id)
{
	for (size_t i = 0; i < n; i++)
		if (streq(rows[i].env_id, env_id))
			return &rows[i];
	return NULL;
}

/* Step 8: the decision's conditional writes and deletes (a failure is logged, the answer still goes out). Sets
 * *ret_chosen_lost when the chosen bean's write lost its condition (a concurrent change): the answer is NOOP. */
static int persist(struct ping_state *ps, struct run *run, bool *ret_chosen_lost)
{
	const struct ping_request *pr = run->pr;
	const struct engine_decision *d = &run->d;
	struct ping_write *pw = calloc(d->n_writes ? d->n_writes : 1, sizeof(*pw));
	struct ping_delete *pd = calloc(d->n_deletes ? d->n_deletes : 1, sizeof(*pd));
	size_t n_pw = 0, n_pd = 0;
	int chosen_pw = -1, k;

	*ret_chosen_lost = false;
	if (!pw || !pd) {
		free(pw);
		free(pd);
		return -ENOMEM;
	}
	for (size_t i = 0; i < d->n_writes; i++) {
		const struct engine_write *w = &d->writes[i];
		const struct agent_row *old;

		if (w->skip)
			continue;
		old = row_of(run->rows, run->n_rows, w->row.env_id);
		pw[n_pw] = (struct ping_write){ .w = w, .old_holds_slot = old && engine_row_occupies_slot(old) };
		if (w->report_index >= 0 && (size_t)w->report_index < pr->n_reports &&
		    pr->reports[w->report_index].error_code != 0)
			pw[n_pw].error_message = pr->reports[w->report_index].error_message;
		else
			pw[n_pw].clear_error = engine_row_clears_error(&w->row) && !(old && engine_row_clears_error(old));
		if (run->chosen_write >= 0 && i == (size_t)run->chosen_write)
			chosen_pw = (int)n_pw;
		n_pw++;
	}
	for (size_t i = 0; i < d->n_deletes; i++) {
		const struct agent_row *old = row_of(run->rows, run->n_rows, d->deletes[i].env_id);

		pd[n_pd++] = (struct ping_delete){ .d = &d->deletes[i], .old_holds_slot = old && old->holds_slot };
	}
	if (n_pw + n_pd > 0) {
		struct store_ping_job job = { .kind = STORE_PING_JOB_PERSIST, .host_id = pr->host_id, .writes = pw,
					      .n_writes = n_pw, .deletes = pd, .n_deletes = n_pd };

		k = ping_write_job(ps, &job);
		if (k < 0)
			(void)server_db_error(ps->srv, k, "ping: writing agent rows");
		else
			__atomic_add_fetch(&ps->srv->metrics.ping_writes, (uint64_t)k, __ATOMIC_RELAXED);
		for (size_t i = 0; i < n_pw; i++)
			if (pw[i].applied && pw[i].old_holds_slot && !engine_row_occupies_slot(&pw[i].w->row))
				ping_stage_forget_full(ps, pw[i].w->row.env_id);
		for (size_t i = 0; i < n_pd; i++)
			if (pd[i].applied)
				ping_stage_forget_full(ps, pd[i].d->env_id);
	}
	*ret_chosen_lost = chosen_pw >= 0 && !pw[chosen_pw].applied;
	free(pw);
	free(pd);
	return 0;
}

/* Remember whether the host is in the middle of a deploy after this run: it was answered a goal, or one of its rows
 * holds a slot. Its next ping reports that step and moves the deploy on, so a queue of woken held pings does not
 * turn it away (ping_wake_backlog()). */
static void note_deploying(struct ping_state *ps, const struct run *run, const struct ping_response *resp)
{
	bool deploying = resp->op_code != OP_CODE_NOOP;
	pthread_mutex_t *lock;
	struct hb_entry *e;

	for (size_t i = 0; i < run->d.n_writes && !deploying; i++)
		deploying = !run->d.writes[i].skip && engine_row_occupies_slot(&run->d.writes[i].row);
	for (size_t i = 0; i < run->n_rows && !deploying; i++) {
		bool written = false;

		for (size_t j = 0; j < run->d.n_writes && !written; j++)
			written = !run->d.writes[j].skip && streq(run->d.writes[j].row.env_id, run->rows[i].env_id);
		deploying = !written && engine_row_occupies_slot(&run->rows[i]);
	}
	e = ping_hb_lock(ps, run->pr->host_id, &lock);
	if (e)
		e->deploying = deploying;
	pthread_mutex_unlock(lock);
}

int ping_run(struct ping_state *ps, const struct ping_request *pr, int64_t now, bool verbose,
	     struct ping_response *resp, struct ping_run_out *ret)
{
	struct run run = { .pr = pr, .host_name = pr->host_name ? pr->host_name : pr->host_id, .chosen = -1 };
	bool chosen_lost = false, expecting = true;
	int r;

	if (sync_membership(ps, pr, run.host_name, now))
		verbose = true;
	ping_write_expect(ps, 1); /* this run may queue a write: a group commit under way waits a moment for it */
	r = load_stages(ps, &run, verbose);
	if (r < 0)
		goto out;
	/* step 6: decide */
	{
		struct engine_ping_input in = { .host_id = pr->host_id, .host_name = run.host_name, .envs = run.envs,
						.n_envs = run.n_envs, .known = run.known, .n_known = run.n_known,
						.reports = run.reps, .n_reports = pr->n_reports, .rows = run.rows,
						.n_rows = run.n_rows, .now_ms = now };

		r = engine_decide_ping(&in, &run.d);
		if (r < 0)
			goto out;
	}
	if (run.d.n_installs == 0 && run.d.n_writes == 0 && run.d.n_deletes == 0) {
		ping_write_expect(ps, -1); /* nothing to admit or write */
		expecting = false;
	}
	r = select_candidate(ps, &run);
	if (r >= 0)
		r = persist(ps, &run, &chosen_lost);
	if (expecting)
		ping_write_expect(ps, -1);
	expecting = false;
	if (r < 0)
		goto out;

	/* step 9: the answer */
	ping_response_init(resp);
	if (run.chosen >= 0)
		r = chosen_lost ? 0 : ping_answer_install(ps, &run.d.installs[run.chosen], resp);
	else if (run.d.n_uninstalls > 0)
		r = ping_answer_delete(ps, &run.d.uninstalls[0], resp);
	if (r < 0) {
		ping_response_release(resp);
		goto out;
	}
	note_deploying(ps, &run, resp);
	*ret = (struct ping_run_out){
		.relevant = run.d.relevant,
		.n_relevant = run.d.n_relevant,
		.idle = resp->op_code == OP_CODE_NOOP && run.d.n_installs == 0 && run.d.n_uninstalls == 0 &&
			run.d.n_writes == 0 && run.d.n_deletes == 0,
		.refused = resp->op_code == OP_CODE_NOOP && run.d.n_installs > 0,
	};
	run.d.relevant = NULL;
out:
	if (expecting)
		ping_write_expect(ps, -1);
	run_release(&run);
	return r;
}
