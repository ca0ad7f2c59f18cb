/* codegen/lower_reduce.c — reductions and the softmax family: Reduce*,
 * ArgMax, ArgMin, CumSum, TopK; Softmax, LogSoftmax and Hardmax are routed
 * to lower_softmax.c.
 *
 * Reductions: the output is walked over the kept dimensions and an
 * accumulator (a register after mem2reg) over the reduced ones.  When the
 * last dimension is kept, that would read the input with a stride, so the
 * output itself accumulates instead while the input is read in memory
 * order (f32/f64/integers; f16/bf16 keep the float accumulator).  Float
 * reductions over a trailing block of dims (ReduceMean over the last axis,
 * LayerNorm as PyTorch exports it) scan each contiguous block with an
 * explicit vector loop (vec.h) and several partial accumulators.  The
 * identity of the combiner is the initial value, so an empty reduction
 * gives 0 (sum), 1 (prod), -inf / the type's minimum (max) as ONNX-18
 * specifies.  ReduceLogSumExp subtracts the maximum first (skipped when the
 * maximum is not finite).
 *
 * Axis ops view their input as [outer, A, inner] around the axis; each
 * (outer, inner) position scans its A elements with stride `inner`.  (The
 * softmax family is in lower_softmax.c.)  TopK keeps a sorted list of the best k seen so
 * far per row (insertion, O(A*k)); scanning in index order and inserting
 * only strictly better elements keeps ties in index order.  CumSum walks
 * the axis in order with the inner dimension innermost, adding to the
 * previous output row.
 */
#include "lower.h"
#include "lower_data.h"
#include "mathfn.h"
#include "vec.h"

#include <assert.h>
#include <math.h>
#include <string.h>

/* The [outer, A, inner] view of shape s around axis. */
static void axis_view(const Shape *s, int axis, int64_t *outer, int64_t *A, int64_t *inner)
{
	*outer = cg_dm_prod(s->dims, 0, axis);
	*A = s->dims[axis];
	*inner = cg_dm_prod(s->dims, axis + 1, s->rank);
}

static LLVMValueRef load_acc(Cg *cg, LLVMTypeRef t, LLVMValueRef p)
{
	return LLVMBuildLoad2(cg->b, t, p, "");
}

/* ---- Reduce* ------------------------------------------------------------- */

/* Identity of op in the compute type of t: the value an empty reduction
 * yields. */
static LLVMValueRef comb_identity(Cg *cg, CgCombine op, DType t)
{
	LLVMTypeRef ty = cg_compute_type(cg, t);
	unsigned bits = dtype_is_float(t) ? 0 : LLVMGetIntTypeWidth(ty);
	bool sgn = dtype_is_signed(t);
	switch (op) {
	case CG_COMB_MUL:
		return cg_const(cg, t, 1);
	case CG_COMB_MAX:
		if (dtype_is_float(t))
			return LLVMConstReal(ty, -INFINITY);
		return sgn ? LLVMConstInt(ty, 1ull << (bits - 1), 0) : LLVMConstInt(ty, 0, 0);
	case CG_COMB_MIN:
		if (dtype_is_float(t))
			return LLVMConstReal(ty, INFINITY);
		return sgn ? LLVMConstInt(ty, (1ull << (bits - 1)) - 1, 0) : LLVMConstAllOnes(ty);
	default:
		return cg_const(cg, t, 0);
	}
}

/* Which dims of the input are reduced (the node's params, ir/params.h);
 * *noop when none (noop_with_empty_axes). */
static bool reduce_axes(Cg *cg, const Node *n, int rank, bool *red, bool *noop)
{
	const ReduceParams *rp = node_reduce(cg->g, (NodeId)(n - cg->g->nodes), cg->d);
	if (!rp)
		return false;
	assert(rp->rank == rank);
	for (int k = 0; k < rank; k++)
		red[k] = rp->reduced[k];
	*noop = rp->noop;
	return true;
}

static LLVMValueRef int_abs(Cg *cg, DType t, LLVMValueRef x)
{
	if (!dtype_is_signed(t))
		return x;
	LLVMValueRef neg = LLVMBuildICmp(cg->b, LLVMIntSLT, x, LLVMConstNull(LLVMTypeOf(x)), "");
	return LLVMBuildSelect(cg->b, neg, LLVMBuildNeg(cg->b, x, ""), x, "");
}

