#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "archive/filter.h"
#include "archive/stream.h"
#include "common/mem.h"

/* A writer that keeps everything in memory and records how it was used. */
typedef struct sink {
	writer base;
	strbuf data;
	size_t max_write;
	int closed;
	int *freed;
} sink;

static int sink_write(writer *w, const void *buf, size_t len, bderr *err)
{
	sink *s = (sink *)w;
	(void)err;
	strbuf_append(&s->data, buf, len);
	if (len > s->max_write)
		s->max_write = len;
	return 0;
}

static int sink_close(writer *w, bderr *err)
{
	(void)err;
	((sink *)w)->closed = 1;
	return 0;
}

/* The test keeps the data: freeing only releases the writer's shell. */
static void sink_free(writer *w)
{
	sink *s = (sink *)w;
	if (s->freed)
		*s->freed = 1;
}

static const writer_ops sink_ops = { sink_write, sink_close, sink_free };

static void sink_init(sink *s)
{
	memset(s, 0, sizeof *s);
	s->base.ops = &sink_ops;
	strbuf_init(&s->data);
}

static unsigned char *pseudo_random(size_t len, uint32_t seed)
{
	unsigned char *p = xmalloc(len);
	uint32_t x = seed ? seed : 1;
	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (unsigned char)x;
	}
	return p;
}

static unsigned char *compressible(size_t len)
{
	static const char text[] = "1\tAlice\t2026-11-21 10:13:24+00\tsome repeated row text\n";
	unsigned char *p = xmalloc(len);
	for (size_t i = 0; i < len; i++)
		p[i] = (unsigned char)text[i % (sizeof text - 1)];
	return p;
}

/* --- sha256 / size --------------------------------------------------------- */

static void sha256_hex_of(const char *data, size_t len, size_t piece, char hex[SHA256_HEX_LEN + 1])
{
	sink s;
	bderr err;
	bderr_init(&err);
	sink_init(&s);
	writer *w = sha256_writer_new(&s.base);
	for (size_t off = 0; off < len; off += piece) {
		size_t n = len - off < piece ? len - off : piece;
		assert_int_equal(writer_write(w, data + off, n, &err), 0);
	}
	assert_int_equal(writer_close(w, &err), 0);
	assert_true(s.closed);
	sha256_writer_hex(w, hex);
	assert_int_equal(s.data.len, len);
	writer_free(w);
	strbuf_free(&s.data);
}

