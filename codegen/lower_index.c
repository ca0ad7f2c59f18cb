/* codegen/lower_index.c — ops whose addressing depends on run-time data or
 * on the element position: Gather, GatherElements, GatherND,
 * ScatterElements, ScatterND, OneHot, Trilu, EyeLike, ReverseSequence.
 *
 * Index tensors are read at run time (they may come from a graph input).
 * An index into a dimension of size D is valid in [-D, D-1] (negative
 * counts from the end); ONNX leaves others undefined.  By default
 * (--index-oob=error) Gather, GatherElements, GatherND, ScatterElements and
 * ScatterND first check every index, before writing anything, and the node
 * returns CG_STATUS_INDEX (the run function's <PREFIX>_ERR_INDEX) if one is
 * out of range; with --index-oob=clamp (cg->index_clamp) there is no check.
 * Either way each index is then wrapped and clamped into the dimension by
 * cg_dm_wrap_index(), so no index can address memory outside the buffers.  Data
 * elements move as raw bits unless a scatter reduction needs arithmetic.
 * Scatters first copy data to the output, then apply updates in index
 * order, so for duplicate indices with reduction "none" the last one wins
 * (as the ONNX reference does).
 */
#include "lower.h"
#include "lower_data.h"

#include <assert.h>
#include <string.h>

/* --index-oob=error: the index tensor ind, viewed as rows of m components
 * (m >= 1), has component t of every row in [-dims[t], dims[t] - 1], or the
 * node returns CG_STATUS_INDEX.  One pass over the indices, branch-free
 * (an or-ed flag), before the node writes anything.  Valid x satisfies
 * (x + D) mod 2^64 < 2D as unsigned, which also catches the int64 extremes. */
static void check_indices(Cg *cg, ValueId ind, int m, const int64_t *dims)
{
	if (cg->index_clamp || m < 1)
		return;
	Value *iv = gval(cg->g, ind);
	int64_t rows = shape_numel(&iv->shape) / m;
	if (rows == 0)
		return;
	LLVMValueRef flag = cg_alloca(cg, cg->t_i1, "oob");
	LLVMBuildStore(cg->b, LLVMConstInt(cg->t_i1, 0, 0), flag);
	CgLoop l;
	cg_for(cg, &l, 0, rows);
	LLVMValueRef bad = LLVMBuildLoad2(cg->b, cg->t_i1, flag, "");
	LLVMValueRef rb = LLVMBuildMul(cg->b, l.iv, cg_i64(cg, m), "");
	for (int t = 0; t < m; t++) {
		LLVMValueRef x = cg_load(cg, ind, LLVMBuildAdd(cg->b, rb, cg_i64(cg, t), ""));
		x = LLVMBuildIntCast2(cg->b, x, cg->t_i64, 1, "");
		LLVMValueRef sh = LLVMBuildAdd(cg->b, x, cg_i64(cg, dims[t]), "");
		LLVMValueRef out = LLVMBuildICmp(cg->b, LLVMIntUGE, sh, cg_i64(cg, 2 * dims[t]), "");
		bad = LLVMBuildOr(cg->b, bad, out, "");
	}
	LLVMBuildStore(cg->b, bad, flag);
	cg_for_end(cg, &l);
	cg_fail_if(cg, LLVMBuildLoad2(cg->b, cg->t_i1, flag, ""), CG_STATUS_INDEX);
}

/* Gather-13: out[o, j, i] = data[o, idx[j], i] with o over the dims before
 * axis, j over indices (any rank, scalar included), i over the dims after. */
