#include "archive/crypt.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "common/mem.h"

static const unsigned char MAGIC[8] = { 'B', 'D', 'E', 'N', 'C', '1', '\n', '\0' };
#define SALT_LEN (CRYPT_HEADER_LEN - sizeof MAGIC)
/* AAD = "backupd1" || be64 chunk index || final flag || object identity */
#define AAD_FIXED 17

int crypt_random(void *buf, size_t len, bderr *err)
{
	if (RAND_bytes(buf, (int)len) != 1)
		return bderr_set(err, "the random number generator failed");
	return 0;
}

uint64_t crypt_stored_size(uint64_t plain)
{
	uint64_t chunks = plain == 0 ? 1 : (plain + CRYPT_CHUNK - 1) / CRYPT_CHUNK;
	return CRYPT_HEADER_LEN + plain + chunks * CRYPT_TAG_LEN;
}

uint64_t crypt_plain_size(uint64_t stored)
{
	const uint64_t full = CRYPT_CHUNK + CRYPT_TAG_LEN;
	if (stored < CRYPT_HEADER_LEN + CRYPT_TAG_LEN)
		return UINT64_MAX;
	uint64_t x = stored - CRYPT_HEADER_LEN;
	uint64_t chunks = (x + full - 1) / full;
	/* a chunk that holds nothing but its tag is only valid as the sole one */
	if (x - (chunks - 1) * full == CRYPT_TAG_LEN && chunks > 1)
		return UINT64_MAX;
	return x - chunks * CRYPT_TAG_LEN;
}

/* Per-object state shared by both directions. */
typedef struct crypt_state {
	EVP_CIPHER_CTX *ctx;
	unsigned char key[CRYPT_KEY_LEN]; /* the object key, derived once the salt is known */
	unsigned char nonce_base[CRYPT_NONCE_LEN];
	unsigned char *aad;
	size_t aad_len;
	char *id;
	uint64_t index; /* of the next chunk */
} crypt_state;

static void state_init(crypt_state *c, const char *id)
{
	size_t n = strlen(id);
	c->id = xstrdup(id);
	c->aad_len = AAD_FIXED + n;
	c->aad = xmalloc(c->aad_len);
	memcpy(c->aad, "backupd1", 8);
	memcpy(c->aad + AAD_FIXED, id, n);
	c->ctx = EVP_CIPHER_CTX_new();
}

static void state_free(crypt_state *c)
{
	EVP_CIPHER_CTX_free(c->ctx);
	OPENSSL_cleanse(c->key, sizeof c->key);
	free(c->aad);
	free(c->id);
}

/* Object key and nonce base from the data key and the object's salt. */
static int derive(crypt_state *c, const unsigned char dek[CRYPT_KEY_LEN],
		  const unsigned char *salt, int encrypt)
{
	unsigned char msg[1 + SALT_LEN];
	unsigned char mac[32];
	unsigned int len = 0;
	memcpy(msg + 1, salt, SALT_LEN);
	msg[0] = 'K';
	if (HMAC(EVP_sha256(), dek, CRYPT_KEY_LEN, msg, sizeof msg, c->key, &len) == NULL)
		return -1;
	msg[0] = 'N';
	if (HMAC(EVP_sha256(), dek, CRYPT_KEY_LEN, msg, sizeof msg, mac, &len) == NULL)
		return -1;
	memcpy(c->nonce_base, mac, CRYPT_NONCE_LEN);
	OPENSSL_cleanse(mac, sizeof mac);
	if (c->ctx == NULL)
		return -1;
	return EVP_CipherInit_ex(c->ctx, EVP_aes_256_gcm(), NULL, c->key, NULL, encrypt) == 1 ? 0 : -1;
}

int crypt_gcm(void *cipher_ctx, const unsigned char *key, int encrypt,
	      const unsigned char nonce[CRYPT_NONCE_LEN], const unsigned char *aad, size_t aad_len,
	      const unsigned char *in, size_t len, unsigned char *out, unsigned char tag[CRYPT_TAG_LEN])
{
	EVP_CIPHER_CTX *ctx = cipher_ctx ? cipher_ctx : EVP_CIPHER_CTX_new();
	const EVP_CIPHER *aes = key ? EVP_aes_256_gcm() : NULL;
	int outl = 0, fin = 0, ok = ctx != NULL && len <= INT_MAX && aad_len <= INT_MAX;
	ok = ok && EVP_CipherInit_ex(ctx, aes, NULL, key, nonce, encrypt) == 1;
	ok = ok && EVP_CipherUpdate(ctx, NULL, &outl, aad, (int)aad_len) == 1;
	ok = ok && EVP_CipherUpdate(ctx, out, &outl, in, (int)len) == 1;
	if (ok && !encrypt)
		ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, CRYPT_TAG_LEN, tag) == 1;
	/* decrypting: this is where a wrong tag fails */
	ok = ok && EVP_CipherFinal_ex(ctx, out + outl, &fin) == 1;
	if (ok && encrypt)
		ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, CRYPT_TAG_LEN, tag) == 1;
	if (cipher_ctx == NULL)
		EVP_CIPHER_CTX_free(ctx);
	return ok ? 0 : -1;
}

