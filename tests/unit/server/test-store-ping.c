/* SPDX-License-Identifier: Apache-2.0 */
/* tests/unit/server/test-store-ping.c: the ping path's store (store_ping.h) against a real database created by
 * store_open() (SQLite, and PostgreSQL with SLIPWAY_TEST_PG_DSN): capacity resolution, conditional row writes,
 * exact admission under concurrent threads, group membership rules, a host's own rows in one transaction, heartbeat
 * flushes and wake events. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "engine.h"
#include "store.h"
#include "store_ping.h"
#include "store_testdb.h"
#include "util.h"

struct fx {
	struct testdb db;
	struct store *s;
	struct store_ping *p;
};

static void sql(struct fx *f, const char *q)
{
	if (testdb_exec(&f->db, q) < 0)
		fail_msg("SQL failed: %s", q);
}

static int64_t sql_int(struct fx *f, const char *q)
{
	return testdb_int(&f->db, q);
}

static int setup_on(void **state, bool pg)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f || testdb_create(&f->db, pg) < 0)
		return -1;
	if (store_open(f->db.dsn, &f->s) < 0 || store_ping_open(f->db.dsn, &f->p) < 0)
		return -1;
	sql(f, "INSERT INTO builds(id, name, artifactUrl, \"commit\", commitDate, publishDate) "
	       "VALUES('B1', 'web', 'https://a/b.tgz', 'abc', 1, 1);"
	       "INSERT INTO deploys(id, envId, buildId, type, state, startDate, lastUpdateDate, acceptanceStatus) "
	       "VALUES('D1', 'E1', 'B1', 'REGULAR', 'RUNNING', 1, 1, 'PENDING_DEPLOY');"
	       "INSERT INTO envs(id, envName, stageName, deployId, deployType, maxParallel, failurePolicy, priority) "
	       "VALUES('E1', 'web', 'prod', 'D1', 'REGULAR', 3, 'CONTINUE', 'HIGH');"
	       "INSERT INTO envs(id, envName, stageName) VALUES('E2', 'web', 'canary');"
	       "INSERT INTO envs(id, envName, stageName) VALUES('E3', 'api', 'prod');"
	       "INSERT INTO capacity(envId, type, name) VALUES('E1', 'GROUP', 'g1');"
	       "INSERT INTO capacity(envId, type, name) VALUES('E2', 'HOST', 'host-1');"
	       "INSERT INTO capacity(envId, type, name) VALUES('E3', 'GROUP', 'g2');");
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_on(state, false);
}

static int setup_pg(void **state)
{
	return setup_on(state, true);
}

static int teardown(void **state)
{
	struct fx *f = *state;

	store_ping_free(f->p);
	store_free(f->s);
	testdb_destroy(&f->db);
	free(f);
	return 0;
}

static void test_capacity_envs(void **state)
{
	struct fx *f = *state;
	static char gs[][8] = { "g1", "g2", "nope" };
	char *groups[] = { gs[0], gs[1], gs[2] };
	struct resolved_env *r = NULL;
	struct env_view e;
	size_t n = 0;
	int tiers[4] = { 0 };

	assert_int_equal(store_ping_capacity_envs(f->p, "host-1", groups, 3, &r, &n), 0);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < n; i++) {
		if (streq(r[i].view.id, "E1")) {
			tiers[1] = r[i].tier;
			assert_string_equal(r[i].view.deploy_id, "D1");
			assert_int_equal(r[i].view.deploy_type, DEPLOY_TYPE_REGULAR);
			assert_int_equal(r[i].view.max_parallel, 3);
			assert_int_equal(r[i].view.failure_policy, FAILURE_POLICY_CONTINUE);
			assert_int_equal(r[i].view.priority, DEPLOY_PRIORITY_HIGH);
		} else if (streq(r[i].view.id, "E2")) {
			tiers[2] = r[i].tier;
			assert_string_equal(r[i].view.deploy_id, "");
			assert_int_equal(r[i].view.deploy_type, -1);
		} else if (streq(r[i].view.id, "E3"))
			tiers[3] = r[i].tier;
	}
	assert_int_equal(tiers[1], 2);
	assert_int_equal(tiers[2], 1);
	assert_int_equal(tiers[3], 2);
	free(r);

	assert_int_equal(store_ping_capacity_envs(f->p, "nobody", NULL, 0, &r, &n), 0);
	assert_int_equal(n, 0);
	free(r);
	assert_int_equal(store_ping_env_by_id(f->p, "E1", &e), 0);
	assert_string_equal(e.env_name, "web");
	assert_int_equal(store_ping_env_by_id(f->p, "nope", &e), -ENOENT);
}

static void row_init(struct agent_row *a, const char *host, const char *env)
{
	*a = (struct agent_row){ .deploy_stage = DEPLOY_STAGE_PRE_DOWNLOAD, .state = AGENT_STATE_NORMAL,
				 .status = AGENT_STATUS_UNKNOWN, .start_date = 5, .last_update_date = 5,
				 .stage_start_date = 5 };
	(void)str_copy(a->host_id, sizeof(a->host_id), host);
	(void)str_copy(a->host_name, sizeof(a->host_name), host);
	(void)str_copy(a->env_id, sizeof(a->env_id), env);
	(void)str_copy(a->deploy_id, sizeof(a->deploy_id), "D1");
}

static void test_conditional_writes(void **state)
{
	struct fx *f = *state;
	struct engine_write w = { .insert = true, .report_index = -1 };
	struct engine_write ghost = { .insert = true, .report_index = -1 };
	struct ping_write pw[2] = { { .w = &w, .error_message = "boom" }, { .w = &ghost } };
	struct agent_row *rows = NULL;
	size_t n = 0;

	row_init(&w.row, "h1", "E1");
	row_init(&ghost.row, "h1", "NO-SUCH-ENV");
	assert_int_equal(store_ping_persist(f->p, "h1", pw, 2, NULL, 0), 1);
	assert_true(pw[0].applied);
	assert_false(pw[1].applied); /* never a row for an env that does not exist */
	assert_int_equal(sql_int(f, "SELECT count(*) FROM agent_errors WHERE hostId = 'h1'"), 1);
	assert_int_equal(store_ping_agent_rows(f->p, "h1", &rows, &n), 0);
	assert_int_equal(n, 1);
	assert_true(rows[0].version == 1);
	assert_int_equal(rows[0].deploy_stage, DEPLOY_STAGE_PRE_DOWNLOAD);
	free(rows);

	/* a second insert of the same row loses (the row exists) */
	assert_int_equal(store_ping_persist(f->p, "h1", pw, 1, NULL, 0), 0);
	assert_false(pw[0].applied);
	/* an update with a stale version is skipped; with the right one it applies and bumps the version */
	w.insert = false;
	w.expect_version = 7;
	w.row.deploy_stage = DEPLOY_STAGE_DOWNLOADING;
	pw[0].error_message = NULL;
	assert_int_equal(store_ping_persist(f->p, "h1", pw, 1, NULL, 0), 0);
	w.expect_version = 1;
	assert_int_equal(store_ping_persist(f->p, "h1", pw, 1, NULL, 0), 1);
	assert_int_equal(sql_int(f, "SELECT version FROM agents WHERE hostId = 'h1'"), 2);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM agent_errors WHERE hostId = 'h1'"), 1);

	/* a slot released by a write emits SLOT; a delete removes the AgentError row and emits SLOT */
	{
		struct engine_delete del = { .env_id = "E1", .expect_version = 2 };
		struct ping_delete pd = { .d = &del, .old_holds_slot = true };
		int64_t before = sql_int(f, "SELECT count(*) FROM events WHERE kind = 'SLOT'");

		assert_int_equal(store_ping_persist(f->p, "h1", NULL, 0, &pd, 1), 1);
		assert_true(pd.applied);
		assert_int_equal(sql_int(f, "SELECT count(*) FROM agents WHERE hostId = 'h1'"), 0);
		assert_int_equal(sql_int(f, "SELECT count(*) FROM agent_errors WHERE hostId = 'h1'"), 0);
		assert_int_equal(sql_int(f, "SELECT count(*) FROM events WHERE kind = 'SLOT'"), before + 1);
	}
}

