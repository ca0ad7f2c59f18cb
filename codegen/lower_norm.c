/* codegen/lower_norm.c — BatchNormalization (inference), InstanceNormalization,
 * LayerNormalization, MeanVarianceNormalization, LRN.
 *
 * Statistics are computed in two passes (mean, then the mean of squared
 * deviations) in f32 (f64 for f64 tensors), which is both what the ONNX
 * reference does and numerically safer than E[x^2] - E[x]^2.  Every loop
 * walks the innermost dimension contiguously.  LayerNormalization with a
 * Scale (and B) of the full normalized shape — the usual case — runs its
 * three passes as explicit vector loops (vec.h) with partial sums; the
 * fused GatherLayerNorm runs the same loops reading x through its gather's
 * row index (each step one vector load when its lanes lie in one gathered
 * row, else lane by lane), so it gives the unfused pair's bits.
 *
 * Semantics: BatchNormalization-15 (training_mode = 1 and the running-stat
 * outputs are rejected; opset < 9 with spatial = 0 too),
 * InstanceNormalization-6, LayerNormalization-17 (normalizes dims
 * [axis, rank); Scale/B broadcast to those dims; Mean and InvStdDev keep
 * the reduced dims as 1), MeanVarianceNormalization-13
 * (Y = (X - E[X]) / (sqrt(Var[X]) + 1e-9) over `axes`, default [0,2,3]),
 * LRN-13 (window of `size` channels: c - floor((size-1)/2) ..
 * c + ceil((size-1)/2), Y = X / (bias + alpha/size * sum x^2)^beta).
 */
#include "lower.h"

#include "kernels/kernels.h"
#include "mathfn.h"
#include "vec.h"

#include <assert.h>
#include <string.h>

static DType acc_dtype(DType t)
{
	return t == DT_F64 ? DT_F64 : DT_F32;
}

static LLVMValueRef fadd(Cg *cg, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildFAdd(cg->b, a, b, ""); }
static LLVMValueRef fsub(Cg *cg, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildFSub(cg->b, a, b, ""); }
static LLVMValueRef fmul(Cg *cg, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildFMul(cg->b, a, b, ""); }
static LLVMValueRef fdiv(Cg *cg, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildFDiv(cg->b, a, b, ""); }

static bool all_float(Cg *cg, const Node *n)
{
	for (int i = 0; i < n->nin; i++)
		if (n->in[i] != IR_NONE && !dtype_is_float(gval(cg->g, n->in[i])->dtype))
			return cg_unsupported(cg, i, "%s of %s", n->op_type,
			                      dtype_name(gval(cg->g, n->in[i])->dtype));
	for (int i = 0; i < n->nout; i++)
		if (n->out[i] != IR_NONE && !dtype_is_float(gval(cg->g, n->out[i])->dtype))
			return cg_unsupported(cg, -1, "%s output of %s", n->op_type,
			                      dtype_name(gval(cg->g, n->out[i])->dtype));
	return true;
}

static int64_t prod(const int64_t *d, int n)
{
	int64_t p = 1;
	for (int i = 0; i < n; i++)
		p *= d[i];
	return p;
}

/* acc = sum over j < len of f(x[off + j]); f is identity, or (x-mean)^2
 * when mean != NULL.  Returns the sum (compute type of ad). */
static LLVMValueRef sum_range(Cg *cg, ValueId x, LLVMValueRef off, int64_t len, DType ad,
                              LLVMValueRef mean)
{
	LLVMTypeRef at = cg_compute_type(cg, ad);
	LLVMValueRef acc = cg_alloca(cg, at, "sum");
	LLVMBuildStore(cg->b, cg_const(cg, ad, 0), acc);
	CgLoop l;
	cg_for(cg, &l, 0, len);
	LLVMValueRef v = cg_load_as(cg, x, cg_add_i64(cg, off, l.iv), ad);
	if (mean) {
		v = fsub(cg, v, mean);
		v = fmul(cg, v, v);
	}
	LLVMBuildStore(cg->b, fadd(cg, LLVMBuildLoad2(cg->b, at, acc, ""), v), acc);
	cg_for_end(cg, &l);
	return LLVMBuildLoad2(cg->b, at, acc, "");
}

