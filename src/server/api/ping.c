/* SPDX-License-Identifier: Apache-2.0 */
/* api/ping.c: POST /v1/system/ping (PROTOCOL §5.1-§5.11): validation through proto, heartbeat, group membership,
 * env resolution with the §5.2 tie-breaks, the engine's decision, admission per candidate (one BEGIN IMMEDIATE
 * transaction per attempt, in the store), conditional persistence, the answer, and the long-poll hold. Decides
 * nothing itself that the engine decides. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "engine.h"
#include "log.h"
#include "parse.h"
#include "ping.h"
#include "server.h"
#include "store_ping.h"
#include "util.h"
#include "wire.h"
#include "banned.h"

#define PING_WAIT_MAX_S 60

static const char *const null_group[] = { "NULL" };

/* ---- §5.2 env resolution ---- */

static bool host_has_row(const struct agent_row *rows, size_t n, const char *env_id)
{
	for (size_t i = 0; i < n; i++)
		if (streq(rows[i].env_id, env_id))
			return true;
	return false;
}

/* true iff a ranks before b: tier 1 over tier 2, then the stage the host already has a row for, then the
 * lexicographically smallest stageName. */
static bool resolve_better(const struct resolved_env *a, const struct resolved_env *b, const struct agent_row *rows,
			   size_t n_rows)
{
	bool ra, rb;
	int c;

	if (a->tier != b->tier)
		return a->tier < b->tier;
	ra = host_has_row(rows, n_rows, a->view.id);
	rb = host_has_row(rows, n_rows, b->view.id);
	if (ra != rb)
		return ra;
	c = strcmp(a->view.stage_name, b->view.stage_name);
	return c < 0;
}

static int resolve_envs(const char *host_name, const struct resolved_env *cand, size_t n,
			const struct agent_row *rows, size_t n_rows, bool verbose, struct env_view **ret,
			size_t *ret_n)
{
	const struct resolved_env **best;
	struct env_view *out;
	size_t m = 0;

	best = calloc(n ? n : 1, sizeof(*best));
	out = calloc(n ? n : 1, sizeof(*out));
	if (!best || !out) {
		free(best);
		free(out);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		size_t j;

		for (j = 0; j < m; j++)
			if (streq(best[j]->view.env_name, cand[i].view.env_name))
				break;
		if (j == m) {
			best[m++] = &cand[i];
			continue;
		}
		if (streq(best[j]->view.id, cand[i].view.id)) {
			if (cand[i].tier < best[j]->tier)
				best[j] = &cand[i];
			continue;
		}
		if (resolve_better(&cand[i], best[j], rows, n_rows)) {
			if (verbose)
				log_warn("host %s maps to stages %s and %s of env %s: using %s", host_name,
					 cand[i].view.stage_name, best[j]->view.stage_name, cand[i].view.env_name,
					 cand[i].view.stage_name);
			best[j] = &cand[i];
		} else if (verbose && !(best[j]->tier < cand[i].tier))
			log_warn("host %s maps to stages %s and %s of env %s: using %s", host_name,
				 best[j]->view.stage_name, cand[i].view.stage_name, cand[i].view.env_name,
				 best[j]->view.stage_name);
	}
	for (size_t j = 0; j < m; j++)
		out[j] = best[j]->view;
	free(best);
	*ret = out;
	*ret_n = m;
	return 0;
}

/* ---- the answer (§5.8) ---- */

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

