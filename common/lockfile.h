/*
 * Advisory locks on files (flock), for "one at a time" between processes:
 * held by the process doing the work and released by the kernel when it
 * exits, however it exits, so a killed holder never leaves a stale lock.
 * The holder writes its pid into the file for people and messages only.
 */
#ifndef BACKUPD_COMMON_LOCKFILE_H
#define BACKUPD_COMMON_LOCKFILE_H

#include "common/error.h"

/*
 * Takes the exclusive lock of path, creating the file (0640) and its
 * directory (0750) when missing.  0: taken, *fd holds it until
 * lockfile_release.  1: another process holds it (*holder: the pid it
 * recorded, 0 when unknown).  -1: the lock could not be tried (err).
 */
int lockfile_take(const char *path, int *fd, long *holder, bderr *err);

/*
 * 1 when some process holds the lock of path right now (*holder as above),
 * 0 when it is free or the file does not exist.  Never waits; the probe
 * holds a shared lock for an instant, which lockfile_take rides out.
 */
int lockfile_busy(const char *path, long *holder);

/* Releases a lock taken by lockfile_take (-1 is ignored). */
void lockfile_release(int fd);

#endif
