#include "policies/cron.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/mem.h"

/*
 * How far ahead cron_next looks before it gives up.  Five years would be
 * enough for anything an operator writes on purpose, but "29 February when it
 * is a Sunday" legitimately recurs only every 28 years (40 around 2100), and
 * the search steps by whole days, so a generous bound costs microseconds.
 */
#define CRON_SEARCH_YEARS 50

struct cron_schedule {
	uint64_t sec;   /* bit n: second n, 0-59 */
	uint64_t min;   /* 0-59 */
	uint32_t hour;  /* 0-23 */
	uint32_t dom;   /* 1-31 */
	uint32_t month; /* 1-12 */
	uint32_t dow;   /* 0-6, Sunday = 0 (7 is folded into 0) */
	int dom_star;   /* field began with '*': Vixie's DOM_STAR */
	int dow_star;
	char *expr;
};

enum { F_SEC, F_MIN, F_HOUR, F_DOM, F_MONTH, F_DOW, F_COUNT };

typedef struct field_spec {
	const char *name;
	int min, max;
	const char *const *names; /* names[i] is value min + i, or NULL */
	const char *name_range;   /* for messages: "JAN-DEC" */
} field_spec;

static const char *const month_names[] = { "JAN", "FEB", "MAR", "APR", "MAY", "JUN",
					   "JUL", "AUG", "SEP", "OCT", "NOV", "DEC", NULL };
static const char *const dow_names[] = { "SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", NULL };

static const field_spec field_specs[F_COUNT] = {
	[F_SEC] = { "second", 0, 59, NULL, NULL },
	[F_MIN] = { "minute", 0, 59, NULL, NULL },
	[F_HOUR] = { "hour", 0, 23, NULL, NULL },
	[F_DOM] = { "day-of-month", 1, 31, NULL, NULL },
	[F_MONTH] = { "month", 1, 12, month_names, "JAN-DEC" },
	[F_DOW] = { "day-of-week", 0, 7, dow_names, "SUN-SAT" },
};

static const struct {
	const char *name;
	const char *expansion;
} cron_macros[] = {
	{ "@yearly", "0 0 1 1 *" },  { "@annually", "0 0 1 1 *" }, { "@monthly", "0 0 1 * *" },
	{ "@weekly", "0 0 * * 0" },  { "@daily", "0 0 * * *" },    { "@midnight", "0 0 * * *" },
	{ "@hourly", "0 * * * *" },
};

/* ---- calendar arithmetic (proleptic Gregorian, no time zone) ---------- */

/* Days since 1970-01-01 (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m)
{
	static const int mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	return m == 2 && is_leap(y) ? 29 : mdays[m - 1];
}

/* 0 = Sunday; 1970-01-01 was a Thursday. */
static int weekday(int64_t days)
{
	int64_t w = (days + 4) % 7;
	return (int)(w < 0 ? w + 7 : w);
}

/* ---- parsing ----------------------------------------------------------- */

/* Parses a number or (for month and day-of-week) a three-letter name. */
static int parse_value(const char *expr, const field_spec *f, const char *s, size_t len, int *out,
		       bderr *err)
{
	if (len > 0 && isdigit((unsigned char)s[0])) {
		long v = 0;
		for (size_t i = 0; i < len; i++) {
			if (!isdigit((unsigned char)s[i]))
				goto bad;
			if (v < 100000)
				v = v * 10 + (s[i] - '0');
		}
		if (v < f->min || v > f->max)
			return bderr_usage(err, "schedule '%s': %s %.*s is out of range %d-%d", expr,
					   f->name, (int)len, s, f->min, f->max);
		*out = (int)v;
		return 0;
	}
	if (f->names && len == 3) {
		for (int i = 0; f->names[i]; i++) {
			if (strncasecmp(f->names[i], s, 3) == 0) {
				*out = f->min + i;
				return 0;
			}
		}
	}
bad:
	if (f->names)
		return bderr_usage(err, "schedule '%s': %s '%.*s' is not a number or a name %s", expr,
				   f->name, (int)len, s, f->name_range);
	return bderr_usage(err, "schedule '%s': %s '%.*s' is not a number", expr, f->name, (int)len,
			   s);
}

