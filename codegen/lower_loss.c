/* codegen/lower_loss.c — NegativeLogLikelihoodLoss and
 * SoftmaxCrossEntropyLoss.
 *
 * Input viewed as [N, C, D] (D = product of d1..dk), target as [N, D].
 * Per position (n, d) with class t = target[n, d]:
 *   lp(c)  = x[n, c, d]                                   (NLL)
 *          = x[n, c, d] - max_c x - log(sum_c exp(x - max)) (SCE: log-softmax
 *            over C, written to the optional log_prob output for every c)
 *   w      = weight[t] (1 without weights), 0 when t == ignore_index
 *   loss   = -lp(t) * w
 * reduction none stores loss per position; sum stores sum(loss); mean
 * stores sum(loss) / sum(w) (which is the plain mean without weights and
 * ignored positions).  Arithmetic is in the compute type of the input.
 *
 * Targets are class indices read at run time: valid in [0, C-1], or equal
 * to ignore_index (which may lie outside that range).  Others are undefined
 * in ONNX.  By default (--index-oob=error) every target is checked before
 * the node writes anything, and the node returns CG_STATUS_INDEX (the run
 * function's <PREFIX>_ERR_INDEX) if one is out of range; with
 * --index-oob=clamp there is no check.  Either way a target is then
 * clamped into [0, C-1] for addressing, so the code never reads out of
 * bounds.
 */
#include "lower.h"
#include "lower_data.h"
#include "mathfn.h"

#include <string.h>

enum { RED_NONE, RED_SUM, RED_MEAN };

/* i64 x*y + z. */
static LLVMValueRef mad(Cg *cg, LLVMValueRef x, int64_t y, LLVMValueRef z)
{
	return LLVMBuildAdd(cg->b, LLVMBuildMul(cg->b, x, cg_i64(cg, y), ""), z, "");
}

/* --index-oob=error: every target t (count elements of tv) is in [0, C-1]
 * or equals ignore_index (ia, may be NULL), or the node returns
 * CG_STATUS_INDEX.  One branch-free pass (an or-ed flag) before anything
 * is written. */
static void check_targets(Cg *cg, ValueId tv, int64_t count, int64_t C, const Attr *ia)
{
	LLVMBuilderRef b = cg->b;
	if (cg->index_clamp || count == 0)
		return;
	LLVMValueRef flag = cg_alloca(cg, cg->t_i1, "oob");
	LLVMBuildStore(b, LLVMConstInt(cg->t_i1, 0, 0), flag);
	CgLoop l;
	cg_for(cg, &l, 0, count);
	LLVMValueRef t = LLVMBuildIntCast2(b, cg_load(cg, tv, l.iv), cg->t_i64, 1, "");
	/* unsigned t >= C: negative or too large */
	LLVMValueRef out = LLVMBuildICmp(b, LLVMIntUGE, t, cg_i64(cg, C), "");
	if (ia)
		out = LLVMBuildAnd(b, out, LLVMBuildICmp(b, LLVMIntNE, t, cg_i64(cg, ia->i), ""), "");
	LLVMBuildStore(b, LLVMBuildOr(b, LLVMBuildLoad2(b, cg->t_i1, flag, ""), out, ""), flag);
	cg_for_end(cg, &l);
	cg_fail_if(cg, LLVMBuildLoad2(b, cg->t_i1, flag, ""), CG_STATUS_INDEX);
}

