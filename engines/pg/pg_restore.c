#include "engines/pg/pg_copybin.h"
#include "engines/pg/pg_digest.h"
#include "engines/pg/pg_restore.h"
#include "engines/pg/pg_typecheck.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <libpq/libpq-fs.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/progress.h"
#include "engines/pg/pgconn.h"
#include "common/taskgraph.h"
#include "common/workpool.h"
#include "archive/filter.h"
#include "engines/pg/pg_dbprops.h"
#include "engines/pg/pg_format.h"
#include "engines/pg/pg_lo_meta.h"
#include "engines/pg/pg_post_data.h"
#include "engines/pg/pg_provision.h"
#include "engines/pg/pg_roles.h"
#include "engines/pg/pg_sql_filter.h"
#include "engines/pg/pg_subset.h"
#include "engines/pg/pg_target.h"
#include "engines/restore_claim.h"

#define IO_BUF (256 * 1024)
/* Schema sections are held in memory: they grow with the schema, not the data. */
#define SCHEMA_MAX ((size_t)1 << 30)

/*
 * maintenance_work_mem of the index builds (size_index_memory): each session
 * keeps the server's, floor_kb; a build whose sort then fits in memory takes
 * what it needs of budget_kb while the builds running beside it (used_kb)
 * leave that much.
 */
typedef struct index_memory {
	pthread_mutex_t lock;
	int ready; /* lock initialised */
	long long floor_kb, budget_kb, used_kb;
} index_memory;

typedef struct restore_ctx {
	repo *repo;
	const manifest *m;
	const engine_restore_options *o;
	pg_dump_info info; /* the manifest's info, validated */
	pg_roles_info role_info; /* its roles, validated */
	const char *encoding;
	char *dbname;      /* the target */
	char *temp_dbname; /* --create: where the restore goes until it is complete */
	PGconn *maint;     /* --create: holds the temporary name's lock */
	pg_db_props *props; /* --create: the source database's properties (in info), or NULL */
	int created;
	int renamed;        /* --create: the database carries the target's name */
	pg_target *target;  /* its version and settings, read before anything runs */
	int lo_create_missing; /* a backup without large-object metadata (older backupd) */
	pg_role_map roles;  /* --owner, --role-map */
	pg_provision *prov; /* --provision */
	PGconn **conns;     /* jobs connections to the target */
	int n_conns;
	post_data *post;    /* parsed before the data, for its indexes to follow each table's load */
	index_memory mem;   /* maintenance_work_mem for index builds (size_index_memory) */
} restore_ctx;

/* What each schema statement goes through on its way to the target. */
typedef struct stmt_hooks {
	const pg_target *target;
	const pg_role_map *roles;
} stmt_hooks;

/* N connections working through one list of items (common/workpool). */
static int pool_run(restore_ctx *rc, PGconn **conns, int n_conns, void **items, size_t n_items,
		    workpool_fn fn, bderr *err)
{
	void **workers = xcalloc((size_t)n_conns + 1, sizeof *workers);
	for (int i = 0; i < n_conns; i++)
		workers[i] = conns[i];
	int r = workpool_run(rc, workers, n_conns, items, n_items, fn, NULL, err);
	free(workers);
	return r;
}

/* ---- objects ---- */

static const manifest_object *find_object(const manifest *m, const char *name, bderr *err)
{
	const manifest_object *o = manifest_find_object(m, name);
	if (o == NULL)
		bderr_set(err, "backup %s is damaged: manifest names '%s' but does not describe it",
			  m->id, name);
	return o;
}

/* Reads a whole (schema) object, verified, into memory. */
static int read_object(restore_ctx *rc, const char *name, char **data, size_t *len, bderr *err)
{
	const manifest_object *mo = find_object(rc->m, name, err);
	if (mo == NULL)
		return -1;
	return repo_object_read_all(rc->repo, rc->m, mo, SCHEMA_MAX, data, len, err);
}

/* ---- connections ---- */

static int session_setup(restore_ctx *rc, PGconn *c, bderr *err)
{
	char *enc = PQescapeLiteral(c, rc->encoding, strlen(rc->encoding));
	/*
	 * No waiting for each commit's WAL flush (thousands of schema statements,
	 * one commit each): wait_flushed makes the whole restore durable at the
	 * end, before it is reported complete (10+: see there).
	 */
	/*
	 * No parallel index-build workers: --jobs is the number of server
	 * processes the restore keeps busy, and every job is a loading or
	 * building connection of its own.  Workers beside them only compete for
	 * the same cores, and a parallel sort costs about a third more CPU than
	 * a serial one: on bench/pg.sh (2 cores, --jobs 2) the restore took
	 * 3.88-3.97 s without them against 4.20-4.26 s with the server's default
	 * of 2.  More parallelism is asked for with --jobs.
	 */
	int v = PQserverVersion(c);
	char *sql = xasprintf("SET client_encoding = %s; " PG_COPY_SESSION_SQL
			      "; SET check_function_bodies = false%s%s",
			      enc, v >= 100000 ? "; SET synchronous_commit = off" : "",
			      v >= 110000 ? "; SET max_parallel_maintenance_workers = 0" : "");
	PQfreemem(enc);
	int r = pg_exec(c, sql, "cannot configure the restore session", err);
	free(sql);
	return r;
}

static int connect_target(restore_ctx *rc, PGconn **out, bderr *err)
{
	/* o->database: a database of a whole-server dump, restored into a database --to may not name */
	const char *db = rc->temp_dbname ? rc->temp_dbname : rc->o->database;
	if (pg_connect(rc->o->to_url, rc->o->password, db, "dbrestore", out, err) != 0)
		return -1;
	return session_setup(rc, *out, err);
}

static int connect_maintenance(restore_ctx *rc, PGconn **out, bderr *err)
{
	bderr first;
	bderr_init(&first);
	if (pg_connect(rc->o->to_url, rc->o->password, "postgres", "dbrestore", out, &first) == 0)
		return 0;
	if (pg_connect(rc->o->to_url, rc->o->password, "template1", "dbrestore", out, err) == 0)
		return 0;
	*err = first;
	return -1;
}

/*
 * restore --create builds the database under a temporary name and renames it
 * to the target's only once everything is in, so no database carries the
 * target's name unless its restore completed.  The temporary name is derived
 * from the target's; an advisory lock on it, held by the maintenance
 * connection for the whole restore, tells a live restorer from a killed one:
 * the next restore --create of that target drops a temporary database whose
 * lock nobody holds.
 */
#define TEMP_DB_PREFIX "backupd_restore_"
#define TEMP_DB_LOCK_CLASS "1650750067" /* 'bdrs': advisory lock namespace */

static char *temp_db_name(const char *target)
{
	char hex[SHA256_HEX_LEN + 1];
	sha256_hex(target, strlen(target), hex);
	return xasprintf(TEMP_DB_PREFIX "%.24s", hex);
}

static int db_exists(PGconn *c, const char *name, int *exists, bderr *err)
{
	const char *params[] = { name };
	PGresult *r = NULL;
	if (pg_query_params(c, "SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1", 1, params,
			    "cannot look up the target database", &r, err) != 0)
		return -1;
	*exists = PQntuples(r) > 0;
	PQclear(r);
	return 0;
}

static int drop_db(PGconn *c, const char *name, int force, bderr *err)
{
	char *q = pg_quote_ident(c, name);
	char *sql = xasprintf("DROP DATABASE IF EXISTS %s%s", q,
			      force && PQserverVersion(c) >= 130000 ? " WITH (FORCE)" : "");
	char *what = xasprintf("cannot drop database '%s'", name);
	int r = pg_exec(c, sql, what, err);
	free(what);
	free(sql);
	free(q);
	return r;
}

/*
 * One try at the temporary name's lock (restore_claim_try_fn): *got when
 * ours, else *busy when its holder is running a statement.
 */
static int try_lock_temp_db(void *vrc, int *got, int *busy, bderr *err)
{
	restore_ctx *rc = vrc;
	const char *params[] = { rc->temp_dbname };
	PGresult *r = NULL;
	if (pg_query_params(rc->maint,
			    "SELECT pg_catalog.pg_try_advisory_lock(" TEMP_DB_LOCK_CLASS ", pg_catalog.hashtext($1))",
			    1, params, "cannot lock the temporary database name", &r, err) != 0)
		return -1;
	*got = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
	PQclear(r);
	if (*got)
		return 0;
	if (pg_query_params(rc->maint,
			    "SELECT count(*) FROM pg_catalog.pg_locks l"
			    " JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid"
			    " WHERE l.locktype = 'advisory' AND l.granted"
			    " AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())"
			    " AND l.classid = " TEMP_DB_LOCK_CLASS " AND l.objid = pg_catalog.hashtext($1)::oid"
			    " AND l.objsubid = 2 AND a.state = 'active'",
			    1, params, "cannot look up the temporary database name's lock", &r, err) != 0)
		return -1;
	*busy = strcmp(PQgetvalue(r, 0, 0), "0") != 0;
	PQclear(r);
	return 0;
}

/* Claims the temporary name: ours alone (restore_claim_wait), and free of a killed restore's leftovers. */
static int claim_temp_db(restore_ctx *rc, bderr *err)
{
	if (restore_claim_wait(try_lock_temp_db, rc, rc->dbname, rc->temp_dbname, err) != 0)
		return -1;
	int exists = 0;
	if (db_exists(rc->maint, rc->temp_dbname, &exists, err) != 0)
		return -1;
	if (exists) {
		/* its restorer is gone: it held the lock we now hold */
		log_warn("dropping database '%s' left by an interrupted restore into '%s'", rc->temp_dbname,
			 rc->dbname);
		if (drop_db(rc->maint, rc->temp_dbname, 1, err) != 0)
			return -1;
	}
	return 0;
}

/* --create: nothing may carry the target's name yet. */
static int target_absent(restore_ctx *rc, bderr *err)
{
	int exists = 0;
	if (db_exists(rc->maint, rc->dbname, &exists, err) != 0)
		return -1;
	if (exists)
		return bderr_set(err, "database '%s' already exists: restore into it without --create, or drop it first",
				 rc->dbname);
	return 0;
}