static bool lower_gather(Cg *cg, const Node *n)
{
	ValueId data = n->in[0], ind = n->in[1], out = n->out[0];
	const Shape *ds = &gval(cg->g, data)->shape;
	DType it = gval(cg->g, ind)->dtype;
	int axis = cg_dm_axis(attr_int(n, "axis", 0), ds->rank);
	if (axis < 0)
		return cg_unsupported(cg, -1, "axis out of range");
	if (it != DT_I32 && it != DT_I64)
		return cg_unsupported(cg, 1, "indices must be int32 or int64, got %s", dtype_name(it));
	int64_t outer = cg_dm_prod(ds->dims, 0, axis), D = ds->dims[axis];
	int64_t inner = cg_dm_prod(ds->dims, axis + 1, ds->rank);
	int64_t J = shape_numel(&gval(cg->g, ind)->shape);
	if (shape_numel(&gval(cg->g, out)->shape) != outer * J * inner)
		return cg_unsupported(cg, -1, "output size does not match data and indices");
	if (outer * J * inner == 0)
		return true;
	if (D == 0)
		return cg_unsupported(cg, 0, "cannot gather from an empty axis");
	check_indices(cg, ind, 1, &D);
	DType bt = cg_dm_bits_dtype(gval(cg->g, data)->dtype);
	CgLoop lo, lj, li;
	cg_for(cg, &lo, 0, outer);
	cg_for(cg, &lj, 0, J);
	LLVMValueRef idx = cg_dm_wrap_index(cg, cg_load(cg, ind, lj.iv), it, D);
	/* src = (o*D + idx)*inner, dst = (o*J + j)*inner */
	LLVMValueRef sb = LLVMBuildMul(cg->b, LLVMBuildAdd(cg->b, LLVMBuildMul(cg->b, lo.iv, cg_i64(cg, D), ""), idx, ""),
	                               cg_i64(cg, inner), "");
	LLVMValueRef db = LLVMBuildMul(cg->b, LLVMBuildAdd(cg->b, LLVMBuildMul(cg->b, lo.iv, cg_i64(cg, J), ""), lj.iv, ""),
	                               cg_i64(cg, inner), "");
	cg_for(cg, &li, 0, inner);
	LLVMValueRef x = cg_load_ptr(cg, bt, cg_ptr(cg, data), LLVMBuildAdd(cg->b, sb, li.iv, ""));
	cg_store_ptr(cg, bt, cg_ptr(cg, out), LLVMBuildAdd(cg->b, db, li.iv, ""), x);
	cg_for_end(cg, &li);
	cg_for_end(cg, &lj);
	cg_for_end(cg, &lo);
	return true;
}

static CgCombine reduction_kind(Cg *cg, const Node *n, bool *ok)
{
	const char *r = attr_string(n, "reduction", "none");
	*ok = true;
	if (!strcmp(r, "none"))
		return CG_COMB_NONE;
	if (!strcmp(r, "add"))
		return CG_COMB_ADD;
	if (!strcmp(r, "mul"))
		return CG_COMB_MUL;
	if (!strcmp(r, "max"))
		return CG_COMB_MAX;
	if (!strcmp(r, "min"))
		return CG_COMB_MIN;
	*ok = cg_unsupported(cg, -1, "reduction '%s'", r);
	return CG_COMB_NONE;
}

/* GatherElements-13 (gather = true): out[p] = data[p with p_axis := idx[p]].
 * ScatterElements-11/13/16/18 (gather = false): out = data, then
 * out[p with p_axis := idx[p]] (reduction)= updates[p] for p over indices. */
