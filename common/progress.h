/*
 * Progress of a long command (dump, restore, basebackup, pitr, verify,
 * expire, migrate): how much is done of how much, the rate and the time
 * left.
 *
 * The work's owner creates one progress object, tells it the totals it
 * knows (they may grow, and may be estimates: relation sizes, the server's
 * pg_stat_progress_* figures, table statistics), and its workers add what
 * they finish from any thread: the counters are atomics, an update costs a
 * few relaxed atomic additions and never blocks or allocates.  A reporter
 * thread owned by the object turns the counters into output:
 *
 *   - stderr is a terminal: one line redrawn in place about twice a second
 *     (log lines printed meanwhile scroll above it; see log_status_line):
 *       dump: 12.3 MiB of ~45.6 MiB (27%), 12/40 objects, 5.1 MiB/s, ETA 7s
 *   - not a terminal (journald, CI, a pipe, the daemon's children): one
 *     plain info log line every interval seconds (default 30):
 *       ... backupd info: progress: dump: 12.3 MiB of ~45.6 MiB (27%), ...
 *   - quiet: nothing.
 *
 * "~" marks an estimated total; an unknown total (0) prints no percent and
 * no ETA.  Progress never writes to stdout, where commands print their
 * machine-readable output.
 *
 * Optionally (a daemon's job runs) a publish callback gets a snapshot every
 * couple of seconds and at the end, so that another process can show a
 * running job's progress (backupd status, /metrics): see gauges.h.
 *
 * Every function accepts a NULL progress and then does nothing, so code
 * that reports progress needs no "if (p)" around its calls.
 */
#ifndef BACKUPD_COMMON_PROGRESS_H
#define BACKUPD_COMMON_PROGRESS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/error.h"

#define PROGRESS_INTERVAL_DEFAULT 30 /* seconds between plain lines */
#define PROGRESS_INTERVAL_MAX 86400
#define PROGRESS_STR_(x) #x
#define PROGRESS_STR(x) PROGRESS_STR_(x)

/*
 * The option of every long command, for its option table (cli.h); --quiet
 * is a global option of both programs (the contract's), in cli_args.quiet.
 */
#define PROGRESS_CLI_OPTIONS                                                                   \
	{ "progress-interval", "SECONDS",                                                      \
	  "not on a terminal: log a progress line this often (over [global] progress-interval)", \
	  0, PROGRESS_STR(PROGRESS_INTERVAL_DEFAULT), 1, PROGRESS_INTERVAL_MAX }

typedef struct progress progress;

/* What the counters said at one moment (for output, status files, tests). */
typedef struct progress_snapshot {
	char what[32];            /* "dump", "restore", ... */
	char phase[48];           /* "" or what happens now ("building indexes") */
	uint64_t bytes_done, bytes_total;     /* total 0: unknown */
	uint64_t objects_done, objects_total; /* total 0: unknown */
	int estimated;            /* the totals are estimates */
	double elapsed;           /* seconds since progress_new */
	double rate;              /* bytes per second, recent; 0: not known yet */
	time_t started;
} progress_snapshot;

/* Called with a snapshot from the reporter thread (and once at the end, final = 1). */
typedef void (*progress_publish_fn)(void *ctx, const progress_snapshot *s, int final);

typedef struct progress_options {
	int quiet;              /* no output at all (publish still runs) */
	int interval;           /* seconds between plain lines; <= 0: PROGRESS_INTERVAL_DEFAULT */
	int tty;                /* -1: stderr decides (isatty); 0: plain lines; 1: redrawn line */
	progress_publish_fn publish; /* NULL: none */
	void *publish_ctx;
} progress_options;

/* quiet 0, interval default, tty -1, no publish. */
void progress_options_init(progress_options *o);

/*
 * --quiet and --progress-interval (PROGRESS_CLI_OPTIONS) of a command's
 * arguments into o; a usage error names a bad interval.
 */
struct cli_args;
int progress_options_from_args(const struct cli_args *a, progress_options *o, bderr *err);

/*
 * Starts reporting the progress of `what` ("dump", "restore"...).  Never
 * fails: without a reporter thread (cannot create one) it stays silent.
 */
progress *progress_new(const char *what, const progress_options *o);
/* Stops the reporter (clears a terminal line; publishes the final snapshot). NULL: no-op. */
void progress_free(progress *p);

/* Totals: set outright, or grown as the work discovers more of itself. */
void progress_set_total(progress *p, uint64_t bytes, uint64_t objects);
void progress_add_total(progress *p, uint64_t bytes, uint64_t objects);
/*
 * One piece of estimated work is finished: its estimate in the total is
 * replaced by what it really was (a table chunk's relation size by its COPY
 * bytes), so the total converges on the truth as the work goes.
 */
void progress_correct_total(progress *p, uint64_t estimated, uint64_t actual);
/* 1: the byte total is an estimate (printed with "~"); object counts are exact. */
void progress_set_estimated(progress *p, int estimated);

/* Work finished, from any thread. */
void progress_add(progress *p, uint64_t bytes, uint64_t objects);
/* Absolute figures, for work measured elsewhere (the server's PROGRESS). */
void progress_set_done(progress *p, uint64_t bytes, uint64_t objects);

/* What happens now, shown after the figures; NULL or "" clears it. */
void progress_phase(progress *p, const char *phase);

/* The counters now (rate from the reporter's recent samples). */
void progress_get(progress *p, progress_snapshot *s);

/* ---- formatting, pure (unit-tested) ---------------------------------------- */

/* "0 B", "999 B", "1.0 KiB", "12.3 MiB", "4.00 GiB". */
void progress_format_bytes(uint64_t bytes, char *buf, size_t len);
/* "7s", "3m05s", "2h03m", "3d04h"; negative: "?". */
void progress_format_duration(double seconds, char *buf, size_t len);
/*
 * The line without prefix:
 *   "dump: 12.3 MiB of ~45.6 MiB (27%), 12/40 objects, 5.1 MiB/s, ETA 7s, building indexes"
 * Unknown totals print what is done only; the percent follows the bytes when
 * their total is known, else the objects; never 100% before the end when
 * done passed an estimated total.
 */
void progress_format_line(const progress_snapshot *s, char *buf, size_t len);

#endif
