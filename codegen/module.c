/* codegen/module.c — the LLVM module of a graph: constants, node functions,
 * the run functions and the descriptor (see module.h).
 *
 * Buffers: graph inputs and outputs are the caller's; constants are private
 * globals; every other value lives in the caller's workspace at the offset
 * the memory plan gave it.  A graph output that no node writes (it is an
 * input, a constant, or listed twice) is copied with memcpy at the end.
 */
#include "module.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lower.h"
#include "kernels/kernels.h"
#include "node_table.h"
#include "weights.h"

void cg_init_types(Cg *cg)
{
	cg->t_void = LLVMVoidTypeInContext(cg->ctx);
	cg->t_i1 = LLVMInt1TypeInContext(cg->ctx);
	cg->t_i8 = LLVMInt8TypeInContext(cg->ctx);
	cg->t_i16 = LLVMInt16TypeInContext(cg->ctx);
	cg->t_i32 = LLVMInt32TypeInContext(cg->ctx);
	cg->t_i64 = LLVMInt64TypeInContext(cg->ctx);
	cg->t_f16 = LLVMHalfTypeInContext(cg->ctx);
	cg->t_bf16 = LLVMBFloatTypeInContext(cg->ctx);
	cg->t_f32 = LLVMFloatTypeInContext(cg->ctx);
	cg->t_f64 = LLVMDoubleTypeInContext(cg->ctx);
	cg->t_ptr = LLVMPointerTypeInContext(cg->ctx, 0);
}

static void add_fn_attr(Cg *cg, LLVMValueRef fn, unsigned idx, const char *name)
{
	unsigned kind = LLVMGetEnumAttributeKindForName(name, strlen(name));
	LLVMAddAttributeAtIndex(fn, idx, LLVMCreateEnumAttribute(cg->ctx, kind, 0));
}

/* Private, 64-byte-aligned global holding a constant's bytes.  Constants
 * that share their data (an initializer reached through Identity, Reshape
 * or Unsqueeze aliases keeps one buffer) share one global, so a weight is
 * stored once however many values name it. */
static LLVMValueRef const_global(Cg *cg, ValueId v)
{
	if (cg->globals[v])
		return cg->globals[v];
	Value *val = gval(cg->g, v);
	for (ValueId w = 0; w < cg->g->nvalues; w++) {
		Value *o = gval(cg->g, w);
		if (w != v && cg->globals[w] && o->data == val->data && o->nbytes == val->nbytes && val->data)
			return cg->globals[v] = cg->globals[w];
	}
	return cg->globals[v] = cg_data_global(cg, "weight", val->nbytes, val->data, NULL, NULL, 0);
}

/* See cg.h. */
LLVMValueRef cg_data_global(Cg *cg, const char *name, size_t n, const void *data, CgFillFn fill,
                            const void *arg, size_t arg_size)
{
	assert(n <= UINT32_MAX); /* checked in cg_build_module */
	LLVMValueRef gv;
	if (cg->weights && n >= cg->weights->min_bytes && n > 0) {
		LLVMTypeRef at = LLVMArrayType2(cg->t_i8, n);
		gv = LLVMAddGlobal(cg->mod, at, name);
		LLVMSetInitializer(gv, LLVMConstNull(at));
		LLVMSetExternallyInitialized(gv, 1);
		int k = cg_weights_add(cg->weights, n, data, fill, arg, arg_size);
		char sec[64];
		snprintf(sec, sizeof sec, ".rodata.onnxcc_w%d", k);
		LLVMSetSection(gv, sec);
	} else {
		void *buf = NULL;
		if (fill) {
			buf = xmalloc(n ? n : 1);
			fill(buf, n, arg);
			data = buf;
		}
		LLVMValueRef init = LLVMConstStringInContext(cg->ctx, data ? data : "", (unsigned)n, 1);
		free(buf);
		gv = LLVMAddGlobal(cg->mod, LLVMTypeOf(init), name);
		LLVMSetInitializer(gv, init);
		LLVMSetUnnamedAddr(gv, 1);
	}
	LLVMSetGlobalConstant(gv, 1);
	LLVMSetLinkage(gv, LLVMPrivateLinkage);
	LLVMSetAlignment(gv, 64);
	return gv;
}

/* Emits node `nid` as an internal function for cg->isa (its name ends in
 * suffix); returns it (NULL on failure). */
