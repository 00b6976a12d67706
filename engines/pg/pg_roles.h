/*
 * Roles on restore (PostgreSQL): --owner ROLE (every object owned by ROLE:
 * the source's owning roles map to it), --role-map OLD=NEW (renames), and
 * --roles (creates the roles the backup's objects reference and the target
 * lacks, from the attributes the dump recorded in info.roles; never a
 * password, never SUPERUSER, REPLICATION or BYPASSRLS).  Without these, the
 * roles the restore would need and the target lacks are one error, listing
 * them all, before anything is created.
 *
 * Statements of pg_dump's scripts are rewritten one at a time: role names
 * in OWNER TO, GRANT ... TO, REVOKE ... FROM, CREATE/ALTER POLICY ... TO
 * and ALTER DEFAULT PRIVILEGES FOR ROLE positions only (never inside
 * strings, bodies or expressions).
 */
#ifndef BACKUPD_RESTORE_PG_ROLES_H
#define BACKUPD_RESTORE_PG_ROLES_H

#include <stddef.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "common/error.h"
#include "engines/pg/pg_role_format.h"

typedef struct pg_role_map {
	char *owner;  /* --owner, or NULL */
	char **from;  /* renames: explicit --role-map first, then owner-derived */
	char **to;
	size_t n;
	size_t cap;
} pg_role_map;

void pg_role_map_init(pg_role_map *m);
void pg_role_map_clear(pg_role_map *m);
/* One --role-map OLD=NEW (usage error when malformed or OLD given twice). */
int pg_role_map_add(pg_role_map *m, const char *spec, bderr *err);
/*
 * With --owner: every recorded role the database uses as an owner maps to
 * it, unless --role-map names it.  roles: info.roles, parsed
 * (none in a manifest written before they were recorded).
 */
void pg_role_map_add_owners(pg_role_map *m, const pg_roles_info *roles);
/*
 * The first role m maps from that neither roles (info.roles) nor also[0..n)
 * (the database's own owner and grantees) names: a --role-map OLD the
 * backup never references (a typo) would change nothing.  NULL when all
 * are known.
 */
const char *pg_role_map_unknown(const pg_role_map *m, const pg_roles_info *roles, const char *const *also,
				size_t n);
/* The target's name for a source role. */
const char *pg_role_map_name(const pg_role_map *m, const char *role);
/* The target's owner for an object the source role owned. */
const char *pg_role_map_owner(const pg_role_map *m, const char *role);
/* 1 when nothing is mapped (statements pass through). */
int pg_role_map_empty(const pg_role_map *m);

/* stmt[0..n) with its role names mapped (malloc'ed), or NULL when unchanged. */
char *pg_role_map_statement(const pg_role_map *m, const char *stmt, size_t n);

typedef struct pg_roles_check {
	int no_owner;
	int no_privileges;
	int create;  /* --roles */
} pg_roles_check;

/*
 * Compares the roles the restore needs (info.roles, as mapped and as the
 * options leave them needed) with the target's (c): creates the missing
 * ones with --roles, else one error listing them.  --owner's role must
 * exist.  No roles (a manifest written before they were recorded):
 * nothing to check but --owner.
 */
int pg_roles_prepare(PGconn *c, const pg_roles_info *roles, const pg_role_map *m, const pg_roles_check *o,
		     bderr *err);

#endif
