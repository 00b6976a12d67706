/*
 * PostgreSQL follow: logical replication set up, watched and taken down.
 *
 * Before the copy: a publication FOR TABLE every ordinary table of the
 * database (leaf partitions included, so it works from 10 on), then, over a
 * replication=database connection, a logical slot whose exported snapshot
 * the copy imports: the copy sees exactly the transactions before the slot's
 * consistent point and the slot streams exactly those after it.  The
 * publication is created first: pgoutput looks it up in the slot's
 * historic catalog, so one created after the slot would be unknown to it.
 *
 * After the copy: a subscription on the target bound to that slot
 * (create_slot = false, copy_data = false).  Its connection string is
 * stored by the target in pg_subscription.subconninfo, which only
 * superusers can read (PUBLIC has no SELECT on that column).  The target
 * server usually runs on another host, where backupd cannot put a file, so
 * by default the source password is in that string; --upstream-passfile
 * names a passfile on the target server's host instead (nothing secret
 * stored).  Either way the string is never printed or logged here, and it
 * goes with the subscription at cut-over or abort.
 *
 * Objects are named backupd_NAME (slot, publication, subscription).
 */
#include "engines/pg/pg_follow.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/mem.h"
#include "engines/digest.h"
#include "engines/pg/pg_digest.h"
#include "engines/pg/pgconn.h"

typedef struct pg_follow_handle {
	PGconn *repl; /* holds the exported snapshot until the copy imported it */
} pg_follow_handle;

/* Ordinary tables (leaf partitions included) of the database, not from extensions: what is published. */
#define PGF_TABLES                                                                      \
	" FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"                \
	" WHERE c.relkind = 'r' AND n.nspname <> 'information_schema'"                   \
	"  AND n.nspname !~ '^pg_' AND c.relpersistence = 'p'"                           \
	"  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass" \
	"   AND d.objid = c.oid AND d.deptype = 'e')"

/* The tables' columns as one digest: a change is DDL the follow cannot apply. */
static const char schema_md5_sql[] =
	"SELECT md5(COALESCE(string_agg(format('%I.%I:%s:%I:%s', n.nspname, c.relname, a.attnum,"
	"  a.attname, format_type(a.atttypid, a.atttypmod)), ',' ORDER BY n.nspname, c.relname,"
	"  a.attnum), ''))"
	" FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
	" JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped"
	" WHERE c.relkind IN ('r', 'p') AND n.nspname <> 'information_schema'"
	"  AND n.nspname !~ '^pg_' AND c.relpersistence = 'p'";

static void object_name(const follow_options *o, char *buf, size_t len)
{
	snprintf(buf, len, "backupd_%s", o->name);
}

static int connect_source(const follow_options *o, PGconn **c, bderr *err)
{
	if (pg_connect(o->from_url, o->from_password, NULL, "backupd migrate", c, err) != 0)
		return bderr_prefix(err, "source");
	/* a source already made read-only by a cut-over still takes our own changes */
	return pg_exec(*c, "SET default_transaction_read_only = off", "source", err);
}

static int connect_target(const follow_options *o, PGconn **c, bderr *err)
{
	if (pg_connect(o->to_url, o->to_password, o->to_dbname, "backupd migrate", c, err) != 0)
		return bderr_prefix(err, "target");
	return 0;
}

/* One value of a one-row query, copied (caller frees), or NULL on error. */
static char *query_value(PGconn *c, const char *sql, int n, const char *const *params,
			 const char *what, bderr *err)
{
	PGresult *r = NULL;
	if (pg_query_params(c, sql, n, params, what, &r, err) != 0)
		return NULL;
	char *v = PQntuples(r) > 0 && !PQgetisnull(r, 0, 0) ? xstrdup(PQgetvalue(r, 0, 0)) : xstrdup("");
	PQclear(r);
	return v;
}

static int check_wal_level(PGconn *c, char *note, size_t len, bderr *err)
{
	char *lvl = query_value(c, "SELECT current_setting('wal_level')", 0, NULL,
				"cannot read wal_level", err);
	if (lvl == NULL)
		return -1;
	int ok = strcmp(lvl, "logical") == 0;
	if (ok)
		snprintf(note, len, "can be followed: wal_level = logical");
	else
		bderr_usage(err, "wal_level is '%s': migrate --follow needs wal_level = logical on the "
				 "source (ALTER SYSTEM SET wal_level = logical, then restart it)", lvl);
	free(lvl);
	return ok ? 0 : -1;
}

static int pgf_check(const char *url, const char *password, char *note, size_t len, bderr *err)
{
	PGconn *c = NULL;
	if (pg_connect(url, password, NULL, "backupd check", &c, err) != 0)
		return -1;
	int rc = check_wal_level(c, note, len, err);
	PQfinish(c);
	return rc;
}

