/*
 * MySQL/MariaDB accounts that hold grants naming the dumped databases,
 * recorded in the manifest's info.users: the account ('user'@'host', as
 * information_schema names it) and those of its SHOW GRANTS lines that name
 * a dumped database.  No password or authentication: restore --roles creates
 * missing accounts locked (ACCOUNT LOCK), for the operator to give them a
 * password, and never touches existing accounts' authentication.
 */
#ifndef BACKUPD_MYSQL_DUMP_USERS_H
#define BACKUPD_MYSQL_DUMP_USERS_H

#include <stddef.h>

#include <jansson.h>
#include <mysql.h>

#include "common/error.h"

int mysql_dump_users(MYSQL *c, const char *const *dbs, size_t n_dbs, json_t *info, bderr *err);

#endif
