/*
 * A fixed set of worker threads working through one list of items, in order,
 * stopping at the first failure.  Each worker owns one context (a database
 * connection, typically) for its whole life, because connections cannot be
 * shared between threads.  Start and join are separate so that the caller's
 * own thread can do its share of the work while the workers run (the dump's
 * coordinator writes the schema meanwhile); workpool_cancel makes the workers
 * stop taking new items when that share fails.
 */
#ifndef BACKUPD_COMMON_WORKPOOL_H
#define BACKUPD_COMMON_WORKPOOL_H

#include <stddef.h>
#include "common/error.h"

/* shared: the caller's state; worker: that worker's context; item: the work. */
typedef int (*workpool_fn)(void *shared, void *worker, void *item, bderr *err);

typedef struct workpool workpool;

/*
 * Run in each worker thread before its first item and after its last (the
 * MySQL client library wants mysql_thread_init/mysql_thread_end around any
 * use of a connection in a thread it did not start).  Either may be NULL.
 */
typedef struct workpool_hooks {
	void (*thread_start)(void *worker);
	void (*thread_stop)(void *worker);
} workpool_hooks;

/*
 * Starts min(n_workers, n_items) threads; workers[i] is handed to thread i.
 * items must stay valid until workpool_join.  hooks may be NULL.  When a
 * thread cannot be started, the ones that were are stopped and joined, and
 * this fails.
 */
int workpool_start(void *shared, void **workers, int n_workers, void **items, size_t n_items,
		   workpool_fn fn, const workpool_hooks *hooks, workpool **out, bderr *err);

/*
 * The same over contiguous arrays (a dump's workers and its sorted tasks):
 * worker i is (char *)workers + i * worker_size, item k likewise; the pool
 * keeps the pointer array it needs until workpool_join.
 */
int workpool_start_arrays(void *shared, void *workers, size_t worker_size, int n_workers,
			  void *items, size_t item_size, size_t n_items, workpool_fn fn,
			  const workpool_hooks *hooks, workpool **out, bderr *err);

/*
 * Items that become ready as others finish (common/taskgraph.h): instead of a
 * list, each worker asks next(ctx) for its next item, which may block until
 * one is ready and returns NULL when none will come; done(ctx, item, failed)
 * is told each item's outcome.  A failure makes the pool take no more items,
 * but a worker blocked in next() only wakes when the source returns NULL:
 * the source stops handing out items after a failed done().
 */
typedef struct workpool_source {
	void *ctx;
	void *(*next)(void *ctx);
	void (*done)(void *ctx, void *item, int failed);
} workpool_source;

/* Starts n_workers threads working through what src hands out. */
int workpool_start_source(void *shared, void **workers, int n_workers, const workpool_source *src,
			  workpool_fn fn, const workpool_hooks *hooks, workpool **out, bderr *err);

/* Workers finish their current item and take no more. */
void workpool_cancel(workpool *p);

/*
 * Waits for every worker and frees the pool; fails with the first worker's
 * error (a cancel alone is not an error).
 */
int workpool_join(workpool *p, bderr *err);

/* start + join. */
int workpool_run(void *shared, void **workers, int n_workers, void **items, size_t n_items,
		 workpool_fn fn, const workpool_hooks *hooks, bderr *err);

#endif
