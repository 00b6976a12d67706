/*
 * libexpat (S3 responses: archive/s3/xml.c), loaded on first use (see
 * lazylib.h): a wal-push to a local repository never parses XML, and linked,
 * its mapping and relocation cost every process start ~0.2 ms.  Every
 * function backupd calls has a stub here.
 */
#include <expat.h>

#include "common/lazylib.h"

#ifndef LAZY_EXPAT_SONAME
#define LAZY_EXPAT_SONAME BD_SONAME_EXPAT
#endif

#define EXPAT_FUNCS(F, V)                                                                                  \
	F(const XML_LChar *, XML_ErrorString, (enum XML_Error code), (code), "libexpat is not loaded")       \
	F(XML_Size, XML_GetCurrentLineNumber, (XML_Parser p), (p), 0)                                       \
	F(enum XML_Error, XML_GetErrorCode, (XML_Parser p), (p), XML_ERROR_NO_MEMORY)                       \
	F(enum XML_Status, XML_Parse, (XML_Parser p, const char *s, int len, int final), (p, s, len, final), \
	  XML_STATUS_ERROR)                                                                                  \
	F(XML_Parser, XML_ParserCreateNS, (const XML_Char *encoding, XML_Char sep), (encoding, sep), NULL)  \
	V(XML_ParserFree, (XML_Parser p), (p))                                                               \
	V(XML_SetCharacterDataHandler, (XML_Parser p, XML_CharacterDataHandler h), (p, h))                   \
	V(XML_SetElementHandler, (XML_Parser p, XML_StartElementHandler s, XML_EndElementHandler e), (p, s, e)) \
	V(XML_SetStartDoctypeDeclHandler, (XML_Parser p, XML_StartDoctypeDeclHandler h), (p, h))             \
	V(XML_SetUserData, (XML_Parser p, void *user), (p, user))                                            \
	F(enum XML_Status, XML_StopParser, (XML_Parser p, XML_Bool resumable), (p, resumable), XML_STATUS_ERROR)

EXPAT_FUNCS(LAZYLIB_F_PTR, LAZYLIB_V_PTR)

static const lazylib_sym expat_syms[] = {EXPAT_FUNCS(LAZYLIB_F_SYM, LAZYLIB_V_SYM)};
static lazylib expat_lib = LAZYLIB_INIT(LAZY_EXPAT_SONAME, BD_PACKAGE_EXPAT, expat_syms);

#define LAZYLIB_CURRENT expat_lib
EXPAT_FUNCS(LAZYLIB_F_STUB, LAZYLIB_V_STUB)

int lazy_expat_load(bderr *err)
{
	return lazylib_load(&expat_lib, err);
}