static int goal_to_wire(struct ping_state *ps, const struct engine_goal *eg, const struct env_view *env,
			struct deploy_goal **ret)
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
	if (eg->with_build && env) {
		/* the current deploy's build, also after an alias swap */
		g->build = calloc(1, sizeof(*g->build));
		if (!g->build) {
			r = -ENOMEM;
			goto out;
		}
		r = store_ping_deploy_build(ps->store, env->deploy_id, g->build);
		if (r < 0)
			goto out;
	}
	if (eg->with_signing_key && env) {
		r = store_ping_signing_key(ps->store, env->id, &g->signing_key);
		if (r == -ENOENT)
			r = 0;
		if (r < 0)
			goto out;
	}
	if (eg->with_script_variables && env) {
		r = store_ping_env_config(ps->store, env->id, "script", &g->script_variables);
		if (r == -ENOENT) {
			g->script_variables = json_object(); /* {} when none configured */
			r = g->script_variables ? 0 : -ENOMEM;
		}
		if (r < 0)
			goto out;
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

static int answer_install(struct ping_state *ps, const struct engine_candidate *c, struct ping_response *resp)
{
	struct engine_kv *kv = NULL;
	struct engine_goal eg = { 0 };
	json_t *agent = NULL;
	size_t n_kv = 0;
	int r;

	r = store_ping_env_config(ps->store, c->env->id, "agent", &agent);
	if (r == -ENOENT)
		r = 0;
	if (r >= 0)
		r = kv_from_object(agent, &kv, &n_kv);
	if (r >= 0)
		r = engine_build_goal(c, kv, n_kv, &eg);
	if (r >= 0)
		r = goal_to_wire(ps, &eg, c->env, &resp->goal);
	if (r >= 0)
		resp->op_code = eg.op_code;
	engine_goal_release(&eg);
	free(kv);
	json_decref(agent);
	return r;
}

static int answer_delete(struct ping_state *ps, const struct engine_candidate *c, struct ping_response *resp)
{
	struct engine_goal eg;
	int r;

	r = engine_build_delete_goal(c, &eg);
	if (r >= 0)
		r = goal_to_wire(ps, &eg, NULL, &resp->goal);
	if (r >= 0)
		resp->op_code = OP_CODE_DELETE;
	engine_goal_release(&eg);
	return r;
}

/* ---- one run of §5.1 steps 3-8 ---- */

struct admit_ctx {
	struct ping_state *ps;
	int threshold;
};

static int admit_cb(void *ctx, const struct engine_candidate *c)
{
	struct admit_ctx *a = ctx;
	struct agent_row row;
	bool full = false;
	int r;

	if (ping_stage_known_full(a->ps, c->bean.env_id)) {
		METRIC_INC(a->ps->srv, admissions_refused);
		return 0;
	}
	engine_candidate_admitted_row(c, &row);
	ping_write_lock(a->ps);
	r = store_ping_admit(a->ps->store, &row, !c->has_row, c->expect_version, a->threshold, &full);
	ping_write_unlock(a->ps);
	if (r < 0 && r != -EAGAIN)
		(void)server_db_error(a->ps->srv, r, "admission");
	if (full)
		ping_stage_mark_full(a->ps, c->bean.env_id);
	if (r > 0)
		METRIC_INC(a->ps->srv, admissions_admitted);
	else
		METRIC_INC(a->ps->srv, admissions_refused);
	return r;
}

static uint64_t membership_key(const struct ping_request *pr, char *const *groups, size_t n_groups)
{
	/* FNV-1a over the reported membership; the cache holds the last key synced */
	uint64_t h = 14695981039346656037ULL;
	const char *parts[4] = { pr->host_name ? pr->host_name : pr->host_id, pr->host_ip, pr->account_id, "|" };

	for (size_t i = 0; i < ELEMENTSOF(parts) + n_groups; i++) {
		const char *s = i < ELEMENTSOF(parts) ? parts[i] : groups[i - ELEMENTSOF(parts)];

		for (s = s ? s : ""; *s; s++) {
			h ^= (unsigned char)*s;
			h *= 1099511628211ULL;
		}
		h ^= 0x1f;
		h *= 1099511628211ULL;
	}
	return h;
}

static const struct agent_row *row_of(const struct agent_row *rows, size_t n, const char *env_id)
{
	for (size_t i = 0; i < n; i++)
		if (streq(rows[i].env_id, env_id))
			return &rows[i];
	return NULL;
}

/* *ret_idle (may be NULL): the answer is NOOP with no candidate and nothing written or deleted (§5.10). */
static int ping_run(struct ping_state *ps, const struct ping_request *pr, int64_t now, struct ping_response *resp,
		    char (**ret_relevant)[ENGINE_ID_SIZE], size_t *ret_n_relevant, bool *ret_idle)
{
	struct server *srv = ps->srv;
	const char *host_name = pr->host_name ? pr->host_name : pr->host_id;
	char *const *groups = pr->n_groups ? pr->groups : (char *const *)null_group;
	size_t n_groups = pr->n_groups ? pr->n_groups : 1;
	struct resolved_env *cand = NULL;
	struct env_view *envs = NULL, *known = NULL;
	struct agent_row *rows = NULL;
	struct engine_report *reps = NULL;
	const char **unknown_ids = NULL;
	struct ping_write *pw = NULL;
	struct ping_delete *pd = NULL;
	struct engine_decision d = { 0 };
	size_t n_cand = 0, n_envs = 0, n_known = 0, n_rows = 0, n_unknown = 0, n_pw = 0, n_pd = 0;
	struct admit_ctx actx = { .ps = ps, .threshold = (int)srv->cfg.max_parallel_threshold };
	int chosen = -1, chosen_write = -1;
	bool admitted = false, verbose;
	uint64_t mkey;
	int r;

	/* step 3: group membership (cached: an unchanged membership is not even read again for a while) */
	mkey = membership_key(pr, groups, n_groups);
	verbose = !ping_membership_cached(ps, pr->host_id, mkey);
	if (verbose) {
		ping_write_lock(ps);
		r = store_ping_membership_sync(ps->store, pr->host_id, host_name, pr->host_ip, pr->account_id, groups,
					       n_groups, now);
		ping_write_unlock(ps);
		if (r < 0)
			(void)server_db_error(srv, r, "ping: group membership");
		else {
			if (r > 0)
				METRIC_INC(srv, ping_writes);
			ping_membership_remember(ps, pr->host_id, mkey);
		}
	}

	/* steps 4-5: rows, then resolution (the tie-break looks at the rows) */
	r = store_ping_agent_rows(ps->store, pr->host_id, &rows, &n_rows);
	if (r < 0)
		goto out;
	r = store_ping_capacity_envs(ps->store, host_name, pr->groups, pr->n_groups, &cand, &n_cand);
	if (r < 0)
		goto out;
	r = resolve_envs(host_name, cand, n_cand, rows, n_rows, verbose, &envs, &n_envs);
	if (r < 0)
		goto out;

	/* reports for the engine; stages named by reports or rows but not resolved */
	reps = calloc(pr->n_reports ? pr->n_reports : 1, sizeof(*reps));
	unknown_ids = calloc(pr->n_reports + n_rows + 1, sizeof(*unknown_ids));
	if (!reps || !unknown_ids) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < pr->n_reports; i++) {
		const struct ping_report *p = &pr->reports[i];

		reps[i] = (struct engine_report){ .env_id = p->env_id, .deploy_id = p->deploy_id,
						  .deploy_stage = p->deploy_stage, .agent_status = p->agent_status,
						  .error_code = p->error_code, .fail_count = p->fail_count,
						  .reset_by_system = p->reset_by_system,
						  .container_health_status = p->container_health_status };
	}
	for (size_t i = 0; i < pr->n_reports + n_rows; i++) {
		const char *id = i < pr->n_reports ? pr->reports[i].env_id : rows[i - pr->n_reports].env_id;
		bool seen = false;

		if (!id || !id[0] || strlen(id) >= ENGINE_ID_SIZE)
			continue;
		for (size_t j = 0; j < n_envs && !seen; j++)
			seen = streq(envs[j].id, id);
		for (size_t j = 0; j < n_unknown && !seen; j++)
			seen = streq(unknown_ids[j], id);
		if (!seen)
			unknown_ids[n_unknown++] = id;
	}
	if (n_unknown > 0) {
		r = store_ping_envs_by_ids(ps->store, unknown_ids, n_unknown, &known, &n_known);
		if (r < 0)
			goto out;
	}

	/* step 6: decide */
	{
		struct engine_ping_input in = { .host_id = pr->host_id, .host_name = host_name, .envs = envs,
						.n_envs = n_envs, .known = known, .n_known = n_known,
						.reports = reps, .n_reports = pr->n_reports, .rows = rows,
						.n_rows = n_rows, .now_ms = now };

		r = engine_decide_ping(&in, &d);
		if (r < 0)
			goto out;
	}

	/* step 7: select (admission writes its bean in its own transaction) */
	chosen = engine_decision_select(&d, admit_cb, &actx);
	if (chosen >= 0) {
		admitted = d.installs[chosen].need_wait;
		chosen_write = engine_decision_choose(&d, (size_t)chosen, admitted);
		if (chosen_write < -1) {
			r = chosen_write;
			goto out;
		}
	}

	/* step 8: persist (conditional writes; a failure is logged, the answer still goes out) */
	pw = calloc(d.n_writes ? d.n_writes : 1, sizeof(*pw));
	pd = calloc(d.n_deletes ? d.n_deletes : 1, sizeof(*pd));
	if (!pw || !pd) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < d.n_writes; i++) {
		const struct engine_write *w = &d.writes[i];
		const struct agent_row *old;

		if (w->skip)
			continue;
		old = row_of(rows, n_rows, w->row.env_id);
		pw[n_pw] = (struct ping_write){ .w = w, .old_holds_slot = old && engine_row_occupies_slot(old) };
		if (w->report_index >= 0 && (size_t)w->report_index < pr->n_reports &&
		    pr->reports[w->report_index].error_code != 0)
			pw[n_pw].error_message = pr->reports[w->report_index].error_message;
		if (chosen_write >= 0 && i == (size_t)chosen_write)
			chosen_write = (int)n_pw; /* index into pw from here on */
		n_pw++;
	}
	for (size_t i = 0; i < d.n_deletes; i++) {
		const struct agent_row *old = row_of(rows, n_rows, d.deletes[i].env_id);

		pd[n_pd++] = (struct ping_delete){ .d = &d.deletes[i], .old_holds_slot = old && old->holds_slot };
	}
	if (n_pw + n_pd > 0) {
		int k;

		ping_write_lock(ps);
		k = store_ping_persist(ps->store, pr->host_id, pw, n_pw, pd, n_pd);
		ping_write_unlock(ps);

		if (k < 0)
			(void)server_db_error(srv, k, "ping: writing agent rows");
		else
			__atomic_add_fetch(&srv->metrics.ping_writes, (uint64_t)k, __ATOMIC_RELAXED);
		for (size_t i = 0; i < n_pw; i++)
			if (pw[i].applied && pw[i].old_holds_slot && !engine_row_occupies_slot(&pw[i].w->row))
				ping_stage_forget_full(ps, pw[i].w->row.env_id);
		for (size_t i = 0; i < n_pd; i++)
			if (pd[i].applied)
				ping_stage_forget_full(ps, pd[i].d->env_id);
	}

	/* step 9: the answer */
	ping_response_init(resp);
	if (chosen >= 0) {
		/* a chosen bean whose conditional write was skipped (a concurrent change) answers NOOP */
		if (chosen_write >= 0 && !pw[chosen_write].applied)
			r = 0;
		else
			r = answer_install(ps, &d.installs[chosen], resp);
	} else if (d.n_uninstalls > 0)
		r = answer_delete(ps, &d.uninstalls[0], resp);
	else
		r = 0;
	if (r < 0) {
		ping_response_release(resp);
		goto out;
	}
	if (ret_relevant) {
		*ret_relevant = d.relevant;
		*ret_n_relevant = d.n_relevant;
		d.relevant = NULL;
	}
	if (ret_idle)
		*ret_idle = resp->op_code == OP_CODE_NOOP && d.n_installs == 0 && d.n_uninstalls == 0 &&
			    d.n_writes == 0 && d.n_deletes == 0;
