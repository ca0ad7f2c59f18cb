/* codegen/kernels/task.c — helper functions and tasks: how a kernel emits a
 * function of its own from inside a node's lowering, and how the node
 * function runs a task function serially or through the caller's
 * parallel-for (see kernels.h for the contracts).
 *
 * A task function is `void task(ptr ctx, i64 begin, i64 end)`: it computes
 * tasks [begin, end) of a split decided at compile time; ctx is an array of
 * base pointers (inputs, outputs, packed weights) the node function fills
 * on its stack.  The node function calls task(ctx, 0, n), or, when it was
 * given an OnnxccParallel (runtime/onnxcc_model.h), hands [0, n) to its
 * parallel_for, which may run any sub-ranges on any threads: tasks write
 * disjoint outputs, so the result does not depend on the partition.
 */
#include "kernels.h"

#include <assert.h>
#include <stdio.h>

void kern_fn_begin(Cg *cg, KFn *kf, LLVMValueRef fn)
{
	kf->b = cg->b;
	kf->fn = cg->fn;
	kf->alloca_bb = cg->alloca_bb;
	cg->b = LLVMCreateBuilderInContext(cg->ctx);
	cg->fn = fn;
	cg->alloca_bb = LLVMAppendBasicBlockInContext(cg->ctx, fn, "entry");
	kf->start = LLVMAppendBasicBlockInContext(cg->ctx, fn, "start");
	LLVMPositionBuilderAtEnd(cg->b, kf->start);
}

void kern_fn_end(Cg *cg, KFn *kf)
{
	LLVMBuildRetVoid(cg->b);
	LLVMPositionBuilderAtEnd(cg->b, cg->alloca_bb);
	LLVMBuildBr(cg->b, kf->start);
	LLVMDisposeBuilder(cg->b);
	cg->b = kf->b;
	cg->fn = kf->fn;
	cg->alloca_bb = kf->alloca_bb;
}

/* Runs task over [0, n): directly, or through the caller's parallel-for
 * when the node function has one (cg->par, an OnnxccParallel pointer that
 * may be NULL at run time). */
void kern_parallel(Cg *cg, LLVMValueRef task, LLVMValueRef ctx, int64_t n)
{
	LLVMTypeRef tty = LLVMGlobalGetValueType(task);
	LLVMValueRef args[4] = {ctx, cg_i64(cg, 0), cg_i64(cg, n)};
	if (!cg->par || n <= 1) {
		LLVMBuildCall2(cg->b, tty, task, args, 3, "");
		return;
	}
	CgIf serial;
	cg_if(cg, &serial, LLVMBuildIsNull(cg->b, cg->par, ""));
	LLVMBuildCall2(cg->b, tty, task, args, 3, "");
	cg_else(cg, &serial);
	/* OnnxccParallel { void (*parallel_for)(void *pool, int64_t n, task, void *ctx); void *pool; } */
	LLVMValueRef one = cg_i64(cg, 1);
	LLVMValueRef pf = LLVMBuildLoad2(cg->b, cg->t_ptr, cg->par, "");
	LLVMValueRef pool = LLVMBuildLoad2(cg->b, cg->t_ptr, LLVMBuildInBoundsGEP2(cg->b, cg->t_ptr, cg->par, &one, 1, ""), "");
	LLVMTypeRef pty[4] = {cg->t_ptr, cg->t_i64, cg->t_ptr, cg->t_ptr};
	LLVMTypeRef pfty = LLVMFunctionType(cg->t_void, pty, 4, 0);
	LLVMValueRef pargs[4] = {pool, cg_i64(cg, n), task, ctx};
	LLVMBuildCall2(cg->b, pfty, pf, pargs, 4, "");
	cg_if_end(cg, &serial);
}

LLVMValueRef kern_task_begin(Cg *cg, KFn *kf, const char *name, int n, LLVMValueRef *base)
{
	LLVMTypeRef params[3] = {cg->t_ptr, cg->t_i64, cg->t_i64};
	LLVMTypeRef fty = LLVMFunctionType(cg->t_void, params, 3, 0);
	char full[256];
	snprintf(full, sizeof full, "%s.node%d.%s", cg->prefix, (int)cg->node_id, name);
	LLVMValueRef fn = LLVMAddFunction(cg->mod, full, fty);
	LLVMSetLinkage(fn, LLVMInternalLinkage);
	kern_fn_attrs(cg, fn);
	kern_fn_begin(cg, kf, fn);
	LLVMValueRef ctx = LLVMGetParam(fn, 0);
	for (int i = 0; i < n; i++) {
		LLVMValueRef idx = cg_i64(cg, i);
		base[i] = LLVMBuildLoad2(cg->b, cg->t_ptr, LLVMBuildInBoundsGEP2(cg->b, cg->t_ptr, ctx, &idx, 1, ""), "");
	}
	return fn;
}

