/* runtime/onnxcc_pool.c — the pthread pool behind OnnxccParallel (see
 * onnxcc_pool.h).  A job is (task, ctx, n) published under a new
 * generation number; worker w runs range w+1 of T and the caller runs
 * range 0, then waits for the others.  Parallel regions in a model are
 * short (tens of microseconds), so both sides spin a while before they
 * sleep: a worker polls the generation for about ONNXCC_POOL_SPIN pause
 * instructions before it sleeps on `go`, and the caller polls the count
 * of busy workers before it sleeps on `done`.  The mutex orders every
 * sleep against the wake-up meant for it, so no wake-up is lost.
 *
 * The caller waits only for the workers that joined the job.  A worker
 * joins (state + 1) while the job is open; the caller closes it (the
 * CLOSED bit) once it has claimed every task left, and a worker that comes
 * later does not touch it.  So on a loaded machine, where a worker may not
 * get a core for milliseconds, the caller runs the whole job itself instead
 * of waiting for that worker to be scheduled (T = 2 under load was 8x the
 * 1-thread time when every worker had to check in). */
#include "onnxcc_pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

/* Pause-instruction polls before a thread sleeps: some 0.1-1 ms, longer
 * than most gaps between two parallel regions of a model. */
#define ONNXCC_POOL_SPIN 20000

struct OnnxccPool {
	int nthreads;
	pthread_t *tid;
	pthread_mutex_t mu;
	pthread_mutex_t call_mu;   /* one parallel_for at a time */
	pthread_cond_t go, done;
	atomic_ulong gen;          /* job generation: written under mu */
	atomic_llong state;        /* workers in this job | CLOSED */
	int sleepers;              /* workers asleep on go (under mu) */
	int caller_asleep;         /* the caller sleeps on done (under mu) */
	int quit;                  /* under mu */
	OnnxccTask task;           /* the job: written before gen moves */
	void *ctx;
	int64_t n;
	/* Thread t owns tasks [n t/T, n (t+1)/T) and claims them from the
	 * front in shrinking chunks; a thread done with its own range takes
	 * single tasks from the others' (any partition gives the same result:
	 * tasks write disjoint outputs, see onnxcc_model.h). */
	struct Range {
		_Alignas(64) atomic_llong next;
		int64_t end;
	} *range;
};

#define CLOSED (1LL << 62)

typedef struct Worker {
	OnnxccPool *p;
	int index;                 /* 1..nthreads-1 */
} Worker;

static void range_of(int64_t n, int t, int nt, int64_t *b, int64_t *e)
{
	*b = n * t / nt;
	*e = n * (t + 1) / nt;
}

/* Claims up to c tasks of range r: [*b, *e), false when none is left. */
static int claim(struct Range *r, int64_t c, int64_t *b, int64_t *e)
{
	if (atomic_load_explicit(&r->next, memory_order_relaxed) >= r->end)
		return 0;
	int64_t x = atomic_fetch_add_explicit(&r->next, c, memory_order_relaxed);
	if (x >= r->end)
		return 0;
	*b = x;
	*e = x + c < r->end ? x + c : r->end;
	return 1;
}

/* Thread t's share of the job: its own range in chunks of half of what is
 * left, then single tasks of the other ranges. */
static void run_share(OnnxccPool *p, int t)
{
	int T = p->nthreads;
	struct Range *own = &p->range[t];
	int64_t b, e;
	for (;;) {
		int64_t left = own->end - atomic_load_explicit(&own->next, memory_order_relaxed);
		if (!claim(own, left > 2 ? left / 2 : 1, &b, &e))
			break;
		p->task(p->ctx, b, e);
	}
	for (int k = 1; k < T; k++) {
		struct Range *r = &p->range[(t + k) % T];
		while (claim(r, 1, &b, &e))
			p->task(p->ctx, b, e);
	}
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__) || (defined(__arm__) && __ARM_ARCH >= 7)
	__asm__ volatile("yield");
#endif
}

