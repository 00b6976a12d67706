#include "engines/pg/pg_dbprops.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "common/mem.h"
#include "engines/pg/pgconn.h"

/* ---- parsing ---- */

static int opt_string(const json_t *o, const char *key, int required, char **out, bderr *err)
{
	json_t *v = json_object_get(o, key);
	*out = NULL;
	if ((v == NULL || json_is_null(v)) && !required)
		return 0;
	if (!json_is_string(v) || (required && json_string_length(v) == 0))
		return bderr_set(err, "database_properties.%s %s", key,
				 v ? "must be a non-empty string" : "is missing");
	*out = xstrdup(json_string_value(v));
	return 0;
}

static int guc_name_ok(const char *s, size_t n)
{
	if (n == 0 || n > 200)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '.')
			return 0;
	return 1;
}

/* ["name=value", ...] as pg_db_role_setting.setconfig holds them */
static int parse_settings(const json_t *arr, const char *where, pg_db_settings *out, bderr *err)
{
	if (!json_is_array(arr))
		return bderr_set(err, "%s must be an array of \"name=value\" strings", where);
	out->items = xcalloc(json_array_size(arr) + 1, sizeof *out->items);
	size_t i;
	json_t *v;
	json_array_foreach(arr, i, v) {
		const char *s = json_string_value(v);
		const char *eq = s ? strchr(s, '=') : NULL;
		if (eq == NULL || !guc_name_ok(s, (size_t)(eq - s)))
			return bderr_set(err, "%s[%zu] must be \"name=value\" with a setting's name", where, i);
		out->items[out->n].name = xstrndup(s, (size_t)(eq - s));
		out->items[out->n].value = xstrdup(eq + 1);
		out->n++;
	}
	return 0;
}

static int parse_acl(const json_t *arr, pg_db_props *p, bderr *err)
{
	static const char *const privs[] = { "CREATE", "CONNECT", "TEMPORARY" };
	if (arr == NULL || json_is_null(arr))
		return 0;
	if (!json_is_array(arr))
		return bderr_set(err, "database_properties.acl must be an array or null");
	p->has_acl = 1;
	p->acl = xcalloc(json_array_size(arr) + 1, sizeof *p->acl);
	size_t i;
	json_t *g;
	json_array_foreach(arr, i, g) {
		pg_db_grant *out = &p->acl[p->n_acl];
		json_t *grantee = json_object_get(g, "grantee");
		const char *priv = json_string_value(json_object_get(g, "privilege"));
		json_t *grantable = json_object_get(g, "grantable");
		if (!(json_is_null(grantee) || (json_is_string(grantee) && json_string_length(grantee) > 0)) ||
		    !json_is_boolean(grantable) || priv == NULL)
			return bderr_set(err, "database_properties.acl[%zu] must have grantee, privilege and grantable", i);
		for (size_t k = 0; k < sizeof privs / sizeof *privs; k++)
			if (strcmp(priv, privs[k]) == 0)
				out->privilege = privs[k];
		if (out->privilege == NULL)
			return bderr_set(err, "database_properties.acl[%zu]: '%s' is not a database privilege", i, priv);
		out->grantee = json_is_string(grantee) ? xstrdup(json_string_value(grantee)) : NULL;
		out->grantable = json_is_true(grantable);
		p->n_acl++;
	}
	return 0;
}

