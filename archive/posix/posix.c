#include "archive/posix/posix.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "common/mem.h"

/* Keeps temp names well under NAME_MAX even for long object names. */
#define TEMP_BASE_MAX 160

typedef struct posix_storage {
	storage base;
	char *root; /* absolute, no trailing '/'; "" for the file system root */
	/* makes temp names unique among threads writing the same object */
	atomic_ullong tmp_counter;
} posix_storage;

static char *join(const posix_storage *ps, const char *rel)
{
	return xasprintf("%s/%s", ps->root, rel);
}

static const char *root_name(const posix_storage *ps)
{
	return ps->root[0] ? ps->root : "/";
}

/*
 * Paths come from manifests and object names, which a damaged or hostile
 * repository controls: refuse anything that could leave the root.  A prefix
 * may end in '/' or in a partial name, which is only compared, never opened.
 */
static int check_path(const posix_storage *ps, const char *path, int is_prefix, bderr *err)
{
	return storage_path_check(root_name(ps), path, is_prefix, err);
}

/* ".<base>.tmp.<pid>.<counter>": written by open_write, never listed. */
static int is_temp_name(const char *name)
{
	if (name[0] != '.')
		return 0;
	const char *t = NULL;
	for (const char *q = strstr(name, ".tmp."); q; q = strstr(q + 1, ".tmp."))
		t = q;
	if (t == NULL || t == name)
		return 0;
	const char *p = t + 5;
	int dots = 0;
	if (!isdigit((unsigned char)*p))
		return 0;
	for (; *p; p++) {
		if (*p == '.') {
			if (++dots > 1 || !isdigit((unsigned char)p[1]))
				return 0;
		} else if (!isdigit((unsigned char)*p)) {
			return 0;
		}
	}
	return dots == 1;
}

/* mkdir -p that fsyncs each parent gaining an entry, so the path survives a crash. */
static int mkdir_parents(const char *dir, bderr *err)
{
	int rc = mkdir(dir, 0700);
	if (rc < 0 && errno == ENOENT) {
		char *parent = path_dirname(dir);
		if (strcmp(parent, dir) != 0 && mkdir_parents(parent, err) < 0) {
			free(parent);
			return -1;
		}
		free(parent);
		rc = mkdir(dir, 0700);
	}
	if (rc < 0) {
		if (errno == EEXIST) /* a non-directory here makes the caller's open fail clearly */
			return 0;
		return bderr_sys(err, errno, "cannot create directory '%s'", dir);
	}
	char *parent = path_dirname(dir);
	rc = fsync_dir(parent, err);
	free(parent);
	return rc;
}

/* --- reading ------------------------------------------------------------ */

typedef struct posix_reader {
	reader base;
	int fd;
	char *path;
} posix_reader;

static int posix_read(reader *r, void *buf, size_t cap, size_t *got, bderr *err)
{
	posix_reader *pr = (posix_reader *)r;
	for (;;) {
		ssize_t n = read(pr->fd, buf, cap);
		if (n >= 0) {
			*got = (size_t)n;
			return 0;
		}
		if (errno != EINTR)
			return bderr_sys(err, errno, "cannot read '%s'", pr->path);
	}
}

static void posix_reader_free(reader *r)
{
	posix_reader *pr = (posix_reader *)r;
	close(pr->fd);
	free(pr->path);
	free(pr);
}

static const reader_ops posix_reader_ops = { posix_read, posix_reader_free };

static int posix_open_read(storage *s, const char *path, reader **out, bderr *err)
{
	posix_storage *ps = (posix_storage *)s;
	struct stat st;
	if (check_path(ps, path, 0, err) < 0)
		return -1;
	char *full = join(ps, path);
	int fd = open(full, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		bderr_sys(err, errno, "cannot open '%s'", full);
		free(full);
		return -1;
	}
	int e = 0;
	if (fstat(fd, &st) < 0)
		e = errno;
	else if (!S_ISREG(st.st_mode))
		e = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
	if (e != 0) {
		bderr_sys(err, e, "cannot open '%s'", full);
		close(fd);
		free(full);
		return -1;
	}
	posix_reader *pr = xcalloc(1, sizeof *pr);
	pr->base.ops = &posix_reader_ops;
	pr->fd = fd;
	pr->path = full;
	*out = &pr->base;
	return 0;
}

/* --- writing ------------------------------------------------------------ */

