/*
 * `backupd expire`: applies a retention policy to the backups in a
 * repository and removes what it does not keep, plus the leftovers of
 * crashed backups (incomplete and older than a grace period).
 */
#ifndef BACKUPD_EXPIRE_H
#define BACKUPD_EXPIRE_H

#include <stdio.h>
#include <time.h>

#include "archive/repo.h"
#include "common/program.h"
#include "policies/retention.h"

/*
 * Incomplete backups younger than this may still be running, unless their
 * writer is known to be gone; the same age for temp files whose writer
 * cannot be told alive or dead.
 */
#define EXPIRE_INCOMPLETE_GRACE (24 * 60 * 60)

typedef struct expire_options {
	const char *name;         /* NULL: every name in the repository */
	retention_policy policy;
	int dry_run;              /* decide and print, remove nothing */
	time_t now;
	time_t incomplete_grace;  /* seconds */
} expire_options;

typedef struct expire_stats {
	size_t kept;
	size_t removed;           /* complete backups removed by the policy */
	size_t incomplete_removed;
	size_t wal_removed;       /* archived WAL files removed (or that would be) */
	size_t temp_removed;      /* temp files of writers that died */
} expire_stats;

/* 1 when the policy has no rule at all (expire refuses to guess). */
int expire_policy_empty(const retention_policy *p);

/*
 * Applies o->policy per name and per kind (dumps and base backups are
 * counted apart) to complete backups and removes the rest, then the archived
 * WAL older than the oldest kept base backup's start (never any WAL of a
 * name without a kept base backup, never .history files); first of all the
 * temp files dead writers left (not in a dry run);
 * one line per backup goes to out ("keep", "remove", "would remove").
 * Stops at the first removal that fails.
 */
int expire_run(repo *r, const expire_options *o, FILE *out, expire_stats *st, bderr *err);

/*
 * Removes one backup: manifest.json first, so an interruption leaves an
 * incomplete backup and never a complete-looking partial one; then the
 * objects; backup.started last.
 */
int expire_remove_backup(repo *r, const char *name, const char *id, bderr *err);

/* The `expire` command. */
int expire_command(program *p, bderr *err);

#endif