struct admit_thread {
	struct fx *f;
	int first, count;
	int admitted;
};

static void *admit_worker(void *arg)
{
	struct admit_thread *t = arg;

	for (int i = t->first; i < t->first + t->count; i++) {
		struct agent_row row;
		char host[32];
		int r;

		(void)str_printf(host, sizeof(host), "host%03d", i);
		row_init(&row, host, "E1");
		row.holds_slot = true;
		do
			r = store_ping_admit(t->f->p, &row, false, 1, 10000, NULL);
		while (r == -EAGAIN);
		if (r > 0)
			t->admitted++;
	}
	return NULL;
}

static void test_admission_exact(void **state)
{
	struct fx *f = *state;
	struct admit_thread t[8];
	pthread_t th[8];
	int total = 0;
	bool full = false;
	struct agent_row row;

	/* 80 idle hosts of the stage on an older deploy, all candidates for D1 */
	sql(f, f->db.pg ? "INSERT INTO agents(hostId, hostName, envId, deployId, deployStage, state, status, startDate, "
			  "lastUpdateDate, version) SELECT format('host%s', lpad(i::text, 3, '0')), "
			  "format('host%s', lpad(i::text, 3, '0')), 'E1', 'D0', 'SERVING_BUILD', 'NORMAL', "
			  "'SUCCEEDED', 1, 1, 1 FROM generate_series(0, 79) AS i"
			: "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 79) "
			  "INSERT INTO agents(hostId, hostName, envId, deployId, deployStage, state, status, startDate, "
			  "lastUpdateDate, version) SELECT printf('host%03d', i), printf('host%03d', i), 'E1', 'D0', "
			  "'SERVING_BUILD', 'NORMAL', 'SUCCEEDED', 1, 1, 1 FROM n");
	for (int i = 0; i < 8; i++) {
		t[i] = (struct admit_thread){ .f = f, .first = i * 10, .count = 10 };
		assert_int_equal(pthread_create(&th[i], NULL, admit_worker, &t[i]), 0);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(th[i], NULL);
		total += t[i].admitted;
	}
	assert_int_equal(total, 3); /* maxParallel */
	assert_int_equal(sql_int(f, "SELECT count(*) FROM agents WHERE envId = 'E1' AND holdsSlot = 1"), 3);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM agents WHERE envId = 'E1' AND deployId = 'D1'"), 3);

	/* a further candidate is refused as full */
	row_init(&row, "host050", "E1");
	if (sql_int(f, "SELECT holdsSlot FROM agents WHERE hostId = 'host050'") == 0) {
		assert_int_equal(store_ping_admit(f->p, &row, false, 1, 10000, &full), 0);
		assert_true(full);
	}
	/* a candidate of a stale deploy is refused without counting (a new deploy arrived meanwhile) */
	sql(f, "UPDATE agents SET holdsSlot = 0");
	row_init(&row, "host051", "E1");
	(void)str_copy(row.deploy_id, sizeof(row.deploy_id), "OLD");
	assert_int_equal(store_ping_admit(f->p, &row, false, 1, 10000, &full), 0);
	assert_false(full);
	/* a lost compare-and-set refuses */
	row_init(&row, "host052", "E1");
	assert_int_equal(store_ping_admit(f->p, &row, false, 99, 10000, &full), 0);
	/* the schedule gate: COOLING_DOWN refuses */
	sql(f, "INSERT INTO schedules(id, envId, totalSessions, cooldownTimes, hostNumbers, currentSession, state, "
	       "stateStartTime) VALUES('S1', 'E1', 2, '1,1', '1,1', 1, 'COOLING_DOWN', 1)");
	assert_int_equal(store_ping_admit(f->p, &row, false, 1, 10000, &full), 0);
	sql(f, "UPDATE schedules SET state = 'FINAL'");
	/* host052 may have been one of the 3 admitted above (which bumped its version): expect what is stored */
	assert_int_equal(store_ping_admit(f->p, &row, false, sql_int(f, "SELECT version FROM agents WHERE hostId = 'host052'"),
					  10000, &full),
			 1);
}