/* Emits the inner nest over the reduced dims: acc = acc (op) f(x), where
 * f is |x| for L1, x*x for L2/SumSquare, exp(x - shift) for LogSumExp. */
static void reduce_scan(Cg *cg, const Node *n, DType t, int nr, const int64_t *rdims, const int64_t *rstr,
                        LLVMValueRef base, LLVMValueRef acc, CgCombine op, LLVMValueRef shift)
{
	bool fl = dtype_is_float(t);
	LLVMTypeRef ct = cg_compute_type(cg, t);
	CgNest nest;
	cg_nest(cg, &nest, nr, rdims);
	LLVMValueRef idx = LLVMBuildAdd(cg->b, base, cg_linear(cg, nr, nest.iv, rstr), "");
	LLVMValueRef x = cg_load(cg, n->in[0], idx);
	switch (n->op) {
	case OP_ReduceL1:
		x = fl ? cg_math_fabs(cg, x) : int_abs(cg, t, x);
		break;
	case OP_ReduceL2:
	case OP_ReduceSumSquare:
		x = fl ? LLVMBuildFMul(cg->b, x, x, "") : LLVMBuildMul(cg->b, x, x, "");
		break;
	case OP_ReduceLogSumExp:
		if (shift)
			x = cg_math_exp(cg, LLVMBuildFSub(cg->b, x, shift, ""));
		break;
	default:
		break;
	}
	LLVMBuildStore(cg->b, cg_dm_combine(cg, op, t, load_acc(cg, ct, acc), x), acc);
	cg_nest_end(cg, &nest);
}

/* The finishing step of a reduction on the accumulated value v. */
static LLVMValueRef reduce_finish(Cg *cg, const Node *n, DType t, LLVMValueRef v, int64_t count)
{
	LLVMTypeRef ct = cg_compute_type(cg, t);
	switch (n->op) {
	case OP_ReduceMean:
		if (dtype_is_float(t))
			return LLVMBuildFDiv(cg->b, v, LLVMConstReal(ct, (double)count), "");
		if (dtype_is_signed(t))
			return LLVMBuildSDiv(cg->b, v, LLVMConstInt(ct, (unsigned long long)count, 1), "");
		return LLVMBuildUDiv(cg->b, v, LLVMConstInt(ct, (unsigned long long)count, 0), "");
	case OP_ReduceL2:
		return cg_math_sqrt(cg, v);
	case OP_ReduceLogSum:
		return cg_math_log(cg, v);
	default:
		return v;
	}
}

/* Reduction with the last input dimension kept: the output itself is the
 * accumulator.  It is set to the identity, the input is scanned in memory
 * order (out[k] (op)= f(x), the last dimension contiguous on both sides),
 * then finished in place.  Only for dtypes whose compute type is the memory
 * type (no rounding between steps) and not LogSumExp (two passes). */
static void reduce_into_output(Cg *cg, const Node *n, DType t, CgCombine op, const bool *red, int64_t count,
                               int64_t nout)
{
	ValueId in = n->in[0], out = n->out[0];
	const Shape *is = &gval(cg->g, in)->shape;
	int r = is->rank;
	bool fl = dtype_is_float(t);
	CgLoop l;
	cg_for(cg, &l, 0, nout);
	cg_store(cg, out, l.iv, comb_identity(cg, op, t));
	cg_for_end(cg, &l);
	int64_t ist[IR_MAX_RANK], ostr[IR_MAX_RANK], s = 1;
	shape_strides(is, ist);
	for (int k = r - 1; k >= 0; k--) {
		ostr[k] = red[k] ? 0 : s;
		if (!red[k])
			s *= is->dims[k];
	}
	CgNest nest;
	cg_nest(cg, &nest, r, is->dims);
	LLVMValueRef oi = cg_linear(cg, r, nest.iv, ostr);
	LLVMValueRef x = cg_load(cg, in, cg_linear(cg, r, nest.iv, ist));
	if (n->op == OP_ReduceL1)
		x = fl ? cg_math_fabs(cg, x) : int_abs(cg, t, x);
	else if (n->op == OP_ReduceL2 || n->op == OP_ReduceSumSquare)
		x = fl ? LLVMBuildFMul(cg->b, x, x, "") : LLVMBuildMul(cg->b, x, x, "");
	cg_store(cg, out, oi, cg_dm_combine(cg, op, t, cg_load(cg, out, oi), x));
	cg_nest_end(cg, &nest);
	if (n->op == OP_ReduceMean || n->op == OP_ReduceL2 || n->op == OP_ReduceLogSum) {
		cg_for(cg, &l, 0, nout);
		cg_store(cg, out, l.iv, reduce_finish(cg, n, t, cg_load(cg, out, l.iv), count));
		cg_for_end(cg, &l);
	}
}

