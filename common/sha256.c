/* SHA-256 without libcrypto: see sha256.h for why. */
#include "common/sha256.h"

#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define SHA256_X86_NI 1
#include <cpuid.h>
#include <immintrin.h>
#endif

/* The first 32 bits of the fractional parts of the cube roots of the first 64 primes. */
static const uint32_t K[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static uint32_t rotr(uint32_t x, unsigned n)
{
	return (x >> n) | (x << (32 - n));
}

static uint32_t load_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void store_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

/* FIPS 180-4, 6.2.2, one 64-byte block at a time. */
static void blocks_portable(uint32_t h[8], const unsigned char *p, size_t n)
{
	for (; n > 0; n--, p += 64) {
		uint32_t w[64];
		for (int t = 0; t < 16; t++)
			w[t] = load_be32(p + 4 * t);
		for (int t = 16; t < 64; t++) {
			uint32_t s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >> 3);
			uint32_t s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >> 10);
			w[t] = w[t - 16] + s0 + w[t - 7] + s1;
		}
		uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
		for (int t = 0; t < 64; t++) {
			uint32_t t1 = hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[t] + w[t];
			uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
			hh = g;
			g = f;
			f = e;
			e = d + t1;
			d = c;
			c = b;
			b = a;
			a = t1 + t2;
		}
		h[0] += a;
		h[1] += b;
		h[2] += c;
		h[3] += d;
		h[4] += e;
		h[5] += f;
		h[6] += g;
		h[7] += hh;
	}
}

#ifdef SHA256_X86_NI
/*
 * The SHA extensions keep the state in two registers, {A,B,E,F} and {C,D,G,H}
 * (A and C in the top lane); sha256rnds2 does two rounds and its result is
 * the new {A,B,E,F}, the old one becoming {C,D,G,H}.  sha256msg1/msg2 compute
 * the message schedule four words at a time: W[t..t+3] from W[t-16..t-1].
 */
__attribute__((target("sha,sse4.1"))) static void blocks_ni(uint32_t h[8], const unsigned char *p, size_t n)
{
	/* reverses the bytes of each 32-bit lane: the message words are big-endian */
	const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
	__m128i abcd = _mm_loadu_si128((const __m128i *)&h[0]);
	__m128i efgh = _mm_loadu_si128((const __m128i *)&h[4]);
	abcd = _mm_shuffle_epi32(abcd, 0xB1);                /* lanes B A D C */
	efgh = _mm_shuffle_epi32(efgh, 0x1B);                /* lanes H G F E */
	__m128i abef = _mm_alignr_epi8(abcd, efgh, 8);       /* lanes F E B A */
	__m128i cdgh = _mm_blend_epi16(efgh, abcd, 0xF0);    /* lanes H G D C */

	for (; n > 0; n--, p += 64) {
		__m128i save_abef = abef, save_cdgh = cdgh;
		__m128i m0 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 0)), bswap);
		__m128i m1 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16)), bswap);
		__m128i m2 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 32)), bswap);
		__m128i m3 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 48)), bswap);
		/* m0 always holds the oldest four words, W[4g-16..4g-13] once g >= 4 */
		for (int g = 0; g < 16; g++) {
			if (g >= 4) {
				__m128i t = _mm_sha256msg1_epu32(m0, m1);
				t = _mm_add_epi32(t, _mm_alignr_epi8(m3, m2, 4)); /* + W[t-7] */
				m0 = _mm_sha256msg2_epu32(t, m3);
			}
			__m128i wk = _mm_add_epi32(m0, _mm_loadu_si128((const __m128i *)&K[4 * g]));
			cdgh = _mm_sha256rnds2_epu32(cdgh, abef, wk);
			abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(wk, 0x0E));
			__m128i oldest = m0;
			m0 = m1;
			m1 = m2;
			m2 = m3;
			m3 = oldest;
		}
		abef = _mm_add_epi32(abef, save_abef);
		cdgh = _mm_add_epi32(cdgh, save_cdgh);
	}

	__m128i feba = _mm_shuffle_epi32(abef, 0x1B);        /* lanes A B E F */
	__m128i dchg = _mm_shuffle_epi32(cdgh, 0xB1);        /* lanes G H C D */
	_mm_storeu_si128((__m128i *)&h[0], _mm_blend_epi16(feba, dchg, 0xF0)); /* A B C D */
	_mm_storeu_si128((__m128i *)&h[4], _mm_alignr_epi8(dchg, feba, 8));    /* E F G H */
}

static int detect_ni(void)
{
	unsigned a, b, c, d;
	if (!__get_cpuid(1, &a, &b, &c, &d))
		return 0;
	int sse41 = (c >> 19) & 1, ssse3 = (c >> 9) & 1;
	if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
		return 0;
	return sse41 && ssse3 && ((b >> 29) & 1);
}
#endif

int sha256_cpu_has_ni(void)
{
#ifdef SHA256_X86_NI
	/*
	 * Written once, like lazylib's load state: cpuid is a trap to the
	 * hypervisor in a VM (microseconds), too dear for every small digest.
	 * Racing first calls store the same value.  0 unknown, 1 no, 2 yes.
	 */
	static int known;
	int k = __atomic_load_n(&known, __ATOMIC_RELAXED);
	if (k == 0) {
		k = detect_ni() ? 2 : 1;
		__atomic_store_n(&known, k, __ATOMIC_RELAXED);
	}
	return k == 2;
#else
	return 0;
#endif
}

static void blocks(sha256_ctx *c, const unsigned char *p, size_t n)
{
#ifdef SHA256_X86_NI
	if (c->ni) {
		blocks_ni(c->h, p, n);
		return;
	}
#endif
	blocks_portable(c->h, p, n);
}

void sha256_init(sha256_ctx *c)
{
	static const uint32_t iv[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
					0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };
	memcpy(c->h, iv, sizeof iv);
	c->total = 0;
	c->used = 0;
	c->ni = sha256_cpu_has_ni();
}

void sha256_update(sha256_ctx *c, const void *data, size_t len)
{
	const unsigned char *p = data;
	c->total += len;
	if (c->used > 0) {
		size_t take = 64 - c->used < len ? 64 - c->used : len;
		memcpy(c->block + c->used, p, take);
		c->used += take;
		p += take;
		len -= take;
		if (c->used < 64)
			return;
		blocks(c, c->block, 1);
		c->used = 0;
	}
	if (len >= 64) {
		blocks(c, p, len / 64);
		p += len - len % 64;
		len %= 64;
	}
	if (len > 0) {
		memcpy(c->block, p, len);
		c->used = len;
	}
}

void sha256_final(sha256_ctx *c, unsigned char out[SHA256_DIGEST_LEN])
{
	uint64_t bits = c->total * 8;
	/* 0x80, zeros up to 56 mod 64, the length in bits big-endian (FIPS 180-4, 5.1.1) */
	c->block[c->used++] = 0x80;
	if (c->used > 56) {
		memset(c->block + c->used, 0, 64 - c->used);
		blocks(c, c->block, 1);
		c->used = 0;
	}
	memset(c->block + c->used, 0, 56 - c->used);
	store_be32(c->block + 56, (uint32_t)(bits >> 32));
	store_be32(c->block + 60, (uint32_t)bits);
	blocks(c, c->block, 1);
	for (int i = 0; i < 8; i++)
		store_be32(out + 4 * i, c->h[i]);
	memset(c, 0, sizeof *c);
}

void sha256_digest(const void *data, size_t len, unsigned char out[SHA256_DIGEST_LEN])
{
	sha256_ctx c;
	sha256_init(&c);
	sha256_update(&c, data, len);
	sha256_final(&c, out);
}
