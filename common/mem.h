/*
 * Allocation helpers.  Running out of memory is not bad input but a broken
 * machine; like PostgreSQL's frontend pg_malloc we stop there with a message
 * instead of threading an impossible-to-handle error through every caller.
 */
#ifndef BACKUPD_COMMON_MEM_H
#define BACKUPD_COMMON_MEM_H

#include <stddef.h>
#include "common/error.h"

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) BD_PRINTF(1, 2);
/* Lowercase hex of in[0..n) into out, which holds 2n + 1 bytes (NUL-terminated). */
void hex_encode(const void *in, size_t n, char *out);
/* Percent-decodes s[0..n) (URI components); a malformed escape or %00 is kept as typed. */
char *pct_decode(const char *s, size_t n);

/* A growable byte buffer, always NUL-terminated for convenience. */
typedef struct strbuf {
	char *data;
	size_t len;
	size_t cap;
} strbuf;

void strbuf_init(strbuf *b);
void strbuf_append(strbuf *b, const void *data, size_t len);
void strbuf_appends(strbuf *b, const char *s);
void strbuf_appendf(strbuf *b, const char *fmt, ...) BD_PRINTF(2, 3);
void strbuf_reset(strbuf *b);
/* Returns the buffer's string and leaves b empty; caller frees. */
char *strbuf_detach(strbuf *b);
void strbuf_free(strbuf *b);

#endif
