/* SPDX-License-Identifier: Apache-2.0 */
/* store/store_sqlite_ping.c: the SQLite implementation of store_ping.h, the ping hot path's typed queries.
 * One connection per thread (pthread key), WAL, busy timeout 5 s, prepared statements cached per connection.
 * SQL is static text with placeholders only. Does not log. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "enums.h"
#include "jsonutil.h"
#include "store_ping.h"
#include "util.h"
#include "banned.h"

#define PING_STMT_CACHE 64

struct pconn {
	struct store_ping *owner;
	sqlite3 *db;
	struct {
		const char *sql;
		sqlite3_stmt *st;
	} cache[PING_STMT_CACHE];
	size_t n_cache;
	char errmsg[256];
	struct pconn *next;
};

struct store_ping {
	char *path;
	pthread_key_t key;
	pthread_mutex_t lock;
	struct pconn *conns;
	char open_errmsg[256];
};

static void pconn_close(struct pconn *c)
{
	for (size_t i = 0; i < c->n_cache; i++)
		sqlite3_finalize(c->cache[i].st);
	sqlite3_close(c->db);
	free(c);
}

static void pconn_thread_exit(void *arg)
{
	struct pconn *c = arg;
	struct store_ping *p = c->owner;

	pthread_mutex_lock(&p->lock);
	for (struct pconn **pp = &p->conns; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	pthread_mutex_unlock(&p->lock);
	pconn_close(c);
}

static struct pconn *pconn_get(struct store_ping *p)
{
	struct pconn *c = pthread_getspecific(p->key);
	int rc;

	if (c)
		return c;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->owner = p;
	rc = sqlite3_open_v2(p->path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		(void)str_printf(p->open_errmsg, sizeof(p->open_errmsg), "cannot open '%s': %s", p->path,
				 c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
		sqlite3_close(c->db);
		free(c);
		return NULL;
	}
	sqlite3_busy_timeout(c->db, 5000);
	sqlite3_extended_result_codes(c->db, 1);
	(void)sqlite3_exec(c->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", NULL, NULL, NULL);
	pthread_mutex_lock(&p->lock);
	c->next = p->conns;
	p->conns = c;
	pthread_mutex_unlock(&p->lock);
	(void)pthread_setspecific(p->key, c);
	return c;
}

int store_ping_open(const char *dsn, struct store_ping **ret)
{
	struct store_ping *p;

	if (!dsn || !startswith(dsn, "sqlite:"))
		return -EPROTONOSUPPORT;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->path = strdup(dsn + strlen("sqlite:"));
	if (!p->path) {
		free(p);
		return -ENOMEM;
	}
	if (pthread_key_create(&p->key, pconn_thread_exit) != 0) {
		free(p->path);
		free(p);
		return -ENOMEM;
	}
	pthread_mutex_init(&p->lock, NULL);
	*ret = p;
	return 0;
}

void store_ping_free(struct store_ping *p)
{
	struct pconn *c, *next;

	if (!p)
		return;
	/* threads that used the store have exited or will never use it again */
	(void)pthread_key_delete(p->key);
	for (c = p->conns; c; c = next) {
		next = c->next;
		pconn_close(c);
	}
	pthread_mutex_destroy(&p->lock);
	free(p->path);
	free(p);
}

const char *store_ping_errmsg(struct store_ping *p)
{
	struct pconn *c = pthread_getspecific(p->key);

	if (!c)
		return p->open_errmsg;
	return c->errmsg;
}

static int map_rc(struct pconn *c, int rc)
{
	if (rc == SQLITE_OK || rc == SQLITE_DONE || rc == SQLITE_ROW)
		return 0;
	(void)str_printf(c->errmsg, sizeof(c->errmsg), "%s", sqlite3_errmsg(c->db));
	switch (rc & 0xff) {
	case SQLITE_CONSTRAINT:
		return -EEXIST;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EAGAIN;
	case SQLITE_NOMEM:
		return -ENOMEM;
	default:
		return -EIO;
	}
}

static int prep(struct pconn *c, const char *sql, sqlite3_stmt **ret)
{
	sqlite3_stmt *st = NULL;
	int rc;

	for (size_t i = 0; i < c->n_cache; i++)
		if (c->cache[i].sql == sql) {
			sqlite3_reset(c->cache[i].st);
			sqlite3_clear_bindings(c->cache[i].st);
			*ret = c->cache[i].st;
			return 0;
		}
	rc = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
	if (rc != SQLITE_OK)
		return map_rc(c, rc);
	if (c->n_cache == PING_STMT_CACHE) {
		sqlite3_finalize(c->cache[0].st);
		memmove(&c->cache[0], &c->cache[1], sizeof(c->cache[0]) * (PING_STMT_CACHE - 1));
		c->n_cache--;
	}
	c->cache[c->n_cache].sql = sql;
	c->cache[c->n_cache].st = st;
	c->n_cache++;
	*ret = st;
	return 0;
}

