/*
 * MySQL/MariaDB follow: the target becomes a replica of the source from the
 * copy's exact binlog position, limited to the migrated databases.
 *
 * One named replication connection per follow (MariaDB multi-source:
 * CHANGE MASTER 'backupd_NAME'; MySQL: FOR CHANNEL 'backupd_NAME'), so a
 * target that already replicates from elsewhere keeps doing so.  Its
 * filters are per connection: replicate_wild_do_table = 'db.%' for every
 * migrated database (wild, so statements issued from another default
 * database are still applied or skipped by the table they touch), and
 * replicate_rewrite_db when the target database has another name (the
 * filters are tested after the rewrite, so they name the target's).  The
 * position is the binlog file and offset the copy's snapshot was taken at
 * (MASTER_USE_GTID = no): it names the snapshot exactly whatever the GTID
 * settings of either side; the GTID is kept in the state for reference.
 *
 * The replication password is given with CHANGE MASTER and kept by the
 * target server in its master info file (readable by the server's OS user
 * only), as every MySQL/MariaDB replica keeps it; it is never printed or
 * logged here, and RESET SLAVE ALL at cut-over or abort removes it.
 *
 * Tested on MariaDB 10.11; the MySQL 8 statements (FOR CHANNEL, CHANGE
 * REPLICATION FILTER) are written from the manual and untested here.
 */
#include "engines/mysql/mysql_follow.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/secret.h"
#include "engines/digest.h"
#include "engines/mysql/my_digest.h"
#include "engines/mysql/myconn.h"
#include "engines/mysql/mysql_migrate.h"

static void conn_name(const follow_options *o, char *buf, size_t len)
{
	snprintf(buf, len, "backupd_%s", o->name);
}

static int connect_url(const char *url, const char *password, MYSQL **c, const char *side,
		       bderr *err)
{
	my_uri u;
	if (my_uri_parse(url, &u, err) != 0)
		return bderr_prefix(err, "%s", side);
	/* raw bytes both ways: the digests compare what is stored */
	int rc = my_connect(&u, password, NULL, MY_NAMES_BINARY, 0, c, err);
	my_uri_clear(&u);
	return rc == 0 ? 0 : bderr_prefix(err, "%s", side);
}

/* "'backupd_N'" after SLAVE (MariaDB) or " FOR CHANNEL 'backupd_N'" at the end (MySQL). */
static char *stmt(MYSQL *c, const char *verb_before, const char *verb_after, const char *name)
{
	if (my_is_mariadb(c))
		return xasprintf("%s '%s'%s", verb_before, name, verb_after);
	return xasprintf("%s%s FOR CHANNEL '%s'", verb_before, verb_after, name);
}

static int run_stmt(MYSQL *c, const char *before, const char *after, const char *name,
		    const char *what, bderr *err)
{
	char *sql = stmt(c, before, after, name);
	int rc = my_exec(c, sql, what, err);
	free(sql);
	return rc;
}

static int myf_check(const char *url, const char *password, char *note, size_t len, bderr *err)
{
	MYSQL *c = NULL;
	if (connect_url(url, password, &c, "source", err) != 0)
		return -1;
	char *bin = NULL, *fmt = NULL, *id = NULL;
	int rc = -1;
	if (my_query_value(c, "SELECT @@log_bin", "cannot read log_bin", &bin, err) == 0 &&
	    my_query_value(c, "SELECT @@binlog_format", "cannot read binlog_format", &fmt, err) == 0 &&
	    my_query_value(c, "SELECT @@server_id", "cannot read server_id", &id, err) == 0) {
		if (bin == NULL || strcmp(bin, "1") != 0)
			bderr_usage(err, "the binary log is off: migrate --follow needs log_bin (and a "
					 "server_id) on the source");
		else if (id == NULL || strcmp(id, "0") == 0)
			bderr_usage(err, "server_id is 0: migrate --follow needs a server_id on the source");
		else {
			snprintf(note, len, "can be followed: binary log on, format %s", fmt ? fmt : "?");
			rc = 0;
		}
	}
	free(bin);
	free(fmt);
	free(id);
	my_close(c);
	return rc;
}

