/*
 * libFuzzer target: cron expressions (policies/cron.c).  An expression that
 * parses is asked for its next fire time, which must lie after the start.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "common/mem.h"
#include "policies/cron.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 512)
		return 0;
	char *expr = xstrndup((const char *)data, size);
	cron_schedule *s = NULL;
	bderr err;
	bderr_init(&err);
	if (cron_parse(expr, &s, &err) == 0) {
		/* 2026-03-29 00:30 UTC: a DST change in Europe/Berlin that night */
		const time_t after = 1774744200;
		time_t next = 0;
		if (cron_next(s, after, "UTC", &next, &err) == 0 && next <= after)
			abort();
		if (cron_next(s, after, "Europe/Berlin", &next, &err) == 0 && next <= after)
			abort();
		cron_free(s);
	}
	free(expr);
	return 0;
}
