/*
 * `backupd check`: before an operator trusts the daemon with the night, prove
 * that the config is what `daemon` accepts (every error at once, with its
 * FILE:LINE and key) and that everything it names works: each repository
 * opens and lists (or can be created by the first backup), each source
 * accepts a connection with a role that can dump it (and stream a base backup
 * when a basebackup job uses it), the state directory is writable; with --wal,
 * a forced WAL switch reaches the repository of each basebackup job.
 */
#ifndef BACKUPD_CHECK_H
#define BACKUPD_CHECK_H

#include "common/program.h"

/*
 * Prints one line per item (--json: an array of objects); exit 2 when the
 * config has an error or an item failed on a usage or config error (what run
 * exits 2 for), else 1 when an item failed.
 */
int check_command(program *p, bderr *err);

#endif