/* ---- BatchNormalization ------------------------------------------------------- */

/* Y = (X - mean[c]) * scale[c] / sqrt(var[c] + epsilon) + B[c], c = dim 1. */
static bool lower_batchnorm(Cg *cg, const Node *n)
{
	if (!all_float(cg, n))
		return false;
	if (attr_int(n, "training_mode", 0) != 0)
		return cg_unsupported(cg, -1, "training_mode = 1 (only inference is compiled)");
	if (n->opset < 9 && attr_int(n, "spatial", 1) == 0)
		return cg_unsupported(cg, -1, "spatial = 0");
	for (int i = 1; i < n->nout; i++)
		if (n->out[i] != IR_NONE)
			return cg_unsupported(cg, -1, "running mean/var outputs (training only)");
	Value *X = gval(cg->g, n->in[0]);
	int r = X->shape.rank;
	if (r < 2)
		return cg_unsupported(cg, 0, "BatchNormalization needs rank >= 2");
	int64_t N = X->shape.dims[0], C = X->shape.dims[1], sp = prod(X->shape.dims + 2, r - 2);
	for (int i = 1; i < 5; i++)
		if (shape_numel(&gval(cg->g, n->in[i])->shape) != C)
			return cg_unsupported(cg, i, "expected %lld elements", (long long)C);
	DType ad = acc_dtype(X->dtype);
	double eps = attr_float(n, "epsilon", 1e-5f);
	CgLoop ln, lc, ls;
	cg_for(cg, &ln, 0, N);
	cg_for(cg, &lc, 0, C);
	LLVMValueRef scale = cg_load_as(cg, n->in[1], lc.iv, ad), bias = cg_load_as(cg, n->in[2], lc.iv, ad);
	LLVMValueRef mean = cg_load_as(cg, n->in[3], lc.iv, ad), var = cg_load_as(cg, n->in[4], lc.iv, ad);
	LLVMValueRef a = fdiv(cg, scale, cg_math_sqrt(cg, fadd(cg, var, cg_const(cg, ad, eps))));
	LLVMValueRef off = cg_mul_i64(cg, cg_add_i64(cg, cg_mul_i64(cg, ln.iv, C), lc.iv), sp);
	cg_for(cg, &ls, 0, sp);
	LLVMValueRef idx = cg_add_i64(cg, off, ls.iv);
	LLVMValueRef x = cg_load_as(cg, n->in[0], idx, ad);
	cg_store_as(cg, n->out[0], idx, fadd(cg, fmul(cg, fsub(cg, x, mean), a), bias), ad);
	cg_for_end(cg, &ls);
	cg_for_end(cg, &lc);
	cg_for_end(cg, &ln);
	return true;
}

/* ---- InstanceNormalization -------------------------------------------------- */

/* Y = scale[c] * (X - mean) / sqrt(var + epsilon) + B[c], statistics per
 * (n, c) over the spatial dims. */
static bool lower_instancenorm(Cg *cg, const Node *n)
{
	if (!all_float(cg, n))
		return false;
	Value *X = gval(cg->g, n->in[0]);
	int r = X->shape.rank;
	if (r < 3)
		return cg_unsupported(cg, 0, "InstanceNormalization needs rank >= 3");
	int64_t N = X->shape.dims[0], C = X->shape.dims[1], sp = prod(X->shape.dims + 2, r - 2);
	for (int i = 1; i < 3; i++)
		if (shape_numel(&gval(cg->g, n->in[i])->shape) != C)
			return cg_unsupported(cg, i, "expected %lld elements", (long long)C);
	DType ad = acc_dtype(X->dtype);
	double eps = attr_float(n, "epsilon", 1e-5f);
	LLVMValueRef inv_sp = cg_const(cg, ad, 1.0 / (double)sp);
	CgLoop lnc, ls;
	cg_for(cg, &lnc, 0, N * C);
	LLVMValueRef c = LLVMBuildSRem(cg->b, lnc.iv, cg_i64(cg, C), "");
	LLVMValueRef off = cg_mul_i64(cg, lnc.iv, sp);
	LLVMValueRef mean = fmul(cg, sum_range(cg, n->in[0], off, sp, ad, NULL), inv_sp);
	LLVMValueRef var = fmul(cg, sum_range(cg, n->in[0], off, sp, ad, mean), inv_sp);
	LLVMValueRef inv = fdiv(cg, cg_const(cg, ad, 1.0),
	                        cg_math_sqrt(cg, fadd(cg, var, cg_const(cg, ad, eps))));
	LLVMValueRef a = fmul(cg, inv, cg_load_as(cg, n->in[1], c, ad));
	LLVMValueRef bias = cg_load_as(cg, n->in[2], c, ad);
	cg_for(cg, &ls, 0, sp);
	LLVMValueRef idx = cg_add_i64(cg, off, ls.iv);
	LLVMValueRef x = cg_load_as(cg, n->in[0], idx, ad);
	cg_store_as(cg, n->out[0], idx, fadd(cg, fmul(cg, fsub(cg, x, mean), a), bias), ad);
	cg_for_end(cg, &ls);
	cg_for_end(cg, &lnc);
	return true;
}