/*
 * --create, before anything looks at the target: the maintenance connection
 * and the temporary name's claim, which drops a killed restore's temporary
 * database.  --provision checks the target's name itself, after the claim:
 * with it held, a role a killed run of the same provisioning left is no
 * live run's (pg_provision.h), and that run's database, which may be the
 * role's, is gone.
 */
static int claim_target(restore_ctx *rc, bderr *err)
{
	if (connect_maintenance(rc, &rc->maint, err) != 0)
		return -1;
	rc->temp_dbname = temp_db_name(rc->dbname);
	if (rc->o->provision_db)
		return claim_temp_db(rc, err);
	/* again after the claim: one that waited may have waited for a killed restore's rename */
	if (target_absent(rc, err) != 0 || claim_temp_db(rc, err) != 0 || target_absent(rc, err) != 0)
		return -1;
	return 0;
}

static int create_database(restore_ctx *rc, bderr *err)
{
	PGconn *c = rc->maint;
	char *locale = NULL;
	if (rc->props != NULL) {
		locale = pg_db_props_create_options(c, rc->props, PQserverVersion(c), err);
		if (locale == NULL)
			return bderr_prefix(err, "cannot create database '%s'", rc->dbname);
	}
	char *q = pg_quote_ident(c, rc->temp_dbname);
	char *enc = PQescapeLiteral(c, rc->encoding, strlen(rc->encoding));
	char *sql = xasprintf("CREATE DATABASE %s TEMPLATE template0 ENCODING %s%s", q, enc,
			      locale ? locale : "");
	char *what = xasprintf("cannot create database '%s'", rc->dbname);
	int rcode = pg_exec(c, sql, what, err);
	free(what);
	free(sql);
	free(locale);
	PQfreemem(enc);
	if (rcode == 0) {
		rc->created = 1;
		/* for an operator who finds it: what it is (the comment is replaced at the end) */
		char *note = xasprintf("backupd: restore of '%s' into '%s' in progress (pid %ld)", rc->m->id,
				       rc->dbname, (long)getpid());
		char *lit = PQescapeLiteral(c, note, strlen(note));
		sql = xasprintf("COMMENT ON DATABASE %s IS %s", q, lit);
		rcode = pg_exec(c, sql, "cannot mark the temporary database", err);
		free(sql);
		PQfreemem(lit);
		free(note);
	}
	free(q);
	return rcode;
}

/* The restore is complete: the database's own properties, then its real name. */
static int finish_database(restore_ctx *rc, bderr *err)
{
	if (pg_db_props_apply(rc->maint, rc->temp_dbname, rc->props, err) != 0)
		return -1;
	char *qt = pg_quote_ident(rc->maint, rc->temp_dbname);
	char *qd = pg_quote_ident(rc->maint, rc->dbname);
	/*
	 * --provision: the role's second mark in the rename's transaction (one
	 * query string, one implicit transaction), so DB never exists under its
	 * name without it while the env file is still to come (pg_provision.h).
	 */
	char *mark = NULL;
	if (pg_provision_rename_sql(rc->prov, rc->maint, rc->temp_dbname, &mark, err) != 0) {
		free(qd);
		free(qt);
		return -1;
	}
	char *sql = xasprintf("ALTER DATABASE %s RENAME TO %s%s%s", qt, qd, mark ? "; " : "", mark ? mark : "");
	free(mark);
	char *what = xasprintf("cannot rename the restored database to '%s'", rc->dbname);
	int r = pg_exec(rc->maint, sql, what, err);
	rc->renamed = r == 0;
	free(what);
	free(sql);
	free(qd);
	free(qt);
	return r;
}

/* Drops the database this restore created, under whichever name it has now. */
static void drop_database(restore_ctx *rc)
{
	/* renamed: what failed came after (--provision's env file): no half result under that name either */
	const char *name = rc->renamed ? rc->dbname : rc->temp_dbname;
	bderr err;
	bderr_init(&err);
	if (rc->maint == NULL || PQstatus(rc->maint) != CONNECTION_OK) {
		PQfinish(rc->maint);
		rc->maint = NULL;
		if (connect_maintenance(rc, &rc->maint, &err) != 0) {
			log_warn("cannot drop the incomplete database '%s': %s", name, err.msg);
			return;
		}
	}
	if (drop_db(rc->maint, name, 0, &err) != 0)
		log_warn("%s", err.msg);
	else
		log_info("dropped the incomplete database '%s'", name);
}

static int check_empty(PGconn *c, const char *dbname, bderr *err)
{
	PGresult *r;
	if (pg_query(c,
		     "SELECT (SELECT count(*) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n "
		     "          ON n.oid = c.relnamespace "
		     "         WHERE n.nspname <> 'information_schema' AND n.nspname !~ '^pg_') "
		     "     + (SELECT count(*) FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n "
		     "          ON n.oid = p.pronamespace "
		     "         WHERE n.nspname <> 'information_schema' AND n.nspname !~ '^pg_') "
		     "     + (SELECT count(*) FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n "
		     "          ON n.oid = t.typnamespace "
		     "         WHERE t.typtype IN ('e', 'd', 'r') AND n.nspname <> 'information_schema' "
		     "           AND n.nspname !~ '^pg_') "
		     "     + (SELECT count(*) FROM pg_catalog.pg_extension WHERE extname <> 'plpgsql') "
		     "     + (SELECT count(*) FROM pg_catalog.pg_largeobject_metadata)",
		     "cannot inspect the target database", &r, err) != 0)
		return -1;
	long n = atol(PQgetvalue(r, 0, 0));
	PQclear(r);
	if (n > 0)
		return bderr_set(err,
				 "target database '%s' is not empty (%ld objects): restore into a new database (--create) or pass --allow-non-empty",
				 dbname, n);
	return 0;
}

/* ---- schema scripts, statement by statement through libpq ---- */

static void filter_ownership(const restore_ctx *rc, char *sql, size_t *len, const char *section)
{
	int drop = (rc->o->no_owner ? SQL_DROP_OWNER : 0) | (rc->o->no_privileges ? SQL_DROP_PRIVILEGES : 0);
	if (drop == 0)
		return;
	size_t n = pg_sql_filter(sql, len, drop);
	log_debug("%s: left out %zu ownership/privilege statements", section, n);
}

/*
 * A script from the repository is SQL for the server and nothing else: a
 * psql meta-command (\! runs a shell command, \o writes files, \c
 * reconnects) is refused before any statement runs.  pg_dump's own
 * \restrict/\unrestrict lines are recognised and skipped.
 */
static int refuse_meta_commands(const char *sql, size_t len, const char *objname, bderr *err)
{
	char what[256];
	if (pg_sql_check_meta(sql, len, what, sizeof what) == 0)
		return 0;
	return bderr_set(err, "'%s' %s is refused: a backup holds SQL only, nothing for psql or a shell",
			 objname, what);
}

/* The statement's first line, shortened, for error messages. */
static void statement_excerpt(const char *s, size_t n, char *buf, size_t len)
{
	const char *nl = memchr(s, '\n', n);
	size_t l = nl ? (size_t)(nl - s) : n;
	snprintf(buf, len, "%.*s%s", (int)(l > 80 ? 80 : l), s, l > 80 || l < n ? " ..." : "");
}

/* Runs one statement; COPY or anything else that needs the client is refused. */
static int run_statement(PGconn *c, const stmt_hooks *h, const char *sql, size_t start, size_t end,
			 char *msg, size_t msg_len)
{
	const char *name;
	size_t name_len;
	if (pg_target_skips(h->target, sql + start, end - start, &name, &name_len)) {
		/* a newer pg_dump's session setting (transaction_timeout) on an older server */
		log_info("left out '%.*s': the target server has no such setting", (int)name_len, name);
		return 0;
	}
	char *stmt = pg_role_map_statement(h->roles, sql + start, end - start);
	if (stmt == NULL)
		stmt = xstrndup(sql + start, end - start);
	PGresult *r = PQexec(c, stmt);
	ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
	/*
	 * A column or table option the target rejects as unknown (a patched or
	 * newer source's): the statement failed whole, so it runs again without
	 * that option, as the target itself judged it.
	 */
	for (int tries = 0; st == PGRES_FATAL_ERROR && tries < 16; tries++) {
		const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
		char *opt = state && strcmp(state, "22023") == 0
				    ? pg_target_unknown_option(PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY))
				    : NULL;
		char *without = opt ? pg_target_drop_option(stmt, strlen(stmt), opt) : NULL;
		if (without == NULL) {
			free(opt);
			break;
		}
		log_info("left out option '%s': the target server does not know it", opt);
		free(opt);
		free(stmt);
		stmt = without;
		PQclear(r);
		r = *stmt ? PQexec(c, stmt) : NULL;
		st = *stmt ? (r ? PQresultStatus(r) : PGRES_FATAL_ERROR) : PGRES_EMPTY_QUERY;
	}
	free(stmt);
	int rcode = 0;
	if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT || st == PGRES_COPY_BOTH) {
		snprintf(msg, msg_len, "COPY to or from the client has no place in a schema script");
		rcode = -1; /* the caller closes the connection, which ends the COPY */
	} else if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY) {
		char buf[512];
		const char *m = r ? PQresultErrorMessage(r) : NULL;
		if (m == NULL || *m == '\0')
			m = pg_errmsg(c, buf, sizeof buf);
		snprintf(msg, msg_len, "%.*s", (int)strcspn(m, "\n"), m);
		rcode = -1;
	}
	PQclear(r);
	return rcode;
}

/*
 * Runs a schema script like psql -v ON_ERROR_STOP=1 did: each statement in
 * autocommit, stopping at the first error, which names the line, pg_dump's
 * entry and the statement.  The caller has refused meta-commands.
 */