static LLVMValueRef emit_node_fn(Cg *cg, NodeId nid, const char *suffix)
{
	const Node *n = &cg->g->nodes[nid];
	LLVMTypeRef params[64];
	int np = 0;
	for (int i = 0; i < n->nin; i++)
		if (n->in[i] != IR_NONE)
			params[np++] = cg->t_ptr;
	for (int i = 0; i < n->nout; i++)
		if (n->out[i] != IR_NONE)
			params[np++] = cg->t_ptr;
	params[np++] = cg->t_ptr; /* const OnnxccParallel *par (NULL: serial) */
	if (np > 64) {
		cg->node = n;
		cg_unsupported(cg, -1, "more than 64 operands");
		return NULL;
	}
	LLVMTypeRef fty = LLVMFunctionType(cg->t_i32, params, (unsigned)np, 0);
	char name[256];
	snprintf(name, sizeof name, "%s.node%d.%s%s", cg->prefix, (int)nid, n->op_type, suffix);
	LLVMValueRef fn = LLVMAddFunction(cg->mod, name, fty);
	LLVMSetLinkage(fn, LLVMInternalLinkage);
	add_fn_attr(cg, fn, LLVMAttributeFunctionIndex, "nounwind");
	/* One function per node stays one function: inlining every node into
	 * the run function made LLVM optimise one huge function (compile time
	 * superlinear in the model) for no run-time gain — a call per node is
	 * nothing next to the node's loops. */
	add_fn_attr(cg, fn, LLVMAttributeFunctionIndex, "noinline");
	int p = 0;
	for (int i = 0; i < n->nin; i++)
		if (n->in[i] != IR_NONE) {
			cg->buf[n->in[i]] = LLVMGetParam(fn, (unsigned)p);
			add_fn_attr(cg, fn, (unsigned)p + 1, "nocapture");
			p++;
		}
	for (int i = 0; i < n->nout; i++)
		if (n->out[i] != IR_NONE) {
			cg->buf[n->out[i]] = LLVMGetParam(fn, (unsigned)p);
			/* an ElemChain may write in place of an input (memplan.h) */
			if (n->op != OP_ElemChain)
				add_fn_attr(cg, fn, (unsigned)p + 1, "noalias");
			add_fn_attr(cg, fn, (unsigned)p + 1, "nocapture");
			p++;
		}
	cg->par = LLVMGetParam(fn, (unsigned)p);
	cg->node = n;
	cg->node_id = nid;
	cg->fn = fn;
	cg->alloca_bb = LLVMAppendBasicBlockInContext(cg->ctx, fn, "entry");
	LLVMBasicBlockRef body = LLVMAppendBasicBlockInContext(cg->ctx, fn, "start");
	LLVMPositionBuilderAtEnd(cg->b, body);
	cg->node_can_fail = false;
	cg->loop_depth = 0;   /* a failed lowering may have left loops open */
	bool ok = cg_lower_node(cg, n);
	if (ok)
		LLVMBuildRet(cg->b, cg_i32(cg, CG_STATUS_OK));
	LLVMPositionBuilderAtEnd(cg->b, cg->alloca_bb);
	LLVMBuildBr(cg->b, body);
	for (int i = 0; i < n->nin; i++)
		if (n->in[i] != IR_NONE)
			cg->buf[n->in[i]] = NULL;
	for (int i = 0; i < n->nout; i++)
		if (n->out[i] != IR_NONE)
			cg->buf[n->out[i]] = NULL;
	cg->node = NULL;
	cg->par = NULL;
	if (!ok) {
		LLVMDeleteFunction(fn);
		return NULL;
	}
	return fn;
}

/* Emits node `nid`; returns the function the run function calls (NULL on
 * failure).  In a module with variants (cg->nvariants), a node whose
 * baseline lowering computes on vectors is lowered again for each variant
 * ISA, and a dispatcher choosing among them at run time is returned (see
 * codegen/kernels/dispatch.c); other nodes have one version.  The
 * functions of a node that computes on vectors are optimised for size
 * (kern_size_attrs): they are vectorised by construction. */
static LLVMValueRef emit_node(Cg *cg, NodeId nid)
{
	LLVMValueRef mark = LLVMGetLastFunction(cg->mod);
	LLVMValueRef base = emit_node_fn(cg, nid, "");
	if (!base || !kern_fns_use_vectors(cg, mark))
		return base;
	kern_size_attrs(cg, mark);
	if (!cg->nvariants)
		return base;
	CgIsa isa0 = cg->isa;
	LLVMValueRef vfns[CG_MAX_VARIANTS];
	for (int k = 0; k < cg->nvariants; k++) {
		cg->isa = cg->variants[k];
		char suffix[32];
		snprintf(suffix, sizeof suffix, ".%s", cg->isa.name);
		LLVMValueRef vmark = LLVMGetLastFunction(cg->mod);
		vfns[k] = emit_node_fn(cg, nid, suffix);
		if (vfns[k]) {
			kern_isa_attrs(cg, vmark);
			kern_size_attrs(cg, vmark);
		}
		cg->isa = isa0;
		if (!vfns[k])
			return NULL;
	}
	return kern_dispatch(cg, base, vfns, cg->variants, cg->nvariants);
}

static uint64_t value_bytes(const Value *v)
{
	return (uint64_t)shape_numel(&v->shape) * dtype_size(v->dtype);
}

/* The pointer each value has inside the run function. */
static LLVMValueRef run_ptr(Cg *cg, LLVMValueRef *vptr, const MemPlan *plan, LLVMValueRef ws, ValueId v)
{
	if (vptr[v])
		return vptr[v];
	if (plan->view_of[v] != IR_NONE)
		return vptr[v] = run_ptr(cg, vptr, plan, ws, plan->view_of[v]);
	Value *val = gval(cg->g, v);
	if (val->kind == VK_CONST)
		return vptr[v] = const_global(cg, v);
	if (plan->offset[v] < 0) {
		IR_UNREACHABLE("value without a buffer: not an input, output, constant or planned");
	}
	LLVMValueRef off = cg_i64(cg, plan->offset[v]);
	return vptr[v] = LLVMBuildInBoundsGEP2(cg->b, cg->t_i8, ws, &off, 1, "");
}

