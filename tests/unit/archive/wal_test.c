#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zstd.h>

#include "archive/wal.h"
#include "common/mem.h"
#include "tests/unit/testutil.h"

#define SEG (1024u * 1024) /* PostgreSQL's smallest segment size keeps tests quick */
#define SYSID UINT64_C(7710577823379241103)

/* A segment as PostgreSQL 15 writes it: long header on the first page, then anything. */
static unsigned char *make_segment(uint64_t sysid, uint64_t pageaddr, unsigned seed)
{
	unsigned char *b = xcalloc(1, SEG);
	uint16_t magic = 0xD110, info = 0x0002;
	uint32_t tli = 1, seg = SEG, blck = 8192;
	memcpy(b + 0, &magic, 2);
	memcpy(b + 2, &info, 2);
	memcpy(b + 4, &tli, 4);
	memcpy(b + 8, &pageaddr, 8);
	memcpy(b + 24, &sysid, 8);
	memcpy(b + 32, &seg, 4);
	memcpy(b + 36, &blck, 4);
	for (size_t i = 8192; i < SEG; i += 64)
		b[i] = (unsigned char)(seed + i / 64);
	return b;
}

typedef test_repo fixture;

static void test_name_parse_valid(void **state)
{
	(void)state;
	wal_name n;
	bderr err;
	bderr_init(&err);
	assert_int_equal(wal_name_parse("000000010000000A000000FF", &n, &err), 0);
	assert_int_equal(n.kind, WAL_KIND_SEGMENT);
	assert_int_equal(n.tli, 1);
	assert_string_equal(n.pos, "0000000A000000FF");
	assert_int_equal(wal_name_parse("0000000200000000000000A1.partial", &n, &err), 0);
	assert_int_equal(n.kind, WAL_KIND_PARTIAL);
	assert_int_equal(n.tli, 2);
	assert_int_equal(wal_name_parse("000000010000000000000003.00000028.backup", &n, &err), 0);
	assert_int_equal(n.kind, WAL_KIND_BACKUP);
	assert_string_equal(n.pos, "0000000000000003");
	assert_int_equal(wal_name_parse("0000000A.history", &n, &err), 0);
	assert_int_equal(n.kind, WAL_KIND_HISTORY);
	assert_int_equal(n.tli, 10);
	assert_string_equal(n.pos, "");
	assert_string_equal(n.file, "0000000A.history");
}

static void test_name_parse_invalid(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"", "foo", "00000001000000000000000", "0000000100000000000000001",
		"000000010000000a000000ff",        /* PostgreSQL writes upper case */
		"00000000000000000000000F",        /* timeline 0 does not exist */
		"../00000001000000000000000F", "00000001/000000000000000F",
		"000000010000000000000003/..", "000000010000000000000003.partial.zst",
		"000000010000000000000003.0000028.backup", "000000010000000000000003.backup",
		"00000001.History", "0000001.history", "00000001.history/../../etc",
		"000000010000000000000003 ", "archive.info", "..", ".",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		wal_name n;
		bderr err;
		bderr_init(&err);
		if (wal_name_parse(bad[i], &n, &err) == 0)
			fail_msg("accepted '%s'", bad[i]);
		assert_int_equal(err.exit_code, EXIT_USAGE);
	}
}

