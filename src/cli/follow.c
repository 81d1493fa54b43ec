/* SPDX-License-Identifier: Apache-2.0 */
/* cli/follow.c: the --wait/--watch loop (deploy_follow in deploy.h): poll the stage's progress until the followed
 * deploy ends, then say how it ended — with the failing hosts named, a rollback by the server called automatic,
 * and a success with no host told apart from a real one. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "deploy.h"
#include "failures.h"
#include "http.h"
#include "jsonutil.h"
#include "sleep.h"
#include "util.h"
#include "banned.h"

/* What one run of deploy_follow() keeps. */
struct follow {
	struct cli *c;
	const struct deploy_args *a;
	FILE *f;  /* progress and failure details: stdout, or stderr under --json */
	bool tty; /* f is a terminal: the bar is redrawn in place */
	char followed[64];
	char state[32]; /* its state at the last poll */
	json_t *last_failing; /* the failing rows of the last poll while the followed deploy was current */
	size_t last_known;    /* how many hosts of it failed then */
};

static const char *str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static bool transient(const struct cli *c, int r)
{
	return r == -ECONNREFUSED || r == -ETIMEDOUT || (r == -EREMOTEIO && c->http_status == 503);
}

/* Leave the bar's line before anything else is printed. */
static void end_bar(struct follow *fl)
{
	if (fl->tty)
		fputs("\r\033[K", fl->f);
}

static void print_failures(struct follow *fl, const struct progress_read *p)
{
	size_t n = p ? failures_print(fl->c, fl->f, fl->a->env, fl->a->stage, p->failing, fl->followed,
				      (size_t)p->failing_on_deploy)
		     : 0;

	/* the rows may have moved on to the next deploy already: the last poll still has them */
	if (n == 0 && fl->last_failing && (!p || fl->last_failing != p->failing))
		n = failures_print(fl->c, fl->f, fl->a->env, fl->a->stage, fl->last_failing, fl->followed,
				   fl->last_known);
	/* or the deploy was replaced (rolled back, say) in the poll that first saw it fail: its failed hosts are still
	 * on it until their next ping */
	if (n == 0) {
		json_t *page = NULL;

		if (progress_failing_page(fl->c, fl->a->env, fl->a->stage, &page) == 0)
			(void)failures_print(fl->c, fl->f, fl->a->env, fl->a->stage, page, fl->followed, 0);
		fl->c->http_status = 0;
		fl->c->errmsg[0] = 0;
		json_decref(page);
	}
	fflush(fl->f);
}

/* A success with no host: nothing was deployed, which --allow-empty accepts. */
static int finish_empty(struct follow *fl)
{
	if (fl->a->allow_empty) {
		fprintf(fl->f, "deploy %s succeeded with no hosts: nothing was deployed (--allow-empty)\n",
			fl->followed);
		return 0;
	}
	return cli_fail(fl->c, CLI_RESULT_DEPLOY_EMPTY,
			"deploy %s succeeded with no hosts: nothing was deployed, the stage has no host yet "
			"(--allow-empty accepts this)",
			fl->followed);
}

/* The followed deploy failed and a ROLLBACK deploy (by_id) replaced it: by the server (automatic) or by a
 * person. */
static int finish_rolled_back(struct follow *fl, const char *by_id, const struct progress_read *progress)
{
	json_t *rb = NULL;
	const char *to, *op;
	int r;

	print_failures(fl, progress);
	r = by_id ? http_requestf(fl->c, "GET", NULL, NULL, &rb, "/v1/deploys/%s", by_id) : -ENOENT;
	if (r < 0) {
		fl->c->http_status = 0;
		return cli_fail(fl->c, CLI_RESULT_DEPLOY_FAILED, "deploy %s failed and was rolled back", fl->followed);
	}
	to = str(rb, "alias") ? str(rb, "alias") : "?";
	op = str(rb, "operator");
	if (streq_ptr(op, "system"))
		r = cli_fail(fl->c, CLI_RESULT_DEPLOY_FAILED,
			     "deploy %s failed, rolled back to %s (build %s) automatically (rollback deploy %s)",
			     fl->followed, to, str(rb, "buildId") ? str(rb, "buildId") : "?", by_id);
	else
		r = cli_fail(fl->c, CLI_RESULT_DEPLOY_FAILED,
			     "deploy %s failed and was rolled back to %s by %s (rollback deploy %s)", fl->followed, to,
			     op ? op : "?", by_id);
	json_decref(rb);
	return r;
}

/* The followed deploy is no longer current: its outcome decides (its state, from a server without outcomes). */
static int finish_replaced(struct follow *fl, const struct progress_read *progress)
{
	json_t *d = NULL;
	const char *by, *state;
	int r;

	end_bar(fl);
	r = http_requestf(fl->c, "GET", NULL, NULL, &d, "/v1/deploys/%s", fl->followed);
	if (r < 0)
		return r;
	by = str(d, "replacedByDeployId");
	state = str(d, "state");
	switch (deploy_outcome_from_string(str(d, "outcome"))) {
	case DEPLOY_OUTCOME_SUCCEEDED:
		fprintf(fl->f, "deploy %s succeeded (since replaced by %s)\n", fl->followed, by ? by : "another");
		r = 0;
		break;
	case DEPLOY_OUTCOME_NO_HOSTS:
		r = finish_empty(fl);
		break;
	case DEPLOY_OUTCOME_ROLLED_BACK:
		r = finish_rolled_back(fl, by, progress);
		break;
	case DEPLOY_OUTCOME_FAILED:
		print_failures(fl, progress);
		r = cli_fail(fl->c, CLI_RESULT_DEPLOY_FAILED, "deploy %s failed and was replaced by deploy %s",
			     fl->followed, by ? by : "?");
		break;
	case DEPLOY_OUTCOME_REPLACED:
		r = cli_fail(fl->c, CLI_RESULT_DEPLOY_ABORTED, "deploy %s was replaced by deploy %s before it succeeded",
			     fl->followed, by ? by : "?");
		break;
	default:
		fprintf(fl->f, "deploy %s was replaced by another deploy (state %s)\n", fl->followed,
			state ? state : "unknown");
		r = deploy_state_from_string(state ? state : "") == DEPLOY_STATE_SUCCEEDED
			? 0
			: cli_fail(fl->c, CLI_RESULT_DEPLOY_ABORTED, "deploy %s was replaced before it succeeded",
				   fl->followed);
	}
	json_decref(d);
	return r;
}

