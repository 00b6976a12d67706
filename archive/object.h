/*
 * Repository objects: the full filter chain in one call.  An object writer
 * counts the uncompressed bytes, compresses (zstd frames carrying an XXH64
 * checksum of their content), hashes the compressed bytes and stores; closing
 * it returns the facts a manifest records.  An object reader reverses the
 * chain and, at end of stream, checks the sizes and SHA-256 against what the
 * manifest expects (zstd checks each frame's content as it ends): a mismatch
 * is an error naming the object, so a caller that streams into a database
 * must treat the final read as the commit point.  SHA-256 of the stored bytes
 * rather than of the content: at ~2 GB/s with the CPU's SHA instructions,
 * hashing the content was a quarter of a dump's client CPU on a database that
 * compresses 6:1 (bench/pg.sh), and as much again in the restore.
 */
#ifndef BACKUPD_ARCHIVE_OBJECT_H
#define BACKUPD_ARCHIVE_OBJECT_H

#include <stdint.h>
#include "archive/filter.h"
#include "archive/storage.h"

typedef struct object_meta {
	uint64_t size;        /* uncompressed bytes */
	uint64_t stored_size; /* bytes in storage */
	char sha256[SHA256_HEX_LEN + 1];
	/*
	 * 1: sha256 is of the stored bytes (the zstd frames, before any
	 * encryption), whose XXH64 frame checksums cover the content; 0: of the
	 * content (an uncompressed object's are the same bytes; a compressed
	 * object written before manifest format 2).
	 */
	int sha256_stored;
} object_meta;

typedef struct object_writer object_writer;

/* level 0 stores uncompressed. */
int object_writer_open(storage *s, const char *path, int level, object_writer **out, bderr *err);
int object_writer_write(object_writer *ow, const void *buf, size_t len, bderr *err);
int object_writer_close(object_writer *ow, object_meta *meta, bderr *err);
/* Frees; aborts (nothing visible) unless closed. */
void object_writer_free(object_writer *ow);

typedef struct object_reader object_reader;

/*
 * expect may be NULL (no verification).  compressed tells whether the object
 * was stored through zstd (manifests record it).
 */
int object_reader_open(storage *s, const char *path, int compressed,
		       const object_meta *expect, object_reader **out, bderr *err);
/*
 * Bytes handed out and the object once read to its (verified) end are
 * added to p (common/progress.h); NULL: not counted.
 */
struct progress;
void object_reader_set_progress(object_reader *orr, struct progress *p);
/* *got == 0 at end; the end-of-stream read fails if size or hash differ. */
int object_reader_read(object_reader *orr, void *buf, size_t cap, size_t *got, bderr *err);
void object_reader_free(object_reader *orr);

#endif
