/*
 * The PostgreSQL base backup format: what `backupd basebackup` stores in
 * manifest.json "info", as one typed struct with one writer
 * (pg_base_info_to_json, backupd/basebackup.c) and one reader
 * (pg_base_info_parse, where all its validation is: restore/pitr.c,
 * backupd/expire.c, list's WAL range).  The logical dump's contract is
 * engines/pg/pg_format.h.
 *
 * info = {
 *   "system_identifier": string of digits, "server_version_num": integer,
 *   "wal_segment_size": integer (a power of two, 1 MB .. 1 GB),
 *   "data_directory_mode": "0700" | "0750" (absent before it was recorded),
 *   "options": { "compress": string, "archive_timeout": integer },
 *   "slot": string, "incremental_of": backup id (both optional),
 *   "tablespaces": [ { "oid": digits, "location": string } ],
 *   "start_lsn", "stop_lsn": "X/X", "timeline", "stop_timeline": integers >= 1,
 *   "wal_start_segment", "wal_stop_segment": WAL segment file names,
 *   "stop_time_us": integer (microseconds since the epoch), "stop_time": text
 * }
 * Objects: "base.tar", "<tablespace oid>.tar", "backup_manifest" (13+).
 */
#ifndef BACKUPD_ENGINES_PG_BASE_FORMAT_H
#define BACKUPD_ENGINES_PG_BASE_FORMAT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

typedef struct pg_base_tablespace {
	char *oid;
	char *location; /* on the backed-up server */
} pg_base_tablespace;

typedef struct pg_base_info {
	char *system_identifier;
	int64_t server_version_num;
	int64_t wal_segment_size;
	char *data_directory_mode; /* NULL in backups from before it was recorded */
	char *compress;		   /* options */
	int64_t archive_timeout;
	char *slot;		/* NULL: none */
	char *incremental_of;	/* the parent's backup id; NULL: a full backup */
	pg_base_tablespace *tablespaces;
	size_t n_tablespaces;
	uint64_t start_lsn;
	uint64_t stop_lsn;
	int64_t timeline;
	int64_t stop_timeline;
	char wal_start_segment[25];
	char wal_stop_segment[25];
	int64_t stop_time_us;
	char *stop_time;	/* readable form of stop_time_us; may be NULL */
} pg_base_info;

/* Writes i's fields into the info object out (a manifest's m->info). */
void pg_base_info_to_json(const pg_base_info *i, json_t *out);

/*
 * Reads and validates info into *out (zeroed first); the error names the
 * field ("invalid manifest: info.stop_lsn must be an LSN (X/X)").
 */
int pg_base_info_parse(const json_t *info, pg_base_info *out, bderr *err);
void pg_base_info_clear(pg_base_info *i);

#endif
