#include "common/tablefilter.h"

#include <stdio.h>
#include <string.h>
#include <stdlib.h>

#include "common/mem.h"

typedef struct pattern {
	char *schema; /* NULL: any schema */
	char *name;
} pattern;

struct table_filter {
	pattern *lists[TF_N_LISTS];
	size_t n[TF_N_LISTS];
};

table_filter *table_filter_new(void)
{
	return xcalloc(1, sizeof(table_filter));
}

void table_filter_free(table_filter *f)
{
	if (f == NULL)
		return;
	for (int l = 0; l < TF_N_LISTS; l++) {
		for (size_t i = 0; i < f->n[l]; i++) {
			free(f->lists[l][i].schema);
			free(f->lists[l][i].name);
		}
		free(f->lists[l]);
	}
	free(f);
}

/* Index of the ']' closing the bracket expression at p[i] == '[', or n when none does. */
static size_t bracket_end(const char *p, size_t n, size_t i)
{
	size_t j = i + 1;
	if (j < n && (p[j] == '!' || p[j] == '^'))
		j++;
	if (j < n && p[j] == ']')
		j++; /* a leading ']' is a member */
	while (j < n && p[j] != ']')
		j++;
	return j;
}

/*
 * Checks one side of a pattern; returns NULL when it is well formed, else why
 * not.  Control characters are refused: no table name holds them and they
 * would garble the one-line error.
 */
static const char *side_check(const char *p, size_t n)
{
	if (n == 0)
		return "an empty name";
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c < 0x20 || c == 0x7f)
			return "a control character";
		if (c == '\\') {
			if (++i == n)
				return "a trailing '\\'";
		} else if (c == '[') {
			i = bracket_end(p, n, i);
			if (i == n)
				return "an unterminated '['";
		}
	}
	return NULL;
}

/* Index of the first '.' outside brackets and escapes, or n. */
static size_t find_dot(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\\')
			i++;
		else if (p[i] == '[')
			i = bracket_end(p, n, i);
		else if (p[i] == '.')
			return i;
	}
	return n;
}

int table_filter_add(table_filter *f, table_filter_list which, const char *text, bderr *err)
{
	size_t n = strlen(text);
	int schema_only = which == TF_INCLUDE_SCHEMA || which == TF_EXCLUDE_SCHEMA;
	size_t dot = find_dot(text, n);
	const char *why = NULL;
	if (n == 0)
		why = "an empty pattern";
	else if (schema_only && dot < n)
		why = "a '.' (a schema pattern names a schema only)";
	else if (dot < n && find_dot(text + dot + 1, n - dot - 1) < n - dot - 1)
		why = "more than one '.' (escape a dot inside a name with '\\.')";
	else if (dot < n)
		why = side_check(text, dot) ? side_check(text, dot) : side_check(text + dot + 1, n - dot - 1);
	else
		why = side_check(text, n);
	if (why) {
		/* patterns come from the command line or the config: shown, but bounded, on one line */
		if (strcmp(why, "a control character") == 0)
			return bderr_usage(err, "invalid pattern: %s", why);
		return bderr_usage(err, "invalid pattern '%.*s': %s", n > 128 ? 128 : (int)n, text, why);
	}
	pattern p = { NULL, NULL };
	if (dot < n) {
		p.schema = xstrndup(text, dot);
		p.name = xstrdup(text + dot + 1);
	} else {
		p.name = xstrdup(text);
	}
	f->lists[which] = xrealloc(f->lists[which], (f->n[which] + 1) * sizeof(pattern));
	f->lists[which][f->n[which]++] = p;
	return 0;
}

int table_filter_add_list(table_filter *f, table_filter_list which, const char *patterns,
			  bderr *err)
{
	const char *s = patterns;
	int any = 0;
	for (;;) {
		s += strspn(s, " \t,");
		if (*s == '\0')
			break;
		size_t n = strcspn(s, " \t,");
		char *one = xstrndup(s, n);
		int rc = table_filter_add(f, which, one, err);
		free(one);
		if (rc != 0)
			return -1;
		any = 1;
		s += n;
	}
	if (!any)
		return bderr_usage(err, "no pattern given");
	return 0;
}

int table_filter_empty(const table_filter *f)
{
	if (f == NULL)
		return 1;
	for (int l = 0; l < TF_N_LISTS; l++)
		if (f->n[l])
			return 0;
	return 1;
}

int table_filter_has(const table_filter *f, table_filter_list which)
{
	return f != NULL && f->n[which] > 0;
}

