/*
 * Restore of a PostgreSQL logical dump: pre-data statement by statement
 * through libpq (never psql: nothing from a repository reaches a client's
 * meta-command processor or a shell), table data in
 * --jobs parallel COPY FROM STDIN workers (chunks of one table in parallel
 * too) with every object's SHA-256 checked while streaming, sequences set,
 * then post-data with indexes and constraints built in parallel.
 */
#ifndef BACKUPD_PG_RESTORE_H
#define BACKUPD_PG_RESTORE_H

#include "archive/repo.h"

typedef struct pg_restore_options {
	const char *to_url;   /* target database URI */
	const char *password; /* from a 0600 file, or NULL */
	int jobs;
	int create;           /* CREATE DATABASE first */
	int allow_non_empty;  /* restore into a database that already has objects */
	int no_owner;         /* objects owned by the connecting role, not the source's owners */
	int no_privileges;    /* no GRANT/REVOKE: the target lacks the source's roles */
} pg_restore_options;

int pg_restore_run(repo *r, const manifest *m, const pg_restore_options *o, bderr *err);

#endif
