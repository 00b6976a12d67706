#include "archive/filter.h"

#include <stdlib.h>

#include "common/mem.h"
#include "common/sha256.h"

/* Our own SHA-256 (common/sha256.h): it cannot fail, so neither can these. */
typedef struct sha256_state {
	sha256_ctx ctx;
	int done;
	unsigned char digest[SHA256_DIGEST_LEN];
} sha256_state;

static void state_init(sha256_state *st)
{
	sha256_init(&st->ctx);
	st->done = 0;
}

static void state_update(sha256_state *st, const void *buf, size_t len)
{
	sha256_update(&st->ctx, buf, len);
}

static void state_final(sha256_state *st)
{
	if (st->done)
		return;
	sha256_final(&st->ctx, st->digest);
	st->done = 1;
}

static void state_hex(const sha256_state *st, char out[SHA256_HEX_LEN + 1])
{
	if (!st->done) {
		out[0] = '\0';
		return;
	}
	hex_encode(st->digest, SHA256_DIGEST_LEN, out);
}

void sha256_hex(const void *buf, size_t len, char out[SHA256_HEX_LEN + 1])
{
	unsigned char md[SHA256_DIGEST_LEN];
	sha256_digest(buf, len, md);
	hex_encode(md, SHA256_DIGEST_LEN, out);
}

typedef struct sha256_writer {
	writer base;
	writer *next;
	sha256_state st;
} sha256_writer;

static int sw_write(writer *w, const void *buf, size_t len, bderr *err)
{
	sha256_writer *s = (sha256_writer *)w;
	state_update(&s->st, buf, len);
	return writer_write(s->next, buf, len, err);
}

static int sw_close(writer *w, bderr *err)
{
	sha256_writer *s = (sha256_writer *)w;
	state_final(&s->st);
	return writer_close(s->next, err);
}

static void sw_free(writer *w)
{
	sha256_writer *s = (sha256_writer *)w;
	writer_free(s->next);
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
		state_final(&s->st);
	else
		state_update(&s->st, buf, *got);
	return 0;
}

static void sr_free(reader *r)
{
	sha256_reader *s = (sha256_reader *)r;
	reader_free(s->next);
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
