#include "engines/pg/pg_subset.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/mem.h"
#include "engines/pg/pg_sql_filter.h"

typedef struct entry {
	char *name;
	char *type;
	char *schema;
} entry;

static void entry_clear(entry *e)
{
	free(e->name);
	free(e->type);
	free(e->schema);
	memset(e, 0, sizeof *e);
}

/* One "Key: value" field of a header line, up to "; " or the end of the line. */
static char *field(const char *line, size_t n, const char *key)
{
	size_t kl = strlen(key);
	for (size_t i = 0; i + kl <= n; i++) {
		if ((i == 0 || (i >= 2 && line[i - 2] == ';' && line[i - 1] == ' ')) &&
		    strncmp(line + i, key, kl) == 0) {
			size_t j = i + kl;
			size_t k = j;
			while (k < n && !(line[k] == ';' && k + 1 < n && line[k + 1] == ' '))
				k++;
			return xstrndup(line + j, k - j);
		}
	}
	return NULL;
}

/* The last entry header in sql[from, to) into *e (unchanged when there is none: returns 0). */
static int track_header(const char *sql, size_t from, size_t to, entry *e)
{
	static const char head[] = "-- Name: ";
	const char *last = NULL;
	for (size_t i = from; i + sizeof head - 1 <= to; i++)
		if ((i == 0 || sql[i - 1] == '\n') && strncmp(sql + i, head, sizeof head - 1) == 0)
			last = sql + i + 3;
	if (last == NULL)
		return 0;
	const char *eol = memchr(last, '\n', (size_t)(sql + to - last));
	size_t n = eol ? (size_t)(eol - last) : (size_t)(sql + to - last);
	entry_clear(e);
	e->name = field(last, n, "Name: ");
	e->type = field(last, n, "Type: ");
	e->schema = field(last, n, "Schema: ");
	return 1;
}

/* ---- names inside statements ---- */

static int ident_char(unsigned char c)
{
	return isalnum(c) || c == '_' || c == '$' || c >= 0x80;
}

/* One identifier at s[*i] (quoted or not) into a new string, or NULL. */
static char *ident(const char *s, size_t n, size_t *i)
{
	size_t p = *i;
	if (p < n && s[p] == '"') {
		strbuf b;
		strbuf_init(&b);
		for (p++; p < n; p++) {
			if (s[p] == '"') {
				if (p + 1 < n && s[p + 1] == '"') {
					strbuf_append(&b, "\"", 1);
					p++;
					continue;
				}
				*i = p + 1;
				return strbuf_detach(&b);
			}
			strbuf_append(&b, s + p, 1);
		}
		strbuf_free(&b);
		return NULL;
	}
	size_t start = p;
	while (p < n && ident_char((unsigned char)s[p]))
		p++;
	if (p == start)
		return NULL;
	*i = p;
	return xstrndup(s + start, p - start);
}

/* "schema.name" at s[i]; 0 on success. */
static int qualified(const char *s, size_t n, size_t i, char **schema, char **name)
{
	*schema = ident(s, n, &i);
	if (*schema == NULL || i >= n || s[i] != '.') {
		free(*schema);
		*schema = NULL;
		return -1;
	}
	i++;
	*name = ident(s, n, &i);
	if (*name == NULL) {
		free(*schema);
		*schema = NULL;
		return -1;
	}
	return 0;
}

/* The qualified name after the first keyword kw (case-insensitive, whole word) in s[0..n). */
static int name_after(const char *s, size_t n, const char *kw, char **schema, char **name)
{
	size_t kl = strlen(kw);
	for (size_t i = 0; i + kl < n; i++) {
		if (strncasecmp(s + i, kw, kl) != 0 || (i > 0 && ident_char((unsigned char)s[i - 1])) ||
		    ident_char((unsigned char)s[i + kl]))
			continue;
		size_t p = i + kl;
		while (p < n && isspace((unsigned char)s[p]))
			p++;
		if (p + 4 < n && strncasecmp(s + p, "ONLY", 4) == 0 && isspace((unsigned char)s[p + 4])) {
			p += 4;
			while (p < n && isspace((unsigned char)s[p]))
				p++;
		}
		return qualified(s, n, p, schema, name);
	}
	return -1;
}

/* ---- deciding ---- */

static int type_is(const entry *e, const char *const *types)
{
	for (; *types; types++)
		if (strcmp(e->type, *types) == 0)
			return 1;
	return 0;
}