/* fmt: s text (NULL binds NULL), i int64, b bool (int). */
static int bind(struct pconn *c, sqlite3_stmt *st, const char *fmt, va_list ap)
{
	int i = 1, rc = SQLITE_OK;

	for (const char *f = fmt ? fmt : ""; *f; f++, i++) {
		switch (*f) {
		case 's': {
			const char *v = va_arg(ap, const char *);
			rc = v ? sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(st, i);
			break;
		}
		case 'i':
			rc = sqlite3_bind_int64(st, i, va_arg(ap, int64_t));
			break;
		case 'b':
			rc = sqlite3_bind_int(st, i, va_arg(ap, int) ? 1 : 0);
			break;
		default:
			return -EINVAL;
		}
		if (rc != SQLITE_OK)
			return map_rc(c, rc);
	}
	return 0;
}

static int stmt(struct pconn *c, const char *sql, sqlite3_stmt **ret, const char *fmt, ...)
{
	sqlite3_stmt *st;
	va_list ap;
	int r;

	r = prep(c, sql, &st);
	if (r < 0)
		return r;
	va_start(ap, fmt);
	r = bind(c, st, fmt, ap);
	va_end(ap);
	if (r < 0)
		return r;
	*ret = st;
	return 0;
}

/* Execute a statement that returns no rows; the number of changed rows. */
static int exec_st(struct pconn *c, sqlite3_stmt *st)
{
	int rc, r;

	do
		rc = sqlite3_step(st);
	while (rc == SQLITE_ROW);
	r = map_rc(c, rc);
	sqlite3_reset(st);
	return r < 0 ? r : sqlite3_changes(c->db);
}

static int exec_plain(struct pconn *c, const char *sql)
{
	int rc = sqlite3_exec(c->db, sql, NULL, NULL, NULL);

	return map_rc(c, rc);
}

static int tx_begin(struct pconn *c)
{
	return exec_plain(c, "BEGIN IMMEDIATE");
}

static int tx_end(struct pconn *c, int r)
{
	if (r < 0) {
		(void)sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
		return r;
	}
	{
		int k = exec_plain(c, "COMMIT");
		if (k < 0) {
			(void)sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
			return k;
		}
	}
	return r;
}

static void col_copy(sqlite3_stmt *st, int i, char *dst, size_t size)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	size_t n;

	if (!t) {
		dst[0] = 0;
		return;
	}
	n = (size_t)sqlite3_column_bytes(st, i);
	if (n >= size)
		n = size - 1;
	memcpy(dst, t, n);
	dst[n] = 0;
}

static int col_enum(sqlite3_stmt *st, int i, int (*from)(const char *), int def)
{
	const char *t = (const char *)sqlite3_column_text(st, i);
	int v;

	if (!t)
		return def;
	v = from(t);
	return v < 0 ? def : v;
}

#define IO_CONN(p, c)                                                                                                  \
	do {                                                                                                           \
		(c) = pconn_get(p);                                                                                    \
		if (!(c))                                                                                              \
			return -EIO;                                                                                   \
	} while (0)

/* ---- heartbeat ---- */

static const char sql_hb_get[] = "SELECT hostId, hostName, ip, agentVersion, autoscalingGroup, availabilityZone, "
				 "createDate, lastSeen FROM heartbeats WHERE hostId = ?";

int store_ping_heartbeat_get(struct store_ping *p, const char *host_id, struct heartbeat *ret)
{
	struct heartbeat hb = { 0 };
	struct pconn *c;
	sqlite3_stmt *st;
	int r, rc;

	IO_CONN(p, c);
	r = stmt(c, sql_hb_get, &st, "s", host_id);
	if (r < 0)
		return r;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		col_copy(st, 0, hb.host_id, sizeof(hb.host_id));
		col_copy(st, 1, hb.host_name, sizeof(hb.host_name));
		col_copy(st, 2, hb.ip, sizeof(hb.ip));
		col_copy(st, 3, hb.agent_version, sizeof(hb.agent_version));
		col_copy(st, 4, hb.autoscaling_group, sizeof(hb.autoscaling_group));
		col_copy(st, 5, hb.availability_zone, sizeof(hb.availability_zone));
		hb.create_date = sqlite3_column_int64(st, 6);
		hb.last_seen = sqlite3_column_int64(st, 7);
		r = 0;
	} else
		r = rc == SQLITE_DONE ? -ENOENT : map_rc(c, rc);
	sqlite3_reset(st);
	if (r < 0)
		return r;
	*ret = hb;
	return 0;
}

static const char sql_hb_put[] =
	"INSERT INTO heartbeats(hostId, hostName, ip, agentVersion, autoscalingGroup, availabilityZone, createDate, "
	"lastSeen) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT(hostId) DO UPDATE SET hostName = ?2, ip = ?3, "
	"agentVersion = ?4, autoscalingGroup = ?5, availabilityZone = ?6, lastSeen = max(lastSeen, ?8)";

static const char *nz(const char *s)
{
	return s && s[0] ? s : NULL;
}

int store_ping_heartbeat_put(struct store_ping *p, const struct heartbeat *hb)
{
	struct pconn *c;
	sqlite3_stmt *st;
	int r;

	IO_CONN(p, c);
	r = stmt(c, sql_hb_put, &st, "ssssssii", hb->host_id, hb->host_name, nz(hb->ip), nz(hb->agent_version),
		 nz(hb->autoscaling_group), nz(hb->availability_zone), hb->create_date, hb->last_seen);
	if (r < 0)
		return r;
	r = exec_st(c, st);
	return r < 0 ? r : 0;
}

