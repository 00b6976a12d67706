#include "restore/wal_get.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "archive/wal.h"
#include "common/subprocess.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/mem.h"

#define PREFETCH_THREADS 2
#define PREFETCH_LOCK "prefetch.lock"
/* A prefetched file nobody asked for within this time belongs to an abandoned recovery. */
#define SPOOL_STALE_SECONDS 3600

/* The size a segment must have: archive.info's, else any power of two from 1 MB. */
static int size_ok(const wal_name *n, size_t len, uint32_t seg_size)
{
	if (n->kind != WAL_KIND_SEGMENT && n->kind != WAL_KIND_PARTIAL)
		return 1;
	if (seg_size)
		return len == seg_size;
	return len >= 1024 * 1024 && (len & (len - 1)) == 0;
}

/* Downloads and verifies file: 0 with *buf, 1 absent, -1 error. */
static int fetch(repo *r, const char *source, const char *file, uint32_t seg_size, char **buf,
		 size_t *len, bderr *err)
{
	wal_name n;
	char *obj = NULL;
	char sha[65];
	*buf = NULL;
	if (wal_name_parse(file, &n, err) < 0)
		return -1;
	int rc = wal_find(r, source, file, &obj, sha, err);
	if (rc != 0)
		return rc;
	rc = wal_object_read(r, obj, sha, 0, buf, len, err);
	if (rc == 0 && !size_ok(&n, *len, seg_size)) {
		bderr_set(err, "WAL object '%s' in '%s' is corrupt: %zu bytes, not a whole segment", obj,
			  repo_url(r), *len);
		err->sys_errno = EBADMSG;
		free(*buf);
		*buf = NULL;
		rc = -1;
	}
	free(obj);
	return rc;
}

static uint32_t archive_segment_size(repo *r, const char *source)
{
	wal_archive_info info;
	bderr e;
	bderr_init(&e);
	return wal_archive_info_read(r, source, &info, &e) == 0 ? info.wal_segment_size : 0;
}

int wal_get_file(repo *r, const char *source, const char *file, const char *path, bderr *err)
{
	char *buf = NULL;
	size_t len = 0;
	int rc = fetch(r, source, file, archive_segment_size(r, source), &buf, &len, err);
	if (rc == 0)
		rc = file_write_atomic(path, NULL, buf, len, err); /* the server never sees half a segment */
	free(buf);
	return rc;
}

/* --- the prefetch spool ----------------------------------------------------------- */

/* "<F>-<sha256>": 0 and the parts, -1 for anything else (temp files, locks). */
static int spool_parse(const char *entry, wal_name *n, char sha[65])
{
	const char *dash = strrchr(entry, '-');
	bderr e;
	bderr_init(&e);
	if (dash == NULL || strlen(dash + 1) != 64 || strspn(dash + 1, "0123456789abcdef") != 64)
		return -1;
	char *f = xstrndup(entry, (size_t)(dash - entry));
	int rc = wal_name_parse(f, n, &e);
	free(f);
	if (rc == 0)
		memcpy(sha, dash + 1, 65);
	return rc;
}

/*
 * Serves file from the spool when a verified copy is there.  Removes what
 * recovery has passed (earlier segments of the timeline) and old leftovers.
 * 0 served, 1 not there.
 */
