#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policies/cron.h"

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

static void fmt_utc(time_t t, char *buf, size_t size)
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm);
}

/*
 * Expected times are written in UTC and were worked out by hand from the
 * zone rules (CET +1/CEST +2, switching 2026-03-29 and 2026-10-25 at 01:00
 * UTC; EST -5/EDT -4, switching 2026-03-08 at 07:00 and 2026-11-01 at 06:00
 * UTC), so the test does not trust the code's own conversions.
 */
static const struct next_case {
	const char *expr;
	const char *tz;
	const char *after; /* UTC */
	const char *next;  /* UTC */
} next_cases[] = {
	/* UTC basics */
	{ "0 3 * * *", "UTC", "2026-01-01 00:00:00", "2026-01-01 03:00:00" },
	{ "0 3 * * *", "UTC", "2026-01-01 03:00:00", "2026-01-02 03:00:00" }, /* strictly after */
	{ "0 3 * * *", "UTC", "2026-01-01 02:59:59", "2026-01-01 03:00:00" },
	{ "*/15 * * * *", "UTC", "2026-01-01 00:07:00", "2026-01-01 00:15:00" },
	{ "*/15 * * * *", "UTC", "2026-12-31 23:50:00", "2027-01-01 00:00:00" },
	{ "5/20 * * * *", "UTC", "2026-01-01 00:46:00", "2026-01-01 01:05:00" },
	{ "10-30/10 8,20 * * *", "UTC", "2026-01-01 08:30:00", "2026-01-01 20:10:00" },
	{ "0 0 1 1 *", "UTC", "2026-06-01 00:00:00", "2027-01-01 00:00:00" },
	{ "@yearly", "UTC", "2026-06-01 00:00:00", "2027-01-01 00:00:00" },
	{ "@annually", "UTC", "2026-01-01 00:00:00", "2027-01-01 00:00:00" },
	{ "@monthly", "UTC", "2026-01-31 12:00:00", "2026-02-01 00:00:00" },
	{ "@weekly", "UTC", "2026-01-01 00:00:00", "2026-01-04 00:00:00" }, /* Thu -> Sun */
	{ "@daily", "UTC", "2026-02-28 23:59:59", "2026-03-01 00:00:00" },
	{ "@midnight", "UTC", "2028-02-28 00:00:00", "2028-02-29 00:00:00" },
	{ "@hourly", "UTC", "2026-02-28 23:00:00", "2026-03-01 00:00:00" },
	{ "  @HOURLY ", "UTC", "2026-02-28 23:00:00", "2026-03-01 00:00:00" },
	{ "0 0 29 2 *", "UTC", "2026-01-01 00:00:00", "2028-02-29 00:00:00" },
	{ "0 0 31 * *", "UTC", "2026-04-01 00:00:00", "2026-05-31 00:00:00" },
	{ "0 12 * * 7", "UTC", "2026-01-01 00:00:00", "2026-01-04 12:00:00" },
	{ "0 12 * * sun", "UTC", "2026-01-01 00:00:00", "2026-01-04 12:00:00" },
	{ "0 9 * JAN-MAR mon-fri", "UTC", "2026-03-31 09:00:00", "2027-01-01 09:00:00" },
	{ "0 9 * jan,Jul *", "UTC", "2026-02-01 00:00:00", "2026-07-01 09:00:00" },
	{ "0 0 * * 5-7", "UTC", "2026-01-05 00:00:00", "2026-01-09 00:00:00" }, /* Mon -> Fri */
	/* Vixie: both restricted -> either; a '*'-field -> both */
	{ "0 0 13 * FRI", "UTC", "2026-01-01 00:00:00", "2026-01-02 00:00:00" },
	{ "0 0 13 * FRI", "UTC", "2026-01-09 00:00:00", "2026-01-13 00:00:00" },
	{ "0 0 */7 * 1", "UTC", "2026-01-01 00:00:00", "2026-06-01 00:00:00" },
	{ "0 0 1 * */7", "UTC", "2026-01-01 00:00:00", "2026-02-01 00:00:00" }, /* Feb 1 is Sun */
	/* six fields: seconds first */
	{ "30 * * * * *", "UTC", "2026-01-01 00:00:30", "2026-01-01 00:01:30" },
	{ "*/10 * * * * *", "UTC", "2026-01-01 00:00:05", "2026-01-01 00:00:10" },
	{ "0 0 0 1 1 *", "UTC", "2026-01-01 00:00:00", "2027-01-01 00:00:00" },
	{ "59 59 23 31 12 *", "UTC", "2026-12-31 23:59:58", "2026-12-31 23:59:59" },

	/* Europe/Berlin, winter and summer */
	{ "0 3 * * *", "Europe/Berlin", "2026-01-10 00:00:00", "2026-01-10 02:00:00" },
	{ "0 3 * * *", "Europe/Berlin", "2026-07-10 00:00:00", "2026-07-10 01:00:00" },
	/* spring forward 2026-03-29: 02:00-02:59 does not exist, runs once at 03:00 */
	{ "30 2 * * *", "Europe/Berlin", "2026-03-28 12:00:00", "2026-03-29 01:00:00" },
	{ "30 2 * * *", "Europe/Berlin", "2026-03-29 01:00:00", "2026-03-30 00:30:00" },
	{ "0 3 * * *", "Europe/Berlin", "2026-03-28 12:00:00", "2026-03-29 01:00:00" },
	{ "* * * * *", "Europe/Berlin", "2026-03-29 00:59:00", "2026-03-29 01:00:00" },
	{ "* * * * *", "Europe/Berlin", "2026-03-29 01:00:00", "2026-03-29 01:01:00" },
	{ "30 30 2 * * *", "Europe/Berlin", "2026-03-28 12:00:00", "2026-03-29 01:00:00" },
	{ "0 2 29 3 *", "Europe/Berlin", "2026-01-01 00:00:00", "2026-03-29 01:00:00" },
	/* asked from the gap's last second (01:59:59 CET): the skipped 02:06 still fires at
	 * 03:00 CEST, not only its next hour's 03:06 (fuzzing) */
	{ "6 * * * *", "Europe/Berlin", "2026-03-29 00:59:59", "2026-03-29 01:00:00" },
	{ "6 * * * *", "Europe/Berlin", "2026-03-29 00:30:00", "2026-03-29 01:00:00" },
	/* fall back 2026-10-25: 02:00-02:59 happens twice, runs at the first */
	{ "30 2 * * *", "Europe/Berlin", "2026-10-24 12:00:00", "2026-10-25 00:30:00" },
	{ "30 2 * * *", "Europe/Berlin", "2026-10-25 00:30:00", "2026-10-26 01:30:00" },
	{ "30 2 * * *", "Europe/Berlin", "2026-10-25 01:10:00", "2026-10-26 01:30:00" },
	{ "0 * * * *", "Europe/Berlin", "2026-10-25 00:00:00", "2026-10-25 02:00:00" },
	{ "*/30 * * * *", "Europe/Berlin", "2026-10-25 00:45:00", "2026-10-25 02:00:00" },
	{ "0 1 * * *", "Europe/Berlin", "2026-10-24 12:00:00", "2026-10-24 23:00:00" },
	{ "0 4 * * *", "Europe/Berlin", "2026-10-25 00:00:00", "2026-10-25 03:00:00" },

	/* America/New_York */
	{ "0 12 * * *", "America/New_York", "2026-07-01 00:00:00", "2026-07-01 16:00:00" },
	{ "0 12 * * *", "America/New_York", "2026-12-01 00:00:00", "2026-12-01 17:00:00" },
	/* spring forward 2026-03-08: 02:00-02:59 does not exist */
	{ "30 2 * * *", "America/New_York", "2026-03-07 12:00:00", "2026-03-08 07:00:00" },
	{ "0 2 * * *", "America/New_York", "2026-03-07 12:00:00", "2026-03-08 07:00:00" },
	{ "0 2 8 3 *", "America/New_York", "2026-01-01 00:00:00", "2026-03-08 07:00:00" },
	{ "0 3 * * *", "America/New_York", "2026-03-07 12:00:00", "2026-03-08 07:00:00" },
	{ "30 2 * * *", "America/New_York", "2026-03-08 07:00:00", "2026-03-09 06:30:00" },
	/* fall back 2026-11-01: 01:00-01:59 happens twice */
	{ "30 1 * * *", "America/New_York", "2026-10-31 12:00:00", "2026-11-01 05:30:00" },
	{ "30 1 * * *", "America/New_York", "2026-11-01 05:30:00", "2026-11-02 06:30:00" },
	{ "30 1 * * *", "America/New_York", "2026-11-01 06:10:00", "2026-11-02 06:30:00" },
	{ "0 * * * *", "America/New_York", "2026-11-01 05:00:00", "2026-11-01 07:00:00" },
	{ "0 2 * * *", "America/New_York", "2026-10-31 12:00:00", "2026-11-01 07:00:00" },
};

