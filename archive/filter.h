/*
 * Streaming filters composed on writers and readers.  Write side of an
 * object:  sha256 -> size -> zstd -> [encrypt] -> storage writer.
 * Read side:  storage reader -> [decrypt] -> unzstd -> size -> sha256.
 * Each *_new takes ownership of the wrapped stream.
 *
 * A reader that finds the data itself damaged (corrupt or truncated zstd)
 * fails with err->sys_errno == EBADMSG, so a caller can tell corruption from
 * an I/O error of the storage below and name the object.
 */
#ifndef BACKUPD_ARCHIVE_FILTER_H
#define BACKUPD_ARCHIVE_FILTER_H

#include <stdint.h>
#include "archive/stream.h"

#define SHA256_HEX_LEN 64
/* One-shot hex SHA-256 of a buffer (common/sha256.h: it cannot fail). */
void sha256_hex(const void *buf, size_t len, char out[SHA256_HEX_LEN + 1]);

/* Observers.  Results are valid after close (writers) or end of stream (readers). */
writer *sha256_writer_new(writer *next);
void sha256_writer_hex(writer *w, char out[SHA256_HEX_LEN + 1]);
reader *sha256_reader_new(reader *next);
void sha256_reader_hex(reader *r, char out[SHA256_HEX_LEN + 1]);

writer *size_writer_new(writer *next);
uint64_t size_writer_bytes(writer *w);
reader *size_reader_new(reader *next);
uint64_t size_reader_bytes(reader *r);

/* zstd: level 1..19 (negative fast levels allowed); bounded buffers. */
writer *zstd_writer_new(writer *next, int level);
reader *zstd_reader_new(reader *next);

/* Parses "zstd", "zstd:L" or "none"; level 0 means none. Usage error otherwise. */
int compress_spec_parse(const char *spec, int *level, bderr *err);

#endif
