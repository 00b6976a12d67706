#include "engines/digest.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "common/mem.h"
#include "engines/jsonfield.h"

/* How many differences one error names (the rest are counted). */
#define DIGEST_NAMED_MAX 6

uint64_t digest_row_hash(const void *row, size_t len)
{
	return (uint64_t)XXH64(row, len, 0);
}

digest_set *digest_set_new(void)
{
	return xcalloc(1, sizeof(digest_set));
}

static void free_strings(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void digest_set_free(digest_set *d)
{
	if (d == NULL)
		return;
	for (size_t i = 0; i < d->n_tables; i++) {
		free(d->tables[i].schema);
		free(d->tables[i].name);
		free_strings(d->tables[i].columns, d->tables[i].n_columns);
	}
	free(d->tables);
	for (size_t i = 0; i < d->n_kinds; i++) {
		free(d->kinds[i].kind);
		free_strings(d->kinds[i].names, d->kinds[i].n_names);
	}
	free(d->kinds);
	for (size_t i = 0; i < d->n_sequences; i++) {
		free(d->sequences[i].schema);
		free(d->sequences[i].name);
		free(d->sequences[i].value);
	}
	free(d->sequences);
	free(d);
}

digest_table *digest_set_add_table(digest_set *d, const char *schema, const char *name,
				   const digest_sum *sum)
{
	d->tables = xrealloc(d->tables, (d->n_tables + 1) * sizeof *d->tables);
	digest_table *t = &d->tables[d->n_tables++];
	memset(t, 0, sizeof *t);
	t->schema = xstrdup(schema);
	t->name = xstrdup(name);
	if (sum) {
		t->rows = sum->rows;
		t->checksum = sum->checksum;
	}
	return t;
}

void digest_table_set_columns(digest_table *t, char *const *columns, size_t n)
{
	free_strings(t->columns, t->n_columns);
	t->columns = xcalloc(n + 1, sizeof *t->columns);
	for (size_t i = 0; i < n; i++)
		t->columns[i] = xstrdup(columns[i]);
	t->n_columns = n;
}

static digest_kind *find_kind(const digest_set *d, const char *kind)
{
	for (size_t i = 0; i < d->n_kinds; i++)
		if (strcmp(d->kinds[i].kind, kind) == 0)
			return &d->kinds[i];
	return NULL;
}

static digest_kind *add_kind(digest_set *d, const char *kind)
{
	d->kinds = xrealloc(d->kinds, (d->n_kinds + 1) * sizeof *d->kinds);
	digest_kind *k = &d->kinds[d->n_kinds++];
	memset(k, 0, sizeof *k);
	k->kind = xstrdup(kind);
	return k;
}

void digest_set_add_object(digest_set *d, const char *kind, const char *name)
{
	digest_kind *k = find_kind(d, kind);
	if (k == NULL)
		k = add_kind(d, kind);
	k->count++;
	if (name) {
		k->names = xrealloc(k->names, (k->n_names + 1) * sizeof *k->names);
		k->names[k->n_names++] = xstrdup(name);
	}
}

void digest_set_add_sequence(digest_set *d, const char *schema, const char *name,
			     const char *value)
{
	d->sequences = xrealloc(d->sequences, (d->n_sequences + 1) * sizeof *d->sequences);
	digest_sequence *s = &d->sequences[d->n_sequences++];
	s->schema = xstrdup(schema);
	s->name = xstrdup(name);
	s->value = xstrdup(value);
}

static int cmp_pair(const char *s1, const char *n1, const char *s2, const char *n2)
{
	int c = strcmp(s1, s2);
	return c ? c : strcmp(n1, n2);
}

static int cmp_table(const void *a, const void *b)
{
	const digest_table *x = a, *y = b;
	return cmp_pair(x->schema, x->name, y->schema, y->name);
}

static int cmp_kind(const void *a, const void *b)
{
	return strcmp(((const digest_kind *)a)->kind, ((const digest_kind *)b)->kind);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_sequence(const void *a, const void *b)
{
	const digest_sequence *x = a, *y = b;
	return cmp_pair(x->schema, x->name, y->schema, y->name);
}

void digest_set_sort(digest_set *d)
{
	if (d->n_tables)
		qsort(d->tables, d->n_tables, sizeof *d->tables, cmp_table);
	if (d->n_kinds)
		qsort(d->kinds, d->n_kinds, sizeof *d->kinds, cmp_kind);
	for (size_t i = 0; i < d->n_kinds; i++)
		if (d->kinds[i].n_names)
			qsort(d->kinds[i].names, d->kinds[i].n_names, sizeof(char *), cmp_str);
	if (d->n_sequences)
		qsort(d->sequences, d->n_sequences, sizeof *d->sequences, cmp_sequence);
}

const digest_table *digest_set_find_table(const digest_set *d, const char *schema,
					  const char *name)
{
	if (d == NULL)
		return NULL;
	for (size_t i = 0; i < d->n_tables; i++)
		if (strcmp(d->tables[i].schema, schema) == 0 && strcmp(d->tables[i].name, name) == 0)
			return &d->tables[i];
	return NULL;
}

static int schema_listed(const char *schema, const char *const *schemas, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(schema, schemas[i]) == 0)
			return 1;
	return 0;
}

static int name_in_schemas(const char *name, const char *const *schemas, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(schemas[i]);
		if (strncmp(name, schemas[i], l) == 0 && name[l] == '.')
			return 1;
	}
	return 0;
}

