/* codegen/lower_copy.c — the helpers shared by the data, indexing and
 * reduction lowerings (declared in lower_data.h): the strided-copy kernel
 * cg_dm_copy(), bit-moving dtypes, axis normalisation, compile-time integer
 * inputs, run-time index wrapping, and the comparison/combination of
 * compute-type values used by reductions and scatters.
 */
#include "lower_data.h"
#include "kernels/kernels.h"

#include <assert.h>

DType cg_dm_bits_dtype(DType t)
{
	switch (dtype_size(t)) {
	case 1: return DT_U8;
	case 2: return DT_U16;
	case 4: return DT_U32;
	case 8: return DT_U64;
	default: IR_UNREACHABLE("cg_dm_bits_dtype: unsupported element size");
	}
}

int64_t cg_dm_prod(const int64_t *d, int lo, int hi)
{
	int64_t p = 1;
	for (int k = lo; k < hi; k++)
		p *= d[k];
	return p;
}

int cg_dm_axis(int64_t axis, int rank)
{
	if (axis < -rank || axis >= rank)
		return -1;
	return (int)(axis < 0 ? axis + rank : axis);
}

bool cg_dm_const_ints(Cg *cg, const Node *n, int k, int64_t *out, int max, int *count)
{
	*count = -1;
	if (k >= n->nin || n->in[k] == IR_NONE)
		return true;
	const Value *v = gval(cg->g, n->in[k]);
	int64_t cnt = shape_numel(&v->shape);
	if (v->kind != VK_CONST || (!v->data && cnt != 0))
		return cg_unsupported(cg, k, "must be a compile-time constant");
	if (!dtype_is_int(v->dtype))
		return cg_unsupported(cg, k, "expected an integer tensor, got %s", dtype_name(v->dtype));
	if (cnt < 0 || cnt > max)
		return cg_unsupported(cg, k, "expected at most %d values, got %lld", max, (long long)cnt);
	for (int64_t i = 0; i < cnt; i++)
		out[i] = value_get_int(v, i);
	*count = (int)cnt;
	return true;
}

LLVMValueRef cg_dm_wrap_index(Cg *cg, LLVMValueRef x, DType t, int64_t dim)
{
	assert(dim > 0);
	LLVMValueRef i = dtype_is_float(t) ? cg_convert(cg, x, t, DT_I64)
	                                   : LLVMBuildIntCast2(cg->b, x, cg->t_i64, dtype_is_signed(t), "");
	LLVMValueRef zero = cg_i64(cg, 0);
	LLVMValueRef neg = LLVMBuildICmp(cg->b, LLVMIntSLT, i, zero, "");
	i = LLVMBuildSelect(cg->b, neg, LLVMBuildAdd(cg->b, i, cg_i64(cg, dim), ""), i, "");
	LLVMValueRef lo = LLVMBuildICmp(cg->b, LLVMIntSLT, i, zero, "");
	i = LLVMBuildSelect(cg->b, lo, zero, i, "");
	LLVMValueRef hi = LLVMBuildICmp(cg->b, LLVMIntSGT, i, cg_i64(cg, dim - 1), "");
	return LLVMBuildSelect(cg->b, hi, cg_i64(cg, dim - 1), i, "");
}

LLVMValueRef cg_dm_greater(Cg *cg, DType t, LLVMValueRef a, LLVMValueRef b, bool greater)
{
	if (dtype_is_float(t))
		return LLVMBuildFCmp(cg->b, greater ? LLVMRealOGT : LLVMRealOLT, a, b, "");
	if (t == DT_BOOL || !dtype_is_signed(t))
		return LLVMBuildICmp(cg->b, greater ? LLVMIntUGT : LLVMIntULT, a, b, "");
	return LLVMBuildICmp(cg->b, greater ? LLVMIntSGT : LLVMIntSLT, a, b, "");
}

