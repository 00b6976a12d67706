#include "restore/pitr.h"

#include <ctype.h>
#include <dirent.h>
#include <ftw.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <jansson.h>
#include <libpq-fe.h>

#include "archive/lsn.h"
#include "archive/wal_chain.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/progress.h"
#include "engines/pg/pg_base_format.h"
#include "engines/pg/pgtool.h"
#include "common/subprocess.h"
#include "engines/pg/pgconn.h"
#include "common/resolve.h"
#include "restore/tar_extract.h"

/* ---- target time ---------------------------------------------------------- */

/* Exactly n decimal digits. */
static int digits(const char **p, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return -1;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return 0;
}

int pitr_parse_time(const char *s, int64_t *us, char *out, size_t out_len)
{
	struct tm tm;
	memset(&tm, 0, sizeof tm);
	int y, mo, d, h, mi, se = 0;
	const char *p = s;
	if (digits(&p, 4, &y) < 0 || *p++ != '-' || digits(&p, 2, &mo) < 0 || *p++ != '-' ||
	    digits(&p, 2, &d) < 0)
		return -1;
	if (*p != ' ' && *p != 'T' && *p != 't')
		return -1;
	p++;
	if (digits(&p, 2, &h) < 0 || *p++ != ':' || digits(&p, 2, &mi) < 0)
		return -1;
	/* "10:15" is what an operator types for a minute: seconds 0, as PostgreSQL reads it */
	int has_seconds = 0;
	if (*p == ':') {
		p++;
		if (digits(&p, 2, &se) < 0)
			return -1;
		has_seconds = 1;
	}
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 59)
		return -1;
	/* Feb 30 or Apr 31 would normalise to another day, whatever the zone: refuse it */
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap))
		return -1;
	long frac = 0;
	if (*p == '.' && has_seconds) {
		p++;
		int n = 0;
		for (; isdigit((unsigned char)*p); p++, n++) {
			if (n < 6)
				frac = frac * 10 + (*p - '0');
		}
		if (n == 0)
			return -1;
		for (; n < 6; n++)
			frac *= 10;
	}
	while (*p == ' ')
		p++;
	int has_zone = 0;
	long offset = 0; /* seconds east of UTC */
	if (*p == 'Z' || *p == 'z') {
		has_zone = 1;
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p++ == '-' ? -1 : 1;
		int oh, om = 0;
		if (digits(&p, 2, &oh) < 0)
			return -1;
		if (*p == ':')
			p++;
		if (isdigit((unsigned char)*p) && digits(&p, 2, &om) < 0)
			return -1;
		if (oh > 15 || om > 59)
			return -1;
		has_zone = 1;
		offset = sign * (oh * 3600L + om * 60L);
	}
	if (*p != '\0')
		return -1;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se;
	time_t t;
	if (has_zone) {
		t = timegm(&tm) - offset;
	} else {
		tm.tm_isdst = -1;
		t = mktime(&tm);
	}
	if (t == (time_t)-1)
		return -1;
	struct tm utc;
	if (gmtime_r(&t, &utc) == NULL)
		return -1;
	char base[32];
	strftime(base, sizeof base, "%Y-%m-%d %H:%M:%S", &utc);
	snprintf(out, out_len, "%s.%06ld+00", base, frac);
	*us = (int64_t)t * 1000000 + frac;
	return 0;
}

/* ---- choosing a backup ---------------------------------------------------- */

long pitr_choose_backup(const backup_list *l, const pitr_target *t, bderr *err)
{
	long best = -1;
	int any = 0;
	for (size_t i = 0; i < l->n; i++) {
		const manifest *m = l->items[i].m;
		if (m == NULL || m->kind == NULL || strcmp(m->kind, "basebackup") != 0)
			continue;
		any = 1;
		pg_base_info bi;
		bderr why;
		bderr_init(&why);
		if (pg_base_info_parse(m->info, &bi, &why) < 0) {
			log_warn("backup %s of '%s' is not considered: %s", m->id,
				 m->name ? m->name : "?", why.msg);
			continue;
		}
		int before = t->kind == PITR_TARGET_TIME  ? bi.stop_time_us < t->time_us
			     : t->kind == PITR_TARGET_LSN ? bi.stop_lsn <= t->lsn
							  : 1;
		pg_base_info_clear(&bi);
		/* recovery must get past the backup's end before it can stop */
		if (!before)
			continue;
		/* the list is sorted by id, which is the start time: later wins */
		best = (long)i;
	}
	if (best < 0) {
		if (!any)
			return bderr_set(err, "no complete base backup in the repository");
		return bderr_set(err, "no complete base backup ended before the target %s",
				 t->value);
	}
	return best;
}

/* ---- quoting -------------------------------------------------------------- */

char *pitr_conf_quote(const char *value)
{
	strbuf b;
	strbuf_init(&b);
	strbuf_appends(&b, "'");
	for (const char *p = value; *p; p++) {
		/* the server's config parser reads backslash escapes inside quotes */
		if (*p == '\'' || *p == '\\')
			strbuf_append(&b, p, 1);
		strbuf_append(&b, p, 1);
	}
	strbuf_appends(&b, "'");
	return strbuf_detach(&b);
}

static int shell_safe(const char *w)
{
	if (*w == '\0')
		return 0;
	for (const char *p = w; *p; p++) {
		if (!isalnum((unsigned char)*p) && strchr("_./=:@,+-", *p) == NULL)
			return 0;
	}
	return 1;
}

char *pitr_restore_command(const char *const *words)
{
	strbuf b;
	strbuf_init(&b);
	for (size_t i = 0; words[i]; i++) {
		if (i > 0)
			strbuf_appends(&b, " ");
		const char *w = words[i];
		int quote = !shell_safe(w);
		if (quote)
			strbuf_appends(&b, "'");
		for (const char *p = w; *p; p++) {
			if (*p == '%')
				strbuf_appends(&b, "%%"); /* the server expands % itself */
			else if (*p == '\'' && quote)
				strbuf_appends(&b, "'\\''");
			else
				strbuf_append(&b, p, 1);
		}
		if (quote)
			strbuf_appends(&b, "'");
	}
	strbuf_appends(&b, " %f %p");
	return strbuf_detach(&b);
}

int pitr_url_has_secret(const char *url)
{
	const char *scheme = strstr(url, "://");
	if (scheme == NULL)
		return 0; /* a plain path */
	const char *auth = scheme + 3;
	size_t auth_len = strcspn(auth, "/?#");
	if (memchr(auth, '@', auth_len) != NULL)
		return 1;
	const char *q = strchr(url, '?');
	if (q == NULL)
		return 0;
	static const char *const words[] = { "secret", "password", "token", "key", "credential",
					     "signature", NULL };
	for (const char *p = q + 1; *p;) {
		size_t kl = strcspn(p, "=&");
		char *key = xstrndup(p, kl);
		for (char *k = key; *k; k++)
			*k = (char)tolower((unsigned char)*k);
		int bad = 0;
		for (size_t i = 0; words[i] && !bad; i++)
			bad = strstr(key, words[i]) != NULL;
		free(key);
		if (bad)
			return 1;
		p += strcspn(p, "&");
		if (*p == '&')
			p++;
	}
	return 0;
}

/* ---- directories ---------------------------------------------------------- */