void kern_parallel_ptrs(Cg *cg, LLVMValueRef task, const LLVMValueRef *ptrs, int n, int64_t ntasks)
{
	LLVMValueRef ctx = cg_alloca(cg, LLVMArrayType2(cg->t_ptr, (uint64_t)n), "task_ctx");
	for (int i = 0; i < n; i++) {
		LLVMValueRef idx = cg_i64(cg, i);
		LLVMBuildStore(cg->b, ptrs[i] ? ptrs[i] : LLVMConstNull(cg->t_ptr),
		               LLVMBuildInBoundsGEP2(cg->b, cg->t_ptr, ctx, &idx, 1, ""));
	}
	kern_parallel(cg, task, ctx, ntasks);
}

/* ---- row-parallel node bodies ---------------------------------------------
 * Threshold (an estimate, checked only on whole models): a launch through
 * the runtime's pool costs about a microsecond while its threads spin
 * between parallel regions (runtime/onnxcc_pool.c; tens of us once they
 * sleep); an f32 elementwise pass streams a few elements per ns from L2,
 * so 16K element-passes take some 5-8 us, about where splitting starts to
 * pay on two threads.  Below that a node stays serial, in its node
 * function.  Tasks: up to 64, of about 4K element-passes or more each; a
 * pool hands each thread a contiguous range of tasks and lets early
 * finishers take the others' leftovers. */
#define KROWS_MIN_WORK (16 * 1024)
#define KROWS_TASK_WORK (4 * 1024)
#define KROWS_MAX_TASKS 64

int64_t kern_rows_tasks(const Cg *cg, int64_t rows, int64_t work)
{
	if (!cg->par || rows < 2 || work < KROWS_MIN_WORK)
		return 1;
	int64_t nt = work / KROWS_TASK_WORK;
	if (nt > KROWS_MAX_TASKS)
		nt = KROWS_MAX_TASKS;
	if (nt > rows)
		nt = rows;
	if (nt < 2)
		nt = 2;
	int64_t chunk = (rows + nt - 1) / nt;
	return (rows + chunk - 1) / chunk;
}

void kern_rows(Cg *cg, int64_t rows, int64_t work, KRowsFn body, void *arg)
{
	int64_t nt = kern_rows_tasks(cg, rows, work);
	if (nt <= 1) {
		body(cg, arg, cg_i64(cg, 0), cg_i64(cg, rows));
		return;
	}
	int64_t chunk = (rows + nt - 1) / nt;
	/* every operand of the node goes through the context; inside the task
	 * cg->buf points at the loaded copies, so the body's cg_load/cg_store
	 * work unchanged */
	const Node *n = cg->node;
	ValueId vals[64];   /* a node function has at most 64 operands (module.c) */
	LLVMValueRef ptrs[64], base[64];
	int k = 0;
	for (int i = 0; i < n->nin + n->nout; i++) {
		ValueId v = i < n->nin ? n->in[i] : n->out[i - n->nin];
		if (v == IR_NONE)
			continue;
		assert(k < 64);
		vals[k] = v, ptrs[k] = cg->buf[v], k++;
	}
	LLVMValueRef par = cg->par;
	KFn kf;
	LLVMValueRef task = kern_task_begin(cg, &kf, "rows_task", k, base);
	for (int i = 0; i < k; i++)
		cg->buf[vals[i]] = base[i];
	cg->par = NULL;
	LLVMValueRef r0 = LLVMBuildNSWMul(cg->b, LLVMGetParam(task, 1), cg_i64(cg, chunk), "");
	LLVMValueRef r1 = LLVMBuildNSWMul(cg->b, LLVMGetParam(task, 2), cg_i64(cg, chunk), "");
	LLVMValueRef big = LLVMBuildICmp(cg->b, LLVMIntSGT, r1, cg_i64(cg, rows), "");
	r1 = LLVMBuildSelect(cg->b, big, cg_i64(cg, rows), r1, "");
	body(cg, arg, r0, r1);
	kern_fn_end(cg, &kf);
	cg->par = par;
	for (int i = 0; i < k; i++)
		cg->buf[vals[i]] = ptrs[i];
	kern_parallel_ptrs(cg, task, ptrs, k, nt);
}
