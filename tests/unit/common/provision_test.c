#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/mem.h"
#include "common/provision.h"

static const char content[] = "DATABASE_URL=postgresql://app:Pw0123456789@db:5432/app\n";

static char *make_dir(void)
{
	char *dir = xstrdup("/tmp/provision_test_XXXXXX");
	assert_non_null(mkdtemp(dir));
	return dir;
}

/* Number of entries in dir besides . and .. */
static int entries(const char *dir)
{
	DIR *d = opendir(dir);
	assert_non_null(d);
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static void remove_dir(char *dir, const char *file)
{
	if (file) {
		char *p = xasprintf("%s/%s", dir, file);
		unlink(p);
		free(p);
	}
	assert_int_equal(rmdir(dir), 0);
	free(dir);
}

/* env_file_prepare(path) fails, creating nothing; err says why. */
static void expect_refused(const char *path, bderr *err)
{
	env_file *f = NULL;
	bderr_init(err);
	assert_int_equal(env_file_prepare(path, content, &f, err), -1);
	assert_null(f);
}

/* Until commit the password is in memory only: a run killed before leaves no file. */
static void test_prepare_writes_nothing(void **state)
{
	(void)state;
	char *dir = make_dir();
	char *path = xasprintf("%s/app.env", dir);
	mode_t old = umask(0);
	env_file *f = NULL;
	bderr err;
	bderr_init(&err);
	assert_int_equal(env_file_prepare(path, content, &f, &err), 0);
	assert_int_equal(entries(dir), 0);
	assert_int_equal(env_file_commit(f, &err), 0);
	env_file_abort(f);
	umask(old);
	assert_int_equal(entries(dir), 1);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	char buf[256] = "";
	FILE *in = fopen(path, "r");
	assert_non_null(in);
	size_t n = fread(buf, 1, sizeof buf - 1, in);
	fclose(in);
	assert_int_equal(n, strlen(content));
	assert_string_equal(buf, content);
	free(path);
	remove_dir(dir, "app.env");
}

static void test_abort_leaves_nothing(void **state)
{
	(void)state;
	char *dir = make_dir();
	char *path = xasprintf("%s/app.env", dir);
	env_file *f = NULL;
	bderr err;
	bderr_init(&err);
	assert_int_equal(env_file_prepare(path, content, &f, &err), 0);
	env_file_abort(f);
	env_file_abort(NULL);
	assert_int_equal(entries(dir), 0);
	free(path);
	remove_dir(dir, NULL);
}

/* A directory at the path, or a missing one, is refused up front, not after the whole restore. */
static void test_directory_refused(void **state)
{
	(void)state;
	char *dir = make_dir();
	bderr err;
	expect_refused(dir, &err);
	assert_int_equal(err.exit_code, 2);
	char *want = xasprintf("cannot write the env file '%s': it exists and is not a regular file", dir);
	assert_string_equal(err.msg, want);
	free(want);
	/* and a missing directory */
	char *path = xasprintf("%s/nope/app.env", dir);
	expect_refused(path, &err);
	assert_non_null(strstr(err.msg, "No such file or directory"));
	free(path);
	remove_dir(dir, NULL);
}

/* An existing file (say 0644) is replaced by a new 0600 one, never rewritten in place. */
static void test_existing_file_replaced(void **state)
{
	(void)state;
	char *dir = make_dir();
	char *path = xasprintf("%s/app.env", dir);
	FILE *old = fopen(path, "w");
	assert_non_null(old);
	fputs("OLD=1\n", old);
	fclose(old);
	assert_int_equal(chmod(path, 0644), 0);
	env_file *f = NULL;
	bderr err;
	bderr_init(&err);
	assert_int_equal(env_file_prepare(path, content, &f, &err), 0);
	assert_int_equal(env_file_commit(f, &err), 0);
	env_file_abort(f);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_size, (off_t)strlen(content));
	assert_int_equal(entries(dir), 1);
	free(path);
	remove_dir(dir, "app.env");
}

