#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "engines/mysql/mysql_chunks.h"

static void free_bounds(char **b, uint64_t n)
{
	for (uint64_t i = 0; i + 1 < n; i++)
		free(b[i]);
	free(b);
}

static void test_chunk_count(void **state)
{
	(void)state;
	assert_int_equal(mysql_chunk_count(100, 10, 0), 1);
	assert_int_equal(mysql_chunk_count(100, 10, 100), 1);
	assert_int_equal(mysql_chunk_count(101, 10, 100), 2);
	assert_int_equal(mysql_chunk_count(1000, 1000, 100), 10);
	/* never more chunks than rows */
	assert_int_equal(mysql_chunk_count(1000, 3, 100), 3);
	assert_int_equal(mysql_chunk_count(1000, 0, 100), 10);
}

static void test_even_split(void **state)
{
	(void)state;
	char **b;
	uint64_t n = mysql_split_int_range("1", "100", 0, 4, &b);
	assert_int_equal(n, 4);
	assert_string_equal(b[0], "25");
	assert_string_equal(b[1], "49");
	assert_string_equal(b[2], "73");
	free_bounds(b, n);
}

static void test_signed_extremes(void **state)
{
	(void)state;
	char **b;
	uint64_t n = mysql_split_int_range("-9223372036854775808", "9223372036854775807", 0, 2, &b);
	assert_int_equal(n, 2);
	assert_string_equal(b[0], "-1");
	free_bounds(b, n);
	n = mysql_split_int_range("-10", "10", 0, 4, &b);
	assert_int_equal(n, 4);
	assert_string_equal(b[0], "-5");
	assert_string_equal(b[1], "0");
	assert_string_equal(b[2], "5");
	free_bounds(b, n);
}

static void test_unsigned_extremes(void **state)
{
	(void)state;
	char **b;
	uint64_t n = mysql_split_int_range("0", "18446744073709551615", 1, 4, &b);
	assert_int_equal(n, 4);
	assert_string_equal(b[0], "4611686018427387903");
	assert_string_equal(b[2], "13835058055282163709");
	free_bounds(b, n);
}

static void test_degenerate_ranges(void **state)
{
	(void)state;
	char **b;
	/* fewer distinct keys than chunks wanted */
	uint64_t n = mysql_split_int_range("5", "7", 0, 10, &b);
	assert_int_equal(n, 2);
	assert_string_equal(b[0], "6");
	free_bounds(b, n);
	assert_int_equal(mysql_split_int_range("5", "5", 0, 10, &b), 1);
	assert_null(b);
	assert_int_equal(mysql_split_int_range(NULL, NULL, 0, 10, &b), 1);
	assert_null(b);
	assert_int_equal(mysql_split_int_range("9", "1", 0, 10, &b), 1);
	assert_int_equal(mysql_split_int_range("-1", "10", 1, 10, &b), 1);
	assert_int_equal(mysql_split_int_range("1", "10", 0, 1, &b), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chunk_count),
		cmocka_unit_test(test_even_split),
		cmocka_unit_test(test_signed_extremes),
		cmocka_unit_test(test_unsigned_extremes),
		cmocka_unit_test(test_degenerate_ranges),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
