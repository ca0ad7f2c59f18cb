/* passes/infer_index.c — shape rules of the indexing and rearranging ops:
 * Gather, GatherElements, GatherND, ScatterElements, ScatterND, Trilu,
 * OneHot, CumSum, DepthToSpace, SpaceToDepth, EyeLike, TopK, the deprecated
 * Scatter and ReverseSequence.
 */
#define INFER_INTERNAL
#include "infer.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

static bool index_dtype(InferCtx *c, int k)
{
	DType t = iin(c, k)->dtype;
	if (t != DT_I32 && t != DT_I64)
		return ifail(c, k, "indices must be int32 or int64, got %s", dtype_name(t));
	return true;
}

/* Gather: out = data[:axis] ++ indices.shape ++ data[axis+1:]; scalar
 * indices drop the axis.  Constant indices are range-checked. */
bool infer_gather(InferCtx *c)
{
	Value *x = iin(c, 0), *idx = iin(c, 1);
	int r = x->shape.rank, q = idx->shape.rank, ax;
	if (!index_dtype(c, 1))
		return false;
	if (r < 1)
		return ifail(c, 0, "expected rank >= 1, got 0");
	if (!iaxis(c, attr_int(c->n, "axis", 0), r, -1, "axis", &ax))
		return false;
	if (r - 1 + q > IR_MAX_RANK)
		return ifail(c, -1, "output rank %d exceeds the supported %d", r - 1 + q, IR_MAX_RANK);
	int64_t d = x->shape.dims[ax];
	if (idx->kind == VK_CONST) {
		int64_t ni = shape_numel(&idx->shape);
		for (int64_t i = 0; i < ni; i++) {
			int64_t v = value_get_int(idx, i);
			if (v < -d || v >= d)
				return ifail(c, 1, "index %" PRId64 " out of range for axis %d of size %" PRId64,
				             v, ax, d);
		}
	}
	Shape s = shape_make(0, NULL);
	for (int i = 0; i < ax; i++)
		s.dims[s.rank++] = x->shape.dims[i];
	for (int i = 0; i < q; i++)
		s.dims[s.rank++] = idx->shape.dims[i];
	for (int i = ax + 1; i < r; i++)
		s.dims[s.rank++] = x->shape.dims[i];
	iset(c, 0, x->dtype, &s);
	return true;
}

/* Constant indices (input 1) must lie in [-d, d) for the dim they index:
 * axis `ax` of data for the *Elements ops (tuple < 0), or for GatherND /
 * ScatterND dim first + j for element j of each index tuple (the last dim
 * of the indices).  Indices only known at run time are the generated
 * code's business. */
static bool const_indices_ok(InferCtx *c, const Value *x, const Value *idx, int ax,
                             int64_t tuple, int first)
{
	if (idx->kind != VK_CONST || !idx->data)
		return true;
	int64_t ni = shape_numel(&idx->shape);
	for (int64_t i = 0; i < ni; i++) {
		int dim = tuple > 0 ? first + (int)(i % tuple) : ax;
		int64_t d = x->shape.dims[dim], v = value_get_int(idx, i);
		if (v < -d || v >= d)
			return ifail(c, 1, "index %" PRId64 " (element %" PRId64 ") out of range for "
			             "axis %d of size %" PRId64, v, i, dim, d);
	}
	return true;
}

bool infer_gather_elements(InferCtx *c)
{
	Value *x = iin(c, 0), *idx = iin(c, 1);
	int r = x->shape.rank, ax;
	if (!index_dtype(c, 1))
		return false;
	if (r < 1)
		return ifail(c, 0, "expected rank >= 1, got 0");
	if (idx->shape.rank != r)
		return ifail(c, 1, "rank %d differs from data's rank %d", idx->shape.rank, r);
	if (!iaxis(c, attr_int(c->n, "axis", 0), r, -1, "axis", &ax))
		return false;
	if (!const_indices_ok(c, x, idx, ax, 0, 0))
		return false;
	iset(c, 0, x->dtype, &idx->shape);
	return true;
}

