/*
 * Digests of a database's contents, engine-neutral: what `restore --verify`,
 * `dbrestore verify` and `migrate` compare between two sides.  A digest set
 * holds, per table, the row count and an order-independent checksum of the
 * rows (the sum mod 2^64 of xxh64 of each row's canonical text: the COPY /
 * TSV line the engine dumps, trailing newline included; or, for a table
 * read in binary (PostgreSQL binary COPY, engines/pg/pg_copybin.h), of each
 * tuple's bytes, the stream's header and trailer left out), so chunks read in
 * parallel or in any order add up to the same value; the inventory of schema
 * objects by kind (count and names); and sequence values.  The engines fill
 * it (engines/pg/pg_digest.h, engines/mysql/my_digest.h); this module
 * stores, serializes and compares it.
 *
 * JSON (manifest info.digest):
 * { "tables": [ { "schema", "name": strings, "rows": integer,
 *                 "checksum": 16 lower-case hex digits,
 *                 "format": "binary" (absent: text; the other side reads the
 *                 table back in the same format) } ],
 *   "objects": [ { "kind": string, "count": integer,
 *                  "names": [strings] (sorted; absent: only the count is kept) } ],
 *   "sequences": [ { "schema", "name", "value": strings } ] }
 */
#ifndef BACKUPD_ENGINES_DIGEST_H
#define BACKUPD_ENGINES_DIGEST_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

/* The checksum of one row's text. */
uint64_t digest_row_hash(const void *row, size_t len);

/*
 * A running (rows, checksum) pair: one per chunk or worker, merged at the
 * end with digest_sum_merge (the sum does not depend on the order).
 */
typedef struct digest_sum {
	int64_t rows;
	uint64_t checksum;
} digest_sum;

static inline void digest_sum_add(digest_sum *s, const void *row, size_t len)
{
	s->rows++;
	s->checksum += digest_row_hash(row, len);
}

static inline void digest_sum_merge(digest_sum *into, const digest_sum *part)
{
	into->rows += part->rows;
	into->checksum += part->checksum;
}

typedef struct digest_table {
	char *schema;   /* PostgreSQL: the schema; MySQL: the database */
	char *name;
	int64_t rows;
	uint64_t checksum;
	/*
	 * In memory only (not serialized): the columns the rows were read with,
	 * in order, so the other side can read the same text (NULL: the table's
	 * own dumpable columns).
	 */
	char **columns;
	size_t n_columns;
	int binary;     /* the checksum is of binary COPY tuples (serialized as "format") */
} digest_table;

typedef struct digest_kind {
	char *kind;     /* "table", "index", "function", ... (the engine's words) */
	int64_t count;
	char **names;   /* sorted; n_names 0 with count > 0: names not recorded */
	size_t n_names;
} digest_kind;

typedef struct digest_sequence {
	char *schema;
	char *name;
	char *value;    /* as the engine prints it ("42", "42 (not called)") */
} digest_sequence;

typedef struct digest_set {
	digest_table *tables;
	size_t n_tables;
	digest_kind *kinds;
	size_t n_kinds;
	digest_sequence *sequences;
	size_t n_sequences;
} digest_set;

digest_set *digest_set_new(void);
void digest_set_free(digest_set *d);

/* Adds a table (returned pointer valid until the next add); columns NULL. */
digest_table *digest_set_add_table(digest_set *d, const char *schema, const char *name,
				   const digest_sum *sum);
/* Sets t's column list (copied). */
void digest_table_set_columns(digest_table *t, char *const *columns, size_t n);
/* One object of kind; name NULL counts it without a name. */
void digest_set_add_object(digest_set *d, const char *kind, const char *name);
void digest_set_add_sequence(digest_set *d, const char *schema, const char *name,
			     const char *value);
/*
 * A new set with only what belongs to these schemas (MySQL: databases):
 * tables and sequences by schema, object names by their "schema." prefix;
 * kinds recorded without names are kept whole.
 */
digest_set *digest_set_filter(const digest_set *d, const char *const *schemas, size_t n);
/* Puts everything in canonical order (done by the engines' compute and by parse). */
void digest_set_sort(digest_set *d);

const digest_table *digest_set_find_table(const digest_set *d, const char *schema,
					  const char *name);

json_t *digest_set_to_json(const digest_set *d);
/*
 * Reads and validates v (the path of v is where, e.g. "info.digest") into a
 * new set; the error names the field.  Duplicate tables, kinds, names or
 * sequences are rejected.
 */
int digest_set_parse(const json_t *v, const char *where, digest_set **out, bderr *err);

/* "text" or NULL -> 0, "binary" -> 1 into *binary; -1 on anything else. */
int digest_format_parse(const char *format, int *binary);

/* Also report tables, objects and sequences that actual has and expected lacks. */
#define DIGEST_COMPARE_EXTRA 1

/*
 * 0 when actual matches expected.  Else -1 and one error naming the first
 * differences ("2 differences: table public.t: 9 rows, expected 10; index
 * public.t_idx is missing"), the total counted.
 */
int digest_compare(const digest_set *expected, const digest_set *actual, int flags,
		   bderr *err);

#endif
