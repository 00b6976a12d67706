/*
 * Provisioning helpers shared by the engines (restore --provision): a
 * generated password, the application's connection URL, and the env file
 * that carries it, written atomically with mode 0600.  The password lives
 * in memory only until the file is written: never on stdout, in logs, in a
 * child's argv or in run history.
 */
#ifndef BACKUPD_COMMON_PROVISION_H
#define BACKUPD_COMMON_PROVISION_H

#include "common/error.h"

/* What --provision asks for, whichever the engine. */
typedef struct provision_request {
	const char *db;       /* the database to create */
	const char *owner;    /* the role (PostgreSQL) or user (MySQL) to create or reuse */
	const char *env_file; /* where DATABASE_URL goes */
	int reuse;            /* --reuse-role: an existing owner is used, its password untouched */
	/*
	 * 1: an existing DB is refused even when it is a killed run's of this
	 * provisioning, complete but for the env file (migrate --follow: its
	 * replication cannot start from that run's snapshot).  0: such a DB is
	 * completed (a new password, the env file) instead.
	 */
	int no_resume;
} provision_request;

/* Length of a generated password: letters and digits, so no URL escaping. */
#define PROVISION_PASSWORD_LEN 32

/* out[PROVISION_PASSWORD_LEN + 1]: random letters and digits from the CSPRNG. */
int provision_password(char *out, bderr *err);

/*
 * "DATABASE_URL=scheme://user[:password]@host:port/db\n" (caller frees with
 * secret_free), every part percent-encoded; password NULL: none; host NULL:
 * none.  With a socket (a Unix socket, or libpq's socket directory) the port
 * leaves the authority: "...@host/db?SOCKET_KEY=socket[&port=port]", the
 * query key being the one the scheme's URL parsers read (libpq: host,
 * MySQL's: socket).
 */
char *provision_env_line(const char *scheme, const char *user, const char *password, const char *host,
			 const char *port, const char *db, const char *socket_key, const char *socket);

/*
 * A fingerprint of a generated password, "SALT:HASH" (hex: 16 random bytes,
 * then SHA-256 of "backupd-provision:" SALT ":" PASSWORD): what a mark the
 * server shows every role (PostgreSQL's role comment) may say about the
 * password an env file should hold, so that a later run can tell whether the
 * env file in place holds it.  It gives nothing away: the password is 32
 * characters from 62 (190 random bits), beyond any search of its hash.
 * salt NULL: a new one.
 */
#define PROVISION_FP_LEN (32 + 1 + 64)
int provision_fingerprint(const char *password, const char *salt, char out[PROVISION_FP_LEN + 1], bderr *err);
/* 1 when PASSWORD has the fingerprint FP (one provision_fingerprint made), else 0 (FP malformed included). */
int provision_fingerprint_match(const char *password, const char *fp);

/*
 * The password of the line "DATABASE_URL=SCHEME://USER:PASSWORD@..." in the
 * env file at path (USER percent-encoded as provision_env_line does), into
 * *password (caller frees with secret_free), or NULL: no such file, no such
 * line, or one without a password.
 */
int provision_env_password(const char *path, const char *scheme, const char *user, char **password, bderr *err);

/*
 * The env file: prepare proves the place writable (a temporary file beside
 * path, created and removed) and refuses a path that is a directory or
 * another non-regular file, before anything is created; commit writes the
 * content to a temporary file (mode 0600 whatever the umask, fsynced) and
 * renames it over path.  Until commit the content (the password) is in
 * memory only: a run killed before leaves no file holding it.
 */
typedef struct env_file env_file;
int env_file_prepare(const char *path, const char *content, env_file **out, bderr *err);
int env_file_commit(env_file *f, bderr *err);
/* Frees f and wipes the content it held (NULL is fine). */
void env_file_abort(env_file *f);

/*
 * The local record of a provisioning in progress, for a server that cannot
 * mark the account it created (MySQL/MariaDB users carry no comment):
 * "FILE.pending" beside the env file FILE, written (atomically, mode 0600)
 * before the account is created and removed once the env file is in place
 * or the account dropped again.  A run killed in between leaves it, so that
 * the next run of the same provisioning can tell the account it finds is
 * the killed run's and take it over.  It holds no secret: the server, the
 * database, the account and a fingerprint of the credential the server
 * stores for the account (the caller's hash of it), which an account of the
 * same name made by hand does not share.
 */
typedef enum provision_pending_state {
	PROVISION_PENDING_NONE,  /* no record */
	PROVISION_PENDING_SAME,  /* this server, database and account; another credential (or none) */
	PROVISION_PENDING_OURS,  /* the same, credential included: the account is a killed run's */
	PROVISION_PENDING_OTHER, /* a record of another provisioning (described in *other, caller frees) */
	PROVISION_PENDING_COMPLETE, /* OURS, and the record says the database was complete (see below) */
} provision_pending_state;

/* Records server, db, account and fingerprint for env_path. */
int provision_pending_write(const char *env_path, const char *server, const char *db, const char *account,
			    const char *fingerprint, bderr *err);
/*
 * The same record in the state "database complete": written (atomically,
 * fsynced) once the database is complete under its name and before the env
 * file, so that a run killed in between can be completed by the next run of
 * the same provisioning (a new password for the account, the env file).  It
 * may hold two fingerprints (fingerprint2 NULL: one): that next run records
 * the new credential beside the old before it changes the account's, so a
 * kill on either side of that change still finds the account's credential in
 * the record.
 */
int provision_pending_write_complete(const char *env_path, const char *server, const char *db, const char *account,
				     const char *fingerprint, const char *fingerprint2, bderr *err);
/* Compares the record for env_path with these (fingerprint NULL: no account yet); other may be NULL. */
int provision_pending_check(const char *env_path, const char *server, const char *db, const char *account,
			    const char *fingerprint, provision_pending_state *state, char **other, bderr *err);
/* Removes the record (none is fine), durably. */
int provision_pending_remove(const char *env_path, bderr *err);
/* "FILE.pending" (caller frees), for messages. */
char *provision_pending_path(const char *env_path);

#endif