static bool lower_elements(Cg *cg, const Node *n, bool gather)
{
	ValueId data = n->in[0], ind = n->in[1], out = n->out[0];
	ValueId upd = gather ? IR_NONE : n->in[2];
	const Shape *ds = &gval(cg->g, data)->shape, *is = &gval(cg->g, ind)->shape;
	DType it = gval(cg->g, ind)->dtype, dt = gval(cg->g, data)->dtype;
	int r = ds->rank;
	int axis = cg_dm_axis(attr_int(n, "axis", 0), r);
	if (axis < 0)
		return cg_unsupported(cg, -1, "axis out of range");
	if (it != DT_I32 && it != DT_I64)
		return cg_unsupported(cg, 1, "indices must be int32 or int64, got %s", dtype_name(it));
	if (is->rank != r)
		return cg_unsupported(cg, 1, "rank differs from the data's");
	bool ok;
	CgCombine comb = gather ? CG_COMB_NONE : reduction_kind(cg, n, &ok);
	if (!gather && !ok)
		return false;
	if (comb != CG_COMB_NONE && dt == DT_BOOL)
		return cg_unsupported(cg, -1, "reduction on bool");
	if (!gather && !shape_eq(&gval(cg->g, upd)->shape, is))
		return cg_unsupported(cg, 2, "shape differs from the indices'");
	if (shape_numel(is) != 0) {
		if (ds->dims[axis] == 0)
			return cg_unsupported(cg, 0, "cannot index an empty axis");
		for (int k = 0; k < r; k++)
			if (k != axis && is->dims[k] > ds->dims[k])
				return cg_unsupported(cg, 1, "dimension %d exceeds the data's", k);
		check_indices(cg, ind, 1, &ds->dims[axis]);
	}
	if (!gather)
		cg_memcpy(cg, cg_ptr(cg, out), cg_ptr(cg, data), shape_numel(ds) * (int64_t)dtype_size(dt));
	if (shape_numel(is) == 0)
		return true;
	int64_t dst_st[IR_MAX_RANK], ist[IR_MAX_RANK];
	shape_strides(ds, dst_st); /* data and out have the same layout for scatter */
	shape_strides(is, ist);
	int64_t axis_stride = dst_st[axis];
	dst_st[axis] = 0;
	CgNest nest;
	cg_nest(cg, &nest, r, is->dims);
	LLVMValueRef p = cg_linear(cg, r, nest.iv, ist);
	LLVMValueRef idx = cg_dm_wrap_index(cg, cg_load(cg, ind, p), it, ds->dims[axis]);
	LLVMValueRef q = LLVMBuildAdd(cg->b, cg_linear(cg, r, nest.iv, dst_st),
	                              LLVMBuildMul(cg->b, idx, cg_i64(cg, axis_stride), ""), "");
	if (gather) {
		DType bt = cg_dm_bits_dtype(dt);
		cg_store_ptr(cg, bt, cg_ptr(cg, out), p, cg_load_ptr(cg, bt, cg_ptr(cg, data), q));
	} else if (comb == CG_COMB_NONE) {
		DType bt = cg_dm_bits_dtype(dt);
		cg_store_ptr(cg, bt, cg_ptr(cg, out), q, cg_load_ptr(cg, bt, cg_ptr(cg, upd), p));
	} else {
		LLVMValueRef x = cg_dm_combine(cg, comb, dt, cg_load(cg, out, q), cg_load(cg, upd, p));
		cg_store(cg, out, q, x);
	}
	cg_nest_end(cg, &nest);
	return true;
}

/* Offset into data (strides ds) of the index tuple in row `row` of the
 * m-wide last dimension of indices, starting at data dimension first. */
static LLVMValueRef tuple_offset(Cg *cg, ValueId ind, LLVMValueRef row, int m, const Shape *data,
                                 const int64_t *dst, int first)
{
	DType it = gval(cg->g, ind)->dtype;
	LLVMValueRef off = cg_i64(cg, 0);
	LLVMValueRef rb = LLVMBuildMul(cg->b, row, cg_i64(cg, m), "");
	for (int t = 0; t < m; t++) {
		LLVMValueRef x = cg_load(cg, ind, LLVMBuildAdd(cg->b, rb, cg_i64(cg, t), ""));
		LLVMValueRef i = cg_dm_wrap_index(cg, x, it, data->dims[first + t]);
		off = LLVMBuildAdd(cg->b, off, LLVMBuildMul(cg->b, i, cg_i64(cg, dst[first + t]), ""), "");
	}
	return off;
}

/* GatherND-12/13 with batch_dims b: indices [B..., J..., m] picks, per batch
 * position, slices data[batch][i_1..i_m] of S = prod data[b+m:] elements. */