static int run_statements(PGconn *c, const stmt_hooks *h, const char *sql, size_t len,
			  const char *objname, bderr *err)
{
	pg_sql_iter it;
	pg_sql_piece p;
	char *entry = NULL;
	size_t n = 0;
	int rcode = 0;
	pg_sql_iter_init(&it, sql, len);
	while (rcode == 0 && pg_sql_iter_next(&it, &p)) {
		pg_sql_track_entry(sql, p.lead, p.start, &entry);
		if (p.kind == PG_SQL_META)
			continue; /* a \restrict line: refuse_meta_commands let nothing else through */
		char msg[512];
		if (run_statement(c, h, sql, p.start, p.end, msg, sizeof msg) == 0) {
			n++;
			continue;
		}
		char excerpt[128];
		statement_excerpt(sql + p.start, p.end - p.start, excerpt, sizeof excerpt);
		rcode = bderr_set(err, "'%s' line %zu%s%s%s: %s (statement: %s)", objname, p.line,
				  entry ? " (" : "", entry ? entry : "", entry ? ")" : "", msg, excerpt);
	}
	log_debug("'%s': %zu statements", objname, n);
	free(entry);
	return rcode;
}

/* A whole script on a connection of its own (its SETs stay there). */
static int run_script(restore_ctx *rc, const char *sql, size_t len, const char *objname, bderr *err)
{
	if (refuse_meta_commands(sql, len, objname, err) != 0)
		return -1;
	PGconn *c = NULL;
	int rcode = connect_target(rc, &c, err);
	if (rcode == 0)
		rcode = pg_exec(c, "SET client_min_messages = warning", "cannot configure the restore session", err);
	stmt_hooks h = { rc->target, &rc->roles };
	if (rcode == 0)
		rcode = run_statements(c, &h, sql, len, objname, err);
	PQfinish(c);
	return rcode;
}

int pg_restore_pre_data(restore_ctx *rc, char *sql, size_t len, const char *objname, bderr *err)
{
	filter_ownership(rc, sql, &len, "pre-data");
	pg_subset_filter(rc->o->filter, sql, &len);
	int rcode = run_script(rc, sql, len, objname, err);
	if (rcode != 0)
		bderr_prefix(err, "schema (pre-data) restore failed");
	return rcode;
}

/*
 * A subset (--table, --schema) with a pattern that matches nothing, or whose
 * foreign keys would fail, is refused before anything is restored.
 */
static int check_subset(restore_ctx *rc, bderr *err)
{
	char *sql = NULL;
	size_t len = 0;
	if (table_filter_empty(rc->o->filter))
		return 0;
	if (rc->info.pre_data != NULL && !rc->o->server_part) {
		if (read_object(rc, rc->info.pre_data, &sql, &len, err) != 0)
			return -1;
		int r = pg_subset_check_patterns(rc->o->filter, sql, len, err);
		free(sql);
		sql = NULL;
		if (r != 0)
			return r;
	}
	if (rc->info.post_data == NULL)
		return 0;
	if (read_object(rc, rc->info.post_data, &sql, &len, err) != 0)
		return -1;
	int r = pg_subset_check_keys(rc->o->filter, sql, len, err);
	free(sql);
	return r;
}

static int restore_pre_data(restore_ctx *rc, const char *objname, bderr *err)
{
	char *sql = NULL;
	size_t len = 0;
	if (check_subset(rc, err) != 0 || read_object(rc, objname, &sql, &len, err) != 0)
		return -1;
	int rcode = pg_restore_pre_data(rc, sql, len, objname, err);
	free(sql);
	return rcode;
}

/* Large objects' owners, grants and comments, before their data. */
static const char *map_lo_role(const void *ctx, const char *role)
{
	return pg_role_map_name(ctx, role);
}

static const char *map_lo_owner(const void *ctx, const char *role)
{
	return pg_role_map_owner(ctx, role);
}

static int restore_lo_meta(restore_ctx *rc, bderr *err)
{
	json_t *lo = json_object_get(rc->m->info, "large_objects");
	if (!json_is_object(lo))
		return 0;
	const char *objname = json_string_value(json_object_get(lo, "metadata"));
	if (objname == NULL) {
		rc->lo_create_missing = 1;
		return 0;
	}
	char *json = NULL;
	size_t len = 0;
	if (read_object(rc, objname, &json, &len, err) != 0)
		return -1;
	int r = pg_restore_lo_meta(rc, json, len, objname, err);
	free(json);
	if (r != 0)
		return bderr_prefix(err, "backup %s", rc->m->id);
	return 0;
}

int pg_restore_lo_meta(restore_ctx *rc, const char *json, size_t len, const char *objname,
		       bderr *err)
{
	PGconn *c = rc->conns[0];
	pg_lo_meta_options lo_opts = {
		.no_owner = rc->o->no_owner,
		.no_privileges = rc->o->no_privileges,
		.map_role = map_lo_role,
		.map_owner = map_lo_owner,
		.map_ctx = &rc->roles,
	};
	size_t n = 0;
	if (pg_lo_meta_apply(c, json, len, &lo_opts, &n, err) != 0)
		return bderr_prefix(err, "'%s'", objname);
	log_debug("large objects: %zu created with their owners, grants and comments", n);
	return 0;
}

/*
 * A --role-map OLD the backup never references (a typo) is refused before
 * anything is created: it would restore the old names and report success.
 * Backups made before their roles were recorded cannot be checked, and a
 * whole-server restore maps the roles of all its databases.
 */
static int check_role_map(const restore_ctx *rc, bderr *err)
{
	if (rc->role_info.n == 0 || rc->o->server_part)
		return 0;
	const pg_db_props *p = rc->info.props;
	size_t n = p ? p->n_acl + 1 : 0;
	const char **also = xcalloc(n + 1, sizeof *also);
	if (p) {
		also[0] = p->owner;
		for (size_t i = 0; i < p->n_acl; i++)
			also[i + 1] = p->acl[i].grantee;
	}
	const char *unknown = pg_role_map_unknown(&rc->roles, &rc->role_info, also, n);
	free(also);
	if (unknown == NULL)
		return 0;
	strbuf names;
	strbuf_init(&names);
	for (size_t i = 0; i < rc->role_info.n; i++)
		strbuf_appendf(&names, "%s%s", i ? ", " : "", rc->role_info.roles[i].name);
	bderr_usage(err, "--role-map: the database references no role '%s', so nothing would be mapped (its roles: %s)",
		    unknown, names.data);
	strbuf_free(&names);
	return -1;
}

/* The database's own owner and grantees, as its objects' (--owner, --role-map). */
static void map_props_roles(restore_ctx *rc)
{
	pg_db_props *p = rc->props;
	if (p == NULL || pg_role_map_empty(&rc->roles))
		return;
	if (p->owner) {
		char *to = xstrdup(pg_role_map_owner(&rc->roles, p->owner));
		free(p->owner);
		p->owner = to;
	}
	for (size_t i = 0; i < p->n_acl; i++) {
		if (p->acl[i].grantee == NULL)
			continue;
		char *to = xstrdup(pg_role_map_name(&rc->roles, p->acl[i].grantee));
		free(p->acl[i].grantee);
		p->acl[i].grantee = to;
	}
}

/*
 * The target's version and settings, before anything is created: a dump of a
 * newer major is refused here, up front.  1: --provision completed an
 * interrupted run's provisioning (pg_provision_prepare): nothing to restore.
 */
static int load_target(restore_ctx *rc, bderr *err)
{
	PGconn *c = NULL;
	int r = rc->o->create ? claim_target(rc, err)
			      : pg_connect(rc->o->to_url, rc->o->password, NULL, "dbrestore", &c, err);
	if (rc->o->create)
		c = rc->maint;
	if (r == 0)
		r = pg_target_load(c, &rc->target, err);
	json_t *num = json_object_get(rc->m->info, "server_version_num");
	/* migrate has no repository: its manifest describes the live source */
	char *what = rc->repo ? xasprintf("backup %s", rc->m->id) : xstrdup("the source");
	if (r == 0)
		r = pg_target_check_major(rc->target, json_is_integer(num) ? (long)json_integer_value(num) : 0,
					  what, err);
	free(what);
	pg_roles_check chk = { rc->o->no_owner, rc->o->no_privileges, rc->o->roles };
	provision_request po = { rc->o->provision_db, rc->o->owner, rc->o->env_file, rc->o->reuse_role,
				 rc->o->provision_no_resume };
	int completed = 0;
	if (r == 0 && rc->o->provision_db)
		r = pg_provision_prepare(c, &po, &rc->prov, &completed, err);
	if (r == 0 && !completed)
		r = pg_roles_prepare(c, &rc->role_info, &rc->roles, &chk, err);
	if (c != rc->maint)
		PQfinish(c);
	return r == 0 && completed ? 1 : r;
}

static int session_close(restore_ctx *rc, int ok, bderr *err);

/* ---- table data ---- */

typedef struct data_item {
	int is_lo;
	int freeze;             /* the table's only chunk, in a table this restore created */
	int binary;             /* the chunk is a binary COPY stream (engines/pg/pg_copybin.h) */
	post_data_entry *entry; /* not a load: a post-data entry run in the pipeline */
	int64_t rows;           /* entry: its table's rows (the manifest's), -1 unknown */
	const char *schema;
	const char *table;
	char *const *columns;
	size_t n_columns;
	const manifest_object *obj;
	const pg_load *load;    /* a load from elsewhere than the repository (migrate) */
	int after;              /* not a load: pipe_run.after on the table, once it is built */
} data_item;

/*
 * COPY FREEZE writes rows frozen and their pages all-visible, so that no
 * vacuum rewrites every page of the restored table once more; the server
 * allows it only for a table created or truncated in the same transaction.
 * The table is this restore's own and empty: TRUNCATE it in the COPY's
 * transaction.  1 when in that transaction now; 0 when TRUNCATE was refused
 * (a role that may insert but not truncate): a plain COPY follows.
 */
static int begin_frozen_load(PGconn *c, const char *qual)
{
	char *sql = xasprintf("BEGIN; TRUNCATE ONLY %s", qual);
	PGresult *r = PQexec(c, sql);
	free(sql);
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	if (!ok)
		log_debug("table %s: loading without FREEZE: %.*s", qual,
			  (int)strcspn(PQresultErrorMessage(r), "\n"), PQresultErrorMessage(r));
	PQclear(r);
	if (!ok) {
		r = PQexec(c, "ROLLBACK");
		PQclear(r);
	}
	return ok;
}

/* Ends begin_frozen_load's transaction: committed when the load succeeded (rcode 0). */
static int end_frozen_load(PGconn *c, const char *qual, int in_tx, int rcode, bderr *err)
{
	if (in_tx && rcode == 0) {
		char *what = xasprintf("cannot load table %s", qual);
		rcode = pg_exec(c, "COMMIT", what, err);
		free(what);
	} else if (in_tx) {
		PGresult *res = PQexec(c, "ROLLBACK");
		PQclear(res);
	}
	return rcode;
}

