/*
 * Client libraries loaded on first use.
 *
 * libpq, libmariadb, libcurl and libmicrohttpd (with their own dependencies:
 * gssapi/krb5/ldap, gnutls, nghttp2, ssh2, ...) are not linked into the
 * programs: linked, the dynamic loader maps and relocates all of them at every
 * process start, about 4.5 ms of the ~7 ms a start costs, and a
 * `backupd wal-push` to a local repository (PostgreSQL's archive_command, one
 * process per WAL segment) uses none of them.  Instead common/lazy_*.c define
 * the functions backupd calls, with the libraries' own prototypes (their
 * headers are included, so the compiler checks every one), and each stub
 * forwards to the real function, dlopen()ed by its SONAME (found by configure
 * from the library's DT_SONAME) the first time any of them is called.
 *
 * A library that cannot be loaded makes its stubs return the library's own
 * failure values (NULL from PQconnectdbParams / mysql_init / curl_easy_init /
 * MHD_start_daemon, an error code elsewhere), which callers already handle;
 * the entry points (connecting, opening an S3 repository, a webhook, the
 * metrics server) call lazy_*_load first so that the error the user sees is
 * the one line naming the library and the Debian package that provides it.
 */
#ifndef BACKUPD_COMMON_LAZYLIB_H
#define BACKUPD_COMMON_LAZYLIB_H

#include <stddef.h>

#include "common/error.h"

typedef struct lazylib_sym {
	const char *name;
	void **slot; /* the function pointer the stub calls through */
} lazylib_sym;

/*
 * One library.  The only mutable state is written once, under a mutex, by the
 * first load attempt (the outcome is kept: a failed load is not retried).
 */
typedef struct lazylib {
	const char *soname;  /* "libpq.so.5" */
	const char *package; /* the Debian package that ships it: "libpq5" */
	const lazylib_sym *syms;
	size_t nsyms;
	int state;       /* 0 not tried, 1 loaded, -1 failed; atomic accesses */
	char error[512]; /* why the load failed */
} lazylib;

#define LAZYLIB_INIT(soname, package, syms) {(soname), (package), (syms), sizeof(syms) / sizeof(*(syms)), 0, ""}

/*
 * Loads lib and resolves all of its symbols the first time (RTLD_NOW |
 * RTLD_LOCAL); 0 once loaded.  -1 when the library or one of its symbols is
 * missing, with err (may be NULL) set to one line naming the library and its
 * Debian package.  Thread-safe; after the first call it is one atomic load.
 */
int lazylib_load(lazylib *lib, bderr *err);

/* The reason the last load of lib failed, "" if it did not. */
const char *lazylib_error(const lazylib *lib);

/* The four libraries: 0 when usable, else -1 with err set (see above). */
int lazy_pq_load(bderr *err);
int lazy_mysql_load(bderr *err);
int lazy_curl_load(bderr *err);
int lazy_mhd_load(bderr *err);
/* libcrypto, the same way (common/lazy_crypto.c): loaded by encrypted repositories, S3 and provisioning. */
int lazy_crypto_load(bderr *err);
/* libexpat (S3's XML) and libinih (the config file), the same way. */
int lazy_expat_load(bderr *err);
int lazy_inih_load(bderr *err);

/*
 * Stub generators for the lazy_*.c files: LAZYLIB_PTR declares the pointer a
 * stub calls through, LAZYLIB_SYM lists it for resolution, LAZYLIB_STUB
 * defines the function (returning fail when the library cannot be loaded),
 * LAZYLIB_STUBV the same for a function returning void (then a no-op).
 */
#define LAZYLIB_PTR(ret, name, params) static ret(*lz_##name) params;
#define LAZYLIB_SYM(name) {#name, (void **)&lz_##name},
#define LAZYLIB_STUB(lib, ret, name, params, args, fail) \
	ret name params                                  \
	{                                                \
		if (lazylib_load(&(lib), NULL) < 0)      \
			return fail;                     \
		return lz_##name args;                   \
	}
#define LAZYLIB_STUBV(lib, name, params, args)           \
	void name params                                 \
	{                                                \
		if (lazylib_load(&(lib), NULL) == 0)     \
			lz_##name args;                  \
	}

/*
 * A lazy_*.c file lists its functions once, as an X-macro taking F(ret, name,
 * params, args, fail) and V(name, params, args) (void), and expands it three
 * times with these: pointers, the symbol table, the stubs (of the library
 * named by LAZYLIB_CURRENT).
 */
#define LAZYLIB_F_PTR(ret, name, params, args, fail) LAZYLIB_PTR(ret, name, params)
#define LAZYLIB_V_PTR(name, params, args) LAZYLIB_PTR(void, name, params)
#define LAZYLIB_F_SYM(ret, name, params, args, fail) LAZYLIB_SYM(name)
#define LAZYLIB_V_SYM(name, params, args) LAZYLIB_SYM(name)
#define LAZYLIB_F_STUB(ret, name, params, args, fail) LAZYLIB_STUB(LAZYLIB_CURRENT, ret, name, params, args, fail)
#define LAZYLIB_V_STUB(name, params, args) LAZYLIB_STUBV(LAZYLIB_CURRENT, name, params, args)

#endif
