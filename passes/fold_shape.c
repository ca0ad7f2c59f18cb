/* passes/fold_shape.c — folder evaluators for data movement and shape ops.
 *
 * Constant, Shape, Size, Reshape, Flatten, Squeeze, Unsqueeze, Concat,
 * Slice, Gather, Transpose, Expand, Tile, ConstantOfShape, Range.
 * Contract: each evaluator reads F->in (all required inputs present),
 * computes the output shape itself, fills F->out with the input elements
 * moved (no arithmetic but Range's) and returns F_OK; malformed
 * parameters (axes out of range, bad perm, negative dims, index out of
 * range, ...) are F_ERR after a diagnostic; what the folder leaves to
 * codegen (too large, rank beyond IR_MAX_RANK) is F_SKIP.
 */
#include "fold_priv.h"

#include <assert.h>

#include <stdlib.h>
#include <string.h>

FRes fold_eval_constant(Fold *F)
{
	Node *n = F->n;
	const Attr *a;
	if ((a = node_attr(n, "value")) && a->kind == AK_TENSOR && a->t) {
		Value tmp;
		memset(&tmp, 0, sizeof tmp);
		tmp.dtype = a->t->dtype;
		tmp.data = a->t->data;
		int64_t cnt = shape_numel(&a->t->shape);
		if (!fold_dtype_ok(tmp.dtype) || cnt < 0 || !tmp.data ||
		    a->t->nbytes < (size_t)cnt * dtype_size(tmp.dtype))
			return F_SKIP;
		FRes r = fold_ten_alloc(&F->out, tmp.dtype, &a->t->shape);
		if (r != F_OK)
			return r;
		for (int64_t k = 0; k < cnt; k++)
			set_num(&F->out, k, F->out.isf ? value_get_f64(&tmp, k) : 0,
			        F->out.isf ? 0 : value_get_int(&tmp, k), F->out.isf);
		return F_OK;
	}
	Shape s = shape_make(0, NULL);
	if ((a = node_attr(n, "value_float")) && a->kind == AK_FLOAT) {
		fold_ten_alloc(&F->out, DT_F32, &s);
		F->out.f[0] = a->f;
		return F_OK;
	}
	if ((a = node_attr(n, "value_int")) && a->kind == AK_INT) {
		fold_ten_alloc(&F->out, DT_I64, &s);
		F->out.i[0] = a->i;
		return F_OK;
	}
	if ((a = node_attr(n, "value_floats")) && a->kind == AK_FLOATS) {
		int64_t d = a->n;
		s = shape_make(1, &d);
		FRes r = fold_ten_alloc(&F->out, DT_F32, &s);
		for (int k = 0; r == F_OK && k < a->n; k++)
			F->out.f[k] = a->floats[k];
		return r;
	}
	if ((a = node_attr(n, "value_ints")) && a->kind == AK_INTS) {
		int64_t d = a->n;
		s = shape_make(1, &d);
		FRes r = fold_ten_alloc(&F->out, DT_I64, &s);
		for (int k = 0; r == F_OK && k < a->n; k++)
			F->out.i[k] = a->ints[k];
		return r;
	}
	return F_SKIP; /* strings, sparse: left to inference/codegen */
}

/* Shape-15: dims[start:end], both clamped to [0, rank]. */
FRes fold_eval_shape(Fold *F)
{
	const Shape *xs = &gval(F->g, F->n->in[0])->shape;
	int r = xs->rank;
	int64_t start = attr_int(F->n, "start", 0), end = attr_int(F->n, "end", r);
	if (start < 0)
		start += r;
	if (end < 0)
		end += r;
	start = start < 0 ? 0 : start > r ? r : start;
	end = end < 0 ? 0 : end > r ? r : end;
	int64_t len = end > start ? end - start : 0;
	for (int64_t k = start; k < start + len; k++)
		if (xs->dims[k] < 0)
			return F_SKIP;
	Shape s = shape_make(1, &len);
	FRes res = fold_ten_alloc(&F->out, DT_I64, &s);
	if (res != F_OK)
		return res;
	for (int64_t k = 0; k < len; k++)
		F->out.i[k] = xs->dims[start + k];
	return F_OK;
}

