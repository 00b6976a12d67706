#include "archive/repo.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/crypto.h>

#include "archive/repo_crypt.h"
#include "common/lazylib.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/progress.h"
#include "common/procid.h"
#include "common/version.h"

#define MARKER_MAX (64 * 1024)
#define MANIFEST_MAX ((size_t)256 * 1024 * 1024)
#define NAME_MAX_LEN 200
#define MAX_ID_SUFFIX 1000
#define VERIFY_BUF (128 * 1024)

struct repo {
	storage *s;      /* the encrypting storage when the repository is encrypted */
	json_t *marker;  /* backupd.repo as read or written */
	int encrypted;
	int locked; /* encrypted, opened without the key: backup IDs only */
	unsigned char dek[CRYPT_KEY_LEN];
	struct progress *progress; /* counts what object readers read; NULL: none */
	void (*commit_hook)(void *); /* repo_set_commit_hook */
	void *commit_hook_ctx;
};

void repo_set_progress(repo *r, struct progress *p)
{
	r->progress = p;
}

void repo_set_commit_hook(repo *r, void (*fn)(void *), void *ctx)
{
	r->commit_hook = fn;
	r->commit_hook_ctx = ctx;
}

struct progress *repo_progress(const repo *r)
{
	return r->progress;
}

storage *repo_storage(repo *r)
{
	return r->s;
}

const char *repo_url(const repo *r)
{
	return r->s->url;
}

void repo_free(repo *r)
{
	if (r == NULL)
		return;
	storage_free(r->s);
	json_decref(r->marker);
	OPENSSL_cleanse(r->dek, sizeof r->dek);
	free(r);
}

int repo_encrypted(const repo *r)
{
	return r->encrypted || r->locked;
}

int repo_locked(const repo *r)
{
	return r->locked;
}

/* --- names and IDs --------------------------------------------------------- */

static int component_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > NAME_MAX_LEN || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return 0;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

int repo_name_check(const char *name, bderr *err)
{
	if (name == NULL || !component_ok(name))
		return bderr_usage(err, "invalid name '%s': use 1 to %d letters, digits, '.', '_' or '-'",
				   name ? name : "", NAME_MAX_LEN);
	return 0;
}

static int id_check(const char *id, bderr *err)
{
	if (!component_ok(id))
		return bderr_usage(err, "invalid backup id '%s'", id);
	return 0;
}

/* Suffix of "YYYYMMDDTHHMMSSZ[-N]": 1 without one, 0 if it is not an ID. */
static long id_suffix(const char *id)
{
	static const char shape[] = "ddddddddTddddddZ";
	for (size_t i = 0; i < sizeof shape - 1; i++) {
		if (shape[i] == 'd' ? (id[i] < '0' || id[i] > '9') : id[i] != shape[i])
			return 0;
	}
	const char *p = id + sizeof shape - 1;
	if (*p == '\0')
		return 1;
	if (*p != '-' || p[1] < '1' || p[1] > '9')
		return 0;
	char *end;
	errno = 0;
	long n = strtol(p + 1, &end, 10);
	return *end == '\0' && errno == 0 ? n : 0;
}

/*
 * Chronological: "…Z" < "…Z-2" < "…Z-10" < the next second.  A plain
 * strcmp would put "-10" before "-2".
 */
static int id_compare(const char *a, const char *b)
{
	long sa = id_suffix(a), sb = id_suffix(b);
	if (sa == 0 || sb == 0)
		return strcmp(a, b);
	int c = strncmp(a, b, 16);
	if (c != 0)
		return c;
	return sa < sb ? -1 : sa > sb;
}

char *repo_backup_path(const char *name, const char *id, const char *object)
{
	if (object == NULL)
		return xasprintf("%s/backups/%s/", name, id);
	return xasprintf("%s/backups/%s/%s", name, id, object);
}

/* --- opening ----------------------------------------------------------------- */

static int put_marker(repo *r, bderr *err)
{
	char *text = json_dumps(r->marker, JSON_INDENT(1));
	if (text == NULL)
		return bderr_set(err, "cannot write %s of '%s': out of memory", REPO_MARKER, repo_url(r));
	char *line = xasprintf("%s\n", text);
	free(text);
	int rc = storage_put(r->s, REPO_MARKER, line, strlen(line), err);
	free(line);
	return rc;
}

