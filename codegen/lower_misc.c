/* codegen/lower_misc.c — HannWindow, HammingWindow, BlackmanWindow,
 * ReverseSequence, GridSample, MaxUnpool, RoiAlign and Det.
 *
 * Windows: with N = size (periodic=1, default) or size - 1 (periodic=0) and
 * a = 2*pi*i/N, computed in double and rounded once to the output dtype:
 *   Hann     0.5 - 0.5 cos a
 *   Hamming  25/46 - 21/46 cos a
 *   Blackman 0.42 - 0.5 cos a + 0.08 cos 2a
 * ReverseSequence: along time_axis, the first len[b] elements of batch
 * entry b are reversed, the rest copied; len is clamped into [0, T] (a
 * longer one is undefined in ONNX) so no access leaves the buffers.
 * Elements are moved bit for bit.
 *
 * GridSample (4-D input): grid (x, y) in [-1, 1] is unnormalised to pixel
 * coordinates (align_corners: (g+1)/2*(len-1), else ((g+1)*len-1)/2).
 * nearest rounds half to even (after the coordinate padding), bilinear uses the 4 surrounding pixels,
 * bicubic 16 with Keys weights (a = -0.75).  padding_mode: zeros reads 0
 * outside; border clamps the coordinate, then each tap; reflection
 * reflects the coordinate, then each tap, about [0, len-1]
 * (align_corners) or [-0.5, len-0.5], truncating to an index.  Bicubic
 * with border/reflection padding is not lowered (implementations
 * disagree on whether the coordinate is padded first).
 *
 * MaxUnpool: the output is zeroed, then y[I[e]] = x[e] for every element e.
 * Indices are flat over the default unpooled shape (from kernel_shape,
 * strides, pads); with an output_shape that differs, an index is split into
 * coordinates of the default shape and stored at the same coordinates of
 * the output (as the ONNX test data expects).  An index is valid in
 * [0, P-1], P the element count of the default unpooled shape, when its
 * coordinates also lie inside the output; others are undefined in ONNX.
 * By default (--index-oob=error) every index is checked before the node
 * writes anything (the zeroing included), and the node returns
 * CG_STATUS_INDEX (<PREFIX>_ERR_INDEX) if one is out of range; with
 * --index-oob=clamp there is no check.  Either way each index (each
 * coordinate) is then clamped into the output, so no store leaves it.
 *
 * RoiAlign (mode avg): per roi, bin (ph, pw) and channel, the mean of
 * grid_h x grid_w bilinear samples at the bin's regular sub-grid; the
 * bilinear sampler follows the reference (ONNX Runtime's): samples beyond
 * [-1, H] x [-1, W] count as 0, coordinates below 0 clamp to 0, the last
 * row/column repeats.  half_pixel shifts the roi by -0.5;
 * output_half_pixel instead forces roi sizes >= 1.  sampling_ratio 0 uses
 * ceil(roi size / output size) samples, computed at run time.  mode max is
 * not lowered.
 *
 * Det: per [M, M] matrix, Gaussian elimination with partial pivoting on a
 * double copy in a stack scratch (M <= DET_MAX_M): det = sign * prod(pivots);
 * a zero pivot column gives 0.
 */
#include "lower.h"
#include "lower_data.h"
#include "mathfn.h"

#include <string.h>

/* Window functions. */
static bool lower_window(Cg *cg, const Node *n)
{
	LLVMBuilderRef b = cg->b;
	ValueId yv = n->out[0];
	const Value *y = gval(cg->g, yv);
	int64_t size = y->shape.dims[0];
	double N = attr_int(n, "periodic", 1) ? (double)size : (double)(size - 1);
	LLVMTypeRef dt = cg->t_f64;
	CgLoop l;
	cg_for(cg, &l, 0, size);
	LLVMValueRef i = LLVMBuildSIToFP(b, l.iv, dt, "");
	LLVMValueRef a = LLVMBuildFDiv(b, LLVMBuildFMul(b, i, LLVMConstReal(dt, 2 * 3.14159265358979323846), ""),
	                               LLVMConstReal(dt, N), "");
	LLVMValueRef c1 = cg_math_cos(cg, a), v;
	if (n->op == OP_HannWindow) {
		v = LLVMBuildFSub(b, LLVMConstReal(dt, 0.5), LLVMBuildFMul(b, LLVMConstReal(dt, 0.5), c1, ""), "");
	} else if (n->op == OP_HammingWindow) {
		v = LLVMBuildFSub(b, LLVMConstReal(dt, 25.0 / 46.0),
		                  LLVMBuildFMul(b, LLVMConstReal(dt, 21.0 / 46.0), c1, ""), "");
	} else {
		LLVMValueRef c2 = cg_math_cos(cg, LLVMBuildFMul(b, a, LLVMConstReal(dt, 2.0), ""));
		v = LLVMBuildFSub(b, LLVMConstReal(dt, 0.42), LLVMBuildFMul(b, LLVMConstReal(dt, 0.5), c1, ""), "");
		v = LLVMBuildFAdd(b, v, LLVMBuildFMul(b, LLVMConstReal(dt, 0.08), c2, ""), "");
	}
	DType yt = y->dtype == DT_F16 || y->dtype == DT_BF16 ? DT_F32 : y->dtype;
	cg_store(cg, yv, l.iv, cg_convert(cg, v, DT_F64, yt));
	cg_for_end(cg, &l);
	return true;
}