static const char sql_hb_seen[] = "UPDATE heartbeats SET lastSeen = max(lastSeen, ?2) WHERE hostId = ?1";

int store_ping_heartbeat_flush(struct store_ping *p, const struct heartbeat_seen *v, size_t n)
{
	struct pconn *c;
	int r;

	if (n == 0)
		return 0;
	IO_CONN(p, c);
	r = tx_begin(c);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n && r >= 0; i++) {
		sqlite3_stmt *st;

		r = stmt(c, sql_hb_seen, &st, "si", v[i].host_id, v[i].last_seen);
		if (r >= 0)
			r = exec_st(c, st);
	}
	r = tx_end(c, r < 0 ? r : 0);
	return r;
}

/* ---- membership ---- */

static const char sql_hosts_of[] = "SELECT groupName, state, ip, accountId, hostName FROM hosts WHERE hostId = ?";
static const char sql_host_insert[] =
	"INSERT INTO hosts(hostName, groupName, ip, hostId, accountId, createDate, lastUpdateDate, state, canRetire) "
	"VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?6, 'ACTIVE', 0) ON CONFLICT(hostId, groupName) DO NOTHING";
static const char sql_host_update[] =
	"UPDATE hosts SET hostName = ?3, ip = ?4, accountId = ?5, state = 'ACTIVE', lastUpdateDate = ?6 "
	"WHERE hostId = ?1 AND groupName = ?2 AND state NOT IN ('PENDING_TERMINATE', 'PENDING_TERMINATE_NO_REPLACE', "
	"'TERMINATING')";
static const char sql_host_delete[] =
	"DELETE FROM hosts WHERE hostId = ?1 AND groupName = ?2 AND state NOT IN ('PENDING_TERMINATE', "
	"'PENDING_TERMINATE_NO_REPLACE', 'TERMINATING')";

struct host_group {
	char group[136];
	int state;
	char ip[HB_FIELD_SIZE];
	char account_id[HB_FIELD_SIZE];
	char host_name[ENGINE_NAME_SIZE];
	bool reported;
};

static bool protected_state(int st)
{
	return st == HOST_STATE_PENDING_TERMINATE || st == HOST_STATE_PENDING_TERMINATE_NO_REPLACE ||
	       st == HOST_STATE_TERMINATING;
}

static bool str_same(const char *stored, const char *want)
{
	return streq(stored, want ? want : "");
}

int store_ping_membership_sync(struct store_ping *p, const char *host_id, const char *host_name, const char *ip,
			       const char *account_id, char *const *groups, size_t n_groups, int64_t now)
{
	struct host_group *have = NULL;
	size_t n_have = 0, cap = 0;
	bool *group_present = NULL, need = false;
	struct pconn *c;
	sqlite3_stmt *st;
	int r, rc;

	IO_CONN(p, c);
	r = stmt(c, sql_hosts_of, &st, "s", host_id);
	if (r < 0)
		return r;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n_have == cap) {
			size_t nc = cap ? cap * 2 : 8;
			struct host_group *nh = realloc(have, nc * sizeof(*nh));
			if (!nh) {
				sqlite3_reset(st);
				free(have);
				return -ENOMEM;
			}
			have = nh;
			cap = nc;
		}
		memset(&have[n_have], 0, sizeof(have[n_have]));
		col_copy(st, 0, have[n_have].group, sizeof(have[n_have].group));
		have[n_have].state = col_enum(st, 1, host_state_from_string, HOST_STATE_ACTIVE);
		col_copy(st, 2, have[n_have].ip, sizeof(have[n_have].ip));
		col_copy(st, 3, have[n_have].account_id, sizeof(have[n_have].account_id));
		col_copy(st, 4, have[n_have].host_name, sizeof(have[n_have].host_name));
		n_have++;
	}
	r = rc == SQLITE_DONE ? 0 : map_rc(c, rc);
	sqlite3_reset(st);
	if (r < 0)
		goto out;

	group_present = calloc(n_groups + 1, sizeof(bool));
	if (!group_present) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n_have; i++) {
		for (size_t g = 0; g < n_groups; g++)
			if (streq(have[i].group, groups[g])) {
				have[i].reported = true;
				group_present[g] = true;
			}
		if (protected_state(have[i].state))
			continue;
		if (!have[i].reported)
			need = true;
		else if (have[i].state == HOST_STATE_PROVISIONED || !str_same(have[i].ip, ip) ||
			 !str_same(have[i].account_id, account_id) || !streq(have[i].host_name, host_name))
			need = true;
	}
	for (size_t g = 0; g < n_groups; g++)
		if (!group_present[g])
			need = true;
	if (!need) {
		r = 0;
		goto out;
	}

	r = tx_begin(c);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < n_have && r >= 0; i++) {
		if (protected_state(have[i].state))
			continue;
		if (!have[i].reported) {
			r = stmt(c, sql_host_delete, &st, "ss", host_id, have[i].group);
			if (r >= 0)
				r = exec_st(c, st);
		} else if (have[i].state == HOST_STATE_PROVISIONED || !str_same(have[i].ip, ip) ||
			   !str_same(have[i].account_id, account_id) || !streq(have[i].host_name, host_name)) {
			r = stmt(c, sql_host_update, &st, "sssssi", host_id, have[i].group, host_name, nz(ip),
				 nz(account_id), now);
			if (r >= 0)
				r = exec_st(c, st);
		}
	}
	for (size_t g = 0; g < n_groups && r >= 0; g++) {
		if (group_present[g])
			continue;
		r = stmt(c, sql_host_insert, &st, "sssssi", host_name, groups[g], nz(ip), host_id, nz(account_id), now);
		if (r >= 0)
			r = exec_st(c, st);
	}
	r = tx_end(c, r < 0 ? r : 1);
