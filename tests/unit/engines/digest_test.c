/*
 * Digests (engines/digest.h): the checksum does not depend on the order of
 * the rows or how they were split in chunks, the JSON form round-trips and
 * refuses malformed input naming the field, and a comparison names every
 * kind of difference.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engines/digest.h"

static const char *rows[] = { "1\tone\n", "2\ttwo\n", "3\t\\N\n", "4\tfour\twith\\ttab\n" };
#define N_ROWS (sizeof rows / sizeof *rows)

static digest_sum sum_of(const size_t *order, size_t n)
{
	digest_sum s = { 0, 0 };
	for (size_t i = 0; i < n; i++)
		digest_sum_add(&s, rows[order[i]], strlen(rows[order[i]]));
	return s;
}

static void test_order_independent(void **state)
{
	(void)state;
	size_t fwd[] = { 0, 1, 2, 3 }, rev[] = { 3, 2, 1, 0 };
	digest_sum a = sum_of(fwd, 4), b = sum_of(rev, 4);
	assert_int_equal(a.rows, 4);
	assert_int_equal(a.rows, b.rows);
	assert_true(a.checksum == b.checksum);
	/* two chunks merged give the same as one pass */
	size_t c1[] = { 2, 0 }, c2[] = { 3, 1 };
	digest_sum x = sum_of(c1, 2), y = sum_of(c2, 2);
	digest_sum_merge(&x, &y);
	assert_int_equal(x.rows, 4);
	assert_true(x.checksum == a.checksum);
	/* one changed byte changes it */
	digest_sum d = { 0, 0 };
	digest_sum_add(&d, "1\tone\n", 6);
	digest_sum_add(&d, "2\ttwo\n", 6);
	digest_sum_add(&d, "3\t\\N\n", 5);
	digest_sum_add(&d, "4\tfour\twith\\ttaB\n", 17);
	assert_true(d.checksum != a.checksum);
	/* duplicate rows count: {r, r} is not {r} */
	digest_sum e = { 0, 0 }, f = { 0, 0 };
	digest_sum_add(&e, rows[0], strlen(rows[0]));
	digest_sum_add(&f, rows[0], strlen(rows[0]));
	digest_sum_add(&f, rows[0], strlen(rows[0]));
	assert_true(e.checksum != f.checksum);
}

static digest_set *sample(void)
{
	digest_set *d = digest_set_new();
	size_t all[] = { 0, 1, 2, 3 };
	digest_sum s = sum_of(all, N_ROWS), none = { 0, 0 };
	digest_set_add_table(d, "public", "t", &s);
	digest_set_add_table(d, "app", "empty", &none);
	digest_set_add_object(d, "index", "public.t_idx");
	digest_set_add_object(d, "index", "app.e_pkey");
	digest_set_add_object(d, "table", "public.t");
	digest_set_add_object(d, "table", "app.empty");
	digest_set_add_object(d, "large object", NULL);
	digest_set_add_object(d, "large object", NULL);
	digest_set_add_sequence(d, "public", "s", "42");
	digest_set_sort(d);
	return d;
}

static void test_json_round_trip(void **state)
{
	(void)state;
	digest_set *d = sample();
	json_t *j = digest_set_to_json(d);
	digest_set *back = NULL;
	bderr err;
	bderr_init(&err);
	assert_int_equal(digest_set_parse(j, "info.digest", &back, &err), 0);
	assert_int_equal(back->n_tables, 2);
	assert_string_equal(back->tables[0].schema, "app"); /* sorted */
	assert_int_equal(back->n_kinds, 3);
	assert_int_equal(back->n_sequences, 1);
	assert_int_equal(digest_compare(d, back, DIGEST_COMPARE_EXTRA, &err), 0);
	json_t *j2 = digest_set_to_json(back);
	assert_true(json_equal(j, j2));
	/* the checksum is 16 hex digits, whatever its value */
	const char *hex = json_string_value(json_object_get(json_array_get(json_object_get(j, "tables"), 1), "checksum"));
	assert_int_equal(strlen(hex), 16);
	json_decref(j);
	json_decref(j2);
	digest_set_free(d);
	digest_set_free(back);
}

