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
	char *db;
	int created_role;
	env_file *env;
	char fp[PROVISION_FP_LEN + 1]; /* created_role: the fingerprint of its password, for the second mark */
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

/*
 * The second mark, which replaces the first in the transaction of the final
 * ALTER DATABASE ... RENAME TO DB (pg_provision_rename_sql): DB is complete
 * under its name and only the env file is missing.  It names the database
 * by its OID as well as its name: the OID survives the rename but not a DROP
 * and CREATE, so a DB of that name made any other way (say by hand after
 * dropping the killed run's) never matches.  The mark is on the role, not a
 * COMMENT ON DATABASE: the database's own comment is the dump's (restored by
 * pg_db_props_apply) and must stay so.  It also carries the fingerprint of
 * the role's password (provision_fingerprint), kept so in every statement
 * that sets either: the env file written after it holds that password, so a
 * run that finds DB existing and ROLE carrying this mark for DB's OID can
 * tell a run killed before the env file (a new password, the first was only
 * in that run's memory, then the env file) from one that wrote the env file
 * and then failed to clear the mark (the env file already holds the role's
 * password: only the mark is cleared).  A new password there would leave an
 * application that read the env file with a dead one, and a rerun failing
 * between its ALTER ROLE and the env file would leave the env file so.
 */
static char *done_prefix(const char *db)
{
	return xasprintf("backupd: provisioning of database '%s' complete as database oid ", db);
}

static char *done_marker(const char *db, const char *oid, const char *fp)
{
	char *prefix = done_prefix(db);
	char *m = xasprintf("%s%s; env file password fingerprint %s: the next run of the same provisioning writes the "
			    "env file unless it holds that password already",
			    prefix, oid, fp);
	free(prefix);
	return m;
}

/* The second mark as an older backupd wrote it, without a fingerprint: its next run always writes the env file. */
static char *done_marker_v1(const char *db, const char *oid)
{
	char *prefix = done_prefix(db);
	char *m = xasprintf("%s%s; its env file is not written yet: the next run of the same provisioning writes it",
			    prefix, oid);
	free(prefix);
	return m;
}

/* ROLE's comment (NULL: none, or no such role) and DB's OID (NULL: no such database); caller frees both. */
static int role_comment(PGconn *c, const char *role, const char *db, char **comment, char **oid, bderr *err)
{
	const char *params[] = { role, db };
	PGresult *r = NULL;
	*comment = NULL;
	*oid = NULL;
	if (pg_query_params(c,
			    "SELECT pg_catalog.shobj_description(r.oid, 'pg_authid'), "
			    "(SELECT d.oid::text FROM pg_catalog.pg_database d WHERE d.datname = $2) "
			    "FROM pg_catalog.pg_roles r WHERE r.rolname = $1",
			    2, params, "cannot inspect the target server", &r, err) != 0)
		return -1;
	if (PQntuples(r) == 1 && !PQgetisnull(r, 0, 0))
		*comment = xstrdup(PQgetvalue(r, 0, 0));
	if (PQntuples(r) == 1 && !PQgetisnull(r, 0, 1))
		*oid = xstrdup(PQgetvalue(r, 0, 1));
	PQclear(r);
	return 0;
}

/*
 * *marked 1 when ROLE carries the mark of a provisioning of DB: the first
 * one, or the second one for a DB since dropped (the role is still that
 * run's, left without its env file).
 */
static int role_marked(PGconn *c, const char *role, const char *db, int *marked, bderr *err)
{
	char *comment = NULL, *oid = NULL;
	if (role_comment(c, role, db, &comment, &oid, err) != 0)
		return -1;
	char *want = marker(db);
	char *prefix = done_prefix(db);
	*marked = comment &&
		  (strcmp(comment, want) == 0 || strncmp(comment, prefix, strlen(prefix)) == 0);
	free(prefix);
	free(want);
	free(comment);
	free(oid);
	return 0;
}

/*
 * *done 1 when ROLE carries the second mark for the DB that exists now; then
 * *oid is DB's OID (caller frees) and fp the mark's password fingerprint
 * ("" for an older backupd's mark, which has none).
 */
