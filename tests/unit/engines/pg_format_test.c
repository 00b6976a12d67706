/*
 * The PostgreSQL dump format contract (engines/pg/pg_format.h): what the
 * writer produces the reader takes back unchanged, old manifests still
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
#include "engines/pg/pg_format.h"
#include "tests/unit/testutil.h"

static const char props_text[] =
	"{\"owner\": \"o\", \"connection_limit\": -1, \"collate\": \"C\", \"ctype\": \"C\","
	" \"locale_provider\": \"libc\", \"locale\": null, \"icu_rules\": null, \"comment\": null,"
	" \"acl\": null, \"settings\": [], \"role_settings\": []}";

/* A dump of two tables (one in two chunks), a sequence, large objects and properties. */
static void sample(pg_dump_info *i)
{
	memset(i, 0, sizeof *i);
	i->database = xstrdup("app");
	i->encoding = xstrdup("UTF8");
	i->snapshot = xstrdup("00000003-0000001B-1");
	i->pg_dump_version = xstrdup("17.2");
	i->server_version_num = 170002;
	i->pre_data = pg_schema_object("pre-data", 1);
	i->post_data = pg_schema_object("post-data", 1);
	i->n_tables = 2;
	i->tables = xcalloc(3, sizeof *i->tables);
	for (size_t k = 0; k < 2; k++) {
		pg_dump_table *t = &i->tables[k];
		t->oid = xasprintf("%zu", 16384 + k);
		t->schema = xstrdup("public");
		t->name = xasprintf("t%zu", k);
		t->n_columns = k;
		t->columns = xcalloc(2, sizeof *t->columns);
		if (k)
			t->columns[0] = xstrdup("id");
		t->n_chunks = k + 1;
		t->chunks = xcalloc(3, sizeof *t->chunks);
		for (size_t c = 0; c <= k; c++)
			t->chunks[c] = pg_chunk_object(t->oid, (int)c, 1);
		t->rows = 1000 * (int64_t)k;
		t->bytes = 8192;
		t->binary = (int)k; /* t1's chunks are binary COPY streams */
		if (k) { /* with its column's type, which a restore checks against the target */
			t->types = xcalloc(2, sizeof *t->types);
			t->types[t->n_types++] = xstrdup("bigint");
		}
	}
	i->n_sequences = 1;
	i->sequences = xcalloc(1, sizeof *i->sequences);
	i->sequences[0].schema = xstrdup("public");
	i->sequences[0].name = xstrdup("s");
	i->sequences[0].last_value = xstrdup("-42");
	i->sequences[0].is_called = 1;
	i->large_objects = xstrdup(pg_large_objects_object(1));
	i->large_objects_count = 3;
	json_error_t je;
	i->database_properties = json_loads(props_text, 0, &je);
	assert_non_null(i->database_properties);
	i->options.jobs = 4;
	i->options.compress = xstrdup("zstd:3");
	i->options.chunk_size = 1 << 20;
	i->digest = digest_set_new();
	digest_sum sum = { 1000, 0xfedcba9876543210ULL };
	digest_set_add_table(i->digest, "public", "t1", &sum)->binary = 1;
	digest_set_add_object(i->digest, "table", "public.t1");
	digest_set_add_sequence(i->digest, "public", "s", "-42");
}

static void test_round_trip(void **state)
{
	(void)state;
	pg_dump_info a, b;
	sample(&a);
	json_t *ja = json_object();
	pg_dump_info_to_json(&a, ja);
	/* through text, as the manifest stores it */
	char *text = json_dumps(ja, JSON_COMPACT);
	json_error_t je;
	json_t *loaded = json_loads(text, 0, &je);
	bderr err;
	bderr_init(&err);
	assert_int_equal(pg_dump_info_parse(loaded, &b, &err), 0);
	assert_string_equal(b.encoding, "UTF8");
	assert_string_equal(b.pre_data, "schema/pre-data.sql.zst");
	assert_string_equal(b.post_data, "schema/post-data.sql.zst");
	assert_int_equal(b.n_tables, 2);
	assert_int_equal(b.tables[0].n_columns, 0);
	assert_string_equal(b.tables[1].columns[0], "id");
	assert_int_equal(b.tables[1].n_chunks, 2);
	assert_string_equal(b.tables[1].chunks[1], "data/16385.1.copy.zst");
	assert_int_equal(b.tables[1].rows, 1000);
	assert_int_equal(b.tables[0].binary, 0);
	assert_int_equal(b.tables[1].binary, 1);
	assert_int_equal(b.tables[0].n_types, 0);
	assert_int_equal(b.tables[1].n_types, 1);
	assert_string_equal(b.tables[1].types[0], "bigint");
	assert_true(b.digest->tables[0].binary);
	/* text is written as no "format" at all, as before binary COPY */
	assert_null(json_object_get(json_array_get(json_object_get(ja, "tables"), 0), "format"));
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(json_object_get(ja, "tables"), 1), "format")),
			    "binary");
	assert_string_equal(b.sequences[0].last_value, "-42");
	assert_true(b.sequences[0].is_called);
	assert_string_equal(b.large_objects, "large-objects.zst");
	assert_int_equal(b.large_objects_count, 3);
	assert_non_null(b.props);
	assert_string_equal(b.props->owner, "o");
	assert_int_equal(b.options.jobs, 4);
	assert_int_equal(b.options.chunk_size, 1 << 20);
	assert_non_null(b.digest);
	assert_int_equal(b.digest->n_tables, 1);
	assert_true(b.digest->tables[0].checksum == 0xfedcba9876543210ULL);
	/* and back: the same JSON */
	json_t *jb = json_object();
	pg_dump_info_to_json(&b, jb);
	assert_true(json_equal(ja, jb));
	json_decref(jb);
	json_decref(loaded);
	json_decref(ja);
	free(text);
	pg_dump_info_clear(&a);
	pg_dump_info_clear(&b);
}

