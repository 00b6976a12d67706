#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "backupd/metrics_http.h"
#include "common/mem.h"

#define T0 ((time_t)1795256100)

/* Two jobs: one with a known last run, one never run and unscheduled. */
static void snapshot_fill(metrics_snapshot *s)
{
	memset(s, 0, sizeof *s);
	s->started = T0;
	s->tick = T0 + 100;
	s->state_dir_writable = 1;
	s->jobs = xcalloc(2, sizeof *s->jobs);
	s->n_jobs = 2;
	metrics_job *a = &s->jobs[0];
	a->name = xstrdup("app-nightly");
	a->has_last = 1;
	a->last_ok = 0;
	a->last_success = T0 + 10;
	a->last_duration = 42;
	a->last_bytes = 123456789012ULL;
	a->last_rows = 2000;
	a->runs_total = 5;
	a->failures_total = 2;
	a->running = 1;
	a->next = T0 + 3600;
	s->jobs[1].name = xstrdup("we\"ird\\job");
}

static char *render(const metrics_snapshot *s)
{
	strbuf b;
	strbuf_init(&b);
	metrics_render(s, &b);
	return strbuf_detach(&b);
}

static void test_render(void **state)
{
	(void)state;
	metrics_snapshot s;
	snapshot_fill(&s);
	char *text = render(&s);
	const char *want[] = {
		"backupd_up 1\n",
		"backupd_start_time_seconds 1795256100\n",
		"backupd_last_tick_time_seconds 1795256200\n",
		"# TYPE backupd_job_runs_total counter\n",
		"# TYPE backupd_job_running gauge\n",
		"backupd_job_last_success_time_seconds{backupd_job=\"app-nightly\"} 1795256110\n",
		"backupd_job_last_run_success{backupd_job=\"app-nightly\"} 0\n",
		"backupd_job_last_run_duration_seconds{backupd_job=\"app-nightly\"} 42\n",
		"backupd_job_last_run_bytes{backupd_job=\"app-nightly\"} 123456789012\n",
		"backupd_job_last_run_rows{backupd_job=\"app-nightly\"} 2000\n",
		"backupd_job_runs_total{backupd_job=\"app-nightly\"} 5\n",
		"backupd_job_failures_total{backupd_job=\"app-nightly\"} 2\n",
		"backupd_job_running{backupd_job=\"app-nightly\"} 1\n",
		"backupd_job_next_run_time_seconds{backupd_job=\"app-nightly\"} 1795259700\n",
		/* label escaping; a never-run job still has its counters and last success 0 */
		"backupd_job_runs_total{backupd_job=\"we\\\"ird\\\\job\"} 0\n",
		"backupd_job_last_success_time_seconds{backupd_job=\"we\\\"ird\\\\job\"} 0\n",
		"backupd_job_running{backupd_job=\"we\\\"ird\\\\job\"} 0\n",
	};
	for (size_t i = 0; i < sizeof want / sizeof *want; i++)
		if (strstr(text, want[i]) == NULL)
			fail_msg("missing %s in:\n%s", want[i], text);
	/* no last-run series and no next time for a job that never ran and is unscheduled */
	assert_null(strstr(text, "backupd_job_last_run_bytes{backupd_job=\"we"));
	assert_null(strstr(text, "backupd_job_next_run_time_seconds{backupd_job=\"we"));
	/* every sample line belongs to a family announced with HELP and TYPE */
	for (char *line = text; *line; line = strchr(line, '\n') + 1) {
		if (*line != '#') {
			char name[128];
			size_t n = strcspn(line, "{ ");
			assert_true(n < sizeof name);
			memcpy(name, line, n);
			name[n] = '\0';
			char *type = xasprintf("# TYPE %s ", name);
			assert_non_null(strstr(text, type));
			free(type);
		}
	}
	assert_int_equal(text[strlen(text) - 1], '\n');
	free(text);
	metrics_snapshot_clear(&s);
	assert_int_equal(s.n_jobs, 0);
}

static void test_health(void **state)
{
	(void)state;
	metrics_snapshot s;
	snapshot_fill(&s);
	char why[128];
	assert_int_equal(metrics_health(&s, T0 + 110, why, sizeof why), 1);
	assert_int_equal(metrics_health(&s, T0 + 100 + METRICS_HEALTH_MAX_TICK_AGE + 1, why,
					sizeof why), 0);
	assert_non_null(strstr(why, "loop last ran"));
	s.state_dir_writable = 0;
	assert_int_equal(metrics_health(&s, T0 + 110, why, sizeof why), 0);
	assert_non_null(strstr(why, "not writable"));
	s.state_dir_writable = 1;
	s.stopping = 1;
	assert_int_equal(metrics_health(&s, T0 + 110, why, sizeof why), 0);
	metrics_snapshot_clear(&s);
	/* nothing published yet */
	assert_int_equal(metrics_health(&s, T0, why, sizeof why), 0);
}