/* 0 empty or absent (*absent set), 1 not empty, -1 error. */
static int dir_state(const char *path, int *absent, bderr *err)
{
	struct stat st;
	*absent = 0;
	if (lstat(path, &st) < 0) {
		if (errno == ENOENT) {
			*absent = 1;
			return 0;
		}
		return bderr_sys(err, errno, "cannot check '%s'", path);
	}
	if (!S_ISDIR(st.st_mode))
		return 1;
	DIR *d = opendir(path);
	if (d == NULL)
		return bderr_sys(err, errno, "cannot open directory '%s'", path);
	struct dirent *e;
	int n = 0;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
			n = 1;
			break;
		}
	}
	closedir(d);
	return n;
}

/* mkdir -p, parents 0755 (a server must reach a tablespace through them), the last 0700. */
static int mkdir_private(const char *path, bderr *err)
{
	char *copy = xstrdup(path);
	int rc = 0;
	for (char *p = copy + 1; *p && rc == 0; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(copy, 0755) < 0 && errno != EEXIST)
			rc = bderr_sys(err, errno, "cannot create directory '%s'", copy);
		*p = '/';
	}
	if (rc == 0 && mkdir(copy, 0700) < 0 && errno != EEXIST)
		rc = bderr_sys(err, errno, "cannot create directory '%s'", copy);
	if (rc == 0 && chmod(copy, 0700) < 0)
		rc = bderr_sys(err, errno, "cannot set the mode of '%s'", copy);
	free(copy);
	return rc;
}

/* An empty or absent directory becomes an empty 0700 one; anything else is refused. */
static int prepare_dir(const char *path, const char *what, bderr *err)
{
	int absent;
	int st = dir_state(path, &absent, err);
	if (st < 0)
		return -1;
	if (st > 0)
		return bderr_set(err, "%s '%s' is not empty (or not a directory): pitr only restores "
				      "into an empty or absent directory",
				 what, path);
	return mkdir_private(path, err);
}

/* ---- tablespaces ---------------------------------------------------------- */

/*
 * A tablespace is the one place pitr writes outside --data-dir, and its
 * recorded location comes from the repository: so it goes only where the
 * operator said (--tablespace-map OLD=NEW, or --tablespaces-in-place for the
 * recorded locations), to an absolute, normalised path that is absent or an
 * empty directory and overlaps neither the data directory nor another
 * tablespace.
 */
typedef struct ts_entry {
	const char *oid;
	const char *location; /* where it was */
	const char *target;   /* where it goes; NULL until the operator said */
} ts_entry;

typedef struct ts_map {
	ts_entry *items;
	size_t n;
	const char **oids; /* NULL-terminated, for the tar entry checks */
} ts_map;

/* Absolute, no empty, "." or ".." component, no trailing '/', not "/" itself. */
static int path_normalised(const char *p)
{
	return p[0] == '/' && path_relative_clean(p + 1);
}

/* a is b or lies under it */
static int path_within(const char *a, const char *b)
{
	size_t n = strlen(b);
	return strncmp(a, b, n) == 0 && (a[n] == '\0' || a[n] == '/');
}

/* From the manifest, --tablespace-map OLD=NEW options and --tablespaces-in-place. */
/* The oids and locations stay bi's (checked by pg_base_info_parse). */
static int ts_map_build(const manifest *m, const pg_base_info *bi, const cli_args *a, ts_map *ts,
			bderr *err)
{
	size_t n = bi->n_tablespaces;
	ts->items = xcalloc(n ? n : 1, sizeof *ts->items);
	ts->oids = xcalloc(n + 1, sizeof *ts->oids);
	ts->n = 0;
	for (size_t i = 0; i < n; i++) {
		const char *oid = bi->tablespaces[i].oid;
		ts->oids[ts->n] = oid;
		ts->items[ts->n++] = (ts_entry){ oid, bi->tablespaces[i].location, NULL };
	}
	for (int i = 0; i < a->n_opts; i++) {
		if (strcmp(a->opts[i].name, "tablespace-map") != 0)
			continue;
		const char *v = a->opts[i].value;
		const char *eq = strchr(v, '=');
		if (eq == NULL || eq == v || eq[1] != '/' || v[0] != '/')
			return bderr_usage(err, "--tablespace-map takes OLD=NEW, two absolute paths, got '%s'",
					   v);
		size_t ol = (size_t)(eq - v);
		int found = 0;
		for (size_t k = 0; k < ts->n; k++) {
			if (strlen(ts->items[k].location) == ol &&
			    strncmp(ts->items[k].location, v, ol) == 0) {
				ts->items[k].target = eq + 1;
				found = 1;
			}
		}
		if (!found)
			return bderr_usage(err, "--tablespace-map %s: backup %s has no tablespace at '%.*s'",
					   v, m->id, (int)ol, v);
	}
	int in_place = cli_has(a, "tablespaces-in-place");
	strbuf missing;
	strbuf_init(&missing);
	for (size_t k = 0; k < ts->n; k++) {
		if (ts->items[k].target != NULL)
			continue;
		if (in_place) {
			ts->items[k].target = ts->items[k].location;
			continue;
		}
		strbuf_appendf(&missing, "%s%s at '%s'", missing.len ? ", " : "", ts->items[k].oid,
			       ts->items[k].location);
	}
	if (missing.len > 0) {
		bderr_usage(err, "backup %s has tablespaces outside the data directory (%s): give each "
				 "a new location with --tablespace-map OLD=NEW, or restore them where "
				 "they were with --tablespaces-in-place",
			    m->id, missing.data);
		strbuf_free(&missing);
		return -1;
	}
	for (size_t k = 0; k < ts->n; k++) {
		const ts_entry *e = &ts->items[k];
		if (!path_normalised(e->target))
			return bderr_usage(err, "tablespace %s: location '%s' must be an absolute path "
						"without '.', '..' or empty components",
					   e->oid, e->target);
		for (size_t j = 0; j < k; j++)
			if (path_within(e->target, ts->items[j].target) ||
			    path_within(ts->items[j].target, e->target))
				return bderr_usage(err, "tablespaces %s and %s: locations '%s' and '%s' "
							"overlap",
						   ts->items[j].oid, e->oid, ts->items[j].target,
						   e->target);
	}
	return 0;
}

/* The data directory as an absolute path, "." and ".." resolved as text (it may not exist yet). */
static char *absolute_lexical(const char *path)
{
	strbuf b;
	strbuf_init(&b);
	if (path[0] != '/') {
		char *cwd = getcwd(NULL, 0);
		if (cwd)
			strbuf_appends(&b, cwd);
		free(cwd);
	}
	for (const char *p = path; *p;) {
		size_t n = strcspn(p, "/");
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			while (b.len > 0 && b.data[b.len - 1] != '/')
				b.len--;
			if (b.len > 0)
				b.len--;
			if (b.data)
				b.data[b.len] = '\0';
		} else if (n > 0 && !(n == 1 && p[0] == '.')) {
			strbuf_appends(&b, "/");
			strbuf_append(&b, p, n);
		}
		p += n;
		while (*p == '/')
			p++;
	}
	if (b.len == 0)
		strbuf_appends(&b, "/");
	return strbuf_detach(&b);
}

static int check_data_dir(const char *dir_arg, bderr *err)
{
	int absent;
	int st = dir_state(dir_arg, &absent, err);
	if (st > 0)
		return bderr_set(err, "data directory '%s' is not empty (or not a directory): pitr "
				      "only restores into an empty or absent directory",
				 dir_arg);
	return st;
}

/*
 * Every tablespace destination, checked before anything is written: apart
 * from the data directory, and empty or absent.
 */
