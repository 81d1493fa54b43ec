/* SPDX-License-Identifier: Apache-2.0 */
/* tests/unit/server/test-store-sqlite-config.c: the SQLite driver configures the library once, before its first
 * connection: no memory statistics (store/db_sqlite.c sq_configure()). With them on, SQLite takes one global mutex
 * for every allocation, and Debian's SQLite (no lookaside) allocates for each value a statement reads or writes: the
 * run pool's threads queued on that mutex during a rollout. A process of its own: nothing may use SQLite before the
 * store does, as in the server. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "store.h"
#include "store_testdb.h"

static void test_no_memory_statistics(void **state)
{
	struct testdb db = { 0 };
	struct store *s = NULL;
	json_t *t, *row = NULL;
	int v = 0;

	(void)state;
	assert_int_equal(testdb_create(&db, false), 0);
	assert_int_equal(store_open(db.dsn, &s), 0);
	/* statements that allocate: the schema version, a row written and read back */
	assert_int_equal(store_schema_version(s, &v), 0);
	assert_true(v >= 1);
	t = json_pack("{s:s,s:s,s:s,s:s,s:s,s:n,s:s,s:I}", "id", "t1", "name", "bootstrap-admin", "resource", "*",
		      "type", "SYSTEM", "role", "ADMIN", "expireDate", "tokenHash", "abc", "createDate", (json_int_t)1);
	assert_int_equal(store_token_bootstrap(s, t), 1);
	json_decref(t);
	assert_int_equal(store_token_get_by_hash(s, "abc", &row), 0);
	assert_string_equal(json_string_value(json_object_get(row, "name")), "bootstrap-admin");
	json_decref(row);
	/* with statistics on, these count every byte SQLite holds (its schema, the cached statements): > 0 here */
	assert_int_equal(sqlite3_memory_used(), 0);
	assert_int_equal(sqlite3_memory_highwater(0), 0);
	store_free(s);
	testdb_destroy(&db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_memory_statistics),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
