#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "engines/pg/pg_dump.h"

#define MB (1024ULL * 1024ULL)
#define BLK 8192ULL
#define PG15 150000

/* bench/pg.sh: 256 MB chunks, shared_buffers 512 MB (65536 blocks) */
static const uint64_t chunk = 256 * MB;
static const uint64_t sb = 512 * MB / BLK;

static void test_small_tables_whole(void **state)
{
	(void)state;
	/* up to 4 chunks: one COPY cut into objects */
	assert_int_equal(pg_dump_ranges(640 * MB, 640 * MB / BLK, chunk, PG15, 1, 0), 1);
	assert_int_equal(pg_dump_ranges(1024 * MB, 1024 * MB / BLK, chunk, PG15, 1, 4 * sb), 1);
}

static void test_table_past_shared_buffers_whole(void **state)
{
	(void)state;
	/* scale 200's accounts (2.6 GB): ranges would cycle its pages through all of shared_buffers */
	assert_int_equal(pg_dump_ranges(2600 * MB, 2600 * MB / BLK, chunk, PG15, 1, sb), 1);
	/* exactly shared_buffers' blocks is already whole */
	assert_int_equal(pg_dump_ranges(2600 * MB, sb, chunk, PG15, 1, sb), 1);
	/* one block fewer, or a larger pool: ctid ranges of about the chunk size */
	assert_int_equal(pg_dump_ranges(2600 * MB, sb - 1, chunk, PG15, 1, sb), 11);
	assert_int_equal(pg_dump_ranges(2600 * MB, 2600 * MB / BLK, chunk, PG15, 1, 8 * sb), 11);
	/* shared_buffers unknown: by size alone */
	assert_int_equal(pg_dump_ranges(2600 * MB, 2600 * MB / BLK, chunk, PG15, 1, 0), 11);
}

static void test_migrate_keeps_ranges(void **state)
{
	(void)state;
	/* without whole_tables (migrate: one COPY is one unit) shared_buffers is not weighed */
	assert_int_equal(pg_dump_ranges(2600 * MB, 2600 * MB / BLK, chunk, PG15, 0, sb), 11);
	assert_int_equal(pg_dump_ranges(640 * MB, 640 * MB / BLK, chunk, PG15, 0, sb), 3);
}

static void test_no_ranges(void **state)
{
	(void)state;
	/* before PostgreSQL 14, no chunk size, or a one-block table: one COPY */
	assert_int_equal(pg_dump_ranges(2600 * MB, 2600 * MB / BLK, chunk, 130000, 1, 8 * sb), 1);
	assert_int_equal(pg_dump_ranges(2600 * MB, 2600 * MB / BLK, 0, PG15, 1, 8 * sb), 1);
	assert_int_equal(pg_dump_ranges(2600 * MB, 1, chunk, PG15, 0, 0), 1);
	/* never more ranges than blocks (toast-heavy table) */
	assert_int_equal(pg_dump_ranges(2600 * MB, 5, chunk, PG15, 0, 0), 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_small_tables_whole),
		cmocka_unit_test(test_table_past_shared_buffers_whole),
		cmocka_unit_test(test_migrate_keeps_ranges),
		cmocka_unit_test(test_no_ranges),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
