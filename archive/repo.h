/*
 * The repository: backupd.repo at the root, then per source
 *   <name>/backups/<ID>/manifest.json   (written last: the commit)
 *   <name>/backups/<ID>/...             objects of that backup
 *   <name>/wal/...                      WAL (later)
 * IDs are the UTC start time YYYYMMDDTHHMMSSZ, "-2", "-3"... on collision.
 */
#ifndef BACKUPD_ARCHIVE_REPO_H
#define BACKUPD_ARCHIVE_REPO_H

#include "archive/manifest.h"
#include "archive/storage.h"

#define REPO_FORMAT 1
#define REPO_MARKER "backupd.repo"

typedef struct repo repo;

/*
 * Opens the repository at url.  With create, a missing backupd.repo is
 * written; without it, a missing one is an error.  A repository whose format
 * is newer than REPO_FORMAT is refused.
 */
int repo_open(const char *url, const storage_options *opts, int create, repo **out, bderr *err);
/*
 * The same; with allow_locked, an encrypted repository opened without a key
 * (and without create) opens "locked": only repo_backup_list_locked works.
 */
int repo_open_ex(const char *url, const storage_options *opts, int create, int allow_locked,
		 repo **out, bderr *err);
int repo_locked(const repo *r);
/*
 * The same over an already open storage, which the repo takes over (freed
 * by repo_free, also when this fails): how tests put a fault-injecting
 * driver under a repository.
 */
int repo_open_storage(storage *s, int create, repo **out, bderr *err);
/*
 * With key (the key file's contents, or NULL): creating writes an encrypted
 * repository; opening an encrypted one without the key, with a wrong key, or
 * a plaintext one with a key is a usage error (exit 2) before anything else
 * is read.
 */
int repo_open_storage_key(storage *s, int create, const char *key, repo **out, bderr *err);
int repo_encrypted(const repo *r);
/* Rewraps the repository's data key under new_key: rewrites backupd.repo only. */
int repo_rotate_key(repo *r, const char *new_key, bderr *err);
void repo_free(repo *r);
storage *repo_storage(repo *r);
const char *repo_url(const repo *r);

/* A source name must be one safe path component: [A-Za-z0-9._-], not "." or "..". */
int repo_name_check(const char *name, bderr *err);

/*
 * Reserves a new backup ID for name from its start time by creating
 * <name>/backups/<ID>/backup.started exclusively (the next suffix when
 * another writer has it, also one in another process or on another host),
 * marking it incomplete until committed.
 */
int repo_backup_begin(repo *r, const char *name, time_t started, char **id, bderr *err);

/*
 * 1 when the process that started backup id (its backup.started) is known
 * to have died: it ran on this host and is gone.  0 when it may still run
 * or nobody can tell (another host, no or an older backup.started).  who
 * gets "pid N on HOST" when 1.
 */
int repo_backup_writer_gone(repo *r, const char *name, const char *id, char *who, size_t cap);
/* "<name>/backups/<id>/<object>", or "<name>/backups/<id>/" when object is NULL (caller frees). */
char *repo_backup_path(const char *name, const char *id, const char *object);
/*
 * Writes manifest.json: after this the backup is complete.  Stamps
 * m->finished with the current time when it is unset, and logs the
 * completion (objects, bytes, stored bytes) once the manifest is durable.
 */
int repo_backup_commit(repo *r, manifest *m, bderr *err);
/*
 * fn(ctx) runs in repo_backup_commit right before the manifest is written:
 * from there on the backup's outcome is that write's alone (a run that holds
 * SIGTERM back from this point is never killed with its backup complete,
 * nor in the middle of the write, which on S3 may land all the same).
 */
void repo_set_commit_hook(repo *r, void (*fn)(void *), void *ctx);

/*
 * Best effort, for a backup that failed: its objects go (in batches where the
 * storage can); backup.started stays as the marker of an incomplete backup
 * that expire cleans up.
 */
void repo_backup_discard(repo *r, const char *name, const char *id);

typedef struct backup_entry {
	char *name;
	char *id;
	manifest *m;   /* NULL when incomplete (no manifest) or damaged */
	char *damaged; /* set (why) when a manifest exists but cannot be read: neither
			  complete nor incomplete, never restored, counted or removed */
	int has_manifest; /* complete: also known in a locked repository */
} backup_entry;

typedef struct backup_list {
	backup_entry *items; /* sorted by name, then id (oldest first) */
	size_t n;
} backup_list;

/*
 * All backups, or those of one name; incomplete ones included with m == NULL.
 * A manifest that cannot be read does not fail the listing: that entry is
 * marked damaged, with a warning naming it.
 */
int repo_backup_list(repo *r, const char *name, backup_list **out, bderr *err);
void backup_list_free(backup_list *l);
/*
 * A locked repository's backups: IDs and whether each is complete, in ID
 * order within each (hidden) source; names and manifests stay unread.
 */
int repo_backup_list_locked(repo *r, backup_list **out, bderr *err);

/*
 * Loads the manifest of a complete backup.  id may be "latest" (or NULL): the
 * newest backup whose manifest reads, newer damaged ones skipped with a
 * warning each.  An incomplete or missing backup is an error naming it.
 */
int repo_backup_load(repo *r, const char *name, const char *id, manifest **out, bderr *err);

/* Re-reads every object, checking size and SHA-256; names the first broken one. */
int repo_backup_verify(repo *r, const manifest *m, bderr *err);

/*
 * What r's object readers read from now on is counted in p (common/progress.h):
 * restore, pitr and verify report their progress without the engines'
 * help.  NULL stops counting; p must outlive its use.
 */
struct progress;
void repo_set_progress(repo *r, struct progress *p);
/* The progress set on r, or NULL: where commands add their totals. */
struct progress *repo_progress(const repo *r);

/* Opens one object of a backup for verified reading. */
int repo_object_open(repo *r, const manifest *m, const manifest_object *o,
		     object_reader **out, bderr *err);

/*
 * Reads a whole object (schema text, statement files), verified, into memory:
 * *data is NUL-terminated (caller frees).  An object larger than max bytes is
 * refused, so memory stays bounded whatever a damaged manifest says.
 */
int repo_object_read_all(repo *r, const manifest *m, const manifest_object *o, uint64_t max,
			 char **data, size_t *len, bderr *err);

#endif
