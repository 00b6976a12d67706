/*
 * restore --create's claim of its temporary database name, the same on
 * every engine: a named lock on the server, held by the restorer's
 * connection for the whole restore, tells a live restore from a killed one.
 */
#ifndef BACKUPD_ENGINES_RESTORE_CLAIM_H
#define BACKUPD_ENGINES_RESTORE_CLAIM_H

#include "common/error.h"

/*
 * One try at the lock: *got 1 when it is ours now; otherwise *busy 1 when
 * the session holding it is running a statement.  -1 (err) when the server
 * could not be asked.
 */
typedef int (*restore_claim_try_fn)(void *ctx, int *got, int *busy, bderr *err);

/*
 * Takes the lock through try_lock.  A restorer killed in the middle of a
 * statement on its lock-holding connection (CREATE DATABASE, an ALTER
 * adding keys, the rename) leaves its server session to finish that
 * statement, lock held, before the server notices the client is gone: a
 * holder running a statement is waited for (up to 30 s), and once it is
 * idle, for 3 s more while its session ends; an idle one never seen busy is
 * a live restore between its statements, refused at once ("another restore
 * --create into TARGET is in progress", naming TMP).
 */
int restore_claim_wait(restore_claim_try_fn try_lock, void *ctx, const char *target, const char *tmp,
		       bderr *err);
/* The same, polling every poll_ms instead of 100 ms (tests: the limits count polls, 300 and 30). */
int restore_claim_wait_ms(restore_claim_try_fn try_lock, void *ctx, const char *target, const char *tmp,
			  int poll_ms, bderr *err);

#endif
