#include "backupd/wal_push.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "archive/filter.h"
#include "archive/wal.h"
#include "backupd/run_history.h"
#include "common/subprocess.h"
#include "common/fsutil.h"
#include "backupd/gauges.h"
#include "common/log.h"
#include "common/mem.h"

#define PUSHER_LOCK "pusher.lock"
/* how often a waiting pusher thread looks again, and when it gives up waiting */
#define PUSHER_POLL_NS (3 * 1000 * 1000)
#define PUSHER_IDLE_SECONDS 10.0

/* --- the synchronous push ------------------------------------------------------ */

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

/*
 * A file wal-push may archive: its name, its size, and for a segment its
 * headers (else not empty).  Checked before the repository is opened, which
 * creates it on the first push: a wrong path or a file that is no WAL must
 * leave no repository behind.  Stays open for wal_file_push, which reads it
 * (wal_store_fd: read, not mapped, see archive/wal.c).
 */
typedef struct wal_file {
	wal_name n;
	int fd; /* -1 when not open */
	size_t len;
	int segment;
	wal_segment_header h;
} wal_file;

static void wal_file_close(wal_file *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
}

static int wal_file_open(const char *path, wal_file *f, bderr *err)
{
	struct stat st;
	memset(f, 0, sizeof *f);
	f->fd = -1;
	if (wal_name_parse(base_name(path), &f->n, err) < 0)
		return -1;
	f->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (f->fd < 0)
		return bderr_sys(err, errno, "cannot open '%s'", path);
	int rc = 0;
	if (fstat(f->fd, &st) < 0)
		rc = bderr_sys(err, errno, "cannot stat '%s'", path);
	else if (!S_ISREG(st.st_mode))
		rc = bderr_set(err, "'%s' is not a regular file", path);
	f->len = rc == 0 ? (size_t)st.st_size : 0;
	f->segment = f->n.kind == WAL_KIND_SEGMENT || f->n.kind == WAL_KIND_PARTIAL;
	if (rc == 0 && f->segment) {
		unsigned char head[WAL_LONG_HEADER_LEN];
		size_t got = 0;
		rc = fd_pread_full(f->fd, head, sizeof head, 0, &got, path, err);
		if (rc == 0)
			rc = wal_segment_check_head(&f->n, head, got, f->len, &f->h, err);
	} else if (rc == 0 && f->len == 0) {
		rc = bderr_set(err, "'%s' is empty", path);
	}
	if (rc < 0)
		wal_file_close(f);
	return rc;
}

static int wal_file_push(repo *r, const wal_push_options *o, const char *path, wal_file *f,
			 int *already, bderr *err)
{
	const char *file = base_name(path);
	*already = 0;
	int rc = 0;
	if (f->segment)
		rc = wal_archive_info_check(r, o->source, f->h.system_identifier, f->h.seg_size,
					    wal_pg_version_from_magic(f->h.magic), err);
	/* one call, one file: both halves at once (wal_compressor_new) */
	wal_compressor *own = o->z ? NULL : wal_compressor_new(2);
	if (rc == 0)
		rc = wal_store_fd(o->z ? o->z : own, r, o->source, file, f->fd, f->len, o->level, already, err);
	wal_compressor_free(own);
	if (rc < 0)
		return bderr_prefix(err, "cannot archive '%s' into '%s'", path, repo_url(r));
	return 0;
}

int wal_push_file(repo *r, const wal_push_options *o, const char *path, int *already, bderr *err)
{
	wal_file f;
	*already = 0;
	if (wal_file_open(path, &f, err) < 0)
		return bderr_prefix(err, "cannot archive '%s' into '%s'", path, repo_url(r));
	int rc = wal_file_push(r, o, path, &f, already, err);
	wal_file_close(&f);
	return rc;
}

/* --- spool files ------------------------------------------------------------------ */

static char *spool_file(const char *spool, const char *file, const char *ext)
{
	return xasprintf("%s/%s%s", spool, file, ext);
}

static int spool_exists(const char *spool, const char *file, const char *ext)
{
	char *p = spool_file(spool, file, ext);
	int rc = access(p, F_OK) == 0;
	free(p);
	return rc;
}

static void spool_unlink(const char *spool, const char *file, const char *ext)
{
	char *p = spool_file(spool, file, ext);
	unlink(p);
	free(p);
}

