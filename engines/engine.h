/*
 * Database engines as drivers: one table of operations per database kind
 * (PostgreSQL in engines/pg/, MySQL/MariaDB in engines/mysql/), chosen from
 * a source URI's scheme the way archive/storage.c chooses a storage driver
 * from a repository URL.  Commands (backupd/, restore/) and the wiring in
 * common/ only ever go through this table: nothing outside an engine's
 * folder branches on the kind of database.
 *
 * The options every engine's dump takes, with their defaults and bounds, are
 * declared here once: `backupd dump` (command line), `backupd run JOB` and
 * the daemon's jobs (configuration) fill the same struct through the same
 * setter, then call the same entry, engine->dump.
 */
#ifndef BACKUPD_ENGINES_ENGINE_H
#define BACKUPD_ENGINES_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "archive/repo.h"
#include "common/error.h"
#include "common/workpool.h"
#include "common/tablefilter.h"

/* ---- dump options: defaults and bounds, once ----------------------------- */

#define ENGINE_JOBS_DEFAULT 2
#define ENGINE_JOBS_MIN 1
#define ENGINE_JOBS_MAX 64
#define ENGINE_COMPRESS_DEFAULT "zstd:1"
#define ENGINE_CHUNK_SIZE_DEFAULT "256MB"

typedef enum engine_consistency {
	ENGINE_CONSISTENCY_DEFAULT, /* not asked for: the engine's own default */
	ENGINE_CONSISTENCY_LOCK,    /* a global read lock while snapshots open (MySQL FTWRL) */
	ENGINE_CONSISTENCY_NO_LOCK  /* no global lock (MySQL: accounts without RELOAD) */
} engine_consistency;

/*
 * engine_dump_options.given: the options of one engine only that were set at
 * all (command line or job key), whatever their value: the other engine
 * refuses them even when they say its default (`--copy-format auto` on a
 * MySQL source is as meaningless as `text`).
 */
enum {
	ENGINE_GIVEN_CONSISTENCY = 1,    /* --consistency, consistency = (MySQL/MariaDB) */
	ENGINE_GIVEN_COPY_FORMAT = 2,    /* --copy-format, copy-format = (PostgreSQL) */
	ENGINE_GIVEN_ROLE_PASSWORDS = 4, /* --role-passwords, role-passwords = (PostgreSQL) */
};

typedef struct engine_dump_options {
	const char *url;           /* connection URI */
	const char *password;      /* from a 0600 file, or NULL (the client library's defaults) */
	const char *name;          /* source name in the repository */
	int jobs;                  /* worker connections */
	int compress_level;        /* zstd level, 0 = none */
	const char *compress_spec; /* as given ("zstd:3", "none"), recorded in the manifest */
	uint64_t chunk_bytes;      /* split tables larger than this */
	engine_consistency consistency;
	/*
	 * PostgreSQL: --copy-format text: every table in COPY text, none in
	 * binary (engines/pg/pg_copybin.h); 0 (auto): binary where the types allow.
	 */
	int copy_text;
	/*
	 * PostgreSQL: an exported snapshot to dump from instead of exporting one
	 * (migrate --via-repo dumps what it copies), or NULL.
	 */
	const char *snapshot;
	table_filter *filter;      /* --include-table ... (owned); NULL: every table */
	int all_databases;         /* every database of the server (PostgreSQL: and its globals) */
	int role_passwords;        /* PostgreSQL, with all_databases: the roles' password hashes too */
	struct progress *progress; /* common/progress.h: totals and what is done; NULL: none */
	unsigned given;            /* ENGINE_GIVEN_*: set by engine_dump_option_set and the callers */
} engine_dump_options;

/* The defaults above; url, password and name NULL. */
void engine_dump_options_init(engine_dump_options *o);
/* Frees what the options own (the filter). */
void engine_dump_options_clear(engine_dump_options *o);

/*
 * The table-filter options and keys ("include-table", "exclude-table",
 * "exclude-table-data"), NULL-terminated, and the filter list each fills.
 */
