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


#endif
