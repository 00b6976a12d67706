#include "engines/restore_claim.h"

#include <time.h>

#include "common/log.h"

#define CLAIM_BUSY_POLL_MS 100
#define CLAIM_BUSY_WAIT_POLLS 300 /* 30 s */
/*
 * A holder seen running a statement and idle since: a killed restorer's
 * session ends as soon as it finds its client gone, which takes the server
 * a moment after the statement; a live restore's lock connection stays
 * idle for the whole restore.  (faults_test met the moment: a planted
 * session's rename done, its lock not yet released, refused as a live one.)
 */
#define CLAIM_IDLE_GRACE_POLLS 30 /* 3 s */
/*
 * A holder idle from the first look: a live restore between statements, or
 * the session of a restorer killed a moment ago whose server process has not
 * yet read the end of its connection (faults_test met it: a restore killed
 * 41 ms in, the next one refused as if the killed one were live).
 */
#define CLAIM_IDLE_FIRST_POLLS 5 /* 0.5 s */

int restore_claim_wait_ms(restore_claim_try_fn try_lock, void *ctx, const char *target, const char *tmp,
			  int poll_ms, bderr *err)
{
	int seen_busy = 0, idle = 0;
	for (int polls = 0;; polls++) {
		int got = 0, busy = 0;
		if (try_lock(ctx, &got, &busy, err) != 0)
			return -1;
		if (got)
			return 0;
		if (busy) {
			if (!seen_busy)
				log_info("the temporary database's lock is held by a session still running a statement "
					 "(an interrupted restore's last?): waiting for it to end");
			seen_busy = 1;
			idle = 0;
		}
		if ((!busy && ++idle > (seen_busy ? CLAIM_IDLE_GRACE_POLLS : CLAIM_IDLE_FIRST_POLLS)) ||
		    polls >= CLAIM_BUSY_WAIT_POLLS)
			return bderr_set(err, "another restore --create into '%s' is in progress (temporary database '%s')",
					 target, tmp);
		struct timespec pause = { poll_ms / 1000, (long)(poll_ms % 1000) * 1000000L };
		nanosleep(&pause, NULL);
	}
}

int restore_claim_wait(restore_claim_try_fn try_lock, void *ctx, const char *target, const char *tmp,
		       bderr *err)
{
	return restore_claim_wait_ms(try_lock, ctx, target, tmp, CLAIM_BUSY_POLL_MS, err);
}
