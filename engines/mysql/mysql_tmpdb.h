#ifndef BACKUPD_RESTORE_MYSQL_TMPDB_H
#define BACKUPD_RESTORE_MYSQL_TMPDB_H

#include <mysql.h>

#include "common/error.h"

/*
 * restore --create into MySQL/MariaDB without a half database under the
 * target's name.  The server cannot rename a database, so tables and data go
 * into a temporary database (my_tmpdb_name) holding a marker table; at the
 * end one RENAME TABLE statement moves every table, marker included, into
 * the freshly created target; views, routines, triggers and events follow in
 * the target, then the temporary database and last the marker go.  A named
 * lock (GET_LOCK on the temporary name), held by the coordinator's
 * connection for the whole restore, tells a live restorer from a killed one.
 */

/* The table that marks a database as a restore in progress. */
#define MY_TMPDB_MARKER "backupd_restore_in_progress"

/*
 * MariaDB 10.5 and newer also let a database carry a comment: the target is
 * created with this one, so that it is marked from its CREATE DATABASE on,
 * not only once the RENAME has brought the marker table in; the comment is
 * cleared just before the marker table goes.  MySQL has no database comments:
 * there an empty target next to a leftover temporary database tells the same.
 */
#define MY_TMPDB_COMMENT "backupd: restore in progress"

/* backupd_restore_ and a hash of the target's name (caller frees). */
char *my_tmpdb_name(const char *target);

/*
 * Takes the named lock of TMP on C (refused if another restore of TARGET
 * holds it; a holder running a statement is waited for: restore_claim_wait)
 * and drops what a killed restore of TARGET left: the temporary
 * database, and a target still carrying the marker table or comment (or, on
 * MySQL, left empty by a kill between its creation and the rename).
 */
int my_tmpdb_claim(MYSQL *c, const char *target, const char *tmp, bderr *err);

/* Creates the marker table in the (just created) temporary database. */
int my_tmpdb_mark(MYSQL *c, const char *tmp, bderr *err);

/*
 * Creates TARGET with CREATE_OPTS (its character set and collation clauses)
 * and moves every table of TMP into it in one RENAME TABLE statement.
 * *created tells whether TARGET was created (the caller drops it on failure).
 */
int my_tmpdb_publish(MYSQL *c, const char *tmp, const char *target, const char *create_opts,
		     int *created, bderr *err);

/* Drops the emptied temporary database, then the markers: TARGET is complete. */
int my_tmpdb_finish(MYSQL *c, const char *tmp, const char *target, bderr *err);

#endif
