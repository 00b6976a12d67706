#include "engines/mysql/mysql_keys.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/mem.h"

static int has_prefix(const char *s, size_t n, const char *p)
{
	size_t pl = strlen(p);
	return n >= pl && memcmp(s, p, pl) == 0;
}

static const char *find_in(const char *s, size_t n, const char *needle)
{
	size_t nl = strlen(needle);
	for (size_t i = 0; i + nl <= n; i++)
		if (memcmp(s + i, needle, nl) == 0)
			return s + i;
	return NULL;
}

/* A `quoted` identifier at p (`` stands for `): malloc'ed, *after past it; NULL if none. */
static char *backquoted(const char *p, const char *end, const char **after)
{
	if (p >= end || *p != '`')
		return NULL;
	strbuf b;
	strbuf_init(&b);
	for (p++; p < end; p++) {
		if (*p == '`' && p + 1 < end && p[1] == '`') {
			strbuf_append(&b, "`", 1);
			p++;
		} else if (*p == '`') {
			*after = p + 1;
			return b.data ? strbuf_detach(&b) : xstrdup("");
		} else {
			strbuf_append(&b, p, 1);
		}
	}
	strbuf_free(&b);
	return NULL;
}

/* The first column of "KEY `name` (`col`...": malloc'ed, NULL if not of that shape. */
static char *key_first_column(const char *line, size_t n)
{
	const char *end = line + n;
	const char *p = line + strlen("  KEY ");
	char *name = backquoted(p, end, &p);
	if (name == NULL)
		return NULL;
	free(name);
	if (p + 2 > end || p[0] != ' ' || p[1] != '(')
		return NULL;
	p += 2;
	if (p < end && *p == '(')
		return xstrdup(""); /* a functional key part: no plain column */
	return backquoted(p, end, &p);
}

/*
 * A "CONSTRAINT `name` FOREIGN KEY (...) REFERENCES `table` (...)" line whose
 * table is of the same database (SHOW CREATE TABLE names another's database
 * as `db`.`table`): the database's restore creates every table before any
 * ALTER of the data stage, so the constraint can come after the load.
 */
static int local_foreign_key(const char *line, size_t n)
{
	const char *end = line + n;
	const char *r = find_in(line, n, " FOREIGN KEY (");
	const char *ref = r ? find_in(r, (size_t)(end - r), ") REFERENCES `") : NULL;
	if (ref == NULL)
		return 0;
	const char *after = end;
	char *name = backquoted(ref + strlen(") REFERENCES "), end, &after);
	int local = name != NULL && after + 2 <= end && after[0] == ' ' && after[1] == '(';
	free(name);
	return local;
}

/* One line without its trailing separator comma. */
static size_t content_len(const char *line, size_t n)
{
	return n > 0 && line[n - 1] == ',' ? n - 1 : n;
}

