/* passes/infer_more.c — shape rules for the loss, quantization, window and
 * assorted ops added late: NegativeLogLikelihoodLoss, SoftmaxCrossEntropyLoss,
 * QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear, Hann/Hamming/
 * BlackmanWindow, Scatter (deprecated alias of ScatterElements),
 * ReverseSequence, MatMulInteger.
 *
 * Each rule checks what its lowering (codegen/lower_loss.c, lower_quant.c,
 * lower_misc.c) takes for granted, so a configuration the lowering cannot do
 * is a diagnostic here rather than a wrong answer there.
 */
#define INFER_INTERNAL
#include "infer.h"

#include <inttypes.h>
#include <string.h>

static bool is_index(DType t) { return t == DT_I32 || t == DT_I64; }

/* Common checks of NLL / SCE: input 0 (N, C, d1..dk), input 1 (N, d1..dk)
 * integer, optional input 2 weight (C) of input 0's dtype, reduction in
 * none/sum/mean.  Sets output 0. */
static bool infer_loss_common(InferCtx *c)
{
	Value *x = iin(c, 0), *t = iin(c, 1), *w = iin(c, 2);
	if (!dtype_is_float(x->dtype))
		return ifail(c, 0, "expected a float tensor, got %s", dtype_name(x->dtype));
	if (!irank(c, 0, 2, -1))
		return false;
	if (!is_index(t->dtype))
		return ifail(c, 1, "target must be int32 or int64, got %s", dtype_name(t->dtype));
	int r = x->shape.rank;
	if (t->shape.rank != r - 1)
		return ifail(c, 1, "target rank %d must be input rank %d minus 1", t->shape.rank, r);
	for (int i = 0; i < r - 1; i++) {
		int64_t want = x->shape.dims[i == 0 ? 0 : i + 1];
		if (t->shape.dims[i] != want)
			return ifail(c, 1, "target shape %s does not match input shape %s",
			             ishape_str(&t->shape), ishape_str(&x->shape));
	}
	if (w) {
		if (!isame_dtype(c, 2, 0))
			return false;
		if (w->shape.rank != 1 || w->shape.dims[0] != x->shape.dims[1])
			return ifail(c, 2, "weight shape %s must be [C] with C = %" PRId64,
			             ishape_str(&w->shape), x->shape.dims[1]);
	}
	/* constant targets: in [0, C-1] or ignore_index (run-time ones are
	 * checked by the generated code, codegen/lower_loss.c) */
	int64_t C = x->shape.dims[1];
	const Attr *ia = node_attr(c->n, "ignore_index");
	if (t->kind == VK_CONST && t->data && C >= 0) {
		int64_t nt = shape_numel(&t->shape);
		for (int64_t i = 0; i < nt; i++) {
			int64_t v = value_get_int(t, i);
			if ((v < 0 || v >= C) && !(ia && ia->kind == AK_INT && v == ia->i))
				return ifail(c, 1, "target %" PRId64 " (element %" PRId64 ") out of range "
				             "for %" PRId64 " classes", v, i, C);
		}
	}
	const char *red = attr_string(c->n, "reduction", "mean");
	if (!strcmp(red, "none"))
		iset(c, 0, x->dtype, &t->shape);
	else if (!strcmp(red, "sum") || !strcmp(red, "mean")) {
		Shape s = shape_make(0, NULL);
		iset(c, 0, x->dtype, &s);
	} else
		return ifail(c, -1, "unknown reduction '%s'", red);
	return true;
}

/* NegativeLogLikelihoodLoss: output (N, d1..dk) for reduction none, else a
 * scalar. */
bool infer_nll_loss(InferCtx *c)
{
	return infer_loss_common(c);
}

/* SoftmaxCrossEntropyLoss: as NLL; optional output 1 (log_prob) has the
 * scores' shape. */
bool infer_sce_loss(InferCtx *c)
{
	if (!infer_loss_common(c))
		return false;
	iset_like(c, 1, 0);
	return true;
}

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

/* Hann/Hamming/BlackmanWindow: constant scalar size -> [size] of
 * output_datatype (default float32). */
bool infer_window(InferCtx *c)
{
	int64_t size;
	int cnt;
	if (!iconst_ints(c, 0, &size, 1, &cnt))
		return false;
	if (cnt != 1 || iin(c, 0)->shape.rank != 0)
		return ifail(c, 0, "size must be a scalar");
	if (size < 0)
		return ifail(c, 0, "size %" PRId64 " is negative", size);
	int64_t dt = attr_int(c->n, "output_datatype", DT_F32);
	if (dt != DT_F32 && dt != DT_F64 && dt != DT_F16 && dt != DT_BF16)
		return ifail(c, -1, "output_datatype %" PRId64 " is not a supported float type", dt);
	Shape s = shape_make(1, &size);
	iset(c, 0, (DType)dt, &s);
	return true;
}

