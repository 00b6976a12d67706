#include "engines/mysql/mysql_users.h"

#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/mem.h"
#include "engines/mysql/myconn.h"
#include "engines/mysql/mygrant.h"

/* 'user'@'host' as information_schema writes it: two quoted parts, nothing else. */
static int valid_account(const char *a)
{
	const char *p = a;
	for (int part = 0; part < 2; part++) {
		if (*p++ != '\'')
			return 0;
		for (;; p++) {
			if (*p == '\0')
				return 0;
			if (*p == '\\' && p[1] != '\0') {
				p++;
				continue;
			}
			if (*p == '\'' && p[1] == '\'') {
				p++;
				continue;
			}
			if (*p == '\'')
				break;
		}
		p++;
		if (part == 0 && *p++ != '@')
			return 0;
	}
	return *p == '\0';
}

int mysql_users_restore(MYSQL *c, const json_t *users, const mysql_db_rename *dbs, size_t n_dbs,
			bderr *err)
{
	size_t i, n = 0;
	json_t *u;
	json_array_foreach(users, i, u) {
		const char *account = json_string_value(json_object_get(u, "account"));
		json_t *grants = json_object_get(u, "grants");
		if (account == NULL || !valid_account(account) || !json_is_array(grants))
			return bderr_set(err, "the backup's users[%zu] is malformed", i);
		char *sql = xasprintf("CREATE USER IF NOT EXISTS %s ACCOUNT LOCK", account);
		int rc = my_exec(c, sql, "cannot create an account", err);
		free(sql);
		if (rc != 0)
			return -1;
		size_t k;
		json_t *g;
		json_array_foreach(grants, k, g) {
			const char *line = json_string_value(g);
			size_t d = 0;
			while (line && d < n_dbs && !my_grant_names_db(line, dbs[d].from))
				d++;
			if (line == NULL || d == n_dbs || strchr(line, ';') != NULL)
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