/* The membership alone through store_ping_host_write(): 1 when it wrote. */
static int membership_sync(struct store_ping *p, char *const *groups, size_t n_groups, int64_t now)
{
	struct host_rows h = { .host_id = "m1", .host_name = "m1", .ip = "10.0.0.9", .groups = groups,
			       .n_groups = n_groups, .now = now };
	bool differ = false;
	int r;

	assert_int_equal(store_ping_membership_differs(p, &h, &differ), 0);
	r = store_ping_host_write(p, &h);
	assert_true(r < 0 || !!(r & HOST_ROWS_GROUPS) == differ); /* the read says what the write does */
	return r < 0 ? r : (r & HOST_ROWS_GROUPS) != 0;
}

static int heartbeat_put(struct store_ping *p, const struct heartbeat *hb)
{
	struct host_rows h = { .host_id = hb->host_id, .host_name = hb->host_name, .hb = hb, .now = hb->last_seen };
	int r = store_ping_host_write(p, &h);

	return r < 0 ? r : 0;
}

static void test_membership(void **state)
{
	struct fx *f = *state;
	static char gs[][8] = { "g1", "g2" };
	char *groups[] = { gs[0], gs[1] };
	char *only[] = { gs[1] };

	sql(f, "INSERT INTO hosts(hostName, groupName, hostId, createDate, lastUpdateDate, state) "
	       "VALUES('m1', 'g1', 'm1', 1, 1, 'PROVISIONED');"
	       "INSERT INTO hosts(hostName, groupName, hostId, createDate, lastUpdateDate, state) "
	       "VALUES('m1', 'old', 'm1', 1, 1, 'ACTIVE');"
	       "INSERT INTO hosts(hostName, groupName, hostId, createDate, lastUpdateDate, state) "
	       "VALUES('m1', 'kept', 'm1', 1, 1, 'PENDING_TERMINATE');");
	assert_int_equal(membership_sync(f->p, groups, 2, 100), 1);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM hosts WHERE hostId = 'm1' AND state = 'ACTIVE' AND "
				    "ip = '10.0.0.9' AND groupName IN ('g1', 'g2')"), 2);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM hosts WHERE hostId = 'm1' AND groupName = 'old'"), 0);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM hosts WHERE hostId = 'm1' AND groupName = 'kept' AND "
				    "state = 'PENDING_TERMINATE'"), 1);
	/* unchanged: no write */
	assert_int_equal(membership_sync(f->p, groups, 2, 200), 0);
	assert_int_equal(membership_sync(f->p, only, 1, 300), 1);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM hosts WHERE hostId = 'm1'"), 2); /* g2 + kept */
}