/*
 * Tables whose UPDATE/DELETE logical replication cannot carry (no primary
 * key nor replica identity index, or REPLICA IDENTITY NOTHING): listed;
 * with full, made REPLICA IDENTITY FULL (recorded to be put back).
 */
static int check_identity(PGconn *c, const follow_options *o, follow_state *state, bderr *err)
{
	PGresult *r = NULL;
	if (pg_query(c,
		     "SELECT format('%I.%I', n.nspname, c.relname), c.relreplident" PGF_TABLES
		     "  AND (c.relreplident = 'n' OR (c.relreplident = 'd' AND NOT EXISTS ("
		     "   SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary)))"
		     " ORDER BY 1",
		     "cannot list the tables without a replica identity", &r, err) != 0)
		return -1;
	int n = PQntuples(r);
	int rc = 0;
	if (n > 0 && !o->replica_identity_full) {
		strbuf b;
		strbuf_init(&b);
		for (int i = 0; i < n && i < 20; i++)
			strbuf_appendf(&b, "%s%s", i ? ", " : "", PQgetvalue(r, i, 0));
		bderr_usage(err, "%d table%s without a primary key or replica identity cannot be "
				 "followed (%s%s): add keys, or give --replica-identity-full",
			    n, plural_s(n), b.data, n > 20 ? ", ..." : "");
		strbuf_free(&b);
		PQclear(r);
		return -1;
	}
	strbuf done;
	strbuf_init(&done);
	for (int i = 0; i < n && rc == 0; i++) {
		char *sql = xasprintf("ALTER TABLE %s REPLICA IDENTITY FULL", PQgetvalue(r, i, 0));
		rc = pg_exec(c, sql, "source: cannot set REPLICA IDENTITY FULL", err);
		free(sql);
		if (rc == 0)
			strbuf_appendf(&done, "%s\t%s\n", PQgetvalue(r, i, 0),
				       PQgetvalue(r, i, 1)[0] == 'n' ? "NOTHING" : "DEFAULT");
	}
	if (n > 0) {
		/* recorded even on failure: abort puts back what was changed */
		follow_set(state, "pg_identity_full", done.data);
		if (rc == 0)
			log_info("migrate: %d table%s without a key set to REPLICA IDENTITY FULL", n,
				 plural_s(n));
	}
	strbuf_free(&done);
	PQclear(r);
	return rc;
}

static int create_publication(PGconn *c, const char *pub, bderr *err)
{
	PGresult *r = NULL;
	if (pg_query(c, "SELECT format('%I.%I', n.nspname, c.relname)" PGF_TABLES " ORDER BY 1",
		     "cannot list the tables to publish", &r, err) != 0)
		return -1;
	strbuf b;
	strbuf_init(&b);
	strbuf_appendf(&b, "CREATE PUBLICATION %s", pub);
	for (int i = 0; i < PQntuples(r); i++)
		strbuf_appendf(&b, "%s%s", i ? ", " : " FOR TABLE ", PQgetvalue(r, i, 0));
	PQclear(r);
	int rc = pg_exec(c, b.data, "source: cannot create the publication", err);
	strbuf_free(&b);
	return rc;
}

