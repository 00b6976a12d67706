#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "restore/pg_sql_filter.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_owner_lines),
		cmocka_unit_test(test_owner_kept_without_flag),
		cmocka_unit_test(test_function_body_untouched),
		cmocka_unit_test(test_comments_and_owner_not_last),
		cmocka_unit_test(test_privileges),
		cmocka_unit_test(test_unterminated_and_empty),
	};
	return cmocka_run_group_tests_name("pg_sql_filter", tests, NULL, NULL);
}
