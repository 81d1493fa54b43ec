/* SPDX-License-Identifier: Apache-2.0 */
/* store/store.c: backend lookup by DSN scheme and the wrappers every caller uses (only this file
 * touches s->ops). */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "db.h"
#include "store.h"
#include "hash.h"
#include "util.h"
#include "banned.h"

extern const struct store_ops store_sqlite_ops;
#ifdef WITH_POSTGRES
extern const struct store_ops store_pg_ops;
#endif

static const struct {
	const char *prefix;
	const struct store_ops *ops;
} backends[] = {
	{ "sqlite:", &store_sqlite_ops },
#ifdef WITH_POSTGRES
	{ "postgresql://", &store_pg_ops },
	{ "postgres://", &store_pg_ops },
#endif
};

static const char *const config_kind_names[_STORE_CONFIG_MAX] = {
	[STORE_CONFIG_SCRIPT] = "script", [STORE_CONFIG_AGENT] = "agent", [STORE_CONFIG_METRICS] = "metrics",
	[STORE_CONFIG_ALARMS] = "alarms", [STORE_CONFIG_WEBHOOKS] = "webhooks",
};

const char *store_config_kind_name(enum store_config_kind k)
{
	if ((int)k < 0 || k >= _STORE_CONFIG_MAX)
		return NULL;
	return config_kind_names[k];
}

int store_open(const char *dsn, struct store **ret)
{
	for (size_t i = 0; i < ELEMENTSOF(backends); i++)
		if (startswith(dsn, backends[i].prefix))
			return backends[i].ops->open(dsn, ret);
#ifdef WITH_POSTGRES
	/* a libpq keyword/value string (host=... dbname=...) */
	if (db_dsn_supported(dsn))
		return store_pg_ops.open(dsn, ret);
#endif
	return -EPROTONOSUPPORT;
}

void store_free(struct store *s)
{
	if (s)
		s->ops->close(s);
}

const char *store_errmsg(struct store *s)
{
	return s->ops->errmsg(s);
}

int store_health(struct store *s)
{
	return s->ops->health(s);
}

int store_schema_version(struct store *s, int *ret)
{
	return s->ops->schema_version(s, ret);
}

int store_token_bootstrap(struct store *s, const json_t *token)
{
	return s->ops->token_bootstrap(s, token);
}

/* Token lookups by hash happen on every authenticated request (every ping), so the last answers are
 * kept for TOKEN_CACHE_TTL_MS (SQLite only: one server process per database). Any token write empties
 * the cache at once (generation counter). With PostgreSQL (several replicas) nothing is cached. Expiry is
 * still checked by the caller on every request, against the cached expireDate. Misses (unknown
 * tokens) are never cached, so a new token works immediately. */
#define TOKEN_CACHE_SLOTS 64
#define TOKEN_CACHE_TTL_MS 1000

struct token_cache_entry {
	const struct store *store;
	char hash[65];
	json_t *row;
	int64_t at_mono_ms;
	uint64_t generation;
};

static pthread_mutex_t token_cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct token_cache_entry token_cache[TOKEN_CACHE_SLOTS];
static uint64_t token_cache_generation;

static size_t token_cache_slot(const char *hash_hex)
{
	return (size_t)((uint64_t)hash_lock_key(hash_hex) % TOKEN_CACHE_SLOTS);
}

static void token_cache_invalidate(void)
{
	pthread_mutex_lock(&token_cache_lock);
	token_cache_generation++;
	pthread_mutex_unlock(&token_cache_lock);
}

int store_token_get_by_hash(struct store *s, const char *hash_hex, json_t **ret)
{
	struct token_cache_entry *e;
	json_t *row = NULL;
	uint64_t gen;
	int r;

	/* several replicas share a PostgreSQL database: a token revoked through one must stop working on the
	 * next request to any other, so only the single-process SQLite backend caches */
	if (strlen(hash_hex) != 64 || s->ops != &store_sqlite_ops)
		return s->ops->token_get_by_hash(s, hash_hex, ret);
	e = &token_cache[token_cache_slot(hash_hex)];
	pthread_mutex_lock(&token_cache_lock);
	gen = token_cache_generation;
	if (e->row && e->store == s && e->generation == gen && streq(e->hash, hash_hex) &&
	    mono_ms() - e->at_mono_ms < TOKEN_CACHE_TTL_MS)
		row = json_incref(e->row); /* shared, read only (jansson's reference counts are atomic) */
	pthread_mutex_unlock(&token_cache_lock);
	if (row) {
		*ret = row;
		return 0;
	}
	r = s->ops->token_get_by_hash(s, hash_hex, &row);
	if (r < 0)
		return r;
	pthread_mutex_lock(&token_cache_lock);
	if (gen == token_cache_generation) { /* no write raced with our read */
		json_decref(e->row);
		e->row = json_incref(row);
		e->store = s;
		memcpy(e->hash, hash_hex, 65);
		e->at_mono_ms = mono_ms();
		e->generation = gen;
	}
	pthread_mutex_unlock(&token_cache_lock);
	*ret = row;
	return 0;
}

