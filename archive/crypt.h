/*
 * Encryption at rest: AES-256-GCM in authenticated chunks (libcrypto EVP,
 * which uses AES-NI where the CPU has it).
 *
 * Stored object = header || chunk 0 || chunk 1 || ... || final chunk
 *   header  = "BDENC1\n\0" (8 bytes) || 32-byte random object salt
 *   chunk i = ciphertext of CRYPT_CHUNK plaintext bytes (the final chunk:
 *             0..CRYPT_CHUNK bytes) || 16-byte GCM tag
 * Each object gets its own key and nonce base, HMAC-SHA256 of its salt under
 * the repository data key; chunk i's nonce is the base XOR i.  The AAD binds
 * the object identity (its path in the repository), the chunk index and a
 * final-chunk flag, so a flipped byte, a truncation (also at a chunk
 * boundary), reordered chunks and an object copied over another all fail
 * authentication.  Memory: two chunk buffers per stream.
 */
#ifndef BACKUPD_ARCHIVE_CRYPT_H
#define BACKUPD_ARCHIVE_CRYPT_H

#include <stdint.h>
#include "archive/stream.h"

#define CRYPT_KEY_LEN 32
#define CRYPT_CHUNK (64 * 1024)
#define CRYPT_TAG_LEN 16
#define CRYPT_HEADER_LEN 40
#define CRYPT_NONCE_LEN 12

/*
 * Encrypting writer in front of next; id is the object identity bound into
 * every chunk.  The key is copied.
 */
writer *encrypt_writer_new(writer *next, const unsigned char key[CRYPT_KEY_LEN], const char *id);
/*
 * Decrypting reader over next.  Any authentication failure (damage,
 * truncation, reordering, another object's bytes) fails the read with
 * err->sys_errno == EBADMSG and a message naming id.
 */
reader *decrypt_reader_new(reader *next, const unsigned char key[CRYPT_KEY_LEN], const char *id);

/* Stored size of an object of plain bytes, and back (UINT64_MAX: no valid size). */
uint64_t crypt_stored_size(uint64_t plain);
uint64_t crypt_plain_size(uint64_t stored);

/*
 * One AES-256-GCM operation: seals in into out and tag, or opens in into out
 * checking tag (-1 on a wrong tag).  ctx: an EVP_CIPHER_CTX to reuse (its key
 * already set when key is NULL), or NULL for a one-shot with key.
 */
int crypt_gcm(void *ctx, const unsigned char *key, int encrypt,
	      const unsigned char nonce[CRYPT_NONCE_LEN], const unsigned char *aad, size_t aad_len,
	      const unsigned char *in, size_t len, unsigned char *out, unsigned char tag[CRYPT_TAG_LEN]);

/* Fills buf with random bytes; -1 with err set if the CSPRNG fails. */
int crypt_random(void *buf, size_t len, bderr *err);

#endif