/* Loss lowering entry: see the file comment. */
bool cg_lower_loss(Cg *cg, const Node *n)
{
	Graph *g = cg->g;
	LLVMBuilderRef b = cg->b;
	bool sce = n->op == OP_SoftmaxCrossEntropyLoss;
	ValueId xv = n->in[0], tv = n->in[1];
	ValueId wv = n->nin > 2 ? n->in[2] : IR_NONE;
	ValueId ov = n->out[0], lpv = sce && n->nout > 1 ? n->out[1] : IR_NONE;
	const Value *x = gval(g, xv);
	DType xt = x->dtype, tt = gval(g, tv)->dtype;
	int64_t N = x->shape.dims[0], C = x->shape.dims[1];
	int64_t D = cg_dm_prod(x->shape.dims, 2, x->shape.rank);
	const char *rs = attr_string(n, "reduction", "mean");
	int red = !strcmp(rs, "none") ? RED_NONE : !strcmp(rs, "sum") ? RED_SUM : RED_MEAN;
	const Attr *ia = node_attr(n, "ignore_index");
	if (ia && ia->kind != AK_INT)
		return cg_unsupported(cg, -1, "ignore_index must be an int attribute");
	if (C <= 0 && N * D > 0)
		return cg_unsupported(cg, 0, "zero classes");
	check_targets(cg, tv, N * D, C, ia);
	LLVMTypeRef ct = cg_compute_type(cg, xt);
	LLVMValueRef zero = LLVMConstReal(ct, 0.0), one = LLVMConstReal(ct, 1.0);
	LLVMValueRef acc = cg_alloca(cg, ct, "loss_sum"), wacc = cg_alloca(cg, ct, "weight_sum");
	LLVMBuildStore(b, zero, acc);
	LLVMBuildStore(b, zero, wacc);
	LLVMValueRef mp = cg_alloca(cg, ct, "max"), sp = cg_alloca(cg, ct, "sum");

	CgLoop ln, ld, lc;
	cg_for(cg, &ln, 0, N);
	cg_for(cg, &ld, 0, D);
	LLVMValueRef base = mad(cg, ln.iv, C * D, ld.iv); /* element (n, 0, d) */
	LLVMValueRef tidx = mad(cg, ln.iv, D, ld.iv);
	LLVMValueRef shift = zero;  /* SCE: max + log(sum exp) */
	if (sce) {
		LLVMBuildStore(b, cg_load(cg, xv, base), mp);
		cg_for(cg, &lc, 1, C);
		LLVMValueRef e = cg_load(cg, xv, mad(cg, lc.iv, D, base));
		LLVMBuildStore(b, cg_math_fmax(cg, LLVMBuildLoad2(b, ct, mp, ""), e), mp);
		cg_for_end(cg, &lc);
		LLVMValueRef m = LLVMBuildLoad2(b, ct, mp, "");
		LLVMBuildStore(b, zero, sp);
		cg_for(cg, &lc, 0, C);
		LLVMValueRef ex = cg_load(cg, xv, mad(cg, lc.iv, D, base));
		ex = cg_math_exp(cg, LLVMBuildFSub(b, ex, m, ""));
		LLVMBuildStore(b, LLVMBuildFAdd(b, LLVMBuildLoad2(b, ct, sp, ""), ex, ""), sp);
		cg_for_end(cg, &lc);
		shift = LLVMBuildFAdd(b, m, cg_math_log(cg, LLVMBuildLoad2(b, ct, sp, "")), "");
		if (lpv != IR_NONE) {
			cg_for(cg, &lc, 0, C);
			LLVMValueRef k = mad(cg, lc.iv, D, base);
			cg_store(cg, lpv, k, LLVMBuildFSub(b, cg_load(cg, xv, k), shift, ""));
			cg_for_end(cg, &lc);
		}
	}
	LLVMValueRef t = cg_load(cg, tv, tidx);
	if (tt != DT_I64)
		t = LLVMBuildSExt(b, t, cg->t_i64, "");
	LLVMValueRef tc = t;
	tc = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntSLT, tc, cg_i64(cg, 0), ""), cg_i64(cg, 0), tc, "");
	tc = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntSGT, tc, cg_i64(cg, C - 1), ""),
	                     cg_i64(cg, C - 1), tc, "");
	LLVMValueRef w = wv != IR_NONE ? cg_load(cg, wv, tc) : one;
	if (ia)
		w = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntEQ, t, cg_i64(cg, ia->i), ""), zero, w, "");
	LLVMValueRef lp = LLVMBuildFSub(b, cg_load(cg, xv, mad(cg, tc, D, base)), shift, "");
	LLVMValueRef loss = LLVMBuildFNeg(b, LLVMBuildFMul(b, lp, w, ""), "");
	if (ia) /* an ignored position is exactly 0 even when lp is inf/NaN */
		loss = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntEQ, t, cg_i64(cg, ia->i), ""), zero,
		                       loss, "");
	if (red == RED_NONE) {
		cg_store(cg, ov, tidx, loss);
	} else {
		LLVMBuildStore(b, LLVMBuildFAdd(b, LLVMBuildLoad2(b, ct, acc, ""), loss, ""), acc);
		LLVMBuildStore(b, LLVMBuildFAdd(b, LLVMBuildLoad2(b, ct, wacc, ""), w, ""), wacc);
	}
	cg_for_end(cg, &ld);
	cg_for_end(cg, &ln);
	if (red != RED_NONE) {
		LLVMValueRef r = LLVMBuildLoad2(b, ct, acc, "");
		if (red == RED_MEAN)
			r = LLVMBuildFDiv(b, r, LLVMBuildLoad2(b, ct, wacc, ""), "");
		cg_store(cg, ov, cg_i64(cg, 0), r);
	}
	return true;
}