/* ReverseSequence. */
static bool lower_reverse_sequence(Cg *cg, const Node *n)
{
	LLVMBuilderRef b = cg->b;
	ValueId xv = n->in[0], lv = n->in[1], yv = n->out[0];
	const Value *x = gval(cg->g, xv);
	int r = x->shape.rank;
	int ba = (int)attr_int(n, "batch_axis", 1), ta = (int)attr_int(n, "time_axis", 0);
	if (!((ba == 0 && ta == 1) || (ba == 1 && ta == 0)))
		return cg_unsupported(cg, -1, "batch_axis/time_axis must be 0 and 1");
	int64_t st[IR_MAX_RANK], T = x->shape.dims[ta];
	shape_strides(&x->shape, st);
	DType bt = cg_dm_bits_dtype(x->dtype), lt = gval(cg->g, lv)->dtype;
	CgNest nest;
	cg_nest(cg, &nest, r, x->shape.dims);
	LLVMValueRef idx = cg_linear(cg, r, nest.iv, st);
	LLVMValueRef len = cg_load(cg, lv, nest.iv[ba]);
	if (lt != DT_I64)
		len = LLVMBuildSExt(b, len, cg->t_i64, "");
	len = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntSLT, len, cg_i64(cg, 0), ""), cg_i64(cg, 0), len, "");
	len = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntSGT, len, cg_i64(cg, T), ""), cg_i64(cg, T), len, "");
	LLVMValueRef t = nest.iv[ta];
	LLVMValueRef rt = LLVMBuildSub(b, LLVMBuildSub(b, len, cg_i64(cg, 1), ""), t, "");
	LLVMValueRef src_t = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntSLT, t, len, ""), rt, t, "");
	LLVMValueRef src = LLVMBuildAdd(b, idx, LLVMBuildMul(b, LLVMBuildSub(b, src_t, t, ""),
	                                                     cg_i64(cg, st[ta]), ""), "");
	LLVMValueRef e = cg_load_ptr(cg, bt, cg_ptr(cg, xv), src);
	cg_store_ptr(cg, bt, cg_ptr(cg, yv), idx, e);
	cg_nest_end(cg, &nest);
	return true;
}

/* GridSample: a sample coordinate along one axis of length len. */
typedef struct GsAxis {
	int64_t len;
	double lo, hi;   /* reflection bounds */
} GsAxis;

static LLVMValueRef fconst(Cg *cg, LLVMTypeRef t, double v) { return LLVMConstReal(t, v); }

static LLVMValueRef fclamp(Cg *cg, LLVMValueRef x, double lo, double hi)
{
	LLVMBuilderRef b = cg->b;
	LLVMTypeRef t = LLVMTypeOf(x);
	x = LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealOLT, x, fconst(cg, t, lo), ""), fconst(cg, t, lo), x, "");
	return LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealOGT, x, fconst(cg, t, hi), ""), fconst(cg, t, hi), x, "");
}

/* Reflects x into [lo, hi] (repeatedly, as a mirror); NaN stays NaN. */
static LLVMValueRef freflect(Cg *cg, LLVMValueRef x, double lo, double hi)
{
	LLVMBuilderRef b = cg->b;
	LLVMTypeRef t = LLVMTypeOf(x);
	double rng = hi - lo;
	if (rng <= 0)
		return fconst(cg, t, lo);
	LLVMValueRef L = fconst(cg, t, lo), H = fconst(cg, t, hi), R = fconst(cg, t, rng);
	LLVMValueRef below = LLVMBuildFCmp(b, LLVMRealOLT, x, L, "");
	LLVMValueRef above = LLVMBuildFCmp(b, LLVMRealOGT, x, H, "");
	LLVMValueRef dx = LLVMBuildSelect(b, below, LLVMBuildFSub(b, L, x, ""), LLVMBuildFSub(b, x, H, ""), "");
	/* n = trunc(dx / rng) with dx >= 0 when used; keep it finite for fptosi */
	LLVMValueRef q = fclamp(cg, LLVMBuildFDiv(b, dx, R, ""), 0, 1e15);
	q = LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealUNO, q, q, ""), fconst(cg, t, 0), q, "");
	LLVMValueRef n = LLVMBuildFPToSI(b, q, cg->t_i64, "");
	LLVMValueRef r = LLVMBuildFSub(b, dx, LLVMBuildFMul(b, LLVMBuildSIToFP(b, n, t, ""), R, ""), "");
	LLVMValueRef even = LLVMBuildICmp(b, LLVMIntEQ, LLVMBuildAnd(b, n, cg_i64(cg, 1), ""), cg_i64(cg, 0), "");
	LLVMValueRef lo_r = LLVMBuildFAdd(b, L, r, ""), hi_r = LLVMBuildFSub(b, H, r, "");
	LLVMValueRef vb = LLVMBuildSelect(b, even, lo_r, hi_r, "");
	LLVMValueRef va = LLVMBuildSelect(b, even, hi_r, lo_r, "");
	return LLVMBuildSelect(b, below, vb, LLVMBuildSelect(b, above, va, x, ""), "");
}

