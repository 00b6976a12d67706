/*
 * Helpers for the statement parsers' unit tests: SQL-ish noise drawn by a
 * fixed-seed generator (so a failure replays), and checking a rewrite.
 */
#ifndef BACKUPD_TESTS_SQL_NOISE_H
#define BACKUPD_TESTS_SQL_NOISE_H

#include <stdlib.h>
#include <string.h>

/* Fills buf (no NUL) with 1..max_parts pieces; returns its length. */
static inline size_t sql_noise(unsigned *seed, const char *const *pieces, size_t n_pieces, int max_parts,
			       char *buf, size_t cap)
{
	size_t len = 0;
	int parts = 1 + (int)((*seed = *seed * 1103515245u + 12345u) >> 16) % max_parts;
	for (int k = 0; k < parts; k++) {
		const char *p = pieces[((*seed = *seed * 1103515245u + 12345u) >> 16) % n_pieces];
		size_t l = strlen(p);
		if (len + l >= cap)
			break;
		memcpy(buf + len, p, l);
		len += l;
	}
	return len;
}

/*
 * A rewriter's answer: got (malloc'ed, freed here) is NULL when want is
 * NULL ("unchanged"), else equal to want.  Include cmocka.h first.
 */
static inline void sql_expect_rewrite(char *got, const char *want)
{
	if (want == NULL) {
		assert_null(got);
	} else {
		assert_non_null(got);
		assert_string_equal(got, want);
	}
	free(got);
}

#endif
