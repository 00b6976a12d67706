#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "common/mem.h"
#include "common/taskgraph.h"

/* A key a task holds while it runs (taskgraph_lock). */
typedef struct tg_lock {
	size_t key;
	int exclusive;
} tg_lock;

typedef struct tg_task {
	void *item;
	double cost;
	double rank; /* cost plus the largest rank of the tasks waiting for it (rank_tasks) */
	tg_lock *locks;
	size_t n_locks;
	size_t waiting;     /* unfinished tasks this one depends on */
	size_t *dependents; /* tasks that wait for this one */
	size_t n_dependents;
	size_t cap_dependents;
} tg_task;

struct taskgraph {
	tg_task *tasks;
	size_t n, cap;
	/* while running */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	size_t *heap; /* ready tasks, in before() order: a gate, then the highest rank on top */
	size_t n_heap;
	size_t *skipped; /* ready tasks put aside by tg_next: their keys were taken */
	size_t n_keys;   /* one past the largest key */
	int *holders;    /* per key while running: tasks holding it, -1: one holds it exclusively */
	size_t n_finished;
	size_t n_running;
	int stop;  /* a task failed: hand out no more */
	int stuck; /* tasks left that nothing will make ready */
	void *shared;
	workpool_fn fn;
};

taskgraph *taskgraph_new(void)
{
	return xcalloc(1, sizeof(taskgraph));
}

void taskgraph_free(taskgraph *g)
{
	if (g == NULL)
		return;
	for (size_t i = 0; i < g->n; i++) {
		free(g->tasks[i].dependents);
		free(g->tasks[i].locks);
	}
	free(g->tasks);
	free(g->heap);
	free(g->skipped);
	free(g->holders);
	free(g);
}

size_t taskgraph_add(taskgraph *g, void *item, double cost)
{
	if (g->n == g->cap) {
		g->cap = g->cap ? g->cap * 2 : 64;
		g->tasks = xrealloc(g->tasks, g->cap * sizeof *g->tasks);
	}
	tg_task *t = &g->tasks[g->n];
	t->item = item;
	t->cost = cost;
	t->waiting = 0;
	t->dependents = NULL;
	t->n_dependents = t->cap_dependents = 0;
	t->locks = NULL;
	t->n_locks = 0;
	return g->n++;
}

void taskgraph_lock(taskgraph *g, size_t task, size_t key, int exclusive)
{
	tg_task *t = &g->tasks[task];
	for (size_t i = 0; i < t->n_locks; i++)
		if (t->locks[i].key == key) {
			t->locks[i].exclusive |= exclusive != 0;
			return;
		}
	t->locks = xrealloc(t->locks, (t->n_locks + 1) * sizeof *t->locks);
	t->locks[t->n_locks++] = (tg_lock){ key, exclusive != 0 };
	if (key + 1 > g->n_keys)
		g->n_keys = key + 1;
}

void taskgraph_depend(taskgraph *g, size_t task, size_t on)
{
	tg_task *o = &g->tasks[on];
	if (o->n_dependents == o->cap_dependents) {
		o->cap_dependents = o->cap_dependents ? o->cap_dependents * 2 : 4;
		o->dependents = xrealloc(o->dependents, o->cap_dependents * sizeof *o->dependents);
	}
	o->dependents[o->n_dependents++] = task;
	g->tasks[task].waiting++;
}

size_t taskgraph_count(const taskgraph *g)
{
	return g->n;
}

/*
 * A task's rank: its cost plus the largest rank among the tasks that wait
 * for it, the work on the longest path from its start to the end.  Ready
 * tasks run highest rank first: a small task that a large one waits for
 * (the referenced table's primary key before a foreign key that checks a
 * large table) runs ahead of large tasks that nothing waits for.  Tasks of
 * a cycle (never run: reported as stuck) keep their own cost.
 */
