#include "engines/restore_claim.h"

#include <time.h>

#include "common/log.h"

#define CLAIM_BUSY_WAIT_MS 30000
#define CLAIM_BUSY_POLL_MS 100

int restore_claim_wait(restore_claim_try_fn try_lock, void *ctx, const char *target, const char *tmp,
		       bderr *err)
{
	for (int waited = 0;; waited += CLAIM_BUSY_POLL_MS) {
		int got = 0, busy = 0;
		if (try_lock(ctx, &got, &busy, err) != 0)
			return -1;
		if (got)
			return 0;
		if (!busy || waited >= CLAIM_BUSY_WAIT_MS)
			return bderr_set(err, "another restore --create into '%s' is in progress (temporary database '%s')",
					 target, tmp);
		if (waited == 0)
			log_info("the temporary database's lock is held by a session still running a statement "
				 "(an interrupted restore's last?): waiting for it to end");
		struct timespec pause = { 0, CLAIM_BUSY_POLL_MS * 1000000L };
		nanosleep(&pause, NULL);
	}
}
