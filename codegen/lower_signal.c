/* codegen/lower_signal.c — the signal windows HannWindow, HammingWindow and
 * BlackmanWindow.
 *
 * Windows: with N = size (periodic=1, default) or size - 1 (periodic=0) and
 * a = 2*pi*i/N, computed in double and rounded once to the output dtype:
 *   Hann     0.5 - 0.5 cos a
 *   Hamming  25/46 - 21/46 cos a
 *   Blackman 0.42 - 0.5 cos a + 0.08 cos 2a
 */
#include "lower.h"
#include "lower_data.h"
#include "mathfn.h"

/* HannWindow, HammingWindow, BlackmanWindow (see the file comment). */
bool cg_lower_signal(Cg *cg, const Node *n)
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