out:
	free(group_present);
	free(have);
	return r;
}

/* ---- envs ---- */

#define ENV_COLS                                                                                                       \
	"e.id, e.envName, e.stageName, e.stageType, e.deployId, e.deployType, d.alias, e.envState, e.priority, "       \
	"e.systemPriority, e.failurePolicy, e.isDocker, e.signingKey IS NOT NULL, e.maxParallel, e.maxParallelPct"
#define ENV_FROM " FROM envs e LEFT JOIN deploys d ON d.id = e.deployId "

static void env_from_row(sqlite3_stmt *st, int base, struct env_view *e)
{
	memset(e, 0, sizeof(*e));
	col_copy(st, base + 0, e->id, sizeof(e->id));
	col_copy(st, base + 1, e->env_name, sizeof(e->env_name));
	col_copy(st, base + 2, e->stage_name, sizeof(e->stage_name));
	e->stage_type = col_enum(st, base + 3, env_type_from_string, ENV_TYPE_DEFAULT);
	col_copy(st, base + 4, e->deploy_id, sizeof(e->deploy_id));
	e->deploy_type = col_enum(st, base + 5, deploy_type_from_string, -1);
	col_copy(st, base + 6, e->deploy_alias, sizeof(e->deploy_alias));
	e->env_state = col_enum(st, base + 7, env_state_from_string, ENV_STATE_NORMAL);
	e->priority = col_enum(st, base + 8, deploy_priority_from_string, DEPLOY_PRIORITY_NORMAL);
	e->system_priority = sqlite3_column_type(st, base + 9) == SQLITE_NULL ? 0 : sqlite3_column_int(st, base + 9);
	if (e->system_priority < 0)
		e->system_priority = 0;
	e->failure_policy = col_enum(st, base + 10, failure_policy_from_string, FAILURE_POLICY_HALT);
	e->is_docker = sqlite3_column_int(st, base + 11) != 0;
	e->has_signing_key = sqlite3_column_int(st, base + 12) != 0;
	e->max_parallel = sqlite3_column_int(st, base + 13);
	e->max_parallel_pct = sqlite3_column_int(st, base + 14);
	if (!e->deploy_id[0])
		e->deploy_type = -1;
}

/* two plain indexed lookups (one per reported group for tier 2): cheaper than one UNION over json_each */
static const char sql_capacity_host[] =
	"SELECT " ENV_COLS ENV_FROM "JOIN capacity c ON c.envId = e.id WHERE c.type = 'HOST' AND c.name = ?";
static const char sql_capacity_group[] =
	"SELECT " ENV_COLS ENV_FROM "JOIN capacity c ON c.envId = e.id WHERE c.type = 'GROUP' AND c.name = ?";

static int capacity_collect(struct pconn *c, const char *sql, const char *name, int tier, struct resolved_env **out,
			    size_t *n, size_t *cap)
{
	sqlite3_stmt *st;
	int r, rc;

	r = stmt(c, sql, &st, "s", name);
	if (r < 0)
		return r;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (*n == *cap) {
			size_t nc = *cap ? *cap * 2 : 4;
			struct resolved_env *no = realloc(*out, nc * sizeof(*no));
			if (!no) {
				sqlite3_reset(st);
				return -ENOMEM;
			}
			*out = no;
			*cap = nc;
		}
		(*out)[*n].tier = tier;
		env_from_row(st, 0, &(*out)[*n].view);
		(*n)++;
	}
	r = rc == SQLITE_DONE ? 0 : map_rc(c, rc);
	sqlite3_reset(st);
	return r;
}

int store_ping_capacity_envs(struct store_ping *p, const char *host_name, char *const *groups, size_t n_groups,
			     struct resolved_env **ret, size_t *ret_n)
{
	struct resolved_env *out = NULL;
	size_t n = 0, cap = 0;
	struct pconn *c;
	int r;

	IO_CONN(p, c);
	r = capacity_collect(c, sql_capacity_host, host_name, 1, &out, &n, &cap);
	for (size_t i = 0; i < n_groups && r >= 0; i++)
		r = capacity_collect(c, sql_capacity_group, groups[i], 2, &out, &n, &cap);
	if (r < 0) {
		free(out);
		return r;
	}
	*ret = out;
	*ret_n = n;
	return 0;
}

static const char sql_env_by_id[] = "SELECT " ENV_COLS ENV_FROM "WHERE e.id = ?";

int store_ping_env_by_id(struct store_ping *p, const char *id, struct env_view *ret)
{
	struct env_view e;
	struct pconn *c;
	sqlite3_stmt *st;
	int r, rc;

	IO_CONN(p, c);
	r = stmt(c, sql_env_by_id, &st, "s", id);
	if (r < 0)
		return r;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		env_from_row(st, 0, &e);
		r = 0;
	} else
		r = rc == SQLITE_DONE ? -ENOENT : map_rc(c, rc);
	sqlite3_reset(st);
	if (r < 0)
		return r;
	*ret = e;
	return 0;
}