/*
 * Writes the marker whole under a temp name first (".ok.tmp", which
 * spool_clean knows), so a reader never sees half of it.  A marker that
 * cannot be written only costs a second push of the file: logged, not fatal.
 * Not fsynced, for the same reason: the object it reports was durable
 * before the marker was written, and a marker lost or emptied by a crash
 * does not match (spool_ok_matches), so the archiver's call pushes again.
 * Two fsyncs (marker and spool directory) of four per pushed segment.
 */
static void spool_write(const char *spool, const char *file, const char *ext, const char *text)
{
	char *p = spool_file(spool, file, ext);
	char *tmp = xasprintf("%s.tmp", p);
	bderr err;
	bderr_init(&err);
	if (file_write_whole(p, tmp, text, strlen(text), &err) < 0)
		log_warn("wal-push spool: %s", err.msg);
	free(tmp);
	free(p);
}

/* The repository is in the marker too: a changed --repo must not inherit another's successes. */
static char *ok_text(const struct stat *st, const char *repo_arg)
{
	return xasprintf("%lld %lld %ld %s\n", (long long)st->st_size, (long long)st->st_mtim.tv_sec,
			 (long)st->st_mtim.tv_nsec, repo_arg);
}

/*
 * F.ok is trusted only for the very file it was written for: same size and
 * modification time (a recycled or rewritten segment changes both).
 */
static int spool_ok_matches(const char *spool, const char *file, const char *path,
			    const char *repo_arg)
{
	char *p = spool_file(spool, file, ".ok");
	char buf[4096];
	int match = 0;
	FILE *f = fopen(p, "re");
	free(p);
	if (f == NULL)
		return 0;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	struct stat st;
	if (stat(path, &st) == 0) {
		char *want = ok_text(&st, repo_arg);
		match = strcmp(buf, want) == 0;
		free(want);
	}
	return match;
}

/* Opens F.claim and locks it (blocking or not); -1 when busy or impossible. */
static int claim(const char *spool, const char *file, int wait)
{
	char *p = spool_file(spool, file, ".claim");
	int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	free(p);
	if (fd < 0)
		return -1;
	while (flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) < 0) {
		if (errno != EINTR) {
			close(fd);
			return -1;
		}
	}
	return fd;
}

/* --- ready files -------------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The extension of name among exts, or NULL. */
static const char *name_ext(const char *name, const char *const *exts, size_t n_exts)
{
	size_t len = strlen(name);
	for (size_t i = 0; i < n_exts; i++) {
		size_t el = strlen(exts[i]);
		if (len > el && strcmp(name + len - el, exts[i]) == 0)
			return exts[i];
	}
	return NULL;
}

/* WAL names of the files in dir ending in one of exts (extension removed), sorted. */
static char **wal_names_in(const char *dir, const char *const *exts, size_t n_exts, size_t *n)
{
	char **v = NULL;
	size_t cap = 0;
	*n = 0;
	DIR *d = opendir(dir);
	if (d == NULL)
		return NULL;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		const char *ext = name_ext(de->d_name, exts, n_exts);
		wal_name wn;
		bderr e;
		bderr_init(&e);
		if (ext == NULL)
			continue;
		char *f = xstrndup(de->d_name, strlen(de->d_name) - strlen(ext));
		if (wal_name_parse(f, &wn, &e) < 0) {
			free(f);
			continue;
		}
		if (*n == cap) {
			cap = cap ? cap * 2 : 64;
			v = xrealloc(v, cap * sizeof *v);
		}
		v[(*n)++] = f;
	}
	closedir(d);
	if (*n > 1)
		qsort(v, *n, sizeof *v, cmp_str);
	return v;
}

/* WAL names with a .ready file in status_dir, oldest first. */
static char **ready_list(const char *status_dir, size_t *n)
{
	static const char *const ready_ext[] = { ".ready" };
	return wal_names_in(status_dir, ready_ext, 1, n);
}

/* f in the sorted list v? */
static int sorted_has(char *const *v, size_t n, const char *f)
{
	return n > 0 && bsearch(&f, v, n, sizeof *v, cmp_str) != NULL;
}

static void str_list_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static int is_ready(const char *status_dir, const char *file)
{
	char *p = xasprintf("%s/%s.ready", status_dir, file);
	int rc = access(p, F_OK) == 0;
	free(p);
	return rc;
}

/* Markers whose file is no longer waiting to be archived were consumed or abandoned. */
static void spool_clean(const char *spool, const char *status_dir)
{
	static const char *const exts[] = { ".ok", ".error", ".claim", ".ok.tmp", ".error.tmp" };
	DIR *d = opendir(spool);
	if (d == NULL)
		return;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		const char *ext = name_ext(de->d_name, exts, sizeof exts / sizeof *exts);
		if (ext == NULL)
			continue;
		char *f = xstrndup(de->d_name, strlen(de->d_name) - strlen(ext));
		if (!is_ready(status_dir, f))
			spool_unlink(spool, f, ext);
		free(f);
	}
	closedir(d);
}