/* ---- float reductions of contiguous blocks (vec.h) ------------------------- */

typedef struct RowRed {
	const Node *n;
	CgCombine op;
	LLVMValueRef shift;             /* LogSumExp's splat max, or NULL */
	LLVMValueRef acc[CG_VMAX_SLOTS];
} RowRed;

static double comb_identity_f(CgCombine op)
{
	return op == CG_COMB_MUL ? 1 : op == CG_COMB_MAX ? -INFINITY : op == CG_COMB_MIN ? INFINITY : 0;
}

static void reduce_step(CgVec *v, void *ctx)
{
	RowRed *r = ctx;
	Cg *cg = v->cg;
	LLVMValueRef x = cg_vload(v, r->n->in[0], comb_identity_f(r->op));
	switch (r->n->op) {
	case OP_ReduceL1:
		x = cg_math_fabs(cg, x);
		break;
	case OP_ReduceL2: case OP_ReduceSumSquare:
		x = LLVMBuildFMul(cg->b, x, x, "");
		break;
	case OP_ReduceLogSumExp:
		if (r->shift)
			x = cg_math_exp(cg, LLVMBuildFSub(cg->b, x, r->shift, ""));
		break;
	default:
		break;
	}
	if (v->mask)
		x = LLVMBuildSelect(cg->b, v->mask, x, cg_vk(v, comb_identity_f(r->op)), "");
	cg_vacc_put(v, r->acc, cg_dm_combine(cg, r->op, v->ad, cg_vacc_get(v, r->acc), x));
}

/* out[o] = reduction of the count contiguous elements in[o*count ..]. */
static void reduce_blocks(Cg *cg, const Node *n, DType t, CgCombine op, int64_t nout, int64_t count)
{
	CgVec v;
	cg_vinit(cg, &v, t);
	RowRed r = {.n = n, .op = op};
	int u = 4;
	CgLoop lo;
	cg_for(cg, &lo, 0, nout);
	LLVMValueRef base = LLVMBuildNSWMul(cg->b, lo.iv, cg_i64(cg, count), "");
	if (n->op == OP_ReduceLogSumExp) {
		r.op = CG_COMB_MAX;
		cg_vacc_init(&v, r.acc, u, -INFINITY);
		cg_vrow(&v, base, count, u, reduce_step, &r);
		LLVMValueRef m = cg_vacc_reduce(&v, r.acc, u, CG_COMB_MAX);
		LLVMValueRef finite = LLVMBuildFCmp(cg->b, LLVMRealOLT, cg_math_fabs(cg, m),
		                                    cg_const(cg, v.ad, INFINITY), "");
		r.shift = LLVMBuildSelect(cg->b, finite, m, cg_const(cg, v.ad, 0), "");
		r.op = op;
	}
	LLVMValueRef sh = r.shift;
	if (sh)
		r.shift = cg_vsplat(&v, sh);
	cg_vacc_init(&v, r.acc, u, comb_identity_f(op));
	cg_vrow(&v, base, count, u, reduce_step, &r);
	LLVMValueRef y = cg_vacc_reduce(&v, r.acc, u, op);
	if (n->op == OP_ReduceLogSumExp)
		y = LLVMBuildFAdd(cg->b, sh, cg_math_log(cg, y), "");
	else if (n->op == OP_ReduceMean)
		y = LLVMBuildFDiv(cg->b, y, cg_const(cg, v.ad, (double)count), "");
	else if (n->op == OP_ReduceL2)
		y = cg_math_sqrt(cg, y);
	else if (n->op == OP_ReduceLogSum)
		y = cg_math_log(cg, y);
	cg_store_as(cg, n->out[0], lo.iv, y, v.ad);
	cg_for_end(cg, &lo);
}

