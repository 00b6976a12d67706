/*
 * The target options restore and migrate share (restore/target_options.h):
 * one reader, one set of refusals, for both commands' tables.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "common/error.h"
#include "restore/target_options.h"

static const cli_option opts[] = {
	{ "to", "URI", "target", CLI_REQUIRED, NULL, 0, 0 },
	{ "jobs", "N", "jobs", 0, "2", 1, 64 },
	TARGET_OPTIONS,
	CLI_OPT_END,
};

/* Parses argv (after "cmd") and reads the target options for a PostgreSQL target. */
static int read_args(const char *const *args, engine_restore_options *o, bderr *err)
{
	char *argv[32];
	int argc = 0;
	argv[argc++] = "dbrestore";
	argv[argc++] = "restore";
	for (int i = 0; args[i]; i++)
		argv[argc++] = (char *)args[i];
	argv[argc] = NULL;
	program p;
	memset(o, 0, sizeof *o);
	int rc = program_parse(&p, argc, argv, opts, err);
	source_spec t = { .url = "postgresql://admin@host/postgres",
			  .engine = engine_for_uri("postgresql://x") };
	if (rc == 0)
		rc = target_options_read(&p, &t, o, err);
	program_free(&p);
	return rc;
}

static void test_provision(void **state)
{
	(void)state;
	engine_restore_options o;
	bderr err;
	bderr_init(&err);
	const char *ok[] = { "--provision", "app", "--owner", "app_owner", "--env-file", "/tmp/x.env",
			     "--role-map", "a=b", "--role-map", "c=d", "--jobs", "3", NULL };
	assert_int_equal(read_args(ok, &o, &err), 0);
	assert_true(o.create); /* --provision implies it */
	assert_string_equal(o.provision_db, "app");
	assert_string_equal(o.owner, "app_owner");
	assert_int_equal(o.jobs, 3);
	assert_non_null(o.role_map);
	assert_string_equal(o.role_map[0], "a=b");
	assert_string_equal(o.role_map[1], "c=d");
	assert_null(o.role_map[2]);
	assert_string_equal(o.to_url, "postgresql://admin@host/postgres");
	target_options_clear(&o);
	assert_null(o.role_map);
}

static void refused(const char *const *args, const char *needle)
{
	engine_restore_options o;
	bderr err;
	bderr_init(&err);
	assert_int_equal(read_args(args, &o, &err), -1);
	assert_int_equal(err.exit_code, EXIT_USAGE);
	if (strstr(err.msg, needle) == NULL)
		fail_msg("'%s' does not say '%s'", err.msg, needle);
	target_options_clear(&o);
}

static void test_refusals(void **state)
{
	(void)state;
	refused((const char *[]){ "--provision", "app", "--owner", "o", NULL }, "--env-file");
	refused((const char *[]){ "--env-file", "/tmp/x", NULL }, "go with --provision");
	refused((const char *[]){ "--reuse-role", NULL }, "go with --provision");
	refused((const char *[]){ "--provision",
				  "a234567890123456789012345678901234567890123456789012345678901234",
				  "--owner", "o", "--env-file", "/tmp/x", NULL },
		"1 to 63 bytes");
	/* the engine's own checks run too */
	refused((const char *[]){ "--owner", "o", "--no-owner", NULL }, "contradict");
	refused((const char *[]){ "--no-binlog", NULL }, "MySQL/MariaDB");
}

static void test_none(void **state)
{
	(void)state;
	engine_restore_options o;
	bderr err;
	bderr_init(&err);
	assert_int_equal(read_args((const char *[]){ NULL }, &o, &err), 0);
	assert_false(o.create);
	assert_null(o.role_map);
	assert_null(o.owner);
	assert_int_equal(o.jobs, 2);
	target_options_clear(&o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_provision),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_none),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
