/*
 * Keys of an encrypted repository, and the storage that encrypts with them.
 *
 * The key file's contents (a passphrase or key material, at least
 * SECRET_KEY_MIN bytes: secret_read_key_file) derive a key-encryption key (PBKDF2-SHA256,
 * parameters and salt recorded in backupd.repo).  That key only wraps the
 * repository's random data key (AES-256-GCM, also in backupd.repo), from which
 * every object's own key is derived.  Changing the key file therefore
 * rewrites backupd.repo and nothing else: WAL object names, which carry a
 * checksum of what they store, stay valid.
 */
#ifndef BACKUPD_ARCHIVE_REPO_CRYPT_H
#define BACKUPD_ARCHIVE_REPO_CRYPT_H

#include <jansson.h>
#include "archive/crypt.h"
#include "archive/storage.h"

#define CRYPT_CIPHER "aes-256-gcm"

/*
 * A new repository's data key (derived from passphrase and where, the
 * repository's URL), wrapped under passphrase into marker's cipher fields.
 */
int crypt_marker_create(json_t *marker, const char *passphrase, const char *where,
			unsigned char dek[CRYPT_KEY_LEN], bderr *err);
/* Rewraps dek under a new passphrase (fresh salt), replacing marker's key fields. */
int crypt_marker_wrap(json_t *marker, const char *passphrase,
		      const unsigned char dek[CRYPT_KEY_LEN], bderr *err);
/* Unwraps the data key; a wrong passphrase is a usage error (exit 2) naming where. */
int crypt_marker_unlock(const json_t *marker, const char *passphrase, const char *where,
			unsigned char dek[CRYPT_KEY_LEN], bderr *err);

/*
 * Storage that encrypts every object written through it and decrypts (and
 * authenticates) every object read, binding each to its path; sizes in
 * listings and info are the plaintext sizes.  backupd.repo passes through.
 * Takes ownership of inner.
 */
storage *crypt_storage_new(storage *inner, const unsigned char dek[CRYPT_KEY_LEN]);

#endif