static bool lower_gather_nd(Cg *cg, const Node *n)
{
	ValueId data = n->in[0], ind = n->in[1], out = n->out[0];
	const Shape *ds = &gval(cg->g, data)->shape, *is = &gval(cg->g, ind)->shape;
	DType it = gval(cg->g, ind)->dtype;
	int64_t b = attr_int(n, "batch_dims", 0);
	if (it != DT_I64)
		return cg_unsupported(cg, 1, "indices must be int64, got %s", dtype_name(it));
	if (is->rank < 1 || b < 0 || b >= is->rank)
		return cg_unsupported(cg, -1, "batch_dims %lld out of range", (long long)b);
	int m = (int)is->dims[is->rank - 1];
	if (m < 0 || b + m > ds->rank)
		return cg_unsupported(cg, 1, "index tuples longer than the data's rank");
	for (int k = 0; k < b; k++)
		if (is->dims[k] != ds->dims[k])
			return cg_unsupported(cg, 1, "batch dimension %d differs from the data's", k);
	int64_t B = cg_dm_prod(ds->dims, 0, (int)b), J = cg_dm_prod(is->dims, (int)b, is->rank - 1);
	int64_t S = cg_dm_prod(ds->dims, (int)b + m, ds->rank), DB = cg_dm_prod(ds->dims, (int)b, ds->rank);
	if (shape_numel(&gval(cg->g, out)->shape) != B * J * S)
		return cg_unsupported(cg, -1, "output size does not match data and indices");
	if (B * J * S == 0)
		return true;
	for (int t = 0; t < m; t++)
		if (ds->dims[b + t] == 0)
			return cg_unsupported(cg, 0, "cannot index an empty dimension");
	check_indices(cg, ind, m, &ds->dims[b]);
	int64_t dst[IR_MAX_RANK];
	shape_strides(ds, dst);
	DType bt = cg_dm_bits_dtype(gval(cg->g, data)->dtype);
	CgLoop lb, lj, ls;
	cg_for(cg, &lb, 0, B);
	cg_for(cg, &lj, 0, J);
	LLVMValueRef row = LLVMBuildAdd(cg->b, LLVMBuildMul(cg->b, lb.iv, cg_i64(cg, J), ""), lj.iv, "");
	LLVMValueRef sb = LLVMBuildAdd(cg->b, LLVMBuildMul(cg->b, lb.iv, cg_i64(cg, DB), ""),
	                               tuple_offset(cg, ind, row, m, ds, dst, (int)b), "");
	LLVMValueRef db = LLVMBuildMul(cg->b, row, cg_i64(cg, S), "");
	cg_for(cg, &ls, 0, S);
	LLVMValueRef x = cg_load_ptr(cg, bt, cg_ptr(cg, data), LLVMBuildAdd(cg->b, sb, ls.iv, ""));
	cg_store_ptr(cg, bt, cg_ptr(cg, out), LLVMBuildAdd(cg->b, db, ls.iv, ""), x);
	cg_for_end(cg, &ls);
	cg_for_end(cg, &lj);
	cg_for_end(cg, &lb);
	return true;
}

/* ScatterND-11/13/16/18: out = data; for each index tuple row r (in order)
 * out[tuple_r, :] (reduction)= updates[r, :]. */