/* The PostgreSQL-only options of --follow (logical replication's). */
static int myf_options_check(const follow_options *o, bderr *err)
{
	if (o->replica_identity_full)
		return bderr_usage(err, "--replica-identity-full applies to PostgreSQL sources only (MySQL/MariaDB replication needs no replica identity)");
	if (o->upstream_passfile)
		return bderr_usage(err, "--upstream-passfile applies to PostgreSQL sources only: give MySQL/MariaDB the replication password with --upstream-password-file");
	/*
	 * CHANGE MASTER is given no MASTER_SSL options (a CA path would have to
	 * exist on the target's host, and no TLS server is here to test it), so
	 * the replication connection would carry the password and the rows in
	 * clear: a source that asks for TLS is refused rather than downgraded.
	 */
	const char *url = o->upstream_url ? o->upstream_url : o->from_url;
	my_uri u;
	memset(&u, 0, sizeof u);
	if (url == NULL)
		return 0;
	if (my_uri_parse(url, &u, err) != 0)
		return -1;
	int tls = u.ssl_mode == MY_SSL_REQUIRED || u.ssl_mode == MY_SSL_VERIFY_CA ||
		  u.ssl_mode == MY_SSL_VERIFY_IDENTITY || u.ssl_ca || u.ssl_cert;
	my_uri_clear(&u);
	if (tls)
		return bderr_usage(err, "--follow: the %s asks for TLS (ssl-mode, ssl-ca or ssl-cert), which the target's "
					"replication connection does not use yet: migrate without --follow",
				   o->upstream_url ? "--upstream URI" : "source URI");
	return 0;
}

static int myf_prepare(const follow_options *o, follow_state *state, void **handle, char **snapshot,
		       bderr *err)
{
	*handle = NULL;
	*snapshot = NULL; /* the copy takes its own snapshot and hands over its position */
	char note[128];
	if (myf_check(o->from_url, o->from_password, note, sizeof note, err) != 0)
		return -1;
	follow_set(state, "phase", "copying");
	return follow_save(state, err);
}

static int myf_copied(void *handle, void *session, const follow_options *o, follow_state *state,
		      bderr *err)
{
	(void)handle;
	(void)o;
	const json_t *pos = mysql_migrate_binlog(session);
	const json_t *gtid = mysql_migrate_gtid(session);
	if (!json_is_object(pos))
		return bderr_set(err, "the source recorded no binlog position for the copy: cannot follow");
	follow_set(state, "my_binlog_file", json_string_value(json_object_get(pos, "file")));
	follow_set_int(state, "my_binlog_pos", (int64_t)json_integer_value(json_object_get(pos, "position")));
	if (json_is_string(gtid))
		follow_set(state, "my_gtid", json_string_value(gtid));
	strbuf b;
	strbuf_init(&b);
	for (size_t i = 0; i < mysql_migrate_n_dbs(session); i++) {
		const char *src = NULL;
		const char *dst = mysql_migrate_db(session, i, &src);
		strbuf_appendf(&b, "%s\t%s\n", src ? src : dst, dst);
	}
	follow_set(state, "my_dbs", b.data);
	strbuf_free(&b);
	return follow_save(state, err);
}

/* The migrated databases: src[i] on the source is dst[i] on the target. */
typedef struct db_pairs {
	char **src, **dst;
	size_t n;
	char *buf;
} db_pairs;