/* ---- LayerNormalization ------------------------------------------------------ */

typedef struct RowLn {
	const CgLnRows *a;
	int pass;                       /* 0 sum, 1 squared deviations, 2 output */
	LLVMValueRef acc[CG_VMAX_SLOTS];
	LLVMValueRef off;               /* row start */
	LLVMValueRef mean, inv;         /* splat */
	bool lanes;                     /* through rows, lane by lane */
} RowLn;

/* The element of x holding element e of the rows (CgLnRows.row_len). */
static LLVMValueRef ln_src(Cg *cg, const CgLnRows *a, LLVMValueRef e)
{
	if (a->row_len == 0)
		return e;
	LLVMValueRef u = cg_i64(cg, a->row_len);
	LLVMValueRef src = cg_load_as(cg, a->rows, LLVMBuildUDiv(cg->b, e, u, ""), DT_I64);
	return cg_add_i64(cg, cg_mul_i64(cg, src, a->row_len), LLVMBuildURem(cg->b, e, u, ""));
}

/* The step's lanes of x at element li of the rows (masked-off tail lanes
 * 0).  Through rows, one vector load when the step's lanes lie in one
 * gathered row (!r->lanes); else lane by lane. */
static LLVMValueRef ln_load(CgVec *v, const RowLn *r, LLVMValueRef li)
{
	Cg *cg = v->cg;
	const CgLnRows *a = r->a;
	if (a->xrow) { /* the row's contiguous copy (cg_layernorm_stats) */
		v->idx = LLVMBuildNSWSub(cg->b, li, r->off, "");
		return cg_vload_f32(v, a->xrow, 0);
	}
	if (!r->lanes) {
		v->idx = ln_src(cg, a, li);
		return cg_vload(v, a->x, 0);
	}
	int valid = v->mask ? (int)(a->inner % v->w) : v->w; /* the tail's lanes come first */
	LLVMValueRef x = cg_vk(v, 0);
	for (int k = 0; k < valid; k++) {
		LLVMValueRef s = cg_load_as(cg, a->x, ln_src(cg, a, cg_add_i64(cg, li, cg_i64(cg, k))), v->ad);
		x = LLVMBuildInsertElement(cg->b, x, s, cg_i32(cg, k), "");
	}
	return x;
}

/* One step over the normalized row; v->idx counts from the row start. */
static void ln_step(CgVec *v, void *ctx)
{
	RowLn *r = ctx;
	Cg *cg = v->cg;
	const CgLnRows *a = r->a;
	LLVMValueRef j = v->idx;
	LLVMValueRef li = cg_add_i64(cg, r->off, j);
	LLVMValueRef x = ln_load(v, r, li);
	if (r->pass < 2) {
		if (r->pass == 1) {
			x = fsub(cg, x, r->mean);
			x = fmul(cg, x, x);
			if (v->mask)
				x = LLVMBuildSelect(cg->b, v->mask, x, cg_vk(v, 0), "");
		}
		cg_vacc_put(v, r->acc, fadd(cg, cg_vacc_get(v, r->acc), x));
	} else {
		v->idx = j;
		LLVMValueRef y = fmul(cg, fmul(cg, fsub(cg, x, r->mean), r->inv), cg_vload(v, a->scale, 0));
		if (a->bias != IR_NONE)
			y = fadd(cg, y, cg_vload(v, a->bias, 0));
		v->idx = li;
		cg_vstore(v, a->y, y);
	}
	v->idx = j;
}

