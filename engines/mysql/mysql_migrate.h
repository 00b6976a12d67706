/*
 * dbrestore migrate from a live MySQL/MariaDB source (the engine's migrate_*
 * hooks, engines/engine.h).  The source side is the dump's (mysql_source.h):
 * FLUSH TABLES WITH READ LOCK, START TRANSACTION WITH CONSISTENT SNAPSHOT on
 * one reading connection per job, the binlog position and GTID recorded,
 * the schema read into memory, the lock released (after the
 * non-transactional tables are copied, when there are any).  The target
 * side is the restore's (mysql_restore.h, my_load_*), fed from the
 * snapshot instead of a repository: every chunk is a SELECT on a snapshot
 * connection streamed as the dump format's TSV into LOAD DATA LOCAL INFILE
 * (multi-row INSERTs when the target refuses local_infile), in bounded
 * memory.  Views, routines, triggers and events follow the data.
 */
#ifndef BACKUPD_ENGINES_MYSQL_MIGRATE_H
#define BACKUPD_ENGINES_MYSQL_MIGRATE_H

#include <jansson.h>
#include <mysql.h>

#include "engines/engine.h"

int mysql_migrate_open(const engine_migrate_options *o, void **session, bderr *err);
int mysql_migrate_dump(void *session, repo *r, const engine_dump_options *o, char **id,
		       bderr *err);
int mysql_migrate_units(void *session, engine_migrate_unit **units, size_t *n, bderr *err);
void mysql_migrate_units_free(void *session, engine_migrate_unit *units, size_t n);
int mysql_migrate_worker_open(void *session, void **worker, bderr *err);
void mysql_migrate_worker_close(void *session, void *worker);
int mysql_migrate_copy(void *session, void *worker, engine_migrate_unit *unit, bderr *err);
int mysql_migrate_run(void *session, engine_migrate_unit *units, size_t n, void **workers,
		      int n_workers, workpool_fn copy, void *shared, bderr *err);
int mysql_migrate_post(void *session, bderr *err);
int mysql_migrate_verify(void *session, bderr *err);
int mysql_migrate_close(void *session, int ok, bderr *err);

/*
 * Where the snapshot is in the source's binary log (migrate --follow starts
 * there): {"file", "position"} and the GTID position as a string, each json
 * null when the source has none.  Owned by the session.
 */
const json_t *mysql_migrate_binlog(void *session);
const json_t *mysql_migrate_gtid(void *session);

/*
 * A connection inside the source's snapshot, for verification after the
 * copy (the first reading connection: every worker is done with it then),
 * and the target database i (0..n-1) with its source database's name.
 */
MYSQL *mysql_migrate_snapshot_conn(void *session);
size_t mysql_migrate_n_dbs(void *session);
const char *mysql_migrate_db(void *session, size_t i, const char **source_name);
/* The target URI and password (to connect for verification). */
const engine_restore_options *mysql_migrate_target(void *session);

#endif
