#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "archive/repo.h"
#include "archive/wal.h"
#include "backupd/expire.h"
#include "backupd/run_history.h"
#include "common/mem.h"
#include "engines/pg/pg_base_format.h"
#include "tests/unit/testutil.h"

/* 2026-11-21T10:15:00Z */
#define T0 ((time_t)1795256100)
#define DAY (24 * 60 * 60)

typedef test_repo fixture;

/* A backup with one object; committed when complete. */
static char *make_backup(repo *r, const char *name, time_t started, int complete)
{
	bderr err;
	bderr_init(&err);
	char *id = NULL;
	assert_int_equal(repo_backup_begin(r, name, started, &id, &err), 0);
	char *obj = repo_backup_path(name, id, "data/1.copy.zst");
	assert_int_equal(storage_put(repo_storage(r), obj, "x", 1, &err), 0);
	free(obj);
	if (complete) {
		manifest *m = manifest_new();
		m->id = xstrdup(id);
		m->name = xstrdup(name);
		m->engine = xstrdup("postgresql");
		m->kind = xstrdup("dump");
		m->started = started;
		m->finished = started + 5;
		assert_int_equal(repo_backup_commit(r, m, &err), 0);
		manifest_free(m);
	}
	return id;
}

static size_t count(repo *r, const char *name, int complete)
{
	bderr err;
	bderr_init(&err);
	backup_list *l = NULL;
	assert_int_equal(repo_backup_list(r, name, &l, &err), 0);
	size_t n = 0;
	for (size_t i = 0; i < l->n; i++)
		n += (l->items[i].m != NULL) == complete;
	backup_list_free(l);
	return n;
}

static void test_keep_last_and_dry_run(void **state)
{
	fixture *f = *state;
	char *ids[4];
	for (int i = 0; i < 4; i++)
		ids[i] = make_backup(f->r, "db", T0 + i * 3600, 1);
	char *other = make_backup(f->r, "other", T0, 1);
	bderr err;
	bderr_init(&err);
	expire_options o = { .name = NULL, .now = T0 + DAY, .incomplete_grace = DAY };
	o.policy.keep_last = 2;
	o.dry_run = 1;
	expire_stats st;
	FILE *devnull = fopen("/dev/null", "w");
	assert_int_equal(expire_run(f->r, &o, devnull, &st, &err), 0);
	assert_int_equal(st.removed, 2);
	assert_int_equal(count(f->r, "db", 1), 4); /* dry run: nothing gone */
	o.dry_run = 0;
	assert_int_equal(expire_run(f->r, &o, devnull, &st, &err), 0);
	assert_int_equal(st.removed, 2);
	assert_int_equal(st.kept, 3); /* 2 of db, the only one of other */
	assert_int_equal(count(f->r, "db", 1), 2);
	assert_int_equal(count(f->r, "db", 0), 0); /* no leftovers */
	manifest *m = NULL;
	assert_int_equal(repo_backup_load(f->r, "db", ids[3], &m, &err), 0);
	manifest_free(m);
	assert_int_equal(repo_backup_load(f->r, "db", ids[0], &m, &err), -1);
	fclose(devnull);
	for (int i = 0; i < 4; i++)
		free(ids[i]);
	free(other);
}

/* Temp files ('.X.tmp.PID.N') anywhere under dir. */
static size_t count_temps(const char *dir)
{
	size_t n = 0;
	DIR *d = opendir(dir);
	if (d == NULL)
		return 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		char *p = xasprintf("%s/%s", dir, de->d_name);
		struct stat st;
		if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
			n += count_temps(p);
		else if (strstr(de->d_name, ".tmp.") != NULL)
			n++;
		free(p);
	}
	closedir(d);
	return n;
}

/*
 * A dump killed midway (here: a child that exits without finishing) leaves
 * an incomplete backup and a partly written temp file.  The next expire
 * removes both at once, its writer being provably gone, while a backup
 * whose writer runs (this process, writing an object) keeps everything.
 */
