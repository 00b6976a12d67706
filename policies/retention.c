#include "policies/retention.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"

enum { B_HOUR, B_DAY, B_WEEK, B_MONTH, B_YEAR, B_COUNT };

static const struct {
	const char *key;
	size_t offset;
} retention_keys[] = {
	{ "keep-last", offsetof(retention_policy, keep_last) },
	{ "keep-hourly", offsetof(retention_policy, keep_hourly) },
	{ "keep-daily", offsetof(retention_policy, keep_daily) },
	{ "keep-weekly", offsetof(retention_policy, keep_weekly) },
	{ "keep-monthly", offsetof(retention_policy, keep_monthly) },
	{ "keep-yearly", offsetof(retention_policy, keep_yearly) },
	{ "max-age", offsetof(retention_policy, max_age_days) },
};
#define N_KEYS (sizeof retention_keys / sizeof retention_keys[0])

size_t retention_rule_count(void)
{
	return N_KEYS;
}

const char *retention_rule_name(size_t i)
{
	return i < N_KEYS ? retention_keys[i].key : NULL;
}

int *retention_rule_field(retention_policy *p, size_t i)
{
	return i < N_KEYS ? (int *)((char *)p + retention_keys[i].offset) : NULL;
}

int retention_parse(const char *spec, retention_policy *out, bderr *err)
{
	memset(out, 0, sizeof *out);
	if (spec == NULL)
		return bderr_usage(err, "retention is missing");
	int seen[N_KEYS] = { 0 };
	int any = 0;
	for (const char *p = spec; *p;) {
		while (isspace((unsigned char)*p))
			p++;
		if (*p == '\0')
			break;
		const char *tok = p;
		while (*p && !isspace((unsigned char)*p))
			p++;
		int tlen = (int)(p - tok);
		const char *eq = memchr(tok, '=', (size_t)tlen);
		if (eq == NULL)
			return bderr_usage(err, "retention '%s': '%.*s' is not key=value", spec, tlen, tok);
		size_t klen = (size_t)(eq - tok);
		size_t k;
		for (k = 0; k < N_KEYS; k++)
			if (strlen(retention_keys[k].key) == klen &&
			    strncmp(retention_keys[k].key, tok, klen) == 0)
				break;
		if (k == N_KEYS)
			return bderr_usage(err,
					   "retention '%s': unknown key '%.*s' (expected keep-last, "
					   "keep-hourly, keep-daily, keep-weekly, keep-monthly, "
					   "keep-yearly or max-age)",
					   spec, (int)klen, tok);
		if (seen[k])
			return bderr_usage(err, "retention '%s': '%s' is given twice", spec,
					   retention_keys[k].key);
		const char *v = eq + 1;
		int vlen = (int)(p - v);
		long val = 0;
		int ok = vlen > 0;
		for (int i = 0; i < vlen && ok; i++) {
			if (!isdigit((unsigned char)v[i]))
				ok = 0;
			else if ((val = val * 10 + (v[i] - '0')) > 1000000)
				ok = 0;
		}
		/* A million of anything is a typo, and keeps the day arithmetic small. */
		if (!ok || val < 1)
			return bderr_usage(err,
					   "retention '%s': '%.*s': value must be an integer from 1 to "
					   "1000000",
					   spec, tlen, tok);
		*retention_rule_field(out, k) = (int)val;
		seen[k] = 1;
		any = 1;
	}
	if (!any)
		return bderr_usage(err, "retention '%s': no rule given (expected e.g. keep-daily=7)",
				   spec);
	return 0;
}

/* Floor division: buckets must not fold around the epoch for old times. */
static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Year and month of a day count since 1970-01-01 (H. Hinnant's civil_from_days). */
static void civil_from_days(int64_t z, int64_t *year, int *month)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	int m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*year = yoe + era * 400 + (m <= 2);
	*month = m;
}

/* The UTC hour/day/ISO-week/month/year that t falls in, as a comparable number. */
static int64_t bucket_of(int kind, time_t t)
{
	int64_t days = floor_div((int64_t)t, 86400);
	int64_t year;
	int month;
	switch (kind) {
	case B_HOUR:
		return floor_div((int64_t)t, 3600);
	case B_DAY:
		return days;
	case B_WEEK:
		/*
		 * ISO weeks are the Monday-to-Sunday blocks; counting those blocks
		 * identifies a week without ISO year/week-number arithmetic, and a
		 * week spanning New Year is one bucket, as ISO 8601 says.  Day 0
		 * (1970-01-01) was a Thursday, so day -3 was a Monday.
		 */
		return floor_div(days + 3, 7);
	case B_MONTH:
		civil_from_days(days, &year, &month);
		return year * 12 + (month - 1);
	default:
		civil_from_days(days, &year, &month);
		return year;
	}
}