/* Index and validity of integral tap coordinate t (float) on axis a. */
static void gs_tap(Cg *cg, const GsAxis *a, int pad, LLVMValueRef t, LLVMValueRef *idx, LLVMValueRef *ok)
{
	LLVMBuilderRef b = cg->b;
	LLVMTypeRef ft = LLVMTypeOf(t);
	double top = (double)(a->len - 1);
	if (pad == 2)
		t = freflect(cg, t, a->lo, a->hi);
	/* in range of i64 and never NaN before the conversion */
	LLVMValueRef c = fclamp(cg, t, -2.0, top + 2.0);
	c = LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealUNO, c, c, ""), fconst(cg, ft, -2.0), c, "");
	LLVMValueRef i = LLVMBuildFPToSI(b, c, cg->t_i64, "");
	LLVMValueRef in = LLVMBuildAnd(b, LLVMBuildICmp(b, LLVMIntSGE, i, cg_i64(cg, 0), ""),
	                               LLVMBuildICmp(b, LLVMIntSLE, i, cg_i64(cg, a->len - 1), ""), "");
	*ok = pad == 0 ? in : LLVMConstInt(cg->t_i1, 1, 0);
	i = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntSLT, i, cg_i64(cg, 0), ""), cg_i64(cg, 0), i, "");
	*idx = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntSGT, i, cg_i64(cg, a->len - 1), ""),
	                       cg_i64(cg, a->len - 1), i, "");
}

/* Keys cubic weights (a = -0.75) of fractional offset d in [0, 1). */
static void gs_cubic(Cg *cg, LLVMValueRef d, LLVMValueRef *w)
{
	LLVMBuilderRef b = cg->b;
	LLVMTypeRef t = LLVMTypeOf(d);
	double A = -0.75;
	LLVMValueRef one = fconst(cg, t, 1), two = fconst(cg, t, 2);
	LLVMValueRef xs[4] = {LLVMBuildFAdd(b, d, one, ""), d, LLVMBuildFSub(b, one, d, ""),
	                      LLVMBuildFSub(b, two, d, "")};
	for (int k = 0; k < 4; k++) {
		LLVMValueRef x = xs[k], v;
		if (k == 1 || k == 2) { /* ((A+2)x - (A+3)) x x + 1 */
			v = LLVMBuildFSub(b, LLVMBuildFMul(b, fconst(cg, t, A + 2), x, ""), fconst(cg, t, A + 3), "");
			v = LLVMBuildFAdd(b, LLVMBuildFMul(b, LLVMBuildFMul(b, v, x, ""), x, ""), one, "");
		} else { /* ((A x - 5A) x + 8A) x - 4A */
			v = LLVMBuildFSub(b, LLVMBuildFMul(b, fconst(cg, t, A), x, ""), fconst(cg, t, 5 * A), "");
			v = LLVMBuildFAdd(b, LLVMBuildFMul(b, v, x, ""), fconst(cg, t, 8 * A), "");
			v = LLVMBuildFSub(b, LLVMBuildFMul(b, v, x, ""), fconst(cg, t, 4 * A), "");
		}
		w[k] = v;
	}
}

