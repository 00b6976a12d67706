#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "engines/mysql/myconn.h"

static void test_uri_full(void **state)
{
	(void)state;
	my_uri u;
	bderr err;
	bderr_init(&err);
	assert_int_equal(my_uri_parse("mysql://bk:p%40ss@db.example:3307/app?ssl-mode=verify-ca&ssl-ca=/etc/ca.pem", &u, &err), 0);
	assert_string_equal(u.user, "bk");
	assert_string_equal(u.password, "p@ss");
	assert_string_equal(u.host, "db.example");
	assert_int_equal(u.port, 3307);
	assert_int_equal(u.n_databases, 1);
	assert_string_equal(u.databases[0], "app");
	assert_int_equal(u.ssl_mode, MY_SSL_VERIFY_CA);
	assert_string_equal(u.ssl_ca, "/etc/ca.pem");
	my_uri_clear(&u);
}

static void test_uri_database_lists(void **state)
{
	(void)state;
	my_uri u;
	bderr err;
	bderr_init(&err);
	assert_int_equal(my_uri_parse("mariadb://root@127.0.0.1/a,b%2Cc", &u, &err), 0);
	assert_int_equal(u.n_databases, 2);
	assert_string_equal(u.databases[0], "a");
	assert_string_equal(u.databases[1], "b,c");
	assert_null(u.password);
	my_uri_clear(&u);
	assert_int_equal(my_uri_parse("mysql://u@h/?databases=x,y,x", &u, &err), 0);
	assert_int_equal(u.n_databases, 2);
	assert_string_equal(u.databases[1], "y");
	my_uri_clear(&u);
	assert_int_equal(my_uri_parse("mysql://h", &u, &err), 0);
	assert_int_equal(u.n_databases, 0);
	assert_null(u.user);
	assert_string_equal(u.host, "h");
	assert_int_equal(u.port, 0);
	my_uri_clear(&u);
}

static void test_uri_socket_and_ipv6(void **state)
{
	(void)state;
	my_uri u;
	bderr err;
	bderr_init(&err);
	assert_int_equal(my_uri_parse("mysql://u@localhost/d?socket=%2Ftmp%2Fm.sock", &u, &err), 0);
	assert_string_equal(u.socket, "/tmp/m.sock");
	my_uri_clear(&u);
	assert_int_equal(my_uri_parse("mysql://u@[::1]:3306/d", &u, &err), 0);
	assert_string_equal(u.host, "::1");
	assert_int_equal(u.port, 3306);
	my_uri_clear(&u);
}

static void test_uri_errors_do_not_echo_passwords(void **state)
{
	(void)state;
	my_uri u;
	bderr err;
	bderr_init(&err);
	assert_int_equal(my_uri_parse("mysql://u:secret@h:99999/d", &u, &err), -1);
	assert_int_equal(err.exit_code, 2);
	assert_null(strstr(err.msg, "secret"));
	bderr_init(&err);
	assert_int_equal(my_uri_parse("mysql://u:secret@h/d?bogus=1", &u, &err), -1);
	assert_null(strstr(err.msg, "secret"));
	/* no '@': "u:Sekr3t" reads as host:port, and the "port" is the password */
	bderr_init(&err);
	assert_int_equal(my_uri_parse("mysql://u:Sekr3t/d", &u, &err), -1);
	assert_int_equal(err.exit_code, 2);
	assert_null(strstr(err.msg, "Sekr3t"));
	bderr_init(&err);
	assert_int_equal(my_uri_parse("postgresql://h/d", &u, &err), -1);
	bderr_init(&err);
	assert_int_equal(my_uri_parse("mysql://h/d?ssl-mode=maybe", &u, &err), -1);
}

static void test_identifier_quoting(void **state)
{
	(void)state;
	char *q = my_quote_ident("plain");
	assert_string_equal(q, "`plain`");
	free(q);
	q = my_quote_ident("we`ird``");
	assert_string_equal(q, "`we``ird`````");
	free(q);
	q = my_quote_ident("");
	assert_string_equal(q, "``");
	free(q);
	q = my_qualified_name("d`b", "t");
	assert_string_equal(q, "`d``b`.`t`");
	free(q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uri_full),
		cmocka_unit_test(test_uri_database_lists),
		cmocka_unit_test(test_uri_socket_and_ipv6),
		cmocka_unit_test(test_uri_errors_do_not_echo_passwords),
		cmocka_unit_test(test_identifier_quoting),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
