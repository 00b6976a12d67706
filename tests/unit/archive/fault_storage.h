/*
 * A storage driver for tests that wraps another one and injects faults
 * through the ordinary storage interface: failed or short writes, failed
 * commits, read errors and silent corruption.  A zeroed plan injects nothing.
 */
#ifndef BACKUPD_TESTS_FAULT_STORAGE_H
#define BACKUPD_TESTS_FAULT_STORAGE_H

#include <stddef.h>
#include <stdint.h>
#include "archive/storage.h"

typedef struct fault_plan {
	/* Faults apply only to paths containing this substring (NULL: all). */
	const char *only_path;

	/* The Nth write call (1-based, counted over all writers) fails; 0: never. */
	unsigned fail_write_at;
	int write_errno;           /* errno of that failure; 0 means EIO */
	size_t short_write_bytes;  /* bytes of the failing write stored first */

	int fail_open_write;       /* open_write fails with write_errno */
	int fail_close;            /* writer close fails before committing */
	int close_errno;           /* 0 means EIO */

	int fail_open_read;        /* open_read fails with read_errno */
	int fail_reads;            /* reads fail once read_fail_after bytes were returned */
	uint64_t read_fail_after;
	int read_errno;            /* 0 means EIO */

	int corrupt_reads;         /* flip a bit of the byte at corrupt_offset on every read */
	uint64_t corrupt_offset;
} fault_plan;

/* Takes ownership of inner; the plan is copied (only_path too). */
storage *fault_storage_new(storage *inner, const fault_plan *plan);

/* Write calls seen so far on paths the plan applies to. */
unsigned fault_storage_writes(storage *s);

#endif
