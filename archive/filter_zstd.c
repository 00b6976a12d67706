#include "archive/filter.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "common/mem.h"

/*
 * Both directions stream through one buffer of the size zstd recommends
 * (about 128 KiB), so memory is bounded by the compression window, never by
 * the object size.
 */

typedef struct zstd_writer {
	writer base;
	writer *next;
	ZSTD_CCtx *cctx;
	const char *setup_error; /* from the constructor, which cannot report it */
	unsigned char *out;
	size_t out_cap;
} zstd_writer;

static int zw_error(const char *what, bderr *err)
{
	return bderr_set(err, "zstd compression failed: %s", what);
}

static int zw_flush(zstd_writer *z, ZSTD_inBuffer *in, ZSTD_EndDirective mode, size_t *remaining,
		    bderr *err)
{
	ZSTD_outBuffer out = { z->out, z->out_cap, 0 };
	size_t rc = ZSTD_compressStream2(z->cctx, &out, in, mode);
	if (ZSTD_isError(rc))
		return zw_error(ZSTD_getErrorName(rc), err);
	if (out.pos > 0 && writer_write(z->next, z->out, out.pos, err) < 0)
		return -1;
	*remaining = rc;
	return 0;
}

static int zw_write(writer *w, const void *buf, size_t len, bderr *err)
{
	zstd_writer *z = (zstd_writer *)w;
	ZSTD_inBuffer in = { buf, len, 0 };
	size_t remaining;
	if (z->setup_error)
		return zw_error(z->setup_error, err);
	while (in.pos < in.size)
		if (zw_flush(z, &in, ZSTD_e_continue, &remaining, err) < 0)
			return -1;
	return 0;
}

static int zw_close(writer *w, bderr *err)
{
	zstd_writer *z = (zstd_writer *)w;
	ZSTD_inBuffer in = { NULL, 0, 0 };
	size_t remaining;
	if (z->setup_error)
		return zw_error(z->setup_error, err);
	do {
		if (zw_flush(z, &in, ZSTD_e_end, &remaining, err) < 0)
			return -1;
	} while (remaining > 0);
	return writer_close(z->next, err);
}

static void zw_free(writer *w)
{
	zstd_writer *z = (zstd_writer *)w;
	writer_free(z->next);
	ZSTD_freeCCtx(z->cctx);
	free(z->out);
	free(z);
}

static const writer_ops zstd_writer_ops = { zw_write, zw_close, zw_free };

writer *zstd_writer_new(writer *next, int level)
{
	zstd_writer *z = xcalloc(1, sizeof *z);
	z->base.ops = &zstd_writer_ops;
	z->next = next;
	z->out_cap = ZSTD_CStreamOutSize();
	z->out = xmalloc(z->out_cap);
	z->cctx = ZSTD_createCCtx();
	if (z->cctx == NULL) {
		z->setup_error = "out of memory";
		return &z->base;
	}
	size_t rc = ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_compressionLevel, level);
	/* frame checksums let plain `zstd -t` check an object without backupd */
	if (!ZSTD_isError(rc))
		rc = ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_checksumFlag, 1);
	if (ZSTD_isError(rc))
		z->setup_error = ZSTD_getErrorName(rc);
	return &z->base;
}

typedef struct zstd_reader {
	reader base;
	reader *next;
	ZSTD_DCtx *dctx;
	unsigned char *in_buf;
	size_t in_cap;
	ZSTD_inBuffer in;
	int eof;        /* the wrapped reader is exhausted */
	int in_frame;   /* a frame was started and not finished */
	int any_input;
	int done;
} zstd_reader;

static int mark_corrupt(bderr *err)
{
	err->sys_errno = EBADMSG;
	return -1;
}

static int zr_read(reader *r, void *buf, size_t cap, size_t *got, bderr *err)
{
	zstd_reader *z = (zstd_reader *)r;
	*got = 0;
	if (z->dctx == NULL)
		return bderr_set(err, "zstd decompression failed: out of memory");
	if (z->done || cap == 0)
		return 0;
	for (;;) {
		if (z->in.pos == z->in.size && !z->eof) {
			size_t n;
			if (reader_read(z->next, z->in_buf, z->in_cap, &n, err) < 0)
				return -1;
			z->in.size = n;
			z->in.pos = 0;
			z->eof = n == 0;
			z->any_input |= n > 0;
		}
		ZSTD_outBuffer out = { buf, cap, 0 };
		size_t in_before = z->in.pos;
		size_t rc = ZSTD_decompressStream(z->dctx, &out, &z->in);
		if (ZSTD_isError(rc)) {
			bderr_set(err, "corrupt zstd data: %s", ZSTD_getErrorName(rc));
			return mark_corrupt(err);
		}
		/*
		 * 0 means a frame ended and everything of it was flushed.  A call that
		 * consumed and produced nothing (empty input after a frame) only
		 * returns the next frame's header hint: it starts no frame.
		 */
		if (z->in.pos != in_before || out.pos > 0)
			z->in_frame = rc != 0;
		if (out.pos > 0) {
			*got = out.pos;
			return 0;
		}
		if (z->in.pos < z->in.size || !z->eof)
			continue;
		/*
		 * Input exhausted and nothing more came out.  An empty input is not
		 * a zstd stream either: every writer close emits at least one frame.
		 */
		if (z->in_frame || !z->any_input) {
			bderr_set(err, "truncated zstd stream");
			return mark_corrupt(err);
		}
		z->done = 1;
		return 0;
	}
}

static void zr_free(reader *r)
{
	zstd_reader *z = (zstd_reader *)r;
	reader_free(z->next);
	ZSTD_freeDCtx(z->dctx);
	free(z->in_buf);
	free(z);
}

static const reader_ops zstd_reader_ops = { zr_read, zr_free };

reader *zstd_reader_new(reader *next)
{
	zstd_reader *z = xcalloc(1, sizeof *z);
	z->base.ops = &zstd_reader_ops;
	z->next = next;
	z->in_cap = ZSTD_DStreamInSize();
	z->in_buf = xmalloc(z->in_cap);
	z->in.src = z->in_buf;
	z->dctx = ZSTD_createDCtx();
	return &z->base;
}

int compress_spec_parse(const char *spec, int *level, bderr *err)
{
	if (strcmp(spec, "none") == 0) {
		*level = 0;
		return 0;
	}
	/* level 1: compression must stay nearly free next to the dump itself */
	if (strcmp(spec, "zstd") == 0) {
		*level = 1;
		return 0;
	}
	if (strncmp(spec, "zstd:", 5) == 0) {
		const char *p = spec + 5;
		char *end;
		errno = 0;
		long l = strtol(p, &end, 10);
		if ((*p == '-' || isdigit((unsigned char)*p)) && *end == '\0' && errno == 0 && l >= -7 &&
		    l <= 19 && l != 0) {
			*level = (int)l;
			return 0;
		}
		return bderr_usage(err, "invalid compression '%s': the zstd level must be -7..-1 or 1..19 (or 'none' to store uncompressed)",
				   spec);
	}
	return bderr_usage(err, "invalid compression '%s': expected zstd, zstd:LEVEL or none", spec);
}