static bool lower_scatter_nd(Cg *cg, const Node *n)
{
	ValueId data = n->in[0], ind = n->in[1], upd = n->in[2], out = n->out[0];
	const Shape *ds = &gval(cg->g, data)->shape, *is = &gval(cg->g, ind)->shape;
	DType it = gval(cg->g, ind)->dtype, dt = gval(cg->g, data)->dtype;
	bool ok;
	CgCombine comb = reduction_kind(cg, n, &ok);
	if (!ok)
		return false;
	if (comb != CG_COMB_NONE && dt == DT_BOOL)
		return cg_unsupported(cg, -1, "reduction on bool");
	if (it != DT_I64)
		return cg_unsupported(cg, 1, "indices must be int64, got %s", dtype_name(it));
	if (is->rank < 1)
		return cg_unsupported(cg, 1, "expected rank >= 1");
	int m = (int)is->dims[is->rank - 1];
	if (m < 0 || m > ds->rank)
		return cg_unsupported(cg, 1, "index tuples longer than the data's rank");
	int64_t R = cg_dm_prod(is->dims, 0, is->rank - 1), S = cg_dm_prod(ds->dims, m, ds->rank);
	if (shape_numel(&gval(cg->g, upd)->shape) != R * S)
		return cg_unsupported(cg, 2, "size does not match indices and data");
	if (R * S != 0) {
		for (int t = 0; t < m; t++)
			if (ds->dims[t] == 0)
				return cg_unsupported(cg, 0, "cannot index an empty dimension");
		check_indices(cg, ind, m, ds->dims);
	}
	cg_memcpy(cg, cg_ptr(cg, out), cg_ptr(cg, data), shape_numel(ds) * (int64_t)dtype_size(dt));
	if (R * S == 0)
		return true;
	int64_t dst[IR_MAX_RANK];
	shape_strides(ds, dst);
	DType bt = cg_dm_bits_dtype(dt);
	CgLoop lr, ls;
	cg_for(cg, &lr, 0, R);
	LLVMValueRef ob = tuple_offset(cg, ind, lr.iv, m, ds, dst, 0);
	LLVMValueRef ub = LLVMBuildMul(cg->b, lr.iv, cg_i64(cg, S), "");
	cg_for(cg, &ls, 0, S);
	LLVMValueRef oi = LLVMBuildAdd(cg->b, ob, ls.iv, ""), ui = LLVMBuildAdd(cg->b, ub, ls.iv, "");
	if (comb == CG_COMB_NONE) {
		cg_store_ptr(cg, bt, cg_ptr(cg, out), oi, cg_load_ptr(cg, bt, cg_ptr(cg, upd), ui));
	} else {
		LLVMValueRef x = cg_dm_combine(cg, comb, dt, cg_load(cg, out, oi), cg_load(cg, upd, ui));
		cg_store(cg, out, oi, x);
	}
	cg_for_end(cg, &ls);
	cg_for_end(cg, &lr);
	return true;
}

/* OneHot-11: out[..., d, ...] (d at axis) = (wrap(idx[...]) == d) ? on : off
 * where values = [off, on]; negative indices count from depth.  Indices
 * outside [-depth, depth) match no position (all off). */
static bool lower_onehot(Cg *cg, const Node *n)
{
	ValueId ind = n->in[0], vals = n->in[2], out = n->out[0];
	const Shape *os = &gval(cg->g, out)->shape, *is = &gval(cg->g, ind)->shape;
	DType it = gval(cg->g, ind)->dtype;
	int r = os->rank;
	int axis = cg_dm_axis(attr_int(n, "axis", -1), r);
	if (axis < 0 || is->rank != r - 1)
		return cg_unsupported(cg, -1, "axis out of range or rank mismatch");
	if (!dtype_is_int(it) && !dtype_is_float(it))
		return cg_unsupported(cg, 0, "type %s", dtype_name(it));
	if (shape_numel(&gval(cg->g, vals)->shape) != 2 || gval(cg->g, vals)->dtype != gval(cg->g, out)->dtype)
		return cg_unsupported(cg, 2, "expected two values of the output type");
	if (shape_numel(os) == 0)
		return true;
	int64_t depth = os->dims[axis];
	int64_t ist[IR_MAX_RANK], sub[IR_MAX_RANK], ost[IR_MAX_RANK];
	shape_strides(is, ist);
	shape_strides(os, ost);
	for (int k = 0, j = 0; k < r; k++)
		sub[k] = k == axis ? 0 : ist[j++];
	DType bt = cg_dm_bits_dtype(gval(cg->g, out)->dtype);
	LLVMValueRef off = cg_load_ptr(cg, bt, cg_ptr(cg, vals), cg_i64(cg, 0));
	LLVMValueRef on = cg_load_ptr(cg, bt, cg_ptr(cg, vals), cg_i64(cg, 1));
	CgNest nest;
	cg_nest(cg, &nest, r, os->dims);
	LLVMValueRef x = cg_load(cg, ind, cg_linear(cg, r, nest.iv, sub));
	LLVMValueRef i = dtype_is_float(it) ? cg_convert(cg, x, it, DT_I64)
	                                    : LLVMBuildIntCast2(cg->b, x, cg->t_i64, dtype_is_signed(it), "");
	LLVMValueRef neg = LLVMBuildICmp(cg->b, LLVMIntSLT, i, cg_i64(cg, 0), "");
	i = LLVMBuildSelect(cg->b, neg, LLVMBuildAdd(cg->b, i, cg_i64(cg, depth), ""), i, "");
	LLVMValueRef hit = LLVMBuildICmp(cg->b, LLVMIntEQ, i, nest.iv[axis], "");
	cg_store_ptr(cg, bt, cg_ptr(cg, out), cg_linear(cg, r, nest.iv, ost), LLVMBuildSelect(cg->b, hit, on, off, ""));
	cg_nest_end(cg, &nest);
	return true;
}

