#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "common/program.h"

/* A password anywhere in argv is a usage error naming the option, never the value. */
static void test_argv_secrets(void **state)
{
	(void)state;
	struct {
		const char *args[4];
		const char *named; /* NULL: accepted */
	} cases[] = {
		{ { "dbrestore", "--to", "postgresql://u:Sekr3t@h/db", NULL }, "--to: a password" },
		{ { "dbrestore", "--to=postgresql://u:Sekr3t@h/db", NULL }, "--to: a password" },
		{ { "backupd", "--source", "host=h password=Sekr3t", NULL }, "--source: a password" },
		{ { "backupd", "--source", "mysql://u:Sekr3t@h/db", NULL }, "--source: a password" },
		{ { "dbrestore", "--repo", "/r", "mysql://u:Sekr3t@h" }, "an argument: a password" },
		{ { "backupd", "--source", "postgresql://u@h/db", NULL }, NULL },
		{ { "backupd", "--source", "host=h passfile=/p user=u", NULL }, NULL },
		{ { "backupd", "--repo", "s3://bucket/x", NULL }, NULL },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int argc = 0;
		while (argc < 4 && cases[i].args[argc])
			argc++;
		bderr e = { 0 };
		int rc = program_argv_secrets(argc, (char **)cases[i].args, &e);
		if (cases[i].named == NULL) {
			assert_int_equal(rc, 0);
			continue;
		}
		assert_int_equal(rc, -1);
		assert_int_equal(e.exit_code, EXIT_USAGE);
		assert_non_null(strstr(e.msg, cases[i].named));
		assert_null(strstr(e.msg, "Sekr3t"));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_argv_secrets),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
