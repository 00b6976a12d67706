/*
 * The S3/STS answer parsers (archive/s3/xml.c) and the credential chain's
 * pure parts (archive/s3/credentials.c: times, profiles, the order of the
 * static sources): answers as S3 and STS send them, namespaces, entities,
 * pages, errors inside 200s, and what must be refused (DTDs, malformed XML,
 * entries without a key or size).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "archive/s3/credentials.h"
#include "archive/s3/xml.h"
#include "common/mem.h"
#include "tests/unit/testutil.h"

#define S(x) x, strlen(x)

static void parses_list_pages(void **state)
{
	(void)state;
	bderr err;
	bderr_init(&err);
	s3_xml_list l;
	const char *page =
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
		"<Name>bkt</Name><Prefix>p/</Prefix><KeyCount>2</KeyCount>"
		"<IsTruncated>true</IsTruncated><NextContinuationToken>tok&amp;1</NextContinuationToken>"
		"<Contents><Key>p/a&lt;b&gt;&#233;</Key><Size>12</Size><ETag>&quot;x&quot;</ETag></Contents>"
		"<Contents><Size>18446744073709551615</Size><Key>p/big</Key></Contents>"
		"</ListBucketResult>";
	assert_int_equal(s3_xml_parse_list(S(page), &l, &err), 0);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.objects[0].key, "p/a<b>\xc3\xa9");
	assert_int_equal(l.objects[0].size, 12);
	assert_string_equal(l.objects[1].key, "p/big");
	assert_true(l.objects[1].size == UINT64_MAX);
	assert_true(l.truncated);
	assert_string_equal(l.next_token, "tok&1");
	s3_xml_list_clear(&l);

	const char *last = "<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>";
	assert_int_equal(s3_xml_parse_list(S(last), &l, &err), 0);
	assert_int_equal(l.n, 0);
	assert_false(l.truncated);
	s3_xml_list_clear(&l);

	static const char *const bad[] = {
		"<ListBucketResult><Contents><Key>k</Key></Contents></ListBucketResult>",
		"<ListBucketResult><Contents><Key>k</Key><Size>-1</Size></Contents></ListBucketResult>",
		"<ListBucketResult><Contents><Key>k</Key><Size>12x</Size></Contents></ListBucketResult>",
		"<ListBucketResult><Contents><Key>k</Key><Size>99999999999999999999</Size></Contents></ListBucketResult>",
		"<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>",
		"<ListBucketResult><Contents><Key>k</Key>",
		"not xml at all",
		"",
		"<!DOCTYPE x [<!ENTITY a \"aaaa\">]><ListBucketResult><Contents><Key>&a;</Key><Size>1</Size></Contents></ListBucketResult>",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		bderr_init(&err);
		if (s3_xml_parse_list(S(bad[i]), &l, &err) != -1)
			fail_msg("accepted: %s", bad[i]);
		assert_non_null(strstr(err.msg, "malformed XML"));
		assert_null(l.objects);
	}
	/* too deep is not an S3 answer */
	strbuf deep;
	strbuf_init(&deep);
	for (int i = 0; i < 40; i++)
		strbuf_appends(&deep, "<a>");
	for (int i = 0; i < 40; i++)
		strbuf_appends(&deep, "</a>");
	assert_int_equal(s3_xml_parse_list(deep.data, deep.len, &l, &err), -1);
	strbuf_free(&deep);
}

static void parses_errors_and_upload_id(void **state)
{
	(void)state;
	bderr err;
	bderr_init(&err);
	s3_xml_error e;
	const char *doc = "<?xml version=\"1.0\"?><Error><Code>SlowDown</Code>"
			  "<Message>Please reduce your request rate.</Message><RequestId>1</RequestId></Error>";
	assert_int_equal(s3_xml_parse_error(S(doc), &e, &err), 0);
	assert_string_equal(e.code, "SlowDown");
	assert_string_equal(e.message, "Please reduce your request rate.");
	s3_xml_error_clear(&e);
	const char *sts = "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error>"
			  "<Type>Sender</Type><Code>AccessDenied</Code><Message>no</Message></Error></ErrorResponse>";
	assert_int_equal(s3_xml_parse_error(S(sts), &e, &err), 0);
	assert_string_equal(e.code, "AccessDenied");
	s3_xml_error_clear(&e);
	/* a success document is no error; a nested <Code> elsewhere is not S3's */
	const char *ok = "<CompleteMultipartUploadResult><Code>x</Code></CompleteMultipartUploadResult>";
	assert_int_equal(s3_xml_parse_error(S(ok), &e, &err), 0);
	assert_null(e.code);
	assert_null(e.message);

	char *id = NULL;
	const char *init = "<InitiateMultipartUploadResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
			   "<Bucket>b</Bucket><Key>k</Key><UploadId>VXBsb2Fk&amp;SUQ</UploadId>"
			   "</InitiateMultipartUploadResult>";
	assert_int_equal(s3_xml_parse_upload_id(S(init), &id, &err), 0);
	assert_string_equal(id, "VXBsb2Fk&SUQ");
	free(id);
	const char *none = "<InitiateMultipartUploadResult><Key>k</Key></InitiateMultipartUploadResult>";
	assert_int_equal(s3_xml_parse_upload_id(S(none), &id, &err), -1);
	assert_null(id);
}

