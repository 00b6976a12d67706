#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "common/workpool.h"

typedef struct counter {
	pthread_mutex_t lock;
	int done;
	int fail_at; /* item value that fails, -1 for none */
	int seen_by[4];
} counter;

static int count_item(void *shared, void *worker, void *item, bderr *err)
{
	counter *c = shared;
	int *value = item;
	int w = *(int *)worker;
	if (*value == c->fail_at)
		return bderr_set(err, "item %d failed", *value);
	pthread_mutex_lock(&c->lock);
	c->done++;
	c->seen_by[w]++;
	pthread_mutex_unlock(&c->lock);
	*value = -*value; /* mark as processed */
	return 0;
}

static void setup(counter *c, int *values, void **items, int n, int fail_at)
{
	memset(c, 0, sizeof *c);
	pthread_mutex_init(&c->lock, NULL);
	c->fail_at = fail_at;
	for (int i = 0; i < n; i++) {
		values[i] = i + 1;
		items[i] = &values[i];
	}
}

static int worker_ids[4] = { 0, 1, 2, 3 };
static void *workers[4] = { &worker_ids[0], &worker_ids[1], &worker_ids[2], &worker_ids[3] };

static void test_every_item_once(void **state)
{
	(void)state;
	counter c;
	int values[100];
	void *items[100];
	setup(&c, values, items, 100, -1);
	bderr err;
	bderr_init(&err);
	assert_int_equal(workpool_run(&c, workers, 4, items, 100, count_item, NULL, &err), 0);
	assert_int_equal(c.done, 100);
	for (int i = 0; i < 100; i++)
		assert_int_equal(values[i], -(i + 1));
	pthread_mutex_destroy(&c.lock);
}

static void test_first_failure_stops(void **state)
{
	(void)state;
	counter c;
	int values[50];
	void *items[50];
	setup(&c, values, items, 50, 3);
	bderr err;
	bderr_init(&err);
	/* one worker: items run in order, so nothing after the failing one runs */
	assert_int_equal(workpool_run(&c, workers, 1, items, 50, count_item, NULL, &err), -1);
	assert_string_equal(err.msg, "item 3 failed");
	assert_int_equal(c.done, 2);
	assert_int_equal(values[3], 4);
	pthread_mutex_destroy(&c.lock);
}

static void test_more_workers_than_items_and_none(void **state)
{
	(void)state;
	counter c;
	int values[2];
	void *items[2];
	setup(&c, values, items, 2, -1);
	bderr err;
	bderr_init(&err);
	assert_int_equal(workpool_run(&c, workers, 4, items, 2, count_item, NULL, &err), 0);
	assert_int_equal(c.done, 2);
	assert_int_equal(workpool_run(&c, workers, 4, items, 0, count_item, NULL, &err), 0);
	assert_false(bderr_isset(&err));
	pthread_mutex_destroy(&c.lock);
}

static void test_cancel_is_not_an_error(void **state)
{
	(void)state;
	counter c;
	int values[10];
	void *items[10];
	setup(&c, values, items, 10, -1);
	bderr err;
	bderr_init(&err);
	workpool *p = NULL;
	assert_int_equal(workpool_start(&c, workers, 2, items, 10, count_item, NULL, &p, &err), 0);
	workpool_cancel(p);
	assert_int_equal(workpool_join(p, &err), 0);
	assert_true(c.done <= 10);
	pthread_mutex_destroy(&c.lock);
}

/* Per-thread state the hooks set up: what mysql_thread_init does for real. */
static __thread int thread_ready;
static int started[4], stopped[4], unready_items;

static void hook_start(void *worker)
{
	thread_ready = 1;
	started[*(int *)worker]++;
}

static void hook_stop(void *worker)
{
	thread_ready = 0;
	stopped[*(int *)worker]++;
}

static int ready_item(void *shared, void *worker, void *item, bderr *err)
{
	if (!thread_ready)
		__atomic_add_fetch(&unready_items, 1, __ATOMIC_SEQ_CST);
	return count_item(shared, worker, item, err);
}

static void test_thread_hooks(void **state)
{
	(void)state;
	static const workpool_hooks hooks = { hook_start, hook_stop };
	counter c;
	int values[40];
	void *items[40];
	bderr err;

	/* every started thread runs start before its first item and stop after its last */
	memset(started, 0, sizeof started);
	memset(stopped, 0, sizeof stopped);
	unready_items = 0;
	setup(&c, values, items, 40, -1);
	bderr_init(&err);
	assert_int_equal(workpool_run(&c, workers, 3, items, 40, ready_item, &hooks, &err), 0);
	assert_int_equal(c.done, 40);
	assert_int_equal(unready_items, 0);
	for (int w = 0; w < 3; w++) {
		assert_int_equal(started[w], 1);
		assert_int_equal(stopped[w], 1);
	}
	assert_int_equal(started[3], 0);
	pthread_mutex_destroy(&c.lock);

	/* a failing item still ends every thread through stop */
	memset(started, 0, sizeof started);
	memset(stopped, 0, sizeof stopped);
	setup(&c, values, items, 40, 5);
	bderr_init(&err);
	assert_int_equal(workpool_run(&c, workers, 4, items, 40, ready_item, &hooks, &err), -1);
	assert_string_equal(err.msg, "item 5 failed");
	for (int w = 0; w < 4; w++)
		assert_int_equal(started[w], stopped[w]);
	assert_int_equal(started[0] + started[1] + started[2] + started[3], 4);
	pthread_mutex_destroy(&c.lock);

	/* no items: no thread, no hook */
	memset(started, 0, sizeof started);
	setup(&c, values, items, 0, -1);
	assert_int_equal(workpool_run(&c, workers, 4, items, 0, ready_item, &hooks, &err), 0);
	assert_int_equal(started[0] + started[1] + started[2] + started[3], 0);
	pthread_mutex_destroy(&c.lock);
}

/* Contiguous arrays: every item once, each worker context its own element. */
static void test_arrays(void **state)
{
	(void)state;
	counter c;
	int values[30];
	void *unused[30];
	setup(&c, values, unused, 30, -1);
	bderr err;
	bderr_init(&err);
	workpool *p = NULL;
	assert_int_equal(workpool_start_arrays(&c, worker_ids, sizeof *worker_ids, 3, values,
					       sizeof *values, 30, count_item, NULL, &p, &err), 0);
	assert_int_equal(workpool_join(p, &err), 0);
	assert_int_equal(c.done, 30);
	for (int i = 0; i < 30; i++)
		assert_int_equal(values[i], -(i + 1));
	assert_int_equal(c.seen_by[0] + c.seen_by[1] + c.seen_by[2], 30);
	assert_int_equal(c.seen_by[3], 0);
	pthread_mutex_destroy(&c.lock);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_item_once),
		cmocka_unit_test(test_first_failure_stops),
		cmocka_unit_test(test_more_workers_than_items_and_none),
		cmocka_unit_test(test_cancel_is_not_an_error),
		cmocka_unit_test(test_thread_hooks),
		cmocka_unit_test(test_arrays),
	};
	return cmocka_run_group_tests_name("workpool", tests, NULL, NULL);
}
