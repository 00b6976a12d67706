/*
 * MySQL/MariaDB digests (engines/digest.h): per table the rows read with the
 * dump's select list (BIT as numbers, FLOAT as DOUBLE, spatial as hex) and
 * hashed in the dump's TSV form (myformat.h), the schema objects by kind
 * (tables, views, indexes, foreign keys, triggers, routines, events).
 * AUTO_INCREMENT counters are not compared (they are not transactional).
 * Callers give a connection already in the snapshot they want (a START
 * TRANSACTION WITH CONSISTENT SNAPSHOT); the functions set its session to
 * the dump's (SET NAMES binary, time_zone MY_SESSION_TIME_ZONE).
 */
#ifndef BACKUPD_ENGINES_MYSQL_MY_DIGEST_H
#define BACKUPD_ENGINES_MYSQL_MY_DIGEST_H

#include <mysql.h>
#include <stddef.h>

#include "common/error.h"
#include "engines/digest.h"
#include "engines/engine.h"

/*
 * The digest of databases dbs[0..n) into a new set (the digest's schema is
 * the database name).  like: as pg_digest_compute (a table of like with
 * columns is read with exactly those; the others with their own non-generated
 * columns, which the set records).  One read of every table.
 */
int my_digest_compute(MYSQL *c, const char *const *dbs, size_t n_dbs, const digest_set *like,
		      digest_set **out, bderr *err);

/* Only the schema objects of db by kind, added to d. */
int my_digest_objects(MYSQL *c, const char *db, digest_set *d, bderr *err);
/* The same, recorded under the database name as_name (db restored under another name). */
int my_digest_objects_as(MYSQL *c, const char *db, const char *as_name, digest_set *d,
			 bderr *err);

/* The dump's SELECT list for columns of these DATA_TYPEs (caller frees). */
char *my_digest_select_list(char *const *columns, char *const *types, size_t n);

/*
 * One row as the dump's TSV line (fields escaped, tabs, a final newline)
 * into *buf (grown as needed); returns its length.
 */
size_t my_digest_row_line(char **buf, size_t *cap, char **row, const unsigned long *len,
			  unsigned nf);

/* Storage engines whose rows live elsewhere (MERGE, FEDERATED, ...): dumped as schema only. */
int my_engine_without_data(const char *engine);

/*
 * `restore --verify` / `dbrestore verify` (see pg_digest_verify), on a
 * connection of its own to uri: the dumped databases src_dbs[0..n) (a subset
 * of info's), restored as target_dbs[i].  against names the expected side
 * in messages ("backup ID", "the source's snapshot").
 */
struct my_dump_info;
struct my_uri;
int my_digest_verify(const struct my_uri *uri, const char *password,
		     const struct my_dump_info *info, const char *const *src_dbs,
		     const char *const *target_dbs, size_t n, const char *against, bderr *err);

/*
 * The engine's verify operation (engines/engine.h): the backup's databases
 * at o->to_url as restore would have put them: under their own names, the
 * one database the URI names for a backup of one database, or only those
 * the URI names.
 */
int my_digest_verify_run(repo *r, const manifest *m, const engine_restore_options *o, bderr *err);

#endif