static void test_dead_writer_leftovers(void **state)
{
	fixture *f = *state;
	pid_t kid = fork();
	assert_true(kid >= 0);
	if (kid == 0) {
		repo *r;
		bderr e;
		bderr_init(&e);
		char *id;
		writer *w;
		if (repo_open(f->dir, NULL, 0, &r, &e) < 0 || repo_backup_begin(r, "db", T0, &id, &e) < 0)
			_exit(3);
		char *obj = repo_backup_path("db", id, "data/1.copy.zst");
		if (storage_open_write(repo_storage(r), obj, &w, &e) < 0 || writer_write(w, "x", 1, &e) < 0)
			_exit(4);
		_exit(0); /* killed, as far as the repository can tell */
	}
	int status;
	assert_int_equal(waitpid(kid, &status, 0), kid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(count_temps(f->dir), 1);

	bderr err;
	bderr_init(&err);
	char *live = NULL;
	writer *w;
	assert_int_equal(repo_backup_begin(f->r, "db", T0, &live, &err), 0);
	char *obj = repo_backup_path("db", live, "data/1.copy.zst");
	assert_int_equal(storage_open_write(repo_storage(f->r), obj, &w, &err), 0);
	assert_int_equal(writer_write(w, "y", 1, &err), 0);
	assert_int_equal(count_temps(f->dir), 2);

	expire_options o = { .name = "db", .now = T0 + 60, .incomplete_grace = DAY };
	o.policy.keep_last = 5;
	expire_stats st;
	FILE *devnull = fopen("/dev/null", "w");
	assert_int_equal(expire_run(f->r, &o, devnull, &st, &err), 0);
	assert_int_equal(st.incomplete_removed, 1);
	assert_int_equal(st.temp_removed, 1);
	assert_int_equal(count(f->r, "db", 0), 1); /* the live one */
	assert_int_equal(count_temps(f->dir), 1);
	/* the live writer was not disturbed */
	assert_int_equal(writer_close(w, &err), 0);
	writer_free(w);
	storage_info info;
	assert_int_equal(storage_info_get(repo_storage(f->r), obj, &info, &err), 0);
	assert_true(info.exists);
	assert_int_equal(count_temps(f->dir), 0);
	/* the live backup keeps the 24 h grace: still there after another expire */
	assert_int_equal(expire_run(f->r, &o, devnull, &st, &err), 0);
	assert_int_equal(st.incomplete_removed, 0);
	fclose(devnull);
	free(obj);
	free(live);
}

static void test_incomplete_grace(void **state)
{
	fixture *f = *state;
	char *done = make_backup(f->r, "db", T0, 1);
	char *old = make_backup(f->r, "db", T0 - 2 * DAY, 0);
	char *young = make_backup(f->r, "db", T0 - 3600, 0);
	bderr err;
	bderr_init(&err);
	expire_options o = { .name = "db", .now = T0, .incomplete_grace = DAY };
	o.policy.keep_last = 5;
	expire_stats st;
	FILE *devnull = fopen("/dev/null", "w");
	assert_int_equal(expire_run(f->r, &o, devnull, &st, &err), 0);
	assert_int_equal(st.incomplete_removed, 1);
	assert_int_equal(count(f->r, "db", 0), 1);
	assert_int_equal(count(f->r, "db", 1), 1);
	fclose(devnull);
	free(done);
	free(old);
	free(young);
}

/* A complete base backup whose WAL starts at start_segment. */
static char *make_base(repo *r, const char *name, time_t started, const char *start_segment)
{
	bderr err;
	bderr_init(&err);
	char *id = NULL;
	assert_int_equal(repo_backup_begin(r, name, started, &id, &err), 0);
	manifest *m = manifest_new();
	m->id = xstrdup(id);
	m->name = xstrdup(name);
	m->engine = xstrdup("postgresql");
	m->kind = xstrdup("basebackup");
	m->started = started;
	m->finished = started + 5;
	pg_base_info bi = { .server_version_num = 170000, .wal_segment_size = 16 * 1024 * 1024,
			    .timeline = 1, .stop_timeline = 1, .stop_time_us = 1 };
	bi.system_identifier = "1";
	snprintf(bi.wal_start_segment, sizeof bi.wal_start_segment, "%s", start_segment);
	snprintf(bi.wal_stop_segment, sizeof bi.wal_stop_segment, "%s", start_segment);
	pg_base_info_to_json(&bi, m->info);
	assert_int_equal(repo_backup_commit(r, m, &err), 0);
	manifest_free(m);
	return id;
}

static void put_wal(repo *r, const char *name, const char *file)
{
	bderr err;
	bderr_init(&err);
	int already;
	assert_int_equal(wal_store(r, name, file, file, strlen(file), 1, &already, &err), 0);
}

/* The archived WAL file names of name, comma-separated, sorted. */
static char *wal_names(repo *r, const char *name)
{
	bderr err;
	bderr_init(&err);
	wal_object_list *l = NULL;
	assert_int_equal(wal_list(r, name, &l, &err), 0);
	strbuf b;
	strbuf_init(&b);
	for (size_t i = 0; i < l->n; i++)
		strbuf_appendf(&b, "%s%s", i ? "," : "",
			       l->items[i].name.file +
				       (l->items[i].name.kind == WAL_KIND_HISTORY ? 0 : 22));
	wal_object_list_free(l);
	return strbuf_detach(&b);
}

static void test_kinds_apart_and_wal(void **state)
{
	fixture *f = *state;
	char *ids[5];
	ids[0] = make_backup(f->r, "db", T0, 1);
	ids[1] = make_base(f->r, "db", T0 + 1800, "000000010000000000000002");
	ids[2] = make_backup(f->r, "db", T0 + 3600, 1);
	ids[3] = make_base(f->r, "db", T0 + 5400, "000000010000000000000005");
	ids[4] = make_backup(f->r, "db", T0 + 7200, 1);
	static const char *const wal[] = {
		"000000010000000000000001", "000000010000000000000002",
		"000000010000000000000003", "000000010000000000000003.00000028.backup",
		"000000010000000000000004.partial", "000000010000000000000005",
		"000000020000000000000004", "000000020000000000000006", "00000002.history", NULL,
	};
	for (size_t i = 0; wal[i]; i++)
		put_wal(f->r, "db", wal[i]);
	/* a name without base backups keeps all its WAL */
	char *nb = make_backup(f->r, "nb", T0, 1);
	put_wal(f->r, "nb", "000000010000000000000001");

	bderr err;
	bderr_init(&err);
	expire_options o = { .name = NULL, .now = T0 + DAY, .incomplete_grace = DAY, .dry_run = 1 };
	o.policy.keep_last = 1;
	expire_stats st;
	FILE *devnull = fopen("/dev/null", "w");
	assert_int_equal(expire_run(f->r, &o, devnull, &st, &err), 0);
	assert_int_equal(st.removed, 3);    /* 2 dumps and 1 base backup */
	assert_int_equal(st.kept, 3);       /* newest dump and newest base of db, nb's dump */
	assert_int_equal(st.wal_removed, 6);
	char *names = wal_names(f->r, "db");
	assert_string_equal(names, "01,02,03,03.00000028.backup,04.partial,05,00000002.history,04,06");
	free(names);
	assert_int_equal(count(f->r, "db", 1), 5); /* dry run */

	o.dry_run = 0;
	assert_int_equal(expire_run(f->r, &o, devnull, &st, &err), 0);
	assert_int_equal(st.wal_removed, 6);
	assert_int_equal(count(f->r, "db", 1), 2);
	manifest *m = NULL;
	assert_int_equal(repo_backup_load(f->r, "db", ids[3], &m, &err), 0);
	manifest_free(m);
	assert_int_equal(repo_backup_load(f->r, "db", ids[4], &m, &err), 0);
	manifest_free(m);
	names = wal_names(f->r, "db");
	assert_string_equal(names, "05,00000002.history,06");
	free(names);
	names = wal_names(f->r, "nb");
	assert_string_equal(names, "01");
	free(names);
	fclose(devnull);
	for (int i = 0; i < 5; i++)
		free(ids[i]);
	free(nb);
}

/*
 * A backup whose manifest cannot be read is neither complete (it does not
 * count for keep-last) nor incomplete (it is never removed), and while it is
 * there no WAL of its source goes: it may be a base backup that needs it.
 */
static void test_damaged_kept(void **state)
{
	fixture *f = *state;
	char *damaged = make_backup(f->r, "db", T0 - 3 * DAY, 1);
	char *ids[3];
	ids[0] = make_base(f->r, "db", T0 - 2 * DAY, "000000010000000000000002");
	ids[1] = make_backup(f->r, "db", T0 - DAY, 1);
	ids[2] = make_backup(f->r, "db", T0, 1);
	put_wal(f->r, "db", "000000010000000000000001");
	bderr err;
	bderr_init(&err);
	char *path = repo_backup_path("db", damaged, "manifest.json");
	assert_int_equal(storage_put(repo_storage(f->r), path, "{garbage", 8, &err), 0);
	expire_options o = { .name = NULL, .now = T0 + DAY, .incomplete_grace = 3600 };
	o.policy.keep_last = 1;
	expire_stats st;
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	assert_int_equal(expire_run(f->r, &o, out, &st, &err), 0);
	fclose(out);
	assert_int_equal(st.removed, 1);   /* the older dump */
	assert_int_equal(st.kept, 2);      /* the newest dump and the base backup */
	assert_int_equal(st.incomplete_removed, 0);
	assert_int_equal(st.wal_removed, 0);
	assert_non_null(strstr(text, "(damaged: its manifest cannot be read)"));
	assert_non_null(strstr(text, "keep all WAL of db (backup"));
	/* still there, still damaged */
	storage_info info;
	assert_int_equal(storage_info_get(repo_storage(f->r), path, &info, &err), 0);
	char *names = wal_names(f->r, "db");
	assert_string_equal(names, "01");
	free(names);
	free(text);
	free(path);
	free(damaged);
	for (int i = 0; i < 3; i++)
		free(ids[i]);
}

static void test_no_rule_is_usage_error(void **state)
{
	fixture *f = *state;
	bderr err;
	bderr_init(&err);
	expire_options o = { .now = T0 };
	assert_int_equal(expire_run(f->r, &o, NULL, NULL, &err), -1);
	assert_int_equal(err.exit_code, EXIT_USAGE);
}

/* A --name with nothing under it (a typo) fails: retention it never applied is no success. */
static void test_unknown_name_fails(void **state)
{
	fixture *f = *state;
	char *id = make_backup(f->r, "db", T0, 1);
	bderr err;
	bderr_init(&err);
	expire_options o = { .name = "dbb", .now = T0 + DAY, .incomplete_grace = DAY };
	o.policy.keep_last = 1;
	assert_int_equal(expire_run(f->r, &o, NULL, NULL, &err), -1);
	assert_non_null(strstr(err.msg, "nothing of 'dbb'"));
	bderr_init(&err);
	o.name = "db";
	assert_int_equal(expire_run(f->r, &o, NULL, NULL, &err), 0);
	free(id);
}

static void test_history_last(void **state)
{
	fixture *f = *state;
	bderr err;
	bderr_init(&err);
	char *text = xasprintf("[global]\nstate-dir = %s/state\n", f->dir);
	config *cfg = NULL;
	assert_int_equal(config_load_string(text, "t.conf", &cfg, &err), 0);
	free(text);
	run_record r;
	int found = 1;
	assert_int_equal(run_history_last(cfg, "j", &r, &found, &err), 0);
	assert_int_equal(found, 0);
	run_record a = { .job = "j", .start = T0, .end = T0 + 7, .ok = 1, .backup_id = "X",
			 .bytes = 42 };
	run_record b = { .job = "j", .start = T0 + 60, .end = T0 + 61, .ok = 0,
			 .error = "cannot connect" };
	assert_int_equal(run_history_append(cfg, &a, &err), 0);
	assert_int_equal(run_history_append(cfg, &b, &err), 0);
	assert_int_equal(run_history_last(cfg, "j", &r, &found, &err), 0);
	assert_int_equal(found, 1);
	assert_int_equal(r.ok, 0);
	assert_int_equal(r.start, T0 + 60);
	assert_string_equal(r.error, "cannot connect");
	run_record_free(&r);
	/* a torn last line (crash mid-write) falls back to the previous entry */
	char *path = xasprintf("%s/state/history/j.jsonl", f->dir);
	FILE *fp = fopen(path, "a");
	fputs("{\"job\":\"j\",\"sta", fp);
	fclose(fp);
	free(path);
	assert_int_equal(run_history_last(cfg, "j", &r, &found, &err), 0);
	assert_int_equal(found, 1);
	assert_int_equal(r.start, T0 + 60);
	run_record_free(&r);
	config_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_keep_last_and_dry_run, test_repo_setup, test_repo_teardown),
		cmocka_unit_test_setup_teardown(test_incomplete_grace, test_repo_setup, test_repo_teardown),
		cmocka_unit_test_setup_teardown(test_no_rule_is_usage_error, test_repo_setup, test_repo_teardown),
		cmocka_unit_test_setup_teardown(test_unknown_name_fails, test_repo_setup, test_repo_teardown),
		cmocka_unit_test_setup_teardown(test_kinds_apart_and_wal, test_repo_setup, test_repo_teardown),
		cmocka_unit_test_setup_teardown(test_history_last, test_repo_setup, test_repo_teardown),
		cmocka_unit_test_setup_teardown(test_dead_writer_leftovers, test_repo_setup, test_repo_teardown),
		cmocka_unit_test_setup_teardown(test_damaged_kept, test_repo_setup, test_repo_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
