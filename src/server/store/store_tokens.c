/* SPDX-License-Identifier: Apache-2.0 */
/* store/store_tokens.c: API tokens (§4.10) and the cache of token lookups by hash; on PostgreSQL every token write
 * is NOTIFYed so that each replica's cache is emptied.
 * SQL is static text with placeholders only (store_sql.h); does not log. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include "hash.h"
#include "jsonutil.h"
#include "store_sql.h"
#include "util.h"
#include "banned.h"

static const char sql_token_count[] = "SELECT count(*) FROM tokens";
static const char sql_token_insert[] =
	"INSERT INTO tokens(id, name, resource, type, role, expireDate, tokenHash, createDate) VALUES(?,?,?,?,?,?,?,?)";
static const char sql_token_by_hash[] =
	"SELECT id, name, resource, type, role, expireDate, createDate FROM tokens WHERE tokenHash = ?";

int store_token_bootstrap(struct store *s, const json_t *t)
{
	int64_t n;
	int r;
	TX_OR_FAIL(c, s);

	r = db_int(c, sql_token_count, &n, NULL);
	if (r >= 0 && n == 0) {
		r = db_exec(c, sql_token_insert, "jjjjjjjj", json_object_get(t, "id"), json_object_get(t, "name"),
			   json_object_get(t, "resource"), json_object_get(t, "type"), json_object_get(t, "role"),
			   json_object_get(t, "expireDate"), json_object_get(t, "tokenHash"),
			   json_object_get(t, "createDate"));
		if (r >= 0)
			r = store_tx_tokens_written(c);
		if (r >= 0)
			r = 1;
	} else if (r >= 0)
		r = 0;
	return db_end(c, r);
}

static int token_get_by_hash_db(struct store *s, const char *hash, json_t **ret)
{
	CONN_OR_FAIL(c, s);
	return db_row(c, sql_token_by_hash, ret, "s", hash);
}

static const char sql_token_list[] = "SELECT id, name, resource, type, role, expireDate, createDate FROM tokens "
				     "WHERE type = ? AND resource = ? ORDER BY name";
static const char sql_token_get[] = "SELECT id, name, resource, type, role, expireDate, createDate FROM tokens "
				    "WHERE type = ? AND resource = ? AND name = ?";
static const char sql_token_update[] =
	"UPDATE tokens SET role = ?, expireDate = ? WHERE type = ? AND resource = ? AND name = ?";
static const char sql_token_delete[] = "DELETE FROM tokens WHERE type = ? AND resource = ? AND name = ?";
int store_token_list(struct store *s, const char *type, const char *resource, json_t **ret)
{
	CONN_OR_FAIL(c, s);
	return db_list(c, false, sql_token_list, ret, "ss", type, resource);
}

int store_token_get(struct store *s, const char *type, const char *resource, const char *name, json_t **ret)
{
	CONN_OR_FAIL(c, s);
	return db_row(c, sql_token_get, ret, "sss", type, resource, name);
}

/* The end of every write to the tokens table: its notification in the same transaction (delivered to every
 * replica's listener when it commits), the commit, and this process's cache emptied at once. */
static int token_write_end(struct db_conn *c, int r)
{
	if (r >= 0)
		r = store_tx_tokens_written(c);
	r = db_end(c, r < 0 ? r : 0);
	store_token_cache_invalidate();
	return r;
}

/* Token lookups by hash happen on every authenticated request (every ping), so the last answers are kept for
 * TOKEN_CACHE_TTL_MS. A write to the tokens table empties the cache (a generation counter): this process's own
 * write at once; on PostgreSQL another replica's write when its notification arrives (store.h), and an answer is
 * used only while the listener has proved itself fresh (token_fresh_ms at most STORE_LISTEN_STALE_MS old), so a
 * write committed by another replica is missed for at most that long even if its notification is late or lost.
 * Expiry is still checked by the caller on every request, against the cached expireDate. Misses (unknown tokens)
 * are never cached, so a new token works immediately. The age of an entry counts from before the read that
 * filled it, so an answer is never older than TOKEN_CACHE_TTL_MS, whatever changed the table. */
