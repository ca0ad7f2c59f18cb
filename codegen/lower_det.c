/* codegen/lower_det.c — Det, the determinant of square matrices.
 *
 * Det: per [M, M] matrix, Gaussian elimination with partial pivoting on a
 * double copy in a stack scratch (M <= DET_MAX_M): det = sign * prod(pivots);
 * a zero pivot column gives 0.
 */
#include "lower.h"
#include "lower_data.h"
#include "mathfn.h"

/* Largest matrix Det lowers (the scratch is M*M doubles on the stack). */
#define DET_MAX_M 128

/* Det-11 (see the file comment). */
bool cg_lower_det(Cg *cg, const Node *n)
{
	LLVMBuilderRef b = cg->b;
	ValueId xv = n->in[0], yv = n->out[0];
	const Value *x = gval(cg->g, xv);
	int r = x->shape.rank;
	int64_t M = x->shape.dims[r - 1], batch = cg_dm_prod(x->shape.dims, 0, r - 2);
	DType ct = x->dtype == DT_F64 ? DT_F64 : DT_F32;
	if (M > DET_MAX_M)
		return cg_unsupported(cg, 0, "matrices larger than %d x %d are not supported", DET_MAX_M, DET_MAX_M);
	if (batch == 0)
		return true;
	LLVMTypeRef dt = cg->t_f64;
	LLVMValueRef a = cg_alloca(cg, LLVMArrayType2(dt, (uint64_t)(M * M > 0 ? M * M : 1)), "lu");
	LLVMValueRef detp = cg_alloca(cg, dt, "det"), pp = cg_alloca(cg, cg->t_i64, "piv");
	LLVMValueRef bestp = cg_alloca(cg, dt, "best");
#define AT(i, j) LLVMBuildInBoundsGEP2(b, dt, a, (LLVMValueRef[]){LLVMBuildAdd(b, \
	LLVMBuildMul(b, (i), cg_i64(cg, M), ""), (j), "")}, 1, "")
	CgLoop lb, li, lj, lk;
	cg_for(cg, &lb, 0, batch);
	LLVMValueRef base = LLVMBuildMul(b, lb.iv, cg_i64(cg, M * M), "");
	cg_for(cg, &li, 0, M * M);
	LLVMValueRef e = cg_convert(cg, cg_load(cg, xv, LLVMBuildAdd(b, base, li.iv, "")), ct, DT_F64);
	LLVMBuildStore(b, e, LLVMBuildInBoundsGEP2(b, dt, a, &li.iv, 1, ""));
	cg_for_end(cg, &li);
	LLVMBuildStore(b, LLVMConstReal(dt, 1), detp);
	cg_for(cg, &lk, 0, M);
	LLVMValueRef k = lk.iv;
	/* pivot: the first row i >= k with the largest |a[i][k]| */
	LLVMBuildStore(b, k, pp);
	LLVMBuildStore(b, cg_math_fabs(cg, LLVMBuildLoad2(b, dt, AT(k, k), "")), bestp);
	cg_for_v(cg, &li, LLVMBuildAdd(b, k, cg_i64(cg, 1), ""), cg_i64(cg, M));
	LLVMValueRef v = cg_math_fabs(cg, LLVMBuildLoad2(b, dt, AT(li.iv, k), ""));
	LLVMValueRef better = LLVMBuildFCmp(b, LLVMRealOGT, v, LLVMBuildLoad2(b, dt, bestp, ""), "");
	LLVMBuildStore(b, LLVMBuildSelect(b, better, v, LLVMBuildLoad2(b, dt, bestp, ""), ""), bestp);
	LLVMBuildStore(b, LLVMBuildSelect(b, better, li.iv, LLVMBuildLoad2(b, cg->t_i64, pp, ""), ""), pp);
	cg_for_end(cg, &li);
	LLVMValueRef p = LLVMBuildLoad2(b, cg->t_i64, pp, "");
	CgIf sw;
	cg_if(cg, &sw, LLVMBuildICmp(b, LLVMIntNE, p, k, ""));
	cg_for(cg, &lj, 0, M);
	LLVMValueRef pa = AT(k, lj.iv), pb = AT(p, lj.iv);
	LLVMValueRef va = LLVMBuildLoad2(b, dt, pa, ""), vb = LLVMBuildLoad2(b, dt, pb, "");
	LLVMBuildStore(b, vb, pa);
	LLVMBuildStore(b, va, pb);
	cg_for_end(cg, &lj);
	LLVMBuildStore(b, LLVMBuildFNeg(b, LLVMBuildLoad2(b, dt, detp, ""), ""), detp);
	cg_if_end(cg, &sw);
	LLVMValueRef piv = LLVMBuildLoad2(b, dt, AT(k, k), "");
	LLVMBuildStore(b, LLVMBuildFMul(b, LLVMBuildLoad2(b, dt, detp, ""), piv, ""), detp);
	CgIf nz;
	cg_if(cg, &nz, LLVMBuildFCmp(b, LLVMRealONE, piv, LLVMConstReal(dt, 0), ""));
	cg_for_v(cg, &li, LLVMBuildAdd(b, k, cg_i64(cg, 1), ""), cg_i64(cg, M));
	LLVMValueRef f = LLVMBuildFDiv(b, LLVMBuildLoad2(b, dt, AT(li.iv, k), ""), piv, "");
	cg_for_v(cg, &lj, LLVMBuildAdd(b, k, cg_i64(cg, 1), ""), cg_i64(cg, M));
	LLVMValueRef q = AT(li.iv, lj.iv);
	LLVMValueRef nv = LLVMBuildFSub(b, LLVMBuildLoad2(b, dt, q, ""),
	                                LLVMBuildFMul(b, f, LLVMBuildLoad2(b, dt, AT(k, lj.iv), ""), ""), "");
	LLVMBuildStore(b, nv, q);
	cg_for_end(cg, &lj);
	cg_for_end(cg, &li);
	cg_if_end(cg, &nz);
	cg_for_end(cg, &lk);
#undef AT
	LLVMValueRef d = LLVMBuildLoad2(b, dt, detp, "");
	DType yt = gval(cg->g, yv)->dtype;
	cg_store(cg, yv, lb.iv, cg_convert(cg, d, DT_F64, yt == DT_F64 ? DT_F64 : DT_F32));
	cg_for_end(cg, &lb);
	return true;
}

