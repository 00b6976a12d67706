/* The engine registry and the dump options every engine takes (engines/engine.h). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "engines/engine.h"
#include "engines/follow.h"

static void test_registry(void **state)
{
	(void)state;
	const engine_ops *pg = engine_for_uri("postgresql://h/db");
	const engine_ops *my = engine_for_uri("MariaDB://h/db");
	assert_non_null(pg);
	assert_non_null(my);
	assert_ptr_equal(engine_for_uri("postgres://h"), pg);
	assert_ptr_equal(engine_for_uri("mysql://h"), my);
	assert_null(engine_for_uri("postgresq://h"));
	assert_null(engine_for_uri("/srv/db"));
	assert_null(engine_for_uri(NULL));
	assert_ptr_equal(engine_by_name("postgresql"), pg);
	assert_ptr_equal(engine_by_name("mysql"), my);
	assert_null(engine_by_name("mariadb"));
	/* every engine dumps, restores and checks; only a physical one has the physical checks */
	for (const engine_ops *e = pg; e; e = e == pg ? my : NULL) {
		assert_non_null(e->dump);
		assert_non_null(e->restore);
		assert_non_null(e->check);
		assert_int_equal(e->check_physical != NULL, e->physical);
		assert_int_equal(e->switch_wal != NULL, e->physical);
	}
	assert_true(pg->physical);
	assert_false(my->physical);
}

