#include "engines/pg/pg_role_format.h"

#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "engines/jsonfield.h"

static const char *const use_names[] = { "owner", "acl", "policy" };

json_t *pg_roles_info_to_json(const pg_roles_info *r)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < r->n; i++) {
		const pg_role_info *x = &r->roles[i];
		json_t *uses = json_array();
		for (size_t k = 0; k < 3; k++)
			if (x->uses & (1u << k))
				json_array_append_new(uses, json_string(use_names[k]));
		json_array_append_new(
			arr, json_pack("{s:s, s:o, s:b, s:b, s:b, s:b, s:b, s:b, s:b, s:I}", "name",
				       x->name, "uses", uses, "login", x->login, "inherit", x->inherit,
				       "createdb", x->createdb, "createrole", x->createrole,
				       "superuser", x->superuser, "replication", x->replication,
				       "bypassrls", x->bypassrls, "connection_limit",
				       (json_int_t)x->connection_limit));
	}
	return arr;
}

static int parse_role(const json_t *v, const char *where, void *elem, bderr *err)
{
	pg_role_info *x = elem;
	char **uses = NULL;
	size_t n_uses = 0;
	x->connection_limit = -1;
	if (jf_string(v, "name", 1, &x->name, where, err) != 0 ||
	    jf_strings(v, "uses", 0, &uses, &n_uses, where, err) != 0)
		return -1;
	int rc = 0;
	for (size_t i = 0; i < n_uses && rc == 0; i++) {
		size_t k = 0;
		while (k < 3 && strcmp(uses[i], use_names[k]) != 0)
			k++;
		if (k == 3)
			rc = bderr_set(err, "%s.uses[%zu] must be owner, acl or policy", where, i);
		else
			x->uses |= 1u << k;
	}
	jf_strings_free(uses, n_uses);
	if (rc != 0)
		return -1;
	if (x->name[0] == '\0')
		return bderr_set(err, "%s.name must not be empty", where);
	/* a missing flag is off: the role is created with less, never with more */
	if (jf_bool(v, "login", 0, &x->login, where, err) != 0 ||
	    jf_bool(v, "inherit", 0, &x->inherit, where, err) != 0 ||
	    jf_bool(v, "createdb", 0, &x->createdb, where, err) != 0 ||
	    jf_bool(v, "createrole", 0, &x->createrole, where, err) != 0 ||
	    jf_bool(v, "superuser", 0, &x->superuser, where, err) != 0 ||
	    jf_bool(v, "replication", 0, &x->replication, where, err) != 0 ||
	    jf_bool(v, "bypassrls", 0, &x->bypassrls, where, err) != 0 ||
	    jf_int(v, "connection_limit", 0, -1, INT32_MAX, &x->connection_limit, where, err) != 0)
		return -1;
	return 0;
}

int pg_roles_info_parse(const json_t *info, pg_roles_info *out, bderr *err)
{
	memset(out, 0, sizeof *out);
	if (jf_objects(info, "roles", 0, sizeof *out->roles, parse_role, (void **)&out->roles,
		       &out->n, "info", err) != 0) {
		bderr_prefix(err, "invalid manifest");
		pg_roles_info_clear(out);
		return -1;
	}
	return 0;
}

void pg_roles_info_clear(pg_roles_info *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->n; i++)
		free(r->roles[i].name);
	free(r->roles);
	memset(r, 0, sizeof *r);
}
