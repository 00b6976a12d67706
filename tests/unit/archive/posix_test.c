#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "archive/posix/posix.h"
#include "archive/storage.h"
#include "common/mem.h"
#include "tests/unit/testutil.h"

typedef struct fixture {
	char dir[64];
	storage *s;
} fixture;

static int setup(void **state)
{
	fixture *f = xcalloc(1, sizeof *f);
	bderr err;
	bderr_init(&err);
	strcpy(f->dir, "/tmp/bd-posix-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	if (posix_storage_new(f->dir, &f->s, &err) < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	storage_free(f->s);
	test_rm_rf(f->dir);
	free(f);
	return 0;
}

static char *fs_path(const fixture *f, const char *rel)
{
	return xasprintf("%s/%s", f->dir, rel);
}

static int exists(const fixture *f, const char *rel)
{
	struct stat st;
	char *p = fs_path(f, rel);
	int rc = lstat(p, &st) == 0;
	free(p);
	return rc;
}

static mode_t mode_of(const fixture *f, const char *rel)
{
	struct stat st;
	char *p = fs_path(f, rel);
	assert_int_equal(stat(p, &st), 0);
	free(p);
	return st.st_mode & 07777;
}

/* Anything backupd would have left behind: every entry of a directory. */
static size_t count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	size_t n = 0;
	struct dirent *de;
	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static void put(storage *s, const char *path, const char *text)
{
	bderr err;
	bderr_init(&err);
	if (storage_put(s, path, text, strlen(text), &err) < 0)
		fail_msg("%s", err.msg);
}

typedef struct listing {
	strbuf all; /* "path:size\n" sorted */
	char *items[64];
	size_t n;
} listing;

static int collect(void *ctx, const char *path, uint64_t size, bderr *err)
{
	listing *l = ctx;
	(void)err;
	assert_true(l->n < 64);
	l->items[l->n++] = xasprintf("%s:%llu", path, (unsigned long long)size);
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The sorted listing as "a:1 b:2". */
static char *list_str(storage *s, const char *prefix)
{
	listing l = { 0 };
	bderr err;
	bderr_init(&err);
	if (storage_list(s, prefix, collect, &l, &err) < 0)
		fail_msg("%s", err.msg);
	qsort(l.items, l.n, sizeof *l.items, cmp_str);
	strbuf_init(&l.all);
	for (size_t i = 0; i < l.n; i++) {
		if (i)
			strbuf_appends(&l.all, " ");
		strbuf_appends(&l.all, l.items[i]);
		free(l.items[i]);
	}
	return strbuf_detach(&l.all);
}

static void assert_list(storage *s, const char *prefix, const char *expected)
{
	char *got = list_str(s, prefix);
	if (strcmp(got, expected) != 0)
		fail_msg("list '%s': got '%s', expected '%s'", prefix, got, expected);
	free(got);
}

static void test_atomic_write(void **state)
{
	fixture *f = *state;
	writer *w;
	bderr err;
	bderr_init(&err);
	assert_int_equal(storage_open_write(f->s, "app/backups/1/data.bin", &w, &err), 0);
	assert_int_equal(writer_write(w, "hello ", 6, &err), 0);
	assert_int_equal(writer_write(w, "world", 5, &err), 0);
	/* not visible before the commit, and the temp file is not listed */
	assert_false(exists(f, "app/backups/1/data.bin"));
	assert_int_equal(count_entries(f->dir), 1);
	assert_list(f->s, "", "");
	assert_int_equal(writer_close(w, &err), 0);
	writer_free(w);
	assert_true(exists(f, "app/backups/1/data.bin"));
	assert_int_equal(count_entries(f->dir), 1);
	char *dir1 = fs_path(f, "app/backups/1");
	assert_int_equal(count_entries(dir1), 1);
	free(dir1);

	assert_int_equal(mode_of(f, "app/backups/1/data.bin"), 0600);
	assert_int_equal(mode_of(f, "app"), 0700);
	assert_int_equal(mode_of(f, "app/backups"), 0700);
	assert_int_equal(mode_of(f, "app/backups/1"), 0700);

	char *data;
	size_t len;
	assert_int_equal(storage_get(f->s, "app/backups/1/data.bin", &data, &len, 100, &err), 0);
	assert_int_equal(len, 11);
	assert_string_equal(data, "hello world");
	free(data);

	/* an overwrite replaces the whole object */
	put(f->s, "app/backups/1/data.bin", "new");
	assert_int_equal(storage_get(f->s, "app/backups/1/data.bin", &data, &len, 100, &err), 0);
	assert_string_equal(data, "new");
	free(data);

	assert_int_equal(storage_get(f->s, "app/backups/1/data.bin", &data, &len, 2, &err), -1);
	assert_non_null(strstr(err.msg, "'app/backups/1/data.bin' is larger than 2 bytes"));
}

static void test_abort_leaves_nothing(void **state)
{
	fixture *f = *state;
	writer *w;
	bderr err;
	bderr_init(&err);
	put(f->s, "a/keep", "old");
	assert_int_equal(storage_open_write(f->s, "a/keep", &w, &err), 0);
	assert_int_equal(writer_write(w, "partial", 7, &err), 0);
	writer_free(w);
	assert_int_equal(storage_open_write(f->s, "a/new", &w, &err), 0);
	assert_int_equal(writer_write(w, "partial", 7, &err), 0);
	writer_free(w);
	char *a = fs_path(f, "a");
	assert_int_equal(count_entries(a), 1);
	free(a);
	char *data;
	size_t len;
	assert_int_equal(storage_get(f->s, "a/keep", &data, &len, 100, &err), 0);
	assert_string_equal(data, "old");
	free(data);
}

/* put_new creates once; a second claim of the name fails with EEXIST and changes nothing. */
static void test_put_new(void **state)
{
	fixture *f = *state;
	bderr err;
	bderr_init(&err);
	assert_int_equal(storage_put_new(f->s, "b/claim", "one", 3, &err), 0);
	assert_int_equal(storage_put_new(f->s, "b/claim", "two", 3, &err), -1);
	assert_int_equal(err.sys_errno, EEXIST);
	char *data;
	size_t len;
	assert_int_equal(storage_get(f->s, "b/claim", &data, &len, 100, &err), 0);
	assert_string_equal(data, "one");
	free(data);
	char *b = fs_path(f, "b");
	assert_int_equal(count_entries(b), 1); /* no temp file left by the loser */
	free(b);
}

/*
 * A sweep removes a temp file whose writer is gone (no lock on it) and
 * leaves one being written; the directory the leftover was alone in goes.
 */
static void test_sweep(void **state)
{
	fixture *f = *state;
	bderr err;
	bderr_init(&err);
	char *d = fs_path(f, "x/y");
	char *dead = fs_path(f, "x/y/.obj.tmp.999999.7");
	char *x = fs_path(f, "x");
	assert_int_equal(mkdir(x, 0700), 0);
	assert_int_equal(mkdir(d, 0700), 0);
	free(x);
	FILE *fp = fopen(dead, "w");
	assert_non_null(fp);
	fputs("partial", fp);
	fclose(fp);
	writer *w;
	assert_int_equal(storage_open_write(f->s, "z/live", &w, &err), 0);
	assert_int_equal(writer_write(w, "partial", 7, &err), 0);
	size_t removed = 99;
	assert_int_equal(storage_sweep(f->s, "", 0, &removed, &err), 0);
	assert_int_equal(removed, 1);
	assert_false(exists(f, "x/y/.obj.tmp.999999.7"));
	assert_false(exists(f, "x")); /* pruned like an emptied directory */
	char *z = fs_path(f, "z");
	assert_int_equal(count_entries(z), 1); /* the live writer's temp file */
	/* a writer killed between mkdir and its temp file: the empty directories go */
	char *e1 = fs_path(f, "e"), *e2 = fs_path(f, "e/schema");
	assert_int_equal(mkdir(e1, 0700), 0);
	assert_int_equal(mkdir(e2, 0700), 0);
	put(f->s, "k/keep", "1");
	assert_int_equal(storage_sweep(f->s, "", 0, &removed, &err), 0);
	assert_int_equal(removed, 0);
	assert_false(exists(f, "e"));
	assert_true(exists(f, "k/keep"));
	free(e1);
	free(e2);
	assert_int_equal(writer_close(w, &err), 0);
	writer_free(w);
	assert_true(exists(f, "z/live"));
	free(z);
	free(d);
	free(dead);
}

static void test_list(void **state)
{
	fixture *f = *state;
	put(f->s, "backupd.repo", "{}");
	put(f->s, "app/backups/20261121T101500Z/manifest.json", "12345");
	put(f->s, "app/backups/20261121T101500Z/data/1.copy.zst", "1");
	put(f->s, "app/backups/20261122T101500Z/backup.started", "12");
	put(f->s, "app/wal/0000000100000000/000000010000000000000001.zst", "w");
	put(f->s, "db/backups/20261121T101500Z/x", "");
	/* a crashed writer's temp file is never an object */
	char *tmp = fs_path(f, "app/backups/20261121T101500Z/.x.tmp.123.4");
	FILE *fp = fopen(tmp, "w");
	assert_non_null(fp);
	fclose(fp);
	free(tmp);

	assert_list(f->s, "app/backups/",
		    "app/backups/20261121T101500Z/data/1.copy.zst:1 "
		    "app/backups/20261121T101500Z/manifest.json:5 "
		    "app/backups/20261122T101500Z/backup.started:2");
	assert_list(f->s, "app/backups/20261122", "app/backups/20261122T101500Z/backup.started:2");
	assert_list(f->s, "d", "db/backups/20261121T101500Z/x:0");
	assert_list(f->s, "app/wal", "app/wal/0000000100000000/000000010000000000000001.zst:1");
	assert_list(f->s, "nothing/here/", "");
	assert_list(f->s, "backupd", "backupd.repo:2");
	char *all = list_str(f->s, "");
	assert_non_null(strstr(all, "backupd.repo:2 db/backups/20261121T101500Z/x:0"));
	assert_null(strstr(all, ".tmp."));
	free(all);

	/* a listing of a missing repository root is empty, not an error */
	storage *missing;
	bderr err;
	bderr_init(&err);
	char *root = fs_path(f, "does-not-exist");
	assert_int_equal(posix_storage_new(root, &missing, &err), 0);
	assert_list(missing, "", "");
	storage_free(missing);
	free(root);
}

static int stop_cb(void *ctx, const char *path, uint64_t size, bderr *err)
{
	(void)ctx;
	(void)size;
	return bderr_set(err, "stopped at '%s'", path);
}

static void test_list_callback_error(void **state)
{
	fixture *f = *state;
	bderr err;
	bderr_init(&err);
	put(f->s, "a/b", "x");
	assert_int_equal(storage_list(f->s, "", stop_cb, NULL, &err), -1);
	assert_string_equal(err.msg, "stopped at 'a/b'");
}

static int first_cb(void *ctx, const char *path, uint64_t size, bderr *err)
{
	(void)path;
	(void)size;
	(void)err;
	(*(int *)ctx)++;
	return STORAGE_LIST_STOP;
}

static void test_list_callback_stop(void **state)
{
	fixture *f = *state;
	bderr err;
	bderr_init(&err);
	/* in directories at two levels: the stop must leave every level of the walk */
	put(f->s, "a/b/c", "x");
	put(f->s, "a/b/d", "x");
	put(f->s, "a/e", "x");
	int calls = 0;
	assert_int_equal(storage_list(f->s, "a/", first_cb, &calls, &err), 0);
	assert_int_equal(calls, 1);
	assert_false(bderr_isset(&err));
}

static void test_remove(void **state)
{
	fixture *f = *state;
	bderr err;
	bderr_init(&err);
	put(f->s, "app/backups/1/data/t1", "x");
	put(f->s, "app/backups/1/manifest.json", "x");
	put(f->s, "app/backups/2/manifest.json", "x");
	assert_int_equal(storage_remove(f->s, "app/backups/1/data/t1", &err), 0);
	assert_false(exists(f, "app/backups/1/data"));
	assert_true(exists(f, "app/backups/1/manifest.json"));
	assert_int_equal(storage_remove(f->s, "app/backups/1/manifest.json", &err), 0);
	assert_false(exists(f, "app/backups/1"));
	assert_true(exists(f, "app/backups/2"));
	/* removing what is not there succeeds */
	assert_int_equal(storage_remove(f->s, "app/backups/1/manifest.json", &err), 0);
	assert_int_equal(storage_remove(f->s, "nowhere/at/all", &err), 0);
	assert_int_equal(storage_remove(f->s, "app/backups/2/manifest.json", &err), 0);
	/* pruning stops at the root */
	assert_int_equal(count_entries(f->dir), 0);
	struct stat st;
	assert_int_equal(stat(f->dir, &st), 0);
}

static int remove_cb(void *ctx, const char *path, uint64_t size, bderr *err)
{
	(void)size;
	return storage_remove(ctx, path, err);
}

/* Discarding a failed backup removes objects from inside a listing. */
static void test_remove_while_listing(void **state)
{
	fixture *f = *state;
	bderr err;
	bderr_init(&err);
	put(f->s, "app/backups/1/data/a", "x");
	put(f->s, "app/backups/1/data/b", "x");
	put(f->s, "app/backups/1/schema/c", "x");
	put(f->s, "app/backups/1/manifest.json", "x");
	put(f->s, "app/backups/2/manifest.json", "x");
	assert_int_equal(storage_list(f->s, "app/backups/1/", remove_cb, f->s, &err), 0);
	assert_false(exists(f, "app/backups/1"));
	assert_list(f->s, "", "app/backups/2/manifest.json:1");
}

static void test_info_and_missing(void **state)
{
	fixture *f = *state;
	storage_info info;
	reader *r;
	bderr err;
	bderr_init(&err);
	put(f->s, "a/b", "12345");
	time_t now = time(NULL);
	assert_int_equal(storage_info_get(f->s, "a/b", &info, &err), 0);
	assert_true(info.exists);
	assert_int_equal(info.size, 5);
	assert_true(info.mtime >= now - 60 && info.mtime <= now + 60);
	assert_int_equal(storage_info_get(f->s, "a/c", &info, &err), 0);
	assert_false(info.exists);
	assert_int_equal(storage_info_get(f->s, "a/b/c", &info, &err), 0);
	assert_false(info.exists);
	/* directories are not objects */
	assert_int_equal(storage_info_get(f->s, "a", &info, &err), 0);
	assert_false(info.exists);

	assert_int_equal(storage_open_read(f->s, "a/missing", &r, &err), -1);
	assert_int_equal(err.sys_errno, ENOENT);
	assert_non_null(strstr(err.msg, "/a/missing': No such file or directory"));
	assert_non_null(strstr(err.msg, f->dir));
	bderr_init(&err);
	assert_int_equal(storage_open_read(f->s, "a", &r, &err), -1);
	assert_non_null(strstr(err.msg, "Is a directory"));
}

static void test_path_traversal(void **state)
{
	static const char *const bad[] = { "../x", "/etc/passwd", "a/../../x", "a//b", "a/./b", "",
					   "a/", "..", "." };
	fixture *f = *state;
	bderr err;
	reader *r;
	writer *w;
	storage_info info;
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		bderr_init(&err);
		assert_int_equal(storage_open_read(f->s, bad[i], &r, &err), -1);
		assert_non_null(strstr(err.msg, "invalid path"));
		assert_int_equal(storage_open_write(f->s, bad[i], &w, &err), -1);
		assert_int_equal(storage_remove(f->s, bad[i], &err), -1);
		assert_int_equal(storage_info_get(f->s, bad[i], &info, &err), -1);
	}
	assert_int_equal(storage_list(f->s, "../", collect, NULL, &err), -1);
	assert_int_equal(storage_list(f->s, "/etc/", collect, NULL, &err), -1);
	assert_int_equal(storage_list(f->s, "a//", collect, NULL, &err), -1);
	assert_int_equal(count_entries(f->dir), 0);
}

/* Runs as an unprivileged user: root writes into read-only directories. */
static int try_readonly_write(const char *base)
{
	char dir[256];
	bderr err;
	storage *s;
	writer *w;
	bderr_init(&err);
	if (snprintf(dir, sizeof dir, "%s/ro", base) >= (int)sizeof dir || mkdir(dir, 0700) < 0)
		return 10;
	if (posix_storage_new(dir, &s, &err) < 0)
		return 11;
	if (storage_put(s, "sub/ok", "x", 1, &err) < 0)
		return 12;
	char sub[300];
	if (snprintf(sub, sizeof sub, "%s/sub", dir) >= (int)sizeof sub || chmod(sub, 0500) < 0)
		return 13;
	int rc = 0;
	if (storage_open_write(s, "sub/new", &w, &err) == 0) {
		writer_free(w);
		rc = 14;
	} else if (strstr(err.msg, "cannot create '") == NULL ||
		   strstr(err.msg, "/ro/sub/new': Permission denied") == NULL) {
		fprintf(stderr, "unexpected message: %s\n", err.msg);
		rc = 15;
	}
	/* a missing directory that cannot be created is named too */
	bderr_init(&err);
	if (rc == 0 && storage_put(s, "sub/deeper/x", "x", 1, &err) == 0)
		rc = 16;
	else if (rc == 0 && strstr(err.msg, "cannot create directory '") == NULL)
		rc = 17;
	chmod(sub, 0700);
	storage_free(s);
	return rc;
}

static void test_readonly_dir(void **state)
{
	fixture *f = *state;
	if (geteuid() != 0) {
		assert_int_equal(try_readonly_write(f->dir), 0);
		return;
	}
	/* root ignores permissions: drop to nobody in a child */
	assert_int_equal(chmod(f->dir, 0777), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (setgid(65534) < 0 || setuid(65534) < 0)
			_exit(20);
		_exit(try_readonly_write(f->dir));
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_not_a_directory(void **state)
{
	fixture *f = *state;
	bderr err;
	writer *w;
	bderr_init(&err);
	put(f->s, "file", "x");
	assert_int_equal(storage_open_write(f->s, "file/x", &w, &err), -1);
	assert_non_null(strstr(err.msg, "/file/x': Not a directory"));
}

/* A repository path that names a file is a usage error (exit 2), said at open. */
static void test_root_is_a_file(void **state)
{
	fixture *f = *state;
	bderr err;
	bderr_init(&err);
	put(f->s, "file", "x");
	char *root = fs_path(f, "file");
	storage *s = NULL;
	assert_int_equal(posix_storage_new(root, &s, &err), -1);
	assert_null(s);
	assert_int_equal(err.exit_code, EXIT_USAGE);
	assert_non_null(strstr(err.msg, "is not a directory"));
	free(root);
	bderr_init(&err);
	root = fs_path(f, "file/repo/deeper");
	assert_int_equal(posix_storage_new(root, &s, &err), -1);
	assert_int_equal(err.exit_code, EXIT_USAGE);
	/* names the file in the way */
	char *file = fs_path(f, "file");
	char *want = xasprintf("cannot be a directory: '%s' above it is a file", file);
	assert_non_null(strstr(err.msg, want));
	free(want);
	free(file);
	free(root);
}

static void test_storage_open_urls(void **state)
{
	fixture *f = *state;
	storage *s;
	bderr err;
	bderr_init(&err);
	char *url = xasprintf("file://%s", f->dir);
	assert_int_equal(storage_open(url, NULL, &s, &err), 0);
	assert_string_equal(s->url, url);
	put(s, "via-url", "1");
	storage_free(s);
	free(url);
	assert_true(exists(f, "via-url"));

	assert_int_equal(storage_open(f->dir, NULL, &s, &err), 0);
	assert_string_equal(s->url, f->dir);
	storage_free(s);

	test_no_aws_credentials();
	assert_int_equal(storage_open("s3://bucket/prefix", NULL, &s, &err), -1);
	/* without credentials an s3 URL is a usage error, before any network I/O */
	assert_non_null(strstr(err.msg, "no S3 credentials"));
	assert_int_equal(storage_open("ftp://host/x", NULL, &s, &err), -1);
	assert_non_null(strstr(err.msg, "unsupported repository url 'ftp://host/x'"));
	assert_int_equal(storage_open("file://relative", NULL, &s, &err), -1);
	assert_int_equal(storage_open("", NULL, &s, &err), -1);
	assert_int_equal(err.exit_code, EXIT_USAGE);
}

typedef struct thread_arg {
	storage *s;
	int n;
	int failed;
} thread_arg;

static void *writer_thread(void *p)
{
	thread_arg *a = p;
	bderr err;
	bderr_init(&err);
	for (int i = 0; i < 20; i++) {
		char path[64], text[64];
		/* same directories, and one object every thread writes */
		if (snprintf(path, sizeof path, "app/backups/1/data/t%d.%d", a->n, i) >= (int)sizeof path ||
		    snprintf(text, sizeof text, "thread %d item %d", a->n, i) >= (int)sizeof text)
			a->failed = 1;
		if (storage_put(a->s, path, text, strlen(text), &err) < 0 ||
		    storage_put(a->s, "app/backups/1/shared", text, strlen(text), &err) < 0)
			a->failed = 1;
	}
	return NULL;
}

static void test_concurrent_writers(void **state)
{
	fixture *f = *state;
	pthread_t t[4];
	thread_arg a[4];
	for (int i = 0; i < 4; i++) {
		a[i] = (thread_arg){ f->s, i, 0 };
		assert_int_equal(pthread_create(&t[i], NULL, writer_thread, &a[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		assert_false(a[i].failed);
	}
	char *data = fs_path(f, "app/backups/1/data");
	assert_int_equal(count_entries(data), 80);
	free(data);
	char *one = fs_path(f, "app/backups/1");
	assert_int_equal(count_entries(one), 2);
	free(one);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_atomic_write, setup, teardown),
		cmocka_unit_test_setup_teardown(test_abort_leaves_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_put_new, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sweep, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_callback_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_callback_stop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remove, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remove_while_listing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_info_and_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_path_traversal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readonly_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_a_directory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_root_is_a_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_storage_open_urls, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_writers, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
