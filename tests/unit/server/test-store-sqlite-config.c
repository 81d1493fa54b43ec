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
	int v = 0;

	(void)state;
	assert_int_equal(testdb_create(&db, false), 0);
	/* opening runs the migrations; a query reads a row */
	assert_int_equal(store_open(db.dsn, &s), 0);
	assert_int_equal(store_schema_version(s, &v), 0);
	assert_true(v >= 1);
	/* with statistics on, these count every byte SQLite holds (its connections, schema, cached statements) */
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