static void parses_delete_result(void **state)
{
	(void)state;
	bderr err;
	bderr_init(&err);
	s3_xml_delete d;
	const char *quiet = "<DeleteResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"></DeleteResult>";
	assert_int_equal(s3_xml_parse_delete(S(quiet), &d, &err), 0);
	assert_int_equal(d.nerrors, 0);
	s3_xml_delete_clear(&d);
	const char *errs = "<DeleteResult><Deleted><Key>ok</Key></Deleted>"
			   "<Error><Key>k1</Key><Code>AccessDenied</Code><Message>denied</Message></Error>"
			   "<Error><Key>k2</Key><Code>InternalError</Code></Error></DeleteResult>";
	assert_int_equal(s3_xml_parse_delete(S(errs), &d, &err), 0);
	assert_int_equal(d.nerrors, 2);
	assert_string_equal(d.key, "k1");
	assert_string_equal(d.code, "AccessDenied");
	assert_string_equal(d.message, "denied");
	s3_xml_delete_clear(&d);
}

static void parses_sts_credentials(void **state)
{
	(void)state;
	bderr err;
	bderr_init(&err);
	sts_xml_credentials c;
	const char *doc =
		"<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
		"<AssumeRoleWithWebIdentityResult><SubjectFromWebIdentityToken>s</SubjectFromWebIdentityToken>"
		"<Credentials><AccessKeyId>ASIA1</AccessKeyId><SecretAccessKey>sec/ret</SecretAccessKey>"
		"<SessionToken>tok+en=</SessionToken><Expiration>2026-11-30T07:00:00Z</Expiration></Credentials>"
		"</AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>";
	assert_int_equal(sts_xml_parse_credentials(S(doc), &c, &err), 0);
	assert_string_equal(c.access_key_id, "ASIA1");
	assert_string_equal(c.secret_access_key, "sec/ret");
	assert_string_equal(c.session_token, "tok+en=");
	assert_string_equal(c.expiration, "2026-11-30T07:00:00Z");
	sts_xml_credentials_clear(&c);
	const char *partial = "<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult>"
			      "<Credentials><AccessKeyId>ASIA1</AccessKeyId></Credentials>"
			      "</AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>";
	assert_int_equal(sts_xml_parse_credentials(S(partial), &c, &err), -1);
	assert_null(c.access_key_id);
	/* the secret never reaches the message */
	const char *broken = "<AssumeRoleWithWebIdentityResponse><SecretAccessKey>TOPSECRET</Oops>";
	assert_int_equal(sts_xml_parse_credentials(S(broken), &c, &err), -1);
	assert_null(strstr(err.msg, "TOPSECRET"));
	/* AssumeRole answers the same way under its own element names */
	const char *assumed =
		"<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><AssumeRoleResult>"
		"<AssumedRoleUser><Arn>arn:x</Arn><AssumedRoleId>AROA:s</AssumedRoleId></AssumedRoleUser>"
		"<Credentials><AccessKeyId>ASIA2</AccessKeyId><SecretAccessKey>s2</SecretAccessKey>"
		"<SessionToken>t2</SessionToken><Expiration>2026-11-30T08:00:00Z</Expiration></Credentials>"
		"</AssumeRoleResult></AssumeRoleResponse>";
	bderr_init(&err);
	assert_int_equal(sts_xml_parse_credentials(S(assumed), &c, &err), 0);
	assert_string_equal(c.access_key_id, "ASIA2");
	assert_string_equal(c.session_token, "t2");
	sts_xml_credentials_clear(&c);
	/* credentials under another action's elements are not taken */
	const char *other = "<GetCallerIdentityResponse><GetCallerIdentityResult><Credentials>"
			    "<AccessKeyId>A</AccessKeyId><SecretAccessKey>S</SecretAccessKey><SessionToken>T"
			    "</SessionToken><Expiration>2026-11-30T08:00:00Z</Expiration></Credentials>"
			    "</GetCallerIdentityResult></GetCallerIdentityResponse>";
	assert_int_equal(sts_xml_parse_credentials(S(other), &c, &err), -1);
}

