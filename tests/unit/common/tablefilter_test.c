#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "common/tablefilter.h"

static int m(const char *p, const char *name)
{
	return table_pattern_match(p, strlen(p), name);
}

static void test_match(void **state)
{
	(void)state;
	assert_true(m("orders", "orders"));
	assert_false(m("orders", "orders2"));
	assert_true(m("*", ""));
	assert_true(m("*", "anything"));
	assert_true(m("ord*", "orders"));
	assert_true(m("*ers", "orders"));
	assert_true(m("o*d*s", "orders"));
	assert_false(m("o*x*s", "orders"));
	assert_true(m("?rders", "orders"));
	assert_false(m("?orders", "orders"));
	assert_true(m("log_2024_[0-9][0-9]", "log_2024_07"));
	assert_false(m("log_2024_[0-9][0-9]", "log_2024_7a"));
	assert_true(m("[!a]bc", "xbc"));
	assert_false(m("[!a]bc", "abc"));
	assert_true(m("[]x]", "]"));
	assert_true(m("a\\*b", "a*b"));
	assert_false(m("a\\*b", "axb"));
	assert_true(m("*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaab"));
	assert_false(m("*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaa"));
	/* bytes beyond ASCII compare as bytes */
	assert_true(m("caf\xc3\xa9*", "caf\xc3\xa9s"));
}

static void test_select(void **state)
{
	(void)state;
	bderr err;
	bderr_init(&err);
	table_filter *f = table_filter_new();
	assert_true(table_filter_empty(f));
	assert_true(table_filter_selects(f, "public", "t"));
	assert_int_equal(table_filter_add(f, TF_INCLUDE_TABLE, "public.order*", &err), 0);
	assert_int_equal(table_filter_add(f, TF_INCLUDE_TABLE, "audit", &err), 0);
	assert_int_equal(table_filter_add(f, TF_EXCLUDE_TABLE, "*.orders_old", &err), 0);
	assert_int_equal(table_filter_add(f, TF_EXCLUDE_TABLE_DATA, "audit", &err), 0);
	assert_true(table_filter_selects(f, "public", "orders"));
	assert_false(table_filter_selects(f, "public", "orders_old"));
	assert_false(table_filter_selects(f, "sales", "orders"));
	assert_true(table_filter_selects(f, "sales", "audit"));
	assert_true(table_filter_keeps_data(f, "public", "orders"));
	assert_false(table_filter_keeps_data(f, "sales", "audit"));
	assert_false(table_filter_keeps_data(f, "public", "customers"));
	assert_true(table_filter_keeps_schema(f, "sales"));
	table_filter_free(f);

	f = table_filter_new();
	assert_int_equal(table_filter_add_list(f, TF_INCLUDE_SCHEMA, "sales, hr", &err), 0);
	assert_int_equal(table_filter_add(f, TF_EXCLUDE_TABLE, "hr.salar[iy]*", &err), 0);
	assert_true(table_filter_selects(f, "sales", "x"));
	assert_true(table_filter_selects(f, "hr", "people"));
	assert_false(table_filter_selects(f, "hr", "salaries"));
	assert_false(table_filter_selects(f, "public", "x"));
	assert_true(table_filter_keeps_schema(f, "hr"));
	assert_false(table_filter_keeps_schema(f, "public"));
	table_filter_free(f);

	f = table_filter_new();
	assert_int_equal(table_filter_add(f, TF_EXCLUDE_SCHEMA, "tmp*", &err), 0);
	assert_false(table_filter_keeps_schema(f, "tmp1"));
	assert_false(table_filter_selects(f, "tmp1", "t"));
	assert_true(table_filter_selects(f, "public", "t"));
	/* an escaped dot belongs to the table name */
	assert_int_equal(table_filter_add(f, TF_EXCLUDE_TABLE, "public.a\\.b", &err), 0);
	assert_false(table_filter_selects(f, "public", "a.b"));
	table_filter_free(f);
}

