#include "common/lockfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/fsutil.h"

/* lockfile_take retries this often, this many times, before calling the lock busy. */
#define TAKE_RETRY_MS 20
#define TAKE_RETRIES 15

static long read_holder(int fd)
{
	char buf[32];
	ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	long pid = strtol(buf, NULL, 10);
	return pid > 0 ? pid : 0;
}

/*
 * root making a lock under a state directory that belongs to the service
 * user (a packaged install: /var/lib/backupd owned by backupd) hands the
 * lock directory and file to that user, or the service could no longer open
 * them after one manual run as root.  Best effort: ownership is a courtesy
 * to the next process, the flock is what excludes.
 */
static void give_to_state_owner(const char *dir, int fd)
{
	if (geteuid() != 0)
		return;
	char *state = path_dirname(dir);
	struct stat st_state, st;
	if (stat(state, &st_state) == 0 && st_state.st_uid != 0) {
		if (stat(dir, &st) == 0 && st.st_uid == 0 && chown(dir, st_state.st_uid, st_state.st_gid) != 0)
			(void)0;
		if (fstat(fd, &st) == 0 && st.st_uid == 0 && fchown(fd, st_state.st_uid, st_state.st_gid) != 0)
			(void)0;
	}
	free(state);
}

int lockfile_take(const char *path, int *fd_out, long *holder, bderr *err)
{
	*fd_out = -1;
	*holder = 0;
	char *dir = path_dirname(path);
	if (mkdir_p(dir, 0750, err) < 0) {
		free(dir);
		return -1;
	}
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0) {
		free(dir);
		return bderr_sys(err, errno, "cannot open lock file '%s'", path);
	}
	give_to_state_owner(dir, fd);
	free(dir);
	for (int attempt = 0; flock(fd, LOCK_EX | LOCK_NB) < 0; attempt++) {
		int e = errno;
		if (e == EINTR)
			continue;
		if (e != EWOULDBLOCK) {
			close(fd);
			return bderr_sys(err, e, "cannot lock '%s'", path);
		}
		/* a lockfile_busy probe holds it for an instant: only a real holder stays */
		if (attempt == TAKE_RETRIES) {
			*holder = read_holder(fd);
			close(fd);
			return 1;
		}
		struct timespec ts = { 0, TAKE_RETRY_MS * 1000000L };
		nanosleep(&ts, NULL);
	}
	char pid[32];
	int len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
	/* the flock is what excludes: the pid is a courtesy, written if it can be */
	int written = ftruncate(fd, 0) == 0 && pwrite(fd, pid, (size_t)len, 0) == len;
	(void)written;
	*fd_out = fd;
	return 0;
}

int lockfile_busy(const char *path, long *holder)
{
	*holder = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	int busy = 0;
	if (flock(fd, LOCK_SH | LOCK_NB) == 0)
		flock(fd, LOCK_UN);
	else if (errno == EWOULDBLOCK)
		busy = 1;
	if (busy)
		*holder = read_holder(fd);
	close(fd);
	return busy;
}

void lockfile_release(int fd)
{
	if (fd >= 0)
		close(fd);
}
