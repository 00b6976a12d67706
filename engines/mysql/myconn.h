/*
 * MySQL/MariaDB client helpers shared by backupd and dbrestore: parsing a
 * mysql:// (or mariadb://) URI, connecting without a password on any command
 * line, quoting identifiers (backtick doubling) and running queries whose
 * failure becomes one line naming the host and the server's message.
 */
#ifndef BACKUPD_ENGINES_MYSQL_MYCONN_H
#define BACKUPD_ENGINES_MYSQL_MYCONN_H

#include <mysql.h>
#include "common/error.h"
#include "common/workpool.h"

/*
 * mysql://[user[:password]@]host[:port][/db[,db2...]][?param=value&...]
 * Parameters: databases=a,b (same as a path list), socket=PATH,
 * ssl-mode=disabled|required|verify-ca|verify-identity (alias ssl=0|1),
 * ssl-ca=FILE, ssl-cert=FILE, ssl-key=FILE, connect-timeout=SECONDS.
 * Components are percent-decoded.
 */
typedef struct my_uri {
	char *user;      /* NULL: the client library's default */
	char *password;  /* typed into the URI (secret), or NULL */
	char *host;      /* NULL or "localhost": the socket */
	unsigned port;   /* 0: default */
	char *socket;
	char **databases; /* from the path or ?databases= */
	size_t n_databases;
	int ssl_mode;    /* MY_SSL_* */
	char *ssl_ca;
	char *ssl_cert;
	char *ssl_key;
	unsigned connect_timeout;
} my_uri;

enum { MY_SSL_DEFAULT = 0, MY_SSL_DISABLED, MY_SSL_REQUIRED, MY_SSL_VERIFY_CA, MY_SSL_VERIFY_IDENTITY };

/* Parse errors are usage errors that never echo the password. */
int my_uri_parse(const char *uri, my_uri *out, bderr *err);
void my_uri_clear(my_uri *u);
/* "host:port" (or the socket) for messages; static storage in buf. */
const char *my_uri_where(const my_uri *u, char *buf, size_t len);

/*
 * Session character sets.  Data moves as raw stored bytes (binary: no
 * conversion either way); schema text is read and replayed as utf8mb4.
 */
typedef enum my_charset_mode { MY_NAMES_UTF8MB4, MY_NAMES_BINARY } my_charset_mode;

/*
 * Connects.  Password precedence: the URI's, then password (from a 0600
 * password-file), then $MYSQL_PWD.  db may be NULL (no default database).
 * local_infile enables LOAD DATA LOCAL on the client side.
 */
int my_connect(const my_uri *u, const char *password, const char *db, my_charset_mode names,
	       int local_infile, MYSQL **out, bderr *err);
void my_close(MYSQL *c);

/* Runs a statement that returns no rows (a result, if any, is discarded). */
int my_exec(MYSQL *c, const char *sql, const char *what, bderr *err);
/* Runs a query and stores its whole result; caller mysql_free_result()s. */
int my_query(MYSQL *c, const char *sql, const char *what, MYSQL_RES **out, bderr *err);
/*
 * The first column of the first row as a new string; *out is NULL when there
 * is no row or the value is NULL.
 */
int my_query_value(MYSQL *c, const char *sql, const char *what, char **out, bderr *err);
/*
 * Sets err to "what: server message (host)" and returns -1.  A deadlock or
 * lock wait timeout (the server rolled the transaction back; running it
 * again may succeed) sets err->sys_errno to EDEADLK.
 */
int my_fail(MYSQL *c, const char *what, bderr *err);

/* `ident` with embedded backticks doubled (caller frees). */
char *my_quote_ident(const char *ident);
/* `db`.`name` */
char *my_qualified_name(const char *db, const char *name);
/* 'value' escaped for the connection's character set (caller frees). */
char *my_quote_literal(MYSQL *c, const char *value);

/* "mariadb" or "mysql", from the server version string. */
const char *my_flavor(MYSQL *c);

/* Whether C talks to MariaDB (my_flavor "mariadb"). */
int my_is_mariadb(MYSQL *c);

/*
 * Worker pool hooks for threads that use MySQL connections:
 * mysql_thread_init / mysql_thread_end around the thread's work.
 */
extern const workpool_hooks my_thread_hooks;

#endif
