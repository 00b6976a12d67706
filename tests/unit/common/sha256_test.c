/*
 * common/sha256: FIPS 180-4 test vectors, and libcrypto's SHA-256 as the
 * reference for every length around the block boundaries, fed in random
 * pieces, through both the SHA-instruction path (where the CPU has it) and
 * the portable one.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive/filter.h"
#include "common/lazylib.h"
#include "common/sha256.h"

static void hex(const unsigned char d[SHA256_DIGEST_LEN], char out[65])
{
	for (int i = 0; i < SHA256_DIGEST_LEN; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* digest of msg (repeated times) through sha256_update, ni on or off */
static void digest_of(const char *msg, size_t times, int ni, char out[65])
{
	sha256_ctx c;
	unsigned char d[SHA256_DIGEST_LEN];
	sha256_init(&c);
	c.ni = c.ni && ni;
	for (size_t i = 0; i < times; i++)
		sha256_update(&c, msg, strlen(msg));
	sha256_final(&c, d);
	hex(d, out);
}

static void test_fips_vectors(void **state)
{
	(void)state;
	static const struct {
		const char *msg;
		size_t times;
		const char *want;
	} v[] = {
		{ "abc", 1, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
		{ "", 1, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
		{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 1,
		  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
		{ "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
		  1, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1" },
		{ "a", 1000000, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0" },
	};
	for (int ni = 0; ni <= 1; ni++)
		for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
			char got[65];
			digest_of(v[i].msg, v[i].times, ni, got);
			assert_string_equal(got, v[i].want);
		}
	char h[SHA256_HEX_LEN + 1];
	sha256_hex("abc", 3, h);
	assert_string_equal(h, v[0].want);
}

static void test_against_libcrypto(void **state)
{
	(void)state;
	bderr err;
	bderr_init(&err);
	assert_int_equal(lazy_crypto_load(&err), 0);
	size_t max = 4096 + 200;
	unsigned char *buf = malloc(max);
	assert_non_null(buf);
	srand(12345);
	for (size_t i = 0; i < max; i++)
		buf[i] = (unsigned char)rand();
	int paths = sha256_cpu_has_ni() ? 2 : 1;
	for (int ni = 0; ni < paths; ni++)
		for (size_t len = 0; len < max; len += len < 300 ? 1 : 61) {
			unsigned char want[32], got[32];
			unsigned int n = 0;
			assert_int_equal(EVP_Digest(buf, len, want, &n, EVP_sha256(), NULL), 1);
			sha256_ctx c;
			sha256_init(&c);
			c.ni = ni;
			/* pieces of 1..130 bytes: partial blocks, whole blocks and both at once */
			for (size_t off = 0; off < len;) {
				size_t k = (size_t)(rand() % 130) + 1;
				if (k > len - off)
					k = len - off;
				sha256_update(&c, buf + off, k);
				off += k;
			}
			sha256_final(&c, got);
			assert_memory_equal(got, want, 32);
		}
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fips_vectors),
		cmocka_unit_test(test_against_libcrypto),
	};
	printf("sha256: %s\n", sha256_cpu_has_ni() ? "SHA instructions and portable" : "portable only");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