digest_set *digest_set_filter(const digest_set *d, const char *const *schemas, size_t n)
{
	digest_set *f = digest_set_new();
	for (size_t i = 0; i < d->n_tables; i++) {
		const digest_table *t = &d->tables[i];
		if (!schema_listed(t->schema, schemas, n))
			continue;
		digest_sum sum = { t->rows, t->checksum };
		digest_table *c = digest_set_add_table(f, t->schema, t->name, &sum);
		if (t->columns)
			digest_table_set_columns(c, t->columns, t->n_columns);
		c->binary = t->binary;
	}
	for (size_t i = 0; i < d->n_kinds; i++) {
		const digest_kind *k = &d->kinds[i];
		if (k->n_names == 0) {
			add_kind(f, k->kind)->count = k->count;
			continue;
		}
		for (size_t j = 0; j < k->n_names; j++)
			if (name_in_schemas(k->names[j], schemas, n))
				digest_set_add_object(f, k->kind, k->names[j]);
	}
	for (size_t i = 0; i < d->n_sequences; i++) {
		const digest_sequence *s = &d->sequences[i];
		if (schema_listed(s->schema, schemas, n))
			digest_set_add_sequence(f, s->schema, s->name, s->value);
	}
	digest_set_sort(f);
	return f;
}

/* ---- JSON ---------------------------------------------------------------- */

int digest_format_parse(const char *format, int *binary)
{
	if (format == NULL || strcmp(format, "text") == 0)
		*binary = 0;
	else if (strcmp(format, "binary") == 0)
		*binary = 1;
	else
		return -1;
	return 0;
}

json_t *digest_set_to_json(const digest_set *d)
{
	json_t *tables = json_array(), *objects = json_array(), *seqs = json_array();
	for (size_t i = 0; i < d->n_tables; i++) {
		const digest_table *t = &d->tables[i];
		char hex[17];
		snprintf(hex, sizeof hex, "%016" PRIx64, t->checksum);
		json_t *o = json_pack("{s:s, s:s, s:I, s:s}", "schema", t->schema, "name", t->name,
				      "rows", (json_int_t)t->rows, "checksum", hex);
		/* absent: text, as every digest before binary COPY */
		if (t->binary)
			json_object_set_new(o, "format", json_string("binary"));
		json_array_append_new(tables, o);
	}
	for (size_t i = 0; i < d->n_kinds; i++) {
		const digest_kind *k = &d->kinds[i];
		json_t *o = json_pack("{s:s, s:I}", "kind", k->kind, "count", (json_int_t)k->count);
		if (k->n_names)
			json_object_set_new(o, "names", jf_strings_json(k->names, k->n_names));
		json_array_append_new(objects, o);
	}
	for (size_t i = 0; i < d->n_sequences; i++) {
		const digest_sequence *s = &d->sequences[i];
		json_array_append_new(seqs, json_pack("{s:s, s:s, s:s}", "schema", s->schema, "name",
						      s->name, "value", s->value));
	}
	return json_pack("{s:o, s:o, s:o}", "tables", tables, "objects", objects, "sequences", seqs);
}

