/*
 * The recorded accounts of a dump: PostgreSQL info.roles
 * (engines/pg/pg_role_format.h) and MySQL info.users
 * (engines/mysql/mysql_user_format.h): round trip, dumps from before they
 * were recorded, malformed fields refused with their path.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "engines/mysql/mysql_user_format.h"
#include "engines/pg/pg_role_format.h"

static json_t *load(const char *text)
{
	json_error_t je;
	json_t *v = json_loads(text, 0, &je);
	if (v == NULL)
		fail_msg("bad test JSON: %s", je.text);
	return v;
}

static void test_pg_roles_round_trip(void **state)
{
	(void)state;
	json_t *info = load("{\"roles\": [{\"name\": \"app\", \"uses\": [\"owner\", \"policy\"],"
			    " \"login\": true, \"inherit\": true, \"createdb\": false, \"createrole\": true,"
			    " \"superuser\": false, \"replication\": true, \"bypassrls\": false,"
			    " \"connection_limit\": 5},"
			    " {\"name\": \"ro\", \"uses\": [\"acl\"], \"login\": false, \"inherit\": false,"
			    " \"createdb\": true, \"createrole\": false, \"superuser\": true,"
			    " \"replication\": false, \"bypassrls\": true, \"connection_limit\": -1}]}");
	pg_roles_info r;
	bderr err;
	bderr_init(&err);
	assert_int_equal(pg_roles_info_parse(info, &r, &err), 0);
	assert_int_equal(r.n, 2);
	assert_string_equal(r.roles[0].name, "app");
	assert_int_equal(r.roles[0].uses, PG_ROLE_OWNER | PG_ROLE_POLICY);
	assert_true(r.roles[0].login && r.roles[0].createrole && r.roles[0].replication);
	assert_int_equal(r.roles[0].connection_limit, 5);
	assert_int_equal(r.roles[1].uses, PG_ROLE_ACL);
	json_t *back = pg_roles_info_to_json(&r);
	assert_true(json_equal(back, json_object_get(info, "roles")));
	json_decref(back);
	pg_roles_info_clear(&r);
	json_decref(info);

	/* before roles were recorded: none */
	info = load("{\"database\": \"x\"}");
	assert_int_equal(pg_roles_info_parse(info, &r, &err), 0);
	assert_int_equal(r.n, 0);
	json_decref(info);
}

static void pg_refused(const char *text, const char *expect)
{
	json_t *info = load(text);
	pg_roles_info r;
	bderr err;
	bderr_init(&err);
	assert_int_equal(pg_roles_info_parse(info, &r, &err), -1);
	if (strstr(err.msg, expect) == NULL || strstr(err.msg, "invalid manifest") == NULL)
		fail_msg("'%s' does not mention '%s'", err.msg, expect);
	assert_int_equal(r.n, 0);
	json_decref(info);
}

static void test_pg_roles_malformed(void **state)
{
	(void)state;
	pg_refused("{\"roles\": {}}", "info.roles");
	pg_refused("{\"roles\": [1]}", "info.roles[0] must be an object");
	pg_refused("{\"roles\": [{\"uses\": []}]}", "info.roles[0]");
	pg_refused("{\"roles\": [{\"name\": \"\"}]}", "info.roles[0].name");
	pg_refused("{\"roles\": [{\"name\": \"a\"}, {\"name\": \"b\", \"uses\": [\"owner\", \"root\"]}]}",
		   "info.roles[1].uses[1]");
	pg_refused("{\"roles\": [{\"name\": \"a\", \"login\": \"yes\"}]}", "info.roles[0].login");
	pg_refused("{\"roles\": [{\"name\": \"a\", \"connection_limit\": \"1; DROP\"}]}",
		   "info.roles[0].connection_limit");
	pg_refused("{\"roles\": [{\"name\": \"a\", \"connection_limit\": -2}]}",
		   "info.roles[0].connection_limit");
}

static void test_my_users_round_trip(void **state)
{
	(void)state;
	json_t *info = load("{\"users\": [{\"account\": \"'app'@'%'\", \"grants\":"
			    " [\"GRANT SELECT ON `shop`.* TO `app`@`%`\"]},"
			    " {\"account\": \"'o''k\\\\x'@'h'\", \"grants\": []}]}");
	my_users_info u;
	bderr err;
	bderr_init(&err);
	assert_int_equal(my_users_info_parse(info, &u, &err), 0);
	assert_true(u.recorded);
	assert_int_equal(u.n, 2);
	assert_string_equal(u.users[0].account, "'app'@'%'");
	assert_int_equal(u.users[0].n_grants, 1);
	json_t *back = my_users_info_to_json(&u);
	assert_true(json_equal(back, json_object_get(info, "users")));
	json_decref(back);
	my_users_info_clear(&u);
	json_decref(info);

	info = load("{\"databases\": []}");
	assert_int_equal(my_users_info_parse(info, &u, &err), 0);
	assert_false(u.recorded);
	json_decref(info);

	/* the writer's side: built by add, read back */
	my_users_info w = { 0 };
	char **g = xcalloc(2, sizeof *g);
	g[0] = xstrdup("GRANT ALL PRIVILEGES ON `a`.* TO `b`@`localhost`");
	my_users_info_add(&w, "'b'@'localhost'", g, 1);
	json_t *wi = json_pack("{s:o}", "users", my_users_info_to_json(&w));
	assert_int_equal(my_users_info_parse(wi, &u, &err), 0);
	assert_string_equal(u.users[0].grants[0], g[0]);
	my_users_info_clear(&u);
	my_users_info_clear(&w);
	json_decref(wi);
}

static void my_refused(const char *text, const char *expect)
{
	json_t *info = load(text);
	my_users_info u;
	bderr err;
	bderr_init(&err);
	assert_int_equal(my_users_info_parse(info, &u, &err), -1);
	if (strstr(err.msg, expect) == NULL || strstr(err.msg, "invalid manifest") == NULL)
		fail_msg("'%s' does not mention '%s'", err.msg, expect);
	assert_int_equal(u.n, 0);
	json_decref(info);
}

static void test_my_users_malformed(void **state)
{
	(void)state;
	my_refused("{\"users\": \"x\"}", "info.users");
	my_refused("{\"users\": [{\"grants\": []}]}", "info.users[0]");
	my_refused("{\"users\": [{\"account\": \"'a'@'b'\"}]}", "info.users[0]");
	my_refused("{\"users\": [{\"account\": \"'a'@'b'\", \"grants\": [1]}]}", "info.users[0].grants[0]");
	my_refused("{\"users\": [{\"account\": \"'a'@'b'; DROP USER x\", \"grants\": []}]}",
		   "info.users[0].account must be 'user'@'host'");
	my_refused("{\"users\": [{\"account\": \"a@b\", \"grants\": []}]}", "info.users[0].account");
	assert_true(my_account_valid("'a'@'b'"));
	assert_true(my_account_valid("'it''s'@'%'"));
	assert_false(my_account_valid("'a'@'b"));
	assert_false(my_account_valid("'a'"));
	assert_false(my_account_valid(""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pg_roles_round_trip),
		cmocka_unit_test(test_pg_roles_malformed),
		cmocka_unit_test(test_my_users_round_trip),
		cmocka_unit_test(test_my_users_malformed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
