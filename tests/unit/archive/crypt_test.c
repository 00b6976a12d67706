#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "archive/crypt.h"
#include "archive/object.h"
#include "archive/posix/posix.h"
#include "archive/repo.h"
#include "archive/repo_crypt.h"
#include "common/mem.h"
#include "tests/unit/testutil.h"

static const unsigned char KEY[CRYPT_KEY_LEN] = "0123456789abcdef0123456789abcdef";
static const unsigned char OTHER[CRYPT_KEY_LEN] = "0123456789abcdef0123456789abcdeX";

/* In-memory writer sink. */
typedef struct sink {
	writer base;
	strbuf data;
} sink;

static int sink_write(writer *w, const void *buf, size_t len, bderr *err)
{
	(void)err;
	strbuf_append(&((sink *)w)->data, buf, len);
	return 0;
}
static int sink_close(writer *w, bderr *err)
{
	(void)w;
	(void)err;
	return 0;
}
static void sink_free(writer *w)
{
	(void)w;
}
static const writer_ops sink_ops = { sink_write, sink_close, sink_free };

static unsigned char *pattern(size_t n)
{
	unsigned char *p = xmalloc(n ? n : 1);
	uint32_t x = 2463534242u;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (unsigned char)x;
	}
	return p;
}

/* Encrypts plain (written in pieces of step bytes) under id; caller frees. */
static char *seal(const unsigned char *plain, size_t n, size_t step, const char *id, size_t *len)
{
	sink s = { .base.ops = &sink_ops };
	strbuf_init(&s.data);
	bderr err;
	bderr_init(&err);
	writer *w = encrypt_writer_new(&s.base, KEY, id);
	for (size_t off = 0; off < n; off += step) {
		size_t k = n - off < step ? n - off : step;
		assert_int_equal(writer_write(w, plain + off, k, &err), 0);
	}
	assert_int_equal(writer_close(w, &err), 0);
	writer_free(w);
	*len = s.data.len;
	return strbuf_detach(&s.data);
}

/* Decrypts; 0 with the plaintext, or -1 with err (EBADMSG for any tampering). */
static int open_all(const char *data, size_t len, const unsigned char *key, const char *id,
		    size_t cap, strbuf *out, bderr *err)
{
	reader *r = decrypt_reader_new(mem_reader_new(data, len), key, id);
	unsigned char buf[CRYPT_CHUNK + 100];
	int rc;
	strbuf_init(out);
	for (;;) {
		size_t got = 0;
		rc = reader_read(r, buf, cap, &got, err);
		if (rc < 0 || got == 0)
			break;
		strbuf_append(out, buf, got);
	}
	reader_free(r);
	return rc;
}

static void expect_bad(const char *data, size_t len, const unsigned char *key, const char *id)
{
	strbuf out;
	bderr err;
	bderr_init(&err);
	assert_int_equal(open_all(data, len, key, id, 4096, &out, &err), -1);
	assert_int_equal(err.sys_errno, EBADMSG);
	assert_non_null(strstr(err.msg, id));
	strbuf_free(&out);
}

static void unhex(const char *h, unsigned char *out)
{
	for (size_t i = 0; h[2 * i]; i++) {
		unsigned v;
		sscanf(h + 2 * i, "%2x", &v);
		out[i] = (unsigned char)v;
	}
}

