/*
 * Restore of a MySQL/MariaDB logical dump: tables from their SHOW CREATE
 * text, data in --jobs parallel workers through LOAD DATA LOCAL INFILE fed
 * straight from the repository (multi-row INSERTs when the server refuses
 * local_infile), every chunk's SHA-256, size and row count checked, then
 * triggers, routines, events and views.
 */
#ifndef BACKUPD_ENGINES_MYSQL_RESTORE_H
#define BACKUPD_ENGINES_MYSQL_RESTORE_H

#include "engines/engine.h"

/*
 * The database of o->to_url renames a one-database dump; a password of
 * NULL leaves $MYSQL_PWD to the client library.
 */
int mysql_restore_run(repo *r, const manifest *m, const engine_restore_options *o, bderr *err);

#endif