FRes fold_eval_size(Fold *F)
{
	const Shape *xs = &gval(F->g, F->n->in[0])->shape;
	if (!shape_is_static(xs))
		return F_SKIP;
	Shape s = shape_make(0, NULL);
	fold_ten_alloc(&F->out, DT_I64, &s);
	F->out.i[0] = shape_numel(xs);
	return F_OK;
}

FRes fold_eval_reshape(Fold *F)
{
	Ten *x = &F->in[0];
	int64_t want[IR_MAX_RANK];
	int r;
	FRes res = fold_get_dims(F, 1, want, &r);
	if (res != F_OK)
		return res;
	bool allowzero = attr_int(F->n, "allowzero", 0) != 0;
	Shape s = shape_make(r, NULL);
	int infer = -1;
	int64_t known = 1;
	for (int k = 0; k < r; k++) {
		int64_t v = want[k];
		if (v == 0 && !allowzero) {
			if (k >= x->s.rank)
				return fold_err(F, 1, "dim %d is 0 (copy) but the input has rank %d", k, x->s.rank);
			v = x->s.dims[k];
		}
		if (v == -1) {
			if (infer >= 0)
				return fold_err(F, 1, "more than one -1 in the shape");
			infer = k;
			continue;
		}
		if (v < 0)
			return fold_err(F, 1, "invalid dim %lld", (long long)v);
		s.dims[k] = v;
		if (__builtin_mul_overflow(known, v, &known))
			return fold_err(F, 1, "shape has too many elements");
	}
	if (infer >= 0) {
		if (known == 0 || x->n % known != 0)
			return fold_err(F, 1, "cannot infer the -1 dim: %lld elements, product of others %lld",
			            (long long)x->n, (long long)known);
		s.dims[infer] = x->n / known;
	}
	return fold_same_data(F, &s);
}

FRes fold_eval_flatten(Fold *F)
{
	Ten *x = &F->in[0];
	int r = x->s.rank;
	int64_t axis = attr_int(F->n, "axis", 1);
	if (axis < -r || axis > r)
		return fold_err(F, -1, "axis %lld out of range for rank %d", (long long)axis, r);
	if (axis < 0)
		axis += r;
	int64_t d[2] = {1, 1};
	for (int k = 0; k < r; k++)
		d[k < axis ? 0 : 1] *= x->s.dims[k];
	Shape s = shape_make(2, d);
	return fold_same_data(F, &s);
}

FRes fold_eval_squeeze(Fold *F)
{
	Ten *x = &F->in[0];
	int64_t axes[IR_MAX_RANK * 2];
	int na;
	FRes res = fold_get_axes(F, 1, "axes", axes, &na);
	if (res != F_OK)
		return res;
	bool drop[IR_MAX_RANK] = {false};
	if (na < 0) {
		for (int k = 0; k < x->s.rank; k++)
			drop[k] = x->s.dims[k] == 1;
	} else {
		for (int j = 0; j < na; j++) {
			int a;
			if (!fold_norm_axis(axes[j], x->s.rank, &a))
				return fold_err(F, 1, "axis %lld out of range for rank %d", (long long)axes[j], x->s.rank);
			if (x->s.dims[a] != 1)
				return fold_err(F, 1, "cannot squeeze axis %d of size %lld", a, (long long)x->s.dims[a]);
			drop[a] = true;
		}
	}
	Shape s = shape_make(0, NULL);
	for (int k = 0; k < x->s.rank; k++)
		if (!drop[k])
			s.dims[s.rank++] = x->s.dims[k];
	return fold_same_data(F, &s);
}

FRes fold_eval_unsqueeze(Fold *F)
{
	Ten *x = &F->in[0];
	int64_t axes[IR_MAX_RANK * 2];
	int na;
	FRes res = fold_get_axes(F, 1, "axes", axes, &na);
	if (res != F_OK)
		return res;
	if (na < 0)
		return fold_err(F, -1, "missing axes");
	int r = x->s.rank + na;
	if (r > IR_MAX_RANK)
		return F_SKIP;
	bool ins[IR_MAX_RANK] = {false};
	for (int j = 0; j < na; j++) {
		int a;
		if (!fold_norm_axis(axes[j], r, &a))
			return fold_err(F, 1, "axis %lld out of range for output rank %d", (long long)axes[j], r);
		if (ins[a])
			return fold_err(F, 1, "axis %d repeated", a);
		ins[a] = true;
	}
	Shape s = shape_make(r, NULL);
	for (int k = 0, j = 0; k < r; k++)
		s.dims[k] = ins[k] ? 1 : x->s.dims[j++];
	return fold_same_data(F, &s);
}

