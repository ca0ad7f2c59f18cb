/* codegen/lower_quant.c — QuantizeLinear, DequantizeLinear,
 * DynamicQuantizeLinear, MatMulInteger, QLinearMatMul, ConvInteger,
 * QLinearConv.
 *
 *   QuantizeLinear    y = saturate(round_half_even(x / scale) + zp)
 *   DequantizeLinear  y = (x - zp) * scale
 * scale/zp are scalars or, per axis, indexed by the element's coordinate
 * along `axis` (the input is viewed as [outer, A, inner]).  Arithmetic is
 * float (double when x or scale is f64), as in the ONNX reference.
 *   DynamicQuantizeLinear  lo = min(0, min x), hi = max(0, max x),
 *     scale = (hi - lo) / 255, zp = saturate(round(-lo / scale)),
 *     y = saturate(round(x / scale) + zp), all uint8; an all-zero input
 *     (scale 0) gives zp 0 and y 0 instead of NaN conversions.
 *   MatMulInteger  y[.., m, n] = sum_k (a[.., m, k] - az) * (b[.., k, n] - bz)
 *     in int32; zero points scalar or per row of A / per column of B.
 * Shapes and dtypes are checked by passes/infer_quant.c.
 */
#include "lower.h"
#include "lower_data.h"
#include "mathfn.h"

#include <string.h>

/* Clamps float v into [lo, hi]; NaN gives 0. */
static LLVMValueRef clampf(Cg *cg, LLVMValueRef v, double lo, double hi)
{
	LLVMBuilderRef b = cg->b;
	LLVMTypeRef t = LLVMTypeOf(v);
	LLVMValueRef l = LLVMConstReal(t, lo), h = LLVMConstReal(t, hi);
	v = LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealOLT, v, l, ""), l, v, "");
	v = LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealOGT, v, h, ""), h, v, "");
	return LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealUNO, v, v, ""), LLVMConstReal(t, 0), v, "");
}

/* Loads element idx of v converted to the float type ft (DT_F32/DT_F64). */
static LLVMValueRef loadf(Cg *cg, ValueId v, LLVMValueRef idx, DType ft)
{
	DType t = gval(cg->g, v)->dtype;
	DType from = t == DT_F16 || t == DT_BF16 ? DT_F32 : t;
	return cg_convert(cg, cg_load(cg, v, idx), from, ft);
}

/* Quantize/DequantizeLinear. */
static bool lower_qdq(Cg *cg, const Node *n)
{
	Graph *g = cg->g;
	LLVMBuilderRef b = cg->b;
	bool quant = n->op == OP_QuantizeLinear;
	ValueId xv = n->in[0], sv = n->in[1], zv = n->nin > 2 ? n->in[2] : IR_NONE, yv = n->out[0];
	const Value *x = gval(g, xv), *s = gval(g, sv);
	DType yt = gval(g, yv)->dtype;
	DType ft = x->dtype == DT_F64 || s->dtype == DT_F64 ? DT_F64 : DT_F32;
	int64_t outer = shape_numel(&x->shape), A = 1, inner = 1;
	if (s->shape.rank == 1 && shape_numel(&s->shape) > 1) {
		int ax = cg_dm_axis(attr_int(n, "axis", 1), x->shape.rank);
		if (ax < 0)
			return cg_unsupported(cg, -1, "axis out of range");
		outer = cg_dm_prod(x->shape.dims, 0, ax);
		A = x->shape.dims[ax];
		inner = cg_dm_prod(x->shape.dims, ax + 1, x->shape.rank);
	}
	double qlo = yt == DT_I8 ? -128 : 0, qhi = yt == DT_I8 ? 127 : 255;
	CgLoop lo, la, li;
	cg_for(cg, &lo, 0, outer);
	cg_for(cg, &la, 0, A);
	LLVMValueRef sc = loadf(cg, sv, la.iv, ft);
	LLVMValueRef zp = zv != IR_NONE ? loadf(cg, zv, la.iv, ft) : LLVMConstReal(cg_compute_type(cg, ft), 0);
	LLVMValueRef row = LLVMBuildMul(b, LLVMBuildAdd(b, LLVMBuildMul(b, lo.iv, cg_i64(cg, A), ""),
	                                                la.iv, ""), cg_i64(cg, inner), "");
	cg_for(cg, &li, 0, inner);
	LLVMValueRef idx = LLVMBuildAdd(b, row, li.iv, "");
	LLVMValueRef xf = loadf(cg, xv, idx, ft), y;
	if (quant) {
		y = cg_math_round_even(cg, LLVMBuildFDiv(b, xf, sc, ""));
		y = clampf(cg, LLVMBuildFAdd(b, y, zp, ""), qlo, qhi);
		y = cg_convert(cg, y, ft, yt);
	} else {
		y = LLVMBuildFMul(b, LLVMBuildFSub(b, xf, zp, ""), sc, "");
		y = cg_convert(cg, y, ft, yt == DT_F16 || yt == DT_BF16 ? DT_F32 : yt);
	}
	cg_store(cg, yv, idx, y);
	cg_for_end(cg, &li);
	cg_for_end(cg, &la);
	cg_for_end(cg, &lo);
	return true;
}