/* GatherND-12: out = indices.shape[:-1] ++ data.shape[batch_dims + m:],
 * m = indices.shape[-1]; the first batch_dims dims of both agree. */
bool infer_gather_nd(InferCtx *c)
{
	Value *x = iin(c, 0), *idx = iin(c, 1);
	int r = x->shape.rank, q = idx->shape.rank;
	int64_t b = attr_int(c->n, "batch_dims", 0);
	if (idx->dtype != DT_I64)
		return ifail(c, 1, "indices must be int64, got %s", dtype_name(idx->dtype));
	if (r < 1 || q < 1)
		return ifail(c, r < 1 ? 0 : 1, "expected rank >= 1, got 0");
	if (b < 0 || b >= q || b >= r)
		return ifail(c, -1, "batch_dims %" PRId64 " invalid for ranks %d and %d", b, r, q);
	for (int i = 0; i < b; i++)
		if (x->shape.dims[i] != idx->shape.dims[i])
			return ifail(c, 1, "batch dim %d is %" PRId64 ", data has %" PRId64, i,
			             idx->shape.dims[i], x->shape.dims[i]);
	int64_t m = idx->shape.dims[q - 1];
	if (m < 1 || m > r - b)
		return ifail(c, 1, "last dim %" PRId64 " must be in [1, %" PRId64 "]", m, r - b);
	if (!const_indices_ok(c, x, idx, 0, m, (int)b))
		return false;
	Shape s = shape_make(0, NULL);
	for (int i = 0; i < q - 1; i++)
		s.dims[s.rank++] = idx->shape.dims[i];
	for (int64_t i = b + m; i < r; i++) {
		if (s.rank >= IR_MAX_RANK)
			return ifail(c, -1, "output rank exceeds the supported %d", IR_MAX_RANK);
		s.dims[s.rank++] = x->shape.dims[i];
	}
	iset(c, 0, x->dtype, &s);
	return true;
}

static bool check_reduction(InferCtx *c)
{
	const char *red = attr_string(c->n, "reduction", "none");
	if (!strcmp(red, "none") || (c->opset >= 16 && (!strcmp(red, "add") || !strcmp(red, "mul"))) ||
	    (c->opset >= 18 && (!strcmp(red, "max") || !strcmp(red, "min"))))
		return true;
	return ifail(c, -1, "unsupported reduction '%s' at opset %d", red, c->opset);
}

bool infer_scatter_elements(InferCtx *c)
{
	Value *x = iin(c, 0), *idx = iin(c, 1), *u = iin(c, 2);
	int r = x->shape.rank, ax;
	if (!index_dtype(c, 1) || !isame_dtype(c, 2, 0) || !check_reduction(c))
		return false;
	if (r < 1)
		return ifail(c, 0, "expected rank >= 1, got 0");
	if (idx->shape.rank != r)
		return ifail(c, 1, "rank %d differs from data's rank %d", idx->shape.rank, r);
	if (!shape_eq(&u->shape, &idx->shape))
		return ifail(c, 2, "updates shape %s differs from indices shape %s",
		             ishape_str(&u->shape), ishape_str(&idx->shape));
	if (!iaxis(c, attr_int(c->n, "axis", 0), r, -1, "axis", &ax))
		return false;
	if (!const_indices_ok(c, x, idx, ax, 0, 0))
		return false;
	iset(c, 0, x->dtype, &x->shape);
	return true;
}

