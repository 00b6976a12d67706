#include "engines/pg/pg_provision.h"

#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/mem.h"
#include "engines/pg/pgconn.h"
#include "common/provision.h"
#include "common/secret.h"

struct pg_provision {
	char *role;
	int created_role;
	env_file *env;
};

static int exists(PGconn *c, const char *sql, const char *name, int *out, bderr *err)
{
	return pg_query_exists(c, sql, name, "cannot inspect the target server", out, err);
}

/*
 * The mark of a role this provisioning created: its comment, set in the
 * CREATE ROLE's own transaction (so no run leaves the role without it) and
 * cleared once the env file is in place.  A role still carrying it for the
 * same database was left by a run killed before that: the next run of the
 * same provisioning (its restore claim taken, so not racing a live one)
 * recreates it, where a role made otherwise is refused as before.
 */
static char *marker(const char *db)
{
	return xasprintf("backupd: provisioning of database '%s' in progress; dropped by its next run if unfinished",
			 db);
}

/* *marked 1 when ROLE carries the mark of a provisioning of DB. */
static int role_marked(PGconn *c, const char *role, const char *db, int *marked, bderr *err)
{
	const char *params[] = { role };
	PGresult *r = NULL;
	if (pg_query_params(c,
			    "SELECT pg_catalog.shobj_description(oid, 'pg_authid') FROM pg_catalog.pg_roles "
			    "WHERE rolname = $1",
			    1, params, "cannot inspect the target server", &r, err) != 0)
		return -1;
	char *want = marker(db);
	*marked = PQntuples(r) == 1 && !PQgetisnull(r, 0, 0) && strcmp(PQgetvalue(r, 0, 0), want) == 0;
	free(want);
	PQclear(r);
	return 0;
}

/* In one transaction: DROP ROLE (replace: a killed run's), CREATE ROLE, its mark. */
static int create_role(PGconn *c, const char *role, const char *password, const char *db, int replace,
		       bderr *err)
{
	/* the verifier, not the password, goes to the server */
	char *verifier = PQencryptPasswordConn(c, password, role, "scram-sha-256");
	if (verifier == NULL) {
		char buf[512];
		return bderr_set(err, "cannot compute the password verifier for role '%s': %s", role,
				 pg_errmsg(c, buf, sizeof buf));
	}
	char *q = pg_quote_ident(c, role);
	char *lit = PQescapeLiteral(c, verifier, strlen(verifier));
	char *note = marker(db);
	char *nlit = PQescapeLiteral(c, note, strlen(note));
	char *drop = replace ? xasprintf("DROP ROLE %s; ", q) : xstrdup("");
	/* several statements in one query string: one implicit transaction */
	char *sql = xasprintf("%sCREATE ROLE %s WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION "
			      "NOBYPASSRLS INHERIT PASSWORD %s; COMMENT ON ROLE %s IS %s",
			      drop, q, lit, q, nlit);
	char *what = xasprintf("cannot create role %s", q);
	int rc = pg_exec(c, sql, what, err);
	secret_free(sql);
	free(what);
	free(drop);
	PQfreemem(nlit);
	free(note);
	PQfreemem(lit);
	PQfreemem(verifier);
	free(q);
	return rc;
}

int pg_provision_prepare(PGconn *admin, const provision_request *o, pg_provision **out, bderr *err)
{
	int db_there = 0, role_there = 0, left = 0;
	if (exists(admin, "SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1", o->db, &db_there, err) != 0 ||
	    exists(admin, "SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1", o->owner, &role_there, err) != 0)
		return -1;
	if (db_there)
		return bderr_set(err, "database '%s' already exists: --provision creates the database, and leaves an existing one untouched",
				 o->db);
	if (role_there && role_marked(admin, o->owner, o->db, &left, err) != 0)
		return -1;
	if (role_there && !left && !o->reuse)
		return bderr_set(err, "role '%s' already exists: pass --reuse-role to make it the owner (its password is not changed)",
				 o->owner);
	int create = !role_there || left;
	char password[PROVISION_PASSWORD_LEN + 1];
	if (create && provision_password(password, err) != 0)
		return -1;
	const char *host = PQhost(admin);
	const char *socket = host && host[0] == '/' ? host : NULL;
	char *line = provision_env_line("postgresql", o->owner, create ? password : NULL, socket ? NULL : host,
					PQport(admin), o->db, "host", socket);
	pg_provision *p = xcalloc(1, sizeof *p);
	p->role = xstrdup(o->owner);
	int rc = env_file_prepare(o->env_file, line, &p->env, err);
	secret_free(line);
	if (rc == 0 && left)
		log_info("role '%s' was left by an interrupted provisioning of '%s' (it still carries its mark): "
			 "recreating it with a new password", o->owner, o->db);
	if (rc == 0 && create) {
		rc = create_role(admin, o->owner, password, o->db, left, err);
		if (rc == 0) {
			p->created_role = 1;
			log_info("created role '%s' (LOGIN, generated password in '%s')", o->owner, o->env_file);
		}
	}
	memset(password, 0, sizeof password);
	if (rc != 0) {
		pg_provision_abort(p, admin);
		return -1;
	}
	*out = p;
	return 0;
}

int pg_provision_commit(pg_provision *p, PGconn *admin, bderr *err)
{
	if (env_file_commit(p->env, err) != 0)
		return -1;
	if (!p->created_role)
		return 0;
	/*
	 * After the env file: a run killed in between leaves the mark, which is
	 * harmless while the database exists (a rerun refuses it first).
	 */
	char *q = pg_quote_ident(admin, p->role);
	char *sql = xasprintf("COMMENT ON ROLE %s IS NULL", q);
	bderr e;
	bderr_init(&e);
	if (pg_exec(admin, sql, "cannot clear the role's provisioning mark", &e) != 0)
		log_warn("%s (the env file is in place; clear it with COMMENT ON ROLE %s IS NULL)", e.msg, q);
	free(sql);
	free(q);
	return 0;
}

void pg_provision_abort(pg_provision *p, PGconn *admin)
{
	if (p == NULL)
		return;
	if (p->created_role && admin) {
		char *q = pg_quote_ident(admin, p->role);
		char *sql = xasprintf("DROP ROLE %s", q);
		bderr e;
		bderr_init(&e);
		if (pg_exec(admin, sql, "cannot drop the role created for the restore", &e) != 0)
			log_warn("%s", e.msg);
		else
			log_info("dropped role %s, created for the failed restore", q);
		free(sql);
		free(q);
	}
	pg_provision_free(p);
}

void pg_provision_free(pg_provision *p)
{
	if (p == NULL)
		return;
	env_file_abort(p->env);
	free(p->role);
	free(p);
}