static int check_destinations(const char *dir_arg, const ts_map *ts, bderr *err)
{
	int absent, st;
	char *dd = absolute_lexical(dir_arg);
	char *real = realpath(dir_arg, NULL);
	int rc = 0;
	for (size_t i = 0; i < ts->n && rc == 0; i++) {
		const char *t = ts->items[i].target;
		if (path_within(t, dd) || path_within(dd, t) ||
		    (real && (path_within(t, real) || path_within(real, t))))
			rc = bderr_usage(err, "tablespace %s: location '%s' overlaps the data directory "
					      "'%s'",
					 ts->items[i].oid, t, dir_arg);
		else if ((st = dir_state(t, &absent, err)) != 0)
			rc = st < 0 ? -1
				    : bderr_set(err, "tablespace directory '%s' (tablespace %s) is not "
						     "empty (or not a directory): pitr only restores "
						     "into an empty or absent directory",
						t, ts->items[i].oid);
	}
	free(real);
	free(dd);
	return rc;
}

/* ---- extraction ----------------------------------------------------------- */

#define TAR_BUF (256 * 1024)

typedef struct tar_source {
	object_reader *orr;
	char *buf;
	bderr err;
	int failed;
	int eof;
} tar_source;

static la_ssize_t tar_read(struct archive *a, void *ctx, const void **out)
{
	tar_source *src = ctx;
	size_t got = 0;
	if (object_reader_read(src->orr, src->buf, TAR_BUF, &got, &src->err) < 0) {
		src->failed = 1;
		archive_set_error(a, EIO, "%s", src->err.msg);
		return -1;
	}
	if (got == 0)
		src->eof = 1;
	*out = src->buf;
	return (la_ssize_t)got;
}

/* Reads the rest of the object, so that its verification runs. */
static void drain(tar_source *src)
{
	while (!src->failed && !src->eof) {
		size_t got;
		if (object_reader_read(src->orr, src->buf, TAR_BUF, &got, &src->err) < 0)
			src->failed = 1;
		else if (got == 0)
			src->eof = 1;
	}
}

/*
 * Extracts one tar object of backup m into dest (restore/tar_extract.h says
 * what is refused and how files are made).
 */
static int extract_tar(repo *r, const manifest *m, const char *object, const char *dest,
		       const tar_extract_options *o, bderr *err)
{
	const manifest_object *mo = manifest_find_object(m, object);
	if (mo == NULL)
		return bderr_set(err, "backup %s of '%s' has no object '%s'", m->id, m->name, object);
	tar_source src = { 0 };
	bderr_init(&src.err);
	if (repo_object_open(r, m, mo, &src.orr, err) < 0)
		return -1;
	src.buf = xmalloc(TAR_BUF);
	struct archive *in = archive_read_new();
	archive_read_support_format_tar(in);
	int rc = -1;
	bderr why;
	bderr_init(&why);
	if (archive_read_open(in, &src, NULL, tar_read, NULL) != ARCHIVE_OK) {
		bderr_set(&why, "%s", archive_error_string(in) ? archive_error_string(in) : "?");
		goto fail;
	}
	log_info("extracting %s into %s", object, dest);
	int xrc = tar_extract(in, dest, o, &why);
	if (xrc == -2)
		goto fail;
	if (xrc < 0 && why.sys_errno == 0) {
		/* a refused entry: damage explains it when the checksum fails, a crafted one otherwise */
		drain(&src);
		if (src.failed)
			goto fail;
	}
	if (xrc < 0) {
		bderr_set(err, "object '%s' of backup %s: %s", object, m->id, why.msg);
		goto out;
	}
	/* the end-of-stream read is where size and checksum are checked: reach it */
	drain(&src);
	if (src.failed)
		goto fail;
	rc = 0;
	goto out;
fail:
	/* a tar error is most likely damage: the checksum says so for sure */
	drain(&src);
	if (src.failed)
		bderr_set(err, "object '%s' of backup %s failed verification, the restore is not "
			       "usable: %s",
			  object, m->id, src.err.msg);
	else
		bderr_set(err, "cannot read object '%s' of backup %s as tar: %s", object, m->id,
			  why.msg[0] ? why.msg : "damaged entry header");
out:
	archive_read_free(in);
	object_reader_free(src.orr);
	free(src.buf);
	return rc;
}

/* Copies one (non-tar) object into a file, verified. */
static int extract_file(repo *r, const manifest *m, const char *object, const char *path,
			bderr *err)
{
	const manifest_object *mo = manifest_find_object(m, object);
	if (mo == NULL)
		return 0; /* optional */
	object_reader *orr = NULL;
	if (repo_object_open(r, m, mo, &orr, err) < 0)
		return -1;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		object_reader_free(orr);
		return bderr_sys(err, errno, "cannot create '%s'", path);
	}
	char *buf = xmalloc(TAR_BUF);
	int rc = 0;
	for (;;) {
		size_t got;
		if (object_reader_read(orr, buf, TAR_BUF, &got, err) < 0) {
			rc = -1;
			break;
		}
		if (got == 0)
			break;
		for (size_t off = 0; off < got;) {
			ssize_t w = write(fd, buf + off, got - off);
			if (w < 0) {
				rc = bderr_sys(err, errno, "cannot write '%s'", path);
				break;
			}
			off += (size_t)w;
		}
		if (rc < 0)
			break;
	}
	if (close(fd) < 0 && rc == 0)
		rc = bderr_sys(err, errno, "cannot write '%s'", path);
	free(buf);
	object_reader_free(orr);
	return rc;
}

/*
 * How files are made: modes as initdb makes them (group-readable only when
 * the backup records a cluster with group access), owner the data
 * directory's owner, or its parent's when pitr made it (set only when
 * running as root: otherwise everything is ours already).
 */
static int extract_options(const char *dir, int made, const pg_base_info *bi, const char **oids,
			   tar_extract_options *o, bderr *err)
{
	struct stat st;
	char *parent = xasprintf("%s/..", dir);
	int src = stat(made ? parent : dir, &st);
	free(parent);
	if (src < 0)
		return bderr_sys(err, errno, "cannot check the owner of '%s'", dir);
	const char *mode = bi->data_directory_mode;
	int group = mode && strcmp(mode, "0750") == 0;
	o->dir_mode = group ? 0750 : 0700;
	o->file_mode = group ? 0640 : 0600;
	o->set_owner = geteuid() == 0;
	o->uid = st.st_uid;
	o->gid = st.st_gid;
	o->tblspc_oids = oids;
	if (made && o->set_owner && chown(dir, o->uid, o->gid) < 0)
		return bderr_sys(err, errno, "cannot set the owner of '%s'", dir);
	return 0;
}

/* A file or directory pitr made by path (not from an archive): owner and mode as o says. */
static int own_path(const char *path, const tar_extract_options *o, mode_t mode, bderr *err)
{
	if (o->set_owner && lchown(path, o->uid, o->gid) < 0)
		return bderr_sys(err, errno, "cannot set the owner of '%s'", path);
	if (chmod(path, mode) < 0)
		return bderr_sys(err, errno, "cannot set the mode of '%s'", path);
	return 0;
}

/* ---- incremental base backups ------------------------------------------- */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)f;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

static const tar_extract_options *chown_opts; /* nftw has no context argument */
static int chown_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return lchown(path, chown_opts->uid, chown_opts->gid);
}