static bool lower_grid_sample(Cg *cg, const Node *n)
{
	LLVMBuilderRef b = cg->b;
	ValueId xv = n->in[0], gv = n->in[1], yv = n->out[0];
	const Value *x = gval(cg->g, xv), *y = gval(cg->g, yv);
	const char *ms = attr_string(n, "mode", "bilinear"), *ps = attr_string(n, "padding_mode", "zeros");
	int mode = !strcmp(ms, "nearest") ? 0 : !strcmp(ms, "bilinear") ? 1 : !strcmp(ms, "bicubic") ? 2 : -1;
	int pad = !strcmp(ps, "zeros") ? 0 : !strcmp(ps, "border") ? 1 : !strcmp(ps, "reflection") ? 2 : -1;
	bool align = attr_int(n, "align_corners", 0) != 0;
	if (mode < 0 || pad < 0)
		return cg_unsupported(cg, -1, "mode '%s' / padding_mode '%s' not supported", ms, ps);
	if (mode == 2 && pad != 0)
		return cg_unsupported(cg, -1, "bicubic with padding_mode '%s' is not supported", ps);
	int64_t N = x->shape.dims[0], C = x->shape.dims[1], H = x->shape.dims[2], W = x->shape.dims[3];
	int64_t Ho = y->shape.dims[2], Wo = y->shape.dims[3];
	if (N * C * Ho * Wo == 0)
		return true;
	if (H == 0 || W == 0)
		return cg_unsupported(cg, 0, "empty spatial input");
	DType ct = x->dtype == DT_F64 ? DT_F64 : DT_F32;
	LLVMTypeRef ft = ct == DT_F64 ? cg->t_f64 : cg->t_f32;
	GsAxis ax[2] = {{W, align ? 0 : -0.5, align ? (double)(W - 1) : W - 0.5},
	                {H, align ? 0 : -0.5, align ? (double)(H - 1) : H - 0.5}};
	int64_t dims[3] = {N, Ho, Wo};
	CgNest nest;
	cg_nest(cg, &nest, 3, dims);
	LLVMValueRef gi = LLVMBuildMul(b, LLVMBuildAdd(b, LLVMBuildMul(b, LLVMBuildAdd(b,
	                  LLVMBuildMul(b, nest.iv[0], cg_i64(cg, Ho), ""), nest.iv[1], ""), cg_i64(cg, Wo), ""),
	                  nest.iv[2], ""), cg_i64(cg, 2), "");
	LLVMValueRef coord[2];
	DType gt = gval(cg->g, gv)->dtype;
	for (int k = 0; k < 2; k++) {
		LLVMValueRef gk = cg_load(cg, gv, LLVMBuildAdd(b, gi, cg_i64(cg, k), ""));
		gk = cg_convert(cg, gk, gt == DT_F64 ? DT_F64 : DT_F32, ct);
		double len = (double)ax[k].len;
		LLVMValueRef p1 = LLVMBuildFAdd(b, gk, fconst(cg, ft, 1), "");
		LLVMValueRef c = align ? LLVMBuildFMul(b, p1, fconst(cg, ft, (len - 1) / 2), "")
		                       : LLVMBuildFDiv(b, LLVMBuildFSub(b, LLVMBuildFMul(b, p1, fconst(cg, ft, len), ""),
		                                                        fconst(cg, ft, 1), ""), fconst(cg, ft, 2), "");
		if (mode != 2 && pad == 1)
			c = fclamp(cg, c, 0, len - 1);
		else if (mode != 2 && pad == 2)
			c = freflect(cg, c, ax[k].lo, ax[k].hi);
		if (mode == 0) /* after padding, as PyTorch does */
			c = cg_math_round_even(cg, c);
		coord[k] = c;
	}
	/* taps per axis: index, validity, weight */
	int K = mode == 0 ? 1 : mode == 1 ? 2 : 4;
	LLVMValueRef ti[2][4], tok[2][4], tw[2][4];
	for (int k = 0; k < 2; k++) {
		LLVMValueRef c = coord[k];
		if (mode == 0) {
			gs_tap(cg, &ax[k], pad, c, &ti[k][0], &tok[k][0]);
			tw[k][0] = fconst(cg, ft, 1);
			continue;
		}
		LLVMValueRef f = cg_math_floor(cg, c), d = LLVMBuildFSub(b, c, f, "");
		if (mode == 1) {
			tw[k][0] = LLVMBuildFSub(b, fconst(cg, ft, 1), d, "");
			tw[k][1] = d;
		} else {
			gs_cubic(cg, d, tw[k]);
		}
		double first = mode == 1 ? 0 : -1;
		for (int j = 0; j < K; j++)
			gs_tap(cg, &ax[k], pad, LLVMBuildFAdd(b, f, fconst(cg, ft, first + j), ""), &ti[k][j], &tok[k][j]);
	}
	CgLoop lc;
	cg_for(cg, &lc, 0, C);
	LLVMValueRef plane = LLVMBuildMul(b, LLVMBuildAdd(b, LLVMBuildMul(b, nest.iv[0], cg_i64(cg, C), ""),
	                                                  lc.iv, ""), cg_i64(cg, H * W), "");
	LLVMValueRef acc = fconst(cg, ft, 0);
	for (int i = 0; i < K; i++) {         /* y taps */
		LLVMValueRef row = LLVMBuildAdd(b, plane, LLVMBuildMul(b, ti[1][i], cg_i64(cg, W), ""), "");
		LLVMValueRef racc = fconst(cg, ft, 0);
		for (int j = 0; j < K; j++) {     /* x taps */
			LLVMValueRef v = cg_convert(cg, cg_load(cg, xv, LLVMBuildAdd(b, row, ti[0][j], "")),
			                            ct == DT_F64 ? DT_F64 : DT_F32, ct);
			v = LLVMBuildSelect(b, LLVMBuildAnd(b, tok[1][i], tok[0][j], ""), v, fconst(cg, ft, 0), "");
			racc = LLVMBuildFAdd(b, racc, LLVMBuildFMul(b, tw[0][j], v, ""), "");
		}
		acc = LLVMBuildFAdd(b, acc, LLVMBuildFMul(b, tw[1][i], racc, ""), "");
	}
	LLVMValueRef oi = LLVMBuildAdd(b, LLVMBuildMul(b, LLVMBuildAdd(b, LLVMBuildMul(b,
	                  LLVMBuildAdd(b, LLVMBuildMul(b, nest.iv[0], cg_i64(cg, C), ""), lc.iv, ""),
	                  cg_i64(cg, Ho), ""), nest.iv[1], ""), cg_i64(cg, Wo), ""), nest.iv[2], "");
	cg_store(cg, yv, oi, acc);
	cg_for_end(cg, &lc);
	cg_nest_end(cg, &nest);
	return true;
}

/* --index-oob=error: every MaxUnpool index i (nx of them, flat over the
 * default unpooled shape dflt) is in [0, prod(dflt) - 1] and, when the
 * output shape differs (!same), each of its coordinates in dflt is inside
 * the output's dims; else the node returns CG_STATUS_INDEX. */
