/*
 * What a PostgreSQL restore needs to know about its target server before
 * anything runs: its major version (a dump of a newer major is refused up
 * front: pg_dump's output is not promised to load into an older server) and
 * the configuration parameters it knows, from its own pg_settings.  A newer
 * pg_dump writes session settings such as "SET transaction_timeout = 0" that
 * an older server rejects; the restore leaves out exactly the settings this
 * target lacks, decided per target rather than from a list of names.
 */
#ifndef BACKUPD_RESTORE_PG_TARGET_H
#define BACKUPD_RESTORE_PG_TARGET_H

#include <stddef.h>

#include <libpq-fe.h>

#include "common/error.h"

typedef struct pg_target {
	int server_num;      /* PQserverVersion */
	char **settings;     /* sorted, lower case */
	size_t n_settings;
} pg_target;

/* Reads the target's version and pg_settings names. */
int pg_target_load(PGconn *c, pg_target **out, bderr *err);
/* From a list of names (tests); the list is copied. */
pg_target *pg_target_new(int server_num, const char *const *names, size_t n);
void pg_target_free(pg_target *t);

/* 1 when the target knows the parameter (case-insensitive; custom "a.b" names always). */
int pg_target_knows(const pg_target *t, const char *name, size_t n);

/*
 * 1 when stmt[0..n) is a session setting the target does not know:
 * "SET [SESSION] name = ...;" / "SET name TO ...;" or pg_dump's
 * "SELECT pg_catalog.set_config('name', ..., false);".  Anything else: 0.
 * name and name_len point at the parameter's name when 1 is returned.
 */
int pg_target_skips(const pg_target *t, const char *stmt, size_t n, const char **name,
		    size_t *name_len);

/*
 * A column or table option a patched or newer source server knows and the
 * target rejects ("unrecognized parameter \"NAME\"", as the target itself
 * answered): stmt[0..n), an "ALTER TABLE ... SET (a=1, NAME=2)", without
 * NAME's entry (malloc'ed; "" when nothing is left to set), or NULL when
 * stmt is no such statement or does not set NAME.
 */
char *pg_target_drop_option(const char *stmt, size_t n, const char *name);
/* NAME from a target's "unrecognized parameter \"NAME\"" message (malloc'ed), or NULL. */
char *pg_target_unknown_option(const char *message);

/*
 * A dump of source_num (server_version_num recorded at dump time, 0 when
 * unknown) into this target: -1 with a clear error when the target is an
 * older major.  what names the source for the message ("backup ID", "the
 * source").
 */
int pg_target_check_major(const pg_target *t, long source_num, const char *what, bderr *err);

#endif