/*
 * Loads the chain an incremental backup m builds on, oldest (the full one)
 * first; *chain[n-1] is m itself (not owned).
 */
static int load_chain(repo *r, const char *name, manifest *m, manifest ***chain, size_t *n,
		      bderr *err)
{
	*chain = NULL;
	*n = 0;
	size_t cap = 0;
	manifest *cur = m;
	for (;;) {
		if (*n == cap) {
			cap = cap ? cap * 2 : 4;
			*chain = xrealloc(*chain, cap * sizeof **chain);
		}
		(*chain)[(*n)++] = cur;
		pg_base_info bi;
		if (pg_base_info_parse(cur->info, &bi, err) < 0)
			return bderr_prefix(err, "backup %s is damaged", cur->id);
		if (bi.incremental_of == NULL) {
			pg_base_info_clear(&bi);
			break;
		}
		if (*n > 1000) {
			pg_base_info_clear(&bi);
			return bderr_set(err, "backup %s: its chain of incremental backups loops", m->id);
		}
		manifest *pm = NULL;
		int lrc = repo_backup_load(r, name, bi.incremental_of, &pm, err);
		if (lrc < 0)
			bderr_prefix(err, "backup %s builds on %s, which cannot be read", cur->id,
				     bi.incremental_of);
		pg_base_info_clear(&bi);
		if (lrc < 0)
			return -1;
		cur = pm;
	}
	/* oldest first */
	for (size_t i = 0; i < *n / 2; i++) {
		manifest *t = (*chain)[i];
		(*chain)[i] = (*chain)[*n - 1 - i];
		(*chain)[*n - 1 - i] = t;
	}
	return 0;
}

/*
 * An incremental backup restored: each backup of its chain extracted into a
 * scratch directory next to the data directory, then the server's own
 * pg_combinebackup (the same major: its block-reference format is the
 * server's) writes the data directory.  Why not a combine of our own: the
 * incremental file format is PostgreSQL's internal one and pg_combinebackup
 * also checks every input against its manifest and writes a new one.
 */
static int combine_chain(repo *r, manifest *m, const pg_base_info *bi, const char *dir,
			 const tar_extract_options *xo, bderr *err)
{
	manifest **chain = NULL;
	size_t n = 0;
	int rc = -1;
	char *scratch = NULL;
	const char **argv = NULL;
	char **dirs = NULL;
	pg_tool tool = { 0 };
	if (load_chain(r, m->name, m, &chain, &n, err) < 0)
		goto out;
	int major = (int)(bi->server_version_num / 10000);
	if (pg_tool_find("pg_combinebackup", major, &tool, err) < 0)
		goto out;
	if (tool.major != major) {
		bderr_set(err, "backup %s is incremental: restoring it needs pg_combinebackup %d "
			       "(found %s, version %s); install postgresql-client-%d",
			  m->id, major, tool.path, tool.version, major);
		goto out;
	}
	scratch = xasprintf("%s.dbrestore-combine-XXXXXX", dir);
	if (mkdtemp(scratch) == NULL) {
		bderr_sys(err, errno, "cannot create a scratch directory next to '%s'", dir);
		free(scratch);
		scratch = NULL;
		goto out;
	}
	dirs = xcalloc(n, sizeof *dirs);
	argv = xcalloc(n + 5, sizeof *argv);
	size_t k = 0;
	argv[k++] = tool.path;
	tar_extract_options cxo = *xo;
	cxo.set_owner = 0;
	cxo.tblspc_oids = NULL;
	for (size_t i = 0; i < n; i++) {
		dirs[i] = xasprintf("%s/%zu", scratch, i);
		if (mkdir(dirs[i], 0700) < 0) {
			bderr_sys(err, errno, "cannot create '%s'", dirs[i]);
			goto out;
		}
		char *bm = xasprintf("%s/backup_manifest", dirs[i]);
		int erc = extract_tar(r, chain[i], "base.tar", dirs[i], &cxo, err);
		if (erc == 0)
			erc = extract_file(r, chain[i], "backup_manifest", bm, err);
		free(bm);
		if (erc < 0)
			goto out;
		argv[k++] = dirs[i];
	}
	argv[k++] = "-o";
	argv[k++] = dir;
	argv[k] = NULL;
	log_info("combining %zu base backups (%s .. %s) with %s", n, chain[0]->id, m->id, tool.path);
	char *out_text = NULL;
	rc = subprocess_capture(argv, &out_text, err);
	free(out_text);
	if (rc == 0 && xo->set_owner) {
		chown_opts = xo;
		if (nftw(dir, chown_entry, 32, FTW_PHYS) != 0)
			rc = bderr_sys(err, errno, "cannot set the owner of the files in '%s'", dir);
	}
out:
	if (scratch) {
		nftw(scratch, rm_entry, 32, FTW_DEPTH | FTW_PHYS);
		free(scratch);
	}
	if (dirs)
		for (size_t i = 0; i < n; i++)
			free(dirs[i]);
	free(dirs);
	free(argv);
	pg_tool_clear(&tool);
	for (size_t i = 0; i + 1 < n; i++)
		manifest_free(chain[i]);
	free(chain);
	return rc;
}

/* ---- recovery configuration ----------------------------------------------- */

/* Earlier recovery settings (a backup of a restored server has them) would fight ours. */
static int is_recovery_setting(const char *line)
{
	while (*line == ' ' || *line == '\t')
		line++;
	return strncmp(line, "restore_command", 15) == 0 ||
	       strncmp(line, "recovery_target", 15) == 0 ||
	       strncmp(line, "primary_conninfo", 16) == 0 ||
	       strncmp(line, "primary_slot_name", 17) == 0;
}

int pitr_check_primary_conninfo(const char *conninfo, bderr *err)
{
	char *msg = NULL;
	PQconninfoOption *opts = PQconninfoParse(conninfo, &msg);
	if (opts == NULL) {
		if (msg)
			pg_mask_quoted(msg);
		int rc = bderr_usage(err, "--primary-conninfo is not a connection string libpq accepts%s%.*s",
				     msg ? ": " : "", msg ? (int)strcspn(msg, "\n") : 0, msg ? msg : "");
		PQfreemem(msg);
		return rc;
	}
	int rc = 0, has_host = 0;
	for (PQconninfoOption *o = opts; o->keyword; o++) {
		if (o->val == NULL || *o->val == '\0')
			continue;
		if (strcmp(o->keyword, "password") == 0)
			rc = bderr_usage(err, "--primary-conninfo carries a password, which would be written "
					      "into postgresql.auto.conf: put it in a password file "
					      "(0600, owned by the server's user) and name that with "
					      "passfile=FILE instead");
		else if (strcmp(o->keyword, "host") == 0 || strcmp(o->keyword, "hostaddr") == 0)
			has_host = 1;
	}
	if (rc == 0 && !has_host)
		rc = bderr_usage(err, "--primary-conninfo must name the primary's host (host=...)");
	PQconninfoFree(opts);
	return rc;
}