/* The followed deploy is current and in a final state (r, from deploy_state_result). */
static int finish_current(struct follow *fl, const struct progress_view *v, const struct progress_read *progress,
			  int r)
{
	if (fl->tty)
		fputc('\n', fl->f);
	if (r == 0)
		return v->total == 0 ? finish_empty(fl) : 0;
	if (r == CLI_RESULT_DEPLOY_FAILED) {
		print_failures(fl, progress);
		return cli_fail(fl->c, r, "deploy %s is FAILING (%lld of %lld hosts failed)", v->deploy_id,
				(long long)v->fail_total, (long long)v->total);
	}
	return cli_fail(fl->c, r, "deploy %s was ABORTED", v->deploy_id);
}

static void show(struct follow *fl, const struct progress_view *v, char *last, size_t last_size)
{
	char line[1024];

	if (fl->tty) {
		progress_format_bar(v, 30, line, sizeof(line));
		fprintf(fl->f, "\r\033[K%s", line);
	} else {
		progress_format_line(v, line, sizeof(line));
		if (!streq(line, last))
			fprintf(fl->f, "%s\n", line);
		(void)str_copy(last, last_size, line);
	}
	fflush(fl->f);
}

/* One round of the loop: -EAGAIN to go on, else the command's result. */
static int follow_round(struct follow *fl, int64_t *grace_end, char *last, size_t last_size)
{
	struct progress_read p = {};
	struct progress_view v;
	int r = progress_read(fl->c, fl->a->env, fl->a->stage, &p);

	if (r == -EREMOTEIO && fl->c->http_status == 404 && fl->followed[0]) {
		/* the stage lost its current deploy: look at ours directly */
		r = finish_replaced(fl, NULL);
		goto out;
	}
	if (r < 0)
		goto out;
	r = progress_view_from_json(&p, &v);
	if (r < 0) {
		r = cli_fail(fl->c, r, "the server's deploy answer lacks an id or state");
		goto out;
	}
	if (!fl->followed[0])
		(void)str_copy(fl->followed, sizeof(fl->followed), v.deploy_id);
	if (!streq(v.deploy_id, fl->followed)) {
		r = finish_replaced(fl, &p);
		goto out;
	}
	json_decref(fl->last_failing);
	fl->last_failing = json_incref(p.failing);
	fl->last_known = (size_t)p.failing_on_deploy;
	(void)str_copy(fl->state, sizeof(fl->state), v.state);
	show(fl, &v, last, last_size);
	r = deploy_state_result(v.state);
	if (r == 0 && v.provisioning > 0) {
		/* live hosts that have not reported on this stage yet will join the deploy on
		 * their next ping; an empty total would otherwise "succeed" before they start */
		if (!*grace_end)
			*grace_end = mono_ms() + FOLLOW_PROVISIONING_GRACE_MS;
		if (mono_ms() < *grace_end)
			r = -EAGAIN;
	}
	if (r != -EAGAIN)
		r = finish_current(fl, &v, &p, r);
out:
	progress_read_release(&p);
	return r;
}

int deploy_follow(struct cli *c, const struct deploy_args *a, const char *deploy_id)
{
	struct follow fl = { .c = c, .a = a, .f = c->json ? stderr : c->out };
	int64_t deadline = a->timeout_s > 0 ? mono_ms() + a->timeout_s * 1000 : 0, grace_end = 0;
	char last[1024] = "";
	int errors = 0, r;

	fl.tty = isatty(fileno(fl.f)) == 1;
	if (deploy_id && str_copy(fl.followed, sizeof(fl.followed), deploy_id) < 0)
		return cli_fail(c, -EINVAL, "deploy id '%s' is too long", deploy_id);
	for (;;) {
		r = follow_round(&fl, &grace_end, last, sizeof(last));
		if (r < 0 && r != -EAGAIN && transient(c, r) && ++errors < 5 && (!deadline || mono_ms() < deadline)) {
			sleep_ms(a->interval_ms);
			continue;
		}
		if (r != -EAGAIN)
			break;
		errors = 0;
		if (deadline && mono_ms() >= deadline) {
			if (fl.tty)
				fputc('\n', fl.f);
			r = cli_fail(c, -ETIMEDOUT, "deploy %s still %s after %lld s", fl.followed,
				     fl.state[0] ? fl.state : "without progress", (long long)a->timeout_s);
			break;
		}
		sleep_ms(a->interval_ms);
	}
	if (r < 0 && r != -ETIMEDOUT && fl.tty)
		fputc('\n', fl.f);
	json_decref(fl.last_failing);
	return r;
}
