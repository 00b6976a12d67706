#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "common/taskgraph.h"

/* Each task records when it ran; task `fail` fails. */
typedef struct run_log {
	pthread_mutex_t lock;
	int order[64]; /* task values in the order they finished */
	int n;
	int fail;
	int running, max_running;
	/*
	 * meet[v]: task v waits (up to 2 s) until another task runs beside it,
	 * so a test of what may run together does not depend on how fast the
	 * machine starts the second worker
	 */
	int meet[64];
} run_log;

static int run_task(void *shared, void *worker, void *item, bderr *err)
{
	(void)worker;
	run_log *l = shared;
	int v = *(int *)item;
	pthread_mutex_lock(&l->lock);
	if (++l->running > l->max_running)
		l->max_running = l->running;
	pthread_mutex_unlock(&l->lock);
	usleep(2000);
	for (int waited = 0; l->meet[v] && waited < 2000; waited++) {
		pthread_mutex_lock(&l->lock);
		int together = l->max_running >= 2;
		pthread_mutex_unlock(&l->lock);
		if (together)
			break;
		usleep(1000);
	}
	pthread_mutex_lock(&l->lock);
	l->running--;
	if (v != l->fail)
		l->order[l->n++] = v;
	pthread_mutex_unlock(&l->lock);
	if (v == l->fail)
		return bderr_set(err, "task %d failed", v);
	return 0;
}

static int worker_ids[3] = { 0, 1, 2 };
static void *workers[3] = { &worker_ids[0], &worker_ids[1], &worker_ids[2] };
static int values[64];

static void log_init(run_log *l, int fail)
{
	memset(l, 0, sizeof *l);
	pthread_mutex_init(&l->lock, NULL);
	l->fail = fail;
	for (int i = 0; i < 64; i++)
		values[i] = i;
}

static int position(const run_log *l, int v)
{
	for (int i = 0; i < l->n; i++)
		if (l->order[i] == v)
			return i;
	return -1;
}

/*
 * One worker takes the ready task of the highest rank first: its cost plus
 * the largest rank of what waits for it.  Task 2 (20) goes before task 1
 * (30) because task 3 (100) waits for it; task 4 (40) waits for task 0 (1),
 * whose rank 41 puts it ahead of task 1 too.
 */
static void test_longest_path_first(void **state)
{
	(void)state;
	run_log l;
	log_init(&l, -1);
	taskgraph *g = taskgraph_new();
	taskgraph_add(g, &values[0], 1);
	taskgraph_add(g, &values[1], 30);
	taskgraph_add(g, &values[2], 20);
	size_t t3 = taskgraph_add(g, &values[3], 100); /* ready only after 2 */
	taskgraph_depend(g, t3, 2);
	size_t t4 = taskgraph_add(g, &values[4], 40); /* ready only after 0 */
	taskgraph_depend(g, t4, 0);
	taskgraph_add(g, &values[5], 35);
	bderr err;
	bderr_init(&err);
	assert_int_equal(taskgraph_run(g, &l, workers, 1, run_task, NULL, &err), 0);
	assert_int_equal(l.n, 6);
	/* ranks: 2: 120, 3: 100, 0: 41, 4: 40, 5: 35, 1: 30 */
	int want[] = { 2, 3, 0, 4, 5, 1 };
	assert_memory_equal(l.order, want, sizeof want);
	taskgraph_free(g);
}

/*
 * A gate (cost 0) that becomes ready does not wait behind the other ready
 * work: the index behind a table's "loaded" gate runs before smaller loads.
 */
static void test_gate_not_last(void **state)
{
	(void)state;
	run_log l;
	log_init(&l, -1);
	taskgraph *g = taskgraph_new();
	size_t big = taskgraph_add(g, &values[1], 100);
	taskgraph_add(g, &values[2], 1);
	taskgraph_add(g, &values[3], 1);
	size_t loaded = taskgraph_add(g, NULL, 0);
	taskgraph_depend(g, loaded, big);
	size_t idx = taskgraph_add(g, &values[4], 100);
	taskgraph_depend(g, idx, loaded);
	bderr err;
	bderr_init(&err);
	assert_int_equal(taskgraph_run(g, &l, workers, 1, run_task, NULL, &err), 0);
	int want[] = { 1, 4, 2, 3 };
	assert_int_equal(l.n, 4);
	assert_memory_equal(l.order, want, sizeof want);
	taskgraph_free(g);
}

/* Loads of two tables, their indexes after their own loads, a key after both, through a gate. */
static void test_dependencies_hold(void **state)
{
	(void)state;
	run_log l;
	log_init(&l, -1);
	taskgraph *g = taskgraph_new();
	size_t a1 = taskgraph_add(g, &values[1], 10), a2 = taskgraph_add(g, &values[2], 10);
	size_t b1 = taskgraph_add(g, &values[3], 5);
	size_t ia = taskgraph_add(g, &values[4], 20), ib = taskgraph_add(g, &values[5], 5);
	taskgraph_depend(g, ia, a1);
	taskgraph_depend(g, ia, a2);
	taskgraph_depend(g, ib, b1);
	size_t gate = taskgraph_add(g, NULL, 0);
	taskgraph_depend(g, gate, ia);
	taskgraph_depend(g, gate, ib);
	size_t fk = taskgraph_add(g, &values[6], 1);
	taskgraph_depend(g, fk, gate);
	assert_int_equal(taskgraph_count(g), 7);
	/* the three loads are ready at once: each waits for a partner (a slow machine
	 * once started the second worker only after 2 ms tasks had run alone) */
	l.meet[1] = l.meet[2] = l.meet[3] = 1;
	bderr err;
	bderr_init(&err);
	assert_int_equal(taskgraph_run(g, &l, workers, 3, run_task, NULL, &err), 0);
	assert_int_equal(l.n, 6);
	assert_true(position(&l, 4) > position(&l, 1) && position(&l, 4) > position(&l, 2));
	assert_true(position(&l, 5) > position(&l, 3));
	assert_int_equal(position(&l, 6), 5);
	assert_true(l.max_running >= 2); /* independent tasks ran side by side */
	taskgraph_free(g);
}