static void test_object_path_round_trip(void **state)
{
	(void)state;
	const char *sha = "254428c794cdad79f1ea4c0de06fffdc648f7dfe0541eff0179713eae24154be";
	static const char *const files[] = { "000000010000000A000000FF", "0000000200000000000000A1.partial",
					     "000000010000000000000003.00000028.backup",
					     "00000002.history" };
	static const char *const want[] = {
		"db/wal/000000010000000A/000000010000000A000000FF-",
		"db/wal/0000000200000000/0000000200000000000000A1.partial-",
		"db/wal/0000000100000000/000000010000000000000003.00000028.backup-",
		"db/wal/00000002.history-",
	};
	for (size_t i = 0; i < 4; i++) {
		char *p = wal_object_path("db", files[i], sha);
		char *expect = xasprintf("%s%s.zst", want[i], sha);
		assert_string_equal(p, expect);
		wal_name n;
		char got[65];
		assert_int_equal(wal_object_parse(strrchr(p, '/') + 1, &n, got), 0);
		assert_string_equal(n.file, files[i]);
		assert_string_equal(got, sha);
		free(expect);
		free(p);
	}
	assert_null(wal_object_path("db", "../x", sha));
	wal_name n;
	char got[65];
	assert_int_equal(wal_object_parse("archive.info", &n, got), -1);
	assert_int_equal(wal_object_parse("000000010000000A000000FF-abc.zst", &n, got), -1);
	assert_int_equal(wal_object_parse("000000010000000A000000FF.zst", &n, got), -1);
}

static void test_segment_name(void **state)
{
	(void)state;
	char out[25];
	wal_segment_name(1, 0, 16u * 1024 * 1024, out);
	assert_string_equal(out, "000000010000000000000000");
	wal_segment_name(1, UINT64_C(0x2A000028), 16u * 1024 * 1024, out);
	assert_string_equal(out, "00000001000000000000002A");
	wal_segment_name(3, UINT64_C(0x1FF000000), 16u * 1024 * 1024, out);
	assert_string_equal(out, "0000000300000001000000FF");
	wal_segment_name(1, UINT64_C(0x140000000), 1024u * 1024 * 1024, out);
	assert_string_equal(out, "000000010000000100000001");
	assert_int_equal(wal_segment_next("0000000100000000000000FF", 16u * 1024 * 1024, out), 0);
	assert_string_equal(out, "000000010000000100000000");
	assert_int_equal(wal_segment_next("00000001000000000000002A", 16u * 1024 * 1024, out), 0);
	assert_string_equal(out, "00000001000000000000002B");
	assert_int_equal(wal_segment_next("00000001.history", 16u * 1024 * 1024, out), -1);
	/* the last segment of the WAL address space has no successor (it wrapped to 0: fuzzing) */
	assert_int_equal(wal_segment_next("00000001FFFFFFFF000000FF", 16u * 1024 * 1024, out), -1);
	assert_int_equal(wal_segment_next("00000001FFFFFFFF000000FE", 16u * 1024 * 1024, out), 0);
	assert_string_equal(out, "00000001FFFFFFFF000000FF");
}

static void test_header_parse(void **state)
{
	(void)state;
	unsigned char *b = make_segment(SYSID, 5 * (uint64_t)SEG, 1);
	wal_segment_header h;
	bderr err;
	bderr_init(&err);
	assert_int_equal(wal_segment_header_parse(b, SEG, &h, &err), 0);
	assert_true(h.system_identifier == SYSID);
	assert_int_equal(h.seg_size, SEG);
	assert_int_equal(h.xlog_blcksz, 8192);
	assert_int_equal(wal_pg_version_from_magic(h.magic), 15);
	/* every supported major's page magic, and an unknown one */
	assert_int_equal(wal_pg_version_from_magic(0xD116), 17);
	assert_int_equal(wal_pg_version_from_magic(0xD118), 18);
	assert_int_equal(wal_pg_version_from_magic(0xD120), 0);

	wal_name n;
	assert_int_equal(wal_name_parse("000000010000000000000005", &n, &err), 0);
	assert_int_equal(wal_segment_check(&n, b, SEG, &h, &err), 0);
	/* the name must match the page address */
	assert_int_equal(wal_name_parse("000000010000000000000006", &n, &err), 0);
	assert_int_equal(wal_segment_check(&n, b, SEG, &h, &err), -1);
	assert_non_null(strstr(err.msg, "not of its name"));
	/* a truncated segment */
	bderr_init(&err);
	assert_int_equal(wal_name_parse("000000010000000000000005", &n, &err), 0);
	assert_int_equal(wal_segment_check(&n, b, SEG / 2, &h, &err), -1);
	/* not WAL at all */
	bderr_init(&err);
	b[1] = 'x'; /* the magic's high byte (little-endian) */
	assert_int_equal(wal_segment_header_parse(b, SEG, &h, &err), -1);
	assert_non_null(strstr(err.msg, "magic"));
	bderr_init(&err);
	assert_int_equal(wal_segment_header_parse(b, 10, &h, &err), -1);
	free(b);
}