static int parse_all(const json_t *v, pg_db_props *p, bderr *err)
{
	if (!json_is_object(v))
		return bderr_set(err, "database_properties must be an object");
	json_t *limit = json_object_get(v, "connection_limit");
	if (!json_is_integer(limit) || json_integer_value(limit) < -1 || json_integer_value(limit) > 0x7fffffff)
		return bderr_set(err, "database_properties.connection_limit must be an integer from -1");
	p->connection_limit = (int)json_integer_value(limit);
	if (opt_string(v, "owner", 1, &p->owner, err) != 0 || opt_string(v, "collate", 1, &p->collate, err) != 0 ||
	    opt_string(v, "ctype", 1, &p->ctype, err) != 0 ||
	    opt_string(v, "locale_provider", 1, &p->provider, err) != 0 ||
	    opt_string(v, "locale", 0, &p->locale, err) != 0 ||
	    opt_string(v, "icu_rules", 0, &p->icu_rules, err) != 0 ||
	    opt_string(v, "comment", 0, &p->comment, err) != 0)
		return -1;
	if (strcmp(p->provider, "libc") != 0 && strcmp(p->provider, "icu") != 0 &&
	    strcmp(p->provider, "builtin") != 0)
		return bderr_set(err, "database_properties.locale_provider must be libc, icu or builtin");
	if (strcmp(p->provider, "libc") != 0 && p->locale == NULL)
		return bderr_set(err, "database_properties.locale is missing for the %s provider", p->provider);
	if (parse_acl(json_object_get(v, "acl"), p, err) != 0)
		return -1;
	json_t *roles = json_object_get(v, "role_settings");
	if (!json_is_array(roles))
		return bderr_set(err, "database_properties.role_settings must be an array");
	p->settings = xcalloc(json_array_size(roles) + 1, sizeof *p->settings);
	p->n_settings = 1;
	if (parse_settings(json_object_get(v, "settings"), "database_properties.settings", &p->settings[0], err) != 0)
		return -1;
	size_t i;
	json_t *r;
	json_array_foreach(roles, i, r) {
		pg_db_settings *s = &p->settings[p->n_settings++];
		char where[64];
		snprintf(where, sizeof where, "database_properties.role_settings[%zu]", i);
		const char *role = json_string_value(json_object_get(r, "role"));
		if (role == NULL || *role == '\0')
			return bderr_set(err, "%s.role must be a role name", where);
		s->role = xstrdup(role);
		strcat(where, ".settings");
		if (parse_settings(json_object_get(r, "settings"), where, s, err) != 0)
			return -1;
	}
	return 0;
}

int pg_db_props_parse(const json_t *v, pg_db_props **out, bderr *err)
{
	*out = NULL;
	if (v == NULL)
		return 0;
	pg_db_props *p = xcalloc(1, sizeof *p);
	if (parse_all(v, p, err) != 0) {
		bderr_prefix(err, "invalid manifest");
		pg_db_props_free(p);
		return -1;
	}
	*out = p;
	return 0;
}

void pg_db_props_free(pg_db_props *p)
{
	if (p == NULL)
		return;
	free(p->owner);
	free(p->collate);
	free(p->ctype);
	free(p->provider);
	free(p->locale);
	free(p->icu_rules);
	free(p->comment);
	for (size_t i = 0; i < p->n_acl; i++)
		free(p->acl[i].grantee);
	free(p->acl);
	for (size_t i = 0; i < p->n_settings; i++) {
		for (size_t k = 0; k < p->settings[i].n; k++) {
			free(p->settings[i].items[k].name);
			free(p->settings[i].items[k].value);
		}
		free(p->settings[i].items);
		free(p->settings[i].role);
	}
	free(p->settings);
	free(p);
}

/* ---- SQL ---- */

static void append_literal(PGconn *c, strbuf *b, const char *s)
{
	char *q = PQescapeLiteral(c, s, strlen(s));
	strbuf_appends(b, q ? q : "''");
	PQfreemem(q);
}

char *pg_db_props_create_options(PGconn *c, const pg_db_props *p, int server_num, bderr *err)
{
	strbuf b;
	strbuf_init(&b);
	strbuf_appends(&b, " LC_COLLATE ");
	append_literal(c, &b, p->collate);
	strbuf_appends(&b, " LC_CTYPE ");
	append_literal(c, &b, p->ctype);
	int need = strcmp(p->provider, "icu") == 0 ? 150000 : strcmp(p->provider, "builtin") == 0 ? 170000 : 0;
	if (server_num < need) {
		strbuf_free(&b);
		bderr_set(err, "the source database uses the %s locale provider, which PostgreSQL %d lacks",
			  p->provider, server_num / 10000);
		return NULL;
	}
	if (strcmp(p->provider, "libc") != 0) {
		strbuf_appendf(&b, " LOCALE_PROVIDER %s %s ", p->provider,
			       strcmp(p->provider, "icu") == 0 ? "ICU_LOCALE" : "BUILTIN_LOCALE");
		append_literal(c, &b, p->locale);
		if (p->icu_rules != NULL && strcmp(p->provider, "icu") == 0) {
			if (server_num < 160000) {
				strbuf_free(&b);
				bderr_set(err, "the source database has ICU rules, which PostgreSQL %d lacks",
					  server_num / 10000);
				return NULL;
			}
			strbuf_appends(&b, " ICU_RULES ");
			append_literal(c, &b, p->icu_rules);
		}
	}
	return strbuf_detach(&b);
}

