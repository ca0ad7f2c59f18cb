/* passes/infer_sampling.c — shape rules of the image samplers: GridSample
 * and RoiAlign (lowered by codegen/lower_sampling.c).
 */
#define INFER_INTERNAL
#include "infer.h"

#include <inttypes.h>
#include <string.h>

static bool is_index(DType t) { return t == DT_I32 || t == DT_I64; }

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