typedef struct posix_writer {
	writer base;
	int fd;
	/*
	 * Holds the temp file's flock until it is renamed or removed, past the
	 * close of fd: a sweep takes a temp file whose lock is free for the
	 * leftover of a dead writer.  -1 where the file system has no flock.
	 */
	int lock_fd;
	int exclusive; /* put_new: link(2) into place, never replace */
	int renamed;
	char *path; /* final name */
	char *tmp;
} posix_writer;

static int posix_write(writer *w, const void *buf, size_t len, bderr *err)
{
	posix_writer *pw = (posix_writer *)w;
	return fd_write_all(pw->fd, buf, len, pw->path, err);
}

static int posix_close(writer *w, bderr *err)
{
	posix_writer *pw = (posix_writer *)w;
	return file_commit_atomic(&pw->fd, pw->tmp, pw->path, pw->exclusive, &pw->renamed, err);
}

static void posix_writer_free(writer *w)
{
	posix_writer *pw = (posix_writer *)w;
	if (pw->fd >= 0)
		close(pw->fd);
	if (!pw->renamed)
		unlink(pw->tmp);
	if (pw->lock_fd >= 0) /* only now: the temp name is gone */
		close(pw->lock_fd);
	free(pw->path);
	free(pw->tmp);
	free(pw);
}

static const writer_ops posix_writer_ops = { posix_write, posix_close, posix_writer_free };

static int posix_open_write(storage *s, const char *path, writer **out, bderr *err)
{
	posix_storage *ps = (posix_storage *)s;
	if (check_path(ps, path, 0, err) < 0)
		return -1;
	char *full = join(ps, path);
	char *dir = path_dirname(full);
	const char *base = strrchr(full, '/') + 1;
	char *tmp = NULL;
	int fd = -1, lock_fd = -1;
	/*
	 * ENOENT: the directory is missing, or a concurrent remove() pruned it
	 * right after we created it.  EEXIST: another storage handle in this
	 * process picked the same counter value.  EWOULDBLOCK: a sweep took
	 * the new file for a dead writer's before we locked it, and removes it.
	 */
	for (int attempt = 0;; attempt++) {
		unsigned long long n = atomic_fetch_add(&ps->tmp_counter, 1);
		tmp = xasprintf("%s/.%.*s.tmp.%ld.%llu", dir, TEMP_BASE_MAX, base, (long)getpid(), n);
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		int e = errno;
		if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0) {
			/* a second descriptor keeps the lock after fd's close reported NFS errors */
			lock_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
			break;
		}
		if (fd >= 0) {
			e = errno;
			if (e != EWOULDBLOCK && e != EINTR)
				break; /* no flock here: sweeps fall back to the file's age */
			close(fd);
			fd = -1;
			e = EEXIST;
		}
		free(tmp);
		tmp = NULL;
		if (e == EEXIST && attempt < 100)
			continue;
		if (e == ENOENT && attempt < 5) {
			if (mkdir_parents(dir, err) < 0)
				goto fail;
			continue;
		}
		bderr_sys(err, e, "cannot create '%s'", full);
		goto fail;
	}
	posix_writer *pw = xcalloc(1, sizeof *pw);
	pw->base.ops = &posix_writer_ops;
	pw->fd = fd;
	pw->lock_fd = lock_fd;
	pw->path = full;
	pw->tmp = tmp;
	free(dir);
	*out = &pw->base;
	return 0;
fail:
	free(full);
	free(dir);
	return -1;
}

/* --- listing, removing, info --------------------------------------------- */

typedef struct walk_state walk_state;

/* Called for each regular file of a walk, temp files included; non-zero stops it. */
typedef int (*walk_file_fn)(walk_state *ws, int dfd, const char *name, const char *rel,
			    const struct stat *st);

struct walk_state {
	posix_storage *ps;
	walk_file_fn file;
	bderr *err;
	storage_list_cb cb; /* list */
	void *ctx;
	time_t older_than;  /* sweep */
	size_t removed;
	int prune_empty;    /* sweep: remove the empty directories met on the way */
};

