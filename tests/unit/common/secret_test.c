#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/mem.h"
#include "common/secret.h"

/* A temporary file with content and mode; returns its path (caller frees). */
static char *make_file(const void *content, size_t len, mode_t mode)
{
	char *path = xstrdup("/tmp/secret_test_XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
	return path;
}

static void remove_file(char *path)
{
	unlink(path);
	free(path);
}

static void expect_secret(const char *content, const char *want)
{
	char *path = make_file(content, strlen(content), 0600);
	char *s = NULL;
	bderr err;
	bderr_init(&err);
	if (secret_read_file(path, &s, &err) != 0)
		fail_msg("content \"%s\": %s", content, err.msg);
	assert_string_equal(s, want);
	secret_free(s);
	remove_file(path);
}

/* Takes ownership of want (built with xasprintf). */
static void expect_refused(const char *path, char *want, int exit_code)
{
	char *s = (char *)"untouched";
	bderr err;
	bderr_init(&err);
	assert_int_equal(secret_read_file(path, &s, &err), -1);
	assert_null(s);
	assert_string_equal(err.msg, want);
	assert_int_equal(err.exit_code, exit_code);
	free(want);
}

static void test_accepted(void **state)
{
	(void)state;
	expect_secret("hunter2\n", "hunter2");
	expect_secret("hunter2", "hunter2");
	expect_secret("hunter2\r\n", "hunter2");
	/* a password holds no line end: empty lines after it go too */
	expect_secret("hunter2\n\n", "hunter2");
	expect_secret("hunter2\r\n\r\n\n", "hunter2");
	expect_secret(" spaced \n", " spaced ");
	expect_secret("tab\tin\n", "tab\tin");

	/* 0400 is fine too */
	char *path = make_file("k\n", 2, 0400);
	char *s = NULL;
	bderr err;
	bderr_init(&err);
	assert_int_equal(secret_read_file(path, &s, &err), 0);
	assert_string_equal(s, "k");
	secret_free(s);
	remove_file(path);
	secret_free(NULL);
}

/*
 * A second non-empty line is the wrong file (a config, a key pair): refused
 * as a setup error naming the file, and nothing of its content is said.
 */
static void test_more_lines_refused(void **state)
{
	(void)state;
	static const char *const contents[] = {
		"two\nlines\n", "two\r\nlines", "hunter2\n\nsecond\n", "\nhunter2\n",
		"user=app\npassword=hunter2\n",
	};
	for (size_t i = 0; i < sizeof contents / sizeof *contents; i++) {
		char *path = make_file(contents[i], strlen(contents[i]), 0600);
		char *s = (char *)"untouched";
		bderr err;
		bderr_init(&err);
		assert_int_equal(secret_read_file(path, &s, &err), -1);
		assert_null(s);
		assert_int_equal(err.exit_code, 2);
		char *want = xasprintf("secret file '%s' has more than one line (a password, key id or "
				       "token is one line): is it the right file?",
				       path);
		assert_string_equal(err.msg, want);
		free(want);
		assert_null(strchr(err.msg, '\n'));
		assert_null(strstr(err.msg, "lines"));
		assert_null(strstr(err.msg, "hunter2"));
		assert_null(strstr(err.msg, "second"));
		remove_file(path);
	}
}

static void test_mode_refused(void **state)
{
	(void)state;
	static const mode_t modes[] = { 0644, 0640, 0604, 0660, 0610, 0601 };
	for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
		char *path = make_file("hunter2\n", 8, modes[i]);
		char *want = xasprintf("secret file '%s' must not be accessible by group or others (mode %04o): chmod 600 '%s'",
			 path, (unsigned)modes[i], path);
		expect_refused(path, want, EXIT_USAGE);
		remove_file(path);
	}
}

/* A file another user owns is refused whatever its mode: its owner controls the secret. */
static void test_other_owner_refused(void **state)
{
	(void)state;
	if (geteuid() == 0) {
		/* root too: a 0600 file of another account is that account's to rewrite */
		char *path = make_file("hunter2\n", 8, 0600);
		assert_int_equal(chown(path, 65534, 65534), 0);
		char *want = xasprintf("secret file '%s' is owned by uid 65534, not by the user backupd runs as (uid 0): chown it to that user",
				       path);
		expect_refused(path, want, EXIT_USAGE);
		remove_file(path);
	} else {
		/* readable by everyone, owned by root: the owner check comes first */
		char *want = xasprintf("secret file '/etc/passwd' is owned by uid 0, not by the user backupd runs as (uid %u): chown it to that user",
				       (unsigned)geteuid());
		expect_refused("/etc/passwd", want, EXIT_USAGE);
	}
}

