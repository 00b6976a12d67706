/*
 * Large objects' own metadata (owner, grants, comment), recorded by the
 * dump itself as the object "large-objects-meta.json" rather than taken from
 * pg_dump's pre-data: pg_dump 17 and newer moved it out of pre-data, so a
 * restore that relied on pre-data found no large objects to write into.
 * Applied after pre-data and before the data: each large object is created
 * when it does not exist yet (pg_dump 16 and older created it in pre-data),
 * then gets its owner, privileges and comment.
 */
#ifndef BACKUPD_RESTORE_PG_LO_META_H
#define BACKUPD_RESTORE_PG_LO_META_H

#include <stddef.h>

#include <libpq-fe.h>

#include "common/error.h"

typedef struct pg_lo_meta_options {
	int no_owner;      /* leave the restoring role the owner */
	int no_privileges; /* no GRANT/REVOKE */
	/* renames a source role for the target (--owner/--role-map); NULL: as recorded */
	const char *(*map_role)(const void *ctx, const char *role);
	/* the target's owner for what a source role owned (--owner); NULL: map_role */
	const char *(*map_owner)(const void *ctx, const char *role);
	const void *map_ctx;
} pg_lo_meta_options;

/*
 * Applies json[0..len) (an array of {"oid", "owner", "acl", "comment"}) on c.
 * A malformed entry is an error naming it; nothing is guessed.
 */
int pg_lo_meta_apply(PGconn *c, const char *json, size_t len, const pg_lo_meta_options *o,
		     size_t *count, bderr *err);

/*
 * The source side: every large object's metadata in c's snapshot as that
 * JSON array (*json, caller frees) and how many there are.
 */
int pg_lo_meta_read(PGconn *c, char **json, long *count, bderr *err);

#endif
