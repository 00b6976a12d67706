#include "engines/mysql/myconn.h"
#include "engines/mysql/mysql_format.h"

#include <errno.h>
#include <mysqld_error.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "common/lazylib.h"
#include "common/mem.h"
#include "common/port.h"
#include "common/secret.h"

void my_uri_clear(my_uri *u)
{
	if (u == NULL)
		return;
	free(u->user);
	secret_free(u->password);
	free(u->host);
	free(u->socket);
	for (size_t i = 0; i < u->n_databases; i++)
		free(u->databases[i]);
	free(u->databases);
	free(u->ssl_ca);
	free(u->ssl_cert);
	free(u->ssl_key);
	memset(u, 0, sizeof *u);
}

/* Appends the comma-separated, percent-encoded names of list[0..n) to u. */
static void add_databases(my_uri *u, const char *list, size_t n)
{
	size_t i = 0;
	while (i < n) {
		size_t j = i;
		while (j < n && list[j] != ',')
			j++;
		if (j > i) {
			char *name = pct_decode(list + i, j - i);
			int dup = 0;
			for (size_t k = 0; k < u->n_databases; k++)
				dup |= strcmp(u->databases[k], name) == 0;
			if (dup) {
				free(name);
			} else {
				u->databases = xrealloc(u->databases, (u->n_databases + 1) * sizeof *u->databases);
				u->databases[u->n_databases++] = name;
			}
		}
		i = j + 1;
	}
}

static int parse_ssl_mode(const char *v, int *out)
{
	static const struct {
		const char *name;
		int mode;
	} modes[] = {
		{ "disabled", MY_SSL_DISABLED }, { "0", MY_SSL_DISABLED }, { "false", MY_SSL_DISABLED },
		{ "preferred", MY_SSL_DEFAULT }, { "required", MY_SSL_REQUIRED }, { "1", MY_SSL_REQUIRED },
		{ "true", MY_SSL_REQUIRED }, { "verify-ca", MY_SSL_VERIFY_CA },
		{ "verify_ca", MY_SSL_VERIFY_CA }, { "verify-identity", MY_SSL_VERIFY_IDENTITY },
		{ "verify_identity", MY_SSL_VERIFY_IDENTITY },
	};
	for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
		if (strcasecmp(v, modes[i].name) == 0) {
			*out = modes[i].mode;
			return 0;
		}
	return -1;
}

static int parse_query(my_uri *u, const char *q, size_t n, bderr *err)
{
	size_t i = 0;
	while (i < n) {
		size_t j = i;
		while (j < n && q[j] != '&')
			j++;
		const char *eq = memchr(q + i, '=', j - i);
		if (j > i) {
			if (eq == NULL)
				return bderr_usage(err, "mysql URI parameter '%.*s' has no value", (int)(j - i), q + i);
			size_t klen = (size_t)(eq - (q + i));
			char *key = pct_decode(q + i, klen);
			char *val = pct_decode(eq + 1, (size_t)(q + j - eq - 1));
			int bad = 0;
			if (strcmp(key, "databases") == 0 || strcmp(key, "database") == 0 ||
			    strcmp(key, "dbname") == 0) {
				add_databases(u, eq + 1, (size_t)(q + j - eq - 1));
			} else if (strcmp(key, "socket") == 0) {
				free(u->socket);
				u->socket = xstrdup(val);
			} else if (strcmp(key, "ssl-mode") == 0 || strcmp(key, "sslmode") == 0 ||
				   strcmp(key, "ssl") == 0) {
				bad = parse_ssl_mode(val, &u->ssl_mode) != 0;
			} else if (strcmp(key, "ssl-ca") == 0 || strcmp(key, "sslca") == 0) {
				free(u->ssl_ca);
				u->ssl_ca = xstrdup(val);
			} else if (strcmp(key, "ssl-cert") == 0 || strcmp(key, "sslcert") == 0) {
				free(u->ssl_cert);
				u->ssl_cert = xstrdup(val);
			} else if (strcmp(key, "ssl-key") == 0 || strcmp(key, "sslkey") == 0) {
				free(u->ssl_key);
				u->ssl_key = xstrdup(val);
			} else if (strcmp(key, "connect-timeout") == 0 || strcmp(key, "connect_timeout") == 0) {
				char *end;
				unsigned long t = strtoul(val, &end, 10);
				bad = *val == '\0' || *end != '\0' || t > 86400;
				u->connect_timeout = (unsigned)t;
			} else {
				bderr_usage(err, "unknown mysql URI parameter '%s'", key);
				free(key);
				free(val);
				return -1;
			}
			if (bad)
				bderr_usage(err, "bad value '%s' for mysql URI parameter '%s'", val, key);
			free(key);
			free(val);
			if (bad)
				return -1;
		}
		i = j + 1;
	}
	return 0;
}

