/*
 * The roles a PostgreSQL database's objects reference, recorded at dump time
 * in the manifest's info.roles: for each, its attributes (never its
 * password) and how the database uses it ("owner", "acl", "policy").
 * restore checks them against the target before anything is created, and
 * --roles creates the missing ones from them.
 */
#ifndef BACKUPD_PG_DUMP_ROLES_H
#define BACKUPD_PG_DUMP_ROLES_H

#include <jansson.h>
#include <libpq-fe.h>

#include "common/error.h"

/* Reads them in c's snapshot and sets info.roles. */
int pg_dump_roles(PGconn *c, json_t *info, bderr *err);

#endif
