#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archive/object.h"
#include "archive/posix/posix.h"
#include "common/mem.h"
#include "tests/unit/testutil.h"
#include "fault_storage.h"

#define OBJ "app/backups/20261121T101500Z/data/1.copy.zst"

typedef struct fixture {
	char dir[64];
	storage *s;
} fixture;

static int setup(void **state)
{
	fixture *f = xcalloc(1, sizeof *f);
	bderr err;
	bderr_init(&err);
	strcpy(f->dir, "/tmp/bd-object-XXXXXX");
	if (mkdtemp(f->dir) == NULL || posix_storage_new(f->dir, &f->s, &err) < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	storage_free(f->s);
	test_rm_rf(f->dir);
	free(f);
	return 0;
}

/* Every file under the root, temp files included. */
static int count_files_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)path;
	(void)st;
	(void)ftw;
	return flag == FTW_F ? 1 : 0;
}

static int files_on_disk(const fixture *f)
{
	/* nftw stops at the first non-zero return: 1 means "found a file" */
	return nftw(f->dir, count_files_cb, 16, FTW_PHYS);
}

static int count_cb(void *ctx, const char *path, uint64_t size, bderr *err)
{
	(void)path;
	(void)size;
	(void)err;
	(*(int *)ctx)++;
	return 0;
}

static int listed(storage *s)
{
	int n = 0;
	bderr err;
	bderr_init(&err);
	assert_int_equal(storage_list(s, "", count_cb, &n, &err), 0);
	return n;
}

static unsigned char *pattern(size_t len, int random)
{
	unsigned char *p = xmalloc(len);
	uint32_t x = 12345;
	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = random ? (unsigned char)x : (unsigned char)("COPY row\t42\n"[i % 12]);
	}
	return p;
}

static int write_object(storage *s, const char *path, int level, const void *data, size_t len,
			size_t piece, object_meta *meta, bderr *err)
{
	object_writer *ow;
	if (object_writer_open(s, path, level, &ow, err) < 0)
		return -1;
	int rc = 0;
	for (size_t off = 0; rc == 0 && off < len; off += piece)
		rc = object_writer_write(ow, (const char *)data + off, len - off < piece ? len - off : piece,
					 err);
	if (rc == 0)
		rc = object_writer_close(ow, meta, err);
	object_writer_free(ow);
	return rc;
}

static int read_object(storage *s, const char *path, int compressed, const object_meta *expect,
		       strbuf *out, bderr *err)
{
	object_reader *orr;
	char buf[4096];
	size_t got;
	int rc;
	strbuf_init(out);
	if (object_reader_open(s, path, compressed, expect, &orr, err) < 0)
		return -1;
	while ((rc = object_reader_read(orr, buf, sizeof buf, &got, err)) == 0 && got > 0)
		strbuf_append(out, buf, got);
	object_reader_free(orr);
	return rc;
}

static void file_flip_byte(const fixture *f, const char *rel, off_t off)
{
	char *p = xasprintf("%s/%s", f->dir, rel);
	int fd = open(p, O_RDWR);
	unsigned char c;
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &c, 1, off), 1);
	c ^= 0x01;
	assert_int_equal(pwrite(fd, &c, 1, off), 1);
	close(fd);
	free(p);
}

/* The SHA-256 of an object's bytes as stored. */
static void stored_sha256(const fixture *f, const char *path, char hex[SHA256_HEX_LEN + 1])
{
	char *data;
	size_t len;
	bderr err;
	bderr_init(&err);
	assert_int_equal(storage_get(f->s, path, &data, &len, SIZE_MAX, &err), 0);
	sha256_hex(data, len, hex);
	free(data);
}

static void file_truncate(const fixture *f, const char *rel, off_t len)
{
	char *p = xasprintf("%s/%s", f->dir, rel);
	assert_int_equal(truncate(p, len), 0);
	free(p);
}

