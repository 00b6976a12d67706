/*
 * restore --provision DB --owner ROLE --env-file FILE (PostgreSQL): with an
 * admin account in --to, creates ROLE (LOGIN; not superuser, createdb or
 * createrole; a generated password stored as a SCRAM verifier computed here,
 * so the password itself never reaches the server's logs) unless it exists
 * and --reuse-role says to use it (its password is never changed), then the
 * restore creates DB (template0, the source's encoding and locale) owned by
 * ROLE with everything in it owned by ROLE, and FILE gets
 * DATABASE_URL=postgresql://ROLE:PASSWORD@HOST:PORT/DB (mode 0600, written
 * atomically; without a password for a reused role).  An existing DB is
 * refused and left untouched.  A role created here carries a comment marking
 * it until the env file is in place: a run killed before that leaves the
 * mark, and the next run of the same provisioning (the caller holds the
 * target's restore claim, so no live run is raced) recreates the role with a
 * new password instead of refusing it; a role without the mark is refused
 * (or reused) as ever.  The final rename of the restored database to DB
 * replaces the mark, in its own transaction, with a second one naming DB's
 * OID and the fingerprint of ROLE's password (pg_provision_rename_sql): a
 * run killed after it and before the env file leaves DB complete, and the
 * next run of the same provisioning finds DB with ROLE so marked and
 * completes it (a new password for ROLE, the env file, the mark cleared)
 * instead of refusing the existing DB; when the env file already holds the
 * password the mark names (the run that wrote it failed to clear the mark),
 * that next run only clears the mark, the password and the file untouched.
 */
#ifndef BACKUPD_RESTORE_PG_PROVISION_H
#define BACKUPD_RESTORE_PG_PROVISION_H

#include <libpq-fe.h>

#include "common/error.h"
#include "common/provision.h"

typedef struct pg_provision pg_provision;

/*
 * Checks and creates ROLE on admin, prepares the env file (not yet in place).
 * *completed 1 (and *out NULL): DB was an interrupted run's, complete, and
 * this call completed the provisioning: nothing is left to restore.
 */
int pg_provision_prepare(PGconn *admin, const provision_request *o, pg_provision **out, int *completed,
			 bderr *err);
/*
 * The statement (*sql, caller frees; NULL when ROLE was not created here)
 * to run in the transaction of ALTER DATABASE TMP_DB RENAME TO DB: ROLE's
 * second mark, for TMP_DB's OID.
 */
int pg_provision_rename_sql(pg_provision *p, PGconn *admin, const char *tmp_db, char **sql, bderr *err);
/* After a complete restore: the env file in place, then the role's provisioning mark cleared (on admin). */
int pg_provision_commit(pg_provision *p, PGconn *admin, bderr *err);
/* After a failure: the role dropped if created here, the env file never written. Frees p. */
void pg_provision_abort(pg_provision *p, PGconn *admin);
void pg_provision_free(pg_provision *p);

#endif
