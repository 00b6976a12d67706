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
#ifndef BACKUPD_MYSQL_DUMP_H
#define BACKUPD_MYSQL_DUMP_H

#include <stdint.h>
#include "archive/repo.h"

typedef struct mysql_dump_options {
	const char *url;          /* mysql:// or mariadb:// URI */
	const char *password;     /* from a 0600 file, or NULL ($MYSQL_PWD then) */
	const char *name;         /* source name in the repository */
	int jobs;                 /* worker connections */
	int compress_level;       /* zstd level, 0 = none */
	const char *compress_spec;
	uint64_t chunk_bytes;     /* split tables larger than this */
	int no_lock;              /* --consistency no-lock */
} mysql_dump_options;

/* On success *id is the new backup's ID (caller frees). */
int mysql_dump_run(repo *r, const mysql_dump_options *o, char **id, bderr *err);

#endif