static void test_next_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof next_cases / sizeof next_cases[0]; i++) {
		const struct next_case *c = &next_cases[i];
		cron_schedule *s;
		bderr err;
		bderr_init(&err);
		if (cron_parse(c->expr, &s, &err) < 0)
			fail_msg("parse '%s': %s", c->expr, err.msg);
		time_t next = 0;
		if (cron_next(s, utc(c->after), c->tz, &next, &err) < 0)
			fail_msg("next '%s' %s: %s", c->expr, c->tz, err.msg);
		char got[32];
		fmt_utc(next, got, sizeof got);
		if (strcmp(got, c->next) != 0)
			fail_msg("'%s' in %s after %s: got %s, want %s", c->expr, c->tz, c->after, got,
				 c->next);
		cron_free(s);
	}
}

static const struct bad_case {
	const char *expr;
	const char *msg;
} bad_cases[] = {
	{ "61 * * * *", "schedule '61 * * * *': minute 61 is out of range 0-59" },
	{ "* 24 * * *", "schedule '* 24 * * *': hour 24 is out of range 0-23" },
	{ "* * 0 * *", "schedule '* * 0 * *': day-of-month 0 is out of range 1-31" },
	{ "* * 32 * *", "schedule '* * 32 * *': day-of-month 32 is out of range 1-31" },
	{ "* * * 13 *", "schedule '* * * 13 *': month 13 is out of range 1-12" },
	{ "* * * * 8", "schedule '* * * * 8': day-of-week 8 is out of range 0-7" },
	{ "60 * * * * *", "schedule '60 * * * * *': second 60 is out of range 0-59" },
	{ "* * * FOO *", "schedule '* * * FOO *': month 'FOO' is not a number or a name JAN-DEC" },
	{ "* * * * MONDAY",
	  "schedule '* * * * MONDAY': day-of-week 'MONDAY' is not a number or a name SUN-SAT" },
	{ "x * * * *", "schedule 'x * * * *': minute 'x' is not a number" },
	{ "1x * * * *", "schedule '1x * * * *': minute '1x' is not a number" },
	{ "* * * *", "schedule '* * * *': expected 5 fields (or 6 with seconds first), got 4" },
	{ "1 2 3 4 5 6 7",
	  "schedule '1 2 3 4 5 6 7': expected 5 fields (or 6 with seconds first), got 7" },
	{ "", "schedule '': expected 5 fields (or 6 with seconds first), got 0" },
	{ "30-10 * * * *", "schedule '30-10 * * * *': minute range '30-10' is backwards" },
	{ "* * * DEC-JAN *", "schedule '* * * DEC-JAN *': month range 'DEC-JAN' is backwards" },
	{ "*/0 * * * *", "schedule '*/0 * * * *': minute step 0 is out of range 1-60" },
	{ "* */25 * * *", "schedule '* */25 * * *': hour step 25 is out of range 1-24" },
	{ "*/x * * * *", "schedule '*/x * * * *': minute step 'x' is not a number" },
	{ "*/ * * * *", "schedule '*/ * * * *': minute step is missing after '/'" },
	{ "1,,2 * * * *", "schedule '1,,2 * * * *': minute has an empty list element" },
	{ "1, * * * *", "schedule '1, * * * *': minute has an empty list element" },
	{ "-5 * * * *", "schedule '-5 * * * *': minute '-5' is not a value or range" },
	{ "5- * * * *", "schedule '5- * * * *': minute '5-' is not a value or range" },
	{ "0 0 30 2 *", "schedule '0 0 30 2 *' never fires" },
	{ "0 0 31 4,6,9,11 *", "schedule '0 0 31 4,6,9,11 *' never fires" },
	{ "0 0 30-31 FEB *", "schedule '0 0 30-31 FEB *' never fires" },
	{ "@reboot", "schedule '@reboot': unknown macro (expected @yearly, @annually, @monthly, "
		     "@weekly, @daily, @midnight or @hourly)" },
	{ "@daily 5", "schedule '@daily 5': unknown macro (expected @yearly, @annually, @monthly, "
		      "@weekly, @daily, @midnight or @hourly)" },
};

