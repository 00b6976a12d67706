/*
 * Local file system helpers shared by the posix driver and the commands
 * that write outside a repository (run history, WAL spools, wal-get's
 * target): one definition of "parent directory", of a durable directory
 * entry and of mkdir -p.
 */
#ifndef BACKUPD_COMMON_FSUTIL_H
#define BACKUPD_COMMON_FSUTIL_H

#include <sys/types.h>
#include "common/error.h"

/* The directory part of path: "." without a slash, "/" for "/x" (caller frees). */
char *path_dirname(const char *path);

/*
 * A rename or a new directory entry is durable only once the directory
 * holding it is fsynced.  Some file systems cannot fsync directories
 * (EINVAL); there is nothing more to do on those.
 */
int fsync_dir(const char *dir, bderr *err);

/*
 * 1 when rel is a clean relative path: not empty, not absolute, no empty,
 * "." or ".." component (so no trailing '/').  Names read from a
 * repository must be, before they become paths.
 */
int path_relative_clean(const char *rel);

/*
 * write(2) until all of buf is written (EINTR retried; no progress counts
 * as a full device); the error names path.
 */
int fd_write_all(int fd, const void *buf, size_t len, const char *path, bderr *err);

/*
 * pread(2) of up to len bytes at off until all are read or the file ends
 * (EINTR retried): into *got, short only at end of file.  -1 with err naming
 * path on a read error.
 */
int fd_pread_full(int fd, void *buf, size_t len, off_t off, size_t *got, const char *path, bderr *err);

/*
 * Writes path whole or not at all: data goes to tmp (NULL: "<path>.tmp.<pid>")
 * in the same directory, mode 0600, which is fsynced, closed and renamed
 * over path; then path's directory is fsynced.  A reader never sees half a
 * file and a crash leaves the old one or the new one.  On failure the temp
 * file is removed.  Every local file written by temp + rename goes through
 * here (wal-get's segments, pitr's files), through its non-durable form
 * file_write_whole (wal-push's spool markers) or through its streaming form
 * below (the posix storage driver).
 */
int file_write_atomic(const char *path, const char *tmp, const void *data, size_t len, bderr *err);
/*
 * The same whole-or-nothing replacement without either fsync, for hints a
 * crash may lose (wal-push's spool markers: a lost or empty marker only
 * means the file is pushed again).  A reader still never sees half a file.
 */
int file_write_whole(const char *path, const char *tmp, const void *data, size_t len, bderr *err);

/*
 * The streaming form's commit, for a file the caller wrote to tmp (same
 * directory as path) through *fd: fsync, close (*fd becomes -1), then tmp
 * takes path's name: renamed over it, or with exclusive only where path does
 * not exist yet (link(2); without hard links an O_EXCL placeholder, then the
 * rename); then path's directory is fsynced.  *placed is 1 once path is in
 * place (tmp is gone, even when the directory fsync then fails); while it is
 * 0 the caller removes tmp.
 */
int file_commit_atomic(int *fd, const char *tmp, const char *path, int exclusive, int *placed,
		       bderr *err);
/* Its second half, for a tmp already fsynced and closed: the placement and the directory fsync. */
int file_place(const char *tmp, const char *path, int exclusive, int *placed, bderr *err);

/* mkdir -p with mode for every directory it creates; existing ones are fine. */
int mkdir_p(const char *path, mode_t mode, bderr *err);

/*
 * dir as a place for a directory the program creates (a state dir, a spool):
 * a usage error (exit 2) when it is not a directory, or a directory above it
 * is a file ("WHAT 'DIR' cannot be a directory: 'FILE' above it is a file",
 * naming the file in the way), the operator's setup to fix; 0 otherwise
 * (missing is fine, the first run creates it; permissions show when it is
 * written).  what names the setting in the message ("state-dir").
 */
int dir_place_check(const char *what, const char *dir, bderr *err);

#endif