static int copy_in(restore_ctx *rc, PGconn *c, void *vitem, bderr *err)
{
	data_item *it = vitem;
	char *qual = pg_qualified_name(c, it->schema, it->table);
	int in_tx = it->freeze && begin_frozen_load(c, qual);
	strbuf cols;
	strbuf_init(&cols);
	for (size_t k = 0; k < it->n_columns; k++) {
		char *q = pg_quote_ident(c, it->columns[k]);
		strbuf_appendf(&cols, "%s%s", k ? ", " : "", q);
		free(q);
	}
	const char *with = pg_copy_with(it->binary, in_tx);
	char *sql = it->n_columns ? xasprintf("COPY %s (%s) FROM STDIN%s", qual, cols.data, with)
				  : xasprintf("COPY %s FROM STDIN%s", qual, with);
	strbuf_free(&cols);
	object_reader *orr = NULL;
	char *buf = NULL;
	int rcode = -1;
	if (repo_object_open(rc->repo, rc->m, it->obj, &orr, err) != 0)
		goto out;
	PGresult *res = PQexec(c, sql);
	if (PQresultStatus(res) != PGRES_COPY_IN) {
		const char *msg = PQresultErrorMessage(res);
		bderr_set(err, "cannot load table %s: %.*s", qual, (int)strcspn(msg, "\n"), msg);
		PQclear(res);
		goto out;
	}
	PQclear(res);
	buf = xmalloc(IO_BUF);
	bderr rerr;
	bderr_init(&rerr);
	int read_failed = 0;
	for (;;) {
		size_t got = 0;
		if (object_reader_read(orr, buf, IO_BUF, &got, &rerr) != 0) {
			read_failed = 1;
			break;
		}
		if (got == 0)
			break;
		if (PQputCopyData(c, buf, (int)got) != 1)
			break;
	}
	/* a corrupt object aborts the COPY, so none of its rows are kept */
	PQputCopyEnd(c, read_failed ? "backup object failed verification" : NULL);
	res = PQgetResult(c);
	if (read_failed) {
		*err = rerr;
		bderr_prefix(err, "cannot load table %s", qual);
	} else if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		const char *msg = PQresultErrorMessage(res);
		bderr_set(err, "cannot load table %s from '%s': %.*s", qual, it->obj->name,
			  (int)strcspn(msg, "\n"), msg);
	} else if (it->obj->rows >= 0 && strtoll(PQcmdTuples(res), NULL, 10) != it->obj->rows) {
		bderr_set(err, "table %s: loaded %s rows from '%s' but the manifest records %" PRId64,
			  qual, PQcmdTuples(res), it->obj->name, it->obj->rows);
	} else {
		rcode = 0;
	}
	PQclear(res);
	while ((res = PQgetResult(c)) != NULL)
		PQclear(res);
out:
	rcode = end_frozen_load(c, qual, in_tx, rcode, err);
	free(buf);
	object_reader_free(orr);
	free(sql);
	free(qual);
	return rcode;
}

/* A refillable window over a verified object stream. */
typedef struct lo_stream {
	object_reader *orr;
	char *buf;
	size_t have;
	size_t pos;
	int at_end;
} lo_stream;

/* Moves unread bytes to the front and reads more; at_end once the stream is done. */
static int lo_refill(lo_stream *ls, bderr *err)
{
	memmove(ls->buf, ls->buf + ls->pos, ls->have - ls->pos);
	ls->have -= ls->pos;
	ls->pos = 0;
	if (ls->at_end)
		return 0;
	size_t got = 0;
	if (object_reader_read(ls->orr, ls->buf + ls->have, IO_BUF - ls->have, &got, err) != 0)
		return -1;
	if (got == 0)
		ls->at_end = 1;
	ls->have += got;
	return 0;
}

static int lo_write_all(PGconn *c, lo_stream *ls, unsigned long oid, long long len,
			const char *objname, int create_missing, bderr *err)
{
	/*
	 * The metadata step (or pg_dump 16's pre-data) created every large
	 * object; a backup taken by an older backupd with pg_dump 17+ has neither,
	 * and its large objects are created here, owned by the restoring role.
	 */
	if (create_missing) {
		char *sql = xasprintf("SELECT pg_catalog.lo_create(%lu) WHERE NOT EXISTS (SELECT 1 FROM "
				      "pg_catalog.pg_largeobject_metadata WHERE oid = %lu)", oid, oid);
		int r = pg_exec(c, sql, "cannot create a large object", err);
		free(sql);
		if (r != 0)
			return -1;
	}
	int fd = lo_open(c, (Oid)oid, INV_WRITE);
	if (fd < 0) {
		char e[512];
		return bderr_set(err, "cannot open large object %lu: %s", oid, pg_errmsg(c, e, sizeof e));
	}
	int rcode = 0;
	while (len > 0) {
		if (ls->pos == ls->have) {
			if (lo_refill(ls, err) != 0) {
				rcode = -1;
				break;
			}
			if (ls->have == 0) {
				rcode = bderr_set(err, "'%s' is malformed: large object %lu is truncated",
						  objname, oid);
				break;
			}
		}
		size_t n = ls->have - ls->pos;
		if ((long long)n > len)
			n = (size_t)len;
		if (lo_write(c, fd, ls->buf + ls->pos, n) != (int)n) {
			char e[512];
			rcode = bderr_set(err, "cannot write large object %lu: %s", oid,
					  pg_errmsg(c, e, sizeof e));
			break;
		}
		ls->pos += n;
		len -= (long long)n;
	}
	lo_close(c, fd);
	return rcode;
}

/*
 * Records "<oid> <length>\n<bytes>" as written by the dump, all in one
 * transaction: the verified end of the stream is the commit point.
 */
static int load_large_objects(restore_ctx *rc, PGconn *c, const manifest_object *mo, bderr *err)
{
	lo_stream ls = { 0 };
	if (repo_object_open(rc->repo, rc->m, mo, &ls.orr, err) != 0)
		return -1;
	if (pg_exec(c, "BEGIN", "cannot start the large object transaction", err) != 0) {
		object_reader_free(ls.orr);
		return -1;
	}
	ls.buf = xmalloc(IO_BUF);
	int rcode = 0;
	int64_t count = 0;
	for (;;) {
		char *nl = memchr(ls.buf + ls.pos, '\n', ls.have - ls.pos);
		if (nl == NULL) {
			if (ls.at_end) {
				if (ls.have != ls.pos)
					rcode = bderr_set(err, "'%s' is malformed: truncated record header",
							  mo->name);
				break;
			}
			if (lo_refill(&ls, err) != 0) {
				rcode = -1;
				break;
			}
			continue;
		}
		unsigned long oid = 0;
		long long len = -1;
		*nl = '\0';
		if (sscanf(ls.buf + ls.pos, "%lu %lld", &oid, &len) != 2 || len < 0) {
			rcode = bderr_set(err, "'%s' is malformed: bad record header", mo->name);
			break;
		}
		ls.pos = (size_t)(nl - ls.buf) + 1;
		if (lo_write_all(c, &ls, oid, len, mo->name, rc->lo_create_missing, err) != 0) {
			rcode = -1;
			break;
		}
		count++;
	}
	free(ls.buf);
	object_reader_free(ls.orr);
	if (rcode == 0)
		rcode = pg_exec(c, "COMMIT", "cannot commit the large objects", err);
	else {
		PGresult *r = PQexec(c, "ROLLBACK");
		PQclear(r);
		bderr_prefix(err, "cannot restore large objects");
	}
	if (rcode == 0)
		log_debug("restored %" PRId64 " large objects", count);
	return rcode;
}

static int post_item_run(void *vrc, void *vconn, void *vitem, bderr *err);
static int post_entry_run(restore_ctx *rc, PGconn *c, post_data_entry *e, int64_t rows, bderr *err);

/* ---- the pipeline: loads, and each table's post-data as soon as its data is in ---- */

/* What the pipeline's workers share. */
typedef struct pipe_run {
	restore_ctx *rc;
	pg_load_fn load; /* the loads from elsewhere (pg_restore_pipeline), or NULL */
	pg_table_fn after; /* on each table once loaded, or NULL */
	void *shared;    /* load's and after's */
	pthread_mutex_t lock;
	size_t loads_left;
	struct timespec t0; /* the pipeline's start: the timeline's debug lines count from it */
} pipe_run;

/* A worker: its target connection, and what the load function gets as its worker. */
typedef struct pipe_worker {
	PGconn *conn;
	void *load;
	int index; /* which connection, in the timeline's debug lines */
} pipe_worker;

/* A load from elsewhere, in a frozen transaction when the table is loaded whole. */
static int external_load(pipe_run *p, pipe_worker *w, data_item *it, bderr *err)
{
	if (it->table == NULL)
		return p->load(p->shared, w->load, w->conn, it->load, 0, err);
	char *qual = pg_qualified_name(w->conn, it->schema, it->table);
	int in_tx = it->freeze && begin_frozen_load(w->conn, qual);
	int rcode = p->load(p->shared, w->load, w->conn, it->load, in_tx, err);
	rcode = end_frozen_load(w->conn, qual, in_tx, rcode, err);
	free(qual);
	return rcode;
}

static long ms_since(const struct timespec *t0)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long)((now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000);
}

static int data_item_work(pipe_run *p, pipe_worker *w, data_item *it, bderr *err);

/*
 * The timeline (debug): which connection ran what from when to when, in ms
 * since the pipeline started; where a connection sat idle shows as a gap.
 */
static int data_item_run(void *vp, void *vw, void *vitem, bderr *err)
{
	pipe_run *p = vp;
	pipe_worker *w = vw;
	data_item *it = vitem;
	long start = ms_since(&p->t0);
	int rcode = data_item_work(p, w, it, err);
	if (log_get_level() >= LOG_LEVEL_DEBUG) {
		char what[160];
		if (it->entry)
			snprintf(what, sizeof what, "%s %s", it->entry->type, it->entry->name);
		else if (it->after)
			snprintf(what, sizeof what, "after %s.%s", it->schema, it->table);
		else if (it->table)
			snprintf(what, sizeof what, "load %s.%s%s%s", it->schema, it->table,
				 it->obj ? " " : "", it->obj ? it->obj->name : "");
		else
			snprintf(what, sizeof what, "large objects");
		log_debug("timeline: connection %d: %s: %ld..%ld ms%s", w->index, what, start,
			  ms_since(&p->t0), rcode ? " (failed)" : "");
	}
	return rcode;
}

