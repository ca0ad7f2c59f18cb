/* passes/infer_shape.c — shape rules of the shape-manipulating ops: Shape,
 * Size, Constant, ConstantOfShape, Reshape, Flatten, Squeeze, Unsqueeze,
 * Transpose, Concat, Split, Slice, Expand, Tile, Pad, Range.
 *
 * Where an input defines the output shape (Reshape's shape, Slice's
 * starts/ends/axes/steps, ...), it must be a constant: either an initializer
 * or a value the folder has already turned into one.
 */
#define INFER_INTERNAL
#include "infer.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Largest number of Split outputs / constant elements read here. */
#define MAX_LIST 1024

/* Shape-15: optional start/end attributes, clamped to [0, rank]. */
bool infer_shape(InferCtx *c)
{
	Value *x = iin(c, 0);
	int64_t r = x->shape.rank;
	int64_t start = 0, end = r;
	if (c->opset >= 15) {
		start = attr_int(c->n, "start", 0);
		end = attr_int(c->n, "end", r);
		if (start < 0)
			start += r;
		if (end < 0)
			end += r;
		start = start < 0 ? 0 : start > r ? r : start;
		end = end < 0 ? 0 : end > r ? r : end;
	}
	int64_t len = end > start ? end - start : 0;
	Shape s = shape_make(1, &len);
	iset(c, 0, DT_I64, &s);
	return true;
}

bool infer_size(InferCtx *c)
{
	Shape s = shape_make(0, NULL);
	iset(c, 0, DT_I64, &s);
	return true;
}

/* Constant normally never reaches this pass (the frontend turns it into a
 * constant value), but its rule is simple enough to keep. */
bool infer_constant(InferCtx *c)
{
	const Node *n = c->n;
	for (int i = 0; i < n->nattr; i++) {
		const Attr *a = &n->attrs[i];
		Shape s = shape_make(0, NULL);
		int64_t len = a->n;
		if (!strcmp(a->name, "value") && a->kind == AK_TENSOR && a->t) {
			if (a->t->shape.rank < 0 || a->t->shape.rank > IR_MAX_RANK)
				return ifail(c, -1, "attribute 'value': unsupported tensor rank");
			iset(c, 0, a->t->dtype, &a->t->shape);
			return true;
		}
		if (!strcmp(a->name, "value_float") && a->kind == AK_FLOAT) {
			iset(c, 0, DT_F32, &s);
			return true;
		}
		if (!strcmp(a->name, "value_int") && a->kind == AK_INT) {
			iset(c, 0, DT_I64, &s);
			return true;
		}
		if (!strcmp(a->name, "value_floats") && a->kind == AK_FLOATS) {
			s = shape_make(1, &len);
			iset(c, 0, DT_F32, &s);
			return true;
		}
		if (!strcmp(a->name, "value_ints") && a->kind == AK_INTS) {
			s = shape_make(1, &len);
			iset(c, 0, DT_I64, &s);
			return true;
		}
	}
	return ifail(c, -1, "no supported value attribute (value, value_float(s), value_int(s))");
}

/* Reads the constant 1-D int64 shape input k (ConstantOfShape, Expand)
 * into dims[IR_MAX_RANK]; a negative dim is a diagnostic. */
static bool const_shape(InferCtx *c, int k, int64_t *dims, int *nd)
{
	if (!iconst_ints(c, k, dims, IR_MAX_RANK, nd))
		return false;
	for (int i = 0; i < *nd; i++)
		if (dims[i] < 0)
			return ifail(c, k, "negative dim %" PRId64 " in shape", dims[i]);
	return true;
}

/* ConstantOfShape-9: shape from a constant int64 1-D input; dtype from the
 * one-element 'value' tensor attribute (default f32 0). */
bool infer_constant_of_shape(InferCtx *c)
{
	int64_t dims[IR_MAX_RANK];
	int nd;
	if (!const_shape(c, 0, dims, &nd))
		return false;
	DType dt = DT_F32;
	const Attr *a = node_attr(c->n, "value");
	if (a) {
		if (a->kind != AK_TENSOR || !a->t)
			return ifail(c, -1, "attribute 'value' must be a tensor");
		if (shape_numel(&a->t->shape) != 1)
			return ifail(c, -1, "attribute 'value' must have one element");
		dt = a->t->dtype;
	}
	Shape s = shape_make(nd, dims);
	iset(c, 0, dt, &s);
	return true;
}

/* Reshape-5+: 0 copies the input dim (unless allowzero=1, Reshape-14),
 * one -1 is inferred from the element count. */
