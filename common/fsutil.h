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

/* mkdir -p with mode for every directory it creates; existing ones are fine. */
int mkdir_p(const char *path, mode_t mode, bderr *err);

#endif