/* NIST GCM spec (McGrew & Viega) test case 16: AES-256, 60-byte text, AAD. */
static void test_gcm_known_answer(void **state)
{
	(void)state;
	unsigned char key[32], iv[12], aad[20], pt[60], ct[60], tag[16], out[60], got_tag[16];
	unhex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308", key);
	unhex("cafebabefacedbaddecaf888", iv);
	unhex("feedfacedeadbeeffeedfacedeadbeefabaddad2", aad);
	unhex("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
	      "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
	      pt);
	unhex("522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
	      "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
	      ct);
	unhex("76fc6ece0f4e1768cddf8853bb2d551b", tag);
	assert_int_equal(crypt_gcm(NULL, key, 1, iv, aad, sizeof aad, pt, sizeof pt, out, got_tag), 0);
	assert_memory_equal(out, ct, sizeof ct);
	assert_memory_equal(got_tag, tag, sizeof tag);
	assert_int_equal(crypt_gcm(NULL, key, 0, iv, aad, sizeof aad, ct, sizeof ct, out, tag), 0);
	assert_memory_equal(out, pt, sizeof pt);
	tag[0] ^= 1;
	assert_int_equal(crypt_gcm(NULL, key, 0, iv, aad, sizeof aad, ct, sizeof ct, out, tag), -1);
}

/* Every length around the chunk boundaries, written in several piece sizes. */
static void test_round_trip_boundaries(void **state)
{
	(void)state;
	const size_t C = CRYPT_CHUNK;
	size_t sizes[] = { 0, 1, 15, 16, 17, C - 1, C, C + 1, 2 * C - 1, 2 * C, 2 * C + 1, 3 * C + 7 };
	size_t steps[] = { 1, 7, 4096, C - 1, C, C + 1, 10 * C };
	unsigned char *plain = pattern(4 * C);
	for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
		for (size_t j = 0; j < sizeof steps / sizeof *steps; j++) {
			size_t n = sizes[i];
			if (steps[j] == 1 && n > 3 * C)
				continue;
			size_t len;
			char *ct = seal(plain, n, steps[j], "a/b", &len);
			assert_int_equal(len, crypt_stored_size(n));
			assert_int_equal(crypt_plain_size(len), n);
			size_t caps[] = { 1, 1000, C, C + 100 };
			for (size_t k = 0; k < 4; k++) {
				if (caps[k] == 1 && n > C + 1)
					continue;
				strbuf out;
				bderr err;
				bderr_init(&err);
				assert_int_equal(open_all(ct, len, KEY, "a/b", caps[k], &out, &err), 0);
				assert_int_equal(out.len, n);
				if (n)
					assert_memory_equal(out.data, plain, n);
				strbuf_free(&out);
			}
			free(ct);
		}
	}
	free(plain);
	/* sizes that no object can have */
	assert_true(crypt_plain_size(0) == UINT64_MAX);
	assert_true(crypt_plain_size(CRYPT_HEADER_LEN + CRYPT_TAG_LEN - 1) == UINT64_MAX);
	assert_true(crypt_plain_size(CRYPT_HEADER_LEN + CRYPT_CHUNK + 2 * CRYPT_TAG_LEN) ==
		    UINT64_MAX);
}

/* A flipped bit anywhere (header, body, tag of any chunk) is caught. */
static void test_tampering(void **state)
{
	(void)state;
	size_t n = 2 * CRYPT_CHUNK + 100, len;
	unsigned char *plain = pattern(n);
	char *ct = seal(plain, n, n, "src/backups/X/t.zst", &len);
	size_t where[] = { 0, 8, CRYPT_HEADER_LEN - 1, CRYPT_HEADER_LEN, CRYPT_HEADER_LEN + 5000,
			   CRYPT_HEADER_LEN + CRYPT_CHUNK + 3, CRYPT_HEADER_LEN + CRYPT_CHUNK + 16,
			   len - 17, len - 1 };
	for (size_t i = 0; i < sizeof where / sizeof *where; i++) {
		ct[where[i]] ^= 0x20;
		expect_bad(ct, len, KEY, "src/backups/X/t.zst");
		ct[where[i]] ^= 0x20;
	}
	/* the wrong key, and the right bytes under another object's identity */
	expect_bad(ct, len, OTHER, "src/backups/X/t.zst");
	expect_bad(ct, len, KEY, "src/backups/X/u.zst");
	free(ct);
	free(plain);
}