/* Chunk c->index of len bytes, sealed or opened in place of out (+ tag). */
static int chunk_cipher(crypt_state *c, int final, int encrypt, const unsigned char *in,
			size_t len, unsigned char *out, unsigned char *tag)
{
	unsigned char nonce[CRYPT_NONCE_LEN];
	memcpy(nonce, c->nonce_base, CRYPT_NONCE_LEN);
	for (int i = 0; i < 8; i++) {
		unsigned char b = (unsigned char)(c->index >> (56 - 8 * i));
		nonce[CRYPT_NONCE_LEN - 8 + i] ^= b;
		c->aad[8 + i] = b;
	}
	c->aad[16] = (unsigned char)final;
	return crypt_gcm(c->ctx, NULL, encrypt, nonce, c->aad, c->aad_len, in, len, out, tag);
}

/* --- writer ---------------------------------------------------------------- */

typedef struct encrypt_writer {
	writer base;
	writer *next;
	crypt_state c;
	const char *setup_error;
	unsigned char *buf; /* plaintext of the chunk being filled */
	size_t fill;
	unsigned char *out; /* ciphertext + tag */
	int header_done;
	unsigned char header[CRYPT_HEADER_LEN];
} encrypt_writer;

static int ew_fail(encrypt_writer *e, const char *what, bderr *err)
{
	return bderr_set(err, "cannot encrypt '%s': %s", e->c.id, what);
}

static int ew_chunk(encrypt_writer *e, int final, bderr *err)
{
	if (!e->header_done) {
		if (writer_write(e->next, e->header, sizeof e->header, err) < 0)
			return -1;
		e->header_done = 1;
	}
	size_t n = e->fill;
	if (chunk_cipher(&e->c, final, 1, e->buf, n, e->out, e->out + n) < 0)
		return ew_fail(e, "AES-256-GCM failed", err);
	e->c.index++;
	e->fill = 0;
	return writer_write(e->next, e->out, n + CRYPT_TAG_LEN, err);
}

static int ew_write(writer *w, const void *buf, size_t len, bderr *err)
{
	encrypt_writer *e = (encrypt_writer *)w;
	const unsigned char *p = buf;
	if (e->setup_error)
		return ew_fail(e, e->setup_error, err);
	while (len > 0) {
		/* a full chunk is sealed only once more data shows it is not the last */
		if (e->fill == CRYPT_CHUNK && ew_chunk(e, 0, err) < 0)
			return -1;
		size_t n = CRYPT_CHUNK - e->fill;
		if (n > len)
			n = len;
		memcpy(e->buf + e->fill, p, n);
		e->fill += n;
		p += n;
		len -= n;
	}
	return 0;
}

static int ew_close(writer *w, bderr *err)
{
	encrypt_writer *e = (encrypt_writer *)w;
	if (e->setup_error)
		return ew_fail(e, e->setup_error, err);
	if (ew_chunk(e, 1, err) < 0)
		return -1;
	return writer_close(e->next, err);
}

static void ew_free(writer *w)
{
	encrypt_writer *e = (encrypt_writer *)w;
	writer_free(e->next);
	OPENSSL_cleanse(e->buf, CRYPT_CHUNK);
	free(e->buf);
	free(e->out);
	state_free(&e->c);
	free(e);
}

static const writer_ops encrypt_writer_ops = { ew_write, ew_close, ew_free };

writer *encrypt_writer_new(writer *next, const unsigned char key[CRYPT_KEY_LEN], const char *id)
{
	encrypt_writer *e = xcalloc(1, sizeof *e);
	e->base.ops = &encrypt_writer_ops;
	e->next = next;
	e->buf = xmalloc(CRYPT_CHUNK);
	e->out = xmalloc(CRYPT_CHUNK + CRYPT_TAG_LEN);
	state_init(&e->c, id);
	memcpy(e->header, MAGIC, sizeof MAGIC);
	if (RAND_bytes(e->header + sizeof MAGIC, SALT_LEN) != 1)
		e->setup_error = "the random number generator failed";
	else if (derive(&e->c, key, e->header + sizeof MAGIC, 1) < 0)
		e->setup_error = "cannot set up AES-256-GCM";
	return &e->base;
}

