/*
 * SQL-ish noise for the statement parsers' unit tests: pieces drawn by a
 * fixed-seed generator, so a failure replays.
 */
#ifndef BACKUPD_TESTS_SQL_NOISE_H
#define BACKUPD_TESTS_SQL_NOISE_H

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

#endif