/* One list element: `*`, `a`, `a-b`, each optionally followed by `/step`. */
static int parse_element(const char *expr, const field_spec *f, const char *s, size_t len,
			 uint64_t *bits, bderr *err)
{
	if (len == 0)
		return bderr_usage(err, "schedule '%s': %s has an empty list element", expr, f->name);

	const char *slash = memchr(s, '/', len);
	size_t base_len = slash ? (size_t)(slash - s) : len;
	int lo, hi, step = 1;

	if (base_len == 1 && s[0] == '*') {
		lo = f->min;
		hi = f->max;
	} else {
		const char *dash = memchr(s, '-', base_len);
		size_t first_len = dash ? (size_t)(dash - s) : base_len;
		if (first_len == 0 || (dash && first_len + 1 == base_len))
			return bderr_usage(err, "schedule '%s': %s '%.*s' is not a value or range", expr,
					   f->name, (int)len, s);
		if (parse_value(expr, f, s, first_len, &lo, err) < 0)
			return -1;
		if (dash) {
			if (parse_value(expr, f, dash + 1, base_len - first_len - 1, &hi, err) < 0)
				return -1;
			if (hi < lo)
				return bderr_usage(err, "schedule '%s': %s range '%.*s' is backwards", expr,
						   f->name, (int)base_len, s);
		} else {
			/* `a/n` means a, a+n, ... up to the maximum, as in cronie. */
			hi = slash ? f->max : lo;
		}
	}

	if (slash) {
		const char *st = slash + 1;
		size_t st_len = len - base_len - 1;
		int span = f->max - f->min + 1;
		long v = 0;
		if (st_len == 0)
			return bderr_usage(err, "schedule '%s': %s step is missing after '/'", expr,
					   f->name);
		for (size_t i = 0; i < st_len; i++) {
			if (!isdigit((unsigned char)st[i]))
				return bderr_usage(err, "schedule '%s': %s step '%.*s' is not a number",
						   expr, f->name, (int)st_len, st);
			if (v < 100000)
				v = v * 10 + (st[i] - '0');
		}
		if (v < 1 || v > span)
			return bderr_usage(err, "schedule '%s': %s step %.*s is out of range 1-%d", expr,
					   f->name, (int)st_len, st, span);
		step = (int)v;
	}

	for (int v = lo; v <= hi; v += step)
		*bits |= (uint64_t)1 << v;
	return 0;
}

static int parse_field(const char *expr, const field_spec *f, const char *s, size_t len,
		       uint64_t *bits, int *star, bderr *err)
{
	*bits = 0;
	*star = len > 0 && s[0] == '*';
	size_t start = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i == len || s[i] == ',') {
			if (parse_element(expr, f, s + start, i - start, bits, err) < 0)
				return -1;
			start = i + 1;
		}
	}
	return 0;
}

/*
 * True if some allowed month has some allowed day-of-month.  Only meaningful
 * when the day is decided by day-of-month alone (AND semantics); February
 * counts with 29 days because leap years exist.
 */
