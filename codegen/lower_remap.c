/* codegen/lower_remap.c — the fused GatherRows op (ops.def; made by
 * passes/fuse_remap.c and passes/fuse_patchify.c): one index remap of rows.
 *
 *   Y viewed as [R, u], X as [numel(X)/u, u]:  Y[r, :] = X[idx[r], :]
 *
 * idx is a compile-time constant (a global of R integers); each row is one
 * constant-size memcpy (LLVM expands small ones inline), or a memset to 0
 * for an entry -1 (a padding tap of fuse-patchify's im2col).  One task per
 * range of rows through kern_parallel: rows are disjoint, so any partition
 * gives the same output.
 */
#include "lower.h"
#include "kernels/kernels.h"

#include <stdio.h>

/* `void task(ptr ctx, i64 begin, i64 end)` over rows; ctx holds {x, idx, y}. */
static LLVMValueRef emit_task(Cg *cg, DType it, int64_t rowbytes)
{
	LLVMTypeRef params[3] = {cg->t_ptr, cg->t_i64, cg->t_i64};
	char name[256];
	snprintf(name, sizeof name, "%s.node%d.gather_rows_task", cg->prefix, (int)cg->node_id);
	LLVMValueRef fn = LLVMAddFunction(cg->mod, name, LLVMFunctionType(cg->t_void, params, 3, 0));
	LLVMSetLinkage(fn, LLVMInternalLinkage);
	kern_fn_attrs(cg, fn);
	KFn kf;
	kern_fn_begin(cg, &kf, fn);
	LLVMValueRef ctx = LLVMGetParam(fn, 0), base[3];
	for (int i = 0; i < 3; i++) {
		LLVMValueRef k = cg_i64(cg, i);
		base[i] = LLVMBuildLoad2(cg->b, cg->t_ptr, LLVMBuildInBoundsGEP2(cg->b, cg->t_ptr, ctx, &k, 1, ""), "");
	}
	CgLoop lr;
	cg_for_v(cg, &lr, LLVMGetParam(fn, 1), LLVMGetParam(fn, 2));
	LLVMValueRef src = cg_load_ptr(cg, it, base[1], lr.iv);
	src = LLVMBuildIntCast2(cg->b, src, cg->t_i64, dtype_is_signed(it), "");
	LLVMValueRef doff = LLVMBuildNSWMul(cg->b, lr.iv, cg_i64(cg, rowbytes), "");
	LLVMValueRef dp = LLVMBuildInBoundsGEP2(cg->b, cg->t_i8, base[2], &doff, 1, "");
	CgIf pad;
	cg_if(cg, &pad, LLVMBuildICmp(cg->b, LLVMIntSLT, src, cg_i64(cg, 0), ""));
	cg_memset(cg, dp, 0, rowbytes);
	cg_else(cg, &pad);
	LLVMValueRef so = LLVMBuildNSWMul(cg->b, src, cg_i64(cg, rowbytes), "");
	LLVMValueRef sp = LLVMBuildInBoundsGEP2(cg->b, cg->t_i8, base[0], &so, 1, "");
	cg_memcpy(cg, dp, sp, rowbytes);
	cg_if_end(cg, &pad);
	cg_for_end(cg, &lr);
	kern_fn_end(cg, &kf);
	return fn;
}

bool cg_lower_gather_rows(Cg *cg, const Node *n)
{
	Graph *g = cg->g;
	const Value *X = gval(g, n->in[0]), *I = gval(g, n->in[1]), *Y = gval(g, n->out[0]);
	int64_t R = I->shape.dims[0], ny = shape_numel(&Y->shape);
	if (I->kind != VK_CONST || !dtype_is_int(I->dtype))
		return cg_unsupported(cg, 1, "GatherRows with run-time indices");
	if (R == 0 || ny == 0)
		return true;
	int64_t u = ny / R;
	size_t es = dtype_size(X->dtype);
	if (es == 0)
		return cg_unsupported(cg, 0, "GatherRows of %s", dtype_name(X->dtype));
	LLVMValueRef task = emit_task(cg, I->dtype, u * (int64_t)es);
	LLVMValueRef cx = cg_alloca(cg, LLVMArrayType2(cg->t_ptr, 3), "gr_ctx");
	LLVMValueRef ptrs[3] = {cg_ptr(cg, n->in[0]), cg_ptr(cg, n->in[1]), cg_ptr(cg, n->out[0])};
	for (int i = 0; i < 3; i++) {
		LLVMValueRef k = cg_i64(cg, i);
		LLVMBuildStore(cg->b, ptrs[i], LLVMBuildInBoundsGEP2(cg->b, cg->t_ptr, cx, &k, 1, ""));
	}
	kern_parallel(cg, task, cx, R);
	return true;
}
