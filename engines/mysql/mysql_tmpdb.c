#include "engines/mysql/mysql_tmpdb.h"

#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/mem.h"
#include "engines/mysql/myconn.h"
#include "engines/restore_claim.h"
#include "archive/filter.h"

#define TMPDB_PREFIX "backupd_restore_"

char *my_tmpdb_name(const char *target)
{
	char hex[SHA256_HEX_LEN + 1];
	sha256_hex(target, strlen(target), hex);
	/* 40 characters: within both the database and the lock name limits (64) */
	return xasprintf(TMPDB_PREFIX "%.24s", hex);
}

/* *out: the number SQL counts, with each '?' in it standing for DB as a literal. */
static int count_of(MYSQL *c, const char *sql, const char *db, const char *what, long *out,
		    bderr *err)
{
	char *lit = my_quote_literal(c, db);
	strbuf b;
	strbuf_init(&b);
	for (const char *p = sql; *p; p++) {
		if (*p == '?')
			strbuf_appends(&b, lit);
		else
			strbuf_append(&b, p, 1);
	}
	char *q = strbuf_detach(&b);
	char *v = NULL;
	int r = my_query_value(c, q, what, &v, err);
	*out = v ? atol(v) : 0;
	free(v);
	free(q);
	free(lit);
	return r;
}

/* Database comments: MariaDB 10.5 and newer (MySQL has none). */
static int has_db_comments(MYSQL *c)
{
	return my_is_mariadb(c) && mysql_get_server_version(c) >= 100500;
}

static int db_exists(MYSQL *c, const char *db, long *n, bderr *err)
{
	return count_of(c, "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", db,
			"cannot look up a database", n, err);
}

static int drop_db(MYSQL *c, const char *db, bderr *err)
{
	char *q = my_quote_ident(db);
	char *sql = xasprintf("DROP DATABASE IF EXISTS %s", q);
	char *what = xasprintf("cannot drop database '%s'", db);
	int r = my_exec(c, sql, what, err);
	free(what);
	free(sql);
	free(q);
	return r;
}

/* The claim's connection and name: what try_lock works on. */
typedef struct tmpdb_lock {
	MYSQL *c;
	const char *tmp;
} tmpdb_lock;

/*
 * One try at TMP's named lock (restore_claim_try_fn): *got when ours, else
 * *busy when the session holding it is running a statement.
 */
static int try_lock(void *vl, int *got, int *busy, bderr *err)
{
	tmpdb_lock *l = vl;
	long v = 0;
	if (count_of(l->c, "SELECT GET_LOCK(?, 0)", l->tmp, "cannot lock the temporary database name", &v, err) != 0)
		return -1;
	*got = v == 1;
	if (*got)
		return 0;
	if (count_of(l->c,
		     "SELECT COUNT(*) FROM information_schema.PROCESSLIST"
		     " WHERE ID = IS_USED_LOCK(?) AND COMMAND <> 'Sleep'",
		     l->tmp, "cannot look up the temporary database name's lock", &v, err) != 0)
		return -1;
	*busy = v > 0;
	return 0;
}

int my_tmpdb_claim(MYSQL *c, const char *target, const char *tmp, bderr *err)
{
	/* released when C closes, so a killed restorer's lock is free at once (or once its last statement ends) */
	tmpdb_lock l = { c, tmp };
	if (restore_claim_wait(try_lock, &l, target, tmp, err) != 0)
		return -1;
	long tmp_left = 0, target_left = 0, marked = 0, commented = 0, objects = 0;
	if (db_exists(c, tmp, &tmp_left, err) != 0 || db_exists(c, target, &target_left, err) != 0)
		return -1;
	if (target_left) {
		if (count_of(c,
			     "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = '"
			     MY_TMPDB_MARKER "'",
			     target, "cannot inspect the target database", &marked, err) != 0 ||
		    count_of(c,
			     "SELECT (SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?)"
			     " + (SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ?)"
			     " + (SELECT COUNT(*) FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ?)",
			     target, "cannot inspect the target database", &objects, err) != 0)
			return -1;
		if (has_db_comments(c) &&
		    count_of(c,
			     "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?"
			     " AND SCHEMA_COMMENT = '" MY_TMPDB_COMMENT "'",
			     target, "cannot inspect the target database", &commented, err) != 0)
			return -1;
	}
	/* its restorer is gone: it held the lock we now hold */
	if (tmp_left) {
		log_warn("dropping database '%s' left by an interrupted restore into '%s'", tmp, target);
		if (drop_db(c, tmp, err) != 0)
			return -1;
	}
	/*
	 * The target is a killed restore's when it carries the marker table
	 * (killed after the rename) or the marker comment (killed after its
	 * CREATE DATABASE), or is empty next to a leftover temporary database
	 * (MySQL, or an older backupd: killed between creating it and the rename).
	 */
	if (target_left && (marked || commented || (tmp_left && objects == 0))) {
		log_warn("dropping database '%s': an interrupted restore left it incomplete", target);
		if (drop_db(c, target, err) != 0)
			return -1;
	}
	return 0;
}