/* void <prefix>.node_hook(ptr hook, i32 node, i32 event): calls
 * hook->call(hook->ctx, node, event) (OnnxccNodeHook) unless hook or
 * hook->call is NULL. */
static LLVMValueRef emit_node_hook(Cg *cg)
{
	LLVMTypeRef params[3] = {cg->t_ptr, cg->t_i32, cg->t_i32};
	LLVMTypeRef fty = LLVMFunctionType(cg->t_void, params, 3, 0);
	char name[300];
	snprintf(name, sizeof name, "%s.node_hook", cg->prefix);
	LLVMValueRef fn = LLVMAddFunction(cg->mod, name, fty);
	LLVMSetLinkage(fn, LLVMInternalLinkage);
	add_fn_attr(cg, fn, LLVMAttributeFunctionIndex, "nounwind");
	/* one call per report: inlined, its null checks let LLVM duplicate
	 * node calls into both branches (a schedule no longer one call per
	 * node, for a nanosecond) */
	add_fn_attr(cg, fn, LLVMAttributeFunctionIndex, "noinline");
	LLVMBasicBlockRef entry = LLVMAppendBasicBlockInContext(cg->ctx, fn, "entry");
	LLVMBasicBlockRef has_hook = LLVMAppendBasicBlockInContext(cg->ctx, fn, "has_hook");
	LLVMBasicBlockRef call = LLVMAppendBasicBlockInContext(cg->ctx, fn, "call");
	LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(cg->ctx, fn, "done");
	LLVMTypeRef hook_t = LLVMStructTypeInContext(cg->ctx, (LLVMTypeRef[]){cg->t_ptr, cg->t_ptr}, 2, 0);
	LLVMValueRef hook = LLVMGetParam(fn, 0);
	LLVMPositionBuilderAtEnd(cg->b, entry);
	LLVMBuildCondBr(cg->b, LLVMBuildIsNull(cg->b, hook, ""), done, has_hook);
	LLVMPositionBuilderAtEnd(cg->b, has_hook);
	LLVMValueRef fp = LLVMBuildLoad2(cg->b, cg->t_ptr, LLVMBuildStructGEP2(cg->b, hook_t, hook, 0, ""), "");
	LLVMBuildCondBr(cg->b, LLVMBuildIsNull(cg->b, fp, ""), done, call);
	LLVMPositionBuilderAtEnd(cg->b, call);
	LLVMValueRef ctx = LLVMBuildLoad2(cg->b, cg->t_ptr, LLVMBuildStructGEP2(cg->b, hook_t, hook, 1, ""), "");
	LLVMTypeRef cparams[3] = {cg->t_ptr, cg->t_i32, cg->t_i32};
	LLVMValueRef args[3] = {ctx, LLVMGetParam(fn, 1), LLVMGetParam(fn, 2)};
	LLVMBuildCall2(cg->b, LLVMFunctionType(cg->t_void, cparams, 3, 0), fp, args, 3, "");
	LLVMBuildBr(cg->b, done);
	LLVMPositionBuilderAtEnd(cg->b, done);
	LLVMBuildRetVoid(cg->b);
	return fn;
}

/* int <prefix>_run_parallel(ptr in..., ptr out..., ptr ws, ptr par), or
 * with hook_fn (--profile-nodes) int <prefix>_run_profiled(ptr in...,
 * ptr out..., ptr ws, ptr par, ptr hook), which calls
 * hook_fn(hook, i, ONNXCC_NODE_BEGIN / END) around node i of the schedule.
 * After a node that can fail (can_fail[k]: run-time index checks), a
 * non-zero status is returned at once (after its END). */
