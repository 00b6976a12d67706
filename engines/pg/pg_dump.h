/*
 * Logical dump of one PostgreSQL database into a repository.
 *
 * A coordinator connection opens a REPEATABLE READ transaction, exports its
 * snapshot and locks every table it will dump; --jobs workers import that
 * snapshot and COPY table data out, big tables split into ctid ranges so one
 * table is also dumped in parallel.  Each chunk streams through the object
 * filter chain into its own object.  pg_dump provides the pre-data and
 * post-data SQL under the same snapshot.  The manifest is written last.
 */
#ifndef BACKUPD_ENGINES_PG_DUMP_H
#define BACKUPD_ENGINES_PG_DUMP_H

#include "engines/engine.h"

/* On success *id is the new backup's ID (caller frees). */
int pg_dump_run(repo *r, const engine_dump_options *o, char **id, bderr *err);

/*
 * --all-databases (pg_dump_run calls it): one backup holding the server's
 * globals (engines/pg/pg_globals.h) and every connectable database but the
 * templates, each dumped as pg_dump_run dumps one, under "db/N/" (its own
 * snapshot: databases share no snapshot).  Its info: engines/pg/pg_server.h.
 */
int pg_server_dump_run(repo *r, const engine_dump_options *o, char **id, bderr *err);

#endif