/* Whether the loads through a's row index go lane by lane (see ln_load):
 * a step (w lanes from a multiple of w) stays in one gathered row when a
 * normalized row lies in one (u % inner == 0, tail included) or is whole
 * gathered rows of whole steps. */
static bool ln_lanes(const CgLnRows *a, const CgVec *v)
{
	int64_t gu = a->row_len, inner = a->inner;
	return gu > 0 && v->w > 1 && gu % inner != 0 && !(inner % gu == 0 && gu % v->w == 0);
}

/* The statistics' accumulators start at -0: x + -0 is x for every x, so
 * LLVM drops each accumulator's first add (from +0 it must keep it:
 * +0 + -0 is +0).  The sums are those from +0 but for the sign of a zero
 * sum, which needs every element of the row to be a zero (a row of -0s
 * now has mean -0). */
#define LN_ACC0 (-0.0)

/* Passes 0 and 1 over row r->off: the mean and inv (scalars). */
static void ln_stats(Cg *cg, CgVec *v, RowLn *r, LLVMValueRef *mean, LLVMValueRef *inv)
{
	const CgLnRows *a = r->a;
	int u = 4;
	LLVMValueRef inv_n = cg_const(cg, v->ad, 1.0 / (double)a->inner);
	LLVMValueRef sums[2];
	for (r->pass = 0; r->pass < 2; r->pass++) {
		cg_vacc_init(v, r->acc, u, LN_ACC0);
		cg_vrow(v, cg_i64(cg, 0), a->inner, u, ln_step, r);
		sums[r->pass] = fmul(cg, cg_vacc_reduce(v, r->acc, u, CG_COMB_ADD), inv_n);
		if (r->pass == 0)
			r->mean = cg_vsplat(v, sums[0]);
	}
	*mean = sums[0];
	*inv = fdiv(cg, cg_const(cg, v->ad, 1.0), cg_math_sqrt(cg, fadd(cg, sums[1], cg_const(cg, v->ad, a->eps))));
}

void cg_layernorm_stats(Cg *cg, const CgLnRows *a, LLVMValueRef row, LLVMValueRef *mean, LLVMValueRef *inv)
{
	CgVec v;
	cg_vinit(cg, &v, gval(cg->g, a->x)->dtype);
	RowLn r = {.a = a, .lanes = !a->xrow && ln_lanes(a, &v),
	           .off = a->xrow ? cg_i64(cg, 0) : cg_mul_i64(cg, row, a->inner)};
	ln_stats(cg, &v, &r, mean, inv);
}