/* --- the background pusher ------------------------------------------------------------ */

typedef struct pusher {
	pthread_mutex_t mu;
	repo *r;
	const wal_push_options *o;
	const char *repo_arg;
	const char *spool;
	const char *wal_dir;
	const char *status_dir;
	int async_max;
	char **queue; /* taken oldest first */
	size_t nq, iq;
	char **seen; /* every file taken once, never retaken by this pusher; sorted */
	size_t nseen, capseen;
	int inflight;
} pusher;

/* Files are taken oldest first: the insertion point is almost always the end. */
static void seen_add(pusher *p, const char *f)
{
	if (p->nseen == p->capseen) {
		p->capseen = p->capseen ? p->capseen * 2 : 64;
		p->seen = xrealloc(p->seen, p->capseen * sizeof *p->seen);
	}
	size_t at = p->nseen;
	while (at > 0 && strcmp(p->seen[at - 1], f) > 0)
		at--;
	memmove(&p->seen[at + 1], &p->seen[at], (p->nseen - at) * sizeof *p->seen);
	p->seen[at] = xstrdup(f);
	p->nseen++;
}

/*
 * Under p->mu: queues ready files without a marker, keeping at most async_max
 * ahead.  Returns 1 when files were left out only because of that bound.
 * Runs every PUSHER_POLL_NS while the spool is full, with hundreds of files
 * ready when the archiver is behind: two directory reads and binary searches,
 * not a lookup per ready file (the CPU it took was the compression's).
 */
static int refill(pusher *p)
{
	static const char *const marker_ext[] = { ".ok", ".error" };
	size_t n, nm;
	char **ready = ready_list(p->status_dir, &n);
	char **markers = wal_names_in(p->spool, marker_ext, 2, &nm);
	int outstanding = p->inflight, limited = 0;
	str_list_free(p->queue, p->nq);
	p->queue = NULL;
	p->nq = p->iq = 0;
	char *done = xcalloc(n ? n : 1, 1);
	for (size_t i = 0; i < n; i++) {
		done[i] = sorted_has(markers, nm, ready[i]);
		outstanding += done[i];
	}
	str_list_free(markers, nm);
	for (size_t i = 0; i < n; i++) {
		if (done[i] || sorted_has(p->seen, p->nseen, ready[i]))
			continue;
		if (outstanding >= p->async_max) {
			limited = 1;
			break;
		}
		p->queue = xrealloc(p->queue, (p->nq + 1) * sizeof *p->queue);
		p->queue[p->nq++] = xstrdup(ready[i]);
		seen_add(p, ready[i]);
		outstanding++;
	}
	free(done);
	str_list_free(ready, n);
	return limited;
}

static double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * The next file to push, or NULL when there is nothing left to do.  A thread
 * that finds the spool full, or its siblings still busy, waits for the
 * archiver to consume markers instead of leaving: a thread that left would be
 * parallelism lost for the rest of this pusher's life.
 */