bool infer_reshape(InferCtx *c)
{
	Value *x = iin(c, 0);
	int64_t dims[IR_MAX_RANK];
	int nd;
	if (!iconst_ints(c, 1, dims, IR_MAX_RANK, &nd))
		return false;
	bool allowzero = c->opset >= 14 && attr_int(c->n, "allowzero", 0);
	int infer_at = -1;
	int64_t known = 1;
	for (int i = 0; i < nd; i++) {
		if (dims[i] == -1) {
			if (infer_at >= 0)
				return ifail(c, 1, "more than one -1 in shape");
			infer_at = i;
			continue;
		}
		if (dims[i] < -1)
			return ifail(c, 1, "invalid dim %" PRId64 " in shape", dims[i]);
		if (dims[i] == 0 && !allowzero) {
			if (i >= x->shape.rank)
				return ifail(c, 1, "dim %d is 0 (copy) but the input has rank %d", i,
				             x->shape.rank);
			dims[i] = x->shape.dims[i];
		}
		known = isat_mul(known, dims[i]);
	}
	int64_t numel = shape_numel(&x->shape);
	if (infer_at >= 0) {
		if (allowzero && known == 0)
			return ifail(c, 1, "shape has both 0 and -1 with allowzero=1");
		if (known == 0 || numel % known)
			return ifail(c, 1, "cannot infer -1: %" PRId64 " elements do not divide by %" PRId64,
			             numel, known);
		dims[infer_at] = numel / known;
		known = isat_mul(known, dims[infer_at]);
	}
	Shape s = shape_make(nd, dims);
	if (known != numel)
		return ifail(c, 1, "shape %s has %" PRId64 " elements, input %s has %" PRId64,
		             ishape_str(&s), known, ishape_str(&x->shape), numel);
	iset(c, 0, x->dtype, &s);
	return true;
}

/* Flatten: axis in [-r, r] (negative from opset 11); 2-D output. */
bool infer_flatten(InferCtx *c)
{
	Value *x = iin(c, 0);
	int r = x->shape.rank;
	int64_t axis = attr_int(c->n, "axis", 1);
	if (axis < -r || axis > r)
		return ifail(c, -1, "axis %" PRId64 " out of range for rank %d", axis, r);
	if (axis < 0)
		axis += r;
	int64_t d[2] = {1, 1};
	for (int i = 0; i < r; i++)
		d[i < axis ? 0 : 1] *= x->shape.dims[i];
	Shape s = shape_make(2, d);
	iset(c, 0, x->dtype, &s);
	return true;
}

/* Reads Squeeze/Unsqueeze axes: attribute before opset 13, input 1 after. */
static bool read_axes(InferCtx *c, int64_t *axes, int *naxes, bool *given)
{
	*naxes = 0;
	*given = false;
	if (c->opset >= 13) {
		if (node_attr(c->n, "axes"))
			return ifail(c, -1, "attribute 'axes' is not allowed at opset %d (axes is an input)",
			             c->opset);
		if (!iin(c, 1))
			return true;
		*given = true;
		return iconst_ints(c, 1, axes, IR_MAX_RANK, naxes);
	}
	if (iin(c, 1))
		return ifail(c, 1, "axes as an input needs opset >= 13 (node has %d)", c->opset);
	const int64_t *a;
	int na = attr_ints(c->n, "axes", &a);
	if (na < 0)
		return true;
	if (na > IR_MAX_RANK)
		return ifail(c, -1, "attribute 'axes' has %d entries", na);
	*given = true;
	memcpy(axes, a, sizeof(int64_t) * (size_t)na);
	*naxes = na;
	return true;
}

bool infer_squeeze(InferCtx *c)
{
	Value *x = iin(c, 0);
	int r = x->shape.rank, where = c->opset >= 13 ? 1 : -1;
	int64_t axes[IR_MAX_RANK];
	int na;
	bool given;
	if (!read_axes(c, axes, &na, &given))
		return false;
	bool drop[IR_MAX_RANK] = {false};
	if (!given) {
		for (int i = 0; i < r; i++)
			drop[i] = x->shape.dims[i] == 1;
	}
	for (int i = 0; i < na; i++) {
		int ax;
		if (!iaxis(c, axes[i], r, where, "axis", &ax))
			return false;
		if (x->shape.dims[ax] != 1)
			return ifail(c, where, "cannot squeeze axis %" PRId64 " of size %" PRId64
			             " (input shape %s)", axes[i], x->shape.dims[ax], ishape_str(&x->shape));
		drop[ax] = true;
	}
	Shape s = shape_make(0, NULL);
	for (int i = 0; i < r; i++)
		if (!drop[i])
			s.dims[s.rank++] = x->shape.dims[i];
	iset(c, 0, x->dtype, &s);
	return true;
}

