#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backupd/run_history.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/mem.h"
#include "tests/unit/testutil.h"

/*
 * A run killed (SIGKILL) while it appends its record leaves a last line
 * without its newline: the readers (status, the daemon's last run and last
 * success) must skip it, and the next append must not glue its record onto
 * it.  The torn line is planted by hand.
 */

typedef struct fixture {
	char dir[64];
	char *history; /* state/history/j.jsonl */
	config *cfg;
} fixture;

#define GOOD                                                                                   \
	"{\"job\":\"j\",\"start\":\"2026-11-01T00:00:00Z\",\"end\":\"2026-11-01T00:00:05Z\","     \
	"\"duration\":5,\"result\":\"ok\",\"backup_id\":\"20261101T000000Z\",\"bytes\":1,"       \
	"\"rows\":2,\"error\":null}\n"
#define TORN "{\"job\":\"j\",\"start\":\"2026-11-02T00:00:00Z\",\"end\":\"2026-11"

static int setup(void **state)
{
	fixture *f = xcalloc(1, sizeof *f);
	strcpy(f->dir, "/tmp/bd-runhist-XXXXXX");
	*state = f;
	int rc = test_state_config(f->dir, &f->cfg);
	f->history = xasprintf("%s/state/history/j.jsonl", f->dir);
	return rc;
}

static int teardown(void **state)
{
	fixture *f = *state;
	config_free(f->cfg);
	test_rm_rf(f->dir);
	free(f->history);
	free(f);
	return 0;
}

static void plant(fixture *f, const char *text)
{
	char *dir = xasprintf("%s/state/history", f->dir);
	bderr err;
	bderr_init(&err);
	assert_int_equal(mkdir_p(dir, 0750, &err), 0);
	free(dir);
	FILE *h = fopen(f->history, "w");
	assert_non_null(h);
	fputs(text, h);
	fclose(h);
}

static char *slurp(const char *path)
{
	FILE *h = fopen(path, "r");
	assert_non_null(h);
	static char buf[8192];
	size_t n = fread(buf, 1, sizeof buf - 1, h);
	fclose(h);
	buf[n] = '\0';
	return buf;
}

/* The last entry (of a successful run, with ok_only) must be there; the caller frees *r. */
static void expect_last(fixture *f, int ok_only, run_record *r)
{
	int found;
	bderr err;
	bderr_init(&err);
	assert_int_equal((ok_only ? run_history_last_ok : run_history_last)(f->cfg, "j", r, &found, &err), 0);
	assert_int_equal(found, 1);
}

static void append_failed_run(fixture *f, time_t start)
{
	run_record r = { .job = "j", .start = start, .end = start + 3, .ok = 0,
			 .error = "connection refused" };
	bderr err;
	bderr_init(&err);
	assert_int_equal(run_history_append(f->cfg, &r, &err), 0);
}

/* The readers skip a torn last line and report the complete one before it. */
static void test_torn_last_line_skipped(void **state)
{
	fixture *f = *state;
	plant(f, GOOD TORN);
	run_record r;
	expect_last(f, 0, &r);
	assert_string_equal(r.backup_id, "20261101T000000Z");
	run_record_free(&r);
	expect_last(f, 1, &r);
	assert_string_equal(r.backup_id, "20261101T000000Z");
	run_record_free(&r);
}

/* The next record goes on a line of its own and is what the readers see. */
static void test_append_after_torn_line(void **state)
{
	fixture *f = *state;
	plant(f, GOOD TORN);
	append_failed_run(f, 1795000000);
	const char *text = slurp(f->history);
	/* the torn line is kept as it was, ended, and the record follows it whole */
	assert_memory_equal(text, GOOD TORN "\n{", strlen(GOOD TORN "\n{"));
	assert_int_equal(text[strlen(text) - 1], '\n');

	run_record r;
	expect_last(f, 0, &r);
	assert_int_equal(r.ok, 0);
	assert_int_equal(r.start, 1795000000);
	assert_string_equal(r.error, "connection refused");
	run_record_free(&r);
	/* the last success is still the run before the torn line */
	expect_last(f, 1, &r);
	assert_string_equal(r.backup_id, "20261101T000000Z");
	run_record_free(&r);
}

/* A history that is nothing but a torn line: no last run, then the new one. */
static void test_only_a_torn_line(void **state)
{
	fixture *f = *state;
	plant(f, TORN);
	run_record r;
	int found;
	bderr err;
	bderr_init(&err);
	assert_int_equal(run_history_last(f->cfg, "j", &r, &found, &err), 0);
	assert_int_equal(found, 0);
	append_failed_run(f, 1795000100);
	expect_last(f, 0, &r);
	assert_int_equal(r.start, 1795000100);
	run_record_free(&r);
}

/* Appends to a sound history (or none) add exactly one line each, no blank ones. */
static void test_sound_history_one_line_each(void **state)
{
	fixture *f = *state;
	append_failed_run(f, 1795000200);
	plant(f, GOOD);
	append_failed_run(f, 1795000300);
	append_failed_run(f, 1795000400);
	const char *text = slurp(f->history);
	int lines = 0;
	for (const char *p = text; *p; p++) {
		if (*p == '\n') {
			lines++;
			assert_true(p == text || p[-1] != '\n');
		}
	}
	assert_int_equal(lines, 3);
	assert_memory_equal(text, GOOD "{", strlen(GOOD "{"));
}

int main(void)
{
	log_init("run_history_test", LOG_LEVEL_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_torn_last_line_skipped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_append_after_torn_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_only_a_torn_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sound_history_one_line_each, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
