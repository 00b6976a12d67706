#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "archive/manifest.h"
#include "common/mem.h"
#include "common/version.h"

#define SHA_A "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SHA_B "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

static manifest *sample(void)
{
	manifest *m = manifest_new();
	object_meta a = { 0, 13, SHA_A, 0 };
	object_meta b = { 1000, 120, SHA_B, 1 };
	m->id = xstrdup("20261121T101324Z");
	m->name = xstrdup("app");
	m->engine = xstrdup("postgresql");
	m->kind = xstrdup("dump");
	m->server_version = xstrdup("17.2");
	assert_int_equal(parse_rfc3339("2026-11-21T10:13:24Z", &m->started), 0);
	assert_int_equal(parse_rfc3339("2026-11-21T10:20:00Z", &m->finished), 0);
	json_object_set_new(m->info, "snapshot", json_string("00000003-0000001B-1"));
	manifest_add_object(m, "schema/pre-data.sql", &a, 0, -1);
	manifest_add_object(m, "data/16384.0.copy.zst", &b, 1, 42);
	return m;
}

static void test_round_trip(void **state)
{
	char *json, *again;
	manifest *m = sample(), *p;
	bderr err;
	(void)state;
	bderr_init(&err);
	assert_int_equal(manifest_total_size(m), 1000);
	assert_int_equal(manifest_total_stored_size(m), 133);
	assert_int_equal(manifest_to_json(m, &json, &err), 0);
	assert_int_equal(manifest_parse(json, strlen(json), &p, &err), 0);
	assert_int_equal(p->format, MANIFEST_FORMAT);
	assert_string_equal(p->id, "20261121T101324Z");
	assert_string_equal(p->name, "app");
	assert_string_equal(p->engine, "postgresql");
	assert_string_equal(p->kind, "dump");
	assert_string_equal(p->server_version, "17.2");
	assert_string_equal(p->tool_version, "backupd " BACKUPD_VERSION);
	assert_int_equal(p->started, m->started);
	assert_int_equal(p->finished, m->finished);
	assert_string_equal(json_string_value(json_object_get(p->info, "snapshot")), "00000003-0000001B-1");
	assert_int_equal(p->n_objects, 2);
	const manifest_object *o = manifest_find_object(p, "data/16384.0.copy.zst");
	assert_non_null(o);
	assert_int_equal(o->meta.size, 1000);
	assert_int_equal(o->meta.stored_size, 120);
	assert_string_equal(o->meta.sha256, SHA_B);
	assert_true(o->meta.sha256_stored);
	assert_true(o->compressed);
	assert_int_equal(o->rows, 42);
	o = manifest_find_object(p, "schema/pre-data.sql");
	assert_non_null(o);
	assert_false(o->meta.sha256_stored);
	assert_false(o->compressed);
	assert_int_equal(o->rows, -1);
	assert_null(manifest_find_object(p, "nope"));
	/* serialising again gives the same text */
	assert_int_equal(manifest_to_json(p, &again, &err), 0);
	assert_string_equal(json, again);

	/* the documented layout, which other tools may read */
	json_t *j = json_loads(json, 0, NULL);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "started")), "2026-11-21T10:13:24Z");
	assert_int_equal(json_integer_value(json_object_get(j, "size")), 1000);
	assert_int_equal(json_integer_value(json_object_get(j, "stored_size")), 133);
	json_t *objs = json_object_get(j, "objects");
	assert_null(json_object_get(json_array_get(objs, 0), "rows"));
	assert_int_equal(json_integer_value(json_object_get(json_array_get(objs, 1), "rows")), 42);
	json_decref(j);

	free(json);
	free(again);
	manifest_free(m);
	manifest_free(p);
}

static void test_empty_manifest(void **state)
{
	char *json;
	manifest *m = manifest_new(), *p;
	bderr err;
	(void)state;
	bderr_init(&err);
	/* required fields are refused before anything is written */
	assert_int_equal(manifest_to_json(m, &json, &err), -1);
	assert_non_null(strstr(err.msg, "'id' is not set"));
	m->id = xstrdup("x");
	m->name = xstrdup("n");
	m->engine = xstrdup("mysql");
	m->kind = xstrdup("dump");
	assert_int_equal(manifest_to_json(m, &json, &err), 0);
	assert_int_equal(manifest_parse(json, strlen(json), &p, &err), 0);
	assert_int_equal(p->n_objects, 0);
	assert_non_null(p->info);
	free(json);
	manifest_free(m);
	manifest_free(p);
}

