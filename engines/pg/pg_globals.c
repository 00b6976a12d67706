#include "engines/pg/pg_globals.h"

#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/mem.h"
#include "engines/pg/pg_dbprops.h"
#include "engines/pg/pgconn.h"

static const char roles_sql[] =
	"SELECT coalesce(pg_catalog.json_agg(pg_catalog.json_build_object("
	"  'name', r.rolname, 'login', r.rolcanlogin, 'inherit', r.rolinherit, "
	"  'createdb', r.rolcreatedb, 'createrole', r.rolcreaterole, 'superuser', r.rolsuper, "
	"  'replication', r.rolreplication, 'bypassrls', r.rolbypassrls, "
	"  'connection_limit', r.rolconnlimit, 'valid_until', r.rolvaliduntil::text, "
	"  'comment', pg_catalog.shobj_description(r.oid, 'pg_authid'), "
	"  'settings', coalesce((SELECT pg_catalog.array_to_json(s.setconfig) "
	"       FROM pg_catalog.pg_db_role_setting s WHERE s.setrole = r.oid AND s.setdatabase = 0), '[]'), "
	"  'member_of', coalesce((SELECT pg_catalog.json_agg(pg_catalog.json_build_object("
	"       'role', g.rolname, 'admin', m.admin_option) ORDER BY g.rolname) "
	"       FROM pg_catalog.pg_auth_members m JOIN pg_catalog.pg_roles g ON g.oid = m.roleid "
	"      WHERE m.member = r.oid), '[]')"
	"  %s) ORDER BY r.rolname), '[]')::text "
	"FROM pg_catalog.pg_roles r WHERE r.rolname !~ '^pg_'";

static const char tablespaces_sql[] =
	"SELECT coalesce(pg_catalog.json_agg(pg_catalog.json_build_object("
	"  'name', t.spcname, 'owner', pg_catalog.pg_get_userbyid(t.spcowner), "
	"  'location', pg_catalog.pg_tablespace_location(t.oid), "
	"  'options', coalesce(pg_catalog.array_to_json(t.spcoptions), '[]'), "
	"  'comment', pg_catalog.shobj_description(t.oid, 'pg_tablespace'), "
	"  'acl', CASE WHEN t.spcacl IS NULL THEN NULL ELSE "
	"    (SELECT coalesce(pg_catalog.json_agg(pg_catalog.json_build_object("
	"        'grantee', CASE WHEN a.grantee = 0 THEN NULL "
	"                   ELSE pg_catalog.pg_get_userbyid(a.grantee) END, "
	"        'privilege', a.privilege_type, 'grantable', a.is_grantable)), '[]') "
	"       FROM pg_catalog.aclexplode(t.spcacl) a WHERE a.grantee <> t.spcowner) END) "
	"  ORDER BY t.spcname), '[]')::text "
	"FROM pg_catalog.pg_tablespace t WHERE t.spcname NOT IN ('pg_default', 'pg_global')";

static int query_json(PGconn *c, const char *sql, const char *what, json_t **out, bderr *err)
{
	PGresult *r;
	if (pg_query(c, sql, what, &r, err) != 0)
		return -1;
	json_error_t je;
	*out = json_loads(PQgetvalue(r, 0, 0), 0, &je);
	PQclear(r);
	if (!json_is_array(*out)) {
		json_decref(*out);
		*out = NULL;
		return bderr_set(err, "%s: unexpected answer", what);
	}
	return 0;
}

int pg_globals_dump(PGconn *c, int passwords, json_t *out, bderr *err)
{
	/* the hashes only when asked: reading pg_authid needs a superuser */
	char *sql = xasprintf(roles_sql, passwords ? ", 'password', (SELECT a.rolpassword FROM pg_catalog.pg_authid a WHERE a.oid = r.oid)" : "");
	json_t *roles = NULL, *spaces = NULL;
	int rc = query_json(c, sql, "cannot read the server's roles", &roles, err);
	free(sql);
	if (rc == 0)
		rc = query_json(c, tablespaces_sql, "cannot read the server's tablespaces", &spaces, err);
	if (rc != 0) {
		json_decref(roles);
		return -1;
	}
	json_object_set_new(out, "roles", roles);
	json_object_set_new(out, "tablespaces", spaces);
	return 0;
}

/* ---- restore ---- */

static int exists(PGconn *c, const char *sql, const char *name, int *yes, bderr *err)
{
	return pg_query_exists(c, sql, name, "cannot look up the target's globals", yes, err);
}

static const char *str_field(const json_t *o, const char *key, int required, const char *where,
			     size_t i, bderr *err)
{
	json_t *v = json_object_get(o, key);
	if ((v == NULL || json_is_null(v)) && !required)
		return NULL;
	if (!json_is_string(v) || *json_string_value(v) == '\0') {
		bderr_set(err, "info.globals.%s[%zu].%s must be a non-empty string", where, i, key);
		return NULL;
	}
	return json_string_value(v);
}

