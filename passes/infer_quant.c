/* passes/infer_quant.c — shape rules of the quantization ops: QuantizeLinear,
 * DequantizeLinear, DynamicQuantizeLinear, MatMulInteger, QLinearMatMul,
 * ConvInteger and QLinearConv.
 *
 * Each rule checks what its lowering (codegen/lower_quant.c) takes for
 * granted, so a configuration the lowering cannot do is a diagnostic here
 * rather than a wrong answer there.
 */
#define INFER_INTERNAL
#include "infer.h"

#include <inttypes.h>

/* Scale (input 1) and zero point (input 2) of Quantize/DequantizeLinear:
 * a scalar (or 1-element 1-D tensor: per tensor too), or per-axis a 1-D
 * tensor of x.shape[axis] elements (opset >= 13). */
static bool check_qparams(InferCtx *c)
{
	Value *x = iin(c, 0), *s = iin(c, 1), *z = iin(c, 2);
	if (!dtype_is_float(s->dtype))
		return ifail(c, 1, "scale must be a float tensor, got %s", dtype_name(s->dtype));
	int64_t ns = shape_numel(&s->shape);
	if (s->shape.rank > 1)
		return ifail(c, 1, "scale must be a scalar or 1-D, got shape %s", ishape_str(&s->shape));
	if (s->shape.rank == 1 && ns != 1) { /* one element: per tensor */
		if (c->opset < 13)
			return ifail(c, 1, "per-axis scale needs opset >= 13");
		int ax;
		if (!iaxis(c, attr_int(c->n, "axis", 1), x->shape.rank, -1, "axis", &ax))
			return false;
		if (ns != x->shape.dims[ax])
			return ifail(c, 1, "scale has %" PRId64 " elements, axis %d of the input has %" PRId64,
			             ns, ax, x->shape.dims[ax]);
	}
	if (z && !shape_eq(&z->shape, &s->shape))
		return ifail(c, 2, "zero point shape %s differs from scale shape %s",
		             ishape_str(&z->shape), ishape_str(&s->shape));
	return true;
}

/* QuantizeLinear: float x -> u8/i8 (the zero point's dtype, u8 without
 * one), shape of x. */
bool infer_quantize(InferCtx *c)
{
	Value *x = iin(c, 0), *z = iin(c, 2);
	if (!dtype_is_float(x->dtype) && x->dtype != DT_I32)
		return ifail(c, 0, "expected a float or int32 tensor, got %s", dtype_name(x->dtype));
	if (!check_qparams(c))
		return false;
	DType ot = z ? z->dtype : DT_U8;
	if (ot != DT_U8 && ot != DT_I8)
		return ifail(c, 2, "zero point must be uint8 or int8, got %s", dtype_name(ot));
	if (attr_int(c->n, "saturate", 1) != 1)
		return ifail(c, -1, "saturate=0 is not supported");
	iset(c, 0, ot, &x->shape);
	return true;
}

/* DequantizeLinear: u8/i8/i32 x -> the scale's dtype, shape of x. */
bool infer_dequantize(InferCtx *c)
{
	Value *x = iin(c, 0), *s = iin(c, 1), *z = iin(c, 2);
	if (x->dtype != DT_U8 && x->dtype != DT_I8 && x->dtype != DT_I32)
		return ifail(c, 0, "expected uint8, int8 or int32, got %s", dtype_name(x->dtype));
	if (z && !isame_dtype(c, 2, 0))
		return false;
	if (!check_qparams(c))
		return false;
	iset(c, 0, s->dtype, &x->shape);
	return true;
}

/* DynamicQuantizeLinear: f32 x -> (u8 y like x, f32 scale [], u8 zp []). */
bool infer_dynamic_quantize(InferCtx *c)
{
	Value *x = iin(c, 0);
	if (x->dtype != DT_F32)
		return ifail(c, 0, "expected float32, got %s", dtype_name(x->dtype));
	Shape sc = shape_make(0, NULL);
	iset(c, 0, DT_U8, &x->shape);
	iset(c, 1, DT_F32, &sc);
	iset(c, 2, DT_U8, &sc);
	return true;
}

/* Output shape of the integer matmul of inputs ka [..., M, K] and kb
 * [..., K, N] (rank >= 2, batch dims broadcast): [..., M, N]. */