int my_keys_split(const char *sql, const char *table, char *const *referenced, size_t n_referenced,
		  char **create, char **add_keys)
{
	*create = *add_keys = NULL;
	for (size_t i = 0; i < n_referenced; i++)
		if (strcasecmp(referenced[i], table) == 0)
			return 0;
	const char *end = sql + strlen(sql);
	const char *nl = memchr(sql, '\n', (size_t)(end - sql));
	if (nl == NULL || !has_prefix(sql, (size_t)(nl - sql), "CREATE TABLE `") || nl[-1] != '(')
		return 0;
	/* pass 1: the body's lines, checked; the closing line; the AUTO_INCREMENT column */
	const char *body = nl + 1, *close = NULL;
	char *auto_col = NULL;
	size_t n_keys = 0, n_fks = 0;
	int ok = 1;
	for (const char *p = body; p < end && ok;) {
		const char *e = memchr(p, '\n', (size_t)(end - p));
		size_t n = e ? (size_t)(e - p) : (size_t)(end - p);
		if (has_prefix(p, n, ")")) {
			close = p;
			break;
		}
		if (has_prefix(p, n, "  `")) {
			const char *after;
			char *col = backquoted(p + 2, p + n, &after);
			if (col && find_in(p, n, " AUTO_INCREMENT") && auto_col == NULL)
				auto_col = col;
			else
				free(col);
			ok = col != NULL;
		} else if (has_prefix(p, n, "  KEY `")) {
			n_keys++;
		} else if (has_prefix(p, n, "  PRIMARY KEY ") || has_prefix(p, n, "  UNIQUE KEY `")) {
			/* stays */
		} else if (has_prefix(p, n, "  CONSTRAINT `") && !find_in(p, n, " FOREIGN KEY ")) {
			/* a CHECK constraint stays */
		} else if (has_prefix(p, n, "  CONSTRAINT `") && local_foreign_key(p, n)) {
			n_fks++;
		} else {
			ok = 0; /* another database's FOREIGN KEY, FULLTEXT, SPATIAL, or a line not understood */
		}
		p = e ? e + 1 : end;
	}
	if (!ok || close == NULL || n_keys + n_fks == 0 || !find_in(close, (size_t)(end - close), " ENGINE=InnoDB")) {
		free(auto_col);
		return 0;
	}
	/*
	 * pass 2: the statement without the plain keys (but one AUTO_INCREMENT
	 * needs) and foreign keys; the keys come first in the ALTER, so that
	 * InnoDB finds each foreign key's index instead of making one of its own.
	 */
	strbuf cr, add, fks;
	strbuf_init(&cr);
	strbuf_init(&add);
	strbuf_init(&fks);
	strbuf_append(&cr, sql, (size_t)(body - sql));
	int first = 1;
	for (const char *p = body; p < close;) {
		const char *e = memchr(p, '\n', (size_t)(close - p));
		size_t n = (size_t)(e - p);
		size_t cl = content_len(p, n);
		int move = 0;
		if (has_prefix(p, n, "  KEY `")) {
			char *c1 = key_first_column(p, n);
			move = c1 != NULL && !(auto_col && strcmp(c1, auto_col) == 0);
			free(c1);
		}
		if (has_prefix(p, n, "  CONSTRAINT `") && find_in(p, n, " FOREIGN KEY ")) {
			strbuf_appendf(&fks, "%sADD %.*s", fks.len ? ", " : "", (int)(cl - 2), p + 2);
		} else if (move) {
			strbuf_appendf(&add, "%sADD %.*s", add.len ? ", " : "", (int)(cl - 2), p + 2);
		} else {
			if (!first)
				strbuf_appends(&cr, ",\n");
			strbuf_append(&cr, p, cl);
			first = 0;
		}
		p = e + 1;
	}
	free(auto_col);
	if (fks.len)
		strbuf_appendf(&add, "%s%s", add.len ? ", " : "", fks.data);
	strbuf_free(&fks);
	if (add.len == 0 || first) {
		strbuf_free(&cr);
		strbuf_free(&add);
		return 0;
	}
	strbuf_appends(&cr, "\n");
	strbuf_append(&cr, close, (size_t)(end - close));
	*create = strbuf_detach(&cr);
	*add_keys = strbuf_detach(&add);
	return 1;
}

void my_keys_referenced(const char *sql, char ***names, size_t *n)
{
	const char *end = sql + strlen(sql);
	for (const char *p = sql; p < end;) {
		const char *e = memchr(p, '\n', (size_t)(end - p));
		size_t len = e ? (size_t)(e - p) : (size_t)(end - p);
		const char *r = find_in(p, len, " FOREIGN KEY ") ? find_in(p, len, " REFERENCES `") : NULL;
		if (r != NULL) {
			const char *q = r + strlen(" REFERENCES ");
			char *name = backquoted(q, p + len, &q);
			if (name && q < p + len && *q == '.') {
				free(name); /* `db`.`table` */
				name = backquoted(q + 1, p + len, &q);
			}
			if (name) {
				*names = xrealloc(*names, (*n + 1) * sizeof **names);
				(*names)[(*n)++] = name;
			}
		}
		p = e ? e + 1 : end;
	}
}