/* The relation "TABLE x", "COLUMN x.y", "CONSTRAINT c ON x" of a COMMENT/ACL/SECURITY LABEL names. */
static char *commented_relation(const char *name)
{
	static const char *const rel_kinds[] = { "TABLE ", "VIEW ", "MATERIALIZED VIEW ", "FOREIGN TABLE ",
						 "SEQUENCE ", NULL };
	for (const char *const *k = rel_kinds; *k; k++)
		if (strncmp(name, *k, strlen(*k)) == 0)
			return strcmp(*k, "SEQUENCE ") == 0 ? NULL : xstrdup(name + strlen(*k));
	if (strncmp(name, "COLUMN ", 7) == 0) {
		const char *dot = strchr(name + 7, '.');
		return dot ? xstrndup(name + 7, (size_t)(dot - name - 7)) : NULL;
	}
	static const char *const on_kinds[] = { "CONSTRAINT ", "TRIGGER ", "POLICY ", "RULE ", NULL };
	for (const char *const *k = on_kinds; *k; k++) {
		if (strncmp(name, *k, strlen(*k)) == 0) {
			const char *on = strstr(name, " ON ");
			return on ? xstrdup(on + 4) : NULL;
		}
	}
	return NULL;
}

static const char *const relations[] = { "TABLE", "VIEW", "MATERIALIZED VIEW", "FOREIGN TABLE",
					 "MATERIALIZED VIEW DATA", "TABLE ATTACH", NULL };

/* 1: keep the statement stmt[0..n) of entry e; 0: drop it (see pg_subset.h). */
static int keeps(const table_filter *f, const entry *e, const char *stmt, size_t n)
{
	static const char *const on_relation[] = { "DEFAULT", "CONSTRAINT", "FK CONSTRAINT",
						   "CHECK CONSTRAINT", "TRIGGER", "POLICY", "RULE",
						   "ROW SECURITY", NULL };
	static const char *const about[] = { "COMMENT", "ACL", "SECURITY LABEL", NULL };
	if (e->type == NULL || e->name == NULL)
		return 1; /* before the first header: the session's settings */
	/*
	 * pg_dump writes "SET default_tablespace = ..." (and the table access
	 * method) where the setting changes, after the entry before: the
	 * entries after it need it, whatever happens to that one.
	 */
	if (n > 4 && strncasecmp(stmt, "SET ", 4) == 0)
		return 1;
	const char *schema = e->schema ? e->schema : "-";
	char *rs = NULL, *rt = NULL;
	int decided = 1, keep = 1;
	if (type_is(e, relations)) {
		rs = xstrdup(schema);
		rt = xstrdup(e->name);
	} else if (type_is(e, on_relation)) {
		/* the statement names the table exactly; the header's "table name" is ambiguous with spaces */
		if (name_after(stmt, n, "ALTER TABLE", &rs, &rt) != 0 && name_after(stmt, n, " ON", &rs, &rt) != 0 &&
		    name_after(stmt, n, " TO", &rs, &rt) != 0) {
			rs = xstrdup(schema);
			rt = xstrndup(e->name, strcspn(e->name, " "));
		}
	} else if (type_is(e, about) && (rt = commented_relation(e->name)) != NULL) {
		rs = xstrdup(schema);
	} else if (strcmp(e->type, "INDEX") == 0 || strcmp(e->type, "INDEX ATTACH") == 0) {
		if (name_after(stmt, n, " ON", &rs, &rt) != 0 && name_after(stmt, n, "ATTACH PARTITION", &rs, &rt) != 0)
			decided = 0;
	} else if (strcmp(e->type, "STATISTICS") == 0) {
		if (name_after(stmt, n, "FROM", &rs, &rt) != 0)
			decided = 0;
	} else if (strcmp(e->type, "SEQUENCE OWNED BY") == 0) {
		if (name_after(stmt, n, "OWNED BY", &rs, &rt) != 0)
			decided = 0;
	} else if (strcmp(e->type, "SEQUENCE") == 0 && n > 11 && strncasecmp(stmt, "ALTER TABLE", 11) == 0) {
		/* an identity column's sequence is made by its table */
		if (name_after(stmt, n, "ALTER TABLE", &rs, &rt) != 0)
			decided = 0;
	} else {
		decided = 0;
	}
	if (rs && rt) {
		keep = table_filter_selects(f, rs, rt);
	} else if (strcmp(e->type, "SCHEMA") == 0) {
		keep = table_filter_keeps_schema(f, e->name);
	} else if (type_is(e, about) && strncmp(e->name, "SCHEMA ", 7) == 0) {
		keep = table_filter_keeps_schema(f, e->name + 7); /* goes with its schema */
	} else if (!decided || strcmp(schema, "-") != 0) {
		keep = strcmp(schema, "-") == 0 || table_filter_keeps_schema(f, schema);
	}
	free(rs);
	free(rt);
	return keep;
}

