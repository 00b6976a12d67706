#include "engines/mysql/myformat.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/mem.h"

/* The second byte of each escape; 0: the byte goes out as is. */
static const char escape_of[256] = {
	[0] = '0', ['\b'] = 'b', ['\n'] = 'n', ['\r'] = 'r', ['\t'] = 't', [0x1a] = 'Z', ['\\'] = '\\',
};

#define ONES UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)

/*
 * Whether any of the 8 bytes in w may need an escape: a byte below 0x20 (all
 * escaped bytes but the backslash are) or a backslash.  False positives only
 * cost the byte-wise path; most text has neither, and is copied 8 bytes at a
 * time.
 */
static int word_may_escape(uint64_t w)
{
	uint64_t below_space = (w - ONES * 0x20) & ~w & HIGHS;
	uint64_t x = w ^ (ONES * '\\');
	uint64_t backslash = (x - ONES) & ~x & HIGHS;
	return (below_space | backslash) != 0;
}

size_t tsv_escape(char *dst, const char *src, size_t n)
{
	char *o = dst;
	const unsigned char *s = (const unsigned char *)src;
	size_t i = 0;
	while (i < n) {
		uint64_t w;
		if (n - i >= sizeof w) {
			memcpy(&w, s + i, sizeof w);
			if (!word_may_escape(w)) {
				memcpy(o, &w, sizeof w);
				o += sizeof w;
				i += sizeof w;
				continue;
			}
		}
		/* byte-wise to the end of this word (or of the input) */
		size_t end = n - i >= sizeof w ? i + sizeof w : n;
		for (; i < end; i++) {
			char e = escape_of[s[i]];
			if (e) {
				*o++ = '\\';
				*o++ = e;
			} else {
				*o++ = (char)s[i];
			}
		}
	}
	return (size_t)(o - dst);
}

size_t tsv_row_size(char *const *row, const unsigned long *len, unsigned nf)
{
	size_t need = (size_t)nf + 1;
	for (unsigned i = 0; i < nf; i++)
		need += row[i] ? 2 * (size_t)len[i] : TSV_NULL_LEN;
	return need;
}

size_t tsv_row(char *dst, char *const *row, const unsigned long *len, unsigned nf)
{
	char *o = dst;
	for (unsigned i = 0; i < nf; i++) {
		if (i)
			*o++ = '\t';
		if (row[i] == NULL) {
			memcpy(o, TSV_NULL, TSV_NULL_LEN);
			o += TSV_NULL_LEN;
		} else {
			o += tsv_escape(o, row[i], len[i]);
		}
	}
	*o++ = '\n';
	return (size_t)(o - dst);
}

int tsv_unescape(const char *src, size_t n, char *dst, size_t *dlen)
{
	if (n == TSV_NULL_LEN && src[0] == '\\' && src[1] == 'N')
		return 1;
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		char c = src[i];
		if (c == '\\' && i + 1 < n) {
			char e = src[++i];
			switch (e) {
			case '0': c = '\0'; break;
			case 'b': c = '\b'; break;
			case 'n': c = '\n'; break;
			case 'r': c = '\r'; break;
			case 't': c = '\t'; break;
			case 'Z': c = 0x1a; break;
			default: c = e; break; /* LOAD DATA: \x is x */
			}
		}
		dst[o++] = c;
	}
	*dlen = o;
	return 0;
}

static int name_keep(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '.' || c == '-';
}

char *my_name_encode(const char *name)
{
	static const char hex[] = "0123456789ABCDEF";
	int only_dots = 1;
	for (const char *p = name; *p; p++)
		only_dots &= *p == '.';
	size_t n = strlen(name);
	char *out = xmalloc(3 * n + 1);
	char *o = out;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		if (name_keep(*p) && !only_dots) {
			*o++ = (char)*p;
		} else {
			*o++ = '%';
			*o++ = hex[*p >> 4];
			*o++ = hex[*p & 15];
		}
	}
	*o = '\0';
	return out;
}

char *my_object_name(const char *db, const char *file, int compressed)
{
	char *enc = my_name_encode(db);
	char *out = xasprintf("%s/%s%s", enc, file, compressed ? ".zst" : "");
	free(enc);
	return out;
}

/* Skips one user or host part: `quoted`, 'quoted', "quoted" or bare; returns the end. */
static const char *skip_account_part(const char *p)
{
	if (*p == '`' || *p == '\'' || *p == '"') {
		char q = *p++;
		while (*p) {
			if (*p == q && p[1] == q) {
				p += 2;
			} else if (*p == q) {
				return p + 1;
			} else if (*p == '\\' && q != '`' && p[1]) {
				p += 2;
			} else {
				p++;
			}
		}
		return p;
	}
	while (*p && *p != '@' && *p != ' ' && *p != '\t' && *p != '\n')
		p++;
	return p;
}

char *my_strip_definer(const char *sql)
{
	/*
	 * SHOW CREATE puts the clause in the statement's head, before the
	 * object's name, so its first occurrence is the clause itself.
	 */
	const char *d = strstr(sql, "DEFINER=");
	if (d == NULL || (d != sql && d[-1] != ' '))
		return xstrdup(sql);
	const char *p = skip_account_part(d + 8);
	if (*p == '@')
		p = skip_account_part(p + 1);
	while (*p == ' ')
		p++;
	size_t head = (size_t)(d - sql);
	char *out = xmalloc(strlen(sql) + 1);
	memcpy(out, sql, head);
	strcpy(out + head, p);
	return out;
}

