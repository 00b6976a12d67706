#include "common/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/mem.h"

char *path_dirname(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (slash == NULL)
		return xstrdup(".");
	if (slash == path)
		return xstrdup("/");
	return xstrndup(path, (size_t)(slash - path));
}

int dir_place_check(const char *what, const char *dir, bderr *err)
{
	struct stat st;
	if (stat(dir, &st) == 0)
		return S_ISDIR(st.st_mode) ? 0
					   : bderr_usage(err, "%s '%s' is not a directory", what, dir);
	if (errno != ENOTDIR)
		return 0;
	/* name the file in the way: the nearest existing path above it */
	char *up = path_dirname(dir);
	while (stat(up, &st) != 0 && errno == ENOTDIR) {
		char *next = path_dirname(up);
		free(up);
		up = next;
	}
	int rc = bderr_usage(err, "%s '%s' cannot be a directory: '%s' above it is a file", what, dir,
			     up);
	free(up);
	return rc;
}

int fsync_dir(const char *dir, bderr *err)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return bderr_sys(err, errno, "cannot open directory '%s'", dir);
	if (fsync(fd) < 0 && errno != EINVAL) {
		int e = errno;
		close(fd);
		return bderr_sys(err, e, "cannot fsync directory '%s'", dir);
	}
	close(fd);
	return 0;
}

int fd_write_all(int fd, const void *buf, size_t len, const char *path, bderr *err)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return bderr_sys(err, errno, "cannot write '%s'", path);
		if (n == 0) /* no progress and no errno: the device is full */
			return bderr_sys(err, ENOSPC, "cannot write '%s'", path);
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int fd_pread_full(int fd, void *buf, size_t len, off_t off, size_t *got, const char *path, bderr *err)
{
	char *p = buf;
	*got = 0;
	while (*got < len) {
		ssize_t n = pread(fd, p + *got, len - *got, off + (off_t)*got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return bderr_sys(err, errno, "cannot read '%s'", path);
		if (n == 0)
			break;
		*got += (size_t)n;
	}
	return 0;
}

/*
 * Exclusive placement: link(2) never replaces, the one atomic "create if
 * absent" of a whole file.  Where the file system has no hard links, an
 * empty placeholder created with O_EXCL takes the name and the complete
 * file is renamed over it (a reader may see it empty for a moment).
 */
static int place_exclusive(const char *tmp, const char *path, bderr *err)
{
	if (link(tmp, path) == 0) {
		unlink(tmp);
		return 0;
	}
	int e = errno;
	if (e != EPERM && e != EOPNOTSUPP && e != ENOSYS)
		return bderr_sys(err, e, "cannot create '%s'", path);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return bderr_sys(err, errno, "cannot create '%s'", path);
	close(fd);
	if (rename(tmp, path) < 0)
		return bderr_sys(err, errno, "cannot rename '%s' to '%s'", tmp, path);
	return 0;
}

int file_commit_atomic(int *fd, const char *tmp, const char *path, int exclusive, int *placed,
		       bderr *err)
{
	*placed = 0;
	if (fsync(*fd) < 0)
		return bderr_sys(err, errno, "cannot fsync '%s'", tmp);
	int cfd = *fd;
	*fd = -1;
	/* NFS reports some write errors only at close */
	if (close(cfd) < 0)
		return bderr_sys(err, errno, "cannot close '%s'", tmp);
	return file_place(tmp, path, exclusive, placed, err);
}

int file_place(const char *tmp, const char *path, int exclusive, int *placed, bderr *err)
{
	*placed = 0;
	if (exclusive) {
		if (place_exclusive(tmp, path, err) < 0)
			return -1;
	} else if (rename(tmp, path) < 0) {
		return bderr_sys(err, errno, "cannot rename '%s' to '%s'", tmp, path);
	}
	/*
	 * The file is complete and visible from here on; a failing directory
	 * fsync only means its durability is unknown, which the error reports.
	 */
	*placed = 1;
	char *dir = path_dirname(path);
	int rc = fsync_dir(dir, err);
	free(dir);
	return rc;
}

/* durable: fsync the file before and its directory after the rename; else whole, not durable. */
static int write_whole(const char *path, const char *tmp, const void *data, size_t len, int durable,
		       bderr *err)
{
	char *own = tmp ? NULL : xasprintf("%s.tmp.%ld", path, (long)getpid());
	const char *t = tmp ? tmp : own;
	int placed = 0, rc = -1;
	int fd = open(t, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		bderr_sys(err, errno, "cannot create '%s'", t);
		free(own);
		return -1;
	}
	if (fd_write_all(fd, data, len, t, err) == 0) {
		if (durable) {
			rc = file_commit_atomic(&fd, t, path, 0, &placed, err);
		} else {
			int cfd = fd;
			fd = -1;
			if (close(cfd) < 0)
				bderr_sys(err, errno, "cannot close '%s'", t);
			else if (rename(t, path) < 0)
				bderr_sys(err, errno, "cannot rename '%s' to '%s'", t, path);
			else
				placed = 1, rc = 0;
		}
	}
	if (fd >= 0)
		close(fd);
	if (!placed) /* renamed: nothing to remove even when the directory fsync failed */
		unlink(t);
	free(own);
	return rc;
}

int file_write_atomic(const char *path, const char *tmp, const void *data, size_t len, bderr *err)
{
	return write_whole(path, tmp, data, len, 1, err);
}

int file_write_whole(const char *path, const char *tmp, const void *data, size_t len, bderr *err)
{
	return write_whole(path, tmp, data, len, 0, err);
}

int mkdir_p(const char *path, mode_t mode, bderr *err)
{
	char *p = xstrdup(path);
	for (char *s = p + 1;; s++) {
		if (*s == '/' || *s == '\0') {
			char c = *s;
			*s = '\0';
			if (mkdir(p, mode) < 0 && errno != EEXIST) {
				bderr_sys(err, errno, "cannot create directory '%s'", p);
				free(p);
				return -1;
			}
			*s = c;
			if (c == '\0')
				break;
		}
	}
	free(p);
	return 0;
}

int path_relative_clean(const char *rel)
{
	if (*rel == '\0' || *rel == '/')
		return 0;
	for (const char *p = rel;;) {
		size_t n = strcspn(p, "/");
		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return 0;
		if (p[n] == '\0')
			return 1;
		p += n + 1;
	}
}
