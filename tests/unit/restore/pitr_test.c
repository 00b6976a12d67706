#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "archive/lsn.h"
#include "common/mem.h"
#include "engines/pg/pg_base_format.h"
#include "restore/pitr.h"

static void check_time(const char *in, int64_t want_us, const char *want_text)
{
	int64_t us = 0;
	char out[64];
	if (pitr_parse_time(in, &us, out, sizeof out) != 0)
		fail_msg("'%s' did not parse", in);
	assert_int_equal(us, want_us);
	assert_string_equal(out, want_text);
}

static void test_parse_time(void **state)
{
	(void)state;
	/* 2026-11-21 10:13:24 UTC */
	const int64_t base = 1795256004LL * 1000000;
	check_time("2026-11-21 10:13:24+00", base, "2026-11-21 10:13:24.000000+00");
	check_time("2026-11-21T10:13:24Z", base, "2026-11-21 10:13:24.000000+00");
	check_time("2026-11-21 10:13:24.5Z", base + 500000, "2026-11-21 10:13:24.500000+00");
	check_time("2026-11-21 10:13:24.123456789 +00:00", base + 123456,
		   "2026-11-21 10:13:24.123456+00");
	check_time("2026-11-21 11:43:24.000001+01:30", base + 1, "2026-11-21 10:13:24.000001+00");
	check_time("2026-11-21 05:13:24-0500", base, "2026-11-21 10:13:24.000000+00");
	/* without seconds: the minute's first second, in every form the others take */
	const int64_t minute = base - 24 * 1000000LL;
	check_time("2026-11-21 10:13+00", minute, "2026-11-21 10:13:00.000000+00");
	check_time("2026-11-21T10:13Z", minute, "2026-11-21 10:13:00.000000+00");
	check_time("2026-11-21t10:13 +00:00", minute, "2026-11-21 10:13:00.000000+00");
	check_time("2026-11-21 11:43+01:30", minute, "2026-11-21 10:13:00.000000+00");
	check_time("2026-11-21 05:13-0500", minute, "2026-11-21 10:13:00.000000+00");
	check_time("2024-02-29 00:00Z", 1709164800LL * 1000000, "2024-02-29 00:00:00.000000+00");
	setenv("TZ", "UTC", 1);
	tzset();
	check_time("2026-11-21 10:13:24", base, "2026-11-21 10:13:24.000000+00");
	check_time("2026-11-21 10:13", minute, "2026-11-21 10:13:00.000000+00");
	check_time("2026-11-21T10:13", minute, "2026-11-21 10:13:00.000000+00");
	setenv("TZ", "Europe/Berlin", 1);
	tzset();
	check_time("2026-11-21 11:13", minute, "2026-11-21 10:13:00.000000+00");
	setenv("TZ", "UTC", 1);
	tzset();
}

static void test_parse_time_errors(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"", "now", "2026-11-21", "2026-11-21 10", "2026-11-21 10:", "2026-11-21 10:1",
		"2026-11-21 10:13:", "2026-11-21 10:13:2", "2026-11-21 10:13.5Z",
		"2026-11-21 10:60", "2026-11-21 10:13junk", "2026-11-21 10:13 PST",
		"2026-13-01 00:00:00Z", "2026-02-30 00:00:00Z", "2026-02-30 00:00+01",
		"2026-04-31 12:00", "2026-02-29 00:00Z", "2100-02-29 00:00Z",
		"2026-11-21 24:00:00Z", "2026-11-21 10:13:24.Z",
		"2026-11-21 10:13:24+1", "2026-11-21 10:13:24 PST", "2026-11-21 10:13:24Zjunk",
		" 2026-11-21 10:13:24Z", NULL,
	};
	for (size_t i = 0; bad[i]; i++) {
		int64_t us;
		char out[64];
		if (pitr_parse_time(bad[i], &us, out, sizeof out) == 0)
			fail_msg("'%s' parsed as %s", bad[i], out);
	}
}

