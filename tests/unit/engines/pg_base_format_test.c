/*
 * The PostgreSQL base backup format contract (engines/pg/pg_base_format.h):
 * what the writer produces the reader takes back unchanged, backups written
 * before data_directory_mode, slots and incremental backups still parse, and
 * every malformed field is refused with its path.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "engines/pg/pg_base_format.h"

static void sample(pg_base_info *i)
{
	memset(i, 0, sizeof *i);
	i->system_identifier = xstrdup("7312345678901234567");
	i->server_version_num = 170002;
	i->wal_segment_size = 16 * 1024 * 1024;
	i->data_directory_mode = xstrdup("0750");
	i->compress = xstrdup("zstd:3");
	i->archive_timeout = 60;
	i->slot = xstrdup("standby1");
	i->incremental_of = xstrdup("20261130T010000Z");
	i->n_tablespaces = 2;
	i->tablespaces = xcalloc(2, sizeof *i->tablespaces);
	i->tablespaces[0] = (pg_base_tablespace){ xstrdup("16390"), xstrdup("/srv/ts1") };
	i->tablespaces[1] = (pg_base_tablespace){ xstrdup("16391"), xstrdup("/srv/ts 2") };
	i->start_lsn = 0x100000028ULL;
	i->stop_lsn = 0x100000100ULL;
	i->timeline = 2;
	i->stop_timeline = 2;
	strcpy(i->wal_start_segment, "000000020000000100000000");
	strcpy(i->wal_stop_segment, "000000020000000100000000");
	i->stop_time_us = 1796000000123456LL;
	i->stop_time = xstrdup("2026-11-30 01:00:00.123456Z");
}

static void test_round_trip(void **state)
{
	(void)state;
	pg_base_info a, b;
	sample(&a);
	json_t *ja = json_object();
	pg_base_info_to_json(&a, ja);
	char *text = json_dumps(ja, 0);
	json_error_t je;
	json_t *loaded = json_loads(text, 0, &je);
	bderr err;
	bderr_init(&err);
	assert_int_equal(pg_base_info_parse(loaded, &b, &err), 0);
	assert_string_equal(b.system_identifier, a.system_identifier);
	assert_int_equal(b.server_version_num, 170002);
	assert_int_equal(b.wal_segment_size, 16 * 1024 * 1024);
	assert_string_equal(b.data_directory_mode, "0750");
	assert_string_equal(b.compress, "zstd:3");
	assert_int_equal(b.archive_timeout, 60);
	assert_string_equal(b.slot, "standby1");
	assert_string_equal(b.incremental_of, "20261130T010000Z");
	assert_int_equal(b.n_tablespaces, 2);
	assert_string_equal(b.tablespaces[1].oid, "16391");
	assert_string_equal(b.tablespaces[1].location, "/srv/ts 2");
	assert_true(b.start_lsn == a.start_lsn);
	assert_true(b.stop_lsn == a.stop_lsn);
	assert_int_equal(b.timeline, 2);
	assert_string_equal(b.wal_stop_segment, a.wal_stop_segment);
	assert_int_equal(b.stop_time_us, a.stop_time_us);
	assert_string_equal(b.stop_time, a.stop_time);
	json_t *jb = json_object();
	pg_base_info_to_json(&b, jb);
	assert_true(json_equal(ja, jb));
	json_decref(jb);
	json_decref(loaded);
	json_decref(ja);
	free(text);
	pg_base_info_clear(&a);
	pg_base_info_clear(&b);
}

/* A full backup as the first base backups wrote it (no data_directory_mode, slot, parent). */
static void test_old_manifest(void **state)
{
	(void)state;
	const char *old =
		"{\"system_identifier\": \"7312345678901234567\", \"server_version_num\": 120017,"
		" \"wal_segment_size\": 16777216, \"options\": {\"compress\": \"zstd:1\", \"archive_timeout\": 60},"
		" \"tablespaces\": [], \"start_lsn\": \"0/2000028\", \"stop_lsn\": \"0/2000100\","
		" \"timeline\": 1, \"stop_timeline\": 1, \"wal_start_segment\": \"000000010000000000000002\","
		" \"wal_stop_segment\": \"000000010000000000000002\", \"stop_time_us\": 1796000000000000,"
		" \"stop_time\": \"2026-11-30 01:00:00.000000Z\"}";
	json_error_t je;
	json_t *v = json_loads(old, 0, &je);
	pg_base_info i;
	bderr err;
	bderr_init(&err);
	assert_int_equal(pg_base_info_parse(v, &i, &err), 0);
	assert_null(i.data_directory_mode);
	assert_null(i.incremental_of);
	assert_null(i.slot);
	assert_int_equal(i.n_tablespaces, 0);
	assert_true(i.stop_lsn == 0x2000100ULL);
	pg_base_info_clear(&i);
	json_decref(v);
}