static int pgf_prepare(const follow_options *o, follow_state *state, void **handle, char **snapshot,
		       bderr *err)
{
	char name[64];
	object_name(o, name, sizeof name);
	PGconn *c = NULL;
	if (connect_source(o, &c, err) != 0) {
		PQfinish(c);
		return -1;
	}
	char note[128];
	int rc = -1;
	int lo = 0;
	char *ver = NULL, *md5 = NULL;
	PGconn *repl = NULL;
	PGresult *r = NULL;
	if (check_wal_level(c, note, sizeof note, err) != 0)
		goto out;
	char *has_lo = query_value(c, "SELECT EXISTS (SELECT 1 FROM pg_largeobject_metadata)::text", 0, NULL,
				   "cannot look for large objects", err);
	if (has_lo == NULL)
		goto out;
	lo = strcmp(has_lo, "true") == 0;
	free(has_lo);
	if (lo) {
		bderr_usage(err, "the source database has large objects, which logical replication does "
				 "not carry: migrate it without --follow (or move the large objects out first)");
		goto out;
	}
	if ((ver = query_value(c, "SELECT current_setting('server_version_num')", 0, NULL,
			       "cannot read the server version", err)) == NULL)
		goto out;
	if (atoi(ver) < 100000) {
		bderr_usage(err, "the source runs PostgreSQL %s: --follow needs 10 or newer", ver);
		goto out;
	}
	if (check_identity(c, o, state, err) != 0)
		goto out;
	if ((md5 = query_value(c, schema_md5_sql, 0, NULL, "cannot read the source's schema", err)) == NULL)
		goto out;
	follow_set(state, "pg_schema_md5", md5);
	char *qname = pg_quote_ident(c, name);
	rc = create_publication(c, qname, err);
	free(qname);
	if (rc != 0)
		goto out;
	rc = -1;
	follow_set(state, "pg_publication", name);
	if (follow_save(state, err) != 0)
		goto out;
	if (pg_connect_logical(o->from_url, o->from_password, "backupd migrate", &repl, err) != 0) {
		bderr_prefix(err, "source (replication connection: the role needs REPLICATION and "
				  "pg_hba.conf a line for the database)");
		goto out;
	}
	/* 15 took a parenthesized option list; the bare keyword is what 10..14 know */
	char *sql = xasprintf("CREATE_REPLICATION_SLOT %s LOGICAL pgoutput %s", name,
			      atoi(ver) >= 150000 ? "(SNAPSHOT 'export')" : "EXPORT_SNAPSHOT");
	r = PQexec(repl, sql);
	free(sql);
	if (r == NULL || PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		char m[512];
		const char *msg = r ? PQresultErrorMessage(r) : "";
		bderr_set(err, "source: cannot create replication slot %s: %.*s", name,
			  (int)strcspn(*msg ? msg : pg_errmsg(repl, m, sizeof m), "\n"),
			  *msg ? msg : pg_errmsg(repl, m, sizeof m));
		goto out;
	}
	follow_set(state, "pg_slot", name);
	follow_set(state, "pg_consistent_lsn", PQgetvalue(r, 0, 1));
	*snapshot = xstrdup(PQgetvalue(r, 0, 2));
	if (follow_save(state, err) != 0) {
		free(*snapshot);
		*snapshot = NULL;
		goto out;
	}
	log_info("migrate: slot %s created at %s; the copy reads its snapshot", name,
		 PQgetvalue(r, 0, 1));
	pg_follow_handle *h = xcalloc(1, sizeof *h);
	h->repl = repl;
	repl = NULL;
	*handle = h;
	rc = 0;
out:
	PQclear(r);
	PQfinish(repl);
	PQfinish(c);
	free(ver);
	free(md5);
	return rc;
}

static void pgf_release(void *handle)
{
	pg_follow_handle *h = handle;
	if (h == NULL)
		return;
	PQfinish(h->repl);
	free(h);
}

/* Inserts, updates and deletes the target's statistics count (rows applied = now - at start). */
static const char rows_sql[] =
	"SELECT COALESCE(sum(n_tup_ins + n_tup_upd + n_tup_del), 0)::bigint FROM pg_stat_user_tables";

/*
 * The connection string the subscription keeps (see the head comment);
 * caller frees it after explicit_bzero.  Without a password given, the one
 * libpq found for the source (.pgpass, PGPASSWORD) is the one the target
 * needs: PQpass says which it used.
 */
static int subscription_conninfo(const follow_options *o, char **out, bderr *err)
{
	const char *url = o->upstream_url ? o->upstream_url : o->from_url;
	char *conninfo = NULL, *penv = NULL;
	const char *pw = o->upstream_password ? o->upstream_password : o->from_password;
	if (pg_child_conninfo(url, pw, NULL, &conninfo, &penv, err) != 0)
		return -1;
	strbuf b;
	strbuf_init(&b);
	strbuf_appends(&b, conninfo);
	free(conninfo);
	if (o->upstream_passfile) {
		pg_conninfo_append(&b, "passfile", o->upstream_passfile);
	} else if (penv) {
		pg_conninfo_append(&b, "password", penv + strlen("PGPASSWORD="));
	} else {
		PGconn *c = NULL;
		if (pg_connect(o->from_url, NULL, NULL, "backupd migrate", &c, err) != 0) {
			explicit_bzero(b.data, b.len);
			strbuf_free(&b);
			return bderr_prefix(err, "source");
		}
		const char *found = PQpass(c);
		if (found && *found)
			pg_conninfo_append(&b, "password", found);
		PQfinish(c);
	}
	if (penv) {
		explicit_bzero(penv, strlen(penv));
		free(penv);
	}
	*out = strbuf_detach(&b);
	return 0;
}

