/* passes/infer_reduce.c — shape rules of the Reduce* family and ArgMax/ArgMin.
 *
 * Axes: an attribute before ReduceSum-13 / the other reductions' opset 18,
 * an optional input from then on (an absent or empty axes input means all
 * axes unless noop_with_empty_axes=1, which makes the op an identity).
 * keepdims defaults to 1.  Negative axes count from the end.
 */
#define INFER_INTERNAL
#include "infer.h"

#include <inttypes.h>

/* Reduce*: the axes are parsed with the node's params (ir/params.h). */
bool infer_reduce(InferCtx *c)
{
	Value *x = iin(c, 0);
	if (!dtype_is_int(x->dtype) && !dtype_is_float(x->dtype))
		return ifail(c, 0, "expected a numeric type, got %s", dtype_name(x->dtype));
	const ReduceParams *rp = node_reduce(c->g, c->nid, c->d);
	if (!rp)
		return false;
	Shape s = shape_make(0, NULL);
	for (int i = 0; i < x->shape.rank; i++) {
		if (!rp->reduced[i])
			s.dims[s.rank++] = x->shape.dims[i];
		else if (rp->keepdims)
			s.dims[s.rank++] = 1;
	}
	iset(c, 0, x->dtype, &s);
	return true;
}

/* ArgMax/ArgMin: axis (default 0), keepdims (default 1); output int64. */
bool infer_argminmax(InferCtx *c)
{
	Value *x = iin(c, 0);
	if (!dtype_is_int(x->dtype) && !dtype_is_float(x->dtype))
		return ifail(c, 0, "expected a numeric type, got %s", dtype_name(x->dtype));
	int r = x->shape.rank, ax;
	if (!iaxis(c, attr_int(c->n, "axis", 0), r, -1, "axis", &ax))
		return false;
	int64_t keepdims = attr_int(c->n, "keepdims", 1);
	Shape s = shape_make(0, NULL);
	for (int i = 0; i < r; i++) {
		if (i != ax)
			s.dims[s.rank++] = x->shape.dims[i];
		else if (keepdims)
			s.dims[s.rank++] = 1;
	}
	iset(c, 0, DT_I64, &s);
	return true;
}