/* A first ping's rows (heartbeat record, tags, membership) in one transaction: all written, or none. */
static void test_host_rows_one_transaction(void **state)
{
	struct fx *f = *state;
	static char g1[] = "g1";
	char *groups[] = { g1 };
	struct heartbeat hb = { .host_id = "n1", .host_name = "n1", .ip = "10.0.0.7", .create_date = 5, .last_seen = 5 };
	struct host_tag tags[] = { { "availabilityZone", "az-1" }, { "rack", "r7" } }, bad[] = { { "rack", NULL } };
	struct host_rows h = { .host_id = "n1", .host_name = "n1", .hb = &hb, .tags = bad, .n_tags = 1,
			       .ip = "10.0.0.7", .groups = groups, .n_groups = 1, .now = 5 };
	struct heartbeat got;
	bool differ = false;

	/* a failing tag insert (NOT NULL) rolls back the membership and the record written before it */
	assert_true(store_ping_host_write(f->p, &h) < 0);
	assert_int_equal(store_ping_heartbeat_get(f->p, "n1", &got), -ENOENT);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM hosts WHERE hostId = 'n1'"), 0);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM host_tags WHERE hostId = 'n1'"), 0);

	h.tags = tags;
	h.n_tags = 2;
	assert_int_equal(store_ping_tags_differ(f->p, "n1", "n1", tags, 2, &differ), 0);
	assert_true(differ);
	assert_int_equal(store_ping_host_write(f->p, &h), HOST_ROWS_HB | HOST_ROWS_TAGS | HOST_ROWS_GROUPS);
	assert_int_equal(store_ping_heartbeat_get(f->p, "n1", &got), 0);
	assert_string_equal(got.ip, "10.0.0.7");
	assert_int_equal(sql_int(f, "SELECT count(*) FROM hosts WHERE hostId = 'n1' AND groupName = 'g1' AND "
				    "state = 'ACTIVE'"), 1);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM host_tags WHERE hostId = 'n1' AND hostName = 'n1'"), 2);
	/* nothing differs now: the reads say so, and a write of tags and membership writes nothing */
	assert_int_equal(store_ping_tags_differ(f->p, "n1", "n1", tags, 2, &differ), 0);
	assert_false(differ);
	assert_int_equal(store_ping_membership_differs(f->p, &h, &differ), 0);
	assert_false(differ);
	h.hb = NULL;
	assert_int_equal(store_ping_host_write(f->p, &h), 0);
	/* one tag fewer: only the tags are written */
	h.n_tags = 1;
	assert_int_equal(store_ping_host_write(f->p, &h), HOST_ROWS_TAGS);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM host_tags WHERE hostId = 'n1'"), 1);
}