static void check_unpool_indices(Cg *cg, ValueId iv, int64_t nx, const int64_t *dflt,
                                 const Shape *ys, bool same)
{
	LLVMBuilderRef b = cg->b;
	if (cg->index_clamp || nx == 0)
		return;
	int r = ys->rank;
	int64_t total = 1;
	for (int d = 0; d < r; d++)
		total *= dflt[d];
	LLVMValueRef flag = cg_alloca(cg, cg->t_i1, "oob");
	LLVMBuildStore(b, LLVMConstInt(cg->t_i1, 0, 0), flag);
	CgLoop l;
	cg_for(cg, &l, 0, nx);
	LLVMValueRef i = LLVMBuildIntCast2(b, cg_load(cg, iv, l.iv), cg->t_i64, 1, "");
	LLVMValueRef bad = LLVMBuildICmp(b, LLVMIntUGE, i, cg_i64(cg, total), "");
	if (!same) {
		/* coordinates of a valid i are in [0, dflt[d] - 1]; only a dim
		 * the output shrinks can reject one */
		LLVMValueRef q = LLVMBuildSelect(b, bad, cg_i64(cg, 0), i, "");
		for (int d = r - 1; d >= 0; d--) {
			LLVMValueRef dd = cg_i64(cg, dflt[d] > 0 ? dflt[d] : 1);
			LLVMValueRef co = LLVMBuildURem(b, q, dd, "");
			q = LLVMBuildUDiv(b, q, dd, "");
			if (dflt[d] > ys->dims[d])
				bad = LLVMBuildOr(b, bad, LLVMBuildICmp(b, LLVMIntSGE, co,
				                  cg_i64(cg, ys->dims[d]), ""), "");
		}
	}
	LLVMBuildStore(b, LLVMBuildOr(b, LLVMBuildLoad2(b, cg->t_i1, flag, ""), bad, ""), flag);
	cg_for_end(cg, &l);
	cg_fail_if(cg, LLVMBuildLoad2(b, cg->t_i1, flag, ""), CG_STATUS_INDEX);
}

/* MaxUnpool. */
static bool lower_max_unpool(Cg *cg, const Node *n)
{
	LLVMBuilderRef b = cg->b;
	ValueId xv = n->in[0], iv = n->in[1], yv = n->out[0];
	const Value *x = gval(cg->g, xv), *y = gval(cg->g, yv);
	DType bt = cg_dm_bits_dtype(x->dtype);
	int64_t ny = shape_numel(&y->shape), nx = shape_numel(&x->shape);
	if (ny == 0 || nx == 0) {
		cg_memset(cg, cg_ptr(cg, yv), 0, ny * (int64_t)dtype_size(y->dtype));
		return true;
	}
	/* the shape the indices refer to: from kernel_shape/strides/pads */
	int r = x->shape.rank, k = r - 2;
	int64_t dflt[IR_MAX_RANK], ys[IR_MAX_RANK];
	const int64_t *ks, *st, *pd;
	int nk = attr_ints(n, "kernel_shape", &ks), ns = attr_ints(n, "strides", &st);
	int np = attr_ints(n, "pads", &pd);
	if (nk != k || (ns >= 0 && ns != k) || (np >= 0 && np != 2 * k))
		return cg_unsupported(cg, -1, "kernel_shape/strides/pads have the wrong length");
	dflt[0] = x->shape.dims[0];
	dflt[1] = x->shape.dims[1];
	for (int d = 0; d < k; d++)
		dflt[2 + d] = (x->shape.dims[2 + d] - 1) * (ns >= 0 ? st[d] : 1) + ks[d] -
		              (np >= 0 ? pd[d] + pd[k + d] : 0);
	bool same = true;
	for (int d = 0; d < r; d++) {
		if (dflt[d] < 0)
			return cg_unsupported(cg, -1, "invalid kernel_shape/strides/pads");
		same &= dflt[d] == y->shape.dims[d];
	}
	shape_strides(&y->shape, ys);
	check_unpool_indices(cg, iv, nx, dflt, &y->shape, same);
	cg_memset(cg, cg_ptr(cg, yv), 0, ny * (int64_t)dtype_size(y->dtype));
	CgLoop l;
	cg_for(cg, &l, 0, nx);
	LLVMValueRef i = cg_load(cg, iv, l.iv);
	if (gval(cg->g, iv)->dtype != DT_I64)
		i = LLVMBuildSExt(b, i, cg->t_i64, "");
	if (!same) {
		/* coordinates in the default shape, placed at the same
		 * coordinates of the output (each clamped to its dim) */
		LLVMValueRef o = cg_i64(cg, 0);
		for (int d = r - 1; d >= 0; d--) {
			LLVMValueRef dd = cg_i64(cg, dflt[d] > 0 ? dflt[d] : 1);
			LLVMValueRef co = LLVMBuildSRem(b, i, dd, "");
			i = LLVMBuildSDiv(b, i, dd, "");
			co = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntSGT, co, cg_i64(cg, y->shape.dims[d] - 1), ""),
			                     cg_i64(cg, y->shape.dims[d] - 1), co, "");
			o = LLVMBuildAdd(b, o, LLVMBuildMul(b, co, cg_i64(cg, ys[d]), ""), "");
		}
		i = o;
	}
	i = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntSLT, i, cg_i64(cg, 0), ""), cg_i64(cg, 0), i, "");
	i = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntSGT, i, cg_i64(cg, ny - 1), ""), cg_i64(cg, ny - 1), i, "");
	cg_store_ptr(cg, bt, cg_ptr(cg, yv), i, cg_load_ptr(cg, bt, cg_ptr(cg, xv), l.iv));
	cg_for_end(cg, &l);
	return true;
}

/* Largest matrix Det lowers (the scratch is M*M doubles on the stack). */
#define DET_MAX_M 128