static void expect_bad(table_filter_list l, const char *p, const char *why)
{
	bderr err;
	bderr_init(&err);
	table_filter *f = table_filter_new();
	assert_int_equal(table_filter_add(f, l, p, &err), -1);
	assert_int_equal(err.exit_code, EXIT_USAGE);
	if (strstr(err.msg, why) == NULL)
		fail_msg("'%s': got '%s', expected '%s'", p, err.msg, why);
	assert_null(strchr(err.msg, '\n'));
	assert_true(table_filter_empty(f));
	table_filter_free(f);
}

static void test_bad(void **state)
{
	(void)state;
	expect_bad(TF_INCLUDE_TABLE, "", "an empty pattern");
	expect_bad(TF_INCLUDE_TABLE, "public.", "an empty name");
	expect_bad(TF_INCLUDE_TABLE, ".t", "an empty name");
	expect_bad(TF_INCLUDE_TABLE, "a.b.c", "more than one '.'");
	expect_bad(TF_EXCLUDE_TABLE, "t[ab", "unterminated '['");
	expect_bad(TF_EXCLUDE_TABLE, "t\\", "trailing '\\'");
	expect_bad(TF_EXCLUDE_TABLE_DATA, "t\nx", "control character");
	expect_bad(TF_INCLUDE_SCHEMA, "a.b", "a schema pattern names a schema only");
	bderr err;
	bderr_init(&err);
	table_filter *f = table_filter_new();
	assert_int_equal(table_filter_add_list(f, TF_INCLUDE_TABLE, "  ", &err), -1);
	assert_int_equal(table_filter_add_list(f, TF_INCLUDE_TABLE, "good bad[", &err), -1);
	assert_non_null(strstr(err.msg, "'bad['"));
	table_filter_free(f);
}

/* The include pattern that matches none of the relations, as given. */
static void test_unmatched(void **state)
{
	(void)state;
	bderr err;
	bderr_init(&err);
	table_filter *f = table_filter_new();
	assert_int_equal(table_filter_add(f, TF_INCLUDE_TABLE, "orders", &err), 0);
	assert_int_equal(table_filter_add(f, TF_INCLUDE_TABLE, "sales.it*", &err), 0);
	assert_int_equal(table_filter_add(f, TF_INCLUDE_SCHEMA, "sales", &err), 0);
	const char *schemas[] = { "public", "sales", "empty" };
	const char *tables[] = { "orders", "items", NULL };
	char buf[64];
	assert_null(table_filter_unmatched(f, TF_INCLUDE_TABLE, schemas, tables, 3, buf, sizeof buf));
	assert_null(table_filter_unmatched(f, TF_INCLUDE_SCHEMA, schemas, tables, 3, buf, sizeof buf));
	/* without sales.items: the second pattern, written as given */
	assert_string_equal(table_filter_unmatched(f, TF_INCLUDE_TABLE, schemas, tables, 1, buf, sizeof buf),
			    "sales.it*");
	assert_string_equal(table_filter_unmatched(f, TF_INCLUDE_SCHEMA, schemas, tables, 1, buf, sizeof buf),
			    "sales");
	/* a schema alone (NULL table) matches schema patterns only */
	const char *only_schema[] = { "orders" };
	const char *no_table[] = { NULL };
	assert_string_equal(table_filter_unmatched(f, TF_INCLUDE_TABLE, only_schema, no_table, 1, buf, sizeof buf),
			    "orders");
	/* no such list, or no filter: nothing unmatched */
	assert_null(table_filter_unmatched(f, TF_EXCLUDE_TABLE, schemas, tables, 0, buf, sizeof buf));
	assert_null(table_filter_unmatched(NULL, TF_INCLUDE_TABLE, schemas, tables, 0, buf, sizeof buf));
	table_filter_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_select),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_unmatched),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
