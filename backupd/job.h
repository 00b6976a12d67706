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
 * because the backup itself matters more than its bookkeeping.
 */
int job_run(const config *cfg, const char *name, char **id, bderr *err);

/*
 * The dump options of job section js, from the same defaults and through the
 * same setter as `backupd dump`'s command line (engines/engine.h); a bad
 * value is named with its FILE:LINE and key.  compress falls back to the
 * job's [repo:].  The daemon checks them when it loads the config; with all
 * (check) every bad value is added there, not only the first.
 */
int job_dump_options(const config *cfg, const config_section *js, engine_dump_options *o,
		     bderr_list *all, bderr *err);

/* The `run JOB` command. */
int job_command(program *p, bderr *err);

#endif
