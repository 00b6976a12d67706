#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "engines/pg/pgconn.h"

static void expect_masked(const char *in, const char *want)
{
	char buf[256];
	strcpy(buf, in);
	pg_mask_quoted(buf);
	assert_string_equal(buf, want);
}

static void expect_version(int num, const char *want)
{
	char buf[32];
	pg_version_format(num, buf, sizeof buf);
	assert_string_equal(buf, want);
}

/* the major/minor rules of 10+ and 9.x: issue 15 printed 14.23 as "14.0" */
static void test_version_format(void **state)
{
	(void)state;
	expect_version(140023, "14.23");
	expect_version(120022, "12.22");
	expect_version(180004, "18.4");
	expect_version(150000, "15.0");
	expect_version(170010, "17.10");
	expect_version(90624, "9.6.24");
	expect_version(90500, "9.5.0");
}

static void test_mask_quoted(void **state)
{
	(void)state;
	expect_masked("invalid percent-encoded token: \"Sekr3tPW%zz\"",
		      "invalid percent-encoded token: \"***\"");
	/* one-character quotes are syntax, not values */
	expect_masked("missing \"=\" after \"Sekr3t\" in connection info string",
		      "missing \"=\" after \"***\" in connection info string");
	expect_masked("unexpected character \"@\" at position 9 in URI (expected \":\" or \"/\"): \"postgresql://u:pw@@h\"",
		      "unexpected character \"@\" at position 9 in URI (expected \":\" or \"/\"): \"***\"");
	expect_masked("no quotes here", "no quotes here");
	expect_masked("cut short: \"Sekr3t", "cut short: \"***");
	expect_masked("\"\" and \"x\"", "\"\" and \"x\"");
}

/* A password with a bad percent-escape: a usage error that does not quote it. */
static void test_parse_errors_hide_the_password(void **state)
{
	(void)state;
	char *conninfo = NULL, *pwenv = NULL;
	bderr err;
	bderr_init(&err);
	assert_int_equal(pg_child_conninfo("postgresql://u:Sekr3tPW%zz@h/db", NULL, NULL, &conninfo,
					   &pwenv, &err),
			 -1);
	assert_int_equal(err.exit_code, 2);
	assert_non_null(strstr(err.msg, "invalid percent-encoded token"));
	assert_null(strstr(err.msg, "Sekr3t"));

	PGconn *c = NULL;
	bderr_init(&err);
	assert_int_equal(pg_connect("postgresql://u:Sekr3tPW%zz@127.0.0.1:1/db", NULL, NULL, "test",
				    &c, &err),
			 -1);
	assert_int_equal(err.exit_code, 2);
	assert_null(strstr(err.msg, "Sekr3t"));

	/* pg_url_check: the same usage error, without connecting */
	bderr_init(&err);
	assert_int_equal(pg_url_check("postgresql://u:Sekr3tPW%zz@h/db", &err), -1);
	assert_int_equal(err.exit_code, 2);
	assert_non_null(strstr(err.msg, "invalid percent-encoded token"));
	assert_null(strstr(err.msg, "Sekr3t"));
	bderr_init(&err);
	assert_int_equal(pg_url_check("postgresql://u:Sekr3tPW@h/db", &err), 0);

	/* no '@': libpq takes "Sekr3t" for the port and quotes it when it connects */
	bderr_init(&err);
	assert_int_equal(pg_connect("postgresql://u:Sekr3t/db", NULL, NULL, "test", &c, &err), -1);
	assert_non_null(strstr(err.msg, "port"));
	assert_null(strstr(err.msg, "Sekr3t"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_version_format),
		cmocka_unit_test(test_mask_quoted),
		cmocka_unit_test(test_parse_errors_hide_the_password),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