int store_ping_envs_by_ids(struct store_ping *p, const char *const *ids, size_t n, struct env_view **ret,
			   size_t *ret_n)
{
	struct env_view *out;
	size_t m = 0;
	int r;

	out = calloc(n ? n : 1, sizeof(*out));
	if (!out)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		r = store_ping_env_by_id(p, ids[i], &out[m]);
		if (r == -ENOENT)
			continue;
		if (r < 0) {
			free(out);
			return r;
		}
		m++;
	}
	*ret = out;
	*ret_n = m;
	return 0;
}

/* ---- agent rows ---- */

#define AGENT_COLS                                                                                                     \
	"hostId, hostName, envId, deployId, deployStage, state, status, startDate, lastUpdateDate, lastOperator, "      \
	"lastErrno, failCount, firstDeploy, firstDeployDate, stageStartDate, containerHealthStatus, holdsSlot, "       \
	"removed, version"

static void row_from_stmt(sqlite3_stmt *st, struct agent_row *a)
{
	memset(a, 0, sizeof(*a));
	col_copy(st, 0, a->host_id, sizeof(a->host_id));
	col_copy(st, 1, a->host_name, sizeof(a->host_name));
	col_copy(st, 2, a->env_id, sizeof(a->env_id));
	col_copy(st, 3, a->deploy_id, sizeof(a->deploy_id));
	a->deploy_stage = col_enum(st, 4, deploy_stage_from_string, DEPLOY_STAGE_UNKNOWN);
	a->state = col_enum(st, 5, agent_state_from_string, AGENT_STATE_NORMAL);
	a->status = col_enum(st, 6, agent_status_from_string, AGENT_STATUS_UNKNOWN);
	a->start_date = sqlite3_column_int64(st, 7);
	a->last_update_date = sqlite3_column_int64(st, 8);
	col_copy(st, 9, a->last_operator, sizeof(a->last_operator));
	a->last_errno = sqlite3_column_int(st, 10);
	a->fail_count = sqlite3_column_int(st, 11);
	a->first_deploy = sqlite3_column_int(st, 12) != 0;
	a->first_deploy_date = sqlite3_column_int64(st, 13);
	a->stage_start_date = sqlite3_column_int64(st, 14);
	col_copy(st, 15, a->container_health_status, sizeof(a->container_health_status));
	a->holds_slot = sqlite3_column_int(st, 16) != 0;
	a->removed = sqlite3_column_int(st, 17) != 0;
	a->version = sqlite3_column_int64(st, 18);
}

static const char sql_agent_rows[] = "SELECT " AGENT_COLS " FROM agents WHERE hostId = ?";

int store_ping_agent_rows(struct store_ping *p, const char *host_id, struct agent_row **ret, size_t *ret_n)
{
	struct agent_row *out = NULL;
	size_t n = 0, cap = 0;
	struct pconn *c;
	sqlite3_stmt *st;
	int r, rc;

	IO_CONN(p, c);
	r = stmt(c, sql_agent_rows, &st, "s", host_id);
	if (r < 0)
		return r;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 4;
			struct agent_row *no = realloc(out, nc * sizeof(*no));
			if (!no) {
				r = -ENOMEM;
				break;
			}
			out = no;
			cap = nc;
		}
		row_from_stmt(st, &out[n++]);
	}
	if (r >= 0)
		r = rc == SQLITE_DONE ? 0 : map_rc(c, rc);
	sqlite3_reset(st);
	if (r < 0) {
		free(out);
		return r;
	}
	*ret = out;
	*ret_n = n;
	return 0;
}

/* ---- persisting ---- */

static const char sql_agent_insert[] =
	"INSERT INTO agents(" AGENT_COLS ") SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, "
	"?16, ?17, ?18, 1 WHERE EXISTS (SELECT 1 FROM envs WHERE id = ?3) ON CONFLICT(hostId, envId) DO NOTHING";
static const char sql_agent_update[] =
	"UPDATE agents SET hostName = ?2, deployId = ?4, deployStage = ?5, state = ?6, status = ?7, startDate = ?8, "
	"lastUpdateDate = ?9, lastOperator = ?10, lastErrno = ?11, failCount = ?12, firstDeploy = ?13, "
	"firstDeployDate = ?14, stageStartDate = ?15, containerHealthStatus = ?16, holdsSlot = ?17, removed = ?18, "
	"version = version + 1 WHERE hostId = ?1 AND envId = ?3 AND version = ?19";
static const char sql_agent_delete[] = "DELETE FROM agents WHERE hostId = ?1 AND envId = ?2 AND version = ?3";
static const char sql_agent_error_delete[] = "DELETE FROM agent_errors WHERE hostId = ?1 AND envId = ?2";
static const char sql_agent_error_upsert[] =
	"INSERT INTO agent_errors(hostId, hostName, envId, errorMessage) VALUES(?1, ?2, ?3, ?4) "
	"ON CONFLICT(hostId, envId) DO UPDATE SET hostName = ?2, errorMessage = ?4";