/* ---- statement files ---- */

static void statement_clear(my_statement *s)
{
	free(s->table);
	free(s->sql_mode);
	free(s->time_zone);
	free(s->character_set_client);
	free(s->collation_connection);
	free(s->database_collation);
	free(s->text);
}

void my_statements_free(my_statements *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->n; i++)
		statement_clear(&s->items[i]);
	free(s->items);
	free(s);
}

static int starts(const char *line, size_t n, const char *prefix)
{
	size_t p = strlen(prefix);
	return n >= p && memcmp(line, prefix, p) == 0;
}

static int is_separator(const char *line, size_t n)
{
	return (n == 12 && memcmp(line, "-- statement", 12) == 0) || starts(line, n, "-- table: ");
}

static void finish_text(my_statement *s, const char *body, size_t n)
{
	while (n > 0 && (body[n - 1] == '\n' || body[n - 1] == ' ' || body[n - 1] == '\r' ||
			 body[n - 1] == '\t'))
		n--;
	if (n > 0 && body[n - 1] == ';')
		n--;
	s->text = xstrndup(body, n);
}

/* "-- length: N" header value: N decimal digits, no more than what is left. */
static int body_length(const char *v, size_t n, size_t left, size_t *out)
{
	size_t len = 0;
	if (n == 0 || n > 12)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return 0;
		len = len * 10 + (size_t)(v[i] - '0');
	}
	if (len > left)
		return 0;
	*out = len;
	return 1;
}

my_statements *my_statements_parse(const char *data, size_t len)
{
	size_t blen = 0;
	my_statements *out = xcalloc(1, sizeof *out);
	size_t cap = 0;
	my_statement *cur = NULL;
	const char *body = NULL;
	int in_headers = 0;
	const char *p = data, *end = data + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *lend = nl ? nl : end;
		size_t n = (size_t)(lend - p);
		const char *next = nl ? nl + 1 : end;
		if (is_separator(p, n)) {
			if (cur)
				finish_text(cur, body ? body : p, body ? (size_t)(p - body) : 0);
			if (out->n == cap) {
				cap = cap ? cap * 2 : 16;
				out->items = xrealloc(out->items, cap * sizeof *out->items);
			}
			cur = &out->items[out->n++];
			memset(cur, 0, sizeof *cur);
			if (starts(p, n, "-- table: "))
				cur->table = xstrndup(p + 10, n - 10);
			body = NULL;
			in_headers = 1;
		} else if (cur && in_headers && starts(p, n, "-- length: ") &&
			   body_length(p + 11, n - 11, (size_t)(end - next), &blen)) {
			/* the body is exactly blen bytes: lines in it that look like separators stay in it */
			cur->text = xstrndup(next, blen);
			next += blen;
			if (next < end && *next == ';')
				next++;
			if (next < end && *next == '\n')
				next++;
			cur = NULL;
			in_headers = 0;
			body = NULL;
		} else if (cur && in_headers && starts(p, n, "-- ") && memchr(p + 3, ':', n - 3)) {
			const char *colon = memchr(p + 3, ':', n - 3);
			size_t klen = (size_t)(colon - (p + 3));
			const char *v = colon + 1;
			while (v < lend && *v == ' ')
				v++;
			char **slot = NULL;
			if (klen == 8 && memcmp(p + 3, "sql_mode", 8) == 0)
				slot = &cur->sql_mode;
			else if (klen == 9 && memcmp(p + 3, "time_zone", 9) == 0)
				slot = &cur->time_zone;
			else if (klen == 20 && memcmp(p + 3, "character_set_client", 20) == 0)
				slot = &cur->character_set_client;
			else if (klen == 20 && memcmp(p + 3, "collation_connection", 20) == 0)
				slot = &cur->collation_connection;
			else if (klen == 18 && memcmp(p + 3, "database_collation", 18) == 0)
				slot = &cur->database_collation;
			if (slot) {
				free(*slot);
				*slot = xstrndup(v, (size_t)(lend - v));
			}
		} else if (cur) {
			if (in_headers) {
				in_headers = 0;
				body = p;
			}
		}
		p = next;
	}
	if (cur)
		finish_text(cur, body ? body : end, body ? (size_t)(end - body) : 0);
	return out;
}

int my_type_is_spatial(const char *data_type)
{
	static const char *const names[] = { "geometry", "point", "linestring", "polygon",
					     "multipoint", "multilinestring", "multipolygon",
					     "geometrycollection", "geomcollection", NULL };
	for (int i = 0; names[i]; i++)
		if (strcasecmp(data_type, names[i]) == 0)
			return 1;
	return 0;
}

int my_type_is_integer(const char *data_type)
{
	static const char *const names[] = { "tinyint", "smallint", "mediumint", "int", "bigint", NULL };
	for (int i = 0; names[i]; i++)
		if (strcasecmp(data_type, names[i]) == 0)
			return 1;
	return 0;
}

int my_extra_is_generated(const char *extra)
{
	return extra && (strstr(extra, "VIRTUAL GENERATED") || strstr(extra, "STORED GENERATED") ||
			 strstr(extra, "PERSISTENT GENERATED"));
}
