#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "tests/unit/engines/sql_noise.h"

#include <stdlib.h>
#include <string.h>

#include "engines/pg/pg_roles.h"

static void expect(const pg_role_map *m, const char *in, const char *want)
{
	sql_expect_rewrite(pg_role_map_statement(m, in, strlen(in)), want);
}

static void test_role_map(void **state)
{
	(void)state;
	pg_role_map m;
	pg_role_map_init(&m);
	bderr err;
	bderr_init(&err);
	assert_int_equal(pg_role_map_add(&m, "reader=app_ro", &err), 0);
	assert_int_equal(pg_role_map_add(&m, "Odd \"x\"=new", &err), 0);
	assert_int_equal(pg_role_map_add(&m, "reader=other", &err), -1);
	assert_int_equal(pg_role_map_add(&m, "=x", &err), -1);
	assert_int_equal(pg_role_map_add(&m, "x=", &err), -1);
	expect(&m, "ALTER TABLE public.t OWNER TO reader;", "ALTER TABLE public.t OWNER TO \"app_ro\";");
	expect(&m, "ALTER TABLE public.t OWNER TO \"Odd \"\"x\"\"\";", "ALTER TABLE public.t OWNER TO \"new\";");
	expect(&m, "GRANT SELECT ON TABLE public.t TO reader;", "GRANT SELECT ON TABLE public.t TO \"app_ro\";");
	expect(&m, "GRANT SELECT ON TABLE public.t TO PUBLIC;", NULL);
	expect(&m, "GRANT SELECT,INSERT ON TABLE public.t TO alice, GROUP reader WITH GRANT OPTION;",
	       "GRANT SELECT,INSERT ON TABLE public.t TO alice, GROUP \"app_ro\" WITH GRANT OPTION;");
	expect(&m, "REVOKE ALL ON FUNCTION public.f(to integer) FROM reader;",
	       "REVOKE ALL ON FUNCTION public.f(to integer) FROM \"app_ro\";");
	expect(&m, "CREATE POLICY p ON public.s FOR SELECT TO reader USING ((owner = 'reader'::name));",
	       "CREATE POLICY p ON public.s FOR SELECT TO \"app_ro\" USING ((owner = 'reader'::name));");
	expect(&m, "CREATE POLICY p ON public.s USING ((owner = CURRENT_USER));", NULL);
	expect(&m, "ALTER DEFAULT PRIVILEGES FOR ROLE reader IN SCHEMA app GRANT SELECT ON TABLES TO reader;",
	       "ALTER DEFAULT PRIVILEGES FOR ROLE \"app_ro\" IN SCHEMA app GRANT SELECT ON TABLES TO \"app_ro\";");
	/* role names inside bodies, strings and other statements are never touched */
	expect(&m, "CREATE FUNCTION f() RETURNS text LANGUAGE sql AS $$ SELECT 'GRANT x TO reader' $$;", NULL);
	expect(&m, "COMMENT ON TABLE t IS 'OWNER TO reader';", NULL);
	expect(&m, "CREATE TABLE reader (id int);", NULL);
	pg_role_map_clear(&m);
}

/* info.roles of a dump: olda owns objects and holds grants, reader holds grants */
static void two_roles(pg_roles_info *roles)
{
	json_error_t je;
	json_t *info = json_loads("{\"roles\": [{\"name\": \"olda\", \"uses\": [\"owner\", \"acl\"]},"
				  " {\"name\": \"reader\", \"uses\": [\"acl\"]}]}", 0, &je);
	bderr err;
	bderr_init(&err);
	assert_int_equal(pg_roles_info_parse(info, roles, &err), 0);
	json_decref(info);
}

static void test_owner(void **state)
{
	(void)state;
	pg_role_map m;
	pg_role_map_init(&m);
	m.owner = strdup("app");
	pg_roles_info roles;
	two_roles(&roles);
	pg_role_map_add_owners(&m, &roles);
	assert_string_equal(pg_role_map_name(&m, "olda"), "app");
	assert_string_equal(pg_role_map_name(&m, "reader"), "reader");
	assert_string_equal(pg_role_map_owner(&m, "anyone"), "app");
	expect(&m, "ALTER SCHEMA s OWNER TO someone_else;", "ALTER SCHEMA s OWNER TO \"app\";");
	expect(&m, "GRANT ALL ON TABLE t TO olda;", "GRANT ALL ON TABLE t TO \"app\";");
	expect(&m, "GRANT SELECT ON TABLE t TO reader;", NULL);
	pg_roles_info_clear(&roles);
	pg_role_map_clear(&m);
}

/* A --role-map OLD the backup never references (a typo) is found, the database's own roles count. */
static void test_unknown(void **state)
{
	(void)state;
	pg_roles_info roles;
	two_roles(&roles);
	bderr err;
	bderr_init(&err);
	pg_role_map m;
	pg_role_map_init(&m);
	assert_int_equal(pg_role_map_add(&m, "reader=r2", &err), 0);
	assert_null(pg_role_map_unknown(&m, &roles, NULL, 0));
	assert_int_equal(pg_role_map_add(&m, "dbowner=app", &err), 0);
	assert_string_equal(pg_role_map_unknown(&m, &roles, NULL, 0), "dbowner");
	const char *also[] = { NULL, "dbowner" }; /* the database's owner (none) and a grantee */
	assert_null(pg_role_map_unknown(&m, &roles, also, 2));
	assert_int_equal(pg_role_map_add(&m, "raeder=r3", &err), 0);
	assert_string_equal(pg_role_map_unknown(&m, &roles, also, 2), "raeder");
	pg_role_map_clear(&m);
	pg_roles_info_clear(&roles);
}

/* Statements made of SQL-ish pieces, quotes left open included: no crash, no read past the end. */
static void test_random_statements(void **state)
{
	(void)state;
	static const char *const pieces[] = { "GRANT ", "REVOKE ", "ALTER ", "CREATE ", "POLICY ", "DEFAULT ",
					      "PRIVILEGES ", "FOR ", "ROLE ", "TO ", "FROM ", "OWNER ", "GROUP ",
					      "GRANTED ", "BY ", "reader", "\"", "'", "$$", "$a$", "(", ")", ",",
					      ";", " ", "--", "\n", "x", "PUBLIC", "USING ", "WITH " };
	pg_role_map m;
	pg_role_map_init(&m);
	bderr err;
	bderr_init(&err);
	assert_int_equal(pg_role_map_add(&m, "reader=r2", &err), 0);
	m.owner = strdup("own");
	unsigned seed = 12345;
	for (int round = 0; round < 20000; round++) {
		char buf[256];
		size_t len = sql_noise(&seed, pieces, sizeof pieces / sizeof *pieces, 12, buf, sizeof buf);
		char *exact = malloc(len ? len : 1);
		memcpy(exact, buf, len);
		free(pg_role_map_statement(&m, exact, len));
		free(exact);
	}
	pg_role_map_clear(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_role_map),
		cmocka_unit_test(test_owner),
		cmocka_unit_test(test_unknown),
		cmocka_unit_test(test_random_statements),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