/* rel is "" or ends in '/'; only the top level filters by name prefix. */
static int walk_dir(walk_state *ws, strbuf *rel, const char *name_prefix)
{
	char *full = rel->len ? join(ws->ps, rel->data) : xstrdup(root_name(ws->ps));
	DIR *d = opendir(full);
	if (d == NULL) {
		int e = errno;
		if (e == ENOENT || e == ENOTDIR) {
			free(full);
			return 0;
		}
		bderr_sys(ws->err, e, "cannot list '%s'", full);
		free(full);
		return -1;
	}
	size_t rel_len = rel->len;
	int rc = 0;
	for (;;) {
		errno = 0;
		struct dirent *de = readdir(d);
		if (de == NULL) {
			if (errno != 0)
				rc = bderr_sys(ws->err, errno, "cannot list '%s'", full);
			break;
		}
		const char *name = de->d_name;
		struct stat st;
		if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
			continue;
		if (name_prefix && strncmp(name, name_prefix, strlen(name_prefix)) != 0)
			continue;
		if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT) /* removed while we list */
				continue;
			rc = bderr_sys(ws->err, errno, "cannot stat '%s/%s'", full, name);
			break;
		}
		strbuf_appends(rel, name);
		if (S_ISDIR(st.st_mode)) {
			strbuf_appends(rel, "/");
			rc = walk_dir(ws, rel, NULL);
			/*
			 * A writer killed between creating its directory and its
			 * temp file leaves an empty directory that no object
			 * names: nothing else would ever remove it.  A live
			 * writer that loses its directory here makes it again.
			 */
			if (rc == 0 && ws->prune_empty)
				(void)unlinkat(dirfd(d), name, AT_REMOVEDIR);
		} else if (S_ISREG(st.st_mode)) {
			int frc = ws->file(ws, dirfd(d), name, rel->data, &st);
			/* STORAGE_LIST_STOP goes up through every level of the walk */
			if (frc != 0)
				rc = frc < 0 ? -1 : STORAGE_LIST_STOP;
		}
		rel->len = rel_len;
		rel->data[rel_len] = '\0';
		if (rc != 0)
			break;
	}
	closedir(d);
	free(full);
	return rc;
}

/* Every regular file whose path starts with prefix, recursively. */
static int walk(posix_storage *ps, const char *prefix, walk_state *ws)
{
	if (check_path(ps, prefix, 1, ws->err) < 0)
		return -1;
	const char *slash = strrchr(prefix, '/');
	size_t dir_len = slash ? (size_t)(slash - prefix) + 1 : 0;
	strbuf rel;
	strbuf_init(&rel);
	strbuf_append(&rel, prefix, dir_len);
	int rc = walk_dir(ws, &rel, prefix + dir_len);
	strbuf_free(&rel);
	return rc;
}

static int list_file(walk_state *ws, int dfd, const char *name, const char *rel,
		     const struct stat *st)
{
	(void)dfd;
	if (is_temp_name(name)) /* another writer's object in the making */
		return 0;
	int rc = ws->cb(ws->ctx, rel, (uint64_t)st->st_size, ws->err);
	return rc < 0 ? -1 : rc == STORAGE_LIST_STOP ? STORAGE_LIST_STOP : 0;
}

static int posix_list(storage *s, const char *prefix, storage_list_cb cb, void *ctx, bderr *err)
{
	walk_state ws = { .ps = (posix_storage *)s, .file = list_file, .err = err, .cb = cb,
			  .ctx = ctx };
	return walk(ws.ps, prefix, &ws) < 0 ? -1 : 0;
}

/*
 * Object stores have no directories: prune the ones that removing full left
 * empty, so an expired backup leaves nothing behind.  Failure (ENOTEMPTY, a
 * concurrent writer) just means the directory is still in use.
 */
static void prune_dirs(const posix_storage *ps, const char *full)
{
	size_t root_len = strlen(ps->root);
	char *dir = path_dirname(full);
	while (strlen(dir) > root_len + 1 && rmdir(dir) == 0) {
		char *up = path_dirname(dir);
		free(dir);
		dir = up;
	}
	free(dir);
}

static int posix_remove(storage *s, const char *path, bderr *err)
{
	posix_storage *ps = (posix_storage *)s;
	if (check_path(ps, path, 0, err) < 0)
		return -1;
	char *full = join(ps, path);
	if (unlink(full) < 0 && errno != ENOENT) {
		bderr_sys(err, errno, "cannot remove '%s'", full);
		free(full);
		return -1;
	}
	prune_dirs(ps, full);
	free(full);
	return 0;
}