static void test_archive_info(void **state)
{
	fixture *f = *state;
	bderr err;
	bderr_init(&err);
	wal_archive_info info;
	assert_int_equal(wal_archive_info_read(f->r, "db", &info, &err), 1);
	assert_int_equal(wal_archive_info_check(f->r, "db", SYSID, SEG, 15, &err), 0);
	assert_int_equal(wal_archive_info_read(f->r, "db", &info, &err), 0);
	assert_true(info.system_identifier == SYSID);
	assert_int_equal(info.wal_segment_size, SEG);
	assert_int_equal(info.pg_version, 15);
	assert_int_equal(wal_archive_info_check(f->r, "db", SYSID, SEG, 0, &err), 0);
	assert_int_equal(wal_archive_info_check(f->r, "db", SYSID + 1, SEG, 15, &err), -1);
	assert_non_null(strstr(err.msg, "7710577823379241103"));
	assert_non_null(strstr(err.msg, "7710577823379241104"));
	bderr_init(&err);
	assert_int_equal(wal_archive_info_check(f->r, "db", SYSID, 2 * SEG, 15, &err), -1);
}

static void test_store_idempotent_and_conflict(void **state)
{
	fixture *f = *state;
	bderr err;
	bderr_init(&err);
	unsigned char *a = make_segment(SYSID, 0, 1);
	unsigned char *b = make_segment(SYSID, 0, 2);
	const char *file = "000000010000000000000000";
	int already = -1;
	assert_int_equal(wal_store(f->r, "db", file, a, SEG, 1, &already, &err), 0);
	assert_int_equal(already, 0);
	assert_int_equal(wal_store(f->r, "db", file, a, SEG, 1, &already, &err), 0);
	assert_int_equal(already, 1);
	assert_int_equal(wal_store(f->r, "db", file, b, SEG, 1, &already, &err), -1);
	/* the error names the archived object's checksum */
	char *path = NULL, sha[65];
	char *msg = xstrdup(err.msg);
	bderr_init(&err);
	assert_int_equal(wal_find(f->r, "db", file, &path, sha, &err), 0);
	assert_non_null(strstr(msg, sha));
	assert_non_null(strstr(msg, "different contents"));
	free(msg);

	/* the same contents compressed at another level is already archived */
	assert_int_equal(wal_store(f->r, "db", file, a, SEG, 19, &already, &err), 0);
	assert_int_equal(already, 1);
	/* and other contents still conflict at that level */
	assert_int_equal(wal_store(f->r, "db", file, b, SEG, 19, &already, &err), -1);
	bderr_init(&err);

	/* exactly one object, readable and verified; the name carries the stored bytes' hash */
	char *stored = NULL;
	size_t stored_len = 0;
	assert_int_equal(storage_get(repo_storage(f->r), path, &stored, &stored_len, SEG * 2, &err), 0);
	char sha_stored[65];
	assert_int_equal(wal_checksum(stored, stored_len, sha_stored, &err), 0);
	assert_string_equal(sha, sha_stored);
	free(stored);
	free(path);
	path = NULL;
	assert_int_equal(wal_find(f->r, "db", file, &path, sha, &err), 0);
	char *data = NULL;
	size_t len = 0;
	assert_int_equal(wal_object_read(f->r, path, sha, SEG, &data, &len, &err), 0);
	assert_int_equal(len, SEG);
	assert_memory_equal(data, a, SEG);
	free(data);
	free(path);
	assert_int_equal(wal_find(f->r, "db", "000000010000000000000001", &path, sha, &err), 1);

	wal_object_list *l = NULL;
	assert_int_equal(wal_store(f->r, "db", "00000002.history", "1\t0/3000000\tno recovery target\n",
				   31, 1, &already, &err), 0);
	assert_int_equal(wal_list(f->r, "db", &l, &err), 0);
	assert_int_equal(l->n, 2);
	assert_string_equal(l->items[0].name.file, file);
	assert_string_equal(l->items[1].name.file, "00000002.history");
	wal_object_list_free(l);
	free(a);
	free(b);
}

