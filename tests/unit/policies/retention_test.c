#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policies/retention.h"

#define MAX_ITEMS 64

/* "YYYY-MM-DD HH:MM:SS" read as UTC. */
static time_t utc(const char *s)
{
	struct tm tm = { 0 };
	int n = sscanf(s, "%d-%d-%d %d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
		       &tm.tm_min, &tm.tm_sec);
	assert_int_equal(n, 6);
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return timegm(&tm);
}

/*
 * Applies p to the NULL-terminated list of UTC times (each also used as the
 * item's id) and checks every item against the NULL-terminated list of
 * expected reason strings, "-" meaning removed without a reason.
 */
static void check(const retention_policy *p, const char *now, const char *const *times,
		  const char *const *want)
{
	retention_item items[MAX_ITEMS];
	retention_result out[MAX_ITEMS];
	size_t n = 0;
	for (; times[n]; n++) {
		assert_true(n < MAX_ITEMS);
		items[n].id = times[n];
		items[n].time = utc(times[n]);
	}
	retention_apply(p, items, n, utc(now), out);
	for (size_t i = 0; i < n; i++) {
		assert_non_null(want[i]);
		char got[128];
		retention_reasons_str(out[i].reasons, got, sizeof got);
		const char *w = want[i];
		int want_keep = strcmp(w, "-") != 0 && strcmp(w, "too old") != 0;
		if (strcmp(w, "-") == 0)
			w = "";
		if (strcmp(got, w) != 0 || out[i].keep != want_keep)
			fail_msg("item %zu (%s): got keep=%d '%s', want keep=%d '%s'", i, times[i],
				 out[i].keep, got, want_keep, w);
	}
	assert_null(want[n]);
}

#define LIST(...) ((const char *const[]){ __VA_ARGS__, NULL })

static void test_empty_input(void **state)
{
	(void)state;
	retention_policy p = { .keep_last = 3, .max_age_days = 1 };
	retention_apply(&p, NULL, 0, 0, NULL);
	retention_result out[1] = { { 42, 42 } };
	retention_item items[1] = { { "x", 0 } };
	retention_apply(&p, items, 0, 0, out);
	assert_int_equal(out[0].keep, 42); /* untouched */
}

static void test_no_rules_keeps_everything(void **state)
{
	(void)state;
	retention_policy p = { 0 };
	check(&p, "2026-06-01 00:00:00",
	      LIST("2026-01-01 00:00:00", "2020-01-01 00:00:00", "2026-05-31 00:00:00"),
	      LIST("all", "all", "all"));
}

static void test_keep_last_unsorted(void **state)
{
	(void)state;
	retention_policy p = { .keep_last = 3 };
	check(&p, "2026-06-01 00:00:00",
	      LIST("2026-01-03 00:00:00", "2026-01-05 00:00:00", "2026-01-01 00:00:00",
		   "2026-01-04 00:00:00", "2026-01-02 00:00:00"),
	      LIST("last", "last", "-", "last", "-"));
	/* More requested than present: all kept. */
	p.keep_last = 10;
	check(&p, "2026-06-01 00:00:00", LIST("2026-01-03 00:00:00", "2026-01-05 00:00:00"),
	      LIST("last", "last"));
}

static void test_keep_hourly(void **state)
{
	(void)state;
	retention_policy p = { .keep_hourly = 2 };
	check(&p, "2026-06-01 00:00:00",
	      LIST("2026-01-01 10:05:00", "2026-01-01 10:45:00", "2026-01-01 11:10:00",
		   "2026-01-01 12:30:00", "2026-01-01 12:59:59", "2026-01-01 11:00:00"),
	      LIST("-", "-", "hourly", "-", "hourly", "-"));
	/* Buckets are whole UTC hours: 12:59:59 and 13:00:00 differ. */
	check(&p, "2026-06-01 00:00:00",
	      LIST("2026-01-01 12:59:59", "2026-01-01 13:00:00", "2026-01-01 12:00:00"),
	      LIST("hourly", "hourly", "-"));
}

