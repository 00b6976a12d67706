/*
 * libcrypto (SHA-256 object names, AES-256-GCM repository encryption, S3
 * request signing, generated passwords), loaded on first use (see
 * lazylib.h).  Linked, its ~4200 symbol relocations and its start-up code
 * cost about 0.8 ms of every process start, and the archiver's call for a
 * segment the background pusher already archived hashes nothing.  Every
 * function backupd calls has a stub here.
 */
#include <stddef.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "common/lazylib.h"

#ifndef LAZY_CRYPTO_SONAME
#define LAZY_CRYPTO_SONAME BD_SONAME_CRYPTO
#endif

/* Failure values: NULL, 0 ("failed" for OpenSSL's int returns), 1 (not equal) for CRYPTO_memcmp. */
#define CRYPTO_FUNCS(F, V)                                                                                  \
	F(int, CRYPTO_memcmp, (const void *a, const void *b, size_t n), (a, b, n), 1)                         \
	V(ERR_clear_error, (void), ())                                                                        \
	V(ERR_error_string_n, (unsigned long e, char *buf, size_t len), (e, buf, len))                        \
	F(unsigned long, ERR_get_error, (void), (), 0)                                                        \
	F(int, EVP_CIPHER_CTX_ctrl, (EVP_CIPHER_CTX * c, int type, int arg, void *ptr), (c, type, arg, ptr), 0) \
	V(EVP_CIPHER_CTX_free, (EVP_CIPHER_CTX * c), (c))                                                      \
	F(EVP_CIPHER_CTX *, EVP_CIPHER_CTX_new, (void), (), NULL)                                             \
	F(int, EVP_CipherFinal_ex, (EVP_CIPHER_CTX * c, unsigned char *out, int *outl), (c, out, outl), 0)      \
	F(int, EVP_CipherInit_ex,                                                                             \
	  (EVP_CIPHER_CTX * c, const EVP_CIPHER *cipher, ENGINE *impl, const unsigned char *key,              \
	   const unsigned char *iv, int enc),                                                                 \
	  (c, cipher, impl, key, iv, enc), 0)                                                                 \
	F(int, EVP_CipherUpdate, (EVP_CIPHER_CTX * c, unsigned char *out, int *outl, const unsigned char *in, int inl), \
	  (c, out, outl, in, inl), 0)                                                                         \
	F(int, EVP_Digest,                                                                                    \
	  (const void *data, size_t count, unsigned char *md, unsigned int *size, const EVP_MD *type, ENGINE *impl), \
	  (data, count, md, size, type, impl), 0)                                                             \
	F(int, EVP_DigestFinal_ex, (EVP_MD_CTX * c, unsigned char *md, unsigned int *s), (c, md, s), 0)        \
	F(int, EVP_DigestInit_ex, (EVP_MD_CTX * c, const EVP_MD *type, ENGINE *impl), (c, type, impl), 0)      \
	F(int, EVP_DigestUpdate, (EVP_MD_CTX * c, const void *d, size_t n), (c, d, n), 0)                      \
	F(int, EVP_EncodeBlock, (unsigned char *t, const unsigned char *f, int n), (t, f, n), 0)               \
	V(EVP_MD_CTX_free, (EVP_MD_CTX * c), (c))                                                              \
	F(EVP_MD_CTX *, EVP_MD_CTX_new, (void), (), NULL)                                                     \
	F(const EVP_CIPHER *, EVP_aes_256_gcm, (void), (), NULL)                                              \
	F(const EVP_MD *, EVP_md5, (void), (), NULL)                                                          \
	F(const EVP_MD *, EVP_sha1, (void), (), NULL)                                                         \
	F(const EVP_MD *, EVP_sha256, (void), (), NULL)                                                       \
	F(unsigned char *, HMAC,                                                                              \
	  (const EVP_MD *md, const void *key, int key_len, const unsigned char *data, size_t data_len,         \
	   unsigned char *out, unsigned int *out_len),                                                        \
	  (md, key, key_len, data, data_len, out, out_len), NULL)                                             \
	F(int, PKCS5_PBKDF2_HMAC,                                                                             \
	  (const char *pass, int passlen, const unsigned char *salt, int saltlen, int iter,                   \
	   const EVP_MD *digest, int keylen, unsigned char *out),                                             \
	  (pass, passlen, salt, saltlen, iter, digest, keylen, out), 0)                                       \
	F(int, RAND_bytes, (unsigned char *buf, int num), (buf, num), 0)

CRYPTO_FUNCS(LAZYLIB_F_PTR, LAZYLIB_V_PTR)

static const lazylib_sym crypto_syms[] = {CRYPTO_FUNCS(LAZYLIB_F_SYM, LAZYLIB_V_SYM)};
static lazylib crypto_lib = LAZYLIB_INIT(LAZY_CRYPTO_SONAME, BD_PACKAGE_CRYPTO, crypto_syms);

#define LAZYLIB_CURRENT crypto_lib
CRYPTO_FUNCS(LAZYLIB_F_STUB, LAZYLIB_V_STUB)

int lazy_crypto_load(bderr *err)
{
	return lazylib_load(&crypto_lib, err);
}

/*
 * Secrets are wiped without loading libcrypto: explicit_bzero is not dropped
 * by the compiler either, and a wal-push to a plain repository, which frees
 * no key but wipes its (unused) key buffer, should not load libcrypto to do it.
 */
void OPENSSL_cleanse(void *p, size_t len)
{
	explicit_bzero(p, len);
}