/* DynamicQuantizeLinear (f32 in, u8 out). */
static bool lower_dynq(Cg *cg, const Node *n)
{
	LLVMBuilderRef b = cg->b;
	ValueId xv = n->in[0];
	int64_t numel = shape_numel(&gval(cg->g, xv)->shape);
	LLVMTypeRef ft = cg->t_f32;
	LLVMValueRef zero = LLVMConstReal(ft, 0);
	LLVMValueRef mn = cg_alloca(cg, ft, "min"), mx = cg_alloca(cg, ft, "max");
	LLVMBuildStore(b, zero, mn);
	LLVMBuildStore(b, zero, mx);
	CgLoop l;
	cg_for(cg, &l, 0, numel);
	LLVMValueRef v = cg_load(cg, xv, l.iv);
	LLVMBuildStore(b, cg_math_fmin(cg, LLVMBuildLoad2(b, ft, mn, ""), v), mn);
	LLVMBuildStore(b, cg_math_fmax(cg, LLVMBuildLoad2(b, ft, mx, ""), v), mx);
	cg_for_end(cg, &l);
	LLVMValueRef lo = LLVMBuildLoad2(b, ft, mn, ""), hi = LLVMBuildLoad2(b, ft, mx, "");
	LLVMValueRef sc = LLVMBuildFDiv(b, LLVMBuildFSub(b, hi, lo, ""), LLVMConstReal(ft, 255), "");
	LLVMValueRef zpf = clampf(cg, cg_math_round_even(cg, LLVMBuildFSub(b, zero,
	                          LLVMBuildFDiv(b, lo, sc, ""), "")), 0, 255);
	if (n->nout > 1 && n->out[1] != IR_NONE)
		cg_store(cg, n->out[1], cg_i64(cg, 0), sc);
	if (n->nout > 2 && n->out[2] != IR_NONE)
		cg_store(cg, n->out[2], cg_i64(cg, 0), cg_convert(cg, zpf, DT_F32, DT_U8));
	if (n->out[0] != IR_NONE) {
		cg_for(cg, &l, 0, numel);
		LLVMValueRef y = cg_math_round_even(cg, LLVMBuildFDiv(b, cg_load(cg, xv, l.iv), sc, ""));
		y = clampf(cg, LLVMBuildFAdd(b, y, zpf, ""), 0, 255);
		cg_store(cg, n->out[0], l.iv, cg_convert(cg, y, DT_F32, DT_U8));
		cg_for_end(cg, &l);
	}
	return true;
}

/* Zero point of input k (a, b) at index i as i32; 0 when omitted. */
static LLVMValueRef zero_point(Cg *cg, const Node *n, int k, LLVMValueRef i)
{
	if (k >= n->nin || n->in[k] == IR_NONE)
		return cg_i32(cg, 0);
	ValueId z = n->in[k];
	if (shape_numel(&gval(cg->g, z)->shape) == 1)
		i = cg_i64(cg, 0);
	return cg_convert(cg, cg_load(cg, z, i), gval(cg->g, z)->dtype, DT_I32);
}

