#include "engines/pg/pg_target.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/mem.h"
#include "engines/pg/pgconn.h"

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

pg_target *pg_target_new(int server_num, const char *const *names, size_t n)
{
	pg_target *t = xcalloc(1, sizeof *t);
	t->server_num = server_num;
	t->settings = xcalloc(n + 1, sizeof *t->settings);
	for (size_t i = 0; i < n; i++) {
		char *s = xstrdup(names[i]);
		for (char *p = s; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		t->settings[t->n_settings++] = s;
	}
	qsort(t->settings, t->n_settings, sizeof *t->settings, cmp_name);
	return t;
}

void pg_target_free(pg_target *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->n_settings; i++)
		free(t->settings[i]);
	free(t->settings);
	free(t);
}

int pg_target_load(PGconn *c, pg_target **out, bderr *err)
{
	PGresult *r;
	if (pg_query(c, "SELECT name FROM pg_catalog.pg_settings", "cannot read the target's settings", &r,
		     err) != 0)
		return -1;
	size_t n = (size_t)PQntuples(r);
	const char **names = xcalloc(n + 1, sizeof *names);
	for (size_t i = 0; i < n; i++)
		names[i] = PQgetvalue(r, (int)i, 0);
	*out = pg_target_new(PQserverVersion(c), names, n);
	free(names);
	PQclear(r);
	return 0;
}

int pg_target_knows(const pg_target *t, const char *name, size_t n)
{
	if (memchr(name, '.', n) != NULL)
		return 1; /* a placeholder for an extension's parameter: every server accepts it */
	char key[128];
	if (n == 0 || n >= sizeof key)
		return 1; /* not a name we would leave out: let the server judge it */
	for (size_t i = 0; i < n; i++)
		key[i] = (char)tolower((unsigned char)name[i]);
	key[n] = '\0';
	const char *k = key;
	return bsearch(&k, t->settings, t->n_settings, sizeof *t->settings, cmp_name) != NULL;
}

static int is_ident_char(char ch)
{
	return isalnum((unsigned char)ch) || ch == '_' || ch == '.';
}

static size_t skip_space(const char *s, size_t i, size_t n)
{
	while (i < n && isspace((unsigned char)s[i]))
		i++;
	return i;
}

/* Matches a keyword (case-insensitive) followed by a non-identifier character. */
static int keyword(const char *s, size_t *i, size_t n, const char *kw)
{
	size_t l = strlen(kw);
	if (*i + l > n || strncasecmp(s + *i, kw, l) != 0)
		return 0;
	if (*i + l < n && is_ident_char(s[*i + l]))
		return 0;
	*i += l;
	return 1;
}

int pg_target_skips(const pg_target *t, const char *s, size_t n, const char **name, size_t *name_len)
{
	size_t i = skip_space(s, 0, n);
	size_t start, len;
	if (keyword(s, &i, n, "SET")) {
		i = skip_space(s, i, n);
		if (keyword(s, &i, n, "SESSION") || keyword(s, &i, n, "LOCAL")) {
			i = skip_space(s, i, n);
			size_t k = i;
			if (keyword(s, &k, n, "AUTHORIZATION") || keyword(s, &k, n, "CHARACTERISTICS"))
				return 0;
		}
		start = i;
		while (i < n && is_ident_char(s[i]))
			i++;
		len = i - start;
		i = skip_space(s, i, n);
		if (len == 0 || i >= n || !(s[i] == '=' || keyword(s, &i, n, "TO")))
			return 0;
	} else if (keyword(s, &i, n, "SELECT")) {
		i = skip_space(s, i, n);
		if (!keyword(s, &i, n, "pg_catalog.set_config") && !keyword(s, &i, n, "set_config"))
			return 0;
		i = skip_space(s, i, n);
		if (i >= n || s[i] != '(')
			return 0;
		i = skip_space(s, i + 1, n);
		if (i >= n || s[i] != '\'')
			return 0;
		start = ++i;
		while (i < n && is_ident_char(s[i]))
			i++;
		len = i - start;
		if (len == 0 || i >= n || s[i] != '\'')
			return 0;
	} else {
		return 0;
	}
	/* one statement only: nothing after its terminating ';' */
	const char *semi = memchr(s + i, ';', n - i);
	if (semi == NULL || skip_space(s, (size_t)(semi - s) + 1, n) != n)
		return 0;
	if (pg_target_knows(t, s + start, len))
		return 0;
	*name = s + start;
	*name_len = len;
	return 1;
}