static int spool_serve(const char *spool, const char *file, const char *path, bderr *err)
{
	DIR *d = opendir(spool);
	char *found = NULL;
	char found_sha[65];
	if (d == NULL)
		return 1;
	time_t now = time(NULL);
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		wal_name n;
		char sha[65];
		struct stat st;
		if (spool_parse(de->d_name, &n, sha) < 0 || fstatat(dirfd(d), de->d_name, &st, 0) < 0)
			continue;
		if (strcmp(n.file, file) == 0 && found == NULL) {
			found = xasprintf("%s/%s", spool, de->d_name);
			memcpy(found_sha, sha, sizeof sha);
		} else if ((n.kind == WAL_KIND_SEGMENT && strlen(file) == WAL_SEGMENT_NAME_LEN &&
			    strncmp(n.file, file, 8) == 0 && strcmp(n.file, file) < 0) ||
			   now - st.st_mtime > SPOOL_STALE_SECONDS) {
			unlinkat(dirfd(d), de->d_name, 0);
		}
	}
	closedir(d);
	if (found == NULL)
		return 1;
	int rc = 1;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = fopen(found, "re");
	struct stat st;
	if (f && fstat(fileno(f), &st) == 0 && st.st_size > 0) {
		len = (size_t)st.st_size;
		buf = xmalloc(len);
		char hex[65];
		bderr e;
		bderr_init(&e);
		if (fread(buf, 1, len, f) == len && wal_checksum(buf, len, hex, &e) == 0 &&
		    strcmp(hex, found_sha) == 0)
			rc = 0;
		else
			log_warn("prefetched '%s' is damaged; fetching it from the archive again", found);
	}
	if (f)
		fclose(f);
	if (rc == 0)
		rc = file_write_atomic(path, NULL, buf, len, err);
	if (rc == 0)
		log_debug("'%s' served from the prefetch spool", file);
	unlink(found);
	free(buf);
	free(found);
	return rc;
}

static int spool_has(const char *spool, const char *file)
{
	DIR *d = opendir(spool);
	int has = 0;
	if (d == NULL)
		return 0;
	struct dirent *de;
	while (!has && (de = readdir(d)) != NULL) {
		wal_name n;
		char sha[65];
		has = spool_parse(de->d_name, &n, sha) == 0 && strcmp(n.file, file) == 0;
	}
	closedir(d);
	return has;
}

typedef struct prefetcher {
	pthread_mutex_t mu;
	repo *r;
	const char *source;
	const char *spool;
	uint32_t seg_size;
	char (*names)[25];
	int n, next;
	int stop; /* a name was absent: the archive ends there */
} prefetcher;

static void *prefetch_thread(void *arg)
{
	prefetcher *p = arg;
	for (;;) {
		pthread_mutex_lock(&p->mu);
		int i = p->stop ? p->n : p->next++;
		pthread_mutex_unlock(&p->mu);
		if (i >= p->n)
			return NULL;
		const char *file = p->names[i];
		if (spool_has(p->spool, file))
			continue;
		char *buf = NULL;
		size_t len = 0;
		bderr err;
		bderr_init(&err);
		int rc = fetch(p->r, p->source, file, p->seg_size, &buf, &len, &err);
		if (rc == 0) {
			char sha[65];
			char *dst = NULL;
			if (wal_checksum(buf, len, sha, &err) == 0) {
				dst = xasprintf("%s/%s-%s", p->spool, file, sha);
				if (file_write_atomic(dst, NULL, buf, len, &err) < 0)
					log_debug("prefetch of '%s': %s", file, err.msg);
			}
			free(dst);
		} else {
			if (rc < 0) /* the call that needs it will fetch it and report */
				log_debug("prefetch of '%s': %s", file, err.msg);
			pthread_mutex_lock(&p->mu);
			p->stop = 1;
			pthread_mutex_unlock(&p->mu);
		}
		free(buf);
	}
}

