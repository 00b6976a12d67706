#include "common/pgconn.h"

#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/mem.h"

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

static int connect_params(const char *url, const char *password, const char *dbname,
			  const char *application, int replication, PGconn **out, bderr *err)
{
	const char *keys[7];
	const char *vals[7];
	int n = 0;
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
		vals[n++] = "true";
	}
	keys[n] = NULL;
	vals[n] = NULL;

	PGconn *c = PQconnectdbParams(keys, vals, 1);
	if (c == NULL)
		return bderr_set(err, "cannot allocate a PostgreSQL connection");
	if (PQstatus(c) != CONNECTION_OK) {
		char buf[512];
		char *db = dbname ? xstrdup(dbname) : pg_url_dbname(url);
		bderr_set(err, "cannot connect to PostgreSQL database '%s': %s", db ? db : "?",
			  pg_errmsg(c, buf, sizeof buf));
		free(db);
		PQfinish(c);
		return -1;
	}
	PQsetNoticeProcessor(c, notice_to_log, NULL);
	*out = c;
	return 0;
}

int pg_connect(const char *url, const char *password, const char *dbname,
	       const char *application, PGconn **out, bderr *err)
{
	return connect_params(url, password, dbname, application, 0, out, err);
}

int pg_connect_replication(const char *url, const char *password, const char *application,
			   PGconn **out, bderr *err)
{
	return connect_params(url, password, NULL, application, 1, out, err);
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

char *pg_qualified_name(PGconn *c, const char *schema, const char *name)
{
	char *s = pg_quote_ident(c, schema);
	char *n = pg_quote_ident(c, name);
	char *out = (s && n) ? xasprintf("%s.%s", s, n) : NULL;
	free(s);
	free(n);
	return out;
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

static void append_conninfo_value(strbuf *b, const char *key, const char *val)
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
	char *errmsg = NULL;
	PQconninfoOption *opts = PQconninfoParse(url, &errmsg);
	if (opts == NULL) {
		bderr_usage(err, "invalid PostgreSQL connection string: %s",
			    errmsg ? errmsg : "cannot parse");
		PQfreemem(errmsg);
		return -1;
	}
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
		append_conninfo_value(&b, o->keyword, o->val);
	}
	if (dbname)
		append_conninfo_value(&b, "dbname", dbname);
	*password_env = password ? xasprintf("PGPASSWORD=%s", password) : NULL;
	PQconninfoFree(opts);
	*conninfo = strbuf_detach(&b);
	return 0;
}