static int write_marker(repo *r, const char *key, bderr *err)
{
	char created[32];
	format_rfc3339(time(NULL), created, sizeof created);
	r->marker = json_pack("{s:i, s:s, s:s, s:s}", "format", REPO_FORMAT, "created", created,
			      "tool_version", BACKUPD_VERSION, "cipher", "none");
	if (r->marker == NULL)
		return bderr_set(err, "cannot create repository '%s': out of memory", repo_url(r));
	/* a repository is encrypted from its creation on, or never */
	if (key && crypt_marker_create(r->marker, key, repo_url(r), r->dek, err) < 0)
		return bderr_prefix(err, "cannot create repository '%s'", repo_url(r));
	r->encrypted = key != NULL;
	return put_marker(r, err);
}

static int check_marker(repo *r, const char *data, size_t len, const char *key, int allow_locked,
			bderr *err)
{
	json_error_t jerr;
	json_t *j = json_loadb(data, len, 0, &jerr);
	int rc = 0;
	if (!json_is_object(j)) {
		rc = bderr_set(err, "'%s' is not a valid backupd repository: %s is not a JSON object",
			       repo_url(r), REPO_MARKER);
		goto out;
	}
	json_t *format = json_object_get(j, "format");
	json_t *cipher = json_object_get(j, "cipher");
	if (!json_is_integer(format) || json_integer_value(format) < 1) {
		rc = bderr_set(err, "'%s' is not a valid backupd repository: %s has no valid 'format'",
			       repo_url(r), REPO_MARKER);
	} else if (json_integer_value(format) > REPO_FORMAT) {
		rc = bderr_set(err, "repository '%s' has format %" JSON_INTEGER_FORMAT
				    ", newer than this backupd supports (%d): upgrade backupd",
			       repo_url(r), json_integer_value(format), REPO_FORMAT);
	} else if (cipher != NULL && !json_is_string(cipher)) {
		rc = bderr_set(err, "'%s' is not a valid backupd repository: 'cipher' in %s must be a string",
			       repo_url(r), REPO_MARKER);
	} else if (cipher == NULL || strcmp(json_string_value(cipher), "none") == 0) {
		/* asking for encryption and silently getting none is the worst outcome */
		if (key)
			rc = bderr_usage(err, "repository '%s' is not encrypted, but an encryption key was given: a repository is encrypted from its creation or never (remove encryption-key-file / --encryption-key-file, or use a new repository)",
					 repo_url(r));
	} else if (strcmp(json_string_value(cipher), CRYPT_CIPHER) != 0) {
		/* reading ciphertext as plain data would only produce corruption errors */
		rc = bderr_set(err, "repository '%s' uses cipher '%s', which this backupd cannot read",
			       repo_url(r), json_string_value(cipher));
	} else if (key == NULL && allow_locked) {
		r->locked = 1;
	} else if (key == NULL) {
		rc = bderr_usage(err, "repository '%s' is encrypted: give its key with encryption-key-file = in its [repo:] section or --encryption-key-file FILE",
				 repo_url(r));
	} else {
		rc = crypt_marker_unlock(j, key, repo_url(r), r->dek, err);
		r->encrypted = rc == 0;
	}
out:
	if (rc == 0)
		r->marker = j;
	else
		json_decref(j);
	return rc;
}

int repo_open_storage(storage *s, int create, repo **out, bderr *err)
{
	return repo_open_storage_key(s, create, NULL, out, err);
}