/* Cut anywhere, at chunk boundaries too, or extended: always caught. */
static void test_truncation(void **state)
{
	(void)state;
	size_t n = 3 * CRYPT_CHUNK, len;
	unsigned char *plain = pattern(n);
	char *ct = seal(plain, n, 5000, "x", &len);
	const size_t full = CRYPT_CHUNK + CRYPT_TAG_LEN;
	size_t cuts[] = { 0, 1, CRYPT_HEADER_LEN, CRYPT_HEADER_LEN + 1, CRYPT_HEADER_LEN + full,
			  CRYPT_HEADER_LEN + 2 * full, CRYPT_HEADER_LEN + 2 * full + 10, len - 1 };
	for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++)
		expect_bad(ct, cuts[i], KEY, "x");
	char *longer = xmalloc(len + 1);
	memcpy(longer, ct, len);
	longer[len] = 'x';
	expect_bad(longer, len + 1, KEY, "x");
	free(longer);
	free(ct);
	free(plain);
}

/* Whole chunks swapped or dropped from the middle fail authentication. */
static void test_reordering(void **state)
{
	(void)state;
	size_t n = 3 * CRYPT_CHUNK + 10, len;
	unsigned char *plain = pattern(n);
	char *ct = seal(plain, n, n, "x", &len);
	const size_t full = CRYPT_CHUNK + CRYPT_TAG_LEN;
	char *c0 = ct + CRYPT_HEADER_LEN, *c1 = c0 + full;
	char *tmp = xmalloc(full);
	memcpy(tmp, c0, full);
	memcpy(c0, c1, full);
	memcpy(c1, tmp, full);
	expect_bad(ct, len, KEY, "x");
	memcpy(c1, c0, full);
	memcpy(c0, tmp, full);
	/* restored: fine again; then chunk 1 removed */
	strbuf out;
	bderr err;
	bderr_init(&err);
	assert_int_equal(open_all(ct, len, KEY, "x", 4096, &out, &err), 0);
	strbuf_free(&out);
	memmove(c1, c1 + full, len - (size_t)(c1 + full - ct));
	expect_bad(ct, len - full, KEY, "x");
	free(tmp);
	free(ct);
	free(plain);
}

/* backupd.repo's key fields: unwrap, wrong passphrase, rewrap. */
static void test_marker_keys(void **state)
{
	(void)state;
	const char *pass = "correct horse battery staple, 32+ bytes";
	unsigned char dek[CRYPT_KEY_LEN], dek2[CRYPT_KEY_LEN];
	bderr err;
	bderr_init(&err);
	json_t *m = json_object();
	assert_int_equal(crypt_marker_create(m, pass, "r", dek, &err), 0);
	char *text = json_dumps(m, 0);
	assert_null(strstr(text, pass));
	free(text);
	assert_int_equal(crypt_marker_unlock(m, pass, "r", dek2, &err), 0);
	assert_memory_equal(dek, dek2, sizeof dek);
	/* two creators of one repository with one key agree on its data key */
	json_t *m2 = json_object();
	assert_int_equal(crypt_marker_create(m2, pass, "r", dek2, &err), 0);
	assert_memory_equal(dek, dek2, sizeof dek);
	assert_int_equal(crypt_marker_create(m2, pass, "elsewhere", dek2, &err), 0);
	assert_memory_not_equal(dek, dek2, sizeof dek);
	json_decref(m2);
	assert_int_equal(crypt_marker_unlock(m, "another passphrase of 32 bytes or more", "r", dek2, &err), -1);
	assert_int_equal(err.exit_code, 2);
	assert_non_null(strstr(err.msg, "wrong encryption key"));
	assert_int_equal(crypt_marker_wrap(m, "the new passphrase, also long enough", dek, &err), 0);
	bderr_init(&err);
	assert_int_equal(crypt_marker_unlock(m, pass, "r", dek2, &err), -1);
	assert_int_equal(crypt_marker_unlock(m, "the new passphrase, also long enough", "r", dek2, &err), 0);
	assert_memory_equal(dek, dek2, sizeof dek);
	json_decref(m);
}

