/* passes/infer_resize.c — shape rules of Resize and the deprecated Upsample
 * (lowered by codegen/lower_resize.c).
 */
#define INFER_INTERNAL
#include "infer.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

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
