#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "engines/pg/pg_sql_filter.h"

/* Filters text and returns the result (caller frees); *dropped counts. */
static char *filter(const char *text, int drop, size_t *dropped)
{
	size_t len = strlen(text);
	char *buf = malloc(len + 1);
	memcpy(buf, text, len + 1);
	*dropped = pg_sql_filter(buf, &len, drop);
	buf[len] = '\0';
	return buf;
}

static void expect(const char *in, int drop, const char *want, size_t want_dropped)
{
	size_t dropped;
	char *got = filter(in, drop, &dropped);
	assert_string_equal(got, want);
	assert_int_equal(dropped, want_dropped);
	free(got);
}

static void test_owner_lines(void **state)
{
	(void)state;
	expect("CREATE TABLE public.t (id integer);\n\n"
	       "ALTER TABLE public.t OWNER TO alice;\n"
	       "ALTER FUNCTION public.f(integer, text) OWNER TO \"Bob \"\"the\"\" owner\";\n"
	       "ALTER LARGE OBJECT 16385 OWNER TO carol;\n"
	       "ALTER SCHEMA app OWNER TO app_owner;\n",
	       SQL_DROP_OWNER,
	       "CREATE TABLE public.t (id integer);\n\n", 4);
}

static void test_owner_kept_without_flag(void **state)
{
	(void)state;
	const char *in = "ALTER TABLE public.t OWNER TO alice;\nGRANT SELECT ON TABLE public.t TO bob;\n";
	expect(in, 0, in, 0);
	expect(in, SQL_DROP_PRIVILEGES, "ALTER TABLE public.t OWNER TO alice;\n", 1);
}

static void test_function_body_untouched(void **state)
{
	(void)state;
	const char *in =
		"CREATE FUNCTION public.f() RETURNS void\n"
		"    LANGUAGE plpgsql\n"
		"    AS $_$\n"
		"BEGIN\n"
		"ALTER TABLE public.t OWNER TO alice;\n"
		"GRANT SELECT ON public.t TO bob;\n"
		"END\n"
		"$_$;\n";
	expect(in, SQL_DROP_OWNER | SQL_DROP_PRIVILEGES, in, 0);
	const char *quoted = "COMMENT ON TABLE public.t IS 'x;\nALTER TABLE public.t OWNER TO alice;';\n";
	expect(quoted, SQL_DROP_OWNER, quoted, 0);
	const char *estr = "SELECT E'it\\'s;\nGRANT ALL ON x TO y;';\n";
	expect(estr, SQL_DROP_PRIVILEGES, estr, 0);
	const char *ident = "CREATE TABLE \"a;GRANT\" (id int);\n";
	expect(ident, SQL_DROP_PRIVILEGES, ident, 0);
}

static void test_comments_and_owner_not_last(void **state)
{
	(void)state;
	/* a header comment stays; OWNER TO that is not the statement's end is kept */
	expect("--\n-- Name: t; Type: TABLE; Schema: public; Owner: alice\n--\n\n"
	       "ALTER TABLE public.t OWNER TO alice;\n"
	       "ALTER TABLE public.t ALTER COLUMN c SET DEFAULT 'x OWNER TO y';\n"
	       "/* block ; comment */ ALTER TABLE public.u OWNER TO alice;\n",
	       SQL_DROP_OWNER,
	       "--\n-- Name: t; Type: TABLE; Schema: public; Owner: alice\n--\n\n"
	       "ALTER TABLE public.t ALTER COLUMN c SET DEFAULT 'x OWNER TO y';\n"
	       "/* block ; comment */ ",
	       2);
}

static void test_privileges(void **state)
{
	(void)state;
	expect("REVOKE ALL ON SCHEMA public FROM PUBLIC;\n"
	       "GRANT USAGE ON SCHEMA app TO reader;\n"
	       "ALTER DEFAULT PRIVILEGES FOR ROLE app IN SCHEMA app GRANT SELECT ON TABLES TO reader;\n"
	       "ALTER TABLE public.t ADD CONSTRAINT granted CHECK (true);\n"
	       "SELECT pg_catalog.lo_create('16385');\n",
	       SQL_DROP_PRIVILEGES,
	       "ALTER TABLE public.t ADD CONSTRAINT granted CHECK (true);\n"
	       "SELECT pg_catalog.lo_create('16385');\n",
	       3);
}

static void test_unterminated_and_empty(void **state)
{
	(void)state;
	expect("", SQL_DROP_OWNER, "", 0);
	expect("ALTER TABLE t OWNER TO alice", SQL_DROP_OWNER, "ALTER TABLE t OWNER TO alice", 0);
	expect("SELECT $$never closed;\nALTER TABLE t OWNER TO a;\n", SQL_DROP_OWNER,
	       "SELECT $$never closed;\nALTER TABLE t OWNER TO a;\n", 0);
	expect("SELECT $1;\nALTER TABLE t OWNER TO a;\n", SQL_DROP_OWNER, "SELECT $1;\n", 1);
}

/* ---- statement walk and meta-command detection ---- */

static int has_meta(const char *sql, char *what, size_t len)
{
	return pg_sql_check_meta(sql, strlen(sql), what, len);
}

