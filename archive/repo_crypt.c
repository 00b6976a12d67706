#include "archive/repo_crypt.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
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

static char *hex_dup(const unsigned char *p, size_t n)
{
	char *s = xmalloc(2 * n + 1);
	hex_encode(p, n, s);
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
	char *salt_hex = hex_dup(salt, sizeof salt);
	char *check_hex = hex_dup(check, sizeof check);
	char *wrapped_hex = hex_dup(wrapped, sizeof wrapped);
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

/*
 * The data key a new repository gets is derived from the key file and the
 * repository's location, not drawn at random: two processes that create the
 * same repository at once with the same key (a dump and a wal-push) then
 * write objects under the same data key, whichever backupd.repo wins.
 * Rotation rewraps that key, so it stays the data key for good.
 */
static int initial_data_key(const char *passphrase, const char *where,
			    unsigned char dek[CRYPT_KEY_LEN])
{
	unsigned char stretched[CRYPT_KEY_LEN];
	unsigned int len = 0;
	char *salt = xasprintf("backupd repository data key:%s", where);
	int ok = PKCS5_PBKDF2_HMAC(passphrase, (int)strlen(passphrase), (const unsigned char *)salt,
				   (int)strlen(salt), KDF_ITERATIONS, EVP_sha256(), CRYPT_KEY_LEN,
				   stretched) == 1;
	ok = ok && HMAC(EVP_sha256(), stretched, CRYPT_KEY_LEN, (const unsigned char *)"data key", 8,
			dek, &len) != NULL;
	OPENSSL_cleanse(stretched, sizeof stretched);
	free(salt);
	return ok ? 0 : -1;
}

int crypt_marker_create(json_t *marker, const char *passphrase, const char *where,
			unsigned char dek[CRYPT_KEY_LEN], bderr *err)
{
	if (initial_data_key(passphrase, where, dek) < 0)
		return bderr_set(err, "cannot derive the data key of repository '%s'", where);
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

/*
 * Names.  A logical path "<source>/<rest>" is stored as "<H(source)>/<rest'>":
 * H is "s" + 32 hex digits of an HMAC of the source name, so the listing
 * shows no database name; "<H>/name" holds the name itself, encrypted, for
 * listings to map back.  In rest, an object of a backup
 * ("backups/<ID>/<object>") becomes "backups/<ID>/o/<40 hex digits>": object
 * names carry database, schema and table names, and readers find objects
 * through the (encrypted) manifest.  Listings report such objects as
 * "<source>/backups/<ID>/o/<hex>", which maps to itself, so a listed path can
 * be removed.  manifest.json, backup.started, WAL file names and backup IDs
 * stay as they are: they name nothing of the database.
 */
#define HIDDEN_SOURCE_LEN 33
#define HIDDEN_OBJECT_HEX 40
#define NAME_RECORD "name"
#define NAME_RECORD_MAX 1024

typedef struct known_source {
	char hidden[HIDDEN_SOURCE_LEN + 1];
	char *name;
	int recorded; /* its name record is known to exist */
} known_source;

typedef struct crypt_storage {
	storage base;
	storage *inner;
	unsigned char dek[CRYPT_KEY_LEN];
	unsigned char name_key[CRYPT_KEY_LEN];
	pthread_mutex_t mu; /* sources */
	known_source *sources;
	size_t n_sources, cap_sources;
} crypt_storage;

static int passes_through(const char *path)
{
	return strcmp(path, REPO_MARKER) == 0;
}

static void name_mac(const crypt_storage *c, const char *kind, const char *s, size_t n,
		     char *hex, size_t hex_len)
{
	unsigned char mac[32];
	unsigned int len = 0;
	strbuf b;
	strbuf_init(&b);
	strbuf_appendf(&b, "%s:", kind);
	strbuf_append(&b, s, n);
	HMAC(EVP_sha256(), c->name_key, CRYPT_KEY_LEN, (const unsigned char *)b.data, b.len, mac, &len);
	strbuf_free(&b);
	char *h = hex_dup(mac, sizeof mac);
	memcpy(hex, h, hex_len);
	hex[hex_len] = '\0';
	free(h);
}

static int is_hidden_object(const char *obj)
{
	if (strncmp(obj, "o/", 2) != 0 || strlen(obj + 2) != HIDDEN_OBJECT_HEX)
		return 0;
	return strspn(obj + 2, "0123456789abcdef") == HIDDEN_OBJECT_HEX;
}

/*
 * Physical path (or prefix) of a logical one.  A prefix is mapped up to its
 * last complete component that can be mapped; the caller filters the
 * listing on the logical prefix.
 */
static char *map_path(const crypt_storage *c, const char *path, int is_prefix)
{
	const char *slash = strchr(path, '/');
	if (passes_through(path) || slash == NULL)
		return is_prefix ? xstrdup("") : xstrdup(path);
	char src[HIDDEN_SOURCE_LEN + 1];
	src[0] = 's';
	name_mac(c, "source", path, (size_t)(slash - path), src + 1, HIDDEN_SOURCE_LEN - 1);
	const char *rest = slash + 1;
	if (strncmp(rest, "backups/", 8) != 0)
		return xasprintf("%s/%s", src, rest);
	const char *id = rest + 8;
	const char *id_end = strchr(id, '/');
	if (id_end == NULL)
		return xasprintf("%s/%s", src, is_prefix ? "backups/" : rest);
	const char *obj = id_end + 1;
	if (is_prefix || *obj == '\0' || strcmp(obj, "manifest.json") == 0 ||
	    strcmp(obj, "backup.started") == 0 || is_hidden_object(obj))
		return xasprintf("%s/backups/%.*s/%s", src, (int)(id_end - id), id,
				 is_prefix ? "" : obj);
	/* keyed by the ID too: two backups' listings do not show which objects they share */
	char hex[HIDDEN_OBJECT_HEX + 1];
	name_mac(c, "object", id, strlen(id), hex, HIDDEN_OBJECT_HEX);
	return xasprintf("%s/backups/%.*s/o/%s", src, (int)(id_end - id), id, hex);
}

static char *record_path(const char *hidden)
{
	return xasprintf("%s/" NAME_RECORD, hidden);
}

/* The known_source for hidden, or NULL; c->mu held. */
static known_source *find_source(crypt_storage *c, const char *hidden, size_t len)
{
	for (size_t i = 0; i < c->n_sources; i++)
		if (strlen(c->sources[i].hidden) == len && strncmp(c->sources[i].hidden, hidden, len) == 0)
			return &c->sources[i];
	return NULL;
}

static known_source *add_source(crypt_storage *c, const char *hidden, const char *name)
{
	if (c->n_sources == c->cap_sources) {
		c->cap_sources = c->cap_sources ? 2 * c->cap_sources : 8;
		c->sources = xrealloc(c->sources, c->cap_sources * sizeof *c->sources);
	}
	known_source *k = &c->sources[c->n_sources++];
	memset(k, 0, sizeof *k);
	snprintf(k->hidden, sizeof k->hidden, "%s", hidden);
	k->name = xstrdup(name);
	return k;
}

/* Writes <H>/name for the source of logical path, once per process. */
static int ensure_record(crypt_storage *c, const char *path, const char *physical, bderr *err)
{
	const char *slash = strchr(path, '/');
	const char *pslash = strchr(physical, '/');
	if (slash == NULL || pslash == NULL)
		return 0;
	size_t hlen = (size_t)(pslash - physical);
	pthread_mutex_lock(&c->mu);
	known_source *k = find_source(c, physical, hlen);
	int done = k && k->recorded;
	pthread_mutex_unlock(&c->mu);
	if (done)
		return 0;
	char *hidden = xstrndup(physical, hlen);
	char *name = xstrndup(path, (size_t)(slash - path));
	char *rec = record_path(hidden);
	storage_info info;
	int rc = storage_info_get(c->inner, rec, &info, err);
	if (rc == 0 && !info.exists) {
		writer *w;
		rc = storage_open_write(c->inner, rec, &w, err);
		if (rc == 0) {
			w = encrypt_writer_new(w, c->dek, rec);
			rc = writer_write(w, name, strlen(name), err);
			if (rc == 0)
				rc = writer_close(w, err);
			writer_free(w);
		}
	}
	if (rc == 0) {
		pthread_mutex_lock(&c->mu);
		k = find_source(c, hidden, hlen);
		if (k == NULL)
			k = add_source(c, hidden, name);
		k->recorded = 1;
		pthread_mutex_unlock(&c->mu);
	}
	free(rec);
	free(name);
	free(hidden);
	return rc;
}

/* The source name behind hidden (read from its record once); NULL if unknown. */
static const char *source_name(crypt_storage *c, const char *hidden, size_t len, bderr *err)
{
	pthread_mutex_lock(&c->mu);
	known_source *k = find_source(c, hidden, len);
	const char *name = k ? k->name : NULL;
	pthread_mutex_unlock(&c->mu);
	if (name)
		return name;
	char *h = xstrndup(hidden, len);
	char *rec = record_path(h);
	reader *r;
	char *data = NULL;
	size_t n = 0;
	int rc = storage_open_read(c->inner, rec, &r, err);
	if (rc == 0) {
		r = decrypt_reader_new(r, c->dek, rec);
		rc = reader_read_all(r, &data, &n, NAME_RECORD_MAX, err);
		reader_free(r);
	}
	if (rc == 0) {
		/* a record copied from another source's directory must not rename it */
		char check[HIDDEN_SOURCE_LEN + 1];
		check[0] = 's';
		name_mac(c, "source", data, n, check + 1, HIDDEN_SOURCE_LEN - 1);
		if (strcmp(check, h) != 0)
			rc = bderr_set(err, "'%s' names another source", rec);
	}
	if (rc == 0) {
		pthread_mutex_lock(&c->mu);
		known_source *k2 = find_source(c, h, len);
		if (k2 == NULL)
			k2 = add_source(c, h, data);
		k2->recorded = 1;
		name = k2->name;
		pthread_mutex_unlock(&c->mu);
	} else {
		bderr_prefix(err, "cannot read the source name record of '%s'", h);
	}
	free(data);
	free(rec);
	free(h);
	return name;
}

static int cs_open_read(storage *s, const char *path, reader **out, bderr *err)
{
	crypt_storage *c = (crypt_storage *)s;
	reader *r;
	char *physical = map_path(c, path, 0);
	int rc = storage_open_read(c->inner, physical, &r, err);
	free(physical);
	if (rc < 0)
		return -1;
	/* the logical path is the identity bound into every chunk, and what errors name */
	*out = passes_through(path) ? r : decrypt_reader_new(r, c->dek, path);
	return 0;
}

static int cs_open_write(storage *s, const char *path, writer **out, bderr *err)
{
	crypt_storage *c = (crypt_storage *)s;
	writer *w;
	char *physical = map_path(c, path, 0);
	int rc = passes_through(path) ? 0 : ensure_record(c, path, physical, err);
	if (rc == 0)
		rc = storage_open_write(c->inner, physical, &w, err);
	free(physical);
	if (rc < 0)
		return -1;
	*out = passes_through(path) ? w : encrypt_writer_new(w, c->dek, path);
	return 0;
}

typedef struct cs_list_ctx {
	crypt_storage *c;
	const char *prefix;
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
	if (passes_through(path))
		return strncmp(path, l->prefix, strlen(l->prefix)) == 0 ? l->cb(l->ctx, path, size, err) : 0;
	const char *slash = strchr(path, '/');
	/* not something this storage wrote (the name records are internal) */
	if (slash == NULL || path[0] != 's' || (size_t)(slash - path) != HIDDEN_SOURCE_LEN ||
	    strcmp(slash + 1, NAME_RECORD) == 0)
		return 0;
	const char *name = source_name(l->c, path, (size_t)(slash - path), err);
	if (name == NULL)
		return -1;
	char *logical = xasprintf("%s/%s", name, slash + 1);
	int rc = 0;
	if (strncmp(logical, l->prefix, strlen(l->prefix)) == 0)
		rc = l->cb(l->ctx, logical, plain_size(path, size), err);
	free(logical);
	return rc;
}

static int cs_list(storage *s, const char *prefix, storage_list_cb cb, void *ctx, bderr *err)
{
	crypt_storage *c = (crypt_storage *)s;
	cs_list_ctx l = { c, prefix, cb, ctx };
	char *physical = map_path(c, prefix, 1);
	int rc = storage_list(c->inner, physical, cs_list_cb, &l, err);
	free(physical);
	return rc;
}

static int cs_remove(storage *s, const char *path, bderr *err)
{
	crypt_storage *c = (crypt_storage *)s;
	char *physical = map_path(c, path, 0);
	int rc = storage_remove(c->inner, physical, err);
	free(physical);
	return rc;
}

static int cs_remove_many(storage *s, const char *const *paths, size_t n, bderr *err)
{
	crypt_storage *c = (crypt_storage *)s;
	char **physical = xcalloc(n ? n : 1, sizeof *physical);
	for (size_t i = 0; i < n; i++)
		physical[i] = map_path(c, paths[i], 0);
	int rc = storage_remove_many(c->inner, (const char *const *)physical, n, err);
	for (size_t i = 0; i < n; i++)
		free(physical[i]);
	free(physical);
	return rc;
}

static int cs_info(storage *s, const char *path, storage_info *out, bderr *err)
{
	crypt_storage *c = (crypt_storage *)s;
	char *physical = map_path(c, path, 0);
	int rc = storage_info_get(c->inner, physical, out, err);
	free(physical);
	if (rc < 0)
		return -1;
	if (out->exists)
		out->size = plain_size(path, out->size);
	return 0;
}

/* Sealed whole in memory first: the claim is one exclusive create of the inner storage. */
static int cs_put_new(storage *s, const char *path, const void *data, size_t len, bderr *err)
{
	crypt_storage *c = (crypt_storage *)s;
	char *physical = map_path(c, path, 0);
	if (passes_through(path)) {
		int rc = storage_put_new(c->inner, physical, data, len, err);
		free(physical);
		return rc;
	}
	strbuf sealed;
	strbuf_init(&sealed);
	int rc = ensure_record(c, path, physical, err);
	if (rc == 0) {
		writer *w = encrypt_writer_new(mem_writer_new(&sealed), c->dek, path);
		rc = writer_write(w, data, len, err);
		if (rc == 0)
			rc = writer_close(w, err);
		writer_free(w);
	}
	if (rc == 0)
		rc = storage_put_new(c->inner, physical, sealed.data, sealed.len, err);
	strbuf_free(&sealed);
	free(physical);
	return rc;
}

static int cs_sweep(storage *s, const char *prefix, time_t older_than, size_t *removed,
		    bderr *err)
{
	crypt_storage *c = (crypt_storage *)s;
	char *physical = map_path(c, prefix, 1);
	int rc = storage_sweep(c->inner, physical, older_than, removed, err);
	free(physical);
	return rc;
}

static void cs_free(storage *s)
{
	crypt_storage *c = (crypt_storage *)s;
	storage_free(c->inner);
	OPENSSL_cleanse(c->dek, sizeof c->dek);
	OPENSSL_cleanse(c->name_key, sizeof c->name_key);
	for (size_t i = 0; i < c->n_sources; i++)
		free(c->sources[i].name);
	free(c->sources);
	pthread_mutex_destroy(&c->mu);
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
	.put_new = cs_put_new,
	.sweep = cs_sweep,
	.free = cs_free,
};

storage *crypt_storage_new(storage *inner, const unsigned char dek[CRYPT_KEY_LEN])
{
	crypt_storage *c = xcalloc(1, sizeof *c);
	c->base.driver = &crypt_driver;
	c->base.url = xstrdup(inner->url);
	c->inner = inner;
	memcpy(c->dek, dek, CRYPT_KEY_LEN);
	unsigned int len = 0;
	HMAC(EVP_sha256(), dek, CRYPT_KEY_LEN, (const unsigned char *)"backupd names", 13, c->name_key,
	     &len);
	pthread_mutex_init(&c->mu, NULL);
	return &c->base;
}