/* Scatter (opset 9-10, deprecated): the same operation as ScatterElements
 * without a reduction.  The node is canonicalised to ScatterElements here
 * so the one ScatterElements lowering serves both (op_type stays "Scatter"
 * in diagnostics). */
bool infer_scatter(InferCtx *c)
{
	c->n->op = OP_ScatterElements;
	return infer_scatter_elements(c);
}

/* ReverseSequence: x (rank >= 2), sequence_lens int64 [batch]; batch_axis
 * and time_axis are 0 and 1 in some order.  Output like x. */
bool infer_reverse_sequence(InferCtx *c)
{
	Value *x = iin(c, 0), *l = iin(c, 1);
	if (!irank(c, 0, 2, -1))
		return false;
	int64_t ba = attr_int(c->n, "batch_axis", 1), ta = attr_int(c->n, "time_axis", 0);
	if (!((ba == 0 && ta == 1) || (ba == 1 && ta == 0)))
		return ifail(c, -1, "batch_axis %" PRId64 " and time_axis %" PRId64 " must be 0 and 1",
		             ba, ta);
	if (!is_index(l->dtype))
		return ifail(c, 1, "sequence_lens must be int64, got %s", dtype_name(l->dtype));
	if (l->shape.rank != 1 || l->shape.dims[0] != x->shape.dims[ba])
		return ifail(c, 1, "sequence_lens shape %s must be [%" PRId64 "]", ishape_str(&l->shape),
		             x->shape.dims[ba]);
	iset_like(c, 0, 0);
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
	if (az) {
		if (!isame_dtype(c, 2, 0))
			return false;
		int64_t nz = shape_numel(&az->shape);
		if (az->shape.rank > 1 || (nz != 1 && nz != M))
			return ifail(c, 2, "a_zero_point shape %s must be a scalar or [%" PRId64 "]",
			             ishape_str(&az->shape), M);
	}
	if (bz) {
		if (!isame_dtype(c, 3, 1))
			return false;
		int64_t nz = shape_numel(&bz->shape);
		if (bz->shape.rank > 1 || (nz != 1 && nz != N))
			return ifail(c, 3, "b_zero_point shape %s must be a scalar or [%" PRId64 "]",
			             ishape_str(&bz->shape), N);
	}
	iset(c, 0, DT_I32, &o);
	return true;
}

/* Reads constant float input k of exactly `want` elements into out. */
static bool const_floats(InferCtx *c, int k, double *out, int64_t want)
{
	Value *v = iin(c, k);
	if (v->kind != VK_CONST || !v->data)
		return inot_const(c, k);
	if (!dtype_is_float(v->dtype))
		return ifail(c, k, "expected a float tensor, got %s", dtype_name(v->dtype));
	if (v->shape.rank != 1 || v->shape.dims[0] != want)
		return ifail(c, k, "expected %" PRId64 " elements, got shape %s", want,
		             ishape_str(&v->shape));
	for (int64_t i = 0; i < want; i++)
		out[i] = value_get_f64(v, i);
	return true;
}

/* Output shape floor(in * scale) of Resize/Upsample from constant scales. */
static bool scaled_shape(InferCtx *c, int k, const Shape *in, Shape *out)
{
	double sc[IR_MAX_RANK];
	if (!const_floats(c, k, sc, in->rank))
		return false;
	*out = shape_make(in->rank, NULL);
	for (int i = 0; i < in->rank; i++) {
		if (!(sc[i] > 0) || sc[i] > 1e9)
			return ifail(c, k, "scale %g of axis %d must be positive", sc[i], i);
		out->dims[i] = (int64_t)(sc[i] * (double)in->dims[i]);
	}
	return true;
}

static bool one_of(const char *s, const char *const *set)
{
	for (; *set; set++)
		if (!strcmp(s, *set))
			return true;
	return false;
}

/* Resize (opset >= 11): output from constant scales (input 2) or sizes
 * (input 3), exactly one of them non-empty; roi (input 1) must be constant
 * for tf_crop_and_resize.  Opset-18 extras (antialias, axes, a
 * keep_aspect_ratio_policy other than stretch) and Resize-10 are
 * diagnosed as unsupported. */
