/*
 * libpq, loaded on first use (see lazylib.h).  Every libpq function backupd
 * calls has a stub here; one missing is a link error.
 */
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "common/lazylib.h"

/* configure finds the SONAME; a test builds this file against a missing one */
#ifndef LAZY_PQ_SONAME
#define LAZY_PQ_SONAME BD_SONAME_PQ
#endif

/* F: stub returning the last argument when libpq cannot be loaded; V: void */
#define PQ_FUNCS(F, V)                                                                                       \
	F(PGconn *, PQconnectdbParams, (const char *const *k, const char *const *v, int x), (k, v, x), NULL) \
	F(PQconninfoOption *, PQconninfoParse, (const char *s, char **e), (s, e), parse_failed(e))               \
	V(PQconninfoFree, (PQconninfoOption * o), (o))                                                       \
	V(PQclear, (PGresult * r), (r))                                                                      \
	F(char *, PQcmdTuples, (PGresult * r), (r), NULL)                                                    \
	F(char *, PQencryptPasswordConn, (PGconn * c, const char *p, const char *u, const char *a),          \
	  (c, p, u, a), NULL)                                                                                \
	F(char *, PQescapeIdentifier, (PGconn * c, const char *s, size_t n), (c, s, n), NULL)                \
	F(char *, PQescapeLiteral, (PGconn * c, const char *s, size_t n), (c, s, n), NULL)                   \
	F(PGresult *, PQexec, (PGconn * c, const char *q), (c, q), NULL)                                     \
	F(PGresult *, PQexecParams,                                                                          \
	  (PGconn * c, const char *q, int n, const Oid *t, const char *const *v, const int *l, const int *f, \
	   int rf),                                                                                          \
	  (c, q, n, t, v, l, f, rf), NULL)                                                                   \
	V(PQfinish, (PGconn * c), (c))                                                                       \
	F(int, PQgetCopyData, (PGconn * c, char **b, int a), (c, b, a), -2)                                  \
	F(PGresult *, PQgetResult, (PGconn * c), (c), NULL)                                                  \
	F(int, PQgetisnull, (const PGresult *r, int t, int f), (r, t, f), 1)                                 \
	F(char *, PQgetvalue, (const PGresult *r, int t, int f), (r, t, f), NULL)                            \
	F(char *, PQhost, (const PGconn *c), (c), NULL)                                                      \
	F(int, PQnfields, (const PGresult *r), (r), 0)                                                       \
	F(int, PQntuples, (const PGresult *r), (r), 0)                                                       \
	F(const char *, PQparameterStatus, (const PGconn *c, const char *p), (c, p), NULL)                   \
	F(char *, PQpass, (const PGconn *c), (c), NULL)                                                      \
	F(char *, PQport, (const PGconn *c), (c), NULL)                                                      \
	F(int, PQputCopyData, (PGconn * c, const char *b, int n), (c, b, n), -1)                             \
	F(int, PQputCopyEnd, (PGconn * c, const char *e), (c, e), -1)                                        \
	F(char *, PQresultErrorField, (const PGresult *r, int f), (r, f), NULL)                              \
	F(char *, PQresultErrorMessage, (const PGresult *r), (r), (char *)lazylib_error(&pq_lib))            \
	F(ExecStatusType, PQresultStatus, (const PGresult *r), (r), PGRES_FATAL_ERROR)                       \
	F(int, PQsendQuery, (PGconn * c, const char *q), (c, q), 0)                                          \
	F(int, PQserverVersion, (const PGconn *c), (c), 0)                                                   \
	F(PQnoticeProcessor, PQsetNoticeProcessor, (PGconn * c, PQnoticeProcessor p, void *a), (c, p, a),    \
	  NULL)                                                                                              \
	F(ConnStatusType, PQstatus, (const PGconn *c), (c), CONNECTION_BAD)                                  \
	F(PGTransactionStatusType, PQtransactionStatus, (const PGconn *c), (c), PQTRANS_UNKNOWN)             \
	F(int, lo_close, (PGconn * c, int fd), (c, fd), -1)                                                  \
	F(pg_int64, lo_lseek64, (PGconn * c, int fd, pg_int64 o, int w), (c, fd, o, w), -1)                  \
	F(int, lo_open, (PGconn * c, Oid o, int m), (c, o, m), -1)                                           \
	F(int, lo_read, (PGconn * c, int fd, char *b, size_t n), (c, fd, b, n), -1)                          \
	F(int, lo_write, (PGconn * c, int fd, const char *b, size_t n), (c, fd, b, n), -1)

PQ_FUNCS(LAZYLIB_F_PTR, LAZYLIB_V_PTR)
/* by hand below: they behave differently without the library */
LAZYLIB_PTR(char *, PQerrorMessage, (const PGconn *c))
LAZYLIB_PTR(void, PQfreemem, (void *p))

static const lazylib_sym pq_syms[] = {PQ_FUNCS(LAZYLIB_F_SYM, LAZYLIB_V_SYM) LAZYLIB_SYM(PQerrorMessage) LAZYLIB_SYM(PQfreemem)};
static lazylib pq_lib = LAZYLIB_INIT(LAZY_PQ_SONAME, BD_PACKAGE_PQ, pq_syms);

/* libpq's own contract: *errmsg is set (and freed with PQfreemem, here free) */
static PQconninfoOption *parse_failed(char **errmsg)
{
	if (errmsg)
		*errmsg = strdup(lazylib_error(&pq_lib));
	return NULL;
}

#define LAZYLIB_CURRENT pq_lib
PQ_FUNCS(LAZYLIB_F_STUB, LAZYLIB_V_STUB)

int lazy_pq_load(bderr *err)
{
	return lazylib_load(&pq_lib, err);
}

/* without libpq there is no connection: its "error message" is why */
char *PQerrorMessage(const PGconn *c)
{
	if (lazylib_load(&pq_lib, NULL) < 0)
		return (char *)lazylib_error(&pq_lib);
	return lz_PQerrorMessage(c);
}

/* nothing libpq allocated can exist without it; free(NULL) is the no-op */
void PQfreemem(void *p)
{
	if (lazylib_load(&pq_lib, NULL) < 0)
		free(p);
	else
		lz_PQfreemem(p);
}