static void test_parse_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
		cron_schedule *s = (cron_schedule *)1;
		bderr err;
		bderr_init(&err);
		if (cron_parse(bad_cases[i].expr, &s, &err) == 0)
			fail_msg("'%s' parsed", bad_cases[i].expr);
		assert_null(s);
		assert_string_equal(err.msg, bad_cases[i].msg);
		assert_int_equal(err.exit_code, EXIT_USAGE);
	}
	cron_schedule *s;
	bderr err;
	bderr_init(&err);
	assert_int_equal(cron_parse(NULL, &s, &err), -1);
	assert_string_equal(err.msg, "schedule is missing");
}

/* The same day OR rule survives impossible dates when dow rescues them. */
static void test_feb30_or_friday(void **state)
{
	(void)state;
	cron_schedule *s;
	bderr err;
	bderr_init(&err);
	assert_int_equal(cron_parse("0 0 30 2 fri", &s, &err), 0);
	time_t next;
	assert_int_equal(cron_next(s, utc("2026-01-01 00:00:00"), "UTC", &next, &err), 0);
	char got[32];
	fmt_utc(next, got, sizeof got);
	assert_string_equal(got, "2026-02-06 00:00:00");
	assert_string_equal(cron_expr(s), "0 0 30 2 fri");
	cron_free(s);
}

