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
#include "engines/mysql/mysql_schema.h"
#include "engines/mysql/mysql_source.h"

/*
 * On success *id is the new backup's ID (caller frees).  A password of NULL
 * leaves $MYSQL_PWD to the client library.
 */
int mysql_dump_run(repo *r, const engine_dump_options *o, char **id, bderr *err);
/* engine_ops.reach: mysql_dump_run's first connection, alone. */
int mysql_dump_reach(const char *url, const char *password, bderr *err);

/*
 * A snapshot already open (migrate --via-repo): connections inside it, what
 * it reads, where it is in the binlog, and the schema as read under its
 * lock.  Its owner keeps the lock as long as non-transactional tables need
 * it; the dump neither locks, nor ends the transactions, nor closes.
 */
typedef struct my_dump_snapshot {
	MYSQL *coord;              /* outside the snapshot: objects, accounts */
	MYSQL *const *conns;       /* idle, inside the snapshot */
	int n_conns;
	const my_src_plan *plan;   /* its databases' views filled by the schema read */
	const json_t *binlog;
	const json_t *gtid;
	const mysql_schema_file *schema;
	size_t n_schema;
} my_dump_snapshot;

/* mysql_dump_run from snap instead of a snapshot of its own (o->url unused). */
int mysql_dump_snapshot(repo *r, const engine_dump_options *o, const my_dump_snapshot *snap,
			char **id, bderr *err);

#endif