bool infer_unsqueeze(InferCtx *c)
{
	Value *x = iin(c, 0);
	int r = x->shape.rank, where = c->opset >= 13 ? 1 : -1;
	int64_t axes[IR_MAX_RANK];
	int na;
	bool given;
	if (!read_axes(c, axes, &na, &given))
		return false;
	if (!given)
		return ifail(c, where, "axes are required");
	int ro = r + na;
	if (ro > IR_MAX_RANK)
		return ifail(c, -1, "output rank %d exceeds the supported %d", ro, IR_MAX_RANK);
	bool ins[IR_MAX_RANK] = {false};
	for (int i = 0; i < na; i++) {
		int ax;
		if (!iaxis(c, axes[i], ro, where, "axis", &ax))
			return false;
		if (ins[ax])
			return ifail(c, where, "axis %" PRId64 " repeated", axes[i]);
		ins[ax] = true;
	}
	Shape s = shape_make(ro, NULL);
	for (int i = 0, k = 0; i < ro; i++)
		s.dims[i] = ins[i] ? 1 : x->shape.dims[k++];
	iset(c, 0, x->dtype, &s);
	return true;
}

/* Transpose: output dim i is input dim perm[i] (ir/params.h). */
bool infer_transpose(InferCtx *c)
{
	Value *x = iin(c, 0);
	const PermParams *t = node_perm(c->g, c->nid, c->d);
	if (!t)
		return false;
	Shape s = shape_make(t->rank, NULL);
	for (int i = 0; i < t->rank; i++)
		s.dims[i] = x->shape.dims[t->perm[i]];
	iset(c, 0, x->dtype, &s);
	return true;
}

bool infer_concat(InferCtx *c)
{
	Value *a = iin(c, 0);
	int r = a->shape.rank, ax;
	const Attr *at = node_attr(c->n, "axis");
	if (!at || at->kind != AK_INT)
		return ifail(c, -1, "attribute 'axis' is required");
	if (r == 0)
		return ifail(c, 0, "cannot concatenate scalars");
	if (!iaxis(c, at->i, r, -1, "axis", &ax))
		return false;
	Shape s = a->shape;
	for (int k = 1; k < c->n->nin; k++) {
		Value *b = iin(c, k);
		if (!b)
			return ifail(c, k, "input is missing");
		if (!isame_dtype(c, k, 0))
			return false;
		if (b->shape.rank != r)
			return ifail(c, k, "rank %d differs from input 0's rank %d", b->shape.rank, r);
		for (int i = 0; i < r; i++)
			if (i != ax && b->shape.dims[i] != a->shape.dims[i])
				return ifail(c, k, "shape %s does not match input 0's %s outside axis %d",
				             ishape_str(&b->shape), ishape_str(&a->shape), ax);
		s.dims[ax] = isat_add(s.dims[ax], b->shape.dims[ax]);
	}
	iset(c, 0, a->dtype, &s);
	return true;
}

/* Split: sizes from the 'split' attribute (< 13) or input 1 (>= 13); else
 * num_outputs (Split-18: chunks of ceil(dim/n), the last one smaller); else
 * an equal split into the number of outputs. */