static void test_keep_daily_skips_empty_days(void **state)
{
	(void)state;
	retention_policy p = { .keep_daily = 3 };
	/* Days without backups (Jan 2, 4-9) do not use up the count. */
	check(&p, "2026-06-01 00:00:00",
	      LIST("2026-01-10 23:00:00", "2026-01-10 01:00:00", "2026-01-03 12:00:00",
		   "2026-01-03 00:00:00", "2026-01-01 23:59:59", "2025-12-31 23:59:59"),
	      LIST("daily", "-", "daily", "-", "daily", "-"));
	/* UTC midnight is the boundary. */
	check(&p, "2026-06-01 00:00:00",
	      LIST("2026-01-01 23:59:59", "2026-01-02 00:00:00", "2026-01-02 00:00:01"),
	      LIST("daily", "-", "daily"));
}

static void test_keep_weekly_iso_year_end(void **state)
{
	(void)state;
	retention_policy p = { .keep_weekly = 2 };
	/*
	 * 2026-12-28 (Mon) .. 2027-01-03 (Sun) is ISO week 2026-W53, one bucket
	 * across New Year; 2027-01-04 (Mon) starts 2027-W01.
	 */
	check(&p, "2027-02-01 00:00:00",
	      LIST("2026-12-27 12:00:00", "2026-12-28 00:00:00", "2027-01-01 00:00:00",
		   "2027-01-03 23:59:59", "2027-01-04 00:00:00"),
	      LIST("-", "-", "-", "weekly", "weekly"));
	p.keep_weekly = 3;
	check(&p, "2027-02-01 00:00:00",
	      LIST("2026-12-27 12:00:00", "2026-12-28 00:00:00", "2027-01-01 00:00:00",
		   "2027-01-03 23:59:59", "2027-01-04 00:00:00"),
	      LIST("weekly", "-", "-", "weekly", "weekly"));
	/* 2024-12-30 (Mon) belongs to 2025-W01, together with 2025-01-05 (Sun). */
	p.keep_weekly = 5;
	check(&p, "2025-02-01 00:00:00",
	      LIST("2024-12-29 23:59:59", "2024-12-30 00:00:00", "2025-01-05 23:00:00",
		   "2025-01-06 00:00:00"),
	      LIST("weekly", "-", "weekly", "weekly"));
}

static void test_keep_monthly_and_yearly(void **state)
{
	(void)state;
	retention_policy p = { .keep_monthly = 2 };
	check(&p, "2027-01-01 00:00:00",
	      LIST("2026-01-31 23:59:59", "2026-02-01 00:00:00", "2026-02-28 00:00:00",
		   "2026-04-15 00:00:00", "2026-04-01 00:00:00"),
	      LIST("-", "-", "monthly", "monthly", "-"));
	retention_policy y = { .keep_yearly = 3 };
	check(&y, "2027-01-01 00:00:00",
	      LIST("2023-06-01 00:00:00", "2024-12-31 23:59:59", "2024-01-01 00:00:00",
		   "2025-01-01 00:00:00", "2026-07-01 00:00:00", "2021-01-01 00:00:00"),
	      LIST("-", "yearly", "-", "yearly", "yearly", "-"));
}

static void test_combination_reasons(void **state)
{
	(void)state;
	retention_policy p = { .keep_last = 2, .keep_daily = 3, .keep_weekly = 2, .keep_monthly = 2 };
	/*
	 * 2026-03-02 is a Monday, so 03-01 is the newest of the week before; it
	 * is in March like the newest backup, so February's newest gets "monthly".
	 */
	check(&p, "2026-03-10 00:00:00",
	      LIST("2026-03-04 10:00:00", "2026-03-04 03:00:00", "2026-03-03 03:00:00",
		   "2026-03-02 03:00:00", "2026-03-01 03:00:00", "2026-02-27 03:00:00",
		   "2026-02-20 03:00:00"),
	      LIST("last, daily, weekly, monthly", "last", "daily", "daily", "weekly", "monthly",
		   "-"));
}