static void db_pairs_read(const follow_state *state, db_pairs *p)
{
	memset(p, 0, sizeof *p);
	const char *text = follow_get(state, "my_dbs");
	p->buf = xstrdup(text ? text : "");
	char *save = NULL;
	for (char *line = strtok_r(p->buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *tab = strchr(line, '\t');
		if (tab == NULL)
			continue;
		*tab = '\0';
		p->src = xrealloc(p->src, (p->n + 1) * sizeof *p->src);
		p->dst = xrealloc(p->dst, (p->n + 1) * sizeof *p->dst);
		p->src[p->n] = line;
		p->dst[p->n++] = tab + 1;
	}
}

static void db_pairs_free(db_pairs *p)
{
	free(p->src);
	free(p->dst);
	free(p->buf);
}

/* 'value' for a statement (caller frees). */
static char *lit(MYSQL *c, const char *v)
{
	return my_quote_literal(c, v ? v : "");
}

/* The replication filters of the connection: only the migrated databases, renamed where they are. */
static int set_filters(MYSQL *t, const char *name, const db_pairs *p, bderr *err)
{
	strbuf wild, rewrite;
	strbuf_init(&wild);
	strbuf_init(&rewrite);
	for (size_t i = 0; i < p->n; i++) {
		/* the filters see database names after the rewrite */
		strbuf_appendf(&wild, "%s%s.%%", i ? "," : "", p->dst[i]);
		if (strcmp(p->src[i], p->dst[i]) != 0)
			strbuf_appendf(&rewrite, "%s%s->%s", rewrite.len ? "," : "", p->src[i], p->dst[i]);
	}
	int rc = 0;
	if (my_is_mariadb(t)) {
		char *w = lit(t, wild.data), *r = lit(t, rewrite.data), *n = lit(t, name);
		char *sql = xasprintf("SET @@default_master_connection = %s", n);
		rc = my_exec(t, sql, "target: cannot select the replication connection", err);
		free(sql);
		if (rc == 0) {
			sql = xasprintf("SET GLOBAL replicate_wild_do_table = %s", w);
			rc = my_exec(t, sql, "target: cannot limit replication to the migrated databases", err);
			free(sql);
		}
		if (rc == 0 && rewrite.len) {
			sql = xasprintf("SET GLOBAL replicate_rewrite_db = %s", r);
			rc = my_exec(t, sql, "target: cannot map the renamed databases", err);
			free(sql);
		}
		if (rc == 0)
			rc = my_exec(t, "SET @@default_master_connection = ''",
				     "target: cannot reset the default connection", err);
		free(w);
		free(r);
		free(n);
	} else {
		strbuf s;
		strbuf_init(&s);
		strbuf_appends(&s, "CHANGE REPLICATION FILTER REPLICATE_WILD_DO_TABLE = (");
		for (size_t i = 0; i < p->n; i++) {
			char *pat = xasprintf("%s.%%", p->dst[i]);
			char *q = lit(t, pat);
			strbuf_appendf(&s, "%s%s", i ? ", " : "", q);
			free(q);
			free(pat);
		}
		strbuf_appends(&s, ")");
		if (rewrite.len) {
			strbuf_appends(&s, ", REPLICATE_REWRITE_DB = (");
			int k = 0;
			for (size_t i = 0; i < p->n; i++) {
				if (strcmp(p->src[i], p->dst[i]) == 0)
					continue;
				strbuf_appendf(&s, "%s(%s, %s)", k++ ? ", " : "", p->src[i], p->dst[i]);
			}
			strbuf_appends(&s, ")");
		}
		strbuf_appendf(&s, " FOR CHANNEL '%s'", name);
		rc = my_exec(t, s.data, "target: cannot limit replication to the migrated databases", err);
		strbuf_free(&s);
	}
	strbuf_free(&wild);
	strbuf_free(&rewrite);
	return rc;
}

static int myf_start(void *handle, const follow_options *o, follow_state *state, bderr *err)
{
	(void)handle;
	char name[64];
	conn_name(o, name, sizeof name);
	const char *file = follow_get(state, "my_binlog_file");
	if (file == NULL)
		return bderr_set(err, "no binlog position recorded for migration %s", o->name);
	MYSQL *s = NULL, *t = NULL;
	my_uri up;
	memset(&up, 0, sizeof up);
	db_pairs p;
	db_pairs_read(state, &p);
	char *sid = NULL, *tid = NULL, *sql = NULL;
	int rc = -1;
	if (connect_url(o->from_url, o->from_password, &s, "source", err) != 0 ||
	    connect_url(o->to_url, o->to_password, &t, "target", err) != 0)
		goto out;
	if (my_query_value(s, "SELECT @@server_id", "source: cannot read server_id", &sid, err) != 0 ||
	    my_query_value(t, "SELECT @@server_id", "target: cannot read server_id", &tid, err) != 0)
		goto out;
	if (sid && tid && strcmp(sid, tid) == 0) {
		bderr_usage(err, "the target's server_id is the source's (%s): a replica skips the events "
				 "of its own server_id; give the target another server_id", sid);
		goto out;
	}
	if (my_uri_parse(o->upstream_url ? o->upstream_url : o->from_url, &up, err) != 0)
		goto out;
	const char *pw = o->upstream_password ? o->upstream_password
			 : up.password		? up.password
			 : o->from_password	? o->from_password
						: getenv("MYSQL_PWD");
	char *qhost = lit(t, up.host ? up.host : "localhost"), *quser = lit(t, up.user ? up.user : "root");
	char *qpw = lit(t, pw ? pw : ""), *qfile = lit(t, file);
	char *opts = xasprintf(" TO MASTER_HOST = %s, MASTER_PORT = %u, MASTER_USER = %s, MASTER_PASSWORD = %s, "
			       "MASTER_LOG_FILE = %s, MASTER_LOG_POS = %lld%s",
			       qhost, up.port ? up.port : 3306, quser, qpw, qfile,
			       (long long)follow_get_int(state, "my_binlog_pos", 4),
			       my_is_mariadb(t) ? ", MASTER_USE_GTID = no" : "");
	sql = stmt(t, "CHANGE MASTER", opts, name);
	explicit_bzero(opts, strlen(opts));
	explicit_bzero(qpw, strlen(qpw));
	free(opts);
	free(qhost);
	free(quser);
	free(qpw);
	free(qfile);
	if (my_exec(t, sql, "target: cannot set up replication", err) != 0) {
		/* a syntax error quotes the statement */
		secret_scrub(err->msg, pw);
		goto out;
	}
	follow_set(state, "my_connection", name);
	if (follow_save(state, err) != 0 || set_filters(t, name, &p, err) != 0 ||
	    run_stmt(t, "START SLAVE", "", name, "target: cannot start replication", err) != 0)
		goto out;
	follow_set(state, "phase", "following");
	rc = follow_save(state, err);
	if (rc == 0)
		log_info("migrate: the target replicates from the source's %s:%lld (connection %s)", file,
			 (long long)follow_get_int(state, "my_binlog_pos", 4), name);
out:
	if (sql) {
		explicit_bzero(sql, strlen(sql));
		free(sql);
	}
	free(sid);
	free(tid);
	my_uri_clear(&up);
	db_pairs_free(&p);
	my_close(s);
	my_close(t);
	return rc;
}

static void myf_release(void *handle)
{
	(void)handle;
}

typedef struct slave_row {
	int found;
	int io, sql;      /* threads running */
	long long behind; /* Seconds_Behind_Master, -1 NULL */
	char exec_file[256];
	long long exec_pos;
	char error[384];
} slave_row;

static const char *field(MYSQL_RES *r, MYSQL_ROW row, const char *name)
{
	unsigned nf = mysql_num_fields(r);
	MYSQL_FIELD *f = mysql_fetch_fields(r);
	for (unsigned i = 0; i < nf; i++)
		if (strcmp(f[i].name, name) == 0)
			return row[i];
	return NULL;
}

static int slave_status(MYSQL *t, const char *name, slave_row *s, bderr *err)
{
	memset(s, 0, sizeof *s);
	s->behind = -1;
	char *sql = my_is_mariadb(t) ? xasprintf("SHOW SLAVE '%s' STATUS", name)
				  : xasprintf("SHOW SLAVE STATUS FOR CHANNEL '%s'", name);
	MYSQL_RES *r = NULL;
	int rc = my_query(t, sql, "target: cannot read the replication status", &r, err);
	free(sql);
	if (rc != 0) {
		/* MariaDB: no such connection (1617) is "not set up", not a failure */
		if (mysql_errno(t) == 1617) {
			bderr_init(err);
			return 0;
		}
		return -1;
	}
	MYSQL_ROW row = mysql_fetch_row(r);
	if (row) {
		const char *v;
		s->found = 1;
		s->io = (v = field(r, row, "Slave_IO_Running")) && strcmp(v, "Yes") == 0;
		s->sql = (v = field(r, row, "Slave_SQL_Running")) && strcmp(v, "Yes") == 0;
		v = field(r, row, "Seconds_Behind_Master");
		s->behind = v ? atoll(v) : -1;
		v = field(r, row, "Relay_Master_Log_File");
		snprintf(s->exec_file, sizeof s->exec_file, "%s", v ? v : "");
		v = field(r, row, "Exec_Master_Log_Pos");
		s->exec_pos = v ? atoll(v) : 0;
		const char *e1 = field(r, row, "Last_SQL_Error"), *e2 = field(r, row, "Last_IO_Error");
		snprintf(s->error, sizeof s->error, "%s", e1 && *e1 ? e1 : e2 && *e2 ? e2 : "");
	}
	mysql_free_result(r);
	return 0;
}

/* Bytes of binlog between file:pos and the source's end (-1 unknown). */
static int binlog_behind(MYSQL *s, const char *file, long long pos, long long *bytes, bderr *err)
{
	MYSQL_RES *r = NULL;
	*bytes = -1;
	if (my_query(s, "SHOW BINARY LOGS", "source: cannot list the binary logs", &r, err) != 0)
		return -1;
	long long sum = 0;
	int seen = 0;
	MYSQL_ROW row;
	while ((row = mysql_fetch_row(r)) != NULL) {
		long long size = row[1] ? atoll(row[1]) : 0;
		if (!seen && strcmp(row[0], file) == 0) {
			seen = 1;
			sum += size - pos;
		} else if (seen) {
			sum += size;
		}
	}
	mysql_free_result(r);
	if (seen)
		*bytes = sum < 0 ? 0 : sum;
	return 0;
}

static int myf_status(const follow_options *o, follow_state *state, follow_status *st, bderr *err)
{
	memset(st, 0, sizeof *st);
	st->lag_bytes = -1;
	st->lag_seconds = -1;
	st->rows_applied = -1; /* a replica does not count the rows it applies */
	const char *phase = follow_get(state, "phase");
	snprintf(st->phase, sizeof st->phase, "%s", phase ? phase : "unknown");
	const char *name = follow_get(state, "my_connection");
	if (name == NULL || strcmp(st->phase, "done") == 0 || strcmp(st->phase, "aborted") == 0)
		return 0;
	MYSQL *s = NULL, *t = NULL;
	int rc = -1;
	slave_row sr;
	if (connect_url(o->from_url, o->from_password, &s, "source", err) != 0 ||
	    connect_url(o->to_url, o->to_password, &t, "target", err) != 0 ||
	    slave_status(t, name, &sr, err) != 0)
		goto out;
	if (!sr.found) {
		snprintf(st->phase, sizeof st->phase, "stopped");
		snprintf(st->note, sizeof st->note, "the target has no replication connection %s", name);
		rc = 0;
		goto out;
	}
	st->running = sr.io && sr.sql;
	st->lag_seconds = sr.behind >= 0 ? (double)sr.behind : -1;
	long long bytes = -1;
	if (binlog_behind(s, sr.exec_file, sr.exec_pos, &bytes, err) != 0)
		goto out;
	st->lag_bytes = bytes;
	if (!st->running && strcmp(st->phase, "following") == 0) {
		snprintf(st->phase, sizeof st->phase, "stopped");
		snprintf(st->note, sizeof st->note, "replication stopped on the target%s%s",
			 sr.error[0] ? ": " : "", sr.error);
	}
	rc = 0;
out:
	my_close(s);
	my_close(t);
	return rc;
}

/* STOP SLAVE, filters cleared, RESET SLAVE ALL: the target is no replica of ours any more. */
static int remove_replica(const follow_options *o, follow_state *state, bderr *err)
{
	const char *name = follow_get(state, "my_connection");
	if (name == NULL)
		return 0;
	MYSQL *t = NULL;
	slave_row sr;
	int rc = -1;
	if (connect_url(o->to_url, o->to_password, &t, "target", err) != 0 ||
	    slave_status(t, name, &sr, err) != 0)
		goto out;
	if (sr.found && (run_stmt(t, "STOP SLAVE", "", name, "target: cannot stop replication", err) != 0 ||
			 run_stmt(t, "RESET SLAVE", " ALL", name, "target: cannot remove replication", err) != 0))
		goto out;
	follow_set(state, "my_connection", NULL);
	rc = follow_save(state, err);
out:
	my_close(t);
	return rc;
}

static int set_read_only(MYSQL *s, follow_state *state, int on, bderr *err)
{
	if (!on && !follow_get_int(state, "my_readonly", 0))
		return 0;
	if (on) {
		follow_set_int(state, "my_readonly", 1);
		if (follow_save(state, err) != 0)
			return -1;
	}
	if (my_exec(s, on ? "SET GLOBAL read_only = ON" : "SET GLOBAL read_only = OFF",
		    on ? "source: cannot make the server read-only" : "source: cannot make the server writable again",
		    err) != 0)
		return -1;
	if (!on) {
		follow_set_int(state, "my_readonly", 0);
		return follow_save(state, err);
	}
	return 0;
}

static int myf_abort(const follow_options *o, follow_state *state, bderr *err)
{
	if (remove_replica(o, state, err) != 0)
		return -1;
	MYSQL *s = NULL;
	int rc = -1;
	if (follow_get_int(state, "my_readonly", 0) &&
	    (connect_url(o->from_url, o->from_password, &s, "source", err) != 0 ||
	     set_read_only(s, state, 0, err) != 0))
		goto out;
	follow_set(state, "phase", "aborted");
	rc = follow_save(state, err);
out:
	my_close(s);
	return rc;
}

/*
 * read_only stops writes of every session at once (but waits for the
 * transactions holding locks): with lock_wait_timeout = grace, sessions
 * still in a write transaction after the grace period are ended and it is
 * tried again.
 */
static int make_read_only(MYSQL *s, follow_state *state, int grace, bderr *err)
{
	char *sql = xasprintf("SET SESSION lock_wait_timeout = %d", grace > 0 ? grace : 1);
	int rc = my_exec(s, sql, "source: cannot set lock_wait_timeout", err);
	free(sql);
	for (int tries = 0; rc == 0; tries++) {
		rc = set_read_only(s, state, 1, err);
		if (rc == 0 || tries >= 3)
			break;
		log_info("migrate: sessions still writing after %d s: ending them", grace);
		MYSQL_RES *r = NULL;
		bderr_init(err);
		rc = my_query(s, "SELECT trx_mysql_thread_id FROM information_schema.innodb_trx"
				 " WHERE trx_mysql_thread_id <> CONNECTION_ID()",
			      "source: cannot list open transactions", &r, err);
		MYSQL_ROW row;
		while (rc == 0 && (row = mysql_fetch_row(r)) != NULL) {
			char *k = xasprintf("KILL %s", row[0]);
			if (mysql_query(s, k) != 0) /* gone meanwhile: fine */
				log_debug("migrate: %s: %s", k, mysql_error(s));
			free(k);
		}
		if (r)
			mysql_free_result(r);
	}
	return rc;
}

static int wait_caught_up(MYSQL *s, MYSQL *t, const char *name, long long max, const char *to_file,
			  long long to_pos, int timeout, bderr *err)
{
	time_t end = time(NULL) + timeout;
	for (;;) {
		slave_row sr;
		long long bytes = -1;
		if (slave_status(t, name, &sr, err) != 0)
			return -1;
		if (!sr.found)
			return bderr_set(err, "the target has no replication connection %s", name);
		if (!(sr.io && sr.sql) && sr.error[0])
			return bderr_set(err, "replication stopped on the target: %s", sr.error);
		if (to_file) {
			/* binlog names sort in order: same base name, zero-padded number */
			int cmp = strcmp(sr.exec_file, to_file);
			if (cmp > 0 || (cmp == 0 && sr.exec_pos >= to_pos))
				return 0;
		} else {
			if (binlog_behind(s, sr.exec_file, sr.exec_pos, &bytes, err) != 0)
				return -1;
			if (bytes >= 0 && bytes <= max)
				return 0;
		}
		if (time(NULL) >= end)
			return bderr_set(err, "the target is still behind after %d s", timeout);
		follow_sleep_ms(100);
	}
}

/* Row counts and checksums of every migrated table (engines/digest.h), source against target. */
static int verify_tables(MYSQL *s, MYSQL *t, const db_pairs *p, bderr *err)
{
	digest_set *a = NULL, *b = NULL;
	int rc = -1;
	if (my_digest_compute(s, (const char *const *)p->src, p->n, NULL, &a, err) != 0) {
		bderr_prefix(err, "source");
		goto out;
	}
	/* the source's tables under the target's database names */
	for (size_t i = 0; i < a->n_tables; i++)
		for (size_t k = 0; k < p->n; k++)
			if (strcmp(a->tables[i].schema, p->src[k]) == 0) {
				free(a->tables[i].schema);
				a->tables[i].schema = xstrdup(p->dst[k]);
				break;
			}
	digest_set_sort(a);
	if (my_digest_compute(t, (const char *const *)p->dst, p->n, a, &b, err) != 0) {
		bderr_prefix(err, "target");
		goto out;
	}
	if (digest_compare(a, b, DIGEST_COMPARE_EXTRA, err) != 0) {
		bderr_prefix(err, "the target differs from the source");
		goto out;
	}
	log_info("migrate: verified: %zu tables (rows and checksums) match", a->n_tables);
	rc = 0;
out:
	digest_set_free(a);
	digest_set_free(b);
	return rc;
}

static int myf_cutover(const follow_options *o, follow_state *state, const follow_cutover_options *co,
		       bderr *err)
{
	int ph = follow_cutover_phase(state, o->name, err);
	if (ph != 0)
		return ph > 0 ? 0 : -1;
	const char *name = follow_get(state, "my_connection");
	MYSQL *s = NULL, *t = NULL;
	db_pairs p;
	db_pairs_read(state, &p);
	int rc = -1;
	MYSQL_RES *r = NULL;
	if (connect_url(o->from_url, o->from_password, &s, "source", err) != 0 ||
	    connect_url(o->to_url, o->to_password, &t, "target", err) != 0)
		goto out;
	if (name) {
		if (!follow_get_int(state, "my_readonly", 0) &&
		    wait_caught_up(s, t, name, co->max_lag_bytes, NULL, 0, co->timeout_seconds, err) != 0)
			goto out;
		follow_set(state, "phase", "cutover");
		if (follow_save(state, err) != 0 || make_read_only(s, state, co->grace_seconds, err) != 0)
			goto out;
		log_info("migrate: source read-only");
		if (my_query(s, "SHOW MASTER STATUS", "source: cannot read the binlog position", &r, err) != 0)
			goto out;
		MYSQL_ROW row = mysql_fetch_row(r);
		if (row == NULL) {
			bderr_set(err, "source: SHOW MASTER STATUS returned nothing (binary log off?)");
			goto out;
		}
		if (wait_caught_up(s, t, name, 0, row[0], atoll(row[1]), co->timeout_seconds, err) != 0) {
			bderr e2;
			bderr_init(&e2);
			follow_set(state, "phase", "following");
			if (set_read_only(s, state, 0, &e2) != 0)
				log_error("%s", e2.msg);
			bderr_prefix(err, "cut-over abandoned, the source is writable again");
			goto out;
		}
		log_info("migrate: the target has applied every change");
		if (run_stmt(t, "STOP SLAVE", "", name, "target: cannot stop replication", err) != 0)
			goto out;
	}
	if (!co->verify_after && verify_tables(s, t, &p, err) != 0) {
		bderr e2;
		bderr_init(&e2);
		if (set_read_only(s, state, 0, &e2) != 0)
			log_error("%s", e2.msg);
		bderr_prefix(err, "cut-over stopped, the source is writable again");
		goto out;
	}
	/* verify_after: the target as it is at the switch, read after it */
	if (co->verify_after && my_exec(t, "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY",
					"target: cannot take a snapshot", err) != 0)
		goto out;
	if (remove_replica(o, state, err) != 0)
		goto out;
	follow_set(state, "phase", co->verify_after ? "verifying" : "done");
	if (follow_save(state, err) != 0)
		goto out;
	if (co->switched)
		co->switched(co->arg);
	if (co->verify_after && verify_tables(s, t, &p, err) != 0) {
		follow_record_differs(state, err);
		goto out;
	}
	follow_set(state, "phase", "done");
	rc = follow_save(state, err);
out:
	if (r)
		mysql_free_result(r);
	db_pairs_free(&p);
	my_close(s);
	my_close(t);
	return rc;
}

const engine_follow_ops mysql_follow_ops = {
	.check = myf_check,
	.options_check = myf_options_check,
	.prepare = myf_prepare,
	.copied = myf_copied,
	.start = myf_start,
	.release = myf_release,
	.status = myf_status,
	.cutover = myf_cutover,
	.abort = myf_abort,
};
