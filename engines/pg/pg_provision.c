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

static int create_role(PGconn *c, const char *role, const char *password, bderr *err)
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
	char *sql = xasprintf("CREATE ROLE %s WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION "
			      "NOBYPASSRLS INHERIT PASSWORD %s", q, lit);
	char *what = xasprintf("cannot create role %s", q);
	int rc = pg_exec(c, sql, what, err);
	secret_free(sql);
	free(what);
	PQfreemem(lit);
	PQfreemem(verifier);
	free(q);
	return rc;
}

int pg_provision_prepare(PGconn *admin, const provision_request *o, pg_provision **out, bderr *err)
{
	int db_there = 0, role_there = 0;
	if (exists(admin, "SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1", o->db, &db_there, err) != 0 ||
	    exists(admin, "SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1", o->owner, &role_there, err) != 0)
		return -1;
	if (db_there)
		return bderr_set(err, "database '%s' already exists: --provision creates the database, and leaves an existing one untouched",
				 o->db);
	if (role_there && !o->reuse)
		return bderr_set(err, "role '%s' already exists: pass --reuse-role to make it the owner (its password is not changed)",
				 o->owner);
	char password[PROVISION_PASSWORD_LEN + 1];
	if (!role_there && provision_password(password, err) != 0)
		return -1;
	const char *host = PQhost(admin);
	const char *socket = host && host[0] == '/' ? host : NULL;
	char *line = provision_env_line("postgresql", o->owner, role_there ? NULL : password, socket ? NULL : host,
					PQport(admin), o->db, "host", socket);
	pg_provision *p = xcalloc(1, sizeof *p);
	p->role = xstrdup(o->owner);
	int rc = env_file_prepare(o->env_file, line, &p->env, err);
	secret_free(line);
	if (rc == 0 && !role_there) {
		rc = create_role(admin, o->owner, password, err);
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

int pg_provision_commit(pg_provision *p, bderr *err)
{
	return env_file_commit(p->env, err);
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