static const char sql_event_add[] = "INSERT INTO events(kind, envId, hostId, name, createdAt) VALUES(?, ?, ?, ?, ?)";

/* Bind the 18 row columns of an insert/update (and the version for an update). */
static int write_row(struct pconn *c, const struct agent_row *a, bool insert, int64_t expect_version)
{
	sqlite3_stmt *st;
	int r;

	r = prep(c, insert ? sql_agent_insert : sql_agent_update, &st);
	if (r < 0)
		return r;
#define B(x)                                                                                                           \
	do {                                                                                                           \
		int rc_ = (x);                                                                                         \
		if (rc_ != SQLITE_OK)                                                                                  \
			return map_rc(c, rc_);                                                                         \
	} while (0)
	B(sqlite3_bind_text(st, 1, a->host_id, -1, SQLITE_TRANSIENT));
	B(sqlite3_bind_text(st, 2, a->host_name[0] ? a->host_name : a->host_id, -1, SQLITE_TRANSIENT));
	B(sqlite3_bind_text(st, 3, a->env_id, -1, SQLITE_TRANSIENT));
	if (a->deploy_id[0])
		B(sqlite3_bind_text(st, 4, a->deploy_id, -1, SQLITE_TRANSIENT));
	else
		B(sqlite3_bind_null(st, 4));
	B(sqlite3_bind_text(st, 5, deploy_stage_to_string(a->deploy_stage), -1, SQLITE_STATIC));
	B(sqlite3_bind_text(st, 6, agent_state_to_string(a->state), -1, SQLITE_STATIC));
	B(sqlite3_bind_text(st, 7, agent_status_to_string(a->status), -1, SQLITE_STATIC));
	B(sqlite3_bind_int64(st, 8, a->start_date));
	B(sqlite3_bind_int64(st, 9, a->last_update_date));
	B(sqlite3_bind_text(st, 10, a->last_operator[0] ? a->last_operator : "system", -1, SQLITE_TRANSIENT));
	B(sqlite3_bind_int(st, 11, a->last_errno));
	B(sqlite3_bind_int(st, 12, a->fail_count));
	B(sqlite3_bind_int(st, 13, a->first_deploy));
	if (a->first_deploy_date)
		B(sqlite3_bind_int64(st, 14, a->first_deploy_date));
	else
		B(sqlite3_bind_null(st, 14));
	B(sqlite3_bind_int64(st, 15, a->stage_start_date));
	B(sqlite3_bind_text(st, 16, a->container_health_status, -1, SQLITE_TRANSIENT));
	B(sqlite3_bind_int(st, 17, a->holds_slot));
	B(sqlite3_bind_int(st, 18, a->removed));
	if (!insert)
		B(sqlite3_bind_int64(st, 19, expect_version));
#undef B
	return exec_st(c, st);
}

static int event_add(struct pconn *c, const char *kind, const char *env_id, const char *host_id, const char *name,
		     int64_t now)
{
	sqlite3_stmt *st;
	int r;

	r = stmt(c, sql_event_add, &st, "ssssi", kind, env_id, host_id, name, now);
	if (r < 0)
		return r;
	return exec_st(c, st);
}

int store_ping_persist(struct store_ping *p, const char *host_id, struct ping_write *writes, size_t n_writes,
		       struct ping_delete *deletes, size_t n_deletes)
{
	struct pconn *c;
	int64_t now = 0;
	int r, applied = 0;

	if (n_writes == 0 && n_deletes == 0)
		return 0;
	IO_CONN(p, c);
	r = tx_begin(c);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n_deletes && r >= 0; i++) {
		sqlite3_stmt *st;

		deletes[i].applied = false;
		r = stmt(c, sql_agent_delete, &st, "ssi", host_id, deletes[i].d->env_id, deletes[i].d->expect_version);
		if (r < 0)
			break;
		r = exec_st(c, st);
		if (r <= 0)
			continue;
		deletes[i].applied = true;
		applied++;
		r = stmt(c, sql_agent_error_delete, &st, "ss", host_id, deletes[i].d->env_id);
		if (r >= 0)
			r = exec_st(c, st);
	}
	for (size_t i = 0; i < n_writes && r >= 0; i++) {
		const struct engine_write *w = writes[i].w;

		writes[i].applied = false;
		if (w->row.last_update_date > now)
			now = w->row.last_update_date;
		r = write_row(c, &w->row, w->insert, w->expect_version);
		if (r <= 0)
			continue;
		writes[i].applied = true;
		applied++;
		if (writes[i].error_message && writes[i].error_message[0]) {
			sqlite3_stmt *st;

			r = stmt(c, sql_agent_error_upsert, &st, "ssss", w->row.host_id,
				 w->row.host_name[0] ? w->row.host_name : w->row.host_id, w->row.env_id,
				 writes[i].error_message);
			if (r >= 0)
				r = exec_st(c, st);
		}
	}
	/* SLOT wake events: a released slot or a deleted row (§5.11) */
	for (size_t i = 0; i < n_writes && r >= 0; i++)
		if (writes[i].applied && writes[i].old_holds_slot && !engine_row_occupies_slot(&writes[i].w->row))
			r = event_add(c, "SLOT", writes[i].w->row.env_id, NULL, NULL, now);
	for (size_t i = 0; i < n_deletes && r >= 0; i++)
		if (deletes[i].applied)
			r = event_add(c, "SLOT", deletes[i].d->env_id, NULL, NULL, now);
	r = tx_end(c, r < 0 ? r : applied);
	if (r < 0) {
		for (size_t i = 0; i < n_writes; i++)
			writes[i].applied = false;
		for (size_t i = 0; i < n_deletes; i++)
			deletes[i].applied = false;
	}
	return r;
}

