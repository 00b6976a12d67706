/*
 * Drops ownership and privilege statements from pg_dump's plain SQL, for
 * restores onto a server that lacks the source's roles (a new machine, a
 * managed target): what pg_restore's --no-owner and --no-privileges do with
 * its archive's table of contents.  Plain SQL has no such table, so this
 * splits the text into top-level statements, honouring quotes, dollar quotes
 * and comments, so that a function body that merely contains "OWNER TO" is
 * never touched.
 */
#ifndef BACKUPD_RESTORE_PG_SQL_FILTER_H
#define BACKUPD_RESTORE_PG_SQL_FILTER_H

#include <stddef.h>

enum {
	SQL_DROP_OWNER = 1,      /* ALTER ... OWNER TO role; */
	SQL_DROP_PRIVILEGES = 2  /* GRANT, REVOKE, ALTER DEFAULT PRIVILEGES */
};

/*
 * Filters sql[0..*len) in place and updates *len; returns how many statements
 * were dropped.  Text it cannot classify is kept as it is.
 */
size_t pg_sql_filter(char *sql, size_t *len, int drop);

#endif
