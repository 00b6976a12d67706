/*
 * Splitting a table on a single-column integer key into ranges of about
 * the same width.  Pure arithmetic, separate so it is unit-tested alone.
 */
#ifndef BACKUPD_ENGINES_MYSQL_CHUNKS_H
#define BACKUPD_ENGINES_MYSQL_CHUNKS_H

#include <stdint.h>

/*
 * How many chunks a table of data_bytes (estimated rows est_rows) needs so
 * each holds about chunk_bytes; at least 1, never more than est_rows.
 */
uint64_t mysql_chunk_count(uint64_t data_bytes, uint64_t est_rows, uint64_t chunk_bytes);

/*
 * Splits the key range [min, max] (decimal text, signed or unsigned 64-bit)
 * into at most want ranges.  bounds[i - 1] is the first key of chunk i
 * (i >= 1); chunk 0 has no lower bound and the last none upper, so rows
 * outside [min, max] still land in a chunk.  Returns the number of chunks
 * (1 when min/max are unusable, then *bounds is NULL); caller frees each
 * bound and the array.
 */
uint64_t mysql_split_int_range(const char *min, const char *max, int is_unsigned, uint64_t want,
			       char ***bounds);

#endif
