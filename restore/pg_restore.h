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
	int create_roles;     /* --roles: create the referenced roles the target lacks */
	const char *owner;    /* --owner ROLE, or NULL */
	const char *const *role_map; /* --role-map OLD=NEW ..., NULL-terminated, or NULL */
	const char *provision_db; /* --provision DB (with owner, env_file; implies create), or NULL */
	const char *env_file;
	int reuse_role;
} pg_restore_options;

int pg_restore_run(repo *r, const manifest *m, const pg_restore_options *o, bderr *err);

#endif