static void test_heartbeat_and_events(void **state)
{
	struct fx *f = *state;
	struct heartbeat hb = { .host_id = "x1", .host_name = "x1", .agent_version = "v1", .create_date = 10,
				.last_seen = 10 };
	struct heartbeat_seen seen[2] = { { .host_id = "x1", .last_seen = 50 }, { .host_id = "gone", .last_seen = 5 } };
	struct heartbeat got;
	struct store_event ev[4];
	int64_t last = -1;

	assert_int_equal(store_ping_heartbeat_get(f->p, "x1", &got), -ENOENT);
	assert_int_equal(heartbeat_put(f->p, &hb), 0);
	assert_int_equal(store_ping_heartbeat_get(f->p, "x1", &got), 0);
	assert_string_equal(got.agent_version, "v1");
	assert_int_equal(store_ping_heartbeat_flush(f->p, seen, 2), 0);
	assert_int_equal(store_ping_heartbeat_get(f->p, "x1", &got), 0);
	assert_true(got.last_seen == 50);
	/* lastSeen never moves backwards */
	seen[0].last_seen = 20;
	assert_int_equal(store_ping_heartbeat_flush(f->p, seen, 1), 0);
	hb.last_seen = 30;
	(void)str_copy(hb.agent_version, sizeof(hb.agent_version), "v2");
	assert_int_equal(heartbeat_put(f->p, &hb), 0);
	assert_int_equal(store_ping_heartbeat_get(f->p, "x1", &got), 0);
	assert_true(got.last_seen == 50);
	assert_string_equal(got.agent_version, "v2");

	assert_int_equal(store_event_last_seq(f->s, &last), 0);
	assert_int_equal(store_event_add(f->s, "ENV", "E1", NULL, NULL), 0);
	assert_int_equal(store_event_add(f->s, "CAPACITY", "E1", NULL, "g9"), 0);
	assert_int_equal(store_event_poll(f->s, last, ev, 4), 2);
	assert_string_equal(ev[0].kind, "ENV");
	assert_string_equal(ev[1].name, "g9");
	assert_true(ev[1].seq > ev[0].seq);
	assert_int_equal(store_event_poll(f->s, ev[1].seq, ev, 4), 0);
	/* a full array stops the reading */
	assert_int_equal(store_event_poll(f->s, last, ev, 1), 1);
	assert_true(ev[0].seq > last);
	assert_int_equal(store_event_purge(f->s, now_ms() + 1000), 0);
	assert_int_equal(store_event_poll(f->s, last, ev, 4), 0);
}

/* The NOTIFY payloads of store_events.c as the wake listener reads them back. */
static void test_event_payloads(void **state)
{
	struct store_event ev;
	char big[400];

	(void)state;
	assert_int_equal(store_event_from_payload("{\"seq\" : 7, \"kind\" : \"CAPACITY\", \"envId\" : \"E1\", "
						  "\"hostId\" : null, \"name\" : \"g9\"}", &ev), 0);
	assert_true(ev.seq == 7);
	assert_string_equal(ev.kind, "CAPACITY");
	assert_string_equal(ev.env_id, "E1");
	assert_string_equal(ev.host_id, "");
	assert_string_equal(ev.name, "g9");
	/* a ping's write of a host's rows: no event row, no seq */
	assert_int_equal(store_event_from_payload("{\"kind\":\"HOST\",\"hostId\":\"h1\"}", &ev), 0);
	assert_true(ev.seq == 0);
	assert_string_equal(ev.kind, "HOST");
	assert_string_equal(ev.host_id, "h1");
	assert_string_equal(ev.env_id, "");
	/* not one: not JSON, no kind, a wrong type, a seq below 1, a field too long */
	assert_int_equal(store_event_from_payload("HOST h1", &ev), -EINVAL);
	assert_int_equal(store_event_from_payload("[1]", &ev), -EINVAL);
	assert_int_equal(store_event_from_payload("{\"hostId\":\"h1\"}", &ev), -EINVAL);
	assert_int_equal(store_event_from_payload("{\"kind\":\"ENV\",\"envId\":5}", &ev), -EINVAL);
	assert_int_equal(store_event_from_payload("{\"kind\":\"ENV\",\"seq\":0}", &ev), -EINVAL);
	(void)str_printf(big, sizeof(big), "{\"kind\":\"ENV\",\"envId\":\"%0100d\"}", 1);
	assert_int_equal(store_event_from_payload(big, &ev), -EINVAL);
}

