/*
 * One error convention for the whole code base: a function that can fail
 * returns 0 on success or -1 on failure and fills a caller-owned bderr with
 * one line that names the thing that failed and why.  Only main() turns an
 * error into an exit code, so the error also carries the exit code it maps to
 * (1 for a failure, 2 for a usage or configuration error).
 */
#ifndef BACKUPD_COMMON_ERROR_H
#define BACKUPD_COMMON_ERROR_H

#include <stddef.h>

#define BDERR_MSG_MAX 1024

enum {
	EXIT_OK = 0,
	EXIT_FAILURE_RUN = 1, /* the operation failed */
	EXIT_USAGE = 2        /* bad command line or configuration */
};

typedef struct bderr {
	int exit_code; /* EXIT_FAILURE_RUN or EXIT_USAGE once set */
	int sys_errno; /* errno that caused it, 0 if none */
	char msg[BDERR_MSG_MAX];
} bderr;

#define BD_PRINTF(f, a) __attribute__((format(printf, f, a)))

/*
 * The plural ending of a count in a message: "%zu segment%s", n, plural_s(n).
 * One helper so that no message says "1 segments" (or "0 segment").
 */
static inline const char *plural_s(unsigned long long n)
{
	return n == 1 ? "" : "s";
}

void bderr_init(bderr *e);

/* Sets the message; returns -1 so callers can write `return bderr_set(...)`. */
int bderr_set(bderr *e, const char *fmt, ...) BD_PRINTF(2, 3);

/* Sets the message and appends ": strerror(errnum)". Returns -1. */
int bderr_sys(bderr *e, int errnum, const char *fmt, ...) BD_PRINTF(3, 4);

/* Sets the message and marks it as a usage/config error (exit 2). Returns -1. */
int bderr_usage(bderr *e, const char *fmt, ...) BD_PRINTF(2, 3);

/* Prepends context: "context: previous message". Returns -1. */
int bderr_prefix(bderr *e, const char *fmt, ...) BD_PRINTF(2, 3);

/* True once a message was set. */
int bderr_isset(const bderr *e);

/*
 * Several errors, for the places that report every problem at once (check
 * validating a whole config) instead of stopping at the first.
 */
typedef struct bderr_list {
	bderr *items;
	size_t n;
} bderr_list;

/* Appends a copy of e; e is reset so the caller can go on with it. */
void bderr_list_add(bderr_list *l, bderr *e);
void bderr_list_free(bderr_list *l);

#endif