static bool matmul_shape(InferCtx *c, int ka, int kb, Shape *o)
{
	Value *a = iin(c, ka), *b = iin(c, kb);
	int ra = a->shape.rank, rb = b->shape.rank;
	int64_t M = a->shape.dims[ra - 2], K = a->shape.dims[ra - 1], N = b->shape.dims[rb - 1];
	if (b->shape.dims[rb - 2] != K)
		return ifail(c, kb, "shape %s does not multiply with input %d's %s",
		             ishape_str(&b->shape), ka, ishape_str(&a->shape));
	Shape ba = shape_make(ra - 2, a->shape.dims), bb = shape_make(rb - 2, b->shape.dims);
	if (!ibroadcast(c, &ba, ka, &bb, kb, o))
		return false;
	o->dims[o->rank++] = M;
	o->dims[o->rank++] = N;
	return true;
}

/* Input k (named `name`), a zero point of input `of`: of its dtype, a
 * scalar or a vector of n entries. */
static bool zero_point_ok(InferCtx *c, int k, int of, const char *name, int64_t n)
{
	if (!isame_dtype(c, k, of))
		return false;
	const Value *z = iin(c, k);
	int64_t nz = shape_numel(&z->shape);
	if (z->shape.rank > 1 || (nz != 1 && nz != n))
		return ifail(c, k, "%s shape %s must be a scalar or [%" PRId64 "]", name, ishape_str(&z->shape), n);
	return true;
}

/* MatMulInteger: A [..., M, K] and B [..., K, N] of u8/i8 (rank >= 2,
 * batch dims broadcast), zero points a scalar or per-row [M] / per-column
 * [N] of the matching dtype.  Output int32 [..., M, N]. */
bool infer_matmul_integer(InferCtx *c)
{
	Value *az = iin(c, 2), *bz = iin(c, 3);
	for (int k = 0; k < 2; k++) {
		Value *v = iin(c, k);
		if (v->dtype != DT_U8 && v->dtype != DT_I8)
			return ifail(c, k, "expected uint8 or int8, got %s", dtype_name(v->dtype));
		if (!irank(c, k, 2, -1))
			return false;
	}
	Shape o;
	if (!matmul_shape(c, 0, 1, &o))
		return false;
	int64_t M = o.dims[o.rank - 2], N = o.dims[o.rank - 1];
	if ((az && !zero_point_ok(c, 2, 0, "a_zero_point", M)) || (bz && !zero_point_ok(c, 3, 1, "b_zero_point", N)))
		return false;
	iset(c, 0, DT_I32, &o);
	return true;
}

/* QLinearMatMul: a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp with
 * scalar (per-tensor) scales and zero points; output the y_zp dtype. */
bool infer_qlinear_matmul(InferCtx *c)
{
	for (int k = 1; k < 8; k++) {
		Value *v = iin(c, k);
		if (k == 3)
			continue;
		if (!v)
			return ifail(c, k, "required input is missing");
		if (shape_numel(&v->shape) != 1 || v->shape.rank > 1)
			return ifail(c, k, "only per-tensor (scalar) scales and zero points are supported, got %s",
			             ishape_str(&v->shape));
		if ((k == 1 || k == 4 || k == 6) && v->dtype != DT_F32)
			return ifail(c, k, "scale must be float32, got %s", dtype_name(v->dtype));
	}
	if (!isame_dtype(c, 2, 0) || !isame_dtype(c, 5, 3))
		return false;
	DType yt = iin(c, 7)->dtype;
	if (yt != DT_U8 && yt != DT_I8)
		return ifail(c, 7, "expected uint8 or int8, got %s", dtype_name(yt));
	for (int k = 0; k < 4; k += 3) {
		Value *v = iin(c, k);
		if (v->dtype != DT_U8 && v->dtype != DT_I8)
			return ifail(c, k, "expected uint8 or int8, got %s", dtype_name(v->dtype));
		if (!irank(c, k, 2, -1))
			return false;
	}
	Shape o;
	if (!matmul_shape(c, 0, 3, &o))
		return false;
	iset(c, 0, yt, &o);
	return true;
}

