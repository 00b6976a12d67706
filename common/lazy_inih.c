/*
 * libinih (the config file: common/config.c; the AWS profile files:
 * archive/s3/credentials.c), loaded on first use (see
 * lazylib.h): an archive_command call without a config file parses none, and
 * linked, its mapping and relocation cost every process start ~0.2 ms.
 */
#include <stddef.h>

#include <ini.h>

#include "common/lazylib.h"

#ifndef LAZY_INIH_SONAME
#define LAZY_INIH_SONAME BD_SONAME_INIH
#endif

/* -1: "cannot open the file", -2: inih's own "out of memory"; the entry points load it first */
#define INIH_FUNCS(F, V)                                                                                  \
	F(int, ini_parse, (const char *filename, ini_handler handler, void *user), (filename, handler, user), -1) \
	F(int, ini_parse_stream, (ini_reader reader, void *stream, ini_handler handler, void *user),        \
	  (reader, stream, handler, user), -2)

INIH_FUNCS(LAZYLIB_F_PTR, LAZYLIB_V_PTR)

static const lazylib_sym inih_syms[] = {INIH_FUNCS(LAZYLIB_F_SYM, LAZYLIB_V_SYM)};
static lazylib inih_lib = LAZYLIB_INIT(LAZY_INIH_SONAME, BD_PACKAGE_INIH, inih_syms);

#define LAZYLIB_CURRENT inih_lib
INIH_FUNCS(LAZYLIB_F_STUB, LAZYLIB_V_STUB)

int lazy_inih_load(bderr *err)
{
	return lazylib_load(&inih_lib, err);
}