/* --- reader ---------------------------------------------------------------- */

typedef struct decrypt_reader {
	reader base;
	reader *next;
	crypt_state c;
	unsigned char dek[CRYPT_KEY_LEN];
	/* one byte beyond a full chunk tells whether the chunk is the last */
	unsigned char *in;
	size_t in_len;
	unsigned char *plain;
	size_t plain_len, plain_pos;
	int started, done;
} decrypt_reader;

static int dr_corrupt(decrypt_reader *d, bderr *err, const char *what)
{
	bderr_set(err, "'%s' failed authentication at chunk %llu: %s", d->c.id,
		  (unsigned long long)d->c.index, what);
	err->sys_errno = EBADMSG;
	return -1;
}

static int dr_header(decrypt_reader *d, bderr *err)
{
	unsigned char h[CRYPT_HEADER_LEN];
	size_t got;
	if (reader_read_full(d->next, h, sizeof h, &got, err) < 0)
		return -1;
	if (got < sizeof h || memcmp(h, MAGIC, sizeof MAGIC) != 0)
		return dr_corrupt(d, err, got < sizeof h ? "truncated header" : "not an encrypted backupd object");
	if (derive(&d->c, d->dek, h + sizeof MAGIC, 0) < 0)
		return bderr_set(err, "cannot decrypt '%s': cannot set up AES-256-GCM", d->c.id);
	d->started = 1;
	return 0;
}

static int dr_next_chunk(decrypt_reader *d, bderr *err)
{
	const size_t full = CRYPT_CHUNK + CRYPT_TAG_LEN;
	size_t got;
	/* in holds the lookahead byte of the previous round, if any */
	if (reader_read_full(d->next, d->in + d->in_len, full + 1 - d->in_len, &got, err) < 0)
		return -1;
	d->in_len += got;
	int final = d->in_len <= full;
	size_t clen = final ? d->in_len : full;
	if (clen < CRYPT_TAG_LEN)
		return dr_corrupt(d, err, "truncated");
	size_t plen = clen - CRYPT_TAG_LEN;
	if (chunk_cipher(&d->c, final, 0, d->in, plen, d->plain, d->in + plen) < 0) {
		OPENSSL_cleanse(d->plain, CRYPT_CHUNK);
		return dr_corrupt(d, err,
				  "modified, truncated, reordered or taken from another object");
	}
	d->c.index++;
	d->plain_len = plen;
	d->plain_pos = 0;
	if (final) {
		d->done = 1;
		d->in_len = 0;
	} else {
		d->in[0] = d->in[full];
		d->in_len = 1;
	}
	return 0;
}

static int dr_read(reader *r, void *buf, size_t cap, size_t *got, bderr *err)
{
	decrypt_reader *d = (decrypt_reader *)r;
	*got = 0;
	if (d->c.ctx == NULL)
		return bderr_set(err, "cannot decrypt '%s': out of memory", d->c.id);
	if (!d->started && dr_header(d, err) < 0)
		return -1;
	while (d->plain_pos == d->plain_len) {
		if (d->done || cap == 0)
			return 0;
		if (dr_next_chunk(d, err) < 0)
			return -1;
	}
	size_t n = d->plain_len - d->plain_pos;
	if (n > cap)
		n = cap;
	memcpy(buf, d->plain + d->plain_pos, n);
	d->plain_pos += n;
	*got = n;
	return 0;
}

static void dr_free(reader *r)
{
	decrypt_reader *d = (decrypt_reader *)r;
	reader_free(d->next);
	OPENSSL_cleanse(d->dek, sizeof d->dek);
	OPENSSL_cleanse(d->plain, CRYPT_CHUNK);
	free(d->plain);
	free(d->in);
	state_free(&d->c);
	free(d);
}

static const reader_ops decrypt_reader_ops = { dr_read, dr_free };

reader *decrypt_reader_new(reader *next, const unsigned char key[CRYPT_KEY_LEN], const char *id)
{
	decrypt_reader *d = xcalloc(1, sizeof *d);
	d->base.ops = &decrypt_reader_ops;
	d->next = next;
	memcpy(d->dek, key, CRYPT_KEY_LEN);
	d->in = xmalloc(CRYPT_CHUNK + CRYPT_TAG_LEN + 1);
	d->plain = xmalloc(CRYPT_CHUNK);
	state_init(&d->c, id);
	return &d->base;
}
