/*
 * Whole-server PostgreSQL dumps (dump --all-databases): their format and
 * their restore.  One backup (one ID, one manifest: list, verify, expire
 * and retention treat it as any dump) holds the server's globals and every
 * database, each database's objects under "db/N/" and its info exactly as a
 * one-database dump's, so each restores through the same code as one.
 *
 * info = {
 *   "server": true,
 *   "globals": engines/pg/pg_globals.h,
 *   "databases": [ { "name": string, "prefix": "db/N/", "info": a one-database dump's info
 *                    (engines/pg/pg_format.h, with its "roles") } ],
 *   "options": { "jobs", "compress", "chunk_size" }
 * }
 */
#ifndef BACKUPD_ENGINES_PG_SERVER_H
#define BACKUPD_ENGINES_PG_SERVER_H

#include <jansson.h>

#include "engines/engine.h"

/* The info of a whole-server dump into out (m->info); globals and databases are kept (referenced). */
void pg_server_info_to_json(json_t *globals, json_t *databases, const engine_dump_options *o,
			    json_t *out);

/* 1 when info is a whole-server dump's. */
int pg_server_info_is(const json_t *info);

/*
 * The PostgreSQL engine's restore: a one-database dump goes to
 * pg_restore_run.  A whole-server dump restores, with o->database, that
 * database alone (into the database --to names, else into one of its own
 * name), else the globals and then every database under its own name:
 * created when the target lacks it, restored into it when it exists and is
 * empty (a new server's "postgres"), refused when it holds objects (unless o->allow_non_empty).
 */
int pg_server_restore_run(repo *r, const manifest *m, const engine_restore_options *o, bderr *err);

#endif