static int role_exists(PGconn *c, const char *role, bderr *err)
{
	const char *params[] = { role };
	PGresult *r = NULL;
	if (pg_query_params(c, "SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1", 1, params,
			    "cannot look up a role", &r, err) != 0)
		return -1;
	int n = PQntuples(r);
	PQclear(r);
	return n > 0;
}

/* 1: present; 0: missing (warned, with what the property was); -1: error */
static int need_role(PGconn *c, const char *role, const char *what, bderr *err)
{
	int r = role_exists(c, role, err);
	if (r == 0)
		log_warn("role '%s' does not exist on the target: %s not restored", role, what);
	return r;
}

/* GUCs whose values are lists of quoted items (pg_dump treats them alike). */
static int is_list_setting(const char *name)
{
	static const char *const lists[] = { "local_preload_libraries", "search_path",
					      "session_preload_libraries", "shared_preload_libraries",
					      "temp_tablespaces", "unix_socket_directories" };
	for (size_t i = 0; i < sizeof lists / sizeof *lists; i++)
		if (strcasecmp(name, lists[i]) == 0)
			return 1;
	return 0;
}

char **pg_db_list_items(const char *v, size_t *n)
{
	size_t cap = 4;
	char **items = xcalloc(cap, sizeof *items);
	const char *p = v;
	*n = 0;
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		strbuf item;
		strbuf_init(&item);
		if (*p == '"') {
			for (p++; *p; p++) {
				if (*p == '"' && p[1] == '"')
					strbuf_append(&item, p++, 1);
				else if (*p == '"') {
					p++;
					break;
				} else
					strbuf_append(&item, p, 1);
			}
			while (*p && *p != ',')
				p++;
		} else {
			const char *s = p;
			while (*p && *p != ',')
				p++;
			const char *e = p;
			while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
				e--;
			strbuf_append(&item, s, (size_t)(e - s));
		}
		if (*n + 1 == cap) {
			cap *= 2;
			items = xrealloc(items, cap * sizeof *items);
		}
		items[(*n)++] = item.data ? strbuf_detach(&item) : xstrdup("");
		items[*n] = NULL;
		if (*p != ',')
			break;
		p++;
	}
	return items;
}

/* "a, \"B c\"" -> 'a', 'B c': each item one literal, as SET takes a list. */
static void append_list_value(PGconn *c, strbuf *b, const char *v)
{
	size_t n = 0;
	char **items = pg_db_list_items(v, &n);
	for (size_t i = 0; i < n; i++) {
		strbuf_appends(b, i ? ", " : "");
		append_literal(c, b, items[i]);
		free(items[i]);
	}
	free(items);
}

static int exec(PGconn *c, const char *sql, const char *dbname, bderr *err)
{
	char *what = xasprintf("cannot restore a property of database '%s'", dbname);
	int r = pg_exec(c, sql, what, err);
	free(what);
	return r;
}

static int apply_settings(PGconn *c, const char *qdb, const char *dbname, const pg_db_settings *s,
			  bderr *err)
{
	char *head;
	if (s->role != NULL) {
		int r = s->n ? need_role(c, s->role, "its settings in the database", err) : 1;
		if (r <= 0)
			return r;
		char *qr = pg_quote_ident(c, s->role);
		/* qdb NULL: the role's settings in every database (whole-server restores) */
		head = qdb ? xasprintf("ALTER ROLE %s IN DATABASE %s", qr, qdb) : xasprintf("ALTER ROLE %s", qr);
		free(qr);
	} else {
		head = xasprintf("ALTER DATABASE %s", qdb);
	}
	int rc = 0;
	for (size_t i = 0; i < s->n && rc == 0; i++) {
		strbuf b;
		strbuf_init(&b);
		char *qn = pg_quote_ident(c, s->items[i].name);
		strbuf_appendf(&b, "%s SET %s TO ", head, qn);
		free(qn);
		if (is_list_setting(s->items[i].name))
			append_list_value(c, &b, s->items[i].value);
		else
			append_literal(c, &b, s->items[i].value);
		rc = exec(c, b.data, dbname, err);
		strbuf_free(&b);
	}
	free(head);
	return rc;
}