/* Trilu-14: keeps x[..., i, j] where j - i >= k (upper) or j - i <= k
 * (lower), zero elsewhere; k (optional input, default 0) is read at run
 * time. */
static bool lower_trilu(Cg *cg, const Node *n)
{
	ValueId x = n->in[0], out = n->out[0];
	const Shape *s = &gval(cg->g, x)->shape;
	int r = s->rank;
	if (r < 2)
		return cg_unsupported(cg, 0, "expected rank >= 2");
	if (shape_numel(s) == 0)
		return true;
	bool upper = attr_int(n, "upper", 1) != 0;
	LLVMValueRef k = cg_i64(cg, 0);
	if (n->nin > 1 && n->in[1] != IR_NONE) {
		ValueId kv = n->in[1];
		if (gval(cg->g, kv)->dtype != DT_I64 || shape_numel(&gval(cg->g, kv)->shape) != 1)
			return cg_unsupported(cg, 1, "expected an int64 scalar");
		k = cg_load(cg, kv, cg_i64(cg, 0));
	}
	DType bt = cg_dm_bits_dtype(gval(cg->g, x)->dtype);
	int64_t st[IR_MAX_RANK];
	shape_strides(s, st);
	CgNest nest;
	cg_nest(cg, &nest, r, s->dims);
	LLVMValueRef idx = cg_linear(cg, r, nest.iv, st);
	LLVMValueRef diff = LLVMBuildSub(cg->b, nest.iv[r - 1], nest.iv[r - 2], "");
	LLVMValueRef keep = LLVMBuildICmp(cg->b, upper ? LLVMIntSGE : LLVMIntSLE, diff, k, "");
	LLVMValueRef v = cg_load_ptr(cg, bt, cg_ptr(cg, x), idx);
	v = LLVMBuildSelect(cg->b, keep, v, LLVMConstNull(LLVMTypeOf(v)), "");
	cg_store_ptr(cg, bt, cg_ptr(cg, out), idx, v);
	cg_nest_end(cg, &nest);
	return true;
}

/* EyeLike-9: ones on the k-th diagonal (j - i == k) of a 2-D output, in the
 * output's type (attribute dtype already applied by shape inference). */
