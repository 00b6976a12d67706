#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <utime.h>

#include "backupd/gauges.h"
#include "common/mem.h"
#include "common/progress.h"
#include "tests/unit/testutil.h"

typedef struct fixture {
	char dir[64];
	config *cfg;
} fixture;

static int setup(void **state)
{
	fixture *f = xcalloc(1, sizeof *f);
	strcpy(f->dir, "/tmp/bd-gauges-XXXXXX");
	*state = f;
	return test_state_config(f->dir, &f->cfg);
}

static int teardown(void **state)
{
	fixture *f = *state;
	config_free(f->cfg);
	test_rm_rf(f->dir);
	free(f);
	return 0;
}

static progress_snapshot figures(void)
{
	progress_snapshot s;
	memset(&s, 0, sizeof s);
	snprintf(s.what, sizeof s.what, "dump");
	snprintf(s.phase, sizeof s.phase, "loading data");
	s.bytes_done = 5000000000ULL; /* past 32 bits */
	s.bytes_total = 9000000000ULL;
	s.objects_done = 3;
	s.objects_total = 12;
	s.estimated = 1;
	s.started = 1795256100;
	s.elapsed = 12.5;
	s.rate = 1048576;
	return s;
}

/* A run's figures go to the state dir and come back; the final call removes them. */
static void test_round_trip(void **state)
{
	fixture *f = *state;
	gauges_progress_ctx ctx = { f->cfg, "nightly" };
	progress_snapshot w = figures(), r;
	assert_int_equal(gauges_read_progress(f->cfg, "nightly", &r), 0);
	gauges_record_progress(&ctx, &w, 0);
	assert_int_equal(gauges_read_progress(f->cfg, "nightly", &r), 1);
	assert_string_equal(r.what, "dump");
	assert_string_equal(r.phase, "loading data");
	assert_true(r.bytes_done == w.bytes_done && r.bytes_total == w.bytes_total);
	assert_int_equal(r.objects_done, 3);
	assert_int_equal(r.objects_total, 12);
	assert_int_equal(r.estimated, 1);
	assert_int_equal(r.started, w.started);
	json_t *j = gauges_progress_json(&r);
	assert_int_equal(json_integer_value(json_object_get(j, "bytes_done")), 5000000000LL);
	assert_string_equal(json_string_value(json_object_get(j, "started")), "2026-11-21T10:15:00Z");
	assert_true(json_is_true(json_object_get(j, "bytes_total_estimated")));
	json_decref(j);
	/* another job has none */
	assert_int_equal(gauges_read_progress(f->cfg, "other", &r), 0);
	gauges_record_progress(&ctx, &w, 1);
	assert_int_equal(gauges_read_progress(f->cfg, "nightly", &r), 0);
}

/* Left behind by a run killed outright: a dead pid, or figures gone stale, are no run. */
static void test_dead_or_stale(void **state)
{
	fixture *f = *state;
	char *path = xasprintf("%s/state/gauges/progress/gone", f->dir);
	char *dir = xasprintf("%s/state/gauges/progress", f->dir);
	gauges_progress_ctx ctx = { f->cfg, "x" };
	progress_snapshot w = figures(), r;
	gauges_record_progress(&ctx, &w, 0); /* makes the directory */
	FILE *c = fopen(path, "w");
	assert_non_null(c);
	/* pid 2^22+1 is above Linux's pid_max limit: never a live process */
	fprintf(c, "{\"pid\": 4194305, \"what\": \"dump\", \"bytes_done\": 1}");
	fclose(c);
	assert_int_equal(gauges_read_progress(f->cfg, "gone", &r), 0);
	/* our own pid, but not replaced for longer than GAUGES_PROGRESS_STALE */
	c = fopen(path, "w");
	assert_non_null(c);
	fprintf(c, "{\"pid\": %ld, \"what\": \"dump\", \"bytes_done\": 1}", (long)getpid());
	fclose(c);
	assert_int_equal(gauges_read_progress(f->cfg, "gone", &r), 1);
	struct utimbuf old = { time(NULL) - GAUGES_PROGRESS_STALE - 10,
			       time(NULL) - GAUGES_PROGRESS_STALE - 10 };
	assert_int_equal(utime(path, &old), 0);
	assert_int_equal(gauges_read_progress(f->cfg, "gone", &r), 0);
	/* not JSON at all: no run either */
	c = fopen(path, "w");
	assert_non_null(c);
	fprintf(c, "garbage");
	fclose(c);
	assert_int_equal(gauges_read_progress(f->cfg, "gone", &r), 0);
	free(path);
	free(dir);
}

/* gauges_load gives a running job's progress to /metrics, and only a running job's. */
static void test_load_running_only(void **state)
{
	fixture *f = *state;
	gauges_progress_ctx a = { f->cfg, "a" }, b = { f->cfg, "b" };
	progress_snapshot w = figures();
	gauges_record_progress(&a, &w, 0);
	gauges_record_progress(&b, &w, 0);
	metrics_snapshot s;
	memset(&s, 0, sizeof s);
	s.jobs = xcalloc(2, sizeof *s.jobs);
	s.n_jobs = 2;
	s.jobs[0].name = xstrdup("a");
	s.jobs[0].running = 1;
	s.jobs[1].name = xstrdup("b"); /* the daemon knows it is not running */
	gauges_load(f->cfg, &s);
	assert_int_equal(s.jobs[0].has_progress, 1);
	assert_true(s.jobs[0].progress_bytes_done == w.bytes_done);
	assert_int_equal(s.jobs[0].progress_objects_total, 12);
	assert_int_equal(s.jobs[1].has_progress, 0);
	metrics_snapshot_clear(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dead_or_stale, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_running_only, setup, teardown),
	};
	return cmocka_run_group_tests_name("gauges", tests, NULL, NULL);
}
