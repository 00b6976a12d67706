/*
 * dbrestore migrate for PostgreSQL (the engine's migrate_* operations, see
 * engines/engine.h): a live database copied into another server from one
 * snapshot, without a repository.
 *
 * The source side is the dump's: a coordinator connection holds a
 * REPEATABLE READ transaction with an exported snapshot (or imports the
 * one migrate --follow gives) and locks the tables as pg_dump does; pg_dump
 * --snapshot writes pre-data and post-data; each worker imports the
 * snapshot and COPYs a table, or a ctid range of one (split like the dump
 * splits them), TO STDOUT, piped row by row into COPY FROM STDIN on the
 * target.  The target side is the restore's (pg_restore_session_*): the same
 * major, role, provisioning and --create checks and steps, pre-data, the
 * large objects' metadata, sequences and post-data through the same code.
 */
#ifndef BACKUPD_ENGINES_PG_MIGRATE_H
#define BACKUPD_ENGINES_PG_MIGRATE_H

#include "engines/engine.h"

int pg_migrate_open(const engine_migrate_options *o, void **session, bderr *err);
int pg_migrate_dump(void *session, repo *r, const engine_dump_options *o, char **id, bderr *err);
int pg_migrate_units(void *session, engine_migrate_unit **units, size_t *n, bderr *err);
void pg_migrate_units_free(void *session, engine_migrate_unit *units, size_t n);
int pg_migrate_worker_open(void *session, void **worker, bderr *err);
void pg_migrate_worker_close(void *session, void *worker);
int pg_migrate_copy(void *session, void *worker, engine_migrate_unit *unit, bderr *err);
int pg_migrate_run(void *session, engine_migrate_unit *units, size_t n, void **workers, int n_workers,
		   workpool_fn copy, void *shared, bderr *err);
int pg_migrate_post(void *session, bderr *err);
/*
 * The target against the source's snapshot (engines/pg/pg_digest.h): the
 * source's side is summed while its rows are copied, the target is read
 * once more.
 */
int pg_migrate_verify(void *session, bderr *err);
int pg_migrate_close(void *session, int ok, bderr *err);

#endif
