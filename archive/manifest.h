/*
 * manifest.json: the commit record of a backup.  It is written last; a
 * backup directory without one is incomplete.  Core fields are typed; what
 * only one engine understands (snapshot, table list, LSNs) lives in `info`,
 * a JSON object owned by the manifest.
 */
#ifndef BACKUPD_ARCHIVE_MANIFEST_H
#define BACKUPD_ARCHIVE_MANIFEST_H

#include <jansson.h>
#include <stdint.h>
#include <time.h>
#include "archive/object.h"

/*
 * 2: a compressed object's sha256 may be of its stored bytes ("sha256_of":
 * "stored", archive/object.h); format 1 hashed the content only.  Both are
 * read; a tool that knows only format 1 refuses a format 2 manifest by its
 * number instead of reporting its objects as corrupt.
 */
#define MANIFEST_FORMAT 2
/*
 * Sizes are uint64_t in memory but JSON integers (jansson's) stop at
 * 2^63-1: every size, and each of the two totals, stays at or below this,
 * so what is written or listed is never a negative number.
 */
#define MANIFEST_SIZE_MAX ((uint64_t)INT64_MAX)

typedef struct manifest_object {
	char *name;     /* relative to the backup directory, e.g. "data/16384.0.copy.zst" */
	object_meta meta;
	int compressed; /* stored through zstd */
	int64_t rows;   /* rows for table data, -1 otherwise */
} manifest_object;

typedef struct manifest {
	int format;
	char *id;
	char *name;           /* source name inside the repository */
	char *engine;         /* "postgresql" | "mysql" */
	char *kind;           /* "dump" | "basebackup" */
	char *server_version; /* may be NULL: then not written */
	char *tool_version;   /* NULL: written as this backupd's version */
	time_t started;
	time_t finished;
	json_t *info;         /* engine-specific object, never NULL */
	manifest_object *objects;
	size_t n_objects;
	size_t cap_objects;
} manifest;

manifest *manifest_new(void);
void manifest_free(manifest *m);

/* Not thread-safe: callers serialise. */
void manifest_add_object(manifest *m, const char *name, const object_meta *meta,
			 int compressed, int64_t rows);
const manifest_object *manifest_find_object(const manifest *m, const char *name);
uint64_t manifest_total_size(const manifest *m);
uint64_t manifest_total_stored_size(const manifest *m);

/* 0 when the totals of size and stored_size stay within MANIFEST_SIZE_MAX; otherwise err says which. */
int manifest_sizes_check(const manifest *m, bderr *err);

/* Serialises to JSON text (caller frees); sizes beyond MANIFEST_SIZE_MAX are refused. */
int manifest_to_json(const manifest *m, char **out, bderr *err);
/* Parses; a format newer than MANIFEST_FORMAT is refused with a clear error. */
int manifest_parse(const char *json, size_t len, manifest **out, bderr *err);

/*
 * RFC 3339 UTC: "2026-11-21T10:13:24Z"; buf >= 21 bytes.  Years 0000 to
 * 9999 only, always four digits; outside them buf is "".  parse_rfc3339
 * refuses an instant outside those years (after applying the offset), so
 * whatever it accepts formats back to text it accepts again.
 */
void format_rfc3339(time_t t, char *buf, size_t len);
int parse_rfc3339(const char *s, time_t *out);

#endif
