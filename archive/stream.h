/*
 * Streams: the one shape shared by storage drivers and filters.  A writer
 * accepts bytes and is committed by writer_close(); freeing a writer that was
 * not closed successfully aborts it, so nothing partial becomes visible
 * (posix: the temp file is unlinked; s3: the multipart upload is aborted).
 * A reader yields bytes until it reports 0 bytes read (end of stream).
 *
 * Filters are writers/readers that wrap another one (like pgBackRest's
 * IoFilter and PostgreSQL's astreamer chains): hashing and counting observe,
 * compression transforms.  A filter owns the stream it wraps.
 */
#ifndef BACKUPD_ARCHIVE_STREAM_H
#define BACKUPD_ARCHIVE_STREAM_H

#include <stddef.h>
#include <stdint.h>
#include "common/error.h"

typedef struct writer writer;
typedef struct writer_ops {
	int (*write)(writer *w, const void *buf, size_t len, bderr *err);
	/* Flush everything and make it durable/visible. Called at most once. */
	int (*close)(writer *w, bderr *err);
	/* Release; aborts if close() did not succeed. */
	void (*free)(writer *w);
} writer_ops;
struct writer {
	const writer_ops *ops;
};

typedef struct reader reader;
typedef struct reader_ops {
	/* Reads up to cap bytes; *got == 0 means end of stream. */
	int (*read)(reader *r, void *buf, size_t cap, size_t *got, bderr *err);
	void (*free)(reader *r);
} reader_ops;
struct reader {
	const reader_ops *ops;
};

static inline int writer_write(writer *w, const void *buf, size_t len, bderr *err)
{
	return w->ops->write(w, buf, len, err);
}
static inline int writer_close(writer *w, bderr *err)
{
	return w->ops->close(w, err);
}
static inline void writer_free(writer *w)
{
	if (w)
		w->ops->free(w);
}
static inline int reader_read(reader *r, void *buf, size_t cap, size_t *got, bderr *err)
{
	return r->ops->read(r, buf, cap, got, err);
}
static inline void reader_free(reader *r)
{
	if (r)
		r->ops->free(r);
}

/* Reads until cap bytes or end of stream; *got < cap only at the end. */
int reader_read_full(reader *r, void *buf, size_t cap, size_t *got, bderr *err);

/* Reads the whole stream into memory (for small objects: manifests). */
int reader_read_all(reader *r, char **data, size_t *len, size_t max, bderr *err);

/* In-memory reader over a caller-owned buffer (for tests and small objects). */
reader *mem_reader_new(const void *data, size_t len);

/* In-memory writer appending to a caller-owned buffer (small objects made whole first). */
struct strbuf;
writer *mem_writer_new(struct strbuf *out);

#endif