FRes fold_eval_concat(Fold *F)
{
	Ten *x0 = &F->in[0];
	int r = x0->s.rank, axis;
	if (!fold_norm_axis(attr_int(F->n, "axis", 0), r, &axis))
		return fold_err(F, -1, "axis out of range for rank %d", r);
	Shape s = x0->s;
	s.dims[axis] = 0;
	for (int k = 0; k < F->nin; k++) {
		Ten *t = &F->in[k];
		if (!present(F, k))
			return F_SKIP;
		if (t->dt != x0->dt)
			return fold_err(F, k, "dtype %s differs from input 0's %s", dtype_name(t->dt), dtype_name(x0->dt));
		if (t->s.rank != r)
			return fold_err(F, k, "rank %d differs from input 0's %d", t->s.rank, r);
		for (int j = 0; j < r; j++)
			if (j != axis && t->s.dims[j] != x0->s.dims[j])
				return fold_err(F, k, "dim %d is %lld, input 0 has %lld", j,
				            (long long)t->s.dims[j], (long long)x0->s.dims[j]);
		s.dims[axis] += t->s.dims[axis];
	}
	FRes res = fold_ten_alloc(&F->out, x0->dt, &s);
	if (res != F_OK)
		return res;
	int64_t outer = 1, inner = 1;
	for (int j = 0; j < axis; j++)
		outer *= s.dims[j];
	for (int j = axis + 1; j < r; j++)
		inner *= s.dims[j];
	int64_t o = 0;
	for (int64_t a = 0; a < outer; a++)
		for (int k = 0; k < F->nin; k++) {
			Ten *t = &F->in[k];
			int64_t blk = t->s.dims[axis] * inner;
			for (int64_t e = 0; e < blk; e++)
				copy_el(&F->out, o++, t, a * blk + e);
		}
	return F_OK;
}

FRes fold_eval_slice(Fold *F)
{
	Ten *x = &F->in[0];
	int r = x->s.rank;
	int64_t starts[IR_MAX_RANK * 2], ends[IR_MAX_RANK * 2], axes[IR_MAX_RANK * 2], steps[IR_MAX_RANK * 2];
	int ns, ne, na = -1, nst = -1;
	FRes res;
	if (F->nin >= 3) { /* Slice-10+: inputs */
		if ((res = fold_get_axes(F, 1, "", starts, &ns)) != F_OK || (res = fold_get_axes(F, 2, "", ends, &ne)) != F_OK)
			return res;
		if (present(F, 3) && (res = fold_get_axes(F, 3, "", axes, &na)) != F_OK)
			return res;
		if (present(F, 4) && (res = fold_get_axes(F, 4, "", steps, &nst)) != F_OK)
			return res;
	} else { /* Slice-1: attributes */
		if ((res = fold_get_axes(F, 99, "starts", starts, &ns)) != F_OK ||
		    (res = fold_get_axes(F, 99, "ends", ends, &ne)) != F_OK ||
		    (res = fold_get_axes(F, 99, "axes", axes, &na)) != F_OK)
			return res;
	}
	if (ns < 0 || ne != ns)
		return fold_err(F, -1, "starts and ends must have the same length");
	if ((na >= 0 && na != ns) || (nst >= 0 && nst != ns))
		return fold_err(F, -1, "axes/steps must have the length of starts");
	int64_t st[IR_MAX_RANK], step[IR_MAX_RANK];
	bool seen[IR_MAX_RANK] = {false};
	Shape s = x->s;
	for (int k = 0; k < r; k++) {
		st[k] = 0;
		step[k] = 1;
	}
	for (int j = 0; j < ns; j++) {
		int a;
		if (!fold_norm_axis(na >= 0 ? axes[j] : j, r, &a))
			return fold_err(F, 3, "axis %lld out of range for rank %d", (long long)(na >= 0 ? axes[j] : j), r);
		if (seen[a])
			return fold_err(F, 3, "axis %d repeated", a);
		seen[a] = true;
		int64_t dim = x->s.dims[a], b = starts[j], e = ends[j], sp = nst >= 0 ? steps[j] : 1;
		if (sp == 0)
			return fold_err(F, 4, "step is 0");
		if (b < 0)
			b += dim;
		if (e < 0)
			e += dim;
		int64_t cnt;
		if (sp > 0) {
			b = b < 0 ? 0 : b > dim ? dim : b;
			e = e < 0 ? 0 : e > dim ? dim : e;
			cnt = e > b ? (e - b - 1) / sp + 1 : 0;
		} else {
			b = b < 0 ? 0 : b > dim - 1 ? dim - 1 : b;
			e = e < -1 ? -1 : e > dim - 1 ? dim - 1 : e;
			cnt = b > e ? (int64_t)((uint64_t)(b - e - 1) / ((uint64_t)0 - (uint64_t)sp)) + 1 : 0;
		}
		st[a] = b;
		step[a] = sp;
		s.dims[a] = cnt;
	}
	if ((res = fold_ten_alloc(&F->out, x->dt, &s)) != F_OK)
		return res;
	int64_t xst[IR_MAX_RANK], idx[IR_MAX_RANK] = {0};
	shape_strides(&x->s, xst);
	for (int64_t k = 0; k < F->out.n; k++) {
		int64_t off = 0;
		for (int j = 0; j < r; j++)
			off += (st[j] + idx[j] * step[j]) * xst[j];
		copy_el(&F->out, k, x, off);
		fold_index_next(idx, s.dims, r);
	}
	return F_OK;
}