static int role_done(PGconn *c, const char *role, const char *db, int *done, char **oid,
		     char fp[PROVISION_FP_LEN + 1], bderr *err)
{
	char *comment = NULL;
	*done = 0;
	fp[0] = '\0';
	if (role_comment(c, role, db, &comment, oid, err) != 0)
		return -1;
	char *prefix = *oid ? done_prefix(db) : NULL;
	char *head = prefix ? xasprintf("%s%s; env file password fingerprint ", prefix, *oid) : NULL;
	if (comment && head && strncmp(comment, head, strlen(head)) == 0 &&
	    strlen(comment) >= strlen(head) + PROVISION_FP_LEN) {
		/* the fingerprint's place, then the whole mark compared: nothing else passes */
		snprintf(fp, PROVISION_FP_LEN + 1, "%s", comment + strlen(head));
		char *want = done_marker(db, *oid, fp);
		*done = strcmp(comment, want) == 0;
		free(want);
	} else if (comment && *oid) {
		char *want = done_marker_v1(db, *oid);
		*done = strcmp(comment, want) == 0;
		free(want);
	}
	if (!*done)
		fp[0] = '\0';
	free(head);
	free(prefix);
	free(comment);
	return 0;
}

/* PASSWORD's SCRAM verifier as an SQL literal (PQfreemem), or NULL with err set. */
static char *verifier_literal(PGconn *c, const char *role, const char *password, bderr *err)
{
	/* the verifier, not the password, goes to the server */
	char *verifier = PQencryptPasswordConn(c, password, role, "scram-sha-256");
	if (verifier == NULL) {
		char buf[512];
		bderr_set(err, "cannot compute the password verifier for role '%s': %s", role,
			  pg_errmsg(c, buf, sizeof buf));
		return NULL;
	}
	char *lit = PQescapeLiteral(c, verifier, strlen(verifier));
	PQfreemem(verifier);
	if (lit == NULL) {
		char buf[512];
		bderr_set(err, "cannot quote the password verifier for role '%s': %s", role,
			  pg_errmsg(c, buf, sizeof buf));
	}
	return lit;
}

/* In one transaction: DROP ROLE (replace: a killed run's), CREATE ROLE, its mark. */
static int create_role(PGconn *c, const char *role, const char *password, const char *db, int replace,
		       bderr *err)
{
	char *lit = verifier_literal(c, role, password, err);
	if (lit == NULL)
		return -1;
	char *q = pg_quote_ident(c, role);
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
	free(q);
	return rc;
}

/*
 * Clears the role's provisioning mark once its env file is in place (role:
 * quoted).  A failure is only a warning: the provisioning is complete, and
 * the same provisioning run again finds the env file holding the password
 * the mark's fingerprint names and only clears the mark (the warning says
 * how to clear it by hand).
 */
static void clear_mark(PGconn *admin, const char *role)
{
	char *sql = xasprintf("COMMENT ON ROLE %s IS NULL", role);
	bderr e;
	bderr_init(&e);
	if (pg_exec(admin, sql, "cannot clear the role's provisioning mark", &e) != 0)
		log_warn("%s (the env file is in place; clear it with COMMENT ON ROLE %s IS NULL)", e.msg, role);
	free(sql);
}

/*
 * DB exists and ROLE carries the second mark for it (DB's OID: oid; fp: the
 * fingerprint of ROLE's password, "" from an older backupd): a run of this
 * provisioning was killed after the final rename and before clearing the
 * mark.  The caller holds the target's restore claim, so that run is not
 * live.  An env file holding the password fp names was written by that run
 * (or a run like this one) and is left as it is: only the mark is cleared,
 * never a new password that the application reading that file would lack.
 * Otherwise ROLE gets a new password (the killed run's existed only in its
 * memory) and, in the same transaction, the mark that password's
 * fingerprint, then the env file goes in place and the mark is cleared, in
 * that order: a kill or failure before the file leaves the mark, the file
 * without the new password, and the next run does this again; one after it
 * leaves the file with the password the mark names.
 */