static int parse_checksum(const char *hex, uint64_t *out)
{
	if (strlen(hex) != 16 || strspn(hex, "0123456789abcdef") != 16)
		return -1;
	*out = strtoull(hex, NULL, 16);
	return 0;
}

static int parse_table(const json_t *v, const char *where, void *elem, bderr *err)
{
	digest_table *t = elem;
	char *hex = NULL, *format = NULL;
	if (jf_string(v, "schema", 1, &t->schema, where, err) != 0 ||
	    jf_string(v, "name", 1, &t->name, where, err) != 0 ||
	    jf_int(v, "rows", 1, 0, INT64_MAX, &t->rows, where, err) != 0 ||
	    jf_string(v, "checksum", 1, &hex, where, err) != 0 ||
	    jf_string(v, "format", 0, &format, where, err) != 0) {
		free(hex);
		return -1;
	}
	int rc = parse_checksum(hex, &t->checksum);
	free(hex);
	if (rc != 0) {
		free(format);
		return bderr_set(err, "%s.checksum must be 16 lower-case hex digits", where);
	}
	rc = digest_format_parse(format, &t->binary);
	free(format);
	if (rc != 0)
		return bderr_set(err, "%s.format must be \"text\" or \"binary\"", where);
	return 0;
}

static int parse_kind(const json_t *v, const char *where, void *elem, bderr *err)
{
	digest_kind *k = elem;
	if (jf_string(v, "kind", 1, &k->kind, where, err) != 0 ||
	    jf_int(v, "count", 1, 0, INT64_MAX, &k->count, where, err) != 0 ||
	    jf_strings(v, "names", 0, &k->names, &k->n_names, where, err) != 0)
		return -1;
	if (k->n_names && (int64_t)k->n_names != k->count)
		return bderr_set(err, "%s.count is %" PRId64 " but %zu names are listed", where, k->count,
				 k->n_names);
	return 0;
}

static int parse_sequence(const json_t *v, const char *where, void *elem, bderr *err)
{
	digest_sequence *s = elem;
	if (jf_string(v, "schema", 1, &s->schema, where, err) != 0 ||
	    jf_string(v, "name", 1, &s->name, where, err) != 0 ||
	    jf_string(v, "value", 1, &s->value, where, err) != 0)
		return -1;
	return 0;
}

/* After sorting, equal neighbours are duplicates: each must be one entry. */
static int check_unique(const digest_set *d, const char *where, bderr *err)
{
	for (size_t i = 1; i < d->n_tables; i++)
		if (cmp_table(&d->tables[i - 1], &d->tables[i]) == 0)
			return bderr_set(err, "%s.tables lists %s.%s twice", where, d->tables[i].schema,
					 d->tables[i].name);
	for (size_t i = 1; i < d->n_kinds; i++)
		if (cmp_kind(&d->kinds[i - 1], &d->kinds[i]) == 0)
			return bderr_set(err, "%s.objects lists kind %s twice", where, d->kinds[i].kind);
	for (size_t i = 0; i < d->n_kinds; i++)
		for (size_t j = 1; j < d->kinds[i].n_names; j++)
			if (strcmp(d->kinds[i].names[j - 1], d->kinds[i].names[j]) == 0)
				return bderr_set(err, "%s.objects lists %s %s twice", where,
						 d->kinds[i].kind, d->kinds[i].names[j]);
	for (size_t i = 1; i < d->n_sequences; i++)
		if (cmp_sequence(&d->sequences[i - 1], &d->sequences[i]) == 0)
			return bderr_set(err, "%s.sequences lists %s.%s twice", where,
					 d->sequences[i].schema, d->sequences[i].name);
	return 0;
}

