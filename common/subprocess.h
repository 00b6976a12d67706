/*
 * Child processes (pg_dump, psql).  Arguments never carry secrets: a
 * password travels in the child's environment only.  The child's stderr goes
 * to a private temp file so that a failure can be reported as one line.
 */
#ifndef BACKUPD_COMMON_SUBPROCESS_H
#define BACKUPD_COMMON_SUBPROCESS_H

#include <sys/types.h>
#include "common/error.h"

typedef enum subprocess_pipe { SUBPROCESS_PIPE_STDIN, SUBPROCESS_PIPE_STDOUT } subprocess_pipe;

typedef struct subprocess {
	pid_t pid;
	int fd;          /* our end of the pipe */
	int stderr_fd;   /* temp file holding the child's stderr */
	char *name;      /* for messages */
} subprocess;

/*
 * Starts argv[0] (an absolute path) with env_extra ("KEY=VALUE" strings,
 * NULL-terminated, may be NULL) added to the environment.
 */
int subprocess_start(const char *const *argv, const char *const *env_extra,
		     subprocess_pipe which, subprocess **out, bderr *err);

/* Closes our pipe end and waits; a non-zero exit is an error quoting stderr. */
int subprocess_finish(subprocess *p, bderr *err);

/* Kills the child (SIGKILL) and reaps it: used when the input proved corrupt. */
void subprocess_kill(subprocess *p);
void subprocess_free(subprocess *p);

/* Runs argv and returns its whole stdout (small outputs: --version). */
int subprocess_capture(const char *const *argv, char **out, bderr *err);

/*
 * Forks a detached background worker unless another one holds lock_path:
 * the child runs in its own session with /dev/null as stdin/stdout/stderr
 * (off the caller's pipes, which PostgreSQL's archiver or startup process
 * may be reading) and keeps the exclusive flock in *lock_fd for its whole
 * life, so at most one runs.  Returns 1 in that child, 0 in the caller also
 * when the lock is busy or the fork fails: the caller's own work never
 * depends on the worker.
 */
int subprocess_fork_detached_locked(const char *lock_path, int *lock_fd);

#endif
