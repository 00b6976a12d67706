#include "engines/pg/pg_lo_meta.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/mem.h"
#include "engines/pg/pgconn.h"

/* Statements are sent in batches: one round trip per this many large objects. */
#define LO_META_BATCH 500

static const char *mapped(const pg_lo_meta_options *o, const char *role)
{
	return o->map_role ? o->map_role(o->map_ctx, role) : role;
}

static const char *mapped_owner(const pg_lo_meta_options *o, const char *role)
{
	return o->map_owner ? o->map_owner(o->map_ctx, role) : mapped(o, role);
}

static int valid_privilege(const char *p)
{
	return strcmp(p, "SELECT") == 0 || strcmp(p, "UPDATE") == 0;
}

static int append_one(PGconn *c, strbuf *b, json_t *e, size_t idx, const pg_lo_meta_options *o,
		      bderr *err)
{
	json_t *joid = json_object_get(e, "oid");
	const char *owner = json_string_value(json_object_get(e, "owner"));
	json_t *acl = json_object_get(e, "acl");
	json_t *comment = json_object_get(e, "comment");
	if (!json_is_integer(joid) || json_integer_value(joid) <= 0 ||
	    json_integer_value(joid) > 4294967295LL || owner == NULL ||
	    !(json_is_null(acl) || json_is_array(acl) || acl == NULL) ||
	    !(comment == NULL || json_is_null(comment) || json_is_string(comment)))
		return bderr_set(err, "large object metadata entry %zu is malformed", idx);
	long long oid = (long long)json_integer_value(joid);
	strbuf_appendf(b,
		       "SELECT pg_catalog.lo_create(%lld) WHERE NOT EXISTS (SELECT 1 FROM "
		       "pg_catalog.pg_largeobject_metadata WHERE oid = %lld);\n",
		       oid, oid);
	if (!o->no_owner) {
		char *q = pg_quote_ident(c, mapped_owner(o, owner));
		strbuf_appendf(b, "ALTER LARGE OBJECT %lld OWNER TO %s;\n", oid, q);
		free(q);
	}
	if (!o->no_privileges && json_is_array(acl)) {
		/*
		 * An explicit ACL replaces whatever is there (the defaults, or
		 * pg_dump 16's grants from pre-data): revoked from everyone it
		 * names, then granted in the source's order.
		 */
		strbuf_appendf(b, "REVOKE ALL ON LARGE OBJECT %lld FROM PUBLIC, ", oid);
		if (o->no_owner) {
			strbuf_appends(b, "CURRENT_USER");
		} else {
			char *q = pg_quote_ident(c, mapped_owner(o, owner));
			strbuf_appends(b, q);
			free(q);
		}
		size_t k;
		json_t *g;
		json_array_foreach(acl, k, g) {
			const char *who = json_string_value(json_object_get(g, "grantee"));
			if (who == NULL)
				continue; /* PUBLIC, or malformed: judged below */
			/* the owner's own entry follows the owner */
			char *q = pg_quote_ident(c, strcmp(who, owner) == 0 ? mapped_owner(o, who) : mapped(o, who));
			strbuf_appendf(b, ", %s", q);
			free(q);
		}
		strbuf_appends(b, ";\n");
		json_array_foreach(acl, k, g) {
			json_t *grantee = json_object_get(g, "grantee");
			const char *priv = json_string_value(json_object_get(g, "privilege"));
			json_t *grantable = json_object_get(g, "grantable");
			if (!(json_is_null(grantee) || json_is_string(grantee)) || priv == NULL ||
			    !valid_privilege(priv) || !json_is_boolean(grantable))
				return bderr_set(err, "large object metadata entry %zu (large object %lld) has a malformed grant",
						 idx, oid);
			char *to = json_is_null(grantee) ? xstrdup("PUBLIC")
							 : pg_quote_ident(c, strcmp(json_string_value(grantee), owner) == 0
									   ? mapped_owner(o, owner)
									   : mapped(o, json_string_value(grantee)));
			strbuf_appendf(b, "GRANT %s ON LARGE OBJECT %lld TO %s%s;\n", priv, oid, to,
				       json_is_true(grantable) ? " WITH GRANT OPTION" : "");
			free(to);
		}
	}
	if (json_is_string(comment)) {
		const char *s = json_string_value(comment);
		char *lit = PQescapeLiteral(c, s, strlen(s));
		strbuf_appendf(b, "COMMENT ON LARGE OBJECT %lld IS %s;\n", oid, lit ? lit : "NULL");
		PQfreemem(lit);
	}
	return 0;
}

int pg_lo_meta_apply(PGconn *c, const char *json, size_t len, const pg_lo_meta_options *o,
		     size_t *count, bderr *err)
{
	json_error_t je;
	json_t *arr = json_loadb(json, len, 0, &je);
	if (!json_is_array(arr)) {
		json_decref(arr);
		return bderr_set(err, "large object metadata is malformed: %s", je.text);
	}
	strbuf b;
	strbuf_init(&b);
	int rc = 0;
	size_t i, in_batch = 0;
	json_t *e;
	json_array_foreach(arr, i, e) {
		if ((rc = append_one(c, &b, e, i, o, err)) != 0)
			break;
		if (++in_batch == LO_META_BATCH) {
			rc = pg_exec(c, b.data, "cannot restore large objects' owners, grants and comments", err);
			strbuf_reset(&b);
			in_batch = 0;
			if (rc != 0)
				break;
		}
	}
	if (rc == 0 && in_batch > 0)
		rc = pg_exec(c, b.data, "cannot restore large objects' owners, grants and comments", err);
	if (rc == 0)
		*count = json_array_size(arr);
	strbuf_free(&b);
	json_decref(arr);
	return rc;
}

int pg_lo_meta_read(PGconn *c, char **json, long *count, bderr *err)
{
	PGresult *r;
	if (pg_query(c,
		     "SELECT coalesce(pg_catalog.json_agg(pg_catalog.json_build_object("
		     "  'oid', l.oid::int8, 'owner', pg_catalog.pg_get_userbyid(l.lomowner), "
		     "  'acl', CASE WHEN l.lomacl IS NULL THEN NULL ELSE "
		     "    (SELECT coalesce(pg_catalog.json_agg(pg_catalog.json_build_object("
		     "        'grantee', CASE WHEN a.grantee = 0 THEN NULL "
		     "                   ELSE pg_catalog.pg_get_userbyid(a.grantee) END, "
		     "        'privilege', a.privilege_type, 'grantable', a.is_grantable)), '[]') "
		     "       FROM pg_catalog.aclexplode(l.lomacl) a) END, "
		     "  'comment', pg_catalog.obj_description(l.oid, 'pg_largeobject')) ORDER BY l.oid), '[]')::text, "
		     "  count(*) "
		     "FROM pg_catalog.pg_largeobject_metadata l",
		     "cannot read the large objects' metadata", &r, err) != 0)
		return -1;
	*json = xstrdup(PQgetvalue(r, 0, 0));
	*count = atol(PQgetvalue(r, 0, 1));
	PQclear(r);
	return 0;
}