/* What dumps wrote before database_properties, large objects and options were recorded. */
static void test_old_manifest(void **state)
{
	(void)state;
	const char *old = "{\"database\": \"app\", \"encoding\": \"SQL_ASCII\","
			  " \"schema\": {\"pre-data\": \"schema/pre-data.sql\", \"post-data\": \"schema/post-data.sql\"},"
			  " \"sequences\": [], \"tables\": [{\"oid\": \"1\", \"schema\": \"s\", \"name\": \"t\","
			  " \"columns\": [\"a\"], \"chunks\": [\"data/1.0.copy\"], \"rows\": 2, \"bytes\": 3}]}";
	json_error_t je;
	json_t *v = json_loads(old, 0, &je);
	pg_dump_info i;
	bderr err;
	bderr_init(&err);
	assert_int_equal(pg_dump_info_parse(v, &i, &err), 0);
	assert_null(i.props);
	assert_null(i.large_objects);
	assert_null(i.digest);
	assert_int_equal(i.n_tables, 1);
	assert_int_equal(i.tables[0].binary, 0); /* no "format": COPY text */
	assert_int_equal(i.n_sequences, 0);
	pg_dump_info_clear(&i);
	json_decref(v);
}

/* Replaces one part of a valid info and expects the error to name it. */
/* A valid info, to damage. */
static json_t *build(void)
{
	pg_dump_info a;
	sample(&a);
	json_t *j = json_object();
	pg_dump_info_to_json(&a, j);
	pg_dump_info_clear(&a);
	return j;
}

static int parse(const json_t *info, bderr *err)
{
	pg_dump_info i;
	int rc = pg_dump_info_parse(info, &i, err);
	if (rc == 0)
		pg_dump_info_clear(&i);
	return rc;
}

static void expect_rejected(const char *path, json_t *value, const char *message)
{
	test_expect_info_rejected(build, parse, path, value, message);
}

static void test_malformed(void **state)
{
	(void)state;
	expect_rejected("encoding", NULL, "info.encoding is missing");
	expect_rejected("encoding", json_integer(6), "info.encoding must be a string");
	expect_rejected("schema", json_string("x"), "info.schema must be an object");
	expect_rejected("schema.post-data", NULL, "info.schema.post-data is missing");
	expect_rejected("tables", json_object(), "info.tables must be an array");
	expect_rejected("tables[1].chunks", json_pack("[s, n]", "data/x"), "info.tables[1].chunks[1] must be a string");
	expect_rejected("tables[0].name", NULL, "info.tables[0].name is missing");
	expect_rejected("tables[0].columns", json_string("id"), "info.tables[0].columns must be an array");
	expect_rejected("tables[1].rows", json_integer(-1), "info.tables[1].rows must be an integer");
	expect_rejected("sequences[0].last_value", json_string("1); DROP TABLE t; --"),
			"info.sequences[0].last_value must be an integer");
	expect_rejected("sequences[0].is_called", json_string("yes"), "info.sequences[0].is_called must be true or false");
	expect_rejected("large_objects.object", NULL, "info.large_objects.object is missing");
	expect_rejected("options.jobs", json_string("4"), "info.options.jobs must be an integer");
	expect_rejected("database_properties.locale_provider", json_string("other"),
			"database_properties.locale_provider must be libc, icu or builtin");
	expect_rejected("digest.tables[0].checksum", json_string("xyz"),
			"invalid manifest: info.digest.tables[0].checksum must be 16 lower-case hex digits");
	expect_rejected("digest.sequences", NULL, "info.digest.sequences is missing");
	expect_rejected("tables[1].format", json_string("csv"),
			"info.tables[1].format must be \"text\" or \"binary\"");
	expect_rejected("tables[1].types", json_pack("[s, s]", "bigint", "text"),
			"info.tables[1].types has 2 entries for 1 columns");
	expect_rejected("tables[1].types", json_pack("[i]", 20), "info.tables[1].types[0] must be a string");
	expect_rejected("digest.tables[0].format", json_integer(1),
			"info.digest.tables[0].format must be a string");

	json_t *notobj = json_array();
	pg_dump_info i;
	bderr err;
	bderr_init(&err);
	assert_int_equal(pg_dump_info_parse(notobj, &i, &err), -1);
	assert_non_null(strstr(err.msg, "info must be an object"));
	json_decref(notobj);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_old_manifest),
		cmocka_unit_test(test_malformed),
	};
	return cmocka_run_group_tests_name("pg_format", tests, NULL, NULL);
}