/* Reduce{Sum,Mean,Max,Min,Prod,L1,L2,LogSum,LogSumExp,SumSquare}-1..18. */
static bool lower_reduce_op(Cg *cg, const Node *n)
{
	ValueId in = n->in[0], out = n->out[0];
	const Shape *is = &gval(cg->g, in)->shape;
	DType t = gval(cg->g, in)->dtype;
	int r = is->rank;
	bool red[IR_MAX_RANK], noop;
	if (!reduce_axes(cg, n, r, red, &noop))
		return false;
	if (gval(cg->g, out)->dtype != t)
		return cg_unsupported(cg, -1, "output type differs from the input's");
	bool fl = dtype_is_float(t);
	if (!fl && !dtype_is_int(t))
		return cg_unsupported(cg, 0, "type %s", dtype_name(t));
	if (noop) { /* noop_with_empty_axes: the output is the input */
		cg_memcpy(cg, cg_ptr(cg, out), cg_ptr(cg, in), shape_numel(is) * (int64_t)dtype_size(t));
		return true;
	}
	CgCombine op;
	switch (n->op) {
	case OP_ReduceMax: op = CG_COMB_MAX; break;
	case OP_ReduceMin: op = CG_COMB_MIN; break;
	case OP_ReduceProd: op = CG_COMB_MUL; break;
	default: op = CG_COMB_ADD; break;
	}
	if (!fl && (n->op == OP_ReduceL2 || n->op == OP_ReduceLogSum || n->op == OP_ReduceLogSumExp))
		return cg_unsupported(cg, 0, "type %s (floating point only)", dtype_name(t));

	/* kept dims (outer nest) and reduced dims (inner nest) */
	int64_t ist[IR_MAX_RANK], kdims[IR_MAX_RANK], kstr[IR_MAX_RANK], rdims[IR_MAX_RANK], rstr[IR_MAX_RANK];
	int nk = 0, nr = 0;
	int64_t count = 1, nout = 1;
	shape_strides(is, ist);
	for (int k = 0; k < r; k++) {
		if (red[k]) {
			rdims[nr] = is->dims[k];
			rstr[nr++] = ist[k];
			count *= is->dims[k];
		} else {
			kdims[nk] = is->dims[k];
			kstr[nk++] = ist[k];
			nout *= is->dims[k];
		}
	}
	if (shape_numel(&gval(cg->g, out)->shape) != nout)
		return cg_unsupported(cg, -1, "output size does not match the reduced shape");
	if (nout == 0)
		return true;
	if (count == 0 && n->op == OP_ReduceMean && !fl)
		return cg_unsupported(cg, 0, "mean of an empty integer reduction");

	/* reduced dims (of size > 1) all after the kept ones: contiguous blocks */
	bool trailing = fl;
	for (int k = 0, seen = 0; k < r; k++) {
		if (red[k] && is->dims[k] > 1)
			seen = 1;
		else if (!red[k] && is->dims[k] > 1 && seen)
			trailing = false;
	}
	if (trailing && count > 1) {
		reduce_blocks(cg, n, t, op, nout, count);
		return true;
	}
	LLVMTypeRef ct = cg_compute_type(cg, t);
	if (r > 0 && !red[r - 1] && is->dims[r - 1] > 1 && nk < r && ct == cg_mem_type(cg, t) &&
	    n->op != OP_ReduceLogSumExp) {
		reduce_into_output(cg, n, t, op, red, count, nout);
		return true;
	}
	LLVMValueRef acc = cg_alloca(cg, ct, "acc");
	CgNest outer;
	cg_nest(cg, &outer, nk, kdims);
	LLVMValueRef base = cg_linear(cg, nk, outer.iv, kstr);
	/* contiguous output index over the kept dims */
	int64_t ostr[IR_MAX_RANK], s = 1;
	for (int k = nk - 1; k >= 0; k--) {
		ostr[k] = s;
		s *= kdims[k];
	}
	LLVMValueRef oidx = cg_linear(cg, nk, outer.iv, ostr);

	LLVMValueRef shift = NULL;
	if (n->op == OP_ReduceLogSumExp) {
		LLVMBuildStore(cg->b, comb_identity(cg, CG_COMB_MAX, t), acc);
		reduce_scan(cg, n, t, nr, rdims, rstr, base, acc, CG_COMB_MAX, NULL);
		LLVMValueRef m = load_acc(cg, ct, acc);
		LLVMValueRef finite = LLVMBuildFCmp(cg->b, LLVMRealOLT, cg_math_fabs(cg, m),
		                                    LLVMConstReal(ct, INFINITY), "");
		shift = LLVMBuildSelect(cg->b, finite, m, LLVMConstReal(ct, 0), "");
	}
	LLVMBuildStore(cg->b, comb_identity(cg, op, t), acc);
	reduce_scan(cg, n, t, nr, rdims, rstr, base, acc, op, shift);
	LLVMValueRef v = load_acc(cg, ct, acc);
	if (n->op == OP_ReduceLogSumExp)
		v = LLVMBuildFAdd(cg->b, shift, cg_math_log(cg, v), "");
	else
		v = reduce_finish(cg, n, t, v, count);
	cg_store(cg, out, oidx, v);
	cg_nest_end(cg, &outer);
	return true;
}

