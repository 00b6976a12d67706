#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "archive/posix/posix.h"
#include "archive/repo.h"
#include "common/mem.h"
#include "tests/unit/testutil.h"
#include "fault_storage.h"

/* 2026-11-21T10:15:00Z */
#define T0 ((time_t)1795256100)

typedef test_repo fixture;

static void write_file(const fixture *f, const char *rel, const char *text)
{
	char *p = xasprintf("%s/%s", f->dir, rel);
	FILE *fp = fopen(p, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
	free(p);
}

static int file_exists(const fixture *f, const char *rel)
{
	struct stat st;
	char *p = xasprintf("%s/%s", f->dir, rel);
	int rc = stat(p, &st) == 0;
	free(p);
	return rc;
}

static char *begin(repo *r, const char *name, time_t t)
{
	char *id;
	bderr err;
	bderr_init(&err);
	if (repo_backup_begin(r, name, t, &id, &err) < 0)
		fail_msg("%s", err.msg);
	return id;
}

/* A complete backup of name with the given objects' contents. */
static manifest *make_backup(repo *r, const char *name, time_t t, int n_objects)
{
	bderr err;
	bderr_init(&err);
	manifest *m = manifest_new();
	m->id = begin(r, name, t);
	m->name = xstrdup(name);
	m->engine = xstrdup("postgresql");
	m->kind = xstrdup("dump");
	m->started = t;
	m->finished = t + 60;
	for (int i = 0; i < n_objects; i++) {
		char obj[64], text[128];
		object_writer *ow;
		object_meta meta;
		assert_true(snprintf(obj, sizeof obj, "data/%d.copy.zst", i) < (int)sizeof obj);
		assert_true(snprintf(text, sizeof text, "%d\trow of table %d\n", i, i) < (int)sizeof text);
		char *path = repo_backup_path(name, m->id, obj);
		assert_int_equal(object_writer_open(repo_storage(r), path, 1, &ow, &err), 0);
		for (int k = 0; k < 1000; k++)
			assert_int_equal(object_writer_write(ow, text, strlen(text), &err), 0);
		assert_int_equal(object_writer_close(ow, &meta, &err), 0);
		object_writer_free(ow);
		free(path);
		manifest_add_object(m, obj, &meta, 1, 1000);
	}
	if (repo_backup_commit(r, m, &err) < 0)
		fail_msg("%s", err.msg);
	return m;
}

static void test_create_and_open(void **state)
{
	fixture *f = *state;
	repo *r;
	bderr err;
	bderr_init(&err);
	assert_true(file_exists(f, REPO_MARKER));
	assert_int_equal(repo_open(f->dir, NULL, 0, &r, &err), 0);
	assert_string_equal(repo_url(r), f->dir);
	repo_free(r);

	char *text;
	size_t len;
	assert_int_equal(storage_get(repo_storage(f->r), REPO_MARKER, &text, &len, 4096, &err), 0);
	json_t *j = json_loads(text, 0, NULL);
	assert_non_null(j);
	assert_int_equal(json_integer_value(json_object_get(j, "format")), REPO_FORMAT);
	assert_string_equal(json_string_value(json_object_get(j, "cipher")), "none");
	assert_non_null(json_string_value(json_object_get(j, "created")));
	assert_non_null(json_string_value(json_object_get(j, "tool_version")));
	json_decref(j);
	free(text);

	/* opening with create keeps an existing marker */
	write_file(f, REPO_MARKER, "{\"format\":1,\"created\":\"2020-01-01T00:00:00Z\",\"cipher\":\"none\"}");
	assert_int_equal(repo_open(f->dir, NULL, 1, &r, &err), 0);
	repo_free(r);
	assert_int_equal(storage_get(repo_storage(f->r), REPO_MARKER, &text, &len, 4096, &err), 0);
	assert_non_null(strstr(text, "2020-01-01"));
	free(text);
}

static void test_not_a_repo(void **state)
{
	fixture *f = *state;
	repo *r = (repo *)1;
	bderr err;
	bderr_init(&err);
	char *empty = xasprintf("%s/empty", f->dir);
	assert_int_equal(mkdir(empty, 0700), 0);
	assert_int_equal(repo_open(empty, NULL, 0, &r, &err), -1);
	assert_null(r);
	char *want = xasprintf("'%s' is not a backupd repository (no backupd.repo): create one with a first backup",
			       empty);
	assert_string_equal(err.msg, want);
	free(want);
	/* nothing was written */
	struct stat st;
	char *marker = xasprintf("%s/backupd.repo", empty);
	assert_int_equal(stat(marker, &st), -1);

	/* with create, even a missing directory becomes a repository */
	char *deeper = xasprintf("file://%s/new/repo", f->dir);
	assert_int_equal(repo_open(deeper, NULL, 1, &r, &err), 0);
	assert_string_equal(repo_url(r), deeper);
	repo_free(r);
	assert_true(file_exists(f, "new/repo/backupd.repo"));

	test_no_aws_credentials();
	assert_int_equal(repo_open("s3://bucket/x", NULL, 1, &r, &err), -1);
	assert_non_null(strstr(err.msg, "no S3 credentials"));
	free(deeper);
	free(marker);
	free(empty);
}

static void test_refuse_newer_or_bad_marker(void **state)
{
	fixture *f = *state;
	repo *r;
	bderr err;
	bderr_init(&err);
	write_file(f, REPO_MARKER, "{\"format\":7,\"cipher\":\"none\"}");
	assert_int_equal(repo_open(f->dir, NULL, 1, &r, &err), -1);
	char *want = xasprintf("repository '%s' has format 7, newer than this backupd supports (1): upgrade backupd",
			       f->dir);
	assert_string_equal(err.msg, want);
	free(want);

	write_file(f, REPO_MARKER, "{\"format\":1,\"cipher\":\"chacha20\"}");
	assert_int_equal(repo_open(f->dir, NULL, 0, &r, &err), -1);
	assert_non_null(strstr(err.msg, "uses cipher 'chacha20'"));
	/* encrypted: never read without the key, and damaged key fields are named */
	write_file(f, REPO_MARKER, "{\"format\":1,\"cipher\":\"aes-256-gcm\"}");
	assert_int_equal(repo_open(f->dir, NULL, 0, &r, &err), -1);
	assert_non_null(strstr(err.msg, "is encrypted: give its key"));
	assert_int_equal(err.exit_code, 2);
	storage_options key = { .encryption_key = "a key of thirty-two bytes or more" };
	assert_int_equal(repo_open(f->dir, &key, 0, &r, &err), -1);
	assert_non_null(strstr(err.msg, "encryption parameters"));

	write_file(f, REPO_MARKER, "not json");
	assert_int_equal(repo_open(f->dir, NULL, 1, &r, &err), -1);
	assert_non_null(strstr(err.msg, "is not a valid backupd repository"));
	/* a damaged marker is never silently replaced */
	char *text;
	size_t len;
	assert_int_equal(storage_get(repo_storage(f->r), REPO_MARKER, &text, &len, 4096, &err), 0);
	assert_string_equal(text, "not json");
	free(text);

	write_file(f, REPO_MARKER, "{\"cipher\":\"none\"}");
	assert_int_equal(repo_open(f->dir, NULL, 1, &r, &err), -1);
	assert_non_null(strstr(err.msg, "no valid 'format'"));
}

static void test_names(void **state)
{
	static const char *const good[] = { "app", "app-db_1.prod", "A", "..." };
	static const char *const bad[] = { "", ".", "..", "a/b", "a b", "ä", "a\n" };
	bderr err;
	(void)state;
	for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
		bderr_init(&err);
		assert_int_equal(repo_name_check(good[i], &err), 0);
	}
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		bderr_init(&err);
		assert_int_equal(repo_name_check(bad[i], &err), -1);
		assert_int_equal(err.exit_code, EXIT_USAGE);
	}
	char *p = repo_backup_path("app", "20261121T101500Z", "data/1.copy.zst");
	assert_string_equal(p, "app/backups/20261121T101500Z/data/1.copy.zst");
	free(p);
	p = repo_backup_path("app", "20261121T101500Z", NULL);
	assert_string_equal(p, "app/backups/20261121T101500Z/");
	free(p);
}

