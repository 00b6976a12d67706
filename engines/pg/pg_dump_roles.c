#include "engines/pg/pg_dump_roles.h"

#include <stdlib.h>

#include "engines/pg/pg_role_format.h"
#include "engines/pg/pgconn.h"

/*
 * pg_shdepend records, per database, the owners ('o'), ACL grantees ('a')
 * and policy roles ('r') of its objects.  The bootstrap superuser (oid 10)
 * is pinned and never recorded there: it is looked up directly as the owner
 * of relations, functions, schemas and large objects of the database.
 */
static const char roles_sql[] =
	"WITH db AS (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database()), "
	"uses AS ("
	"  SELECT s.refobjid AS role, CASE s.deptype WHEN 'o' THEN 'owner' WHEN 'a' THEN 'acl' "
	"         ELSE 'policy' END AS use "
	"    FROM pg_catalog.pg_shdepend s, db "
	"   WHERE s.dbid = db.oid AND s.refclassid = 'pg_catalog.pg_authid'::pg_catalog.regclass "
	"     AND s.deptype IN ('o', 'a', 'r') "
	"  UNION SELECT c.relowner, 'owner' FROM pg_catalog.pg_class c "
	"    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
	"   WHERE c.relowner = 10 AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema' "
	"  UNION SELECT n.nspowner, 'owner' FROM pg_catalog.pg_namespace n "
	"   WHERE n.nspowner = 10 AND n.nspname !~ '^pg_' AND n.nspname NOT IN ('information_schema', 'public') "
	"  UNION SELECT p.proowner, 'owner' FROM pg_catalog.pg_proc p "
	"    JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace "
	"   WHERE p.proowner = 10 AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema' "
	"  UNION SELECT l.lomowner, 'owner' FROM pg_catalog.pg_largeobject_metadata l WHERE l.lomowner = 10) "
	"SELECT coalesce(pg_catalog.json_agg(pg_catalog.json_build_object("
	"  'name', r.rolname, 'uses', (SELECT pg_catalog.json_agg(DISTINCT u.use) FROM uses u WHERE u.role = r.oid), "
	"  'login', r.rolcanlogin, 'inherit', r.rolinherit, 'createdb', r.rolcreatedb, "
	"  'createrole', r.rolcreaterole, 'superuser', r.rolsuper, 'replication', r.rolreplication, "
	"  'bypassrls', r.rolbypassrls, 'connection_limit', r.rolconnlimit) ORDER BY r.rolname), '[]')::text "
	"FROM pg_catalog.pg_roles r WHERE r.oid IN (SELECT role FROM uses) AND r.rolname !~ '^pg_'";

int pg_dump_roles(PGconn *c, json_t *info, bderr *err)
{
	PGresult *r;
	if (pg_query(c, roles_sql, "cannot read the roles the database references", &r, err) != 0)
		return -1;
	json_error_t je;
	json_t *answer = json_pack("{s:o?}", "roles", json_loads(PQgetvalue(r, 0, 0), 0, &je));
	PQclear(r);
	/* the server's answer goes through the reader's validation, then the one writer */
	pg_roles_info roles;
	int rc = json_is_array(json_object_get(answer, "roles"))
			 ? pg_roles_info_parse(answer, &roles, err)
			 : bderr_set(err, "not an array");
	json_decref(answer);
	if (rc != 0)
		return bderr_prefix(err, "cannot read the roles the database references: unexpected answer");
	json_object_set_new(info, "roles", pg_roles_info_to_json(&roles));
	pg_roles_info_clear(&roles);
	return 0;
}