char *pitr_conf_value(const char *text, const char *name)
{
	char *found = NULL;
	for (const char *p = text; p && *p;) {
		const char *end = strchr(p, '\n');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		const char *q = p, *stop = p + len;
		p = end ? end + 1 : NULL;
		while (q < stop && isspace((unsigned char)*q))
			q++;
		const char *key = q;
		while (q < stop && (isalnum((unsigned char)*q) || *q == '_' || *q == '.'))
			q++;
		size_t klen = (size_t)(q - key);
		if (klen != strlen(name) || strncasecmp(key, name, klen) != 0)
			continue;
		while (q < stop && isspace((unsigned char)*q))
			q++;
		if (q < stop && *q == '=')
			q++;
		while (q < stop && isspace((unsigned char)*q))
			q++;
		strbuf v;
		strbuf_init(&v);
		if (q < stop && *q == '\'') {
			for (q++; q < stop; q++) {
				if ((*q == '\'' || *q == '\\') && q + 1 < stop && q[1] == '\'')
					q++;
				else if (*q == '\'')
					break;
				strbuf_append(&v, q, 1);
			}
		} else {
			while (q < stop && !isspace((unsigned char)*q) && *q != '#')
				strbuf_append(&v, q++, 1);
		}
		free(found);
		found = xstrdup(v.data ? v.data : "");
		strbuf_free(&v);
	}
	return found;
}

/* What dir's postgresql.conf, then postgresql.auto.conf (which wins), set name to; *where: the file. */
static char *conf_effective(const char *const texts[2], const char *name, const char **where)
{
	static const char *const files[2] = { "postgresql.conf", "postgresql.auto.conf" };
	char *v = NULL;
	for (int i = 0; i < 2; i++) {
		char *w = texts[i] ? pitr_conf_value(texts[i], name) : NULL;
		if (w) {
			free(v);
			v = w;
			*where = files[i];
		}
	}
	return v;
}

static char *read_text(const char *path)
{
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return NULL;
	strbuf b;
	strbuf_init(&b);
	char buf[4096];
	size_t n;
	while ((n = fread(buf, 1, sizeof buf, f)) > 0)
		strbuf_append(&b, buf, n);
	fclose(f);
	return b.data ? b.data : xstrdup("");
}

/*
 * The copy keeps the source's settings, ALTER SYSTEM's in postgresql.auto.conf
 * too (as pg_basebackup -R and pgBackRest do): only the recovery settings are
 * replaced.  Archiving is the one that reaches outside the copy: started with
 * the source's archive_mode and archive_command (or archive_library), it
 * archives its WAL where the source did, into the source's archive on a new
 * timeline once promoted.  Sometimes that is the point (a restored primary
 * carrying on); it must never happen unnoticed.  The command itself is not
 * printed: it may carry credentials.
 */
static void warn_inherited_archiving(const char *dir)
{
	char *paths[2] = { xasprintf("%s/postgresql.conf", dir),
			   xasprintf("%s/postgresql.auto.conf", dir) };
	const char *texts[2] = { read_text(paths[0]), read_text(paths[1]) };
	const char *mode_where = NULL, *cmd_where = NULL, *lib_where = NULL;
	char *mode = conf_effective(texts, "archive_mode", &mode_where);
	char *cmd = conf_effective(texts, "archive_command", &cmd_where);
	char *lib = conf_effective(texts, "archive_library", &lib_where);
	int on = mode && (strcasecmp(mode, "on") == 0 || strcasecmp(mode, "always") == 0 ||
			  strcasecmp(mode, "true") == 0 || strcasecmp(mode, "yes") == 0 ||
			  strcmp(mode, "1") == 0);
	int by_lib = lib && *lib;
	const char *what = by_lib ? "archive_library" : cmd && *cmd ? "archive_command" : NULL;
	if (on && what)
		log_warn("the copy archives its WAL where the source did: %s/%s sets archive_mode = %s "
			 "and %s/%s sets %s, from the source server: once started (and on a new timeline "
			 "once promoted) it archives into the source's archive; edit them there before "
			 "starting it unless that is meant",
			 dir, mode_where, mode, dir, by_lib ? lib_where : cmd_where, what);
	free(mode);
	free(cmd);
	free(lib);
	for (int i = 0; i < 2; i++) {
		free((char *)texts[i]);
		free(paths[i]);
	}
}

typedef struct standby_spec {
	const char *conninfo; /* NULL: not a standby */
	const char *slot;     /* may be NULL */
} standby_spec;

static int write_recovery_conf(const char *dir, const manifest *m, const char *restore_cmd,
			       const pitr_target *t, const char *timeline, const standby_spec *sb,
			       const tar_extract_options *o, bderr *err)
{
	char *auto_conf = xasprintf("%s/postgresql.auto.conf", dir);
	strbuf b;
	strbuf_init(&b);
	int rc = -1;
	FILE *f = fopen(auto_conf, "r");
	if (f == NULL && errno != ENOENT) {
		bderr_sys(err, errno, "cannot read '%s'", auto_conf);
		goto out;
	}
	if (f) {
		char line[4096];
		while (fgets(line, sizeof line, f)) {
			if (is_recovery_setting(line))
				strbuf_appends(&b, "# replaced by dbrestore pitr: ");
			strbuf_appends(&b, line);
		}
		fclose(f);
		if (b.len > 0 && b.data[b.len - 1] != '\n')
			strbuf_appends(&b, "\n");
	}
	strbuf_appendf(&b, "# dbrestore pitr: base backup %s of '%s'\n", m->id, m->name);
	char *q = pitr_conf_quote(restore_cmd);
	strbuf_appendf(&b, "restore_command = %s\n", q);
	free(q);
	static const char *const keys[] = { NULL, "recovery_target_time", "recovery_target_lsn",
					    "recovery_target_name", "recovery_target_xid" };
	if (t->kind != PITR_TARGET_NONE) {
		q = pitr_conf_quote(t->value);
		strbuf_appendf(&b, "%s = %s\n", keys[t->kind], q);
		free(q);
	}
	if (sb->conninfo) {
		/* restore_command stays: the standby replays the archive, then streams */
		q = pitr_conf_quote(sb->conninfo);
		strbuf_appendf(&b, "primary_conninfo = %s\n", q);
		free(q);
		if (sb->slot) {
			q = pitr_conf_quote(sb->slot);
			strbuf_appendf(&b, "primary_slot_name = %s\n", q);
			free(q);
		}
	} else {
		strbuf_appends(&b, "recovery_target_action = 'promote'\n");
	}
	q = pitr_conf_quote(timeline);
	strbuf_appendf(&b, "recovery_target_timeline = %s\n", q);
	free(q);
	if (file_write_atomic(auto_conf, NULL, b.data, b.len, err) < 0 ||
	    own_path(auto_conf, o, o->file_mode, err) < 0)
		goto out;
	/*
	 * A backup taken from a standby carries its standby.signal: left there, a
	 * point-in-time copy would wait for more WAL forever instead of promoting.
	 */
	char *other = xasprintf("%s/%s", dir, sb->conninfo ? "recovery.signal" : "standby.signal");
	if (unlink(other) < 0 && errno != ENOENT) {
		bderr_sys(err, errno, "cannot remove '%s'", other);
		free(other);
		goto out;
	}
	free(other);
	char *signal = xasprintf("%s/%s", dir, sb->conninfo ? "standby.signal" : "recovery.signal");
	rc = file_write_atomic(signal, NULL, "", 0, err);
	if (rc == 0)
		rc = own_path(signal, o, o->file_mode, err);
	free(signal);
out:
	strbuf_free(&b);
	free(auto_conf);
	return rc;
}

/* ---- what restore_command reads ------------------------------------------ */

/*
 * The server runs restore_command (dbrestore wal-get) as the data
 * directory's owner, to whom pitr running as root gives the copy; what
 * wal-get reads is what the operator named here: the config (-c), key and
 * credential files, the repository's marker.  One that user cannot read
 * fails every wal-get, and with it the copy's recovery ("could not locate
 * required checkpoint record") long after pitr said it was done: checked
 * before anything is written.
 */