/* ---- ArgMax / ArgMin -------------------------------------------------------- */

/* ArgMax/ArgMin-1..13 (axis, keepdims, select_last_index): int64 index of
 * the first (or last) extreme element along axis.  NaN counts as the
 * extreme, as numpy's argmax/argmin do. */
static bool lower_arg(Cg *cg, const Node *n)
{
	ValueId in = n->in[0], out = n->out[0];
	const Shape *is = &gval(cg->g, in)->shape;
	DType t = gval(cg->g, in)->dtype;
	int axis = cg_dm_axis(attr_int(n, "axis", 0), is->rank);
	bool last = attr_int(n, "select_last_index", 0) != 0, mx = n->op == OP_ArgMax;
	if (axis < 0)
		return cg_unsupported(cg, -1, "axis out of range");
	if (gval(cg->g, out)->dtype != DT_I64)
		return cg_unsupported(cg, -1, "output must be int64");
	if (!dtype_is_float(t) && !dtype_is_int(t))
		return cg_unsupported(cg, 0, "type %s", dtype_name(t));
	int64_t outer, A, inner;
	axis_view(is, axis, &outer, &A, &inner);
	if (shape_numel(&gval(cg->g, out)->shape) != outer * inner)
		return cg_unsupported(cg, -1, "output size does not match");
	if (outer * inner == 0)
		return true;
	if (A == 0)
		return cg_unsupported(cg, 0, "arg%s of an empty axis", mx ? "max" : "min");
	LLVMTypeRef ct = cg_compute_type(cg, t);
	LLVMValueRef best = cg_alloca(cg, ct, "best"), besti = cg_alloca(cg, cg->t_i64, "besti");
	CgLoop lo, li, la;
	cg_for(cg, &lo, 0, outer);
	cg_for(cg, &li, 0, inner);
	LLVMValueRef base = LLVMBuildAdd(cg->b, LLVMBuildMul(cg->b, lo.iv, cg_i64(cg, A * inner), ""), li.iv, "");
	LLVMBuildStore(cg->b, cg_load(cg, in, base), best);
	LLVMBuildStore(cg->b, cg_i64(cg, 0), besti);
	cg_for(cg, &la, 1, A);
	LLVMValueRef x = cg_load(cg, in, LLVMBuildAdd(cg->b, base, LLVMBuildMul(cg->b, la.iv, cg_i64(cg, inner), ""), ""));
	LLVMValueRef b = load_acc(cg, ct, best);
	LLVMValueRef upd = cg_dm_greater(cg, t, x, b, mx);
	if (last) /* or equal */
		upd = LLVMBuildOr(cg->b, upd, dtype_is_float(t) ? LLVMBuildFCmp(cg->b, LLVMRealOEQ, x, b, "")
		                                               : LLVMBuildICmp(cg->b, LLVMIntEQ, x, b, ""), "");
	if (dtype_is_float(t)) {
		/* first mode: a NaN replaces a non-NaN best; last mode: every NaN */
		LLVMValueRef xn = LLVMBuildFCmp(cg->b, LLVMRealUNO, x, x, "");
		LLVMValueRef bn = LLVMBuildFCmp(cg->b, LLVMRealUNO, b, b, "");
		LLVMValueRef nan_upd = last ? xn : LLVMBuildAnd(cg->b, xn, LLVMBuildNot(cg->b, bn, ""), "");
		upd = LLVMBuildOr(cg->b, LLVMBuildAnd(cg->b, upd, LLVMBuildNot(cg->b, bn, ""), ""), nan_upd, "");
	}
	LLVMBuildStore(cg->b, LLVMBuildSelect(cg->b, upd, x, b, ""), best);
	LLVMBuildStore(cg->b, LLVMBuildSelect(cg->b, upd, la.iv, load_acc(cg, cg->t_i64, besti), ""), besti);
	cg_for_end(cg, &la);
	LLVMValueRef oi = LLVMBuildAdd(cg->b, LLVMBuildMul(cg->b, lo.iv, cg_i64(cg, inner), ""), li.iv, "");
	cg_store(cg, out, oi, load_acc(cg, cg->t_i64, besti));
	cg_for_end(cg, &li);
	cg_for_end(cg, &lo);
	return true;
}