LLVMValueRef cg_dm_combine(Cg *cg, CgCombine op, DType t, LLVMValueRef a, LLVMValueRef b)
{
	bool fl = dtype_is_float(t);
	switch (op) {
	case CG_COMB_NONE:
		return b;
	case CG_COMB_ADD:
		return fl ? LLVMBuildFAdd(cg->b, a, b, "") : LLVMBuildAdd(cg->b, a, b, "");
	case CG_COMB_MUL:
		return fl ? LLVMBuildFMul(cg->b, a, b, "") : LLVMBuildMul(cg->b, a, b, "");
	case CG_COMB_MAX:
	case CG_COMB_MIN: {
		bool mx = op == CG_COMB_MAX;
		LLVMValueRef better = cg_dm_greater(cg, t, b, a, mx);
		LLVMValueRef r = LLVMBuildSelect(cg->b, better, b, a, "");
		if (fl) { /* NaN in either operand wins */
			LLVMValueRef bn = LLVMBuildFCmp(cg->b, LLVMRealUNO, b, b, "");
			r = LLVMBuildSelect(cg->b, bn, b, r, "");
		}
		return r;
	}
	}
	IR_UNREACHABLE("cg_dm_combine: bad op");
}

/* The mask of lanes l < n - i0 (n an i64 constant, i0 an i64 value) for
 * T lanes; row: and, when given, the lane mask of a row/column index: all
 * lanes false when row >= rn. */
static LLVMValueRef tile_mask(Cg *cg, int T, LLVMValueRef i0, int64_t n, LLVMValueRef row, int64_t rn)
{
	LLVMTypeRef vi = LLVMVectorType(cg->t_i64, (unsigned)T);
	LLVMValueRef lanes[16];
	for (int l = 0; l < T; l++)
		lanes[l] = cg_i64(cg, l);
	LLVMValueRef iv = LLVMBuildAdd(cg->b, kern_splat(cg, vi, i0), LLVMConstVector(lanes, (unsigned)T), "");
	LLVMValueRef nl[16];
	for (int l = 0; l < T; l++)
		nl[l] = cg_i64(cg, n);
	LLVMValueRef m = LLVMBuildICmp(cg->b, LLVMIntSLT, iv, LLVMConstVector(nl, (unsigned)T), "");
	if (row) {
		LLVMValueRef ok = LLVMBuildICmp(cg->b, LLVMIntSLT, row, cg_i64(cg, rn), "");
		LLVMTypeRef vb = LLVMVectorType(LLVMInt1TypeInContext(cg->ctx), (unsigned)T);
		m = LLVMBuildAnd(cg->b, m, kern_splat(cg, vb, ok), "");
	}
	return m;
}

/* A merged copy of 4-byte elements whose innermost destination dim (i,
 * stride 1) reads the source with a stride, while another dim j reads it
 * contiguously (a Transpose moving a channel dim, MaxViT's window
 * partitions): T x T tiles (T = min(8, vector lanes)): T source runs along
 * j loaded as vectors (masked at the ends of i and j), transposed in
 * registers (kern_transpose_regs), stored as T runs along i.  The scalar loop
 * moved one element per load/store pair with its index arithmetic. */
