/*
 * Work with dependencies on a fixed set of workers (common/workpool): a task
 * becomes ready once every task it depends on has finished, and the workers
 * take the ready task of the highest rank first: its cost plus the largest
 * rank among the tasks waiting for it (the longest path to the end).  The restore runs a table's
 * index builds as soon as that table's chunks are loaded, on the same
 * connections that are still loading other tables.  The first failure stops
 * the handing out of tasks; tasks already running finish.
 */
#ifndef BACKUPD_COMMON_TASKGRAPH_H
#define BACKUPD_COMMON_TASKGRAPH_H

#include <stddef.h>
#include "common/error.h"
#include "common/workpool.h"

typedef struct taskgraph taskgraph;

taskgraph *taskgraph_new(void);
void taskgraph_free(taskgraph *g);

/*
 * Adds a task and returns its id (0, 1, ... in order).  item NULL makes a
 * gate: no worker runs it, it finishes as soon as it is ready (one gate
 * standing for "all of these" saves an edge per pair).
 */
size_t taskgraph_add(taskgraph *g, void *item, double cost);

/* Task `task` runs only after task `on` has finished. */
void taskgraph_depend(taskgraph *g, size_t task, size_t on);

/*
 * Task `task` holds `key` (a small number: the caller's index of what it
 * works on) while it runs, shared with other shared holders or alone
 * (exclusive): a ready task whose key is taken waits, and a ready task of a
 * smaller cost runs meanwhile.  The restore's foreign key locks both its
 * tables against the index builds on them, which the server would make wait
 * on a connection that could be loading.
 */
void taskgraph_lock(taskgraph *g, size_t task, size_t key, int exclusive);

size_t taskgraph_count(const taskgraph *g);

/*
 * Runs every task through fn(shared, worker, item) on up to n_workers (at
 * least 1) threads (workers[i] for thread i, as workpool_run); once per graph.  Fails with the first task's
 * error, or when tasks are left that can never become ready (a cycle).
 */
int taskgraph_run(taskgraph *g, void *shared, void **workers, int n_workers, workpool_fn fn,
		  const workpool_hooks *hooks, bderr *err);

#endif