static void test_bad_time_zone(void **state)
{
	(void)state;
	cron_schedule *s;
	bderr err;
	bderr_init(&err);
	assert_int_equal(cron_parse("@daily", &s, &err), 0);
	time_t next;
	assert_int_equal(cron_next(s, 0, "Mars/Olympus_Mons", &next, &err), -1);
	assert_non_null(strstr(err.msg, "time zone 'Mars/Olympus_Mons' is unknown"));
	assert_int_equal(err.exit_code, EXIT_USAGE);
	bderr_init(&err);
	assert_int_equal(cron_next(s, 0, "../../etc/passwd", &next, &err), -1);
	assert_string_equal(err.msg, "time zone '../../etc/passwd' is not an IANA zone name");
	bderr_init(&err);
	assert_int_equal(cron_next(s, 0, "Europe", &next, &err), -1); /* a directory */
	assert_non_null(strstr(err.msg, "time zone 'Europe' is unknown"));
	bderr_init(&err);
	assert_int_equal(cron_next(s, 0, "zone.tab", &next, &err), -1); /* not a TZif file */
	assert_non_null(strstr(err.msg, "time zone 'zone.tab' is unknown"));
	bderr_init(&err);
	assert_int_equal(cron_next(s, 0, "", &next, &err), -1);
	cron_free(s);
}

/* cron_next borrows TZ; it must hand it back exactly, set or unset. */
static void test_tz_restored(void **state)
{
	(void)state;
	cron_schedule *s;
	bderr err;
	bderr_init(&err);
	assert_int_equal(cron_parse("0 9 * * *", &s, &err), 0);
	time_t next;

	setenv("TZ", "Asia/Tokyo", 1);
	tzset();
	assert_int_equal(cron_next(s, utc("2026-01-01 00:00:00"), "Europe/Berlin", &next, &err), 0);
	assert_string_equal(getenv("TZ"), "Asia/Tokyo");
	/* NULL: local time, i.e. Tokyo (+9, no DST): 09:00 JST is 00:00 UTC. */
	assert_int_equal(cron_next(s, utc("2026-01-01 00:00:00"), NULL, &next, &err), 0);
	assert_int_equal(next, utc("2026-01-02 00:00:00"));
	assert_string_equal(getenv("TZ"), "Asia/Tokyo");

	unsetenv("TZ");
	tzset();
	assert_int_equal(cron_next(s, utc("2026-01-01 00:00:00"), "Europe/Berlin", &next, &err), 0);
	assert_int_equal(next, utc("2026-01-01 08:00:00"));
	assert_null(getenv("TZ"));
	cron_free(s);
}

/* ---- property test against a minute-by-minute reference ---------------- */

static uint64_t rng_next(uint64_t *x)
{
	/* xorshift64*: deterministic across platforms, unlike rand(). */
	*x ^= *x >> 12;
	*x ^= *x << 25;
	*x ^= *x >> 27;
	return *x * UINT64_C(2685821657736338717);
}

static int rng_in(uint64_t *x, int lo, int hi)
{
	return lo + (int)(rng_next(x) % (uint64_t)(hi - lo + 1));
}

