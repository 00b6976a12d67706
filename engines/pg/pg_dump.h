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

#include <libpq-fe.h>

#include "engines/engine.h"
#include "engines/pg/pg_format.h"

/*
 * On success *id is the new backup's ID (caller frees).  o->snapshot: dump
 * that exported snapshot instead of exporting one.
 */
int pg_dump_run(repo *r, const engine_dump_options *o, char **id, bderr *err);
/* engine_ops.reach: pg_dump_run's first connection and server check, alone. */
int pg_dump_reach(const char *url, const char *password, bderr *err);

/*
 * --all-databases (pg_dump_run calls it): one backup holding the server's
 * globals (engines/pg/pg_globals.h) and every connectable database but the
 * templates, each dumped as pg_dump_run dumps one, under "db/N/" (its own
 * snapshot: databases share no snapshot).  Its info: engines/pg/pg_server.h.
 */
int pg_server_dump_run(repo *r, const engine_dump_options *o, char **id, bderr *err);

/*
 * The dump's steps that dbrestore migrate (engines/pg/pg_migrate.c) shares.
 *
 * pg_snapshot_begin: a REPEATABLE READ, READ ONLY transaction on c in
 * snapshot (imported), or, when snapshot is NULL, a new one exported into
 * *exported (caller frees).  pg_snapshot_connect: a new connection (to
 * dbname, NULL: the URL's database) with the dump's session settings, in
 * snapshot.
 */
int pg_snapshot_begin(PGconn *c, const char *snapshot, char **exported, bderr *err);
int pg_snapshot_connect(const char *url, const char *password, const char *dbname,
			const char *snapshot, const char *application, PGconn **out, bderr *err);
/* inf->sequences and inf->database_properties, read in c's snapshot. */
int pg_dump_sequences(PGconn *c, pg_dump_info *inf, bderr *err);
int pg_dump_database_properties(PGconn *c, int server_num, pg_dump_info *inf, bderr *err);

/* One COPY of a table, or of one ctid range of it, as the dump splits them. */
typedef struct pg_copy_unit {
	char *schema;
	char *name;
	char **columns;  /* in COPY order */
	size_t n_columns;
	int chunk;       /* 0-based, of n_chunks */
	int n_chunks;
	uint64_t bytes;  /* its share of the table's size */
	int binary;      /* copy_out is in binary (engines/pg/pg_copybin.h): load and digest so too */
	char *copy_out;  /* COPY ... TO STDOUT */
} pg_copy_unit;

/*
 * The tables of c's snapshot with data, split like the dump splits them
 * (chunk_bytes; 0: never), largest first, in binary where the types allow
 * unless copy_text; lock: LOCK TABLE ... IN ACCESS SHARE MODE on c first,
 * as the dump does.
 */
int pg_copy_plan(PGconn *c, int server_num, uint64_t chunk_bytes, int copy_text, int lock,
		 pg_copy_unit **out, size_t *n, bderr *err);
void pg_copy_units_free(pg_copy_unit *u, size_t n);

/*
 * How many ctid ranges a table of bytes (heap + toast) in blocks heap blocks
 * is read in (1: one COPY).  whole_tables (a dump, whose one COPY is cut into
 * objects): a table up to RANGE_MIN_CHUNKS chunks, or with at least
 * shared_blocks heap blocks (the source's shared_buffers; 0: unknown), is one
 * COPY.
 */
int pg_dump_ranges(uint64_t bytes, uint64_t blocks, uint64_t chunk_bytes, int server_num,
		   int whole_tables, uint64_t shared_blocks);

#endif
