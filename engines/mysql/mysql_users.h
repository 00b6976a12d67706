/*
 * restore --roles on MySQL/MariaDB: the accounts the dump recorded
 * (info.users, engines/mysql/mysql_user_format.h) with their grants on the restored
 * databases, renamed databases followed.  A missing account is created
 * locked (ACCOUNT LOCK: no password was carried), an existing one keeps its
 * authentication and gains the grants.
 */
#ifndef BACKUPD_RESTORE_MYSQL_USERS_H
#define BACKUPD_RESTORE_MYSQL_USERS_H

#include <stddef.h>

#include <jansson.h>
#include <mysql.h>

#include "common/error.h"
#include "engines/mysql/mysql_user_format.h"

typedef struct mysql_db_rename {
	const char *from; /* the dumped database */
	const char *to;   /* its name on the target */
} mysql_db_rename;

int mysql_users_restore(MYSQL *c, const my_users_info *users, const mysql_db_rename *dbs,
			size_t n_dbs, bderr *err);

#endif