static bool lower_eyelike(Cg *cg, const Node *n)
{
	ValueId out = n->out[0];
	const Shape *s = &gval(cg->g, out)->shape;
	DType dt = gval(cg->g, out)->dtype;
	if (s->rank != 2)
		return cg_unsupported(cg, 0, "expected rank 2");
	if (shape_numel(s) == 0)
		return true;
	int64_t k = attr_int(n, "k", 0);
	CgNest nest;
	cg_nest(cg, &nest, 2, s->dims);
	LLVMValueRef diff = LLVMBuildSub(cg->b, nest.iv[1], nest.iv[0], "");
	LLVMValueRef on = LLVMBuildICmp(cg->b, LLVMIntEQ, diff, cg_i64(cg, k), "");
	LLVMValueRef v = LLVMBuildSelect(cg->b, on, cg_const(cg, dt, 1), cg_const(cg, dt, 0), "");
	LLVMValueRef idx = LLVMBuildAdd(cg->b, LLVMBuildMul(cg->b, nest.iv[0], cg_i64(cg, s->dims[1]), ""),
	                                nest.iv[1], "");
	cg_store(cg, out, idx, v);
	cg_nest_end(cg, &nest);
	return true;
}

/* ReverseSequence: along time_axis, the first len[b] elements of batch
 * entry b are reversed, the rest copied; len is clamped into [0, T] (a
 * longer one is undefined in ONNX) so no access leaves the buffers.
 * Elements are moved bit for bit. */
static bool lower_reverse_sequence(Cg *cg, const Node *n)
{
	LLVMBuilderRef b = cg->b;
	ValueId xv = n->in[0], lv = n->in[1], yv = n->out[0];
	const Value *x = gval(cg->g, xv);
	int r = x->shape.rank;
	int ba = (int)attr_int(n, "batch_axis", 1), ta = (int)attr_int(n, "time_axis", 0);
	if (!((ba == 0 && ta == 1) || (ba == 1 && ta == 0)))
		return cg_unsupported(cg, -1, "batch_axis/time_axis must be 0 and 1");
	int64_t st[IR_MAX_RANK], T = x->shape.dims[ta];
	shape_strides(&x->shape, st);
	DType bt = cg_dm_bits_dtype(x->dtype), lt = gval(cg->g, lv)->dtype;
	CgNest nest;
	cg_nest(cg, &nest, r, x->shape.dims);
	LLVMValueRef idx = cg_linear(cg, r, nest.iv, st);
	LLVMValueRef len = cg_load(cg, lv, nest.iv[ba]);
	if (lt != DT_I64)
		len = LLVMBuildSExt(b, len, cg->t_i64, "");
	len = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntSLT, len, cg_i64(cg, 0), ""), cg_i64(cg, 0), len, "");
	len = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntSGT, len, cg_i64(cg, T), ""), cg_i64(cg, T), len, "");
	LLVMValueRef t = nest.iv[ta];
	LLVMValueRef rt = LLVMBuildSub(b, LLVMBuildSub(b, len, cg_i64(cg, 1), ""), t, "");
	LLVMValueRef src_t = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntSLT, t, len, ""), rt, t, "");
	LLVMValueRef src = LLVMBuildAdd(b, idx, LLVMBuildMul(b, LLVMBuildSub(b, src_t, t, ""),
	                                                     cg_i64(cg, st[ta]), ""), "");
	LLVMValueRef e = cg_load_ptr(cg, bt, cg_ptr(cg, xv), src);
	cg_store_ptr(cg, bt, cg_ptr(cg, yv), idx, e);
	cg_nest_end(cg, &nest);
	return true;
}


/* Lowers the indexing ops (see the file comment); called by
 * cg_lower_data().  Returns false after cg_unsupported() on an
 * unsupported configuration. */
bool cg_lower_index(Cg *cg, const Node *n)
{
	switch (n->op) {
	case OP_Gather: return lower_gather(cg, n);
	case OP_GatherElements: return lower_elements(cg, n, true);
	case OP_ScatterElements: return lower_elements(cg, n, false);
	case OP_GatherND: return lower_gather_nd(cg, n);
	case OP_ScatterND: return lower_scatter_nd(cg, n);
	case OP_OneHot: return lower_onehot(cg, n);
	case OP_Trilu: return lower_trilu(cg, n);
	case OP_EyeLike: return lower_eyelike(cg, n);
	case OP_ReverseSequence: return lower_reverse_sequence(cg, n);
	default: return cg_unsupported(cg, -1, "not an indexing op");
	}
}