typedef struct collected {
	char *paths[16];
	size_t n;
} collected;

static int collect(void *ctx, const char *path, uint64_t size, bderr *err)
{
	collected *c = ctx;
	(void)size;
	(void)err;
	if (c->n < 16)
		c->paths[c->n++] = xstrdup(path);
	return 0;
}

static void collected_free(collected *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->paths[i]);
	c->n = 0;
}

static int open_dir(const char *dir, int create, const char *key, repo **r, bderr *err)
{
	storage *s;
	if (posix_storage_new(dir, &s, err) < 0)
		return -1;
	return repo_open_storage_key(s, create, key, r, err);
}

/* A repository is encrypted from creation; keys are checked on open. */
static void test_repo_encrypted(void **state)
{
	(void)state;
	char dir[] = "/tmp/crypt_test.XXXXXX";
	assert_non_null(mkdtemp(dir));
	const char *key = "a repository key of at least 32 bytes";
	bderr err;
	bderr_init(&err);
	repo *r;
	assert_int_equal(open_dir(dir, 1, key, &r, &err), 0);
	assert_true(repo_encrypted(r));
	object_writer *ow;
	object_meta meta;
	assert_int_equal(object_writer_open(repo_storage(r), "s/backups/1/t", 1, &ow, &err), 0);
	assert_int_equal(object_writer_write(ow, "hello hello hello", 17, &err), 0);
	assert_int_equal(object_writer_close(ow, &meta, &err), 0);
	object_writer_free(ow);
	storage_info info;
	assert_int_equal(storage_info_get(repo_storage(r), "s/backups/1/t", &info, &err), 0);
	assert_int_equal(info.size, meta.stored_size);
	repo_free(r);

	/* on disk: no plaintext, no zstd magic, no source or object name */
	storage *raw;
	assert_int_equal(posix_storage_new(dir, &raw, &err), 0);
	collected all = { 0 };
	assert_int_equal(storage_list(raw, "", collect, &all, &err), 0);
	storage_free(raw);
	char *path = NULL;
	for (size_t i = 0; i < all.n; i++) {
		assert_null(strstr(all.paths[i], "s/backups/1/t"));
		assert_null(strstr(all.paths[i], "/t"));
		if (strstr(all.paths[i], "/o/"))
			path = xasprintf("%s/%s", dir, all.paths[i]);
	}
	collected_free(&all);
	assert_non_null(path);
	FILE *f = fopen(path, "rb");
	char buf[256];
	size_t n = fread(buf, 1, sizeof buf, f);
	fclose(f);
	assert_int_equal(n, crypt_stored_size(meta.stored_size));
	assert_memory_equal(buf, "BDENC1\n", 7);
	free(path);

	/* through the repository, listings show the logical names */
	assert_int_equal(open_dir(dir, 0, key, &r, &err), 0);
	assert_int_equal(storage_list(repo_storage(r), "", collect, &all, &err), 0);
	assert_int_equal(all.n, 2);
	int seen_marker = 0, seen_object = 0;
	for (size_t i = 0; i < all.n; i++) {
		seen_marker |= strcmp(all.paths[i], REPO_MARKER) == 0;
		seen_object |= strncmp(all.paths[i], "s/backups/1/o/", 14) == 0;
	}
	assert_true(seen_marker && seen_object);
	collected_free(&all);
	assert_int_equal(storage_list(repo_storage(r), "s/backups/", collect, &all, &err), 0);
	assert_int_equal(all.n, 1);
	/* a listed path is one that can be removed */
	assert_int_equal(storage_remove(repo_storage(r), all.paths[0], &err), 0);
	collected_free(&all);
	assert_int_equal(storage_info_get(repo_storage(r), "s/backups/1/t", &info, &err), 0);
	assert_false(info.exists);
	repo_free(r);

	assert_int_equal(open_dir(dir, 0, NULL, &r, &err), -1);
	assert_int_equal(err.exit_code, 2);
	assert_non_null(strstr(err.msg, "is encrypted"));
	bderr_init(&err);
	assert_int_equal(open_dir(dir, 1, "the wrong key, but long enough...", &r, &err), -1);
	assert_int_equal(err.exit_code, 2);
	assert_non_null(strstr(err.msg, "wrong encryption key"));

	/* rotate: the old key stops working, objects are untouched and readable */
	bderr_init(&err);
	assert_int_equal(open_dir(dir, 0, key, &r, &err), 0);
	assert_int_equal(object_writer_open(repo_storage(r), "s/backups/1/t", 1, &ow, &err), 0);
	assert_int_equal(object_writer_write(ow, "hello hello hello", 17, &err), 0);
	assert_int_equal(object_writer_close(ow, &meta, &err), 0);
	object_writer_free(ow);
	assert_int_equal(repo_rotate_key(r, "the rotated key, 32 bytes or more", &err), 0);
	repo_free(r);
	assert_int_equal(open_dir(dir, 0, key, &r, &err), -1);
	bderr_init(&err);
	assert_int_equal(open_dir(dir, 0, "the rotated key, 32 bytes or more", &r, &err), 0);
	object_reader *orr;
	assert_int_equal(object_reader_open(repo_storage(r), "s/backups/1/t", 1, &meta, &orr, &err), 0);
	size_t got;
	assert_int_equal(object_reader_read(orr, buf, sizeof buf, &got, &err), 0);
	assert_int_equal(got, 17);
	object_reader_free(orr);
	repo_free(r);
	test_rm_rf(dir);

	/* a key for a plaintext repository is refused */
	assert_non_null(mkdtemp(strcpy(dir, "/tmp/crypt_test.XXXXXX")));
	assert_int_equal(open_dir(dir, 1, NULL, &r, &err), 0);
	repo_free(r);
	assert_int_equal(open_dir(dir, 1, key, &r, &err), -1);
	assert_int_equal(err.exit_code, 2);
	assert_non_null(strstr(err.msg, "not encrypted"));
	test_rm_rf(dir);
}