char *pg_target_unknown_option(const char *message)
{
	static const char key[] = "unrecognized parameter \"";
	const char *p = message ? strstr(message, key) : NULL;
	if (p == NULL)
		return NULL;
	p += sizeof key - 1;
	size_t len = 0;
	while (p[len] && (isalnum((unsigned char)p[len]) || p[len] == '_' || p[len] == '.'))
		len++;
	if (len == 0 || p[len] != '"')
		return NULL;
	return xstrndup(p, len);
}

char *pg_target_drop_option(const char *s, size_t n, const char *name)
{
	size_t i = skip_space(s, 0, n);
	if (!keyword(s, &i, n, "ALTER"))
		return NULL;
	i = skip_space(s, i, n);
	if (!keyword(s, &i, n, "TABLE") && !keyword(s, &i, n, "INDEX") && !keyword(s, &i, n, "MATERIALIZED"))
		return NULL;
	/* the last "SET (" opens the option list; it runs to the matching ")" */
	const char *open = NULL;
	for (size_t k = i; k + 4 < n; k++)
		if (strncasecmp(s + k, "SET (", 5) == 0)
			open = s + k + 4;
	if (open == NULL)
		return NULL;
	size_t start = (size_t)(open - s) + 1, end = start;
	int quoted = 0;
	while (end < n && (quoted || s[end] != ')')) {
		if (s[end] == '\'')
			quoted = !quoted;
		end++;
	}
	if (end >= n)
		return NULL;
	/* the rest after ")" must be only the terminating ';' */
	size_t after = skip_space(s, end + 1, n);
	if (after < n && s[after] == ';')
		after = skip_space(s, after + 1, n);
	if (after != n)
		return NULL;
	strbuf kept;
	strbuf_init(&kept);
	int dropped = 0;
	size_t k = start;
	while (k < end) {
		size_t e = k;
		quoted = 0;
		while (e < end && (quoted || s[e] != ',')) {
			if (s[e] == '\'')
				quoted = !quoted;
			e++;
		}
		size_t a = skip_space(s, k, e), b = a;
		while (b < e && (isalnum((unsigned char)s[b]) || s[b] == '_' || s[b] == '.'))
			b++;
		if (b - a == strlen(name) && strncasecmp(s + a, name, b - a) == 0) {
			dropped = 1;
		} else {
			if (kept.len)
				strbuf_appends(&kept, ",");
			strbuf_append(&kept, s + k, e - k);
		}
		k = e + 1;
	}
	if (!dropped) {
		strbuf_free(&kept);
		return NULL;
	}
	if (kept.len == 0) {
		strbuf_free(&kept);
		return xstrdup("");
	}
	char *out = xasprintf("%.*s(%s);", (int)(start - 1), s, kept.data);
	strbuf_free(&kept);
	return out;
}

int pg_target_check_major(const pg_target *t, long source_num, const char *what, bderr *err)
{
	long src_major = source_num / 10000, dst_major = t->server_num / 10000;
	if (source_num <= 0 || src_major <= dst_major)
		return 0;
	return bderr_set(err,
			 "%s is of PostgreSQL %ld and the target runs PostgreSQL %ld: loading into an older major is not supported (use a target of PostgreSQL %ld or newer)",
			 what, src_major, dst_major, src_major);
}
