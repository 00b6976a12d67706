#include "engines/mysql/mysql_dump_users.h"

#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "engines/mysql/myconn.h"
#include "engines/jsonfield.h"
#include "engines/mysql/mygrant.h"
#include "engines/mysql/mysql_user_format.h"

/* The account's grant lines naming one of dbs into *out (*n of them). */
static int account_grants(MYSQL *c, const char *account, const char *const *dbs, size_t n_dbs,
			  char ***out, size_t *n, bderr *err)
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
				*out = xrealloc(*out, (*n + 2) * sizeof **out);
				(*out)[(*n)++] = xstrdup(row[0]);
				(*out)[*n] = NULL;
				break;
			}
	}
	mysql_free_result(res);
	return 0;
}

int mysql_dump_users(MYSQL *c, const char *const *dbs, size_t n_dbs, json_t *info, bderr *err)
{
	if (n_dbs == 0) {
		json_object_set_new(info, "users", json_array());
		return 0;
	}
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
	my_users_info users = { 0 };
	while (rc == 0 && (row = mysql_fetch_row(res)) != NULL) {
		if (row[0] == NULL)
			continue;
		char **grants = NULL;
		size_t n = 0;
		rc = account_grants(c, row[0], dbs, n_dbs, &grants, &n, err);
		if (rc == 0 && n > 0 && !my_account_valid(row[0]))
			rc = bderr_set(err, "unexpected account name %s from information_schema", row[0]);
		if (rc == 0 && n > 0)
			my_users_info_add(&users, row[0], grants, n);
		else
			jf_strings_free(grants, n);
	}
	mysql_free_result(res);
	if (rc == 0)
		json_object_set_new(info, "users", my_users_info_to_json(&users));
	my_users_info_clear(&users);
	return rc;
}
