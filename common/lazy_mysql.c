/*
 * libmariadb (the MySQL/MariaDB client), loaded on first use (see
 * lazylib.h).  Every client function backupd calls has a stub here; one
 * missing is a link error.
 */
#include <stdarg.h>

#include <mysql.h>

#include "common/lazylib.h"

#ifndef LAZY_MYSQL_SONAME
#define LAZY_MYSQL_SONAME BD_SONAME_MYSQL
#endif

/* client error code "unknown error" (CR_UNKNOWN_ERROR) */
#define LAZY_CR_UNKNOWN_ERROR 2000

/* F: stub returning the last argument when the library cannot be loaded; V: void */
#define MY_FUNCS(F, V)                                                                                      \
	F(MYSQL *, mysql_init, (MYSQL * m), (m), NULL)                                                      \
	F(my_ulonglong, mysql_affected_rows, (MYSQL * m), (m), (my_ulonglong)-1)                            \
	V(mysql_close, (MYSQL * m), (m))                                                                    \
	F(unsigned int, mysql_errno, (MYSQL * m), (m), LAZY_CR_UNKNOWN_ERROR)                               \
	F(const char *, mysql_error, (MYSQL * m), (m), lazylib_error(&my_lib))                              \
	F(MYSQL_FIELD *, mysql_fetch_fields, (MYSQL_RES * r), (r), NULL)                                    \
	F(unsigned long *, mysql_fetch_lengths, (MYSQL_RES * r), (r), NULL)                                 \
	F(MYSQL_ROW, mysql_fetch_row, (MYSQL_RES * r), (r), NULL)                                           \
	F(unsigned int, mysql_field_count, (MYSQL * m), (m), 0)                                             \
	V(mysql_free_result, (MYSQL_RES * r), (r))                                                          \
	F(char *, mysql_get_server_info, (MYSQL * m), (m), NULL)                                            \
	F(my_socket, mysql_get_socket, (MYSQL * m), (m), (my_socket)-1)                                     \
	F(unsigned long, mysql_get_server_version, (MYSQL * m), (m), 0)                                     \
	F(unsigned long, mysql_hex_string, (char *t, const char *f, unsigned long n), (t, f, n), 0)         \
	F(int, mysql_next_result, (MYSQL * m), (m), 1)                                                      \
	F(unsigned int, mysql_num_fields, (MYSQL_RES * r), (r), 0)                                          \
	F(my_ulonglong, mysql_num_rows, (MYSQL_RES * r), (r), 0)                                            \
	F(int, mysql_query, (MYSQL * m, const char *q), (m, q), 1)                                          \
	F(MYSQL *, mysql_real_connect,                                                                      \
	  (MYSQL * m, const char *h, const char *u, const char *p, const char *d, unsigned int port,        \
	   const char *s, unsigned long f),                                                                 \
	  (m, h, u, p, d, port, s, f), NULL)                                                                \
	F(unsigned long, mysql_real_escape_string, (MYSQL * m, char *t, const char *f, unsigned long n),    \
	  (m, t, f, n), (unsigned long)-1)                                                                  \
	F(int, mysql_real_query, (MYSQL * m, const char *q, unsigned long n), (m, q, n), 1)                 \
	F(int, mysql_select_db, (MYSQL * m, const char *d), (m, d), 1)                                      \
	V(mysql_set_local_infile_handler,                                                                   \
	  (MYSQL * m, int (*init)(void **, const char *, void *), int (*rd)(void *, char *, unsigned int),  \
	   void (*end)(void *), int (*er)(void *, char *, unsigned int), void *u),                          \
	  (m, init, rd, end, er, u))                                                                        \
	F(int, mysql_ssl_set,                                                                               \
	  (MYSQL * m, const char *k, const char *c, const char *ca, const char *cp, const char *ci),        \
	  (m, k, c, ca, cp, ci), 1)                                                                         \
	F(MYSQL_RES *, mysql_store_result, (MYSQL * m), (m), NULL)                                          \
	V(mysql_thread_end, (void), ())                                                                     \
	F(my_bool, mysql_thread_init, (void), (), 1)                                                        \
	F(MYSQL_RES *, mysql_use_result, (MYSQL * m), (m), NULL)                                            \
	F(unsigned int, mysql_warning_count, (MYSQL * m), (m), 0)

MY_FUNCS(LAZYLIB_F_PTR, LAZYLIB_V_PTR)
/* the variadic ones, by hand below */
LAZYLIB_PTR(int, mysql_optionsv, (MYSQL * m, enum mysql_option o, ...))
LAZYLIB_PTR(my_bool, mariadb_get_infov, (MYSQL * m, enum mariadb_value v, void *arg, ...))

static const lazylib_sym my_syms[] = {MY_FUNCS(LAZYLIB_F_SYM, LAZYLIB_V_SYM) LAZYLIB_SYM(mysql_optionsv)
					      LAZYLIB_SYM(mariadb_get_infov)};
static lazylib my_lib = LAZYLIB_INIT(LAZY_MYSQL_SONAME, BD_PACKAGE_MYSQL, my_syms);

#define LAZYLIB_CURRENT my_lib
MY_FUNCS(LAZYLIB_F_STUB, LAZYLIB_V_STUB)

int lazy_mysql_load(bderr *err)
{
	return lazylib_load(&my_lib, err);
}

/*
 * Every option takes one pointer argument except the key/value ones, which
 * take two; backupd passes pointers only (never an integer by value).
 */
int mysql_optionsv(MYSQL *m, enum mysql_option o, ...)
{
	if (lazylib_load(&my_lib, NULL) < 0)
		return 1;
	va_list ap;
	va_start(ap, o);
	void *a = va_arg(ap, void *);
	int rc;
	if (o == MYSQL_OPT_CONNECT_ATTR_ADD || o == MARIADB_OPT_USERDATA)
		rc = lz_mysql_optionsv(m, o, a, va_arg(ap, void *));
	else
		rc = lz_mysql_optionsv(m, o, a);
	va_end(ap);
	return rc;
}

/* backupd asks only for values that need no argument beyond arg */
my_bool mariadb_get_infov(MYSQL *m, enum mariadb_value v, void *arg, ...)
{
	if (lazylib_load(&my_lib, NULL) < 0)
		return 1;
	return lz_mariadb_get_infov(m, v, arg);
}
