/*
 * libcurl (S3 repositories, webhooks, notifications), loaded on first use
 * (see lazylib.h).  Every libcurl function backupd calls has a stub here.
 */
#define CURL_DISABLE_TYPECHECK /* the stubs below are the functions the type-checking macros wrap */
#include <stdarg.h>

#include <curl/curl.h>

#include "common/lazylib.h"

#ifndef LAZY_CURL_SONAME
#define LAZY_CURL_SONAME BD_SONAME_CURL
#endif

#define CURL_FUNCS(F, V)                                                                                  \
	F(CURLcode, curl_global_init, (long f), (f), CURLE_FAILED_INIT)                                   \
	F(CURL *, curl_easy_init, (void), (), NULL)                                                       \
	V(curl_easy_cleanup, (CURL * c), (c))                                                             \
	F(CURLcode, curl_easy_pause, (CURL * c, int b), (c, b), CURLE_FAILED_INIT)                        \
	F(CURLcode, curl_easy_perform, (CURL * c), (c), CURLE_FAILED_INIT)                                \
	V(curl_easy_reset, (CURL * c), (c))                                                               \
	F(CURLMcode, curl_multi_add_handle, (CURLM * m, CURL *c), (m, c), CURLM_BAD_HANDLE)               \
	F(CURLMcode, curl_multi_cleanup, (CURLM * m), (m), CURLM_BAD_HANDLE)                              \
	F(CURLMsg *, curl_multi_info_read, (CURLM * m, int *n), (m, n), NULL)                             \
	F(CURLM *, curl_multi_init, (void), (), NULL)                                                     \
	F(CURLMcode, curl_multi_perform, (CURLM * m, int *n), (m, n), CURLM_BAD_HANDLE)                   \
	F(CURLMcode, curl_multi_poll,                                                                     \
	  (CURLM * m, struct curl_waitfd fds[], unsigned int nfds, int ms, int *ret), (m, fds, nfds, ms, ret), \
	  CURLM_BAD_HANDLE)                                                                               \
	F(CURLMcode, curl_multi_remove_handle, (CURLM * m, CURL *c), (m, c), CURLM_BAD_HANDLE)            \
	F(CURLSHcode, curl_share_cleanup, (CURLSH * s), (s), CURLSHE_INVALID)                             \
	F(CURLSH *, curl_share_init, (void), (), NULL)                                                    \
	F(struct curl_slist *, curl_slist_append, (struct curl_slist * l, const char *d), (l, d), NULL)   \
	V(curl_slist_free_all, (struct curl_slist * l), (l))

CURL_FUNCS(LAZYLIB_F_PTR, LAZYLIB_V_PTR)
/* by hand below: variadic, or different without the library */
LAZYLIB_PTR(CURLcode, curl_easy_setopt, (CURL * c, CURLoption o, ...))
LAZYLIB_PTR(CURLcode, curl_easy_getinfo, (CURL * c, CURLINFO i, ...))
LAZYLIB_PTR(CURLSHcode, curl_share_setopt, (CURLSH * s, CURLSHoption o, ...))
LAZYLIB_PTR(const char *, curl_easy_strerror, (CURLcode e))

static const lazylib_sym curl_syms[] = {
	CURL_FUNCS(LAZYLIB_F_SYM, LAZYLIB_V_SYM) LAZYLIB_SYM(curl_easy_setopt) LAZYLIB_SYM(curl_easy_getinfo)
		LAZYLIB_SYM(curl_share_setopt) LAZYLIB_SYM(curl_easy_strerror)};
static lazylib curl_lib = LAZYLIB_INIT(LAZY_CURL_SONAME, BD_PACKAGE_CURL, curl_syms);

#define LAZYLIB_CURRENT curl_lib
CURL_FUNCS(LAZYLIB_F_STUB, LAZYLIB_V_STUB)

int lazy_curl_load(bderr *err)
{
	return lazylib_load(&curl_lib, err);
}

/*
 * The option number says the argument's type (curl.h's CURLOPTTYPE_*
 * ranges): long, object pointer, function pointer, curl_off_t, blob pointer.
 * It is read with that type and passed on as one; function pointers travel as
 * void (*)(void), which has the representation of any function pointer.
 */
CURLcode curl_easy_setopt(CURL *c, CURLoption o, ...)
{
	if (lazylib_load(&curl_lib, NULL) < 0)
		return CURLE_FAILED_INIT;
	va_list ap;
	va_start(ap, o);
	CURLcode rc;
	long type = (long)o / 10000 * 10000;
	if (type == CURLOPTTYPE_LONG)
		rc = lz_curl_easy_setopt(c, o, va_arg(ap, long));
	else if (type == CURLOPTTYPE_FUNCTIONPOINT)
		rc = lz_curl_easy_setopt(c, o, va_arg(ap, void (*)(void)));
	else if (type == CURLOPTTYPE_OFF_T)
		rc = lz_curl_easy_setopt(c, o, va_arg(ap, curl_off_t));
	else /* OBJECTPOINT (strings, slists, callback data) and BLOB */
		rc = lz_curl_easy_setopt(c, o, va_arg(ap, void *));
	va_end(ap);
	return rc;
}

/* every CURLINFO_* takes one pointer to where the value goes */
CURLcode curl_easy_getinfo(CURL *c, CURLINFO i, ...)
{
	if (lazylib_load(&curl_lib, NULL) < 0)
		return CURLE_FAILED_INIT;
	va_list ap;
	va_start(ap, i);
	CURLcode rc = lz_curl_easy_getinfo(c, i, va_arg(ap, void *));
	va_end(ap);
	return rc;
}

CURLSHcode curl_share_setopt(CURLSH *s, CURLSHoption o, ...)
{
	if (lazylib_load(&curl_lib, NULL) < 0)
		return CURLSHE_INVALID;
	va_list ap;
	va_start(ap, o);
	CURLSHcode rc;
	switch (o) {
	case CURLSHOPT_SHARE:
	case CURLSHOPT_UNSHARE:
		rc = lz_curl_share_setopt(s, o, va_arg(ap, int));
		break;
	case CURLSHOPT_LOCKFUNC:
	case CURLSHOPT_UNLOCKFUNC:
		rc = lz_curl_share_setopt(s, o, va_arg(ap, void (*)(void)));
		break;
	case CURLSHOPT_USERDATA:
		rc = lz_curl_share_setopt(s, o, va_arg(ap, void *));
		break;
	default:
		rc = CURLSHE_BAD_OPTION;
		break;
	}
	va_end(ap);
	return rc;
}

/* without libcurl every call failed for one reason: say it */
const char *curl_easy_strerror(CURLcode e)
{
	if (lazylib_load(&curl_lib, NULL) < 0)
		return lazylib_error(&curl_lib);
	return lz_curl_easy_strerror(e);
}
