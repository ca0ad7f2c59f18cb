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

static int axes_input_opset(Op op) { return op == OP_ReduceSum ? 13 : 18; }

bool infer_reduce(InferCtx *c)
{
	Value *x = iin(c, 0);
	Node *n = c->n;
	int r = x->shape.rank;
	if (!dtype_is_int(x->dtype) && !dtype_is_float(x->dtype))
		return ifail(c, 0, "expected a numeric type, got %s", dtype_name(x->dtype));
	int64_t axes[IR_MAX_RANK];
	int naxes = 0;
	bool from_input = c->opset >= axes_input_opset(n->op);
	if (from_input) {
		if (node_attr(n, "axes"))
			return ifail(c, -1, "attribute 'axes' is not allowed at opset %d (axes is an input)",
			             c->opset);
		if (iin(c, 1) && !iconst_ints(c, 1, axes, IR_MAX_RANK, &naxes))
			return false;
	} else {
		if (iin(c, 1))
			return ifail(c, 1, "axes as an input needs opset >= %d (node has %d)",
			             axes_input_opset(n->op), c->opset);
		const int64_t *a;
		int na = attr_ints(n, "axes", &a);
		if (na > IR_MAX_RANK)
			return ifail(c, -1, "attribute 'axes' has %d entries for rank %d", na, r);
		for (int i = 0; i < na; i++)
			axes[naxes++] = a[i];
	}
	int64_t keepdims = attr_int(n, "keepdims", 1);
	int64_t noop = from_input ? attr_int(n, "noop_with_empty_axes", 0) : 0;
	if (naxes == 0 && noop) {
		iset(c, 0, x->dtype, &x->shape);
		return true;
	}
	bool red[IR_MAX_RANK] = {false};
	for (int i = 0; i < naxes; i++) {
		int ax;
		if (!iaxis(c, axes[i], r, from_input ? 1 : -1, "axis", &ax))
			return false;
		if (red[ax])
			return ifail(c, from_input ? 1 : -1, "axis %" PRId64 " repeated", axes[i]);
		red[ax] = true;
	}
	Shape s = shape_make(0, NULL);
	for (int i = 0; i < r; i++) {
		bool rd = naxes == 0 || red[i];
		if (!rd)
			s.dims[s.rank++] = x->shape.dims[i];
		else if (keepdims)
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