static int dom_can_match(const cron_schedule *s)
{
	static const int max_mdays[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	for (int m = 1; m <= 12; m++) {
		if (!(s->month >> m & 1))
			continue;
		for (int d = 1; d <= max_mdays[m - 1]; d++)
			if (s->dom >> d & 1)
				return 1;
	}
	return 0;
}

int cron_parse(const char *expr, cron_schedule **out, bderr *err)
{
	*out = NULL;
	if (expr == NULL)
		return bderr_usage(err, "schedule is missing");

	const char *text = expr;
	while (isspace((unsigned char)*text))
		text++;
	if (*text == '@') {
		size_t n = strcspn(text, " \t\r\n");
		const char *rest = text + n;
		while (isspace((unsigned char)*rest))
			rest++;
		const char *expansion = NULL;
		for (size_t i = 0; i < sizeof cron_macros / sizeof cron_macros[0]; i++)
			if (strlen(cron_macros[i].name) == n && strncasecmp(cron_macros[i].name, text, n) == 0)
				expansion = cron_macros[i].expansion;
		if (expansion == NULL || *rest != '\0')
			return bderr_usage(err,
					   "schedule '%s': unknown macro (expected @yearly, @annually, "
					   "@monthly, @weekly, @daily, @midnight or @hourly)",
					   expr);
		text = expansion;
	}

	const char *fstart[F_COUNT + 1];
	size_t flen[F_COUNT + 1];
	int nfields = 0;
	for (const char *p = text; *p;) {
		while (isspace((unsigned char)*p))
			p++;
		if (*p == '\0')
			break;
		const char *q = p;
		while (*q && !isspace((unsigned char)*q))
			q++;
		if (nfields <= F_COUNT) {
			fstart[nfields] = p;
			flen[nfields] = (size_t)(q - p);
		}
		nfields++;
		p = q;
	}
	if (nfields != 5 && nfields != 6)
		return bderr_usage(err, "schedule '%s': expected 5 fields (or 6 with seconds first), got %d",
				   expr, nfields);

	cron_schedule *s = xcalloc(1, sizeof *s);
	uint64_t bits[F_COUNT];
	int star[F_COUNT] = { 0 };
	int first = F_SEC;
	if (nfields == 5) {
		/* Five fields: seconds fixed at 0. */
		bits[F_SEC] = 1;
		first = F_MIN;
	}
	for (int f = first; f < F_COUNT; f++) {
		int i = f - first;
		if (parse_field(expr, &field_specs[f], fstart[i], flen[i], &bits[f], &star[f], err) < 0) {
			free(s);
			return -1;
		}
	}
	s->sec = bits[F_SEC];
	s->min = bits[F_MIN];
	s->hour = (uint32_t)bits[F_HOUR];
	s->dom = (uint32_t)bits[F_DOM];
	s->month = (uint32_t)bits[F_MONTH];
	/* Day-of-week 7 is Sunday, like 0. */
	s->dow = (uint32_t)((bits[F_DOW] | bits[F_DOW] >> 7) & 0x7f);
	s->dom_star = star[F_DOM];
	s->dow_star = star[F_DOW];

	/*
	 * With OR semantics a restricted day-of-week always finds days; with AND
	 * semantics "30 February" can never match, and saying so at config load
	 * beats a daemon that silently never runs the job.
	 */
	if ((s->dom_star || s->dow_star) && !dom_can_match(s)) {
		free(s);
		return bderr_usage(err, "schedule '%s' never fires", expr);
	}
	s->expr = xstrdup(expr);
	*out = s;
	return 0;
}

void cron_free(cron_schedule *s)
{
	if (s == NULL)
		return;
	free(s->expr);
	free(s);
}

const char *cron_expr(const cron_schedule *s)
{
	return s->expr;
}

/* ---- time zone switching ------------------------------------------------ */

/*
 * The C library converts between instants and wall-clock time only for the
 * zone named by the TZ environment variable, and there is no per-call zone
 * argument (no localtime_z in glibc).  Parsing TZif files ourselves would be
 * a second tz implementation to keep correct; instead cron_next switches TZ
 * for the duration of one computation and restores it afterwards.  The
 * environment is process-wide, so the switch is serialised by this mutex: it
 * is the one piece of mutable static state in the module, and it exists
 * only to make that process-wide state safe to borrow.  (Other threads that
 * call localtime at the same moment could still observe the borrowed zone;
 * the daemon only converts times through cron_next and logs in UTC.)
 */
static pthread_mutex_t tz_lock = PTHREAD_MUTEX_INITIALIZER;

typedef struct tz_saved {
	int switched;
	char *old; /* previous TZ value, NULL if unset */
} tz_saved;

/*
 * glibc silently falls back to UTC for a zone it cannot find, which would
 * make a typo run jobs at the wrong hour; insist the zone file exists.
 */
static int tz_check(const char *tz, bderr *err)
{
	if (tz[0] == '\0' || tz[0] == '/' || tz[0] == ':' || strstr(tz, "..") != NULL)
		return bderr_usage(err, "time zone '%s' is not an IANA zone name", tz);
	if (strcmp(tz, "UTC") == 0 || strcmp(tz, "Etc/UTC") == 0 || strcmp(tz, "GMT") == 0)
		return 0; /* known to glibc even without tzdata installed */
	const char *dir = getenv("TZDIR");
	if (dir == NULL || dir[0] == '\0')
		dir = "/usr/share/zoneinfo";
	/*
	 * A directory ("Europe") or a table (zone.tab) in the zone directory is
	 * not a zone either: require the TZif magic.
	 */
	char *path = xasprintf("%s/%s", dir, tz);
	FILE *f = fopen(path, "rb");
	free(path);
	char magic[4];
	int ok = f != NULL && fread(magic, 1, 4, f) == 4 && memcmp(magic, "TZif", 4) == 0;
	if (f)
		fclose(f);
	if (!ok)
		return bderr_usage(err, "time zone '%s' is unknown (no zone file in %s)", tz, dir);
	return 0;
}

/* Called with tz_lock held. */
static int tz_switch(const char *tz, tz_saved *saved, bderr *err)
{
	saved->switched = 0;
	saved->old = NULL;
	if (tz != NULL) {
		const char *old = getenv("TZ");
		saved->old = old ? xstrdup(old) : NULL;
		if (setenv("TZ", tz, 1) != 0) {
			free(saved->old);
			saved->old = NULL;
			return bderr_sys(err, errno, "cannot switch to time zone '%s'", tz);
		}
		saved->switched = 1;
	}
	/* localtime_r need not re-read TZ by itself (glibc's does not). */
	tzset();
	return 0;
}

static void tz_restore(tz_saved *saved)
{
	if (!saved->switched)
		return;
	if (saved->old)
		setenv("TZ", saved->old, 1);
	else
		unsetenv("TZ");
	tzset();
	free(saved->old);
	saved->old = NULL;
}

/* ---- searching ----------------------------------------------------------- */

/* A wall-clock time; fields are normalised (mon 1-12, d 1-31, ...). */
typedef struct civil {
	int64_t y;
	int mon, d, h, mi, s;
} civil;

static int64_t civil_key(const civil *c)
{
	return days_from_civil(c->y, c->mon, c->d) * 86400 + c->h * 3600 + c->mi * 60 + c->s;
}

/* Wall-clock time of instant t as seconds since the civil epoch. */
static int local_key(int64_t t, int64_t *key)
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (localtime_r(&tt, &tm) == NULL)
		return -1;
	civil c = { (int64_t)tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
		    tm.tm_sec > 59 ? 59 : tm.tm_sec };
	*key = civil_key(&c);
	return 0;
}