/* TCP: host and port in the authority; a socket: the port leaves it, the socket goes into the query. */
static void test_env_line_forms(void **state)
{
	(void)state;
	struct {
		const char *scheme, *password, *host, *port, *key, *socket, *want;
	} cases[] = {
		{ "postgresql", "pw", "db.example", "5432", "host", NULL,
		  "DATABASE_URL=postgresql://app:pw@db.example:5432/app%20db\n" },
		{ "postgresql", NULL, NULL, "5433", "host", "/run/postgresql",
		  "DATABASE_URL=postgresql://app@/app%20db?host=%2Frun%2Fpostgresql&port=5433\n" },
		{ "mysql", "pw", "localhost", NULL, "socket", "/run/mysqld/mysqld.sock",
		  "DATABASE_URL=mysql://app:pw@localhost/app%20db?socket=%2Frun%2Fmysqld%2Fmysqld.sock\n" },
		{ "mysql", "pw", "127.0.0.1", "3307", "socket", NULL, "DATABASE_URL=mysql://app:pw@127.0.0.1:3307/app%20db\n" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *line = provision_env_line(cases[i].scheme, "app", cases[i].password, cases[i].host, cases[i].port,
						"app db", cases[i].key, cases[i].socket);
		assert_string_equal(line, cases[i].want);
		free(line);
	}
}

/* The record: written 0600, matched field by field and by fingerprint, removed. */
static void test_pending_record(void **state)
{
	(void)state;
	char *dir = make_dir();
	char *path = xasprintf("%s/app.env", dir);
	bderr err;
	bderr_init(&err);
	provision_pending_state st = PROVISION_PENDING_OURS;
	char *other = NULL;
	assert_int_equal(provision_pending_check(path, "h:3306", "db", "'u'@'%'", "ab", &st, &other, &err), 0);
	assert_int_equal(st, PROVISION_PENDING_NONE);
	assert_int_equal(provision_pending_write(path, "h:3306", "db", "'u'@'%'", "ab", &err), 0);
	char *rec = provision_pending_path(path);
	struct stat sb;
	assert_int_equal(stat(rec, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);
	assert_int_equal(provision_pending_check(path, "h:3306", "db", "'u'@'%'", "ab", &st, &other, &err), 0);
	assert_int_equal(st, PROVISION_PENDING_OURS);
	/* another credential (a user made by hand), or none (not created yet) */
	assert_int_equal(provision_pending_check(path, "h:3306", "db", "'u'@'%'", "abc", &st, &other, &err), 0);
	assert_int_equal(st, PROVISION_PENDING_SAME);
	assert_int_equal(provision_pending_check(path, "h:3306", "db", "'u'@'%'", "a", &st, &other, &err), 0);
	assert_int_equal(st, PROVISION_PENDING_SAME);
	assert_int_equal(provision_pending_check(path, "h:3306", "db", "'u'@'%'", NULL, &st, &other, &err), 0);
	assert_int_equal(st, PROVISION_PENDING_SAME);
	/* another database: described */
	assert_int_equal(provision_pending_check(path, "h:3306", "db2", "'u'@'%'", "ab", &st, &other, &err), 0);
	assert_int_equal(st, PROVISION_PENDING_OTHER);
	assert_string_equal(other, "server=h%3A3306 database=db account=%27u%27%40%27%25%27");
	free(other);
	/* the database complete: either recorded credential matches, the state is told */
	assert_int_equal(provision_pending_write_complete(path, "h:3306", "db", "'u'@'%'", "ab", NULL, &err), 0);
	assert_int_equal(provision_pending_check(path, "h:3306", "db", "'u'@'%'", "ab", &st, &other, &err), 0);
	assert_int_equal(st, PROVISION_PENDING_COMPLETE);
	assert_int_equal(provision_pending_check(path, "h:3306", "db", "'u'@'%'", "cd", &st, &other, &err), 0);
	assert_int_equal(st, PROVISION_PENDING_SAME);
	assert_int_equal(provision_pending_write_complete(path, "h:3306", "db", "'u'@'%'", "ab", "cd", &err), 0);
	assert_int_equal(provision_pending_check(path, "h:3306", "db", "'u'@'%'", "ab", &st, &other, &err), 0);
	assert_int_equal(st, PROVISION_PENDING_COMPLETE);
	assert_int_equal(provision_pending_check(path, "h:3306", "db", "'u'@'%'", "cd", &st, &other, &err), 0);
	assert_int_equal(st, PROVISION_PENDING_COMPLETE);
	assert_int_equal(provision_pending_check(path, "h:3306", "db", "'u'@'%'", "c", &st, &other, &err), 0);
	assert_int_equal(st, PROVISION_PENDING_SAME);
	assert_int_equal(provision_pending_check(path, "h:3306", "db", "'u'@'%'", NULL, &st, &other, &err), 0);
	assert_int_equal(st, PROVISION_PENDING_SAME);
	/* another provisioning's complete record is still another's */
	assert_int_equal(provision_pending_check(path, "h:3306", "db2", "'u'@'%'", "ab", &st, &other, &err), 0);
	assert_int_equal(st, PROVISION_PENDING_OTHER);
	free(other);
	assert_int_equal(provision_pending_remove(path, &err), 0);
	assert_int_equal(provision_pending_remove(path, &err), 0); /* none is fine */
	assert_int_equal(entries(dir), 0);
	free(rec);
	free(path);
	remove_dir(dir, NULL);
}

/* A fingerprint matches its password only, salted afresh each time; a malformed one matches nothing. */
static void test_fingerprint(void **state)
{
	(void)state;
	bderr err;
	bderr_init(&err);
	char a[PROVISION_FP_LEN + 1], b[PROVISION_FP_LEN + 1], c[PROVISION_FP_LEN + 1];
	assert_int_equal(provision_fingerprint("Pw0123456789", NULL, a, &err), 0);
	assert_int_equal(provision_fingerprint("Pw0123456789", NULL, b, &err), 0);
	assert_int_equal(strlen(a), PROVISION_FP_LEN);
	assert_int_equal(a[32], ':');
	assert_string_not_equal(a, b);
	assert_int_equal(provision_fingerprint("Pw0123456789", a, c, &err), 0); /* a's salt: the same */
	assert_string_equal(a, c);
	assert_true(provision_fingerprint_match("Pw0123456789", a));
	assert_true(provision_fingerprint_match("Pw0123456789", b));
	assert_false(provision_fingerprint_match("Pw012345678", a));
	assert_false(provision_fingerprint_match("Pw01234567890", a));
	assert_false(provision_fingerprint_match("Pw0123456789", ""));
	c[PROVISION_FP_LEN - 1] = '\0';
	assert_false(provision_fingerprint_match("Pw0123456789", c));
}

/* The env file's password for one user and scheme; none without the file, the line or a password. */
static void test_env_password(void **state)
{
	(void)state;
	char *dir = make_dir();
	char *path = xasprintf("%s/app.env", dir);
	bderr err;
	bderr_init(&err);
	char *pw = (char *)"x";
	assert_int_equal(provision_env_password(path, "postgresql", "app", &pw, &err), 0);
	assert_null(pw);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("# kept\nOTHER=1\nDATABASE_URL=postgresql://app%20x:Secret99@db:5432/app\n", f);
	fclose(f);
	assert_int_equal(provision_env_password(path, "postgresql", "app x", &pw, &err), 0);
	assert_non_null(pw);
	assert_string_equal(pw, "Secret99");
	free(pw);
	assert_int_equal(provision_env_password(path, "postgresql", "app", &pw, &err), 0);
	assert_null(pw);
	assert_int_equal(provision_env_password(path, "mysql", "app x", &pw, &err), 0);
	assert_null(pw);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("DATABASE_URL=postgresql://app@db:5432/app\n", f);
	fclose(f);
	assert_int_equal(provision_env_password(path, "postgresql", "app", &pw, &err), 0);
	assert_null(pw);
	free(path);
	remove_dir(dir, "app.env");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prepare_writes_nothing),
		cmocka_unit_test(test_abort_leaves_nothing),
		cmocka_unit_test(test_directory_refused),
		cmocka_unit_test(test_existing_file_replaced),
		cmocka_unit_test(test_env_line_forms),
		cmocka_unit_test(test_pending_record),
		cmocka_unit_test(test_fingerprint),
		cmocka_unit_test(test_env_password),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
