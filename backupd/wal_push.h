/*
 * wal-push: PostgreSQL's archive_command.  One call archives one file
 * synchronously; when more segments are ready (.ready files in archive_status) it
 * also starts a background pusher that archives the next ones in parallel and
 * leaves a marker per file in a spool directory, so the archiver's later
 * calls return at once.  A marker is only trusted for success, and only after
 * the object it reports is durable; a failure marker makes the call push
 * again itself.
 *
 * Spool files, per archived file F (all in one directory per source):
 *   F.claim   flock()ed by whoever pushes F right now (foreground or pusher)
 *   F.ok      "sha256 size mtime_s mtime_ns": F was archived from that file
 *   F.error   the background push failed with this message
 *   pusher.lock  held by the running background pusher
 */
#ifndef BACKUPD_WAL_PUSH_H
#define BACKUPD_WAL_PUSH_H

#include "archive/repo.h"
#include "archive/wal.h"
#include "common/program.h"

typedef struct wal_push_options {
	const char *source; /* --name */
	int level;          /* zstd level; 0: none */
	wal_compressor *z;  /* kept between files by the caller (one per thread); NULL: one per file */
} wal_push_options;

/*
 * Archives the file at path (its base name must be a WAL name): checks a
 * segment's header against archive.info, stores it idempotently.  *already
 * tells whether identical contents were archived before.
 */
int wal_push_file(repo *r, const wal_push_options *o, const char *path, int *already, bderr *err);

/* backupd wal-push --repo R --name N [--compress] [--spool-dir D] [--async-max N] PATH */
int wal_push_command(program *p, bderr *err);

#endif
