/*
 * `dbrestore migrate --follow`: a migrated database kept up to date by the
 * engine's own replication until the cut-over (PostgreSQL: publication,
 * logical slot with an exported snapshot, subscription; MySQL/MariaDB: the
 * target becomes a replica from the copy's binlog position).  backupd writes
 * no change capture of its own: it sets the replication up, watches it, and
 * takes it down again.
 *
 * A follow outlives the process that started it, so what it created is kept
 * in a small state object (restore/migrate_state.c writes it as a 0600 JSON
 * file under the state directory): names of the slot, publication,
 * subscription, the binlog coordinates, and the phase.  Never a secret.
 * Every operation reads and updates that object and is idempotent: a
 * cut-over or abort killed midway is run again from where it stopped.
 */
#ifndef BACKUPD_ENGINES_FOLLOW_H
#define BACKUPD_ENGINES_FOLLOW_H

#include <jansson.h>
#include <stdint.h>

#include "common/error.h"

/*
 * What a follow created, as JSON fields, and how to persist it (the caller,
 * restore/migrate_state.c, writes it as a 0600 file; save may be NULL).
 */
typedef struct follow_state {
	json_t *data;
	int (*save)(const json_t *data, void *arg, bderr *err);
	void *arg;
} follow_state;

typedef struct follow_options {
	const char *name;          /* migration name: [a-z0-9_], 1..40 bytes (object names derive from it) */
	const char *from_url;      /* source */
	const char *from_password; /* from a 0600 file, or NULL */
	const char *to_url;        /* target */
	const char *to_password;
	const char *to_dbname;     /* the migrated database on the target when not to_url's (--provision), or NULL */
	/*
	 * How the target's replication reaches the source, when not as
	 * from_url says (another host name seen from the target); NULL: from_url.
	 */
	const char *upstream_url;
	/*
	 * The password the target's replication connection uses, from a 0600
	 * file (MySQL: the replication user's; PostgreSQL: stored in the
	 * subscription, see pg_follow.c), or NULL: from_password.
	 */
	const char *upstream_password;
	/* PostgreSQL: a passfile= path on the target server's host instead of a password in the subscription */
	const char *upstream_passfile;
	int replica_identity_full; /* PostgreSQL: REPLICA IDENTITY FULL for tables without a key */
} follow_options;

typedef struct follow_status {
	char phase[32];     /* "copying", "following", "stopped", "cutover", "done", "aborted" */
	int64_t lag_bytes;  /* -1 unknown */
	double lag_seconds; /* -1 unknown */
	int64_t rows_applied; /* since the copy; -1 unknown */
	int running;        /* the engine's apply side is running */
	char note[512];     /* why it stopped, or "" */
} follow_status;

typedef struct follow_cutover_options {
	int64_t max_lag_bytes; /* wait until the lag is under this before the source goes read-only */
	int grace_seconds;     /* sessions still open this long after read-only are ended */
	int timeout_seconds;   /* give up waiting for lag (the source is made writable again) */
	/*
	 * 0: verify every table before the switch (the window includes reading
	 * both databases whole).  1: verify the sequences, then switch, then
	 * the tables against a snapshot of the target taken at the switch (the
	 * source is read-only, so both sides are fixed): the window is only
	 * the catch-up; a difference is reported after the application moved.
	 */
	int verify_after;
	/* Called once the application can move to the target (prints the new connection string). */
	void (*switched)(void *arg);
	void *arg;
} follow_cutover_options;

/* A migration name as follow objects accept it ([a-z0-9_], 1..40 bytes). */
int follow_name_ok(const char *name);

/*
 * The engine's side.  handle is the engine's own object between prepare and
 * start (PostgreSQL: the replication connection that keeps the exported
 * snapshot alive until the copy has imported it).
 */
typedef struct engine_follow_ops {
	/* Whether url's server can be followed, for `backupd check` (note says what to change). */
	int (*check)(const char *url, const char *password, char *note, size_t len, bderr *err);
	/*
	 * Optional: refuses (usage error) an option of o this engine has no use
	 * for, before anything is recorded or created: never silently ignored.
	 */
	int (*options_check)(const follow_options *o, bderr *err);
	/*
	 * Before the copy: refuses what cannot be followed (names every table),
	 * creates what the copy must start from.  *snapshot (caller frees) is
	 * the snapshot the copy must read (PostgreSQL) or NULL.
	 */
	int (*prepare)(const follow_options *o, follow_state *state, void **handle, char **snapshot,
		       bderr *err);
	/*
	 * After the copy, while its session (engine->migrate_open's) is still
	 * open: records where the copy's snapshot is (MySQL: binlog file,
	 * position, GTID and the migrated databases).  NULL: nothing to record.
	 */
	int (*copied)(void *handle, void *migrate_session, const follow_options *o,
		      follow_state *state, bderr *err);
	/*
	 * After the copy and post-data: the target starts applying changes.
	 * (After engine->migrate_close: a database the copy created has its name.)
	 */
	int (*start)(void *handle, const follow_options *o, follow_state *state, bderr *err);
	void (*release)(void *handle);
	int (*status)(const follow_options *o, follow_state *state, follow_status *st, bderr *err);
	int (*cutover)(const follow_options *o, follow_state *state, const follow_cutover_options *c,
		       bderr *err);
	/* Removes everything the follow created; the source is left as it was. */
	int (*abort)(const follow_options *o, follow_state *state, bderr *err);
} engine_follow_ops;

/* state->data[key] as a string, or NULL. */
const char *follow_get(const follow_state *s, const char *key);
/* Sets (value NULL: removes) a field; persisted by the next follow_save. */
void follow_set(follow_state *s, const char *key, const char *value);
int64_t follow_get_int(const follow_state *s, const char *key, int64_t def);
void follow_set_int(follow_state *s, const char *key, int64_t v);
/* Engines save after every step that created or removed something, so a killed run resumes. */
int follow_save(follow_state *s, bderr *err);

/*
 * The phase check every engine's cut-over starts with: 1 when the
 * migration was cut over already (nothing to do), 0 to go on (following, or
 * a cut-over that was killed midway), -1 otherwise (err says why).
 */
int follow_cutover_phase(const follow_state *s, const char *name, bderr *err);
/*
 * A verification after the switch (verify_after) found a difference: err
 * gets where the data still is, the state phase "differs" and that note.
 */
void follow_record_differs(follow_state *s, bderr *err);

/* Sleeps ms milliseconds (polling loops). */
void follow_sleep_ms(int ms);

#endif