static void test_id_collisions(void **state)
{
	fixture *f = *state;
	char *ids[12];
	char *id;
	bderr err;
	bderr_init(&err);
	for (int i = 0; i < 11; i++)
		ids[i] = begin(f->r, "app", T0);
	assert_string_equal(ids[0], "20261121T101500Z");
	assert_string_equal(ids[1], "20261121T101500Z-2");
	assert_string_equal(ids[2], "20261121T101500Z-3");
	assert_string_equal(ids[10], "20261121T101500Z-11");
	assert_true(file_exists(f, "app/backups/20261121T101500Z-11/backup.started"));
	/* another name or second does not collide */
	ids[11] = begin(f->r, "db", T0);
	assert_string_equal(ids[11], "20261121T101500Z");
	id = begin(f->r, "app", T0 + 1);
	assert_string_equal(id, "20261121T101501Z");
	free(id);

	char *text;
	size_t len;
	assert_int_equal(storage_get(repo_storage(f->r), "app/backups/20261121T101500Z/backup.started",
				     &text, &len, 4096, &err),
			 0);
	json_t *j = json_loads(text, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(j, "started")), "2026-11-21T10:15:00Z");
	assert_int_equal(json_integer_value(json_object_get(j, "pid")), getpid());
	assert_non_null(json_string_value(json_object_get(j, "host")));
	json_decref(j);
	free(text);
	for (int i = 0; i < 12; i++)
		free(ids[i]);

	assert_int_equal(repo_backup_begin(f->r, "../x", T0, &id, &err), -1);
	assert_null(id);
}