static int open_storage(storage *s, int create, const char *key, int allow_locked, repo **out,
			bderr *err)
{
	char *data;
	size_t len;
	repo *r = xcalloc(1, sizeof *r);
	r->s = s;
	*out = NULL;
	/*
	 * libcrypto only for an encrypted repository (the key given, to create
	 * or unlock it): SHA-256 is our own (common/sha256.h), and a wal-push
	 * to a plain local repository should not pay for loading libcrypto.  A
	 * missing libcrypto is said once, here.
	 */
	int rc = key ? lazy_crypto_load(err) : 0;
	if (rc == 0)
		rc = storage_get(s, REPO_MARKER, &data, &len, MARKER_MAX, err);
	if (rc == 0) {
		rc = check_marker(r, data, len, key, allow_locked && !create, err);
		free(data);
	} else if (err->sys_errno == ENOENT && create) {
		bderr_init(err);
		rc = write_marker(r, key, err);
		/*
		 * Another process may have created the repository at the same
		 * moment, and its backupd.repo may be the one that stayed: open
		 * what is there, as any later command will.
		 */
		if (rc == 0)
			rc = storage_get(s, REPO_MARKER, &data, &len, MARKER_MAX, err);
		if (rc == 0) {
			json_decref(r->marker);
			r->marker = NULL;
			r->encrypted = 0;
			rc = check_marker(r, data, len, key, 0, err);
			free(data);
		}
	} else if (err->sys_errno == ENOENT) {
		bderr_set(err, "'%s' is not a backupd repository (no %s): create one with a first backup",
			  repo_url(r), REPO_MARKER);
	}
	if (rc < 0) {
		repo_free(r);
		return -1;
	}
	/* from here on every object but backupd.repo is encrypted and authenticated */
	if (r->encrypted)
		r->s = crypt_storage_new(r->s, r->dek);
	*out = r;
	return 0;
}

int repo_open_storage_key(storage *s, int create, const char *key, repo **out, bderr *err)
{
	return open_storage(s, create, key, 0, out, err);
}

int repo_rotate_key(repo *r, const char *new_key, bderr *err)
{
	if (!r->encrypted || r->locked)
		return bderr_usage(err, "repository '%s' is not encrypted: there is no key to rotate",
				   repo_url(r));
	if (crypt_marker_wrap(r->marker, new_key, r->dek, err) < 0)
		return -1;
	char when[32];
	format_rfc3339(time(NULL), when, sizeof when);
	json_object_set_new(r->marker, "key_rotated", json_string(when));
	if (put_marker(r, err) < 0)
		return bderr_prefix(err, "cannot rotate the key of '%s'", repo_url(r));
	return 0;
}

int repo_open_ex(const char *url, const storage_options *opts, int create, int allow_locked,
		 repo **out, bderr *err)
{
	storage *s;
	*out = NULL;
	if (storage_open(url, opts, &s, err) < 0)
		return -1;
	return open_storage(s, create, opts ? opts->encryption_key : NULL, allow_locked, out, err);
}

int repo_open(const char *url, const storage_options *opts, int create, repo **out, bderr *err)
{
	return repo_open_ex(url, opts, create, 0, out, err);
}

/* --- backups ----------------------------------------------------------------- */

static int count_cb(void *ctx, const char *path, uint64_t size, bderr *err)
{
	(void)path;
	(void)size;
	(void)err;
	(*(size_t *)ctx)++;
	return 0;
}

static int backup_dir_used(repo *r, const char *name, const char *id, int *used, bderr *err)
{
	size_t count = 0;
	char *prefix = repo_backup_path(name, id, NULL);
	int rc = storage_list(r->s, prefix, count_cb, &count, err);
	free(prefix);
	*used = count > 0;
	return rc;
}

/*
 * backup.started names its writer precisely (common/procid.h), so expire can
 * tell a backup whose writer died from one still running.  It is claimed
 * with put_new: of two writers choosing one ID, only one creates it.
 * 1: another writer has that ID.
 */
static int claim_started(repo *r, const char *name, const char *id, time_t started, bderr *err)
{
	char when[32];
	proc_identity me;
	format_rfc3339(started, when, sizeof when);
	proc_identity_self(&me);
	json_t *j = json_pack("{s:s, s:s, s:I, s:s, s:s, s:s, s:I}", "started", when, "host", me.host,
			      "pid", (json_int_t)me.pid, "tool_version", BACKUPD_VERSION, "boot_id",
			      me.boot_id, "pid_ns", me.pid_ns, "pid_start",
			      (json_int_t)me.start_ticks);
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (text == NULL)
		return bderr_set(err, "cannot start backup '%s' of '%s': out of memory", id, name);
	char *path = repo_backup_path(name, id, "backup.started");
	int rc = storage_put_new(r->s, path, text, strlen(text), err);
	if (rc < 0 && err->sys_errno == EEXIST)
		rc = 1;
	free(path);
	free(text);
	return rc;
}

