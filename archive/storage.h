/*
 * The storage interface: one static table of function pointers per driver,
 * chosen from the repository URL.  Nothing outside archive/ knows which
 * driver it talks to.  Paths are relative to the repository root and use '/'.
 */
#ifndef BACKUPD_ARCHIVE_STORAGE_H
#define BACKUPD_ARCHIVE_STORAGE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include "archive/stream.h"
#include "common/error.h"

typedef struct storage storage;

typedef struct storage_info {
	int exists;
	uint64_t size;
	time_t mtime;
} storage_info;

/*
 * Called for every object under a prefix: 0 goes on; negative stops the
 * listing, which fails (the callback set err); STORAGE_LIST_STOP stops it
 * with success, for a caller that has seen what it needed (whether a name
 * has anything under it at all) and need not read the rest of a long list.
 */
typedef int (*storage_list_cb)(void *ctx, const char *path, uint64_t size, bderr *err);
#define STORAGE_LIST_STOP 1

/*
 * Drivers must be safe to use from several threads at once, each thread with
 * its own readers and writers.  Opening a missing object for reading fails
 * with err->sys_errno == ENOENT, so callers can tell "absent" from "broken".
 */
typedef struct storage_driver {
	const char *name;
	int (*open_read)(storage *s, const char *path, reader **out, bderr *err);
	int (*open_write)(storage *s, const char *path, writer **out, bderr *err);
	/*
	 * Objects whose path starts with prefix, recursively, in no particular
	 * order; a callback's STORAGE_LIST_STOP ends it early, returning 0.
	 */
	int (*list)(storage *s, const char *prefix, storage_list_cb cb, void *ctx, bderr *err);
	/* Removing a missing object is not an error. */
	int (*remove)(storage *s, const char *path, bderr *err);
	/*
	 * Optional (NULL: storage_remove_many falls back to remove() per path):
	 * removes n objects in as few requests as the backend allows.  Missing
	 * objects are not an error; on failure the error names the first path
	 * that could not be removed.
	 */
	int (*remove_many)(storage *s, const char *const *paths, size_t n, bderr *err);
	int (*info)(storage *s, const char *path, storage_info *out, bderr *err);
	/*
	 * Writes a whole object only if nothing is stored at path: the atomic
	 * claim of a name.  Fails with err->sys_errno == EEXIST when an object
	 * is there or another writer is claiming the same path at that moment.
	 * On stores without conditional writes two concurrent claimants may
	 * both fail (and try another name); they never both succeed.
	 */
	int (*put_new)(storage *s, const char *path, const void *data, size_t len, bderr *err);
	/*
	 * Optional (NULL: the driver leaves nothing behind): removes under
	 * prefix what writers that died left, such as partly written temp
	 * files, never anything a live writer still uses.  What cannot be
	 * proven abandoned goes only when last modified before older_than.
	 * *removed counts what went.
	 */
	int (*sweep)(storage *s, const char *prefix, time_t older_than, size_t *removed,
		     bderr *err);
	void (*free)(storage *s);
} storage_driver;

struct storage {
	const storage_driver *driver;
	char *url; /* printable, without secrets */
};

/* Options a driver may need; all optional. */
typedef struct storage_options {
	const char *access_key_id;
	const char *secret_access_key;
	const char *session_token;
	const char *ca_file;
	int tls_verify; /* 1 by default */
	const char *encryption_key; /* secret: the repository key file's contents, or NULL */
} storage_options;

/* Opens the driver the URL names: file:///path or a plain path (posix), s3://... */
int storage_open(const char *url, const storage_options *opts, storage **out, bderr *err);

int storage_open_read(storage *s, const char *path, reader **out, bderr *err);
int storage_open_write(storage *s, const char *path, writer **out, bderr *err);
int storage_list(storage *s, const char *prefix, storage_list_cb cb, void *ctx, bderr *err);
int storage_remove(storage *s, const char *path, bderr *err);
/* Removes n objects: the driver's batch call when it has one, else one by one. */
int storage_remove_many(storage *s, const char *const *paths, size_t n, bderr *err);
int storage_info_get(storage *s, const char *path, storage_info *out, bderr *err);
int storage_put_new(storage *s, const char *path, const void *data, size_t len, bderr *err);
int storage_sweep(storage *s, const char *prefix, time_t older_than, size_t *removed,
		  bderr *err);
void storage_free(storage *s);

/* Convenience: write a whole buffer to path atomically. */
int storage_put(storage *s, const char *path, const void *data, size_t len, bderr *err);
/* Convenience: read a whole object (at most max bytes) into a NUL-terminated buffer. */
int storage_get(storage *s, const char *path, char **data, size_t *len, size_t max, bderr *err);

/*
 * Drivers' shared path rule: relative, no empty, "." or ".." components.  A
 * prefix (is_prefix) may be empty or end in a partial component.  where
 * names the repository in the message.
 */
int storage_path_check(const char *where, const char *path, int is_prefix, bderr *err);

#endif
