#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/progress.h"

#define MiB (1024ULL * 1024)

static void test_bytes(void **state)
{
	(void)state;
	char b[32];
	progress_format_bytes(0, b, sizeof b);
	assert_string_equal(b, "0 B");
	progress_format_bytes(1023, b, sizeof b);
	assert_string_equal(b, "1023 B");
	progress_format_bytes(1024, b, sizeof b);
	assert_string_equal(b, "1.00 KiB");
	progress_format_bytes(12 * MiB + 300 * 1024, b, sizeof b);
	assert_string_equal(b, "12.3 MiB");
	progress_format_bytes(500 * MiB, b, sizeof b);
	assert_string_equal(b, "500 MiB");
	progress_format_bytes(4096 * MiB, b, sizeof b);
	assert_string_equal(b, "4.00 GiB");
	progress_format_bytes(UINT64_MAX, b, sizeof b);
	assert_string_equal(b, "16.0 EiB");
}

static void test_duration(void **state)
{
	(void)state;
	char b[32];
	progress_format_duration(0, b, sizeof b);
	assert_string_equal(b, "0s");
	progress_format_duration(7.4, b, sizeof b);
	assert_string_equal(b, "7s");
	progress_format_duration(185, b, sizeof b);
	assert_string_equal(b, "3m05s");
	progress_format_duration(2 * 3600 + 3 * 60 + 20, b, sizeof b);
	assert_string_equal(b, "2h03m");
	progress_format_duration(3 * 86400 + 4 * 3600 + 59, b, sizeof b);
	assert_string_equal(b, "3d04h");
	progress_format_duration(-1, b, sizeof b);
	assert_string_equal(b, "?");
	progress_format_duration(1e12, b, sizeof b);
	assert_string_equal(b, "?");
}

static progress_snapshot snap(const char *what, uint64_t bd, uint64_t bt, uint64_t od, uint64_t ot,
			      double rate, double elapsed)
{
	progress_snapshot s;
	memset(&s, 0, sizeof s);
	snprintf(s.what, sizeof s.what, "%s", what);
	s.bytes_done = bd;
	s.bytes_total = bt;
	s.objects_done = od;
	s.objects_total = ot;
	s.rate = rate;
	s.elapsed = elapsed;
	return s;
}

static void test_line_known_totals(void **state)
{
	(void)state;
	char b[256];
	progress_snapshot s = snap("dump", 12 * MiB, 48 * MiB, 12, 40, (double)MiB, 12);
	s.estimated = 1;
	progress_format_line(&s, b, sizeof b);
	/* 36 MiB left at 1 MiB/s; the estimate is marked, the object count is exact */
	assert_string_equal(b, "dump: 12.0 MiB of ~48.0 MiB (25%), 12/40 objects, 1.00 MiB/s, ETA 36s");
	s.estimated = 0;
	snprintf(s.phase, sizeof s.phase, "loading data");
	progress_format_line(&s, b, sizeof b);
	assert_string_equal(b, "dump: 12.0 MiB of 48.0 MiB (25%), 12/40 objects, 1.00 MiB/s, ETA 36s, loading data");
}

static void test_line_unknown_totals(void **state)
{
	(void)state;
	char b[256];
	progress_snapshot s = snap("dump", 0, 0, 0, 0, 0, 1);
	progress_format_line(&s, b, sizeof b);
	assert_string_equal(b, "dump: 0 B");
	s = snap("basebackup", 5 * MiB, 0, 3, 0, 0, 4);
	progress_format_line(&s, b, sizeof b);
	/* no total: no percent, no ETA, no rate before the first window */
	assert_string_equal(b, "basebackup: 5.00 MiB, 3 objects");
}

static void test_line_objects_only(void **state)
{
	(void)state;
	char b[256];
	/* expire: backups decided, no bytes; the time left follows the objects' pace */
	progress_snapshot s = snap("expire", 0, 0, 3, 12, 0, 6);
	progress_format_line(&s, b, sizeof b);
	assert_string_equal(b, "expire: 3/12 objects (25%), ETA 18s");
}

static void test_line_past_estimate(void **state)
{
	(void)state;
	char b[256];
	/* done passed an estimated total: never 100% (nor an ETA) before the end */
	progress_snapshot s = snap("dump", 60 * MiB, 48 * MiB, 40, 40, (double)MiB, 50);
	s.estimated = 1;
	progress_format_line(&s, b, sizeof b);
	assert_string_equal(b, "dump: 60.0 MiB of ~60.0 MiB (99%), 40/40 objects, 1.00 MiB/s");
	s = snap("restore", 10, 100, 5, 4, 0, 5);
	progress_format_line(&s, b, sizeof b);
	assert_string_equal(b, "restore: 10 B of 100 B (10%), 5/5 objects");
	/* under a second left: no ETA */
	s = snap("restore", 100 * MiB - 1000, 100 * MiB, 3, 4, (double)MiB, 50);
	progress_format_line(&s, b, sizeof b);
	assert_string_equal(b, "restore: 100 MiB of 100 MiB (99%), 3/4 objects, 1.00 MiB/s");
}