void cg_layernorm_stats_rows(Cg *cg, const CgLnRows *a, int n, CgRowPtrFn rowp, const void *rarg,
                             LLVMValueRef meanp, LLVMValueRef invp)
{
	CgVec v;
	cg_vinit(cg, &v, gval(cg->g, a->x)->dtype);
	assert(v.ad == DT_F32 && v.w == n && n > 1);
	int u = 4; /* ln_stats' */
	LLVMValueRef part = cg_alloca(cg, LLVMArrayType2(v.t, (uint64_t)n), "lnpart");
	LLVMValueRef sums = NULL;
	for (int pass = 0; pass < 2; pass++) {
		/* each row's accumulators combined (ln_stats' vectors before
		 * their halving) into part[j]: the rows' chains independent */
		CgLoop lj;
		cg_for(cg, &lj, 0, n);
		CgLnRows ar = *a;
		ar.xrow = rowp(cg, rarg, lj.iv);
		RowLn r = {.a = &ar, .pass = pass, .off = cg_i64(cg, 0)};
		if (pass == 1) {
			LLVMValueRef m = LLVMBuildLoad2(cg->b, cg->t_f32, cg_gep_f32(cg, meanp, lj.iv), "");
			LLVMSetAlignment(m, 4);
			r.mean = cg_vsplat(&v, m);
		}
		cg_vacc_init(&v, r.acc, u, LN_ACC0);
		cg_vrow(&v, cg_i64(cg, 0), a->inner, u, ln_step, &r);
		LLVMValueRef idx[2] = { cg_i64(cg, 0), lj.iv };
		LLVMValueRef pp = LLVMBuildInBoundsGEP2(cg->b, LLVMArrayType2(v.t, (uint64_t)n), part, idx, 2, "");
		LLVMBuildStore(cg->b, cg_vacc_slots(&v, r.acc, u, CG_COMB_ADD), pp);
		cg_for_end(cg, &lj);
		LLVMValueRef x[32];
		for (int j = 0; j < n; j++) {
			LLVMValueRef ij[2] = { cg_i64(cg, 0), cg_i64(cg, j) };
			LLVMValueRef pp = LLVMBuildInBoundsGEP2(cg->b, LLVMArrayType2(v.t, (uint64_t)n), part, ij, 2, "");
			x[j] = LLVMBuildLoad2(cg->b, v.t, pp, "");
		}
		sums = fmul(cg, cg_vreduce_rows(&v, x, CG_COMB_ADD), cg_vk(&v, 1.0 / (double)a->inner));
		if (pass == 0)
			LLVMSetAlignment(LLVMBuildStore(cg->b, sums, meanp), 4);
	}
	LLVMValueRef inv = fdiv(cg, cg_vk(&v, 1.0), cg_math_sqrt(cg, fadd(cg, sums, cg_vk(&v, a->eps))));
	LLVMSetAlignment(LLVMBuildStore(cg->b, inv, invp), 4);
}

void cg_layernorm_rows(Cg *cg, void *arg, LLVMValueRef r0, LLVMValueRef r1)
{
	const CgLnRows *a = arg;
	CgVec v;
	cg_vinit(cg, &v, gval(cg->g, a->x)->dtype);
	RowLn r = {.a = a, .lanes = ln_lanes(a, &v)};
	CgLoop lo;
	cg_for_v(cg, &lo, r0, r1);
	r.off = cg_mul_i64(cg, lo.iv, a->inner);
	LLVMValueRef mean, inv;
	ln_stats(cg, &v, &r, &mean, &inv);
	if (a->mean != IR_NONE)
		cg_store_as(cg, a->mean, lo.iv, mean, v.ad);
	if (a->inv_std != IR_NONE)
		cg_store_as(cg, a->inv_std, lo.iv, inv, v.ad);
	r.inv = cg_vsplat(&v, inv);
	cg_vrow(&v, cg_i64(cg, 0), a->inner, 1, ln_step, &r);
	cg_for_end(cg, &lo);
}

static void layernorm_rows(Cg *cg, const Node *n, int64_t outer, int64_t inner, ValueId mv, ValueId iv)
{
	CgLnRows a = {
		.x = n->in[0], .scale = n->in[1], .bias = n->nin > 2 ? n->in[2] : IR_NONE, .y = n->out[0],
		.mean = mv, .inv_std = iv, .inner = inner, .eps = attr_float(n, "epsilon", 1e-5f),
		.rows = IR_NONE,
	};
	/* three passes over each row */
	kern_rows(cg, outer, 3 * outer * inner, cg_layernorm_rows, &a);
}