/* AWS_CONTAINER_CREDENTIALS_RELATIVE_URI goes to the ECS agent, and wins over _FULL_URI */
static void container_url(void **state)
{
	(void)state;
	bderr err;
	bderr_init(&err);
	unsetenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/abc-123", 1);
	char *u = aws_container_url(&err);
	assert_string_equal(u, "http://169.254.170.2/v2/credentials/abc-123");
	free(u);
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:9/creds", 1);
	u = aws_container_url(&err);
	assert_string_equal(u, "http://169.254.170.2/v2/credentials/abc-123");
	free(u);
	setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "@evil.example.com/x", 1);
	assert_null(aws_container_url(&err));
	assert_int_equal(err.exit_code, EXIT_USAGE);
	unsetenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	u = aws_container_url(&err);
	assert_string_equal(u, "http://127.0.0.1:9/creds");
	free(u);
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://example.com/creds", 1);
	bderr_init(&err);
	assert_null(aws_container_url(&err));
	assert_non_null(strstr(err.msg, "must be https"));
	unsetenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
}

static void escapes_text(void **state)
{
	(void)state;
	strbuf b;
	strbuf_init(&b);
	s3_xml_escape(&b, "a&b<c>\"d'e\tf");
	assert_string_equal(b.data, "a&amp;b&lt;c&gt;&quot;d&#39;e&#9;f");
	strbuf_free(&b);
}

