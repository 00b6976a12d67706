#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backupd/notify.h"

/* The jobs' source and repo exist: config_load checks the references. */
static config *load(const char *text)
{
	config *c = NULL;
	bderr err;
	bderr_init(&err);
	char *full = NULL;
	if (asprintf(&full, "%s[source:s]\nurl = postgresql://h/d\n[repo:r]\nurl = /tmp/r\n", text) < 0)
		fail();
	int rc = config_load_string(full, "n.conf", &c, &err);
	free(full);
	if (rc != 0)
		fail_msg("%s", err.msg);
	return c;
}

/* notify = picks sections; without it every section; the legacy webhook is one more. */
static void test_sets(void **state)
{
	(void)state;
	config *c = load("[notify:a]\ntype = slack\nurl = https://h/a\non = failure\n"
			 "[notify:b]\ntype = healthchecks\nurl = https://h/b\n"
			 "[job:all]\nsource = s\nrepo = r\n"
			 "[job:one]\nsource = s\nrepo = r\nnotify = b\n");
	bderr err;
	bderr_init(&err);
	notify_set s;
	assert_int_equal(notify_set_for_job(c, config_find(c, "job", "all"), "https://legacy/x",
					    WEBHOOK_ON_SUCCESS, &s, &err), 0);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.v[2].name, "webhook-url");
	assert_true(notify_wanted(&s, 1, 1));  /* healthchecks start ping */
	assert_true(notify_wanted(&s, 0, 0));
	notify_set_free(&s);
	assert_int_equal(notify_set_for_job(c, config_find(c, "job", "one"), NULL, WEBHOOK_ON_ALWAYS,
					    &s, &err), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.v[0].type, NOTIFY_HEALTHCHECKS);
	notify_set_free(&s);
	config_free(c);

	c = load("[notify:a]\ntype = slack\nurl = https://h/a\non = failure\n[job:j]\nsource = s\nrepo = r\n");
	assert_int_equal(notify_set_for_job(c, config_find(c, "job", "j"), NULL, WEBHOOK_ON_ALWAYS, &s, &err), 0);
	assert_false(notify_wanted(&s, 0, 1)); /* on = failure: not on success */
	assert_false(notify_wanted(&s, 1, 1)); /* no start message for chats */
	assert_true(notify_wanted(&s, 0, 0));
	notify_set_free(&s);
	config_free(c);
}

static void expect_error(const char *text, const char *want)
{
	config *c = load(text);
	bderr err;
	bderr_init(&err);
	assert_int_equal(notify_check_config(c, &err), -1);
	if (strstr(err.msg, want) == NULL)
		fail_msg("'%s' does not mention '%s'", err.msg, want);
	assert_int_equal(err.exit_code, 2);
	config_free(c);
}

static void test_errors(void **state)
{
	(void)state;
	expect_error("[notify:x]\nurl = https://h/\n", "n.conf:1: key 'type'");
	expect_error("[notify:x]\ntype = pager\nurl = https://h/\n", "n.conf:2: key 'type'");
	expect_error("[notify:x]\ntype = slack\nurl = ftp://h/\n", "http:// or https://");
	expect_error("[notify:x]\ntype = slack\nurl = https://h/\non = sometimes\n", "failure, success or always");
	expect_error("[notify:x]\ntype = email\nurl = smtp://u:secret@h\nfrom = a@b\nto = c@d\n", "smtp://HOST");
	expect_error("[notify:x]\ntype = email\nurl = smtp://h\nto = c@d\n", "key 'from'");
	expect_error("[notify:x]\ntype = email\nurl = smtp://h\nfrom = a@b\nto = c@d\npassword-file = /p\n",
		     "key 'username'");
	expect_error("[notify:x]\ntype = teams\nurl = https://h/\nto = c@d\n", "only applies to type = email");
}

static void test_text(void **state)
{
	(void)state;
	webhook_run r = { .job = "nightly", .hostname = "db1", .backup_id = "20261130T030000Z", .ok = 1,
			  .started = 100, .finished = 130, .bytes = 42, .rows = 7, .attempt = 1 };
	char *t = notify_text(&r);
	assert_string_equal(t, "backupd job nightly on db1: success, backup 20261130T030000Z, 42 bytes "
			       "stored, 7 rows, in 30s (attempt 1)");
	free(t);
	r.ok = 0;
	r.error = "cannot connect";
	r.attempt = 2;
	t = notify_text(&r);
	assert_string_equal(t, "backupd job nightly on db1: FAILED after 30s (attempt 2): cannot connect");
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sets),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
