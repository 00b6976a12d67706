/*
 * PostgreSQL digests (engines/digest.h) of the database a connection is in:
 * per table the rows read as COPY text, exactly as the dump writes them
 * (PG_COPY_SESSION_SQL and PG_COPY_OUT_SESSION_SQL from pg_format.h, so a
 * dump's checksums and a restored or migrated copy's agree across majors
 * 12..18), the schema objects by kind, and sequence values.  Callers give a
 * connection already in the snapshot they want (the dump's transaction, a
 * migrate source's exported snapshot); the functions read in it and set the
 * session settings above on it.
 */
#ifndef BACKUPD_ENGINES_PG_DIGEST_H
#define BACKUPD_ENGINES_PG_DIGEST_H

#include <libpq-fe.h>
#include <stddef.h>

#include "common/error.h"
#include "engines/digest.h"
#include "engines/engine.h"

/*
 * The whole digest of c's database into a new set.  like (or NULL): the
 * other side's digest; each of its tables that carries columns is read with
 * exactly those columns, in that order, so both sides hash the same text
 * (restore --verify passes the manifest's; a migrate passes the source's to
 * the target).  Every other table is read with its own columns (not
 * dropped, not generated, in attnum order) and the set records them.  The
 * cost is one read of every table.
 */
int pg_digest_compute(PGconn *c, const digest_set *like, digest_set **out, bderr *err);

/*
 * The same with the tables read in parallel, largest first, one per
 * connection at a time (conns[0] also lists them and reads the objects and
 * sequences).  The connections must see the same data: one snapshot
 * (exported by one, imported by the others), or a database nobody writes.
 */
int pg_digest_compute_conns(PGconn *const *conns, int n_conns, const digest_set *like,
			    digest_set **out, bderr *err);

/*
 * The same, except that each table of `have` (read already, with
 * pg_digest_table, in the same state) is taken from it, not read again.
 */
int pg_digest_compute_conns_have(PGconn *const *conns, int n_conns, const digest_set *like,
				 const digest_set *have, digest_set **out, bderr *err);

/*
 * One table's rows (t's schema, name and columns) into t's count and
 * checksum, on a connection with PG_COPY_SESSION_SQL set; the COPY text
 * settings (PG_COPY_OUT_SESSION_SQL) are made for this read and reset.
 */
int pg_digest_table(PGconn *c, digest_table *t, bderr *err);

/*
 * Sets on c the session the digests' COPY text depends on (PG_COPY_SESSION_SQL
 * and PG_COPY_OUT_SESSION_SQL); pg_digest_compute does it itself.  A caller
 * that hashes rows it streams anyway (digest_sum_add on each COPY row, as the
 * dump does) sets it on those connections.
 */
int pg_digest_session(PGconn *c, bderr *err);

/* Only the schema objects by kind (and the count of large objects), added to d. */
int pg_digest_objects(PGconn *c, digest_set *d, bderr *err);

/*
 * Only the sequence values, added to d.  Sequences are not transactional:
 * the values are the current ones, not the snapshot's.
 */
int pg_digest_sequences(PGconn *c, digest_set *d, bderr *err);

/* A sequence's value as the digest records it: "42", or "1 (not called)". */
void pg_digest_sequence_value(const char *last_value, int is_called, char *buf, size_t len);

/*
 * `restore --verify` / `dbrestore verify`: the digest of the database
 * conns[0..n) are in (read as pg_digest_compute_conns does, in the dump's
 * client_encoding, which it sets) against the one recorded in manifest info
 * (pg_dump_info.digest): 0 when every table, object and sequence the backup
 * holds is there and equal, else -1 naming the differences.  A backup
 * without a digest (older than digests, or of a server before 12) is an
 * error that says so.
 */
struct pg_dump_info;
int pg_digest_verify(PGconn *const *conns, int n_conns, const struct pg_dump_info *info,
		     const char *backup_id, bderr *err);

/*
 * The engine's verify operation (engines/engine.h): o->jobs connections to
 * o->to_url in one snapshot, then pg_digest_verify.
 */
int pg_digest_verify_run(repo *r, const manifest *m, const engine_restore_options *o, bderr *err);

#endif