bool infer_resize(InferCtx *c)
{
	static const char *const modes[] = {"nearest", "linear", "cubic", NULL};
	static const char *const ctms[] = {"half_pixel", "pytorch_half_pixel", "align_corners",
	                                   "asymmetric", "tf_crop_and_resize", NULL};
	static const char *const nmodes[] = {"round_prefer_floor", "round_prefer_ceil", "floor",
	                                     "ceil", NULL};
	Value *x = iin(c, 0), *sc = iin(c, 2), *sz = iin(c, 3);
	if (c->opset < 11)
		return ifail(c, -1, "Resize before opset 11 is not supported");
	if (attr_int(c->n, "antialias", 0) != 0)
		return ifail(c, -1, "antialias is not supported");
	if (node_attr(c->n, "axes"))
		return ifail(c, -1, "the axes attribute is not supported");
	if (strcmp(attr_string(c->n, "keep_aspect_ratio_policy", "stretch"), "stretch"))
		return ifail(c, -1, "keep_aspect_ratio_policy other than stretch is not supported");
	const char *mode = attr_string(c->n, "mode", "nearest");
	const char *ctm = attr_string(c->n, "coordinate_transformation_mode", "half_pixel");
	const char *nm = attr_string(c->n, "nearest_mode", "round_prefer_floor");
	if (!one_of(mode, modes))
		return ifail(c, -1, "unknown mode '%s'", mode);
	if (!one_of(ctm, ctms))
		return ifail(c, -1, "unsupported coordinate_transformation_mode '%s'", ctm);
	if (!one_of(nm, nmodes))
		return ifail(c, -1, "unknown nearest_mode '%s'", nm);
	if (strcmp(mode, "nearest") && !dtype_is_float(x->dtype))
		return ifail(c, 0, "mode '%s' needs a float input, got %s", mode, dtype_name(x->dtype));
	if (x->shape.rank < 1)
		return ifail(c, 0, "expected rank >= 1, got 0");
	bool has_sc = sc && shape_numel(&sc->shape) > 0, has_sz = sz && shape_numel(&sz->shape) > 0;
	if (has_sc == has_sz)
		return ifail(c, -1, "exactly one of scales and sizes must be given");
	if (!strcmp(ctm, "tf_crop_and_resize")) {
		double roi[2 * IR_MAX_RANK];
		if (!iin(c, 1))
			return ifail(c, 1, "roi is required for tf_crop_and_resize");
		if (!const_floats(c, 1, roi, 2 * (int64_t)x->shape.rank))
			return false;
	}
	Shape o;
	if (has_sc) {
		if (!scaled_shape(c, 2, &x->shape, &o))
			return false;
	} else {
		int64_t d[IR_MAX_RANK];
		int cnt;
		if (!iconst_ints(c, 3, d, IR_MAX_RANK, &cnt))
			return false;
		if (cnt != x->shape.rank)
			return ifail(c, 3, "has %d elements, input rank is %d", cnt, x->shape.rank);
		for (int i = 0; i < cnt; i++)
			if (d[i] < 0)
				return ifail(c, 3, "size %" PRId64 " of axis %d is negative", d[i], i);
		o = shape_make(cnt, d);
	}
	for (int i = 0; i < o.rank; i++)
		if (o.dims[i] > 0 && x->shape.dims[i] == 0)
			return ifail(c, 0, "axis %d is empty but the output is not", i);
	iset(c, 0, x->dtype, &o);
	return true;
}

/* Upsample (deprecated; opset 7 scales attribute, opset 9 scales input):
 * output floor(in * scale); mode nearest or linear. */
bool infer_upsample(InferCtx *c)
{
	Value *x = iin(c, 0);
	const char *mode = attr_string(c->n, "mode", "nearest");
	if (strcmp(mode, "nearest") && strcmp(mode, "linear"))
		return ifail(c, -1, "unsupported mode '%s'", mode);
	if (strcmp(mode, "nearest") && !dtype_is_float(x->dtype))
		return ifail(c, 0, "mode '%s' needs a float input, got %s", mode, dtype_name(x->dtype));
	Shape o;
	if (iin(c, 1)) {
		if (!scaled_shape(c, 1, &x->shape, &o))
			return false;
	} else {
		const float *f;
		int nf = attr_floats(c->n, "scales", &f);
		if (nf != x->shape.rank)
			return ifail(c, -1, "scales attribute must have %d elements", x->shape.rank);
		o = shape_make(x->shape.rank, NULL);
		for (int i = 0; i < nf; i++) {
			if (!(f[i] > 0) || f[i] > 1e9)
				return ifail(c, -1, "scale %g of axis %d must be positive", f[i], i);
			o.dims[i] = (int64_t)((double)f[i] * (double)x->shape.dims[i]);
		}
	}
	iset(c, 0, x->dtype, &o);
	return true;
}