static int pgf_start(void *handle, const follow_options *o, follow_state *state, bderr *err)
{
	pg_follow_handle *h = handle;
	/* the copy has imported the snapshot: the slot is free for the subscription */
	if (h) {
		PQfinish(h->repl);
		h->repl = NULL;
	}
	char name[64];
	object_name(o, name, sizeof name);
	PGconn *t = NULL;
	if (connect_target(o, &t, err) != 0) {
		PQfinish(t);
		return -1;
	}
	int rc = -1;
	char *conninfo = NULL, *lit = NULL, *qname = NULL, *ver = NULL, *rows = NULL;
	int exists = 0;
	if (pg_query_exists(t, "SELECT 1 FROM pg_subscription WHERE subname = $1", name,
			    "target: cannot look for the subscription", &exists, err) != 0)
		goto out;
	if (exists) { /* a start killed after CREATE SUBSCRIPTION: done already */
		rc = 0;
		goto saved;
	}
	if ((ver = query_value(t, "SELECT current_setting('server_version_num')", 0, NULL,
			       "target: cannot read the server version", err)) == NULL ||
	    (rows = query_value(t, rows_sql, 0, NULL, "target: cannot read statistics", err)) == NULL)
		goto out;
	follow_set_int(state, "pg_rows_base", atoll(rows));
	if (subscription_conninfo(o, &conninfo, err) != 0)
		goto out;
	lit = PQescapeLiteral(t, conninfo, strlen(conninfo));
	qname = pg_quote_ident(t, name);
	if (lit == NULL || qname == NULL) {
		bderr_set(err, "target: cannot quote the subscription's connection string");
		goto out;
	}
	/* the copy read the source's catalog after our publication was made: not the target's to keep */
	char *drop = xasprintf("DROP PUBLICATION IF EXISTS %s", qname);
	rc = pg_exec(t, drop, "target: cannot drop the copied publication", err);
	free(drop);
	if (rc != 0)
		goto out;
	rc = -1;
	/* 15+: an apply error (DDL on the source) disables the subscription instead of retrying forever */
	char *sql = xasprintf("CREATE SUBSCRIPTION %s CONNECTION %s PUBLICATION %s WITH ("
			      "create_slot = false, slot_name = '%s', copy_data = false, enabled = true%s)",
			      qname, lit, qname, name,
			      atoi(ver) >= 150000 ? ", disable_on_error = true" : "");
	rc = pg_exec(t, sql, "target: cannot create the subscription", err);
	explicit_bzero(sql, strlen(sql));
	free(sql);
	if (rc != 0) {
		/* a server message may quote the connection string */
		pg_mask_quoted(err->msg);
		goto out;
	}
saved:
	follow_set(state, "pg_subscription", name);
	follow_set(state, "phase", "following");
	rc = follow_save(state, err);
	if (rc == 0)
		log_info("migrate: subscription %s on the target follows the source", name);
out:
	if (lit) {
		explicit_bzero(lit, strlen(lit));
		PQfreemem(lit);
	}
	if (conninfo) {
		explicit_bzero(conninfo, strlen(conninfo));
		free(conninfo);
	}
	free(qname);
	free(ver);
	free(rows);
	PQfinish(t);
	return rc;
}

/* Lag of the slot in bytes (-1: no slot) and seconds (-1: unknown), active or not. */
static int slot_lag(PGconn *c, const char *slot, int64_t *bytes, double *secs, int *active,
		    bderr *err)
{
	const char *params[] = { slot };
	PGresult *r = NULL;
	if (pg_query_params(c,
			    "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), s.confirmed_flush_lsn)::bigint,"
			    " s.active, (SELECT EXTRACT(epoch FROM COALESCE(replay_lag, flush_lag, write_lag))"
			    "  FROM pg_stat_replication WHERE pid = s.active_pid)"
			    " FROM pg_replication_slots s WHERE s.slot_name = $1",
			    1, params, "source: cannot read the slot's position", &r, err) != 0)
		return -1;
	*bytes = -1;
	*secs = -1;
	*active = 0;
	if (PQntuples(r) == 1) {
		*bytes = PQgetisnull(r, 0, 0) ? -1 : atoll(PQgetvalue(r, 0, 0));
		*active = strcmp(PQgetvalue(r, 0, 1), "t") == 0;
		if (*bytes == 0)
			*secs = 0;
		else if (!PQgetisnull(r, 0, 2))
			*secs = atof(PQgetvalue(r, 0, 2));
	}
	PQclear(r);
	return 0;
}

/* Stops the subscription (DDL seen): the target keeps what it applied. */
static int disable_subscription(PGconn *t, const char *name, bderr *err)
{
	char *q = pg_quote_ident(t, name);
	char *sql = xasprintf("ALTER SUBSCRIPTION %s DISABLE", q);
	int rc = pg_exec(t, sql, "target: cannot disable the subscription", err);
	free(sql);
	free(q);
	return rc;
}

