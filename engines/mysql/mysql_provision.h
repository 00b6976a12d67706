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
int mysql_provision_prepare(MYSQL *admin, const provision_request *o, const my_uri *uri, mysql_provision **out,
			    bderr *err);
/* After the restore, while the database is still marked in progress: GRANT ALL ON DB.*. */
int mysql_provision_grant(mysql_provision *p, MYSQL *admin, bderr *err);
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
