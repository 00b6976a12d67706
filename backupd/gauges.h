/*
 * Figures for /metrics that processes other than the daemon know: wal-push
 * (run by PostgreSQL's archive_command) and job runs leave small files in
 * the state directory, and the daemon reads them when it publishes:
 *
 *   STATE-DIR/gauges/wal/SOURCE/archived   mtime: last segment archived
 *   STATE-DIR/gauges/wal/SOURCE/failures   one byte per failed push
 *   STATE-DIR/gauges/wal/SOURCE/spool      segments waiting (.ready) at the last push
 *   STATE-DIR/gauges/repo/REPO             stored bytes of the repository's backups
 *   STATE-DIR/gauges/progress/JOB          a running run's progress (JSON, with its
 *                                          pid), replaced every couple of seconds and
 *                                          removed when the run ends
 *
 * Appending one byte per failure needs no lock between concurrent pushes.
 * Recording is best effort: a state dir the caller cannot write (wal-push
 * runs as the server's user) only costs the figure, never the push or run.
 */
#ifndef BACKUPD_GAUGES_H
#define BACKUPD_GAUGES_H

#include <stddef.h>

#include <jansson.h>

#include "backupd/metrics_http.h"
#include "common/config.h"

struct repo;

/* After a push of source: ok or not, and how many segments were still waiting. */
void gauges_record_wal(const config *cfg, const char *source, int ok, size_t waiting);
/* After a job run: the stored size of every backup in r, under the config's repo name. */
void gauges_record_repo(const config *cfg, const char *repo_name, struct repo *r);
/*
 * The progress publisher of a job run (common/progress.h progress_publish_fn):
 * ctx is a gauges_progress_ctx.  The final call removes the file.
 */
struct progress_snapshot;
typedef struct gauges_progress_ctx {
	const config *cfg;
	const char *job;
} gauges_progress_ctx;
void gauges_record_progress(void *ctx, const struct progress_snapshot *s, int final);
/* A progress file not replaced for this long is no longer a run's (seconds). */
#define GAUGES_PROGRESS_STALE 120
/*
 * The progress of job's running run: 1 and s filled when a live process
 * (its pid still exists) left one within GAUGES_PROGRESS_STALE, else 0.
 */
int gauges_read_progress(const config *cfg, const char *job, struct progress_snapshot *s);
/* That progress as status --json shows it (what, started, bytes_done, ...). */
json_t *gauges_progress_json(const struct progress_snapshot *s);

/* Fills s->wal and s->repos, and the running jobs' progress in s->jobs, from the state dir. */
void gauges_load(const config *cfg, metrics_snapshot *s);

#endif