/*
 * Separate processes (as two dumps are) claiming IDs of one name for one
 * second at once: each gets its own, none shares one.  Before the claim was
 * atomic, two would print the same ID and one backup was lost.
 */
static void test_id_claim_across_processes(void **state)
{
	fixture *f = *state;
	enum { N = 8, ROUNDS = 3 };
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	pid_t kids[N];
	for (int k = 0; k < N; k++) {
		kids[k] = fork();
		assert_true(kids[k] >= 0);
		if (kids[k] == 0) {
			close(fds[0]);
			repo *r;
			bderr err;
			bderr_init(&err);
			if (repo_open(f->dir, NULL, 0, &r, &err) < 0)
				_exit(3);
			for (int i = 0; i < ROUNDS; i++) {
				char *id = NULL;
				if (repo_backup_begin(r, "race", T0, &id, &err) < 0)
					_exit(4);
				char line[64];
				int n = snprintf(line, sizeof line, "%s\n", id);
				if (write(fds[1], line, (size_t)n) != n)
					_exit(5);
				free(id);
			}
			repo_free(r);
			_exit(0);
		}
	}
	close(fds[1]);
	for (int k = 0; k < N; k++) {
		int status;
		assert_int_equal(waitpid(kids[k], &status, 0), kids[k]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	char buf[4096];
	size_t len = 0;
	ssize_t got;
	while ((got = read(fds[0], buf + len, sizeof buf - 1 - len)) > 0)
		len += (size_t)got;
	close(fds[0]);
	buf[len] = '\0';
	char *ids[N * ROUNDS];
	size_t n = 0;
	for (char *save, *tok = strtok_r(buf, "\n", &save); tok; tok = strtok_r(NULL, "\n", &save))
		ids[n++] = tok;
	assert_int_equal(n, N * ROUNDS);
	for (size_t i = 0; i < n; i++)
		for (size_t k = i + 1; k < n; k++)
			assert_string_not_equal(ids[i], ids[k]);
	backup_list *l;
	bderr err;
	bderr_init(&err);
	assert_int_equal(repo_backup_list(f->r, "race", &l, &err), 0);
	assert_int_equal(l->n, N * ROUNDS);
	backup_list_free(l);
}

static void test_list_and_order(void **state)
{
	fixture *f = *state;
	backup_list *l;
	bderr err;
	bderr_init(&err);
	/* created out of order on purpose; -10 must sort after -2 */
	for (int i = 0; i < 10; i++)
		free(begin(f->r, "app", T0));
	manifest *late = make_backup(f->r, "app", T0 + 3600, 1);
	manifest *m10 = make_backup(f->r, "app", T0, 2);
	assert_string_equal(m10->id, "20261121T101500Z-11");
	manifest *db = make_backup(f->r, "db", T0 - 86400, 0);
	free(begin(f->r, "db", T0));
	/* WAL and stray files are not backups */
	assert_int_equal(storage_put(repo_storage(f->r), "app/wal/00000001/x.zst", "w", 1, &err), 0);
	assert_int_equal(storage_put(repo_storage(f->r), "app/backups/loose-file", "w", 1, &err), 0);

	assert_int_equal(repo_backup_list(f->r, NULL, &l, &err), 0);
	assert_int_equal(l->n, 14);
	assert_string_equal(l->items[0].name, "app");
	assert_string_equal(l->items[0].id, "20261121T101500Z");
	assert_null(l->items[0].m);
	assert_string_equal(l->items[1].id, "20261121T101500Z-2");
	assert_string_equal(l->items[9].id, "20261121T101500Z-10");
	assert_string_equal(l->items[10].id, "20261121T101500Z-11");
	assert_non_null(l->items[10].m);
	assert_int_equal(l->items[10].m->n_objects, 2);
	assert_string_equal(l->items[11].id, "20261121T111500Z");
	assert_non_null(l->items[11].m);
	assert_string_equal(l->items[12].name, "db");
	assert_string_equal(l->items[12].id, "20261120T101500Z");
	assert_non_null(l->items[12].m);
	assert_string_equal(l->items[13].id, "20261121T101500Z");
	assert_null(l->items[13].m);
	backup_list_free(l);

	assert_int_equal(repo_backup_list(f->r, "db", &l, &err), 0);
	assert_int_equal(l->n, 2);
	assert_string_equal(l->items[0].name, "db");
	backup_list_free(l);

	assert_int_equal(repo_backup_list(f->r, "nobody", &l, &err), 0);
	assert_int_equal(l->n, 0);
	backup_list_free(l);

	/*
	 * A damaged manifest neither fails the listing nor looks incomplete
	 * (which expire would remove): the entry is marked, the others listed.
	 */
	write_file(f, "db/backups/20261120T101500Z/manifest.json", "{\"format\":1");
	assert_int_equal(repo_backup_list(f->r, NULL, &l, &err), 0);
	assert_int_equal(l->n, 14);
	assert_null(l->items[12].m);
	assert_non_null(l->items[12].damaged);
	assert_non_null(strstr(l->items[12].damaged,
			       "cannot load 'db/backups/20261120T101500Z/manifest.json': invalid manifest"));
	assert_null(l->items[13].damaged);
	assert_null(l->items[11].damaged);
	assert_non_null(l->items[11].m);
	backup_list_free(l);

	manifest_free(late);
	manifest_free(m10);
	manifest_free(db);
}

static void test_load(void **state)
{
	fixture *f = *state;
	manifest *m;
	bderr err;
	bderr_init(&err);
	assert_int_equal(repo_backup_load(f->r, "app", "latest", &m, &err), -1);
	assert_non_null(strstr(err.msg, "no backups of 'app'"));

	manifest *old = make_backup(f->r, "app", T0, 1);
	manifest *newer = make_backup(f->r, "app", T0 + 60, 1);
	char *incomplete = begin(f->r, "app", T0 + 120);

	assert_int_equal(repo_backup_load(f->r, "app", "latest", &m, &err), 0);
	assert_string_equal(m->id, newer->id);
	manifest_free(m);
	assert_int_equal(repo_backup_load(f->r, "app", NULL, &m, &err), 0);
	assert_string_equal(m->id, newer->id);
	manifest_free(m);
	assert_int_equal(repo_backup_load(f->r, "app", old->id, &m, &err), 0);
	assert_string_equal(m->id, old->id);
	assert_int_equal(m->n_objects, 1);
	assert_string_equal(m->objects[0].meta.sha256, old->objects[0].meta.sha256);
	manifest_free(m);

	assert_int_equal(repo_backup_load(f->r, "app", incomplete, &m, &err), -1);
	assert_null(m);
	assert_string_equal(err.msg, "backup '20261121T101700Z' of 'app' is incomplete (no manifest): it cannot be restored");
	assert_int_equal(repo_backup_load(f->r, "app", "20200101T000000Z", &m, &err), -1);
	assert_non_null(strstr(err.msg, "backup '20200101T000000Z' of 'app' not found in '"));
	assert_int_equal(repo_backup_load(f->r, "app", "../../etc", &m, &err), -1);
	assert_int_equal(err.exit_code, EXIT_USAGE);

	free(begin(f->r, "only-incomplete", T0));
	assert_int_equal(repo_backup_load(f->r, "only-incomplete", "latest", &m, &err), -1);
	assert_non_null(strstr(err.msg, "no complete backup of 'only-incomplete'"));

	/* a newer manifest format is refused with the upgrade hint */
	char *p = repo_backup_path("app", newer->id, "manifest.json");
	const char *future = "{\"format\":3}";
	assert_int_equal(storage_put(repo_storage(f->r), p, future, strlen(future), &err), 0);
	assert_int_equal(repo_backup_load(f->r, "app", newer->id, &m, &err), -1);
	assert_non_null(strstr(err.msg, "manifest format 3 is newer than this backupd supports (2): upgrade backupd"));
	/* 'latest' is the newest backup whose manifest reads: the older one */
	assert_int_equal(repo_backup_load(f->r, "app", "latest", &m, &err), 0);
	assert_string_equal(m->id, old->id);
	manifest_free(m);
	free(p);
	/* with every manifest unreadable, latest says so */
	p = repo_backup_path("app", old->id, "manifest.json");
	assert_int_equal(storage_put(repo_storage(f->r), p, "garbage", 7, &err), 0);
	assert_int_equal(repo_backup_load(f->r, "app", "latest", &m, &err), -1);
	assert_null(m);
	assert_non_null(strstr(err.msg, "no readable complete backup of 'app'"));
	assert_non_null(strstr(err.msg, "(2 damaged, 1 incomplete)"));
	free(p);

	free(incomplete);
	manifest_free(old);
	manifest_free(newer);
}

static void test_verify(void **state)
{
	fixture *f = *state;
	bderr err;
	bderr_init(&err);
	manifest *m = make_backup(f->r, "app", T0, 3);
	assert_int_equal(repo_backup_verify(f->r, m, &err), 0);

	object_reader *orr;
	char buf[100000];
	size_t got, total = 0;
	assert_int_equal(repo_object_open(f->r, m, &m->objects[1], &orr, &err), 0);
	do {
		assert_int_equal(object_reader_read(orr, buf, sizeof buf, &got, &err), 0);
		total += got;
	} while (got > 0);
	assert_int_equal(total, m->objects[1].meta.size);
	object_reader_free(orr);

	/* a flipped byte inside the second object */
	char *rel = repo_backup_path("app", m->id, "data/1.copy.zst");
	char *p = xasprintf("%s/%s", f->dir, rel);
	int fd = open(p, O_RDWR);
	assert_true(fd >= 0);
	unsigned char c;
	off_t off = (off_t)m->objects[1].meta.stored_size / 2;
	assert_int_equal(pread(fd, &c, 1, off), 1);
	c ^= 0x80;
	assert_int_equal(pwrite(fd, &c, 1, off), 1);
	close(fd);
	assert_int_equal(repo_backup_verify(f->r, m, &err), -1);
	char *want = xasprintf("object '%s' is corrupt: ", rel);
	if (strstr(err.msg, want) == NULL)
		fail_msg("%s", err.msg);
	free(want);

	/* a shorter file is caught by its stored size */
	assert_int_equal(truncate(p, 10), 0);
	assert_int_equal(repo_backup_verify(f->r, m, &err), -1);
	want = xasprintf("object '%s' is corrupt: stored size mismatch (expected %llu bytes, got 10)", rel,
			 (unsigned long long)m->objects[1].meta.stored_size);
	assert_string_equal(err.msg, want);
	free(want);

	assert_int_equal(unlink(p), 0);
	assert_int_equal(repo_backup_verify(f->r, m, &err), -1);
	want = xasprintf("object '%s' is missing", rel);
	assert_string_equal(err.msg, want);
	free(want);
	free(p);
	free(rel);
	manifest_free(m);
}

static void test_faults_through_repo(void **state)
{
	fixture *f = *state;
	storage *inner;
	repo *r;
	manifest *m, *loaded;
	bderr err;
	bderr_init(&err);
	m = make_backup(f->r, "app", T0, 2);

	/* silent corruption on the way back from storage */
	fault_plan corrupt = { .only_path = "data/0.copy.zst", .corrupt_reads = 1, .corrupt_offset = 20 };
	assert_int_equal(posix_storage_new(f->dir, &inner, &err), 0);
	assert_int_equal(repo_open_storage(fault_storage_new(inner, &corrupt), 0, &r, &err), 0);
	assert_int_equal(repo_backup_verify(r, m, &err), -1);
	char *want = xasprintf("object 'app/backups/%s/data/0.copy.zst' is corrupt: ", m->id);
	if (strstr(err.msg, want) == NULL)
		fail_msg("%s", err.msg);
	free(want);
	repo_free(r);

	/* a failed commit leaves the backup incomplete */
	fault_plan no_commit = { .only_path = "manifest.json", .fail_close = 1 };
	assert_int_equal(posix_storage_new(f->dir, &inner, &err), 0);
	assert_int_equal(repo_open_storage(fault_storage_new(inner, &no_commit), 0, &r, &err), 0);
	free(m->id);
	m->id = begin(r, "app", T0 + 60);
	assert_int_equal(repo_backup_commit(r, m, &err), -1);
	assert_non_null(strstr(err.msg, "manifest.json"));
	assert_int_equal(repo_backup_load(r, "app", m->id, &loaded, &err), -1);
	assert_non_null(strstr(err.msg, "is incomplete"));
	assert_int_equal(repo_backup_load(r, "app", "latest", &loaded, &err), 0);
	assert_string_equal(loaded->id, "20261121T101500Z");
	manifest_free(loaded);
	repo_free(r);

	/* a repository that cannot be read is not "not a repository" */
	fault_plan unreadable = { .fail_open_read = 1 };
	assert_int_equal(posix_storage_new(f->dir, &inner, &err), 0);
	assert_int_equal(repo_open_storage(fault_storage_new(inner, &unreadable), 1, &r, &err), -1);
	assert_string_equal(err.msg, "cannot open 'backupd.repo': Input/output error");
	manifest_free(m);
}

/* repo_set_commit_hook: what the hook saw when it ran */
typedef struct hook_seen {
	repo *r;
	const char *name;
	const char *id;
	int calls;
	int manifest_there; /* the backup was already complete when the hook ran */
} hook_seen;

static void commit_hook(void *ctx)
{
	hook_seen *h = ctx;
	manifest *m = NULL;
	bderr err;
	bderr_init(&err);
	h->calls++;
	if (repo_backup_load(h->r, h->name, h->id, &m, &err) == 0)
		h->manifest_there = 1;
	manifest_free(m);
}

/* The hook runs once per commit, before the manifest is written, also for a write that fails. */
static void test_commit_hook(void **state)
{
	fixture *f = *state;
	storage *inner;
	repo *r;
	bderr err;
	bderr_init(&err);
	manifest *m = make_backup(f->r, "app", T0, 1);
	free(m->id);
	m->id = begin(f->r, "app", T0 + 60);
	hook_seen h = { f->r, "app", m->id, 0, 0 };
	repo_set_commit_hook(f->r, commit_hook, &h);
	assert_int_equal(repo_backup_commit(f->r, m, &err), 0);
	assert_int_equal(h.calls, 1);
	assert_int_equal(h.manifest_there, 0);
	manifest *loaded = NULL;
	assert_int_equal(repo_backup_load(f->r, "app", m->id, &loaded, &err), 0);
	manifest_free(loaded);
	repo_set_commit_hook(f->r, NULL, NULL);

	fault_plan no_commit = { .only_path = "manifest.json", .fail_close = 1 };
	assert_int_equal(posix_storage_new(f->dir, &inner, &err), 0);
	assert_int_equal(repo_open_storage(fault_storage_new(inner, &no_commit), 0, &r, &err), 0);
	free(m->id);
	m->id = begin(r, "app", T0 + 120);
	hook_seen h2 = { r, "app", m->id, 0, 0 };
	repo_set_commit_hook(r, commit_hook, &h2);
	assert_int_equal(repo_backup_commit(r, m, &err), -1);
	assert_int_equal(h2.calls, 1);
	assert_int_equal(h2.manifest_there, 0);
	repo_free(r);
	manifest_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_and_open, test_repo_setup, test_repo_teardown),
		cmocka_unit_test_setup_teardown(test_not_a_repo, test_repo_setup, test_repo_teardown),
		cmocka_unit_test_setup_teardown(test_refuse_newer_or_bad_marker, test_repo_setup, test_repo_teardown),
		cmocka_unit_test(test_names),
		cmocka_unit_test_setup_teardown(test_commit_hook, test_repo_setup, test_repo_teardown),
		cmocka_unit_test_setup_teardown(test_id_collisions, test_repo_setup, test_repo_teardown),
		cmocka_unit_test_setup_teardown(test_id_claim_across_processes, test_repo_setup, test_repo_teardown),
		cmocka_unit_test_setup_teardown(test_list_and_order, test_repo_setup, test_repo_teardown),
		cmocka_unit_test_setup_teardown(test_load, test_repo_setup, test_repo_teardown),
		cmocka_unit_test_setup_teardown(test_verify, test_repo_setup, test_repo_teardown),
		cmocka_unit_test_setup_teardown(test_faults_through_repo, test_repo_setup, test_repo_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
