/*
 * The WAL archive inside a repository.  Every archived file F is stored as
 *   <source>/wal/<first 16 chars of F>/<F>-<sha256>.zst   segments, .partial, .backup
 *   <source>/wal/<F>-<sha256>.zst                          timeline .history files
 * where <sha256> is the hex SHA-256 of the uncompressed bytes.  The checksum
 * in the name makes one atomic write self-verifying and lets "is it already
 * there, with the same contents?" be answered from a LIST alone.
 *
 * <source>/wal/archive.info (JSON: system_identifier as a decimal string,
 * wal_segment_size, pg_version when known) is written by the first wal-push
 * or base backup; every later one checks its cluster against it, so WAL of
 * two clusters never mixes under one name.
 */
#ifndef BACKUPD_ARCHIVE_WAL_H
#define BACKUPD_ARCHIVE_WAL_H

#include <stddef.h>
#include <stdint.h>

#include "archive/filter.h"
#include "archive/repo.h"
#include "common/error.h"

#define WAL_SEGMENT_NAME_LEN 24
#define WAL_ARCHIVE_INFO "archive.info"
#define WAL_DEFAULT_SEGMENT_SIZE (16u * 1024 * 1024)
/* Bytes of a segment's first (long) page header that wal_segment_header_parse needs. */
#define WAL_LONG_HEADER_LEN 40

typedef enum wal_kind {
	WAL_KIND_SEGMENT, /* 000000010000000A000000FF */
	WAL_KIND_PARTIAL, /* <segment>.partial */
	WAL_KIND_BACKUP,  /* <segment>.<8 hex offset>.backup */
	WAL_KIND_HISTORY  /* <8 hex tli>.history */
} wal_kind;

typedef struct wal_name {
	wal_kind kind;
	uint32_t tli;
	char pos[17];  /* log+seg hex (16 chars), "" for history */
	char file[64]; /* the file name itself */
} wal_name;

/* Strict: anything not a PostgreSQL WAL archive file name ('/', "..", lowercase hex...) is refused. */
int wal_name_parse(const char *file, wal_name *out, bderr *err);

/* "<source>/wal/" (caller frees). */
char *wal_dir_path(const char *source);
/* Object path of file with that checksum (caller frees).  file must parse. */
char *wal_object_path(const char *source, const char *file, const char *sha256hex);
/* Splits an object's base name "<F>-<sha256>.zst": 0 ok, -1 not a WAL object. */
int wal_object_parse(const char *object_basename, wal_name *out, char sha256hex[65]);

/* Name of the segment holding lsn (e.g. for a base backup's start LSN). */
void wal_segment_name(uint32_t tli, uint64_t lsn, uint32_t wal_segment_size, char out[25]);
/*
 * The segment after name's (same timeline): for prefetching.  0 ok, -1 when
 * name is not a segment.
 */
int wal_segment_next(const char *name, uint32_t wal_segment_size, char out[25]);

/* Facts from a segment's long page header (first page). */
typedef struct wal_segment_header {
	uint64_t system_identifier;
	uint32_t seg_size;
	uint32_t xlog_blcksz;
	uint16_t magic;
	uint32_t tli;
} wal_segment_header;
/* Parses the first len bytes of a segment; error when not a long header. */
int wal_segment_header_parse(const void *buf, size_t len, wal_segment_header *out, bderr *err);

/*
 * Checks a whole segment (or .partial) named n: a long header, the size the
 * header announces, and the page address its name implies.
 */
int wal_segment_check(const wal_name *n, const void *buf, size_t len, wal_segment_header *out,
		      bderr *err);
/* The same from the file's first head_len bytes and its size len. */
int wal_segment_check_head(const wal_name *n, const void *head, size_t head_len, size_t len,
			   wal_segment_header *out, bderr *err);
/* PostgreSQL major version that writes this page magic, 0 when unknown. */
int wal_pg_version_from_magic(uint16_t magic);

/*
 * Looks up file in the archive by listing its directory.  0 found (object_path
 * allocated, sha256hex filled), 1 absent, -1 error.  Several objects for one
 * name (two clusters' histories...) is an error naming them.
 */
