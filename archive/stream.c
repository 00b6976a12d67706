#include "archive/stream.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"

int reader_read_full(reader *r, void *buf, size_t cap, size_t *got, bderr *err)
{
	size_t total = 0;
	while (total < cap) {
		size_t n = 0;
		if (reader_read(r, (char *)buf + total, cap - total, &n, err) < 0)
			return -1;
		if (n == 0)
			break;
		total += n;
	}
	*got = total;
	return 0;
}

int reader_read_all(reader *r, char **data, size_t *len, size_t max, bderr *err)
{
	strbuf b;
	strbuf_init(&b);
	for (;;) {
		char chunk[16384];
		size_t room = max - b.len;
		/* one byte more than allowed, so an oversized stream is noticed */
		size_t want = room < sizeof chunk ? room + 1 : sizeof chunk;
		size_t n = 0;
		if (reader_read(r, chunk, want, &n, err) < 0) {
			strbuf_free(&b);
			return -1;
		}
		if (n == 0)
			break;
		if (n > max - b.len) {
			strbuf_free(&b);
			bderr_set(err, "stream is larger than %zu bytes", max);
			/* lets callers that know the object's name say so */
			err->sys_errno = EFBIG;
			return -1;
		}
		strbuf_append(&b, chunk, n);
	}
	*len = b.len;
	*data = strbuf_detach(&b);
	return 0;
}

typedef struct mem_reader {
	reader base;
	const unsigned char *data;
	size_t len;
	size_t pos;
} mem_reader;

static int mem_read(reader *r, void *buf, size_t cap, size_t *got, bderr *err)
{
	mem_reader *m = (mem_reader *)r;
	size_t n = m->len - m->pos;
	(void)err;
	if (n > cap)
		n = cap;
	if (n > 0)
		memcpy(buf, m->data + m->pos, n);
	m->pos += n;
	*got = n;
	return 0;
}

static void mem_free(reader *r)
{
	free(r);
}

static const reader_ops mem_reader_ops = { mem_read, mem_free };

reader *mem_reader_new(const void *data, size_t len)
{
	mem_reader *m = xcalloc(1, sizeof *m);
	m->base.ops = &mem_reader_ops;
	m->data = data;
	m->len = len;
	return &m->base;
}

typedef struct mem_writer {
	writer base;
	strbuf *out;
} mem_writer;

static int mem_write(writer *w, const void *buf, size_t len, bderr *err)
{
	(void)err;
	strbuf_append(((mem_writer *)w)->out, buf, len);
	return 0;
}

static int mem_close(writer *w, bderr *err)
{
	(void)w;
	(void)err;
	return 0;
}

static void mem_writer_free(writer *w)
{
	free(w);
}

static const writer_ops mem_writer_ops = { mem_write, mem_close, mem_writer_free };

writer *mem_writer_new(strbuf *out)
{
	mem_writer *m = xcalloc(1, sizeof *m);
	m->base.ops = &mem_writer_ops;
	m->out = out;
	return &m->base;
}