/* The one-shot frame (ZSTD_compress2) of buf, as every earlier version stored it. */
static char *one_shot_sha(const void *buf, size_t len, int level, char sha[65])
{
	size_t cap = ZSTD_compressBound(len);
	char *z = xmalloc(cap);
	ZSTD_CCtx *cctx = ZSTD_createCCtx();
	assert_false(ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level)));
	assert_false(ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1)));
	size_t zlen = ZSTD_compress2(cctx, z, cap, buf, len);
	ZSTD_freeCCtx(cctx);
	assert_false(ZSTD_isError(zlen));
	bderr err;
	bderr_init(&err);
	assert_int_equal(wal_checksum(z, zlen, sha, &err), 0);
	return z;
}

/*
 * One compressor kept across files of several sizes (block-aligned or not,
 * smaller and larger than the last) writes, byte for byte, the frames the
 * one-shot compression of earlier versions wrote: objects they archived
 * are found "already archived" by hash alone, and every object reads back.
 */
static void test_compressor_reused_writes_one_shot_frames(void **state)
{
	fixture *f = *state;
	bderr err;
	bderr_init(&err);
	wal_compressor *z = wal_compressor_new(2);
	assert_non_null(z);
	unsigned char *seg = make_segment(SYSID, 0, 7);
	unsigned char *odd = xmalloc(300001); /* a .partial cut short of a block boundary */
	for (size_t i = 0; i < 300001; i++)
		odd[i] = (unsigned char)((i * 2654435761u) >> (i % 7 ? 24 : 13));
	static const char hist[] = "1\t0/3000000\tno recovery target\n";
	struct {
		const char *file;
		const void *buf;
		size_t len;
	} files[] = {
		{ "000000010000000000000000", seg, SEG },
		{ "00000002.history", hist, sizeof hist - 1 },
		{ "000000010000000000000001.partial", odd, 300001 },
		{ "000000010000000000000002", seg, SEG },
	};
	for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
		int already = -1;
		char want[65], sha[65], *path = NULL, *data = NULL;
		size_t len = 0;
		free(one_shot_sha(files[i].buf, files[i].len, 1, want));
		assert_int_equal(wal_store_using(z, f->r, "db", files[i].file, files[i].buf, files[i].len, 1,
						 &already, &err), 0);
		assert_int_equal(already, 0);
		assert_int_equal(wal_find(f->r, "db", files[i].file, &path, sha, &err), 0);
		assert_string_equal(sha, want);
		assert_int_equal(wal_object_read(f->r, path, sha, files[i].len, &data, &len, &err), 0);
		assert_memory_equal(data, files[i].buf, files[i].len);
		free(data);
		free(path);
		/* pushed again through the same compressor: already there, by hash */
		assert_int_equal(wal_store_using(z, f->r, "db", files[i].file, files[i].buf, files[i].len, 1,
						 &already, &err), 0);
		assert_int_equal(already, 1);
	}
	wal_compressor_free(z);
	free(odd);
	free(seg);
}