static int flag(const json_t *o, const char *key)
{
	return json_is_true(json_object_get(o, key));
}

static int exec_on(PGconn *c, const char *sql, const char *kind, const char *qname, bderr *err)
{
	char *what = xasprintf("cannot restore %s %s", kind, qname);
	int rc = pg_exec(c, sql, what, err);
	free(what);
	return rc;
}

static int set_comment(PGconn *c, const char *kind, const char *q, const char *comment, bderr *err)
{
	if (comment == NULL)
		return 0;
	char *lit = PQescapeLiteral(c, comment, strlen(comment));
	char *sql = xasprintf("COMMENT ON %s %s IS %s", kind, q, lit);
	int rc = exec_on(c, sql, kind, q, err);
	PQfreemem(lit);
	free(sql);
	return rc;
}

static int create_role(PGconn *c, const json_t *r, const char *name, bderr *err)
{
	json_t *lim = json_object_get(r, "connection_limit");
	const char *until = json_string_value(json_object_get(r, "valid_until"));
	const char *password = json_string_value(json_object_get(r, "password"));
	char *q = pg_quote_ident(c, name);
	strbuf b;
	strbuf_init(&b);
	strbuf_appendf(&b, "CREATE ROLE %s WITH %sLOGIN %sINHERIT %sCREATEDB %sCREATEROLE %sSUPERUSER "
			   "%sREPLICATION %sBYPASSRLS CONNECTION LIMIT %lld",
		       q, flag(r, "login") ? "" : "NO", flag(r, "inherit") ? "" : "NO",
		       flag(r, "createdb") ? "" : "NO", flag(r, "createrole") ? "" : "NO",
		       flag(r, "superuser") ? "" : "NO", flag(r, "replication") ? "" : "NO",
		       flag(r, "bypassrls") ? "" : "NO",
		       json_is_integer(lim) ? (long long)json_integer_value(lim) : -1LL);
	if (until) {
		char *lit = PQescapeLiteral(c, until, strlen(until));
		strbuf_appendf(&b, " VALID UNTIL %s", lit);
		PQfreemem(lit);
	}
	if (password) {
		/* a hash (SCRAM or md5), never a clear-text password: the server stores it as is */
		char *lit = PQescapeLiteral(c, password, strlen(password));
		strbuf_appendf(&b, " PASSWORD %s", lit);
		PQfreemem(lit);
	}
	int rc = exec_on(c, b.data, "role", q, err);
	strbuf_free(&b);
	if (rc == 0)
		rc = set_comment(c, "ROLE", q, json_string_value(json_object_get(r, "comment")), err);
	if (rc == 0 && json_array_size(json_object_get(r, "settings")) > 0)
		rc = pg_role_settings_apply(c, name, json_object_get(r, "settings"), err);
	if (rc == 0)
		log_info("created role %s%s", q, password ? "" : " (no password)");
	free(q);
	return rc;
}

static int grant_memberships(PGconn *c, const json_t *r, const char *name, size_t i, bderr *err)
{
	json_t *of = json_object_get(r, "member_of");
	if (of == NULL)
		return 0;
	if (!json_is_array(of))
		return bderr_set(err, "info.globals.roles[%zu].member_of must be an array", i);
	size_t k;
	json_t *m;
	json_array_foreach(of, k, m) {
		const char *g = json_string_value(json_object_get(m, "role"));
		if (g == NULL || *g == '\0')
			return bderr_set(err, "info.globals.roles[%zu].member_of[%zu].role must be a non-empty string", i, k);
		char *qg = pg_quote_ident(c, g);
		char *qm = pg_quote_ident(c, name);
		char *sql = xasprintf("GRANT %s TO %s%s", qg, qm, flag(m, "admin") ? " WITH ADMIN OPTION" : "");
		int rc = exec_on(c, sql, "the membership of role", qm, err);
		free(sql);
		free(qg);
		free(qm);
		if (rc != 0)
			return -1;
	}
	return 0;
}