#define TOKEN_CACHE_SLOTS 64
#define TOKEN_CACHE_TTL_MS 1000

struct token_cache_entry {
	const struct store *store;
	char hash[65];
	json_t *row;
	int64_t read_mono_ms;
	uint64_t generation;
};

static pthread_mutex_t token_cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct token_cache_entry token_cache[TOKEN_CACHE_SLOTS];
static uint64_t token_cache_generation;

static size_t token_cache_slot(const char *hash_hex)
{
	return (size_t)((uint64_t)hash_lock_key(hash_hex) % TOKEN_CACHE_SLOTS);
}

void store_token_cache_invalidate(void)
{
	pthread_mutex_lock(&token_cache_lock);
	token_cache_generation++;
	pthread_mutex_unlock(&token_cache_lock);
}

void store_token_cache_fresh(struct store *s, int64_t since_mono_ms)
{
	__atomic_store_n(&s->token_fresh_ms, since_mono_ms, __ATOMIC_RELEASE);
}

/* SQLite: one server process per database sees every write; PostgreSQL: only while the listener is fresh */
static bool token_cache_usable(struct store *s, int64_t mono)
{
	return s->dialect == DB_SQLITE ||
	       mono - __atomic_load_n(&s->token_fresh_ms, __ATOMIC_ACQUIRE) < STORE_LISTEN_STALE_MS;
}

int store_token_get_by_hash(struct store *s, const char *hash_hex, json_t **ret)
{
	struct token_cache_entry *e;
	json_t *row = NULL;
	int64_t mono = mono_ms();
	uint64_t gen;
	int r;

	if (strlen(hash_hex) != 64)
		return token_get_by_hash_db(s, hash_hex, ret);
	e = &token_cache[token_cache_slot(hash_hex)];
	pthread_mutex_lock(&token_cache_lock);
	gen = token_cache_generation;
	if (e->row && e->store == s && e->generation == gen && streq(e->hash, hash_hex) &&
	    mono - e->read_mono_ms < TOKEN_CACHE_TTL_MS && token_cache_usable(s, mono))
		row = json_incref(e->row); /* shared, read only (jansson's reference counts are atomic) */
	pthread_mutex_unlock(&token_cache_lock);
	if (row) {
		*ret = row;
		return 0;
	}
	r = token_get_by_hash_db(s, hash_hex, &row);
	if (r < 0)
		return r;
	pthread_mutex_lock(&token_cache_lock);
	if (gen == token_cache_generation) { /* no write was handled since before our read */
		json_decref(e->row);
		e->row = json_incref(row);
		e->store = s;
		memcpy(e->hash, hash_hex, 65);
		e->read_mono_ms = mono;
		e->generation = gen;
	}
	pthread_mutex_unlock(&token_cache_lock);
	*ret = row;
	return 0;
}

int store_token_insert(struct store *s, const json_t *t)
{
	int r;
	TX_OR_FAIL(c, s);

	r = db_exec(c, sql_token_insert, "jjjjjjjj", json_object_get(t, "id"), json_object_get(t, "name"),
		    json_object_get(t, "resource"), json_object_get(t, "type"), json_object_get(t, "role"),
		    json_object_get(t, "expireDate"), json_object_get(t, "tokenHash"), json_object_get(t, "createDate"));
	return token_write_end(c, r);
}

int store_token_update(struct store *s, const json_t *t)
{
	int r;
	TX_OR_FAIL(c, s);

	r = db_exec(c, sql_token_update, "jjjjj", json_object_get(t, "role"), json_object_get(t, "expireDate"),
		    json_object_get(t, "type"), json_object_get(t, "resource"), json_object_get(t, "name"));
	return token_write_end(c, r == 0 ? -ENOENT : r);
}

int store_token_delete(struct store *s, const char *type, const char *resource, const char *name)
{
	int r;
	TX_OR_FAIL(c, s);

	r = db_exec(c, sql_token_delete, "sss", type, resource, name);
	return token_write_end(c, r == 0 ? -ENOENT : r);
}
