/*
 * Restore of a PostgreSQL logical dump: pre-data statement by statement
 * through libpq (never psql: nothing from a repository reaches a client's
 * meta-command processor or a shell), table data in
 * --jobs parallel COPY FROM STDIN workers (chunks of one table in parallel
 * too) with every object's SHA-256 checked while streaming, sequences set,
 * then post-data with indexes and constraints built in parallel.
 */
#ifndef BACKUPD_ENGINES_PG_RESTORE_H
#define BACKUPD_ENGINES_PG_RESTORE_H

#include "engines/engine.h"

int pg_restore_run(repo *r, const manifest *m, const engine_restore_options *o, bderr *err);

#endif
