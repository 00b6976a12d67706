/*
 * Secrets from files.  A secret file readable by group or others is refused:
 * the operator must make it 0600 (or 0400).  The trailing newline is dropped.
 */
#ifndef BACKUPD_COMMON_SECRET_H
#define BACKUPD_COMMON_SECRET_H

#include "common/error.h"

/*
 * A password, key id or token: one line.  Its line end ("\n" or "\r\n") and
 * any empty lines after it are dropped; a file with a second non-empty line
 * (or an empty first line) is refused, exit 2, naming the file, never its
 * content.
 */
int secret_read_file(const char *path, char **out, bderr *err);
/*
 * The type and mode rules alone (a regular file, nothing for group or
 * others), for a file another library reads (libpq's password file).
 */
struct stat;
int secret_check_mode(const char *path, const struct stat *st, bderr *err);
/*
 * A repository encryption key file: a secret file whose contents (a
 * passphrase or key material) are at least SECRET_KEY_MIN bytes, read whole
 * (only its last line end is dropped: a key may span lines).
 */
#define SECRET_KEY_MIN 32
int secret_read_key_file(const char *path, char **out, bderr *err);
/* In place: every occurrence of secret in msg becomes "***" (errors that may quote a statement). */
void secret_scrub(char *msg, const char *secret);
/* Overwrites and frees a secret. */
void secret_free(char *s);

#endif
