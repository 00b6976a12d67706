/*
 * Point-in-time recovery from a base backup: `dbrestore pitr`.
 *
 * Picks a complete base backup, extracts its tar archives (streamed from the
 * verified object reader through libarchive) into a new data directory and
 * its tablespaces, and sets the directory up for archive recovery: the
 * server itself then replays WAL fetched by `dbrestore wal-get` up to the
 * target and promotes.  Nothing here talks to a running server.
 */
#ifndef BACKUPD_RESTORE_PITR_H
#define BACKUPD_RESTORE_PITR_H

#include <stddef.h>
#include <stdint.h>

#include "archive/repo.h"
#include "common/program.h"

typedef enum pitr_target_kind {
	PITR_TARGET_NONE, /* replay all archived WAL */
	PITR_TARGET_TIME,
	PITR_TARGET_LSN,
	PITR_TARGET_NAME,
	PITR_TARGET_XID
} pitr_target_kind;

typedef struct pitr_target {
	pitr_target_kind kind;
	char *value;      /* as written to recovery_target_*: time normalised to UTC */
	int64_t time_us;  /* PITR_TARGET_TIME: microseconds since the epoch */
	uint64_t lsn;     /* PITR_TARGET_LSN */
} pitr_target;

/*
 * "2026-11-21 10:13:24.123456+01", "2026-11-21T10:13:24Z", "2026-11-21 10:13",
 * with or without seconds (none: 0), fraction (after seconds only) and zone
 * (none: this machine's local time, as TZ says).  Writes
 * the microseconds since the epoch and the same instant as
 * "YYYY-MM-DD HH:MM:SS.ffffff+00" (out >= 32 bytes).  -1 on anything else.
 */
int pitr_parse_time(const char *s, int64_t *us, char *out, size_t out_len);

/*
 * The newest complete base backup usable for target: for a time, the newest
 * that stopped before it; for an LSN, the newest whose stop LSN is at or
 * before it; otherwise the newest.  Returns the index in l or -1 (err names
 * why: no base backup, or none early enough).
 */
long pitr_choose_backup(const backup_list *l, const pitr_target *t, bderr *err);

/*
 * Text of a postgresql.conf string value: single quotes, embedded quotes
 * doubled (caller frees).
 */
char *pitr_conf_quote(const char *value);

/*
 * restore_command for the restored server: each word shell-quoted, '%'
 * doubled so the server substitutes only the final %f %p (caller frees).
 * words is NULL-terminated.
 */
char *pitr_restore_command(const char *const *words);

/*
 * 1 when a repository URL carries credentials (user:password@host, or a
 * query parameter that looks like a key or token): such a URL must not be
 * written into postgresql.auto.conf.
 */
int pitr_url_has_secret(const char *url);

/*
 * --primary-conninfo for a standby: a conninfo or URI libpq accepts, without
 * a password (it would sit in postgresql.auto.conf: the operator names a
 * passfile= instead).  Usage error naming why, never echoing the value.
 */
int pitr_check_primary_conninfo(const char *conninfo, bderr *err);

/*
 * The value the last line of a postgresql.conf text sets name to (names
 * compared without case, quotes removed, '' and \' unescaped; caller
 * frees), or NULL when no line does.  include directives are not followed.
 */
char *pitr_conf_value(const char *text, const char *name);

/* The `pitr` command. */
int pitr_command(program *p, bderr *err);

#endif
