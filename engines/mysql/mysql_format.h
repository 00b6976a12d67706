/*
 * The MySQL/MariaDB dump format: what `backupd dump` of a MySQL or MariaDB
 * server stores in manifest.json "info", as one typed struct with one writer
 * (my_dump_info_to_json) and one reader (my_dump_info_parse, where all its
 * validation is), the object names, and the session settings the dump and
 * the restore must agree on.
 *
 * info = {
 *   "server_version", "flavor" ("mysql" | "mariadb"), "consistency"
 *   ("ftwrl" | "no-lock"), "sql_mode", "server_sql_mode", "time_zone": strings,
 *   "binlog": {"file", "position"} or null, "gtid_executed": string or null,
 *   "databases": [ { "name", "charset", "collation": strings,
 *       "tables": [ { "name", "engine": strings, "columns": [names],
 *                     "column_types": [types], "auto_increment": integer or null,
 *                     "rows": integer, "chunks": [object names, in order] } ],
 *       "views": [names] } ],
 *   "options": { "jobs", "compress", "chunk_size", "consistency" },
 *   "digest": engines/digest.h (absent before digests were recorded)
 * }
 * Chunks are LOAD DATA-ready TSV (myformat.h) written under MY_SESSION_SQL_MODE
 * and MY_SESSION_TIME_ZONE; the restore loads them under the same settings.
 */
#ifndef BACKUPD_ENGINES_MYSQL_FORMAT_H
#define BACKUPD_ENGINES_MYSQL_FORMAT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "engines/digest.h"
#include "engines/engine.h"

/* The session sql_mode both sides use: zero dates load, a 0 id stays 0. */
#define MY_SESSION_SQL_MODE "NO_AUTO_VALUE_ON_ZERO"
/* TIMESTAMP values travel in UTC. */
#define MY_SESSION_TIME_ZONE "+00:00"

typedef struct my_dump_table {
	char *name;
	char *engine;
	char **columns;
	size_t n_columns;
	char **types;       /* one per column */
	size_t n_types;
	int has_auto_increment;
	int64_t auto_increment;
	int64_t rows;
	char **chunks;      /* object names, in order */
	size_t n_chunks;
} my_dump_table;

typedef struct my_dump_db {
	char *name;
	char *charset;
	char *collation;
	my_dump_table *tables;
	size_t n_tables;
	json_t *views;      /* array of view names */
} my_dump_db;

typedef struct my_dump_info {
	char *server_version;
	char *flavor;
	char *consistency;
	char *sql_mode;        /* absent in the oldest dumps: MY_SESSION_SQL_MODE */
	char *server_sql_mode;
	char *time_zone;
	json_t *binlog;        /* passed through; NULL: null */
	json_t *gtid_executed;
	my_dump_db *dbs;
	size_t n_dbs;
	engine_options_info options;
	digest_set *digest; /* rows, checksums, objects; NULL: not recorded */
} my_dump_info;

/* Writes i's fields into the info object out (a manifest's m->info). */
void my_dump_info_to_json(const my_dump_info *i, json_t *out);

/*
 * Reads and validates info into *out (zeroed first); the error names the
 * field.  At least one database; every column has its type.
 */
int my_dump_info_parse(const json_t *info, my_dump_info *out, bderr *err);
void my_dump_info_clear(my_dump_info *i);

/* "<db>/data/<table>.<chunk>.tsv[.zst]", names encoded (caller frees). */
char *my_chunk_object(const char *db, const char *table, int chunk, int compressed);

#endif