/* ---- security (§4.10) ---- */
int store_token_list(struct store *s, const char *type, const char *resource, json_t **ret)
{
	return s->ops->token_list(s, type, resource, ret);
}

int store_token_get(struct store *s, const char *type, const char *resource, const char *name, json_t **ret)
{
	return s->ops->token_get(s, type, resource, name, ret);
}

int store_token_insert(struct store *s, const json_t *token)
{
	int r = s->ops->token_insert(s, token);

	token_cache_invalidate();
	return r;
}

int store_token_update(struct store *s, const json_t *token)
{
	int r = s->ops->token_update(s, token);

	token_cache_invalidate();
	return r;
}

int store_token_delete(struct store *s, const char *type, const char *resource, const char *name)
{
	int r = s->ops->token_delete(s, type, resource, name);

	token_cache_invalidate();
	return r;
}

int store_binding_list(struct store *s, const char *kind, const char *type, const char *resource, json_t **ret)
{
	return s->ops->binding_list(s, kind, type, resource, ret);
}

int store_binding_get(struct store *s, const char *kind, const char *type, const char *resource, const char *name,
		      json_t **ret)
{
	return s->ops->binding_get(s, kind, type, resource, name, ret);
}

int store_binding_of(struct store *s, const char *kind, const char *name, json_t **ret)
{
	return s->ops->binding_of(s, kind, name, ret);
}

int store_binding_insert(struct store *s, const char *kind, const json_t *binding)
{
	return s->ops->binding_insert(s, kind, binding);
}

int store_binding_update(struct store *s, const char *kind, const json_t *binding)
{
	return s->ops->binding_update(s, kind, binding);
}

int store_binding_delete(struct store *s, const char *kind, const char *type, const char *resource, const char *name)
{
	return s->ops->binding_delete(s, kind, type, resource, name);
}

int store_build_insert(struct store *s, const json_t *build)
{
	return s->ops->build_insert(s, build);
}

int store_build_get(struct store *s, const char *id, json_t **ret)
{
	return s->ops->build_get(s, id, ret);
}

int store_build_list(struct store *s, const struct build_query *q, json_t **ret)
{
	return s->ops->build_list(s, q, ret);
}

int store_build_names(struct store *s, const char *filter, int64_t offset, int64_t limit, json_t **ret)
{
	return s->ops->build_names(s, filter, offset, limit, ret);
}

int store_build_branches(struct store *s, const char *name, json_t **ret)
{
	return s->ops->build_branches(s, name, ret);
}

int store_build_delete(struct store *s, const char *id)
{
	return s->ops->build_delete(s, id);
}

int store_env_insert(struct store *s, const json_t *env, const json_t *history)
{
	return s->ops->env_insert(s, env, history);
}

int store_env_get(struct store *s, const char *env_name, const char *stage_name, json_t **ret)
{
	return s->ops->env_get(s, env_name, stage_name, ret);
}

int store_env_get_by_id(struct store *s, const char *id, json_t **ret)
{
	return s->ops->env_get_by_id(s, id, ret);
}

int store_env_list(struct store *s, const char *env_name, const char *stage_type, const char *group, json_t **ret)
{
	return s->ops->env_list(s, env_name, stage_type, group, ret);
}

int store_env_names(struct store *s, const char *filter, int64_t offset, int64_t limit, json_t **ret)
{
	return s->ops->env_names(s, filter, offset, limit, ret);
}

int store_env_update(struct store *s, const json_t *env, const json_t *history, bool release_parked)
{
	return s->ops->env_update(s, env, history, release_parked);
}

int store_env_delete(struct store *s, const char *id)
{
	int r = s->ops->env_delete(s, id);

	token_cache_invalidate(); /* the last stage takes the env's tokens with it */
	return r;
}

int store_env_set_state(struct store *s, const char *id, const char *env_state, bool resume_now, const json_t *history)
{
	return s->ops->env_set_state(s, id, env_state, resume_now, history);
}

