#include "engines/pg/pg_sql_filter.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/mem.h"

static int is_ident_char(char c)
{
	return isalnum((unsigned char)c) || c == '_' || (unsigned char)c >= 0x80;
}

/* Length of a dollar-quote tag "$tag$" starting at s[i], or 0 when none. */
static size_t dollar_tag(const char *s, size_t i, size_t len)
{
	if (i > 0 && (is_ident_char(s[i - 1]) || s[i - 1] == '$'))
		return 0; /* $1 parameters, identifiers containing $ */
	size_t j = i + 1;
	if (j < len && isdigit((unsigned char)s[j]))
		return 0;
	while (j < len && is_ident_char(s[j]))
		j++;
	if (j < len && s[j] == '$')
		return j - i + 1;
	return 0;
}

/*
 * End (index after ';', or len) of the statement that starts at i.  With
 * meta not NULL, a backslash outside quotes and comments (where psql would
 * start a meta-command) ends the scan there: *meta gets its index, else len.
 */
static size_t statement_end(const char *s, size_t i, size_t len, size_t *meta)
{
	if (meta)
		*meta = len;
	while (i < len) {
		char c = s[i];
		if (c == ';')
			return i + 1;
		if (c == '\\' && meta) {
			*meta = i;
			return i;
		}
		if (c == '-' && i + 1 < len && s[i + 1] == '-') {
			while (i < len && s[i] != '\n')
				i++;
		} else if (c == '/' && i + 1 < len && s[i + 1] == '*') {
			int depth = 1;
			i += 2;
			while (i < len && depth > 0) {
				if (s[i] == '/' && i + 1 < len && s[i + 1] == '*') {
					depth++;
					i += 2;
				} else if (s[i] == '*' && i + 1 < len && s[i + 1] == '/') {
					depth--;
					i += 2;
				} else {
					i++;
				}
			}
		} else if (c == '\'' || c == '"') {
			/* E'...' strings take backslash escapes */
			int backslash = c == '\'' && i > 0 && (s[i - 1] == 'E' || s[i - 1] == 'e') &&
					(i < 2 || !is_ident_char(s[i - 2]));
			i++;
			while (i < len) {
				if (backslash && s[i] == '\\' && i + 1 < len) {
					i += 2;
					continue;
				}
				if (s[i] == c) {
					if (i + 1 < len && s[i + 1] == c) {
						i += 2; /* doubled quote */
						continue;
					}
					break;
				}
				i++;
			}
			i++;
		} else if (c == '$') {
			size_t t = dollar_tag(s, i, len);
			if (t == 0) {
				i++;
				continue;
			}
			const char *tag = s + i;
			i += t;
			while (i < len && !(s[i] == '$' && i + t <= len && memcmp(s + i, tag, t) == 0))
				i++;
			i += t;
		} else {
			i++;
		}
	}
	return len;
}

/* Skips whitespace and comments; returns the first significant index. */
static size_t skip_blank(const char *s, size_t i, size_t end)
{
	for (;;) {
		while (i < end && isspace((unsigned char)s[i]))
			i++;
		if (i + 1 < end && s[i] == '-' && s[i + 1] == '-') {
			while (i < end && s[i] != '\n')
				i++;
		} else if (i + 1 < end && s[i] == '/' && s[i + 1] == '*') {
			const char *close = NULL;
			for (size_t j = i + 2; j + 1 < end; j++)
				if (s[j] == '*' && s[j + 1] == '/') {
					close = s + j;
					break;
				}
			if (close == NULL)
				return end;
			i = (size_t)(close - s) + 2;
		} else {
			return i;
		}
	}
}

static int starts_with_word(const char *s, size_t n, const char *word)
{
	size_t w = strlen(word);
	return n > w && strncasecmp(s, word, w) == 0 && isspace((unsigned char)s[w]);
}

/* "ALTER <anything> OWNER TO <role>;" with the role last. */
static int is_owner_statement(const char *s, size_t n)
{
	if (!starts_with_word(s, n, "ALTER") || n < 2 || s[n - 1] != ';')
		return 0;
	static const char key[] = " OWNER TO ";
	size_t k = sizeof key - 1;
	for (size_t i = n - 1; i-- > 6;) {
		if (i + k <= n && strncasecmp(s + i, key, k) == 0) {
			/* what follows must be a single role name, plain or quoted */
			size_t j = i + k;
			if (j < n && s[j] == '"') {
				j++;
				while (j < n && !(s[j] == '"' && (j + 1 >= n || s[j + 1] != '"')))
					j += s[j] == '"' ? 2 : 1;
				j++;
			} else {
				while (j < n && is_ident_char(s[j]))
					j++;
			}
			return j == n - 1;
		}
	}
	return 0;
}

static int is_privilege_statement(const char *s, size_t n)
{
	if (starts_with_word(s, n, "GRANT") || starts_with_word(s, n, "REVOKE"))
		return 1;
	if (!starts_with_word(s, n, "ALTER"))
		return 0;
	size_t i = skip_blank(s, 5, n);
	return starts_with_word(s + i, n - i, "DEFAULT") &&
	       (i = skip_blank(s, i + 7, n), starts_with_word(s + i, n - i, "PRIVILEGES"));
}