int wal_find(repo *r, const char *source, const char *file, char **object_path,
	     char sha256hex[65], bderr *err);

/*
 * Polls wal_find until file is archived: 0 found, 1 still absent after
 * timeout seconds, -1 error.  (A base backup waits for its last segment;
 * `check --wal` for the segment it switched.)
 */
int wal_wait(repo *r, const char *source, const char *file, int timeout, bderr *err);

/* archive.info. */
typedef struct wal_archive_info {
	uint64_t system_identifier;
	uint32_t wal_segment_size;
	int pg_version; /* 0 when unknown */
} wal_archive_info;
/* 0 read, 1 absent, -1 error. */
int wal_archive_info_read(repo *r, const char *source, wal_archive_info *out, bderr *err);
/*
 * Records system_identifier/wal_segment_size on first use, else compares
 * them (an error names both ids).  pg_version may be 0.
 */
int wal_archive_info_check(repo *r, const char *source, uint64_t system_identifier,
			   uint32_t wal_segment_size, int pg_version, bderr *err);

/* One archived object, for expire and for tools that list the archive. */
typedef struct wal_object {
	wal_name name;
	char sha256[65];
	char *path; /* full repository path */
	uint64_t stored_size;
} wal_object;
typedef struct wal_object_list {
	wal_object *items; /* sorted by file name, then path */
	size_t n;
} wal_object_list;
/* Every WAL object of source (archive.info and foreign files are skipped). */
int wal_list(repo *r, const char *source, wal_object_list **out, bderr *err);
void wal_object_list_free(wal_object_list *l);

/*
 * Stores buf (the uncompressed file) as file's object, a zstd frame at level
 * (negative: zstd's fast levels; 0, "none": its fastest, which stores the
 * bytes as they are) with its content size and checksum, named by the
 * SHA-256 of the stored bytes.  Idempotent: the same contents already
 * archived is success (*already set), even when compressed differently;
 * other contents under the same name is an error naming both objects'
 * checksums.  Returns only once the object is durable.
 */
int wal_store(repo *r, const char *source, const char *file, const void *buf, size_t len,
	      int level, int *already, bderr *err);
/*
 * wal_store with a compression context kept between calls (one per thread:
 * not shared), which saves setting one up per file.  A file of 4 MB or more
 * is stored as two zstd frames, one per half (wal_object_read reads one or
 * more frames); threads 2 compresses the second half in a thread of its own
 * (the one-call archive_command), 1 after the first (the background pusher,
 * whose threads already fill the cores).  The object is the same either way.
 */
typedef struct wal_compressor wal_compressor;
wal_compressor *wal_compressor_new(int threads);
void wal_compressor_free(wal_compressor *z);
int wal_store_using(wal_compressor *z, repo *r, const char *source, const char *file,
		    const void *buf, size_t len, int level, int *already, bderr *err);
/*
 * The same, reading the file's len bytes from fd (with pread, from offset 0)
 * instead of from memory: what wal-push uses (see compress_input for why it
 * reads rather than maps).  A file that ends early is an error; nothing is
 * stored.
 */
int wal_store_fd(wal_compressor *z, repo *r, const char *source, const char *file, int fd, size_t len,
		 int level, int *already, bderr *err);

/*
 * Checks a WAL object's bytes: one or more zstd frames, each with its content
 * size and checksum, together at most 1 GB.  NULL (and *content, the total)
 * when so, else why not.
 */
const char *wal_object_frames_check(const void *obj, size_t len, uint64_t *content);

/* Hex SHA-256 of buf. */
int wal_checksum(const void *buf, size_t len, char sha256hex[65], bderr *err);

/*
 * Reads, verifies (the stored bytes against the SHA-256 in the name, the
 * contents against the frame's checksum, the size when expect_size != 0) and
 * decompresses one WAL object into a new buffer.  Damage fails with
 * sys_errno == EBADMSG and a message naming the object; a missing object
 * with ENOENT.
 */
int wal_object_read(repo *r, const char *path, const char *sha256hex, uint64_t expect_size,
		    char **out, size_t *out_len, bderr *err);

#endif