/* MatMulInteger (inputs a, b, a_zp, b_zp) and QLinearMatMul (a, a_scale,
 * a_zp, b, b_scale, b_zp, y_scale, y_zp): the integer product sum, then for
 * QLinearMatMul y = saturate(round_half_even(sum * (a_scale * b_scale /
 * y_scale)) + y_zp) in float. */
static bool lower_matmul_integer(Cg *cg, const Node *n)
{
	Graph *g = cg->g;
	LLVMBuilderRef b = cg->b;
	bool ql = n->op == OP_QLinearMatMul;
	int ka = 0, kb = ql ? 3 : 1, kaz = ql ? 2 : 2, kbz = ql ? 5 : 3;
	ValueId av = n->in[ka], bv = n->in[kb], yv = n->out[0];
	const Value *a = gval(g, av), *bb = gval(g, bv), *y = gval(g, yv);
	DType at = a->dtype, bt = bb->dtype;
	int ra = a->shape.rank, rb = bb->shape.rank, ro = y->shape.rank, br = ro - 2;
	int64_t M = y->shape.dims[ro - 2], N = y->shape.dims[ro - 1], K = a->shape.dims[ra - 1];
	Shape sa = shape_make(ra - 2, a->shape.dims), sb = shape_make(rb - 2, bb->shape.dims);
	int64_t stra[IR_MAX_RANK] = {0}, strb[IR_MAX_RANK] = {0}, stry[IR_MAX_RANK];
	cg_broadcast_strides(&sa, br, stra);
	cg_broadcast_strides(&sb, br, strb);
	for (int i = 0; i < br; i++) {
		stra[i] *= M * K;
		strb[i] *= K * N;
	}
	shape_strides(&y->shape, stry);
	LLVMValueRef mult = NULL, yz = NULL;
	if (ql) { /* scalars, checked by the shape rule */
		LLVMValueRef z = cg_i64(cg, 0);
		LLVMValueRef as = loadf(cg, n->in[1], z, DT_F32), bs = loadf(cg, n->in[4], z, DT_F32);
		LLVMValueRef ys = loadf(cg, n->in[6], z, DT_F32);
		mult = LLVMBuildFDiv(b, LLVMBuildFMul(b, as, bs, ""), ys, "");
		yz = n->nin > 7 && n->in[7] != IR_NONE ? loadf(cg, n->in[7], z, DT_F32) : LLVMConstReal(cg->t_f32, 0);
	}
	CgNest nest;
	cg_nest(cg, &nest, ro, y->shape.dims);
	LLVMValueRef m = nest.iv[br], col = nest.iv[br + 1];
	LLVMValueRef abase = LLVMBuildAdd(b, cg_linear(cg, br, nest.iv, stra),
	                                  LLVMBuildMul(b, m, cg_i64(cg, K), ""), "");
	LLVMValueRef bbase = LLVMBuildAdd(b, cg_linear(cg, br, nest.iv, strb), col, "");
	LLVMValueRef az = zero_point(cg, n, kaz, m), bz = zero_point(cg, n, kbz, col);
	LLVMValueRef acc = cg_alloca(cg, cg->t_i32, "acc");
	LLVMBuildStore(b, cg_i32(cg, 0), acc);
	CgLoop lk;
	cg_for(cg, &lk, 0, K);
	LLVMValueRef x = cg_convert(cg, cg_load(cg, av, LLVMBuildAdd(b, abase, lk.iv, "")), at, DT_I32);
	LLVMValueRef w = cg_convert(cg, cg_load(cg, bv, LLVMBuildAdd(b, bbase,
	                            LLVMBuildMul(b, lk.iv, cg_i64(cg, N), ""), "")), bt, DT_I32);
	LLVMValueRef p = LLVMBuildMul(b, LLVMBuildSub(b, x, az, ""), LLVMBuildSub(b, w, bz, ""), "");
	LLVMBuildStore(b, LLVMBuildAdd(b, LLVMBuildLoad2(b, cg->t_i32, acc, ""), p, ""), acc);
	cg_for_end(cg, &lk);
	LLVMValueRef r = LLVMBuildLoad2(b, cg->t_i32, acc, "");
	if (ql) {
		DType yt = y->dtype;
		LLVMValueRef f = LLVMBuildFMul(b, LLVMBuildSIToFP(b, r, cg->t_f32, ""), mult, "");
		f = LLVMBuildFAdd(b, cg_math_round_even(cg, f), yz, "");
		f = clampf(cg, f, yt == DT_I8 ? -128 : 0, yt == DT_I8 ? 127 : 255);
		r = cg_convert(cg, f, DT_F32, yt);
	}
	cg_store(cg, yv, cg_linear(cg, ro, nest.iv, stry), r);
	cg_nest_end(cg, &nest);
	return true;
}

