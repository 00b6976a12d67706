#include "restore/tar_extract.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/mem.h"

/* ---- checking ------------------------------------------------------------- */

static const char *type_name(mode_t type)
{
	switch (type) {
	case AE_IFCHR:
		return "character device";
	case AE_IFBLK:
		return "block device";
	case AE_IFIFO:
		return "FIFO";
	case AE_IFSOCK:
		return "socket";
	case AE_IFLNK:
		return "symbolic link";
	default:
		return "entry of unknown type";
	}
}

/*
 * "./a//b/./c/" -> "a/b/c"; NULL for an absolute path or a ".." component.
 * The result is "" for the archive's root.
 */
static char *normalise(const char *path)
{
	if (path[0] == '/')
		return NULL;
	strbuf b;
	strbuf_init(&b);
	for (const char *p = path; *p;) {
		size_t n = strcspn(p, "/");
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			strbuf_free(&b);
			return NULL;
		}
		if (n > 0 && !(n == 1 && p[0] == '.')) {
			if (b.len > 0)
				strbuf_appends(&b, "/");
			strbuf_append(&b, p, n);
		}
		p += n;
		while (*p == '/')
			p++;
	}
	return strbuf_detach(&b);
}

static int listed_oid(const char *rel, const char *const *oids)
{
	if (oids == NULL || strncmp(rel, "pg_tblspc/", 10) != 0)
		return 0;
	for (size_t i = 0; oids[i]; i++)
		if (strcmp(rel + 10, oids[i]) == 0)
			return 1;
	return 0;
}

int tar_entry_check(struct archive_entry *e, const char *const *tblspc_oids,
		    tar_entry_plan *plan, bderr *err)
{
	plan->kind = TAR_ENTRY_SKIP;
	plan->rel = NULL;
	const char *path = archive_entry_pathname(e);
	if (path == NULL || *path == '\0')
		return bderr_set(err, "tar entry without a name refused");
	if (strlen(path) >= PATH_MAX)
		return bderr_set(err, "tar entry '%.64s...': name too long, refused", path);
	char *rel = normalise(path);
	if (rel == NULL)
		return bderr_set(err, "tar entry '%s': %s, refused", path,
				 path[0] == '/' ? "absolute path" : "'..' in the path");
	int rc = 0;
	mode_t type = archive_entry_filetype(e);
	if (archive_entry_hardlink(e) != NULL) {
		rc = bderr_set(err, "tar entry '%s': hard link, refused", path);
	} else if (type == AE_IFDIR) {
		plan->kind = *rel ? TAR_ENTRY_DIR : TAR_ENTRY_SKIP;
	} else if (*rel == '\0') {
		rc = bderr_set(err, "tar entry '%s': the archive's root must be a directory, refused",
			       path);
	} else if (type == AE_IFREG) {
		plan->kind = TAR_ENTRY_FILE;
	} else if (type == AE_IFLNK && listed_oid(rel, tblspc_oids)) {
		plan->kind = TAR_ENTRY_TBLSPC_LINK;
	} else {
		rc = bderr_set(err, "tar entry '%s': %s, refused (only regular files, directories "
				    "and the tablespace links of pg_tblspc are extracted)",
			       path, type_name(type));
	}
	if (rc < 0) {
		free(rel);
		return -1;
	}
	plan->rel = rel;
	return 0;
}

int tar_check_memory(const void *buf, size_t len, const char *const *tblspc_oids, bderr *err)
{
	struct archive *in = archive_read_new();
	archive_read_support_format_tar(in);
	int rc = 0;
	if (archive_read_open_memory(in, buf, len) != ARCHIVE_OK) {
		rc = bderr_set(err, "cannot read tar: %s", archive_error_string(in));
		goto out;
	}
	for (;;) {
		struct archive_entry *e;
		int ar = archive_read_next_header(in, &e);
		if (ar == ARCHIVE_EOF)
			break;
		if (ar < ARCHIVE_WARN) {
			const char *why = archive_error_string(in);
			rc = bderr_set(err, "cannot read tar: %s", why ? why : "damaged entry header");
			break;
		}
		tar_entry_plan plan;
		if (tar_entry_check(e, tblspc_oids, &plan, err) < 0) {
			rc = -1;
			break;
		}
		free(plan.rel);
	}
out:
	archive_read_free(in);
	return rc;
}

/* ---- creating ------------------------------------------------------------- */

/* libarchive could not read on: -2, the reason in err. */
static int read_failed(struct archive *in, const char *what, bderr *err)
{
	const char *why = archive_error_string(in);
	bderr_set(err, "%s", why ? why : what);
	return -2;
}

/* Mode and owner as the options say, whatever the umask or the archive said. */
static int fix_node(int fd, const char *rel, mode_t mode, const tar_extract_options *o,
		    bderr *err)
{
	/* chown first: it may clear mode bits */
	if (o->set_owner && fchown(fd, o->uid, o->gid) < 0)
		return bderr_sys(err, errno, "cannot set the owner of '%s'", rel);
	if (fchmod(fd, mode) < 0)
		return bderr_sys(err, errno, "cannot set the mode of '%s'", rel);
	return 0;
}

/* Opens directory name under dirfd, creating it when absent; never follows a symbolic link. */
static int open_dir_at(int dirfd, const char *name, const char *rel, const tar_extract_options *o,
		       bderr *err)
{
	int created = 0;
	if (mkdirat(dirfd, name, 0700) == 0)
		created = 1;
	else if (errno != EEXIST)
		return bderr_sys(err, errno, "cannot create directory '%s'", rel);
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ELOOP || errno == ENOTDIR)
			return bderr_set(err, "'%s' exists and is not a directory (a symbolic link is "
					      "never followed)",
					 rel);
		return bderr_sys(err, errno, "cannot open directory '%s'", rel);
	}
	if (created && fix_node(fd, rel, o->dir_mode, o, err) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * The directory that holds rel's last component, opened (created as
 * needed) one component at a time from rootfd; *leaf points into rel.
 */
