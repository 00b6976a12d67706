#include "archive/repo_crypt.h"

#include <errno.h>
#include <string.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "archive/repo.h"
#include "common/mem.h"

/*
 * The key file holds at least 32 bytes (a random key or a long passphrase),
 * so the KDF is a stretch, not the main defence; it stays cheap (about 2 ms)
 * because archive_command runs wal-push once per WAL segment, and each call
 * opens the repository.  The count is recorded, so a later version can raise
 * it for new keys without breaking old repositories.
 */
#define KDF_NAME "pbkdf2-sha256"
#define KDF_ITERATIONS 2000
#define KDF_ITERATIONS_MAX 10000000
#define KDF_SALT_LEN 32
#define WRAP_NONCE_LEN CRYPT_NONCE_LEN
#define WRAPPED_LEN (WRAP_NONCE_LEN + CRYPT_KEY_LEN + CRYPT_TAG_LEN)
#define CHECK_LEN 16

static const char WRAP_AAD[] = "backupd repository data key";
static const char CHECK_MSG[] = "backupd key check";

static char *hex_encode(const unsigned char *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	char *s = xmalloc(2 * n + 1);
	for (size_t i = 0; i < n; i++) {
		s[2 * i] = digits[p[i] >> 4];
		s[2 * i + 1] = digits[p[i] & 15];
	}
	s[2 * n] = '\0';
	return s;
}

static int hex_decode(const char *s, unsigned char *out, size_t n)
{
	if (s == NULL || strlen(s) != 2 * n)
		return -1;
	for (size_t i = 0; i < 2 * n; i++) {
		char c = s[i];
		int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
		if (v < 0)
			return -1;
		if (i % 2 == 0)
			out[i / 2] = (unsigned char)(v << 4);
		else
			out[i / 2] |= (unsigned char)v;
	}
	return 0;
}

/* Key-encryption key and key check value from the passphrase. */
static int derive_kek(const char *passphrase, const unsigned char *salt, long iterations,
		      unsigned char kek[CRYPT_KEY_LEN], unsigned char check[CHECK_LEN])
{
	unsigned char mac[32];
	unsigned int len = 0;
	if (PKCS5_PBKDF2_HMAC(passphrase, (int)strlen(passphrase), salt, KDF_SALT_LEN,
			      (int)iterations, EVP_sha256(), CRYPT_KEY_LEN, kek) != 1)
		return -1;
	if (HMAC(EVP_sha256(), kek, CRYPT_KEY_LEN, (const unsigned char *)CHECK_MSG,
		 sizeof CHECK_MSG - 1, mac, &len) == NULL)
		return -1;
	memcpy(check, mac, CHECK_LEN);
	return 0;
}

/* AES-256-GCM of the data key under kek; nonce || key || tag is WRAPPED_LEN bytes. */
static int wrap_cipher(const unsigned char kek[CRYPT_KEY_LEN], int encrypt,
		       const unsigned char *nonce, const unsigned char *in, unsigned char *out,
		       unsigned char *tag)
{
	return crypt_gcm(NULL, kek, encrypt, nonce, (const unsigned char *)WRAP_AAD,
			 sizeof WRAP_AAD - 1, in, CRYPT_KEY_LEN, out, tag);
}

int crypt_marker_wrap(json_t *marker, const char *passphrase,
		      const unsigned char dek[CRYPT_KEY_LEN], bderr *err)
{
	unsigned char salt[KDF_SALT_LEN], kek[CRYPT_KEY_LEN], check[CHECK_LEN];
	unsigned char wrapped[WRAPPED_LEN];
	if (crypt_random(salt, sizeof salt, err) < 0 ||
	    crypt_random(wrapped, WRAP_NONCE_LEN, err) < 0)
		return -1;
	int rc = derive_kek(passphrase, salt, KDF_ITERATIONS, kek, check);
	if (rc == 0)
		rc = wrap_cipher(kek, 1, wrapped, dek, wrapped + WRAP_NONCE_LEN,
				 wrapped + WRAP_NONCE_LEN + CRYPT_KEY_LEN);
	OPENSSL_cleanse(kek, sizeof kek);
	if (rc < 0)
		return bderr_set(err, "cannot wrap the repository key: AES-256-GCM failed");
	char *salt_hex = hex_encode(salt, sizeof salt);
	char *check_hex = hex_encode(check, sizeof check);
	char *wrapped_hex = hex_encode(wrapped, sizeof wrapped);
	json_object_set_new(marker, "cipher", json_string(CRYPT_CIPHER));
	json_object_set_new(marker, "chunk_size", json_integer(CRYPT_CHUNK));
	json_object_set_new(marker, "kdf", json_pack("{s:s, s:i, s:s}", "name", KDF_NAME,
						     "iterations", KDF_ITERATIONS, "salt", salt_hex));
	json_object_set_new(marker, "key_check", json_string(check_hex));
	json_object_set_new(marker, "wrapped_key", json_string(wrapped_hex));
	free(salt_hex);
	free(check_hex);
	free(wrapped_hex);
	return 0;
}

int crypt_marker_create(json_t *marker, const char *passphrase, unsigned char dek[CRYPT_KEY_LEN],
			bderr *err)
{
	if (crypt_random(dek, CRYPT_KEY_LEN, err) < 0)
		return -1;
	return crypt_marker_wrap(marker, passphrase, dek, err);
}