/* The grants others held on the tablespace (CREATE is its only privilege). */
static int grant_tablespace(PGconn *c, const json_t *t, const char *q, size_t i, bderr *err)
{
	json_t *acl = json_object_get(t, "acl");
	if (acl == NULL || json_is_null(acl))
		return 0;
	if (!json_is_array(acl))
		return bderr_set(err, "info.globals.tablespaces[%zu].acl must be an array", i);
	size_t k;
	json_t *g;
	json_array_foreach(acl, k, g) {
		const char *priv = json_string_value(json_object_get(g, "privilege"));
		json_t *who = json_object_get(g, "grantee");
		if (priv == NULL || strcmp(priv, "CREATE") != 0 || !(json_is_null(who) || json_is_string(who)))
			return bderr_set(err, "info.globals.tablespaces[%zu].acl[%zu] must be a CREATE grant to a role or PUBLIC", i, k);
		char *qg = json_is_string(who) ? pg_quote_ident(c, json_string_value(who)) : xstrdup("PUBLIC");
		char *sql = xasprintf("GRANT CREATE ON TABLESPACE %s TO %s%s", q, qg,
				      flag(g, "grantable") ? " WITH GRANT OPTION" : "");
		int rc = exec_on(c, sql, "the grants of tablespace", q, err);
		free(sql);
		free(qg);
		if (rc != 0)
			return -1;
	}
	return 0;
}

static int restore_tablespace(PGconn *c, const json_t *t, size_t i, bderr *err)
{
	const char *name = str_field(t, "name", 1, "tablespaces", i, err);
	const char *owner = name ? str_field(t, "owner", 1, "tablespaces", i, err) : NULL;
	const char *loc = owner ? str_field(t, "location", 1, "tablespaces", i, err) : NULL;
	if (loc == NULL)
		return -1;
	int yes = 0;
	if (exists(c, "SELECT 1 FROM pg_catalog.pg_tablespace WHERE spcname = $1", name, &yes, err) != 0)
		return -1;
	char *q = pg_quote_ident(c, name);
	if (yes) {
		log_info("tablespace %s exists on the target: left as it is", q);
		free(q);
		return 0;
	}
	char *qo = pg_quote_ident(c, owner);
	char *ll = PQescapeLiteral(c, loc, strlen(loc));
	strbuf b;
	strbuf_init(&b);
	strbuf_appendf(&b, "CREATE TABLESPACE %s OWNER %s LOCATION %s", q, qo, ll);
	json_t *opts = json_object_get(t, "options");
	size_t k;
	json_t *o;
	int rc = 0;
	json_array_foreach(opts, k, o) {
		const char *s = json_string_value(o);
		const char *eq = s ? strchr(s, '=') : NULL;
		if (eq == NULL || eq == s) {
			rc = bderr_set(err, "info.globals.tablespaces[%zu].options[%zu] must be \"name=value\"", i, k);
			break;
		}
		char *on = xstrndup(s, (size_t)(eq - s));
		char *qn = pg_quote_ident(c, on);
		char *lv = PQescapeLiteral(c, eq + 1, strlen(eq + 1));
		strbuf_appendf(&b, "%s%s = %s", k ? ", " : " WITH (", qn, lv);
		PQfreemem(lv);
		free(qn);
		free(on);
	}
	if (rc == 0 && json_array_size(opts) > 0)
		strbuf_appends(&b, ")");
	if (rc == 0)
		rc = exec_on(c, b.data, "tablespace", q, err);
	if (rc == 0)
		rc = set_comment(c, "TABLESPACE", q, json_string_value(json_object_get(t, "comment")), err);
	if (rc == 0)
		rc = grant_tablespace(c, t, q, i, err);
	if (rc == 0)
		log_info("created tablespace %s at '%s'", q, loc);
	strbuf_free(&b);
	PQfreemem(ll);
	free(qo);
	free(q);
	return rc;
}

int pg_globals_restore(PGconn *c, const json_t *globals, bderr *err)
{
	json_t *roles = json_object_get(globals, "roles");
	json_t *spaces = json_object_get(globals, "tablespaces");
	if (!json_is_array(roles))
		return bderr_set(err, "info.globals.roles must be an array");
	if (!json_is_array(spaces))
		return bderr_set(err, "info.globals.tablespaces must be an array");
	char *created = xcalloc(json_array_size(roles) + 1, 1);
	size_t i;
	json_t *r;
	int rc = 0;
	json_array_foreach(roles, i, r) {
		const char *name = str_field(r, "name", 1, "roles", i, err);
		if (name == NULL) {
			rc = -1;
			break;
		}
		int yes = 0;
		if ((rc = exists(c, "SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1", name, &yes, err)) != 0)
			break;
		if (yes) {
			log_debug("role '%s' exists on the target: left as it is", name);
			continue;
		}
		if ((rc = create_role(c, r, name, err)) != 0)
			break;
		created[i] = 1;
	}
	/* memberships once every role exists, of the roles this restore created */
	json_array_foreach(roles, i, r) {
		if (rc != 0)
			break;
		if (created[i])
			rc = grant_memberships(c, r, json_string_value(json_object_get(r, "name")), i, err);
	}
	free(created);
	json_array_foreach(spaces, i, r) {
		if (rc != 0)
			break;
		rc = restore_tablespace(c, r, i, err);
	}
	return rc;
}
