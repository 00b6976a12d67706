/*
 * The posix driver: a directory on a local or mounted file system.
 * Writes go to a temp file in the target directory, are fsynced, renamed into
 * place and the directory fsynced, so a crash leaves either the old state or
 * the complete object.  Files are created 0600, directories 0700; the root
 * and any missing parents are created by the first write into them, and
 * directories left empty by remove() are pruned.  Paths that could leave the
 * root ("..", absolute, empty components) are refused.
 */
#ifndef BACKUPD_ARCHIVE_POSIX_H
#define BACKUPD_ARCHIVE_POSIX_H

#include "archive/storage.h"

int posix_storage_new(const char *root, storage **out, bderr *err);

#endif
