/*
 * Run history: one JSON-lines file per job, state-dir/history/<job>.jsonl,
 * one line per run (start, end, duration, result, backup id, bytes, rows,
 * error).
 * Appending one line with one write() keeps the file readable even when a
 * run crashes; the daemon and `backupd status` only need its last line. A
 * line torn by a kill mid-write is skipped by the readers, and the next
 * append starts a new line after it rather than continuing it.
 */
#ifndef BACKUPD_RUN_HISTORY_H
#define BACKUPD_RUN_HISTORY_H

#include <stdint.h>
#include <time.h>

#include "common/config.h"
#include "common/program.h"

#define STATE_DIR_DEFAULT "/var/lib/backupd"

typedef struct run_record {
	char *job;
	time_t start;
	time_t end;
	int ok;          /* result: 1 "ok", 0 "failed" */
	char *backup_id; /* NULL when none was made */
	uint64_t bytes;  /* stored bytes of the backup */
	uint64_t rows;   /* table rows in the backup */
	char *error;     /* NULL on success */
} run_record;

void run_record_free(run_record *r);

/* [global] state-dir, else STATE_DIR_DEFAULT (points into cfg or static). */
const char *run_history_state_dir(const config *cfg);

/*
 * The state dir as a place to create (dir_place_check, common/fsutil.h): a
 * usage error (exit 2) when it is not a directory or a directory above it is
 * a file, the operator's setup to fix like a repository under a file; 0
 * otherwise (missing is fine, the first run creates it).
 */
int run_history_check_state_dir(const config *cfg, bderr *err);

/* Appends r to state-dir/history/<r->job>.jsonl, creating directories. */
int run_history_append(const config *cfg, const run_record *r, bderr *err);

/* The last complete entry of job; *found = 0 (and out zeroed) when none. */
int run_history_last(const config *cfg, const char *job, run_record *out, int *found,
		     bderr *err);

/* The last complete entry of job that succeeded (for "last success" after a restart). */
int run_history_last_ok(const config *cfg, const char *job, run_record *out, int *found,
			bderr *err);

/* `backupd status [--json]`: each job's last run and next fire time. */
int status_command(program *p, bderr *err);

#endif
