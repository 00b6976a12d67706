/*
 * Which archived WAL `expire` may delete.  A pure function of the archived
 * file names and the start segment of the oldest base backup that is kept,
 * so that --dry-run and the real run agree and tests need no repository.
 *
 * Rules:
 * - a segment, .partial or .backup file goes when its position (log and
 *   segment number, whatever its timeline) is before the oldest kept backup's
 *   start segment: recovery from any kept backup starts at or after it;
 * - .history files always stay: they are tiny and recovery to any later
 *   timeline needs the whole chain;
 * - no kept base backup (oldest_start NULL): nothing goes, since nobody can
 *   say which WAL a future restore needs.
 */
#ifndef BACKUPD_POLICIES_WAL_PRUNE_H
#define BACKUPD_POLICIES_WAL_PRUNE_H

#include <stddef.h>

#include "common/error.h"

/*
 * files[i] are archive file names ("000000010000000A000000FF",
 * "...partial", "...backup", "00000002.history"); remove[i] is set to 1 for
 * those that may go.  oldest_start is a segment name or NULL.  A name that is
 * not a WAL file name is kept.  Returns the number marked for removal, or -1
 * (with err) when oldest_start is not a segment name.
 */
long wal_prune_decide(const char *const *files, size_t n, const char *oldest_start, int *remove,
		      bderr *err);

#endif