static void test_fleet(void **state)
{
	(void)state;
	metrics_snapshot s;
	snapshot_fill(&s);
	char *text = render(&s);
	/* a daemon alone says nothing of a catalog */
	assert_null(strstr(text, "backupd_catalog_up"));
	assert_null(strstr(text, "backupd_fleet_job_last_success_time_seconds"));
	free(text);
	s.fleet = 1;
	s.catalog_ok = 0;
	snprintf(s.catalog_error, sizeof s.catalog_error, "connection refused");
	s.jobs[0].fleet_last_success = T0 + 20;
	text = render(&s);
	assert_non_null(strstr(text, "backupd_catalog_up 0\n"));
	assert_non_null(strstr(text, "backupd_fleet_job_last_success_time_seconds{backupd_job=\"app-nightly\"} "));
	free(text);
	char why[BDERR_MSG_MAX + 128];
	assert_int_equal(metrics_health(&s, T0 + 110, why, sizeof why), 0);
	assert_non_null(strstr(why, "catalog unreachable, starting no new run: connection refused"));
	s.catalog_ok = 1;
	assert_int_equal(metrics_health(&s, T0 + 110, why, sizeof why), 1);
	metrics_snapshot_clear(&s);
}

static void test_route(void **state)
{
	(void)state;
	metrics_snapshot s;
	snapshot_fill(&s);
	metrics_response r;
	metrics_route(&s, "GET", "/metrics", T0 + 110, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.content_type, "version=0.0.4"));
	assert_non_null(strstr(r.body, "backupd_up 1"));
	free(r.body);
	metrics_route(&s, "GET", "/health", T0 + 110, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "ok\n");
	free(r.body);
	metrics_route(&s, "GET", "/health?verbose=1", T0 + 1000, &r);
	assert_int_equal(r.status, 503);
	assert_non_null(strstr(r.body, "unhealthy"));
	free(r.body);
	metrics_route(&s, "GET", "/", T0, &r);
	assert_int_equal(r.status, 404);
	free(r.body);
	metrics_route(&s, "GET", "/metricsx", T0, &r);
	assert_int_equal(r.status, 404);
	free(r.body);
	metrics_route(&s, "POST", "/metrics", T0, &r);
	assert_int_equal(r.status, 405);
	free(r.body);
	metrics_snapshot_clear(&s);
}

static void test_parse_listen(void **state)
{
	(void)state;
	struct sockaddr_storage a;
	socklen_t len;
	bderr err;
	bderr_init(&err);
	assert_int_equal(metrics_parse_listen("127.0.0.1:9187", &a, &len, &err), 0);
	assert_int_equal(a.ss_family, AF_INET);
	assert_int_equal(ntohs(((struct sockaddr_in *)&a)->sin_port), 9187);
	assert_int_equal(metrics_parse_listen("[::1]:80", &a, &len, &err), 0);
	assert_int_equal(a.ss_family, AF_INET6);
	assert_int_equal(metrics_parse_listen("0.0.0.0:65535", &a, &len, &err), 0);
	const char *bad[] = { "", "9187", ":9187", "127.0.0.1", "127.0.0.1:", "127.0.0.1:0",
			      "127.0.0.1:65536", "127.0.0.1:99999999999", "localhost:9187",
			      "::1:9187", "[::1]", "[::1:80", "1.2.3.4:80x", "256.0.0.1:80" };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		bderr_init(&err);
		if (metrics_parse_listen(bad[i], &a, &len, &err) == 0)
			fail_msg("'%s' accepted", bad[i]);
		assert_int_equal(err.exit_code, EXIT_USAGE);
	}
}

