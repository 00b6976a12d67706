/*
 * The pure parts of the MySQL dump format (see the repository format notes):
 * TSV escaping as LOAD DATA ... ESCAPED BY '\\' reads it, object names built
 * from database and table names, DEFINER removal, and the statement files
 * (tables.sql, views.sql, triggers.sql, routines.sql, events.sql).
 */
#ifndef BACKUPD_ENGINES_MYSQL_MYFORMAT_H
#define BACKUPD_ENGINES_MYSQL_MYFORMAT_H

#include <stddef.h>

/*
 * Writes src[0..n) escaped to dst (room for 2 * n bytes); returns the bytes
 * written.  \0 \b \n \r \t 0x1a and backslash become two-byte sequences.
 */
size_t tsv_escape(char *dst, const char *src, size_t n);

/* The NULL marker: a field that is exactly backslash-N. */
#define TSV_NULL "\\N"
#define TSV_NULL_LEN 2

/*
 * One row of nf fields (row[i] NULL for SQL NULL, else len[i] bytes) as a
 * TSV line: fields escaped, tab-separated, newline-terminated.  tsv_row
 * returns the bytes written; tsv_row_size bounds them.
 */
size_t tsv_row_size(char *const *row, const unsigned long *len, unsigned nf);
size_t tsv_row(char *dst, char *const *row, const unsigned long *len, unsigned nf);

/*
 * Unescapes one field (no raw tab or newline inside) into dst (room for n
 * bytes); returns 1 for NULL, else 0 with *dlen set.
 */
int tsv_unescape(const char *src, size_t n, char *dst, size_t *dlen);

/*
 * A database or table name as an object path component: [A-Za-z0-9_.-]
 * kept, every other byte %XX (so "." and ".." cannot appear: a name made only
 * of dots is fully encoded).  Caller frees.
 */
char *my_name_encode(const char *name);

/* Object name "<encoded db>/<file>", plus ".zst" when compressed (caller frees). */
char *my_object_name(const char *db, const char *file, int compressed);

/*
 * The CREATE statement without its DEFINER=user@host clause (the restoring
 * account becomes the definer).  Caller frees.
 */
char *my_strip_definer(const char *sql);

/* Column DATA_TYPE classes whose values the format converts (see the format notes). */
int my_type_is_spatial(const char *data_type);
int my_type_is_integer(const char *data_type);
/* A column whose information_schema.COLUMNS.EXTRA says it is generated (not dumped). */
int my_extra_is_generated(const char *extra);

/*
 * A statement file: statements each introduced by a separator line
 * ("-- statement" or "-- table: NAME"), then optional header lines
 * "-- key: value", then the statement text (its final ';' removed).  A last
 * header "-- length: N" says the text is exactly the next N bytes (then ";\n"),
 * so a routine body with a line that looks like a separator stays whole;
 * files without it (older backups) are split at separator lines.
 */
typedef struct my_statement {
	char *table;          /* from "-- table: NAME", else NULL */
	char *sql_mode;       /* header values, NULL when absent */
	char *time_zone;
	char *character_set_client;
	char *collation_connection;
	char *database_collation;  /* the database's default collation at creation */
	char *text;
} my_statement;

typedef struct my_statements {
	my_statement *items;
	size_t n;
} my_statements;

my_statements *my_statements_parse(const char *data, size_t len);
void my_statements_free(my_statements *s);

#endif
