/*
 * wal-get: PostgreSQL's restore_command.  A file that is not archived exits 1
 * without an error line (the normal end of archive recovery); a damaged
 * object exits 1 with an error naming it.  After serving a segment, a
 * detached background process prefetches the next ones into a spool
 * directory (each file named <F>-<sha256> and checked again before use), so
 * the following calls are served locally.
 */
#ifndef RESTORE_WAL_GET_H
#define RESTORE_WAL_GET_H

#include "archive/repo.h"
#include "common/program.h"

/*
 * Fetches file from source's archive into path (temp + fsync + rename).
 * Returns 0 done, 1 not archived, -1 error (corruption: EBADMSG).
 */
int wal_get_file(repo *r, const char *source, const char *file, const char *path, bderr *err);

/* dbrestore wal-get --repo R --name N [--prefetch N] [--spool-dir D] WALNAME PATH */
int wal_get_command(program *p, bderr *err);

#endif
