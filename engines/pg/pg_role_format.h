/*
 * The roles a PostgreSQL dump records in manifest.json "info.roles" (written
 * by engines/pg/pg_dump_roles.c, read by engines/pg/pg_roles.c for --roles,
 * --owner and the missing-role check), as one typed array with one writer
 * and one parser; part of the dump's contract (engines/pg/pg_format.h), kept
 * in its own file because it arrived with provisioning.
 *
 * info.roles = [ { "name": string, "uses": ["owner" | "acl" | "policy"],
 *                  "login", "inherit", "createdb", "createrole", "superuser",
 *                  "replication", "bypassrls": bool, "connection_limit": integer } ]
 * absent in dumps written before roles were recorded.
 */
#ifndef BACKUPD_ENGINES_PG_ROLE_FORMAT_H
#define BACKUPD_ENGINES_PG_ROLE_FORMAT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

/* What the database uses a role for (pg_shdepend's owner, ACL and policy entries). */
enum { PG_ROLE_OWNER = 1, PG_ROLE_ACL = 2, PG_ROLE_POLICY = 4 };

typedef struct pg_role_info {
	char *name;
	unsigned uses; /* PG_ROLE_* */
	int login, inherit, createdb, createrole, superuser, replication, bypassrls;
	int64_t connection_limit; /* -1: none */
} pg_role_info;

typedef struct pg_roles_info {
	pg_role_info *roles;
	size_t n;
} pg_roles_info;

/* The array for info.roles. */
json_t *pg_roles_info_to_json(const pg_roles_info *r);
/*
 * Reads and validates info.roles (absent: no roles) into *out (zeroed
 * first); the error names the field by its path.
 */
int pg_roles_info_parse(const json_t *info, pg_roles_info *out, bderr *err);
void pg_roles_info_clear(pg_roles_info *r);

#endif
