/*
 * `backupd daemon`: the scheduler.  It runs in the foreground (systemd's
 * Type=simple), fires jobs on their cron schedules and runs each one as a
 * child process (`backupd run JOB`), so a crash or a cancel takes down one
 * job only and every run frees all its resources on exit.
 */
#ifndef BACKUPD_DAEMON_H
#define BACKUPD_DAEMON_H

#include "common/program.h"

/* Seconds SIGTERM waits for running jobs before cancelling them. */
#define DAEMON_SHUTDOWN_GRACE_DEFAULT 30

/* "90", "90s", "15m", "2h", "1d" -> seconds; -1 for anything else. */
long daemon_parse_duration(const char *s);

/*
 * The daemon's own validation of cfg (schedules, durations, retention specs,
 * http-listen, webhooks...), every error appended to errors: `check` uses it
 * so that it accepts exactly what `daemon` accepts.
 */
void daemon_config_check(config *cfg, bderr_list *errors);

/* The `daemon` command. */
int daemon_command(program *p, bderr *err);

#endif