static int data_item_work(pipe_run *p, pipe_worker *w, data_item *it, bderr *err)
{
	if (it->after)
		return p->after(p->shared, w->load, w->conn, it->schema, it->table, err);
	if (it->entry) {
		pthread_mutex_lock(&p->lock);
		size_t left = p->loads_left;
		pthread_mutex_unlock(&p->lock);
		/* what the tests look for: post-data overlapping the loads */
		if (left > 0)
			log_debug("pipeline: %s %s started with %zu loads left", it->entry->type,
				  it->entry->name, left);
		return post_entry_run(p->rc, w->conn, it->entry, it->rows, err);
	}
	int rcode = it->load ? external_load(p, w, it, err)
		    : it->is_lo ? load_large_objects(p->rc, w->conn, it->obj, err)
				: copy_in(p->rc, w->conn, it, err);
	pthread_mutex_lock(&p->lock);
	p->loads_left--;
	pthread_mutex_unlock(&p->lock);
	return rcode;
}

/* A table the loads are for: gates for "loaded" and "indexes built" in the graph. */
typedef struct pipe_table {
	const char *schema;
	const char *name;
	double cost; /* its loads': about what an index build on it costs */
	int64_t rows; /* its loads' (the manifest's), -1 when one is unknown */
	size_t loaded;
	size_t built;
} pipe_table;

static int pipe_table_cmp(const void *a, const void *b)
{
	const pipe_table *x = a, *y = b;
	int c = strcmp(x->schema, y->schema);
	return c ? c : strcmp(x->name, y->name);
}

static pipe_table *find_table(pipe_table *tables, size_t n, const post_data_rel *r)
{
	if (r->name == NULL)
		return NULL;
	pipe_table key = { .schema = r->schema, .name = r->name };
	return bsearch(&key, tables, n, sizeof *tables, pipe_table_cmp);
}

/*
 * Foreign keys join the pipeline only when every index and constraint that
 * could back one is in it too (always with pg_dump's output: one that names
 * another entry's object would have moved to a later phase).
 */
static int keys_can_pipeline(const post_data *pd)
{
	for (size_t i = 0; i < pd->n_entries; i++) {
		const post_data_entry *e = &pd->entries[i];
		if ((strcmp(e->type, "INDEX") == 0 || strcmp(e->type, "CONSTRAINT") == 0) &&
		    e->phase != POST_DATA_PARALLEL)
			return 0;
	}
	return 1;
}

/*
 * A foreign key is checked by one scan of its table and needs of the table
 * it references only that table's unique index: it runs once its own table
 * is loaded and the referenced one is built (a self-reference: its table
 * built), ahead of the index builds on its table.  It locks both tables
 * (SHARE ROW EXCLUSIVE, which the index builds' SHARE and the other keys on
 * them wait for): the graph holds it and them apart, so that no connection
 * sits waiting on the server's lock while loads or builds elsewhere are
 * ready.  Ahead of the builds on its table: the key's check is one serial
 * scan (the server plans it through SPI without a parallel plan, whatever
 * max_parallel_workers_per_gather says), better overlapped with the other
 * tables' work than left alone at the end.  Its scan, the table's first
 * after a load without FREEZE (a table of several chunks), also sets every
 * row's hint bits, which the build after it then finds set: at pgbench
 * scale 200 the accounts key took 3-5 s there against 1.7-2.1 s on a frozen
 * table.  Measured against this (session 10, scale 200, interleaved, load
 * 2.5-6): the primary key first ended no sooner (9.1-19.3 s from the end of
 * the table's loads against 11.1-21.5 s), nor did the last build with one
 * parallel maintenance worker once little work was left elsewhere (the
 * accounts primary key alone: 4.8-5.9 s with one worker, 4.7-5.1 s without,
 * on 2 shared cores).
 */
static double key_cost(double table_cost)
{
	/* counted double, so that it goes first (above) */
	return 2 * table_cost + 1;
}

static void key_task_depend(taskgraph *g, size_t id, const pipe_table *tables, const pipe_table *t,
			    const pipe_table *tr)
{
	taskgraph_depend(g, id, tr == t ? t->built : t->loaded);
	if (tr != t)
		taskgraph_depend(g, id, tr->built);
	taskgraph_lock(g, id, (size_t)(t - tables), 1);
	taskgraph_lock(g, id, (size_t)(tr - tables), 1);
}

/*
 * Adds the post-data entries that can run as soon as tables are loaded: an
 * index or constraint after its table's chunks, at once when its table has
 * no data here (a partitioned table's ON ONLY index, a table whose data was
 * left out: empty, only its definition matters), after all loads when its
 * table is not understood; a
 * foreign key after its table's chunks and the indexes and constraints of the
 * table it references (key_task_depend).  What a table
 * has no data for here (a partitioned table) never lets a key in early: its
 * partitions' loads would have to be checked row by row against it.
 * Everything else (triggers, attachments, comments) keeps its phase after
 * the pipeline.  Marks the entries it adds as done for the phases.
 */
static void add_post_tasks(post_data *pd, taskgraph *g, data_item *items, size_t *n_items,
			   pipe_table *tables, size_t n_tables, size_t all_loaded)
{
	int keys = keys_can_pipeline(pd);
	size_t n_keys = 0, n_idx = 0, n_at_once = 0;
	for (size_t i = 0; i < pd->n_entries; i++) {
		post_data_entry *e = &pd->entries[i];
		int is_key = e->phase == POST_DATA_FOREIGN_KEYS && strcmp(e->type, "FK CONSTRAINT") == 0;
		if (e->phase != POST_DATA_PARALLEL && !(is_key && keys))
			continue;
		post_data_rel on, ref;
		pipe_table *t = NULL, *tr = NULL;
		int named = 0; /* its table is known: without loads when t is NULL */
		if (post_data_entry_tables(e, &on, &ref) == 0) {
			named = on.name != NULL;
			t = find_table(tables, n_tables, &on);
			tr = find_table(tables, n_tables, &ref);
			post_data_rel_clear(&on);
			post_data_rel_clear(&ref);
		}
		if (is_key && (t == NULL || tr == NULL))
			continue; /* after everything, in its phase */
		data_item *it = &items[(*n_items)++];
		it->entry = e;
		it->rows = t ? t->rows : -1;
		size_t id = taskgraph_add(g, it, t ? (is_key ? key_cost(t->cost) : t->cost) : 0);
		if (is_key) {
			key_task_depend(g, id, tables, t, tr);
			n_keys++;
		} else if (t) {
			taskgraph_depend(g, id, t->loaded);
			taskgraph_depend(g, t->built, id);
			taskgraph_lock(g, id, (size_t)(t - tables), 0);
			n_idx++;
		} else if (named) {
			n_at_once++;
		} else {
			taskgraph_depend(g, id, all_loaded);
			n_idx++;
		}
		e->done = 1;
	}
	log_debug("pipeline: %zu indexes and constraints, %zu foreign keys after their tables' loads, "
		  "%zu on tables without data at once", n_idx, n_keys, n_at_once);
}

/*
 * The loads items[0 .. n_loads) (cost: their bytes; table NULL: large
 * objects) and rc->post's entries that can follow them (items has room for
 * them), run on the workers, the ready work with the longest path to the
 * end first (common/taskgraph), so the last to finish is a small one.  The
 * one pipeline of the restore and of migrate.
 */
static int run_pipeline(pipe_run *p, data_item *items, const double *costs, size_t n_loads,
			pipe_worker *workers, int n_workers, bderr *err)
{
	pipe_table *tables = xcalloc(n_loads + 1, sizeof *tables);
	size_t n_tables = 0;
	for (size_t i = 0; i < n_loads; i++)
		if (items[i].table)
			tables[n_tables++] = (pipe_table){ .schema = items[i].schema, .name = items[i].table };
	qsort(tables, n_tables, sizeof *tables, pipe_table_cmp);
	size_t n_distinct = 0;
	for (size_t i = 0; i < n_tables; i++)
		if (n_distinct == 0 || pipe_table_cmp(&tables[n_distinct - 1], &tables[i]) != 0)
			tables[n_distinct++] = tables[i];
	n_tables = n_distinct;
	taskgraph *g = taskgraph_new();
	size_t all_loaded = taskgraph_add(g, NULL, 0);
	for (size_t i = 0; i < n_tables; i++) {
		tables[i].loaded = taskgraph_add(g, NULL, 0);
		tables[i].built = taskgraph_add(g, NULL, 0);
		taskgraph_depend(g, tables[i].built, tables[i].loaded);
	}
	pipe_table **of = xcalloc(n_loads + 1, sizeof *of);
	for (size_t i = 0; i < n_loads; i++) {
		if (items[i].table == NULL)
			continue;
		pipe_table key = { .schema = items[i].schema, .name = items[i].table };
		of[i] = bsearch(&key, tables, n_tables, sizeof *tables, pipe_table_cmp);
		of[i]->cost += costs[i];
		int64_t r = items[i].obj ? items[i].obj->rows : -1;
		of[i]->rows = r < 0 || of[i]->rows < 0 ? -1 : of[i]->rows + r;
	}
	for (size_t i = 0; i < n_loads; i++) {
		/*
		 * A chunk costs what its whole table does: the largest table's
		 * chunks first, so its index builds (the longest) start early and
		 * overlap the smaller tables' loads instead of trailing them all.
		 */
		size_t id = taskgraph_add(g, &items[i], of[i] ? of[i]->cost : costs[i]);
		taskgraph_depend(g, all_loaded, id);
		if (of[i])
			taskgraph_depend(g, of[i]->loaded, id);
	}
	free(of);
	size_t n_items = n_loads;
	if (p->rc->post)
		add_post_tasks(p->rc->post, g, items, &n_items, tables, n_tables, all_loaded);
	/*
	 * after reads the table's rows, which no index or key build changes: as
	 * soon as they are in, beside those builds (its ACCESS SHARE lock waits
	 * only for an ALTER TABLE ... ADD PRIMARY KEY or UNIQUE), not after them
	 * on the one connection left busy while the other idles.
	 */
	for (size_t i = 0; p->after && i < n_tables; i++) {
		data_item *it = &items[n_items++];
		it->after = 1;
		it->schema = tables[i].schema;
		it->table = tables[i].name;
		taskgraph_depend(g, taskgraph_add(g, it, tables[i].cost), tables[i].loaded);
	}
	void **w = xcalloc((size_t)n_workers + 1, sizeof *w);
	for (int i = 0; i < n_workers; i++) {
		workers[i].index = i;
		w[i] = &workers[i];
	}
	p->loads_left = n_loads;
	clock_gettime(CLOCK_MONOTONIC, &p->t0);
	pthread_mutex_init(&p->lock, NULL);
	int rcode = taskgraph_run(g, p, w, n_workers, data_item_run, NULL, err);
	pthread_mutex_destroy(&p->lock);
	free(w);
	taskgraph_free(g);
	free(tables);
	return rcode;
}