static void prefetch_run(repo *r, const char *source, const char *spool, const char *file,
			 uint32_t seg_size, int count)
{
	prefetcher p = { .r = r, .source = source, .spool = spool, .seg_size = seg_size };
	p.names = xcalloc((size_t)count, sizeof *p.names);
	char cur[25];
	snprintf(cur, sizeof cur, "%s", file);
	for (; p.n < count; p.n++) {
		if (wal_segment_next(cur, seg_size, p.names[p.n]) < 0)
			break;
		memcpy(cur, p.names[p.n], sizeof cur);
	}
	pthread_mutex_init(&p.mu, NULL);
	pthread_t th[PREFETCH_THREADS];
	int started = 0;
	for (int i = 0; i < PREFETCH_THREADS && i < p.n; i++)
		if (pthread_create(&th[i], NULL, prefetch_thread, &p) == 0)
			started++;
	if (started == 0)
		prefetch_thread(&p);
	for (int i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	pthread_mutex_destroy(&p.mu);
	free(p.names);
}

/*
 * Forks the detached prefetcher unless one runs (its lock is inherited, see
 * wal-push).  1 in the child, 0 in the caller.
 */
static int start_prefetcher(const char *spool, int *lock_fd)
{
	char *lp = xasprintf("%s/" PREFETCH_LOCK, spool);
	int child = subprocess_fork_detached_locked(lp, lock_fd);
	free(lp);
	return child;
}

/*
 * --spool-dir, else <PATH's directory>/backupd-wal-get/<name>: PATH is
 * pg_wal/RECOVERYXLOG, and base backups leave pg_wal's contents out, so a
 * spool there never travels into a backup of the restored server (one in the
 * data directory did, and broke it).
 */
static char *spool_dir(program *p, const char *path, const char *name)
{
	const char *arg = cli_get(&p->args, "spool-dir");
	char *dir;
	if (arg) {
		dir = xstrdup(arg);
	} else {
		char *wal_dir = path_dirname(path);
		dir = xasprintf("%s/backupd-wal-get/%s", wal_dir, name);
		free(wal_dir);
	}
	bderr e;
	bderr_init(&e);
	if (mkdir_p(dir, 0700, &e) < 0) {
		log_debug("no WAL prefetch: %s", e.msg);
		free(dir);
		return NULL;
	}
	return dir;
}

int wal_get_command(program *p, bderr *err)
{
	const char *file = p->args.positional[0];
	const char *path = p->args.positional[1];
	const char *name = cli_get(&p->args, "name");
	int prefetch;
	wal_name wn;
	if (repo_name_check(name, err) < 0 ||
	    cli_int(&p->args, "prefetch", &prefetch, err) < 0 ||
	    wal_name_parse(file, &wn, err) < 0)
		return -1;
	char *spool = prefetch > 0 ? spool_dir(p, path, name) : NULL;
	repo *r = NULL;
	int rc = 1;
	if (spool)
		rc = spool_serve(spool, file, path, err);
	if (rc == 1) {
		if (program_open_repo(p, 0, &r, err) < 0) {
			rc = -1;
			goto out;
		}
		rc = wal_get_file(r, name, file, path, err);
		/*
		 * Not archived is the normal end of archive recovery and says
		 * nothing; no archive at all under the name (a --name typo in a
		 * hand-written restore_command) must not look like it: recovery
		 * would end at once, or a standby never read the archive.
		 */
		wal_archive_info info;
		bderr ie;
		bderr_init(&ie);
		if (rc == 1 && wal_archive_info_read(r, name, &info, &ie) == 1)
			rc = bderr_set(err, "'%s' has no WAL archive in %s (no %s under that name): "
					    "is --name the one archive_command pushes with?",
				       name, repo_url(r), WAL_ARCHIVE_INFO);
		else if (rc == 1)
			log_debug("'%s' is not in the WAL archive of '%s' in '%s'", file, name, repo_url(r));
		repo_free(r);
		r = NULL;
	}
	int lock_fd;
	if (rc == 0 && spool && wn.kind == WAL_KIND_SEGMENT && start_prefetcher(spool, &lock_fd)) {
		/* the detached child */
		bderr e;
		bderr_init(&e);
		if (program_open_repo(p, 0, &r, &e) == 0) {
			uint32_t seg = archive_segment_size(r, name);
			if (seg)
				prefetch_run(r, name, spool, file, seg, prefetch);
		}
		repo_free(r);
		r = NULL;
		close(lock_fd);
	}
out:
	free(spool);
	return rc;
}