static int complete_interrupted(PGconn *admin, const provision_request *o, const char *oid, const char *fp,
				bderr *err)
{
	char *held = NULL;
	if (fp[0] && provision_env_password(o->env_file, "postgresql", o->owner, &held, err) != 0)
		return -1;
	int in_place = held && provision_fingerprint_match(held, fp);
	secret_free(held);
	char *q = pg_quote_ident(admin, o->owner);
	if (in_place) {
		clear_mark(admin, q);
		log_info("completed an interrupted provisioning of '%s': the database was complete and '%s' already "
			 "holds the password of role '%s' (left unchanged)", o->db, o->env_file, o->owner);
		free(q);
		return 0;
	}
	char password[PROVISION_PASSWORD_LEN + 1];
	char new_fp[PROVISION_FP_LEN + 1];
	if (provision_password(password, err) != 0 || provision_fingerprint(password, NULL, new_fp, err) != 0) {
		memset(password, 0, sizeof password);
		free(q);
		return -1;
	}
	const char *host = PQhost(admin);
	const char *socket = host && host[0] == '/' ? host : NULL;
	char *line = provision_env_line("postgresql", o->owner, password, socket ? NULL : host, PQport(admin), o->db,
					"host", socket);
	env_file *env = NULL;
	int rc = env_file_prepare(o->env_file, line, &env, err);
	secret_free(line);
	char *lit = rc == 0 ? verifier_literal(admin, o->owner, password, err) : NULL;
	memset(password, 0, sizeof password);
	if (rc == 0 && lit == NULL)
		rc = -1;
	if (rc == 0) {
		char *note = done_marker(o->db, oid, new_fp);
		char *nlit = PQescapeLiteral(admin, note, strlen(note));
		/* one query string, one implicit transaction: the mark always names the role's password */
		char *sql = xasprintf("ALTER ROLE %s PASSWORD %s; COMMENT ON ROLE %s IS %s", q, lit, q, nlit);
		rc = pg_exec(admin, sql, "cannot set the role's new password", err);
		secret_free(sql);
		PQfreemem(nlit);
		free(note);
	}
	if (lit)
		PQfreemem(lit);
	if (rc == 0)
		rc = env_file_commit(env, err);
	env_file_abort(env);
	if (rc == 0) {
		clear_mark(admin, q);
		log_info("completed an interrupted provisioning of '%s': the database was complete, role '%s' has a new "
			 "password, written to '%s'", o->db, o->owner, o->env_file);
	}
	free(q);
	return rc;
}

int pg_provision_prepare(PGconn *admin, const provision_request *o, pg_provision **out, int *completed,
			 bderr *err)
{
	int db_there = 0, role_there = 0, left = 0, done = 0;
	*out = NULL;
	*completed = 0;
	if (exists(admin, "SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1", o->db, &db_there, err) != 0 ||
	    exists(admin, "SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1", o->owner, &role_there, err) != 0)
		return -1;
	char *oid = NULL;
	char fp[PROVISION_FP_LEN + 1] = "";
	if (db_there && role_there && !o->no_resume && role_done(admin, o->owner, o->db, &done, &oid, fp, err) != 0)
		return -1;
	if (db_there && done) {
		int rc = complete_interrupted(admin, o, oid, fp, err);
		free(oid);
		if (rc != 0)
			return -1;
		*completed = 1;
		return 0;
	}
	free(oid);
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
	char fpw[PROVISION_FP_LEN + 1] = "";
	if (create && (provision_password(password, err) != 0 || provision_fingerprint(password, NULL, fpw, err) != 0)) {
		memset(password, 0, sizeof password);
		return -1;
	}
	const char *host = PQhost(admin);
	const char *socket = host && host[0] == '/' ? host : NULL;
	char *line = provision_env_line("postgresql", o->owner, create ? password : NULL, socket ? NULL : host,
					PQport(admin), o->db, "host", socket);
	pg_provision *p = xcalloc(1, sizeof *p);
	p->role = xstrdup(o->owner);
	p->db = xstrdup(o->db);
	memcpy(p->fp, fpw, sizeof p->fp);
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

int pg_provision_rename_sql(pg_provision *p, PGconn *admin, const char *tmp_db, char **sql, bderr *err)
{
	*sql = NULL;
	if (p == NULL || !p->created_role)
		return 0;
	const char *params[] = { tmp_db };
	PGresult *r = NULL;
	if (pg_query_params(admin, "SELECT oid::text FROM pg_catalog.pg_database WHERE datname = $1", 1, params,
			    "cannot inspect the target server", &r, err) != 0)
		return -1;
	if (PQntuples(r) != 1) {
		PQclear(r);
		return bderr_set(err, "the restored database '%s' is gone", tmp_db);
	}
	char *note = done_marker(p->db, PQgetvalue(r, 0, 0), p->fp);
	PQclear(r);
	char *lit = PQescapeLiteral(admin, note, strlen(note));
	char *q = pg_quote_ident(admin, p->role);
	*sql = xasprintf("COMMENT ON ROLE %s IS %s", q, lit);
	free(q);
	PQfreemem(lit);
	free(note);
	return 0;
}

int pg_provision_commit(pg_provision *p, PGconn *admin, bderr *err)
{
	if (env_file_commit(p->env, err) != 0)
		return -1;
	if (!p->created_role)
		return 0;
	/*
	 * After the env file: a run killed in between leaves the second mark
	 * (pg_provision_rename_sql), and its next run finds the file's work
	 * undone and does it again (a new password, the file rewritten).
	 */
	char *q = pg_quote_ident(admin, p->role);
	clear_mark(admin, q);
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
	free(p->db);
	free(p);
}
