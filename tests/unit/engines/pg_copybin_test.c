/*
 * COPY streams (engines/pg/pg_copybin.h): text counts and hashes each message
 * as one row, whole; binary strips the header from
 * the first message, each tuple counted and hashed on its own bytes, the
 * trailer ends the stream; every malformed input from the server (short or
 * wrong header, critical flags, a cut tuple, bad field lengths, bytes after
 * the trailer, no trailer) is an error, never a crash.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "engines/pg/pg_copybin.h"

static const unsigned char header[19] = { 'P', 'G', 'C', 'O', 'P', 'Y', '\n', 0xff, '\r', '\n', 0,
					  0, 0, 0, 0, 0, 0, 0, 0 };
/* one tuple: 2 fields, int4 42 and NULL */
static const unsigned char tup1[] = { 0, 2, 0, 0, 0, 4, 0, 0, 0, 42, 0xff, 0xff, 0xff, 0xff };
/* another: 2 fields, "ab" and int4 7 */
static const unsigned char tup2[] = { 0, 2, 0, 0, 0, 2, 'a', 'b', 0, 0, 0, 4, 0, 0, 0, 7 };
static const unsigned char trailer[2] = { 0xff, 0xff };

/* buf = header + tup1 (the server's first message) */
static size_t first_message(unsigned char *buf)
{
	memcpy(buf, header, sizeof header);
	memcpy(buf + sizeof header, tup1, sizeof tup1);
	return sizeof header + sizeof tup1;
}

static void test_stream(void **state)
{
	(void)state;
	unsigned char m[64];
	size_t n = first_message(m);
	pg_copybin b;
	pg_copybin_init(&b, 1);
	digest_sum s = { 0, 0 };
	bderr err;
	bderr_init(&err);
	assert_int_equal(pg_copybin_end(&b, &err), -1);
	assert_non_null(strstr(err.msg, "no header"));
	bderr_init(&err);
	assert_int_equal(pg_copybin_read(&b, m, n, &s, NULL, NULL, &err), 0);
	assert_int_equal(pg_copybin_read(&b, tup2, sizeof tup2, &s, NULL, NULL, &err), 0);
	assert_int_equal(pg_copybin_end(&b, &err), -1);
	assert_non_null(strstr(err.msg, "no trailer"));
	bderr_init(&err);
	assert_int_equal(pg_copybin_read(&b, trailer, sizeof trailer, &s, NULL, NULL, &err), 0);
	assert_int_equal(pg_copybin_end(&b, &err), 0);
	assert_int_equal(b.rows, 2);
	assert_int_equal(s.rows, 2);
	/* the tuples' bytes only: header and trailer left out */
	uint64_t want = digest_row_hash(tup1, sizeof tup1) + digest_row_hash(tup2, sizeof tup2);
	assert_true(s.checksum == want);

	/* the same stream in other message boundaries (whole tuples) sums the same */
	unsigned char all[128];
	size_t k = 0;
	memcpy(all, header, sizeof header), k += sizeof header;
	memcpy(all + k, tup2, sizeof tup2), k += sizeof tup2;
	memcpy(all + k, tup1, sizeof tup1), k += sizeof tup1;
	memcpy(all + k, trailer, sizeof trailer), k += sizeof trailer;
	digest_sum s2 = { 0, 0 };
	pg_copybin_init(&b, 1);
	assert_int_equal(pg_copybin_read(&b, all, k, &s2, NULL, NULL, &err), 0);
	assert_int_equal(pg_copybin_end(&b, &err), 0);
	assert_true(s2.checksum == want && s2.rows == 2);

	/* an empty table: header and trailer in one message */
	pg_copybin_init(&b, 1);
	memcpy(all, header, sizeof header);
	memcpy(all + sizeof header, trailer, sizeof trailer);
	assert_int_equal(pg_copybin_read(&b, all, sizeof header + 2, NULL, NULL, NULL, &err), 0);
	assert_int_equal(pg_copybin_end(&b, &err), 0);
	assert_int_equal(b.rows, 0);

	/* a header extension is skipped; flags in the ignorable low half are accepted */
	memcpy(all, header, sizeof header);
	all[14] = 1;  /* flags: bit 0 */
	all[18] = 3;  /* 3 bytes of extension */
	memcpy(all + 19, "xyz", 3);
	memcpy(all + 22, tup1, sizeof tup1);
	pg_copybin_init(&b, 1);
	s2 = (digest_sum){ 0, 0 };
	assert_int_equal(pg_copybin_read(&b, all, 22 + sizeof tup1, &s2, NULL, NULL, &err), 0);
	assert_true(s2.rows == 1 && s2.checksum == digest_row_hash(tup1, sizeof tup1));
}