/* ScatterND: updates.shape == indices.shape[:-1] ++ data.shape[k:]. */
bool infer_scatter_nd(InferCtx *c)
{
	Value *x = iin(c, 0), *idx = iin(c, 1), *u = iin(c, 2);
	int r = x->shape.rank, q = idx->shape.rank;
	if (idx->dtype != DT_I64)
		return ifail(c, 1, "indices must be int64, got %s", dtype_name(idx->dtype));
	if (!isame_dtype(c, 2, 0) || !check_reduction(c))
		return false;
	if (r < 1 || q < 1)
		return ifail(c, r < 1 ? 0 : 1, "expected rank >= 1, got 0");
	int64_t k = idx->shape.dims[q - 1];
	if (k < 1 || k > r)
		return ifail(c, 1, "last dim %" PRId64 " must be in [1, %d]", k, r);
	if (!const_indices_ok(c, x, idx, 0, k, 0))
		return false;
	Shape want = shape_make(0, NULL);
	for (int i = 0; i < q - 1; i++)
		want.dims[want.rank++] = idx->shape.dims[i];
	for (int64_t i = k; i < r; i++) {
		if (want.rank >= IR_MAX_RANK)
			return ifail(c, 2, "updates rank exceeds the supported %d", IR_MAX_RANK);
		want.dims[want.rank++] = x->shape.dims[i];
	}
	if (!shape_eq(&u->shape, &want))
		return ifail(c, 2, "updates shape %s, expected %s", ishape_str(&u->shape),
		             ishape_str(&want));
	iset(c, 0, x->dtype, &x->shape);
	return true;
}

bool infer_trilu(InferCtx *c)
{
	if (!irank(c, 0, 2, -1))
		return false;
	Value *k = iin(c, 1);
	if (k && (k->dtype != DT_I64 || shape_numel(&k->shape) != 1))
		return ifail(c, 1, "k must be an int64 scalar");
	iset_like(c, 0, 0);
	return true;
}

/* OneHot-11: depth is a constant scalar (any numeric type), values a
 * 2-element tensor giving the output dtype; the new axis goes at 'axis'
 * (default -1) of the rank+1 output. */
bool infer_onehot(InferCtx *c)
{
	Value *idx = iin(c, 0), *depth = iin(c, 1), *vals = iin(c, 2);
	int r = idx->shape.rank, ax;
	if (!dtype_is_int(idx->dtype) && !dtype_is_float(idx->dtype))
		return ifail(c, 0, "expected a numeric type, got %s", dtype_name(idx->dtype));
	if (shape_numel(&depth->shape) != 1 || depth->shape.rank > 1)
		return ifail(c, 1, "depth must be a scalar, got shape %s", ishape_str(&depth->shape));
	if (depth->kind != VK_CONST)
		return inot_const(c, 1);
	if (!dtype_is_int(depth->dtype) && !dtype_is_float(depth->dtype))
		return ifail(c, 1, "expected a numeric type, got %s", dtype_name(depth->dtype));
	if (vals->shape.rank != 1 || vals->shape.dims[0] != 2)
		return ifail(c, 2, "values must have shape [2], got %s", ishape_str(&vals->shape));
	if (r + 1 > IR_MAX_RANK)
		return ifail(c, -1, "output rank %d exceeds the supported %d", r + 1, IR_MAX_RANK);
	double dv = value_get_f64(depth, 0);
	if (!(dv >= 1) || dv > 1e12)
		return ifail(c, 1, "depth %g must be positive", dv);
	int64_t dn = (int64_t)dv;
	if (!iaxis(c, attr_int(c->n, "axis", -1), r + 1, -1, "axis", &ax))
		return false;
	Shape s = shape_make(r + 1, NULL);
	for (int i = 0, k = 0; i < r + 1; i++)
		s.dims[i] = i == ax ? dn : idx->shape.dims[k++];
	iset(c, 0, vals->dtype, &s);
	return true;
}

bool infer_cumsum(InferCtx *c)
{
	Value *x = iin(c, 0), *axis = iin(c, 1);
	if (!dtype_is_int(x->dtype) && !dtype_is_float(x->dtype))
		return ifail(c, 0, "expected a numeric type, got %s", dtype_name(x->dtype));
	if ((axis->dtype != DT_I32 && axis->dtype != DT_I64) || shape_numel(&axis->shape) != 1)
		return ifail(c, 1, "axis must be an int32/int64 scalar");
	if (axis->kind == VK_CONST) {
		int ax;
		if (!iaxis(c, value_get_int(axis, 0), x->shape.rank, 1, "axis", &ax))
			return false;
	}
	iset_like(c, 0, 0);
	return true;
}