static void test_goal_attachments(void **state)
{
	struct fx *f = *state;
	struct engine_goal_needs none = { 0 }, download = { .build = true, .signing_key = true },
				 pre = { .script_variables = true };
	struct store_ping_attachments at;

	/* nothing stored: NULL documents and key; a deploy without a build fails */
	assert_int_equal(store_ping_attachments_read(f->p, "E1", "D1", &none, &at), 0);
	assert_null(at.agent_config);
	assert_null(at.build.id);
	store_ping_attachments_release(&at);
	assert_int_equal(store_ping_attachments_read(f->p, "E1", "D1", &download, &at), 0);
	assert_string_equal(at.build.id, "B1");
	assert_string_equal(at.build.commit, "abc");
	assert_null(at.build.artifact_sha256);
	assert_null(at.signing_key);
	assert_null(at.agent_config);
	store_ping_attachments_release(&at);
	assert_int_equal(store_ping_attachments_read(f->p, "E1", "nope", &download, &at), -ENOENT);
	/* stored: every document asked for, and only those */
	sql(f, "INSERT INTO env_configs(envId, kind, id, value) VALUES('E1', 'script', 'c1', '{\"PORT\":\"80\"}')");
	sql(f, "INSERT INTO env_configs(envId, kind, id, value) VALUES('E1', 'agent', 'c2', '{\"k\":\"v\"}')");
	sql(f, "UPDATE envs SET signingKey = 'k' WHERE id = 'E1'");
	assert_int_equal(store_ping_attachments_read(f->p, "E1", "D1", &pre, &at), 0);
	assert_string_equal(json_string_value(json_object_get(at.script_config, "PORT")), "80");
	assert_string_equal(json_string_value(json_object_get(at.agent_config, "k")), "v");
	assert_null(at.signing_key);
	assert_null(at.build.id);
	store_ping_attachments_release(&at);
	assert_int_equal(store_ping_attachments_read(f->p, "E1", "D1", &download, &at), 0);
	assert_string_equal(at.signing_key, "k");
	assert_string_equal(at.build.id, "B1");
	assert_string_equal(json_string_value(json_object_get(at.agent_config, "k")), "v");
	assert_null(at.script_config);
	store_ping_attachments_release(&at);
	assert_int_equal(store_ping_attachments_read(f->p, "E1", "D1", &none, &at), 0);
	assert_string_equal(json_string_value(json_object_get(at.agent_config, "k")), "v");
	assert_null(at.signing_key);
	store_ping_attachments_release(&at);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_capacity_envs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_conditional_writes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_admission_exact, setup, teardown),
		cmocka_unit_test_setup_teardown(test_membership, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_rows_one_transaction, setup, teardown),
		cmocka_unit_test_setup_teardown(test_heartbeat_and_events, setup, teardown),
		cmocka_unit_test_setup_teardown(test_goal_attachments, setup, teardown),
		cmocka_unit_test(test_event_payloads),
	};
	const struct CMUnitTest pg_tests[] = {
		cmocka_unit_test_setup_teardown(test_capacity_envs, setup_pg, teardown),
		cmocka_unit_test_setup_teardown(test_conditional_writes, setup_pg, teardown),
		cmocka_unit_test_setup_teardown(test_admission_exact, setup_pg, teardown),
		cmocka_unit_test_setup_teardown(test_membership, setup_pg, teardown),
		cmocka_unit_test_setup_teardown(test_host_rows_one_transaction, setup_pg, teardown),
		cmocka_unit_test_setup_teardown(test_heartbeat_and_events, setup_pg, teardown),
		cmocka_unit_test_setup_teardown(test_goal_attachments, setup_pg, teardown),
	};
	int r = cmocka_run_group_tests_name("sqlite", tests, NULL, NULL);
	int pg = testdb_pg_wanted();

	if (pg < 0)
		return 1;
	if (pg > 0)
		r += cmocka_run_group_tests_name("postgresql", pg_tests, NULL, NULL);
	return r;
}
