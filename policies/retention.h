/*
 * Retention: which backups `expire` keeps.  A pure function of the backup
 * times, the policy and "now", so that `expire --dry-run` and the real run
 * agree and tests need no clock.
 *
 * Semantics follow restic's `forget`:
 * - backups are ranked newest first (equal times: the larger id first, so
 *   "20260101T000000Z-2" ranks before "20260101T000000Z");
 * - keep-last N keeps the N newest;
 * - keep-hourly/daily/weekly/monthly/yearly N keeps the newest backup of each
 *   of the N most recent hours/days/ISO weeks/months/years that contain a
 *   backup.  Buckets are computed in UTC, like backup ids, so the result does
 *   not depend on the host's time zone or on DST (a "day" is a UTC day);
 * - with no keep-* rule at all, everything is kept.
 * - max-age D is a removal rule, unlike restic's --keep-within: a backup
 *   started more than D days before now is removed even if a keep-* rule
 *   would keep it (exactly D days old is still kept).
 * - The newest backup is never removed, whatever the rules say: retention
 *   must never delete an operator's only or latest backup.
 */
#ifndef BACKUPD_POLICIES_RETENTION_H
#define BACKUPD_POLICIES_RETENTION_H

#include <stddef.h>
#include <time.h>

#include "common/error.h"

typedef struct retention_policy {
	int keep_last;
	int keep_hourly;
	int keep_daily;
	int keep_weekly;
	int keep_monthly;
	int keep_yearly;
	int max_age_days; /* 0 = unused, like every field */
} retention_policy;

typedef struct retention_item {
	const char *id; /* only used to order equal times; may be NULL */
	time_t time;    /* backup start time */
} retention_item;

/* Reasons, as a bitmask in retention_result.reasons. */
enum {
	RETAIN_LAST = 1 << 0,
	RETAIN_HOURLY = 1 << 1,
	RETAIN_DAILY = 1 << 2,
	RETAIN_WEEKLY = 1 << 3,
	RETAIN_MONTHLY = 1 << 4,
	RETAIN_YEARLY = 1 << 5,
	RETAIN_ALL = 1 << 6,     /* kept: the policy has no keep-* rule */
	RETAIN_NEWEST = 1 << 7,  /* kept only because it is the newest backup */
	RETAIN_TOO_OLD = 1 << 8, /* removed by max-age (keep reasons cleared) */
};

typedef struct retention_result {
	int keep;          /* 1 = keep, 0 = remove */
	unsigned reasons;  /* RETAIN_* bits */
} retention_result;

/*
 * Parses `keep-daily=7 keep-weekly=4 max-age=90`: whitespace-separated
 * key=value with keys keep-last, keep-hourly, keep-daily, keep-weekly,
 * keep-monthly, keep-yearly, max-age (days) and positive integer values.
 * Errors are usage errors naming the spec and the bad token.
 */
int retention_parse(const char *spec, retention_policy *out, bderr *err);

/* out has n entries; out[i] describes items[i].  items may be in any order. */
void retention_apply(const retention_policy *p, const retention_item *items, size_t n, time_t now,
		     retention_result *out);

/*
 * Writes the reasons as text ("last, daily, weekly"; "too old" for
 * RETAIN_TOO_OLD; "" for none) into buf, truncating to size; returns buf.
 */
char *retention_reasons_str(unsigned reasons, char *buf, size_t size);

/*
 * The rule names ("keep-last" ... "max-age"), shared by the config syntax and
 * the expire command's options.  retention_rule_field returns the policy
 * field of rule i.
 */
size_t retention_rule_count(void);
const char *retention_rule_name(size_t i);
int *retention_rule_field(retention_policy *p, size_t i);

#endif
