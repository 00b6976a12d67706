#include "engines/mysql/mysql_dump_users.h"

#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "engines/mysql/myconn.h"
#include "engines/mysql/mygrant.h"

static int account_grants(MYSQL *c, const char *account, const char *const *dbs, size_t n_dbs,
			  json_t *grants, bderr *err)
{
	char *sql = xasprintf("SHOW GRANTS FOR %s", account);
	MYSQL_RES *res = NULL;
	int rc = my_query(c, sql, "cannot read an account's grants", &res, err);
	free(sql);
	if (rc != 0)
		return -1;
	MYSQL_ROW row;
	while ((row = mysql_fetch_row(res)) != NULL) {
		if (row[0] == NULL)
			continue;
		for (size_t i = 0; i < n_dbs; i++)
			if (my_grant_names_db(row[0], dbs[i])) {
				json_array_append_new(grants, json_string(row[0]));
				break;
			}
	}
	mysql_free_result(res);
	return 0;
}

int mysql_dump_users(MYSQL *c, const char *const *dbs, size_t n_dbs, json_t *info, bderr *err)
{
	json_t *users = json_array();
	json_object_set_new(info, "users", users);
	if (n_dbs == 0)
		return 0;
	strbuf in;
	strbuf_init(&in);
	for (size_t i = 0; i < n_dbs; i++) {
		char *lit = my_quote_literal(c, dbs[i]);
		strbuf_appendf(&in, "%s%s", i ? ", " : "", lit);
		free(lit);
	}
	char *sql = xasprintf("SELECT GRANTEE FROM information_schema.SCHEMA_PRIVILEGES WHERE TABLE_SCHEMA IN (%s) "
			      "UNION SELECT GRANTEE FROM information_schema.TABLE_PRIVILEGES WHERE TABLE_SCHEMA IN (%s) "
			      "UNION SELECT GRANTEE FROM information_schema.COLUMN_PRIVILEGES WHERE TABLE_SCHEMA IN (%s) "
			      "ORDER BY 1",
			      in.data, in.data, in.data);
	strbuf_free(&in);
	MYSQL_RES *res = NULL;
	int rc = my_query(c, sql, "cannot list the accounts with grants on the dumped databases", &res, err);
	free(sql);
	if (rc != 0)
		return -1;
	MYSQL_ROW row;
	while (rc == 0 && (row = mysql_fetch_row(res)) != NULL) {
		if (row[0] == NULL)
			continue;
		json_t *grants = json_array();
		rc = account_grants(c, row[0], dbs, n_dbs, grants, err);
		if (rc == 0 && json_array_size(grants) > 0)
			json_array_append_new(users, json_pack("{s:s, s:O}", "account", row[0], "grants", grants));
		json_decref(grants);
	}
	mysql_free_result(res);
	return rc;
}
