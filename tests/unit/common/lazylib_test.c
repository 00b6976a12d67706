/*
 * Client libraries loaded on first use (common/lazylib.c, common/lazy_*.c).
 *
 * Built twice: lazylib_test against the real libraries (stubs forward every
 * argument class of the variadic functions), and lazylib_missing_test with
 * the stubs compiled against SONAMEs that do not exist (LAZYLIB_TEST_MISSING):
 * every entry point then fails with one line naming the library and its
 * Debian package, and the stubs return the libraries' own failure values.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define CURL_DISABLE_TYPECHECK
#include <curl/curl.h>
#include <libpq-fe.h>
#include <microhttpd.h>
#include <mysql.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "common/lazylib.h"

/* a library that is there but lacks a function: named in the error */
static void test_missing_symbol(void **state)
{
	(void)state;
	static void *fn;
	static const lazylib_sym syms[] = {{"strlen", &fn}, {"bd_no_such_function", &fn}};
	static lazylib lib = LAZYLIB_INIT("libc.so.6", "libc6", syms);
	bderr err;
	bderr_init(&err);
	assert_int_equal(lazylib_load(&lib, &err), -1);
	assert_non_null(strstr(err.msg, "libc.so.6 has no function bd_no_such_function"));
	assert_non_null(strstr(err.msg, "libc6"));
	assert_null(fn);
	/* the outcome is kept, not retried */
	bderr_init(&err);
	assert_int_equal(lazylib_load(&lib, &err), -1);
	assert_non_null(strstr(lazylib_error(&lib), "bd_no_such_function"));
}

static void test_missing_library(void **state)
{
	(void)state;
	static void *fn;
	static const lazylib_sym syms[] = {{"f", &fn}};
	static lazylib lib = LAZYLIB_INIT("libbd-no-such-library.so.7", "libbd-nothing7", syms);
	assert_string_equal(lazylib_error(&lib), "");
	bderr err;
	bderr_init(&err);
	assert_int_equal(lazylib_load(&lib, &err), -1);
	assert_non_null(strstr(err.msg, "cannot load the client library libbd-no-such-library.so.7 "
					"(install the Debian package libbd-nothing7)"));
	assert_int_equal(err.exit_code, EXIT_FAILURE_RUN);
}

#ifndef LAZYLIB_TEST_MISSING

static size_t discard(char *p, size_t size, size_t n, void *ctx)
{
	(void)p;
	(void)ctx;
	return size * n;
}

/* each argument class of curl_easy_setopt reaches libcurl intact */
static void test_curl_forwarding(void **state)
{
	(void)state;
	bderr err;
	bderr_init(&err);
	assert_int_equal(lazy_curl_load(&err), 0);
	CURL *c = curl_easy_init();
	assert_non_null(c);
	int marker;
	assert_int_equal(curl_easy_setopt(c, CURLOPT_PRIVATE, &marker), CURLE_OK);   /* object pointer */
	assert_int_equal(curl_easy_setopt(c, CURLOPT_TIMEOUT, 5L), CURLE_OK);        /* long */
	assert_int_equal(curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard), CURLE_OK); /* function */
	assert_int_equal(curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)1 << 40), CURLE_OK);
	assert_int_equal(curl_easy_setopt(c, CURLOPT_URL, "http://127.0.0.1:1/x"), CURLE_OK);
	/* a long option out of range is refused: the value arrived as a long */
	assert_int_equal(curl_easy_setopt(c, CURLOPT_SSLVERSION, 1000L), CURLE_BAD_FUNCTION_ARGUMENT);
	void *back = NULL;
	assert_int_equal(curl_easy_getinfo(c, CURLINFO_PRIVATE, &back), CURLE_OK);
	assert_ptr_equal(back, &marker);
	curl_easy_cleanup(c);
	CURLSH *sh = curl_share_init();
	assert_non_null(sh);
	assert_int_equal(curl_share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS), CURLSHE_OK);
	assert_int_equal(curl_share_setopt(sh, CURLSHOPT_USERDATA, &marker), CURLSHE_OK);
	assert_int_equal(curl_share_setopt(sh, CURLSHOPT_NONE, NULL), CURLSHE_BAD_OPTION);
	assert_int_equal(curl_share_cleanup(sh), CURLSHE_OK);
	assert_string_equal(curl_easy_strerror(CURLE_OK), "No error");
}

static void test_pq_mysql_mhd_load(void **state)
{
	(void)state;
	bderr err;
	bderr_init(&err);
	assert_int_equal(lazy_pq_load(&err), 0);
	assert_int_equal(lazy_mysql_load(&err), 0);
	assert_int_equal(lazy_mhd_load(&err), 0);
	char *msg = NULL;
	PQconninfoOption *o = PQconninfoParse("host=h port=5 dbname=d", &msg);
	assert_non_null(o);
	PQconninfoFree(o);
	assert_null(PQconninfoParse("host='unterminated", &msg));
	assert_non_null(msg);
	PQfreemem(msg);
	MYSQL *m = mysql_init(NULL);
	assert_non_null(m);
	unsigned timeout = 3;
	assert_int_equal(mysql_optionsv(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout), 0);
	assert_int_equal(mysql_optionsv(m, MYSQL_SET_CHARSET_NAME, "utf8mb4"), 0);
	mysql_close(m);
}