/* The tuples' span in each message: what a writer cutting the stream into objects stores. */
static void test_span(void **state)
{
	(void)state;
	unsigned char m[64];
	size_t n = first_message(m), from = 99, to = 99;
	pg_copybin b;
	pg_copybin_init(&b, 1);
	bderr err;
	bderr_init(&err);
	assert_int_equal(pg_copybin_read(&b, m, n, NULL, &from, &to, &err), 0);
	assert_int_equal(from, sizeof header);
	assert_int_equal(to, n);
	assert_int_equal(pg_copybin_read(&b, tup2, sizeof tup2, NULL, &from, &to, &err), 0);
	assert_true(from == 0 && to == sizeof tup2);
	assert_int_equal(pg_copybin_read(&b, trailer, sizeof trailer, NULL, &from, &to, &err), 0);
	assert_true(from == 0 && to == 0);
	/* header and trailer in one message (an empty table): nothing between */
	memcpy(m + sizeof header, trailer, sizeof trailer);
	pg_copybin_init(&b, 1);
	assert_int_equal(pg_copybin_read(&b, m, sizeof header + 2, NULL, &from, &to, &err), 0);
	assert_true(from == sizeof header && to == sizeof header);
	/* the header and trailer a writer puts around each object are the server's */
	assert_memory_equal(pg_copybin_header, header, sizeof header);
	assert_memory_equal(pg_copybin_trailer, trailer, sizeof trailer);
}

/* Text: each message one row, hashed and stored whole; the end needs no trailer. */
static void test_text(void **state)
{
	(void)state;
	static const char r1[] = "1\tab\n", r2[] = "2\t\\N\n";
	pg_copybin b;
	pg_copybin_init(&b, 0);
	digest_sum s = { 0, 0 };
	bderr err;
	bderr_init(&err);
	size_t from = 99, to = 99;
	assert_int_equal(pg_copybin_end(&b, &err), 0); /* an empty table */
	assert_int_equal(pg_copybin_read(&b, r1, strlen(r1), &s, &from, &to, &err), 0);
	assert_true(from == 0 && to == strlen(r1));
	/* what would be a malformed binary stream is a row like any other */
	assert_int_equal(pg_copybin_read(&b, r2, strlen(r2), &s, NULL, NULL, &err), 0);
	assert_int_equal(pg_copybin_read(&b, trailer, sizeof trailer, NULL, &from, &to, &err), 0);
	assert_true(from == 0 && to == sizeof trailer);
	assert_int_equal(pg_copybin_end(&b, &err), 0);
	assert_false(bderr_isset(&err));
	assert_int_equal(b.rows, 3);
	assert_int_equal(s.rows, 2);
	assert_true(s.checksum == digest_row_hash(r1, strlen(r1)) + digest_row_hash(r2, strlen(r2)));
}

static void expect_bad(const void *first, size_t n1, const void *second, size_t n2, const char *msg)
{
	pg_copybin b;
	pg_copybin_init(&b, 1);
	bderr err;
	bderr_init(&err);
	int rc = pg_copybin_read(&b, first, n1, NULL, NULL, NULL, &err);
	if (rc == 0 && second)
		rc = pg_copybin_read(&b, second, n2, NULL, NULL, NULL, &err);
	if (rc == 0)
		rc = pg_copybin_end(&b, &err);
	assert_int_equal(rc, -1);
	if (strstr(err.msg, msg) == NULL)
		fail_msg("expected '%s', got '%s'", msg, err.msg);
	assert_non_null(strstr(err.msg, "malformed binary COPY data"));
}

static void test_malformed(void **state)
{
	(void)state;
	unsigned char m[64];
	size_t n = first_message(m);
	expect_bad(m, 0, NULL, 0, "a header of 0 bytes");
	expect_bad(m, 18, NULL, 0, "a header of 18 bytes");
	unsigned char bad[64];
	memcpy(bad, m, n);
	bad[0] = 'X';
	expect_bad(bad, n, NULL, 0, "no binary COPY signature");
	memcpy(bad, m, n);
	bad[12] = 1; /* bit 16: OIDs */
	expect_bad(bad, n, NULL, 0, "header flags 0x00010000");
	memcpy(bad, m, n);
	bad[15] = 0x7f; /* a huge extension */
	expect_bad(bad, n, NULL, 0, "header extension");
	/* a tuple cut short: in its field count, a length word, its data */
	expect_bad(m, sizeof header + 1, NULL, 0, "a tuple of 1 bytes");
	expect_bad(m, sizeof header + 4, NULL, 0, "cut short in field 1");
	expect_bad(m, sizeof header + 8, NULL, 0, "field 1 of 4 bytes with 2 left");
	/* field lengths below -1, field counts below -1 */
	unsigned char t[sizeof tup1];
	memcpy(t, tup1, sizeof t);
	t[10] = 0x80, t[11] = 0, t[12] = 0, t[13] = 0;
	expect_bad(m, n, t, sizeof t, "field 2 of -2147483648 bytes");
	unsigned char neg[2] = { 0xff, 0xfe };
	expect_bad(m, n, neg, 2, "a field count of -2");
	/* tuples whose field counts differ */
	unsigned char one[] = { 0, 1, 0xff, 0xff, 0xff, 0xff };
	expect_bad(m, n, one, sizeof one, "a tuple of 1 fields after tuples of 2");
	/* anything after the trailer, in the same message or the next */
	unsigned char tt[4] = { 0xff, 0xff, 0, 0 };
	expect_bad(m, n, tt, sizeof tt, "2 bytes after the trailer");
	expect_bad(m, n, NULL, 0, "no trailer");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stream),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_span),
		cmocka_unit_test(test_text),
	};
	return cmocka_run_group_tests_name("pg_copybin", tests, NULL, NULL);
}