out:
	engine_decision_release(&d);
	free(pw);
	free(pd);
	free(cand);
	free(envs);
	free(known);
	free(rows);
	free(reps);
	free(unknown_ids);
	return r;
}

/* ---- the endpoint ---- */

static int reply_noop(struct req *r)
{
	/* what ping_response_to_json() makes of a NOOP, without building and dumping it per ping */
	static const char noop[] = "{\"opCode\":\"NOOP\",\"deployGoal\":null}";

	METRIC_INC(r->srv, pings_by_opcode[OP_CODE_NOOP]);
	return http_reply_data(r, 200, "application/json", noop, sizeof(noop) - 1);
}

static int reply(struct req *r, struct ping_response *resp)
{
	json_t *j = NULL;
	int op = resp->op_code >= 0 && resp->op_code < _OP_CODE_MAX ? resp->op_code : OP_CODE_NOOP;
	int k;

	if (resp->op_code == OP_CODE_NOOP) {
		ping_response_release(resp);
		return reply_noop(r);
	}
	k = ping_response_to_json(resp, &j);
	ping_response_release(resp);
	if (k < 0)
		return k;
	METRIC_INC(r->srv, pings_by_opcode[op]);
	return http_reply_json(r, 200, j);
}



static int ping_resumed(struct ping_state *ps, struct req *r)
{
	struct waiter *w = r->handler_data;
	struct ping_response resp;
	char (*rel)[ENGINE_ID_SIZE] = NULL;
	size_t n_rel = 0;
	bool cancel, woken;
	int64_t now = now_ms();
	int k;

	if (!w)
		return reply_noop(r); /* not held by us: nothing to re-run */
	ping_waiter_flags(ps, w, &cancel, &woken);
	if (cancel || mono_ms() >= w->deadline_mono_ms) {
		ping_heartbeat_touch(ps, w->host_id, now);
		r->handler_data = NULL;
		ping_waiter_done(ps, w);
		return reply_noop(r);
	}
	if (woken) {
		/* only the host's newest ping may act for it (the agent reconnected or moved) */
		if (!ping_heartbeat_is_newest(ps, w->host_id, w->seq)) {
			r->handler_data = NULL;
			ping_waiter_done(ps, w);
			return reply_noop(r);
		}
		k = ping_run(ps, w->request, now, &resp, &rel, &n_rel, NULL);
		if (k < 0) {
			(void)server_db_error(ps->srv, k, "ping: re-running a held ping");
		} else if (resp.op_code != OP_CODE_NOOP) {
			free(rel);
			ping_heartbeat_touch(ps, w->host_id, now);
			r->handler_data = NULL;
			ping_waiter_done(ps, w);
			return reply(r, &resp);
		} else {
			ping_response_release(&resp);
			ping_waiter_set_envs(w, rel, n_rel);
		}
	}
	ping_waiter_rehold(ps, w);
	return 0;
}

