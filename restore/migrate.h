/*
 * dbrestore migrate: a live source database copied straight into a target
 * server (a newer major, a new machine) from one consistent snapshot, with
 * no repository in between (--via-repo R also keeps a verified backup of
 * what was moved).  The command is engine-neutral: it checks the options,
 * schedules the engine's copy units over --jobs workers (common/workpool),
 * calls the verification and always ends the engine's session, which makes
 * the result visible only when every step succeeded.
 */
#ifndef BACKUPD_RESTORE_MIGRATE_H
#define BACKUPD_RESTORE_MIGRATE_H

#include "common/program.h"

extern const cli_option migrate_options[];

int migrate_command(program *p, bderr *err);

#endif