static void test_sha256_vectors(void **state)
{
	char hex[SHA256_HEX_LEN + 1];
	(void)state;
	sha256_hex_of("", 0, 1, hex);
	assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	sha256_hex_of("abc", 3, 3, hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	sha256_hex_of("abc", 3, 1, hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void test_sha256_reader(void **state)
{
	char hex[SHA256_HEX_LEN + 1];
	char buf[2];
	size_t got;
	bderr err;
	(void)state;
	bderr_init(&err);
	reader *r = sha256_reader_new(mem_reader_new("abc", 3));
	do {
		assert_int_equal(reader_read(r, buf, sizeof buf, &got, &err), 0);
	} while (got > 0);
	sha256_reader_hex(r, hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	/* reading past the end stays at the end and keeps the digest */
	assert_int_equal(reader_read(r, buf, sizeof buf, &got, &err), 0);
	assert_int_equal(got, 0);
	sha256_reader_hex(r, hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	reader_free(r);
}

static void test_size_filters(void **state)
{
	sink s;
	bderr err;
	char buf[5];
	size_t got, total = 0;
	(void)state;
	bderr_init(&err);
	sink_init(&s);
	writer *w = size_writer_new(&s.base);
	assert_int_equal(writer_write(w, "hello", 5, &err), 0);
	assert_int_equal(writer_write(w, "", 0, &err), 0);
	assert_int_equal(writer_write(w, " world", 6, &err), 0);
	assert_int_equal(writer_close(w, &err), 0);
	assert_int_equal(size_writer_bytes(w), 11);
	writer_free(w);
	strbuf_free(&s.data);

	reader *r = size_reader_new(mem_reader_new("hello world", 11));
	do {
		assert_int_equal(reader_read(r, buf, sizeof buf, &got, &err), 0);
		total += got;
	} while (got > 0);
	assert_int_equal(total, 11);
	assert_int_equal(size_reader_bytes(r), 11);
	reader_free(r);
}

static void test_filter_owns_next(void **state)
{
	sink s;
	int freed = 0;
	(void)state;
	sink_init(&s);
	s.freed = &freed;
	writer_free(sha256_writer_new(size_writer_new(zstd_writer_new(&s.base, 1))));
	assert_true(freed);
	strbuf_free(&s.data);
}

/* --- stream helpers ----------------------------------------------------------- */

static void test_read_full_and_all(void **state)
{
	char buf[8];
	char *all;
	size_t got, len;
	bderr err;
	(void)state;
	bderr_init(&err);
	reader *r = mem_reader_new("0123456789", 10);
	assert_int_equal(reader_read_full(r, buf, sizeof buf, &got, &err), 0);
	assert_int_equal(got, 8);
	assert_int_equal(reader_read_full(r, buf, sizeof buf, &got, &err), 0);
	assert_int_equal(got, 2);
	assert_memory_equal(buf, "89", 2);
	reader_free(r);

	r = mem_reader_new("0123456789", 10);
	assert_int_equal(reader_read_all(r, &all, &len, 10, &err), 0);
	assert_int_equal(len, 10);
	assert_string_equal(all, "0123456789");
	free(all);
	reader_free(r);

	r = mem_reader_new("0123456789", 10);
	assert_int_equal(reader_read_all(r, &all, &len, 9, &err), -1);
	assert_non_null(strstr(err.msg, "larger than 9 bytes"));
	reader_free(r);

	r = mem_reader_new("", 0);
	assert_int_equal(reader_read_all(r, &all, &len, 0, &err), 0);
	assert_int_equal(len, 0);
	assert_string_equal(all, "");
	free(all);
	reader_free(r);
}

/* --- zstd ---------------------------------------------------------------------- */

static void zstd_compress(const void *data, size_t len, int level, size_t piece, strbuf *out)
{
	sink s;
	bderr err;
	bderr_init(&err);
	sink_init(&s);
	writer *w = zstd_writer_new(&s.base, level);
	for (size_t off = 0; off < len; off += piece) {
		size_t n = len - off < piece ? len - off : piece;
		assert_int_equal(writer_write(w, (const char *)data + off, n, &err), 0);
	}
	assert_int_equal(writer_close(w, &err), 0);
	assert_true(s.closed);
	/* output reaches the next writer in bounded pieces, never all at once */
	assert_true(s.max_write <= ZSTD_CStreamOutSize());
	writer_free(w);
	*out = s.data;
}

static int zstd_decompress_all(const void *z, size_t zlen, size_t piece, strbuf *out, bderr *err)
{
	char *buf = xmalloc(piece);
	size_t got;
	int rc;
	reader *r = zstd_reader_new(mem_reader_new(z, zlen));
	strbuf_init(out);
	while ((rc = reader_read(r, buf, piece, &got, err)) == 0 && got > 0) {
		assert_true(got <= piece);
		strbuf_append(out, buf, got);
	}
	reader_free(r);
	free(buf);
	return rc;
}

static void round_trip(const void *data, size_t len, int level)
{
	static const size_t pieces[] = { 1, 4093, 1 << 17 };
	strbuf z, back;
	bderr err;
	bderr_init(&err);
	zstd_compress(data, len, level, len > 100000 ? 65536 : 7, &z);
	for (size_t i = 0; i < sizeof pieces / sizeof *pieces; i++) {
		if (pieces[i] == 1 && len > 100000)
			continue;
		assert_int_equal(zstd_decompress_all(z.data, z.len, pieces[i], &back, &err), 0);
		assert_int_equal(back.len, len);
		if (len)
			assert_memory_equal(back.data, data, len);
		strbuf_free(&back);
	}
	/* plain libzstd reads what we write: objects stay usable with `zstd -d` */
	unsigned char *plain = xmalloc(len + 1);
	size_t n = ZSTD_decompress(plain, len + 1, z.data, z.len);
	assert_false(ZSTD_isError(n));
	assert_int_equal(n, len);
	if (len)
		assert_memory_equal(plain, data, len);
	free(plain);
	strbuf_free(&z);
}

static void test_zstd_small_and_empty(void **state)
{
	(void)state;
	round_trip("hello, world\n", 13, 1);
	round_trip("", 0, 1);
	round_trip("x", 1, 19);
	round_trip("negative levels are fast", 24, -7);
}

static void test_zstd_large(void **state)
{
	(void)state;
	size_t len = 6 * 1024 * 1024 + 123;
	unsigned char *rnd = pseudo_random(len, 42);
	round_trip(rnd, len, 1);
	free(rnd);
	unsigned char *txt = compressible(len);
	strbuf z;
	zstd_compress(txt, len, 3, 1 << 20, &z);
	assert_true(z.len < len / 20);
	strbuf_free(&z);
	round_trip(txt, len, 3);
	free(txt);
}

static void test_zstd_concatenated_frames(void **state)
{
	strbuf a, b, back;
	bderr err;
	(void)state;
	bderr_init(&err);
	zstd_compress("first,", 6, 1, 6, &a);
	zstd_compress("second", 6, 1, 6, &b);
	strbuf_append(&a, b.data, b.len);
	assert_int_equal(zstd_decompress_all(a.data, a.len, 3, &back, &err), 0);
	assert_int_equal(back.len, 12);
	assert_memory_equal(back.data, "first,second", 12);
	strbuf_free(&a);
	strbuf_free(&b);
	strbuf_free(&back);
}

static void test_zstd_truncated(void **state)
{
	strbuf z, back;
	bderr err;
	(void)state;
	size_t len = 300000;
	unsigned char *rnd = pseudo_random(len, 7);
	zstd_compress(rnd, len, 1, 65536, &z);
	const size_t cuts[] = { 1, 4, z.len / 2, z.len - 1 };
	for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
		bderr_init(&err);
		assert_int_equal(zstd_decompress_all(z.data, z.len - cuts[i], 65536, &back, &err), -1);
		assert_int_equal(err.sys_errno, EBADMSG);
		assert_non_null(strstr(err.msg, "truncated zstd stream"));
		strbuf_free(&back);
	}
	/* nothing at all is not a zstd stream either */
	bderr_init(&err);
	assert_int_equal(zstd_decompress_all("", 0, 100, &back, &err), -1);
	assert_non_null(strstr(err.msg, "truncated zstd stream"));
	strbuf_free(&back);
	free(rnd);
	strbuf_free(&z);
}

static void test_zstd_corrupt(void **state)
{
	strbuf z, back;
	bderr err;
	(void)state;
	size_t len = 200000;
	unsigned char *txt = compressible(len);
	zstd_compress(txt, len, 1, 65536, &z);
	const size_t offsets[] = { 0, z.len / 2, z.len - 2 };
	for (size_t i = 0; i < sizeof offsets / sizeof *offsets; i++) {
		strbuf c;
		strbuf_init(&c);
		strbuf_append(&c, z.data, z.len);
		c.data[offsets[i]] ^= 0x5a;
		bderr_init(&err);
		assert_int_equal(zstd_decompress_all(c.data, c.len, 65536, &back, &err), -1);
		assert_int_equal(err.sys_errno, EBADMSG);
		assert_true(strstr(err.msg, "corrupt zstd data") || strstr(err.msg, "truncated"));
		strbuf_free(&back);
		strbuf_free(&c);
	}
	/* garbage after a complete frame is not silently ignored */
	strbuf_append(&z, "garbage!", 8);
	bderr_init(&err);
	assert_int_equal(zstd_decompress_all(z.data, z.len, 65536, &back, &err), -1);
	assert_int_equal(err.sys_errno, EBADMSG);
	strbuf_free(&back);
	strbuf_free(&z);
	free(txt);
}

static void test_compress_spec(void **state)
{
	static const char *const bad[] = { "zstd:20", "zstd:-8", "zstd:0", "zstd:", "zstd:3x",
					   "zstd: 3", "zstd:+3", "gzip", "", "ZSTD", "zstd:99999999999999999999" };
	int level = 99;
	bderr err;
	(void)state;
	bderr_init(&err);
	assert_int_equal(compress_spec_parse("none", &level, &err), 0);
	assert_int_equal(level, 0);
	assert_int_equal(compress_spec_parse("zstd", &level, &err), 0);
	assert_int_equal(level, 1);
	assert_int_equal(compress_spec_parse("zstd:3", &level, &err), 0);
	assert_int_equal(level, 3);
	assert_int_equal(compress_spec_parse("zstd:19", &level, &err), 0);
	assert_int_equal(level, 19);
	assert_int_equal(compress_spec_parse("zstd:-7", &level, &err), 0);
	assert_int_equal(level, -7);
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		bderr_init(&err);
		assert_int_equal(compress_spec_parse(bad[i], &level, &err), -1);
		assert_int_equal(err.exit_code, EXIT_USAGE);
		assert_non_null(strstr(err.msg, "invalid compression"));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha256_vectors),
		cmocka_unit_test(test_sha256_reader),
		cmocka_unit_test(test_size_filters),
		cmocka_unit_test(test_filter_owns_next),
		cmocka_unit_test(test_read_full_and_all),
		cmocka_unit_test(test_zstd_small_and_empty),
		cmocka_unit_test(test_zstd_large),
		cmocka_unit_test(test_zstd_concatenated_frames),
		cmocka_unit_test(test_zstd_truncated),
		cmocka_unit_test(test_zstd_corrupt),
		cmocka_unit_test(test_compress_spec),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
