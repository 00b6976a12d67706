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

#include <libpq-fe.h>

#include "engines/engine.h"

int pg_restore_run(repo *r, const manifest *m, const engine_restore_options *o, bderr *err);

/*
 * The target side of the restore, step by step, for dbrestore migrate
 * (engines/pg/pg_migrate.c), which reads the source live instead of from a
 * repository.  m describes the source the way a dump's manifest does (its
 * info a pg_dump_info plus "roles"; m->id and m->name for messages); it
 * must stay valid until close.  open checks the target (major, roles,
 * --provision), creates the database (--create, under a temporary name) and
 * opens o->jobs connections; close(ok) makes the result visible, or drops
 * what open created.  The script steps take sql that they filter in place.
 */
typedef struct restore_ctx pg_restore_session;

/*
 * 1 (*out NULL): --provision completed an interrupted run's provisioning
 * (pg_provision.h) and there is nothing to restore.
 */
int pg_restore_session_open(const manifest *m, const engine_restore_options *o,
			    pg_restore_session **out, bderr *err);
/* Connection i of the o->jobs (NULL past them): the session's settings, the target database. */
PGconn *pg_restore_session_conn(pg_restore_session *s, int i);
const char *pg_restore_session_dbname(const pg_restore_session *s);
int pg_restore_pre_data(pg_restore_session *s, char *sql, size_t len, const char *name, bderr *err);
/* The large objects' owners, grants and comments (engines/pg/pg_lo_meta.h), before their data. */
int pg_restore_lo_meta(pg_restore_session *s, const char *json, size_t len, const char *name,
		       bderr *err);
/* info.sequences set on the target. */
int pg_restore_sequences(pg_restore_session *s, bderr *err);
/* The post-data script, parsed and its settings made before the data (sql filtered in place). */
int pg_restore_post_prepare(pg_restore_session *s, char *sql, size_t len, const char *name,
			    bderr *err);

/*
 * One load of the pipeline from elsewhere than a repository: a table's
 * chunk (one of n_chunks), or (table NULL) the large objects.
 */
typedef struct pg_load {
	const char *schema;
	const char *table;
	int n_chunks;
	double cost; /* its bytes: the largest ready work runs first */
	void *arg;
} pg_load;

/*
 * Loads l through target, the worker's connection.  frozen: in a
 * transaction that truncated the table (its only chunk, into a table this
 * session created): COPY ... WITH (FREEZE), committed by the pipeline.
 */
typedef int (*pg_load_fn)(void *shared, void *worker, PGconn *target, const pg_load *l, int frozen,
			  bderr *err);

/* Work on a table's rows once its loads are in (beside its index and key builds). */
typedef int (*pg_table_fn)(void *shared, void *worker, PGconn *target, const char *schema,
			   const char *table, bderr *err);

/*
 * The restore's pipeline with these loads: fn(shared, workers[i], conns[i],
 * ...) on worker i's thread, and among them the prepared post-data's
 * indexes and constraints as soon as their table is loaded, its foreign
 * keys once both tables' are built, and after (or NULL) on each table once
 * loaded.  conns: the session's, one per worker.
 */
int pg_restore_pipeline(pg_restore_session *s, const pg_load *loads, size_t n, void **workers,
			PGconn **conns, int n_workers, pg_load_fn fn, pg_table_fn after, void *shared,
			bderr *err);
/* After the pipeline and the sequences: the rest of the prepared post-data. */
int pg_restore_post_rest(pg_restore_session *s, bderr *err);
/* Frees s (NULL: nothing to do). */
int pg_restore_session_close(pg_restore_session *s, int ok, bderr *err);

#endif