/*
 * Maps a wall-clock time g (civil key) to the instant it fires at.  The
 * instants that show wall-clock time g are g - offset for the UTC offsets in
 * force around it; offsets are at most ±26 h, so probing the zone a day
 * either side finds the offsets before and after any transition.
 * - Several instants show g (fall-back): the first one, so it fires once.
 * - None does (spring-forward gap): the first instant after the gap, i.e.
 *   the first instant whose wall-clock time is >= g.
 * Returns 1 with *out set, 0 if g cannot be placed (no such zone shape),
 * -1 if the C library cannot convert.
 */
static int resolve_civil(int64_t g, int64_t *out)
{
	static const int64_t probes[] = { -86400, -50400, 0, 50400, 86400 };
	int64_t best = INT64_MAX, lo = INT64_MAX, hi = INT64_MIN;
	for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++) {
		int64_t t = g + probes[i], k, kc;
		if (local_key(t, &k) < 0)
			return -1;
		int64_t cand = g - (k - t);
		if (local_key(cand, &kc) < 0)
			return -1;
		if (kc == g && cand < best)
			best = cand;
		if (cand < lo)
			lo = cand;
		if (cand > hi)
			hi = cand;
	}
	if (best != INT64_MAX) {
		*out = best;
		return 1;
	}
	int64_t klo, khi;
	if (local_key(lo, &klo) < 0 || local_key(hi, &khi) < 0)
		return -1;
	if (!(klo < g && khi > g))
		return 0;
	while (hi - lo > 1) {
		int64_t mid = lo + (hi - lo) / 2, km;
		if (local_key(mid, &km) < 0)
			return -1;
		if (km >= g)
			hi = mid;
		else
			lo = mid;
	}
	*out = hi;
	return 1;
}

