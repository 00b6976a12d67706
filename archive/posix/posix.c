#include "archive/posix/posix.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
	int renamed;
	char *path; /* final name */
	char *tmp;
	char *dir;
} posix_writer;

static int posix_write(writer *w, const void *buf, size_t len, bderr *err)
{
	posix_writer *pw = (posix_writer *)w;
	return fd_write_all(pw->fd, buf, len, pw->path, err);
}

static int posix_close(writer *w, bderr *err)
{
	posix_writer *pw = (posix_writer *)w;
	if (fsync(pw->fd) < 0)
		return bderr_sys(err, errno, "cannot fsync '%s'", pw->path);
	int fd = pw->fd;
	pw->fd = -1;
	/* NFS reports some write errors only at close */
	if (close(fd) < 0)
		return bderr_sys(err, errno, "cannot close '%s'", pw->path);
	if (rename(pw->tmp, pw->path) < 0)
		return bderr_sys(err, errno, "cannot rename '%s' to '%s'", pw->tmp, pw->path);
	/*
	 * The object is complete and visible from here on; a failing directory
	 * fsync only means its durability is unknown, which the error reports.
	 */
	pw->renamed = 1;
	return fsync_dir(pw->dir, err);
}

static void posix_writer_free(writer *w)
{
	posix_writer *pw = (posix_writer *)w;
	if (pw->fd >= 0)
		close(pw->fd);
	if (!pw->renamed)
		unlink(pw->tmp);
	free(pw->path);
	free(pw->tmp);
	free(pw->dir);
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
	int fd = -1;
	/*
	 * ENOENT: the directory is missing, or a concurrent remove() pruned it
	 * right after we created it.  EEXIST: another storage handle in this
	 * process picked the same counter value.
	 */
	for (int attempt = 0;; attempt++) {
		unsigned long long n = atomic_fetch_add(&ps->tmp_counter, 1);
		tmp = xasprintf("%s/.%.*s.tmp.%ld.%llu", dir, TEMP_BASE_MAX, base, (long)getpid(), n);
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd >= 0)
			break;
		int e = errno;
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
	pw->path = full;
	pw->tmp = tmp;
	pw->dir = dir;
	*out = &pw->base;
	return 0;
fail:
	free(full);
	free(dir);
	return -1;
}

/* --- listing, removing, info --------------------------------------------- */

typedef struct list_state {
	posix_storage *ps;
	storage_list_cb cb;
	void *ctx;
	bderr *err;
} list_state;

/* rel is "" or ends in '/'; only the top level filters by name prefix. */
static int list_dir(list_state *ls, strbuf *rel, const char *name_prefix)
{
	char *full = rel->len ? join(ls->ps, rel->data) : xstrdup(root_name(ls->ps));
	DIR *d = opendir(full);
	if (d == NULL) {
		int e = errno;
		if (e == ENOENT || e == ENOTDIR) {
			free(full);
			return 0;
		}
		bderr_sys(ls->err, e, "cannot list '%s'", full);
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
				rc = bderr_sys(ls->err, errno, "cannot list '%s'", full);
			break;
		}
		const char *name = de->d_name;
		struct stat st;
		if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || is_temp_name(name))
			continue;
		if (name_prefix && strncmp(name, name_prefix, strlen(name_prefix)) != 0)
			continue;
		if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT) /* removed while we list */
				continue;
			rc = bderr_sys(ls->err, errno, "cannot stat '%s/%s'", full, name);
			break;
		}
		strbuf_appends(rel, name);
		if (S_ISDIR(st.st_mode)) {
			strbuf_appends(rel, "/");
			rc = list_dir(ls, rel, NULL);
		} else if (S_ISREG(st.st_mode)) {
			if (ls->cb(ls->ctx, rel->data, (uint64_t)st.st_size, ls->err) != 0)
				rc = -1;
		}
		rel->len = rel_len;
		rel->data[rel_len] = '\0';
		if (rc < 0)
			break;
	}
	closedir(d);
	free(full);
	return rc;
}

static int posix_list(storage *s, const char *prefix, storage_list_cb cb, void *ctx, bderr *err)
{
	posix_storage *ps = (posix_storage *)s;
	if (check_path(ps, prefix, 1, err) < 0)
		return -1;
	const char *slash = strrchr(prefix, '/');
	size_t dir_len = slash ? (size_t)(slash - prefix) + 1 : 0;
	list_state ls = { ps, cb, ctx, err };
	strbuf rel;
	strbuf_init(&rel);
	strbuf_append(&rel, prefix, dir_len);
	int rc = list_dir(&ls, &rel, prefix + dir_len);
	strbuf_free(&rel);
	return rc;
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
	/*
	 * Object stores have no directories: prune the ones left empty so an
	 * expired backup leaves nothing behind.  Failure (ENOTEMPTY, a
	 * concurrent writer) just means the directory is still in use.
	 */
	size_t root_len = strlen(ps->root);
	char *dir = path_dirname(full);
	while (strlen(dir) > root_len + 1 && rmdir(dir) == 0) {
		char *up = path_dirname(dir);
		free(dir);
		dir = up;
	}
	free(dir);
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
	posix_storage *ps = xcalloc(1, sizeof *ps);
	ps->base.driver = &posix_driver;
	ps->base.url = xstrdup(root);
	ps->root = abs;
	atomic_init(&ps->tmp_counter, 0);
	*out = &ps->base;
	return 0;
}