/* ---- CumSum ---------------------------------------------------------------- */

/* CumSum along one compile-time axis. */
static void cumsum_axis(Cg *cg, const Node *n, int axis, bool exclusive, bool reverse)
{
	ValueId in = n->in[0], out = n->out[0];
	DType t = gval(cg->g, in)->dtype;
	int64_t outer, A, inner;
	axis_view(&gval(cg->g, in)->shape, axis, &outer, &A, &inner);
	if (outer * A * inner == 0)
		return;
	int64_t first = reverse ? A - 1 : 0;
	int64_t dir = reverse ? -1 : 1; /* a(t) = first + dir*t, prev = a - dir */
	CgLoop lo, li, lt;
	cg_for(cg, &lo, 0, outer);
	LLVMValueRef ob = LLVMBuildMul(cg->b, lo.iv, cg_i64(cg, A * inner), "");
	/* the first row along the axis */
	cg_for(cg, &li, 0, inner);
	{
		LLVMValueRef idx = LLVMBuildAdd(cg->b, ob, LLVMBuildAdd(cg->b, cg_i64(cg, first * inner), li.iv, ""), "");
		cg_store(cg, out, idx, exclusive ? cg_const(cg, t, 0) : cg_load(cg, in, idx));
	}
	cg_for_end(cg, &li);
	/* the others: out[a] = out[prev] + in[exclusive ? prev : a] */
	cg_for(cg, &lt, 1, A);
	{
		LLVMValueRef a = LLVMBuildAdd(cg->b, cg_i64(cg, first), LLVMBuildMul(cg->b, lt.iv, cg_i64(cg, dir), ""), "");
		LLVMValueRef ab = LLVMBuildAdd(cg->b, ob, LLVMBuildMul(cg->b, a, cg_i64(cg, inner), ""), "");
		LLVMValueRef pb = LLVMBuildSub(cg->b, ab, cg_i64(cg, dir * inner), "");
		cg_for(cg, &li, 0, inner);
		LLVMValueRef ai = LLVMBuildAdd(cg->b, ab, li.iv, ""), pi = LLVMBuildAdd(cg->b, pb, li.iv, "");
		LLVMValueRef x = cg_load(cg, in, exclusive ? pi : ai);
		cg_store(cg, out, ai, cg_dm_combine(cg, CG_COMB_ADD, t, cg_load(cg, out, pi), x));
		cg_for_end(cg, &li);
	}
	cg_for_end(cg, &lt);
	cg_for_end(cg, &lo);
}

/* CumSum-11/14 (exclusive, reverse; axis a 0-D input).  A constant axis
 * gives one loop nest; a run-time axis one nest per possible axis, chosen
 * by the axis value (negative counts from the end; an out-of-range value
 * leaves the output unwritten, as ONNX leaves it undefined). */
