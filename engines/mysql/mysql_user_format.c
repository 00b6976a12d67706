#include "engines/mysql/mysql_user_format.h"

#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "engines/jsonfield.h"

int my_account_valid(const char *a)
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

void my_users_info_add(my_users_info *u, const char *account, char **grants, size_t n_grants)
{
	u->users = xrealloc(u->users, (u->n + 1) * sizeof *u->users);
	u->users[u->n++] = (my_user_info){ xstrdup(account), grants, n_grants };
	u->recorded = 1;
}

json_t *my_users_info_to_json(const my_users_info *u)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < u->n; i++)
		json_array_append_new(arr, json_pack("{s:s, s:o}", "account", u->users[i].account,
						     "grants",
						     jf_strings_json(u->users[i].grants,
								     u->users[i].n_grants)));
	return arr;
}

static int parse_user(const json_t *v, const char *where, void *elem, bderr *err)
{
	my_user_info *x = elem;
	if (jf_string(v, "account", 1, &x->account, where, err) != 0 ||
	    jf_strings(v, "grants", 1, &x->grants, &x->n_grants, where, err) != 0)
		return -1;
	/* it is spliced into CREATE USER: nothing but the quoted 'user'@'host' */
	if (!my_account_valid(x->account))
		return bderr_set(err, "%s.account must be 'user'@'host'", where);
	return 0;
}

int my_users_info_parse(const json_t *info, my_users_info *out, bderr *err)
{
	memset(out, 0, sizeof *out);
	out->recorded = json_is_object(info) && json_object_get(info, "users") != NULL;
	if (jf_objects(info, "users", 0, sizeof *out->users, parse_user, (void **)&out->users,
		       &out->n, "info", err) != 0) {
		bderr_prefix(err, "invalid manifest");
		my_users_info_clear(out);
		return -1;
	}
	return 0;
}

void my_users_info_clear(my_users_info *u)
{
	if (u == NULL)
		return;
	for (size_t i = 0; i < u->n; i++) {
		free(u->users[i].account);
		jf_strings_free(u->users[i].grants, u->users[i].n_grants);
	}
	free(u->users);
	memset(u, 0, sizeof *u);
}