/* Det. */
static bool lower_det(Cg *cg, const Node *n)
{
	LLVMBuilderRef b = cg->b;
	ValueId xv = n->in[0], yv = n->out[0];
	const Value *x = gval(cg->g, xv);
	int r = x->shape.rank;
	int64_t M = x->shape.dims[r - 1], batch = cg_dm_prod(x->shape.dims, 0, r - 2);
	DType ct = x->dtype == DT_F64 ? DT_F64 : DT_F32;
	if (M > DET_MAX_M)
		return cg_unsupported(cg, 0, "matrices larger than %d x %d are not supported", DET_MAX_M, DET_MAX_M);
	if (batch == 0)
		return true;
	LLVMTypeRef dt = cg->t_f64;
	LLVMValueRef a = cg_alloca(cg, LLVMArrayType2(dt, (uint64_t)(M * M > 0 ? M * M : 1)), "lu");
	LLVMValueRef detp = cg_alloca(cg, dt, "det"), pp = cg_alloca(cg, cg->t_i64, "piv");
	LLVMValueRef bestp = cg_alloca(cg, dt, "best");
#define AT(i, j) LLVMBuildInBoundsGEP2(b, dt, a, (LLVMValueRef[]){LLVMBuildAdd(b, \
	LLVMBuildMul(b, (i), cg_i64(cg, M), ""), (j), "")}, 1, "")
	CgLoop lb, li, lj, lk;
	cg_for(cg, &lb, 0, batch);
	LLVMValueRef base = LLVMBuildMul(b, lb.iv, cg_i64(cg, M * M), "");
	cg_for(cg, &li, 0, M * M);
	LLVMValueRef e = cg_convert(cg, cg_load(cg, xv, LLVMBuildAdd(b, base, li.iv, "")), ct, DT_F64);
	LLVMBuildStore(b, e, LLVMBuildInBoundsGEP2(b, dt, a, &li.iv, 1, ""));
	cg_for_end(cg, &li);
	LLVMBuildStore(b, LLVMConstReal(dt, 1), detp);
	cg_for(cg, &lk, 0, M);
	LLVMValueRef k = lk.iv;
	/* pivot: the first row i >= k with the largest |a[i][k]| */
	LLVMBuildStore(b, k, pp);
	LLVMBuildStore(b, cg_math_fabs(cg, LLVMBuildLoad2(b, dt, AT(k, k), "")), bestp);
	cg_for_v(cg, &li, LLVMBuildAdd(b, k, cg_i64(cg, 1), ""), cg_i64(cg, M));
	LLVMValueRef v = cg_math_fabs(cg, LLVMBuildLoad2(b, dt, AT(li.iv, k), ""));
	LLVMValueRef better = LLVMBuildFCmp(b, LLVMRealOGT, v, LLVMBuildLoad2(b, dt, bestp, ""), "");
	LLVMBuildStore(b, LLVMBuildSelect(b, better, v, LLVMBuildLoad2(b, dt, bestp, ""), ""), bestp);
	LLVMBuildStore(b, LLVMBuildSelect(b, better, li.iv, LLVMBuildLoad2(b, cg->t_i64, pp, ""), ""), pp);
	cg_for_end(cg, &li);
	LLVMValueRef p = LLVMBuildLoad2(b, cg->t_i64, pp, "");
	CgIf sw;
	cg_if(cg, &sw, LLVMBuildICmp(b, LLVMIntNE, p, k, ""));
	cg_for(cg, &lj, 0, M);
	LLVMValueRef pa = AT(k, lj.iv), pb = AT(p, lj.iv);
	LLVMValueRef va = LLVMBuildLoad2(b, dt, pa, ""), vb = LLVMBuildLoad2(b, dt, pb, "");
	LLVMBuildStore(b, vb, pa);
	LLVMBuildStore(b, va, pb);
	cg_for_end(cg, &lj);
	LLVMBuildStore(b, LLVMBuildFNeg(b, LLVMBuildLoad2(b, dt, detp, ""), ""), detp);
	cg_if_end(cg, &sw);
	LLVMValueRef piv = LLVMBuildLoad2(b, dt, AT(k, k), "");
	LLVMBuildStore(b, LLVMBuildFMul(b, LLVMBuildLoad2(b, dt, detp, ""), piv, ""), detp);
	CgIf nz;
	cg_if(cg, &nz, LLVMBuildFCmp(b, LLVMRealONE, piv, LLVMConstReal(dt, 0), ""));
	cg_for_v(cg, &li, LLVMBuildAdd(b, k, cg_i64(cg, 1), ""), cg_i64(cg, M));
	LLVMValueRef f = LLVMBuildFDiv(b, LLVMBuildLoad2(b, dt, AT(li.iv, k), ""), piv, "");
	cg_for_v(cg, &lj, LLVMBuildAdd(b, k, cg_i64(cg, 1), ""), cg_i64(cg, M));
	LLVMValueRef q = AT(li.iv, lj.iv);
	LLVMValueRef nv = LLVMBuildFSub(b, LLVMBuildLoad2(b, dt, q, ""),
	                                LLVMBuildFMul(b, f, LLVMBuildLoad2(b, dt, AT(k, lj.iv), ""), ""), "");
	LLVMBuildStore(b, nv, q);
	cg_for_end(cg, &lj);
	cg_for_end(cg, &li);
	cg_if_end(cg, &nz);
	cg_for_end(cg, &lk);
#undef AT
	LLVMValueRef d = LLVMBuildLoad2(b, dt, detp, "");
	DType yt = gval(cg->g, yv)->dtype;
	cg_store(cg, yv, lb.iv, cg_convert(cg, d, DT_F64, yt == DT_F64 ? DT_F64 : DT_F32));
	cg_for_end(cg, &lb);
	return true;
}