static LLVMValueRef emit_run(Cg *cg, const MemPlan *plan, LLVMValueRef *node_fns, const bool *can_fail,
                             LLVMValueRef hook_fn)
{
	Graph *g = cg->g;
	int np = g->ninputs + g->noutputs + 1;
	int nparams = np + 1 + (hook_fn != NULL);
	LLVMTypeRef *params = xcalloc((size_t)nparams, sizeof *params);
	for (int i = 0; i < nparams; i++)
		params[i] = cg->t_ptr;
	LLVMTypeRef fty = LLVMFunctionType(cg->t_i32, params, (unsigned)nparams, 0);
	free(params);
	char name[300];
	snprintf(name, sizeof name, "%s_run_%s", cg->prefix, hook_fn ? "profiled" : "parallel");
	LLVMValueRef fn = LLVMAddFunction(cg->mod, name, fty);
	add_fn_attr(cg, fn, LLVMAttributeFunctionIndex, "nounwind");
	cg->fn = fn;
	LLVMBasicBlockRef entry = LLVMAppendBasicBlockInContext(cg->ctx, fn, "entry");
	LLVMBasicBlockRef bad = LLVMAppendBasicBlockInContext(cg->ctx, fn, "null_arg");
	LLVMBasicBlockRef badalign = LLVMAppendBasicBlockInContext(cg->ctx, fn, "bad_align");
	LLVMBasicBlockRef go = LLVMAppendBasicBlockInContext(cg->ctx, fn, "run");
	LLVMPositionBuilderAtEnd(cg->b, entry);

	LLVMValueRef *vptr = xcalloc((size_t)g->nvalues, sizeof *vptr);
	LLVMValueRef ws = LLVMGetParam(fn, (unsigned)(np - 1));
	/* Status checks: every buffer non-NULL (the workspace only when the
	 * plan needs one) and the workspace 16-byte aligned. */
	LLVMValueRef anynull = LLVMConstInt(cg->t_i1, 0, 0);
	for (int i = 0; i < np; i++) {
		if (i == np - 1 && plan->size == 0)
			break;
		LLVMValueRef isnull = LLVMBuildIsNull(cg->b, LLVMGetParam(fn, (unsigned)i), "");
		anynull = LLVMBuildOr(cg->b, anynull, isnull, "");
	}
	LLVMBasicBlockRef chk2 = LLVMAppendBasicBlockInContext(cg->ctx, fn, "check_align");
	LLVMBuildCondBr(cg->b, anynull, bad, chk2);
	LLVMPositionBuilderAtEnd(cg->b, chk2);
	LLVMValueRef wsint = LLVMBuildPtrToInt(cg->b, ws, cg->t_i64, "");
	LLVMValueRef mis = LLVMBuildICmp(cg->b, LLVMIntNE,
	                                 LLVMBuildAnd(cg->b, wsint, cg_i64(cg, 15), ""), cg_i64(cg, 0), "");
	if (plan->size == 0)
		mis = LLVMConstInt(cg->t_i1, 0, 0);
	LLVMBuildCondBr(cg->b, mis, badalign, go);
	LLVMPositionBuilderAtEnd(cg->b, bad);
	LLVMBuildRet(cg->b, cg_i32(cg, CG_STATUS_NULL));
	LLVMPositionBuilderAtEnd(cg->b, badalign);
	LLVMBuildRet(cg->b, cg_i32(cg, CG_STATUS_ALIGN));

	LLVMPositionBuilderAtEnd(cg->b, go);
	for (int i = 0; i < g->ninputs; i++)
		vptr[g->inputs[i]] = LLVMGetParam(fn, (unsigned)i);
	/* Outputs: the first listing of a node-produced value writes straight
	 * into the caller's buffer. */
	bool *copy_out = xcalloc((size_t)g->noutputs + 1, sizeof *copy_out);
	for (int i = 0; i < g->noutputs; i++) {
		ValueId v = g->outputs[i];
		Value *val = gval(g, v);
		if (val->kind == VK_INTERMEDIATE && !vptr[v] && val->producer != IR_NONE)
			vptr[v] = LLVMGetParam(fn, (unsigned)(g->ninputs + i));
		else
			copy_out[i] = true;
	}
	int32_t index = 0;   /* in the schedule */
	LLVMTypeRef hook_t = hook_fn ? LLVMGlobalGetValueType(hook_fn) : NULL;
	for (NodeId k = 0; k < g->nnodes; k++) {
		const Node *n = &g->nodes[k];
		if (n->dead || !node_fns[k])
			continue; /* dead, or a view (no code) */
		LLVMValueRef hargs[3] = {hook_fn ? LLVMGetParam(fn, (unsigned)np + 1) : NULL, cg_i32(cg, index),
		                         cg_i32(cg, 0)};
		if (hook_fn)
			LLVMBuildCall2(cg->b, hook_t, hook_fn, hargs, 3, "");
		LLVMValueRef args[64];
		int na = 0;
		for (int i = 0; i < n->nin; i++)
			if (n->in[i] != IR_NONE)
				args[na++] = run_ptr(cg, vptr, plan, ws, n->in[i]);
		for (int i = 0; i < n->nout; i++)
			if (n->out[i] != IR_NONE)
				args[na++] = run_ptr(cg, vptr, plan, ws, n->out[i]);
		args[na++] = LLVMGetParam(fn, (unsigned)np);
		LLVMValueRef st = LLVMBuildCall2(cg->b, LLVMGlobalGetValueType(node_fns[k]), node_fns[k],
		                                 args, (unsigned)na, "");
		if (hook_fn) {
			hargs[2] = cg_i32(cg, 1);
			LLVMBuildCall2(cg->b, hook_t, hook_fn, hargs, 3, "");
			index++;
		}
		if (can_fail[k]) {
			LLVMBasicBlockRef fail = LLVMAppendBasicBlockInContext(cg->ctx, fn, "node_failed");
			LLVMBasicBlockRef next = LLVMAppendBasicBlockInContext(cg->ctx, fn, "next");
			LLVMBuildCondBr(cg->b, LLVMBuildICmp(cg->b, LLVMIntNE, st, cg_i32(cg, CG_STATUS_OK), ""),
			                fail, next);
			LLVMPositionBuilderAtEnd(cg->b, fail);
			LLVMBuildRet(cg->b, st);
			LLVMPositionBuilderAtEnd(cg->b, next);
		}
	}
	for (int i = 0; i < g->noutputs; i++) {
		if (!copy_out[i])
			continue;
		ValueId v = g->outputs[i];
		LLVMValueRef src = run_ptr(cg, vptr, plan, ws, v);
		LLVMValueRef dst = LLVMGetParam(fn, (unsigned)(g->ninputs + i));
		if (src != dst)
			cg_memcpy(cg, dst, src, (int64_t)value_bytes(gval(g, v)));
	}
	LLVMBuildRet(cg->b, cg_i32(cg, 0));
	free(copy_out);
	free(vptr);
	return fn;
}