static json_t *build(void)
{
	pg_base_info a;
	sample(&a);
	json_t *j = json_object();
	pg_base_info_to_json(&a, j);
	pg_base_info_clear(&a);
	return j;
}

/* Sets key (NULL value: removes it) in a valid info; the error must contain expect. */
static void refused(const char *key, json_t *value, const char *expect)
{
	json_t *j = build();
	if (value)
		json_object_set_new(j, key, value);
	else
		json_object_del(j, key);
	pg_base_info i;
	bderr err;
	bderr_init(&err);
	assert_int_equal(pg_base_info_parse(j, &i, &err), -1);
	if (strstr(err.msg, expect) == NULL)
		fail_msg("%s: '%s' does not mention '%s'", key, err.msg, expect);
	assert_non_null(strstr(err.msg, "invalid manifest"));
	assert_null(i.system_identifier); /* cleared */
	json_decref(j);
}

static void test_malformed(void **state)
{
	(void)state;
	refused("system_identifier", NULL, "info.system_identifier");
	refused("system_identifier", json_string("12a"), "info.system_identifier must be digits");
	refused("server_version_num", json_string("17"), "info.server_version_num");
	refused("wal_segment_size", json_integer(3 * 1024 * 1024), "power of two");
	refused("wal_segment_size", json_integer(1024), "info.wal_segment_size");
	refused("data_directory_mode", json_string("0777"), "info.data_directory_mode");
	refused("options", json_string("x"), "info.options");
	refused("options", json_pack("{s:i}", "compress", 1), "info.options.compress");
	refused("incremental_of", json_string("../other"), "info.incremental_of");
	refused("slot", json_integer(1), "info.slot");
	refused("tablespaces", json_object(), "info.tablespaces");
	refused("tablespaces", json_pack("[{s:s, s:s}]", "oid", "../1", "location", "/x"),
		"info.tablespaces[0].oid");
	refused("tablespaces", json_pack("[{s:s}]", "oid", "1"), "info.tablespaces[0].location");
	refused("tablespaces",
		json_pack("[{s:s, s:s}, {s:s, s:s}]", "oid", "1", "location", "/a", "oid", "1",
			  "location", "/b"),
		"appears twice");
	refused("start_lsn", NULL, "info.start_lsn");
	refused("stop_lsn", json_string("1/G"), "info.stop_lsn must be an LSN");
	refused("stop_lsn", json_string("0/1"), "before info.start_lsn");
	refused("timeline", json_integer(0), "info.timeline");
	refused("stop_timeline", json_string("2"), "info.stop_timeline");
	refused("wal_start_segment", json_string("00000002000000010000000"), "info.wal_start_segment");
	refused("wal_stop_segment", json_string("00000002.history"), "info.wal_stop_segment");
	refused("stop_time_us", NULL, "info.stop_time_us");
	refused("stop_time", json_true(), "info.stop_time");

	pg_base_info i;
	bderr err;
	bderr_init(&err);
	json_t *arr = json_array();
	assert_int_equal(pg_base_info_parse(arr, &i, &err), -1);
	assert_non_null(strstr(err.msg, "info must be an object"));
	json_decref(arr);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_old_manifest),
		cmocka_unit_test(test_malformed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