static void test_listen_warning(void **state)
{
	(void)state;
	char w[512];
	static const char *const local[] = { "127.0.0.1:9187", "127.1.2.3:80", "[::1]:9187",
					     "[::ffff:127.0.0.1]:9187", "garbage", NULL };
	for (int i = 0; local[i]; i++) {
		w[0] = '\0';
		if (metrics_listen_warning(local[i], w, sizeof w) != 0)
			fail_msg("'%s' is loopback (or not an address) but warned: %s", local[i], w);
	}
	static const char *const public[] = { "0.0.0.0:9187", "[::]:9187", "192.0.2.10:9187",
					      "[2001:db8::1]:80", "[::ffff:192.0.2.1]:80", NULL };
	for (int i = 0; public[i]; i++) {
		if (metrics_listen_warning(public[i], w, sizeof w) != 1)
			fail_msg("'%s' is reachable from other hosts but not warned about", public[i]);
		assert_non_null(strstr(w, public[i]));
		assert_non_null(strstr(w, "not a loopback address"));
	}
}

/* WAL archiving and repository figures; every series has # HELP and # TYPE before it. */
/* A running job's progress: gauges while it reports one, totals only when known. */
static void test_render_progress(void **state)
{
	(void)state;
	metrics_snapshot s;
	snapshot_fill(&s);
	metrics_job *a = &s.jobs[0];
	a->has_progress = 1;
	a->progress_bytes_done = 1048576;
	a->progress_bytes_total = 0; /* unknown */
	a->progress_objects_done = 3;
	a->progress_objects_total = 12;
	char *text = render(&s);
	assert_non_null(strstr(text, "# TYPE backupd_job_progress_bytes gauge\n"));
	assert_non_null(strstr(text, "backupd_job_progress_bytes{backupd_job=\"app-nightly\"} 1048576\n"));
	assert_non_null(strstr(text, "backupd_job_progress_objects{backupd_job=\"app-nightly\"} 3\n"));
	assert_non_null(strstr(text, "backupd_job_progress_objects_total{backupd_job=\"app-nightly\"} 12\n"));
	assert_null(strstr(text, "backupd_job_progress_bytes_total{"));
	/* the job that is not running has none */
	assert_null(strstr(text, "backupd_job_progress_bytes{backupd_job=\"we"));
	free(text);
	metrics_snapshot_clear(&s);
}

static void test_render_wal_repo(void **state)
{
	(void)state;
	metrics_snapshot s;
	snapshot_fill(&s);
	s.wal = xcalloc(2, sizeof *s.wal);
	s.n_wal = 2;
	s.wal[0] = (metrics_wal){ xstrdup("app"), T0 + 40, 3, 7 };
	s.wal[1] = (metrics_wal){ xstrdup("never"), 0, 1, 0 };
	s.repos = xcalloc(1, sizeof *s.repos);
	s.n_repos = 1;
	s.repos[0] = (metrics_repo){ xstrdup("local"), 987654321 };
	char *text = render(&s);
	const char *want[] = {
		"backupd_wal_last_archived_time_seconds{source=\"app\"} 1795256140\n",
		"backupd_wal_last_archived_age_seconds{source=\"app\"} 60\n",
		"backupd_wal_archive_failures_total{source=\"app\"} 3\n",
		"backupd_wal_archive_failures_total{source=\"never\"} 1\n",
		"backupd_wal_spool_segments{source=\"app\"} 7\n",
		"# TYPE backupd_wal_archive_failures_total counter\n",
		"# TYPE backupd_repo_size_bytes gauge\n",
		"backupd_repo_size_bytes{repo=\"local\"} 987654321\n",
	};
	for (size_t i = 0; i < sizeof want / sizeof *want; i++)
		if (strstr(text, want[i]) == NULL)
			fail_msg("missing: %s\n%s", want[i], text);
	assert_null(strstr(text, "age_seconds{source=\"never\"}"));
	assert_null(strstr(text, "{job="));
	/* each sample's family was introduced by HELP and TYPE lines */
	for (char *line = text; *line; line = strchr(line, '\n') + 1) {
		if (*line != '#') {
			char name[128];
			size_t len = strcspn(line, "{ ");
			snprintf(name, sizeof name, "# TYPE %.*s ", (int)len, line);
			assert_non_null(strstr(text, name));
			snprintf(name, sizeof name, "# HELP %.*s ", (int)len, line);
			assert_non_null(strstr(text, name));
		}
	}
	free(text);
	metrics_snapshot_clear(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_render),
		cmocka_unit_test(test_render_wal_repo),
		cmocka_unit_test(test_render_progress),
		cmocka_unit_test(test_health),
		cmocka_unit_test(test_fleet),
		cmocka_unit_test(test_route),
		cmocka_unit_test(test_parse_listen),
		cmocka_unit_test(test_listen_warning),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