int my_uri_parse(const char *uri, my_uri *out, bderr *err)
{
	memset(out, 0, sizeof *out);
	const char *p;
	if (strncasecmp(uri, "mysql://", 8) == 0)
		p = uri + 8;
	else if (strncasecmp(uri, "mariadb://", 10) == 0)
		p = uri + 10;
	else
		return bderr_usage(err, "not a mysql:// or mariadb:// URI");

	size_t authlen = strcspn(p, "/?#");
	const char *auth_end = p + authlen;
	/* the last '@': an unescaped '@' in a password must not cut the user */
	const char *at = NULL;
	for (const char *s = p; s < auth_end; s++)
		if (*s == '@')
			at = s;
	const char *hostpart = p;
	if (at) {
		const char *colon = memchr(p, ':', (size_t)(at - p));
		const char *uend = colon ? colon : at;
		if (uend > p)
			out->user = pct_decode(p, (size_t)(uend - p));
		if (colon)
			out->password = pct_decode(colon + 1, (size_t)(at - colon - 1));
		hostpart = at + 1;
	}
	size_t hlen = (size_t)(auth_end - hostpart);
	const char *portsep = NULL;
	if (hlen > 0 && hostpart[0] == '[') {
		/* [IPv6]:port */
		const char *close = memchr(hostpart, ']', hlen);
		if (close == NULL) {
			my_uri_clear(out);
			return bderr_usage(err, "mysql URI has an unterminated [IPv6] host");
		}
		out->host = xstrndup(hostpart + 1, (size_t)(close - hostpart - 1));
		if (close + 1 < auth_end && close[1] == ':')
			portsep = close + 1;
		else if (close + 1 != auth_end) {
			my_uri_clear(out);
			return bderr_usage(err, "mysql URI has junk after the [IPv6] host");
		}
	} else {
		portsep = memchr(hostpart, ':', hlen);
		size_t n = portsep ? (size_t)(portsep - hostpart) : hlen;
		if (n > 0)
			out->host = pct_decode(hostpart, n);
	}
	if (portsep) {
		const char *ps = portsep + 1;
		unsigned port;
		if (port_parse(ps, (size_t)(auth_end - ps), &port) < 0) {
			my_uri_clear(out);
			/* not echoed: "user:password/..." without '@' puts the password here */
			return bderr_usage(err, "mysql URI has a bad port (expected host:PORT with PORT from 1 to 65535; a password with '/', '?' or '#' must be percent-encoded)");
		}
		out->port = port;
	}

	const char *rest = auth_end;
	const char *frag = rest + strcspn(rest, "#");
	if (*rest == '/') {
		size_t n = strcspn(rest + 1, "?#");
		add_databases(out, rest + 1, n);
		rest += 1 + n;
	}
	if (*rest == '?') {
		if (parse_query(out, rest + 1, (size_t)(frag - rest - 1), err) != 0) {
			my_uri_clear(out);
			return -1;
		}
	}
	return 0;
}

const char *my_uri_where(const my_uri *u, char *buf, size_t len)
{
	if (u->socket && (u->host == NULL || strcmp(u->host, "localhost") == 0))
		snprintf(buf, len, "%s", u->socket);
	else if (u->port)
		snprintf(buf, len, "%s:%u", u->host ? u->host : "localhost", u->port);
	else
		snprintf(buf, len, "%s", u->host ? u->host : "localhost");
	return buf;
}

