#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"

static void redact(const char *in, char *out, size_t len)
{
	snprintf(out, len, "%s", in);
	log_redact(out);
}

static void test_redact_uri(void **state)
{
	(void)state;
	char buf[256];
	redact("postgresql://u:secret@h/db", buf, sizeof buf);
	assert_null(strstr(buf, "secret"));
	assert_string_equal(buf, "postgresql://u:***@h/db");

	redact("connect to mysql://root:s3cr3t@db:3306/shop failed", buf, sizeof buf);
	assert_string_equal(buf, "connect to mysql://root:***@db:3306/shop failed");

	/* an unescaped '@' in the password does not leave its tail behind */
	redact("postgresql://u:p@ss@h/db", buf, sizeof buf);
	assert_string_equal(buf, "postgresql://u:***@h/db");

	/* every URI in the line */
	redact("from postgres://a:pw1x@h1/x to postgres://b:pw2y@h2/y", buf, sizeof buf);
	assert_null(strstr(buf, "pw1x"));
	assert_null(strstr(buf, "pw2y"));

	/* a password in the query string */
	redact("postgresql://h/db?password=hunter2&sslmode=require", buf, sizeof buf);
	assert_string_equal(buf, "postgresql://h/db?password=***&sslmode=require");
}

static void test_redact_short(void **state)
{
	(void)state;
	char buf[256];
	/* too short to hold "***": removed instead */
	redact("postgresql://u:ab@h/db", buf, sizeof buf);
	assert_null(strstr(buf, "ab@"));
	assert_non_null(strstr(buf, "@h/db"));
	redact("postgresql://u:x@h/db", buf, sizeof buf);
	assert_null(strstr(buf, ":x@"));

	redact("host=h password=ab port=1", buf, sizeof buf);
	assert_null(strstr(buf, "ab "));
	assert_non_null(strstr(buf, "port=1"));
}

static void test_redact_keyvalue(void **state)
{
	(void)state;
	char buf[256];
	redact("password=hunter2 host=x", buf, sizeof buf);
	assert_null(strstr(buf, "hunter2"));
	assert_string_equal(buf, "password=*** host=x");

	redact("PASSWORD=Hunter2", buf, sizeof buf);
	assert_null(strstr(buf, "Hunter2"));

	redact("secret-access-key=abcdef", buf, sizeof buf);
	assert_null(strstr(buf, "abcdef"));

	/* spaces around '=', libpq's quoted form, '/' inside a URI password */
	redact("host=x password = hunter2 port=5", buf, sizeof buf);
	assert_null(strstr(buf, "hunter2"));
	assert_non_null(strstr(buf, "port=5"));
	redact("host=x password='hun ter\\'2' port=5", buf, sizeof buf);
	assert_null(strstr(buf, "hun"));
	assert_null(strstr(buf, "ter"));
	assert_non_null(strstr(buf, "port=5"));
	redact("postgresql://u:pa/ss@h/db", buf, sizeof buf);
	assert_null(strstr(buf, "pa/ss"));
	assert_non_null(strstr(buf, "@h/db"));
}

/*
 * An empty password stays empty, and an '@' past the authority (a query's
 * value, a nested URL) does not turn host:port into a password field.
 */
static void test_redact_empty_password(void **state)
{
	(void)state;
	static const char *same[] = {
		"postgresql://u:@h:abc/db",
		"mysql://u:@h:abc/db?ssl-ca=/etc/ca@site.pem",
		"mysql://u:@h:3306/db?x=a@b",
		"postgresql://h:5432/db?application_name=a@b",
		"s3://b/p?endpoint=http://u:@h:abc",
		"mysql://:@h:x",
	};
	for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
		char buf[256];
		redact(same[i], buf, sizeof buf);
		assert_string_equal(buf, same[i]);
	}
	char buf[256];
	/* a real one next to them is still masked */
	redact("mysql://u:s3cr3t@h:abc/db?x=a@b", buf, sizeof buf);
	assert_string_equal(buf, "mysql://u:***@h:abc/db?x=a@b");
	redact("s3://b/p?endpoint=http://u:s3cr3t@h:abc", buf, sizeof buf);
	assert_null(strstr(buf, "s3cr3t"));
	/* no port after the ':': a password cut by an unescaped '?' or '#' is masked whole */
	redact("postgresql://u:pa?ss@h/db", buf, sizeof buf);
	assert_string_equal(buf, "postgresql://u:***@h/db");
	redact("postgresql://u:pa#ss@h/db", buf, sizeof buf);
	assert_string_equal(buf, "postgresql://u:***@h/db");
}

static void test_redact_untouched(void **state)
{
	(void)state;
	static const char *same[] = {
		"postgresql://u@h/db",
		"postgresql://h:5432/db",
		"mysql://root@localhost/shop",
		"s3://bucket/prefix?endpoint=https://s3.example.com:9000&region=eu",
		"file:///var/backups",
		"no uri here",
		"",
	};
	for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
		char buf[256];
		redact(same[i], buf, sizeof buf);
		assert_string_equal(buf, same[i]);
	}
}

