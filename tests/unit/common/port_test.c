/* port_parse: the one port parser of the listen address and the source URIs. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "common/port.h"

static int parse(const char *s, unsigned *out)
{
	*out = 12345; /* untouched on failure */
	return port_parse(s, strlen(s), out);
}

static void test_accepts_1_to_65535(void **state)
{
	(void)state;
	unsigned p;
	assert_int_equal(parse("1", &p), 0);
	assert_int_equal(p, 1);
	assert_int_equal(parse("5432", &p), 0);
	assert_int_equal(p, 5432);
	assert_int_equal(parse("65535", &p), 0);
	assert_int_equal(p, 65535);
	/* leading zeros are the same number */
	assert_int_equal(parse("0080", &p), 0);
	assert_int_equal(p, 80);
	assert_int_equal(parse("000000000003306", &p), 0);
	assert_int_equal(p, 3306);
}

static void test_refuses_out_of_range(void **state)
{
	(void)state;
	unsigned p;
	assert_int_equal(parse("0", &p), -1);
	assert_int_equal(parse("00000", &p), -1);
	assert_int_equal(parse("65536", &p), -1);
	assert_int_equal(parse("99999", &p), -1);
	/* would wrap an unsigned long into range if accumulated blindly */
	assert_int_equal(parse("99999999999999999999", &p), -1);
	assert_int_equal(parse("18446744073709551617", &p), -1);
	assert_int_equal(p, 12345);
}

static void test_refuses_non_digits(void **state)
{
	(void)state;
	unsigned p;
	assert_int_equal(parse("", &p), -1);
	assert_int_equal(parse("+80", &p), -1);
	assert_int_equal(parse("-1", &p), -1);
	assert_int_equal(parse(" 80", &p), -1);
	assert_int_equal(parse("80 ", &p), -1);
	assert_int_equal(parse("8 0", &p), -1);
	assert_int_equal(parse("0x50", &p), -1);
	assert_int_equal(parse("80a", &p), -1);
	assert_int_equal(p, 12345);
}

static void test_reads_only_n_bytes(void **state)
{
	(void)state;
	unsigned p = 0;
	/* a port inside a URL: what follows is not part of it */
	const char *url = "5432/db";
	assert_int_equal(port_parse(url, 4, &p), 0);
	assert_int_equal(p, 5432);
	assert_int_equal(port_parse(url, 5, &p), -1);
	assert_int_equal(port_parse(url, 0, &p), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepts_1_to_65535),
		cmocka_unit_test(test_refuses_out_of_range),
		cmocka_unit_test(test_refuses_non_digits),
		cmocka_unit_test(test_reads_only_n_bytes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