/* A file holding len bytes of buf, open for reading (the fixture's directory removes it). */
static int file_with(const fixture *f, const char *name, const void *buf, size_t len)
{
	char *path = xasprintf("%s/%s", f->dir, name);
	FILE *fp = fopen(path, "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(buf, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	free(path);
	return fd;
}

/*
 * wal-push's path: the file read from its descriptor in pieces.  The object
 * is byte for byte the one-shot frame; the conflict and "already archived at
 * another level" checks compare against the file; a compressor moves between
 * levels; a file that ends before its size stores nothing.
 */
static void test_store_from_file(void **state)
{
	fixture *f = *state;
	bderr err;
	bderr_init(&err);
	wal_compressor *z = wal_compressor_new(2);
	unsigned char *a = make_segment(SYSID, 0, 11);
	unsigned char *b = make_segment(SYSID, 0, 12);
	const char *file = "000000010000000000000000";
	int fa = file_with(f, "a", a, SEG), fb = file_with(f, "b", b, SEG);
	int already = -1;
	char want[65], sha[65], *path = NULL, *data = NULL;
	size_t len = 0;
	free(one_shot_sha(a, SEG, 1, want));
	assert_int_equal(wal_store_fd(z, f->r, "db", file, fa, SEG, 1, &already, &err), 0);
	assert_int_equal(already, 0);
	assert_int_equal(wal_find(f->r, "db", file, &path, sha, &err), 0);
	assert_string_equal(sha, want);
	assert_int_equal(wal_object_read(f->r, path, sha, SEG, &data, &len, &err), 0);
	assert_memory_equal(data, a, SEG);
	free(data);
	free(path);
	/* another level: another object name, the same contents: already archived */
	assert_int_equal(wal_store_fd(z, f->r, "db", file, fa, SEG, 19, &already, &err), 0);
	assert_int_equal(already, 1);
	/* other contents under the name: refused, at either level */
	assert_int_equal(wal_store_fd(z, f->r, "db", file, fb, SEG, 19, &already, &err), -1);
	assert_non_null(strstr(err.msg, "different contents"));
	bderr_init(&err);
	assert_int_equal(wal_store_fd(z, f->r, "db", file, fb, SEG, 1, &already, &err), -1);
	bderr_init(&err);
	/* back to level 1 for another file: the context is set up again for it */
	assert_int_equal(wal_store_fd(z, f->r, "db", "000000010000000000000001", fb, SEG, 1, &already, &err), 0);
	assert_int_equal(already, 0);
	/* a fast (negative) level compresses: it is not "none" (which stores the bytes as they are) */
	int fc = file_with(f, "c", a, SEG);
	assert_int_equal(wal_store_fd(z, f->r, "db", "000000010000000000000003", fc, SEG, -3, &already, &err), 0);
	assert_int_equal(wal_find(f->r, "db", "000000010000000000000003", &path, sha, &err), 0);
	storage_info si;
	assert_int_equal(storage_info_get(repo_storage(f->r), path, &si, &err), 0);
	assert_true(si.size < SEG / 4);
	free(path);
	close(fc);
	/* a file shorter than the size it was opened with: an error naming it, nothing stored */
	int fs = file_with(f, "short", a, SEG / 2 + 1000);
	assert_int_equal(wal_store_fd(z, f->r, "db", "000000010000000000000002", fs, SEG, 1, &already, &err), -1);
	assert_non_null(strstr(err.msg, "'000000010000000000000002' ended after"));
	bderr_init(&err);
	assert_int_equal(wal_find(f->r, "db", "000000010000000000000002", &path, sha, &err), 1);
	close(fa);
	close(fb);
	close(fs);
	wal_compressor_free(z);
	free(a);
	free(b);
}

/* A one-shot frame (content size, checksum) of buf at level 1, or without the checksum / the size. */
static char *frame_of(const void *buf, size_t len, int checksum, int sized, size_t *zlen)
{
	size_t cap = ZSTD_compressBound(len);
	char *z = xmalloc(cap);
	ZSTD_CCtx *c = ZSTD_createCCtx();
	assert_false(ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, 1)));
	assert_false(ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, checksum)));
	assert_false(ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, sized)));
	*zlen = ZSTD_compress2(c, z, cap, buf, len);
	ZSTD_freeCCtx(c);
	assert_false(ZSTD_isError(*zlen));
	return z;
}

