#include "engines/pg/pgconn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/lazylib.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/port.h"
#include "common/secret.h"

void pg_version_format(int num, char *buf, size_t len)
{
	if (num >= 100000)
		snprintf(buf, len, "%d.%d", num / 10000, num % 10000);
	else
		snprintf(buf, len, "%d.%d.%d", num / 10000, num / 100 % 100, num % 100);
}

int pg_slot_name_ok(const char *name)
{
	size_t n = strlen(name);
	return n > 0 && n < 64 && strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

const char *pg_errmsg(PGconn *c, char *buf, size_t len)
{
	const char *m = c ? PQerrorMessage(c) : "no connection";
	size_t n = strlen(m);
	while (n > 0 && (m[n - 1] == '\n' || m[n - 1] == ' '))
		n--;
	/* libpq messages can span lines (DETAIL/HINT); keep the first one */
	const char *nl = memchr(m, '\n', n);
	if (nl)
		n = (size_t)(nl - m);
	if (n >= len)
		n = len - 1;
	memcpy(buf, m, n);
	buf[n] = '\0';
	return buf;
}

/* Server notices (restore warnings and the like) go to the log, not raw stderr. */
static void notice_to_log(void *arg, const char *message)
{
	(void)arg;
	log_debug("server: %.*s", (int)strcspn(message, "\n"), message);
}

/*
 * libpq's connection string errors quote the offending token, often a
 * password (invalid percent-encoded token: "Sekr3tPW%zz") or the whole URI:
 * every quoted text longer than one character becomes "***".
 */
void pg_mask_quoted(char *m)
{
	char *p = m;
	while ((p = strchr(p, '"')) != NULL) {
		char *close = strchr(p + 1, '"');
		if (close == NULL) {
			/* an unterminated quote (a cut message): mask to the end */
			if (strlen(p + 1) > 1)
				strcpy(p + 1, "***");
			return;
		}
		size_t n = (size_t)(close - p - 1);
		if (n > 1) {
			memmove(p + 4, close, strlen(close) + 1);
			memcpy(p + 1, "***", 3);
			close = p + 4;
		}
		p = close + 1;
	}
}

/* Parses a URI or key=value string; errors never quote the string's parts. */
static PQconninfoOption *parse_conninfo(const char *url, bderr *err)
{
	if (lazy_pq_load(err) < 0) /* libpq missing: say so, not "invalid string" */
		return NULL;
	char *errmsg = NULL;
	PQconninfoOption *opts = PQconninfoParse(url, &errmsg);
	if (opts == NULL) {
		char m[512];
		snprintf(m, sizeof m, "%s", errmsg ? errmsg : "cannot parse");
		m[strcspn(m, "\n")] = '\0';
		pg_mask_quoted(m);
		bderr_usage(err, "invalid PostgreSQL connection string: %s", m);
	}
	PQfreemem(errmsg);
	/*
	 * libpq checks the port only when it connects (exit 1, as if the server
	 * were down): a usage error here, as for a MySQL URI.  Not echoed: a
	 * password given as user:password/db without '@' lands in the port.
	 */
	for (const PQconninfoOption *o = opts; o && o->keyword; o++) {
		if (strcmp(o->keyword, "port") != 0 || o->val == NULL)
			continue;
		for (const char *p = o->val; *p;) {
			size_t n = strcspn(p, ",");
			unsigned port;
			/* an empty one in the list is libpq's default port */
			if (n > 0 && port_parse(p, n, &port) < 0) {
				PQconninfoFree(opts);
				bderr_usage(err, "invalid PostgreSQL connection string: the port must be a number from 1 to 65535 (a password with '/', '?' or '#' must be percent-encoded)");
				return NULL;
			}
			p += n + (p[n] == ',');
		}
	}
	return opts;
}

/*
 * A connection error may quote option values: never the password, nor a
 * port that is not a number (user:password/db without '@' makes the password
 * the port).
 */
static void scrub_secrets(char *m, const PQconninfoOption *opts, const char *password)
{
	secret_scrub(m, password);
	for (const PQconninfoOption *o = opts; o->keyword; o++) {
		if (o->val == NULL)
			continue;
		if (strcmp(o->keyword, "password") == 0 ||
		    (strcmp(o->keyword, "port") == 0 && o->val[strspn(o->val, "0123456789,")] != '\0'))
			secret_scrub(m, o->val);
	}
}

/*
 * libpq reads its password file (the passfile option, PGPASSFILE, else
 * ~/.pgpass) when no password is given, but a file group or others can read
 * only earns a warning on stderr and is then ignored (the connection fails
 * with "no password supplied"), and a directory is ignored silently.  The
 * rule of our own password files holds for it too: refused, one line, exit 2.
 * A file that does not exist (or cannot be reached) is libpq's business.
 */
static int passfile_check(const PQconninfoOption *opts, const char *password, bderr *err)
{
	const char *passfile = NULL;
	for (const PQconninfoOption *o = opts; o->keyword; o++) {
		if (o->val && *o->val && strcmp(o->keyword, "password") == 0)
			password = o->val;
		if (o->val && *o->val && strcmp(o->keyword, "passfile") == 0)
			passfile = o->val;
	}
	const char *env = getenv("PGPASSWORD");
	if ((password && *password) || (env && *env))
		return 0;
	char *home_file = NULL;
	if (passfile == NULL)
		passfile = getenv("PGPASSFILE");
	if (passfile == NULL || *passfile == '\0') {
		const char *home = getenv("HOME");
		if (home == NULL || *home == '\0')
			return 0;
		passfile = home_file = xasprintf("%s/.pgpass", home);
	}
	struct stat st;
	int rc = 0;
	if (stat(passfile, &st) == 0)
		rc = secret_check_mode(passfile, &st, err);
	free(home_file);
	return rc;
}

#define PG_CONNECT_DEFAULTS_MAX 8

static int connect_params(const char *url, const char *password, const char *dbname,
			  const char *application, const char *replication, const char *const *def_keys,
			  const char *const *def_vals, PGconn **out, bderr *err)
{
	const char *keys[7 + PG_CONNECT_DEFAULTS_MAX];
	const char *vals[7 + PG_CONNECT_DEFAULTS_MAX];
	int n = 0;
	/* before the URL: what the URL itself sets wins */
	for (size_t i = 0; def_keys && def_keys[i] && i < PG_CONNECT_DEFAULTS_MAX; i++) {
		keys[n] = def_keys[i];
		vals[n++] = def_vals[i];
	}
	keys[n] = "dbname";
	vals[n++] = url;
	/* with expand_dbname only the first dbname is expanded; a later one overrides */
	if (dbname) {
		keys[n] = "dbname";
		vals[n++] = dbname;
	}
	if (password) {
		keys[n] = "password";
		vals[n++] = password;
	}
	keys[n] = "fallback_application_name";
	vals[n++] = application ? application : "backupd";
	if (replication) {
		keys[n] = "replication";
		vals[n++] = replication;
	}
	keys[n] = NULL;
	vals[n] = NULL;

	/* a string libpq cannot parse fails here, before its error can quote a password */
	PQconninfoOption *parsed = parse_conninfo(url, err);
	if (parsed == NULL)
		return -1;
	if (passfile_check(parsed, password, err) != 0) {
		PQconninfoFree(parsed);
		return -1;
	}
	PGconn *c = PQconnectdbParams(keys, vals, 1);
	if (c == NULL) {
		PQconninfoFree(parsed);
		return bderr_set(err, "cannot allocate a PostgreSQL connection");
	}
	if (PQstatus(c) != CONNECTION_OK) {
		char buf[512];
		char *db = dbname ? xstrdup(dbname) : pg_url_dbname(url);
		pg_errmsg(c, buf, sizeof buf);
		scrub_secrets(buf, parsed, password);
		bderr_set(err, "cannot connect to PostgreSQL database '%s': %s", db ? db : "?", buf);
		free(db);
		PQconninfoFree(parsed);
		PQfinish(c);
		return -1;
	}
	PQconninfoFree(parsed);
	PQsetNoticeProcessor(c, notice_to_log, NULL);
	*out = c;
	return 0;
}

int pg_connect(const char *url, const char *password, const char *dbname,
	       const char *application, PGconn **out, bderr *err)
{
	return connect_params(url, password, dbname, application, NULL, NULL, NULL, out, err);
}

int pg_connect_defaults(const char *url, const char *password, const char *application,
			const char *const *keys, const char *const *vals, PGconn **out, bderr *err)
{
	return connect_params(url, password, NULL, application, NULL, keys, vals, out, err);
}

int pg_connect_replication(const char *url, const char *password, const char *application,
			   PGconn **out, bderr *err)
{
	return connect_params(url, password, NULL, application, "true", NULL, NULL, out, err);
}

int pg_connect_logical(const char *url, const char *password, const char *application,
		       PGconn **out, bderr *err)
{
	return connect_params(url, password, NULL, application, "database", NULL, NULL, out, err);
}

static int result_error(PGconn *c, PGresult *r, const char *what, bderr *err)
{
	const char *m = r ? PQresultErrorMessage(r) : NULL;
	char buf[512];
	if (m == NULL || *m == '\0')
		m = pg_errmsg(c, buf, sizeof buf);
	size_t n = strcspn(m, "\n");
	bderr_set(err, "%s: %.*s", what, (int)n, m);
	PQclear(r);
	return -1;
}

int pg_exec(PGconn *c, const char *sql, const char *what, bderr *err)
{
	PGresult *r = PQexec(c, sql);
	ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		return result_error(c, r, what, err);
	PQclear(r);
	return 0;
}

int pg_copy_out_begin(PGconn *c, const char *sql, const char *what, bderr *err)
{
	PGresult *r = PQexec(c, sql);
	if (r == NULL || PQresultStatus(r) != PGRES_COPY_OUT)
		return result_error(c, r, what, err);
	PQclear(r);
	return 0;
}

int pg_copy_out_end(PGconn *c, const char *what, bderr *err)
{
	int rc = 0;
	PGresult *r;
	while ((r = PQgetResult(c)) != NULL) {
		if (PQresultStatus(r) != PGRES_COMMAND_OK && rc == 0)
			rc = result_error(c, r, what, err); /* clears r */
		else
			PQclear(r);
	}
	return rc;
}

int pg_query(PGconn *c, const char *sql, const char *what, PGresult **out, bderr *err)
{
	return pg_query_params(c, sql, 0, NULL, what, out, err);
}

int pg_query_params(PGconn *c, const char *sql, int n, const char *const *values,
		    const char *what, PGresult **out, bderr *err)
{
	PGresult *r = PQexecParams(c, sql, n, NULL, values, NULL, NULL, 0);
	if (r == NULL || PQresultStatus(r) != PGRES_TUPLES_OK)
		return result_error(c, r, what, err);
	*out = r;
	return 0;
}

char *pg_quote_ident(PGconn *c, const char *ident)
{
	char *q = PQescapeIdentifier(c, ident, strlen(ident));
	if (q == NULL)
		return NULL;
	char *dup = xstrdup(q);
	PQfreemem(q);
	return dup;
}

int pg_query_exists(PGconn *c, const char *sql, const char *param, const char *what, int *found,
		    bderr *err)
{
	const char *params[] = { param };
	PGresult *r;
	if (pg_query_params(c, sql, 1, params, what, &r, err) != 0)
		return -1;
	*found = PQntuples(r) > 0;
	PQclear(r);
	return 0;
}

char *pg_qualified_name(PGconn *c, const char *schema, const char *name)
{
	char *s = pg_quote_ident(c, schema);
	char *n = pg_quote_ident(c, name);
	char *out = (s && n) ? xasprintf("%s.%s", s, n) : NULL;
	free(s);
	free(n);
	return out;
}

int pg_url_check(const char *url, bderr *err)
{
	PQconninfoOption *opts = parse_conninfo(url, err);
	if (opts == NULL)
		return -1;
	PQconninfoFree(opts);
	return 0;
}

char *pg_url_dbname(const char *url)
{
	char *errmsg = NULL;
	PQconninfoOption *opts = PQconninfoParse(url, &errmsg);
	if (opts == NULL) {
		PQfreemem(errmsg);
		return NULL;
	}
	char *db = NULL;
	char *user = NULL;
	for (PQconninfoOption *o = opts; o->keyword; o++) {
		if (strcmp(o->keyword, "dbname") == 0 && o->val && *o->val)
			db = xstrdup(o->val);
		if (strcmp(o->keyword, "user") == 0 && o->val && *o->val)
			user = xstrdup(o->val);
	}
	PQconninfoFree(opts);
	/* libpq's own default: the database is named after the user */
	if (db == NULL && user == NULL) {
		const char *env = getenv("PGDATABASE");
		if (env == NULL)
			env = getenv("PGUSER");
		if (env)
			db = xstrdup(env);
	}
	if (db == NULL) {
		db = user;
		user = NULL;
	}
	free(user);
	return db;
}

void pg_conninfo_append(strbuf *b, const char *key, const char *val)
{
	strbuf_appendf(b, "%s%s='", b->len ? " " : "", key);
	for (const char *p = val; *p; p++) {
		if (*p == '\'' || *p == '\\')
			strbuf_append(b, "\\", 1);
		strbuf_append(b, p, 1);
	}
	strbuf_append(b, "'", 1);
}

int pg_child_conninfo(const char *url, const char *password_in, const char *dbname,
		      char **conninfo, char **password_env, bderr *err)
{
	PQconninfoOption *opts = parse_conninfo(url, err);
	if (opts == NULL)
		return -1;
	strbuf b;
	strbuf_init(&b);
	const char *password = password_in;
	for (PQconninfoOption *o = opts; o->keyword; o++) {
		if (o->val == NULL || *o->val == '\0')
			continue;
		if (strcmp(o->keyword, "password") == 0) {
			if (password == NULL)
				password = o->val;
			continue;
		}
		if (dbname && strcmp(o->keyword, "dbname") == 0)
			continue;
		pg_conninfo_append(&b, o->keyword, o->val);
	}
	if (dbname)
		pg_conninfo_append(&b, "dbname", dbname);
	*password_env = password ? xasprintf("PGPASSWORD=%s", password) : NULL;
	PQconninfoFree(opts);
	*conninfo = strbuf_detach(&b);
	return 0;
}
