/*
 * pg_dump's post-data section, split into its entries so that indexes and
 * constraints can be built in parallel (as pg_restore -j does).  pg_dump
 * heads every entry with "-- Name: X; Type: T; Schema: S; Owner: O" and emits
 * "SET default_tablespace/default_table_access_method" only when they change,
 * so each entry carries the settings in force where it stood.
 */
#ifndef BACKUPD_ENGINES_PG_POST_DATA_H
#define BACKUPD_ENGINES_PG_POST_DATA_H

#include <stddef.h>

typedef enum post_data_phase {
	POST_DATA_PARALLEL = 0, /* INDEX, CONSTRAINT: independent of each other */
	POST_DATA_SERIAL,       /* everything else, in pg_dump's order */
	POST_DATA_FOREIGN_KEYS, /* FK CONSTRAINT: parallel, after the rest */
	POST_DATA_LATE          /* what names an object of the phases before (a COMMENT ON
				   CONSTRAINT of a foreign key), in pg_dump's order */
} post_data_phase;

typedef struct post_data_entry {
	char *type; /* "INDEX", "FK CONSTRAINT", ... */
	char *name;
	char *schema; /* "-" for objects outside schemas */
	char *sql;  /* settings in force + the entry's statements */
	post_data_phase phase;
	int done; /* run already (the restore's pipeline), for the phases to skip */
} post_data_entry;

typedef struct post_data {
	char *prelude; /* session SETs to run on every connection first */
	post_data_entry *entries;
	size_t n_entries;
} post_data;

/*
 * Never fails on odd input: unknown text stays in the entry it follows.
 * Phases follow the types, then dependencies: an entry that names another
 * entry's object ("CONSTRAINT fk ON t" of a COMMENT names FK CONSTRAINT
 * "t fk") runs in a phase after that entry's, or after it in the same serial
 * phase.
 */
post_data *post_data_parse(const char *text, size_t len);
void post_data_free(post_data *p);

/* A table as a statement names it: schema and name as stored (dequoted). */
typedef struct post_data_rel {
	char *schema;
	char *name;
} post_data_rel;

/*
 * The table an INDEX, CONSTRAINT or FK CONSTRAINT entry is on (*on) and, for
 * a foreign key, the table it references (*ref, else left empty), read from
 * the entry's statement as pg_dump writes it ("CREATE INDEX i ON [ONLY] s.t
 * ...", "ALTER TABLE [ONLY] s.t ADD CONSTRAINT c ... REFERENCES s.r(...)").
 * 0 when found; -1, with nothing allocated, for any other shape.
 */
int post_data_entry_tables(const post_data_entry *e, post_data_rel *on, post_data_rel *ref);
void post_data_rel_clear(post_data_rel *r);

#endif