static void test_conf_quote(void **state)
{
	(void)state;
	char *q = pitr_conf_quote("it's a \\ path");
	assert_string_equal(q, "'it''s a \\\\ path'");
	free(q);
	q = pitr_conf_quote("");
	assert_string_equal(q, "''");
	free(q);
}

static void test_restore_command(void **state)
{
	(void)state;
	const char *words[] = { "/usr/bin/dbrestore", "wal-get", "-c", "/etc/my conf's.conf",
				"--repo", "/srv/100%", "--name", "app", NULL };
	char *c = pitr_restore_command(words);
	assert_string_equal(c, "/usr/bin/dbrestore wal-get -c '/etc/my conf'\\''s.conf' --repo "
			       "'/srv/100%%' --name app %f %p");
	free(c);
}

static void test_url_secret(void **state)
{
	(void)state;
	assert_false(pitr_url_has_secret("/srv/backups"));
	assert_false(pitr_url_has_secret("file:///srv/backups"));
	assert_false(pitr_url_has_secret("s3://bucket/prefix?endpoint=https://h:9000&region=x"));
	assert_true(pitr_url_has_secret("s3://AKIA:secret@bucket/prefix"));
	assert_true(pitr_url_has_secret("s3://bucket/p?region=x&secret-access-key=abc"));
	assert_true(pitr_url_has_secret("s3://bucket/p?X-Amz-Security-Token=abc"));
}

/* A list of base backups with stop times (s) and stop LSNs; kind "dump" where lsn is NULL. */
static backup_list *make_list(const int64_t *stop_s, const char *const *lsn, size_t n)
{
	backup_list *l = xcalloc(1, sizeof *l);
	l->items = xcalloc(n, sizeof *l->items);
	l->n = n;
	for (size_t i = 0; i < n; i++) {
		backup_entry *e = &l->items[i];
		e->name = xstrdup("app");
		e->id = xasprintf("2026112%zuT000000Z", i);
		if (stop_s[i] < 0)
			continue; /* incomplete */
		manifest *m = manifest_new();
		m->kind = xstrdup(lsn[i] ? "basebackup" : "dump");
		m->id = xstrdup(e->id);
		if (lsn[i]) {
			/* a complete base backup info: pitr reads it through its parser */
			pg_base_info bi = { .server_version_num = 170000,
					    .wal_segment_size = 16 * 1024 * 1024,
					    .timeline = 1,
					    .stop_timeline = 1,
					    .stop_time_us = stop_s[i] * 1000000 };
			bi.system_identifier = "1";
			assert_int_equal(lsn_parse(lsn[i], &bi.stop_lsn), 0);
			strcpy(bi.wal_start_segment, "000000010000000000000001");
			strcpy(bi.wal_stop_segment, "000000010000000000000001");
			pg_base_info_to_json(&bi, m->info);
		} else {
			json_object_set_new(m->info, "stop_time_us", json_integer(stop_s[i] * 1000000));
		}
		e->m = m;
	}
	return l;
}