/* libcrypto through its stubs: a known digest, the constant-time compare, the wipe */
static void test_crypto_forwarding(void **state)
{
	(void)state;
	bderr err;
	bderr_init(&err);
	assert_int_equal(lazy_crypto_load(&err), 0);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	assert_int_equal(EVP_Digest("abc", 3, md, &len, EVP_sha256(), NULL), 1);
	assert_int_equal(len, 32);
	static const unsigned char abc[4] = { 0xba, 0x78, 0x16, 0xbf }; /* FIPS 180-2's "abc" */
	assert_memory_equal(md, abc, sizeof abc);
	assert_int_equal(CRYPTO_memcmp(md, md, len), 0);
	assert_int_not_equal(CRYPTO_memcmp(md, abc + 1, 3), 0);
	OPENSSL_cleanse(md, len);
	for (unsigned i = 0; i < len; i++)
		assert_int_equal(md[i], 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_missing_symbol),
		cmocka_unit_test(test_missing_library),
		cmocka_unit_test(test_curl_forwarding),
		cmocka_unit_test(test_pq_mysql_mhd_load),
		cmocka_unit_test(test_crypto_forwarding),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

#else /* LAZYLIB_TEST_MISSING */

#include "archive/s3/s3.h"
#include "backupd/metrics_http.h"
#include "backupd/webhook.h"
#include "engines/mysql/myconn.h"
#include "engines/pg/pgconn.h"

static void assert_names(const char *msg, const char *soname, const char *package)
{
	assert_non_null(strstr(msg, soname));
	char pkg[128];
	snprintf(pkg, sizeof pkg, "install the Debian package %s", package);
	assert_non_null(strstr(msg, pkg));
}

static void test_pq_missing(void **state)
{
	(void)state;
	bderr err;
	bderr_init(&err);
	PGconn *c = NULL;
	assert_int_equal(pg_connect("postgresql://localhost/app", NULL, NULL, "test", &c, &err), -1);
	assert_null(c);
	assert_names(err.msg, "libbd-missing-pq.so.5", BD_PACKAGE_PQ);
	/* the stubs themselves: libpq's failure values, the reason where libpq gives a message */
	assert_null(PQconnectdbParams((const char *const[]){NULL}, (const char *const[]){NULL}, 0));
	assert_int_equal(PQstatus(NULL), CONNECTION_BAD);
	assert_names(PQerrorMessage(NULL), "libbd-missing-pq.so.5", BD_PACKAGE_PQ);
	char *msg = NULL;
	assert_null(PQconninfoParse("host=h", &msg));
	assert_non_null(msg);
	assert_names(msg, "libbd-missing-pq.so.5", BD_PACKAGE_PQ);
	PQfreemem(msg);
	PQfinish(NULL);
	PQclear(NULL);
}

static void test_mysql_missing(void **state)
{
	(void)state;
	bderr err;
	bderr_init(&err);
	my_uri u;
	assert_int_equal(my_uri_parse("mysql://root@localhost/app", &u, &err), 0);
	MYSQL *c = (MYSQL *)1;
	assert_int_equal(my_connect(&u, NULL, NULL, MY_NAMES_UTF8MB4, 0, &c, &err), -1);
	assert_null(c);
	assert_names(err.msg, "libbd-missing-mariadb.so.3", BD_PACKAGE_MYSQL);
	my_uri_clear(&u);
	assert_null(mysql_init(NULL));
	assert_int_equal(mysql_optionsv(NULL, MYSQL_OPT_CONNECT_TIMEOUT, &(unsigned){1}), 1);
	mysql_close(NULL);
}

static void test_curl_missing(void **state)
{
	(void)state;
	bderr err;
	bderr_init(&err);
	storage *s = NULL;
	assert_int_equal(s3_storage_new("s3://bucket/prefix", NULL, &s, &err), -1);
	assert_null(s);
	assert_names(err.msg, "libbd-missing-curl.so.4", BD_PACKAGE_CURL);
	bderr_init(&err);
	webhook_delivery d = WEBHOOK_DELIVERY_DEFAULT;
	assert_int_equal(webhook_post("http://127.0.0.1:1/hook", "{}", &d, &err), -1);
	assert_names(err.msg, "libbd-missing-curl.so.4", BD_PACKAGE_CURL);
	assert_null(curl_easy_init());
	assert_int_equal(curl_easy_setopt(NULL, CURLOPT_TIMEOUT, 1L), CURLE_FAILED_INIT);
	assert_names(curl_easy_strerror(CURLE_FAILED_INIT), "libbd-missing-curl.so.4", BD_PACKAGE_CURL);
	curl_easy_cleanup(NULL);
	curl_slist_free_all(NULL);
}

static void test_mhd_missing(void **state)
{
	(void)state;
	bderr err;
	bderr_init(&err);
	metrics_server *srv = (metrics_server *)1;
	metrics_snapshot first = {0};
	assert_int_equal(metrics_server_new("127.0.0.1:1", &first, &srv, &err), -1);
	assert_null(srv);
	assert_names(err.msg, "libbd-missing-microhttpd.so.12", BD_PACKAGE_MHD);
	assert_non_null(strstr(err.msg, "http-listen 127.0.0.1:1: cannot load"));
	assert_null(MHD_start_daemon(0, 0, NULL, NULL, NULL, NULL, MHD_OPTION_END));
	MHD_stop_daemon(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_missing_symbol),
		cmocka_unit_test(test_missing_library),
		cmocka_unit_test(test_pq_missing),
		cmocka_unit_test(test_mysql_missing),
		cmocka_unit_test(test_curl_missing),
		cmocka_unit_test(test_mhd_missing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

#endif