static bool lower_cumsum(Cg *cg, const Node *n)
{
	ValueId in = n->in[0], av = n->in[1];
	DType t = gval(cg->g, in)->dtype, at = gval(cg->g, av)->dtype;
	int r = gval(cg->g, in)->shape.rank;
	bool exclusive = attr_int(n, "exclusive", 0) != 0, reverse = attr_int(n, "reverse", 0) != 0;
	if (!dtype_is_float(t) && !dtype_is_int(t))
		return cg_unsupported(cg, 0, "type %s", dtype_name(t));
	if ((at != DT_I32 && at != DT_I64) || shape_numel(&gval(cg->g, av)->shape) != 1)
		return cg_unsupported(cg, 1, "expected an int32/int64 scalar");
	if (r < 1)
		return cg_unsupported(cg, 0, "expected rank >= 1");
	const Value *axv = gval(cg->g, av);
	if (axv->kind == VK_CONST && axv->data) {
		int a = cg_dm_axis(value_get_int(axv, 0), r);
		if (a < 0)
			return cg_unsupported(cg, 1, "axis out of range");
		cumsum_axis(cg, n, a, exclusive, reverse);
		return true;
	}
	LLVMValueRef ax = LLVMBuildIntCast2(cg->b, cg_load(cg, av, cg_i64(cg, 0)), cg->t_i64, 1, "");
	for (int a = 0; a < r; a++) {
		LLVMValueRef hit = LLVMBuildOr(cg->b, LLVMBuildICmp(cg->b, LLVMIntEQ, ax, cg_i64(cg, a), ""),
		                               LLVMBuildICmp(cg->b, LLVMIntEQ, ax, cg_i64(cg, a - r), ""), "");
		CgIf c;
		cg_if(cg, &c, hit);
		cumsum_axis(cg, n, a, exclusive, reverse);
		cg_if_end(cg, &c);
	}
	return true;
}

/* ---- TopK ------------------------------------------------------------------ */

/* TopK-1/10/11 (axis default -1, largest, sorted): k is the output's
 * extent along axis.  Per row, values/indices outputs hold the sorted best
 * list; each element is inserted behind all elements at least as good, so
 * equal values keep index order.  The output is always sorted (allowed for
 * sorted = 0 too). */