static void test_newer_format_refused(void **state)
{
	static const char newer[] = "{\"format\": 3, \"id\": \"x\", \"whatever\": [1]}";
	manifest *p;
	bderr err;
	(void)state;
	bderr_init(&err);
	assert_int_equal(manifest_parse(newer, strlen(newer), &p, &err), -1);
	assert_null(p);
	assert_string_equal(err.msg,
			    "manifest format 3 is newer than this backupd supports (2): upgrade backupd");
}

static void expect_invalid(const char *json, const char *fragment)
{
	manifest *p = (manifest *)1;
	bderr err;
	bderr_init(&err);
	if (manifest_parse(json, strlen(json), &p, &err) == 0)
		fail_msg("accepted: %s", json);
	assert_null(p);
	if (strstr(err.msg, fragment) == NULL)
		fail_msg("message '%s' lacks '%s'", err.msg, fragment);
}

#define HEAD "{\"format\":1,\"id\":\"i\",\"name\":\"n\",\"engine\":\"postgresql\",\"kind\":\"dump\"," \
	     "\"started\":\"2026-11-21T10:13:24Z\",\"finished\":\"2026-11-21T10:13:25Z\","
#define HEAD_T(started) "{\"format\":1,\"id\":\"i\",\"name\":\"n\",\"engine\":\"postgresql\"," \
	     "\"kind\":\"dump\",\"started\":\"" started "\",\"finished\":\"2026-11-21T10:13:25Z\","
#define OBJ(fields) HEAD "\"objects\":[{" fields "}]}"
#define GOOD_OBJ "\"name\":\"a\",\"size\":1,\"stored_size\":2,\"sha256\":\"" SHA_A "\",\"compressed\":true"

static void test_bad_input(void **state)
{
	(void)state;
	expect_invalid("", "invalid manifest");
	expect_invalid("{", "invalid manifest");
	expect_invalid("[1,2]", "not a JSON object");
	expect_invalid("{\"format\":\"1\"}", "'format'");
	expect_invalid("{\"format\":0}", "'format'");
	expect_invalid("{\"format\":1}", "'id' is missing");
	expect_invalid("{\"format\":1,\"id\":5}", "'id' must be a string");
	expect_invalid(HEAD "\"objects\":{}}", "'objects' must be an array");
	expect_invalid(HEAD "\"info\":[],\"objects\":[]}", "'info' must be an object");
	expect_invalid("{\"format\":1,\"id\":\"i\",\"name\":\"n\",\"engine\":\"e\",\"kind\":\"k\","
		       "\"started\":\"yesterday\"}",
		       "'started' must be an RFC 3339 time");
	expect_invalid(HEAD "\"extra\":0}", "'objects' is missing");
	expect_invalid(HEAD "\"objects\":[1]}", "objects[0]. must be an object");
	expect_invalid(OBJ("\"name\":\"../etc/passwd\",\"size\":1,\"stored_size\":2,\"sha256\":\"" SHA_A
			   "\",\"compressed\":true"),
		       "'name' must be a relative path");
	expect_invalid(OBJ("\"name\":\"/abs\",\"size\":1,\"stored_size\":2,\"sha256\":\"" SHA_A
			   "\",\"compressed\":true"),
		       "'name' must be a relative path");
	expect_invalid(OBJ("\"name\":\"a\",\"size\":-1,\"stored_size\":2,\"sha256\":\"" SHA_A
			   "\",\"compressed\":true"),
		       "objects[0].'size' must be a non-negative integer");
	expect_invalid(OBJ("\"name\":\"a\",\"size\":1.5,\"stored_size\":2,\"sha256\":\"" SHA_A
			   "\",\"compressed\":true"),
		       "'size'");
	expect_invalid(OBJ("\"name\":\"a\",\"size\":1,\"sha256\":\"" SHA_A "\",\"compressed\":true"),
		       "'stored_size' is missing");
	expect_invalid(OBJ("\"name\":\"a\",\"size\":1,\"stored_size\":2,\"sha256\":\"ABC\",\"compressed\":true"),
		       "'sha256'");
	expect_invalid(OBJ("\"name\":\"a\",\"size\":1,\"stored_size\":2,\"sha256\":\"" SHA_A
			   "\",\"compressed\":1"),
		       "'compressed'");
	expect_invalid(OBJ(GOOD_OBJ ",\"rows\":\"7\""), "'rows'");
	expect_invalid(OBJ(GOOD_OBJ ",\"sha256_of\":\"compressed\""), "'sha256_of' must be");
	expect_invalid(OBJ(GOOD_OBJ ",\"sha256_of\":true"), "'sha256_of' must be");
	expect_invalid(HEAD "\"objects\":[], \"objects\":[]}", "duplicate");

	/* the good object really is good */
	manifest *p;
	bderr err;
	bderr_init(&err);
	const char *ok = OBJ(GOOD_OBJ);
	assert_int_equal(manifest_parse(ok, strlen(ok), &p, &err), 0);
	assert_int_equal(p->objects[0].meta.stored_size, 2);
	manifest_free(p);
}