static int open_parent(int rootfd, const char *rel, const tar_extract_options *o,
		       const char **leaf, bderr *err)
{
	int fd = dup(rootfd);
	if (fd < 0)
		return bderr_sys(err, errno, "cannot open the target directory");
	char *copy = xstrdup(rel);
	char *p = copy;
	for (char *slash; (slash = strchr(p, '/')) != NULL; p = slash + 1) {
		*slash = '\0';
		int next = open_dir_at(fd, p, copy, o, err);
		close(fd);
		*slash = '/';
		if (next < 0) {
			free(copy);
			return -1;
		}
		fd = next;
	}
	*leaf = rel + (p - copy);
	free(copy);
	return fd;
}

static int extract_dir(int rootfd, const char *rel, const tar_extract_options *o, bderr *err)
{
	const char *leaf;
	int parent = open_parent(rootfd, rel, o, &leaf, err);
	if (parent < 0)
		return -1;
	int fd = open_dir_at(parent, leaf, rel, o, err);
	close(parent);
	if (fd < 0)
		return -1;
	/* also when it existed: an earlier file's parent was made before its own entry came */
	int rc = fix_node(fd, rel, o->dir_mode, o, err);
	close(fd);
	return rc;
}

static int extract_file(struct archive *in, struct archive_entry *e, int rootfd,
			const char *rel, const tar_extract_options *o, bderr *err)
{
	const char *leaf;
	int parent = open_parent(rootfd, rel, o, &leaf, err);
	if (parent < 0)
		return -1;
	int fd = openat(parent, leaf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	close(parent);
	if (fd < 0) {
		if (errno == EEXIST)
			return bderr_set(err, "'%s' appears twice in the archive, refused", rel);
		return bderr_sys(err, errno, "cannot create '%s'", rel);
	}
	int rc = fix_node(fd, rel, o->file_mode, o, err);
	while (rc == 0) {
		const void *buf;
		size_t size;
		la_int64_t off;
		int ar = archive_read_data_block(in, &buf, &size, &off);
		if (ar == ARCHIVE_EOF)
			break;
		if (ar < ARCHIVE_WARN) {
			rc = read_failed(in, "damaged entry", err);
			break;
		}
		if (off < 0) {
			rc = bderr_set(err, "tar entry '%s': negative data offset, refused", rel);
			break;
		}
		for (size_t done = 0; done < size && rc == 0;) {
			ssize_t w = pwrite(fd, (const char *)buf + done, size - done,
					   (off_t)off + (off_t)done);
			if (w < 0)
				rc = bderr_sys(err, errno, "cannot write '%s'", rel);
			else
				done += (size_t)w;
		}
	}
	/* a sparse entry may end in a hole */
	if (rc == 0 && archive_entry_size_is_set(e) && archive_entry_size(e) > 0 &&
	    ftruncate(fd, (off_t)archive_entry_size(e)) < 0)
		rc = bderr_sys(err, errno, "cannot write '%s'", rel);
	if (rc == 0) {
		struct timespec ts[2] = { { archive_entry_mtime(e), 0 }, { archive_entry_mtime(e), 0 } };
		futimens(fd, ts); /* best effort: nothing depends on it */
	}
	if (close(fd) < 0 && rc == 0)
		rc = bderr_sys(err, errno, "cannot write '%s'", rel);
	return rc;
}

int tar_extract(struct archive *in, const char *dest, const tar_extract_options *o, bderr *err)
{
	int rootfd = open(dest, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (rootfd < 0)
		return bderr_sys(err, errno, "cannot open directory '%s'", dest);
	int rc = 0;
	while (rc == 0) {
		struct archive_entry *e;
		int ar = archive_read_next_header(in, &e);
		if (ar == ARCHIVE_EOF)
			break;
		if (ar < ARCHIVE_WARN) {
			rc = read_failed(in, "damaged entry header", err);
			break;
		}
		tar_entry_plan plan;
		if (tar_entry_check(e, o->tblspc_oids, &plan, err) < 0) {
			rc = -1;
			break;
		}
		if (plan.kind == TAR_ENTRY_DIR)
			rc = extract_dir(rootfd, plan.rel, o, err);
		else if (plan.kind == TAR_ENTRY_FILE)
			rc = extract_file(in, e, rootfd, plan.rel, o, err);
		if (rc == -1)
			bderr_prefix(err, "extracting into '%s'", dest);
		free(plan.rel);
	}
	close(rootfd);
	return rc;
}

int tar_make_tablespace_link(const char *datadir, const char *oid, const char *target,
			     const tar_extract_options *o, bderr *err)
{
	int rootfd = open(datadir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (rootfd < 0)
		return bderr_sys(err, errno, "cannot open directory '%s'", datadir);
	char *rel = xasprintf("pg_tblspc/%s", oid);
	const char *leaf;
	int rc = 0;
	int parent = open_parent(rootfd, rel, o, &leaf, err);
	if (parent < 0) {
		rc = -1;
	} else {
		if (symlinkat(target, parent, leaf) < 0)
			rc = bderr_sys(err, errno, "cannot create the tablespace link '%s/%s'", datadir,
				       rel);
		else if (o->set_owner && fchownat(parent, leaf, o->uid, o->gid, AT_SYMLINK_NOFOLLOW) < 0)
			rc = bderr_sys(err, errno, "cannot set the owner of '%s/%s'", datadir, rel);
		close(parent);
	}
	free(rel);
	close(rootfd);
	return rc;
}
