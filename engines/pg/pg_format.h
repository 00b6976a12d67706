/*
 * The PostgreSQL dump format: what `backupd dump` of a PostgreSQL database
 * stores in manifest.json "info", as one typed struct with one writer
 * (pg_dump_info_to_json) and one reader (pg_dump_info_parse, where all its
 * validation is), the names of the objects it points to, and the session
 * settings the dump's COPY TO and the restore's COPY FROM must share.
 *
 * info = {
 *   "database", "encoding", "snapshot", "pg_dump_version": strings,
 *   "server_version_num": integer,
 *   "database_properties": object (engines/pg/pg_dbprops.h), absent before it was recorded,
 *   "schema": { "pre-data": object name, "post-data": object name },
 *   "tables": [ { "oid", "schema", "name": strings, "columns": [names],
 *                 "chunks": [object names, in order], "rows", "bytes": integers,
 *                 "format": "binary" (absent: text) } ],
 *   "sequences": [ { "schema", "name", "last_value": strings, "is_called": bool } ],
 *   "large_objects": { "object": object name, "count": integer,
 *                      "metadata": object name (absent in older dumps) }, absent when none,
 *   "options": { "jobs": integer, "compress": string, "chunk_size": integer },
 *   "digest": engines/digest.h (absent before digests were recorded)
 * }
 * Object data: COPY text format (the defaults: tab, \N, backslash escapes) in
 * the database's encoding under PG_COPY_SESSION_SQL; for a table whose
 * "format" is "binary", each chunk is a whole binary COPY stream (header,
 * tuples, trailer: engines/pg/pg_copybin.h) that COPY ... FROM STDIN
 * (FORMAT binary) takes on its own, its text values in the same encoding.
 */
#ifndef BACKUPD_ENGINES_PG_FORMAT_H
#define BACKUPD_ENGINES_PG_FORMAT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "engines/digest.h"
#include "engines/engine.h"
#include "engines/pg/pg_dbprops.h"

/*
 * Session settings of every dump and restore connection: COPY output and
 * input are exact and independent of the role's defaults (dates in ISO,
 * intervals as postgres writes them, no row security hiding rows, no
 * timeouts cutting a long COPY, and an empty search_path, as pg_dump sets it,
 * so a reg* value in a table (regclass, regproc, ...) is written
 * schema-qualified and read back as the same object whatever the target's
 * search_path).  The restore adds client_encoding.
 */
#define PG_COPY_SESSION_SQL                                                        \
	"SET statement_timeout = 0; SET lock_timeout = 0; "                        \
	"SET idle_in_transaction_session_timeout = 0; "                            \
	"SET DateStyle = ISO; SET IntervalStyle = postgres; SET row_security = off; " \
	"SET search_path = ''"

/*
 * What else fixes COPY TO's text, whatever the role's or server's defaults,
 * so a dump's row checksums (engines/pg/pg_digest.h) and those of a restored
 * or migrated copy read on another server agree: timestamptz in UTC, floats
 * exact (shortest-exact on 12 and newer), bytea in hex.
 */
#define PG_COPY_OUT_SESSION_SQL                                                    \
	"SET TimeZone = 'UTC'; SET extra_float_digits = 3; SET bytea_output = 'hex'"

typedef struct pg_dump_table {
	char *oid;
	char *schema;
	char *name;
	char **columns; /* dumped columns in COPY order; none: every column */
	size_t n_columns;
	char **chunks;  /* object names, in order */
	size_t n_chunks;
	int64_t rows;
	int64_t bytes;
	int binary;     /* chunks are binary COPY streams ("format": "binary") */
	/* binary: each column's type (format_type, no typmod) in COPY order; none: not recorded (older dumps) */
	char **types;
	size_t n_types;
} pg_dump_table;

typedef struct pg_dump_sequence {
	char *schema;
	char *name;
	char *last_value;
	int is_called;
} pg_dump_sequence;

typedef struct pg_dump_info {
	char *database;
	char *encoding;
	char *snapshot;
	char *pg_dump_version;
	int64_t server_version_num;
	char *pre_data;  /* object names of the schema sections */
	char *post_data;
	pg_dump_table *tables;
	size_t n_tables;
	pg_dump_sequence *sequences;
	size_t n_sequences;
	char *large_objects; /* object name, or NULL when there are none */
	char *large_objects_meta; /* their owners, grants, comments (restore/pg_lo_meta.h); NULL in older dumps */
	int64_t large_objects_count;
	/* as the server built it (the writer passes it through); NULL: none */
	json_t *database_properties;
	pg_db_props *props; /* parsed by pg_dump_info_parse; NULL: none recorded */
	engine_options_info options;
	digest_set *digest; /* rows, checksums, objects, sequences; NULL: not recorded */
} pg_dump_info;

/* Writes i's fields into the info object out (a manifest's m->info). */
void pg_dump_info_to_json(const pg_dump_info *i, json_t *out);

/*
 * Reads and validates info into *out (zeroed first); the error names the
 * field.  Fields older dumps lack (database_properties, large_objects,
 * options) may be absent.
 */
int pg_dump_info_parse(const json_t *info, pg_dump_info *out, bderr *err);
void pg_dump_info_clear(pg_dump_info *i);

/* Object names inside a backup (caller frees). */
char *pg_chunk_object(const char *table_oid, int chunk, int compressed);
char *pg_schema_object(const char *section, int compressed);
const char *pg_large_objects_object(int compressed);

#endif