FRes fold_eval_gather(Fold *F)
{
	Ten *x = &F->in[0], *ind = &F->in[1];
	int r = x->s.rank, axis;
	if (!fold_norm_axis(attr_int(F->n, "axis", 0), r, &axis))
		return fold_err(F, -1, "axis out of range for rank %d", r);
	if (ind->isf)
		return fold_err(F, 1, "indices must be integers");
	if (r - 1 + ind->s.rank > IR_MAX_RANK)
		return F_SKIP;
	Shape s = shape_make(0, NULL);
	for (int j = 0; j < axis; j++)
		s.dims[s.rank++] = x->s.dims[j];
	for (int j = 0; j < ind->s.rank; j++)
		s.dims[s.rank++] = ind->s.dims[j];
	for (int j = axis + 1; j < r; j++)
		s.dims[s.rank++] = x->s.dims[j];
	int64_t D = x->s.dims[axis], outer = 1, inner = 1;
	for (int j = 0; j < axis; j++)
		outer *= x->s.dims[j];
	for (int j = axis + 1; j < r; j++)
		inner *= x->s.dims[j];
	for (int64_t j = 0; j < ind->n; j++)
		if (ind->i[j] < -D || ind->i[j] >= D)
			return fold_err(F, 1, "index %lld out of range [%lld, %lld)", (long long)ind->i[j],
			            (long long)-D, (long long)D);
	FRes res = fold_ten_alloc(&F->out, x->dt, &s);
	if (res != F_OK)
		return res;
	int64_t o = 0;
	for (int64_t a = 0; a < outer; a++)
		for (int64_t j = 0; j < ind->n; j++) {
			int64_t ix = ind->i[j] < 0 ? ind->i[j] + D : ind->i[j];
			for (int64_t e = 0; e < inner; e++)
				copy_el(&F->out, o++, x, (a * D + ix) * inner + e);
		}
	return F_OK;
}

/* ScatterND: out = data, then for each index tuple in order the slice it
 * names is replaced by its update (reduction "none": the last duplicate
 * wins, as at run time) or combined with it (add, mul, max, min: integer
 * dtypes only, wrapped as at run time; a float reduction is left to the
 * generated code, whose rounding per step the folder does not copy).
 * Inference has checked the shapes and constant indices. */
