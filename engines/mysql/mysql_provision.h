/*
 * restore --provision DB --owner USER --env-file FILE (MySQL/MariaDB): with
 * an admin account in --to, creates 'USER'@'%' with a generated password
 * (sent as its mysql_native_password hash, computed here, so the password
 * itself never reaches the server or its logs) unless it exists and
 * --reuse-role says to use it (never changing its password), then the
 * restore creates DB with the source's character set and collation,
 * GRANT ALL ON DB.* goes to the user, and FILE gets
 * DATABASE_URL=mysql://USER:PASSWORD@HOST:PORT/DB (0600, atomically).  An
 * existing DB is refused and left untouched.  One-database dumps only.
 *
 * HOST:PORT is where the admin connection went: a connection through a Unix
 * socket gives mysql://USER:PASSWORD@localhost/DB?socket=PATH instead.
 *
 * The server keeps no comment on a user to mark it as this run's, so the
 * mark is local: FILE.pending (common/provision.h), written before CREATE
 * USER with the fingerprint (SHA-256) of the credential hash sent, removed
 * with the env file in place or the user dropped.  A run killed in between
 * leaves both; the next run of the same provisioning (same env file, server,
 * database and user) finds the user's stored credential matching the record
 * and recreates the user with a new password.  A user made any other way
 * has another credential (or no record names it) and is refused as before.
 *
 * Once DB is complete (restored, granted, just before its in-progress
 * markers go: my_tmpdb_finish) the record gets the state "database
 * complete" (mysql_provision_database_complete), durably, before the env
 * file.  A run killed after that leaves DB complete and the record so; the
 * next run of the same provisioning finds DB existing, the user's credential
 * and that state in the record, and completes it (a new password by ALTER
 * USER, the env file, the record removed) instead of refusing DB, unless
 * the env file already holds the user's password (a run that wrote it and
 * failed to remove the record): then only the record goes.  A run
 * killed between the state and the markers' removal leaves DB marked: the
 * next run's claim drops it and the user is recreated as above.  The
 * record is local, so only a rerun on the same host with the same env file
 * sees it; the refusals say so.
 */
#ifndef BACKUPD_RESTORE_MYSQL_PROVISION_H
#define BACKUPD_RESTORE_MYSQL_PROVISION_H

#include <mysql.h>

#include "common/error.h"
#include "common/provision.h"
#include "engines/mysql/myconn.h"

typedef struct mysql_provision mysql_provision;

/*
 * uri: --to's, which admin is connected by.  The caller holds the target's
 * restore claim (my_tmpdb_claim), so a live run of the same provisioning is
 * never raced.
 */
/*
 * *completed 1 (*out NULL): DB was a killed run's, complete, and this call
 * completed the provisioning: nothing is left to restore.
 */
int mysql_provision_prepare(MYSQL *admin, const provision_request *o, const my_uri *uri, mysql_provision **out,
			    int *completed, bderr *err);
/* After the restore, while the database is still marked in progress: GRANT ALL ON DB.*. */
int mysql_provision_grant(mysql_provision *p, MYSQL *admin, bderr *err);
/* DB complete (after the grant, before its in-progress markers go): the record says so, durably. */
int mysql_provision_database_complete(mysql_provision *p, bderr *err);
/*
 * The env file in place: the restore's very last step, once nothing else can
 * fail, so a failed restore never leaves an env file naming a user and a
 * database it dropped.
 */
int mysql_provision_commit(mysql_provision *p, bderr *err);
/* After a failure: the user dropped if created here (admin NULL: a warning says to drop it by hand); frees p. */
void mysql_provision_abort(mysql_provision *p, MYSQL *admin);
void mysql_provision_free(mysql_provision *p);

/* "*" and the upper-case hex of SHA1(SHA1(password)): out[42]. */
void mysql_native_hash(const char *password, char *out);

#endif