static void test_ties(void **state)
{
	(void)state;
	/* Equal times: the larger id (a collision suffix) counts as newer. */
	retention_policy p = { .keep_last = 1 };
	retention_item items[3] = {
		{ "20260101T000000Z", utc("2026-01-01 00:00:00") },
		{ "20260101T000000Z-2", utc("2026-01-01 00:00:00") },
		{ "20251231T000000Z", utc("2025-12-31 00:00:00") },
	};
	retention_result out[3];
	retention_apply(&p, items, 3, utc("2026-02-01 00:00:00"), out);
	assert_int_equal(out[0].keep, 0);
	assert_int_equal(out[1].keep, 1);
	assert_int_equal(out[1].reasons, RETAIN_LAST);
	assert_int_equal(out[2].keep, 0);

	/* Same bucket, same time, no ids: input order decides, deterministically. */
	retention_policy d = { .keep_daily = 5 };
	retention_item same[3] = { { NULL, 1000 }, { NULL, 1000 }, { NULL, 500 } };
	retention_apply(&d, same, 3, 100000, out);
	assert_int_equal(out[0].reasons, RETAIN_DAILY);
	assert_int_equal(out[1].keep, 0);
	assert_int_equal(out[2].keep, 0);
}

static void test_max_age_removes_even_if_kept(void **state)
{
	(void)state;
	retention_policy p = { .keep_daily = 10, .max_age_days = 5 };
	/* now - 5 days = 2026-01-05 12:00:00: exactly that old is still kept. */
	check(&p, "2026-01-10 12:00:00",
	      LIST("2026-01-10 00:00:00", "2026-01-06 00:00:00", "2026-01-05 12:00:00",
		   "2026-01-05 11:59:59", "2026-01-01 00:00:00"),
	      LIST("daily", "daily", "daily", "too old", "too old"));
}

static void test_max_age_alone(void **state)
{
	(void)state;
	retention_policy p = { .max_age_days = 30 };
	/* now - 30 days = 2026-01-30 00:00:00 */
	check(&p, "2026-03-01 00:00:00",
	      LIST("2026-02-15 00:00:00", "2026-01-01 00:00:00", "2026-01-29 23:59:59",
		   "2026-01-30 00:00:00"),
	      LIST("all", "too old", "too old", "all"));
}

static void test_newest_never_removed(void **state)
{
	(void)state;
	retention_policy p = { .keep_daily = 7, .max_age_days = 1 };
	check(&p, "2026-06-01 00:00:00",
	      LIST("2026-01-02 00:00:00", "2026-01-03 00:00:00", "2026-01-01 00:00:00"),
	      LIST("too old", "newest", "too old"));
	/* A single backup, ancient: still kept. */
	retention_policy q = { .max_age_days = 1 };
	check(&q, "2026-06-01 00:00:00", LIST("2000-01-01 00:00:00"), LIST("newest"));
	/* The newest by time, not by position. */
	check(&q, "2026-06-01 00:00:00", LIST("2000-01-01 00:00:00", "2001-01-01 00:00:00"),
	      LIST("too old", "newest"));
}

static void test_before_epoch(void **state)
{
	(void)state;
	/* Floor division: -1 s is in the hour before 0, with -3600. */
	retention_policy p = { .keep_hourly = 5 };
	retention_item items[3] = { { "a", -3600 }, { "b", -1 }, { "c", 0 } };
	retention_result out[3];
	retention_apply(&p, items, 3, 10, out);
	assert_int_equal(out[0].keep, 0);
	assert_int_equal(out[1].reasons, RETAIN_HOURLY);
	assert_int_equal(out[2].reasons, RETAIN_HOURLY);
	/* 1969-12-29 (Mon, day -3) starts the week that holds 1970-01-01. */
	retention_policy w = { .keep_weekly = 5 };
	retention_item wk[3] = { { "a", -4 * 86400 }, { "b", -3 * 86400 }, { "c", 0 } };
	retention_apply(&w, wk, 3, 10, out);
	assert_int_equal(out[0].reasons, RETAIN_WEEKLY);
	assert_int_equal(out[1].keep, 0);
	assert_int_equal(out[2].reasons, RETAIN_WEEKLY);
}

static void test_reasons_str(void **state)
{
	(void)state;
	char buf[64];
	assert_string_equal(retention_reasons_str(0, buf, sizeof buf), "");
	assert_string_equal(retention_reasons_str(RETAIN_LAST | RETAIN_DAILY | RETAIN_YEARLY, buf,
						  sizeof buf),
			    "last, daily, yearly");
	assert_string_equal(retention_reasons_str(RETAIN_TOO_OLD, buf, sizeof buf), "too old");
	char small[8];
	assert_string_equal(retention_reasons_str(RETAIN_LAST | RETAIN_HOURLY, small, sizeof small),
			    "last, h");
	assert_int_equal(strlen(small), 7);
}

