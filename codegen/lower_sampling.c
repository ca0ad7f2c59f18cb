/* codegen/lower_sampling.c — the image samplers GridSample and RoiAlign.
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
 * RoiAlign (mode avg): per roi, bin (ph, pw) and channel, the mean of
 * grid_h x grid_w bilinear samples at the bin's regular sub-grid; the
 * bilinear sampler follows the reference (ONNX Runtime's): samples beyond
 * [-1, H] x [-1, W] count as 0, coordinates below 0 clamp to 0, the last
 * row/column repeats.  half_pixel shifts the roi by -0.5;
 * output_half_pixel instead forces roi sizes >= 1.  sampling_ratio 0 uses
 * ceil(roi size / output size) samples, computed at run time.  mode max is
 * not lowered.
 */
#include "lower.h"
#include "lower_data.h"
#include "mathfn.h"

#include <string.h>

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


/* GridSample and RoiAlign (see the file comment). */
bool cg_lower_sampling(Cg *cg, const Node *n)
{
	switch (n->op) {
	case OP_GridSample: return lower_grid_sample(cg, n);
	case OP_RoiAlign: return lower_roi_align(cg, n);
	default: IR_UNREACHABLE("cg_lower_sampling: op not in this group");
	}
}