int digest_set_parse(const json_t *v, const char *where, digest_set **out, bderr *err)
{
	*out = NULL;
	if (!json_is_object(v))
		return bderr_set(err, "%s must be an object", where);
	digest_set *d = digest_set_new();
	int rc = jf_objects(v, "tables", 1, sizeof *d->tables, parse_table, (void **)&d->tables,
			    &d->n_tables, where, err);
	if (rc == 0)
		rc = jf_objects(v, "objects", 1, sizeof *d->kinds, parse_kind, (void **)&d->kinds,
				&d->n_kinds, where, err);
	if (rc == 0)
		rc = jf_objects(v, "sequences", 1, sizeof *d->sequences, parse_sequence,
				(void **)&d->sequences, &d->n_sequences, where, err);
	if (rc == 0) {
		digest_set_sort(d);
		rc = check_unique(d, where, err);
	}
	if (rc != 0) {
		digest_set_free(d);
		return -1;
	}
	*out = d;
	return 0;
}

/* ---- compare ------------------------------------------------------------- */

/*
 * A table or sequence is in a digest twice: its rows or value, and a name
 * among the objects of its kind.  One missing (or extra) is named by the
 * first comparison and recorded ("table public.t"), so that the objects'
 * comparison does not name it a second time.
 */
typedef struct diffs {
	size_t n;
	strbuf text;
	char **named;
	size_t n_named;
	size_t cap_named;
} diffs;

static void diff_named(diffs *f, const char *kind, const char *schema, const char *name)
{
	if (f->n_named == f->cap_named) {
		f->cap_named = f->cap_named ? 2 * f->cap_named : 16;
		f->named = xrealloc(f->named, f->cap_named * sizeof *f->named);
	}
	f->named[f->n_named++] = xasprintf("%s %s.%s", kind, schema, name);
}

static int diff_was_named(const diffs *f, const char *kind, const char *name)
{
	if (f->n_named == 0 || (strcmp(kind, "table") != 0 && strcmp(kind, "sequence") != 0))
		return 0;
	char *key = xasprintf("%s %s", kind, name);
	int found = bsearch(&key, f->named, f->n_named, sizeof *f->named, cmp_str) != NULL;
	free(key);
	return found;
}