/* LayerNormalization-17 over dims [axis, rank). */
static bool lower_layernorm(Cg *cg, const Node *n)
{
	if (!all_float(cg, n))
		return false;
	Value *X = gval(cg->g, n->in[0]);
	int r = X->shape.rank;
	int64_t axis = attr_int(n, "axis", -1);
	if (axis < 0)
		axis += r;
	if (axis < 0 || axis >= r)
		return cg_unsupported(cg, -1, "axis %lld out of range for rank %d",
		                      (long long)attr_int(n, "axis", -1), r);
	if (attr_int(n, "stash_type", 1) != 1)
		return cg_unsupported(cg, -1, "stash_type %lld", (long long)attr_int(n, "stash_type", 1));
	int nr = r - (int)axis;
	int64_t outer = prod(X->shape.dims, (int)axis), inner = prod(X->shape.dims + axis, nr);
	const int64_t *nd = X->shape.dims + axis;
	int64_t sstr[IR_MAX_RANK], bstr[IR_MAX_RANK], xstr[IR_MAX_RANK];
	ValueId sv = n->in[1], bv = n->nin > 2 ? n->in[2] : IR_NONE;
	for (int k = 1; k < 3; k++) {
		ValueId v = k == 1 ? sv : bv;
		if (v == IR_NONE)
			continue;
		const Shape *s = &gval(cg->g, v)->shape;
		bool ok = s->rank <= nr;
		for (int i = 0; ok && i < s->rank; i++)
			ok = s->dims[i] == 1 || s->dims[i] == nd[nr - s->rank + i];
		if (!ok)
			return cg_unsupported(cg, k, "does not broadcast to the normalized shape");
		cg_broadcast_strides(s, nr, k == 1 ? sstr : bstr);
	}
	for (int i = nr - 1; i >= 0; i--)
		xstr[i] = i == nr - 1 ? 1 : xstr[i + 1] * nd[i + 1];
	ValueId mv = n->nout > 1 ? n->out[1] : IR_NONE, iv = n->nout > 2 ? n->out[2] : IR_NONE;
	if ((mv != IR_NONE && shape_numel(&gval(cg->g, mv)->shape) != outer) ||
	    (iv != IR_NONE && shape_numel(&gval(cg->g, iv)->shape) != outer))
		return cg_unsupported(cg, -1, "Mean/InvStdDev must have %lld elements", (long long)outer);
	if (shape_numel(&gval(cg->g, sv)->shape) == inner &&
	    (bv == IR_NONE || shape_numel(&gval(cg->g, bv)->shape) == inner) &&
	    gval(cg->g, sv)->dtype == X->dtype && (bv == IR_NONE || gval(cg->g, bv)->dtype == X->dtype)) {
		layernorm_rows(cg, n, outer, inner, mv, iv);
		return true;
	}

	DType ad = acc_dtype(X->dtype);
	double eps = attr_float(n, "epsilon", 1e-5f);
	LLVMValueRef inv_n = cg_const(cg, ad, 1.0 / (double)inner);
	CgLoop lo;
	CgNest in;
	cg_for(cg, &lo, 0, outer);
	LLVMValueRef off = cg_mul_i64(cg, lo.iv, inner);
	LLVMValueRef mean = fmul(cg, sum_range(cg, n->in[0], off, inner, ad, NULL), inv_n);
	LLVMValueRef var = fmul(cg, sum_range(cg, n->in[0], off, inner, ad, mean), inv_n);
	LLVMValueRef inv = fdiv(cg, cg_const(cg, ad, 1.0),
	                        cg_math_sqrt(cg, fadd(cg, var, cg_const(cg, ad, eps))));
	if (mv != IR_NONE)
		cg_store_as(cg, mv, lo.iv, mean, ad);
	if (iv != IR_NONE)
		cg_store_as(cg, iv, lo.iv, inv, ad);
	cg_nest(cg, &in, nr, nd);
	LLVMValueRef idx = cg_add_i64(cg, off, cg_linear(cg, nr, in.iv, xstr));
	LLVMValueRef y = fmul(cg, fsub(cg, cg_load_as(cg, n->in[0], idx, ad), mean), inv);
	y = fmul(cg, y, cg_load_as(cg, sv, cg_linear(cg, nr, in.iv, sstr), ad));
	if (bv != IR_NONE)
		y = fadd(cg, y, cg_load_as(cg, bv, cg_linear(cg, nr, in.iv, bstr), ad));
	cg_store_as(cg, n->out[0], idx, y, ad);
	cg_nest_end(cg, &in);
	cg_for_end(cg, &lo);
	return true;
}

/* GatherLayerNorm (ops.def): LayerNormalization's rows over the last axis,
 * x read through the gather's row index. */
