/*
 * `dbrestore migrate --follow` and the commands that act on a follow later,
 * from any process: `migrate status`, `migrate cutover`, `migrate abort`.
 *
 * A follow is known by its name (--name N) and kept in
 * STATE-DIR/migrations/N.json (mode 0600; STATE-DIR is --state-dir, else
 * [global] state-dir, else /var/lib/backupd): the engine, the --from/--to
 * arguments as given (a URI must not carry a password: the state file holds
 * no secret), the names of what the engine created and the phase.  A lock
 * beside it (N.lock) keeps two commands from working on one follow at once.
 *
 * migrate (restore/migrate.c) drives a follow through three calls:
 * migrate_follow_begin before the copy (its snapshot is the one the copy
 * reads), migrate_follow_start after the copy and post-data, and
 * migrate_follow_free (undoing a follow that never started).
 */
#ifndef BACKUPD_RESTORE_MIGRATE_FOLLOW_H
#define BACKUPD_RESTORE_MIGRATE_FOLLOW_H

#include "common/program.h"
#include "engines/engine.h"
#include "engines/follow.h"

typedef struct migrate_follow migrate_follow;

typedef struct migrate_follow_args {
	const char *state_dir; /* NULL: [global] state-dir, else the default */
	const char *name;      /* --name */
	const char *from_arg;  /* --from as given (config name or URI without password) */
	const char *to_arg;
	const char *env_file;  /* --env-file of a provisioning migrate (printed at cut-over), or NULL */
	const char *owner;     /* --owner (the application's role/user), or NULL */
} migrate_follow_args;

/*
 * Before the copy: refuses a name already following, records the
 * migration and lets the engine prepare (o->name must be a->name).
 * *snapshot (caller frees; NULL for engines without one) is the snapshot
 * the copy must read, valid until migrate_follow_start.  A state left by a
 * migrate killed before it started following is undone first: a killed
 * --follow is simply run again.
 */
int migrate_follow_begin(const config *cfg, const engine_ops *e, const migrate_follow_args *a,
			 const follow_options *o, migrate_follow **out, char **snapshot, bderr *err);

/*
 * migrate --follow: migrate_follow_begin with the command's --name,
 * --state-dir, --replica-identity-full and --upstream* options (refused
 * without --follow), from and to as resolved, mo the migrate's options.
 */
struct source_spec;
struct engine_migrate_options;
int migrate_follow_open(program *p, const struct source_spec *from, const struct source_spec *to,
			const struct engine_migrate_options *mo, migrate_follow **out, char **snapshot,
			bderr *err);

/* The follow's state, for the copy to record in it what the engine needs (MySQL: binlog coordinates). */
follow_state *migrate_follow_state(migrate_follow *f);

/* After the copy, before engine->migrate_close: the engine records where the copy's snapshot is. */
int migrate_follow_copied(migrate_follow *f, void *migrate_session, bderr *err);

/* After the copy and post-data: the target starts following; prints how to go on. */
int migrate_follow_start(migrate_follow *f, bderr *err);

/* Frees f; a follow that did not start (the copy failed) is undone first. */
void migrate_follow_free(migrate_follow *f);

/* `dbrestore migrate status|cutover|abort` */
int migrate_status_command(program *p, bderr *err);
int migrate_cutover_command(program *p, bderr *err);
int migrate_abort_command(program *p, bderr *err);

/* Their option tables (the --follow options of migrate itself: MIGRATE_FOLLOW_OPTS). */
extern const cli_option migrate_status_opts[];
extern const cli_option migrate_cutover_opts[];
extern const cli_option migrate_abort_opts[];

#define MIGRATE_OPT_STATE_DIR \
	{ "state-dir", "DIR", "where follows are recorded (DIR/migrations/NAME.json; default: [global] state-dir, else /var/lib/backupd)", 0, NULL, 0, 0 }

/* The options migrate takes for --follow, for its table. */
#define MIGRATE_FOLLOW_OPTS \
	{ "follow", NULL, "keep the target following the source (engine replication) until `migrate cutover`", 0, NULL, 0, 0 }, \
	MIGRATE_OPT_STATE_DIR, \
	{ "replica-identity-full", NULL, "--follow, PostgreSQL: set REPLICA IDENTITY FULL on tables without a key (put back at cut-over)", 0, NULL, 0, 0 }, \
	{ "upstream", "URI", "--follow: the source as the target server reaches it (default: --from)", 0, NULL, 0, 0 }, \
	{ "upstream-password-file", "FILE", "--follow: the replication password (0600; MySQL: the replication user's)", 0, NULL, 0, 0 }, \
	{ "upstream-passfile", "PATH", "--follow, PostgreSQL: a passfile on the target server's host for the subscription (no password stored)", 0, NULL, 0, 0 }

#endif