int crypt_marker_unlock(const json_t *marker, const char *passphrase, const char *where,
			unsigned char dek[CRYPT_KEY_LEN], bderr *err)
{
	unsigned char salt[KDF_SALT_LEN], kek[CRYPT_KEY_LEN], check[CHECK_LEN], want[CHECK_LEN];
	unsigned char wrapped[WRAPPED_LEN];
	json_t *kdf = json_object_get(marker, "kdf");
	json_t *chunk = json_object_get(marker, "chunk_size");
	const char *name = json_string_value(json_object_get(kdf, "name"));
	json_int_t iterations = json_integer_value(json_object_get(kdf, "iterations"));
	if (!json_is_integer(chunk) || json_integer_value(chunk) != CRYPT_CHUNK || name == NULL ||
	    strcmp(name, KDF_NAME) != 0 || iterations < 1 || iterations > KDF_ITERATIONS_MAX ||
	    hex_decode(json_string_value(json_object_get(kdf, "salt")), salt, sizeof salt) < 0 ||
	    hex_decode(json_string_value(json_object_get(marker, "key_check")), want, sizeof want) < 0 ||
	    hex_decode(json_string_value(json_object_get(marker, "wrapped_key")), wrapped,
		       sizeof wrapped) < 0)
		return bderr_set(err, "'%s' is not a valid backupd repository: the encryption parameters in %s are damaged or unsupported",
				 where, REPO_MARKER);
	if (derive_kek(passphrase, salt, (long)iterations, kek, check) < 0) {
		OPENSSL_cleanse(kek, sizeof kek);
		return bderr_set(err, "cannot derive the key of repository '%s'", where);
	}
	int rc = 0;
	if (CRYPTO_memcmp(check, want, CHECK_LEN) != 0 ||
	    wrap_cipher(kek, 0, wrapped, wrapped + WRAP_NONCE_LEN, dek,
			wrapped + WRAP_NONCE_LEN + CRYPT_KEY_LEN) < 0) {
		OPENSSL_cleanse(dek, CRYPT_KEY_LEN);
		rc = bderr_usage(err, "wrong encryption key for repository '%s' (the key file does not match the key it was created with)",
				 where);
	}
	OPENSSL_cleanse(kek, sizeof kek);
	return rc;
}

/* --- the encrypting storage ------------------------------------------------ */

typedef struct crypt_storage {
	storage base;
	storage *inner;
	unsigned char dek[CRYPT_KEY_LEN];
} crypt_storage;

static int passes_through(const char *path)
{
	return strcmp(path, REPO_MARKER) == 0;
}

static int cs_open_read(storage *s, const char *path, reader **out, bderr *err)
{
	crypt_storage *c = (crypt_storage *)s;
	reader *r;
	if (storage_open_read(c->inner, path, &r, err) < 0)
		return -1;
	*out = passes_through(path) ? r : decrypt_reader_new(r, c->dek, path);
	return 0;
}

static int cs_open_write(storage *s, const char *path, writer **out, bderr *err)
{
	crypt_storage *c = (crypt_storage *)s;
	writer *w;
	if (storage_open_write(c->inner, path, &w, err) < 0)
		return -1;
	*out = passes_through(path) ? w : encrypt_writer_new(w, c->dek, path);
	return 0;
}

typedef struct cs_list_ctx {
	storage_list_cb cb;
	void *ctx;
} cs_list_ctx;

/* Sizes the callers compare with manifests are the sizes before encryption. */
static uint64_t plain_size(const char *path, uint64_t stored)
{
	return passes_through(path) ? stored : crypt_plain_size(stored);
}

static int cs_list_cb(void *ctx, const char *path, uint64_t size, bderr *err)
{
	cs_list_ctx *l = ctx;
	return l->cb(l->ctx, path, plain_size(path, size), err);
}

static int cs_list(storage *s, const char *prefix, storage_list_cb cb, void *ctx, bderr *err)
{
	crypt_storage *c = (crypt_storage *)s;
	cs_list_ctx l = { cb, ctx };
	return storage_list(c->inner, prefix, cs_list_cb, &l, err);
}

static int cs_remove(storage *s, const char *path, bderr *err)
{
	return storage_remove(((crypt_storage *)s)->inner, path, err);
}

static int cs_remove_many(storage *s, const char *const *paths, size_t n, bderr *err)
{
	return storage_remove_many(((crypt_storage *)s)->inner, paths, n, err);
}

static int cs_info(storage *s, const char *path, storage_info *out, bderr *err)
{
	crypt_storage *c = (crypt_storage *)s;
	if (storage_info_get(c->inner, path, out, err) < 0)
		return -1;
	if (out->exists)
		out->size = plain_size(path, out->size);
	return 0;
}

static void cs_free(storage *s)
{
	crypt_storage *c = (crypt_storage *)s;
	storage_free(c->inner);
	OPENSSL_cleanse(c->dek, sizeof c->dek);
	free(c->base.url);
	free(c);
}

static const storage_driver crypt_driver = {
	.name = "encrypted",
	.open_read = cs_open_read,
	.open_write = cs_open_write,
	.list = cs_list,
	.remove = cs_remove,
	.remove_many = cs_remove_many,
	.info = cs_info,
	.free = cs_free,
};

storage *crypt_storage_new(storage *inner, const unsigned char dek[CRYPT_KEY_LEN])
{
	crypt_storage *c = xcalloc(1, sizeof *c);
	c->base.driver = &crypt_driver;
	c->base.url = xstrdup(inner->url);
	c->inner = inner;
	memcpy(c->dek, dek, CRYPT_KEY_LEN);
	return &c->base;
}