FRes fold_eval_scatter_nd(Fold *F)
{
	Ten *x = &F->in[0], *ind = &F->in[1], *u = &F->in[2];
	const char *red = attr_string(F->n, "reduction", "none");
	int op = !strcmp(red, "none") ? 0 : !strcmp(red, "add") ? 1 : !strcmp(red, "mul") ? 2
	       : !strcmp(red, "max") ? 3 : !strcmp(red, "min") ? 4 : -1;
	if (op < 0 || (op > 0 && x->isf) || ind->isf)
		return F_SKIP;
	int r = x->s.rank, q = ind->s.rank;
	assert(r >= 1 && q >= 1);
	int64_t k = ind->s.dims[q - 1];
	assert(k >= 1 && k <= r);
	int64_t inner = 1, xst[IR_MAX_RANK];
	for (int j = (int)k; j < r; j++)
		inner *= x->s.dims[j];
	shape_strides(&x->s, xst);
	FRes res = fold_ten_alloc(&F->out, x->dt, &x->s);
	if (res != F_OK)
		return res;
	for (int64_t e = 0; e < x->n; e++)
		copy_el(&F->out, e, x, e);
	int64_t tuples = k ? ind->n / k : 0;
	for (int64_t t = 0; t < tuples; t++) {
		int64_t off = 0;
		for (int64_t j = 0; j < k; j++) {
			int64_t D = x->s.dims[j], v = ind->i[t * k + j];
			if (v < -D || v >= D) {
				fold_ten_free(&F->out);
				return fold_err(F, 1, "index %lld out of range [%lld, %lld)", (long long)v,
				                (long long)-D, (long long)D);
			}
			off += (v < 0 ? v + D : v) * xst[j];
		}
		for (int64_t e = 0; e < inner; e++) {
			int64_t o = off + e, ui = t * inner + e;
			if (op == 0) {
				copy_el(&F->out, o, u, ui);
				continue;
			}
			int64_t a = F->out.i[o], b = u->i[ui], y;
			switch (op) {
			case 1: y = wadd(a, b); break;
			case 2: y = wmul(a, b); break;
			case 3: y = dtype_is_signed(x->dt) || x->dt == DT_BOOL ? (a > b ? a : b)
			                                 : ((uint64_t)a > (uint64_t)b ? a : b); break;
			default: y = dtype_is_signed(x->dt) || x->dt == DT_BOOL ? (a < b ? a : b)
			                                 : ((uint64_t)a < (uint64_t)b ? a : b); break;
			}
			F->out.i[o] = fold_wrap_int(y, x->dt);
		}
	}
	return F_OK;
}

FRes fold_eval_transpose(Fold *F)
{
	Ten *x = &F->in[0];
	int r = x->s.rank;
	const PermParams *t = node_perm(F->g, (NodeId)(F->n - F->g->nodes), F->d);
	if (!t)
		return F_ERR;
	assert(t->rank == r);
	const int64_t *perm = t->perm;
	Shape s = shape_make(r, NULL);
	for (int j = 0; j < r; j++)
		s.dims[j] = x->s.dims[perm[j]];
	FRes res = fold_ten_alloc(&F->out, x->dt, &s);
	if (res != F_OK)
		return res;
	int64_t xst[IR_MAX_RANK], idx[IR_MAX_RANK] = {0};
	shape_strides(&x->s, xst);
	for (int64_t k = 0; k < F->out.n; k++) {
		int64_t off = 0;
		for (int j = 0; j < r; j++)
			off += idx[j] * xst[perm[j]];
		copy_el(&F->out, k, x, off);
		fold_index_next(idx, s.dims, r);
	}
	return F_OK;
}

FRes fold_eval_expand(Fold *F)
{
	Ten *x = &F->in[0];
	int64_t dims[IR_MAX_RANK];
	int r;
	FRes res = fold_get_dims(F, 1, dims, &r);
	if (res != F_OK)
		return res;
	Shape want = shape_make(r, dims), s;
	for (int j = 0; j < r; j++)
		if (dims[j] < 0)
			return fold_err(F, 1, "negative dim %lld", (long long)dims[j]);
	if (!fold_bcast2(&x->s, &want, &s))
		return fold_err(F, 1, "shape cannot be broadcast with the input");
	if ((res = fold_ten_alloc(&F->out, x->dt, &s)) != F_OK)
		return res;
	int64_t *map = fold_bcast_map(&s, &x->s);
	for (int64_t k = 0; k < F->out.n; k++)
		copy_el(&F->out, k, x, map[k]);
	free(map);
	return F_OK;
}

