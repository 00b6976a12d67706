/*
 * Vectors from the AWS Signature Version 4 test suite (service "service",
 * us-east-1, 20150830T123600Z) and the S3 GetObject example of the S3 API
 * reference ("Signature Calculations for the Authorization Header").
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "archive/filter.h"
#include "archive/s3/sigv4.h"

#define SUITE_DATE "20150830T123600Z"
#define SUITE_CRED "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "

static const sigv4_scope suite_scope = {
	"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "us-east-1", "service", SUITE_DATE
};

static void check(const sigv4_request *r, const sigv4_scope *sc, const char *creq,
		  const char *sts, const char *auth)
{
	char *sh;
	char *c = sigv4_canonical_request(r, &sh);
	if (creq)
		assert_string_equal(c, creq);
	char *s = sigv4_string_to_sign(sc, c);
	if (sts)
		assert_string_equal(s, sts);
	char *a = sigv4_authorization(r, sc);
	assert_string_equal(a, auth);
	free(sh);
	free(c);
	free(s);
	free(a);
}

static void test_get_vanilla(void **state)
{
	(void)state;
	const sigv4_pair h[] = { { "Host", "example.amazonaws.com" }, { "X-Amz-Date", SUITE_DATE } };
	const sigv4_request r = { "GET", "/", NULL, 0, h, 2, SIGV4_EMPTY_SHA256 };
	check(&r, &suite_scope,
	      "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n"
	      SIGV4_EMPTY_SHA256,
	      "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
	      "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63",
	      SUITE_CRED "SignedHeaders=host;x-amz-date, "
			 "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
}

static void test_get_vanilla_query_order_key_case(void **state)
{
	(void)state;
	const sigv4_pair h[] = { { "Host", "example.amazonaws.com" }, { "X-Amz-Date", SUITE_DATE } };
	const sigv4_pair q[] = { { "Param2", "value2" }, { "Param1", "value1" } };
	const sigv4_request r = { "GET", "/", q, 2, h, 2, SIGV4_EMPTY_SHA256 };
	check(&r, &suite_scope,
	      "GET\n/\nParam1=value1&Param2=value2\nhost:example.amazonaws.com\n"
	      "x-amz-date:20150830T123600Z\n\nhost;x-amz-date\n" SIGV4_EMPTY_SHA256,
	      "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
	      "816cd5b414d056048ba4f7c5386d6e0533120fb1fcfa93762cf0fc39e2cf19e0",
	      SUITE_CRED "SignedHeaders=host;x-amz-date, "
			 "Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
}

static void test_post_x_www_form_urlencoded(void **state)
{
	(void)state;
	const sigv4_pair h[] = { { "Content-Type", "application/x-www-form-urlencoded" },
				 { "Host", "example.amazonaws.com" },
				 { "X-Amz-Date", SUITE_DATE } };
	char ph[65];
	sha256_hex("Param1=value1", 13, ph);
	assert_string_equal(ph, "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e");
	const sigv4_request r = { "POST", "/", NULL, 0, h, 3, ph };
	check(&r, &suite_scope,
	      "POST\n/\n\ncontent-type:application/x-www-form-urlencoded\nhost:example.amazonaws.com\n"
	      "x-amz-date:20150830T123600Z\n\ncontent-type;host;x-amz-date\n"
	      "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e",
	      "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
	      "42a5e5bb34198acb3e84da4f085bb7927f2bc277ca766e6d19c73c2154021281",
	      SUITE_CRED "SignedHeaders=content-type;host;x-amz-date, "
			 "Signature=ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a");
}

/* header values are trimmed and inner spaces collapsed; names lowercased and sorted */
static void test_post_header_value_case_and_trim(void **state)
{
	(void)state;
	const sigv4_pair h[] = { { "X-Amz-Date", SUITE_DATE },
				 { "My-Header1", "  VALUE1 " },
				 { "Host", "example.amazonaws.com" } };
	const sigv4_request r = { "POST", "/", NULL, 0, h, 3, SIGV4_EMPTY_SHA256 };
	check(&r, &suite_scope, NULL, NULL,
	      SUITE_CRED "SignedHeaders=host;my-header1;x-amz-date, "
			 "Signature=cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d");
}

static void test_post_sts_header_before(void **state)
{
	(void)state;
	const char *token =
		"AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==";
	const sigv4_pair h[] = { { "Host", "example.amazonaws.com" },
				 { "X-Amz-Date", SUITE_DATE },
				 { "X-Amz-Security-Token", token } };
	const sigv4_request r = { "POST", "/", NULL, 0, h, 3, SIGV4_EMPTY_SHA256 };
	check(&r, &suite_scope, NULL, NULL,
	      SUITE_CRED "SignedHeaders=host;x-amz-date;x-amz-security-token, "
			 "Signature=85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead");
}

static void test_s3_get_object_example(void **state)
{
	(void)state;
	const sigv4_scope sc = { "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
				 "us-east-1", "s3", "20130524T000000Z" };
	const sigv4_pair h[] = { { "Host", "examplebucket.s3.amazonaws.com" },
				 { "Range", "bytes=0-9" },
				 { "x-amz-content-sha256", SIGV4_EMPTY_SHA256 },
				 { "x-amz-date", "20130524T000000Z" } };
	const sigv4_request r = { "GET", "/test.txt", NULL, 0, h, 4, SIGV4_EMPTY_SHA256 };
	check(&r, &sc,
	      "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
	      "x-amz-content-sha256:" SIGV4_EMPTY_SHA256 "\nx-amz-date:20130524T000000Z\n\n"
	      "host;range;x-amz-content-sha256;x-amz-date\n" SIGV4_EMPTY_SHA256,
	      "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
	      "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972",
	      "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
	      "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
	      "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

/* S3 encodes each key segment once, keeps '/', and encodes query keys and values */
static void test_s3_encoding(void **state)
{
	(void)state;
	const sigv4_pair h[] = { { "host", "b.s3.amazonaws.com" } };
	const sigv4_pair q[] = { { "prefix", "a b/c+d" }, { "list-type", "2" }, { "delete", NULL } };
	const sigv4_request r = { "GET", "/dir/a b+c~é", q, 3, h, 1, SIGV4_UNSIGNED_PAYLOAD };
	char *sh;
	char *c = sigv4_canonical_request(&r, &sh);
	assert_string_equal(c, "GET\n/dir/a%20b%2Bc~%C3%A9\ndelete=&list-type=2&prefix=a%20b%2Fc%2Bd\n"
			       "host:b.s3.amazonaws.com\n\nhost\nUNSIGNED-PAYLOAD");
	assert_string_equal(sh, "host");
	free(c);
	free(sh);

	char d[17];
	sigv4_amz_date(1440938160, d);
	assert_string_equal(d, SUITE_DATE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_get_vanilla),
		cmocka_unit_test(test_get_vanilla_query_order_key_case),
		cmocka_unit_test(test_post_x_www_form_urlencoded),
		cmocka_unit_test(test_post_header_value_case_and_trim),
		cmocka_unit_test(test_post_sts_header_before),
		cmocka_unit_test(test_s3_get_object_example),
		cmocka_unit_test(test_s3_encoding),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