size_t pg_subset_filter(const table_filter *f, char *sql, size_t *len)
{
	if (table_filter_empty(f))
		return 0;
	entry e = { 0 };
	pg_sql_iter it;
	pg_sql_piece p;
	size_t out = 0, copied_to = 0, dropped = 0;
	pg_sql_iter_init(&it, sql, *len);
	/* writes stay behind reads: sql is rewritten in place */
	while (pg_sql_iter_next(&it, &p)) {
		track_header(sql, p.lead, p.start, &e);
		if (p.kind != PG_SQL_STATEMENT || keeps(f, &e, sql + p.start, p.end - p.start))
			continue;
		/* drop [lead, end): the statement and the comments before it (its header) */
		memmove(sql + out, sql + copied_to, p.lead - copied_to);
		out += p.lead - copied_to;
		copied_to = p.end;
		dropped++;
	}
	memmove(sql + out, sql + copied_to, *len - copied_to);
	out += *len - copied_to;
	*len = out;
	entry_clear(&e);
	return dropped;
}

int pg_subset_check_keys(const table_filter *f, const char *sql, size_t len, bderr *err)
{
	if (table_filter_empty(f))
		return 0;
	entry e = { 0 };
	pg_sql_iter it;
	pg_sql_piece p;
	int rc = 0;
	pg_sql_iter_init(&it, sql, len);
	while (rc == 0 && pg_sql_iter_next(&it, &p)) {
		track_header(sql, p.lead, p.start, &e);
		if (p.kind != PG_SQL_STATEMENT || e.type == NULL || strcmp(e.type, "FK CONSTRAINT") != 0 ||
		    !keeps(f, &e, sql + p.start, p.end - p.start))
			continue;
		char *rs = NULL, *rt = NULL;
		if (name_after(sql + p.start, p.end - p.start, "REFERENCES", &rs, &rt) == 0 &&
		    !table_filter_selects(f, rs, rt))
			rc = bderr_usage(err,
					 "table %s.%.*s has a foreign key (%s) to %s.%s, which the restore leaves out: restore both tables, or neither",
					 e.schema ? e.schema : "?", (int)strcspn(e.name, " "), e.name,
					 e.name + strcspn(e.name, " ") + (e.name[strcspn(e.name, " ")] ? 1 : 0),
					 rs, rt);
		free(rs);
		free(rt);
	}
	entry_clear(&e);
	return rc;
}

int pg_subset_check_patterns(const table_filter *f, const char *sql, size_t len, bderr *err)
{
	if (!table_filter_has(f, TF_INCLUDE_TABLE) && !table_filter_has(f, TF_INCLUDE_SCHEMA))
		return 0;
	entry e = { 0 };
	pg_sql_iter it;
	pg_sql_piece p;
	char **schemas = NULL, **tables = NULL;
	size_t n = 0;
	pg_sql_iter_init(&it, sql, len);
	while (pg_sql_iter_next(&it, &p)) {
		/* each entry once: at its first statement */
		if (p.kind != PG_SQL_STATEMENT || !track_header(sql, p.lead, p.start, &e) || e.type == NULL ||
		    e.name == NULL)
			continue;
		int rel = type_is(&e, relations) && e.schema != NULL;
		if (!rel && strcmp(e.type, "SCHEMA") != 0)
			continue;
		schemas = xrealloc(schemas, (n + 1) * sizeof *schemas);
		tables = xrealloc(tables, (n + 1) * sizeof *tables);
		schemas[n] = xstrdup(rel ? e.schema : e.name);
		tables[n] = rel ? xstrdup(e.name) : NULL;
		n++;
	}
	entry_clear(&e);
	static const struct {
		table_filter_list list;
		const char *option, *what;
	} includes[] = { { TF_INCLUDE_TABLE, "--table", "table" }, { TF_INCLUDE_SCHEMA, "--schema", "schema" } };
	int rc = 0;
	char buf[512];
	for (size_t i = 0; rc == 0 && i < sizeof includes / sizeof includes[0]; i++) {
		const char *miss = table_filter_unmatched(f, includes[i].list, (const char *const *)schemas,
							  (const char *const *)tables, n, buf, sizeof buf);
		if (miss)
			rc = bderr_usage(err, "%s '%s' matches no %s of the backup: nothing of it would be restored",
					 includes[i].option, miss, includes[i].what);
	}
	for (size_t i = 0; i < n; i++) {
		free(schemas[i]);
		free(tables[i]);
	}
	free(schemas);
	free(tables);
	return rc;
}
