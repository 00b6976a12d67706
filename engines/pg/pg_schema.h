/*
 * The schema part of a PostgreSQL dump comes from pg_dump itself, so the DDL
 * is always right for the server's version.  It runs under the coordinator's
 * exported snapshot and streams one section (pre-data or post-data) as plain
 * SQL into a repository object.
 */
#ifndef BACKUPD_ENGINES_PG_SCHEMA_H
#define BACKUPD_ENGINES_PG_SCHEMA_H

#include "archive/object.h"
#include "engines/pg/pgtool.h"

int pg_schema_dump(const pg_tool *pg_dump, const char *url, const char *password,
		   const char *snapshot, const char *section, object_writer *ow, bderr *err);

/* The same from database dbname (NULL: the URL's), pg_dump given extra arguments too. */
int pg_schema_dump_ex(const pg_tool *pg_dump, const char *url, const char *password,
		      const char *dbname, const char *snapshot, const char *section,
		      const char *const *extra, size_t n_extra, object_writer *ow, bderr *err);

#endif