static void rank_tasks(taskgraph *g)
{
	size_t *left = xcalloc(g->n + 1, sizeof *left); /* dependents not ranked yet */
	size_t *order = xcalloc(g->n + 1, sizeof *order);
	size_t n_order = 0;
	for (size_t i = 0; i < g->n; i++) {
		g->tasks[i].rank = g->tasks[i].cost;
		left[i] = g->tasks[i].n_dependents;
		if (left[i] == 0)
			order[n_order++] = i;
	}
	/* which tasks each task waits for: the dependents lists reversed */
	size_t *n_deps = xcalloc(g->n + 1, sizeof *n_deps), *first = xcalloc(g->n + 2, sizeof *first);
	for (size_t i = 0; i < g->n; i++)
		for (size_t k = 0; k < g->tasks[i].n_dependents; k++)
			n_deps[g->tasks[i].dependents[k]]++;
	for (size_t i = 0; i < g->n; i++)
		first[i + 1] = first[i] + n_deps[i];
	size_t *deps = xcalloc(first[g->n] + 1, sizeof *deps), *fill = xcalloc(g->n + 1, sizeof *fill);
	for (size_t i = 0; i < g->n; i++)
		for (size_t k = 0; k < g->tasks[i].n_dependents; k++) {
			size_t d = g->tasks[i].dependents[k];
			deps[first[d] + fill[d]++] = i;
		}
	/* from the ends backwards: a task is ranked once all its dependents are */
	for (size_t h = 0; h < n_order; h++) {
		size_t d = order[h];
		for (size_t k = first[d]; k < first[d + 1]; k++) {
			tg_task *t = &g->tasks[deps[k]];
			if (t->cost + g->tasks[d].rank > t->rank)
				t->rank = t->cost + g->tasks[d].rank;
			if (--left[deps[k]] == 0)
				order[n_order++] = deps[k];
		}
	}
	free(fill);
	free(deps);
	free(first);
	free(n_deps);
	free(order);
	free(left);
}

/* ---- the ready heap: a gate, then higher rank first, then the earlier task ---- */

static int before(const taskgraph *g, size_t a, size_t b)
{
	/*
	 * A ready gate first, whatever its cost: it finishes at once, and what
	 * waits for it (an index after its table's loads) must compete with the
	 * other ready work now, not after all of it.
	 */
	int ga = g->tasks[a].item == NULL, gb = g->tasks[b].item == NULL;
	if (ga != gb)
		return ga;
	if (g->tasks[a].rank != g->tasks[b].rank)
		return g->tasks[a].rank > g->tasks[b].rank;
	return a < b;
}

static void heap_push(taskgraph *g, size_t id)
{
	size_t i = g->n_heap++;
	g->heap[i] = id;
	while (i > 0) {
		size_t up = (i - 1) / 2;
		if (!before(g, g->heap[i], g->heap[up]))
			break;
		size_t t = g->heap[i];
		g->heap[i] = g->heap[up];
		g->heap[up] = t;
		i = up;
	}
}

static size_t heap_pop(taskgraph *g)
{
	size_t top = g->heap[0];
	g->heap[0] = g->heap[--g->n_heap];
	size_t i = 0;
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < g->n_heap && before(g, g->heap[l], g->heap[m]))
			m = l;
		if (r < g->n_heap && before(g, g->heap[r], g->heap[m]))
			m = r;
		if (m == i)
			break;
		size_t t = g->heap[i];
		g->heap[i] = g->heap[m];
		g->heap[m] = t;
		i = m;
	}
	return top;
}

/* Called with the lock held: whether t's keys are free for it, and taking or releasing them. */
static int keys_free(const taskgraph *g, const tg_task *t)
{
	for (size_t i = 0; i < t->n_locks; i++) {
		int h = g->holders[t->locks[i].key];
		if (h < 0 || (h > 0 && t->locks[i].exclusive))
			return 0;
	}
	return 1;
}

static void keys_take(taskgraph *g, const tg_task *t, int take)
{
	for (size_t i = 0; i < t->n_locks; i++) {
		int *h = &g->holders[t->locks[i].key];
		if (t->locks[i].exclusive)
			*h = take ? -1 : 0;
		else
			*h += take ? 1 : -1;
	}
}