/* int <prefix>_run(ptr in..., ptr out..., ptr ws): the run function
 * runp with no parallel-for (and no hook when runp has one: hook); with
 * with_par, int <prefix>_run_parallel(ptr in..., ptr out..., ptr ws, ptr par)
 * calling runp = <prefix>_run_profiled with no hook. */
static LLVMValueRef emit_run_serial(Cg *cg, LLVMValueRef runp, bool with_par, bool hook)
{
	Graph *g = cg->g;
	int np = g->ninputs + g->noutputs + 1 + with_par;
	LLVMTypeRef *params = xcalloc((size_t)np, sizeof *params);
	for (int i = 0; i < np; i++)
		params[i] = cg->t_ptr;
	LLVMTypeRef fty = LLVMFunctionType(cg->t_i32, params, (unsigned)np, 0);
	free(params);
	char name[300];
	snprintf(name, sizeof name, "%s_run%s", cg->prefix, with_par ? "_parallel" : "");
	LLVMValueRef fn = LLVMAddFunction(cg->mod, name, fty);
	add_fn_attr(cg, fn, LLVMAttributeFunctionIndex, "nounwind");
	LLVMPositionBuilderAtEnd(cg->b, LLVMAppendBasicBlockInContext(cg->ctx, fn, "entry"));
	int na = g->ninputs + g->noutputs + 2 + hook;
	LLVMValueRef *args = xcalloc((size_t)na, sizeof *args);
	for (int i = 0; i < np; i++)
		args[i] = LLVMGetParam(fn, (unsigned)i);
	for (int i = np; i < na; i++)
		args[i] = LLVMConstNull(cg->t_ptr);
	LLVMBuildRet(cg->b, LLVMBuildCall2(cg->b, LLVMGlobalGetValueType(runp), runp, args, (unsigned)na, ""));
	free(args);
	return fn;
}

/* int <prefix>_run_v(const void *const *in, void *const *out, void *ws)
 * and, with_par, int <prefix>_run_parallel_v(..., const OnnxccParallel *par)
 * and, with_hook, int <prefix>_run_profiled_v(..., par, const OnnxccNodeHook
 * *hook), calling runp (which takes a hook when hook). */
static LLVMValueRef emit_run_v(Cg *cg, LLVMValueRef runp, bool with_par, bool with_hook, bool hook)
{
	Graph *g = cg->g;
	LLVMTypeRef params[5] = {cg->t_ptr, cg->t_ptr, cg->t_ptr, cg->t_ptr, cg->t_ptr};
	LLVMTypeRef fty = LLVMFunctionType(cg->t_i32, params, 3u + with_par + with_hook, 0);
	char name[300];
	snprintf(name, sizeof name, "%s_run%s_v", cg->prefix,
	         with_hook ? "_profiled" : with_par ? "_parallel" : "");
	LLVMValueRef fn = LLVMAddFunction(cg->mod, name, fty);
	add_fn_attr(cg, fn, LLVMAttributeFunctionIndex, "nounwind");
	LLVMBasicBlockRef entry = LLVMAppendBasicBlockInContext(cg->ctx, fn, "entry");
	LLVMBasicBlockRef bad = LLVMAppendBasicBlockInContext(cg->ctx, fn, "null_arg");
	LLVMBasicBlockRef go = LLVMAppendBasicBlockInContext(cg->ctx, fn, "go");
	LLVMPositionBuilderAtEnd(cg->b, entry);
	LLVMValueRef in = LLVMGetParam(fn, 0), out = LLVMGetParam(fn, 1);
	LLVMValueRef nul = LLVMConstInt(cg->t_i1, 0, 0);
	if (g->ninputs)
		nul = LLVMBuildOr(cg->b, nul, LLVMBuildIsNull(cg->b, in, ""), "");
	if (g->noutputs)
		nul = LLVMBuildOr(cg->b, nul, LLVMBuildIsNull(cg->b, out, ""), "");
	LLVMBuildCondBr(cg->b, nul, bad, go);
	LLVMPositionBuilderAtEnd(cg->b, bad);
	LLVMBuildRet(cg->b, cg_i32(cg, 1));
	LLVMPositionBuilderAtEnd(cg->b, go);
	int na = g->ninputs + g->noutputs + 2 + hook;
	LLVMValueRef *args = xcalloc((size_t)na, sizeof *args);
	for (int i = 0; i < g->ninputs; i++) {
		LLVMValueRef idx = cg_i64(cg, i);
		LLVMValueRef p = LLVMBuildInBoundsGEP2(cg->b, cg->t_ptr, in, &idx, 1, "");
		args[i] = LLVMBuildLoad2(cg->b, cg->t_ptr, p, "");
	}
	for (int i = 0; i < g->noutputs; i++) {
		LLVMValueRef idx = cg_i64(cg, i);
		LLVMValueRef p = LLVMBuildInBoundsGEP2(cg->b, cg->t_ptr, out, &idx, 1, "");
		args[g->ninputs + i] = LLVMBuildLoad2(cg->b, cg->t_ptr, p, "");
	}
	int at = g->ninputs + g->noutputs;
	args[at] = LLVMGetParam(fn, 2);
	args[at + 1] = with_par ? LLVMGetParam(fn, 3) : LLVMConstNull(cg->t_ptr);
	if (hook)
		args[at + 2] = with_hook ? LLVMGetParam(fn, 4) : LLVMConstNull(cg->t_ptr);
	LLVMValueRef r = LLVMBuildCall2(cg->b, LLVMGlobalGetValueType(runp), runp, args, (unsigned)na, "");
	LLVMBuildRet(cg->b, r);
	free(args);
	return fn;
}