typedef struct server_user {
	uid_t uid;
	char name[64];
	gid_t groups[256];
	int n_groups;
} server_user;

/* 1 with u filled when pitr runs as root for another user; 0 when there is nothing to check. */
static int server_user_of(const char *dir_arg, server_user *u)
{
	if (geteuid() != 0)
		return 0; /* the copy is ours, and wal-get reads as us what we just read */
	struct stat st;
	char *parent = path_dirname(dir_arg);
	int found = stat(dir_arg, &st) == 0 || stat(parent, &st) == 0;
	free(parent);
	if (!found || st.st_uid == 0)
		return 0; /* prepare_dir reports a missing parent; the server never runs as root */
	u->uid = st.st_uid;
	struct passwd pw, *pwp = NULL;
	char buf[4096];
	if (getpwuid_r(st.st_uid, &pw, buf, sizeof buf, &pwp) != 0)
		pwp = NULL;
	if (pwp)
		snprintf(u->name, sizeof u->name, "%s", pwp->pw_name);
	else
		snprintf(u->name, sizeof u->name, "uid %u", (unsigned)st.st_uid);
	u->n_groups = (int)(sizeof u->groups / sizeof u->groups[0]);
	if (pwp == NULL || getgrouplist(pwp->pw_name, pwp->pw_gid, u->groups, &u->n_groups) < 0) {
		u->groups[0] = pwp ? pwp->pw_gid : st.st_gid;
		u->n_groups = 1;
	}
	return 1;
}

/* The mode's owner, group or other bits for u, as the kernel picks them (ACLs aside). */
static int user_may(const server_user *u, const struct stat *st, unsigned bit)
{
	if (st->st_uid == u->uid)
		return ((st->st_mode >> 6) & bit) != 0;
	for (int i = 0; i < u->n_groups; i++)
		if (u->groups[i] == st->st_gid)
			return ((st->st_mode >> 3) & bit) != 0;
	return (st->st_mode & bit) != 0;
}

/* Every directory above path searchable by u, and path readable; 1 when unsure. */
static int readable_by(const server_user *u, const char *path)
{
	char *abs = realpath(path, NULL);
	if (abs == NULL)
		return 1; /* not there: the command that reads it says so */
	struct stat st;
	int ok = 1;
	for (char *slash = abs; ok && slash; slash = strchr(slash + 1, '/')) {
		char keep = slash[1];
		slash[1] = '\0';
		ok = stat(abs, &st) != 0 || user_may(u, &st, 1);
		slash[1] = keep;
	}
	if (ok && stat(abs, &st) == 0)
		ok = user_may(u, &st, 4);
	free(abs);
	return ok;
}

static int server_cannot_read(const server_user *u, const char *path, bderr *err)
{
	return bderr_usage(err, "the server will run restore_command as %s (uid %u, the data "
				"directory's owner), who cannot read '%s': make it readable by "
				"that user, or run pitr as that user with files it can read",
			   u->name, (unsigned)u->uid, path);
}

/* secret_read_file's rule, seen from u: its own file, and readable. */
static int server_secret(const server_user *u, const char *path, bderr *err)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return 0;
	if (st.st_uid != u->uid)
		return bderr_usage(err, "the server will run restore_command as %s (uid %u, the data "
					"directory's owner), and wal-get reads a secret file only as its "
					"owner: '%s' belongs to uid %u; run pitr as that user (runuser -u "
					"%s -- dbrestore pitr ...) with a key and config of its own",
				   u->name, (unsigned)u->uid, path, (unsigned)st.st_uid, u->name);
	return readable_by(u, path) ? 0 : server_cannot_read(u, path, err);
}

static int check_server_reads(const program *p, const char *repo_arg, const char *location,
			      const char *config_word, const char *key_word,
			      const server_user *u, bderr *err)
{
	if (config_word && !readable_by(u, config_word))
		return server_cannot_read(u, config_word, err);
	if (key_word && server_secret(u, key_word, err) < 0)
		return -1;
	const config_section *s = p->cfg ? config_find(p->cfg, "repo", repo_arg) : NULL;
	static const char *const secrets[] = { "access-key-id-file", "secret-access-key-file",
					       "session-token-file", "encryption-key-file" };
	for (size_t i = 0; s && i < sizeof secrets / sizeof secrets[0]; i++) {
		const char *f = config_get(s, secrets[i]);
		if (f && server_secret(u, f, err) < 0)
			return -1;
	}
	const char *ca = s ? config_get(s, "ca-file") : NULL;
	if (ca && !readable_by(u, ca))
		return server_cannot_read(u, ca, err);
	/* a local repository: wal-get opens its marker first */
	if (strncmp(location, "file://", 7) == 0)
		location += 7;
	else if (strstr(location, "://"))
		return 0;
	char *marker = xasprintf("%s/%s", location, REPO_MARKER);
	int rc = readable_by(u, marker) ? 0 : server_cannot_read(u, marker, err);
	free(marker);
	return rc;
}

/* The repository as restore_command must name it: absolute, never with a secret. */
static int repo_words(program *p, const char *repo_arg, char **repo_word, char **config_word,
		      bderr *err)
{
	repo_spec rs;
	if (resolve_repo(p->cfg, repo_arg, &rs, err) < 0)
		return -1;
	int rc = 0;
	*repo_word = NULL;
	*config_word = NULL;
	if (rs.name == NULL) {
		const char *path = NULL;
		if (strncmp(rs.url, "file://", 7) == 0)
			path = rs.url + 7;
		else if (strstr(rs.url, "://") == NULL)
			path = rs.url;
		if (pitr_url_has_secret(rs.url)) {
			rc = bderr_usage(err, "the repository URL carries credentials, which must not be "
					      "written into postgresql.auto.conf: name the repository "
					      "in the configuration (-c) and use --repo NAME");
		} else if (path) {
			char *abs = realpath(path, NULL);
			if (abs == NULL)
				rc = bderr_sys(err, errno, "cannot resolve repository path '%s'", path);
			else
				*repo_word = abs;
		} else {
			*repo_word = xstrdup(rs.url);
		}
	} else {
		*repo_word = xstrdup(rs.name);
	}
	if (rc == 0 && p->cfg && p->cfg->path) {
		*config_word = realpath(p->cfg->path, NULL);
		if (*config_word == NULL)
			rc = bderr_sys(err, errno, "cannot resolve configuration path '%s'", p->cfg->path);
	}
	if (rc < 0) {
		free(*repo_word);
		*repo_word = NULL;
	}
	repo_spec_free(&rs);
	return rc;
}

