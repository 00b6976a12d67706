#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "archive/wal_chain.h"

#define SEG (16u * 1024 * 1024)

static void test_history_parse(void **state)
{
	(void)state;
	const char *h = "1\t0/5000000\tno recovery target specified\n\n"
			"2\t0/7000100\tat restore point \"x\"\n";
	wal_tl *p = NULL;
	size_t n = 0;
	bderr err;
	bderr_init(&err);
	assert_int_equal(wal_history_parse(h, strlen(h), 3, &p, &n, &err), 0);
	assert_int_equal(n, 3);
	assert_int_equal(p[0].tli, 1);
	assert_int_equal(p[0].begin, 0);
	assert_int_equal(p[0].end, 0x5000000);
	assert_int_equal(p[1].tli, 2);
	assert_int_equal(p[1].begin, 0x5000000);
	assert_int_equal(p[2].tli, 3);
	assert_int_equal(p[2].end, UINT64_MAX);
	free(p);
	const char *bad[] = { "x\t0/1\tr\n", "1\tzz\tr\n", "3\t0/1\tr\n", "1\t0/9\tr\n1\t0/1\tr\n" };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		bderr_init(&err);
		assert_int_equal(wal_history_parse(bad[i], strlen(bad[i]), 3, &p, &n, &err), -1);
		assert_null(p);
		assert_non_null(strstr(err.msg, "timeline 3"));
	}
}

static void test_walk_one_timeline(void **state)
{
	(void)state;
	const char *segs[] = { "000000010000000000000003", "000000010000000000000004",
			       "000000010000000000000006", "000000010000000000000007" };
	wal_tl tl = { 1, 0, UINT64_MAX };
	wal_chain c;
	wal_chain_walk(segs, 4, &tl, 1, 0x3000028, SEG, &c);
	assert_string_equal(c.first, "000000010000000000000003");
	assert_string_equal(c.last, "000000010000000000000004");
	assert_string_equal(c.missing, "000000010000000000000005");
	assert_int_equal(c.end_lsn, 0x5000000);
	assert_int_equal(c.n_segments, 2);
	/* from a start past the gap: unbroken to the newest */
	wal_chain_walk(segs, 4, &tl, 1, 0x6000028, SEG, &c);
	assert_string_equal(c.missing, "");
	assert_string_equal(c.last, "000000010000000000000007");
	assert_int_equal(c.end_lsn, 0x8000000);
	/* the start segment itself missing */
	wal_chain_walk(segs, 4, &tl, 1, 0x2000028, SEG, &c);
	assert_string_equal(c.missing, "000000010000000000000002");
	assert_string_equal(c.last, "");
	assert_int_equal(c.n_segments, 0);
}

static void test_walk_timeline_switch(void **state)
{
	(void)state;
	/* timeline 2 branched at 0/5000100: segment 5 exists on both, 6.. on 2 only */
	const char *segs[] = { "000000010000000000000004", "000000010000000000000005",
			       "000000010000000000000006", /* timeline 1 went on: not ours */
			       "000000020000000000000005", "000000020000000000000006",
			       "000000020000000000000008" };
	wal_tl path[] = { { 1, 0, 0x5000100 }, { 2, 0x5000100, UINT64_MAX } };
	wal_chain c;
	wal_chain_walk(segs, 6, path, 2, 0x4000028, SEG, &c);
	assert_int_equal(c.tli, 2);
	assert_string_equal(c.last, "000000020000000000000006");
	assert_string_equal(c.missing, "000000020000000000000007");
	/* without timeline 2's copy of the switch segment, timeline 1's serves */
	const char *segs2[] = { "000000010000000000000004", "000000010000000000000005",
				"000000020000000000000006" };
	wal_chain_walk(segs2, 3, path, 2, 0x4000028, SEG, &c);
	assert_string_equal(c.missing, "");
	assert_string_equal(c.last, "000000020000000000000006");
	assert_int_equal(c.n_segments, 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_history_parse),
		cmocka_unit_test(test_walk_one_timeline),
		cmocka_unit_test(test_walk_timeline_switch),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
