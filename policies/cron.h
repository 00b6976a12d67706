/*
 * Cron schedules: when a job runs.
 *
 * Syntax is Vixie cron's, as operators already write it in crontabs:
 * five fields (minute hour day-of-month month day-of-week), or six with a
 * seconds field first; `*`, values, ranges `a-b`, lists `a,b`, steps `*\/n`,
 * `a-b/n` and `a/n` (a through the field's maximum); JAN-DEC and SUN-SAT
 * (any case); day-of-week 7 is Sunday like 0; and the macros @yearly
 * (@annually), @monthly, @weekly, @daily (@midnight) and @hourly.
 *
 * As in Vixie cron, when day-of-month and day-of-week are both restricted a
 * day matches if EITHER matches; a field counts as unrestricted when it starts
 * with `*` (so `*\/2` is "unrestricted" for this rule, exactly like Vixie).
 */
#ifndef BACKUPD_POLICIES_CRON_H
#define BACKUPD_POLICIES_CRON_H

#include <time.h>

#include "common/error.h"

typedef struct cron_schedule cron_schedule;

/*
 * Parses expr into a new schedule (free with cron_free).  A bad expression is
 * a usage error naming the expression and the offending field, e.g.
 * "schedule '61 * * * *': minute 61 is out of range 0-59".  A schedule that
 * can never match a calendar day (`0 0 30 2 *`) is rejected here already, so
 * that loading the configuration catches it.
 */
int cron_parse(const char *expr, cron_schedule **out, bderr *err);
void cron_free(cron_schedule *s);

/* The expression as given to cron_parse (for messages). */
const char *cron_expr(const cron_schedule *s);

/*
 * Sets *next to the first fire time strictly after `after`, reading the
 * schedule as wall-clock time in the IANA time zone tz ("Europe/Berlin"), or
 * in the process's local time when tz is NULL.
 *
 * Daylight saving time: a wall-clock time skipped by a spring-forward gap
 * fires once, at the first instant after the gap (02:30 on the EU
 * spring-forward day fires at 03:00 summer time); a wall-clock time that
 * occurs twice in a fall-back hour fires once, at its first occurrence.
 *
 * Fails (usage error) for an unknown time zone, or with
 * "schedule 'X' never fires" when nothing matches within 50 years.
 * Thread-safe; see cron.c for how the time zone is switched.
 */
int cron_next(const cron_schedule *s, time_t after, const char *tz, time_t *next, bderr *err);

#endif