static void test_line_truncates(void **state)
{
	(void)state;
	char b[16];
	progress_snapshot s = snap("restore", 12 * MiB, 48 * MiB, 12, 40, (double)MiB, 12);
	progress_format_line(&s, b, sizeof b);
	assert_int_equal(strlen(b), sizeof b - 1);
	assert_string_equal(b, "restore: 12.0 M");
}

typedef struct adder {
	progress *p;
	int n;
} adder;

static void *add_many(void *arg)
{
	adder *a = arg;
	for (int i = 0; i < a->n; i++)
		progress_add(a->p, 3, 1);
	return NULL;
}

static void test_counters_threads(void **state)
{
	(void)state;
	progress_options o;
	progress_options_init(&o);
	o.quiet = 1; /* counters only: no reporter thread, no output */
	progress *p = progress_new("test", &o);
	progress_set_total(p, 1000, 10);
	progress_add_total(p, 500, 5);
	progress_correct_total(p, 400, 100); /* an estimate of 400 was 100 */
	progress_correct_total(p, 100, 250);
	pthread_t t[4];
	adder a = { p, 10000 };
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, add_many, &a), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	progress_snapshot s;
	progress_get(p, &s);
	assert_string_equal(s.what, "test");
	assert_int_equal(s.bytes_done, 120000);
	assert_int_equal(s.objects_done, 40000);
	assert_int_equal(s.bytes_total, 1500 - 300 + 150);
	assert_int_equal(s.objects_total, 15);
	progress_set_done(p, 7, 2);
	progress_phase(p, "x");
	progress_get(p, &s);
	assert_int_equal(s.bytes_done, 7);
	assert_int_equal(s.objects_done, 2);
	assert_string_equal(s.phase, "x");
	progress_free(p);
	/* NULL is a no-op everywhere */
	progress_add(NULL, 1, 1);
	progress_set_total(NULL, 1, 1);
	progress_phase(NULL, "x");
	progress_free(NULL);
}

typedef struct published {
	pthread_mutex_t lock;
	int calls, finals;
	uint64_t last_bytes;
} published;

static void publish(void *ctx, const progress_snapshot *s, int final)
{
	published *pb = ctx;
	pthread_mutex_lock(&pb->lock);
	pb->calls++;
	pb->finals += final;
	pb->last_bytes = s->bytes_done;
	pthread_mutex_unlock(&pb->lock);
}

static int file_has(const char *path, const char *what)
{
	char buf[8192];
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return 0;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	buf[n] = '\0';
	fclose(f);
	return strstr(buf, what) != NULL;
}

static int published_calls(published *pb)
{
	pthread_mutex_lock(&pb->lock);
	int n = pb->calls;
	pthread_mutex_unlock(&pb->lock);
	return n;
}

/* Plain lines go to stderr (the log); publish runs even when quiet.  Waits poll, generously. */
static void test_plain_lines_and_publish(void **state)
{
	(void)state;
	char path[] = "/tmp/bd-progress-unit.XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	int saved = dup(2);
	fflush(stderr);
	dup2(fd, 2);
	close(fd);
	log_init("backupd", LOG_LEVEL_INFO);
	published pb = { PTHREAD_MUTEX_INITIALIZER, 0, 0, 0 };
	progress_options o;
	progress_options_init(&o);
	o.tty = 0;
	o.interval = 1;
	o.publish = publish;
	o.publish_ctx = &pb;
	progress *p = progress_new("dump", &o);
	progress_set_total(p, 100 * MiB, 4);
	progress_add(p, 25 * MiB, 1);
	const char *want = "backupd info: progress: dump: 25.0 MiB of 100 MiB (25%), 1/4 objects";
	for (int i = 0; i < 300 && !file_has(path, want); i++)
		usleep(100 * 1000);
	progress_free(p);
	int after_first = published_calls(&pb);
	/* quiet: no line, but the state still published */
	o.quiet = 1;
	p = progress_new("restore", &o);
	for (int i = 0; i < 300 && published_calls(&pb) == after_first; i++)
		usleep(100 * 1000);
	progress_free(p);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	int has_line = file_has(path, want);
	int has_restore = file_has(path, "restore");
	int has_cr = file_has(path, "\r");
	unlink(path);
	assert_true(has_line);
	assert_false(has_restore);
	assert_false(has_cr);
	assert_true(pb.calls >= 4); /* a tick of each, and each one's final call */
	assert_int_equal(pb.finals, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bytes),
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_line_known_totals),
		cmocka_unit_test(test_line_unknown_totals),
		cmocka_unit_test(test_line_objects_only),
		cmocka_unit_test(test_line_past_estimate),
		cmocka_unit_test(test_line_truncates),
		cmocka_unit_test(test_counters_threads),
		cmocka_unit_test(test_plain_lines_and_publish),
	};
	return cmocka_run_group_tests_name("progress", tests, NULL, NULL);
}