/* ConvInteger (x, w, x_zp, w_zp) and QLinearConv (x, x_scale, x_zp, w,
 * w_scale, w_zp, y_scale, y_zp, B): a direct N-d convolution of
 * (x - x_zp) and (w - w_zp[m]) in int32 (padding contributes 0), plus B;
 * QLinearConv then requantizes with x_scale * w_scale[m] / y_scale as
 * QLinearMatMul does.  Geometry from the node's params (ir/params.h). */
static bool lower_conv_integer(Cg *cg, const Node *n)
{
	Graph *g = cg->g;
	LLVMBuilderRef b = cg->b;
	bool ql = n->op == OP_QLinearConv;
	int kx = 0, kw = ql ? 3 : 1, kxz = ql ? 2 : 2, kwz = ql ? 5 : 3;
	ValueId xv = n->in[kx], wv = n->in[kw], yv = n->out[0];
	const Value *x = gval(g, xv), *w = gval(g, wv), *y = gval(g, yv);
	int r = x->shape.rank, k = r - 2;
	const WindowParams *wp = node_window(g, (NodeId)(n - g->nodes), cg->d);
	if (!wp)
		return false;
	int64_t M = y->shape.dims[1], grp = wp->group;
	int64_t Cg = w->shape.dims[1], Mg = M / grp;
	const int64_t *st = wp->strides, *dl = wp->dilations;
	int64_t pb[IR_MAX_RANK];
	for (int i = 0; i < k; i++) {
		int64_t pe;
		window_pads(wp, i, x->shape.dims[2 + i], &pb[i], &pe);
	}
	if (shape_numel(&y->shape) == 0)
		return true;
	int64_t xs[IR_MAX_RANK], ws[IR_MAX_RANK], ys[IR_MAX_RANK];
	shape_strides(&x->shape, xs);
	shape_strides(&w->shape, ws);
	shape_strides(&y->shape, ys);
	LLVMValueRef z0 = cg_i64(cg, 0), xz = zero_point(cg, n, kxz, z0);
	LLVMValueRef qs = NULL, yz = NULL;
	if (ql) {
		LLVMValueRef xsc = loadf(cg, n->in[1], z0, DT_F32), ysc = loadf(cg, n->in[6], z0, DT_F32);
		qs = LLVMBuildFDiv(b, xsc, ysc, "");
		yz = n->in[7] != IR_NONE ? loadf(cg, n->in[7], z0, DT_F32) : LLVMConstReal(cg->t_f32, 0);
	}
	CgNest on;
	cg_nest(cg, &on, r, y->shape.dims);
	LLVMValueRef m = on.iv[1];
	LLVMValueRef gi = LLVMBuildSDiv(b, m, cg_i64(cg, Mg > 0 ? Mg : 1), "");
	LLVMValueRef wz = zero_point(cg, n, kwz, m);
	LLVMValueRef acc = cg_alloca(cg, cg->t_i32, "acc");
	int kb = ql ? 8 : -1;
	LLVMValueRef init = cg_i32(cg, 0);
	if (kb >= 0 && kb < n->nin && n->in[kb] != IR_NONE)
		init = cg_convert(cg, cg_load(cg, n->in[kb], m), gval(g, n->in[kb])->dtype, DT_I32);
	LLVMBuildStore(b, init, acc);
	CgLoop lc;
	cg_for(cg, &lc, 0, Cg);
	LLVMValueRef c = LLVMBuildAdd(b, LLVMBuildMul(b, gi, cg_i64(cg, Cg), ""), lc.iv, "");
	CgNest kn;
	cg_nest(cg, &kn, k, w->shape.dims + 2);
	LLVMValueRef xi = LLVMBuildAdd(b, LLVMBuildMul(b, on.iv[0], cg_i64(cg, xs[0]), ""),
	                               LLVMBuildMul(b, c, cg_i64(cg, xs[1]), ""), "");
	LLVMValueRef wi = LLVMBuildAdd(b, LLVMBuildMul(b, m, cg_i64(cg, ws[0]), ""),
	                               LLVMBuildMul(b, lc.iv, cg_i64(cg, ws[1]), ""), "");
	LLVMValueRef inb = LLVMConstInt(cg->t_i1, 1, 0);
	for (int i = 0; i < k; i++) {
		LLVMValueRef p = LLVMBuildAdd(b, LLVMBuildMul(b, on.iv[2 + i], cg_i64(cg, st[i]), ""),
		                              LLVMBuildMul(b, kn.iv[i], cg_i64(cg, dl[i]), ""), "");
		p = LLVMBuildSub(b, p, cg_i64(cg, pb[i]), "");
		LLVMValueRef ok = LLVMBuildAnd(b, LLVMBuildICmp(b, LLVMIntSGE, p, z0, ""),
		                               LLVMBuildICmp(b, LLVMIntSLT, p, cg_i64(cg, x->shape.dims[2 + i]), ""), "");
		inb = LLVMBuildAnd(b, inb, ok, "");
		p = LLVMBuildSelect(b, ok, p, z0, "");
		xi = LLVMBuildAdd(b, xi, LLVMBuildMul(b, p, cg_i64(cg, xs[2 + i]), ""), "");
		wi = LLVMBuildAdd(b, wi, LLVMBuildMul(b, kn.iv[i], cg_i64(cg, ws[2 + i]), ""), "");
	}
	LLVMValueRef xe = LLVMBuildSub(b, cg_convert(cg, cg_load(cg, xv, xi), x->dtype, DT_I32), xz, "");
	xe = LLVMBuildSelect(b, inb, xe, cg_i32(cg, 0), "");
	LLVMValueRef we = LLVMBuildSub(b, cg_convert(cg, cg_load(cg, wv, wi), w->dtype, DT_I32), wz, "");
	LLVMBuildStore(b, LLVMBuildAdd(b, LLVMBuildLoad2(b, cg->t_i32, acc, ""), LLVMBuildMul(b, xe, we, ""), ""), acc);
	cg_nest_end(cg, &kn);
	cg_for_end(cg, &lc);
	LLVMValueRef res = LLVMBuildLoad2(b, cg->t_i32, acc, "");
	if (ql) {
		const Value *wsv = gval(g, n->in[4]);
		LLVMValueRef wsc = loadf(cg, n->in[4], shape_numel(&wsv->shape) == 1 ? z0 : m, DT_F32);
		DType yt = y->dtype;
		LLVMValueRef f = LLVMBuildFMul(b, LLVMBuildSIToFP(b, res, cg->t_f32, ""),
		                               LLVMBuildFMul(b, qs, wsc, ""), "");
		f = LLVMBuildFAdd(b, cg_math_round_even(cg, f), yz, "");
		f = clampf(cg, f, yt == DT_I8 ? -128 : 0, yt == DT_I8 ? 127 : 255);
		res = cg_convert(cg, f, DT_F32, yt);
	}
	cg_store(cg, yv, cg_linear(cg, r, on.iv, ys), res);
	cg_nest_end(cg, &on);
	return true;
}

/* Quantization group entry: see the file comment. */
bool cg_lower_quant(Cg *cg, const Node *n)
{
	switch (n->op) {
	case OP_QuantizeLinear: case OP_DequantizeLinear: return lower_qdq(cg, n);
	case OP_DynamicQuantizeLinear: return lower_dynq(cg, n);
	case OP_MatMulInteger: case OP_QLinearMatMul: return lower_matmul_integer(cg, n);
	case OP_ConvInteger: case OP_QLinearConv: return lower_conv_integer(cg, n);
	default: return cg_unsupported(cg, -1, "not a quantization op");
	}
}