typedef struct gen_field {
	char text[96];
	uint64_t bits;
	int star;
} gen_field;

static const char *const gen_months[] = { "JAN", "feb", "Mar", "APR", "may", "JUN",
					  "jul", "AUG", "sep", "Oct", "NOV", "dec" };
static const char *const gen_days[] = { "sun", "MON", "Tue", "WED", "thu", "FRI", "sat" };

/* Appends value v, sometimes spelt as a name (kind 1 month, 2 weekday). */
static void gen_value(uint64_t *x, int kind, int v, char *buf, size_t size)
{
	size_t len = strlen(buf);
	if (kind == 1 && rng_in(x, 0, 2) == 0)
		snprintf(buf + len, size - len, "%s", gen_months[v - 1]);
	else if (kind == 2 && v < 7 && rng_in(x, 0, 2) == 0)
		snprintf(buf + len, size - len, "%s", gen_days[v]);
	else
		snprintf(buf + len, size - len, "%d", v);
}

/* One list element that is not `*`-based; adds its values to f->bits. */
static void gen_element(uint64_t *x, int lo, int hi, int kind, gen_field *f)
{
	int a = rng_in(x, lo, hi), b = rng_in(x, a, hi), step = rng_in(x, 1, (hi - lo) / 2 + 1);
	size_t len;
	switch (rng_in(x, 0, 3)) {
	case 0:
		gen_value(x, kind, a, f->text, sizeof f->text);
		b = a;
		step = 1;
		break;
	case 1:
		gen_value(x, kind, a, f->text, sizeof f->text);
		strcat(f->text, "-");
		gen_value(x, kind, b, f->text, sizeof f->text);
		step = 1;
		break;
	case 2:
		gen_value(x, kind, a, f->text, sizeof f->text);
		strcat(f->text, "-");
		gen_value(x, kind, b, f->text, sizeof f->text);
		len = strlen(f->text);
		snprintf(f->text + len, sizeof f->text - len, "/%d", step);
		break;
	default:
		gen_value(x, kind, a, f->text, sizeof f->text);
		len = strlen(f->text);
		snprintf(f->text + len, sizeof f->text - len, "/%d", step);
		b = hi;
		break;
	}
	for (int v = a; v <= b; v += step)
		f->bits |= UINT64_C(1) << (kind == 2 && v == 7 ? 0 : v);
}

static void gen(uint64_t *x, int lo, int hi, int kind, gen_field *f)
{
	f->text[0] = '\0';
	f->bits = 0;
	f->star = 0;
	int r = rng_in(x, 0, 9);
	if (r <= 2) {
		strcpy(f->text, "*");
		for (int v = lo; v <= hi; v++)
			f->bits |= UINT64_C(1) << (kind == 2 && v == 7 ? 0 : v);
		f->star = 1;
	} else if (r == 3) {
		int step = rng_in(x, 1, (hi - lo) / 2 + 1);
		snprintf(f->text, sizeof f->text, "*/%d", step);
		for (int v = lo; v <= hi; v += step)
			f->bits |= UINT64_C(1) << (kind == 2 && v == 7 ? 0 : v);
		f->star = 1;
	} else {
		int n = r >= 8 ? rng_in(x, 2, 3) : 1;
		for (int i = 0; i < n; i++) {
			if (i > 0)
				strcat(f->text, ",");
			gen_element(x, lo, hi, kind, f);
		}
	}
}

static int ref_days_in_month(int y, int m)
{
	static const int md[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	return m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0) ? 29 : md[m - 1];
}

#define REF_WINDOW_MINUTES (62 * 24 * 60)

/*
 * Walks minute by minute from the first minute after `after`; returns the
 * first match or -1 if none within the window.
 */
static time_t reference_next(const gen_field f[5], time_t after)
{
	time_t t = (after / 60 + 1) * 60;
	struct tm tm;
	gmtime_r(&t, &tm);
	int mi = tm.tm_min, h = tm.tm_hour, d = tm.tm_mday, mo = tm.tm_mon + 1,
	    y = tm.tm_year + 1900, wd = tm.tm_wday;
	for (int i = 0; i < REF_WINDOW_MINUTES; i++, t += 60) {
		int dom = (int)(f[2].bits >> d & 1), dow = (int)(f[4].bits >> wd & 1);
		int day = (f[2].star || f[4].star) ? dom && dow : dom || dow;
		if ((f[0].bits >> mi & 1) && (f[1].bits >> h & 1) && (f[3].bits >> mo & 1) && day)
			return t;
		if (++mi < 60)
			continue;
		mi = 0;
		if (++h < 24)
			continue;
		h = 0;
		wd = (wd + 1) % 7;
		if (++d <= ref_days_in_month(y, mo))
			continue;
		d = 1;
		if (++mo <= 12)
			continue;
		mo = 1;
		y++;
	}
	return -1;
}