static void test_levels(void **state)
{
	(void)state;
	static const struct {
		const char *name;
		log_level level;
	} ok[] = {
		{ "error", LOG_LEVEL_ERROR }, { "warn", LOG_LEVEL_WARN },
		{ "warning", LOG_LEVEL_WARN }, { "info", LOG_LEVEL_INFO },
		{ "debug", LOG_LEVEL_DEBUG }, { "DEBUG", LOG_LEVEL_DEBUG },
	};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		log_level l = (log_level)-1;
		assert_int_equal(log_level_parse(ok[i].name, &l), 0);
		assert_int_equal(l, ok[i].level);
	}
	log_level l = LOG_LEVEL_INFO;
	assert_int_equal(log_level_parse("loud", &l), -1);
	assert_int_equal(log_level_parse("", &l), -1);
	assert_int_equal(l, LOG_LEVEL_INFO);

	log_init("dbrestore", LOG_LEVEL_WARN);
	assert_int_equal(log_get_level(), LOG_LEVEL_WARN);
	assert_string_equal(log_prog(), "dbrestore");
}

/* What the logger writes to stderr: levels filter, secrets never get through. */
static void test_output(void **state)
{
	(void)state;
	char path[] = "/tmp/log_test_XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	fflush(stderr);
	int saved = dup(STDERR_FILENO);
	assert_true(saved >= 0);
	assert_true(dup2(fd, STDERR_FILENO) >= 0);

	log_init("backupd", LOG_LEVEL_INFO);
	log_error("cannot connect to %s", "postgresql://u:topsecret@h/db");
	log_info("password=hunter2 shown");
	log_debug("not shown at info");

	fflush(stderr);
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);

	char buf[1024] = { 0 };
	assert_true(pread(fd, buf, sizeof buf - 1, 0) > 0);
	close(fd);
	unlink(path);

	assert_null(strstr(buf, "topsecret"));
	assert_null(strstr(buf, "hunter2"));
	assert_null(strstr(buf, "not shown"));
	/* errors carry a timestamp like every other line: "2026-...Z backupd: ..." */
	assert_int_equal(buf[4], '-');
	assert_non_null(strstr(buf, "Z backupd: cannot connect to postgresql://u:***@h/db\n"));
	assert_non_null(strstr(buf, "backupd info: password=*** shown\n"));
}

/* Runs the three log calls with stderr in a temporary file; returns its text. */
static void capture(const char *journal_env, log_format format, const char *job, char *buf,
		    size_t size)
{
	char path[] = "/tmp/log_test_XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	fflush(stderr);
	int saved = dup(STDERR_FILENO);
	assert_true(dup2(fd, STDERR_FILENO) >= 0);
	struct stat st;
	assert_int_equal(fstat(STDERR_FILENO, &st), 0);
	char env[64];
	if (journal_env && strcmp(journal_env, "match") == 0)
		snprintf(env, sizeof env, "%llu:%llu", (unsigned long long)st.st_dev,
			 (unsigned long long)st.st_ino);
	else if (journal_env)
		snprintf(env, sizeof env, "%s", journal_env);
	if (journal_env)
		setenv("JOURNAL_STREAM", env, 1);
	else
		unsetenv("JOURNAL_STREAM");
	log_init("backupd", LOG_LEVEL_DEBUG);
	log_set_format(format);
	log_set_job(job);
	log_error("failed: password=hunter2");
	log_warn("careful");
	log_info("done");
	log_debug("detail");
	fflush(stderr);
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	memset(buf, 0, size);
	assert_true(pread(fd, buf, size - 1, 0) > 0);
	close(fd);
	unlink(path);
	unsetenv("JOURNAL_STREAM");
	log_set_format(LOG_FORMAT_TEXT);
	log_set_job(NULL);
	log_init("backupd", LOG_LEVEL_INFO);
}

static void test_journal_priorities(void **state)
{
	(void)state;
	char buf[2048];
	capture("match", LOG_FORMAT_TEXT, NULL, buf, sizeof buf);
	assert_int_equal(strncmp(buf, "<3>", 3), 0);
	assert_non_null(strstr(buf, "Z backupd: failed: password=***\n<4>"));
	assert_non_null(strstr(buf, "backupd warning: careful\n<6>"));
	assert_non_null(strstr(buf, "backupd info: done\n<7>"));
	assert_null(strstr(buf, "hunter2"));

	/* a JOURNAL_STREAM that is not our stderr (inherited by a child with another stderr) */
	capture("1:2", LOG_FORMAT_TEXT, NULL, buf, sizeof buf);
	assert_null(strchr(buf, '<'));
	capture(NULL, LOG_FORMAT_TEXT, NULL, buf, sizeof buf);
	assert_null(strchr(buf, '<'));
}

static void test_json_lines(void **state)
{
	(void)state;
	char buf[2048];
	capture(NULL, LOG_FORMAT_JSON, "nightly", buf, sizeof buf);
	assert_int_equal(strncmp(buf, "{\"time\":\"", 9), 0);
	assert_non_null(strstr(buf, "\"level\":\"error\",\"program\":\"backupd\","
				    "\"message\":\"failed: password=***\",\"job\":\"nightly\"}\n"));
	assert_non_null(strstr(buf, "\"level\":\"warning\""));
	assert_null(strstr(buf, "hunter2"));
	capture("match", LOG_FORMAT_JSON, NULL, buf, sizeof buf);
	assert_int_equal(strncmp(buf, "<3>{", 4), 0);
	assert_null(strstr(buf, "\"job\""));

	log_format f;
	assert_int_equal(log_format_parse("json", &f), 0);
	assert_int_equal(f, LOG_FORMAT_JSON);
	assert_int_equal(log_format_parse("xml", &f), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_redact_uri),	 cmocka_unit_test(test_redact_short),
		cmocka_unit_test(test_redact_keyvalue),
		cmocka_unit_test(test_redact_empty_password),	 cmocka_unit_test(test_redact_untouched),
		cmocka_unit_test(test_levels),		 cmocka_unit_test(test_output),
		cmocka_unit_test(test_journal_priorities), cmocka_unit_test(test_json_lines),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