static void test_options(void **state)
{
	(void)state;
	engine_dump_options o;
	engine_dump_options_init(&o);
	assert_int_equal(o.jobs, ENGINE_JOBS_DEFAULT);
	assert_int_equal(o.compress_level, 1);
	assert_string_equal(o.compress_spec, ENGINE_COMPRESS_DEFAULT);
	assert_int_equal(o.chunk_bytes, 256ULL * 1024 * 1024);
	assert_int_equal(o.consistency, ENGINE_CONSISTENCY_DEFAULT);

	bderr err;
	bderr_init(&err);
	assert_int_equal(engine_dump_option_set(&o, "compress", "none", &err), 0);
	assert_int_equal(o.compress_level, 0);
	assert_int_equal(engine_dump_option_set(&o, "chunk-size", "64KiB", &err), 0);
	assert_int_equal(o.chunk_bytes, 64 * 1024);
	assert_int_equal(engine_dump_option_set(&o, "chunk-size", "2g", &err), 0);
	assert_int_equal(o.chunk_bytes, 2ULL << 30);
	assert_int_equal(engine_dump_option_set(&o, "consistency", "no-lock", &err), 0);
	assert_int_equal(o.consistency, ENGINE_CONSISTENCY_NO_LOCK);
	assert_int_equal(engine_dump_option_set(&o, "consistency", "ftwrl", &err), 0);
	assert_int_equal(o.consistency, ENGINE_CONSISTENCY_LOCK);
	assert_int_equal(o.copy_text, 0); /* auto: binary where the types allow */
	assert_int_equal(engine_dump_option_set(&o, "copy-format", "text", &err), 0);
	assert_int_equal(o.copy_text, 1);
	assert_int_equal(engine_dump_option_set(&o, "copy-format", "auto", &err), 0);
	assert_int_equal(o.copy_text, 0);

	static const char *const bad[][2] = {
		{ "chunk-size", "lots" }, { "chunk-size", "-1MB" }, { "chunk-size", "10TB" },
		{ "chunk-size", "99999999999999999999G" }, { "chunk-size", "" },
		{ "consistency", "strict" }, { "compress", "lz4" }, { "jobs", "4" },
		{ "copy-format", "binary" }, { "copy-format", "" }, { "copy-format", "TEXT" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		bderr_init(&err);
		if (engine_dump_option_set(&o, bad[i][0], bad[i][1], &err) == 0)
			fail_msg("%s = '%s' accepted", bad[i][0], bad[i][1]);
		assert_int_equal(err.exit_code, EXIT_USAGE);
	}

	/* PostgreSQL has no consistency choice; MySQL takes every option */
	engine_dump_options_init(&o);
	const engine_ops *pg = engine_by_name("postgresql"), *my = engine_by_name("mysql");
	assert_int_equal(engine_dump_options_check(pg, &o, &err), 0);
	o.consistency = ENGINE_CONSISTENCY_LOCK;
	bderr_init(&err);
	assert_int_equal(engine_dump_options_check(pg, &o, &err), -1);
	assert_non_null(strstr(err.msg, "only applies to MySQL/MariaDB"));
	assert_int_equal(engine_dump_options_check(my, &o, &err), 0);
	/* --copy-format is PostgreSQL's */
	engine_dump_options_init(&o);
	o.copy_text = 1;
	assert_int_equal(engine_dump_options_check(pg, &o, &err), 0);
	bderr_init(&err);
	assert_int_equal(engine_dump_options_check(my, &o, &err), -1);
	assert_non_null(strstr(err.msg, "applies to PostgreSQL sources only"));

	/*
	 * Given at all is refused by the other engine, the default value too:
	 * --copy-format auto on MySQL, --consistency lock on PostgreSQL,
	 * role-passwords = no on MySQL (and on a one-database PostgreSQL dump).
	 */
	static const struct {
		const char *engine, *key, *value, *named;
	} moot[] = {
		{ "mysql", "copy-format", "auto", "--copy-format" },
		{ "postgresql", "consistency", "lock", "--consistency" },
		{ "postgresql", "consistency", "ftwrl", "--consistency" },
	};
	for (size_t i = 0; i < sizeof moot / sizeof moot[0]; i++) {
		engine_dump_options_init(&o);
		bderr_init(&err);
		assert_int_equal(engine_dump_option_set(&o, moot[i].key, moot[i].value, &err), 0);
		if (engine_dump_options_check(engine_by_name(moot[i].engine), &o, &err) != -1)
			fail_msg("%s = %s accepted on %s", moot[i].key, moot[i].value, moot[i].engine);
		assert_int_equal(err.exit_code, EXIT_USAGE);
		assert_non_null(strstr(err.msg, moot[i].named));
	}
	engine_dump_options_init(&o);
	o.given |= ENGINE_GIVEN_ROLE_PASSWORDS; /* role-passwords = no */
	bderr_init(&err);
	assert_int_equal(engine_dump_options_check(my, &o, &err), -1);
	assert_non_null(strstr(err.msg, "--role-passwords"));
	bderr_init(&err);
	assert_int_equal(engine_dump_options_check(pg, &o, &err), -1);
	o.all_databases = 1;
	assert_int_equal(engine_dump_options_check(pg, &o, &err), 0);
	/* and each engine takes its own, default or not */
	engine_dump_options_init(&o);
	assert_int_equal(engine_dump_option_set(&o, "copy-format", "auto", &err), 0);
	assert_int_equal(engine_dump_options_check(pg, &o, &err), 0);
	engine_dump_options_init(&o);
	assert_int_equal(engine_dump_option_set(&o, "consistency", "lock", &err), 0);
	assert_int_equal(engine_dump_options_check(my, &o, &err), 0);

	engine_restore_options r = { .no_binlog = 1 };
	bderr_init(&err);
	assert_int_equal(engine_restore_options_check(pg, &r, &err), -1);
	assert_int_equal(engine_restore_options_check(my, &r, &err), 0);
}

/* Migration names become object names (backupd_NAME): [a-z0-9_], 1..40 bytes. */
static void test_follow_names(void **state)
{
	(void)state;
	assert_true(follow_name_ok("app"));
	assert_true(follow_name_ok("a_1"));
	assert_true(follow_name_ok("abcdefghijabcdefghijabcdefghijabcdefghij"));
	assert_false(follow_name_ok("abcdefghijabcdefghijabcdefghijabcdefghijk"));
	assert_false(follow_name_ok(""));
	assert_false(follow_name_ok(NULL));
	assert_false(follow_name_ok("App"));
	assert_false(follow_name_ok("a-b"));
	assert_false(follow_name_ok("a'b"));
	/* both engines follow */
	assert_non_null(engine_by_name("postgresql")->follow);
	assert_non_null(engine_by_name("mysql")->follow);
	/* MySQL/MariaDB refuses the PostgreSQL-only follow options instead of ignoring them */
	const engine_follow_ops *myf = engine_by_name("mysql")->follow;
	assert_non_null(myf->options_check);
	bderr oerr;
	bderr_init(&oerr);
	follow_options fo = { .name = "m" };
	assert_int_equal(myf->options_check(&fo, &oerr), 0);
	fo.replica_identity_full = 1;
	assert_int_equal(myf->options_check(&fo, &oerr), -1);
	assert_int_equal(oerr.exit_code, EXIT_USAGE);
	assert_non_null(strstr(oerr.msg, "--replica-identity-full applies to PostgreSQL sources only"));
	fo.replica_identity_full = 0;
	fo.upstream_passfile = "/etc/pgpass";
	bderr_init(&oerr);
	assert_int_equal(myf->options_check(&fo, &oerr), -1);
	assert_non_null(strstr(oerr.msg, "--upstream-passfile applies to PostgreSQL sources only"));
	/* a source that asks for TLS: the replication connection would not use it */
	fo.upstream_passfile = NULL;
	fo.from_url = "mysql://u@h/db?ssl-mode=disabled";
	bderr_init(&oerr);
	assert_int_equal(myf->options_check(&fo, &oerr), 0);
	const char *tls[] = { "mysql://u@h/db?ssl-mode=required", "mysql://u@h/db?ssl-mode=verify-ca",
			      "mysql://u@h/db?ssl-ca=/ca.pem", "mysql://u@h/db?ssl=1" };
	for (size_t i = 0; i < sizeof tls / sizeof tls[0]; i++) {
		fo.from_url = tls[i];
		bderr_init(&oerr);
		assert_int_equal(myf->options_check(&fo, &oerr), -1);
		assert_int_equal(oerr.exit_code, EXIT_USAGE);
		assert_non_null(strstr(oerr.msg, "asks for TLS"));
	}
	fo.from_url = "mysql://u@h/db";
	fo.upstream_url = "mysql://r@h2?ssl-mode=required";
	bderr_init(&oerr);
	assert_int_equal(myf->options_check(&fo, &oerr), -1);
	assert_non_null(strstr(oerr.msg, "--upstream URI asks for TLS"));
	follow_state st = { json_object(), NULL, NULL };
	follow_set(&st, "k", "v");
	follow_set_int(&st, "n", 42);
	assert_string_equal(follow_get(&st, "k"), "v");
	assert_int_equal(follow_get_int(&st, "n", 0), 42);
	assert_null(follow_get(&st, "n"));
	follow_set(&st, "k", NULL);
	assert_null(follow_get(&st, "k"));
	assert_int_equal(follow_get_int(&st, "missing", -1), -1);
	bderr err;
	bderr_init(&err);
	assert_int_equal(follow_save(&st, &err), 0);
	json_decref(st.data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registry),
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_follow_names),
	};
	return cmocka_run_group_tests_name("engine", tests, NULL, NULL);
}
