/*
 * The schema half of a MySQL dump: per database, the SHOW CREATE text of
 * tables, views (dependency order), triggers, routines and events, written
 * as the statement files the restore replays.
 */
#ifndef BACKUPD_ENGINES_MYSQL_SCHEMA_H
#define BACKUPD_ENGINES_MYSQL_SCHEMA_H

#include "common/tablefilter.h"

#include <jansson.h>
#include <stddef.h>

#include "archive/repo.h"
#include "engines/mysql/myconn.h"

typedef struct mysql_schema_target {
	repo *repo;
	manifest *m;       /* schema objects are added here (coordinator only) */
	const char *name;  /* source name in the repository */
	const char *id;    /* backup ID */
	int level;         /* zstd level, 0 = none */
	const table_filter *filter; /* --include-table ...: views and triggers of left-out tables go too */
} mysql_schema_target;

/*
 * Dumps db's schema through c (a utf8mb4 session; its default database is
 * switched to db so SHOW CREATE leaves same-database references
 * unqualified, which lets the restore rename the database).  tables are the
 * base tables to dump, in order; view names in dependency order are
 * appended to views.
 */
int mysql_schema_dump(MYSQL *c, const mysql_schema_target *t, const char *db, const char *charset,
		      const char *collation, char *const *tables, size_t n_tables, json_t *views,
		      bderr *err);

#endif
