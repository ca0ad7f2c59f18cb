/* runtime/onnxcc_pool.c — the pthread pool behind OnnxccParallel (see
 * onnxcc_pool.h).  Workers sleep on a condition variable between jobs; a
 * job is (task, ctx, n, generation); worker w runs range w+1 of T and the
 * caller runs range 0, then waits for the others. */
#include "onnxcc_pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

struct OnnxccPool {
	int nthreads;
	pthread_t *tid;
	pthread_mutex_t mu;
	pthread_mutex_t call_mu;   /* one parallel_for at a time */
	pthread_cond_t go, done;
	unsigned long gen;         /* job generation */
	int pending;               /* workers still busy with this job */
	int quit;
	OnnxccTask task;
	void *ctx;
	int64_t n;
};

typedef struct Worker {
	OnnxccPool *p;
	int index;                 /* 1..nthreads-1 */
} Worker;

static void range_of(int64_t n, int t, int nt, int64_t *b, int64_t *e)
{
	*b = n * t / nt;
	*e = n * (t + 1) / nt;
}

static void *worker_main(void *arg)
{
	Worker *w = arg;
	OnnxccPool *p = w->p;
	unsigned long seen = 0;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->quit && p->gen == seen)
			pthread_cond_wait(&p->go, &p->mu);
		if (p->quit)
			break;
		seen = p->gen;
		OnnxccTask task = p->task;
		void *ctx = p->ctx;
		int64_t b, e;
		range_of(p->n, w->index, p->nthreads, &b, &e);
		pthread_mutex_unlock(&p->mu);
		if (b < e)
			task(ctx, b, e);
		pthread_mutex_lock(&p->mu);
		if (--p->pending == 0)
			pthread_cond_signal(&p->done);
	}
	pthread_mutex_unlock(&p->mu);
	free(w);
	return NULL;
}

OnnxccPool *onnxcc_pool_create(int nthreads)
{
	if (nthreads < 1) {
		errno = EINVAL;
		return NULL;
	}
	OnnxccPool *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->nthreads = nthreads;
	p->tid = calloc((size_t)nthreads, sizeof *p->tid);
	if (!p->tid) {
		free(p);
		return NULL;
	}
	pthread_mutex_init(&p->mu, NULL);
	pthread_mutex_init(&p->call_mu, NULL);
	pthread_cond_init(&p->go, NULL);
	pthread_cond_init(&p->done, NULL);
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	size_t stack = 0;
	pthread_attr_getstacksize(&attr, &stack);
	if (stack < ((size_t)4 << 20))
		pthread_attr_setstacksize(&attr, (size_t)4 << 20);
	for (int i = 1; i < nthreads; i++) {
		Worker *w = malloc(sizeof *w);
		if (w)
			*w = (Worker){p, i};
		int rc = w ? pthread_create(&p->tid[i], &attr, worker_main, w) : ENOMEM;
		if (rc) {
			free(w);
			pthread_attr_destroy(&attr);
			p->nthreads = i; /* destroy joins the ones started */
			onnxcc_pool_destroy(p);
			errno = rc;
			return NULL;
		}
	}
	pthread_attr_destroy(&attr);
	return p;
}

int onnxcc_pool_threads(const OnnxccPool *p)
{
	return p->nthreads;
}

void onnxcc_pool_parallel_for(void *pool, int64_t n, OnnxccTask task, void *ctx)
{
	OnnxccPool *p = pool;
	if (p->nthreads == 1 || n <= 1) {
		if (n > 0)
			task(ctx, 0, n);
		return;
	}
	pthread_mutex_lock(&p->call_mu);
	pthread_mutex_lock(&p->mu);
	p->task = task;
	p->ctx = ctx;
	p->n = n;
	p->pending = p->nthreads - 1;
	p->gen++;
	pthread_cond_broadcast(&p->go);
	pthread_mutex_unlock(&p->mu);
	int64_t b, e;
	range_of(n, 0, p->nthreads, &b, &e);
	if (b < e)
		task(ctx, b, e);
	pthread_mutex_lock(&p->mu);
	while (p->pending > 0)
		pthread_cond_wait(&p->done, &p->mu);
	pthread_mutex_unlock(&p->mu);
	pthread_mutex_unlock(&p->call_mu);
}

OnnxccParallel onnxcc_pool_parallel(OnnxccPool *p)
{
	OnnxccParallel par = {onnxcc_pool_parallel_for, p};
	return par;
}

void onnxcc_pool_destroy(OnnxccPool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->quit = 1;
	pthread_cond_broadcast(&p->go);
	pthread_mutex_unlock(&p->mu);
	for (int i = 1; i < p->nthreads; i++)
		pthread_join(p->tid[i], NULL);
	pthread_cond_destroy(&p->go);
	pthread_cond_destroy(&p->done);
	pthread_mutex_destroy(&p->mu);
	pthread_mutex_destroy(&p->call_mu);
	free(p->tid);
	free(p);
}