static void test_round_trip(void **state)
{
	fixture *f = *state;
	object_meta meta;
	strbuf back;
	storage_info info;
	bderr err;
	bderr_init(&err);
	size_t len = 3 * 1024 * 1024 + 17;
	unsigned char *data = pattern(len, 0);
	for (int level = 0; level <= 3; level += 3) {
		assert_int_equal(write_object(f->s, OBJ, level, data, len, 100000, &meta, &err), 0);
		assert_int_equal(meta.size, len);
		assert_int_equal(strlen(meta.sha256), SHA256_HEX_LEN);
		assert_int_equal(storage_info_get(f->s, OBJ, &info, &err), 0);
		assert_int_equal(info.size, meta.stored_size);
		if (level)
			assert_true(meta.stored_size < len / 20);
		else
			assert_int_equal(meta.stored_size, len);
		/* compressed: the hash is of the stored bytes; uncompressed, those are the content */
		char hex[SHA256_HEX_LEN + 1];
		stored_sha256(f, OBJ, hex);
		assert_string_equal(meta.sha256, hex);
		assert_int_equal(meta.sha256_stored, level != 0);
		assert_int_equal(read_object(f->s, OBJ, level != 0, &meta, &back, &err), 0);
		assert_int_equal(back.len, len);
		assert_memory_equal(back.data, data, len);
		strbuf_free(&back);
		/* no expectation: no verification, same bytes */
		assert_int_equal(read_object(f->s, OBJ, level != 0, NULL, &back, &err), 0);
		assert_int_equal(back.len, len);
		strbuf_free(&back);
	}
	free(data);

	assert_int_equal(write_object(f->s, "empty", 0, "", 0, 1, &meta, &err), 0);
	assert_int_equal(meta.size, 0);
	assert_string_equal(meta.sha256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	assert_int_equal(write_object(f->s, "empty", 1, "", 0, 1, &meta, &err), 0);
	assert_int_equal(meta.size, 0);
	assert_true(meta.stored_size > 0);
	assert_int_equal(read_object(f->s, "empty", 1, &meta, &back, &err), 0);
	assert_int_equal(back.len, 0);
	strbuf_free(&back);
}

/*
 * A compressed object whose manifest records the SHA-256 of its content
 * (manifest format 1) still reads and is still verified; one recorded with
 * the hash of its stored bytes is checked against those, and against their
 * count.
 */
static void test_hash_of_content_or_stored(void **state)
{
	fixture *f = *state;
	object_meta meta, old;
	strbuf back;
	bderr err;
	bderr_init(&err);
	size_t len = 400000;
	unsigned char *data = pattern(len, 0);
	assert_int_equal(write_object(f->s, OBJ, 3, data, len, 65536, &meta, &err), 0);
	assert_true(meta.sha256_stored);

	old = meta;
	old.sha256_stored = 0;
	sha256_hex(data, len, old.sha256);
	assert_int_equal(read_object(f->s, OBJ, 1, &old, &back, &err), 0);
	assert_int_equal(back.len, len);
	assert_memory_equal(back.data, data, len);
	strbuf_free(&back);
	old.sha256[0] = old.sha256[0] == '0' ? '1' : '0';
	assert_int_equal(read_object(f->s, OBJ, 1, &old, &back, &err), -1);
	strbuf_free(&back);
	assert_non_null(strstr(err.msg, "object '" OBJ "' is corrupt: sha256 mismatch"));

	/* the content's hash where the stored bytes' is expected: a mismatch */
	old.sha256_stored = 1;
	sha256_hex(data, len, old.sha256);
	bderr_init(&err);
	assert_int_equal(read_object(f->s, OBJ, 1, &old, &back, &err), -1);
	strbuf_free(&back);
	assert_non_null(strstr(err.msg, "object '" OBJ "' is corrupt: sha256 mismatch"));

	/* the same content compressed at another level: other stored bytes */
	object_meta other;
	assert_int_equal(write_object(f->s, OBJ, 1, data, len, 65536, &other, &err), 0);
	assert_string_not_equal(other.sha256, meta.sha256);
	bderr_init(&err);
	meta.stored_size = other.stored_size;
	assert_int_equal(read_object(f->s, OBJ, 1, &meta, &back, &err), -1);
	strbuf_free(&back);
	assert_non_null(strstr(err.msg, "sha256 mismatch"));

	/* the stored bytes counted too */
	other.stored_size++;
	bderr_init(&err);
	assert_int_equal(read_object(f->s, OBJ, 1, &other, &back, &err), -1);
	strbuf_free(&back);
	assert_non_null(strstr(err.msg, "object '" OBJ "' is corrupt: stored size mismatch (expected"));
	free(data);
}

static void test_verification(void **state)
{
	fixture *f = *state;
	object_meta meta, bad;
	strbuf back;
	bderr err;
	bderr_init(&err);
	size_t len = 500000;
	unsigned char *data = pattern(len, 0);

	/* uncompressed: a flipped byte reaches the hash */
	assert_int_equal(write_object(f->s, OBJ, 0, data, len, 65536, &meta, &err), 0);
	file_flip_byte(f, OBJ, 1234);
	assert_int_equal(read_object(f->s, OBJ, 0, &meta, &back, &err), -1);
	strbuf_free(&back);
	assert_int_equal(err.sys_errno, EBADMSG);
	char *expected = xasprintf("object '" OBJ "' is corrupt: sha256 mismatch (expected %s, got ",
				   meta.sha256);
	assert_non_null(strstr(err.msg, expected));
	free(expected);

	/* compressed: zstd notices first, and the error still names the object */
	assert_int_equal(write_object(f->s, OBJ, 1, data, len, 65536, &meta, &err), 0);
	file_flip_byte(f, OBJ, (off_t)meta.stored_size / 2);
	bderr_init(&err);
	assert_int_equal(read_object(f->s, OBJ, 1, &meta, &back, &err), -1);
	strbuf_free(&back);
	assert_non_null(strstr(err.msg, "object '" OBJ "' is corrupt: "));

	/* truncated compressed object */
	assert_int_equal(write_object(f->s, OBJ, 1, data, len, 65536, &meta, &err), 0);
	file_truncate(f, OBJ, (off_t)meta.stored_size - 10);
	bderr_init(&err);
	assert_int_equal(read_object(f->s, OBJ, 1, &meta, &back, &err), -1);
	strbuf_free(&back);
	assert_string_equal(err.msg, "object '" OBJ "' is corrupt: truncated zstd stream");

	/* truncated uncompressed object: only the size can tell */
	assert_int_equal(write_object(f->s, OBJ, 0, data, len, 65536, &meta, &err), 0);
	file_truncate(f, OBJ, 1000);
	bderr_init(&err);
	assert_int_equal(read_object(f->s, OBJ, 0, &meta, &back, &err), -1);
	strbuf_free(&back);
	assert_string_equal(err.msg,
			    "object '" OBJ "' is corrupt: size mismatch (expected 500000 bytes, got 1000)");

	/* longer than the manifest says: refused before the extra bytes are handed out */
	assert_int_equal(write_object(f->s, OBJ, 0, data, len, 65536, &meta, &err), 0);
	bad = meta;
	bad.size = 4096;
	bderr_init(&err);
	assert_int_equal(read_object(f->s, OBJ, 0, &bad, &back, &err), -1);
	assert_true(back.len <= 4096);
	strbuf_free(&back);
	assert_non_null(strstr(err.msg, "size mismatch (expected 4096 bytes, got at least"));
	free(data);
}

static void test_corrupt_and_failing_reads(void **state)
{
	fixture *f = *state;
	object_meta meta;
	strbuf back;
	bderr err;
	bderr_init(&err);
	size_t len = 300000;
	unsigned char *data = pattern(len, 1);
	assert_int_equal(write_object(f->s, OBJ, 1, data, len, 65536, &meta, &err), 0);

	fault_plan plan = { .corrupt_reads = 1, .corrupt_offset = 100000 };
	storage *fs;
	bderr_init(&err);
	assert_int_equal(posix_storage_new(f->dir, &fs, &err), 0);
	fs = fault_storage_new(fs, &plan);
	assert_int_equal(read_object(fs, OBJ, 1, &meta, &back, &err), -1);
	strbuf_free(&back);
	assert_non_null(strstr(err.msg, "object '" OBJ "' is corrupt: "));
	storage_free(fs);

	/* an I/O error is an I/O error, not corruption */
	fault_plan eio = { .fail_reads = 1, .read_fail_after = 70000 };
	assert_int_equal(posix_storage_new(f->dir, &fs, &err), 0);
	fs = fault_storage_new(fs, &eio);
	bderr_init(&err);
	assert_int_equal(read_object(fs, OBJ, 1, &meta, &back, &err), -1);
	strbuf_free(&back);
	assert_string_equal(err.msg, "cannot read '" OBJ "': Input/output error");
	assert_int_equal(err.sys_errno, EIO);
	storage_free(fs);

	/* a missing object */
	bderr_init(&err);
	assert_int_equal(read_object(f->s, "app/none", 1, &meta, &back, &err), -1);
	assert_int_equal(err.sys_errno, ENOENT);
	strbuf_free(&back);
	free(data);
}

typedef struct write_case {
	const char *what;
	fault_plan plan;
	const char *message;
} write_case;

static void test_write_faults(void **state)
{
	fixture *f = *state;
	const write_case cases[] = {
		{ "ENOSPC", { .fail_write_at = 3, .write_errno = ENOSPC },
		  "cannot write '" OBJ "': No space left on device" },
		{ "EIO", { .fail_write_at = 1, .write_errno = EIO },
		  "cannot write '" OBJ "': Input/output error" },
		{ "short write", { .fail_write_at = 2, .write_errno = ENOSPC, .short_write_bytes = 100 },
		  "cannot write '" OBJ "': No space left on device" },
		{ "failed close", { .fail_close = 1 }, "cannot rename temp file to '" OBJ "': Input/output error" },
		{ "failed open", { .fail_open_write = 1, .write_errno = EACCES },
		  "cannot create '" OBJ "': Permission denied" },
	};
	size_t len = 2 * 1024 * 1024;
	unsigned char *data = pattern(len, 1);
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		for (int level = 0; level <= 1; level++) {
			storage *inner, *fs;
			object_meta meta;
			bderr err;
			bderr_init(&err);
			assert_int_equal(posix_storage_new(f->dir, &inner, &err), 0);
			fs = fault_storage_new(inner, &cases[i].plan);
			int rc = write_object(fs, OBJ, level, data, len, 65536, &meta, &err);
			if (rc == 0)
				fail_msg("%s (level %d): write succeeded", cases[i].what, level);
			if (strcmp(err.msg, cases[i].message) != 0)
				fail_msg("%s (level %d): got '%s'", cases[i].what, level, err.msg);
			/* nothing visible, nothing left behind */
			assert_int_equal(listed(fs), 0);
			assert_int_equal(files_on_disk(f), 0);
			storage_free(fs);
		}
	}
	free(data);
}

static void test_fault_only_path(void **state)
{
	fixture *f = *state;
	storage *inner, *fs;
	object_meta meta;
	bderr err;
	bderr_init(&err);
	fault_plan plan = { .only_path = "manifest.json", .fail_close = 1 };
	assert_int_equal(posix_storage_new(f->dir, &inner, &err), 0);
	fs = fault_storage_new(inner, &plan);
	assert_int_equal(write_object(fs, "a/data", 1, "abc", 3, 3, &meta, &err), 0);
	assert_int_equal(write_object(fs, "a/manifest.json", 0, "{}", 2, 2, &meta, &err), -1);
	assert_int_equal(listed(fs), 1);
	assert_int_equal(fault_storage_writes(fs), 1);
	storage_free(fs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_verification, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hash_of_content_or_stored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_and_failing_reads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_faults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_only_path, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
