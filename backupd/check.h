/*
 * `backupd check`: before an operator trusts the daemon with the night, prove
 * that everything the config names can be reached: each repository opens and
 * lists, each source accepts a connection, the state directory is writable.
 */
#ifndef BACKUPD_CHECK_H
#define BACKUPD_CHECK_H

#include "common/program.h"

/* Prints one line per item; fails (exit 1) when any item failed. */
int check_command(program *p, bderr *err);

#endif