int repo_backup_begin(repo *r, const char *name, time_t started, char **id, bderr *err)
{
	char base[32];
	struct tm tm;
	*id = NULL;
	if (repo_name_check(name, err) < 0)
		return -1;
	if (gmtime_r(&started, &tm) == NULL || strftime(base, sizeof base, "%Y%m%dT%H%M%SZ", &tm) == 0)
		return bderr_set(err, "cannot start a backup of '%s': invalid start time", name);
	/*
	 * Nothing serialises writers across processes or hosts: an ID is
	 * taken by creating its backup.started exclusively, and a writer that
	 * loses moves on to the next suffix.  The listing first skips IDs
	 * already in use without a claim round trip.
	 */
	for (int n = 1; n <= MAX_ID_SUFFIX; n++) {
		char *candidate = n == 1 ? xstrdup(base) : xasprintf("%s-%d", base, n);
		int used, rc = backup_dir_used(r, name, candidate, &used, err);
		if (rc == 0 && !used)
			rc = claim_started(r, name, candidate, started, err);
		else if (rc == 0)
			rc = 1;
		if (rc == 0) {
			*id = candidate;
			return 0;
		}
		free(candidate);
		if (rc < 0)
			return -1;
	}
	return bderr_set(err, "cannot start a backup of '%s': %d backups already started at %s", name,
			 MAX_ID_SUFFIX, base);
}

int repo_backup_writer_gone(repo *r, const char *name, const char *id, char *who, size_t cap)
{
	char *data = NULL;
	size_t len;
	bderr ignored;
	bderr_init(&ignored);
	char *path = repo_backup_path(name, id, "backup.started");
	int rc = storage_get(r->s, path, &data, &len, MARKER_MAX, &ignored);
	free(path);
	if (rc < 0)
		return 0;
	json_t *j = json_loadb(data, len, 0, NULL);
	free(data);
	proc_identity p;
	memset(&p, 0, sizeof p);
	const char *host = json_string_value(json_object_get(j, "host"));
	const char *boot = json_string_value(json_object_get(j, "boot_id"));
	const char *ns = json_string_value(json_object_get(j, "pid_ns"));
	json_t *pid = json_object_get(j, "pid"), *start = json_object_get(j, "pid_start");
	int gone = 0;
	/* a record from an older backupd names no boot or namespace: nobody can tell */
	if (host && boot && ns && json_is_integer(pid) && json_is_integer(start) &&
	    json_integer_value(start) >= 0) {
		snprintf(p.host, sizeof p.host, "%s", host);
		snprintf(p.boot_id, sizeof p.boot_id, "%s", boot);
		snprintf(p.pid_ns, sizeof p.pid_ns, "%s", ns);
		p.pid = (long)json_integer_value(pid);
		p.start_ticks = (unsigned long long)json_integer_value(start);
		gone = proc_identity_gone(&p);
		if (gone && who)
			snprintf(who, cap, "pid %ld on %s", p.pid, p.host);
	}
	json_decref(j);
	return gone;
}

int repo_backup_commit(repo *r, manifest *m, bderr *err)
{
	char *json;
	if (m->name == NULL || m->id == NULL)
		return bderr_set(err, "cannot commit backup: manifest has no name or id");
	if (repo_name_check(m->name, err) < 0 || id_check(m->id, err) < 0)
		return -1;
	if (m->finished == 0)
		m->finished = time(NULL);
	if (manifest_to_json(m, &json, err) < 0)
		return -1;
	char *path = repo_backup_path(m->name, m->id, "manifest.json");
	if (r->commit_hook)
		r->commit_hook(r->commit_hook_ctx);
	int rc = storage_put(r->s, path, json, strlen(json), err);
	free(path);
	free(json);
	if (rc == 0)
		log_info("%s %s of '%s' complete: %zu objects, %" PRIu64 " bytes, %" PRIu64 " stored",
			 m->kind && strcmp(m->kind, "basebackup") == 0 ? "base backup" : "dump", m->id,
			 m->name, m->n_objects, manifest_total_size(m), manifest_total_stored_size(m));
	return rc;
}