bool infer_split(InferCtx *c)
{
	Value *x = iin(c, 0);
	Node *n = c->n;
	int r = x->shape.rank, ax;
	if (!iaxis(c, attr_int(n, "axis", 0), r, -1, "axis", &ax))
		return false;
	int64_t dim = x->shape.dims[ax];
	int nout = n->nout;
	int64_t sizes[MAX_LIST];
	int ns = -1;
	if (nout > MAX_LIST)
		return ifail(c, -1, "%d outputs, at most %d supported", nout, MAX_LIST);
	if (c->opset >= 13) {
		if (node_attr(n, "split"))
			return ifail(c, -1, "attribute 'split' is not allowed at opset %d (split is an input)",
			             c->opset);
		if (iin(c, 1) && !iconst_ints(c, 1, sizes, MAX_LIST, &ns))
			return false;
	} else {
		if (iin(c, 1))
			return ifail(c, 1, "split as an input needs opset >= 13 (node has %d)", c->opset);
		const int64_t *a;
		int na = attr_ints(n, "split", &a);
		if (na > MAX_LIST)
			return ifail(c, -1, "attribute 'split' has %d entries", na);
		if (na >= 0) {
			memcpy(sizes, a, sizeof(int64_t) * (size_t)na);
			ns = na;
		}
	}
	int where = c->opset >= 13 ? 1 : -1;
	if (ns >= 0) {
		if (ns != nout)
			return ifail(c, where, "split has %d sizes for %d outputs", ns, nout);
		int64_t sum = 0;
		for (int i = 0; i < ns; i++) {
			if (sizes[i] < 0)
				return ifail(c, where, "negative split size %" PRId64, sizes[i]);
			sum = isat_add(sum, sizes[i]);
		}
		if (sum != dim)
			return ifail(c, where, "split sizes sum to %" PRId64 ", axis %d has %" PRId64,
			             sum, ax, dim);
	} else if (c->opset >= 18 && node_attr(n, "num_outputs")) {
		int64_t no = attr_int(n, "num_outputs", 0);
		if (no != nout)
			return ifail(c, -1, "num_outputs is %" PRId64 " but the node has %d outputs", no,
			             nout);
		if (no < 1 || no > dim)
			return ifail(c, -1, "num_outputs %" PRId64 " invalid for axis size %" PRId64, no, dim);
		int64_t chunk = (dim + no - 1) / no;
		for (int i = 0; i < nout; i++) {
			int64_t left = dim - chunk * i;
			sizes[i] = left < chunk ? (left > 0 ? left : 0) : chunk;
		}
	} else {
		if (dim % nout)
			return ifail(c, -1, "axis %d of size %" PRId64 " does not split evenly into %d outputs",
			             ax, dim, nout);
		for (int i = 0; i < nout; i++)
			sizes[i] = dim / nout;
	}
	for (int i = 0; i < nout; i++) {
		Shape s = x->shape;
		s.dims[ax] = sizes[i];
		iset(c, i, x->dtype, &s);
	}
	return true;
}

/* One sliced axis: ONNX Slice-10+ rules (negative starts/ends count from the
 * end; clamped to [0, dim] for positive steps and [-1, dim-1] for negative
 * ones, so INT64_MAX / INT64_MIN mean "to the end"). */
static int64_t slice_len(int64_t dim, int64_t start, int64_t end, int64_t step)
{
	if (start < 0)
		start += dim;
	if (end < 0)
		end += dim;
	if (step > 0) {
		start = start < 0 ? 0 : start > dim ? dim : start;
		end = end < 0 ? 0 : end > dim ? dim : end;
		return end > start ? (end - start - 1) / step + 1 : 0;
	}
	start = start < 0 ? 0 : start > dim - 1 ? dim - 1 : start;
	end = end < -1 ? -1 : end > dim - 1 ? dim - 1 : end;
	/* step may be INT64_MIN: divide by the negative step */
	return start > end ? (end - start + 1) / step + 1 : 0;
}