extern const char *const engine_dump_filter_keys[];
/* Adds value (space-separated patterns when list) to o's filter under key. */
int engine_dump_filter_add(engine_dump_options *o, const char *key, const char *value, int list,
			   bderr *err);

/*
 * Sets one option from its text, as written on the command line or in a
 * [job:] section: "compress", "chunk-size", "consistency" or "copy-format".  A usage error
 * names the value; the caller names the option or the key.  (jobs is an integer: the callers read it
 * with cli_get_int / config_get_long and the ENGINE_JOBS_* bounds.)
 */
int engine_dump_option_set(engine_dump_options *o, const char *key, const char *value, bderr *err);

/* "text" -> 1, "auto" -> 0 into *copy_text; else a usage error naming the value. */
int engine_copy_format_parse(const char *value, int *copy_text, bderr *err);

/* The keys engine_dump_option_set knows, NULL-terminated. */
extern const char *const engine_dump_option_keys[];

/* "64MB", "1G", "1048576" -> bytes; -1 on anything else. */
int engine_parse_size(const char *s, uint64_t *out);

/*
 * info.options of every dump: the options it ran with, for the operator
 * (`list --json`) and for support; not needed to restore.
 */
typedef struct engine_options_info {
	int64_t jobs;
	char *compress;
	int64_t chunk_size;
	char *consistency; /* MySQL: "ftwrl" | "no-lock"; NULL elsewhere */
} engine_options_info;

/* What o records; consistency as the engine names it, or NULL. */
void engine_options_info_set(engine_options_info *oi, const engine_dump_options *o,
			     const char *consistency);
void engine_options_info_clear(engine_options_info *oi);

typedef struct engine_restore_options {
	const char *to_url;   /* target URI */
	const char *password; /* from a 0600 file, or NULL */
	int jobs;
	int create;           /* CREATE DATABASE first (dropped again on failure) */
	int allow_non_empty;  /* restore into a database that already has objects */
	int no_owner;         /* PostgreSQL: objects owned by the connecting role */
	int no_privileges;    /* PostgreSQL: no GRANT/REVOKE */
	int no_binlog;        /* MySQL: SET sql_log_bin = 0 */
	int roles;            /* --roles: the recorded roles/accounts the target lacks are created */
	const char *owner;    /* --owner ROLE, or NULL */
	const char *const *role_map; /* PostgreSQL: --role-map OLD=NEW ..., NULL-terminated, or NULL */
	const char *provision_db; /* --provision DB (with owner, env_file; implies create), or NULL */
	const char *env_file;
	int reuse_role;
	int provision_no_resume; /* provision_request.no_resume (common/provision.h): migrate --follow */
	int verify;           /* --verify: compare the result with the dump's digest (engines/digest.h) */
	const table_filter *filter; /* --table, --schema, --exclude-*: a subset; NULL: everything */
	int server_part;            /* one database of a whole-server restore: a --table pattern or a
				       --role-map OLD need not be in each database */
	const char *database;       /* --database: one database of a whole-server dump, or NULL */
	/*
	 * common/progress.h, or NULL.  The caller sets the totals from the
	 * manifest and counts what the repository's readers read
	 * (repo_set_progress); engines only name their phases.
	 */
	struct progress *progress;
} engine_restore_options;

/* ---- migrate: a live source copied straight into a target ------------------- */

/*
 * dbrestore migrate (restore/migrate.c) drives these; the engine does the
 * database work.  The target side takes the restore's options (create, roles,
 * owner, role_map, provision, env_file, reuse_role, allow_non_empty, no_owner,
 * no_privileges, jobs), with the same meaning and the same checks
 * (engine->restore_options_check).
 */
typedef struct engine_migrate_options {
	const char *from_url;      /* source URI */
	const char *from_password; /* from a 0600 file, or NULL */
	/*
	 * An already-exported snapshot of the source to read from (PostgreSQL:
	 * the name from pg_export_snapshot() or from a logical replication slot
	 * created with an exported snapshot, which migrate --follow needs), or
	 * NULL: migrate_open exports its own.  Its exporter must keep it open
	 * until migrate_close.
	 */
	const char *snapshot;
	uint64_t chunk_bytes;      /* split tables larger than this into parallel units (0: never) */
	int copy_text;             /* PostgreSQL: --copy-format text (engine_dump_options.copy_text) */
	engine_restore_options to; /* the target, as restore takes it (to.jobs = worker count) */
} engine_migrate_options;

