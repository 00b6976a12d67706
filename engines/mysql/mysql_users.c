#include "engines/mysql/mysql_users.h"

#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/mem.h"
#include "engines/mysql/myconn.h"
#include "engines/mysql/mygrant.h"

int mysql_users_restore(MYSQL *c, const my_users_info *users, const mysql_db_rename *dbs,
			size_t n_dbs, bderr *err)
{
	size_t n = 0;
	for (size_t i = 0; i < users->n; i++) {
		const char *account = users->users[i].account; /* checked by my_users_info_parse */
		char *sql = xasprintf("CREATE USER IF NOT EXISTS %s ACCOUNT LOCK", account);
		int rc = my_exec(c, sql, "cannot create an account", err);
		free(sql);
		if (rc != 0)
			return -1;
		for (size_t k = 0; k < users->users[i].n_grants; k++) {
			const char *line = users->users[i].grants[k];
			size_t d = 0;
			while (d < n_dbs && !my_grant_names_db(line, dbs[d].from))
				d++;
			if (d == n_dbs || strchr(line, ';') != NULL)
				return bderr_set(err, "the backup's users[%zu].grants[%zu] is not a grant on a restored database",
						 i, k);
			char *stmt = my_grant_rename_db(line, dbs[d].from, dbs[d].to);
			rc = my_exec(c, stmt, "cannot restore an account's grant", err);
			free(stmt);
			if (rc != 0)
				return -1;
		}
		n++;
	}
	log_info("restored %zu accounts' grants (missing accounts created locked, without a password)", n);
	return 0;
}