size_t pg_sql_filter(char *sql, size_t *len, int drop)
{
	size_t in = 0, out = 0, dropped = 0, n = *len;
	while (in < n) {
		size_t start = skip_blank(sql, in, n);
		size_t end = statement_end(sql, start, n, NULL);
		int remove = start < end &&
			     (((drop & SQL_DROP_OWNER) && is_owner_statement(sql + start, end - start)) ||
			      ((drop & SQL_DROP_PRIVILEGES) && is_privilege_statement(sql + start, end - start)));
		if (remove) {
			/* keep what stood before the statement, drop it and its line end */
			memmove(sql + out, sql + in, start - in);
			out += start - in;
			in = end;
			if (in < n && sql[in] == '\n')
				in++;
			dropped++;
		} else {
			memmove(sql + out, sql + in, end - in);
			out += end - in;
			in = end;
		}
	}
	*len = out;
	return dropped;
}

void pg_sql_iter_init(pg_sql_iter *it, const char *sql, size_t len)
{
	it->sql = sql;
	it->len = len;
	it->pos = 0;
	it->line = 1;
	it->line_pos = 0;
}

/* Advances the line count to index upto. */
static void count_lines(pg_sql_iter *it, size_t upto)
{
	for (; it->line_pos < upto; it->line_pos++)
		if (it->sql[it->line_pos] == '\n')
			it->line++;
}

int pg_sql_iter_next(pg_sql_iter *it, pg_sql_piece *out)
{
	const char *s = it->sql;
	size_t start = skip_blank(s, it->pos, it->len);
	if (start >= it->len) {
		it->pos = it->len;
		return 0;
	}
	size_t meta = it->len;
	size_t end = statement_end(s, start, it->len, &meta);
	memset(out, 0, sizeof *out);
	out->lead = it->pos;
	if (meta < it->len) {
		/* psql reads a meta-command up to the end of its line */
		const char *nl = memchr(s + meta, '\n', it->len - meta);
		out->kind = PG_SQL_META;
		out->inside_statement = meta > start;
		out->start = meta;
		out->end = nl ? (size_t)(nl - s) : it->len;
		it->pos = nl ? out->end + 1 : it->len;
	} else {
		out->kind = PG_SQL_STATEMENT;
		out->start = start;
		out->end = end;
		it->pos = end;
	}
	count_lines(it, out->start);
	out->line = it->line;
	return 1;
}

/* pg_dump's key: letters and digits only (pg_dump 17.6/16.10/15.14 and later) */
static int restrict_key_ok(const char *k, size_t n)
{
	if (n == 0 || n > 256)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)k[i]))
			return 0;
	return 1;
}

int pg_sql_is_restrict_line(const char *line, size_t n)
{
	static const char *const words[] = { "\\restrict ", "\\unrestrict " };
	for (size_t w = 0; w < sizeof words / sizeof *words; w++) {
		size_t wl = strlen(words[w]);
		if (n > wl && memcmp(line, words[w], wl) == 0)
			return restrict_key_ok(line + wl, n - wl);
	}
	return 0;
}

/* The value of "Key: value" up to ';' or the end of the line, or NULL. */
static const char *header_field(const char *line, size_t n, const char *key, size_t *vlen)
{
	size_t kl = strlen(key);
	for (size_t i = 0; i + kl <= n; i++)
		if (memcmp(line + i, key, kl) == 0 && (i == 0 || line[i - 1] == ' ')) {
			const char *v = line + i + kl;
			size_t left = n - i - kl;
			const char *semi = memchr(v, ';', left);
			*vlen = semi ? (size_t)(semi - v) : left;
			return v;
		}
	return NULL;
}

void pg_sql_track_entry(const char *sql, size_t from, size_t to, char **entry)
{
	static const char head[] = "-- Name: ";
	size_t hl = sizeof head - 1;
	for (size_t i = from; i < to; i++) {
		if (i > 0 && sql[i - 1] != '\n')
			continue;
		const char *nl = memchr(sql + i, '\n', to - i);
		size_t n = nl ? (size_t)(nl - (sql + i)) : to - i;
		if (n > hl && memcmp(sql + i, head, hl) == 0) {
			const char *line = sql + i;
			size_t tl = 0, sl = 0;
			const char *type = header_field(line, n, "Type: ", &tl);
			const char *schema = header_field(line, n, "Schema: ", &sl);
			const char *name = line + hl;
			size_t nml = 0;
			while (nml < n - hl && name[nml] != ';')
				nml++;
			int with_schema = schema && !(sl == 1 && schema[0] == '-');
			char buf[512];
			snprintf(buf, sizeof buf, "%.*s%s%.*s%s%.*s", type ? (int)tl : 0, type ? type : "",
				 type ? " " : "", with_schema ? (int)sl : 0, with_schema ? schema : "",
				 with_schema ? "." : "", (int)nml, name);
			free(*entry);
			*entry = xstrdup(buf);
		}
		if (nl == NULL)
			break;
		i += n;
	}
}

int pg_sql_check_meta(const char *sql, size_t len, char *what, size_t what_len)
{
	pg_sql_iter it;
	pg_sql_piece p;
	char *entry = NULL;
	int bad = 0;
	pg_sql_iter_init(&it, sql, len);
	while (!bad && pg_sql_iter_next(&it, &p)) {
		pg_sql_track_entry(sql, p.lead, p.start, &entry);
		if (p.kind != PG_SQL_META)
			continue;
		if (!p.inside_statement && (p.start == 0 || sql[p.start - 1] == '\n') &&
		    pg_sql_is_restrict_line(sql + p.start, p.end - p.start))
			continue;
		size_t n = p.end - p.start;
		snprintf(what, what_len, "line %zu%s%s%s: psql meta-command '%.*s%s'", p.line,
			 entry ? " (" : "", entry ? entry : "", entry ? ")" : "", (int)(n > 60 ? 60 : n),
			 sql + p.start, n > 60 ? "..." : "");
		bad = 1;
	}
	free(entry);
	return bad;
}