static void parses_times(void **state)
{
	(void)state;
	time_t t;
	assert_int_equal(aws_parse_time("1970-01-01T00:00:10Z", &t), 0);
	assert_int_equal(t, 10);
	assert_int_equal(aws_parse_time("2026-11-30T07:00:00.123Z", &t), 0);
	assert_int_equal(t, 1796022000);
	assert_int_equal(aws_parse_time("2026-11-30T08:00:00+01:00", &t), 0);
	assert_int_equal(t, 1796022000);
	static const char *const bad[] = { "", "2026-11-30", "2026-11-30T07:00:00", "2026-13-01T00:00:00Z",
					   "2026-11-30T07:00:00Zjunk", "yesterday" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(aws_parse_time(bad[i], &t), -1);
}

static char *write_file(const char *content)
{
	char *path = xstrdup("/tmp/s3_xml_test_XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	FILE *f = fdopen(fd, "w");
	fputs(content, f);
	fclose(f);
	return path;
}

/* source, key id and session token the chain picks, or NULL with err */
static const char *pick(const storage_options *o, aws_creds *c, bderr *err)
{
	static char label[64];
	s3_creds *p = NULL;
	memset(c, 0, sizeof *c);
	if (s3_creds_new(o, "us-east-1", &p, err) < 0)
		return NULL;
	assert_int_equal(s3_creds_get(p, c, err), 0);
	snprintf(label, sizeof label, "%s", s3_creds_source(p));
	s3_creds_free(p);
	return label;
}

static void static_sources_in_order(void **state)
{
	(void)state;
	test_no_aws_credentials();
	char *cred = write_file("[default]\naws_access_key_id = AKPROF\naws_secret_access_key = sp\n"
				"[other]\naws_access_key_id = AKOTHER\naws_secret_access_key = so\n"
				"aws_session_token = tokother\n");
	char *conf = write_file("[default]\nregion = eu-central-1\n"
				"[profile third]\naws_access_key_id = AKTHIRD\naws_secret_access_key = st\n"
				"region = sa-east-1\n[profile rolesonly]\nrole_arn = arn:x\n"
				"[profile chained]\nrole_arn = arn:y\nsource_profile = rolesonly\n"
				"[profile badsource]\nrole_arn = arn:z\ncredential_source = Laptop\n"
				"[profile both]\nrole_arn = arn:z\ncredential_source = Environment\nsource_profile = default\n"
				"[profile longrole]\nrole_arn = arn:z\nsource_profile = default\nduration_seconds = 99999\n"
				"[profile envrole]\nrole_arn = arn:z\ncredential_source = Environment\n");
	aws_creds c;
	bderr err;
	bderr_init(&err);
	storage_options cfg = { .access_key_id = "AKCONF", .secret_access_key = "sc", .tls_verify = 1 };

	/* nothing at all: a usage error */
	assert_null(pick(NULL, &c, &err));
	assert_int_equal(err.exit_code, EXIT_USAGE);
	assert_non_null(strstr(err.msg, "no S3 credentials"));

	setenv("AWS_SHARED_CREDENTIALS_FILE", cred, 1);
	setenv("AWS_CONFIG_FILE", conf, 1);
	assert_string_equal(pick(NULL, &c, &err), "profile default");
	assert_string_equal(c.access_key_id, "AKPROF");
	assert_null(c.session_token);
	aws_creds_clear(&c);
	char *region = aws_default_region();
	assert_string_equal(region, "eu-central-1");
	free(region);

	setenv("AWS_PROFILE", "other", 1);
	assert_string_equal(pick(NULL, &c, &err), "profile other");
	assert_string_equal(c.session_token, "tokother");
	aws_creds_clear(&c);
	setenv("AWS_PROFILE", "third", 1);
	assert_string_equal(pick(NULL, &c, &err), "profile third");
	assert_string_equal(c.access_key_id, "AKTHIRD");
	aws_creds_clear(&c);
	region = aws_default_region();
	assert_string_equal(region, "sa-east-1");
	free(region);
	setenv("AWS_DEFAULT_REGION", "ap-east-1", 1);
	region = aws_default_region();
	assert_string_equal(region, "ap-east-1");
	free(region);
	setenv("AWS_REGION", "us-west-2", 1);
	region = aws_default_region();
	assert_string_equal(region, "us-west-2");
	free(region);
	setenv("AWS_PROFILE", "nosuch", 1);
	assert_null(pick(NULL, &c, &err));
	assert_int_equal(err.exit_code, EXIT_USAGE);
	/* role profiles that cannot work are usage errors naming why, before any request */
	static const char *const roles[][2] = {
		{ "rolesonly", "exactly one of source_profile and credential_source" },
		{ "both", "exactly one of source_profile and credential_source" },
		{ "chained", "chained roles are not supported" },
		{ "badsource", "credential_source must be Environment, Ec2InstanceMetadata or EcsContainer" },
		{ "longrole", "duration_seconds must be 900 to 43200" },
		{ "envrole", "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not both set" },
	};
	for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++) {
		setenv("AWS_PROFILE", roles[i][0], 1);
		bderr_init(&err);
		assert_null(pick(NULL, &c, &err));
		assert_int_equal(err.exit_code, EXIT_USAGE);
		if (strstr(err.msg, roles[i][1]) == NULL)
			fail_msg("%s: '%s'", roles[i][0], err.msg);
	}
	unsetenv("AWS_PROFILE");

	setenv("AWS_ACCESS_KEY_ID", "AKENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "se", 1);
	assert_string_equal(pick(NULL, &c, &err), "environment");
	assert_string_equal(c.access_key_id, "AKENV");
	aws_creds_clear(&c);
	assert_string_equal(pick(&cfg, &c, &err), "config");
	assert_string_equal(c.access_key_id, "AKCONF");
	assert_string_equal(c.secret_access_key, "sc");
	aws_creds_clear(&c);

	unsetenv("AWS_SECRET_ACCESS_KEY");
	assert_null(pick(NULL, &c, &err));
	assert_int_equal(err.exit_code, EXIT_USAGE);
	storage_options half = { .access_key_id = "AKCONF", .tls_verify = 1 };
	assert_null(pick(&half, &c, &err));
	assert_int_equal(err.exit_code, EXIT_USAGE);

	test_no_aws_credentials();
	unlink(cred);
	unlink(conf);
	free(cred);
	free(conf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parses_list_pages),
		cmocka_unit_test(parses_errors_and_upload_id),
		cmocka_unit_test(parses_delete_result),
		cmocka_unit_test(parses_sts_credentials),
		cmocka_unit_test(escapes_text),
		cmocka_unit_test(parses_times),
		cmocka_unit_test(container_url),
		cmocka_unit_test(static_sources_in_order),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
