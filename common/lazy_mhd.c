/*
 * libmicrohttpd (the daemon's /metrics server), loaded on first use (see
 * lazylib.h).  Every function backupd calls has a stub here.
 */
#include <stdarg.h>
#include <stdint.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "common/lazylib.h"

#ifndef LAZY_MHD_SONAME
#define LAZY_MHD_SONAME BD_SONAME_MHD
#endif

#define MHD_FUNCS(F, V)                                                                                    \
	F(enum MHD_Result, MHD_add_response_header, (struct MHD_Response * r, const char *h, const char *c), \
	  (r, h, c), MHD_NO)                                                                                 \
	F(struct MHD_Response *, MHD_create_response_from_buffer,                                            \
	  (size_t n, void *b, enum MHD_ResponseMemoryMode m), (n, b, m), NULL)                               \
	V(MHD_destroy_response, (struct MHD_Response * r), (r))                                              \
	F(enum MHD_Result, MHD_queue_response, (struct MHD_Connection * c, unsigned int s, struct MHD_Response * r), \
	  (c, s, r), MHD_NO)                                                                                 \
	V(MHD_stop_daemon, (struct MHD_Daemon * d), (d))

MHD_FUNCS(LAZYLIB_F_PTR, LAZYLIB_V_PTR)
LAZYLIB_PTR(struct MHD_Daemon *, MHD_start_daemon_va,
	    (unsigned int f, uint16_t p, MHD_AcceptPolicyCallback apc, void *apc_cls, MHD_AccessHandlerCallback dh,
	     void *dh_cls, va_list ap))

static const lazylib_sym mhd_syms[] = {MHD_FUNCS(LAZYLIB_F_SYM, LAZYLIB_V_SYM) LAZYLIB_SYM(MHD_start_daemon_va)};
static lazylib mhd_lib = LAZYLIB_INIT(LAZY_MHD_SONAME, BD_PACKAGE_MHD, mhd_syms);

#define LAZYLIB_CURRENT mhd_lib
MHD_FUNCS(LAZYLIB_F_STUB, LAZYLIB_V_STUB)

int lazy_mhd_load(bderr *err)
{
	return lazylib_load(&mhd_lib, err);
}

/* the option list goes through the library's own va_list variant */
struct MHD_Daemon *MHD_start_daemon(unsigned int flags, uint16_t port, MHD_AcceptPolicyCallback apc,
				    void *apc_cls, MHD_AccessHandlerCallback dh, void *dh_cls, ...)
{
	if (lazylib_load(&mhd_lib, NULL) < 0)
		return NULL;
	va_list ap;
	va_start(ap, dh_cls);
	struct MHD_Daemon *d = lz_MHD_start_daemon_va(flags, port, apc, apc_cls, dh, dh_cls, ap);
	va_end(ap);
	return d;
}
