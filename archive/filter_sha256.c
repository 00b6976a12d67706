#include "archive/filter.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <stdlib.h>

#include "common/mem.h"

/*
 * A digest context that failed to initialise (no provider for SHA-256, e.g.
 * a broken FIPS setup) is remembered and reported at the first write or
 * read: the constructors have no error channel.
 */
typedef struct sha256_state {
	EVP_MD_CTX *ctx;
	int ok;
	int done;
	unsigned char digest[32];
} sha256_state;

static void state_init(sha256_state *st)
{
	st->ctx = EVP_MD_CTX_new();
	st->ok = st->ctx != NULL && EVP_DigestInit_ex(st->ctx, EVP_sha256(), NULL) == 1;
	st->done = 0;
}

static int state_fail(bderr *err)
{
	unsigned long e = ERR_get_error();
	char buf[256];
	ERR_error_string_n(e, buf, sizeof buf);
	ERR_clear_error();
	return bderr_set(err, "sha256 failed: %s", e ? buf : "cannot initialise digest");
}

static int state_update(sha256_state *st, const void *buf, size_t len, bderr *err)
{
	if (!st->ok)
		return state_fail(err);
	if (len > 0 && EVP_DigestUpdate(st->ctx, buf, len) != 1) {
		st->ok = 0;
		return state_fail(err);
	}
	return 0;
}

static int state_final(sha256_state *st, bderr *err)
{
	unsigned int n = 0;
	if (st->done)
		return 0;
	if (!st->ok || EVP_DigestFinal_ex(st->ctx, st->digest, &n) != 1 || n != sizeof st->digest) {
		st->ok = 0;
		return state_fail(err);
	}
	st->done = 1;
	return 0;
}

static void digest_hex(const unsigned char digest[32], char out[SHA256_HEX_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < 32; i++) {
		out[2 * i] = hex[digest[i] >> 4];
		out[2 * i + 1] = hex[digest[i] & 15];
	}
	out[SHA256_HEX_LEN] = '\0';
}

static void state_hex(const sha256_state *st, char out[SHA256_HEX_LEN + 1])
{
	if (!st->done) {
		out[0] = '\0';
		return;
	}
	digest_hex(st->digest, out);
}

int sha256_hex(const void *buf, size_t len, char out[SHA256_HEX_LEN + 1])
{
	unsigned char md[32];
	unsigned int n = 0;
	if (EVP_Digest(buf, len, md, &n, EVP_sha256(), NULL) != 1 || n != sizeof md) {
		out[0] = '\0';
		return -1;
	}
	digest_hex(md, out);
	return 0;
}

typedef struct sha256_writer {
	writer base;
	writer *next;
	sha256_state st;
} sha256_writer;

static int sw_write(writer *w, const void *buf, size_t len, bderr *err)
{
	sha256_writer *s = (sha256_writer *)w;
	if (state_update(&s->st, buf, len, err) < 0)
		return -1;
	return writer_write(s->next, buf, len, err);
}

static int sw_close(writer *w, bderr *err)
{
	sha256_writer *s = (sha256_writer *)w;
	if (state_final(&s->st, err) < 0)
		return -1;
	return writer_close(s->next, err);
}

static void sw_free(writer *w)
{
	sha256_writer *s = (sha256_writer *)w;
	writer_free(s->next);
	EVP_MD_CTX_free(s->st.ctx);
	free(s);
}

static const writer_ops sha256_writer_ops = { sw_write, sw_close, sw_free };

writer *sha256_writer_new(writer *next)
{
	sha256_writer *s = xcalloc(1, sizeof *s);
	s->base.ops = &sha256_writer_ops;
	s->next = next;
	state_init(&s->st);
	return &s->base;
}

/* Empty string until the writer was closed successfully. */
void sha256_writer_hex(writer *w, char out[SHA256_HEX_LEN + 1])
{
	state_hex(&((sha256_writer *)w)->st, out);
}

typedef struct sha256_reader {
	reader base;
	reader *next;
	sha256_state st;
} sha256_reader;

static int sr_read(reader *r, void *buf, size_t cap, size_t *got, bderr *err)
{
	sha256_reader *s = (sha256_reader *)r;
	if (reader_read(s->next, buf, cap, got, err) < 0)
		return -1;
	if (*got == 0)
		return state_final(&s->st, err);
	return state_update(&s->st, buf, *got, err);
}

static void sr_free(reader *r)
{
	sha256_reader *s = (sha256_reader *)r;
	reader_free(s->next);
	EVP_MD_CTX_free(s->st.ctx);
	free(s);
}

static const reader_ops sha256_reader_ops = { sr_read, sr_free };

reader *sha256_reader_new(reader *next)
{
	sha256_reader *s = xcalloc(1, sizeof *s);
	s->base.ops = &sha256_reader_ops;
	s->next = next;
	state_init(&s->st);
	return &s->base;
}

void sha256_reader_hex(reader *r, char out[SHA256_HEX_LEN + 1])
{
	state_hex(&((sha256_reader *)r)->st, out);
}
