#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "policies/wal_prune.h"

static const char *const archive[] = {
	"00000001.history",                         /* 0: never a segment of anything */
	"000000010000000000000001",                 /* 1 */
	"000000010000000000000002",                 /* 2 */
	"000000010000000000000002.00000028.backup", /* 3 */
	"000000010000000000000003",                 /* 4: oldest kept backup starts here */
	"000000010000000000000003.00000060.backup", /* 5 */
	"000000010000000000000004.partial",         /* 6 */
	"00000002.history",                         /* 7 */
	"000000020000000000000004",                 /* 8 */
	"000000020000000000000002",                 /* 9: other timeline, older position */
	"000000010000000100000000",                 /* 10: next log: newer */
	"000000010000000000000001.partial",         /* 11 */
	"not-a-wal-file",                           /* 12: foreign: kept */
};
#define N (sizeof archive / sizeof *archive)

static void test_prunes_before_oldest_start(void **state)
{
	(void)state;
	int rm[N];
	bderr err;
	bderr_init(&err);
	long n = wal_prune_decide(archive, N, "000000010000000000000003", rm, &err);
	static const int want[N] = { 0, 1, 1, 1, 0, 0, 0, 0, 0, 1, 0, 1, 0 };
	for (size_t i = 0; i < N; i++) {
		if (rm[i] != want[i])
			fail_msg("%s: remove=%d, want %d", archive[i], rm[i], want[i]);
	}
	assert_int_equal(n, 5);
}

static void test_start_on_a_later_timeline(void **state)
{
	(void)state;
	int rm[N];
	bderr err;
	bderr_init(&err);
	/* the position counts, not the timeline: timeline 1 up to 3 goes, histories stay */
	long n = wal_prune_decide(archive, N, "000000020000000000000004", rm, &err);
	assert_int_equal(n, 7);
	assert_int_equal(rm[0], 0);
	assert_int_equal(rm[4], 1);
	assert_int_equal(rm[5], 1);
	assert_int_equal(rm[6], 0); /* position 4: kept */
	assert_int_equal(rm[7], 0);
	assert_int_equal(rm[8], 0);
	assert_int_equal(rm[10], 0);
}

static void test_no_backup_prunes_nothing(void **state)
{
	(void)state;
	int rm[N];
	bderr err;
	bderr_init(&err);
	memset(rm, 0xff, sizeof rm);
	assert_int_equal(wal_prune_decide(archive, N, NULL, rm, &err), 0);
	for (size_t i = 0; i < N; i++)
		assert_int_equal(rm[i], 0);
}

static void test_oldest_segment_itself_kept(void **state)
{
	(void)state;
	int rm[N];
	bderr err;
	bderr_init(&err);
	assert_int_equal(wal_prune_decide(archive, N, "000000010000000000000001", rm, &err), 0);
}

static void test_bad_start_is_an_error(void **state)
{
	(void)state;
	int rm[N];
	bderr err;
	bderr_init(&err);
	assert_int_equal(wal_prune_decide(archive, N, "00000002.history", rm, &err), -1);
	assert_non_null(strstr(err.msg, "00000002.history"));
	bderr_init(&err);
	assert_int_equal(wal_prune_decide(archive, N, "garbage", rm, &err), -1);
}

static void test_empty_list(void **state)
{
	(void)state;
	bderr err;
	bderr_init(&err);
	int rm[1];
	assert_int_equal(wal_prune_decide(NULL, 0, "000000010000000000000003", rm, &err), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prunes_before_oldest_start),
		cmocka_unit_test(test_start_on_a_later_timeline),
		cmocka_unit_test(test_no_backup_prunes_nothing),
		cmocka_unit_test(test_oldest_segment_itself_kept),
		cmocka_unit_test(test_bad_start_is_an_error),
		cmocka_unit_test(test_empty_list),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