/* Room for n_loads loads, a task after each of their tables and the post-data entries that may join them. */
static data_item *pipe_items(const restore_ctx *rc, size_t n_loads)
{
	return xcalloc(2 * n_loads + 1 + (rc->post ? rc->post->n_entries : 0), sizeof(data_item));
}

static int restore_data(restore_ctx *rc, PGconn **conns, int n_conns, bderr *err)
{
	const pg_dump_info *inf = &rc->info;
	size_t n_items = 0, cap = 1;
	for (size_t i = 0; i < inf->n_tables; i++)
		cap += inf->tables[i].n_chunks;
	data_item *items = pipe_items(rc, cap);
	double *costs = xcalloc(cap, sizeof *costs);
	int rcode = 0;
	for (size_t i = 0; i < inf->n_tables; i++) {
		const pg_dump_table *t = &inf->tables[i];
		if (!table_filter_selects(rc->o->filter, t->schema, t->name))
			continue; /* --table, --schema: not in the subset */
		for (size_t k = 0; k < t->n_chunks; k++) {
			data_item *it = &items[n_items];
			it->schema = t->schema;
			it->table = t->name;
			it->columns = t->columns;
			it->n_columns = t->n_columns;
			it->binary = t->binary;
			/* an empty database before the schema: every table is the restore's own */
			it->freeze = t->n_chunks == 1 && !rc->o->allow_non_empty;
			it->obj = find_object(rc->m, t->chunks[k], err);
			if (it->obj == NULL) {
				rcode = -1;
				goto out;
			}
			costs[n_items++] = (t->bytes > 0 ? (double)t->bytes : (double)it->obj->meta.size) / (double)t->n_chunks;
		}
	}
	if (inf->large_objects) {
		data_item *it = &items[n_items];
		it->is_lo = 1;
		it->obj = find_object(rc->m, inf->large_objects, err);
		if (it->obj == NULL) {
			rcode = -1;
			goto out;
		}
		costs[n_items++] = (double)it->obj->meta.size;
	}
	pipe_worker *workers = xcalloc((size_t)n_conns + 1, sizeof *workers);
	for (int i = 0; i < n_conns; i++)
		workers[i].conn = conns[i];
	pipe_run p = { .rc = rc };
	rcode = run_pipeline(&p, items, costs, n_items, workers, n_conns, err);
	free(workers);
out:
	free(costs);
	free(items);
	return rcode;
}

int pg_restore_pipeline(restore_ctx *rc, const pg_load *loads, size_t n, void **workers,
			PGconn **conns, int n_workers, pg_load_fn fn, pg_table_fn after, void *shared,
			bderr *err)
{
	data_item *items = pipe_items(rc, n);
	double *costs = xcalloc(n + 1, sizeof *costs);
	for (size_t i = 0; i < n; i++) {
		items[i].schema = loads[i].schema;
		items[i].table = loads[i].table;
		items[i].is_lo = loads[i].table == NULL;
		items[i].freeze = loads[i].n_chunks == 1 && !rc->o->allow_non_empty;
		items[i].load = &loads[i];
		costs[i] = loads[i].cost;
	}
	pipe_worker *pw = xcalloc((size_t)n_workers + 1, sizeof *pw);
	for (int i = 0; i < n_workers; i++)
		pw[i] = (pipe_worker){ .conn = conns[i], .load = workers[i] };
	pipe_run p = { .rc = rc, .load = fn, .after = after, .shared = shared };
	int rcode = run_pipeline(&p, items, costs, n, pw, n_workers, err);
	free(pw);
	free(costs);
	free(items);
	return rcode;
}

static int restore_sequences(restore_ctx *rc, PGconn *c, bderr *err)
{
	for (size_t i = 0; i < rc->info.n_sequences; i++) {
		const pg_dump_sequence *s = &rc->info.sequences[i];
		char *qual = pg_qualified_name(c, s->schema, s->name);
		if (!table_filter_empty(rc->o->filter)) {
			/* a subset leaves out the sequences of the tables and schemas it leaves out */
			int there = 0;
			if (pg_query_exists(c, "SELECT pg_catalog.to_regclass($1)::oid WHERE pg_catalog.to_regclass($1) IS NOT NULL",
					    qual, "cannot look up a sequence", &there, err) != 0) {
				free(qual);
				return -1;
			}
			if (!there) {
				free(qual);
				continue;
			}
		}
		const char *params[] = { qual, s->last_value, s->is_called ? "true" : "false" };
		char *what = xasprintf("cannot set sequence %s", qual);
		PGresult *r = NULL;
		int rcode = pg_query_params(c, "SELECT pg_catalog.setval($1::pg_catalog.regclass, $2::int8, $3::bool)",
					    3, params, what, &r, err);
		PQclear(r);
		free(what);
		free(qual);
		if (rcode != 0)
			return -1;
	}
	return 0;
}

/* ---- post-data ---- */

/*
 * Entries built in parallel can deadlock: two foreign keys of a cycle each
 * lock both tables.  PostgreSQL aborts one side only, so the victim succeeds
 * when retried after the other committed.
 */
#define DEADLOCK_RETRIES 5

/* A post-data entry's statements with their role names mapped, or NULL when unchanged. */
static char *map_entry_roles(const pg_role_map *m, const char *sql)
{
	if (pg_role_map_empty(m))
		return NULL;
	size_t len = strlen(sql), pos = 0;
	strbuf b;
	strbuf_init(&b);
	int changed = 0;
	pg_sql_iter it;
	pg_sql_piece p;
	pg_sql_iter_init(&it, sql, len);
	while (pg_sql_iter_next(&it, &p)) {
		char *mapped = p.kind == PG_SQL_STATEMENT ? pg_role_map_statement(m, sql + p.start, p.end - p.start) : NULL;
		if (mapped == NULL)
			continue;
		strbuf_append(&b, sql + pos, p.start - pos);
		strbuf_appends(&b, mapped);
		pos = p.end;
		changed = 1;
		free(mapped);
	}
	strbuf_append(&b, sql + pos, len - pos);
	if (!changed) {
		strbuf_free(&b);
		return NULL;
	}
	return strbuf_detach(&b);
}

static int post_item_exec(PGconn *c, const post_data_entry *e, const char *sql, bderr *err)
{
	for (int attempt = 0;; attempt++) {
		PGresult *r = PQexec(c, sql);
		ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
		if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
			PQclear(r);
			return 0;
		}
		const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
		if (state && strcmp(state, "40P01") == 0 && attempt < DEADLOCK_RETRIES) {
			PQclear(r);
			log_debug("deadlock creating %s %s: retrying", e->type, e->name);
			usleep((useconds_t)(50000 * (attempt + 1)));
			continue;
		}
		char buf[512];
		const char *msg = r ? PQresultErrorMessage(r) : NULL;
		if (msg == NULL || *msg == '\0')
			msg = pg_errmsg(c, buf, sizeof buf);
		bderr_set(err, "cannot create %s %s: %.*s", e->type, e->name, (int)strcspn(msg, "\n"), msg);
		PQclear(r);
		return -1;
	}
}

static long long index_memory_take(index_memory *m, const post_data_entry *e, int64_t rows);
static int index_memory_set(PGconn *c, long long kb, bderr *err);
static void index_memory_give(index_memory *m, long long kb);

/* An entry; rows: its table's, -1 when unknown (index_memory_take). */
static int post_entry_run(restore_ctx *rc, PGconn *c, post_data_entry *e, int64_t rows, bderr *err)
{
	char *mapped = map_entry_roles(&rc->roles, e->sql);
	const char *sql = mapped ? mapped : e->sql;
	long long kb = index_memory_take(&rc->mem, e, rows);
	int rcode = kb ? index_memory_set(c, kb, err) : 0;
	if (kb)
		log_debug("%s %s: maintenance_work_mem %lld kB for %" PRId64 " rows: its sort in memory",
			  e->type, e->name, kb, rows);
	if (rcode == 0)
		rcode = post_item_exec(c, e, sql, err);
	if (kb) {
		/* back to the session's own for its next build */
		bderr ignored;
		bderr_init(&ignored);
		if (index_memory_set(c, rc->mem.floor_kb, rcode == 0 ? err : &ignored) != 0)
			rcode = -1;
		index_memory_give(&rc->mem, kb);
	}
	free(mapped);
	return rcode;
}

static int post_item_run(void *vrc, void *vconn, void *vitem, bderr *err)
{
	return post_entry_run(vrc, vconn, vitem, -1, err);
}
static int run_phase(restore_ctx *rc, PGconn **conns, int n_conns, post_data *pd,
		     post_data_phase phase, bderr *err)
{
	void **items = xcalloc(pd->n_entries + 1, sizeof *items);
	size_t n = 0;
	for (size_t i = 0; i < pd->n_entries; i++)
		if (pd->entries[i].phase == phase && !pd->entries[i].done)
			items[n++] = &pd->entries[i];
	int serial = phase == POST_DATA_SERIAL || phase == POST_DATA_LATE;
	int r = pool_run(rc, conns, serial ? 1 : n_conns, items, n, post_item_run, err);
	free(items);
	return r;
}