static int pgf_status(const follow_options *o, follow_state *state, follow_status *st, bderr *err)
{
	memset(st, 0, sizeof *st);
	st->lag_bytes = -1;
	st->lag_seconds = -1;
	st->rows_applied = -1;
	const char *phase = follow_get(state, "phase");
	snprintf(st->phase, sizeof st->phase, "%s", phase ? phase : "unknown");
	const char *note = follow_get(state, "note");
	snprintf(st->note, sizeof st->note, "%s", note ? note : "");
	if (phase == NULL || strcmp(phase, "done") == 0 || strcmp(phase, "aborted") == 0)
		return 0;
	const char *slot = follow_get(state, "pg_slot");
	const char *sub = follow_get(state, "pg_subscription");
	PGconn *c = NULL, *t = NULL;
	int rc = -1, active = 0;
	char *md5 = NULL, *rows = NULL;
	PGresult *r = NULL;
	if (connect_source(o, &c, err) != 0)
		goto out;
	if (slot && slot_lag(c, slot, &st->lag_bytes, &st->lag_seconds, &active, err) != 0)
		goto out;
	if ((md5 = query_value(c, schema_md5_sql, 0, NULL, "source: cannot read the schema", err)) == NULL)
		goto out;
	if (sub == NULL) { /* still copying */
		rc = 0;
		goto out;
	}
	if (connect_target(o, &t, err) != 0)
		goto out;
	const char *p[] = { sub };
	if (pg_query_params(t,
			    "SELECT s.subenabled, EXISTS (SELECT 1 FROM pg_stat_subscription w"
			    "  WHERE w.subid = s.oid AND w.pid IS NOT NULL)"
			    " FROM pg_subscription s WHERE s.subname = $1",
			    1, p, "target: cannot read the subscription", &r, err) != 0)
		goto out;
	int enabled = PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
	st->running = PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 1), "t") == 0;
	if ((rows = query_value(t, rows_sql, 0, NULL, "target: cannot read statistics", err)) == NULL)
		goto out;
	st->rows_applied = atoll(rows) - follow_get_int(state, "pg_rows_base", 0);
	if (st->rows_applied < 0)
		st->rows_applied = 0;
	const char *was = follow_get(state, "pg_schema_md5");
	if (strcmp(phase, "following") == 0 && was && strcmp(was, md5) != 0) {
		/* columns or tables changed on the source: what follows may not apply */
		if (enabled && disable_subscription(t, sub, err) != 0)
			goto out;
		follow_set(state, "phase", "stopped");
		follow_set(state, "note", "DDL on the source since the copy (tables or columns changed): "
					  "the follow is stopped; abort it and migrate again");
		if (follow_save(state, err) != 0)
			goto out;
		snprintf(st->phase, sizeof st->phase, "stopped");
		snprintf(st->note, sizeof st->note, "%s", follow_get(state, "note"));
		st->running = 0;
	} else if (strcmp(phase, "following") == 0 && !enabled) {
		snprintf(st->phase, sizeof st->phase, "stopped");
		snprintf(st->note, sizeof st->note,
			 "the target's subscription is disabled: an apply error (DDL on the source, a "
			 "conflict); see the target server's log, then abort and migrate again");
	}
	rc = 0;
out:
	PQclear(r);
	free(md5);
	free(rows);
	PQfinish(c);
	PQfinish(t);
	return rc;
}

/* Drops the subscription without touching the slot (dropped from the source side). */
static int drop_subscription(const follow_options *o, follow_state *state, bderr *err)
{
	const char *sub = follow_get(state, "pg_subscription");
	if (sub == NULL)
		return 0;
	PGconn *t = NULL;
	int rc = -1, exists = 0;
	if (connect_target(o, &t, err) != 0)
		goto out;
	if (pg_query_exists(t, "SELECT 1 FROM pg_subscription WHERE subname = $1", sub,
			    "target: cannot look for the subscription", &exists, err) != 0)
		goto out;
	if (exists) {
		char *q = pg_quote_ident(t, sub);
		char *sql = xasprintf("ALTER SUBSCRIPTION %s DISABLE; ALTER SUBSCRIPTION %s SET (slot_name = NONE); "
				      "DROP SUBSCRIPTION %s", q, q, q);
		rc = pg_exec(t, sql, "target: cannot drop the subscription", err);
		free(sql);
		free(q);
		if (rc != 0)
			goto out;
	}
	follow_set(state, "pg_subscription", NULL);
	rc = follow_save(state, err);
out:
	PQfinish(t);
	return rc;
}

/* The replica identities REPLICA IDENTITY FULL replaced ("table\tidentity" lines) put back. */
static int restore_identity(PGconn *c, const char *ids, bderr *err)
{
	char *copy = xstrdup(ids);
	int rc = 0;
	char *save = NULL;
	for (char *line = strtok_r(copy, "\n", &save); line && rc == 0; line = strtok_r(NULL, "\n", &save)) {
		char *tab = strchr(line, '\t');
		if (tab == NULL)
			continue;
		*tab = '\0';
		/* the table may be gone meanwhile: IF EXISTS */
		char *sql = xasprintf("ALTER TABLE IF EXISTS %s REPLICA IDENTITY %s", line, tab + 1);
		rc = pg_exec(c, sql, "cannot put the replica identity back", err);
		free(sql);
	}
	free(copy);
	return rc;
}

/* The cut-over's ALTER DATABASE ... SET default_transaction_read_only undone. */
static int reset_read_only(PGconn *c, follow_state *state, bderr *err)
{
	if (!follow_get_int(state, "pg_readonly", 0))
		return 0;
	char *db = query_value(c, "SELECT quote_ident(current_database())", 0, NULL,
			       "source: cannot name the database", err);
	if (db == NULL)
		return -1;
	char *sql = xasprintf("ALTER DATABASE %s RESET default_transaction_read_only", db);
	int rc = pg_exec(c, sql, "source: cannot make the database writable again", err);
	free(sql);
	free(db);
	if (rc != 0)
		return -1;
	follow_set_int(state, "pg_readonly", 0);
	return follow_save(state, err);
}