static void BD_PRINTF(2, 3) diff_add(diffs *f, const char *fmt, ...)
{
	if (f->n++ >= DIGEST_NAMED_MAX)
		return;
	char line[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	strbuf_appendf(&f->text, "%s%s", f->n > 1 ? "; " : "", line);
}

static void compare_tables(const digest_set *e, const digest_set *a, int extra, diffs *f)
{
	size_t i = 0, j = 0;
	while (i < e->n_tables || j < a->n_tables) {
		const digest_table *x = i < e->n_tables ? &e->tables[i] : NULL;
		const digest_table *y = j < a->n_tables ? &a->tables[j] : NULL;
		int c = x && y ? cmp_table(x, y) : x ? -1 : 1;
		if (c < 0) {
			diff_add(f, "table %s.%s is missing", x->schema, x->name);
			diff_named(f, "table", x->schema, x->name);
			i++;
		} else if (c > 0) {
			if (extra) {
				diff_add(f, "table %s.%s is not in the source", y->schema, y->name);
				diff_named(f, "table", y->schema, y->name);
			}
			j++;
		} else {
			if (x->rows != y->rows)
				diff_add(f, "table %s.%s has %" PRId64 " rows, expected %" PRId64,
					 x->schema, x->name, y->rows, x->rows);
			else if (x->checksum != y->checksum && x->binary != y->binary)
				diff_add(f, "table %s.%s: read as %s, the checksum is of %s rows",
					 x->schema, x->name, y->binary ? "binary" : "text",
					 x->binary ? "binary" : "text");
			else if (x->checksum != y->checksum)
				diff_add(f, "table %s.%s: rows differ (same count %" PRId64 ", checksum %016" PRIx64 ", expected %016" PRIx64 ")",
					 x->schema, x->name, x->rows, y->checksum, x->checksum);
			i++;
			j++;
		}
	}
}

static void compare_names(const digest_kind *x, const digest_kind *y, int extra, diffs *f)
{
	size_t i = 0, j = 0;
	while (i < x->n_names || j < y->n_names) {
		int c = i < x->n_names && j < y->n_names ? strcmp(x->names[i], y->names[j])
			: i < x->n_names		 ? -1
							 : 1;
		if (c < 0) {
			if (!diff_was_named(f, x->kind, x->names[i]))
				diff_add(f, "%s %s is missing", x->kind, x->names[i]);
			i++;
		} else if (c > 0) {
			if (extra && !diff_was_named(f, x->kind, y->names[j]))
				diff_add(f, "%s %s is not in the source", x->kind, y->names[j]);
			j++;
		} else {
			i++;
			j++;
		}
	}
}

static void compare_kinds(const digest_set *e, const digest_set *a, int extra, diffs *f)
{
	for (size_t i = 0; i < e->n_kinds; i++) {
		const digest_kind *x = &e->kinds[i];
		const digest_kind *y = find_kind(a, x->kind);
		digest_kind none = { x->kind, 0, NULL, 0 };
		if (y == NULL)
			y = &none;
		if (x->n_names && (y->n_names || y->count == 0))
			compare_names(x, y, extra, f);
		else if (y->count < x->count || (extra && y->count != x->count))
			diff_add(f, "%s: %" PRId64 ", expected %" PRId64, x->kind, y->count,
				 x->count);
	}
	if (!extra)
		return;
	for (size_t j = 0; j < a->n_kinds; j++)
		if (find_kind(e, a->kinds[j].kind) == NULL && a->kinds[j].count > 0)
			diff_add(f, "%s: %" PRId64 ", expected none", a->kinds[j].kind,
				 a->kinds[j].count);
}

static void compare_sequences(const digest_set *e, const digest_set *a, int extra, diffs *f)
{
	size_t i = 0, j = 0;
	while (i < e->n_sequences || j < a->n_sequences) {
		const digest_sequence *x = i < e->n_sequences ? &e->sequences[i] : NULL;
		const digest_sequence *y = j < a->n_sequences ? &a->sequences[j] : NULL;
		int c = x && y ? cmp_sequence(x, y) : x ? -1 : 1;
		if (c < 0) {
			diff_add(f, "sequence %s.%s is missing", x->schema, x->name);
			diff_named(f, "sequence", x->schema, x->name);
			i++;
		} else if (c > 0) {
			if (extra) {
				diff_add(f, "sequence %s.%s is not in the source", y->schema, y->name);
				diff_named(f, "sequence", y->schema, y->name);
			}
			j++;
		} else {
			if (strcmp(x->value, y->value) != 0)
				diff_add(f, "sequence %s.%s is at %s, expected %s", x->schema, x->name,
					 y->value, x->value);
			i++;
			j++;
		}
	}
}

int digest_compare(const digest_set *expected, const digest_set *actual, int flags, bderr *err)
{
	diffs f = { 0 };
	strbuf_init(&f.text);
	int extra = (flags & DIGEST_COMPARE_EXTRA) != 0;
	/* tables and sequences first: what they name, the objects' comparison does not repeat */
	compare_tables(expected, actual, extra, &f);
	compare_sequences(expected, actual, extra, &f);
	if (f.n_named)
		qsort(f.named, f.n_named, sizeof *f.named, cmp_str);
	compare_kinds(expected, actual, extra, &f);
	for (size_t i = 0; i < f.n_named; i++)
		free(f.named[i]);
	free(f.named);
	if (f.n == 0) {
		strbuf_free(&f.text);
		return 0;
	}
	if (f.n > DIGEST_NAMED_MAX)
		bderr_set(err, "%zu differences: %s; and %zu more", f.n, f.text.data,
			  f.n - DIGEST_NAMED_MAX);
	else
		bderr_set(err, "%zu difference%s: %s", f.n, plural_s(f.n), f.text.data);
	strbuf_free(&f.text);
	return -1;
}