static void test_restrict_lines_accepted(void **state)
{
	(void)state;
	char what[256];
	const char *sql = "--\n-- PostgreSQL database dump\n--\n\n"
			  "\\restrict 9vQmXbz0aKqL3\n\nSET x = 1;\n"
			  "CREATE FUNCTION f() RETURNS text AS $$ SELECT '\\! ls' $$ LANGUAGE sql;\n"
			  "SELECT E'a\\'b \\\\! c', 'd\\', \"e\\f\";\n"
			  "-- a comment \\! touch x\n/* \\! also */\n"
			  "\\unrestrict 9vQmXbz0aKqL3\n";
	assert_int_equal(has_meta(sql, what, sizeof what), 0);
}

static void test_shell_escape_refused_with_line_and_entry(void **state)
{
	(void)state;
	char what[256];
	const char *sql = "\\restrict k1\nSET x = 1;\n\n--\n"
			  "-- Name: big; Type: TABLE; Schema: public; Owner: postgres\n--\n\n"
			  "\\! touch /tmp/pwned\nCREATE TABLE public.big (id int);\n";
	assert_int_equal(has_meta(sql, what, sizeof what), 1);
	assert_non_null(strstr(what, "line 8 (TABLE public.big)"));
	assert_non_null(strstr(what, "'\\! touch /tmp/pwned'"));
}

static void test_other_meta_commands_refused(void **state)
{
	(void)state;
	char what[256];
	const char *bad[] = {
		"SELECT 1 \\! ls\n;",                 /* inside a statement */
		"SELECT 1;\n  \\o /tmp/x\n",           /* indented */
		"\\restrict ab cd\n",                   /* not pg_dump's form */
		"\\restrict ab;\n",
		"\\restrict\n",
		"\\restrictx ab\n",
		"SELECT 1\n\\restrict abc\n;",          /* inside a statement */
		"\\c other\n",
		"SELECT 1; \\gexec\n",
		"\\",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		what[0] = '\0';
		assert_int_equal(has_meta(bad[i], what, sizeof what), 1);
		assert_non_null(strstr(what, "psql meta-command"));
	}
}

static void test_walk_gives_statements_and_lines(void **state)
{
	(void)state;
	const char *sql = "SET a = 1;\n-- c;\nSELECT ';'\n  , 2;\n\\restrict k\nSELECT 3";
	pg_sql_iter it;
	pg_sql_piece p;
	pg_sql_iter_init(&it, sql, strlen(sql));
	assert_int_equal(pg_sql_iter_next(&it, &p), 1);
	assert_int_equal(p.kind, PG_SQL_STATEMENT);
	assert_int_equal(p.line, 1);
	assert_memory_equal(sql + p.start, "SET a = 1;", p.end - p.start);
	assert_int_equal(pg_sql_iter_next(&it, &p), 1);
	assert_int_equal(p.line, 3);
	assert_memory_equal(sql + p.start, "SELECT ';'\n  , 2;", p.end - p.start);
	assert_int_equal(pg_sql_iter_next(&it, &p), 1);
	assert_int_equal(p.kind, PG_SQL_META);
	assert_int_equal(p.line, 5);
	assert_true(pg_sql_is_restrict_line(sql + p.start, p.end - p.start));
	assert_int_equal(pg_sql_iter_next(&it, &p), 1);
	assert_int_equal(p.kind, PG_SQL_STATEMENT);
	assert_int_equal(p.line, 6);
	assert_int_equal(p.end, strlen(sql));
	assert_int_equal(pg_sql_iter_next(&it, &p), 0);
}

/* The walk stays inside the buffer: no NUL is needed at its end (ASan checks). */
static void test_unterminated_buffers(void **state)
{
	(void)state;
	const char *inputs[] = { "-- Name: x; Type: TABLE", "-- Name: xyz", "\\restrict ab",
				 "SELECT 'open", "SELECT $a$ open", "/* open", "\\! x", "-- Name: a\n\\!" };
	for (size_t i = 0; i < sizeof inputs / sizeof *inputs; i++) {
		size_t n = strlen(inputs[i]);
		char *buf = malloc(n);
		memcpy(buf, inputs[i], n);
		char what[128];
		(void)pg_sql_check_meta(buf, n, what, sizeof what);
		pg_sql_iter it;
		pg_sql_piece p;
		pg_sql_iter_init(&it, buf, n);
		while (pg_sql_iter_next(&it, &p))
			assert_true(p.end <= n);
		char *entry = NULL;
		pg_sql_track_entry(buf, 0, n, &entry);
		free(entry);
		free(buf);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_owner_lines),
		cmocka_unit_test(test_owner_kept_without_flag),
		cmocka_unit_test(test_function_body_untouched),
		cmocka_unit_test(test_comments_and_owner_not_last),
		cmocka_unit_test(test_privileges),
		cmocka_unit_test(test_unterminated_and_empty),
		cmocka_unit_test(test_restrict_lines_accepted),
		cmocka_unit_test(test_shell_escape_refused_with_line_and_entry),
		cmocka_unit_test(test_other_meta_commands_refused),
		cmocka_unit_test(test_walk_gives_statements_and_lines),
		cmocka_unit_test(test_unterminated_buffers),
	};
	return cmocka_run_group_tests_name("pg_sql_filter", tests, NULL, NULL);
}