/* Waits until gen differs from seen (then returns it) or quit is set
 * (then returns seen). */
static unsigned long wait_job(OnnxccPool *p, unsigned long seen)
{
	for (int i = 0; i < ONNXCC_POOL_SPIN; i++) {
		unsigned long g = atomic_load_explicit(&p->gen, memory_order_acquire);
		if (g != seen)
			return g;
		cpu_relax();
	}
	pthread_mutex_lock(&p->mu);
	p->sleepers++;
	while (!p->quit && atomic_load_explicit(&p->gen, memory_order_acquire) == seen)
		pthread_cond_wait(&p->go, &p->mu);
	p->sleepers--;
	unsigned long g = p->quit ? seen : atomic_load_explicit(&p->gen, memory_order_acquire);
	pthread_mutex_unlock(&p->mu);
	return g;
}

/* Joins the current job unless it is closed: the job's task, ranges and
 * counts were written before its state was reset to 0 (release). */
static int join(OnnxccPool *p)
{
	long long s = atomic_load_explicit(&p->state, memory_order_relaxed);
	do {
		if (s & CLOSED)
			return 0;
	} while (!atomic_compare_exchange_weak_explicit(&p->state, &s, s + 1, memory_order_acquire,
	                                                memory_order_relaxed));
	return 1;
}

static void *worker_main(void *arg)
{
	Worker *w = arg;
	OnnxccPool *p = w->p;
	unsigned long seen = 0;
	for (;;) {
		unsigned long g = wait_job(p, seen);
		if (g == seen)
			break; /* quit */
		seen = g;
		if (!join(p))
			continue;
		run_share(p, w->index);
		if (atomic_fetch_sub_explicit(&p->state, 1, memory_order_acq_rel) == (CLOSED | 1)) {
			pthread_mutex_lock(&p->mu);
			if (p->caller_asleep)
				pthread_cond_signal(&p->done);
			pthread_mutex_unlock(&p->mu);
		}
	}
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
	atomic_init(&p->gen, 0);
	atomic_init(&p->state, CLOSED);
	p->tid = calloc((size_t)nthreads, sizeof *p->tid);
	p->range = aligned_alloc(64, (size_t)nthreads * sizeof *p->range);
	if (!p->tid || !p->range) {
		free(p->tid);
		free(p->range);
		free(p);
		return NULL;
	}
	for (int t = 0; t < nthreads; t++) {
		atomic_init(&p->range[t].next, 0);
		p->range[t].end = 0;
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
	p->task = task;
	p->ctx = ctx;
	p->n = n;
	for (int t = 0; t < p->nthreads; t++) {
		int64_t b, e;
		range_of(n, t, p->nthreads, &b, &e);
		atomic_store_explicit(&p->range[t].next, b, memory_order_relaxed);
		p->range[t].end = e;
	}
	atomic_store_explicit(&p->state, 0, memory_order_release);
	pthread_mutex_lock(&p->mu);
	atomic_fetch_add_explicit(&p->gen, 1, memory_order_release);
	if (p->sleepers)
		pthread_cond_broadcast(&p->go);
	pthread_mutex_unlock(&p->mu);
	run_share(p, 0);
	/* Every task is claimed: close the job, wait for the workers in it. */
	atomic_fetch_or_explicit(&p->state, CLOSED, memory_order_acq_rel);
	for (int i = 0; i < ONNXCC_POOL_SPIN; i++) {
		if (atomic_load_explicit(&p->state, memory_order_acquire) == CLOSED)
			break;
		cpu_relax();
	}
	if (atomic_load_explicit(&p->state, memory_order_acquire) != CLOSED) {
		pthread_mutex_lock(&p->mu);
		p->caller_asleep = 1;
		while (atomic_load_explicit(&p->state, memory_order_acquire) != CLOSED)
			pthread_cond_wait(&p->done, &p->mu);
		p->caller_asleep = 0;
		pthread_mutex_unlock(&p->mu);
	}
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
	free(p->range);
	free(p);
}