/* Filters, checks and splits a post-data script (sql is filtered in place). */
static int parse_post_sql(restore_ctx *rc, char *sql, size_t len, const char *objname, post_data **out,
			  bderr *err)
{
	filter_ownership(rc, sql, &len, "post-data");
	pg_subset_filter(rc->o->filter, sql, &len);
	if (refuse_meta_commands(sql, len, objname, err) != 0)
		return bderr_prefix(err, "schema (post-data) restore failed");
	*out = post_data_parse(sql, len);
	return 0;
}

static int run_post_prelude(restore_ctx *rc, PGconn **conns, int n_conns, const post_data *pd,
			    const char *objname, bderr *err)
{
	int r = 0;
	for (int i = 0; i < n_conns && r == 0; i++)
		r = run_statements(conns[i], &(stmt_hooks){ rc->target, &rc->roles }, pd->prelude, strlen(pd->prelude), objname, err);
	return r;
}

/* What the pipeline has not run already (entries marked done). */
static int run_post_phases(restore_ctx *rc, PGconn **conns, int n_conns, post_data *pd, bderr *err)
{
	/* indexes and constraints in parallel; then the rest in order; then foreign keys */
	int r = run_phase(rc, conns, n_conns, pd, POST_DATA_PARALLEL, err);
	if (r == 0)
		r = run_phase(rc, conns, n_conns, pd, POST_DATA_SERIAL, err);
	if (r == 0)
		r = run_phase(rc, conns, n_conns, pd, POST_DATA_FOREIGN_KEYS, err);
	/* then what names their objects (COMMENT ON CONSTRAINT of a foreign key) */
	if (r == 0)
		r = run_phase(rc, conns, n_conns, pd, POST_DATA_LATE, err);
	log_debug("post-data: %zu entries", pd->n_entries);
	return r;
}

/*
 * Before the data: the post-data section parsed (rc->post) and its session
 * settings on every connection, so that the loads' connections can build a
 * table's indexes as soon as its chunks are in.
 */
static int prepare_post_data(restore_ctx *rc, PGconn **conns, int n_conns, const char *objname,
			     bderr *err)
{
	char *sql = NULL;
	size_t len = 0;
	if (read_object(rc, objname, &sql, &len, err) != 0)
		return -1;
	int r = parse_post_sql(rc, sql, len, objname, &rc->post, err);
	free(sql);
	if (r != 0)
		return -1;
	return run_post_prelude(rc, conns, n_conns, rc->post, objname, err);
}

/* After the data: the rest of rc->post (prepare_post_data). */
static int restore_post_data(restore_ctx *rc, PGconn **conns, int n_conns, bderr *err)
{
	return run_post_phases(rc, conns, n_conns, rc->post, err);
}

/*
 * dbrestore migrate: its post-data script before the data (the pipeline
 * runs what it can of it among the copies), the rest after.
 */
int pg_restore_post_prepare(restore_ctx *rc, char *sql, size_t len, const char *objname, bderr *err)
{
	if (parse_post_sql(rc, sql, len, objname, &rc->post, err) != 0)
		return -1;
	return run_post_prelude(rc, rc->conns, rc->n_conns, rc->post, objname, err);
}

int pg_restore_post_rest(restore_ctx *rc, bderr *err)
{
	return rc->post ? restore_post_data(rc, rc->conns, rc->n_conns, err) : 0;
}

int pg_restore_sequences(restore_ctx *rc, bderr *err)
{
	return restore_sequences(rc, rc->conns[0], err);
}

/*
 * An index build sorts in memory when its sort fits in INDEX_MEM_MAX_KB:
 * it gets what its table's rows need (its key's width unknown:
 * INDEX_SORT_ROW_BYTES) of a budget the builds running at once share, half
 * of the memory the server's machine has available (server_memory_kb), else
 * shared_buffers' worth.  A build whose sort would not fit, or whose rows
 * are unknown, sorts in the session's own maintenance_work_mem, as
 * pg_restore's do: more memory for a sort that spills anyway, or a very
 * large sort in memory, was slower.  Measured on bench/pg.sh (2 cores, a
 * VM whose every first touch of fresh memory is a fault the hypervisor
 * takes too, ~18 us a page): the 5 M-row primary key of pgbench scale 50
 * took 3.45 s in 458 MB against 5.07 s spilled in the server's 256 MB; the
 * 20 M-row key of scale 200 took 12-17 s in 1.8 GB against 9.2-10.1 s in
 * 256 MB and 7.0-7.5 s in 64 MB (alone), and the whole restore 30.5-36.8 s
 * without the 1.8 GB against 34.0-42.1 s with it.
 */
#define INDEX_MEM_MAX_KB (512L * 1024)
/*
 * A row of a btree build's sort on a narrow key: its 24-byte SortTuple
 * twice (the array grows by doubling), the index tuple in its 32-byte
 * allocation, and slack: PostgreSQL 15 used 78 at 20 M int4 keys.  A wider
 * key needs more: its build spills as it would without this.
 */
#define INDEX_SORT_ROW_BYTES 96

/* Whether an entry builds an index: CREATE INDEX, a primary key, unique or exclusion constraint. */
static int builds_index(const post_data_entry *e)
{
	if (strcmp(e->type, "INDEX") == 0)
		return 1;
	if (strcmp(e->type, "CONSTRAINT") != 0)
		return 0;
	return strstr(e->sql, "PRIMARY KEY") || strstr(e->sql, "UNIQUE") || strstr(e->sql, "EXCLUDE");
}

/*
 * The memory a build sorts in when more than the session's own lets it
 * sort in memory (INDEX_MEM_MAX_KB) and the builds running now leave that
 * much of the budget; 0: the session's own.
 */
static long long index_memory_take(index_memory *m, const post_data_entry *e, int64_t rows)
{
	if (!m->ready || !builds_index(e) || rows < 0)
		return 0;
	long long need = (long long)(rows / 1024 + 1) * INDEX_SORT_ROW_BYTES;
	if (need <= m->floor_kb || need > INDEX_MEM_MAX_KB)
		return 0; /* enough already, or spilling anyway */
	pthread_mutex_lock(&m->lock);
	long long kb = m->budget_kb - m->used_kb >= need ? need : 0;
	m->used_kb += kb;
	pthread_mutex_unlock(&m->lock);
	return kb;
}

static void index_memory_give(index_memory *m, long long kb)
{
	pthread_mutex_lock(&m->lock);
	m->used_kb -= kb;
	pthread_mutex_unlock(&m->lock);
}

static int index_memory_set(PGconn *c, long long kb, bderr *err)
{
	char *sql = xasprintf("SET maintenance_work_mem = '%lldkB'", kb);
	int r = pg_exec(c, sql, "cannot configure the restore session", err);
	free(sql);
	return r;
}

/* A number in kB from "<name> <n> kB" of /proc/meminfo's text, or -1. */
static long long meminfo_kb(const char *text, const char *name)
{
	const char *p = strstr(text, name);
	if (p == NULL)
		return -1;
	p += strlen(name);
	char *end;
	long long v = strtoll(p, &end, 10);
	return end == p || v < 0 ? -1 : v;
}

/*
 * The memory the server's machine has available in kB, or -1 when it
 * cannot be read: MemAvailable of its /proc/meminfo, within its cgroup's
 * limit (v2: memory.max less memory.current), read through pg_read_file
 * (a superuser's only; PostgreSQL 10 and newer; a Linux server).
 */
static long long server_memory_kb(PGconn *c)
{
	if (PQserverVersion(c) < 100000)
		return -1;
	PGresult *r = PQexec(c, "SELECT pg_catalog.pg_read_file('/proc/meminfo', 0, 8192, true), "
				"pg_catalog.pg_read_file('/sys/fs/cgroup/memory.max', 0, 64, true), "
				"pg_catalog.pg_read_file('/sys/fs/cgroup/memory.current', 0, 64, true) "
				"WHERE pg_catalog.current_setting('is_superuser') = 'on'");
	long long kb = -1;
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && !PQgetisnull(r, 0, 0)) {
		kb = meminfo_kb(PQgetvalue(r, 0, 0), "MemAvailable:");
		long long max = PQgetisnull(r, 0, 1) ? -1 : strtoll(PQgetvalue(r, 0, 1), NULL, 10);
		long long cur = PQgetisnull(r, 0, 2) ? -1 : strtoll(PQgetvalue(r, 0, 2), NULL, 10);
		/* a limit ("max", none, reads as 0) */
		if (kb >= 0 && max > 0 && cur >= 0 && (max - cur) / 1024 < kb)
			kb = max > cur ? (max - cur) / 1024 : 0;
	} else if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		log_debug("index builds: cannot read the server's memory: %.*s",
			  (int)strcspn(PQresultErrorMessage(r), "\n"), PQresultErrorMessage(r));
	}
	PQclear(r);
	return kb;
}

static int size_index_memory(index_memory *m, PGconn *c, bderr *err)
{
	PGresult *r = NULL;
	if (pg_query(c,
		     "SELECT (SELECT setting::int8 * 8 FROM pg_catalog.pg_settings WHERE name = 'shared_buffers' "
		     "          AND unit = '8kB'), "
		     "       (SELECT setting::int8 FROM pg_catalog.pg_settings WHERE name = 'maintenance_work_mem' "
		     "          AND unit = 'kB')",
		     "cannot read the server's memory settings", &r, err) != 0)
		return -1;
	long long shared_kb = PQgetisnull(r, 0, 0) ? 0 : atoll(PQgetvalue(r, 0, 0));
	long long have_kb = PQgetisnull(r, 0, 1) ? 0 : atoll(PQgetvalue(r, 0, 1));
	PQclear(r);
	if (have_kb == 0)
		return 0; /* no setting read: the server's own */
	long long avail_kb = server_memory_kb(c);
	m->floor_kb = have_kb;
	m->budget_kb = avail_kb / 2 > shared_kb ? avail_kb / 2 : shared_kb;
	pthread_mutex_init(&m->lock, NULL);
	m->ready = 1;
	log_debug("index builds: maintenance_work_mem %lld kB (the server's), more for a build whose sort "
		  "then fits in memory (at most %ld kB) while those beside it leave some of %lld kB (%s)",
		  have_kb, INDEX_MEM_MAX_KB, m->budget_kb,
		  avail_kb / 2 > shared_kb ? "half of the server's available memory" : "shared_buffers");
	return 0;
}