static void test_property_vs_reference(void **state)
{
	(void)state;
	uint64_t x = UINT64_C(0x9E3779B97F4A7C15);
	const time_t lo = utc("2020-01-01 00:00:00"), hi = utc("2030-01-01 00:00:00");
	int checked = 0, matched = 0;
	for (int iter = 0; iter < 600; iter++) {
		gen_field f[5];
		gen(&x, 0, 59, 0, &f[0]);
		gen(&x, 0, 23, 0, &f[1]);
		gen(&x, 1, 31, 0, &f[2]);
		gen(&x, 1, 12, 1, &f[3]);
		gen(&x, 0, 7, 2, &f[4]);
		char expr[512];
		snprintf(expr, sizeof expr, "%s %s %s %s %s", f[0].text, f[1].text, f[2].text,
			 f[3].text, f[4].text);
		cron_schedule *s;
		bderr err;
		bderr_init(&err);
		if (cron_parse(expr, &s, &err) < 0) {
			/* Only impossible dates may be refused. */
			if (strstr(err.msg, "never fires") == NULL)
				fail_msg("'%s': %s", expr, err.msg);
			continue;
		}
		for (int k = 0; k < 3; k++) {
			time_t after = lo + (time_t)(rng_next(&x) % (uint64_t)(hi - lo));
			time_t want = reference_next(f, after), got = 0;
			int rc = cron_next(s, after, "UTC", &got, &err);
			checked++;
			if (want < 0) {
				/* Beyond the window: cron_next must agree nothing is inside it. */
				if (rc == 0 && got < (after / 60 + 1) * 60 + REF_WINDOW_MINUTES * 60)
					fail_msg("'%s' after %lld: got %lld, reference found none", expr,
						 (long long)after, (long long)got);
				continue;
			}
			matched++;
			if (rc < 0)
				fail_msg("'%s' after %lld: %s", expr, (long long)after, err.msg);
			if (got != want)
				fail_msg("'%s' after %lld: got %lld, want %lld", expr, (long long)after,
					 (long long)got, (long long)want);
		}
		cron_free(s);
	}
	/* The generator must actually exercise matches, not only empty windows. */
	assert_true(matched > checked / 2);
}

/* Wall-clock time of t in the current TZ, as seconds since the civil epoch. */
static time_t wall(time_t t)
{
	struct tm tm;
	localtime_r(&t, &tm);
	return timegm(&tm);
}

static int civil_matches(const gen_field f[5], time_t c)
{
	struct tm tm;
	gmtime_r(&c, &tm);
	int dom = (int)(f[2].bits >> tm.tm_mday & 1), dow = (int)(f[4].bits >> tm.tm_wday & 1);
	int day = (f[2].star || f[4].star) ? dom && dow : dom || dow;
	return (f[0].bits >> tm.tm_min & 1) && (f[1].bits >> tm.tm_hour & 1) &&
	       (f[3].bits >> (tm.tm_mon + 1) & 1) && day;
}

#define DST_WINDOW_MINUTES (4 * 24 * 60)

/*
 * The DST rule restated as a reference: every wall-clock minute fires at
 * most once, at the first instant at which the wall clock reaches or passes
 * it.  Walks instants minute by minute keeping the highest wall-clock time
 * seen so far; the zones tested shift by whole hours, so minute-aligned
 * instants show minute-aligned wall-clock times.
 */
static time_t reference_next_local(const gen_field f[5], time_t after)
{
	time_t high = wall(after);
	/* Right after a fall-back the wall clock already passed this hour once. */
	for (int k = 1; k <= 120; k++)
		if (wall(after - 60 * k) > high)
			high = wall(after - 60 * k);
	time_t t = (after / 60 + 1) * 60;
	for (int i = 0; i < DST_WINDOW_MINUTES; i++, t += 60) {
		time_t w = wall(t);
		for (time_t c = (high / 60 + 1) * 60; c <= w; c += 60)
			if (civil_matches(f, c))
				return t;
		if (w > high)
			high = w;
	}
	return -1;
}

