#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "tests/unit/engines/sql_noise.h"

#include <stdlib.h>
#include <string.h>

#include "engines/pg/pg_target.h"

static const char *const pg16[] = { "statement_timeout", "lock_timeout", "search_path",
				    "client_encoding", "standard_conforming_strings",
				    "default_table_access_method", "row_security" };

static pg_target *target16(void)
{
	return pg_target_new(160004, pg16, sizeof pg16 / sizeof *pg16);
}

static int skips(const pg_target *t, const char *stmt, const char *want_name)
{
	const char *name = NULL;
	size_t len = 0;
	int r = pg_target_skips(t, stmt, strlen(stmt), &name, &len);
	if (r && want_name) {
		assert_int_equal(len, strlen(want_name));
		assert_memory_equal(name, want_name, len);
	}
	return r;
}

static void test_unknown_settings_skipped(void **state)
{
	(void)state;
	pg_target *t = target16();
	assert_true(skips(t, "SET transaction_timeout = 0;", "transaction_timeout"));
	assert_true(skips(t, "SET Transaction_Timeout TO 0;", "Transaction_Timeout"));
	assert_true(skips(t, "SET SESSION transaction_timeout = 0;", "transaction_timeout"));
	assert_true(skips(t, "SELECT pg_catalog.set_config('transaction_timeout', '0', false);",
			  "transaction_timeout"));
	pg_target_free(t);
}

static void test_known_and_other_statements_kept(void **state)
{
	(void)state;
	pg_target *t = target16();
	assert_false(skips(t, "SET statement_timeout = 0;", NULL));
	assert_false(skips(t, "SET STATEMENT_TIMEOUT = 0;", NULL));
	assert_false(skips(t, "SELECT pg_catalog.set_config('search_path', '', false);", NULL));
	/* custom placeholders are accepted by every server */
	assert_false(skips(t, "SET myext.flag = on;", NULL));
	/* not a parameter assignment */
	assert_false(skips(t, "SET SESSION AUTHORIZATION alice;", NULL));
	assert_false(skips(t, "SET ROLE alice;", NULL));
	assert_false(skips(t, "SET TIME ZONE 'UTC';", NULL));
	assert_false(skips(t, "SELECT 1;", NULL));
	assert_false(skips(t, "CREATE TABLE transaction_timeout (a int);", NULL));
	/* more than one statement, or something after: never dropped */
	assert_false(skips(t, "SET transaction_timeout = 0; DROP TABLE x;", NULL));
	assert_false(skips(t, "SELECT set_config('transaction_timeout', '0', false), pg_sleep(1);x", NULL));
	pg_target_free(t);
}

static void test_major_check(void **state)
{
	(void)state;
	pg_target *t = target16();
	bderr err;
	bderr_init(&err);
	assert_int_equal(pg_target_check_major(t, 160002, "backup B", &err), 0);
	assert_int_equal(pg_target_check_major(t, 120022, "backup B", &err), 0);
	assert_int_equal(pg_target_check_major(t, 0, "backup B", &err), 0); /* unknown: old manifests */
	assert_int_equal(pg_target_check_major(t, 170004, "backup B", &err), -1);
	assert_non_null(strstr(err.msg, "PostgreSQL 17"));
	assert_non_null(strstr(err.msg, "older major"));
	pg_target_free(t);
}

static void expect_drop(const char *in, const char *name, const char *want)
{
	sql_expect_rewrite(pg_target_drop_option(in, strlen(in), name), want);
}

static void test_unknown_options_dropped(void **state)
{
	(void)state;
	char *name = pg_target_unknown_option("unrecognized parameter \"pg_attver\"");
	assert_string_equal(name, "pg_attver");
	free(name);
	assert_null(pg_target_unknown_option("permission denied for table t"));
	expect_drop("ALTER TABLE ONLY \"S\".\"T\" ALTER COLUMN id SET (pg_attver=5);", "pg_attver", "");
	expect_drop("ALTER TABLE ONLY public.t ALTER COLUMN id SET (n_distinct=-1, pg_attver=5);", "pg_attver",
		    "ALTER TABLE ONLY public.t ALTER COLUMN id SET (n_distinct=-1);");
	expect_drop("ALTER TABLE public.t SET (fillfactor='70', x_opt=1, autovacuum_enabled=false);", "x_opt",
		    "ALTER TABLE public.t SET (fillfactor='70', autovacuum_enabled=false);");
	/* not the option, or not such a statement: nothing to retry */
	expect_drop("ALTER TABLE ONLY public.t ALTER COLUMN id SET (n_distinct=-1);", "pg_attver", NULL);
	expect_drop("CREATE TABLE t (a int) WITH (pg_attver=1);", "pg_attver", NULL);
	expect_drop("ALTER TABLE t SET (pg_attver=1); DROP TABLE u;", "pg_attver", NULL);
}

/* SQL-ish noise of exact length: no crash, no read past the end. */
static void test_random_statements(void **state)
{
	(void)state;
	static const char *const pieces[] = { "SET ", "SESSION ", "LOCAL ", "SELECT ", "pg_catalog.set_config",
					      "(", ")", "'", "x", "=", " TO ", ";", " ", "ALTER ", "TABLE ",
					      "SET (", "a=1", ",", "transaction_timeout", "\n" };
	pg_target *t = target16();
	unsigned seed = 777;
	for (int round = 0; round < 20000; round++) {
		char buf[200];
		size_t len = sql_noise(&seed, pieces, sizeof pieces / sizeof *pieces, 10, buf, sizeof buf);
		char *exact = malloc(len ? len : 1);
		memcpy(exact, buf, len);
		const char *name;
		size_t nl;
		(void)pg_target_skips(t, exact, len, &name, &nl);
		free(pg_target_drop_option(exact, len, "a"));
		free(exact);
	}
	pg_target_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unknown_settings_skipped),
		cmocka_unit_test(test_known_and_other_statements_kept),
		cmocka_unit_test(test_major_check),
		cmocka_unit_test(test_unknown_options_dropped),
		cmocka_unit_test(test_random_statements),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