/*
 * The sessions commit without waiting for the WAL flush (session_setup):
 * the restore is durable, and reported complete, only once the server has
 * flushed its WAL past the last of those commits.  A synchronous commit
 * flushes everything before its own commit record, but only a transaction
 * that wrote WAL waits for it: a transactional logical-decoding message is
 * the smallest such write any role may make, and changes no object.
 */
static void wait_flushed(PGconn *c)
{
	if (PQserverVersion(c) < 100000)
		return; /* its sessions waited at every commit */
	PGresult *r = PQexec(c, "SET synchronous_commit = on; "
				"SELECT pg_catalog.pg_logical_emit_message(true, 'backupd', 'restore complete')");
	int ok = PQresultStatus(r) == PGRES_TUPLES_OK;
	if (!ok) {
		char buf[512];
		const char *m = PQresultErrorMessage(r);
		if (m == NULL || *m == '\0')
			m = pg_errmsg(c, buf, sizeof buf);
		/* committed all the same: the server's WAL writer flushes it within 3 x wal_writer_delay */
		log_warn("cannot wait for the server to flush the restore's last commits to disk: %.*s",
			 (int)strcspn(m, "\n"), m);
	}
	PQclear(r);
}

/*
 * The target side, before any data: rc filled from m and o, the target
 * checked (major, roles, --provision), the database created (--create) and
 * o->jobs connections open.  On failure rc is already released; so it is
 * when it returns 1: --provision completed an interrupted run's
 * provisioning, and there is nothing to restore.
 */
static int session_open(restore_ctx *rc, repo *r, const manifest *m, const engine_restore_options *o,
			bderr *err)
{
	memset(rc, 0, sizeof *rc);
	rc->repo = r;
	rc->m = m;
	rc->o = o;
	if (strcmp(m->engine, "postgresql") != 0 || strcmp(m->kind, "dump") != 0)
		return bderr_usage(err, "backup %s is a %s %s, not a PostgreSQL dump", m->id,
				   m->engine, m->kind);
	if (pg_dump_info_parse(m->info, &rc->info, err) != 0)
		return bderr_prefix(err, "backup %s is damaged", m->id);
	if (pg_roles_info_parse(m->info, &rc->role_info, err) != 0) {
		pg_dump_info_clear(&rc->info);
		return bderr_prefix(err, "backup %s is damaged", m->id);
	}
	rc->encoding = rc->info.encoding;
	/* o->database: the target pg_server_restore_run chose for a database of a whole-server dump */
	rc->dbname = o->provision_db ? xstrdup(o->provision_db)
		     : o->database   ? xstrdup(o->database)
				     : pg_url_dbname(o->to_url);
	if (rc->dbname == NULL) {
		pg_dump_info_clear(&rc->info);
		pg_roles_info_clear(&rc->role_info);
		/* an unparsable --to names no database either: say what is wrong with it */
		if (pg_url_check(o->to_url, err) != 0)
			return -1;
		return bderr_usage(err, "--to names no database: give postgresql://HOST/DBNAME");
	}
	if (o->create)
		rc->props = rc->info.props;
	pg_role_map_init(&rc->roles);
	if (o->owner)
		rc->roles.owner = xstrdup(o->owner);
	for (size_t i = 0; o->role_map && o->role_map[i]; i++)
		if (pg_role_map_add(&rc->roles, o->role_map[i], err) != 0) {
			pg_role_map_clear(&rc->roles);
			pg_dump_info_clear(&rc->info);
			pg_roles_info_clear(&rc->role_info);
			free(rc->dbname);
			return -1;
		}
	if (check_role_map(rc, err) != 0) {
		pg_role_map_clear(&rc->roles);
		pg_dump_info_clear(&rc->info);
		pg_roles_info_clear(&rc->role_info);
		free(rc->dbname);
		return -1;
	}
	pg_role_map_add_owners(&rc->roles, &rc->role_info);
	map_props_roles(rc);
	/* as for the objects inside: the restoring role owns it, the default privileges apply */
	if (rc->props && o->no_owner) {
		free(rc->props->owner);
		rc->props->owner = NULL;
	}
	if (rc->props && o->no_privileges)
		rc->props->has_acl = 0;

	rc->n_conns = o->jobs < 1 ? 1 : o->jobs;
	rc->conns = xcalloc((size_t)rc->n_conns, sizeof *rc->conns);
	int rcode = -1;
	int lt = load_target(rc, err);
	if (lt > 0) {
		/* nothing was created: the close releases the claim and the connections */
		bderr ignored;
		bderr_init(&ignored);
		session_close(rc, 0, &ignored);
		return 1;
	}
	if (lt != 0)
		goto out;
	if (o->create && create_database(rc, err) != 0)
		goto out;
	for (int i = 0; i < rc->n_conns; i++)
		if (connect_target(rc, &rc->conns[i], err) != 0)
			goto out;
	if (!o->allow_non_empty && check_empty(rc->conns[0], rc->dbname, err) != 0)
		goto out;
	if (size_index_memory(&rc->mem, rc->conns[0], err) != 0)
		goto out;
	rcode = 0;
out:
	if (rcode != 0)
		session_close(rc, 0, err);
	return rcode;
}

/*
 * ok: the result made visible (--create: renamed to its name; --provision:
 * the env file).  Not ok, or that fails: a database created here is dropped,
 * a provisioned role too.  Releases rc either way.
 */
static int session_close(restore_ctx *rc, int ok, bderr *err)
{
	if (ok && rc->o->create) {
		/* renaming needs the database without sessions */
		for (int i = 0; i < rc->n_conns; i++) {
			PQfinish(rc->conns[i]);
			rc->conns[i] = NULL;
		}
		if (finish_database(rc, err) != 0)
			ok = 0;
	} else if (ok) {
		/*
		 * The sessions commit without waiting for the flush (session_setup);
		 * --create: the rename above commits synchronously, which flushes all
		 * before it.
		 */
		wait_flushed(rc->conns[0]);
	}
	if (ok && rc->prov && pg_provision_commit(rc->prov, rc->maint, err) != 0)
		ok = 0;
	for (int i = 0; i < rc->n_conns; i++)
		PQfinish(rc->conns[i]);
	free(rc->conns);
	/* a half-restored database must not look like a restored one */
	if (!ok && rc->created)
		drop_database(rc);
	if (!ok && rc->prov) {
		/* after the database it owned is gone */
		PGconn *admin = rc->maint;
		bderr ignored;
		bderr_init(&ignored);
		if (admin == NULL)
			connect_maintenance(rc, &admin, &ignored);
		pg_provision_abort(rc->prov, admin);
		rc->prov = NULL;
		if (admin != rc->maint)
			PQfinish(admin);
	} else {
		pg_provision_free(rc->prov);
	}
	PQfinish(rc->maint);
	if (rc->mem.ready)
		pthread_mutex_destroy(&rc->mem.lock);
	post_data_free(rc->post);
	pg_dump_info_clear(&rc->info); /* and rc->props with it */
	pg_roles_info_clear(&rc->role_info);
	pg_target_free(rc->target);
	pg_role_map_clear(&rc->roles);
	free(rc->temp_dbname);
	free(rc->dbname);
	memset(rc, 0, sizeof *rc);
	return ok ? 0 : -1;
}

int pg_restore_run(repo *r, const manifest *m, const engine_restore_options *o, bderr *err)
{
	restore_ctx rc;
	int so = session_open(&rc, r, m, o, err);
	if (so != 0)
		return so > 0 ? 0 : -1;
	const char *pre = rc.info.pre_data, *post = rc.info.post_data;
	PGconn **conns = rc.conns;
	int jobs = rc.n_conns;
	int rcode = -1;
	time_t t0 = time(NULL);
	char *dbname = xstrdup(rc.dbname);

	log_info("restoring %s of '%s' into database '%s' with %d jobs", m->id, m->name, rc.dbname,
		 jobs);
	progress_phase(o->progress, "creating the schema");
	/* tables the restore did not create may differ from the dumped ones: before any row */
	if (restore_pre_data(&rc, pre, err) != 0 ||
	    pg_check_binary_types(conns[0], &rc.info, o->filter, err) != 0 || restore_lo_meta(&rc, err) != 0)
		goto out;
	if (prepare_post_data(&rc, conns, jobs, post, err) != 0)
		goto out;
	progress_phase(o->progress, "loading data");
	if (restore_data(&rc, conns, jobs, err) != 0)
		goto out;
	if (restore_sequences(&rc, conns[0], err) != 0)
		goto out;
	progress_phase(o->progress, "building indexes and constraints");
	if (restore_post_data(&rc, conns, jobs, err) != 0)
		goto out;
	/* before a --create database gets its name: a failed check drops it */
	if (o->verify && pg_digest_verify(conns, jobs, &rc.info, m->id, err) != 0)
		goto out;
	rcode = 0;
out:
	if (session_close(&rc, rcode == 0, err) != 0)
		rcode = -1;
	if (rcode == 0)
		log_info("restore of %s into '%s' complete in %lds", m->id, dbname, (long)(time(NULL) - t0));
	free(dbname);
	return rcode;
}

/* ---- the same target side for dbrestore migrate ---- */

int pg_restore_session_open(const manifest *m, const engine_restore_options *o,
			    pg_restore_session **out, bderr *err)
{
	restore_ctx *rc = xcalloc(1, sizeof *rc);
	*out = NULL;
	int so = session_open(rc, NULL, m, o, err);
	if (so != 0) {
		free(rc);
		return so;
	}
	*out = rc;
	return 0;
}


PGconn *pg_restore_session_conn(pg_restore_session *rc, int i)
{
	return i >= 0 && i < rc->n_conns ? rc->conns[i] : NULL;
}

const char *pg_restore_session_dbname(const pg_restore_session *rc)
{
	return rc->dbname;
}

int pg_restore_session_close(pg_restore_session *rc, int ok, bderr *err)
{
	if (rc == NULL)
		return ok ? 0 : -1;
	int r = session_close(rc, ok, err);
	free(rc);
	return r;
}
