/*
 * SHA-256 (FIPS 180-4), our own, without libcrypto.
 *
 * Every repository object is named and verified by its SHA-256, and an
 * unencrypted local repository needs nothing else from libcrypto.  Loading
 * libcrypto (dlopen, ~4200 relocations, the provider set-up and the read of
 * openssl.cnf at its first digest) cost a `backupd wal-push` (PostgreSQL's
 * archive_command, one process per 16 MB segment) 5 to 10 ms of a call whose
 * target is 20 ms; hashing the ~0.5 MB compressed segment costs 0.3 ms.
 *
 * On x86-64 CPUs with the SHA extensions (Intel since Ice Lake/Goldmont, AMD
 * since Zen) the blocks are hashed with them, as fast as libcrypto; elsewhere a
 * portable implementation (about half libcrypto's speed there).
 */
#ifndef BACKUPD_COMMON_SHA256_H
#define BACKUPD_COMMON_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_DIGEST_LEN 32

typedef struct sha256_ctx {
	uint32_t h[8];
	uint64_t total; /* bytes hashed so far */
	unsigned char block[64];
	size_t used; /* bytes waiting in block */
	int ni;      /* use the CPU's SHA instructions (set by sha256_init; a test may clear it) */
} sha256_ctx;

void sha256_init(sha256_ctx *c);
void sha256_update(sha256_ctx *c, const void *data, size_t len);
/* Writes the digest; c must be initialised again before reuse. */
void sha256_final(sha256_ctx *c, unsigned char out[SHA256_DIGEST_LEN]);
void sha256_digest(const void *data, size_t len, unsigned char out[SHA256_DIGEST_LEN]);

/* 1 when this CPU has the SHA instructions and they are used. */
int sha256_cpu_has_ni(void);

#endif