static void test_choose_backup(void **state)
{
	(void)state;
	const int64_t stops[] = { 100, 200, 300, -1, 400 };
	const char *const lsns[] = { "0/3000100", "0/5000100", NULL, NULL, "1/100" };
	backup_list *l = make_list(stops, lsns, 5);
	bderr err;
	bderr_init(&err);
	pitr_target t = { .kind = PITR_TARGET_NONE };
	assert_int_equal(pitr_choose_backup(l, &t, &err), 4);
	t = (pitr_target){ .kind = PITR_TARGET_TIME, .value = "x", .time_us = 399 * 1000000LL };
	assert_int_equal(pitr_choose_backup(l, &t, &err), 1); /* the dump at 300 does not count */
	t.time_us = 200 * 1000000LL; /* stopped exactly then: too late */
	assert_int_equal(pitr_choose_backup(l, &t, &err), 0);
	t.time_us = 50 * 1000000LL;
	assert_int_equal(pitr_choose_backup(l, &t, &err), -1);
	assert_non_null(strstr(err.msg, "ended before the target"));
	t = (pitr_target){ .kind = PITR_TARGET_LSN, .value = "0/5000100", .lsn = 0x5000100 };
	assert_int_equal(pitr_choose_backup(l, &t, &err), 1);
	t.kind = PITR_TARGET_NAME;
	assert_int_equal(pitr_choose_backup(l, &t, &err), 4);
	/* a base backup whose info does not parse is never chosen */
	json_object_set_new(l->items[4].m->info, "stop_lsn", json_string("damaged"));
	t.kind = PITR_TARGET_NONE;
	assert_int_equal(pitr_choose_backup(l, &t, &err), 1);
	backup_list_free(l);

	const int64_t dump_only[] = { 100 };
	const char *const none[] = { NULL };
	l = make_list(dump_only, none, 1);
	bderr_init(&err);
	t.kind = PITR_TARGET_NONE;
	assert_int_equal(pitr_choose_backup(l, &t, &err), -1);
	assert_non_null(strstr(err.msg, "no complete base backup"));
	backup_list_free(l);
}

/* --standby --primary-conninfo: never a password in postgresql.auto.conf, never echoed */
static void check_value(const char *text, const char *name, const char *want)
{
	char *v = pitr_conf_value(text, name);
	if (want == NULL) {
		assert_null(v);
		return;
	}
	assert_non_null(v);
	assert_string_equal(v, want);
	free(v);
}

/* The settings pitr reads back from a restored postgresql.conf / postgresql.auto.conf. */
static void test_conf_value(void **state)
{
	(void)state;
	const char *text = "# Do not edit this file manually!\n"
			   "archive_mode = 'on'\n"
			   "  ARCHIVE_COMMAND='cp %p /old/host''s/%f' # set by ALTER SYSTEM\n"
			   "#archive_library = 'x'\n"
			   "archive_command_x = 'not it'\n"
			   "wal_level replica\n"
			   "archive_mode = always\n"
			   "esc = 'a\\'b'\n"
			   "empty = ''";
	check_value(text, "archive_mode", "always"); /* the last line wins, as for the server */
	check_value(text, "archive_command", "cp %p /old/host's/%f");
	check_value(text, "archive_library", NULL); /* commented out */
	check_value(text, "wal_level", "replica");  /* no '=' */
	check_value(text, "esc", "a'b");
	check_value(text, "empty", "");
	check_value("", "archive_mode", NULL);
}

static void test_primary_conninfo(void **state)
{
	(void)state;
	bderr err;
	bderr_init(&err);
	assert_int_equal(pitr_check_primary_conninfo("host=10.0.0.1 port=5432 user=rep "
						     "passfile=/etc/pg/pass",
						     &err),
			 0);
	assert_int_equal(pitr_check_primary_conninfo("postgresql://rep@db1:5432/postgres", &err), 0);
	const char *bad[] = { "host=h user=rep password=sEcReT1", "postgresql://rep:sEcReT1@db1/x",
			      "host=h password='sEcReT1'", "user=rep", "host=h bogus=sEcReT1",
			      "host='sEcReT1" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		bderr_init(&err);
		assert_int_equal(pitr_check_primary_conninfo(bad[i], &err), -1);
		assert_int_equal(err.exit_code, EXIT_USAGE);
		assert_null(strstr(err.msg, "sEcReT1"));
	}
	bderr_init(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_primary_conninfo),
		cmocka_unit_test(test_conf_value),
		cmocka_unit_test(test_parse_time),
		cmocka_unit_test(test_parse_time_errors),
		cmocka_unit_test(test_conf_quote),
		cmocka_unit_test(test_restore_command),
		cmocka_unit_test(test_url_secret),
		cmocka_unit_test(test_choose_backup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
