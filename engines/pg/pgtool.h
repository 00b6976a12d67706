/*
 * Finding PostgreSQL client programs.  pg_dump must be at least as new as the
 * server it dumps, so we look at every installed major version (Debian keeps
 * them side by side in /usr/lib/postgresql/N/bin) and pick the newest one, or
 * the directory named by $BACKUPD_PG_BINDIR when the operator sets it.
 */
#ifndef BACKUPD_ENGINES_PG_PGTOOL_H
#define BACKUPD_ENGINES_PG_PGTOOL_H

#include "common/error.h"

typedef struct pg_tool {
	char *path;
	int major;        /* 15 */
	char *version;    /* "15.20" */
} pg_tool;

/*
 * Finds the newest `name` (pg_dump, psql) whose major version is at least
 * min_major (0: any).  The error says which version is needed and where we
 * looked.
 */
int pg_tool_find(const char *name, int min_major, pg_tool *out, bderr *err);
void pg_tool_clear(pg_tool *t);

#endif