/*
 * Called with the lock held: the first ready task in heap order (a gate,
 * then the highest rank) whose keys are free, or SIZE_MAX.  With nothing running every key is free, so a
 * ready task is always found then.
 */
static size_t pop_runnable(taskgraph *g)
{
	size_t id = SIZE_MAX, n_skipped = 0;
	while (g->n_heap > 0) {
		size_t top = heap_pop(g);
		if (keys_free(g, &g->tasks[top])) {
			id = top;
			break;
		}
		g->skipped[n_skipped++] = top;
	}
	while (n_skipped > 0)
		heap_push(g, g->skipped[--n_skipped]);
	return id;
}

/* Called with the lock held. */
static void finish(taskgraph *g, size_t id)
{
	g->n_finished++;
	tg_task *t = &g->tasks[id];
	for (size_t k = 0; k < t->n_dependents; k++)
		if (--g->tasks[t->dependents[k]].waiting == 0)
			heap_push(g, t->dependents[k]);
}

static void *tg_next(void *ctx)
{
	taskgraph *g = ctx;
	void *item = NULL;
	pthread_mutex_lock(&g->lock);
	while (!g->stop && g->n_finished < g->n) {
		size_t id = pop_runnable(g);
		if (id != SIZE_MAX) {
			if (g->tasks[id].item == NULL) {
				finish(g, id); /* a gate */
				pthread_cond_broadcast(&g->cond);
				continue;
			}
			g->n_running++;
			keys_take(g, &g->tasks[id], 1);
			item = &g->tasks[id];
			break;
		}
		if (g->n_running == 0) {
			g->stuck = 1;
			g->stop = 1;
			break;
		}
		pthread_cond_wait(&g->cond, &g->lock);
	}
	if (item == NULL)
		pthread_cond_broadcast(&g->cond); /* the others stop too */
	pthread_mutex_unlock(&g->lock);
	return item;
}

static void tg_done(void *ctx, void *item, int failed)
{
	taskgraph *g = ctx;
	pthread_mutex_lock(&g->lock);
	g->n_running--;
	keys_take(g, item, 0);
	if (failed)
		g->stop = 1;
	else
		finish(g, (size_t)((tg_task *)item - g->tasks));
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->lock);
}

static int tg_run_item(void *shared, void *worker, void *item, bderr *err)
{
	taskgraph *g = shared;
	return g->fn(g->shared, worker, ((tg_task *)item)->item, err);
}

int taskgraph_run(taskgraph *g, void *shared, void **workers, int n_workers, workpool_fn fn,
		  const workpool_hooks *hooks, bderr *err)
{
	g->heap = xrealloc(g->heap, (g->n + 1) * sizeof *g->heap);
	g->skipped = xrealloc(g->skipped, (g->n + 1) * sizeof *g->skipped);
	free(g->holders);
	g->holders = xcalloc(g->n_keys + 1, sizeof *g->holders);
	g->n_heap = 0;
	rank_tasks(g);
	g->n_finished = g->n_running = 0;
	g->stop = g->stuck = 0;
	g->shared = shared;
	g->fn = fn;
	size_t n_work = 0;
	for (size_t i = 0; i < g->n; i++) {
		if (g->tasks[i].waiting == 0)
			heap_push(g, i);
		if (g->tasks[i].item != NULL)
			n_work++;
	}
	int n = n_workers;
	if ((size_t)n > n_work)
		n = (int)n_work;
	if (n < 1)
		n = 1; /* gates alone still have to finish (and a cycle to be found) */
	pthread_mutex_init(&g->lock, NULL);
	pthread_cond_init(&g->cond, NULL);
	workpool_source src = { g, tg_next, tg_done };
	workpool *p = NULL;
	int rc = workpool_start_source(g, workers, n, &src, tg_run_item, hooks, &p, err);
	if (rc == 0)
		rc = workpool_join(p, err);
	if (rc == 0 && g->stuck)
		rc = bderr_set(err, "%zu of %zu tasks wait for each other and can never run",
			       g->n - g->n_finished, g->n);
	pthread_cond_destroy(&g->cond);
	pthread_mutex_destroy(&g->lock);
	return rc;
}