typedef struct discard_list {
	char **paths;
	size_t n, cap;
} discard_list;

static int discard_collect(void *ctx, const char *path, uint64_t size, bderr *err)
{
	(void)size;
	(void)err;
	discard_list *l = ctx;
	if (strstr(path, "/backup.started") != NULL)
		return 0;
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->paths = xrealloc(l->paths, l->cap * sizeof *l->paths);
	}
	l->paths[l->n++] = xstrdup(path);
	return 0;
}

void repo_backup_discard(repo *r, const char *name, const char *id)
{
	char *prefix = repo_backup_path(name, id, "");
	discard_list l = { 0 };
	bderr ignored;
	bderr_init(&ignored);
	if (storage_list(r->s, prefix, discard_collect, &l, &ignored) == 0 && l.n > 0)
		storage_remove_many(r->s, (const char *const *)l.paths, l.n, &ignored);
	for (size_t i = 0; i < l.n; i++)
		free(l.paths[i]);
	free(l.paths);
	free(prefix);
}

static int load_manifest(repo *r, const char *name, const char *id, manifest **out, bderr *err)
{
	char *data;
	size_t len;
	char *path = repo_backup_path(name, id, "manifest.json");
	*out = NULL;
	if (storage_get(r->s, path, &data, &len, MANIFEST_MAX, err) < 0) {
		free(path);
		return -1;
	}
	int rc = manifest_parse(data, len, out, err);
	free(data);
	if (rc < 0) {
		bderr_prefix(err, "cannot load '%s'", path);
		free(path);
		return -1;
	}
	free(path);
	/*
	 * Objects are found through the manifest's name and id: the directory
	 * it sits in wins, so a source directory renamed in the repository
	 * (or a copied backup) still restores.
	 */
	manifest *m = *out;
	if (strcmp(m->name, name) != 0) {
		free(m->name);
		m->name = xstrdup(name);
	}
	if (strcmp(m->id, id) != 0) {
		free(m->id);
		m->id = xstrdup(id);
	}
	return 0;
}

typedef struct backup_group {
	char *name;
	char *id;
	int has_manifest;
} backup_group;

typedef struct backup_scan {
	backup_group *g;
	size_t n;
	size_t cap;
} backup_scan;

/* Paths look like NAME/backups/ID/OBJECT...; everything else (WAL) is skipped. */
static int scan_cb(void *ctx, const char *path, uint64_t size, bderr *err)
{
	backup_scan *sc = ctx;
	(void)size;
	(void)err;
	const char *slash = strchr(path, '/');
	if (slash == NULL || strncmp(slash + 1, "backups/", 8) != 0)
		return 0;
	const char *idp = slash + 9;
	const char *end = strchr(idp, '/');
	if (end == NULL || end == idp || end[1] == '\0')
		return 0;
	size_t name_len = (size_t)(slash - path);
	size_t id_len = (size_t)(end - idp);
	/* a listing walks one directory at a time: the last group usually matches */
	backup_group *g = NULL;
	for (size_t i = sc->n; i-- > 0;) {
		backup_group *c = &sc->g[i];
		if (strncmp(c->name, path, name_len) == 0 && c->name[name_len] == '\0' &&
		    strncmp(c->id, idp, id_len) == 0 && c->id[id_len] == '\0') {
			g = c;
			break;
		}
	}
	if (g == NULL) {
		char *name = xstrndup(path, name_len);
		char *id = xstrndup(idp, id_len);
		if (!component_ok(name) || !component_ok(id)) { /* not something backupd wrote */
			free(name);
			free(id);
			return 0;
		}
		if (sc->n == sc->cap) {
			sc->cap = sc->cap ? sc->cap * 2 : 16;
			sc->g = xrealloc(sc->g, sc->cap * sizeof *sc->g);
		}
		g = &sc->g[sc->n++];
		g->name = name;
		g->id = id;
		g->has_manifest = 0;
	}
	if (strcmp(end + 1, "manifest.json") == 0)
		g->has_manifest = 1;
	return 0;
}

static int group_compare(const void *a, const void *b)
{
	const backup_group *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	return c ? c : id_compare(x->id, y->id);
}