/* Slot (its walsender ended first), publication, replica identities, read-only: as before. */
static int clean_source(PGconn *c, follow_state *state, int reset_readonly, bderr *err)
{
	const char *slot = follow_get(state, "pg_slot");
	if (slot) {
		const char *p[] = { slot };
		for (int tries = 0;; tries++) {
			PGresult *r = NULL;
			if (pg_query_params(c,
					    "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots"
					    " WHERE slot_name = $1 AND active_pid IS NOT NULL",
					    1, p, "source: cannot end the slot's sender", &r, err) != 0)
				return -1;
			PQclear(r);
			r = PQexecParams(c,
					 "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots"
					 " WHERE slot_name = $1",
					 1, NULL, p, NULL, NULL, 0);
			int ok = r && PQresultStatus(r) == PGRES_TUPLES_OK;
			if (!ok && tries >= 50) {
				bderr_set(err, "source: cannot drop replication slot %s: %.*s", slot,
					  (int)strcspn(PQresultErrorMessage(r), "\n"), PQresultErrorMessage(r));
				PQclear(r);
				return -1;
			}
			PQclear(r);
			if (ok)
				break;
			follow_sleep_ms(100); /* still active: its sender is exiting */
		}
		follow_set(state, "pg_slot", NULL);
		if (follow_save(state, err) != 0)
			return -1;
	}
	const char *pub = follow_get(state, "pg_publication");
	if (pub) {
		char *q = pg_quote_ident(c, pub);
		char *sql = xasprintf("DROP PUBLICATION IF EXISTS %s", q);
		int rc = pg_exec(c, sql, "source: cannot drop the publication", err);
		free(sql);
		free(q);
		if (rc != 0)
			return -1;
		follow_set(state, "pg_publication", NULL);
		if (follow_save(state, err) != 0)
			return -1;
	}
	const char *ids = follow_get(state, "pg_identity_full");
	if (ids && *ids) {
		if (restore_identity(c, ids, err) != 0)
			return bderr_prefix(err, "source");
		follow_set(state, "pg_identity_full", NULL);
		if (follow_save(state, err) != 0)
			return -1;
	}
	return reset_readonly ? reset_read_only(c, state, err) : 0;
}

static int pgf_abort(const follow_options *o, follow_state *state, bderr *err)
{
	if (drop_subscription(o, state, err) != 0)
		return -1;
	PGconn *c = NULL;
	int rc = -1;
	if (connect_source(o, &c, err) == 0 && clean_source(c, state, 1, err) == 0) {
		follow_set(state, "phase", "aborted");
		rc = follow_save(state, err);
	}
	PQfinish(c);
	return rc;
}

/* Waits until the slot's lag is at most max (0: every change up to the current position). */
static int wait_lag(PGconn *c, const char *slot, int64_t max, int timeout, bderr *err)
{
	time_t end = time(NULL) + timeout;
	for (;;) {
		int64_t bytes;
		double secs;
		int active;
		if (slot_lag(c, slot, &bytes, &secs, &active, err) != 0)
			return -1;
		if (bytes < 0)
			return bderr_set(err, "source: replication slot %s is gone", slot);
		if (bytes <= max)
			return 0;
		if (time(NULL) >= end)
			return bderr_set(err, "the target is still %lld bytes behind after %d s%s",
					 (long long)bytes, timeout,
					 active ? "" : " (nothing streams from the slot: is the subscription running?)");
		follow_sleep_ms(100);
	}
}

/* Waits until the slot has confirmed lsn (the subscription applied and flushed everything before it). */
static int wait_lsn(PGconn *c, const char *slot, const char *lsn, int timeout, bderr *err)
{
	time_t end = time(NULL) + timeout;
	const char *p[] = { slot, lsn };
	for (;;) {
		PGresult *r = NULL;
		if (pg_query_params(c,
				    "SELECT pg_wal_lsn_diff($2::pg_lsn, confirmed_flush_lsn)::bigint"
				    " FROM pg_replication_slots WHERE slot_name = $1",
				    2, p, "source: cannot read the slot's position", &r, err) != 0)
			return -1;
		int gone = PQntuples(r) == 0;
		int known = !gone && !PQgetisnull(r, 0, 0);
		long long behind = known ? atoll(PQgetvalue(r, 0, 0)) : 0;
		PQclear(r);
		if (gone)
			return bderr_set(err, "source: replication slot %s is gone", slot);
		if (known && behind <= 0)
			return 0;
		if (time(NULL) >= end)
			return bderr_set(err, "the target has not applied the source's last changes after %d s "
					      "(%lld bytes behind)", timeout, behind);
		follow_sleep_ms(50);
	}
}