static void expect_rejected(const char *text, const char *message)
{
	json_error_t je;
	json_t *j = json_loads(text, 0, &je);
	assert_non_null(j);
	digest_set *d = (digest_set *)1;
	bderr err;
	bderr_init(&err);
	assert_int_equal(digest_set_parse(j, "info.digest", &d, &err), -1);
	assert_null(d);
	if (strstr(err.msg, message) == NULL)
		fail_msg("'%s': error '%s' lacks '%s'", text, err.msg, message);
	json_decref(j);
}

static void test_malformed_rejected(void **state)
{
	(void)state;
	expect_rejected("[]", "info.digest must be an object");
	expect_rejected("{\"objects\": [], \"sequences\": []}", "info.digest.tables is missing");
	expect_rejected("{\"tables\": [{\"schema\": \"s\", \"name\": \"t\", \"rows\": 1, \"checksum\": \"12\"}], \"objects\": [], \"sequences\": []}",
			"info.digest.tables[0].checksum must be 16 lower-case hex digits");
	expect_rejected("{\"tables\": [{\"schema\": \"s\", \"name\": \"t\", \"rows\": 1, \"checksum\": \"ABCDEF0123456789\"}], \"objects\": [], \"sequences\": []}",
			"checksum must be 16 lower-case hex digits");
	expect_rejected("{\"tables\": [{\"schema\": \"s\", \"name\": \"t\", \"rows\": -1, \"checksum\": \"0000000000000000\"}], \"objects\": [], \"sequences\": []}",
			"info.digest.tables[0].rows must be an integer");
	expect_rejected("{\"tables\": [{\"schema\": 1, \"name\": \"t\", \"rows\": 1, \"checksum\": \"0000000000000000\"}], \"objects\": [], \"sequences\": []}",
			"info.digest.tables[0].schema must be a string");
	expect_rejected("{\"tables\": [{\"schema\": \"s\", \"name\": \"t\", \"rows\": 1, \"checksum\": \"0000000000000000\"},"
			" {\"schema\": \"s\", \"name\": \"t\", \"rows\": 2, \"checksum\": \"0000000000000001\"}], \"objects\": [], \"sequences\": []}",
			"lists s.t twice");
	expect_rejected("{\"tables\": [], \"objects\": [{\"kind\": \"index\", \"count\": 2, \"names\": [\"a\"]}], \"sequences\": []}",
			"info.digest.objects[0].count is 2 but 1 names are listed");
	expect_rejected("{\"tables\": [], \"objects\": [{\"kind\": \"index\", \"count\": 2, \"names\": [\"a\", \"a\"]}], \"sequences\": []}",
			"lists index a twice");
	expect_rejected("{\"tables\": [], \"objects\": [{\"kind\": \"index\", \"count\": 1, \"names\": [1]}], \"sequences\": []}",
			"info.digest.objects[0].names[0] must be a string");
	expect_rejected("{\"tables\": [], \"objects\": [], \"sequences\": [{\"schema\": \"s\", \"name\": \"q\"}]}",
			"info.digest.sequences[0].value is missing");
	expect_rejected("{\"tables\": [], \"objects\": {}, \"sequences\": []}", "info.digest.objects must be an array");
}

