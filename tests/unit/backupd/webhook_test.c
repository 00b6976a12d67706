#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "backupd/webhook.h"
#include "common/mem.h"

/* 2026-11-21T10:15:00Z */
#define T0 ((time_t)1795256100)

static void test_payload_failure(void **state)
{
	(void)state;
	webhook_run r = {
		.job = "app-nightly",
		.kind = "dump",
		.source = "appdb",
		.repo = "offsite",
		.backup_id = NULL,
		.ok = 0,
		.started = T0,
		.finished = T0 + 75,
		.error = "cannot connect to \"db\"\n",
		.attempt = 2,
		.hostname = "db-backup-1",
	};
	char *text = webhook_payload(&r);
	json_error_t je;
	json_t *o = json_loads(text, 0, &je);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "job")), "app-nightly");
	assert_string_equal(json_string_value(json_object_get(o, "kind")), "dump");
	assert_string_equal(json_string_value(json_object_get(o, "source")), "appdb");
	assert_string_equal(json_string_value(json_object_get(o, "repo")), "offsite");
	assert_true(json_is_null(json_object_get(o, "backup_id")));
	assert_string_equal(json_string_value(json_object_get(o, "status")), "failure");
	assert_string_equal(json_string_value(json_object_get(o, "started")), "2026-11-21T10:15:00Z");
	assert_string_equal(json_string_value(json_object_get(o, "finished")), "2026-11-21T10:16:15Z");
	assert_int_equal(json_integer_value(json_object_get(o, "duration")), 75);
	assert_int_equal(json_integer_value(json_object_get(o, "bytes")), 0);
	assert_int_equal(json_integer_value(json_object_get(o, "rows")), 0);
	assert_string_equal(json_string_value(json_object_get(o, "error")), "cannot connect to \"db\"\n");
	assert_int_equal(json_integer_value(json_object_get(o, "attempt")), 2);
	assert_string_equal(json_string_value(json_object_get(o, "hostname")), "db-backup-1");
	assert_int_equal(json_object_size(o), 14);
	json_decref(o);
	free(text);
}

static void test_payload_success(void **state)
{
	(void)state;
	webhook_run r = {
		.job = "j", .kind = "dump", .backup_id = "20261121T101500Z", .ok = 1,
		.started = T0, .finished = T0 + 3, .bytes = 5000000000ULL, .rows = 123,
		.attempt = 1, .hostname = "h",
	};
	char *text = webhook_payload(&r);
	json_t *o = json_loads(text, 0, NULL);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "status")), "success");
	assert_string_equal(json_string_value(json_object_get(o, "backup_id")), "20261121T101500Z");
	assert_true(json_integer_value(json_object_get(o, "bytes")) == 5000000000LL);
	assert_int_equal(json_integer_value(json_object_get(o, "rows")), 123);
	assert_true(json_is_null(json_object_get(o, "error")));
	assert_true(json_is_null(json_object_get(o, "source")));
	json_decref(o);
	free(text);
}

static void test_payload_invalid_utf8(void **state)
{
	(void)state;
	webhook_run r = { .job = "j", .ok = 0, .error = "bad byte \xff here", .attempt = 1 };
	char *text = webhook_payload(&r);
	/* jansson refuses invalid UTF-8: the text stays, the bad byte is masked */
	json_t *o = json_loads(text, 0, NULL);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "error")), "bad byte ? here");
	json_decref(o);
	free(text);
}

static void test_on_parse(void **state)
{
	(void)state;
	webhook_on on;
	assert_int_equal(webhook_on_parse("failure", &on), 0);
	assert_int_equal(on, WEBHOOK_ON_FAILURE);
	assert_int_equal(webhook_on_parse("success", &on), 0);
	assert_int_equal(on, WEBHOOK_ON_SUCCESS);
	assert_int_equal(webhook_on_parse("always", &on), 0);
	assert_int_equal(on, WEBHOOK_ON_ALWAYS);
	assert_true(on & WEBHOOK_ON_SUCCESS && on & WEBHOOK_ON_FAILURE);
	assert_int_equal(webhook_on_parse("never", &on), -1);
	assert_int_equal(webhook_on_parse("Failure", &on), -1);
	assert_int_equal(webhook_on_parse(NULL, &on), -1);
}

static void test_url(void **state)
{
	(void)state;
	char buf[128];
	webhook_url_for_log("https://hooks.slack.com/services/T00/B00/SECRETTOKEN", buf, sizeof buf);
	assert_string_equal(buf, "https://hooks.slack.com");
	webhook_url_for_log("http://user:pw@127.0.0.1:8080/hook?token=SECRET", buf, sizeof buf);
	assert_string_equal(buf, "http://127.0.0.1:8080");
	webhook_url_for_log("http://h?token=SECRET", buf, sizeof buf);
	assert_string_equal(buf, "http://h");
	webhook_url_for_log("no url at all SECRET", buf, sizeof buf);
	assert_null(strstr(buf, "SECRET"));

	bderr err;
	bderr_init(&err);
	assert_int_equal(webhook_url_check("https://example.com/x", &err), 0);
	assert_int_equal(webhook_url_check("HTTP://127.0.0.1:1/", &err), 0);
	const char *bad[] = { "ftp://example.com/x", "example.com/hook", "http://", "http:///x",
			      "https://exa mple.com/", "file:///etc/passwd" };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		bderr_init(&err);
		if (webhook_url_check(bad[i], &err) == 0)
			fail_msg("'%s' accepted", bad[i]);
		assert_int_equal(err.exit_code, EXIT_USAGE);
		assert_null(strstr(err.msg, "example")); /* the URL may be a secret */
	}
}

static void test_post_unreachable(void **state)
{
	(void)state;
	/* port 1 on localhost: refused at once; the error names host and port only */
	webhook_delivery d = { .timeout = 2, .attempts = 2, .retry_delay = 0 };
	bderr err;
	bderr_init(&err);
	assert_int_equal(webhook_post("http://127.0.0.1:1/hook/SECRET", "{}", &d, &err), -1);
	assert_non_null(strstr(err.msg, "http://127.0.0.1:1"));
	assert_non_null(strstr(err.msg, "2 attempts"));
	assert_null(strstr(err.msg, "SECRET"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_payload_failure),
		cmocka_unit_test(test_payload_success),
		cmocka_unit_test(test_payload_invalid_utf8),
		cmocka_unit_test(test_on_parse),
		cmocka_unit_test(test_url),
		cmocka_unit_test(test_post_unreachable),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