static bool lower_topk(Cg *cg, const Node *n)
{
	ValueId in = n->in[0], vo = n->out[0], io = n->out[1];
	const Shape *is = &gval(cg->g, in)->shape;
	DType t = gval(cg->g, in)->dtype;
	int axis = cg_dm_axis(attr_int(n, "axis", -1), is->rank);
	bool largest = attr_int(n, "largest", 1) != 0;
	if (axis < 0)
		return cg_unsupported(cg, -1, "axis out of range");
	if (vo == IR_NONE || io == IR_NONE)
		return cg_unsupported(cg, -1, "both outputs are required");
	if (!dtype_is_float(t) && !dtype_is_int(t))
		return cg_unsupported(cg, 0, "type %s", dtype_name(t));
	if (gval(cg->g, vo)->dtype != t || gval(cg->g, io)->dtype != DT_I64)
		return cg_unsupported(cg, -1, "output types must be the input's and int64");
	const Shape *os = &gval(cg->g, vo)->shape;
	if (os->rank != is->rank || !shape_eq(os, &gval(cg->g, io)->shape))
		return cg_unsupported(cg, -1, "output shapes do not match");
	int64_t outer, A, inner, K = os->dims[axis];
	axis_view(is, axis, &outer, &A, &inner);
	if (K > A)
		return cg_unsupported(cg, 1, "k = %lld exceeds the axis length %lld", (long long)K, (long long)A);
	if (outer * inner * K == 0)
		return true;

	LLVMBuilderRef b = cg->b;
	LLVMValueRef cntp = cg_alloca(cg, cg->t_i64, "cnt"), pp = cg_alloca(cg, cg->t_i64, "p");
	LLVMValueRef st = cg_i64(cg, inner), kk = cg_i64(cg, K), one = cg_i64(cg, 1);
	CgLoop lo, li, la;
	cg_for(cg, &lo, 0, outer);
	cg_for(cg, &li, 0, inner);
	LLVMValueRef ib = LLVMBuildAdd(b, LLVMBuildMul(b, lo.iv, cg_i64(cg, A * inner), ""), li.iv, "");
	LLVMValueRef obase = LLVMBuildAdd(b, LLVMBuildMul(b, lo.iv, cg_i64(cg, K * inner), ""), li.iv, "");
	LLVMBuildStore(b, cg_i64(cg, 0), cntp);
	cg_for(cg, &la, 0, A);
	{
		LLVMValueRef x = cg_load(cg, in, LLVMBuildAdd(b, ib, LLVMBuildMul(b, la.iv, st, ""), ""));
		LLVMValueRef cnt = LLVMBuildLoad2(b, cg->t_i64, cntp, "");
		LLVMBuildStore(b, cnt, pp);
		/* while (p > 0 && x better than out[p-1]) { if (p < K) out[p] = out[p-1]; p--; } */
		LLVMBasicBlockRef cond = LLVMAppendBasicBlockInContext(cg->ctx, cg->fn, "ins.cond");
		LLVMBasicBlockRef cmp = LLVMAppendBasicBlockInContext(cg->ctx, cg->fn, "ins.cmp");
		LLVMBasicBlockRef body = LLVMAppendBasicBlockInContext(cg->ctx, cg->fn, "ins.body");
		LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(cg->ctx, cg->fn, "ins.done");
		LLVMBuildBr(b, cond);
		LLVMPositionBuilderAtEnd(b, cond);
		LLVMValueRef p = LLVMBuildLoad2(b, cg->t_i64, pp, "");
		LLVMBuildCondBr(b, LLVMBuildICmp(b, LLVMIntSGT, p, cg_i64(cg, 0), ""), cmp, done);
		LLVMPositionBuilderAtEnd(b, cmp);
		LLVMValueRef prev = LLVMBuildAdd(b, obase, LLVMBuildMul(b, LLVMBuildSub(b, p, one, ""), st, ""), "");
		LLVMValueRef y = cg_load(cg, vo, prev);
		LLVMBuildCondBr(b, cg_dm_greater(cg, t, x, y, largest), body, done);
		LLVMPositionBuilderAtEnd(b, body);
		CgIf room;
		cg_if(cg, &room, LLVMBuildICmp(b, LLVMIntSLT, p, kk, ""));
		{
			LLVMValueRef at = LLVMBuildAdd(b, obase, LLVMBuildMul(b, p, st, ""), "");
			cg_store(cg, vo, at, y);
			cg_store(cg, io, at, cg_load(cg, io, prev));
		}
		cg_if_end(cg, &room);
		LLVMBuildStore(b, LLVMBuildSub(b, p, one, ""), pp);
		LLVMBuildBr(b, cond);
		LLVMPositionBuilderAtEnd(b, done);
		LLVMValueRef pos = LLVMBuildLoad2(b, cg->t_i64, pp, "");
		CgIf fits;
		cg_if(cg, &fits, LLVMBuildICmp(b, LLVMIntSLT, pos, kk, ""));
		{
			LLVMValueRef at = LLVMBuildAdd(b, obase, LLVMBuildMul(b, pos, st, ""), "");
			cg_store(cg, vo, at, x);
			cg_store(cg, io, at, la.iv);
		}
		cg_if_end(cg, &fits);
		LLVMValueRef nc = LLVMBuildAdd(b, cnt, one, "");
		nc = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntSGT, nc, kk, ""), kk, nc, "");
		LLVMBuildStore(b, nc, cntp);
	}
	cg_for_end(cg, &la);
	cg_for_end(cg, &li);
	cg_for_end(cg, &lo);
	return true;
}

/* Lowers the reduction-family ops listed in lower.h into the current node
 * function; false after cg_unsupported() for an unsupported
 * configuration. */
bool cg_lower_reduce(Cg *cg, const Node *n)
{
	switch (n->op) {
	case OP_ReduceMean:
	case OP_ReduceSum:
	case OP_ReduceMax:
	case OP_ReduceMin:
	case OP_ReduceProd:
	case OP_ReduceL1:
	case OP_ReduceL2:
	case OP_ReduceLogSum:
	case OP_ReduceLogSumExp:
	case OP_ReduceSumSquare:
		return lower_reduce_op(cg, n);
	case OP_ArgMax:
	case OP_ArgMin:
		return lower_arg(cg, n);
	case OP_Softmax:
	case OP_LogSoftmax:
	case OP_Hardmax:
		return cg_lower_softmax(cg, n);
	case OP_CumSum:
		return lower_cumsum(cg, n);
	case OP_TopK:
		return lower_topk(cg, n);
	default:
		return cg_unsupported(cg, -1, "not a reduction op");
	}
}