static void test_not_regular(void **state)
{
	(void)state;
	char dir[] = "/tmp/secret_test_dir_XXXXXX";
	assert_non_null(mkdtemp(dir));
	assert_int_equal(chmod(dir, 0700), 0);
	char *want = xasprintf("secret file '%s' is not a regular file", dir);
	expect_refused(dir, want, EXIT_USAGE);

	/* a FIFO must be refused, not waited on */
	char fifo[300];
	snprintf(fifo, sizeof fifo, "%s/fifo", dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	want = xasprintf("secret file '%s' is not a regular file", fifo);
	expect_refused(fifo, want, EXIT_USAGE);
	unlink(fifo);
	rmdir(dir);
}

static void test_missing_and_empty(void **state)
{
	(void)state;
	expect_refused("/nonexistent/secret",
		       xstrdup("cannot open secret file '/nonexistent/secret': No such file or directory"),
		       EXIT_USAGE);

	static const char *empties[] = { "", "\n", "\r\n" };
	for (size_t i = 0; i < 3; i++) {
		char *path = make_file(empties[i], strlen(empties[i]), 0600);
		char *want = xasprintf("secret file '%s' is empty", path);
		expect_refused(path, want, EXIT_USAGE);
		remove_file(path);
	}

	char *path = make_file("a\0b\n", 4, 0600);
	char *want = xasprintf("secret file '%s' contains a NUL byte", path);
	expect_refused(path, want, EXIT_USAGE);
	remove_file(path);
}

static void test_size_limit(void **state)
{
	(void)state;
	size_t len = 64 * 1024;
	char *big = xmalloc(len + 1);
	memset(big, 'k', len + 1);

	/* exactly 64 KiB is accepted */
	char *path = make_file(big, len, 0600);
	char *s = NULL;
	bderr err;
	bderr_init(&err);
	assert_int_equal(secret_read_file(path, &s, &err), 0);
	assert_int_equal(strlen(s), len);
	secret_free(s);
	remove_file(path);

	path = make_file(big, len + 1, 0600);
	char *want = xasprintf("secret file '%s' is too large (65537 bytes, at most 65536)",
		 path);
	expect_refused(path, want, EXIT_USAGE);
	remove_file(path);
	free(big);
}

static void test_symlink(void **state)
{
	(void)state;
	/* a link is followed; the target's mode is what counts */
	char *target = make_file("tok\n", 4, 0600);
	char *link = xasprintf("%s.link", target);
	assert_int_equal(symlink(target, link), 0);
	char *s = NULL;
	bderr err;
	bderr_init(&err);
	assert_int_equal(secret_read_file(link, &s, &err), 0);
	assert_string_equal(s, "tok");
	secret_free(s);

	assert_int_equal(chmod(target, 0644), 0);
	char *want = xasprintf("secret file '%s' must not be accessible by group or others (mode 0644): chmod 600 '%s'",
		 link, link);
	expect_refused(link, want, EXIT_USAGE);
	unlink(link);
	free(link);
	remove_file(target);
}

/* An encryption key file: 32 bytes at least (the newline does not count), 0600. */
static void test_key_file(void **state)
{
	(void)state;
	const char *k31 = "0123456789012345678901234567890\n";
	const char *k32 = "01234567890123456789012345678901\n";
	char *p31 = make_file(k31, strlen(k31), 0600);
	char *p32 = make_file(k32, strlen(k32), 0600);
	char *p32open = make_file(k32, strlen(k32), 0644);
	char *s = NULL;
	bderr err;
	bderr_init(&err);
	assert_int_equal(secret_read_key_file(p32, &s, &err), 0);
	assert_int_equal(strlen(s), 32);
	secret_free(s);
	s = NULL;
	assert_int_equal(secret_read_key_file(p31, &s, &err), -1);
	assert_null(s);
	assert_int_equal(err.exit_code, 2);
	assert_non_null(strstr(err.msg, "holds 31 bytes: at least 32"));
	/* the suggested command makes the key private from the start, not after a chmod */
	assert_non_null(strstr(err.msg, "(umask 077; head -c 48 /dev/urandom | base64 > FILE)"));
	bderr_init(&err);
	assert_int_equal(secret_read_key_file(p32open, &s, &err), -1);
	assert_int_equal(err.exit_code, 2);
	bderr_init(&err);
	assert_int_equal(secret_read_key_file("/nonexistent/key", &s, &err), -1);
	assert_int_equal(err.exit_code, 2);
	/* a key is read whole: one wrapped over two lines keeps its second line */
	const char *k2 = "0123456789012345678901234567890123456789\nabcdef\n";
	char *p2 = make_file(k2, strlen(k2), 0600);
	assert_int_equal(secret_read_key_file(p2, &s, &err), 0);
	assert_string_equal(s, "0123456789012345678901234567890123456789\nabcdef");
	secret_free(s);
	remove_file(p2);
	remove_file(p31);
	remove_file(p32);
	remove_file(p32open);
}

/* A statement quoted by a server error loses every copy of the password. */
static void test_scrub(void **state)
{
	(void)state;
	char m[128] = "near 'MASTER_PASSWORD = 'pw1', MASTER_USER = 'pw1x'' at line 1";
	secret_scrub(m, "pw1");
	assert_string_equal(m, "near 'MASTER_PASSWORD = '***', MASTER_USER = '***x'' at line 1");
	char n[16] = "abc";
	secret_scrub(n, NULL);
	secret_scrub(n, "");
	assert_string_equal(n, "abc");
	char r[16] = "aaaa";
	secret_scrub(r, "aa");
	assert_string_equal(r, "******");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepted),
		cmocka_unit_test(test_more_lines_refused),
		cmocka_unit_test(test_mode_refused),
		cmocka_unit_test(test_not_regular),	  cmocka_unit_test(test_missing_and_empty),
		cmocka_unit_test(test_size_limit),	  cmocka_unit_test(test_symlink),
		cmocka_unit_test(test_other_owner_refused),
		cmocka_unit_test(test_key_file),
		cmocka_unit_test(test_scrub),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
