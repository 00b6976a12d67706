/*
 * file_write_atomic and its streaming form: whole files or nothing, no temp
 * file left behind; dir_place_check: a file in the way of a directory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/fsutil.h"
#include "common/mem.h"
#include "tests/unit/testutil.h"

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	char buf[256];
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	return xstrndup(buf, n);
}

static int entries(const char *dir)
{
	DIR *d = opendir(dir);
	int n = 0;
	struct dirent *de;
	while (d && (de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

typedef int (*whole_writer)(const char *path, const char *tmp, const void *data, size_t len, bderr *err);

/* file_write_atomic and its non-durable form file_write_whole behave alike but for the fsyncs. */
static void check_whole_writes(whole_writer write_whole)
{
	char dir[] = "/tmp/fsutil_test.XXXXXX";
	assert_non_null(mkdtemp(dir));
	char *path = xasprintf("%s/f", dir);
	bderr err;
	bderr_init(&err);

	assert_int_equal(write_whole(path, NULL, "first", 5, &err), 0);
	char *got = slurp(path);
	assert_string_equal(got, "first");
	free(got);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	/* replaced whole, through a caller's temp name; no temp file remains */
	char *tmp = xasprintf("%s.mine", path);
	assert_int_equal(write_whole(path, tmp, "second!", 7, &err), 0);
	got = slurp(path);
	assert_string_equal(got, "second!");
	free(got);
	assert_int_equal(entries(dir), 1);

	/* an empty file is a file */
	assert_int_equal(write_whole(path, NULL, "", 0, &err), 0);
	got = slurp(path);
	assert_string_equal(got, "");
	free(got);

	/* a missing directory fails with the temp name, and leaves nothing */
	char *missing = xasprintf("%s/nodir/f", dir);
	assert_int_equal(write_whole(missing, NULL, "x", 1, &err), -1);
	assert_non_null(strstr(err.msg, "cannot create"));
	free(missing);

	/* the target is a directory: the rename fails, the temp file is removed */
	char *sub = xasprintf("%s/sub", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	char *inner = xasprintf("%s/x", sub);
	FILE *f = fopen(inner, "w");
	assert_non_null(f);
	fclose(f);
	bderr_init(&err);
	assert_int_equal(write_whole(sub, NULL, "x", 1, &err), -1);
	assert_non_null(strstr(err.msg, "cannot rename"));
	assert_int_equal(entries(dir), 2); /* f and sub */

	free(inner);
	free(sub);
	free(tmp);
	free(path);
	test_rm_rf(dir);
}

static void test_write_atomic(void **state)
{
	(void)state;
	check_whole_writes(file_write_atomic);
}

static void test_write_whole(void **state)
{
	(void)state;
	check_whole_writes(file_write_whole);
}

/* The streaming form: the caller writes tmp, commit places it (replacing or exclusively). */
static void test_commit_atomic(void **state)
{
	(void)state;
	char dir[] = "/tmp/fsutil_test.XXXXXX";
	assert_non_null(mkdtemp(dir));
	char *path = xasprintf("%s/obj", dir), *tmp = xasprintf("%s/.obj.tmp", dir);
	bderr err;
	bderr_init(&err);
	int placed = -1;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(fd_write_all(fd, "one", 3, tmp, &err), 0);
	assert_int_equal(file_commit_atomic(&fd, tmp, path, 1, &placed, &err), 0);
	assert_int_equal(fd, -1);
	assert_int_equal(placed, 1);
	char *got = slurp(path);
	assert_string_equal(got, "one");
	free(got);
	assert_int_equal(entries(dir), 1); /* no temp file left */

	/* exclusive: an existing name is never replaced, and tmp stays for the caller */
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_int_equal(fd_write_all(fd, "two", 3, tmp, &err), 0);
	assert_int_equal(file_commit_atomic(&fd, tmp, path, 1, &placed, &err), -1);
	assert_int_equal(placed, 0);
	assert_non_null(strstr(err.msg, "cannot create"));
	got = slurp(path);
	assert_string_equal(got, "one");
	free(got);
	/* replacing: tmp takes the name */
	bderr_init(&err);
	assert_int_equal(file_place(tmp, path, 0, &placed, &err), 0);
	assert_int_equal(placed, 1);
	got = slurp(path);
	assert_string_equal(got, "two");
	free(got);
	assert_int_equal(entries(dir), 1);
	free(path);
	free(tmp);
	test_rm_rf(dir);
}

/* A place for a directory: missing is fine, a file at it or above it is a usage error naming the file. */
static void test_dir_place_check(void **state)
{
	(void)state;
	char dir[] = "/tmp/fsutil_test.XXXXXX";
	assert_non_null(mkdtemp(dir));
	char *file = xasprintf("%s/f", dir), *under = xasprintf("%s/f/a/b", dir);
	char *missing = xasprintf("%s/new/sub", dir);
	bderr err;
	bderr_init(&err);
	assert_int_equal(dir_place_check("state-dir", dir, &err), 0);
	assert_int_equal(dir_place_check("state-dir", missing, &err), 0);
	assert_false(bderr_isset(&err));
	FILE *f = fopen(file, "w");
	assert_non_null(f);
	fclose(f);
	assert_int_equal(dir_place_check("--spool-dir", file, &err), -1);
	assert_int_equal(err.exit_code, 2);
	char *want = xasprintf("--spool-dir '%s' is not a directory", file);
	assert_string_equal(err.msg, want);
	free(want);
	bderr_init(&err);
	/* the nearest existing path above is named, not the missing ones between */
	assert_int_equal(dir_place_check("state-dir", under, &err), -1);
	assert_int_equal(err.exit_code, 2);
	want = xasprintf("state-dir '%s' cannot be a directory: '%s' above it is a file", under, file);
	assert_string_equal(err.msg, want);
	free(want);
	free(file);
	free(under);
	free(missing);
	test_rm_rf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_atomic),
		cmocka_unit_test(test_write_whole),
		cmocka_unit_test(test_commit_atomic),
		cmocka_unit_test(test_dir_place_check),
	};
	return cmocka_run_group_tests_name("fsutil", tests, NULL, NULL);
}
