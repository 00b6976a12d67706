/*
 * The target-side options restore and migrate share (--create, --roles,
 * --owner, --role-map, --provision, ...): declared once for both option
 * tables and read into engine_restore_options by one function, so the two
 * commands cannot drift apart.
 */
#ifndef BACKUPD_RESTORE_TARGET_OPTIONS_H
#define BACKUPD_RESTORE_TARGET_OPTIONS_H

#include "common/program.h"
#include "common/resolve.h"
#include "engines/engine.h"

/* The cli_option entries, for a command's table. */
#define TARGET_OPTIONS \
	{ "create", NULL, "create the target database when it does not exist", 0, NULL, 0, 0 }, \
	{ "allow-non-empty", NULL, "load into a database that already has tables", 0, NULL, 0, 0 }, \
	{ "no-owner", NULL, "PostgreSQL: do not set object owners", 0, NULL, 0, 0 }, \
	{ "no-privileges", NULL, "PostgreSQL: do not restore GRANTs", 0, NULL, 0, 0 }, \
	{ "no-binlog", NULL, "MySQL/MariaDB: do not write the load to the binary log", 0, NULL, 0, 0 }, \
	{ "roles", NULL, "create the roles the objects, grants and policies reference that the target lacks (no passwords; MySQL/MariaDB: the accounts with grants on its databases, created locked)", 0, NULL, 0, 0 }, \
	{ "owner", "ROLE", "PostgreSQL: ROLE owns every object (the source's owners map to it)", 0, NULL, 0, 0 }, \
	{ "role-map", "OLD=NEW", "PostgreSQL: use role NEW wherever the source names OLD", CLI_REPEATABLE, NULL, 0, 0 }, \
	{ "provision", "DB", "create DB and the --owner role/user (generated password) with the admin account in --to", 0, NULL, 0, 0 }, \
	{ "env-file", "FILE", "with --provision: write DATABASE_URL=... there (mode 0600)", 0, NULL, 0, 0 }, \
	{ "reuse-role", NULL, "with --provision: use an existing --owner role (its password is not changed)", 0, NULL, 0, 0 }

/*
 * Fills o (zeroed by the caller, which may have set the fields its command
 * adds) from p's options and target (its url and password; jobs from
 * --jobs) and checks them, engine's own checks included.  Release with
 * target_options_clear.
 */
int target_options_read(program *p, const source_spec *target, engine_restore_options *o,
			bderr *err);
void target_options_clear(engine_restore_options *o);

#endif
