/*
 * Safe extraction of a base backup's tar archives (`dbrestore pitr`).
 *
 * A repository is input, not trust: a crafted base.tar must not create
 * device nodes, FIFOs, setuid files, links or anything outside the target
 * directory, even when dbrestore runs as root.  So an entry is first checked
 * (tar_entry_check: pure, touches nothing; the fuzz target calls it through
 * tar_check_memory) and only then created, by our own code and not
 * libarchive's disk writer: regular files and directories only, every path
 * walked one component at a time without following symbolic links, modes
 * fixed as initdb makes them (the tar's mode bits are ignored), owner the
 * target directory's owner.  The pg_tblspc/<oid> links the server puts in
 * base.tar are checked and skipped: pitr creates those links itself from
 * the validated tablespace list (tar_make_tablespace_link).
 */
#ifndef BACKUPD_RESTORE_TAR_EXTRACT_H
#define BACKUPD_RESTORE_TAR_EXTRACT_H

#include <stddef.h>
#include <sys/types.h>

#include <archive.h>
#include <archive_entry.h>

#include "common/error.h"

typedef enum tar_entry_kind {
	TAR_ENTRY_SKIP,          /* the archive's root ("." or "./") */
	TAR_ENTRY_DIR,
	TAR_ENTRY_FILE,
	TAR_ENTRY_TBLSPC_LINK    /* pg_tblspc/<oid>, a listed oid: skipped, pitr makes it */
} tar_entry_kind;

typedef struct tar_entry_plan {
	tar_entry_kind kind;
	char *rel; /* normalised relative path, no "." components or trailing '/' (caller frees) */
} tar_entry_plan;

typedef struct tar_extract_options {
	mode_t dir_mode;   /* 0700, or 0750 for a cluster with group access */
	mode_t file_mode;  /* 0600 or 0640 */
	int set_owner;     /* chown everything created to uid:gid (running as root) */
	uid_t uid;
	gid_t gid;
	/* oids whose pg_tblspc/<oid> symbolic links base.tar may hold (NULL-terminated, or NULL) */
	const char *const *tblspc_oids;
} tar_extract_options;

/*
 * What entry e would create, or -1 with err naming the entry and why it is
 * refused: absolute paths, ".." components, hard links, symbolic links other
 * than pg_tblspc/<listed oid>, device nodes, FIFOs, sockets.  Touches no
 * file.  plan->rel is set on success only.
 */
int tar_entry_check(struct archive_entry *e, const char *const *tblspc_oids,
		    tar_entry_plan *plan, bderr *err);

/*
 * Reads a whole tar archive held in memory and checks every entry, creating
 * nothing: 0 when all would be extracted.  For tests and the fuzz target.
 */
int tar_check_memory(const void *buf, size_t len, const char *const *tblspc_oids, bderr *err);

/*
 * Extracts every entry of the open reader in under dest, an existing
 * directory.  Returns 0, -1 when an entry is refused or cannot be written
 * (err says which), or -2 when the archive itself cannot be read (err has
 * libarchive's reason: the caller decides whether damage explains it).
 * Nothing is ever created outside dest.
 */
int tar_extract(struct archive *in, const char *dest, const tar_extract_options *o, bderr *err);

/*
 * Creates DATADIR/pg_tblspc/<oid> -> target (pg_tblspc made when absent),
 * owned as o says; an existing entry of that name is an error.
 */
int tar_make_tablespace_link(const char *datadir, const char *oid, const char *target,
			     const tar_extract_options *o, bderr *err);

#endif
