#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "common/error.h"

static void test_init(void **state)
{
	(void)state;
	bderr err;
	memset(&err, 0x5a, sizeof err);
	bderr_init(&err);
	assert_int_equal(err.exit_code, 0);
	assert_int_equal(err.sys_errno, 0);
	assert_string_equal(err.msg, "");
	assert_false(bderr_isset(&err));
}

static void test_set_sys_usage(void **state)
{
	(void)state;
	bderr err;
	bderr_init(&err);
	assert_int_equal(bderr_set(&err, "cannot open '%s'", "x"), -1);
	assert_true(bderr_isset(&err));
	assert_string_equal(err.msg, "cannot open 'x'");
	assert_int_equal(err.exit_code, EXIT_FAILURE_RUN);
	assert_int_equal(err.sys_errno, 0);

	assert_int_equal(bderr_sys(&err, EACCES, "cannot open '%s'", "x"), -1);
	assert_string_equal(err.msg, "cannot open 'x': Permission denied");
	assert_int_equal(err.exit_code, EXIT_FAILURE_RUN);
	assert_int_equal(err.sys_errno, EACCES);

	/* a later set replaces the message and clears the errno */
	assert_int_equal(bderr_usage(&err, "unknown command '%s'", "frob"), -1);
	assert_string_equal(err.msg, "unknown command 'frob'");
	assert_int_equal(err.exit_code, EXIT_USAGE);
	assert_int_equal(err.sys_errno, 0);
}

static void test_prefix(void **state)
{
	(void)state;
	bderr err;
	bderr_init(&err);
	bderr_sys(&err, ENOENT, "cannot open '%s'", "f");
	assert_int_equal(bderr_prefix(&err, "job %s", "nightly"), -1);
	assert_string_equal(err.msg, "job nightly: cannot open 'f': No such file or directory");
	assert_int_equal(err.exit_code, EXIT_FAILURE_RUN);
	assert_int_equal(err.sys_errno, ENOENT);

	/* the exit code of the original error is kept */
	bderr_usage(&err, "bad key");
	bderr_prefix(&err, "a.conf:3");
	bderr_prefix(&err, "check");
	assert_string_equal(err.msg, "check: a.conf:3: bad key");
	assert_int_equal(err.exit_code, EXIT_USAGE);

	/* prefixing an unset error still yields a failure */
	bderr_init(&err);
	bderr_prefix(&err, "context");
	assert_string_equal(err.msg, "context: ");
	assert_int_equal(err.exit_code, EXIT_FAILURE_RUN);
}

static void test_truncation(void **state)
{
	(void)state;
	char big[3 * BDERR_MSG_MAX];
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';

	/* over-long messages are cut, NUL-terminated, and nothing around them is touched */
	struct {
		char before[16];
		bderr err;
		char after[16];
	} guarded;
	memset(&guarded, 0x77, sizeof guarded);
	bderr_init(&guarded.err);

	bderr_set(&guarded.err, "%s", big);
	assert_int_equal(strlen(guarded.err.msg), BDERR_MSG_MAX - 1);

	bderr_sys(&guarded.err, EIO, "%s", big);
	assert_int_equal(strlen(guarded.err.msg), BDERR_MSG_MAX - 1);
	assert_int_equal(guarded.err.sys_errno, EIO);

	/* the errno text still fits when the message almost fills the buffer */
	bderr_sys(&guarded.err, EIO, "%.*s", BDERR_MSG_MAX - 40, big);
	assert_non_null(strstr(guarded.err.msg, ": Input/output error"));

	bderr_usage(&guarded.err, "%s", big);
	assert_int_equal(strlen(guarded.err.msg), BDERR_MSG_MAX - 1);

	bderr_prefix(&guarded.err, "%s", big);
	assert_int_equal(strlen(guarded.err.msg), BDERR_MSG_MAX - 1);
	assert_int_equal(guarded.err.exit_code, EXIT_USAGE);

	bderr_set(&guarded.err, "short");
	bderr_prefix(&guarded.err, "%s", big);
	assert_int_equal(strlen(guarded.err.msg), BDERR_MSG_MAX - 1);

	for (size_t i = 0; i < sizeof guarded.before; i++) {
		assert_int_equal((unsigned char)guarded.before[i], 0x77);
		assert_int_equal((unsigned char)guarded.after[i], 0x77);
	}
}

/* counts in messages: "1 segment", "0 segments", "2 segments" */
static void test_plural_s(void **state)
{
	(void)state;
	bderr e;
	bderr_init(&e);
	for (size_t n = 0; n < 3; n++) {
		bderr_set(&e, "%zu segment%s", n, plural_s(n));
		assert_string_equal(e.msg, n == 0 ? "0 segments" : n == 1 ? "1 segment" : "2 segments");
	}
	assert_string_equal(plural_s(11), "s");
	assert_string_equal(plural_s(101), "s");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init),
		cmocka_unit_test(test_set_sys_usage),
		cmocka_unit_test(test_prefix),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_plural_s),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