static void scan_free(backup_scan *sc)
{
	for (size_t i = 0; i < sc->n; i++) {
		free(sc->g[i].name);
		free(sc->g[i].id);
	}
	free(sc->g);
}

static int scan_backups(repo *r, const char *name, backup_scan *sc, bderr *err)
{
	memset(sc, 0, sizeof *sc);
	char *prefix = name ? xasprintf("%s/backups/", name) : xstrdup("");
	int rc = storage_list(r->s, prefix, scan_cb, sc, err);
	free(prefix);
	if (rc < 0) {
		scan_free(sc);
		return -1;
	}
	if (sc->n > 1)
		qsort(sc->g, sc->n, sizeof *sc->g, group_compare);
	return 0;
}

int repo_backup_list(repo *r, const char *name, backup_list **out, bderr *err)
{
	backup_scan sc;
	*out = NULL;
	if (name && repo_name_check(name, err) < 0)
		return -1;
	if (scan_backups(r, name, &sc, err) < 0)
		return -1;
	backup_list *l = xcalloc(1, sizeof *l);
	l->items = xcalloc(sc.n, sizeof *l->items);
	/* reading every manifest is most of a large repository's listing: counted as objects */
	size_t n_manifests = 0;
	for (size_t i = 0; i < sc.n; i++)
		n_manifests += sc.g[i].has_manifest != 0;
	progress_add_total(r->progress, 0, n_manifests);
	for (size_t i = 0; i < sc.n; i++) {
		backup_entry *e = &l->items[l->n++];
		/* ownership moves from the scan to the list */
		e->name = sc.g[i].name;
		e->id = sc.g[i].id;
		e->has_manifest = sc.g[i].has_manifest;
		sc.g[i].name = sc.g[i].id = NULL;
		/*
		 * A manifest that cannot be read must not hide every other backup,
		 * nor pass for incomplete (expire would delete it): it is marked.
		 */
		if (sc.g[i].has_manifest) {
			bderr why;
			bderr_init(&why);
			if (load_manifest(r, e->name, e->id, &e->m, &why) < 0) {
				log_warn("backup %s of '%s' is damaged and skipped: %s", e->id, e->name,
					 why.msg);
				e->damaged = xstrdup(why.msg);
			}
			progress_add(r->progress, 0, 1);
		}
	}
	scan_free(&sc);
	*out = l;
	return 0;
}

int repo_backup_list_locked(repo *r, backup_list **out, bderr *err)
{
	backup_scan sc;
	*out = NULL;
	if (scan_backups(r, NULL, &sc, err) < 0)
		return -1;
	backup_list *l = xcalloc(1, sizeof *l);
	l->items = xcalloc(sc.n, sizeof *l->items);
	for (size_t i = 0; i < sc.n; i++) {
		backup_entry *e = &l->items[l->n++];
		/* the directory name is an HMAC: it names nothing without the key */
		e->name = xstrdup("");
		e->id = sc.g[i].id;
		e->has_manifest = sc.g[i].has_manifest;
		sc.g[i].id = NULL;
	}
	scan_free(&sc);
	*out = l;
	return 0;
}

void backup_list_free(backup_list *l)
{
	if (l == NULL)
		return;
	for (size_t i = 0; i < l->n; i++) {
		free(l->items[i].name);
		free(l->items[i].id);
		manifest_free(l->items[i].m);
		free(l->items[i].damaged);
	}
	free(l->items);
	free(l);
}

static int load_latest(repo *r, const char *name, manifest **out, bderr *err)
{
	backup_scan sc;
	if (scan_backups(r, name, &sc, err) < 0)
		return -1;
	int rc = -1;
	size_t damaged = 0;
	for (size_t i = sc.n; i > 0 && rc < 0; i--) {
		const backup_group *g = &sc.g[i - 1];
		if (!g->has_manifest)
			continue;
		bderr why;
		bderr_init(&why);
		rc = load_manifest(r, g->name, g->id, out, &why);
		if (rc < 0) {
			log_warn("backup %s of '%s' is damaged and skipped: %s", g->id, g->name, why.msg);
			damaged++;
		} else if (damaged > 0) {
			log_warn("latest readable backup of '%s' is %s (%zu newer damaged)", name, g->id,
				 damaged);
		}
	}
	if (rc < 0 && sc.n == 0)
		bderr_set(err, "no backups of '%s' in '%s'", name, repo_url(r));
	else if (rc < 0 && damaged == 0)
		bderr_set(err, "no complete backup of '%s' in '%s' (%zu incomplete)", name, repo_url(r),
			  sc.n);
	else if (rc < 0)
		bderr_set(err, "no readable complete backup of '%s' in '%s' (%zu damaged, %zu "
			       "incomplete)",
			  name, repo_url(r), damaged, sc.n - damaged);
	scan_free(&sc);
	return rc;
}