static bool blocksize(InferCtx *c, int64_t *b)
{
	const Attr *a = node_attr(c->n, "blocksize");
	if (!a || a->kind != AK_INT || a->i < 1)
		return ifail(c, -1, "attribute 'blocksize' is required and must be positive");
	*b = a->i;
	return true;
}

/* DepthToSpace: [N, C, H, W] -> [N, C/b², H·b, W·b] (DCR and CRD alike). */
bool infer_depth_to_space(InferCtx *c)
{
	Value *x = iin(c, 0);
	int64_t b = 0;
	if (!irank(c, 0, 4, 4) || !blocksize(c, &b))
		return false;
	const char *mode = attr_string(c->n, "mode", "DCR");
	if (strcmp(mode, "DCR") && strcmp(mode, "CRD"))
		return ifail(c, -1, "unsupported mode '%s'", mode);
	Shape s = x->shape;
	int64_t bb = isat_mul(b, b);
	if (s.dims[1] % bb)
		return ifail(c, 0, "channels %" PRId64 " not divisible by blocksize² %" PRId64,
		             s.dims[1], bb);
	s.dims[1] /= bb;
	s.dims[2] = isat_mul(s.dims[2], b);
	s.dims[3] = isat_mul(s.dims[3], b);
	iset(c, 0, x->dtype, &s);
	return true;
}

/* SpaceToDepth: [N, C, H, W] -> [N, C·b², H/b, W/b]. */
bool infer_space_to_depth(InferCtx *c)
{
	Value *x = iin(c, 0);
	int64_t b = 0;
	if (!irank(c, 0, 4, 4) || !blocksize(c, &b))
		return false;
	Shape s = x->shape;
	if (s.dims[2] % b || s.dims[3] % b)
		return ifail(c, 0, "spatial dims %s not divisible by blocksize %" PRId64,
		             ishape_str(&s), b);
	s.dims[1] = isat_mul(s.dims[1], isat_mul(b, b));
	s.dims[2] /= b;
	s.dims[3] /= b;
	iset(c, 0, x->dtype, &s);
	return true;
}

/* EyeLike: 2-D; dtype attribute (default: the input's). */
bool infer_eyelike(InferCtx *c)
{
	Value *x = iin(c, 0);
	if (!irank(c, 0, 2, 2))
		return false;
	DType dt = x->dtype;
	const Attr *a = node_attr(c->n, "dtype");
	if (a) {
		if (a->kind != AK_INT || a->i <= 0 || a->i >= DT__COUNT || a->i == DT_STRING ||
		    !dtype_size((DType)a->i))
			return ifail(c, -1, "attribute 'dtype': unsupported dtype %" PRId64, a->i);
		dt = (DType)a->i;
	}
	iset(c, 0, dt, &x->shape);
	return true;
}

/* TopK-10+: k is a constant int64 [1] input; values keep the dtype, indices
 * are int64, both with axis (default -1) of size k. */
bool infer_topk(InferCtx *c)
{
	Value *x = iin(c, 0);
	int r = x->shape.rank, ax, nk;
	int64_t k;
	if (!dtype_is_int(x->dtype) && !dtype_is_float(x->dtype))
		return ifail(c, 0, "expected a numeric type, got %s", dtype_name(x->dtype));
	if (r < 1)
		return ifail(c, 0, "expected rank >= 1, got 0");
	if (!iaxis(c, attr_int(c->n, "axis", -1), r, -1, "axis", &ax))
		return false;
	if (!iconst_ints(c, 1, &k, 1, &nk))
		return false;
	if (nk != 1)
		return ifail(c, 1, "k must have one element");
	if (k < 0 || k > x->shape.dims[ax])
		return ifail(c, 1, "k = %" PRId64 " out of range for axis %d of size %" PRId64, k, ax,
		             x->shape.dims[ax]);
	Shape s = x->shape;
	s.dims[ax] = k;
	iset(c, 0, x->dtype, &s);
	iset(c, 1, DT_I64, &s);
	return true;
}

static bool is_index(DType t) { return t == DT_I32 || t == DT_I64; }

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