static int parse_target(const cli_args *a, pitr_target *t, char *buf, size_t buf_len, bderr *err)
{
	static const char *const opts[] = { NULL, "target-time", "target-lsn", "target-name",
					    "target-xid" };
	memset(t, 0, sizeof *t);
	for (int k = PITR_TARGET_TIME; k <= PITR_TARGET_XID; k++) {
		const char *v = cli_get(a, opts[k]);
		if (v == NULL)
			continue;
		if (t->kind != PITR_TARGET_NONE)
			return bderr_usage(err, "--%s and --%s: give at most one recovery target",
					   opts[t->kind], opts[k]);
		t->kind = (pitr_target_kind)k;
		switch (k) {
		case PITR_TARGET_TIME:
			if (pitr_parse_time(v, &t->time_us, buf, buf_len) < 0)
				return bderr_usage(err, "--target-time must be a time like "
							"'2026-11-21 10:13:24+00', got '%s'",
						   v);
			t->value = buf;
			break;
		case PITR_TARGET_LSN:
			if (lsn_parse(v, &t->lsn) < 0)
				return bderr_usage(err, "--target-lsn must be an LSN like 16/B374D848, got '%s'",
						   v);
			t->value = (char *)v;
			break;
		case PITR_TARGET_XID:
			/*
			 * What the server takes (64 bits with the epoch) and can reach (3 is the
			 * first normal xid): else it refuses to start, or recovers to the end
			 * and stops with "recovery ended before the target was reached".
			 */
			errno = 0;
			if (*v == '\0' || strspn(v, "0123456789") != strlen(v) || strtoull(v, NULL, 10) < 3 ||
			    errno == ERANGE)
				return bderr_usage(err, "--target-xid must be a transaction id (3 to 2^64-1), got '%s'",
						   v);
			t->value = (char *)v;
			break;
		default:
			if (*v == '\0' || strlen(v) >= 64)
				return bderr_usage(err, "--target-name must be a restore point name (1 to 63 "
							"bytes), got '%s'",
						   v);
			t->value = (char *)v;
			break;
		}
	}
	return 0;
}

static const char *target_text(const pitr_target *t, char *buf, size_t len)
{
	static const char *const what[] = { "", "time", "LSN", "restore point", "transaction" };
	if (t->kind == PITR_TARGET_NONE)
		snprintf(buf, len, "the end of the archived WAL");
	else
		snprintf(buf, len, "%s %s", what[t->kind], t->value);
	return buf;
}

/*
 * The archived WAL after the backup: a backup whose own WAL is incomplete
 * cannot be restored, and no target past the first gap can be reached.
 */
static int check_wal_chain(repo *r, const manifest *m, const pg_base_info *bi,
			   const pitr_target *t, bderr *err)
{
	wal_chain c;
	int rc = wal_chain_of_backup(r, m, 0, &c, err);
	if (rc != 0)
		return rc < 0 ? -1 : 0;
	if (!wal_chain_covers_stop(m, &c))
		return bderr_set(err, "backup %s of '%s' cannot be restored: WAL segment %s is missing "
				      "from the archive (the backup needs %s .. %s)",
				 m->id, m->name, c.missing[0] ? c.missing : "?", c.first,
				 bi->wal_stop_segment);
	char lsn[LSN_TEXT_MAX];
	lsn_format(c.end_lsn, lsn);
	if (c.missing[0] == '\0') {
		/*
		 * Not an error: the source may archive the segment before the
		 * copy starts (the segment being written is archived only once
		 * it is full or switched).  But a copy started before that fails
		 * to start, long after pitr said it was set up.
		 */
		if (t->kind == PITR_TARGET_LSN && t->lsn > c.end_lsn)
			log_warn("target LSN %s is past the archived WAL of '%s', which ends at %s "
				 "(segment %s): start the copy only once the segment holding the "
				 "target is archived (SELECT pg_switch_wal() on the source), or "
				 "recovery stops with 'recovery ended before configured recovery "
				 "target was reached'",
				 t->value, m->name, lsn, c.last[0] ? c.last : c.first);
		else if (t->kind == PITR_TARGET_TIME && t->time_us > (int64_t)time(NULL) * 1000000)
			log_warn("target time %s is in the future (a time without a zone is this "
				 "machine's local time): recovery reaches it only if WAL written "
				 "after it is archived before the copy starts, else it stops with "
				 "'recovery ended before configured recovery target was reached'",
				 t->value);
		return 0;
	}
	if (t->kind == PITR_TARGET_LSN && t->lsn > c.end_lsn)
		return bderr_set(err, "target LSN %s is past a gap in the WAL of backup %s of '%s': "
				      "segment %s is missing, recovery can reach at most %s",
				 t->value, m->id, m->name, c.missing, lsn);
	log_warn("WAL segment %s is missing from the archive: recovery from backup %s can reach "
		 "at most LSN %s, and a target past it is never reached",
		 c.missing, m->id, lsn);
	return 0;
}