int repo_backup_load(repo *r, const char *name, const char *id, manifest **out, bderr *err)
{
	*out = NULL;
	if (repo_name_check(name, err) < 0)
		return -1;
	if (id == NULL || strcmp(id, "latest") == 0)
		return load_latest(r, name, out, err);
	if (id_check(id, err) < 0)
		return -1;
	if (load_manifest(r, name, id, out, err) == 0)
		return 0;
	if (err->sys_errno != ENOENT)
		return -1;
	int used;
	if (backup_dir_used(r, name, id, &used, err) < 0)
		return -1;
	if (used)
		return bderr_set(err, "backup '%s' of '%s' is incomplete (no manifest): it cannot be restored",
				 id, name);
	return bderr_set(err, "backup '%s' of '%s' not found in '%s'", id, name, repo_url(r));
}

static int verify_object(repo *r, const manifest *m, const manifest_object *o, void *buf,
			 bderr *err)
{
	storage_info info;
	char *path = repo_backup_path(m->name, m->id, o->name);
	int rc = storage_info_get(r->s, path, &info, err);
	if (rc == 0 && !info.exists)
		rc = bderr_set(err, "object '%s' is missing", path);
	else if (rc == 0 && info.size != o->meta.stored_size)
		rc = bderr_set(err, "object '%s' is corrupt: stored size mismatch (expected %" PRIu64
				    " bytes, got %" PRIu64 ")",
			       path, o->meta.stored_size, info.size);
	free(path);
	if (rc < 0)
		return -1;
	object_reader *orr;
	if (repo_object_open(r, m, o, &orr, err) < 0)
		return -1;
	size_t got;
	do {
		rc = object_reader_read(orr, buf, VERIFY_BUF, &got, err);
	} while (rc == 0 && got > 0);
	object_reader_free(orr);
	return rc;
}

int repo_backup_verify(repo *r, const manifest *m, bderr *err)
{
	void *buf = xmalloc(VERIFY_BUF);
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < m->n_objects; i++)
		rc = verify_object(r, m, &m->objects[i], buf, err);
	free(buf);
	return rc;
}

int repo_object_open(repo *r, const manifest *m, const manifest_object *o,
		     object_reader **out, bderr *err)
{
	char *path = repo_backup_path(m->name, m->id, o->name);
	int rc = object_reader_open(r->s, path, o->compressed, &o->meta, out, err);
	free(path);
	if (rc == 0)
		object_reader_set_progress(*out, r->progress);
	return rc;
}

int repo_object_read_all(repo *r, const manifest *m, const manifest_object *o, uint64_t max,
			 char **data, size_t *len, bderr *err)
{
	if (o->meta.size > max)
		return bderr_set(err, "object '%s' is too large to load (%" PRIu64 " bytes)", o->name,
				 o->meta.size);
	object_reader *orr = NULL;
	if (repo_object_open(r, m, o, &orr, err) != 0)
		return -1;
	strbuf b;
	strbuf_init(&b);
	enum { CHUNK = 256 * 1024 };
	char *buf = xmalloc(CHUNK);
	int rc = 0;
	for (;;) {
		size_t got = 0;
		if (object_reader_read(orr, buf, CHUNK, &got, err) != 0) {
			rc = -1;
			break;
		}
		if (got == 0)
			break;
		strbuf_append(&b, buf, got);
	}
	free(buf);
	object_reader_free(orr);
	if (rc != 0) {
		strbuf_free(&b);
		return -1;
	}
	*len = b.len;
	*data = strbuf_detach(&b);
	if (*data == NULL)
		*data = xstrdup("");
	return 0;
}