static bool lower_gather_layernorm(Cg *cg, const Node *n)
{
	const Value *Y = gval(cg->g, n->out[0]), *I = gval(cg->g, n->in[1]);
	int64_t ny = shape_numel(&Y->shape), R = I->shape.dims[0];
	if (I->kind != VK_CONST || !dtype_is_int(I->dtype))
		return cg_unsupported(cg, 1, "GatherLayerNorm with run-time indices");
	if (ny == 0)
		return true;
	int64_t inner = Y->shape.dims[Y->shape.rank - 1], outer = ny / inner;
	CgLnRows a = {
		.x = n->in[0], .scale = n->in[2], .bias = n->nin > 3 ? n->in[3] : IR_NONE, .y = n->out[0],
		.mean = IR_NONE, .inv_std = IR_NONE, .inner = inner, .eps = attr_float(n, "epsilon", 1e-5f),
		.rows = n->in[1], .row_len = ny / R,
	};
	kern_rows(cg, outer, 3 * ny, cg_layernorm_rows, &a);
	return true;
}

/* ---- MeanVarianceNormalization ------------------------------------------------ */

static bool lower_mvn(Cg *cg, const Node *n)
{
	if (!all_float(cg, n))
		return false;
	Value *X = gval(cg->g, n->in[0]);
	int r = X->shape.rank;
	bool red[IR_MAX_RANK] = {false};
	const int64_t *ax;
	int na = attr_ints(n, "axes", &ax);
	static const int64_t def_axes[3] = {0, 2, 3};
	if (na < 0) {
		ax = def_axes;
		na = 3;
	}
	for (int i = 0; i < na; i++) {
		int64_t a = ax[i] < 0 ? ax[i] + r : ax[i];
		if (a < 0 || a >= r)
			return cg_unsupported(cg, -1, "axis %lld out of range for rank %d", (long long)ax[i], r);
		red[a] = true;
	}
	int64_t xs[IR_MAX_RANK], kd[IR_MAX_RANK], ks[IR_MAX_RANK], rd[IR_MAX_RANK], rs[IR_MAX_RANK];
	int nk = 0, nrd = 0;
	shape_strides(&X->shape, xs);
	for (int i = 0; i < r; i++) {
		if (red[i]) {
			rd[nrd] = X->shape.dims[i];
			rs[nrd++] = xs[i];
		} else {
			kd[nk] = X->shape.dims[i];
			ks[nk++] = xs[i];
		}
	}
	int64_t cnt = prod(rd, nrd);
	DType ad = acc_dtype(X->dtype);
	LLVMTypeRef at = cg_compute_type(cg, ad);
	LLVMValueRef inv_n = cg_const(cg, ad, 1.0 / (double)cnt);
	LLVMValueRef acc = cg_alloca(cg, at, "acc");
	CgNest kn, rn;
	cg_nest(cg, &kn, nk, kd);
	LLVMValueRef off = cg_linear(cg, nk, kn.iv, ks);
	LLVMValueRef mean = NULL, sd = NULL;
	for (int pass = 0; pass < 3; pass++) {
		LLVMBuildStore(cg->b, cg_const(cg, ad, 0), acc);
		cg_nest(cg, &rn, nrd, rd);
		LLVMValueRef idx = cg_add_i64(cg, off, cg_linear(cg, nrd, rn.iv, rs));
		LLVMValueRef x = cg_load_as(cg, n->in[0], idx, ad);
		if (pass == 0) {
			LLVMBuildStore(cg->b, fadd(cg, LLVMBuildLoad2(cg->b, at, acc, ""), x), acc);
		} else if (pass == 1) {
			LLVMValueRef d = fsub(cg, x, mean);
			LLVMBuildStore(cg->b, fadd(cg, LLVMBuildLoad2(cg->b, at, acc, ""), fmul(cg, d, d)), acc);
		} else {
			cg_store_as(cg, n->out[0], idx, fdiv(cg, fsub(cg, x, mean), sd), ad);
		}
		cg_nest_end(cg, &rn);
		if (pass == 0)
			mean = fmul(cg, LLVMBuildLoad2(cg->b, at, acc, ""), inv_n);
		else if (pass == 1)
			sd = fadd(cg, cg_math_sqrt(cg, fmul(cg, LLVMBuildLoad2(cg->b, at, acc, ""), inv_n)),
			          cg_const(cg, ad, 1e-9));
	}
	cg_nest_end(cg, &kn);
	return true;
}

