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
#ifndef BACKUPD_PG_DUMP_H
#define BACKUPD_PG_DUMP_H

#include <stdint.h>
#include "archive/repo.h"

typedef struct pg_dump_options {
	const char *url;          /* connection URI */
	const char *password;     /* from a 0600 file, or NULL */
	const char *name;         /* source name in the repository */
	int jobs;                 /* worker connections */
	int compress_level;       /* zstd level, 0 = none */
	const char *compress_spec;
	uint64_t chunk_bytes;     /* split tables larger than this */
} pg_dump_options;

/* On success *id is the new backup's ID (caller frees). */
int pg_dump_run(repo *r, const pg_dump_options *o, char **id, bderr *err);

#endif