/* float compute-type helpers for RoiAlign */
static LLVMValueRef fmaxv(Cg *cg, LLVMValueRef a, LLVMValueRef b)
{
	return LLVMBuildSelect(cg->b, LLVMBuildFCmp(cg->b, LLVMRealOGT, a, b, ""), a, b, "");
}

/* RoiAlign. */
static bool lower_roi_align(Cg *cg, const Node *n)
{
	LLVMBuilderRef b = cg->b;
	ValueId xv = n->in[0], rv = n->in[1], bv = n->in[2], yv = n->out[0];
	const Value *x = gval(cg->g, xv), *y = gval(cg->g, yv);
	if (strcmp(attr_string(n, "mode", "avg"), "avg"))
		return cg_unsupported(cg, -1, "mode '%s' is not supported (only avg)", attr_string(n, "mode", "avg"));
	const char *ctm = attr_string(n, "coordinate_transformation_mode", "half_pixel");
	bool half = !strcmp(ctm, "half_pixel");
	if (!half && strcmp(ctm, "output_half_pixel"))
		return cg_unsupported(cg, -1, "coordinate_transformation_mode '%s'", ctm);
	int64_t R = y->shape.dims[0], C = x->shape.dims[1], H = x->shape.dims[2], W = x->shape.dims[3];
	int64_t OH = y->shape.dims[2], OW = y->shape.dims[3], Nb = x->shape.dims[0];
	int64_t sr = attr_int(n, "sampling_ratio", 0);
	double scale = attr_float(n, "spatial_scale", 1.0f);
	if (R * C * OH * OW == 0)
		return true;
	if (Nb == 0 || H == 0 || W == 0)
		return cg_unsupported(cg, 0, "empty input");
	DType ct = x->dtype == DT_F64 ? DT_F64 : DT_F32;
	LLVMTypeRef ft = ct == DT_F64 ? cg->t_f64 : cg->t_f32;
	DType rt = gval(cg->g, rv)->dtype == DT_F64 ? DT_F64 : DT_F32;
#define FC(v) LLVMConstReal(ft, (v))
	LLVMValueRef acc = cg_alloca(cg, ft, "acc");
	CgLoop lr, lc, lph, lpw, liy, lix;
	cg_for(cg, &lr, 0, R);
	LLVMValueRef rb = LLVMBuildMul(b, lr.iv, cg_i64(cg, 4), "");
	LLVMValueRef rc[4];
	for (int k = 0; k < 4; k++) {
		LLVMValueRef v = cg_convert(cg, cg_load(cg, rv, LLVMBuildAdd(b, rb, cg_i64(cg, k), "")), rt, ct);
		rc[k] = LLVMBuildFSub(b, LLVMBuildFMul(b, v, FC(scale), ""), FC(half ? 0.5 : 0), "");
	}
	LLVMValueRef rw = LLVMBuildFSub(b, rc[2], rc[0], ""), rh = LLVMBuildFSub(b, rc[3], rc[1], "");
	if (!half) {
		rw = fmaxv(cg, rw, FC(1));
		rh = fmaxv(cg, rh, FC(1));
	}
	LLVMValueRef bw = LLVMBuildFDiv(b, rw, FC((double)OW), ""), bh = LLVMBuildFDiv(b, rh, FC((double)OH), "");
	LLVMValueRef gh, gw;
	if (sr > 0) {
		gh = gw = cg_i64(cg, sr);
	} else { /* ceil(roi / out), kept in [0, 2^20] before the conversion */
		LLVMValueRef a = fclamp(cg, cg_math_ceil(cg, bh), 0, 1 << 20);
		LLVMValueRef c = fclamp(cg, cg_math_ceil(cg, bw), 0, 1 << 20);
		a = LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealUNO, a, a, ""), FC(0), a, "");
		c = LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealUNO, c, c, ""), FC(0), c, "");
		gh = LLVMBuildFPToSI(b, a, cg->t_i64, "");
		gw = LLVMBuildFPToSI(b, c, cg->t_i64, "");
	}
	LLVMValueRef cnt = LLVMBuildMul(b, gh, gw, "");
	cnt = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntSLT, cnt, cg_i64(cg, 1), ""), cg_i64(cg, 1), cnt, "");
	LLVMValueRef cntf = LLVMBuildSIToFP(b, cnt, ft, "");
	LLVMValueRef ghf = LLVMBuildSIToFP(b, gh, ft, ""), gwf = LLVMBuildSIToFP(b, gw, ft, "");
	LLVMValueRef bi = cg_load(cg, bv, lr.iv);
	if (gval(cg->g, bv)->dtype != DT_I64)
		bi = LLVMBuildSExt(b, bi, cg->t_i64, "");
	bi = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntSLT, bi, cg_i64(cg, 0), ""), cg_i64(cg, 0), bi, "");
	bi = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntSGT, bi, cg_i64(cg, Nb - 1), ""), cg_i64(cg, Nb - 1), bi, "");
	cg_for(cg, &lc, 0, C);
	LLVMValueRef plane = LLVMBuildMul(b, LLVMBuildAdd(b, LLVMBuildMul(b, bi, cg_i64(cg, C), ""), lc.iv, ""),
	                                  cg_i64(cg, H * W), "");
	cg_for(cg, &lph, 0, OH);
	cg_for(cg, &lpw, 0, OW);
	LLVMBuildStore(b, FC(0), acc);
	LLVMValueRef ph = LLVMBuildSIToFP(b, lph.iv, ft, ""), pw = LLVMBuildSIToFP(b, lpw.iv, ft, "");
	cg_for_v(cg, &liy, cg_i64(cg, 0), gh);
	LLVMValueRef yy = LLVMBuildFAdd(b, LLVMBuildFAdd(b, rc[1], LLVMBuildFMul(b, ph, bh, ""), ""),
	                                LLVMBuildFDiv(b, LLVMBuildFMul(b, LLVMBuildFAdd(b,
	                                LLVMBuildSIToFP(b, liy.iv, ft, ""), FC(0.5), ""), bh, ""), ghf, ""), "");
	cg_for_v(cg, &lix, cg_i64(cg, 0), gw);
	LLVMValueRef xx = LLVMBuildFAdd(b, LLVMBuildFAdd(b, rc[0], LLVMBuildFMul(b, pw, bw, ""), ""),
	                                LLVMBuildFDiv(b, LLVMBuildFMul(b, LLVMBuildFAdd(b,
	                                LLVMBuildSIToFP(b, lix.iv, ft, ""), FC(0.5), ""), bw, ""), gwf, ""), "");
	/* bilinear sample */
	LLVMValueRef out = LLVMBuildOr(b, LLVMBuildOr(b, LLVMBuildFCmp(b, LLVMRealULT, yy, FC(-1), ""),
	                                              LLVMBuildFCmp(b, LLVMRealUGT, yy, FC((double)H), ""), ""),
	                               LLVMBuildOr(b, LLVMBuildFCmp(b, LLVMRealULT, xx, FC(-1), ""),
	                                           LLVMBuildFCmp(b, LLVMRealUGT, xx, FC((double)W), ""), ""), "");
	LLVMValueRef co[2] = {yy, xx}, lo[2], hi[2], fr[2];
	int64_t len[2] = {H, W};
	for (int k = 0; k < 2; k++) {
		LLVMValueRef v = fclamp(cg, co[k], 0, (double)len[k]);  /* in range for fptosi */
		v = LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealUNO, v, v, ""), FC(0), v, "");
		LLVMValueRef l = LLVMBuildFPToSI(b, v, cg->t_i64, "");
		LLVMValueRef last = LLVMBuildICmp(b, LLVMIntSGE, l, cg_i64(cg, len[k] - 1), "");
		lo[k] = LLVMBuildSelect(b, last, cg_i64(cg, len[k] - 1), l, "");
		hi[k] = LLVMBuildSelect(b, last, cg_i64(cg, len[k] - 1), LLVMBuildAdd(b, l, cg_i64(cg, 1), ""), "");
		v = LLVMBuildSelect(b, last, LLVMBuildSIToFP(b, lo[k], ft, ""), v, "");
		fr[k] = LLVMBuildFSub(b, v, LLVMBuildSIToFP(b, lo[k], ft, ""), "");
	}
	LLVMValueRef s = FC(0);
	for (int i = 0; i < 2; i++)
		for (int j = 0; j < 2; j++) {
			LLVMValueRef wy = i ? fr[0] : LLVMBuildFSub(b, FC(1), fr[0], "");
			LLVMValueRef wx = j ? fr[1] : LLVMBuildFSub(b, FC(1), fr[1], "");
			LLVMValueRef idx = LLVMBuildAdd(b, plane, LLVMBuildAdd(b, LLVMBuildMul(b, i ? hi[0] : lo[0],
			                                cg_i64(cg, W), ""), j ? hi[1] : lo[1], ""), "");
			LLVMValueRef v = cg_convert(cg, cg_load(cg, xv, idx), ct, ct);
			s = LLVMBuildFAdd(b, s, LLVMBuildFMul(b, LLVMBuildFMul(b, wy, wx, ""), v, ""), "");
		}
	s = LLVMBuildSelect(b, out, FC(0), s, "");
	LLVMBuildStore(b, LLVMBuildFAdd(b, LLVMBuildLoad2(b, ft, acc, ""), s, ""), acc);
	cg_for_end(cg, &lix);
	cg_for_end(cg, &liy);
	LLVMValueRef res = LLVMBuildFDiv(b, LLVMBuildLoad2(b, ft, acc, ""), cntf, "");
	LLVMValueRef oi = LLVMBuildAdd(b, LLVMBuildMul(b, LLVMBuildAdd(b, LLVMBuildMul(b, LLVMBuildAdd(b,
	                  LLVMBuildMul(b, lr.iv, cg_i64(cg, C), ""), lc.iv, ""), cg_i64(cg, OH), ""), lph.iv, ""),
	                  cg_i64(cg, OW), ""), lpw.iv, "");
	cg_store(cg, yv, oi, res);
	cg_for_end(cg, &lpw);
	cg_for_end(cg, &lph);
	cg_for_end(cg, &lc);
	cg_for_end(cg, &lr);
#undef FC
	return true;
}

/* Misc group entry: see the file comment. */
bool cg_lower_misc(Cg *cg, const Node *n)
{
	switch (n->op) {
	case OP_HannWindow: case OP_HammingWindow: case OP_BlackmanWindow: return lower_window(cg, n);
	case OP_ReverseSequence: return lower_reverse_sequence(cg, n);
	case OP_GridSample: return lower_grid_sample(cg, n);
	case OP_MaxUnpool: return lower_max_unpool(cg, n);
	case OP_Det: return lower_det(cg, n);
	case OP_RoiAlign: return lower_roi_align(cg, n);
	default: return cg_unsupported(cg, -1, "not a misc op");
	}
}