static size_t frames_in(const char *z, size_t zlen)
{
	size_t n = 0;
	for (size_t off = 0; off < zlen; n++) {
		size_t f = ZSTD_findFrameCompressedSize(z + off, zlen - off);
		assert_false(ZSTD_isError(f));
		off += f;
	}
	return n;
}

/* The stored bytes of file's object under source. */
static char *stored_object(fixture *f, const char *source, const char *file, size_t *len)
{
	bderr err;
	bderr_init(&err);
	char *path = NULL, sha[65], *z = NULL;
	assert_int_equal(wal_find(f->r, source, file, &path, sha, &err), 0);
	assert_int_equal(storage_get(repo_storage(f->r), path, &z, len, 64u << 20, &err), 0);
	free(path);
	return z;
}

/*
 * A file of 4 MB or more is two frames, one per half (split at a 128 kB
 * boundary at or below the middle), the same bytes whether the second half
 * has a thread of its own or not and whether the file is read from memory or
 * a descriptor; it reads back whole.
 * Just below 4 MB it is one frame.  What the reader refuses: trailing bytes,
 * a frame without a checksum or a size anywhere in the sequence.
 */
static void test_large_file_is_two_frames(void **state)
{
	fixture *f = *state;
	bderr err;
	bderr_init(&err);
	size_t big = 16u << 20, half = 8u << 20;
	unsigned char *a = xmalloc(big);
	for (size_t i = 0; i < big; i++)
		a[i] = (unsigned char)(i % 4096 < 3000 ? (i / 4096) * 7 : (i * 2654435761u) >> 24);
	const char *file = "000000010000000000000004";
	int fd = file_with(f, "big", a, big);
	wal_compressor *two = wal_compressor_new(2), *one = wal_compressor_new(1);
	int already = -1;
	assert_int_equal(wal_store_fd(two, f->r, "db", file, fd, big, 1, &already, &err), 0);
	assert_int_equal(wal_store_using(one, f->r, "db2", file, a, big, 1, &already, &err), 0);
	size_t zlen = 0, zlen2 = 0, l0 = 0, l1 = 0;
	char *z = stored_object(f, "db", file, &zlen);
	char *z2 = stored_object(f, "db2", file, &zlen2);
	assert_int_equal(zlen, zlen2);
	assert_memory_equal(z, z2, zlen);
	assert_int_equal(frames_in(z, zlen), 2);
	/* the first frame holds the first half: the split depends on the length alone */
	assert_int_equal(ZSTD_getFrameContentSize(z, zlen), half);
	char *f0 = frame_of(a, half, 1, 1, &l0), *f1 = frame_of(a + half, big - half, 1, 1, &l1);
	uint64_t content = 0;
	assert_null(wal_object_frames_check(z, zlen, &content));
	assert_int_equal(content, big);
	char *path = NULL, sha[65], *data = NULL;
	size_t len = 0;
	assert_int_equal(wal_find(f->r, "db", file, &path, sha, &err), 0);
	assert_int_equal(wal_object_read(f->r, path, sha, big, &data, &len, &err), 0);
	assert_int_equal(len, big);
	assert_memory_equal(data, a, big);
	free(data);
	free(path);

	/* just below the split size: one frame */
	size_t below = (4u << 20) - 1, bl = 0;
	assert_int_equal(wal_store_using(two, f->r, "db", "000000010000000000000005", a, below, 1, &already, &err), 0);
	char *zb = stored_object(f, "db", "000000010000000000000005", &bl);
	assert_int_equal(frames_in(zb, bl), 1);
	free(zb);

	/* the reader's refusals */
	char *bad = xmalloc(zlen + 16);
	memcpy(bad, z, zlen);
	memcpy(bad + zlen, "trailing bytes", 14);
	assert_non_null(wal_object_frames_check(bad, zlen + 14, &content));
	size_t nl = 0, ul = 0;
	char *nocheck = frame_of(a + half, big - half, 0, 1, &nl);
	char *unsized = frame_of(a + half, big - half, 1, 0, &ul);
	char *mix = xmalloc(l0 + nl + ul);
	memcpy(mix, f0, l0);
	memcpy(mix + l0, nocheck, nl);
	assert_string_equal(wal_object_frames_check(mix, l0 + nl, &content), "a zstd frame without a content checksum");
	memcpy(mix + l0, unsized, ul);
	assert_string_equal(wal_object_frames_check(mix, l0 + ul, &content), "a zstd frame without a size");
	assert_non_null(wal_object_frames_check(mix, 0, &content));
	assert_non_null(wal_object_frames_check(f0, l0 - 1, &content));
	free(mix);
	free(unsized);
	free(nocheck);
	free(bad);
	free(f0);
	free(f1);
	free(z);
	free(z2);
	close(fd);
	wal_compressor_free(two);
	wal_compressor_free(one);
	free(a);
}