int store_history_list(struct store *s, const char *env_id, int64_t offset, int64_t limit, json_t **ret)
{
	return s->ops->history_list(s, env_id, offset, limit, ret);
}

int store_capacity_get(struct store *s, const char *env_id, const char *type, json_t **ret)
{
	return s->ops->capacity_get(s, env_id, type, ret);
}

int store_capacity_change(struct store *s, const char *env_id, const char *type, enum store_capacity_op op,
			  const json_t *names, const json_t *history, enum store_claim claim,
			  struct store_claim_refusal *refused)
{
	return s->ops->capacity_change(s, env_id, type, op, names, history, claim, refused);
}

int store_config_get(struct store *s, const char *env_id, enum store_config_kind kind, json_t **ret)
{
	return s->ops->config_get(s, env_id, kind, ret);
}

int store_config_put(struct store *s, const char *env_id, enum store_config_kind kind, const json_t *value, const json_t *history)
{
	return s->ops->config_put(s, env_id, kind, value, history);
}

int store_deploy_create(struct store *s, const struct deploy_create *c, json_t **ret)
{
	return s->ops->deploy_create(s, c, ret);
}

int store_deploy_get(struct store *s, const char *id, json_t **ret)
{
	return s->ops->deploy_get(s, id, ret);
}

int store_deploy_list(struct store *s, const json_t *query, json_t **ret)
{
	return s->ops->deploy_list(s, query, ret);
}

int store_deploy_set_acceptance(struct store *s, const char *id, const char *status, const char *description, int64_t now)
{
	return s->ops->deploy_set_acceptance(s, id, status, description, now);
}

int store_deploy_count_since(struct store *s, int64_t since, int64_t *ret)
{
	return s->ops->deploy_count_since(s, since, ret);
}

int store_deploy_list_succeeded(struct store *s, const char *env_id, json_t **ret)
{
	return s->ops->deploy_list_succeeded(s, env_id, ret);
}

int store_deploy_counts(struct store *s, const char *env_id, const char *deploy_id, struct deploy_counts *ret)
{
	return s->ops->deploy_counts(s, env_id, deploy_id, ret);
}

int store_deploy_cas(struct store *s, const json_t *deploy, const char *old_state)
{
	return s->ops->deploy_cas(s, deploy, old_state);
}

int store_deploy_finalize(struct store *s, const char *id)
{
	return s->ops->deploy_finalize(s, id);
}

int store_deploy_append_description(struct store *s, const char *id, const char *text)
{
	return s->ops->deploy_append_description(s, id, text);
}

int store_agent_list_env(struct store *s, const char *env_id, json_t **ret)
{
	return s->ops->agent_list_env(s, env_id, ret);
}

/* JSON text instead of a DOM for the large host lists (the same bytes as json_dumps of store_agent_list_env). */
int store_agent_list_env_text(struct store *s, const char *env_id, struct buf *out)
{
	return s->ops->agent_list_env_text(s, env_id, out);
}

int store_agent_list_host(struct store *s, const char *host_name, const char *host_id, json_t **ret)
{
	return s->ops->agent_list_host(s, host_name, host_id, ret);
}

int store_agent_error_get(struct store *s, const char *env_id, const char *host_name, json_t **ret)
{
	return s->ops->agent_error_get(s, env_id, host_name, ret);
}

int store_agent_action(struct store *s, const char *env_id, const json_t *host_ids, enum store_agent_action a, const char *operator_name, int64_t now)
{
	return s->ops->agent_action(s, env_id, host_ids, a, operator_name, now);
}

int store_agent_reset_failed(struct store *s, const char *env_id, const char *deploy_id, const char *operator_name, int64_t now)
{
	return s->ops->agent_reset_failed(s, env_id, deploy_id, operator_name, now);
}

int store_agent_count(struct store *s, const char *env_id, enum store_agent_count what, int64_t *ret)
{
	return s->ops->agent_count(s, env_id, what, ret);
}

int store_agent_total(struct store *s, const char *env_id, int64_t *ret)
{
	return s->ops->agent_total(s, env_id, ret);
}

int store_agent_host_count(struct store *s, int64_t *ret)
{
	return s->ops->agent_host_count(s, ret);
}

int store_host_list_env(struct store *s, const char *env_id, const char *host_name, json_t **ret)
{
	return s->ops->host_list_env(s, env_id, host_name, ret);
}

int store_host_list(struct store *s, const char *host_name, const char *host_id, json_t **ret)
{
	return s->ops->host_list(s, host_name, host_id, ret);
}

