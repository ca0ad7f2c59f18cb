/* tests/unit/test_pool.c — runtime/onnxcc_pool.c: every task of a
 * parallel_for runs exactly once, whatever the pool size, the task count
 * and the claiming order (own range in halving chunks, then the others'
 * leftovers); ranges handed to a task are non-empty and inside [0, n);
 * launches back to back (threads still spinning) and after a pause longer
 * than the spin (threads asleep) both work; one parallel_for at a time
 * from several caller threads; a worker that arrives after the caller
 * has closed a job (it ran every task itself) never touches that job's
 * context, which the caller frees on return (ASan in CI would see it). */
#include "testutil.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/onnxcc_pool.h"

enum { MAXN = 1000 };

typedef struct Job {
	atomic_int hits[MAXN];
	atomic_int bad_range;
	int64_t n;
	int slow;          /* tasks of even index take a little longer */
} Job;

static void task(void *ctx, int64_t b, int64_t e)
{
	Job *j = ctx;
	if (b < 0 || e > j->n || b >= e) {
		atomic_fetch_add(&j->bad_range, 1);
		return;
	}
	for (int64_t i = b; i < e; i++) {
		atomic_fetch_add(&j->hits[i], 1);
		if (j->slow && i % 2 == 0)
			for (volatile int k = 0; k < 2000; k++)
				;
	}
}

static void run_check(OnnxccPool *p, int64_t n, int slow)
{
	static Job j;
	memset(&j, 0, sizeof j);
	j.n = n;
	j.slow = slow;
	onnxcc_pool_parallel_for(p, n, task, &j);
	assert_int_equal(atomic_load(&j.bad_range), 0);
	for (int64_t i = 0; i < n; i++)
		if (atomic_load(&j.hits[i]) != 1)
			fail_msg("n=%lld: task %lld ran %d times", (long long)n, (long long)i, atomic_load(&j.hits[i]));
}

static void test_every_task_once(void **state)
{
	(void)state;
	for (int T = 1; T <= 4; T++) {
		OnnxccPool *p = onnxcc_pool_create(T);
		assert_non_null(p);
		assert_int_equal(onnxcc_pool_threads(p), T);
		for (int64_t n = 0; n <= 70; n++)
			run_check(p, n, (int)(n % 3 == 0));
		run_check(p, MAXN, 1);
		onnxcc_pool_destroy(p);
	}
}

/* A launch after the workers have gone to sleep (a pause well beyond the
 * spin) must wake them; so must many launches in a row. */
static void test_sleep_and_spin(void **state)
{
	(void)state;
	OnnxccPool *p = onnxcc_pool_create(3);
	assert_non_null(p);
	for (int r = 0; r < 4; r++) {
		struct timespec ts = {0, 20 * 1000 * 1000};
		nanosleep(&ts, NULL);
		run_check(p, 64, 0);
		for (int k = 0; k < 200; k++)
			run_check(p, 1 + k % 40, k % 2);
	}
	onnxcc_pool_destroy(p);
}

/* Jobs of 2 tiny tasks back to back, each context freed as soon as the
 * call returns: the caller often claims both tasks before a worker wakes,
 * closes the job and returns without that worker. */
static void test_late_workers(void **state)
{
	(void)state;
	for (int T = 2; T <= 3; T++) {
		OnnxccPool *p = onnxcc_pool_create(T);
		assert_non_null(p);
		for (int r = 0; r < 3000; r++) {
			Job *j = calloc(1, sizeof *j);
			assert_non_null(j);
			j->n = 1 + r % 3;
			onnxcc_pool_parallel_for(p, j->n, task, j);
			for (int64_t i = 0; i < j->n; i++)
				assert_int_equal(atomic_load(&j->hits[i]), 1);
			assert_int_equal(atomic_load(&j->bad_range), 0);
			free(j);
		}
		onnxcc_pool_destroy(p);
	}
}

typedef struct Caller {
	OnnxccPool *p;
	int fails;
} Caller;

static void *caller_main(void *arg)
{
	Caller *c = arg;
	Job *j = calloc(1, sizeof *j);
	for (int r = 0; r < 100 && j; r++) {
		memset(j, 0, sizeof *j);
		j->n = 37;
		onnxcc_pool_parallel_for(c->p, j->n, task, j);
		for (int i = 0; i < j->n; i++)
			c->fails += atomic_load(&j->hits[i]) != 1;
		c->fails += atomic_load(&j->bad_range);
	}
	free(j);
	return NULL;
}

static void test_concurrent_callers(void **state)
{
	(void)state;
	OnnxccPool *p = onnxcc_pool_create(2);
	assert_non_null(p);
	pthread_t t[3];
	Caller c[3];
	for (int i = 0; i < 3; i++) {
		c[i] = (Caller){p, 0};
		assert_int_equal(pthread_create(&t[i], NULL, caller_main, &c[i]), 0);
	}
	for (int i = 0; i < 3; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(c[i].fails, 0);
	}
	onnxcc_pool_destroy(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_task_once),
		cmocka_unit_test(test_sleep_and_spin),
		cmocka_unit_test(test_concurrent_callers),
		cmocka_unit_test(test_late_workers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
