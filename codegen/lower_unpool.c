/* codegen/lower_unpool.c — MaxUnpool.
 *
 * MaxUnpool: the output is zeroed, then y[I[e]] = x[e] for every element e.
 * Indices are flat over the default unpooled shape (from kernel_shape,
 * strides, pads); with an output_shape that differs, an index is split into
 * coordinates of the default shape and stored at the same coordinates of
 * the output (as the ONNX test data expects).  An index is valid in
 * [0, P-1], P the element count of the default unpooled shape, when its
 * coordinates also lie inside the output; others are undefined in ONNX.
 * By default (--index-oob=error) every index is checked before the node
 * writes anything (the zeroing included), and the node returns
 * CG_STATUS_INDEX (<PREFIX>_ERR_INDEX) if one is out of range; with
 * --index-oob=clamp there is no check.  Either way each index (each
 * coordinate) is then clamped into the output, so no store leaves it.
 */
#include "lower.h"
#include "lower_data.h"

/* --index-oob=error: every MaxUnpool index i (nx of them, flat over the
 * default unpooled shape dflt) is in [0, prod(dflt) - 1] and, when the
 * output shape differs (!same), each of its coordinates in dflt is inside
 * the output's dims; else the node returns CG_STATUS_INDEX. */
static void check_unpool_indices(Cg *cg, ValueId iv, int64_t nx, const int64_t *dflt,
                                 const Shape *ys, bool same)
{
	LLVMBuilderRef b = cg->b;
	if (cg->index_clamp || nx == 0)
		return;
	int r = ys->rank;
	int64_t total = 1;
	for (int d = 0; d < r; d++)
		total *= dflt[d];
	LLVMValueRef flag = cg_alloca(cg, cg->t_i1, "oob");
	LLVMBuildStore(b, LLVMConstInt(cg->t_i1, 0, 0), flag);
	CgLoop l;
	cg_for(cg, &l, 0, nx);
	LLVMValueRef i = LLVMBuildIntCast2(b, cg_load(cg, iv, l.iv), cg->t_i64, 1, "");
	LLVMValueRef bad = LLVMBuildICmp(b, LLVMIntUGE, i, cg_i64(cg, total), "");
	if (!same) {
		/* coordinates of a valid i are in [0, dflt[d] - 1]; only a dim
		 * the output shrinks can reject one */
		LLVMValueRef q = LLVMBuildSelect(b, bad, cg_i64(cg, 0), i, "");
		for (int d = r - 1; d >= 0; d--) {
			LLVMValueRef dd = cg_i64(cg, dflt[d] > 0 ? dflt[d] : 1);
			LLVMValueRef co = LLVMBuildURem(b, q, dd, "");
			q = LLVMBuildUDiv(b, q, dd, "");
			if (dflt[d] > ys->dims[d])
				bad = LLVMBuildOr(b, bad, LLVMBuildICmp(b, LLVMIntSGE, co,
				                  cg_i64(cg, ys->dims[d]), ""), "");
		}
	}
	LLVMBuildStore(b, LLVMBuildOr(b, LLVMBuildLoad2(b, cg->t_i1, flag, ""), bad, ""), flag);
	cg_for_end(cg, &l);
	cg_fail_if(cg, LLVMBuildLoad2(b, cg->t_i1, flag, ""), CG_STATUS_INDEX);
}

/* MaxUnpool-11 (see the file comment). */
bool cg_lower_unpool(Cg *cg, const Node *n)
{
	LLVMBuilderRef b = cg->b;
	ValueId xv = n->in[0], iv = n->in[1], yv = n->out[0];
	const Value *x = gval(cg->g, xv), *y = gval(cg->g, yv);
	DType bt = cg_dm_bits_dtype(x->dtype);
	int64_t ny = shape_numel(&y->shape), nx = shape_numel(&x->shape);
	if (ny == 0 || nx == 0) {
		cg_memset(cg, cg_ptr(cg, yv), 0, ny * (int64_t)dtype_size(y->dtype));
		return true;
	}
	/* the shape the indices refer to: from kernel_shape/strides/pads */
	int r = x->shape.rank, k = r - 2;
	int64_t dflt[IR_MAX_RANK], ys[IR_MAX_RANK];
	const WindowParams *wp = node_window(cg->g, (NodeId)(n - cg->g->nodes), cg->d);
	if (!wp)
		return false;
	dflt[0] = x->shape.dims[0];
	dflt[1] = x->shape.dims[1];
	for (int d = 0; d < k; d++)
		dflt[2 + d] = (x->shape.dims[2 + d] - 1) * wp->strides[d] + wp->kernel[d] -
		              (wp->pads[d] + wp->pads[k + d]);
	bool same = true;
	for (int d = 0; d < r; d++) {
		if (dflt[d] < 0)
			return cg_unsupported(cg, -1, "invalid kernel_shape/strides/pads");
		same &= dflt[d] == y->shape.dims[d];
	}
	shape_strides(&y->shape, ys);
	check_unpool_indices(cg, iv, nx, dflt, &y->shape, same);
	cg_memset(cg, cg_ptr(cg, yv), 0, ny * (int64_t)dtype_size(y->dtype));
	CgLoop l;
	cg_for(cg, &l, 0, nx);
	LLVMValueRef i = cg_load(cg, iv, l.iv);
	if (gval(cg->g, iv)->dtype != DT_I64)
		i = LLVMBuildSExt(b, i, cg->t_i64, "");
	if (!same) {
		/* coordinates in the default shape, placed at the same
		 * coordinates of the output (each clamped to its dim) */
		LLVMValueRef o = cg_i64(cg, 0);
		for (int d = r - 1; d >= 0; d--) {
			LLVMValueRef dd = cg_i64(cg, dflt[d] > 0 ? dflt[d] : 1);
			LLVMValueRef co = LLVMBuildSRem(b, i, dd, "");
			i = LLVMBuildSDiv(b, i, dd, "");
			co = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntSGT, co, cg_i64(cg, y->shape.dims[d] - 1), ""),
			                     cg_i64(cg, y->shape.dims[d] - 1), co, "");
			o = LLVMBuildAdd(b, o, LLVMBuildMul(b, co, cg_i64(cg, ys[d]), ""), "");
		}
		i = o;
	}
	i = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntSLT, i, cg_i64(cg, 0), ""), cg_i64(cg, 0), i, "");
	i = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntSGT, i, cg_i64(cg, ny - 1), ""), cg_i64(cg, ny - 1), i, "");
	cg_store_ptr(cg, bt, cg_ptr(cg, yv), i, cg_load_ptr(cg, bt, cg_ptr(cg, xv), l.iv));
	cg_for_end(cg, &l);
	return true;
}