/* The database's ACL as recorded: nothing left of the defaults, then each grant. */
static int apply_acl(PGconn *c, const char *qdb, const char *dbname, const pg_db_props *p, bderr *err)
{
	const char *params[] = { dbname };
	PGresult *r = NULL;
	if (pg_query_params(c, "SELECT pg_catalog.pg_get_userbyid(datdba) FROM pg_catalog.pg_database WHERE datname = $1",
			    1, params, "cannot look up the database owner", &r, err) != 0)
		return -1;
	char *owner = PQntuples(r) == 1 ? pg_quote_ident(c, PQgetvalue(r, 0, 0)) : NULL;
	PQclear(r);
	if (owner == NULL)
		return bderr_set(err, "database '%s' vanished during the restore", dbname);
	char *sql = xasprintf("REVOKE ALL ON DATABASE %s FROM PUBLIC; REVOKE ALL ON DATABASE %s FROM %s",
			      qdb, qdb, owner);
	int rc = exec(c, sql, dbname, err);
	free(sql);
	free(owner);
	for (size_t i = 0; i < p->n_acl && rc == 0; i++) {
		const pg_db_grant *g = &p->acl[i];
		char *grantee = NULL;
		if (g->grantee != NULL) {
			int e = need_role(c, g->grantee, "its privilege on the database", err);
			if (e < 0)
				rc = -1;
			if (e <= 0)
				continue;
			grantee = pg_quote_ident(c, g->grantee);
		}
		sql = xasprintf("GRANT %s ON DATABASE %s TO %s%s", g->privilege, qdb,
				grantee ? grantee : "PUBLIC", g->grantable ? " WITH GRANT OPTION" : "");
		rc = exec(c, sql, dbname, err);
		free(sql);
		free(grantee);
	}
	return rc;
}

int pg_db_props_apply(PGconn *c, const char *dbname, const pg_db_props *p, bderr *err)
{
	char *qdb = pg_quote_ident(c, dbname);
	strbuf b;
	strbuf_init(&b);
	strbuf_appendf(&b, "COMMENT ON DATABASE %s IS ", qdb);
	if (p && p->comment)
		append_literal(c, &b, p->comment);
	else
		strbuf_appends(&b, "NULL");
	int rc = exec(c, b.data, dbname, err);
	strbuf_free(&b);
	if (rc == 0 && p != NULL) {
		int e = p->owner ? need_role(c, p->owner, "the database's owner", err) : 0;
		if (e < 0)
			rc = -1;
		if (e > 0) {
			char *qo = pg_quote_ident(c, p->owner);
			char *sql = xasprintf("ALTER DATABASE %s OWNER TO %s", qdb, qo);
			rc = exec(c, sql, dbname, err);
			free(sql);
			free(qo);
		}
		if (rc == 0 && p->connection_limit != -1) {
			char *sql = xasprintf("ALTER DATABASE %s CONNECTION LIMIT %d", qdb, p->connection_limit);
			rc = exec(c, sql, dbname, err);
			free(sql);
		}
		if (rc == 0 && p->has_acl)
			rc = apply_acl(c, qdb, dbname, p, err);
		for (size_t i = 0; i < p->n_settings && rc == 0; i++)
			rc = apply_settings(c, qdb, dbname, &p->settings[i], err) < 0 ? -1 : 0;
	}
	free(qdb);
	return rc;
}

int pg_role_settings_apply(PGconn *c, const char *role, const json_t *settings, bderr *err)
{
	pg_db_settings s = { .role = (char *)role };
	int rc = parse_settings(settings, "settings", &s, err);
	if (rc == 0)
		rc = apply_settings(c, NULL, role, &s, err) < 0 ? -1 : 0;
	for (size_t k = 0; k < s.n; k++) {
		free(s.items[k].name);
		free(s.items[k].value);
	}
	free(s.items);
	return rc;
}