static const char *conn_where(MYSQL *c, char *buf, size_t len)
{
	const char *h = NULL;
	unsigned port = 0;
	const char *sock = NULL;
	mariadb_get_infov(c, MARIADB_CONNECTION_HOST, &h);
	mariadb_get_infov(c, MARIADB_CONNECTION_PORT, &port);
	mariadb_get_infov(c, MARIADB_CONNECTION_UNIX_SOCKET, &sock);
	if (sock && (h == NULL || strcmp(h, "localhost") == 0))
		snprintf(buf, len, "%s", sock);
	else
		snprintf(buf, len, "%s:%u", h ? h : "localhost", port);
	return buf;
}

int my_fail(MYSQL *c, const char *what, bderr *err)
{
	char where[300];
	const char *m = mysql_error(c);
	unsigned code = mysql_errno(c);
	bderr_set(err, "%s: %.*s (%s)", what, (int)strcspn(m, "\n"), m,
		  conn_where(c, where, sizeof where));
	if (code == ER_LOCK_DEADLOCK || code == ER_LOCK_WAIT_TIMEOUT)
		err->sys_errno = EDEADLK;
	return -1;
}

int my_connect(const my_uri *u, const char *password, const char *db, my_charset_mode names,
	       int local_infile, MYSQL **out, bderr *err)
{
	*out = NULL;
	if (lazy_mysql_load(err) < 0)
		return -1;
	/*
	 * The client library reads a TLS private key whatever its mode: the
	 * rule of our password and key files holds for it (libpq has its own).
	 */
	struct stat st;
	if (u->ssl_key && stat(u->ssl_key, &st) == 0 && secret_check_mode(u->ssl_key, &st, err) != 0)
		return -1;
	MYSQL *c = mysql_init(NULL);
	if (c == NULL)
		return bderr_set(err, "cannot initialise the MySQL client library");
	const char *pw = u->password ? u->password : password;
	if (pw == NULL) {
		const char *env = getenv("MYSQL_PWD");
		if (env && *env)
			pw = env;
	}
	int want_tls = 0;
	unsigned timeout = u->connect_timeout ? u->connect_timeout : 30;
	mysql_optionsv(c, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
	unsigned int infile = local_infile ? 1 : 0;
	mysql_optionsv(c, MYSQL_OPT_LOCAL_INFILE, &infile);
	/* the handshake charset; the session's is set right after */
	mysql_optionsv(c, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	if (u->ssl_mode == MY_SSL_DISABLED) {
		my_bool off = 0;
		mysql_optionsv(c, MYSQL_OPT_SSL_ENFORCE, &off);
	} else if (u->ssl_mode != MY_SSL_DEFAULT || u->ssl_ca || u->ssl_cert) {
		want_tls = 1;
		my_bool on = 1;
		mysql_optionsv(c, MYSQL_OPT_SSL_ENFORCE, &on);
		my_bool verify = u->ssl_mode == MY_SSL_VERIFY_CA || u->ssl_mode == MY_SSL_VERIFY_IDENTITY;
		mysql_optionsv(c, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &verify);
		mysql_ssl_set(c, u->ssl_key, u->ssl_cert, u->ssl_ca, NULL, NULL);
	}
	const char *host = u->host;
	if (u->socket && host == NULL)
		host = "localhost";
	char where[300];
	if (mysql_real_connect(c, host, u->user, pw, db, u->port, u->socket, 0) == NULL) {
		const char *m = mysql_error(c);
		bderr_set(err, "cannot connect to MySQL server %s as '%s': %.*s",
			  my_uri_where(u, where, sizeof where), u->user ? u->user : "(default user)",
			  (int)strcspn(m, "\n"), m);
		mysql_close(c);
		return -1;
	}
	/*
	 * The client library enforces TLS only when it verifies the server's
	 * certificate: with ssl-mode=required (or ssl-ca/ssl-cert alone) and a
	 * server without TLS it goes on in plain text, password exchange and
	 * data included.  Asked for TLS, we get TLS or fail.
	 */
	const char *cipher = NULL;
	if (want_tls && (mariadb_get_infov(c, MARIADB_CONNECTION_SSL_CIPHER, &cipher) != 0 || cipher == NULL)) {
		bderr_set(err, "cannot connect to MySQL server %s as '%s': TLS was asked for (ssl-mode, ssl-ca or ssl-cert) but the server does not offer it",
			  my_uri_where(u, where, sizeof where), u->user ? u->user : "(default user)");
		mysql_close(c);
		return -1;
	}
	/*
	 * Fixed session settings: TIMESTAMP values travel in UTC, and a known
	 * sql_mode keeps SHOW CREATE output (backtick quoting) and zero dates
	 * the same whatever the server's defaults.
	 */
	const char *setup = names == MY_NAMES_BINARY
				    ? "SET NAMES binary, time_zone = '" MY_SESSION_TIME_ZONE "', sql_mode = '" MY_SESSION_SQL_MODE "'"
				    : "SET NAMES utf8mb4, time_zone = '" MY_SESSION_TIME_ZONE "', sql_mode = '" MY_SESSION_SQL_MODE "'";
	if (my_exec(c, setup, "cannot configure the MySQL session", err) != 0) {
		mysql_close(c);
		return -1;
	}
	*out = c;
	return 0;
}

void my_close(MYSQL *c)
{
	if (c)
		mysql_close(c);
}

int my_exec(MYSQL *c, const char *sql, const char *what, bderr *err)
{
	if (mysql_real_query(c, sql, strlen(sql)) != 0)
		return my_fail(c, what, err);
	do {
		MYSQL_RES *r = mysql_store_result(c);
		if (r)
			mysql_free_result(r);
		else if (mysql_field_count(c) != 0)
			return my_fail(c, what, err);
	} while (mysql_next_result(c) == 0);
	if (mysql_errno(c) != 0)
		return my_fail(c, what, err);
	return 0;
}

int my_query(MYSQL *c, const char *sql, const char *what, MYSQL_RES **out, bderr *err)
{
	*out = NULL;
	if (mysql_real_query(c, sql, strlen(sql)) != 0)
		return my_fail(c, what, err);
	MYSQL_RES *r = mysql_store_result(c);
	if (r == NULL) {
		if (mysql_errno(c) != 0)
			return my_fail(c, what, err);
		return bderr_set(err, "%s: the statement returned no result set", what);
	}
	*out = r;
	return 0;
}

int my_query_value(MYSQL *c, const char *sql, const char *what, char **out, bderr *err)
{
	MYSQL_RES *r;
	*out = NULL;
	if (my_query(c, sql, what, &r, err) != 0)
		return -1;
	MYSQL_ROW row = mysql_fetch_row(r);
	if (row && row[0]) {
		unsigned long *len = mysql_fetch_lengths(r);
		*out = xstrndup(row[0], len[0]);
	}
	mysql_free_result(r);
	return 0;
}

char *my_quote_ident(const char *ident)
{
	size_t n = 2;
	for (const char *p = ident; *p; p++)
		n += *p == '`' ? 2 : 1;
	char *out = xmalloc(n + 1);
	char *o = out;
	*o++ = '`';
	for (const char *p = ident; *p; p++) {
		if (*p == '`')
			*o++ = '`';
		*o++ = *p;
	}
	*o++ = '`';
	*o = '\0';
	return out;
}

char *my_qualified_name(const char *db, const char *name)
{
	char *a = my_quote_ident(db);
	char *b = my_quote_ident(name);
	char *out = xasprintf("%s.%s", a, b);
	free(a);
	free(b);
	return out;
}

char *my_quote_literal(MYSQL *c, const char *value)
{
	size_t n = strlen(value);
	char *out = xmalloc(2 * n + 3);
	out[0] = '\'';
	unsigned long len = mysql_real_escape_string(c, out + 1, value, (unsigned long)n);
	out[1 + len] = '\'';
	out[2 + len] = '\0';
	return out;
}

const char *my_flavor(MYSQL *c)
{
	const char *v = mysql_get_server_info(c);
	return v && strstr(v, "MariaDB") ? "mariadb" : "mysql";
}

int my_is_mariadb(MYSQL *c)
{
	return strcmp(my_flavor(c), "mariadb") == 0;
}

static void my_thread_start(void *worker)
{
	(void)worker;
	mysql_thread_init();
}

static void my_thread_stop(void *worker)
{
	(void)worker;
	mysql_thread_end();
}

const workpool_hooks my_thread_hooks = { my_thread_start, my_thread_stop };