/* Slice-1: starts/ends/axes attributes; Slice-10+: inputs 1..4. */
bool infer_slice(InferCtx *c)
{
	Value *x = iin(c, 0);
	Node *n = c->n;
	int r = x->shape.rank;
	int64_t starts[IR_MAX_RANK], ends[IR_MAX_RANK], axes[IR_MAX_RANK], steps[IR_MAX_RANK];
	int ns, ne, na = -1, nst = -1;
	if (c->opset >= 10) {
		if (n->nin < 3)
			return ifail(c, -1, "expected at least 3 inputs at opset %d, got %d", c->opset, n->nin);
		if (!iin(c, 1) || !iin(c, 2))
			return ifail(c, iin(c, 1) ? 2 : 1, "required input is missing");
		if (!iconst_ints(c, 1, starts, IR_MAX_RANK, &ns) ||
		    !iconst_ints(c, 2, ends, IR_MAX_RANK, &ne))
			return false;
		if (iin(c, 3) && !iconst_ints(c, 3, axes, IR_MAX_RANK, &na))
			return false;
		if (iin(c, 4) && !iconst_ints(c, 4, steps, IR_MAX_RANK, &nst))
			return false;
	} else {
		if (n->nin > 1)
			return ifail(c, 1, "starts/ends as inputs need opset >= 10 (node has %d)", c->opset);
		const int64_t *a;
		ns = attr_ints(n, "starts", &a);
		if (ns < 0 || ns > IR_MAX_RANK)
			return ifail(c, -1, "attribute 'starts' is required (at most rank entries)");
		memcpy(starts, a, sizeof(int64_t) * (size_t)ns);
		ne = attr_ints(n, "ends", &a);
		if (ne < 0 || ne > IR_MAX_RANK)
			return ifail(c, -1, "attribute 'ends' is required (at most rank entries)");
		memcpy(ends, a, sizeof(int64_t) * (size_t)ne);
		na = attr_ints(n, "axes", &a);
		if (na > IR_MAX_RANK)
			return ifail(c, -1, "attribute 'axes' has too many entries");
		if (na >= 0)
			memcpy(axes, a, sizeof(int64_t) * (size_t)na);
	}
	int w_ends = c->opset >= 10 ? 2 : -1, w_axes = c->opset >= 10 ? 3 : -1;
	if (ne != ns)
		return ifail(c, w_ends, "ends has %d entries, starts has %d", ne, ns);
	if (na >= 0 && na != ns)
		return ifail(c, w_axes, "axes has %d entries, starts has %d", na, ns);
	if (nst >= 0 && nst != ns)
		return ifail(c, 4, "steps has %d entries, starts has %d", nst, ns);
	if (ns > r)
		return ifail(c, 1, "%d starts for rank %d", ns, r);
	Shape s = x->shape;
	bool seen[IR_MAX_RANK] = {false};
	for (int i = 0; i < ns; i++) {
		int ax = i;
		if (na >= 0 && !iaxis(c, axes[i], r, w_axes, "axis", &ax))
			return false;
		if (seen[ax])
			return ifail(c, w_axes, "axis %d repeated", ax);
		seen[ax] = true;
		int64_t step = nst >= 0 ? steps[i] : 1;
		if (step == 0)
			return ifail(c, 4, "step 0 on axis %d", ax);
		s.dims[ax] = slice_len(x->shape.dims[ax], starts[i], ends[i], step);
	}
	iset(c, 0, x->dtype, &s);
	return true;
}

/* Expand-8: bidirectional broadcast of the input with the constant shape. */
bool infer_expand(InferCtx *c)
{
	Value *x = iin(c, 0);
	int64_t dims[IR_MAX_RANK];
	int nd;
	if (!const_shape(c, 1, dims, &nd))
		return false;
	Shape t = shape_make(nd, dims), s;
	if (!ibroadcast(c, &x->shape, 0, &t, 1, &s))
		return false;
	iset(c, 0, x->dtype, &s);
	return true;
}

bool infer_tile(InferCtx *c)
{
	Value *x = iin(c, 0);
	int64_t rep[IR_MAX_RANK];
	int nr;
	if (!iconst_ints(c, 1, rep, IR_MAX_RANK, &nr))
		return false;
	if (nr != x->shape.rank)
		return ifail(c, 1, "repeats has %d entries for rank %d", nr, x->shape.rank);
	Shape s = x->shape;
	for (int i = 0; i < nr; i++) {
		if (rep[i] < 0)
			return ifail(c, 1, "negative repeat %" PRId64, rep[i]);
		s.dims[i] = isat_mul(s.dims[i], rep[i]);
	}
	iset(c, 0, x->dtype, &s);
	return true;
}

/* Pad: pads attribute before opset 11 ('paddings' at opset 1), input 1
 * from 11; optional axes input 3 from 18.  pads = [begins..., ends...]. */
