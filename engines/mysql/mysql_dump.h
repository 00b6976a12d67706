/*
 * Logical dump of MySQL/MariaDB databases into a repository.
 *
 * The coordinator takes FLUSH TABLES WITH READ LOCK, records the binlog
 * position, and while the lock is held every worker connection opens a
 * REPEATABLE READ transaction WITH CONSISTENT SNAPSHOT: all workers see the
 * same instant.  Non-transactional tables are read before the lock is
 * released.  Data goes out as LOAD DATA-ready TSV chunks (big tables split
 * on an integer key); schema comes from SHOW CREATE.  The manifest is
 * written last.  With consistency "no-lock" no FTWRL is taken (see README).
 */
#ifndef BACKUPD_ENGINES_MYSQL_DUMP_H
#define BACKUPD_ENGINES_MYSQL_DUMP_H

#include "engines/engine.h"

/*
 * On success *id is the new backup's ID (caller frees).  A password of NULL
 * leaves $MYSQL_PWD to the client library.
 */
int mysql_dump_run(repo *r, const engine_dump_options *o, char **id, bderr *err);

#endif
