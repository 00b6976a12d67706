/*
 * Binary COPY data loads only into columns of the types it was dumped from:
 * int4 data into a bigint column fails midway with a server error, and
 * 8 bytes of a timestamptz into a text column can even load as garbage.
 * A restore into tables it did not create itself (--allow-non-empty, or an
 * event trigger that changed them) compares the target's column types with
 * the ones the dump recorded for each binary table before any row is
 * loaded, and names the first that differs.  Types are compared without
 * their modifier (varchar(10) and varchar(20) read the same binary form; a
 * value too long for the target fails as it would in text).
 */
#ifndef BACKUPD_ENGINES_PG_TYPECHECK_H
#define BACKUPD_ENGINES_PG_TYPECHECK_H

#include <libpq-fe.h>

#include "common/error.h"
#include "common/tablefilter.h"
#include "engines/pg/pg_format.h"

/*
 * The binary tables of inf that f selects, against the target c: -1 and
 * one line naming table, column, dumped and target type at the first
 * difference.  A table the dump recorded no types for (a backup made
 * before they were recorded) cannot be checked: one warning says so.
 */
int pg_check_binary_types(PGconn *c, const pg_dump_info *inf, const table_filter *f, bderr *err);

#endif