static char *next_file(pusher *p)
{
	double idle_since = now_seconds();
	pthread_mutex_lock(&p->mu);
	for (;;) {
		if (p->iq == p->nq) {
			int limited = refill(p);
			if (p->iq == p->nq && !limited && p->inflight == 0)
				break;
		}
		if (p->iq < p->nq) {
			char *f = xstrdup(p->queue[p->iq++]);
			p->inflight++;
			pthread_mutex_unlock(&p->mu);
			return f;
		}
		if (now_seconds() - idle_since > PUSHER_IDLE_SECONDS)
			break;
		pthread_mutex_unlock(&p->mu);
		nanosleep(&(struct timespec){ 0, PUSHER_POLL_NS }, NULL);
		pthread_mutex_lock(&p->mu);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

static void push_one(pusher *p, const wal_push_options *o, const char *file)
{
	int fd = claim(p->spool, file, 0);
	if (fd < 0) /* the archiver's own call has it */
		return;
	if (spool_exists(p->spool, file, ".ok") || spool_exists(p->spool, file, ".error")) {
		close(fd);
		return;
	}
	char *path = xasprintf("%s/%s", p->wal_dir, file);
	struct stat st;
	bderr err;
	bderr_init(&err);
	int already = 0;
	/* stat before reading: a file changed while we push will not match its marker */
	if (stat(path, &st) < 0)
		bderr_sys(&err, errno, "cannot stat '%s'", path);
	else
		wal_push_file(p->r, o, path, &already, &err);
	if (bderr_isset(&err)) {
		char *text = xasprintf("%s\n", err.msg);
		spool_write(p->spool, file, ".error", text);
		free(text);
	} else {
		char *text = ok_text(&st, p->repo_arg);
		spool_write(p->spool, file, ".ok", text);
		free(text);
	}
	free(path);
	close(fd);
}

static void *pusher_thread(void *arg)
{
	pusher *p = arg;
	char *f;
	wal_push_options o = *p->o;
	o.z = wal_compressor_new(1); /* the pusher's threads already fill the cores */
	while ((f = next_file(p)) != NULL) {
		push_one(p, &o, f);
		free(f);
		pthread_mutex_lock(&p->mu);
		p->inflight--;
		pthread_mutex_unlock(&p->mu);
	}
	wal_compressor_free(o.z);
	return NULL;
}

static void pusher_run(repo *r, const wal_push_options *o, const char *repo_arg, const char *spool,
		       const char *wal_dir, const char *status_dir, int async_max, int threads)
{
	pusher p = { .r = r, .o = o, .repo_arg = repo_arg, .spool = spool, .wal_dir = wal_dir,
		     .status_dir = status_dir, .async_max = async_max };
	pthread_mutex_init(&p.mu, NULL);
	spool_clean(spool, status_dir);
	pthread_t *th = xcalloc((size_t)threads, sizeof *th);
	int started = 0;
	for (int i = 0; i < threads; i++)
		if (pthread_create(&th[i], NULL, pusher_thread, &p) == 0)
			started++;
		else
			break;
	if (started == 0)
		pusher_thread(&p);
	for (int i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	free(th);
	str_list_free(p.queue, p.nq);
	str_list_free(p.seen, p.nseen);
	pthread_mutex_destroy(&p.mu);
}

/* --- the command -------------------------------------------------------------------- */

/* Another ready file besides file? */
static int more_ready(const char *status_dir, const char *file)
{
	size_t n;
	char **v = ready_list(status_dir, &n);
	int more = n > 1 || (n == 1 && strcmp(v[0], file) != 0);
	str_list_free(v, n);
	return more;
}

/*
 * Starts a background pusher unless one runs.  The lock is taken here and
 * inherited: it stays held by the child's descriptor after this process
 * closes its own.  Returns 1 in the child (which must run the pusher), 0 in
 * the caller.
 */
static int kick_pusher(const char *spool, const char *status_dir, const char *file,
		       int *lock_fd)
{
	*lock_fd = -1;
	if (!more_ready(status_dir, file))
		return 0;
	char *lp = xasprintf("%s/" PUSHER_LOCK, spool);
	int child = subprocess_fork_detached_locked(lp, lock_fd);
	free(lp);
	return child;
}

/*
 * --spool-dir, else <state-dir>/spool/wal-push/<name>, in *out; *out NULL
 * when it cannot be made (pushes are then synchronous).  -1 when it is, or
 * lies under, a file: that is the operator's setup to fix, not a reason to
 * push without the spool for ever.
 */
static int spool_dir(program *p, const char *name, char **out, bderr *err)
{
	const char *arg = cli_get(&p->args, "spool-dir");
	char *dir = arg ? xstrdup(arg)
			: xasprintf("%s/spool/wal-push/%s", run_history_state_dir(p->cfg), name);
	*out = NULL;
	if (dir_place_check(arg ? "--spool-dir" : "spool dir", dir, err) < 0) {
		free(dir);
		return -1;
	}
	bderr e;
	bderr_init(&e);
	if (mkdir_p(dir, 0750, &e) < 0) {
		/* an explicit spool that fails is a mistake worth a line in the server log each time */
		if (arg)
			log_warn("--spool-dir unusable, pushing synchronously: %s", e.msg);
		else
			log_debug("no asynchronous WAL push: %s", e.msg);
		free(dir);
		return 0;
	}
	*out = dir;
	return 0;
}

static int compress_level(program *p, int *level, bderr *err)
{
	const char *spec;
	*level = 1;
	return program_compress(p, cli_get(&p->args, "repo"), &spec, level, err);
}

typedef struct wal_file_ctx {
	const char *path;
	wal_file *f;
} wal_file_ctx;

/* program_create_repo_after's check: a missing or bad file leaves no repository behind */
static int open_wal_file(void *arg, bderr *err)
{
	wal_file_ctx *c = arg;
	if (wal_file_open(c->path, c->f, err) < 0)
		return bderr_prefix(err, "cannot archive '%s'", c->path);
	return 0;
}

int wal_push_command(program *p, bderr *err)
{
	const char *path = p->args.positional[0];
	const char *name = cli_get(&p->args, "name");
	int async_max, threads, level;
	wal_name wn;
	if (repo_name_check(name, err) < 0 || compress_level(p, &level, err) < 0 ||
	    cli_int(&p->args, "async-max", &async_max, err) < 0 ||
	    cli_int(&p->args, "async-threads", &threads, err) < 0 ||
	    wal_name_parse(base_name(path), &wn, err) < 0)
		return -1;
	/*
	 * A state dir (metrics figures, the default spool) or spool dir that is,
	 * or lies under, a file: exit 2 with one line, as run and the daemon do.
	 * The archiver logs it and retries the segment until the operator fixes it.
	 */
	char *spool = NULL;
	int state_used = p->cfg != NULL || (async_max > 0 && cli_get(&p->args, "spool-dir") == NULL);
	if ((state_used && run_history_check_state_dir(p->cfg, err) < 0) ||
	    (async_max > 0 && spool_dir(p, name, &spool, err) < 0))
		return -1;
	wal_push_options o = { .source = name, .level = level };
	const char *file = wn.file;
	char *wal_dir = path_dirname(path);
	char *status_dir = xasprintf("%s/archive_status", wal_dir);
	int claim_fd = -1, lock_fd = -1, rc = -1, already = 0;
	repo *r = NULL;
	wal_file wf; /* the file to push, open and checked (wal_file_open); closed at out */
	memset(&wf, 0, sizeof wf);
	wf.fd = -1;

	if (spool) {
		claim_fd = claim(spool, file, 1); /* waits while the pusher has this file */
		if (claim_fd >= 0 && spool_ok_matches(spool, file, path, cli_get(&p->args, "repo"))) {
			spool_unlink(spool, file, ".ok");
			spool_unlink(spool, file, ".claim");
			close(claim_fd);
			claim_fd = -1;
			log_debug("'%s' was archived ahead by the background pusher", file);
			rc = 0;
		} else if (claim_fd >= 0) {
			/* never trust a failure: say what it was and push again ourselves */
			char *ep = spool_file(spool, file, ".error");
			FILE *f = fopen(ep, "re");
			if (f) {
				char msg[BDERR_MSG_MAX];
				size_t n = fread(msg, 1, sizeof msg - 1, f);
				fclose(f);
				msg[n] = '\0';
				msg[strcspn(msg, "\n")] = '\0';
				log_warn("background push of '%s' failed (%s); pushing it again", file, msg);
				unlink(ep);
			}
			free(ep);
			spool_unlink(spool, file, ".ok");
		}
		if (kick_pusher(spool, status_dir, file, &lock_fd)) {
			/* the background pusher (a forked child) */
			if (claim_fd >= 0)
				close(claim_fd);
			bderr e;
			bderr_init(&e);
			if (program_open_repo(p, 1, &r, &e) == 0)
				pusher_run(r, &o, cli_get(&p->args, "repo"), spool, wal_dir, status_dir,
					   async_max, threads);
			repo_free(r);
			close(lock_fd);
			free(spool);
			free(status_dir);
			free(wal_dir);
			return 0;
		}
		if (rc == 0)
			goto out;
	}
	/* --repo's usage errors first, then the file, then the repository (created by a first push) */
	wal_file_ctx fc = { path, &wf };
	rc = program_create_repo_after(p, open_wal_file, &fc, &r, err);
	if (rc == 0)
		rc = wal_file_push(r, &o, path, &wf, &already, err);
	if (rc == 0) {
		log_debug("'%s' %s", file, already ? "was already archived" : "archived");
		if (spool)
			spool_unlink(spool, file, ".claim");
	}
out:
	if (p->cfg) { /* /metrics: the daemon reads these from the config's state dir */
		size_t waiting = 0;
		char **ready = ready_list(status_dir, &waiting);
		for (size_t i = 0; i < waiting; i++)
			free(ready[i]);
		free(ready);
		/* this segment's .ready goes once we return success */
		gauges_record_wal(p->cfg, name, rc == 0, waiting > 0 && rc == 0 ? waiting - 1 : waiting);
	}
	if (claim_fd >= 0)
		close(claim_fd);
	wal_file_close(&wf);
	repo_free(r);
	free(spool);
	free(status_dir);
	free(wal_dir);
	return rc;
}
