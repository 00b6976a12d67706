/*
 * libFuzzer target: cron expressions (policies/cron.c).  Input: the
 * expression, optionally followed by a newline, a zone number and a start
 * time ("3 1774744200").  An expression that parses is asked for its next
 * fire time in that zone, which must lie after the start; asked again from
 * one second before it, it must give the same time (nothing skipped), and
 * from it, a later one.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "policies/cron.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* zones with DST gaps and overlaps of an hour, half an hour, and none */
static const char *const zones[] = { "UTC", "Europe/Berlin", "America/New_York",
				     "Australia/Lord_Howe", "Asia/Kathmandu", "Pacific/Chatham" };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 512)
		return 0;
	char *in = xstrndup((const char *)data, size);
	char *rest = strchr(in, '\n');
	unsigned zone = 1;
	long long start = 1774744200; /* 2026-03-29 00:30 UTC: the EU spring-forward night */
	if (rest) {
		*rest++ = '\0';
		sscanf(rest, "%u %lld", &zone, &start);
	}
	const char *tz = zones[zone % (sizeof zones / sizeof *zones)];
	/* the daemon asks about now: keep to 1970-2100 */
	const time_t after = (time_t)(start < 0 ? 0 : start > 4102444800LL ? 4102444800LL : start);
	cron_schedule *s = NULL;
	bderr err;
	bderr_init(&err);
	if (cron_parse(in, &s, &err) == 0) {
		time_t next = 0, again = 0, later = 0;
		if (cron_next(s, after, tz, &next, &err) == 0) {
			if (next <= after)
				abort();
			if (cron_next(s, next - 1, tz, &again, &err) != 0 || again != next) {
				fprintf(stderr, "'%s' in %s after %lld: %lld, but after %lld: %lld\n", in,
					tz, (long long)after, (long long)next, (long long)next - 1,
					(long long)again);
				abort();
			}
			if (cron_next(s, next, tz, &later, &err) == 0 && later <= next)
				abort();
		}
		cron_free(s);
	}
	free(in);
	return 0;
}