/* IDs are claimed through the encrypting layer too: sealed backup.started, next suffix on collision. */
static void test_repo_encrypted_claims(void **state)
{
	(void)state;
	char dir[] = "/tmp/crypt_test.XXXXXX";
	assert_non_null(mkdtemp(dir));
	bderr err;
	bderr_init(&err);
	repo *r;
	assert_int_equal(open_dir(dir, 1, "a repository key of at least 32 bytes", &r, &err), 0);
	char *a = NULL, *b = NULL;
	assert_int_equal(repo_backup_begin(r, "s", 1795256100, &a, &err), 0);
	assert_int_equal(repo_backup_begin(r, "s", 1795256100, &b, &err), 0);
	assert_string_equal(a, "20261121T101500Z");
	assert_string_equal(b, "20261121T101500Z-2");
	char *path = repo_backup_path("s", a, "backup.started");
	char *text;
	size_t len;
	assert_int_equal(storage_get(repo_storage(r), path, &text, &len, 4096, &err), 0);
	assert_non_null(strstr(text, "\"pid\""));
	free(text);
	free(path);
	assert_int_equal(repo_backup_writer_gone(r, "s", a, NULL, 0), 0); /* that is us */
	size_t removed;
	assert_int_equal(storage_sweep(repo_storage(r), "s/", 0, &removed, &err), 0);
	assert_int_equal(removed, 0);
	free(a);
	free(b);
	repo_free(r);
	test_rm_rf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gcm_known_answer),
		cmocka_unit_test(test_round_trip_boundaries),
		cmocka_unit_test(test_tampering),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_reordering),
		cmocka_unit_test(test_marker_keys),
		cmocka_unit_test(test_repo_encrypted),
		cmocka_unit_test(test_repo_encrypted_claims),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