/* ---- admission ---- */

static const char sql_adm_env[] = "SELECT deployId, maxParallel, maxParallelPct FROM envs WHERE id = ?";
static const char sql_adm_sched[] =
	"SELECT state, currentSession, totalSessions, cooldownTimes, hostNumbers, stateStartTime FROM schedules "
	"WHERE envId = ?";
static const char sql_adm_counts[] =
	"SELECT COALESCE(SUM(holdsSlot = 1 OR (state = 'STOP' AND deployStage = 'STOPPING' AND removed = 0)), 0), "
	"COALESCE(SUM(firstDeploy = 0 AND removed = 0), 0), "
	"COALESCE(SUM(deployId = ?2), 0), "
	"COALESCE(SUM(removed = 0 AND state NOT IN ('UNREACHABLE', 'DELETE')), 0) FROM agents WHERE envId = ?1";

int store_ping_admit(struct store_ping *p, const struct agent_row *row, bool insert, int64_t expect_version,
		     int max_parallel_threshold, bool *ret_full)
{
	char deploy_id[ENGINE_ID_SIZE] = "", cooldown[HB_FIELD_SIZE] = "", hosts[HB_FIELD_SIZE] = "";
	struct schedule_view sched = { 0 };
	int max_parallel = 1, max_pct = 0;
	int64_t occupied = 0, existing = 0, on_deploy = 0, total = 0;
	struct pconn *c;
	sqlite3_stmt *st;
	int r, rc;

	if (ret_full)
		*ret_full = false;
	IO_CONN(p, c);
	r = tx_begin(c);
	if (r < 0)
		return r;

	r = stmt(c, sql_adm_env, &st, "s", row->env_id);
	if (r < 0)
		goto out;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		col_copy(st, 0, deploy_id, sizeof(deploy_id));
		max_parallel = sqlite3_column_int(st, 1);
		max_pct = sqlite3_column_int(st, 2);
	}
	r = rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : map_rc(c, rc);
	sqlite3_reset(st);
	if (r == -ENOENT) {
		r = 0; /* the stage is gone: refuse */
		goto out;
	}
	if (r < 0)
		goto out;
	if (!streq(deploy_id, row->deploy_id))
		goto out; /* a new deploy arrived meanwhile: the next ping decides again */

	r = stmt(c, sql_adm_sched, &st, "s", row->env_id);
	if (r < 0)
		goto out;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		sched.present = true;
		sched.state = col_enum(st, 0, schedule_state_from_string, SCHEDULE_STATE_NOT_STARTED);
		sched.current_session = sqlite3_column_int(st, 1);
		sched.total_sessions = sqlite3_column_int(st, 2);
		col_copy(st, 3, cooldown, sizeof(cooldown));
		col_copy(st, 4, hosts, sizeof(hosts));
		sched.cooldown_times = cooldown;
		sched.host_numbers = hosts;
		sched.state_start_time = sqlite3_column_int64(st, 5);
	}
	r = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : map_rc(c, rc);
	sqlite3_reset(st);
	if (r < 0)
		goto out;

	r = stmt(c, sql_adm_counts, &st, "ss", row->env_id, row->deploy_id);
	if (r < 0)
		goto out;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		occupied = sqlite3_column_int64(st, 0);
		existing = sqlite3_column_int64(st, 1);
		on_deploy = sqlite3_column_int64(st, 2);
		total = sqlite3_column_int64(st, 3);
	}
	r = rc == SQLITE_ROW ? 0 : map_rc(c, rc);
	sqlite3_reset(st);
	if (r < 0)
		goto out;

	if (!engine_schedule_admits(&sched, (int)on_deploy, (int)total))
		goto out;
	if (!engine_admission_allows((int)occupied, (int)existing, max_parallel, max_pct, max_parallel_threshold)) {
		if (ret_full)
			*ret_full = true;
		goto out;
	}
	r = write_row(c, row, insert, expect_version);
	if (r < 0)
		goto out;
	r = r > 0 ? 1 : 0; /* a lost condition refuses */
out:
	if (r <= 0) {
		/* refusals write nothing: roll back */
		(void)sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
		return r;
	}
	return tx_end(c, r);
}

/* ---- attachments ---- */

static const char sql_deploy_build[] =
	"SELECT b.id, b.name, b.artifactUrl, b.type, b.repo, b.branch, b.\"commit\", b.commitShort, b.commitInfo, "
	"b.publishInfo, b.publisher, b.artifactSha256, b.artifactSignature, b.commitDate, b.publishDate "
	"FROM deploys d JOIN builds b ON b.id = d.buildId WHERE d.id = ?";

static int col_dup(sqlite3_stmt *st, int i, char **ret)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	*ret = NULL;
	if (!t)
		return 0;
	*ret = strdup((const char *)t);
	return *ret ? 0 : -ENOMEM;
}