static LLVMValueRef cstring(Cg *cg, const char *s)
{
	LLVMValueRef init = LLVMConstStringInContext(cg->ctx, s, (unsigned)strlen(s), 0);
	LLVMValueRef gv = LLVMAddGlobal(cg->mod, LLVMTypeOf(init), "str");
	LLVMSetInitializer(gv, init);
	LLVMSetGlobalConstant(gv, 1);
	LLVMSetLinkage(gv, LLVMPrivateLinkage);
	LLVMSetUnnamedAddr(gv, 1);
	return gv;
}

/* Array of OnnxccTensorInfo {ptr name, i32 dtype, i32 rank, ptr shape, i64 nbytes}. */
static LLVMValueRef tensor_infos(Cg *cg, const ValueId *ids, int n, LLVMTypeRef info_t)
{
	if (n == 0)
		return LLVMConstNull(cg->t_ptr);
	LLVMValueRef *elems = xcalloc((size_t)n, sizeof *elems);
	for (int i = 0; i < n; i++) {
		Value *v = gval(cg->g, ids[i]);
		LLVMValueRef dims[IR_MAX_RANK + 1];
		for (int k = 0; k < v->shape.rank; k++)
			dims[k] = cg_i64(cg, v->shape.dims[k]);
		LLVMValueRef shape_init = LLVMConstArray2(cg->t_i64, dims, (uint64_t)v->shape.rank);
		LLVMValueRef shape = LLVMAddGlobal(cg->mod, LLVMTypeOf(shape_init), "shape");
		LLVMSetInitializer(shape, shape_init);
		LLVMSetGlobalConstant(shape, 1);
		LLVMSetLinkage(shape, LLVMPrivateLinkage);
		LLVMValueRef f[5] = {
			cstring(cg, v->name), cg_i32(cg, (int32_t)v->dtype), cg_i32(cg, v->shape.rank),
			shape, cg_i64(cg, (int64_t)value_bytes(v)),
		};
		elems[i] = LLVMConstNamedStruct(info_t, f, 5);
	}
	LLVMValueRef arr_init = LLVMConstArray2(info_t, elems, (uint64_t)n);
	free(elems);
	LLVMValueRef arr = LLVMAddGlobal(cg->mod, LLVMTypeOf(arr_init), "tensors");
	LLVMSetInitializer(arr, arr_init);
	LLVMSetGlobalConstant(arr, 1);
	LLVMSetLinkage(arr, LLVMPrivateLinkage);
	return arr;
}

/* The node table: OnnxccNodeInfo {ptr name, ptr op_type, i64 flops} of
 * each node of the schedule, in order; *count gets their number. */
static LLVMValueRef node_infos(Cg *cg, const LLVMValueRef *node_fns, int *count)
{
	Graph *g = cg->g;
	LLVMTypeRef info_t = LLVMStructCreateNamed(cg->ctx, "OnnxccNodeInfo");
	LLVMTypeRef info_f[3] = {cg->t_ptr, cg->t_ptr, cg->t_i64};
	LLVMStructSetBody(info_t, info_f, 3, 0);
	LLVMValueRef *elems = xcalloc((size_t)g->nnodes + 1, sizeof *elems);
	int n = 0;
	for (NodeId k = 0; k < g->nnodes; k++) {
		const Node *nd = &g->nodes[k];
		if (nd->dead || !node_fns[k])
			continue; /* as emit_run */
		char type[300];
		cg_node_op_type(nd, type, sizeof type);
		LLVMValueRef f[3] = {cstring(cg, nd->name ? nd->name : ""), cstring(cg, type),
		                     cg_i64(cg, (int64_t)cg_node_flops(g, nd))};
		elems[n++] = LLVMConstNamedStruct(info_t, f, 3);
	}
	*count = n;
	LLVMValueRef arr_init = LLVMConstArray2(info_t, elems, (uint64_t)n);
	free(elems);
	if (n == 0)
		return LLVMConstNull(cg->t_ptr);
	LLVMValueRef arr = LLVMAddGlobal(cg->mod, LLVMTypeOf(arr_init), "nodes");
	LLVMSetInitializer(arr, arr_init);
	LLVMSetGlobalConstant(arr, 1);
	LLVMSetLinkage(arr, LLVMPrivateLinkage);
	return arr;
}