int pitr_command(program *p, bderr *err)
{
	const char *name = cli_get(&p->args, "name");
	const char *dir_arg = cli_get(&p->args, "data-dir");
	const char *repo_arg = cli_get(&p->args, "repo");
	if (*dir_arg == '\0')
		return bderr_usage(err, "--data-dir is required");
	if (repo_name_check(name, err) < 0)
		return -1;
	char time_buf[64];
	pitr_target t;
	if (parse_target(&p->args, &t, time_buf, sizeof time_buf, err) < 0)
		return -1;
	/*
	 * 'latest' follows the newest timeline in the archive, which fails for a
	 * backup taken before that timeline branched off: 'current' or a number
	 * then says which history to replay.
	 */
	standby_spec sb = { 0 };
	if (cli_has(&p->args, "standby")) {
		if (t.kind != PITR_TARGET_NONE)
			return bderr_usage(err, "--standby takes no recovery target: a standby replays "
						"everything and follows its primary");
		sb.conninfo = cli_get(&p->args, "primary-conninfo");
		if (sb.conninfo == NULL)
			return bderr_usage(err, "--standby needs --primary-conninfo 'host=... port=... "
						"user=...'");
		if (pitr_check_primary_conninfo(sb.conninfo, err) < 0)
			return -1;
		sb.slot = cli_get(&p->args, "slot");
		if (sb.slot && !pg_slot_name_ok(sb.slot))
			return bderr_usage(err, "--slot must be a replication slot name (a-z, 0-9, _; "
						"1 to 63 bytes), got '%s'",
					   sb.slot);
	} else if (cli_has(&p->args, "primary-conninfo") || cli_has(&p->args, "slot")) {
		return bderr_usage(err, "--primary-conninfo and --slot are for --standby");
	}
	const char *timeline = cli_get(&p->args, "target-timeline");
	if (timeline == NULL)
		timeline = "latest";
	/* timelines are 1 to 2^32-1: the server refuses to start on another number */
	if (strcmp(timeline, "latest") != 0 && strcmp(timeline, "current") != 0 &&
	    (*timeline == '\0' || strlen(timeline) > 10 ||
	     strspn(timeline, "0123456789") != strlen(timeline) || strtoull(timeline, NULL, 10) < 1 ||
	     strtoull(timeline, NULL, 10) > UINT32_MAX))
		return bderr_usage(err, "--target-timeline must be latest, current or a timeline "
					"number (1 to 4294967295), got '%s'",
				   timeline);

	repo *r = NULL;
	backup_list *bl = NULL;
	manifest *m = NULL;
	char *repo_word = NULL, *config_word = NULL, *dir = NULL, *exe = NULL, *cmd = NULL;
	char *spool = NULL, *key_word = NULL;
	ts_map ts = { 0 };
	tar_extract_options xo = { 0 };
	progress *prog = NULL;
	pg_base_info bi = { 0 };
	int rc = -1;
	if (repo_words(p, repo_arg, &repo_word, &config_word, err) < 0 ||
	    program_progress(p, "pitr", &prog, err) < 0 || program_open_repo(p, 0, &r, err) < 0)
		goto out;
	const char *key_file = cli_get(&p->args, "encryption-key-file");
	if (key_file && (key_word = realpath(key_file, NULL)) == NULL) {
		bderr_sys(err, errno, "cannot resolve '%s'", key_file);
		goto out;
	}
	const char *backup_id = cli_get(&p->args, "backup");
	if (backup_id && strcmp(backup_id, "latest") != 0) {
		if (repo_backup_load(r, name, backup_id, &m, err) < 0)
			goto out;
		if (m->kind == NULL || strcmp(m->kind, "basebackup") != 0) {
			bderr_usage(err, "backup %s of '%s' is a %s, not a base backup: use dbrestore "
					 "restore for it",
				    m->id, name, m->kind ? m->kind : "backup of unknown kind");
			goto out;
		}
	} else {
		if (repo_backup_list(r, name, &bl, err) < 0)
			goto out;
		long i = pitr_choose_backup(bl, &t, err);
		if (i < 0) {
			bderr_prefix(err, "cannot restore '%s' from %s", name, repo_url(r));
			goto out;
		}
		m = bl->items[i].m;
		bl->items[i].m = NULL;
	}
	if (pg_base_info_parse(m->info, &bi, err) < 0) {
		bderr_prefix(err, "backup %s of '%s' is damaged", m->id, name);
		goto out;
	}
	if (check_wal_chain(r, m, &bi, &t, err) < 0)
		goto out;
	/* every destination is checked before anything is written */
	if (check_data_dir(dir_arg, err) < 0 || ts_map_build(m, &bi, &p->args, &ts, err) < 0 ||
	    check_destinations(dir_arg, &ts, err) < 0)
		goto out;
	server_user su;
	if (server_user_of(dir_arg, &su) &&
	    check_server_reads(p, repo_arg, repo_url(r), config_word, key_word, &su, err) < 0)
		goto out;
	struct stat dst;
	int made = lstat(dir_arg, &dst) < 0;
	if (prepare_dir(dir_arg, "data directory", err) < 0)
		goto out;
	dir = realpath(dir_arg, NULL);
	if (dir == NULL) {
		bderr_sys(err, errno, "cannot resolve '%s'", dir_arg);
		goto out;
	}
	if (extract_options(dir, made, &bi, ts.oids, &xo, err) < 0)
		goto out;
	for (size_t i = 0; i < ts.n; i++) {
		if (prepare_dir(ts.items[i].target, "tablespace directory", err) < 0 ||
		    own_path(ts.items[i].target, &xo, xo.dir_mode, err) < 0)
			goto out;
	}

	exe = realpath("/proc/self/exe", NULL);
	if (exe == NULL) {
		bderr_sys(err, errno, "cannot find this program's own path for restore_command");
		goto out;
	}
	/*
	 * wal-get's prefetch spool goes under pg_wal: a spool elsewhere in the
	 * data directory would end up in every base backup of the restored
	 * server, while BASE_BACKUP leaves pg_wal's contents out.
	 */
	spool = xasprintf("%s/pg_wal/backupd-wal-get", dir);
	const char *words[14];
	size_t nw = 0;
	words[nw++] = exe;
	words[nw++] = "wal-get";
	if (config_word) {
		words[nw++] = "-c";
		words[nw++] = config_word;
	}
	words[nw++] = "--repo";
	words[nw++] = repo_word;
	words[nw++] = "--name";
	words[nw++] = name;
	words[nw++] = "--spool-dir";
	words[nw++] = spool;
	/* the key file's path, never its contents */
	if (key_word) {
		words[nw++] = "--encryption-key-file";
		words[nw++] = key_word;
	}
	words[nw] = NULL;
	cmd = pitr_restore_command(words);

	log_info("restoring base backup %s of '%s' into %s", m->id, name, dir);
	int incremental = bi.incremental_of != NULL;
	/* an incremental backup also reads its chain's parents: the total is a floor */
	progress_add_total(prog, manifest_total_size(m), m->n_objects);
	progress_set_estimated(prog, incremental);
	repo_set_progress(r, prog);
	if (incremental && ts.n > 0) {
		bderr_set(err, "backup %s is incremental and the cluster has tablespaces: restoring "
			       "that is not supported yet (restore a full backup with --backup)",
			  m->id);
		goto out;
	}
	if (incremental ? combine_chain(r, m, &bi, dir, &xo, err) < 0
			: extract_tar(r, m, "base.tar", dir, &xo, err) < 0)
		goto out;
	/* the links come from the checked tablespace list, never from the archive */
	for (size_t i = 0; i < ts.n; i++) {
		if (tar_make_tablespace_link(dir, ts.items[i].oid, ts.items[i].target, &xo, err) < 0)
			goto out;
	}
	tar_extract_options tso = xo;
	tso.tblspc_oids = NULL; /* a tablespace's archive holds no links at all */
	for (size_t i = 0; i < ts.n; i++) {
		char *obj = xasprintf("%s.tar", ts.items[i].oid);
		int erc = extract_tar(r, m, obj, ts.items[i].target, &tso, err);
		free(obj);
		if (erc < 0)
			goto out;
	}
	char *bm = xasprintf("%s/backup_manifest", dir);
	/* pg_combinebackup wrote the combined directory's own manifest */
	int brc = incremental ? 0 : extract_file(r, m, "backup_manifest", bm, err);
	if (brc == 0 && access(bm, F_OK) == 0)
		brc = own_path(bm, &xo, xo.file_mode, err);
	free(bm);
	if (brc < 0 || write_recovery_conf(dir, m, cmd, &t, timeline, &sb, &xo, err) < 0)
		goto out;
	warn_inherited_archiving(dir);
	if (chmod(dir, xo.dir_mode) < 0) {
		bderr_sys(err, errno, "cannot set the mode of '%s'", dir);
		goto out;
	}
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		syncfs(dfd); /* best effort: the server would find a torn copy otherwise */
		close(dfd);
	}

	progress_free(prog); /* its terminal line goes before the summary */
	prog = NULL;
	char tt[128], stop_lsn[LSN_TEXT_MAX];
	lsn_format(bi.stop_lsn, stop_lsn);
	printf("restored base backup %s of '%s' into %s\n", m->id, name, dir);
	for (size_t i = 0; i < ts.n; i++)
		printf("tablespace %s restored into %s\n", ts.items[i].oid, ts.items[i].target);
	if (sb.conninfo)
		printf("standby: it will replay WAL from the repository (consistent at %s), then "
		       "stream from its primary%s%s (standby.signal, recovery_target_timeline = '%s')\n",
		       stop_lsn, sb.slot ? " through slot " : "",
		       sb.slot ? sb.slot : "", timeline);
	else
		printf("recovery will replay WAL from the repository (consistent at %s) up to %s, "
		       "then promote (recovery_target_timeline = '%s')\n",
		       stop_lsn, target_text(&t, tt, sizeof tt), timeline);
	printf("next: check port and the archive settings in %s/postgresql.conf and "
	       "postgresql.auto.conf (the copy archives wherever its source did), make the "
	       "directory owned by the server's user, then "
	       "start PostgreSQL on it: pg_ctl -D %s start\n",
	       dir, dir);
	rc = 0;
out:
	progress_free(prog);
	if (rc < 0 && dir)
		log_warn("the data directory %s is incomplete and must not be started", dir);
	free(ts.items);
	free(ts.oids);
	free(cmd);
	free(spool);
	free(key_word);
	free(exe);
	free(dir);
	free(repo_word);
	free(config_word);
	manifest_free(m);
	pg_base_info_clear(&bi);
	backup_list_free(bl);
	repo_free(r);
	return rc;
}