/* ---- LRN ------------------------------------------------------------------------ */

static bool lower_lrn(Cg *cg, const Node *n)
{
	if (!all_float(cg, n))
		return false;
	Value *X = gval(cg->g, n->in[0]);
	int r = X->shape.rank;
	int64_t size = attr_int(n, "size", 0);
	if (r < 2 || size < 1)
		return cg_unsupported(cg, -1, "LRN needs rank >= 2 and size >= 1");
	int64_t N = X->shape.dims[0], C = X->shape.dims[1], sp = prod(X->shape.dims + 2, r - 2);
	DType ad = acc_dtype(X->dtype);
	LLVMTypeRef at = cg_compute_type(cg, ad);
	double alpha = attr_float(n, "alpha", 1e-4f), beta = attr_float(n, "beta", 0.75f);
	double bias = attr_float(n, "bias", 1.0f);
	int64_t before = (size - 1) / 2, after = size - 1 - before;
	LLVMValueRef acc = cg_alloca(cg, at, "acc");
	CgLoop ln, lc, ls, lw;
	cg_for(cg, &ln, 0, N);
	cg_for(cg, &lc, 0, C);
	LLVMValueRef lo = LLVMBuildSub(cg->b, lc.iv, cg_i64(cg, before), "");
	lo = LLVMBuildSelect(cg->b, LLVMBuildICmp(cg->b, LLVMIntSLT, lo, cg_i64(cg, 0), ""),
	                     cg_i64(cg, 0), lo, "");
	LLVMValueRef hi = cg_add_i64(cg, lc.iv, cg_i64(cg, after + 1));
	hi = LLVMBuildSelect(cg->b, LLVMBuildICmp(cg->b, LLVMIntSGT, hi, cg_i64(cg, C), ""),
	                     cg_i64(cg, C), hi, "");
	LLVMValueRef nbase = cg_mul_i64(cg, ln.iv, C * sp);
	cg_for(cg, &ls, 0, sp);
	LLVMBuildStore(cg->b, cg_const(cg, ad, 0), acc);
	cg_for_v(cg, &lw, lo, hi);
	LLVMValueRef v = cg_load_as(cg, n->in[0], cg_add_i64(cg, nbase, cg_add_i64(cg, cg_mul_i64(cg, lw.iv, sp), ls.iv)), ad);
	LLVMBuildStore(cg->b, fadd(cg, LLVMBuildLoad2(cg->b, at, acc, ""), fmul(cg, v, v)), acc);
	cg_for_end(cg, &lw);
	LLVMValueRef idx = cg_add_i64(cg, nbase, cg_add_i64(cg, cg_mul_i64(cg, lc.iv, sp), ls.iv));
	LLVMValueRef den = fadd(cg, cg_const(cg, ad, bias),
	                        fmul(cg, cg_const(cg, ad, alpha / (double)size),
	                             LLVMBuildLoad2(cg->b, at, acc, "")));
	den = cg_math_pow(cg, den, cg_const(cg, ad, beta));
	cg_store_as(cg, n->out[0], idx, fdiv(cg, cg_load_as(cg, n->in[0], idx, ad), den), ad);
	cg_for_end(cg, &ls);
	cg_for_end(cg, &lc);
	cg_for_end(cg, &ln);
	return true;
}

/* BatchNormalization, InstanceNormalization, LayerNormalization,
 * GatherLayerNorm, MeanVarianceNormalization, LRN (see the file comment). */
bool cg_lower_norm(Cg *cg, const Node *n)
{
	switch (n->op) {
	case OP_BatchNormalization:
		return lower_batchnorm(cg, n);
	case OP_InstanceNormalization:
		return lower_instancenorm(cg, n);
	case OP_LayerNormalization:
		return lower_layernorm(cg, n);
	case OP_GatherLayerNorm:
		return lower_gather_layernorm(cg, n);
	case OP_MeanVarianceNormalization:
		return lower_mvn(cg, n);
	case OP_LRN:
		return lower_lrn(cg, n);
	default:
		IR_UNREACHABLE("cg_lower_norm: op not in this group");
	}
}
