/*
 * Physical base backup of a PostgreSQL cluster over the replication
 * protocol (BASE_BACKUP, PostgreSQL 15 or newer).
 *
 * Each tablespace's tar archive, as the server sends it, streams through the
 * object filter chain into its own object (base.tar, <oid>.tar), then the
 * server's backup_manifest.  The backup is complete only when all the WAL up
 * to its stop LSN is in the repository's archive (pushed by the server's
 * archive_command = backupd wal-push): basebackup waits for the segment that
 * holds the stop LSN and only then writes manifest.json.
 */
#ifndef BACKUPD_BASEBACKUP_H
#define BACKUPD_BASEBACKUP_H

#include <stdint.h>

#include "archive/repo.h"
#include "common/program.h"

#define BASEBACKUP_ARCHIVE_TIMEOUT_DEFAULT 60 /* seconds */

typedef struct basebackup_options {
	const char *url;       /* connection URI */
	const char *password;  /* from a 0600 file, or NULL */
	const char *name;      /* source name in the repository */
	int compress_level;    /* zstd level, 0 = none */
	const char *compress_spec;
	int archive_timeout;   /* seconds to wait for the stop segment in the archive */
	const char *slot;      /* a physical slot that must exist (or be made) first; NULL: none */
	int create_slot;       /* make slot (RESERVE_WAL) before the backup starts */
	int incremental;       /* 17+: only what changed since the newest base backup */
	struct progress *progress; /* common/progress.h (asks the server for PROGRESS); NULL: none */
} basebackup_options;

/* On success *id is the new backup's ID (caller frees). */
int basebackup_run(repo *r, const basebackup_options *o, char **id, bderr *err);
/*
 * basebackup_run's first connection (replication) alone: made before the
 * repository is opened, which creates it when missing, so that a first
 * backup with a wrong host or password leaves no repository behind.
 */
int basebackup_reach(const char *url, const char *password, bderr *err);

/* The `basebackup` command. */
int basebackup_command(program *p, bderr *err);

#endif