static void copy_tiled(Cg *cg, int r, const int64_t *d, const int64_t *ds, const int64_t *ss, int j,
                       const CgView *dst, const CgView *src)
{
	int T = cg->isa.vlen < 8 ? cg->isa.vlen : 8;
	int i = r - 1;
	LLVMTypeRef vt = LLVMVectorType(cg->t_i32, (unsigned)T);
	CgLoop loops[CG_DM_MAX_DIMS], lj, li;
	LLVMValueRef iv[CG_DM_MAX_DIMS];
	int64_t os[CG_DM_MAX_DIMS], od[CG_DM_MAX_DIMS];
	int no = 0;
	cg_for(cg, &lj, 0, (d[j] + T - 1) / T);
	for (int k = 0; k < r; k++) {
		if (k == i || k == j)
			continue;
		cg_for(cg, &loops[no], 0, d[k]);
		iv[no] = loops[no].iv;
		os[no] = ss[k];
		od[no] = ds[k];
		no++;
	}
	cg_for(cg, &li, 0, (d[i] + T - 1) / T);
	LLVMValueRef j0 = cg_mul_i64(cg, lj.iv, T), i0 = cg_mul_i64(cg, li.iv, T);
	LLVMValueRef sb = cg_add_i64(cg, cg_add_i64(cg, cg_linear(cg, no, iv, os), cg_i64(cg, src->base)),
	                             cg_add_i64(cg, j0, cg_mul_i64(cg, i0, ss[i])));
	LLVMValueRef db = cg_add_i64(cg, cg_add_i64(cg, cg_linear(cg, no, iv, od), cg_i64(cg, dst->base)),
	                             cg_add_i64(cg, i0, cg_mul_i64(cg, j0, ds[j])));
	LLVMValueRef sp = cg_ptr(cg, src->v), dp = cg_ptr(cg, dst->v);
	LLVMTypeRef over[2] = {vt, cg->t_ptr};
	LLVMValueRef v[8];
	for (int a = 0; a < T; a++) {
		LLVMValueRef off = cg_add_i64(cg, sb, cg_i64(cg, a * ss[i]));
		LLVMValueRef m = tile_mask(cg, T, j0, d[j], cg_add_i64(cg, i0, cg_i64(cg, a)), d[i]);
		LLVMValueRef args[4] = {LLVMBuildGEP2(cg->b, cg->t_i32, sp, &off, 1, ""), cg_i32(cg, 4), m, LLVMGetUndef(vt)};
		v[a] = kern_intrinsic(cg, "llvm.masked.load", over, 2, args, 4);
	}
	kern_transpose_regs(cg, v, T);
	for (int b = 0; b < T; b++) {
		LLVMValueRef off = cg_add_i64(cg, db, cg_i64(cg, b * ds[j]));
		LLVMValueRef m = tile_mask(cg, T, i0, d[i], cg_add_i64(cg, j0, cg_i64(cg, b)), d[j]);
		LLVMValueRef args[4] = {v[b], LLVMBuildGEP2(cg->b, cg->t_i32, dp, &off, 1, ""), cg_i32(cg, 4), m};
		kern_intrinsic(cg, "llvm.masked.store", over, 2, args, 4);
	}
	cg_for_end(cg, &li);
	for (int k = no - 1; k >= 0; k--)
		cg_for_end(cg, &loops[k]);
	cg_for_end(cg, &lj);
}

void cg_dm_copy(Cg *cg, int rank, const int64_t *dims, const CgView *dst, const CgView *src)
{
	DType dt = gval(cg->g, dst->v)->dtype, st = gval(cg->g, src->v)->dtype;
	assert(rank <= CG_DM_MAX_DIMS);
	assert(dtype_size(dt) == dtype_size(st));
	(void)st;
	int64_t d[CG_DM_MAX_DIMS], ds[CG_DM_MAX_DIMS], ss[CG_DM_MAX_DIMS];
	int r = 0;
	for (int k = 0; k < rank; k++) {
		if (dims[k] == 0)
			return;
		if (dims[k] == 1)
			continue;
		if (r > 0 && ds[r - 1] == dst->strides[k] * dims[k] && ss[r - 1] == src->strides[k] * dims[k]) {
			d[r - 1] *= dims[k];
			ds[r - 1] = dst->strides[k];
			ss[r - 1] = src->strides[k];
			continue;
		}
		d[r] = dims[k];
		ds[r] = dst->strides[k];
		ss[r] = src->strides[k];
		r++;
	}
	if (dtype_size(dt) == 4 && cg->isa.vlen >= 4 && r >= 2 && ds[r - 1] == 1 && ss[r - 1] != 1) {
		for (int j = 0; j < r - 1; j++)
			if (ss[j] == 1) {
				copy_tiled(cg, r, d, ds, ss, j, dst, src);
				return;
			}
	}
	DType bt = cg_dm_bits_dtype(dt);
	CgLoop loops[CG_DM_MAX_DIMS];
	LLVMValueRef iv[CG_DM_MAX_DIMS];
	for (int k = 0; k < r; k++) {
		cg_for(cg, &loops[k], 0, d[k]);
		iv[k] = loops[k].iv;
	}
	LLVMValueRef si = LLVMBuildAdd(cg->b, cg_linear(cg, r, iv, ss), cg_i64(cg, src->base), "");
	LLVMValueRef di = LLVMBuildAdd(cg->b, cg_linear(cg, r, iv, ds), cg_i64(cg, dst->base), "");
	LLVMValueRef x = cg_load_ptr(cg, bt, cg_ptr(cg, src->v), si);
	cg_store_ptr(cg, bt, cg_ptr(cg, dst->v), di, x);
	for (int k = r - 1; k >= 0; k--)
		cg_for_end(cg, &loops[k]);
}