static void test_rfc3339(void **state)
{
	char buf[32];
	time_t t;
	(void)state;
	format_rfc3339(0, buf, sizeof buf);
	assert_string_equal(buf, "1970-01-01T00:00:00Z");
	assert_int_equal(parse_rfc3339("2026-11-21T10:13:24Z", &t), 0);
	assert_int_equal(t, 1795256004);
	format_rfc3339(t, buf, sizeof buf);
	assert_string_equal(buf, "2026-11-21T10:13:24Z");
	assert_int_equal(parse_rfc3339("2026-11-21T11:13:24.123+01:00", &t), 0);
	assert_int_equal(t, 1795256004);
	assert_int_equal(parse_rfc3339("2026-11-21 09:43:24-00:30", &t), 0);
	assert_int_equal(t, 1795256004);
	assert_int_equal(parse_rfc3339("2024-02-29T00:00:00Z", &t), 0);
	assert_int_equal(parse_rfc3339("1970-01-01T00:00:00Z", &t), 0);
	assert_int_equal(t, 0);
	assert_int_equal(parse_rfc3339("1969-12-31T23:59:59Z", &t), 0);
	assert_int_equal(t, -1);

	static const char *const bad[] = { "", "2026-11-21", "2026-11-21T10:13:24", "2026-13-01T00:00:00Z",
					   "2026-02-29T00:00:00Z", "2026-04-31T00:00:00Z",
					   "2026-11-21T24:00:00Z", "2026-11-21T10:13:24Zjunk",
					   "2026-11-21T10:13:24.Z", "26-11-21T10:13:24Z", "2026-11-21T10:13:24+1:00" };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		if (parse_rfc3339(bad[i], &t) == 0)
			fail_msg("accepted '%s'", bad[i]);
}

