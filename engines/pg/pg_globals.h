/*
 * A PostgreSQL server's globals, for whole-server dumps (dump
 * --all-databases): its roles (attributes, memberships, their own settings,
 * comments; password hashes only when asked, into an encrypted repository)
 * and tablespaces (owner, location, options, comment), recorded as JSON in
 * the dump's info.globals.  Each database's own properties and settings
 * travel with that database (engines/pg/pg_dbprops.h).
 *
 * globals = {
 *   "roles": [ { "name", "login", "inherit", "createdb", "createrole", "superuser",
 *                "replication", "bypassrls", "connection_limit", "valid_until",
 *                "comment", "settings": ["name=value"], "member_of": [ { "role", "admin" } ],
 *                "password": hash (only with --role-passwords) } ],
 *   "tablespaces": [ { "name", "owner", "location", "options": ["name=value"], "comment",
 *                      "acl": null (the defaults) or [ { "grantee" (null: PUBLIC),
 *                                                        "privilege": "CREATE", "grantable" } ] } ]
 *
 * Not carried: GRANT ... ON PARAMETER (PostgreSQL 15+) and security labels on roles.
 * }
 */
#ifndef BACKUPD_ENGINES_PG_GLOBALS_H
#define BACKUPD_ENGINES_PG_GLOBALS_H

#include <jansson.h>
#include <libpq-fe.h>

#include "common/error.h"

/* Reads the globals through c into out ("roles", "tablespaces"). */
int pg_globals_dump(PGconn *c, int passwords, json_t *out, bderr *err);

/*
 * Creates on the target (c, a superuser's connection) the recorded roles and
 * tablespaces it lacks, then the memberships and settings of the roles it
 * created; what exists already is left as it is (logged).  Every field is
 * checked before use: the error names it.
 */
int pg_globals_restore(PGconn *c, const json_t *globals, bderr *err);

#endif
