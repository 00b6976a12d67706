/*
 * The MySQL dump format contract (engines/mysql/mysql_format.h): what the
 * writer produces the reader takes back unchanged, older manifests still
 * parse, and every malformed field is refused with its path.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "engines/mysql/mysql_format.h"
#include "tests/unit/testutil.h"

/* Two databases; a table with two chunks, one with none (schema only). */
static void sample(my_dump_info *i)
{
	memset(i, 0, sizeof *i);
	i->server_version = xstrdup("11.4.2-MariaDB");
	i->flavor = xstrdup("mariadb");
	i->consistency = xstrdup("ftwrl");
	i->sql_mode = xstrdup(MY_SESSION_SQL_MODE);
	i->server_sql_mode = xstrdup("STRICT_TRANS_TABLES");
	i->time_zone = xstrdup(MY_SESSION_TIME_ZONE);
	i->binlog = json_pack("{s:s, s:I}", "file", "bin.000002", "position", (json_int_t)1234);
	i->gtid_executed = json_string("0-1-77");
	i->n_dbs = 2;
	i->dbs = xcalloc(2, sizeof *i->dbs);
	for (size_t d = 0; d < 2; d++) {
		my_dump_db *db = &i->dbs[d];
		db->name = xasprintf("db%zu", d);
		db->charset = xstrdup("utf8mb4");
		db->collation = xstrdup("utf8mb4_general_ci");
		db->views = json_pack("[s]", "v");
		db->n_tables = 2;
		db->tables = xcalloc(2, sizeof *db->tables);
		for (size_t k = 0; k < 2; k++) {
			my_dump_table *t = &db->tables[k];
			t->name = xasprintf("t%zu", k);
			t->engine = xstrdup(k ? "BLACKHOLE" : "InnoDB");
			t->n_columns = t->n_types = 2;
			t->columns = xcalloc(3, sizeof *t->columns);
			t->types = xcalloc(3, sizeof *t->types);
			t->columns[0] = xstrdup("id");
			t->types[0] = xstrdup("int");
			t->columns[1] = xstrdup("g");
			t->types[1] = xstrdup("point");
			t->has_auto_increment = k == 0;
			t->auto_increment = 31;
			t->n_chunks = k ? 0 : 2;
			t->chunks = xcalloc(3, sizeof *t->chunks);
			for (size_t c = 0; c < t->n_chunks; c++)
				t->chunks[c] = my_chunk_object(db->name, t->name, (int)c, 1);
			t->rows = k ? 0 : 500;
		}
	}
	i->options.jobs = 2;
	i->options.compress = xstrdup("zstd:1");
	i->options.chunk_size = 16384;
	i->options.consistency = xstrdup("ftwrl");
}

static void test_round_trip(void **state)
{
	(void)state;
	my_dump_info a, b;
	sample(&a);
	json_t *ja = json_object();
	my_dump_info_to_json(&a, ja);
	char *text = json_dumps(ja, JSON_COMPACT);
	json_error_t je;
	json_t *loaded = json_loads(text, 0, &je);
	bderr err;
	bderr_init(&err);
	assert_int_equal(my_dump_info_parse(loaded, &b, &err), 0);
	assert_string_equal(b.flavor, "mariadb");
	assert_string_equal(b.sql_mode, "NO_AUTO_VALUE_ON_ZERO");
	assert_string_equal(b.time_zone, "+00:00");
	assert_int_equal(b.n_dbs, 2);
	assert_string_equal(b.dbs[1].name, "db1");
	assert_int_equal(b.dbs[0].n_tables, 2);
	assert_string_equal(b.dbs[0].tables[0].types[1], "point");
	assert_true(b.dbs[0].tables[0].has_auto_increment);
	assert_int_equal(b.dbs[0].tables[0].auto_increment, 31);
	assert_false(b.dbs[0].tables[1].has_auto_increment);
	assert_int_equal(b.dbs[0].tables[0].n_chunks, 2);
	assert_string_equal(b.dbs[1].tables[0].chunks[1], "db1/data/t0.00001.tsv.zst");
	assert_int_equal(b.dbs[0].tables[1].n_chunks, 0);
	assert_int_equal(b.options.chunk_size, 16384);
	json_t *jb = json_object();
	my_dump_info_to_json(&b, jb);
	assert_true(json_equal(ja, jb));
	json_decref(jb);
	json_decref(loaded);
	json_decref(ja);
	free(text);
	my_dump_info_clear(&a);
	my_dump_info_clear(&b);
}

/* The oldest dumps: no sql_mode (the default applies), no column types, no options. */
static void test_old_manifest(void **state)
{
	(void)state;
	const char *old = "{\"flavor\": \"mysql\", \"binlog\": null, \"databases\": [{\"name\": \"shop\","
			  " \"charset\": \"utf8mb4\", \"collation\": null, \"tables\": [{\"name\": \"t\","
			  " \"columns\": [\"a\"], \"chunks\": [\"shop/data/t.00000.tsv\"]}]}]}";
	json_error_t je;
	json_t *v = json_loads(old, 0, &je);
	assert_non_null(v);
	my_dump_info i;
	bderr err;
	bderr_init(&err);
	if (my_dump_info_parse(v, &i, &err) != 0)
		fail_msg("%s", err.msg);
	assert_string_equal(i.sql_mode, MY_SESSION_SQL_MODE);
	assert_null(i.binlog);
	assert_null(i.dbs[0].collation);
	assert_null(i.dbs[0].tables[0].types);
	my_dump_info_clear(&i);
	json_decref(v);
}

/* A valid info, to damage. */
static json_t *build(void)
{
	my_dump_info a;
	sample(&a);
	json_t *j = json_object();
	my_dump_info_to_json(&a, j);
	my_dump_info_clear(&a);
	return j;
}

static int parse(const json_t *info, bderr *err)
{
	my_dump_info i;
	int rc = my_dump_info_parse(info, &i, err);
	if (rc == 0)
		my_dump_info_clear(&i);
	return rc;
}

static void expect_rejected(const char *path, json_t *value, const char *message)
{
	test_expect_info_rejected(build, parse, path, value, message);
}

static void test_malformed(void **state)
{
	(void)state;
	expect_rejected("databases", NULL, "info.databases is missing");
	expect_rejected("databases", json_array(), "info.databases lists no database");
	expect_rejected("databases", json_string("db"), "info.databases must be an array");
	expect_rejected("databases[1].name", json_string(""), "info.databases[1].name is empty");
	expect_rejected("databases[0].tables", NULL, "info.databases[0].tables is missing");
	expect_rejected("databases[0].tables[0].chunks", json_pack("[i]", 3),
			"info.databases[0].tables[0].chunks[0] must be a string");
	expect_rejected("databases[0].tables[1].column_types", json_pack("[s]", "int"),
			"info.databases[0].tables[1].column_types has 1 entries for 2 columns");
	expect_rejected("databases[0].tables[0].auto_increment", json_string("31"),
			"info.databases[0].tables[0].auto_increment must be an integer");
	expect_rejected("databases[1].views", json_object(), "info.databases[1].views must be an array");
	expect_rejected("sql_mode", json_integer(0), "info.sql_mode must be a string");
	expect_rejected("options.chunk_size", json_integer(-5), "info.options.chunk_size must be an integer");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_old_manifest),
		cmocka_unit_test(test_malformed),
	};
	return cmocka_run_group_tests_name("mysql_format", tests, NULL, NULL);
}