/* The bracket expression at p[0] == '[' against c; *used gets its length. */
static int match_class(const char *p, size_t plen, unsigned char c, size_t *used)
{
	size_t i = 1;
	int negate = 0, hit = 0;
	if (i < plen && (p[i] == '!' || p[i] == '^')) {
		negate = 1;
		i++;
	}
	size_t first = i;
	while (i < plen && (p[i] != ']' || i == first)) {
		unsigned char lo = (unsigned char)p[i];
		if (i + 2 < plen && p[i + 1] == '-' && p[i + 2] != ']') {
			unsigned char hi = (unsigned char)p[i + 2];
			hit |= c >= lo && c <= hi;
			i += 3;
		} else {
			hit |= c == lo;
			i++;
		}
	}
	*used = i + 1; /* past ']' (checked when the pattern was added) */
	return hit != negate;
}

int table_pattern_match(const char *p, size_t plen, const char *name)
{
	/* iterative with one backtrack point: linear in practice, never recursive */
	size_t pi = 0, ni = 0, star_p = (size_t)-1, star_n = 0;
	size_t nlen = strlen(name);
	while (ni < nlen) {
		if (pi < plen && p[pi] == '*') {
			star_p = ++pi;
			star_n = ni;
			continue;
		}
		if (pi < plen) {
			unsigned char c = (unsigned char)name[ni];
			size_t used = 1;
			int ok;
			if (p[pi] == '?')
				ok = 1;
			else if (p[pi] == '[' && pi + 1 < plen)
				ok = match_class(p + pi, plen - pi, c, &used);
			else if (p[pi] == '\\' && pi + 1 < plen) {
				ok = (unsigned char)p[pi + 1] == c;
				used = 2;
			} else
				ok = (unsigned char)p[pi] == c;
			if (ok) {
				pi += used;
				ni++;
				continue;
			}
		}
		if (star_p == (size_t)-1)
			return 0;
		pi = star_p;
		ni = ++star_n;
	}
	while (pi < plen && p[pi] == '*')
		pi++;
	return pi == plen;
}

static int matches(const pattern *p, const char *schema, const char *table)
{
	if (p->schema && !table_pattern_match(p->schema, strlen(p->schema), schema))
		return 0;
	return table_pattern_match(p->name, strlen(p->name), table);
}

static int any_table(const table_filter *f, table_filter_list l, const char *schema, const char *table)
{
	for (size_t i = 0; i < f->n[l]; i++)
		if (matches(&f->lists[l][i], schema, table))
			return 1;
	return 0;
}

static int any_schema(const table_filter *f, table_filter_list l, const char *schema)
{
	for (size_t i = 0; i < f->n[l]; i++)
		if (table_pattern_match(f->lists[l][i].name, strlen(f->lists[l][i].name), schema))
			return 1;
	return 0;
}

int table_filter_selects(const table_filter *f, const char *schema, const char *table)
{
	if (f == NULL)
		return 1;
	int included = (f->n[TF_INCLUDE_TABLE] == 0 && f->n[TF_INCLUDE_SCHEMA] == 0) ||
		       any_table(f, TF_INCLUDE_TABLE, schema, table) ||
		       any_schema(f, TF_INCLUDE_SCHEMA, schema);
	return included && !any_table(f, TF_EXCLUDE_TABLE, schema, table) &&
	       !any_schema(f, TF_EXCLUDE_SCHEMA, schema);
}

int table_filter_keeps_data(const table_filter *f, const char *schema, const char *table)
{
	return table_filter_selects(f, schema, table) &&
	       (f == NULL || !any_table(f, TF_EXCLUDE_TABLE_DATA, schema, table));
}

int table_filter_keeps_schema(const table_filter *f, const char *schema)
{
	if (f == NULL)
		return 1;
	return (f->n[TF_INCLUDE_SCHEMA] == 0 || any_schema(f, TF_INCLUDE_SCHEMA, schema)) &&
	       !any_schema(f, TF_EXCLUDE_SCHEMA, schema);
}

const char *table_filter_unmatched(const table_filter *f, table_filter_list which,
				   const char *const *schemas, const char *const *tables, size_t n,
				   char *buf, size_t size)
{
	int schema_only = which == TF_INCLUDE_SCHEMA || which == TF_EXCLUDE_SCHEMA;
	for (size_t i = 0; f && i < f->n[which]; i++) {
		const pattern *p = &f->lists[which][i];
		int found = 0;
		for (size_t k = 0; k < n && !found; k++) {
			if (schema_only)
				found = table_pattern_match(p->name, strlen(p->name), schemas[k]);
			else
				found = tables[k] != NULL && matches(p, schemas[k], tables[k]);
		}
		if (!found) {
			snprintf(buf, size, "%s%s%s", p->schema ? p->schema : "", p->schema ? "." : "",
				 p->name);
			return buf;
		}
	}
	return NULL;
}
