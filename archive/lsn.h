/*
 * PostgreSQL WAL positions (pg_lsn) as text "X/Y": both programs need them,
 * the base backup to record start and stop, PITR to pick a backup for
 * --target-lsn.
 */
#ifndef BACKUPD_ARCHIVE_LSN_H
#define BACKUPD_ARCHIVE_LSN_H

#include <stddef.h>
#include <stdint.h>

#define LSN_TEXT_MAX 18 /* "FFFFFFFF/FFFFFFFF" + NUL */

/* "16/B374D848" -> 0x16B374D848; -1 for anything else (no sign, no spaces). */
int lsn_parse(const char *s, uint64_t *out);
void lsn_format(uint64_t lsn, char out[LSN_TEXT_MAX]);

#endif
