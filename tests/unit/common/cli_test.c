#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cli.h"
#include "common/config.h"

static const cli_option dump_opts[] = {
	{ "source", "S", "database to dump", CLI_REQUIRED, NULL, 0, 0 },
	{ "repo", "R", "repository", CLI_REQUIRED, NULL, 0, 0 },
	{ "name", "N", "backup name", 0, NULL, 0, 0 },
	{ "jobs", "N", "parallel connections", 0, "2", 1, 64 },
	{ "dry-run", NULL, "change nothing", 0, NULL, 0, 0 },
	CLI_OPT_END,
};

static int run_nothing(struct program *p, bderr *err)
{
	(void)p;
	(void)err;
	return 0;
}

static const cli_command dump_cmd = { "dump", "dump a database", "[ID]", 0, 1, run_nothing,
				      dump_opts, 0 };

/* Parses a NULL-terminated list of words after "prog cmd". */
static int parse(cli_args *a, bderr *err, const cli_option *opts, ...)
{
	static char *argv[CLI_MAX_ARGS * 2 + 8];
	int argc = 0;
	argv[argc++] = "backupd";
	argv[argc++] = "dump";
	va_list ap;
	va_start(ap, opts);
	for (const char *w = va_arg(ap, const char *); w; w = va_arg(ap, const char *))
		argv[argc++] = (char *)w;
	va_end(ap);
	argv[argc] = NULL;
	bderr_init(err);
	return cli_parse(argc, argv, 2, opts, a, err);
}

static void test_values_and_flags(void **state)
{
	(void)state;
	cli_args a;
	bderr err;
	assert_int_equal(parse(&a, &err, dump_opts, "--source", "appdb", "--repo=offsite", "-c",
			       "/etc/x.conf", "--dry-run", "--json", "--log-level", "debug", "pos1",
			       "--jobs=4", "pos2", NULL),
			 0);
	assert_string_equal(cli_get(&a, "source"), "appdb");
	assert_string_equal(cli_get(&a, "repo"), "offsite");
	assert_string_equal(a.config_path, "/etc/x.conf");
	assert_string_equal(a.log_level, "debug");
	assert_int_equal(a.json, 1);
	assert_int_equal(a.help, 0);
	assert_true(cli_has(&a, "dry-run"));
	assert_null(cli_get(&a, "dry-run"));
	assert_false(cli_has(&a, "name"));
	assert_null(cli_get(&a, "name"));
	assert_int_equal(a.n_positional, 2);
	assert_string_equal(a.positional[0], "pos1");
	assert_string_equal(a.positional[1], "pos2");
	int jobs = 0;
	assert_int_equal(cli_get_int(&a, "jobs", 1, 1, 64, &jobs, &err), 0);
	assert_int_equal(jobs, 4);
	assert_int_equal(cli_get_int(&a, "name", 7, 1, 64, &jobs, &err), 0);
	assert_int_equal(jobs, 7);
}

static void test_config_forms(void **state)
{
	(void)state;
	cli_args a;
	bderr err;
	assert_int_equal(parse(&a, &err, dump_opts, "-c/etc/a.conf", NULL), 0);
	assert_string_equal(a.config_path, "/etc/a.conf");
	assert_int_equal(parse(&a, &err, dump_opts, "--config", "/etc/b.conf", NULL), 0);
	assert_string_equal(a.config_path, "/etc/b.conf");
	assert_int_equal(parse(&a, &err, dump_opts, "--config=/etc/c.conf", NULL), 0);
	assert_string_equal(a.config_path, "/etc/c.conf");
	assert_string_equal(cli_config_path(&a), "/etc/c.conf");

	assert_int_equal(parse(&a, &err, dump_opts, NULL), 0);
	assert_null(a.config_path);
	unsetenv("BACKUPD_CONFIG");
	assert_string_equal(cli_config_path(&a), CONFIG_DEFAULT_PATH);
	setenv("BACKUPD_CONFIG", "/env/backupd.conf", 1);
	assert_string_equal(cli_config_path(&a), "/env/backupd.conf");
	unsetenv("BACKUPD_CONFIG");
}