FRes fold_eval_tile(Fold *F)
{
	Ten *x = &F->in[0], *rep = &F->in[1];
	int r = x->s.rank;
	if (rep->isf || rep->n != r)
		return fold_err(F, 1, "repeats must be %d integers", r);
	Shape s = x->s;
	for (int j = 0; j < r; j++) {
		if (rep->i[j] < 0)
			return fold_err(F, 1, "negative repeat %lld", (long long)rep->i[j]);
		if (rep->i[j] > FOLD_MAX_OUT_ELEMS)
			return F_SKIP;
		s.dims[j] = x->s.dims[j] * rep->i[j];
	}
	FRes res = fold_ten_alloc(&F->out, x->dt, &s);
	if (res != F_OK)
		return res;
	int64_t xst[IR_MAX_RANK], idx[IR_MAX_RANK] = {0};
	shape_strides(&x->s, xst);
	for (int64_t k = 0; k < F->out.n; k++) {
		int64_t off = 0;
		for (int j = 0; j < r; j++)
			off += (idx[j] % x->s.dims[j]) * xst[j];
		copy_el(&F->out, k, x, off);
		fold_index_next(idx, s.dims, r);
	}
	return F_OK;
}

FRes fold_eval_constant_of_shape(Fold *F)
{
	int64_t dims[IR_MAX_RANK];
	int r;
	FRes res = fold_get_dims(F, 0, dims, &r);
	if (res != F_OK)
		return res;
	for (int j = 0; j < r; j++)
		if (dims[j] < 0)
			return fold_err(F, 0, "negative dim %lld", (long long)dims[j]);
	Shape s = shape_make(r, dims);
	const Attr *a = node_attr(F->n, "value");
	DType dt = DT_F32;
	Value tmp;
	memset(&tmp, 0, sizeof tmp);
	if (a && a->kind == AK_TENSOR && a->t) {
		if (shape_numel(&a->t->shape) != 1 || !a->t->data)
			return fold_err(F, -1, "attribute 'value' must hold one element");
		dt = a->t->dtype;
		tmp.dtype = dt;
		tmp.data = a->t->data;
		if (!fold_dtype_ok(dt))
			return F_SKIP;
	}
	if ((res = fold_ten_alloc(&F->out, dt, &s)) != F_OK)
		return res;
	for (int64_t k = 0; k < F->out.n && tmp.data; k++)
		set_num(&F->out, k, F->out.isf ? value_get_f64(&tmp, 0) : 0,
		        F->out.isf ? 0 : value_get_int(&tmp, 0), F->out.isf);
	return F_OK;
}

FRes fold_eval_range(Fold *F)
{
	Ten *a = &F->in[0], *b = &F->in[1], *c = &F->in[2];
	if (a->n != 1 || b->n != 1 || c->n != 1)
		return fold_err(F, -1, "start, limit and delta must be scalars");
	if (a->dt != b->dt || a->dt != c->dt)
		return fold_err(F, -1, "start, limit and delta must share one dtype");
	int64_t cnt;
	if (a->isf) {
		double st = a->f[0], lim = b->f[0], dl = c->f[0];
		if (dl == 0)
			return fold_err(F, 2, "delta is 0");
		double q = ceil((lim - st) / dl);
		if (!(q <= (double)FOLD_MAX_OUT_ELEMS))
			return isnan(q) ? fold_err(F, -1, "non-finite range") : F_SKIP;
		cnt = q > 0 ? (int64_t)q : 0;
	} else {
		__int128 st = a->i[0], lim = b->i[0], dl = c->i[0];
		if (dl == 0)
			return fold_err(F, 2, "delta is 0");
		__int128 diff = lim - st, q = 0;
		if ((diff > 0 && dl > 0) || (diff < 0 && dl < 0))
			q = diff / dl + (diff % dl != 0);
		if (q > FOLD_MAX_OUT_ELEMS)
			return F_SKIP;
		cnt = (int64_t)q;
	}
	Shape s = shape_make(1, &cnt);
	FRes res = fold_ten_alloc(&F->out, a->dt, &s);
	if (res != F_OK)
		return res;
	bool single = a->dt == DT_F32 || a->dt == DT_F16 || a->dt == DT_BF16;
	for (int64_t k = 0; k < cnt; k++) {
		if (a->isf && single) {
			/* as the generated code: in float (f16/bf16 compute in float),
			 * i*delta rounded, then + start rounded (ONNX: in T) */
			float p = (float)((double)(float)k * (double)(float)c->f[0]);
			F->out.f[k] = (float)((double)p + (double)(float)a->f[0]);
		} else if (a->isf)
			F->out.f[k] = a->f[0] + (double)k * c->f[0];
		else
			F->out.i[k] = (int64_t)((uint64_t)a->i[0] + (uint64_t)k * (uint64_t)c->i[0]);
	}
	return F_OK;
}