typedef struct ranked {
	const retention_item *item;
	size_t index;
} ranked;

static int cmp_newest_first(const void *a, const void *b)
{
	const ranked *x = a, *y = b;
	if (x->item->time != y->item->time)
		return x->item->time > y->item->time ? -1 : 1;
	const char *ix = x->item->id ? x->item->id : "";
	const char *iy = y->item->id ? y->item->id : "";
	int c = strcmp(ix, iy);
	if (c != 0)
		return c > 0 ? -1 : 1;
	/* Same time and id: input order, so the result is deterministic. */
	return x->index < y->index ? -1 : x->index > y->index;
}

void retention_apply(const retention_policy *p, const retention_item *items, size_t n, time_t now,
		     retention_result *out)
{
	static const unsigned bucket_reason[B_COUNT] = { RETAIN_HOURLY, RETAIN_DAILY, RETAIN_WEEKLY,
							 RETAIN_MONTHLY, RETAIN_YEARLY };
	if (n == 0)
		return;
	for (size_t i = 0; i < n; i++) {
		out[i].keep = 0;
		out[i].reasons = 0;
	}

	ranked *r = xmalloc(n * sizeof *r);
	for (size_t i = 0; i < n; i++) {
		r[i].item = &items[i];
		r[i].index = i;
	}
	qsort(r, n, sizeof *r, cmp_newest_first);

	int left[B_COUNT] = { p->keep_hourly, p->keep_daily, p->keep_weekly, p->keep_monthly,
			      p->keep_yearly };
	int64_t last_bucket[B_COUNT];
	int have_last[B_COUNT] = { 0 };
	int any_keep_rule = p->keep_last > 0;
	for (int b = 0; b < B_COUNT; b++)
		any_keep_rule |= left[b] > 0;

	for (size_t k = 0; k < n; k++) {
		retention_result *res = &out[r[k].index];
		time_t t = r[k].item->time;
		if (!any_keep_rule)
			res->reasons |= RETAIN_ALL;
		if (k < (size_t)(p->keep_last > 0 ? p->keep_last : 0))
			res->reasons |= RETAIN_LAST;
		for (int b = 0; b < B_COUNT; b++) {
			if (left[b] <= 0)
				continue;
			int64_t bucket = bucket_of(b, t);
			/* Newest first, so the first backup seen in a bucket is its newest. */
			if (have_last[b] && bucket == last_bucket[b])
				continue;
			res->reasons |= bucket_reason[b];
			last_bucket[b] = bucket;
			have_last[b] = 1;
			left[b]--;
		}
		res->keep = res->reasons != 0;
	}

	if (p->max_age_days > 0) {
		int64_t cutoff = (int64_t)now - (int64_t)p->max_age_days * 86400;
		for (size_t i = 0; i < n; i++) {
			if ((int64_t)items[i].time < cutoff) {
				out[i].keep = 0;
				out[i].reasons = RETAIN_TOO_OLD;
			}
		}
	}

	retention_result *newest = &out[r[0].index];
	if (!newest->keep) {
		newest->keep = 1;
		newest->reasons = RETAIN_NEWEST;
	}
	free(r);
}

char *retention_reasons_str(unsigned reasons, char *buf, size_t size)
{
	static const struct {
		unsigned bit;
		const char *name;
	} names[] = {
		{ RETAIN_LAST, "last" },       { RETAIN_HOURLY, "hourly" }, { RETAIN_DAILY, "daily" },
		{ RETAIN_WEEKLY, "weekly" },   { RETAIN_MONTHLY, "monthly" },
		{ RETAIN_YEARLY, "yearly" },   { RETAIN_ALL, "all" },       { RETAIN_NEWEST, "newest" },
		{ RETAIN_TOO_OLD, "too old" },
	};
	if (size == 0)
		return buf;
	buf[0] = '\0';
	size_t len = 0;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (!(reasons & names[i].bit))
			continue;
		int w = snprintf(buf + len, size - len, "%s%s", len ? ", " : "", names[i].name);
		if (w < 0 || (size_t)w >= size - len)
			break;
		len += (size_t)w;
	}
	return buf;
}