/* GridSample: X (N, C, H, W) float, grid (N, Ho, Wo, 2) float -> (N, C,
 * Ho, Wo).  Only the 2-D form. */
bool infer_grid_sample(InferCtx *c)
{
	Value *x = iin(c, 0), *gr = iin(c, 1);
	if (!dtype_is_float(x->dtype))
		return ifail(c, 0, "expected a float tensor, got %s", dtype_name(x->dtype));
	if (!dtype_is_float(gr->dtype))
		return ifail(c, 1, "expected a float tensor, got %s", dtype_name(gr->dtype));
	if (!irank(c, 0, 4, 4) || !irank(c, 1, 4, 4))
		return false;
	if (gr->shape.dims[0] != x->shape.dims[0] || gr->shape.dims[3] != 2)
		return ifail(c, 1, "grid shape %s must be [%" PRId64 ", Ho, Wo, 2]", ishape_str(&gr->shape),
		             x->shape.dims[0]);
	const char *m = attr_string(c->n, "mode", "bilinear"), *p = attr_string(c->n, "padding_mode", "zeros");
	if (strcmp(m, "bilinear") && strcmp(m, "nearest") && strcmp(m, "bicubic"))
		return ifail(c, -1, "unsupported mode '%s'", m);
	if (strcmp(p, "zeros") && strcmp(p, "border") && strcmp(p, "reflection"))
		return ifail(c, -1, "unsupported padding_mode '%s'", p);
	int64_t d[4] = {x->shape.dims[0], x->shape.dims[1], gr->shape.dims[1], gr->shape.dims[2]};
	Shape o = shape_make(4, d);
	iset(c, 0, x->dtype, &o);
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

/* MaxUnpool: X (N, C, D1..Dk), I int64 like X; output (N, C, O1..Ok) with
 * Oi = (Di - 1) * stride - pad_begin - pad_end + kernel, or the constant
 * output_shape input. */
bool infer_max_unpool(InferCtx *c)
{
	Value *x = iin(c, 0), *ix = iin(c, 1);
	if (!irank(c, 0, 3, -1))
		return false;
	if (ix->dtype != DT_I64)
		return ifail(c, 1, "indices must be int64, got %s", dtype_name(ix->dtype));
	if (!shape_eq(&ix->shape, &x->shape))
		return ifail(c, 1, "shape %s differs from X's %s", ishape_str(&ix->shape), ishape_str(&x->shape));
	int r = x->shape.rank, k = r - 2;
	Shape o = x->shape;
	if (iin(c, 2)) {
		int64_t d[IR_MAX_RANK];
		int cnt;
		if (!iconst_ints(c, 2, d, IR_MAX_RANK, &cnt))
			return false;
		if (cnt != r)
			return ifail(c, 2, "has %d elements, X has rank %d", cnt, r);
		for (int i = 0; i < r; i++)
			if (d[i] < 0 || (i < 2 && d[i] != x->shape.dims[i]))
				return ifail(c, 2, "output_shape dim %d (%" PRId64 ") is invalid", i, d[i]);
		o = shape_make(r, d);
	} else {
		const int64_t *ks, *st, *pd;
		int nk = attr_ints(c->n, "kernel_shape", &ks), ns = attr_ints(c->n, "strides", &st);
		int np = attr_ints(c->n, "pads", &pd);
		if (nk != k)
			return ifail(c, -1, "kernel_shape must have %d values", k);
		if ((ns >= 0 && ns != k) || (np >= 0 && np != 2 * k))
			return ifail(c, -1, "strides/pads have the wrong length");
		for (int i = 0; i < k; i++) {
			int64_t s = ns >= 0 ? st[i] : 1, pb = np >= 0 ? pd[i] : 0, pe = np >= 0 ? pd[k + i] : 0;
			if (s < 1 || ks[i] < 1 || pb < 0 || pe < 0)
				return ifail(c, -1, "invalid kernel_shape/strides/pads");
			int64_t v = isat_add(isat_add(isat_mul(x->shape.dims[2 + i] - 1, s), ks[i]), -(pb + pe));
			if (v < 0)
				return ifail(c, -1, "output dim %d would be negative", 2 + i);
			o.dims[2 + i] = v;
		}
		/* constant indices: flat in the unpooled shape (run-time ones are
		 * checked by the generated code, codegen/lower_misc.c) */
		int64_t total = shape_is_static(&o) ? shape_numel(&o) : -1;
		if (ix->kind == VK_CONST && ix->data && total >= 0) {
			int64_t ni = shape_numel(&ix->shape);
			for (int64_t i = 0; i < ni; i++) {
				int64_t v = value_get_int(ix, i);
				if (v < 0 || v >= total)
					return ifail(c, 1, "index %" PRId64 " (element %" PRId64 ") out of range "
					             "for the %" PRId64 " elements of the output", v, i, total);
			}
		}
	}
	iset(c, 0, x->dtype, &o);
	return true;
}

/* Det: float [*, M, M] -> [*]. */
bool infer_det(InferCtx *c)
{
	Value *x = iin(c, 0);
	if (!dtype_is_float(x->dtype))
		return ifail(c, 0, "expected a float tensor, got %s", dtype_name(x->dtype));
	if (!irank(c, 0, 2, -1))
		return false;
	int r = x->shape.rank;
	if (x->shape.dims[r - 1] != x->shape.dims[r - 2])
		return ifail(c, 0, "matrices of shape %s are not square", ishape_str(&x->shape));
	Shape o = shape_make(r - 2, x->shape.dims);
	iset(c, 0, x->dtype, &o);
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
	const int64_t *st, *dl, *pd, *ks;
	int ns = attr_ints(c->n, "strides", &st), nd = attr_ints(c->n, "dilations", &dl);
	int np = attr_ints(c->n, "pads", &pd), nk = attr_ints(c->n, "kernel_shape", &ks);
	if ((ns >= 0 && ns != k) || (nd >= 0 && nd != k) || (np >= 0 && np != 2 * k) || (nk >= 0 && nk != k))
		return ifail(c, -1, "strides/dilations/pads/kernel_shape have the wrong length");
	const char *ap = attr_string(c->n, "auto_pad", "NOTSET");
	bool same = !strcmp(ap, "SAME_UPPER") || !strcmp(ap, "SAME_LOWER");
	if (!same && strcmp(ap, "NOTSET") && strcmp(ap, "VALID"))
		return ifail(c, -1, "unknown auto_pad '%s'", ap);
	Shape o = shape_make(r, NULL);
	o.dims[0] = x->shape.dims[0];
	o.dims[1] = M;
	for (int i = 0; i < k; i++) {
		int64_t s = ns >= 0 ? st[i] : 1, d = nd >= 0 ? dl[i] : 1, kk = w->shape.dims[2 + i];
		if (nk >= 0 && ks[i] != kk)
			return ifail(c, -1, "kernel_shape differs from w's shape");
		int64_t p = !strcmp(ap, "NOTSET") && np >= 0 ? isat_add(pd[i], pd[k + i]) : 0;
		if (s < 1 || d < 1 || p < 0)
			return ifail(c, -1, "invalid strides/dilations/pads");
		int64_t in = x->shape.dims[2 + i];
		if (same) {
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

/* RoiAlign: X float (N, C, H, W), rois (R, 4) of X's dtype, batch_indices
 * int64 (R) -> (R, C, output_height, output_width). */
bool infer_roi_align(InferCtx *c)
{
	Value *x = iin(c, 0), *ro = iin(c, 1), *bi = iin(c, 2);
	if (!dtype_is_float(x->dtype))
		return ifail(c, 0, "expected a float tensor, got %s", dtype_name(x->dtype));
	if (!irank(c, 0, 4, 4) || !irank(c, 1, 2, 2) || !irank(c, 2, 1, 1) || !isame_dtype(c, 1, 0))
		return false;
	if (ro->shape.dims[1] != 4)
		return ifail(c, 1, "rois shape %s must be [R, 4]", ishape_str(&ro->shape));
	if (!is_index(bi->dtype) || bi->shape.dims[0] != ro->shape.dims[0])
		return ifail(c, 2, "batch_indices must be int64 [%" PRId64 "]", ro->shape.dims[0]);
	int64_t oh = attr_int(c->n, "output_height", 1), ow = attr_int(c->n, "output_width", 1);
	if (oh < 1 || ow < 1 || attr_int(c->n, "sampling_ratio", 0) < 0)
		return ifail(c, -1, "output_height/output_width must be >= 1 and sampling_ratio >= 0");
	int64_t d[4] = {ro->shape.dims[0], x->shape.dims[1], oh, ow};
	Shape o = shape_make(4, d);
	iset(c, 0, x->dtype, &o);
	return true;
}
