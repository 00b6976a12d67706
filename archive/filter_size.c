#include "archive/filter.h"

#include <stdlib.h>

#include "common/mem.h"

typedef struct size_writer {
	writer base;
	writer *next;
	uint64_t bytes;
} size_writer;

static int szw_write(writer *w, const void *buf, size_t len, bderr *err)
{
	size_writer *s = (size_writer *)w;
	if (writer_write(s->next, buf, len, err) < 0)
		return -1;
	s->bytes += len;
	return 0;
}

static int szw_close(writer *w, bderr *err)
{
	return writer_close(((size_writer *)w)->next, err);
}

static void szw_free(writer *w)
{
	size_writer *s = (size_writer *)w;
	writer_free(s->next);
	free(s);
}

static const writer_ops size_writer_ops = { szw_write, szw_close, szw_free };

writer *size_writer_new(writer *next)
{
	size_writer *s = xcalloc(1, sizeof *s);
	s->base.ops = &size_writer_ops;
	s->next = next;
	return &s->base;
}

uint64_t size_writer_bytes(writer *w)
{
	return ((size_writer *)w)->bytes;
}

typedef struct size_reader {
	reader base;
	reader *next;
	uint64_t bytes;
} size_reader;

static int szr_read(reader *r, void *buf, size_t cap, size_t *got, bderr *err)
{
	size_reader *s = (size_reader *)r;
	if (reader_read(s->next, buf, cap, got, err) < 0)
		return -1;
	s->bytes += *got;
	return 0;
}

static void szr_free(reader *r)
{
	size_reader *s = (size_reader *)r;
	reader_free(s->next);
	free(s);
}

static const reader_ops size_reader_ops = { szr_read, szr_free };

reader *size_reader_new(reader *next)
{
	size_reader *s = xcalloc(1, sizeof *s);
	s->base.ops = &size_reader_ops;
	s->next = next;
	return &s->base;
}

uint64_t size_reader_bytes(reader *r)
{
	return ((size_reader *)r)->bytes;
}