bool infer_pad(InferCtx *c)
{
	Value *x = iin(c, 0);
	Node *n = c->n;
	int r = x->shape.rank;
	int64_t pads[2 * IR_MAX_RANK];
	int np, where = c->opset >= 11 ? 1 : -1;
	int axes[IR_MAX_RANK], na = r;
	for (int i = 0; i < r; i++)
		axes[i] = i;
	const char *mode = attr_string(n, "mode", "constant");
	if (strcmp(mode, "constant") && strcmp(mode, "reflect") && strcmp(mode, "edge") &&
	    !(c->opset >= 19 && !strcmp(mode, "wrap")))
		return ifail(c, -1, "unsupported mode '%s'", mode);
	if (c->opset >= 11) {
		if (!iin(c, 1))
			return ifail(c, 1, "required input is missing");
		if (!iconst_ints(c, 1, pads, 2 * IR_MAX_RANK, &np))
			return false;
		Value *cv = iin(c, 2);
		if (cv && !isame_dtype(c, 2, 0))
			return false;
		if (cv && shape_numel(&cv->shape) > 1)
			return ifail(c, 2, "constant_value must be a scalar");
		if (iin(c, 3)) {
			if (c->opset < 18)
				return ifail(c, 3, "axes input needs opset >= 18 (node has %d)", c->opset);
			int64_t ax[IR_MAX_RANK];
			if (!iconst_ints(c, 3, ax, IR_MAX_RANK, &na))
				return false;
			bool seen[IR_MAX_RANK] = {false};
			for (int i = 0; i < na; i++) {
				if (!iaxis(c, ax[i], r, 3, "axis", &axes[i]))
					return false;
				if (seen[axes[i]])
					return ifail(c, 3, "axis %" PRId64 " repeated", ax[i]);
				seen[axes[i]] = true;
			}
		}
	} else {
		const int64_t *a;
		np = attr_ints(n, c->opset < 2 ? "paddings" : "pads", &a);
		if (np < 0)
			return ifail(c, -1, "attribute 'pads' is required");
		if (np > 2 * IR_MAX_RANK)
			return ifail(c, -1, "attribute 'pads' has %d entries for rank %d", np, r);
		memcpy(pads, a, sizeof(int64_t) * (size_t)np);
	}
	if (np != 2 * na)
		return ifail(c, where, "pads has %d entries, expected %d", np, 2 * na);
	Shape s = x->shape;
	for (int i = 0; i < na; i++) {
		int ax = axes[i];
		int64_t d = x->shape.dims[ax], lo = pads[i], hi = pads[i + na];
		/* reflect mirrors without repeating the edge: a side can add at
		 * most d-1 values; edge and wrap need a value to copy */
		if (!strcmp(mode, "reflect") && (lo > 0 || hi > 0) && (lo > d - 1 || hi > d - 1))
			return ifail(c, where, "reflect pads (%" PRId64 ", %" PRId64 ") on axis %d of "
			             "size %" PRId64 ": each must be at most %" PRId64, lo, hi, ax, d,
			             d > 0 ? d - 1 : 0);
		if (strcmp(mode, "constant") && d == 0 && (lo > 0 || hi > 0))
			return ifail(c, where, "%s pads on axis %d of size 0", mode, ax);
		s.dims[ax] = isat_add(s.dims[ax], isat_add(pads[i], pads[i + na]));
		if (s.dims[ax] < 0)
			return ifail(c, where, "pads make axis %d negative (%" PRId64 ")", ax, s.dims[ax]);
	}
	iset(c, 0, x->dtype, &s);
	return true;
}

/* Range-11: length max(ceil((limit - start) / delta), 0) from constant
 * scalar inputs of one dtype. */
bool infer_range(InferCtx *c)
{
	Value *v[3];
	for (int k = 0; k < 3; k++) {
		v[k] = iin(c, k);
		if (k && !isame_dtype(c, k, 0))
			return false;
		if (shape_numel(&v[k]->shape) != 1)
			return ifail(c, k, "expected a scalar, got shape %s", ishape_str(&v[k]->shape));
		if (v[k]->kind != VK_CONST)
			return inot_const(c, k);
	}
	DType dt = v[0]->dtype;
	int64_t len;
	if (dtype_is_float(dt)) {
		double s = value_get_f64(v[0], 0), l = value_get_f64(v[1], 0), d = value_get_f64(v[2], 0);
		if (d == 0 || !isfinite(s) || !isfinite(l) || !isfinite(d))
			return ifail(c, 2, "delta must be finite and non-zero (start, limit finite)");
		double q = ceil((l - s) / d);
		if (q > (double)INT32_MAX * 64)
			return ifail(c, -1, "range of %g elements is too large", q);
		len = q > 0 ? (int64_t)q : 0;
	} else if (dtype_is_int(dt)) {
		int64_t s = value_get_int(v[0], 0), l = value_get_int(v[1], 0), d = value_get_int(v[2], 0);
		if (d == 0)
			return ifail(c, 2, "delta must be non-zero");
		int64_t num;
		if (__builtin_sub_overflow(l, s, &num) || (num == INT64_MIN && d == -1))
			return ifail(c, 1, "range from %" PRId64 " to %" PRId64 " is too large", s, l);
		/* ceil(num / d) for either sign of d */
		int64_t q = num / d;
		if (num % d && ((num < 0) == (d < 0)))
			q++;
		len = q > 0 ? q : 0;
	} else {
		return ifail(c, 0, "expected a numeric type, got %s", dtype_name(dt));
	}
	Shape s = shape_make(1, &len);
	iset(c, 0, dt, &s);
	return true;
}