static void test_help_and_separator(void **state)
{
	(void)state;
	cli_args a;
	bderr err;
	assert_int_equal(parse(&a, &err, NULL, "-h", NULL), 0);
	assert_int_equal(a.help, 1);
	assert_int_equal(parse(&a, &err, NULL, "--help", NULL), 0);
	assert_int_equal(a.help, 1);

	/* after "--" everything is positional, "-" alone always is */
	assert_int_equal(parse(&a, &err, dump_opts, "-", "--", "--repo", "-c", NULL), 0);
	assert_int_equal(a.n_positional, 3);
	assert_string_equal(a.positional[0], "-");
	assert_string_equal(a.positional[1], "--repo");
	assert_string_equal(a.positional[2], "-c");
	assert_int_equal(a.n_opts, 0);

	/* a value may contain '='; the same value twice is no conflict */
	assert_int_equal(parse(&a, &err, dump_opts, "--name", "b=c", "--name=b=c", NULL), 0);
	assert_string_equal(cli_get(&a, "name"), "b=c");
}

static const cli_option filter_opts[] = {
	{ "table", "PATTERN", "only these tables", CLI_REPEATABLE, NULL, 0, 0 },
	{ "exclude", "PATTERN", "not these ([SCHEMA.]TABLE)", CLI_REPEATABLE | CLI_REQUIRED, NULL, 0, 0 },
	{ "jobs", "N", "parallel connections", 0, "2", 1, 64 },
	/* what the help says is not what the parser reads: only the flag counts */
	{ "schema", "PATTERN", "these schemas (repeatable)", 0, NULL, 0, 0 },
	CLI_OPT_END,
};

/* A CLI_REPEATABLE option keeps every value; any other refuses a second one. */
static void test_repeated(void **state)
{
	(void)state;
	cli_args a;
	bderr err;
	assert_int_equal(parse(&a, &err, filter_opts, "--table", "a", "--table=b", "--exclude", "c",
			       "--exclude", "d", "--jobs", "3", "--jobs=3", NULL),
			 0);
	assert_int_equal(a.n_opts, 6);
	assert_string_equal(a.opts[0].value, "a");
	assert_string_equal(a.opts[1].value, "b");
	assert_string_equal(a.opts[3].value, "d");
	assert_string_equal(cli_get(&a, "jobs"), "3");
	/* the help's words make nothing repeatable: the flag does */
	assert_int_equal(parse(&a, &err, filter_opts, "--schema", "a", "--schema", "b", NULL), -1);
	assert_int_equal(err.exit_code, EXIT_USAGE);
	assert_non_null(strstr(err.msg, "option '--schema' is given twice"));
	/* flags given twice change nothing */
	assert_int_equal(parse(&a, &err, dump_opts, "--dry-run", "--dry-run", "--json", "--json", NULL), 0);
	/* the same config or log level twice is no conflict either */
	assert_int_equal(parse(&a, &err, dump_opts, "-c/etc/a.conf", "--config", "/etc/a.conf",
			       "--log-level=warn", "--log-level", "warn", NULL),
			 0);
}

/* "(repeatable)" and "[required]" in the help come from the flags, once each. */
static void test_help_flags(void **state)
{
	(void)state;
	const cli_command cmd = { "filter", "filter things", NULL, 0, 0, NULL, filter_opts, 0 };
	char buf[4096] = "";
	FILE *f = fmemopen(buf, sizeof buf - 1, "w");
	assert_non_null(f);
	cli_print_command_help(f, "backupd", &cmd);
	fclose(f);
	assert_non_null(strstr(buf, "only these tables (repeatable)\n"));
	assert_non_null(strstr(buf, "not these ([SCHEMA.]TABLE) (repeatable) [required]\n"));
	assert_non_null(strstr(buf, "parallel connections (default 2, 1..64)\n"));
	assert_non_null(strstr(buf, "usage: backupd filter --exclude PATTERN [--table PATTERN]"));
}

struct bad_case {
	const char *words[4];
	const char *error;
};