/* A failure stops the handing out: what depends on it never runs, the error is the task's. */
static void test_failure_stops(void **state)
{
	(void)state;
	run_log l;
	log_init(&l, 1);
	taskgraph *g = taskgraph_new();
	taskgraph_add(g, &values[1], 10);
	for (int i = 2; i < 20; i++)
		taskgraph_depend(g, taskgraph_add(g, &values[i], 1), 0);
	bderr err;
	bderr_init(&err);
	assert_int_equal(taskgraph_run(g, &l, workers, 2, run_task, NULL, &err), -1);
	assert_string_equal(err.msg, "task 1 failed");
	assert_int_equal(l.n, 0);
	taskgraph_free(g);
}

/* Tasks waiting for each other are reported, not waited for forever. */
static void test_cycle_reported(void **state)
{
	(void)state;
	run_log l;
	log_init(&l, -1);
	taskgraph *g = taskgraph_new();
	taskgraph_add(g, &values[0], 1);
	size_t a = taskgraph_add(g, &values[1], 1), b = taskgraph_add(g, &values[2], 1);
	taskgraph_depend(g, a, b);
	taskgraph_depend(g, b, a);
	bderr err;
	bderr_init(&err);
	assert_int_equal(taskgraph_run(g, &l, workers, 2, run_task, NULL, &err), -1);
	assert_non_null(strstr(err.msg, "2 of 3 tasks"));
	assert_int_equal(l.n, 1);
	taskgraph_free(g);
}

/* Nothing to run, or gates only: done at once. */
static void test_empty_and_gates(void **state)
{
	(void)state;
	run_log l;
	log_init(&l, -1);
	bderr err;
	bderr_init(&err);
	taskgraph *g = taskgraph_new();
	assert_int_equal(taskgraph_run(g, &l, workers, 2, run_task, NULL, &err), 0);
	taskgraph_depend(g, taskgraph_add(g, NULL, 0), taskgraph_add(g, NULL, 0));
	assert_int_equal(taskgraph_run(g, &l, workers, 2, run_task, NULL, &err), 0);
	assert_int_equal(l.n, 0);
	taskgraph_free(g);
}

/*
 * Keys: tasks holding one key exclusively never run side by side (nor with
 * its shared holders); shared holders do; a ready task whose key is taken
 * waits and a smaller ready one runs meanwhile.
 */
static void test_keys_keep_apart(void **state)
{
	(void)state;
	run_log l;
	log_init(&l, -1);
	taskgraph *g = taskgraph_new();
	size_t fk = taskgraph_add(g, &values[1], 100); /* exclusive on keys 0 and 1 */
	taskgraph_lock(g, fk, 0, 1);
	taskgraph_lock(g, fk, 1, 1);
	size_t i1 = taskgraph_add(g, &values[2], 90), i2 = taskgraph_add(g, &values[3], 80);
	taskgraph_lock(g, i1, 0, 0);
	taskgraph_lock(g, i2, 0, 0);
	taskgraph_add(g, &values[4], 1); /* no key: runs beside the key */
	l.meet[1] = l.meet[4] = 1;
	bderr err;
	bderr_init(&err);
	assert_int_equal(taskgraph_run(g, &l, workers, 3, run_task, NULL, &err), 0);
	assert_int_equal(l.n, 4);
	/* the largest first, alone on its keys, the small one beside it; the shared ones after it */
	assert_true(position(&l, 2) > position(&l, 1) && position(&l, 3) > position(&l, 1));
	assert_true(l.max_running >= 2);
	taskgraph_free(g);

	/* the shared holders together, then the exclusive one */
	log_init(&l, -1);
	g = taskgraph_new();
	i1 = taskgraph_add(g, &values[1], 100);
	i2 = taskgraph_add(g, &values[2], 90);
	fk = taskgraph_add(g, &values[3], 80);
	taskgraph_lock(g, i1, 5, 0);
	taskgraph_lock(g, i2, 5, 0);
	taskgraph_lock(g, fk, 5, 1);
	l.meet[1] = l.meet[2] = 1;
	assert_int_equal(taskgraph_run(g, &l, workers, 3, run_task, NULL, &err), 0);
	assert_int_equal(l.n, 3);
	assert_int_equal(position(&l, 3), 2);
	assert_int_equal(l.max_running, 2);
	taskgraph_free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_longest_path_first),
		cmocka_unit_test(test_gate_not_last),
		cmocka_unit_test(test_dependencies_hold),
		cmocka_unit_test(test_failure_stops),
		cmocka_unit_test(test_cycle_reported),
		cmocka_unit_test(test_empty_and_gates),
		cmocka_unit_test(test_keys_keep_apart),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
