#include "engines/pg/pg_engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"

#include "engines/pg/pg_dump.h"
#include "engines/pg/pg_follow.h"
#include "engines/pg/pg_migrate.h"
#include "engines/pg/pg_digest.h"
#include "engines/pg/pg_restore.h"
#include "engines/pg/pg_server.h"
#include "engines/pg/pgconn.h"

/* Tables, sequences and views of the database the role cannot read. */
static const char pg_unreadable_sql[] =
	"SELECT count(*), string_agg(name, ', ' ORDER BY name) FILTER (WHERE rn <= 5) FROM ("
	" SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS name,"
	"  row_number() OVER (ORDER BY n.nspname, c.relname) AS rn"
	" FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
	" WHERE c.relkind IN ('r', 'p', 'm', 'S', 'v', 'f')"
	"  AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'"
	"  AND (NOT has_schema_privilege(n.oid, 'USAGE') OR NOT has_table_privilege(c.oid, 'SELECT'))"
	") t";

/* Whether the role can dump the database; note says why it can. */
static int pg_can_dump(PGconn *c, int *superuser, int *replication, char *note, size_t len,
		       bderr *err)
{
	PGresult *res = NULL;
	if (pg_query(c,
		     "SELECT r.rolsuper, r.rolreplication, current_user, current_database(),"
		     " COALESCE((SELECT pg_has_role(current_user, a.oid, 'USAGE') FROM pg_roles a"
		     "  WHERE a.rolname = 'pg_read_all_data'), false)"
		     " FROM pg_roles r WHERE r.rolname = current_user",
		     "cannot read the role's attributes", &res, err) != 0)
		return -1;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return bderr_set(err, "cannot read the role's attributes: no row for current_user");
	}
	*superuser = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	*replication = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
	char *role = xstrdup(PQgetvalue(res, 0, 2));
	char *db = xstrdup(PQgetvalue(res, 0, 3));
	int read_all = strcmp(PQgetvalue(res, 0, 4), "t") == 0;
	PQclear(res);
	int rc = 0;
	if (*superuser) {
		snprintf(note, len, "can dump: superuser");
	} else if (read_all) {
		snprintf(note, len, "can dump: member of pg_read_all_data");
	} else if ((rc = pg_query(c, pg_unreadable_sql, "cannot list the tables the role cannot read",
				  &res, err)) == 0) {
		long n = atol(PQgetvalue(res, 0, 0));
		if (n == 0)
			snprintf(note, len, "can dump: reads every table of '%s'", db);
		else
			rc = bderr_set(err,
				       "role '%s' cannot dump database '%s': it cannot read %ld table%s "
				       "(%s%s); GRANT SELECT (and USAGE on the schema) or pg_read_all_data",
				       role, db, n, plural_s(n), PQgetvalue(res, 0, 1),
				       n > 5 ? ", ..." : "");
		PQclear(res);
	}
	free(role);
	free(db);
	return rc;
}

static int pg_check(const char *url, const char *password, char *note, size_t note_len, bderr *err)
{
	PGconn *c = NULL;
	if (pg_connect(url, password, NULL, "backupd check", &c, err) != 0)
		return -1;
	int superuser, replication;
	int rc = pg_can_dump(c, &superuser, &replication, note, note_len, err);
	PQfinish(c);
	return rc;
}

/* A base backup streams over a replication connection: the role needs REPLICATION. */
static int pg_check_physical(const char *url, const char *password, char *note, size_t note_len,
			     bderr *err)
{
	PGconn *c = NULL;
	if (pg_connect(url, password, NULL, "backupd check", &c, err) != 0)
		return -1;
	PGresult *res = NULL;
	int rc = pg_query(c, "SELECT rolsuper OR rolreplication FROM pg_roles WHERE rolname = current_user",
			  "cannot read the role's attributes", &res, err);
	int can = rc == 0 && PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	PQfinish(c);
	if (rc != 0)
		return -1;
	if (!can)
		return bderr_set(err, "the role has no REPLICATION attribute (ALTER ROLE ... REPLICATION), "
				      "needed by its basebackup job");
	if (pg_connect_replication(url, password, "backupd check", &c, err) != 0)
		return -1;
	res = PQexec(c, "IDENTIFY_SYSTEM");
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		char buf[512];
		rc = bderr_set(err, "replication connection: IDENTIFY_SYSTEM failed: %s",
			       pg_errmsg(c, buf, sizeof buf));
	}
	PQclear(res);
	PQfinish(c);
	if (rc == 0)
		snprintf(note, note_len, "can stream a base backup");
	return rc;
}

/* Like pgbackrest check: a restore point (so the segment is not empty), then a switch. */
static int pg_switch_wal(const char *url, const char *password, char *segment, size_t len,
			 bderr *err)
{
	PGconn *c = NULL;
	PGresult *res = NULL;
	int rc = -1;
	if (pg_connect(url, password, NULL, "backupd check", &c, err) != 0 ||
	    pg_query(c, "SELECT pg_create_restore_point('backupd check')",
		     "cannot write a restore point before the WAL switch", &res, err) != 0)
		goto out;
	PQclear(res);
	res = NULL;
	if (pg_query(c, "SELECT pg_walfile_name(pg_switch_wal())", "cannot switch WAL (pg_switch_wal)",
		     &res, err) != 0)
		goto out;
	snprintf(segment, len, "%s", PQgetvalue(res, 0, 0));
	rc = 0;
out:
	PQclear(res);
	if (c)
		PQfinish(c);
	return rc;
}

static int pg_dump_options_check(const engine_dump_options *o, bderr *err)
{
	/* given at all, not only when it differs from the default: it does nothing here */
	if (o->consistency != ENGINE_CONSISTENCY_DEFAULT || (o->given & ENGINE_GIVEN_CONSISTENCY))
		return bderr_usage(err, "option '--consistency' only applies to MySQL/MariaDB sources");
	if ((o->role_passwords || (o->given & ENGINE_GIVEN_ROLE_PASSWORDS)) && !o->all_databases)
		return bderr_usage(err, "--role-passwords goes with --all-databases (databases = all): a one-database dump records no passwords");
	return 0;
}

static int pg_restore_options_check(const engine_restore_options *o, bderr *err)
{
	if (o->no_binlog)
		return bderr_usage(err, "--no-binlog applies to MySQL/MariaDB targets only");
	if (o->owner && o->no_owner)
		return bderr_usage(err, "--owner and --no-owner contradict each other: choose one");
	return 0;
}

static const char *const pg_schemes[] = { "postgresql://", "postgres://", NULL };

const engine_ops pg_engine = {
	.name = "postgresql",
	.schemes = pg_schemes,
	.physical = 1,
	.check = pg_check,
	.url_check = pg_url_check,
	.check_physical = pg_check_physical,
	.switch_wal = pg_switch_wal,
	.dump_options_check = pg_dump_options_check,
	.reach = pg_dump_reach,
	.dump = pg_dump_run,
	.restore_options_check = pg_restore_options_check,
	.restore = pg_server_restore_run,
	.follow = &pg_follow_ops,
	.migrate_open = pg_migrate_open,
	.migrate_dump = pg_migrate_dump,
	.migrate_units = pg_migrate_units,
	.migrate_units_free = pg_migrate_units_free,
	.migrate_worker_open = pg_migrate_worker_open,
	.migrate_worker_close = pg_migrate_worker_close,
	.migrate_copy = pg_migrate_copy,
	.migrate_run = pg_migrate_run,
	.migrate_post = pg_migrate_post,
	.migrate_verify = pg_migrate_verify,
	.migrate_close = pg_migrate_close,
	.verify = pg_digest_verify_run,
};