static int posix_info(storage *s, const char *path, storage_info *out, bderr *err)
{
	posix_storage *ps = (posix_storage *)s;
	struct stat st;
	memset(out, 0, sizeof *out);
	if (check_path(ps, path, 0, err) < 0)
		return -1;
	char *full = join(ps, path);
	if (stat(full, &st) < 0) {
		int e = errno;
		if (e == ENOENT || e == ENOTDIR) {
			free(full);
			return 0;
		}
		bderr_sys(err, e, "cannot stat '%s'", full);
		free(full);
		return -1;
	}
	free(full);
	/* like an object store, a directory is not an object */
	if (!S_ISREG(st.st_mode))
		return 0;
	out->exists = 1;
	out->size = (uint64_t)st.st_size;
	out->mtime = st.st_mtime;
	return 0;
}

static int posix_put_new(storage *s, const char *path, const void *data, size_t len, bderr *err)
{
	writer *w;
	if (posix_open_write(s, path, &w, err) < 0)
		return -1;
	((posix_writer *)w)->exclusive = 1;
	int rc = writer_write(w, data, len, err);
	if (rc == 0)
		rc = writer_close(w, err);
	writer_free(w);
	return rc;
}

/*
 * A temp file whose writer died: its flock is free.  Where the file system
 * has no flock, only its age can tell.  The lock taken here makes a writer
 * that created the file a moment ago give it up for another name.
 */
static int temp_abandoned(int dfd, const char *name, time_t older_than)
{
	int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return 0;
	struct stat st, now;
	int gone = 0;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			/* still the same file under that name, not one renamed away meanwhile */
			gone = fstatat(dfd, name, &now, AT_SYMLINK_NOFOLLOW) == 0 &&
			       now.st_ino == st.st_ino && now.st_dev == st.st_dev;
		else if (errno != EWOULDBLOCK && errno != EINTR)
			gone = st.st_mtime < older_than;
	}
	if (gone && unlinkat(dfd, name, 0) < 0)
		gone = 0;
	close(fd);
	return gone;
}

static int sweep_file(walk_state *ws, int dfd, const char *name, const char *rel,
		      const struct stat *st)
{
	(void)st;
	if (!is_temp_name(name) || !temp_abandoned(dfd, name, ws->older_than))
		return 0;
	ws->removed++;
	/* a directory that held only leftovers goes like one emptied by remove() */
	char *full = join(ws->ps, rel);
	prune_dirs(ws->ps, full);
	free(full);
	return 0;
}

static int posix_sweep(storage *s, const char *prefix, time_t older_than, size_t *removed,
		       bderr *err)
{
	walk_state ws = { .ps = (posix_storage *)s, .file = sweep_file, .err = err,
			  .older_than = older_than, .prune_empty = 1 };
	int rc = walk(ws.ps, prefix, &ws);
	*removed = ws.removed;
	return rc;
}

static void posix_free(storage *s)
{
	posix_storage *ps = (posix_storage *)s;
	free(ps->root);
	free(ps->base.url);
	free(ps);
}

static const storage_driver posix_driver = {
	.name = "posix",
	.open_read = posix_open_read,
	.open_write = posix_open_write,
	.list = posix_list,
	.remove = posix_remove,
	.info = posix_info,
	.put_new = posix_put_new,
	.sweep = posix_sweep,
	.free = posix_free,
};

int posix_storage_new(const char *root, storage **out, bderr *err)
{
	*out = NULL;
	if (root == NULL || *root == '\0')
		return bderr_usage(err, "empty repository path");
	char *abs;
	/* the daemon may change directory later: pin a relative root now */
	if (root[0] != '/') {
		char *cwd = getcwd(NULL, 0);
		if (cwd == NULL)
			return bderr_sys(err, errno, "cannot resolve repository path '%s'", root);
		abs = xasprintf("%s/%s", strcmp(cwd, "/") == 0 ? "" : cwd, root);
		free(cwd);
	} else {
		abs = xstrdup(root);
	}
	size_t n = strlen(abs);
	while (n > 0 && abs[n - 1] == '/')
		abs[--n] = '\0';
	/*
	 * A repository path naming a file is the operator's setup to fix, like
	 * a bad config line: say so, rather than fail on the first object
	 * below it ("cannot open '.../backupd.repo': Not a directory").
	 */
	if (dir_place_check("repository", abs, err) < 0) {
		free(abs);
		return -1;
	}
	posix_storage *ps = xcalloc(1, sizeof *ps);
	ps->base.driver = &posix_driver;
	ps->base.url = xstrdup(root);
	ps->root = abs;
	atomic_init(&ps->tmp_counter, 0);
	*out = &ps->base;
	return 0;
}