static void test_property_dst(void **state)
{
	(void)state;
	static const struct {
		const char *tz;
		const char *transition; /* UTC */
	} zones[] = {
		{ "Europe/Berlin", "2026-03-29 01:00:00" },
		{ "Europe/Berlin", "2026-10-25 01:00:00" },
		{ "America/New_York", "2026-03-08 07:00:00" },
		{ "America/New_York", "2026-11-01 06:00:00" },
	};
	uint64_t x = UINT64_C(0x243F6A8885A308D3);
	const char *old = getenv("TZ");
	char *saved = old ? strdup(old) : NULL;
	int matched = 0;
	for (int iter = 0; iter < 160; iter++) {
		gen_field f[5];
		gen(&x, 0, 59, 0, &f[0]);
		gen(&x, 0, 23, 0, &f[1]);
		if (rng_in(&x, 0, 1) == 0) {
			/* Hours around both zones' switches (01:00-03:00 local). */
			static const struct {
				const char *text;
				uint64_t bits;
			} near[] = { { "1", 1u << 1 }, { "2", 1u << 2 },  { "3", 1u << 3 },
				     { "1-3", 0xe }, { "2,3", 0xc }, { "0-4/2", 0x15 } };
			int k = rng_in(&x, 0, 5);
			strcpy(f[1].text, near[k].text);
			f[1].bits = near[k].bits;
			f[1].star = 0;
		}
		/* Mostly every day, so the few days around a switch see fires. */
		gen(&x, 1, 31, 0, &f[2]);
		gen(&x, 1, 12, 1, &f[3]);
		gen(&x, 0, 7, 2, &f[4]);
		for (int i = 2; i < 5 && rng_in(&x, 0, 3) != 0; i++) {
			int lo = i == 2 ? 1 : i == 3 ? 1 : 0, hi = i == 2 ? 31 : i == 3 ? 12 : 7;
			strcpy(f[i].text, "*");
			f[i].star = 1;
			f[i].bits = 0;
			for (int v = lo; v <= hi; v++)
				f[i].bits |= UINT64_C(1) << (i == 4 && v == 7 ? 0 : v);
		}
		char expr[512];
		snprintf(expr, sizeof expr, "%s %s %s %s %s", f[0].text, f[1].text, f[2].text,
			 f[3].text, f[4].text);
		cron_schedule *s;
		bderr err;
		bderr_init(&err);
		if (cron_parse(expr, &s, &err) < 0) {
			if (strstr(err.msg, "never fires") == NULL)
				fail_msg("'%s': %s", expr, err.msg);
			continue;
		}
		int z = rng_in(&x, 0, 3);
		setenv("TZ", zones[z].tz, 1);
		tzset();
		/* Mostly start just before the switch, so the first fire is near it. */
		time_t after = utc(zones[z].transition);
		if (rng_in(&x, 0, 9) < 7)
			after -= (time_t)(rng_next(&x) % (6 * 3600));
		else
			after += -2 * 86400 + (time_t)(rng_next(&x) % (3 * 86400));
		time_t want = reference_next_local(f, after), got = 0;
		int rc = cron_next(s, after, zones[z].tz, &got, &err);
		if (want < 0) {
			if (rc == 0 && got < (after / 60 + 1) * 60 + DST_WINDOW_MINUTES * 60)
				fail_msg("'%s' in %s after %lld: got %lld, reference found none", expr,
					 zones[z].tz, (long long)after, (long long)got);
		} else {
			matched++;
			if (rc < 0)
				fail_msg("'%s' in %s after %lld: %s", expr, zones[z].tz, (long long)after,
					 err.msg);
			if (got != want)
				fail_msg("'%s' in %s after %lld: got %lld, want %lld", expr, zones[z].tz,
					 (long long)after, (long long)got, (long long)want);
		}
		cron_free(s);
	}
	if (saved) {
		setenv("TZ", saved, 1);
		free(saved);
	} else {
		unsetenv("TZ");
	}
	tzset();
	assert_true(matched > 80);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_next_table),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_feb30_or_friday),
		cmocka_unit_test(test_bad_time_zone),
		cmocka_unit_test(test_tz_restored),
		cmocka_unit_test(test_property_vs_reference),
		cmocka_unit_test(test_property_dst),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
