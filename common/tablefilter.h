/*
 * Which tables a dump or a restore covers: shell-style patterns (`*`, `?`,
 * `[abc]`, `[!a-z]`, `\` escaping the next character) on "schema.table"
 * (MySQL/MariaDB: "database.table").  A pattern without an unescaped `.`
 * matches the table name in every schema; with one, its two sides match the
 * schema and the table.  Schema patterns (restore --schema) have no `.`.
 *
 * A relation is selected when no include is given or it matches an
 * include-table pattern or its schema an include-schema pattern, and it
 * matches no exclude-table pattern and its schema no exclude-schema
 * pattern.  Exclude-table-data keeps the table's definition but not its
 * rows.  Patterns are checked once, when added: a bad one is a usage error.
 */
#ifndef BACKUPD_COMMON_TABLEFILTER_H
#define BACKUPD_COMMON_TABLEFILTER_H

#include <stddef.h>

#include "common/error.h"

typedef enum table_filter_list {
	TF_INCLUDE_TABLE = 0,
	TF_EXCLUDE_TABLE,
	TF_EXCLUDE_TABLE_DATA,
	TF_INCLUDE_SCHEMA,
	TF_EXCLUDE_SCHEMA,
	TF_N_LISTS
} table_filter_list;

typedef struct table_filter table_filter;

table_filter *table_filter_new(void);
void table_filter_free(table_filter *f);

/*
 * Adds one pattern; a usage error names the pattern and what is wrong with
 * it (the caller prefixes the option or key).
 */
int table_filter_add(table_filter *f, table_filter_list which, const char *pattern, bderr *err);

/* Each of the space-separated patterns of a configuration value. */
int table_filter_add_list(table_filter *f, table_filter_list which, const char *patterns,
			  bderr *err);

/* 1 when no pattern was added: everything is selected. */
int table_filter_empty(const table_filter *f);
/* 1 when the list has a pattern. */
int table_filter_has(const table_filter *f, table_filter_list which);

/* The relation schema.table is in (definition and data). */
int table_filter_selects(const table_filter *f, const char *schema, const char *table);
/* Its rows too (selected and not excluded by exclude-table-data). */
int table_filter_keeps_data(const table_filter *f, const char *schema, const char *table);
/* Objects of schema other than relations (functions, types, sequences) are in. */
int table_filter_keeps_schema(const table_filter *f, const char *schema);

/*
 * The first pattern of list which that matches none of the n relations
 * schemas[k].tables[k] (a schema pattern: none of the schemas; a NULL
 * tables[k] is a schema alone), written as given into buf; NULL when every
 * pattern matches one.  An include pattern that matches nothing is a typo
 * that would silently leave everything out.
 */
const char *table_filter_unmatched(const table_filter *f, table_filter_list which,
				   const char *const *schemas, const char *const *tables, size_t n,
				   char *buf, size_t size);

/* One pattern against one name (exposed for the tests); 1 on a match. */
int table_pattern_match(const char *pattern, size_t plen, const char *name);

#endif