static const struct bad_case bad_cases[] = {
	{ { "--foo", NULL }, "unknown option '--foo'" },
	{ { "--password=hunter2", NULL }, "unknown option '--password'" },
	{ { "-x", NULL }, "unknown option '-x'" },
	{ { "-psecret", NULL }, "unknown option '-p'" },
	{ { "--rep", "x", NULL }, "unknown option '--rep'" },
	{ { "--repo", NULL }, "option '--repo' needs a value" },
	{ { "--repo=", NULL }, "option '--repo' needs a value" },
	{ { "--repo", "--json", NULL }, "option '--repo' needs a value" },
	{ { "-c", NULL }, "option '-c' needs a value" },
	{ { "--config", NULL }, "option '--config' needs a value" },
	{ { "--json=x", NULL }, "option '--json' does not take a value" },
	{ { "--dry-run=yes", NULL }, "option '--dry-run' does not take a value" },
	{ { "--help=1", NULL }, "option '--help' does not take a value" },
	{ { "--log-level", "loud", NULL },
	  "option '--log-level' must be error, warn, info or debug, got 'loud'" },
	/* "--jobs 8 ... --jobs 2": one of them would be silently dropped */
	{ { "--jobs=8", "--jobs=2", NULL }, "option '--jobs' is given twice with different values: give it once" },
	{ { "--source", "postgresql://u:pw@h/a", "--source=postgresql://u:pw@h/b" },
	  "option '--source' is given twice with different values: give it once" },
	{ { "-c/etc/a.conf", "--config=/etc/b.conf", NULL },
	  "option '--config' is given twice with different values: give it once" },
	{ { "--config=/etc/a.conf", "-c", "/etc/b.conf" },
	  "option '-c' is given twice with different values: give it once" },
	{ { "--log-level=info", "--log-level=debug", NULL },
	  "option '--log-level' is given twice with different values: give it once" },
	{ { "--log-format=text", "--log-format=json", NULL },
	  "option '--log-format' is given twice with different values: give it once" },
};

static void test_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
		const struct bad_case *c = &bad_cases[i];
		cli_args a;
		bderr err;
		int rc = parse(&a, &err, dump_opts, c->words[0], c->words[1], c->words[2], NULL);
		if (rc != -1 || strcmp(err.msg, c->error) != 0)
			fail_msg("case %zu: rc %d, got \"%s\", want \"%s\"", i, rc, err.msg, c->error);
		assert_int_equal(err.exit_code, EXIT_USAGE);
	}
}

static void test_get_int(void **state)
{
	(void)state;
	static const char *bad[] = { "x", "", " 4", "4 ", "0", "65", "4x", "99999999999999999999" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cli_args a;
		bderr err;
		char *word = NULL;
		assert_true(asprintf(&word, "--jobs=%s", bad[i]) > 0);
		int rc = parse(&a, &err, dump_opts, word, NULL);
		if (bad[i][0] == '\0') {
			assert_int_equal(rc, -1); /* "--jobs=" has no value at all */
			free(word);
			continue;
		}
		assert_int_equal(rc, 0);
		int n = 12345;
		assert_int_equal(cli_get_int(&a, "jobs", 1, 1, 64, &n, &err), -1);
		char want[200];
		snprintf(want, sizeof want,
			 "option '--jobs' must be an integer between 1 and 64, got '%s'", bad[i]);
		assert_string_equal(err.msg, want);
		assert_int_equal(err.exit_code, EXIT_USAGE);
		assert_int_equal(n, 12345);
		free(word);
	}
}

static void test_too_many(void **state)
{
	(void)state;
	char *argv[CLI_MAX_ARGS + 4];
	int argc = 0;
	argv[argc++] = "backupd";
	argv[argc++] = "verify";
	for (int i = 0; i < CLI_MAX_ARGS + 1; i++)
		argv[argc++] = "id";
	argv[argc] = NULL;
	cli_args a;
	bderr err;
	bderr_init(&err);
	assert_int_equal(cli_parse(argc, argv, 2, NULL, &a, &err), -1);
	assert_string_equal(err.msg, "too many arguments (at most 64)");

	/* exactly the maximum is fine */
	assert_int_equal(cli_parse(argc - 1, argv, 2, NULL, &a, &err), 0);
	assert_int_equal(a.n_positional, CLI_MAX_ARGS);

	for (int i = 2; i < argc; i++)
		argv[i] = "--dry-run";
	assert_int_equal(cli_parse(argc, argv, 2, dump_opts, &a, &err), -1);
	assert_string_equal(err.msg, "too many options (at most 64)");
}