/* ConvInteger (x, w, x_zp, w_zp) / QLinearConv (x, x_scale, x_zp, w,
 * w_scale, w_zp, y_scale, y_zp, B): u8/i8 x [N, C, D...] and w [M, C/group,
 * K...]; x_zp scalar, w_zp and w_scale scalar or [M], other scales scalar,
 * B int32 [M].  Output int32 (ConvInteger) or y_zp's dtype, [N, M, O...]
 * with the usual pads/strides/dilations/auto_pad arithmetic. */
bool infer_conv_integer(InferCtx *c)
{
	bool ql = c->n->op == OP_QLinearConv;
	int kw = ql ? 3 : 1, kxz = 2, kwz = ql ? 5 : 3;
	Value *x = iin(c, 0), *w = iin(c, kw);
	for (int k = 0; k <= kw; k += kw) {
		Value *v = iin(c, k);
		if (v->dtype != DT_U8 && v->dtype != DT_I8)
			return ifail(c, k, "expected uint8 or int8, got %s", dtype_name(v->dtype));
	}
	if (!irank(c, 0, 3, -1))
		return false;
	int r = x->shape.rank, k = r - 2;
	if (w->shape.rank != r)
		return ifail(c, kw, "rank %d differs from x's %d", w->shape.rank, r);
	int64_t M = w->shape.dims[0], grp = attr_int(c->n, "group", 1);
	if (grp < 1 || x->shape.dims[1] != w->shape.dims[1] * grp || M % grp)
		return ifail(c, kw, "shape %s does not fit x %s with group %" PRId64, ishape_str(&w->shape),
		             ishape_str(&x->shape), grp);
	Value *xz = iin(c, kxz), *wz = iin(c, kwz);
	if (xz && (shape_numel(&xz->shape) != 1 || !isame_dtype(c, kxz, 0)))
		return ifail(c, kxz, "x_zero_point must be a scalar of x's dtype");
	if (wz && ((shape_numel(&wz->shape) != 1 && shape_numel(&wz->shape) != M) || wz->shape.rank > 1 ||
	           !isame_dtype(c, kwz, kw)))
		return ifail(c, kwz, "w_zero_point must be a scalar or [%" PRId64 "] of w's dtype", M);
	DType yt = DT_I32;
	if (ql) {
		for (int q = 1; q < 8; q++) {
			Value *v = iin(c, q);
			if (q == 2 || q == 3 || q == 5)
				continue;
			if (!v)
				return ifail(c, q, "required input is missing");
			int64_t nv = shape_numel(&v->shape);
			if (v->shape.rank > 1 || (nv != 1 && !(q == 4 && nv == M)))
				return ifail(c, q, "unsupported shape %s", ishape_str(&v->shape));
			if ((q == 1 || q == 4 || q == 6) && v->dtype != DT_F32)
				return ifail(c, q, "scale must be float32, got %s", dtype_name(v->dtype));
		}
		yt = iin(c, 7)->dtype;
		if (yt != DT_U8 && yt != DT_I8)
			return ifail(c, 7, "expected uint8 or int8, got %s", dtype_name(yt));
		Value *bias = iin(c, 8);
		if (bias && (bias->dtype != DT_I32 || bias->shape.rank != 1 || bias->shape.dims[0] != M))
			return ifail(c, 8, "B must be int32 [%" PRId64 "]", M);
	}
	const WindowParams *wp = node_window(c->g, c->nid, c->d);
	if (!wp)
		return false;
	Shape o = shape_make(r, NULL);
	o.dims[0] = x->shape.dims[0];
	o.dims[1] = M;
	for (int i = 0; i < k; i++) {
		int64_t s = wp->strides[i], d = wp->dilations[i], kk = wp->kernel[i];
		int64_t p = isat_add(wp->pads[i], wp->pads[k + i]);
		int64_t in = x->shape.dims[2 + i];
		if (wp->auto_pad == AUTOPAD_SAME_UPPER || wp->auto_pad == AUTOPAD_SAME_LOWER) {
			o.dims[2 + i] = (in + s - 1) / s;
		} else {
			int64_t span = isat_add(isat_mul(kk - 1, d), 1), v = isat_add(in, p) - span;
			if (v < 0)
				return ifail(c, -1, "kernel larger than the padded input on axis %d", 2 + i);
			o.dims[2 + i] = v / s + 1;
		}
	}
	iset(c, 0, yt, &o);
	return true;
}
