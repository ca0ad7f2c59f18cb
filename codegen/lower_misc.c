/* codegen/lower_misc.c — HannWindow, HammingWindow, BlackmanWindow and
 * ReverseSequence.
 *
 * Windows: with N = size (periodic=1, default) or size - 1 (periodic=0) and
 * a = 2*pi*i/N, computed in double and rounded once to the output dtype:
 *   Hann     0.5 - 0.5 cos a
 *   Hamming  25/46 - 21/46 cos a
 *   Blackman 0.42 - 0.5 cos a + 0.08 cos 2a
 * ReverseSequence: along time_axis, the first len[b] elements of batch
 * entry b are reversed, the rest copied; len is clamped into [0, T] (a
 * longer one is undefined in ONNX) so no access leaves the buffers.
 * Elements are moved bit for bit.
 */
#include "lower.h"
#include "lower_data.h"
#include "mathfn.h"

/* Window functions. */
static bool lower_window(Cg *cg, const Node *n)
{
	LLVMBuilderRef b = cg->b;
	ValueId yv = n->out[0];
	const Value *y = gval(cg->g, yv);
	int64_t size = y->shape.dims[0];
	double N = attr_int(n, "periodic", 1) ? (double)size : (double)(size - 1);
	LLVMTypeRef dt = cg->t_f64;
	CgLoop l;
	cg_for(cg, &l, 0, size);
	LLVMValueRef i = LLVMBuildSIToFP(b, l.iv, dt, "");
	LLVMValueRef a = LLVMBuildFDiv(b, LLVMBuildFMul(b, i, LLVMConstReal(dt, 2 * 3.14159265358979323846), ""),
	                               LLVMConstReal(dt, N), "");
	LLVMValueRef c1 = cg_math_cos(cg, a), v;
	if (n->op == OP_HannWindow) {
		v = LLVMBuildFSub(b, LLVMConstReal(dt, 0.5), LLVMBuildFMul(b, LLVMConstReal(dt, 0.5), c1, ""), "");
	} else if (n->op == OP_HammingWindow) {
		v = LLVMBuildFSub(b, LLVMConstReal(dt, 25.0 / 46.0),
		                  LLVMBuildFMul(b, LLVMConstReal(dt, 21.0 / 46.0), c1, ""), "");
	} else {
		LLVMValueRef c2 = cg_math_cos(cg, LLVMBuildFMul(b, a, LLVMConstReal(dt, 2.0), ""));
		v = LLVMBuildFSub(b, LLVMConstReal(dt, 0.42), LLVMBuildFMul(b, LLVMConstReal(dt, 0.5), c1, ""), "");
		v = LLVMBuildFAdd(b, v, LLVMBuildFMul(b, LLVMConstReal(dt, 0.08), c2, ""), "");
	}
	DType yt = y->dtype == DT_F16 || y->dtype == DT_BF16 ? DT_F32 : y->dtype;
	cg_store(cg, yv, l.iv, cg_convert(cg, v, DT_F64, yt));
	cg_for_end(cg, &l);
	return true;
}

/* ReverseSequence. */
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

/* Misc group entry: see the file comment. */
bool cg_lower_misc(Cg *cg, const Node *n)
{
	switch (n->op) {
	case OP_HannWindow: case OP_HammingWindow: case OP_BlackmanWindow: return lower_window(cg, n);
	case OP_ReverseSequence: return lower_reverse_sequence(cg, n);
	default: return cg_unsupported(cg, -1, "not a misc op");
	}
}