static void test_corrupt_object_is_reported(void **state)
{
	fixture *f = *state;
	bderr err;
	bderr_init(&err);
	unsigned char *a = make_segment(SYSID, 0, 3);
	int already;
	assert_int_equal(wal_store(f->r, "db", "000000010000000000000000", a, SEG, 1, &already, &err), 0);
	char *path = NULL, sha[65];
	assert_int_equal(wal_find(f->r, "db", "000000010000000000000000", &path, sha, &err), 0);
	/* flip one byte of the stored object */
	char *full = xasprintf("%s/%s", f->dir, path);
	FILE *fp = fopen(full, "r+b");
	assert_non_null(fp);
	fseek(fp, 200, SEEK_SET);
	int c = fgetc(fp);
	fseek(fp, 200, SEEK_SET);
	fputc(c ^ 0xFF, fp);
	fclose(fp);
	char *data = NULL;
	size_t len;
	assert_int_equal(wal_object_read(f->r, path, sha, SEG, &data, &len, &err), -1);
	assert_int_equal(err.sys_errno, EBADMSG);
	assert_non_null(strstr(err.msg, path));
	assert_null(data);
	free(full);
	free(path);
	free(a);
}

/* Stores bytes as file's object under their own hash, as a damaged writer might have. */
static char *put_raw_object(fixture *f, const char *file, const void *z, size_t zlen)
{
	bderr err;
	bderr_init(&err);
	char sha[65];
	assert_int_equal(wal_checksum(z, zlen, sha, &err), 0);
	char *path = wal_object_path("db", file, sha);
	assert_int_equal(storage_put(repo_storage(f->r), path, z, zlen, &err), 0);
	return path;
}