/* Positional counts and required options come from the command's table. */
static void test_check_args(void **state)
{
	(void)state;
	cli_args a;
	bderr err;
	assert_int_equal(parse(&a, &err, dump_opts, "--source", "s", "--repo", "r", "id1", NULL), 0);
	assert_int_equal(cli_check_args(&dump_cmd, &a, &err), 0);

	assert_int_equal(parse(&a, &err, dump_opts, "--source", "s", "--repo", "r", "id1", "junk",
			       NULL),
			 0);
	assert_int_equal(cli_check_args(&dump_cmd, &a, &err), -1);
	assert_string_equal(err.msg, "unexpected argument 'junk'");
	assert_int_equal(err.exit_code, EXIT_USAGE);

	assert_int_equal(parse(&a, &err, dump_opts, "--repo", "r", NULL), 0);
	assert_int_equal(cli_check_args(&dump_cmd, &a, &err), -1);
	assert_string_equal(err.msg, "option '--source' is required");
	assert_int_equal(err.exit_code, EXIT_USAGE);

	static const cli_option none[] = { CLI_OPT_END };
	static const cli_command wal_get = { "wal-get", "fetch", "WALNAME PATH", 2, 2, run_nothing,
					     none, 0 };
	assert_int_equal(parse(&a, &err, none, "f", NULL), 0);
	assert_int_equal(cli_check_args(&wal_get, &a, &err), -1);
	assert_string_equal(err.msg, "missing arguments WALNAME PATH");
}

/* cli_int takes the default and the bounds from the table entry. */
static void test_int_from_table(void **state)
{
	(void)state;
	cli_args a;
	bderr err;
	int n = 0;
	assert_int_equal(parse(&a, &err, dump_opts, NULL), 0);
	assert_int_equal(cli_int(&a, "jobs", &n, &err), 0);
	assert_int_equal(n, 2);
	assert_int_equal(parse(&a, &err, dump_opts, "--jobs", "65", NULL), 0);
	assert_int_equal(cli_int(&a, "jobs", &n, &err), -1);
	assert_string_equal(err.msg, "option '--jobs' must be an integer between 1 and 64, got '65'");
	/* a string option is not an integer: a programming error, said so */
	assert_int_equal(cli_int(&a, "name", &n, &err), -1);
}

static char *capture(void (*fn)(FILE *f, const void *arg), const void *arg)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	fn(f, arg);
	fclose(f);
	return buf;
}

static void print_dump_help(FILE *f, const void *arg)
{
	cli_print_command_help(f, "backupd", arg);
}

static void print_list(FILE *f, const void *arg)
{
	cli_print_commands(f, "backupd", arg, 1);
}

/* The synopsis and the option list are generated from the same table that parses. */
static void test_generated_usage(void **state)
{
	(void)state;
	char *h = capture(print_dump_help, &dump_cmd);
	assert_non_null(strstr(h, "usage: backupd dump --source S --repo R [--name N] [--jobs N] "
				  "[--dry-run] [ID]\n"));
	assert_non_null(strstr(h, "\ndump a database\n"));
	assert_non_null(strstr(h, "  --jobs N"));
	assert_non_null(strstr(h, "parallel connections (default 2, 1..64)\n"));
	assert_non_null(strstr(h, "database to dump [required]\n"));
	assert_non_null(strstr(h, "  --dry-run "));
	/* the global options are listed for every command */
	assert_non_null(strstr(h, "  --log-level L"));
	assert_non_null(strstr(h, "  --config FILE"));
	free(h);

	char *l = capture(print_list, &dump_cmd);
	assert_non_null(strstr(l, "commands:\n  dump         dump a database\n"));
	free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_values_and_flags), cmocka_unit_test(test_config_forms),
		cmocka_unit_test(test_help_and_separator), cmocka_unit_test(test_errors),
		cmocka_unit_test(test_repeated),
		cmocka_unit_test(test_help_flags),
		cmocka_unit_test(test_get_int), cmocka_unit_test(test_too_many),
		cmocka_unit_test(test_check_args), cmocka_unit_test(test_int_from_table),
		cmocka_unit_test(test_generated_usage),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
