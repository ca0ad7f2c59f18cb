/* runtime/onnxcc_pool.h — a small pthread pool that implements the
 * OnnxccParallel callback of runtime/onnxcc_model.h.
 *
 *   OnnxccPool *p = onnxcc_pool_create(4);        // 4 threads in all
 *   OnnxccParallel par = onnxcc_pool_parallel(p);
 *   model_run_parallel(in..., out..., ws, &par);
 *   onnxcc_pool_destroy(p);
 *
 * The calling thread works too: a pool of T threads starts T-1 workers.
 * parallel_for gives each thread a contiguous range of [0, n), which it
 * runs in shrinking chunks; a thread that finishes early takes single
 * tasks from the fronts of the others' ranges (a task's result does not
 * depend on which thread runs it).  Waiting threads spin briefly before
 * they sleep, so a launch costs about a microsecond.  One parallel_for at a
 * time per pool (calls from several threads at once are serialised).
 */
#ifndef ONNXCC_POOL_H
#define ONNXCC_POOL_H

#include "onnxcc_model.h"

typedef struct OnnxccPool OnnxccPool;

/* NULL on failure (errno set: EINVAL for nthreads < 1, else from pthreads
 * or malloc).  Worker threads get stacks of at least 4 MiB (the kernels'
 * packing buffers live on the stack). */
OnnxccPool *onnxcc_pool_create(int nthreads);
int onnxcc_pool_threads(const OnnxccPool *p);
OnnxccParallel onnxcc_pool_parallel(OnnxccPool *p);
void onnxcc_pool_parallel_for(void *pool, int64_t ntasks, OnnxccTask task, void *ctx);
void onnxcc_pool_destroy(OnnxccPool *p);

#endif