/* Advances c by one unit of `field`, zeroing the smaller fields. */
static void civil_bump(civil *c, int field)
{
	if (field > F_SEC)
		c->s = 0;
	if (field > F_MIN)
		c->mi = 0;
	if (field > F_HOUR)
		c->h = 0;
	if (field > F_DOM)
		c->d = 1;
	switch (field) {
	case F_SEC:
		if (++c->s < 60)
			return;
		c->s = 0;
		/* fallthrough */
	case F_MIN:
		if (++c->mi < 60)
			return;
		c->mi = 0;
		/* fallthrough */
	case F_HOUR:
		if (++c->h < 24)
			return;
		c->h = 0;
		/* fallthrough */
	case F_DOM:
		if (++c->d <= days_in_month(c->y, c->mon))
			return;
		c->d = 1;
		/* fallthrough */
	default:
		if (++c->mon <= 12)
			return;
		c->mon = 1;
		c->y++;
	}
}

static int day_matches(const cron_schedule *s, const civil *c)
{
	int dom = (int)(s->dom >> c->d & 1);
	int dow = (int)(s->dow >> weekday(days_from_civil(c->y, c->mon, c->d)) & 1);
	/* Vixie: AND if either field is unrestricted, OR if both are restricted. */
	if (s->dom_star || s->dow_star)
		return dom && dow;
	return dom || dow;
}

/* Smallest set bit >= from (and <= max), or -1. */
static int next_bit(uint64_t bits, int from, int max)
{
	for (int b = from; b <= max; b++)
		if (bits >> b & 1)
			return b;
	return -1;
}

/* Called with the zone switched in. */
static int search(const cron_schedule *s, time_t after, time_t *next, bderr *err)
{
	/* Keep far from time_t's ends so instant arithmetic cannot overflow. */
	if ((int64_t)after < -(INT64_C(1) << 40) || (int64_t)after > (INT64_C(1) << 40))
		return bderr_set(err, "schedule '%s': start time %lld is out of range", s->expr,
				 (long long)after);
	/*
	 * Start one wall-clock second after after's wall-clock time, not at the
	 * wall-clock time of after + 1: from the last second before a
	 * spring-forward gap the latter is already past the gap, and the times
	 * in it (which fire at the gap's end) would be skipped.
	 */
	struct tm tm;
	if (localtime_r(&after, &tm) == NULL)
		return bderr_sys(err, errno, "schedule '%s': cannot convert time %lld", s->expr,
				 (long long)after);
	civil c = { (int64_t)tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
		    tm.tm_sec > 59 ? 59 : tm.tm_sec };
	civil_bump(&c, F_SEC);
	int64_t limit = c.y + CRON_SEARCH_YEARS;

	/* Step the wall clock field by field, largest first. */
	while (c.y <= limit) {
		if (!(s->month >> c.mon & 1)) {
			civil_bump(&c, F_MONTH);
			continue;
		}
		if (!day_matches(s, &c)) {
			civil_bump(&c, F_DOM);
			continue;
		}
		int h = next_bit(s->hour, c.h, 23);
		if (h < 0) {
			civil_bump(&c, F_DOM);
			continue;
		}
		if (h != c.h) {
			c.h = h;
			c.mi = c.s = 0;
		}
		int mi = next_bit(s->min, c.mi, 59);
		if (mi < 0) {
			civil_bump(&c, F_HOUR);
			continue;
		}
		if (mi != c.mi) {
			c.mi = mi;
			c.s = 0;
		}
		int sec = next_bit(s->sec, c.s, 59);
		if (sec < 0) {
			civil_bump(&c, F_MIN);
			continue;
		}
		c.s = sec;

		int64_t t;
		int r = resolve_civil(civil_key(&c), &t);
		if (r < 0)
			return bderr_sys(err, errno, "schedule '%s': cannot convert local time", s->expr);
		/*
		 * t <= after happens for the second pass of a repeated hour (the
		 * first pass already fired); keep looking from the next second.
		 */
		if (r == 1 && t > (int64_t)after) {
			*next = (time_t)t;
			return 0;
		}
		civil_bump(&c, F_SEC);
	}
	return bderr_usage(err, "schedule '%s' never fires", s->expr);
}

int cron_next(const cron_schedule *s, time_t after, const char *tz, time_t *next, bderr *err)
{
	if (tz != NULL && tz_check(tz, err) < 0)
		return -1;

	pthread_mutex_lock(&tz_lock);
	tz_saved saved;
	int rc = tz_switch(tz, &saved, err);
	if (rc == 0)
		rc = search(s, after, next, err);
	tz_restore(&saved);
	pthread_mutex_unlock(&tz_lock);
	return rc;
}