/* Every time the parser accepts is written back as text it accepts again, to the second. */
static void test_time_round_trip(void **state)
{
	(void)state;
	static const char *const in[] = { "0999-01-01T00:00:00Z", "0000-01-01T00:00:00Z",
					   "0001-03-01T12:00:00+01:00", "9999-12-31T23:59:59Z",
					   "1969-12-31T23:59:59Z", "2026-11-21T10:13:24Z" };
	static const char *const out[] = { "0999-01-01T00:00:00Z", "0000-01-01T00:00:00Z",
					    "0001-03-01T11:00:00Z", "9999-12-31T23:59:59Z",
					    "1969-12-31T23:59:59Z", "2026-11-21T10:13:24Z" };
	for (size_t i = 0; i < sizeof in / sizeof *in; i++) {
		time_t t, again;
		char buf[32];
		if (parse_rfc3339(in[i], &t) != 0)
			fail_msg("refused '%s'", in[i]);
		format_rfc3339(t, buf, sizeof buf);
		assert_string_equal(buf, out[i]);
		assert_int_equal(parse_rfc3339(buf, &again), 0);
		assert_int_equal(again, t);
	}
	/* an offset that carries the instant outside years 0000-9999 cannot be written back */
	time_t t;
	assert_int_equal(parse_rfc3339("0000-01-01T00:30:00+01:00", &t), -1);
	assert_int_equal(parse_rfc3339("9999-12-31T23:59:59-01:00", &t), -1);

	/* through a whole manifest: parse, write, parse */
	const char *json = "{\"format\":1,\"id\":\"i\",\"name\":\"n\",\"engine\":\"postgresql\","
			   "\"kind\":\"dump\",\"started\":\"0999-01-01T00:00:00Z\","
			   "\"finished\":\"0999-01-01T00:00:01Z\",\"objects\":[]}";
	manifest *p, *q;
	char *text;
	bderr err;
	bderr_init(&err);
	assert_int_equal(manifest_parse(json, strlen(json), &p, &err), 0);
	assert_int_equal(manifest_to_json(p, &text, &err), 0);
	assert_non_null(strstr(text, "\"0999-01-01T00:00:00Z\""));
	if (manifest_parse(text, strlen(text), &q, &err) != 0)
		fail_msg("written manifest does not parse: %s", err.msg);
	assert_int_equal(q->started, p->started);
	assert_int_equal(q->finished, p->finished);
	free(text);
	manifest_free(p);
	manifest_free(q);
	expect_invalid(HEAD_T("0000-01-01T00:30:00+01:00") "\"objects\":[]}",
		       "'started' must be an RFC 3339 time between years 0000 and 9999");
}

/* Sizes are unsigned 64-bit in memory, but JSON integers stop at 2^63-1: so do totals. */
static void test_size_bounds(void **state)
{
	(void)state;
	/* one object at the limit is fine */
	const char *max = OBJ("\"name\":\"a\",\"size\":9223372036854775807,\"stored_size\":1,"
			      "\"sha256\":\"" SHA_A "\",\"compressed\":true");
	manifest *p;
	char *text;
	bderr err;
	bderr_init(&err);
	assert_int_equal(manifest_parse(max, strlen(max), &p, &err), 0);
	assert_true(manifest_total_size(p) == 9223372036854775807ULL);
	assert_int_equal(manifest_to_json(p, &text, &err), 0);
	assert_non_null(strstr(text, "\"size\": 9223372036854775807"));
	free(text);
	manifest_free(p);
	/* two such objects overflow the total that list --json prints */
	expect_invalid(HEAD "\"objects\":[{\"name\":\"a\",\"size\":9223372036854775807,\"stored_size\":1,"
			    "\"sha256\":\"" SHA_A "\",\"compressed\":true},"
			    "{\"name\":\"b\",\"size\":9223372036854775807,\"stored_size\":1,"
			    "\"sha256\":\"" SHA_A "\",\"compressed\":true}]}",
		       "total 'size' of the objects exceeds 9223372036854775807 bytes");
	expect_invalid(HEAD "\"objects\":[{\"name\":\"a\",\"size\":1,\"stored_size\":9223372036854775807,"
			    "\"sha256\":\"" SHA_A "\",\"compressed\":true},"
			    "{\"name\":\"b\",\"size\":1,\"stored_size\":5,"
			    "\"sha256\":\"" SHA_A "\",\"compressed\":true}]}",
		       "total 'stored_size' of the objects exceeds");
	expect_invalid(OBJ("\"name\":\"a\",\"size\":18446744073709551615,\"stored_size\":1,"
			   "\"sha256\":\"" SHA_A "\",\"compressed\":true"),
		       "invalid manifest");
	/* and the writer never turns a size into a negative number */
	manifest *m = sample();
	object_meta huge = { UINT64_MAX - 3, 1, SHA_A, 0 };
	manifest_add_object(m, "huge", &huge, 0, -1);
	assert_int_equal(manifest_to_json(m, &text, &err), -1);
	assert_non_null(strstr(err.msg, "size"));
	manifest_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_empty_manifest),
		cmocka_unit_test(test_newer_format_refused),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_rfc3339),
		cmocka_unit_test(test_time_round_trip),
		cmocka_unit_test(test_size_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