/* One unit of data to copy: a table, a chunk of one, or the large objects. */
typedef struct engine_migrate_unit {
	char *label;    /* for messages and progress: "public.t", "public.t (chunk 2/4)" */
	char *table;    /* the table it belongs to, qualified (chunks of one table share it), or NULL */
	uint64_t bytes; /* size estimate on the source, for scheduling and progress */
	int64_t rows;   /* set by migrate_copy: rows copied (-1: not counted) */
	void *engine;   /* the engine's own description of the unit */
} engine_migrate_unit;

/* ---- the operations -------------------------------------------------------- */

typedef struct engine_ops engine_ops;
struct engine_follow_ops; /* engines/follow.h */

struct engine_ops {
	const char *name;             /* manifest.json "engine": "postgresql", "mysql" */
	const char *const *schemes;   /* URI schemes with "://", NULL-terminated */
	/*
	 * 1 when the engine has physical backups (base backups, WAL archiving,
	 * point-in-time recovery).  Those are PostgreSQL-only commands in
	 * backupd/basebackup.c, wal_push.c and restore/pitr.c, wal_get.c (see
	 * ARCHITECTURE.md); they refuse a source whose engine says 0.
	 */
	int physical;
	/*
	 * Connects to a source and checks that it can be dumped (the account's
	 * privileges); note gets why it can ("can dump: superuser").
	 */
	int (*check)(const char *url, const char *password, char *note, size_t note_len, bderr *err);
	/*
	 * The URI's syntax only (port, percent-escapes), no connection: lets
	 * `check` name a bad [source:] url = by FILE:LINE and key, as every
	 * other config error is named.
	 */
	int (*url_check)(const char *url, bderr *err);
	/*
	 * Physical engines only (NULL elsewhere), for `check`: whether the
	 * source can stream a base backup, and a WAL switch whose segment name
	 * (len >= 25) `check --wal` then waits for in the archive.
	 */
	int (*check_physical)(const char *url, const char *password, char *note, size_t note_len,
			      bderr *err);
	int (*switch_wal)(const char *url, const char *password, char *segment, size_t len,
			  bderr *err);
	/*
	 * Refuses options that make no sense for this engine, before anything
	 * is written (NULL: every option applies).
	 */
	int (*dump_options_check)(const engine_dump_options *o, bderr *err);
	/*
	 * Connects to the source as dump does first (and the server check that
	 * follows), then disconnects: called before a repository is opened for a
	 * dump, which creates it when missing, so that a first dump with a wrong
	 * host or password leaves no repository behind.  Its errors are dump's.
	 */
	int (*reach)(const char *url, const char *password, bderr *err);
	/* Logical dump into r; on success *id is the new backup's ID (caller frees). */
	int (*dump)(repo *r, const engine_dump_options *o, char **id, bderr *err);
	int (*restore_options_check)(const engine_restore_options *o, bderr *err); /* or NULL */
	/* Restore of backup m (an m->engine equal to name) from r. */
	int (*restore)(repo *r, const manifest *m, const engine_restore_options *o, bderr *err);

