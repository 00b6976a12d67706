/*
 * Is the archived WAL after a base backup unbroken?  Recovery from a backup
 * reads every segment from its start segment on, following timeline switches
 * (.history files) towards the newest timeline that branched off after the
 * backup started (what recovery_target_timeline = 'latest' does); a missing
 * or damaged segment ends what any recovery from that backup can reach.
 */
#ifndef BACKUPD_ARCHIVE_WAL_CHAIN_H
#define BACKUPD_ARCHIVE_WAL_CHAIN_H

#include <stddef.h>
#include <stdint.h>

#include "archive/repo.h"
#include "archive/wal.h"
#include "common/error.h"

/* One timeline of a path: WAL in [begin, end) of it belongs to the path. */
typedef struct wal_tl {
	uint32_t tli;
	uint64_t begin;
	uint64_t end; /* UINT64_MAX for the newest */
} wal_tl;

/*
 * The path to timeline tli from its .history text ("<parent tli>\t<X/Y>\t
 * reason" lines): its ancestors, then tli itself.  *path is allocated.
 */
int wal_history_parse(const char *text, size_t len, uint32_t tli, wal_tl **path, size_t *n,
		      bderr *err);

typedef struct wal_chain {
	uint32_t tli;     /* the newest timeline of the path followed */
	char first[25];   /* the backup's start segment */
	char last[25];    /* the last segment of the unbroken run ("" when none) */
	char missing[25]; /* the first missing segment, "" when none */
	char damaged[25]; /* the first damaged segment (only when read), "" when none */
	uint64_t end_lsn; /* the WAL is unbroken up to here */
	size_t n_segments;
} wal_chain;

/*
 * Pure part: walks segments (sorted names of the archived segments) from
 * start_lsn along path up to the newest archived segment of the path.
 */
void wal_chain_walk(const char *const *segments, size_t n, const wal_tl *path, size_t np,
		    uint64_t start_lsn, uint32_t seg_size, wal_chain *out);

/*
 * The chain from a base backup (its start LSN and timeline) in source's
 * archive listed as wl.  read_all: every segment is also read and checked
 * (checksums, header, address); the first damaged one ends the chain.
 */
int wal_chain_check(repo *r, const char *source, const wal_object_list *wl, uint32_t seg_size,
		    uint32_t start_tli, uint64_t start_lsn, int read_all, wal_chain *out,
		    bderr *err);

/*
 * The chain after base backup m (its manifest's start_lsn, timeline and
 * wal_segment_size): 1 when m is not a base backup or records no start, 0
 * with c filled, -1 on error.
 */
int wal_chain_of_backup(repo *r, const manifest *m, int read_all, wal_chain *c, bderr *err);

/* 1 when the segment base backup m needs last is in c's unbroken run. */
int wal_chain_covers_stop(const manifest *m, const wal_chain *c);

#endif