static void test_compare_names_differences(void **state)
{
	(void)state;
	digest_set *e = sample(), *a = sample();
	bderr err;
	bderr_init(&err);
	assert_int_equal(digest_compare(e, a, 0, &err), 0);

	/* public.t: one row more; app.empty: same count, other rows */
	for (size_t i = 0; i < a->n_tables; i++) {
		if (strcmp(a->tables[i].name, "t") == 0)
			a->tables[i].rows++;
		else
			a->tables[i].checksum ^= 1;
	}
	free(a->sequences[0].value);
	a->sequences[0].value = strdup("43 (not called)");
	digest_set_add_object(a, "index", "public.extra_idx");
	digest_set_add_table(a, "public", "extra", NULL);
	digest_set_sort(a);
	/* an index missing on the actual side */
	digest_set *e2 = sample();
	digest_set_add_object(e2, "index", "public.gone_idx");
	digest_set_sort(e2);

	assert_int_equal(digest_compare(e2, a, 0, &err), -1);
	assert_non_null(strstr(err.msg, "4 differences"));
	assert_non_null(strstr(err.msg, "table public.t has 5 rows, expected 4"));
	assert_non_null(strstr(err.msg, "table app.empty: rows differ (same count 0"));
	assert_non_null(strstr(err.msg, "index public.gone_idx is missing"));
	assert_non_null(strstr(err.msg, "sequence public.s is at 43 (not called), expected 42"));
	/* extras are not differences unless asked for */
	assert_null(strstr(err.msg, "extra"));
	bderr_init(&err);
	assert_int_equal(digest_compare(e2, a, DIGEST_COMPARE_EXTRA, &err), -1);
	assert_non_null(strstr(err.msg, "6 differences"));
	assert_non_null(strstr(err.msg, "table public.extra is not in the source"));
	assert_non_null(strstr(err.msg, "index public.extra_idx is not in the source"));

	/*
	 * tables and a sequence missing, large objects short: a missing table
	 * or sequence is named once, though the digest has it twice (its rows,
	 * its value, and among the objects of its kind)
	 */
	digest_set *b = digest_set_new();
	digest_set_add_object(b, "large object", NULL);
	digest_set_sort(b);
	digest_set *e3 = sample();
	digest_set_add_object(e3, "sequence", "public.s");
	digest_set_sort(e3);
	bderr_init(&err);
	assert_int_equal(digest_compare(e3, b, 0, &err), -1);
	/* public.t, app.empty, public.s, 2 indexes, large objects */
	assert_non_null(strstr(err.msg, "6 differences: "));
	const char *once[] = { "table app.empty is missing", "table public.t is missing",
			       "sequence public.s is missing" };
	for (size_t i = 0; i < sizeof once / sizeof *once; i++) {
		const char *at = strstr(err.msg, once[i]);
		if (at == NULL || strstr(at + 1, once[i]) != NULL)
			fail_msg("'%s' is not named once in '%s'", once[i], err.msg);
	}
	assert_non_null(strstr(err.msg, "large object: 1, expected 2"));
	assert_null(strstr(err.msg, "more"));
	/* the other way round, as extras: named once too */
	bderr_init(&err);
	assert_int_equal(digest_compare(b, e3, DIGEST_COMPARE_EXTRA, &err), -1);
	const char *extra[] = { "table app.empty is not in the source",
				"table public.t is not in the source",
				"sequence public.s is not in the source" };
	for (size_t i = 0; i < sizeof extra / sizeof *extra; i++) {
		const char *at = strstr(err.msg, extra[i]);
		if (at == NULL || strstr(at + 1, extra[i]) != NULL)
			fail_msg("'%s' is not named once in '%s'", extra[i], err.msg);
	}
	digest_set_free(e3);
	digest_set_free(b);
	digest_set_free(e);
	digest_set_free(e2);
	digest_set_free(a);
}

static void test_filter(void **state)
{
	(void)state;
	digest_set *d = sample();
	const char *keep[] = { "app" };
	digest_set *f = digest_set_filter(d, keep, 1);
	assert_int_equal(f->n_tables, 1);
	assert_string_equal(f->tables[0].name, "empty");
	assert_int_equal(f->n_sequences, 0);
	size_t names = 0;
	int64_t los = 0;
	for (size_t i = 0; i < f->n_kinds; i++) {
		names += f->kinds[i].n_names;
		if (strcmp(f->kinds[i].kind, "large object") == 0)
			los = f->kinds[i].count;
	}
	assert_int_equal(names, 2); /* app.e_pkey, app.empty */
	assert_int_equal(los, 2);
	digest_set_free(f);
	digest_set_free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order_independent),
		cmocka_unit_test(test_json_round_trip),
		cmocka_unit_test(test_malformed_rejected),
		cmocka_unit_test(test_compare_names_differences),
		cmocka_unit_test(test_filter),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