/*
 * Read-only for new transactions, then the sessions that were open before
 * end: those without a transaction in progress at once (nothing is lost),
 * the rest once the grace period is over.
 */
static int make_read_only(PGconn *c, follow_state *state, int grace, bderr *err)
{
	char *db = query_value(c, "SELECT quote_ident(current_database())", 0, NULL,
			       "source: cannot name the database", err);
	if (db == NULL)
		return -1;
	char *sql = xasprintf("ALTER DATABASE %s SET default_transaction_read_only = on", db);
	follow_set_int(state, "pg_readonly", 1);
	int rc = follow_save(state, err);
	if (rc == 0)
		rc = pg_exec(c, sql, "source: cannot make the database read-only", err);
	free(sql);
	free(db);
	if (rc != 0)
		return -1;
	char *since = query_value(c, "SELECT now()::text", 0, NULL, "source: clock", err);
	if (since == NULL)
		return -1;
	log_info("migrate: source read-only for new transactions; ending its sessions");
	const char *p[] = { since, "0" };
	time_t end = time(NULL) + grace;
	for (;;) {
		p[1] = time(NULL) >= end ? "1" : "0";
		PGresult *r = NULL;
		/* backends that started before the ALTER still write; those after it read its setting */
		if (pg_query_params(c,
				    "SELECT count(*) FILTER (WHERE NOT pg_terminate_backend(pid)),"
				    " (SELECT count(*) FROM pg_stat_activity a2 WHERE a2.datname = current_database()"
				    "  AND a2.pid <> pg_backend_pid() AND a2.backend_type = 'client backend'"
				    "  AND a2.backend_start < $1::timestamptz)"
				    " FROM pg_stat_activity WHERE datname = current_database()"
				    "  AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
				    "  AND backend_start < $1::timestamptz"
				    "  AND ($2::bool OR state = 'idle')",
				    2, p, "source: cannot end the sessions", &r, err) != 0) {
			free(since);
			return -1;
		}
		long left = atol(PQgetvalue(r, 0, 1));
		PQclear(r);
		if (left == 0)
			break;
		if (p[1][0] == '1') {
			follow_sleep_ms(50); /* terminated: wait until they are gone */
			if (time(NULL) >= end + 10) {
				free(since);
				return bderr_set(err, "source: %ld sessions did not end", left);
			}
			continue;
		}
		follow_sleep_ms(20);
	}
	free(since);
	return 0;
}

/* Sequence values from the source (writes have stopped) onto the target. */
static int copy_sequences(PGconn *c, PGconn *t, bderr *err)
{
	PGresult *r = NULL;
	if (pg_query(c,
		     "SELECT format('%I.%I', schemaname, sequencename), last_value::text FROM pg_sequences"
		     " WHERE last_value IS NOT NULL",
		     "source: cannot read the sequences", &r, err) != 0)
		return -1;
	int rc = 0;
	for (int i = 0; i < PQntuples(r) && rc == 0; i++) {
		const char *p[] = { PQgetvalue(r, i, 0), PQgetvalue(r, i, 1) };
		PGresult *s = NULL;
		rc = pg_query_params(t, "SELECT pg_catalog.setval($1::regclass, $2::bigint, true)", 2, p,
				     "target: cannot set a sequence", &s, err);
		PQclear(s);
		if (rc != 0)
			bderr_prefix(err, "sequence %s", PQgetvalue(r, i, 0));
	}
	PQclear(r);
	return rc;
}

static void drop_sequences(digest_set *d)
{
	for (size_t i = 0; i < d->n_sequences; i++) {
		free(d->sequences[i].schema);
		free(d->sequences[i].name);
		free(d->sequences[i].value);
	}
	d->n_sequences = 0;
}

/*
 * The digest (engines/digest.h: per table rows and checksum, objects,
 * sequences) of both sides once writes have stopped and the target has
 * applied everything; without sequences when the application may be using
 * the target already (t then reads a snapshot taken at the switch).
 */
static int verify_digests(PGconn *c, PGconn *t, int sequences, bderr *err)
{
	digest_set *src = NULL, *dst = NULL;
	int rc = -1;
	if (pg_digest_compute(c, NULL, &src, err) != 0) {
		bderr_prefix(err, "source");
	} else if (pg_digest_compute(t, src, &dst, err) != 0) {
		bderr_prefix(err, "target");
	} else {
		if (!sequences) {
			drop_sequences(src);
			drop_sequences(dst);
		}
		if (digest_compare(src, dst, DIGEST_COMPARE_EXTRA, err) != 0)
			bderr_prefix(err, "the target differs from the source");
		else
			rc = 0;
	}
	if (rc == 0)
		log_info("migrate: verified: %zu tables (rows and checksums), %zu kinds of objects%s match",
			 src->n_tables, src->n_kinds, sequences ? ", the sequences" : "");
	digest_set_free(src);
	digest_set_free(dst);
	return rc;
}

