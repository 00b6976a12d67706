/*
 * One configured job, run now: `backupd run JOB`.  The daemon runs jobs by
 * exec'ing this command in a child process, so a crash or a cancel only
 * ever takes one job down.
 */
#ifndef BACKUPD_JOB_H
#define BACKUPD_JOB_H

#include "common/config.h"
#include "common/program.h"
#include "engines/engine.h"

/*
 * Runs [job:NAME] of cfg: the backup, then the job's retention.  On success
 * *id is the new backup's ID (caller frees).  The run is recorded in the run
 * history whatever the outcome; a failure to record is logged, not fatal,
 * because the backup itself matters more than its bookkeeping.  The run's
 * progress (common/progress.h) is reported with po (NULL: none), only once
 * it holds the job's lock: a refused run must not touch the running one's
 * published figures.  Returns 0, -1 when the run did not start (err says
 * why), or 1 when it ran and failed: err says why and the run's end line
 * ("job NAME: failed in ...") has already logged it.
 */
struct progress_options;
int job_run(const config *cfg, const char *name, const struct progress_options *po, char **id,
	    bderr *err);

/*
 * One run at a time: state-dir/locks/job-NAME.lock is held by the process
 * running the job (`backupd run`, also as the daemon's child), never by the
 * daemon, so a run left over from a killed daemon still holds it.
 */
char *job_lock_path(const config *cfg, const char *job);

/*
 * `backupd dump` holds state-dir/locks/dump-<hash of repository and name>.lock:
 * a second dump of one name into one repository from this host is refused.
 * 0: *fd holds the lock (-1 when the state directory is unusable: the
 * dump goes ahead, backup IDs being claimed atomically anyway); -1: busy.
 */
int dump_lock(const config *cfg, const char *repo_url, const char *name, int *fd, bderr *err);

/*
 * The dump options of job section js, from the same defaults and through the
 * same setter as `backupd dump`'s command line (engines/engine.h); a bad
 * value is named with its FILE:LINE and key.  compress falls back to the
 * job's [repo:].  The daemon checks them when it loads the config; with all
 * (check) every bad value is added there, not only the first.
 */
int job_dump_options(const config *cfg, const config_section *js, engine_dump_options *o,
		     bderr_list *all, bderr *err);

/*
 * *all = 1 when source names a [source:] section with databases = all; a
 * config error (FILE:LINE) for any other value of the key.
 */
int job_source_all_databases(const config *cfg, const char *source, int *all, bderr *err);

/* The `run JOB` command. */
int job_command(program *p, bderr *err);

#endif
