#include <pthread.h>
#include <stdlib.h>

#include "common/mem.h"
#include "common/workpool.h"

typedef struct pool_thread {
	workpool *pool;
	void *worker;
	pthread_t thread;
} pool_thread;

struct workpool {
	void *shared;
	void **items;
	size_t n_items;
	workpool_fn fn;
	workpool_hooks hooks;
	workpool_source src; /* src.next != NULL: items come from there */
	pthread_mutex_t lock;
	size_t next;
	int stop;   /* failed or cancelled: take no more items */
	int failed;
	bderr first_err;
	pool_thread *threads;
	int n_threads;
	void **own_items; /* workpool_start_arrays' pointer array */
};

static void *pool_thread_main(void *arg)
{
	pool_thread *t = arg;
	workpool *p = t->pool;
	if (p->hooks.thread_start)
		p->hooks.thread_start(t->worker);
	for (;;) {
		void *item = NULL;
		pthread_mutex_lock(&p->lock);
		if (!p->stop && p->src.next == NULL && p->next < p->n_items)
			item = p->items[p->next++];
		int stop = p->stop;
		pthread_mutex_unlock(&p->lock);
		if (p->src.next != NULL && !stop)
			item = p->src.next(p->src.ctx);
		if (item == NULL)
			break;
		bderr err;
		bderr_init(&err);
		int failed = p->fn(p->shared, t->worker, item, &err) != 0;
		if (p->src.done != NULL)
			p->src.done(p->src.ctx, item, failed);
		if (failed) {
			pthread_mutex_lock(&p->lock);
			if (!p->failed) {
				p->failed = 1;
				p->first_err = err;
			}
			p->stop = 1;
			pthread_mutex_unlock(&p->lock);
			break;
		}
	}
	if (p->hooks.thread_stop)
		p->hooks.thread_stop(t->worker);
	return NULL;
}

void workpool_cancel(workpool *p)
{
	pthread_mutex_lock(&p->lock);
	p->stop = 1;
	pthread_mutex_unlock(&p->lock);
}

int workpool_join(workpool *p, bderr *err)
{
	for (int i = 0; i < p->n_threads; i++)
		pthread_join(p->threads[i].thread, NULL);
	int rc = 0;
	if (p->failed) {
		*err = p->first_err;
		rc = -1;
	}
	pthread_mutex_destroy(&p->lock);
	free(p->threads);
	free(p->own_items);
	free(p);
	return rc;
}

static int pool_start(void *shared, void **workers, int n_workers, void **items, size_t n_items,
		      const workpool_source *src, workpool_fn fn, const workpool_hooks *hooks,
		      workpool **out, bderr *err)
{
	workpool *p = xcalloc(1, sizeof *p);
	p->shared = shared;
	if (src)
		p->src = *src;
	p->items = items;
	p->n_items = n_items;
	p->fn = fn;
	if (hooks)
		p->hooks = *hooks;
	pthread_mutex_init(&p->lock, NULL);
	bderr_init(&p->first_err);
	int n = n_workers < 0 ? 0 : n_workers;
	if ((size_t)n > n_items)
		n = (int)n_items;
	p->threads = xcalloc((size_t)n + 1, sizeof *p->threads);
	for (int i = 0; i < n; i++) {
		p->threads[i].pool = p;
		p->threads[i].worker = workers[i];
		if (pthread_create(&p->threads[i].thread, NULL, pool_thread_main, &p->threads[i]) != 0) {
			workpool_cancel(p);
			bderr discard;
			bderr_init(&discard);
			workpool_join(p, &discard);
			return bderr_set(err, "cannot start worker thread %d of %d", i + 1, n);
		}
		p->n_threads++;
	}
	*out = p;
	return 0;
}

int workpool_start(void *shared, void **workers, int n_workers, void **items, size_t n_items,
		   workpool_fn fn, const workpool_hooks *hooks, workpool **out, bderr *err)
{
	return pool_start(shared, workers, n_workers, items, n_items, NULL, fn, hooks, out, err);
}

int workpool_start_source(void *shared, void **workers, int n_workers, const workpool_source *src,
			  workpool_fn fn, const workpool_hooks *hooks, workpool **out, bderr *err)
{
	/* n_items only caps the thread count here: the source hands out the items */
	int n = n_workers < 0 ? 0 : n_workers;
	return pool_start(shared, workers, n, NULL, (size_t)n, src, fn, hooks, out, err);
}

int workpool_start_arrays(void *shared, void *workers, size_t worker_size, int n_workers,
			  void *items, size_t item_size, size_t n_items, workpool_fn fn,
			  const workpool_hooks *hooks, workpool **out, bderr *err)
{
	int nw = n_workers < 0 ? 0 : n_workers;
	void **wp = xcalloc((size_t)nw + 1, sizeof *wp);
	void **ip = xcalloc(n_items + 1, sizeof *ip);
	for (int i = 0; i < nw; i++)
		wp[i] = (char *)workers + (size_t)i * worker_size;
	for (size_t k = 0; k < n_items; k++)
		ip[k] = (char *)items + k * item_size;
	int rc = workpool_start(shared, wp, nw, ip, n_items, fn, hooks, out, err);
	free(wp); /* each thread has its worker already */
	if (rc != 0)
		free(ip);
	else
		(*out)->own_items = ip;
	return rc;
}

int workpool_run(void *shared, void **workers, int n_workers, void **items, size_t n_items,
		 workpool_fn fn, const workpool_hooks *hooks, bderr *err)
{
	workpool *p = NULL;
	if (workpool_start(shared, workers, n_workers, items, n_items, fn, hooks, &p, err) != 0)
		return -1;
	return workpool_join(p, err);
}