/* Only the sequences (cheap: before a switch that verifies the tables after it). */
static int verify_sequences(PGconn *c, PGconn *t, bderr *err)
{
	digest_set *a = digest_set_new(), *b = digest_set_new();
	int rc = -1;
	if (pg_digest_sequences(c, a, err) != 0) {
		bderr_prefix(err, "source");
	} else if (pg_digest_sequences(t, b, err) != 0) {
		bderr_prefix(err, "target");
	} else {
		digest_set_sort(a);
		digest_set_sort(b);
		rc = digest_compare(a, b, DIGEST_COMPARE_EXTRA, err);
		if (rc != 0)
			bderr_prefix(err, "the target's sequences differ from the source's");
	}
	digest_set_free(a);
	digest_set_free(b);
	return rc;
}

/* The application stays on the source: writable again, and the error says so. */
static void back_to_source(PGconn *c, follow_state *state, bderr *err)
{
	bderr e2;
	bderr_init(&e2);
	if (reset_read_only(c, state, &e2) != 0)
		log_error("%s", e2.msg);
	bderr_prefix(err, "cut-over stopped, the source is writable again");
}

static int pgf_cutover(const follow_options *o, follow_state *state, const follow_cutover_options *co,
		       bderr *err)
{
	int ph = follow_cutover_phase(state, o->name, err);
	if (ph != 0)
		return ph > 0 ? 0 : -1;
	const char *phase = follow_get(state, "phase");
	follow_status st;
	if (strcmp(phase, "following") == 0) {
		if (pgf_status(o, state, &st, err) != 0)
			return -1;
		if (strcmp(st.phase, "following") != 0)
			return bderr_set(err, "migration %s is %s: %s", o->name, st.phase, st.note);
	}
	const char *slot = follow_get(state, "pg_slot");
	PGconn *c = NULL, *t = NULL;
	int rc = -1;
	if (connect_source(o, &c, err) != 0 || connect_target(o, &t, err) != 0)
		goto out;
	/* a cut-over killed after dropping the subscription had caught up and verified already */
	if (slot && follow_get(state, "pg_subscription")) {
		if (!follow_get_int(state, "pg_readonly", 0) &&
		    wait_lag(c, slot, co->max_lag_bytes, co->timeout_seconds, err) != 0)
			goto out;
		follow_set(state, "phase", "cutover");
		if (follow_save(state, err) != 0 || make_read_only(c, state, co->grace_seconds, err) != 0)
			goto out;
		char *lsn = query_value(c, "SELECT pg_current_wal_lsn()::text", 0, NULL,
					"source: cannot read the WAL position", err);
		if (lsn == NULL || wait_lsn(c, slot, lsn, co->timeout_seconds, err) != 0) {
			free(lsn);
			/* do not leave the application without a writable database */
			bderr e2;
			bderr_init(&e2);
			follow_set(state, "phase", "following");
			if (reset_read_only(c, state, &e2) != 0)
				log_error("%s", e2.msg);
			bderr_prefix(err, "cut-over abandoned, the source is writable again");
			goto out;
		}
		free(lsn);
		log_info("migrate: the target has applied every change");
	}
	if (copy_sequences(c, t, err) != 0)
		goto out;
	if (co->verify_after ? verify_sequences(c, t, err) != 0 : verify_digests(c, t, 1, err) != 0) {
		back_to_source(c, state, err);
		goto out;
	}
	/* the copy carried the source's temporary REPLICA IDENTITY FULL */
	const char *ids = follow_get(state, "pg_identity_full");
	if (ids && *ids && restore_identity(t, ids, err) != 0) {
		bderr_prefix(err, "target");
		goto out;
	}
	/* verify_after: the target as it is at the switch, read after it */
	if (co->verify_after && pg_exec(t, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; SELECT 1",
					"target: cannot take a snapshot", err) != 0)
		goto out;
	if (drop_subscription(o, state, err) != 0 || clean_source(c, state, 0, err) != 0)
		goto out;
	follow_set(state, "phase", co->verify_after ? "verifying" : "done");
	if (follow_save(state, err) != 0)
		goto out;
	if (co->switched)
		co->switched(co->arg);
	if (co->verify_after && verify_digests(c, t, 0, err) != 0) {
		follow_record_differs(state, err);
		goto out;
	}
	follow_set(state, "phase", "done");
	rc = follow_save(state, err);
out:
	PQfinish(c);
	PQfinish(t);
	return rc;
}

const engine_follow_ops pg_follow_ops = {
	.check = pgf_check,
	.prepare = pgf_prepare,
	.start = pgf_start,
	.release = pgf_release,
	.status = pgf_status,
	.cutover = pgf_cutover,
	.abort = pgf_abort,
};