	/*
	 * dbrestore migrate (NULL when the engine has none).  The command calls,
	 * in order: migrate_open; migrate_dump (only with --via-repo);
	 * migrate_units; then, in the worker pool (or migrate_run), migrate_worker_open once per
	 * worker thread and migrate_copy for each unit (any order, in parallel);
	 * migrate_post; migrate_verify; finally migrate_close, always once
	 * migrate_open succeeded, with ok 1 only when every step succeeded.  A session is used from one thread
	 * at a time except through migrate_copy, which must be safe to call
	 * concurrently on different workers.
	 *
	 * migrate_open: connects to both sides, opens the source snapshot
	 * (o->snapshot, or its own), checks and prepares the target exactly as
	 * restore would (major version, roles, --provision, --create: a
	 * database created here is dropped by migrate_close(ok = 0)), and
	 * applies the schema the data needs (PostgreSQL: pre-data and the large
	 * objects' metadata).  o must stay valid until migrate_close.  When it
	 * fails it releases what it opened and drops what it created itself.
	 * It returns 1, with no session (nothing else is called), when
	 * --provision found its database complete from a killed run of the
	 * same provisioning and completed that instead (the env file written):
	 * there is nothing to copy.
	 */
	int (*migrate_open)(const engine_migrate_options *o, void **session, bderr *err);
	/* Run in each migrate worker thread around its use of the connections (MySQL: my_thread_hooks), or NULL. */
	const workpool_hooks *migrate_thread_hooks;
	/*
	 * A backup of exactly what the session reads (the same snapshot) into
	 * r as source `name`, like engine->dump; *id as dump's.  o gives the
	 * dump's compression and chunk size (its url/password are the source's).
	 */
	int (*migrate_dump)(void *session, repo *r, const engine_dump_options *o, char **id,
			    bderr *err);
	/* The units of data to copy, largest first; freed with migrate_units_free. */
	int (*migrate_units)(void *session, engine_migrate_unit **units, size_t *n, bderr *err);
	void (*migrate_units_free)(void *session, engine_migrate_unit *units, size_t n);
	/* A worker's own connections (source in the snapshot, target), and their end. */
	int (*migrate_worker_open)(void *session, void **worker, bderr *err);
	void (*migrate_worker_close)(void *session, void *worker);
	/* Copies one unit source -> target on the worker's connections, in bounded memory. */
	int (*migrate_copy)(void *session, void *worker, engine_migrate_unit *unit, bderr *err);
	/*
	 * Runs the copies itself instead of the command's pool, or NULL:
	 * copy(shared, workers[i], &units[k]) once for every unit, on worker
	 * i's thread, with the engine's own work between them (PostgreSQL: the
	 * restore's pipeline builds a table's indexes as soon as it is copied).
	 */
	int (*migrate_run)(void *session, engine_migrate_unit *units, size_t n, void **workers,
			   int n_workers, workpool_fn copy, void *shared, bderr *err);
	/* After every unit: the schema that follows the data (indexes, constraints), sequences. */
	int (*migrate_post)(void *session, bderr *err);
	/*
	 * Compares the target with the source's snapshot (per table row count
	 * and checksum, object inventory, sequences); a difference names what
	 * differs.  NULL: the engine cannot verify yet (the command says so).
	 */
	int (*migrate_verify)(void *session, bderr *err);
	/*
	 * ok: makes the result visible (PostgreSQL --create: renames the
	 * database to its name; --provision: writes the env file).  !ok:
	 * drops what migrate_open created.  Frees the session (also when it
	 * fails).
	 */
	int (*migrate_close)(void *session, int ok, bderr *err);
	/*
	 * `dbrestore verify`: the database(s) at o->to_url against backup m's
	 * recorded digest; the error names the differences.
	 */
	int (*verify)(repo *r, const manifest *m, const engine_restore_options *o, bderr *err);
	/* migrate --follow on the engine's own replication (engines/follow.h), or NULL */
	const struct engine_follow_ops *follow;
};

/* The engine whose scheme uri starts with (case-insensitive), or NULL. */
const engine_ops *engine_for_uri(const char *uri);

/* The engine a manifest names, or NULL. */
const engine_ops *engine_by_name(const char *name);

/* e->reach when the engine has one (see engine_ops). */
int engine_reach(const engine_ops *e, const char *url, const char *password, bderr *err);
/* e->dump_options_check when the engine has one. */
int engine_dump_options_check(const engine_ops *e, const engine_dump_options *o, bderr *err);
int engine_restore_options_check(const engine_ops *e, const engine_restore_options *o, bderr *err);

/* "postgresql://, postgres://, mysql:// or mariadb://": for messages. */
const char *engine_schemes_text(void);

#endif