static void test_parse(void **state)
{
	(void)state;
	retention_policy p;
	bderr err;
	bderr_init(&err);
	assert_int_equal(retention_parse("keep-daily=7 keep-weekly=4 keep-monthly=12 max-age=90", &p,
					 &err),
			 0);
	assert_int_equal(p.keep_daily, 7);
	assert_int_equal(p.keep_weekly, 4);
	assert_int_equal(p.keep_monthly, 12);
	assert_int_equal(p.max_age_days, 90);
	assert_int_equal(p.keep_last, 0);
	assert_int_equal(p.keep_hourly, 0);
	assert_int_equal(p.keep_yearly, 0);

	assert_int_equal(retention_parse("  keep-last=1\tkeep-hourly=24  keep-yearly=3 ", &p, &err),
			 0);
	assert_int_equal(p.keep_last, 1);
	assert_int_equal(p.keep_hourly, 24);
	assert_int_equal(p.keep_yearly, 3);
	assert_int_equal(p.keep_daily, 0);
}

static const struct bad_spec {
	const char *spec;
	const char *msg;
} bad_specs[] = {
	{ "keep-daly=7",
	  "retention 'keep-daly=7': unknown key 'keep-daly' (expected keep-last, keep-hourly, "
	  "keep-daily, keep-weekly, keep-monthly, keep-yearly or max-age)" },
	{ "keep-daily", "retention 'keep-daily': 'keep-daily' is not key=value" },
	{ "keep-daily=7 weekly", "retention 'keep-daily=7 weekly': 'weekly' is not key=value" },
	{ "keep-daily=0",
	  "retention 'keep-daily=0': 'keep-daily=0': value must be an integer from 1 to 1000000" },
	{ "keep-daily=-1",
	  "retention 'keep-daily=-1': 'keep-daily=-1': value must be an integer from 1 to 1000000" },
	{ "keep-daily=",
	  "retention 'keep-daily=': 'keep-daily=': value must be an integer from 1 to 1000000" },
	{ "keep-daily=7x",
	  "retention 'keep-daily=7x': 'keep-daily=7x': value must be an integer from 1 to 1000000" },
	{ "max-age=99999999999",
	  "retention 'max-age=99999999999': 'max-age=99999999999': value must be an integer from 1 "
	  "to 1000000" },
	{ "keep-daily=7 keep-daily=8",
	  "retention 'keep-daily=7 keep-daily=8': 'keep-daily' is given twice" },
	{ "=7", "retention '=7': unknown key '' (expected keep-last, keep-hourly, keep-daily, "
		"keep-weekly, keep-monthly, keep-yearly or max-age)" },
	{ "", "retention '': no rule given (expected e.g. keep-daily=7)" },
	{ "   ", "retention '   ': no rule given (expected e.g. keep-daily=7)" },
};

static void test_parse_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof bad_specs / sizeof bad_specs[0]; i++) {
		retention_policy p;
		bderr err;
		bderr_init(&err);
		if (retention_parse(bad_specs[i].spec, &p, &err) == 0)
			fail_msg("'%s' parsed", bad_specs[i].spec);
		assert_string_equal(err.msg, bad_specs[i].msg);
		assert_int_equal(err.exit_code, EXIT_USAGE);
	}
	retention_policy p;
	bderr err;
	bderr_init(&err);
	assert_int_equal(retention_parse(NULL, &p, &err), -1);
	assert_string_equal(err.msg, "retention is missing");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_input),
		cmocka_unit_test(test_no_rules_keeps_everything),
		cmocka_unit_test(test_keep_last_unsorted),
		cmocka_unit_test(test_keep_hourly),
		cmocka_unit_test(test_keep_daily_skips_empty_days),
		cmocka_unit_test(test_keep_weekly_iso_year_end),
		cmocka_unit_test(test_keep_monthly_and_yearly),
		cmocka_unit_test(test_combination_reasons),
		cmocka_unit_test(test_ties),
		cmocka_unit_test(test_max_age_removes_even_if_kept),
		cmocka_unit_test(test_max_age_alone),
		cmocka_unit_test(test_newest_never_removed),
		cmocka_unit_test(test_before_epoch),
		cmocka_unit_test(test_reasons_str),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_parse_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