int store_ping_deploy_build(struct store_ping *p, const char *deploy_id, struct build *ret)
{
	struct build b = { 0 };
	struct pconn *c;
	sqlite3_stmt *st;
	int r, rc;

	IO_CONN(p, c);
	r = stmt(c, sql_deploy_build, &st, "s", deploy_id);
	if (r < 0)
		return r;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		char **f[] = { &b.id, &b.name, &b.artifact_url, &b.type, &b.repo, &b.branch, &b.commit,
			       &b.commit_short, &b.commit_info, &b.publish_info, &b.publisher, &b.artifact_sha256,
			       &b.artifact_signature };

		for (size_t i = 0; i < ELEMENTSOF(f) && r >= 0; i++)
			r = col_dup(st, (int)i, f[i]);
		b.commit_date = sqlite3_column_int64(st, 13);
		b.publish_date = sqlite3_column_int64(st, 14);
	} else
		r = rc == SQLITE_DONE ? -ENOENT : map_rc(c, rc);
	sqlite3_reset(st);
	if (r < 0) {
		build_release(&b);
		return r;
	}
	*ret = b;
	return 0;
}

static const char sql_env_config[] = "SELECT value FROM env_configs WHERE envId = ? AND kind = ?";

int store_ping_env_config(struct store_ping *p, const char *env_id, const char *kind, json_t **ret)
{
	json_t *j = NULL;
	struct pconn *c;
	sqlite3_stmt *st;
	int r, rc;

	IO_CONN(p, c);
	r = stmt(c, sql_env_config, &st, "ss", env_id, kind);
	if (r < 0)
		return r;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(st, 0);

		j = t ? json_loads(t, 0, NULL) : NULL;
		r = j && json_is_object(j) ? 0 : -EIO;
	} else
		r = rc == SQLITE_DONE ? -ENOENT : map_rc(c, rc);
	sqlite3_reset(st);
	if (r < 0) {
		json_decref(j);
		return r;
	}
	*ret = j;
	return 0;
}

static const char sql_signing_key[] = "SELECT signingKey FROM envs WHERE id = ?";

int store_ping_signing_key(struct store_ping *p, const char *env_id, char **ret)
{
	char *k = NULL;
	struct pconn *c;
	sqlite3_stmt *st;
	int r, rc;

	IO_CONN(p, c);
	r = stmt(c, sql_signing_key, &st, "s", env_id);
	if (r < 0)
		return r;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		r = col_dup(st, 0, &k);
		if (r >= 0 && !k)
			r = -ENOENT;
	} else
		r = rc == SQLITE_DONE ? -ENOENT : map_rc(c, rc);
	sqlite3_reset(st);
	if (r < 0) {
		free(k);
		return r;
	}
	*ret = k;
	return 0;
}

/* ---- events ---- */

static const char sql_event_last[] = "SELECT COALESCE(MAX(seq), 0) FROM events";
static const char sql_event_poll[] =
	"SELECT seq, kind, envId, hostId, name FROM events WHERE seq > ? ORDER BY seq LIMIT ?";

int store_ping_event_last_seq(struct store_ping *p, int64_t *ret)
{
	struct pconn *c;
	sqlite3_stmt *st;
	int64_t v = 0;
	int r, rc;

	IO_CONN(p, c);
	r = stmt(c, sql_event_last, &st, "");
	if (r < 0)
		return r;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	r = rc == SQLITE_ROW ? 0 : map_rc(c, rc);
	sqlite3_reset(st);
	if (r < 0)
		return r;
	*ret = v;
	return 0;
}

int store_ping_event_poll(struct store_ping *p, int64_t after, struct ping_event *ev, size_t max)
{
	struct pconn *c;
	sqlite3_stmt *st;
	size_t n = 0;
	int r, rc = SQLITE_DONE;

	IO_CONN(p, c);
	r = stmt(c, sql_event_poll, &st, "ii", after, (int64_t)max);
	if (r < 0)
		return r;
	while (n < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		ev[n].seq = sqlite3_column_int64(st, 0);
		col_copy(st, 1, ev[n].kind, sizeof(ev[n].kind));
		col_copy(st, 2, ev[n].env_id, sizeof(ev[n].env_id));
		col_copy(st, 3, ev[n].host_id, sizeof(ev[n].host_id));
		col_copy(st, 4, ev[n].name, sizeof(ev[n].name));
		n++;
	}
	r = n == max || rc == SQLITE_DONE ? 0 : map_rc(c, rc);
	sqlite3_reset(st);
	if (r < 0)
		return r;
	return (int)n;
}

int store_ping_event_add(struct store_ping *p, const char *kind, const char *env_id, const char *host_id,
			 const char *name, int64_t now)
{
	struct pconn *c;
	int r;

	IO_CONN(p, c);
	r = event_add(c, kind, env_id, host_id, name, now);
	return r < 0 ? r : 0;
}

static const char sql_event_purge[] = "DELETE FROM events WHERE createdAt < ?";

int store_ping_event_purge(struct store_ping *p, int64_t before)
{
	struct pconn *c;
	sqlite3_stmt *st;
	int r;

	IO_CONN(p, c);
	r = stmt(c, sql_event_purge, &st, "i", before);
	if (r < 0)
		return r;
	r = exec_st(c, st);
	return r < 0 ? r : 0;
}