static void test_frame_checks_behind_the_name(void **state)
{
	fixture *f = *state;
	bderr err;
	bderr_init(&err);
	unsigned char *a = make_segment(SYSID, 0, 4);
	size_t cap = ZSTD_compressBound(SEG);
	char *z = xmalloc(cap);
	char *data = NULL;
	size_t len = 0;

	/* a frame without a content checksum is refused, even though its hash matches */
	size_t zlen = ZSTD_compress(z, cap, a, SEG, 1);
	assert_false(ZSTD_isError(zlen));
	char *path = put_raw_object(f, "000000010000000000000000", z, zlen);
	char sha[65];
	assert_int_equal(wal_checksum(z, zlen, sha, &err), 0);
	assert_int_equal(wal_object_read(f->r, path, sha, SEG, &data, &len, &err), -1);
	assert_int_equal(err.sys_errno, EBADMSG);
	assert_non_null(strstr(err.msg, "content checksum"));
	free(path);

	/* damaged contents under a matching name: the frame's XXH64 catches it */
	ZSTD_CCtx *cctx = ZSTD_createCCtx();
	assert_false(ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1)));
	/* pseudo-random bytes stay mostly literal: a flipped byte decodes, to the wrong contents */
	assert_false(ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, 1)));
	unsigned char *noise = xmalloc(SEG);
	for (size_t i = 0; i < SEG; i++)
		noise[i] = (unsigned char)((i * 2654435761u) >> 13);
	zlen = ZSTD_compress2(cctx, z, cap, noise, SEG);
	ZSTD_freeCCtx(cctx);
	assert_false(ZSTD_isError(zlen));
	z[zlen / 2] ^= 0x01;
	bderr_init(&err);
	path = put_raw_object(f, "000000010000000000000001", z, zlen);
	assert_int_equal(wal_checksum(z, zlen, sha, &err), 0);
	assert_int_equal(wal_object_read(f->r, path, sha, SEG, &data, &len, &err), -1);
	assert_int_equal(err.sys_errno, EBADMSG);
	assert_non_null(strstr(err.msg, path));
	assert_null(data);
	free(path);
	free(noise);
	free(z);
	free(a);
}

typedef struct push_arg {
	repo *r;
	const unsigned char *seg;
	int rc;
	bderr err;
} push_arg;

static void *push_thread(void *p)
{
	push_arg *a = p;
	int already;
	bderr_init(&a->err);
	a->rc = wal_store(a->r, "db", "000000010000000000000007", a->seg, SEG, 1, &already, &a->err);
	return NULL;
}

static void test_concurrent_pushes_leave_one_object(void **state)
{
	fixture *f = *state;
	unsigned char *seg = make_segment(SYSID, 7 * (uint64_t)SEG, 4);
	enum { N = 8 };
	pthread_t th[N];
	push_arg args[N];
	for (int i = 0; i < N; i++) {
		args[i] = (push_arg){ .r = f->r, .seg = seg };
		assert_int_equal(pthread_create(&th[i], NULL, push_thread, &args[i]), 0);
	}
	for (int i = 0; i < N; i++) {
		pthread_join(th[i], NULL);
		if (args[i].rc != 0)
			fail_msg("push %d failed: %s", i, args[i].err.msg);
	}
	bderr err;
	bderr_init(&err);
	wal_object_list *l = NULL;
	assert_int_equal(wal_list(f->r, "db", &l, &err), 0);
	assert_int_equal(l->n, 1);
	assert_string_equal(l->items[0].name.file, "000000010000000000000007");
	wal_object_list_free(l);
	free(seg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name_parse_valid),
		cmocka_unit_test(test_name_parse_invalid),
		cmocka_unit_test(test_object_path_round_trip),
		cmocka_unit_test(test_segment_name),
		cmocka_unit_test(test_header_parse),
		cmocka_unit_test_setup_teardown(test_archive_info, test_repo_setup, test_repo_teardown),
		cmocka_unit_test_setup_teardown(test_store_idempotent_and_conflict, test_repo_setup, test_repo_teardown),
		cmocka_unit_test_setup_teardown(test_compressor_reused_writes_one_shot_frames, test_repo_setup,
						test_repo_teardown),
		cmocka_unit_test_setup_teardown(test_store_from_file, test_repo_setup, test_repo_teardown),
		cmocka_unit_test_setup_teardown(test_large_file_is_two_frames, test_repo_setup, test_repo_teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_object_is_reported, test_repo_setup, test_repo_teardown),
		cmocka_unit_test_setup_teardown(test_frame_checks_behind_the_name, test_repo_setup, test_repo_teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_pushes_leave_one_object, test_repo_setup, test_repo_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