/* The descriptor: layout of OnnxccModel in runtime/onnxcc_model.h, version
 * 2, or with runprof_v (--profile-nodes) version 3 with the node table. */
static void emit_descriptor(Cg *cg, const MemPlan *plan, LLVMValueRef run_v, LLVMValueRef runp_v,
                            LLVMValueRef runprof_v, const LLVMValueRef *node_fns, bool alias)
{
	Graph *g = cg->g;
	LLVMTypeRef info_t = LLVMStructCreateNamed(cg->ctx, "OnnxccTensorInfo");
	LLVMTypeRef info_f[5] = {cg->t_ptr, cg->t_i32, cg->t_i32, cg->t_ptr, cg->t_i64};
	LLVMStructSetBody(info_t, info_f, 5, 0);
	LLVMTypeRef model_t = LLVMStructCreateNamed(cg->ctx, "OnnxccModel");
	LLVMTypeRef model_f[14] = {cg->t_i32, cg->t_i32, cg->t_i32, cg->t_i32, cg->t_ptr,
	                           cg->t_ptr, cg->t_i64, cg->t_ptr, cg->t_ptr, cg->t_ptr,
	                           cg->t_i32, cg->t_i32, cg->t_ptr, cg->t_ptr};
	unsigned nf = runprof_v ? 14 : 10;
	LLVMStructSetBody(model_t, model_f, nf, 0);
	LLVMValueRef f[14] = {
		cg_i32(cg, runprof_v ? 3 : 2), cg_i32(cg, g->ninputs), cg_i32(cg, g->noutputs), cg_i32(cg, 0),
		tensor_infos(cg, g->inputs, g->ninputs, info_t),
		tensor_infos(cg, g->outputs, g->noutputs, info_t),
		cg_i64(cg, (int64_t)plan->size), cstring(cg, cg->prefix), run_v, runp_v,
	};
	if (runprof_v) {
		int n;
		f[12] = node_infos(cg, node_fns, &n);
		f[10] = cg_i32(cg, n);
		f[11] = cg_i32(cg, 0);
		f[13] = runprof_v;
	}
	char name[300];
	snprintf(name, sizeof name, "%s_model", cg->prefix);
	LLVMValueRef desc = LLVMAddGlobal(cg->mod, model_t, name);
	LLVMSetInitializer(desc, LLVMConstNamedStruct(model_t, f, nf));
	LLVMSetGlobalConstant(desc, 1);
	if (alias)
		LLVMAddAlias2(cg->mod, model_t, 0, desc, "onnxcc_model");
}

bool cg_build_module(Cg *cg, Graph *g, const MemPlan *plan, const CgModuleOptions *o, Diag *d)
{
	memset(cg, 0, sizeof *cg);
	cg->g = g;
	cg->d = d;
	cg->prefix = o->prefix;
	cg->weights = o->weights;
	cg->isa = o->isa.vlen ? o->isa : (CgIsa){4, 16, false, "sse", NULL, 0};
	cg->nvariants = o->nvariants < CG_MAX_VARIANTS ? o->nvariants : CG_MAX_VARIANTS;
	for (int k = 0; k < cg->nvariants; k++) {
		cg->variants[k] = o->variants[k];
		if (o->variants[k].vlen > cg->pack_vlen)
			cg->pack_vlen = o->variants[k].vlen;
	}
	if (cg->nvariants)
		cg->isa.level = 1;
	cg->ctx = LLVMContextCreate();
	cg->mod = LLVMModuleCreateWithNameInContext(o->prefix, cg->ctx);
	cg->b = LLVMCreateBuilderInContext(cg->ctx);
	cg_init_types(cg);
	if (o->triple)
		LLVMSetTarget(cg->mod, o->triple);
	if (o->layout) {
		char *dl = LLVMCopyStringRepOfTargetData(o->layout);
		LLVMSetDataLayout(cg->mod, dl);
		LLVMDisposeMessage(dl);
		cg->td = o->layout;
	}
	cg->buf = xcalloc((size_t)g->nvalues, sizeof *cg->buf);
	cg->globals = xcalloc((size_t)g->nvalues, sizeof *cg->globals);
	cg->index_clamp = o->index_clamp;
	LLVMValueRef *node_fns = xcalloc((size_t)g->nnodes + 1, sizeof *node_fns);
	bool *can_fail = xcalloc((size_t)g->nnodes + 1, sizeof *can_fail);
	bool ok = true;
	for (ValueId v = 0; v < g->nvalues; v++)
		if (gval(g, v)->kind == VK_CONST && gval(g, v)->nbytes > UINT32_MAX && graph_use_count(g, v)) {
			diag_error(d, "constant '%s' is larger than 4 GiB: not supported in one object",
			           gval(g, v)->name);
			ok = false;
		}
	for (NodeId k = 0; ok && k < g->nnodes; k++) {
		if (!cg_node_scheduled(g, &g->nodes[k]))
			continue; /* dead, or a view (its input's bytes): no code */
		node_fns[k] = emit_node(cg, k);
		can_fail[k] = cg->node_can_fail;
		if (!node_fns[k])
			ok = false;
		if (o->done)
			atomic_fetch_add(o->done, 1);
	}
	if (ok) {
		/* With profile_nodes the run function is <prefix>_run_profiled (a
		 * hook parameter more), and <prefix>_run_parallel calls it. */
		bool prof = o->profile_nodes;
		LLVMValueRef runp = emit_run(cg, plan, node_fns, can_fail, prof ? emit_node_hook(cg) : NULL);
		if (prof)
			emit_run_serial(cg, runp, true, true);
		emit_run_serial(cg, runp, false, prof);
		LLVMValueRef run_v = emit_run_v(cg, runp, false, false, prof);
		LLVMValueRef runp_v = emit_run_v(cg, runp, true, false, prof);
		LLVMValueRef runprof_v = prof ? emit_run_v(cg, runp, true, true, true) : NULL;
		emit_descriptor(cg, plan, run_v, runp_v, runprof_v, node_fns, o->export_alias);
	}
	free(node_fns);
	free(can_fail);
	return ok;
}