static int ping_handle(struct req *r)
{
	struct ping_state *ps = ping_state_get(r->srv);
	struct ping_request *pr = NULL;
	struct proto_error err = { 0 };
	struct ping_response resp;
	char (*rel)[ENGINE_ID_SIZE] = NULL;
	size_t n_rel = 0;
	struct waiter *w = NULL;
	char repeat_host[ENGINE_ID_SIZE];
	const char *wait_raw;
	json_t *body = NULL;
	int64_t wait_s = 0, now, idle_seq;
	uint64_t seq = 0, idle_gen;
	bool idle = false;
	int k;

	if (!ps)
		return http_fail(r, 503, NULL, "the ping path is unavailable");
	if (r->resumed)
		return ping_resumed(ps, r);

	wait_raw = query_get(req_query(r), "wait");
	if (wait_raw) {
		k = parse_i64(wait_raw, 0, INT64_MAX, &wait_s);
		if (k < 0)
			return req_bad(r, "wait", "wait must be an integer number of seconds >= 0");
		if (wait_s > PING_WAIT_MAX_S)
			wait_s = PING_WAIT_MAX_S;
	}
	/* an idle ping repeated byte for byte (ping.h): NOOP before any parsing */
	if (wait_s == 0 && r->body && ping_idle_repeat_body(ps, r->body, r->body_len, now_ms(), repeat_host)) {
		ping_waiter_cancel_host(ps, repeat_host); /* step 1 */
		METRIC_INC(r->srv, ping_idle_repeats);
		return reply_noop(r);
	}
	k = req_json(r, &body);
	if (k == -ENODATA)
		return req_bad(r, NULL, "a PingRequest body is required");
	if (k < 0)
		return k;
	pr = calloc(1, sizeof(*pr));
	if (!pr) {
		json_decref(body);
		return -ENOMEM;
	}
	k = ping_request_from_json(body, pr, &err);
	json_decref(body);
	if (k < 0) {
		free(pr);
		if (k == -EINVAL)
			return req_bad(r, err.field[0] ? err.field : NULL, "%s", err.message);
		return k;
	}

	/* step 1: a held ping of the same host is answered NOOP (its client reconnected) */
	ping_waiter_cancel_host(ps, pr->host_id);
	now = now_ms();
	/* an idle ping repeated: the answer is still NOOP (ping.h); any other ping of the host forgets it */
	if (ping_idle_repeat(ps, pr->host_id, r->body, r->body_len, wait_s == 0, now, &seq)) {
		ping_request_free(pr);
		METRIC_INC(r->srv, ping_idle_repeats);
		return reply_noop(r);
	}
	idle_seq = ping_idle_seq(ps);
	idle_gen = http_write_generation();
	/* step 2 */
	k = ping_heartbeat_record(ps, pr, now, &seq);
	if (k < 0)
		(void)server_db_error(r->srv, k, "ping: heartbeat");
	/* steps 3-8 */
	k = ping_run(ps, pr, now, &resp, &rel, &n_rel, &idle);
	if (k < 0) {
		ping_request_free(pr);
		if (k == -ENOMEM)
			return k;
		(void)server_db_error(r->srv, k, "ping");
		return http_fail(r, 503, NULL, "database unavailable");
	}
	if (idle && wait_s == 0)
		ping_idle_remember(ps, pr->host_id, seq, r->body, r->body_len, idle_seq, idle_gen,
				   (const char(*)[ENGINE_ID_SIZE])rel, n_rel);
	if (resp.op_code != OP_CODE_NOOP || wait_s == 0) {
		free(rel);
		ping_request_free(pr);
		return reply(r, &resp);
	}
	ping_response_release(&resp);

	/* §5.11: hold the NOOP answer */
	w = calloc(1, sizeof(*w));
	if (!w || str_copy(w->host_id, sizeof(w->host_id), pr->host_id) < 0) {
		free(w);
		free(rel);
		ping_request_free(pr);
		return reply_noop(r);
	}
	w->req = r;
	w->request = pr;
	w->envs = rel;
	w->n_envs = n_rel;
	w->seq = seq;
	w->deadline_mono_ms = mono_ms() + wait_s * 1000;
	r->handler_data = w;
	k = ping_waiter_hold(ps, w);
	if (k < 0) {
		/* max_held_pings reached or shutting down: answer now */
		r->handler_data = NULL;
		free(w->envs);
		free(w);
		ping_request_free(pr);
		return reply_noop(r);
	}
	return 0; /* suspended: the request leaves through ping_resumed() */
}

const struct route api_ping_routes[] = {
	{ "POST", "/v1/system/ping", ping_handle, ROLE_PINGER, SCOPE_SYSTEM, true },
};
const size_t api_ping_routes_count = ELEMENTSOF(api_ping_routes);
