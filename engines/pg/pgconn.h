/*
 * libpq helpers shared by backupd and dbrestore: connecting without ever
 * putting a password on a command line, quoting identifiers with libpq's own
 * escaping, and turning a failed result into an error that names the query's
 * subject.
 */
#ifndef BACKUPD_ENGINES_PG_PGCONN_H
#define BACKUPD_ENGINES_PG_PGCONN_H

#include <libpq-fe.h>
#include "common/error.h"

/*
 * Connects to url (a postgresql:// URI or conninfo).  password, when not NULL,
 * is passed as a connection parameter (it came from a 0600 file); dbname, when
 * not NULL, overrides the URI's database.
 */
int pg_connect(const char *url, const char *password, const char *dbname,
	       const char *application, PGconn **out, bderr *err);
/*
 * pg_connect with default connection parameters (keys[i] = vals[i], up to 8,
 * NULL-terminated) that url may override: timeouts, keepalives.
 */
int pg_connect_defaults(const char *url, const char *password, const char *application,
			const char *const *keys, const char *const *vals, PGconn **out, bderr *err);

/*
 * A physical replication connection (replication=true) to url's server, for
 * IDENTIFY_SYSTEM and BASE_BACKUP: the role needs the REPLICATION attribute
 * and a "replication" line in pg_hba.conf.
 */
int pg_connect_replication(const char *url, const char *password, const char *application,
			   PGconn **out, bderr *err);

/*
 * A logical replication connection (replication=database) to url's
 * database, for CREATE_REPLICATION_SLOT ... LOGICAL with an exported snapshot.
 */
int pg_connect_logical(const char *url, const char *password, const char *application,
		       PGconn **out, bderr *err);

/* Runs a command that returns no rows; the error names what. */
int pg_exec(PGconn *c, const char *sql, const char *what, bderr *err);
/* Runs a query that must return tuples; caller PQclear()s *out. */
int pg_query(PGconn *c, const char *sql, const char *what, PGresult **out, bderr *err);
int pg_query_params(PGconn *c, const char *sql, int n, const char *const *values,
		    const char *what, PGresult **out, bderr *err);
/* *found = whether sql, with one parameter, returns any row; the error names what. */
int pg_query_exists(PGconn *c, const char *sql, const char *param, const char *what, int *found,
		    bderr *err);

/*
 * A COPY ... TO STDOUT started (then PQgetCopyData until -1), and its end:
 * the results drained, the first error set as "what: message".
 */
int pg_copy_out_begin(PGconn *c, const char *sql, const char *what, bderr *err);
int pg_copy_out_end(PGconn *c, const char *what, bderr *err);

/* Quoted identifier, "schema"."name" form (caller frees). */
char *pg_quote_ident(PGconn *c, const char *ident);
char *pg_qualified_name(PGconn *c, const char *schema, const char *name);

/* The database name libpq will use for url (caller frees), or NULL. */
char *pg_url_dbname(const char *url);
/* 0 when libpq can parse url; else a usage error that quotes none of its parts. */
int pg_url_check(const char *url, bderr *err);

/*
 * A server_version_num as people write it: 140023 -> "14.23", 90624 ->
 * "9.6.24" (before 10 the major had two parts).
 */
void pg_version_format(int num, char *buf, size_t len);

/* A replication slot name as the server accepts it: [a-z0-9_], 1 to 63 bytes. */
int pg_slot_name_ok(const char *name);

/* The libpq error message without its trailing newline. */
const char *pg_errmsg(PGconn *c, char *buf, size_t len);

/*
 * For child programs (pg_dump, psql): a conninfo string without the password
 * (it would show in `ps`), and the password as a "PGPASSWORD=..." entry for
 * the child's environment (NULL when there is none; free it with
 * secret_free).  password_in is a password from a 0600 file, used when the
 * URL has none.  dbname overrides the URL's database when not NULL.
 */
/*
 * In place: every "quoted" text of more than one character in a libpq
 * message becomes "***" (connection-string errors quote passwords).
 */
void pg_mask_quoted(char *msg);

/* Appends " key='value'" to a conninfo string, quoted the way libpq reads it. */
struct strbuf;
void pg_conninfo_append(struct strbuf *b, const char *key, const char *val);

int pg_child_conninfo(const char *url, const char *password_in, const char *dbname,
		      char **conninfo, char **password_env, bderr *err);
#endif