int store_host_stop(struct store *s, const char *env_id, const json_t *host_ids, bool replace, const char *operator_name, int64_t now)
{
	return s->ops->host_stop(s, env_id, host_ids, replace, operator_name, now);
}

int store_host_register(struct store *s, const json_t *host, enum store_claim claim,
			struct store_claim_refusal *refused)
{
	return s->ops->host_register(s, host, claim, refused);
}

int store_host_update(struct store *s, const char *host_id, const json_t *patch, int64_t now)
{
	return s->ops->host_update(s, host_id, patch, now);
}

int store_host_active(struct store *s, const json_t *host_ids, json_t **ret)
{
	return s->ops->host_active(s, host_ids, ret);
}

int store_progress_lists(struct store *s, const char *env_id, json_t **ret_missing, json_t **ret_provisioning, json_t **ret_removed)
{
	return s->ops->progress_lists(s, env_id, ret_missing, ret_provisioning, ret_removed);
}

int store_tag_insert(struct store *s, const json_t *tag)
{
	return s->ops->tag_insert(s, tag);
}

int store_tag_list_target(struct store *s, const char *target_id, int64_t limit, json_t **ret)
{
	return s->ops->tag_list_target(s, target_id, limit, ret);
}

int store_promote_get(struct store *s, const char *env_id, json_t **ret)
{
	return s->ops->promote_get(s, env_id, ret);
}

int store_promote_put(struct store *s, const json_t *promote, const json_t *history)
{
	return s->ops->promote_put(s, promote, history);
}

int store_schedule_get(struct store *s, const char *env_id, json_t **ret)
{
	return s->ops->schedule_get(s, env_id, ret);
}

int store_schedule_put(struct store *s, const json_t *schedule)
{
	return s->ops->schedule_put(s, schedule);
}

int store_event_add(struct store *s, const char *kind, const char *env_id, const char *host_id, const char *name)
{
	return s->ops->event_add(s, kind, env_id, host_id, name);
}

int store_event_poll(struct store *s, int64_t after_seq, int64_t limit, json_t **ret)
{
	return s->ops->event_poll(s, after_seq, limit, ret);
}

int store_event_last_seq(struct store *s, int64_t *ret)
{
	return s->ops->event_last_seq(s, ret);
}

int store_event_purge(struct store *s, int64_t before)
{
	return s->ops->event_purge(s, before);
}

int store_env_list_transition(struct store *s, json_t **ret)
{
	return s->ops->env_list_transition(s, ret);
}

int store_worker_claim(struct store *s, const char *unit, int64_t now, int64_t min_interval_ms)
{
	return s->ops->worker_claim(s, unit, now, min_interval_ms);
}

int store_heartbeat_last_seen(struct store *s, const char *host_id, int64_t *ret)
{
	return s->ops->heartbeat_last_seen(s, host_id, ret);
}

int store_janitor_unreachable(struct store *s, int64_t silent_before, int64_t now, int64_t *ret_changed)
{
	return s->ops->janitor_unreachable(s, silent_before, now, ret_changed);
}

int store_janitor_release_slots(struct store *s, int64_t silent_before, int64_t now, int64_t *ret_changed)
{
	return s->ops->janitor_release_slots(s, silent_before, now, ret_changed);
}

int store_janitor_expire(struct store *s, int64_t silent_before, int64_t *ret_deleted)
{
	return s->ops->janitor_expire(s, silent_before, ret_deleted);
}

int store_retention_run(struct store *s, int64_t now, int64_t build_keep, int64_t build_days)
{
	return s->ops->retention_run(s, now, build_keep, build_days);
}

int store_stats(struct store *s, json_t **ret)
{
	return s->ops->stats(s, ret);
}

int store_tag_get(struct store *s, const char *id, json_t **ret)
{
	return s->ops->tag_get(s, id, ret);
}

int store_tag_delete(struct store *s, const char *id)
{
	return s->ops->tag_delete(s, id);
}

int store_tag_list_value(struct store *s, const char *value, int64_t limit, json_t **ret)
{
	return s->ops->tag_list_value(s, value, limit, ret);
}

int store_env_set_enabled(struct store *s, const char *id, const char *state, const json_t *tag,
			  const char *operator_name, const char *change)
{
	return s->ops->env_set_enabled(s, id, state, tag, operator_name, change);
}

int store_schedule_delete(struct store *s, const char *env_id)
{
	return s->ops->schedule_delete(s, env_id);
}

int store_history_add(struct store *s, const json_t *history)
{
	return s->ops->history_add(s, history);
}

int store_promote_list_auto(struct store *s, json_t **ret)
{
	return s->ops->promote_list_auto(s, ret);
}