/* Functions by name (names are unique in a module: a stable order). */
static int cmp_fn_name(const void *a, const void *b)
{
	size_t la, lb;
	return strcmp(LLVMGetValueName2(*(LLVMValueRef const *)a, &la), LLVMGetValueName2(*(LLVMValueRef const *)b, &lb));
}

/* fn is what the run function calls for one node: "<node>K.Op" (a node
 * function, or the baseline version of a multi-versioned one) or
 * "<node>K.Op.dispatch"; not a variant "<node>K.Op.avx2" (an inlined
 * dispatcher leaves calls of the baseline and of each variant). */
static bool node_entry(const char *fn, const char *node)
{
	size_t n = strlen(node);
	if (strncmp(fn, node, n))
		return false;
	const char *p = fn + n;
	while (*p >= '0' && *p <= '9')
		p++;
	if (p == fn + n || *p++ != '.')
		return false;
	p = strchr(p, '.');
	return !p || !strcmp(p, ".dispatch");
}

void cg_node_sharing(LLVMModuleRef m, const char *prefix, CgSharing *s)
{
	memset(s, 0, sizeof *s);
	char name[300], node[300];
	snprintf(name, sizeof name, "%s_run_profiled", prefix);   /* --profile-nodes */
	snprintf(node, sizeof node, "%s.node", prefix);
	LLVMValueRef run = LLVMGetNamedFunction(m, name);
	snprintf(name, sizeof name, "%s_run_parallel", prefix);
	if (!run)
		run = LLVMGetNamedFunction(m, name);
	if (!run)
		return;
	/* the callees of the node calls, sorted by name: equal ones adjacent */
	int n = 0, cap = 64;
	LLVMValueRef *callee = xmalloc(sizeof *callee * (size_t)cap);
	for (LLVMBasicBlockRef bb = LLVMGetFirstBasicBlock(run); bb; bb = LLVMGetNextBasicBlock(bb))
		for (LLVMValueRef in = LLVMGetFirstInstruction(bb); in; in = LLVMGetNextInstruction(in)) {
			if (!LLVMIsACallInst(in))
				continue;
			LLVMValueRef f = LLVMGetCalledValue(in);
			size_t len;
			const char *fn = f && LLVMIsAFunction(f) ? LLVMGetValueName2(f, &len) : NULL;
			if (!fn || !node_entry(fn, node))
				continue;
			if (n == cap)
				callee = xrealloc(callee, sizeof *callee * (size_t)(cap *= 2));
			callee[n++] = f;
		}
	qsort(callee, (size_t)n, sizeof *callee, cmp_fn_name);
	s->calls = n;
	for (int i = 0, j; i < n; i = j) {
		for (j = i + 1; j < n && callee[j] == callee[i]; j++)
			;
		s->functions++;
		int c = j - i;
		if (c < 2)
			continue;
		s->shared++;
		s->shared_calls += c;
		/* keep the most-called (insertion into top, most calls first) */
		int k = s->ntop < 8 ? s->ntop++ : 8;
		while (k > 0 && s->top[k - 1].calls < c) {
			if (k < 8)
				s->top[k] = s->top[k - 1];
			k--;
		}
		if (k < 8) {
			size_t len;
			snprintf(s->top[k].name, sizeof s->top[k].name, "%s", LLVMGetValueName2(callee[i], &len));
			s->top[k].calls = c;
		}
	}
	free(callee);
}

void cg_dispose(Cg *cg)
{
	kern_cache_free(cg);
	free(cg->buf);
	free(cg->globals);
	cg->buf = cg->globals = NULL;
	if (cg->b)
		LLVMDisposeBuilder(cg->b);
	if (cg->mod)
		LLVMDisposeModule(cg->mod);
	if (cg->ctx)
		LLVMContextDispose(cg->ctx);
	cg->b = NULL;
	cg->mod = NULL;
	cg->ctx = NULL;
}
