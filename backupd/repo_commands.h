/* backupd list and verify: read-only views of a repository. */
#ifndef BACKUPD_REPO_COMMANDS_H
#define BACKUPD_REPO_COMMANDS_H

#include "archive/repo.h"

/* Prints the backups of name (or all) as a table, or as a JSON array. */
int repo_cmd_list(repo *r, const char *name, int json, bderr *err);

/*
 * Verifies one backup (id) or every complete backup of name (or all): every
 * object re-read and checked.  Fails naming the first broken object.
 */
int repo_cmd_verify(repo *r, const char *name, const char *id, bderr *err);

#endif