/* Runs BEFORE, the marker table's qualified name in DB, then AFTER. */
static int marker_exec(MYSQL *c, const char *db, const char *before, const char *after,
		       const char *what, bderr *err)
{
	char *q = my_qualified_name(db, MY_TMPDB_MARKER);
	char *sql = xasprintf("%s%s%s", before, q, after);
	int r = my_exec(c, sql, what, err);
	free(sql);
	free(q);
	return r;
}

int my_tmpdb_mark(MYSQL *c, const char *tmp, bderr *err)
{
	return marker_exec(c, tmp, "CREATE TABLE ", " (id INT) COMMENT = 'backupd: restore in progress'",
			   "cannot create the restore's marker table", err);
}

int my_tmpdb_publish(MYSQL *c, const char *tmp, const char *target, const char *create_opts,
		     int *created, bderr *err)
{
	*created = 0;
	char *lit = my_quote_literal(c, tmp);
	char *sql = xasprintf("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s"
			      " ORDER BY TABLE_NAME", lit);
	free(lit);
	MYSQL_RES *res = NULL;
	int r = my_query(c, sql, "cannot list the restored tables", &res, err);
	free(sql);
	if (r != 0)
		return -1;
	strbuf b;
	strbuf_init(&b);
	strbuf_appends(&b, "RENAME TABLE ");
	MYSQL_ROW row;
	int n = 0;
	while ((row = mysql_fetch_row(res)) != NULL) {
		if (row[0] == NULL)
			continue;
		char *from = my_qualified_name(tmp, row[0]);
		char *to = my_qualified_name(target, row[0]);
		if (n++)
			strbuf_appends(&b, ", ");
		strbuf_appends(&b, from);
		strbuf_appends(&b, " TO ");
		strbuf_appends(&b, to);
		free(to);
		free(from);
	}
	mysql_free_result(res);
	char *rename = strbuf_detach(&b);
	char *q = my_quote_ident(target);
	char *create = xasprintf("CREATE DATABASE %s %s%s", q, create_opts,
				 has_db_comments(c) ? " COMMENT = '" MY_TMPDB_COMMENT "'" : "");
	char *what = xasprintf("cannot create database '%s'", target);
	r = my_exec(c, create, what, err);
	if (r == 0) {
		*created = 1;
		/* one statement: every table (the marker among them) arrives at once */
		free(what);
		what = xasprintf("cannot move the restored tables into '%s'", target);
		r = my_exec(c, rename, what, err);
	}
	free(what);
	free(create);
	free(q);
	free(rename);
	return r;
}

int my_tmpdb_finish(MYSQL *c, const char *tmp, const char *target, bderr *err)
{
	if (drop_db(c, tmp, err) != 0)
		return -1;
	if (has_db_comments(c)) {
		/* the marker table still marks TARGET until the statement after this one */
		char *q = my_quote_ident(target);
		char *sql = xasprintf("ALTER DATABASE %s COMMENT = ''", q);
		int r = my_exec(c, sql, "cannot clear the restore's marker comment", err);
		free(sql);
		free(q);
		if (r != 0)
			return -1;
	}
	return marker_exec(c, target, "DROP TABLE ", "", "cannot drop the restore's marker table", err);
}
